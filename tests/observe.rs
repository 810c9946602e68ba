//! What a running broker shows (`--metrics-listen`): /healthz and /readyz around the start,
//! /metrics checked against what librdkafka produced, consumed and committed (consumer lag in
//! records and in time), the console's JSON, bad input to every route, and the SASL login the
//! console needs when the Kafka listeners need one.
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use odradek::broker::Controls;
use odradek::control::site::Site;
use odradek::control::Control;
use odradek::{Broker, BrokerConfig};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request; (status, body). Panics when the connection gives no status line.
async fn http(addr: &str, method: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth
        .map(|a| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, a)
            )
        })
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 0\r\n{auth}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

async fn json(addr: &str, path: &str) -> Value {
    let (s, b) = http(addr, "GET", path, None).await;
    assert_eq!(s, 200, "GET {path}: {b}");
    serde_json::from_str(&b).unwrap_or_else(|e| panic!("GET {path}: {e}: {b}"))
}

/// The exposition as `name{labels}` -> value, checking every line's syntax and that each family
/// has HELP and TYPE before its samples.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let line_re =
        regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+]+|\+Inf|NaN)$"#).unwrap();
    let mut typed = std::collections::BTreeSet::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        let c = line_re.captures(line).unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let name = &c[1];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family) && helped.contains(family), "{name}: no HELP/TYPE before it");
        let key = format!("{}{}", name, c.get(2).map(|m| m.as_str()).unwrap_or(""));
        assert!(
            out.insert(key.clone(), c[3].parse::<f64>().unwrap_or(f64::INFINITY)).is_none(),
            "duplicate series {key}"
        );
    }
    out
}

fn sum(m: &BTreeMap<String, f64>, prefix: &str) -> f64 {
    m.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
}

struct Served {
    addr: String,
    _site: Arc<Site>,
    control: Option<Arc<Control>>,
}

async fn site() -> Served {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = Site::new();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(odradek::control::site::serve(l, site.clone(), false, std::future::pending()));
    Served { addr, _site: site, control: None }
}

async fn up(served: &mut Served, dir: &std::path::Path, sets: &[(&str, &str)]) -> String {
    common::init_tracing();
    let mut config =
        BrokerConfig { data_dir: dir.to_path_buf(), listen: "127.0.0.1:0".into(), ..Default::default() };
    config.set_key("group.initial.rebalance.delay.ms", "0").unwrap();
    for (k, v) in sets {
        config.set_key(k, v).unwrap();
    }
    let controls = Controls::default();
    let broker = Broker::start_with(config.clone(), controls.clone()).await.unwrap();
    let bootstrap = broker.bootstrap();
    let control = Control::new(broker, config, controls, None).unwrap();
    served._site.ready(control.clone());
    served.control = Some(control);
    bootstrap
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_lag_match_what_the_clients_did() {
    let mut s = site().await;
    // Before the broker exists: alive, not ready, and the exposition says so.
    assert_eq!(http(&s.addr, "GET", "/healthz", None).await.0, 200);
    let (st, body) = http(&s.addr, "GET", "/readyz", None).await;
    assert_eq!(st, 503, "{body}");
    assert!(body.contains("starting"), "{body}");
    assert_eq!(parse(&http(&s.addr, "GET", "/metrics", None).await.1)["odradek_ready"], 0.0);
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = up(&mut s, dir.path(), &[]).await;
    let ready = json(&s.addr, "/readyz").await;
    assert_eq!(ready["status"], "ready");

    let admin = common::create_topic_admin(&bootstrap);
    admin
        .create_topics(&[NewTopic::new("lagged", 3, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .unwrap();
    // 10 records per partition, stamped 30 s in the past, acks=all.
    let p = common::producer(&bootstrap, &[("acks", "all")]);
    let stamp = odradek::clock::now_ms() - 30_000;
    let mut payload = 0usize;
    for part in 0..3 {
        for i in 0..10 {
            let (k, v) = (format!("k{part}-{i}"), format!("{{\"n\":{i}}}"));
            payload += k.len() + v.len();
            let r = FutureRecord::to("lagged").partition(part).key(&k).payload(&v).timestamp(stamp + i);
            let d = p.send(r, Duration::from_secs(20)).await.map_err(|(e, _)| e).unwrap();
            assert_eq!((d.partition, d.offset), (part, i));
        }
    }
    // A group commits 4 on partition 0 and 10 on partition 1 (partition 2: nothing committed).
    let c = common::consumer(&bootstrap, &[("group.id", "lagging")]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("lagged", 0, Offset::Offset(4)).unwrap();
    tpl.add_partition_offset("lagged", 1, Offset::Offset(10)).unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    // And a group-less reader takes all of partition 2.
    let r = common::consumer(&bootstrap, &[]);
    let got = common::read(&r, "lagged", &[2], Offset::Beginning, 10, Duration::from_secs(20));
    assert_eq!(got.len(), 10);

    let m = parse(&http(&s.addr, "GET", "/metrics", None).await.1);
    assert_eq!(m["odradek_ready"], 1.0);
    assert_eq!(m[r#"kafka_server_brokertopicmetrics_messagesin_total{topic="lagged"}"#], 30.0);
    assert!(m[r#"kafka_server_brokertopicmetrics_bytesin_total{topic="lagged"}"#] >= payload as f64);
    assert!(m[r#"kafka_server_brokertopicmetrics_messagesout_total{topic="lagged"}"#] >= 10.0);
    for part in 0..3 {
        assert_eq!(m[&format!(r#"kafka_log_log_logendoffset{{topic="lagged",partition="{part}"}}"#)], 10.0);
        assert_eq!(
            m[&format!(r#"kafka_log_log_laststableoffset{{topic="lagged",partition="{part}"}}"#)],
            10.0
        );
        assert_eq!(m[&format!(r#"kafka_log_log_numlogsegments{{topic="lagged",partition="{part}"}}"#)], 1.0);
    }
    let lag = |p: i32| format!(r#"{{consumergroup="lagging",topic="lagged",partition="{p}"}}"#);
    assert_eq!(m[&format!("kafka_consumergroup_current_offset{}", lag(0))], 4.0);
    assert_eq!(m[&format!("kafka_consumergroup_current_offset{}", lag(1))], 10.0);
    assert_eq!(m[&format!("kafka_consumergroup_lag{}", lag(0))], 6.0);
    assert_eq!(m[&format!("kafka_consumergroup_lag{}", lag(1))], 0.0);
    assert!(!m.contains_key(&format!("kafka_consumergroup_lag{}", lag(2))), "nothing committed there");
    // The first unconsumed record on partition 0 is offset 4, stamped stamp + 4.
    let secs = m[&format!("kafka_consumergroup_lag_seconds{}", lag(0))];
    let expect = (odradek::clock::now_ms() - (stamp + 4)) as f64 / 1000.0;
    assert!(secs >= 29.0 && secs <= expect + 0.01, "lag_seconds {secs}, at most {expect}");
    assert_eq!(m[&format!("kafka_consumergroup_lag_seconds{}", lag(1))], 0.0);
    // Requests and their latency histogram agree; the produce answers carried NONE.
    let produces = sum(&m, r#"kafka_network_requestmetrics_requests_total{request="Produce""#);
    assert!(produces >= 30.0, "{produces}");
    assert_eq!(m[r#"kafka_network_requestmetrics_totaltime_seconds_count{request="Produce"}"#], produces);
    assert_eq!(
        m[r#"kafka_network_requestmetrics_totaltime_seconds_bucket{request="Produce",le="+Inf"}"#],
        produces
    );
    assert!(m[r#"kafka_network_requestmetrics_errors_total{request="Produce",error="NONE"}"#] >= 30.0);
    assert!(m[r#"kafka_log_logflushstats_logflushrateandtime_seconds_count"#] >= 1.0);
    assert!(sum(&m, "kafka_server_socketservermetrics_connection_count") >= 3.0);
    assert!(m[r#"kafka_coordinator_group_groups{protocol="classic",state="Empty"}"#] >= 1.0);

    // The console's JSON says the same.
    let g = json(&s.addr, "/api/groups/lagging").await;
    let lags: i64 = g["offsets"].as_array().unwrap().iter().map(|o| o["lag"].as_i64().unwrap()).sum();
    assert_eq!(lags, 6, "{g}");
    let msgs = json(&s.addr, "/api/topics/lagged/messages?partition=1&offset=2&limit=3").await;
    let recs = msgs["records"].as_array().unwrap();
    assert_eq!(recs.len(), 3, "{msgs}");
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["offset"], 2 + i as i64);
        assert_eq!(r["key"]["text"], format!("k1-{}", 2 + i));
        assert_eq!(r["value"]["text"], format!("{{\"n\":{}}}", 2 + i));
        assert_eq!(r["timestamp"], stamp + 2 + i as i64);
    }
    assert_eq!(msgs["next_offset"], 5);
    let by_time =
        json(&s.addr, &format!("/api/topics/lagged/messages?partition=0&timestamp={}&limit=1", stamp + 7))
            .await;
    assert_eq!(by_time["records"][0]["offset"], 7, "{by_time}");
    let topics = json(&s.addr, "/api/topics").await;
    let t = topics.as_array().unwrap().iter().find(|t| t["name"] == "lagged").unwrap().clone();
    assert_eq!((t["partitions"].as_i64(), t["records"].as_i64()), (Some(3), Some(30)), "{t}");
    let (st, _) = http(&s.addr, "GET", "/console/", None).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_to_every_route_gets_a_4xx_and_the_broker_serves_on() {
    let mut s = site().await;
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = up(&mut s, dir.path(), &[("auto.create.topics.enable", "true")]).await;
    let p = common::producer(&bootstrap, &[]);
    common::send(&p, "known", Some(0), b"k", b"v").await;
    let long = "x".repeat(5000);
    let cases: Vec<(&str, String, &[u16])> = vec![
        ("GET", "/api/topics/nope".into(), &[404]),
        ("GET", "/api/topics/nope/messages".into(), &[404]),
        ("GET", "/api/topics/known/messages?partition=7".into(), &[404]),
        ("GET", "/api/topics/known/messages?partition=-1".into(), &[400]),
        ("GET", "/api/topics/known/messages?partition=abc".into(), &[400]),
        ("GET", "/api/topics/known/messages?offset=99999999999999999999".into(), &[400]),
        ("GET", "/api/topics/known/messages?offset=9223372036854775807".into(), &[200]),
        ("GET", "/api/topics/known/messages?offset=-3".into(), &[400]),
        ("GET", "/api/topics/known/messages?limit=0".into(), &[400]),
        ("GET", "/api/topics/known/messages?limit=100000".into(), &[400]),
        ("GET", "/api/topics/known/messages?limit=-5".into(), &[400]),
        ("GET", "/api/topics/known/messages?timestamp=abc".into(), &[400]),
        ("GET", "/api/topics/known/messages?offset=1&timestamp=1".into(), &[400]),
        ("GET", "/api/topics/known/messages?offset=%zz".into(), &[400]),
        ("GET", "/api/topics/known/messages?offset=%".into(), &[400]),
        ("GET", "/api/topics/known/messages?offset=1&offset=2".into(), &[400]),
        ("GET", "/api/topics/known/messages?what=1".into(), &[400]),
        ("GET", format!("/api/topics/known/messages?offset={long}"), &[414]),
        ("GET", format!("/api/topics/{long}"), &[404]),
        ("GET", "/api/groups/nope".into(), &[404]),
        ("GET", "/api/groups/%ff".into(), &[400]),
        ("GET", "/api/topics/%ff%fe".into(), &[400]),
        ("GET", "/api/topics/%ff/messages".into(), &[400]),
        ("GET", "/api/../etc/passwd".into(), &[404]),
        ("GET", "/console/../../etc/passwd".into(), &[404]),
        ("GET", "/console/nope.js".into(), &[404]),
        ("GET", "/nope".into(), &[404]),
        ("POST", "/metrics".into(), &[405]),
        ("PUT", "/api/topics".into(), &[405]),
        ("DELETE", "/api/topics/known".into(), &[405]),
        ("POST", "/healthz".into(), &[405]),
    ];
    for (method, path, want) in &cases {
        let (st, body) = http(&s.addr, method, path, None).await;
        assert!(want.contains(&st), "{method} {path}: HTTP {st}, wanted {want:?}: {body}");
        if st >= 400 {
            let v: Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method} {path}: {e}: {body:?}"));
            assert!(v["error"].is_string(), "{method} {path}: {body}");
        }
    }
    let huge = json(&s.addr, "/api/topics/known/messages?offset=9223372036854775807").await;
    assert_eq!(huge["records"].as_array().unwrap().len(), 0);
    // A request line of a megabyte is refused by the HTTP stack without harm.
    let (st, _) = http(&s.addr, "GET", &format!("/api/topics?{}", "y".repeat(1 << 20)), None).await;
    assert!((400..500).contains(&st), "HTTP {st}");
    assert_eq!(json(&s.addr, "/healthz").await["status"], "ok");
    assert_eq!(common::send(&p, "known", Some(0), b"k", b"v").await, (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_needs_a_sasl_login_when_the_listeners_do() {
    let mut s = site().await;
    let dir = tempfile::tempdir().unwrap();
    up(
        &mut s,
        dir.path(),
        &[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
            ("sasl.enabled.mechanisms", "PLAIN"),
            (
                "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";"#,
            ),
        ],
    )
    .await;
    for path in ["/api/topics", "/console/", "/api/topics/x/messages"] {
        assert_eq!(http(&s.addr, "GET", path, None).await.0, 401, "{path}");
        assert_eq!(http(&s.addr, "GET", path, Some("alice:wrong")).await.0, 401, "{path}");
        assert_eq!(http(&s.addr, "GET", path, Some("mallory:alice-secret")).await.0, 401, "{path}");
    }
    assert_eq!(http(&s.addr, "GET", "/api/topics", Some("alice:alice-secret")).await.0, 200);
    assert_eq!(http(&s.addr, "GET", "/console/", Some("alice:alice-secret")).await.0, 200);
    // Scrapers and probes need no login.
    assert_eq!(http(&s.addr, "GET", "/metrics", None).await.0, 200);
    assert_eq!(http(&s.addr, "GET", "/readyz", None).await.0, 200);
}
