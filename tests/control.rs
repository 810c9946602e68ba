//! The control API for tests (`/v1/...`), driven over HTTP against an in-process broker on a
//! manual clock, with librdkafka as the client: time, maintenance on demand, waits, faults, a
//! crash, and isolated clusters with reset, snapshot, restore and fork.
mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, DescribeProducersRequest, DescribeProducersResponse,
    FetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use odradek::broker::Controls;
use odradek::clock::Clock;
use odradek::control::{http, Control};
use odradek::{Broker, BrokerConfig};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::Offset;
use serde_json::{json, Value};

struct Plane {
    addr: String,
    bootstrap: String,
    _control: Arc<Control>,
    _dir: tempfile::TempDir,
}

async fn plane(manual: bool) -> Plane {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    config.set_key("group.initial.rebalance.delay.ms", "0").unwrap();
    config.set_key("auto.create.topics.enable", "true").unwrap();
    let controls =
        Controls { clock: if manual { Clock::manual() } else { Clock::system() }, ..Default::default() };
    let broker = Broker::start_with(config.clone(), controls.clone()).await.unwrap();
    let bootstrap = broker.bootstrap();
    let control = Control::new(broker, config, controls, None).unwrap();
    let l = http::bind("127.0.0.1:0", None).await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(http::serve(l, control.clone(), std::future::pending()));
    Plane { addr, bootstrap, _control: control, _dir: dir }
}

impl Plane {
    async fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() { None } else { Some(body.to_string()) };
        self.raw(method, path, body).await
    }
    async fn raw(&self, method: &str, path: &str, body: Option<String>) -> (u16, Value) {
        let (status, bytes) =
            odradek::control::ctl::call(&self.addr, None, method, path, body).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!((200..300).contains(&s), "{method} {path}: HTTP {s}: {v}");
        v
    }
}

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    common::producer(bootstrap, extra)
}

async fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin = common::create_topic_admin(bootstrap);
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = admin.create_topics([&t], &AdminOptions::new()).await.unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}

async fn send(p: &FutureProducer, topic: &str, key: &str, value: &str) -> i64 {
    common::send(p, topic, Some(0), key.as_bytes(), value.as_bytes()).await.1
}

/// Every record of partition 0 from the start, reading until `count` arrived.
fn read_all(bootstrap: &str, topic: &str, count: usize, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let c = common::consumer(bootstrap, extra);
    common::read(&c, topic, &[0], Offset::Beginning, count, Duration::from_secs(20))
        .into_iter()
        .map(|g| {
            (
                String::from_utf8(g.key.unwrap_or_default()).unwrap(),
                String::from_utf8(g.value.unwrap_or_default()).unwrap(),
            )
        })
        .collect()
}

fn watermarks(bootstrap: &str, topic: &str) -> (i64, i64) {
    let c = common::consumer(bootstrap, &[]);
    c.fetch_watermarks(topic, 0, Duration::from_secs(10)).unwrap()
}

/// The OpenAPI document in the repo and the routes served are the same table, and every route
/// is served (no 404 from the fallback, no 405).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_served_routes() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string("docs/control-api.json").unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (m, _) in ops.as_object().unwrap() {
            if ["get", "post", "delete", "put", "patch"].contains(&m.as_str()) {
                documented.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = http::routes().into_iter().collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty() && extra.is_empty(), "undocumented: {missing:?}; not served: {extra:?}");

    let p = plane(true).await;
    let (s, v) = p.create_cluster_for_routes().await;
    assert_eq!(s, 201, "{v}");
    for (m, path) in &served {
        // Destructive routes run against a scratch cluster.
        let concrete =
            path.replace("{cluster}", "scratch").replace("{task}", "roll").replace("{id}", "12345");
        let (status, body) = p.raw(m, &concrete, Some("{}".into())).await;
        assert_ne!(status, 405, "{m} {concrete}");
        let fallback = body["error"].as_str().is_some_and(|e| e.starts_with("no such route"));
        assert!(!fallback, "{m} {concrete} is not routed: {status} {body}");
    }
    // And an unknown route is the fallback's 404.
    let (s, v) = p.call("GET", "/v1/nothing-here", Value::Null).await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().starts_with("no such route"));
}

/// docs/testing.md's API reference lists exactly the routes of the OpenAPI file.
#[test]
fn the_testing_guide_lists_every_route_of_the_openapi_document() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string("docs/control-api.json").unwrap()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (m, _) in ops.as_object().unwrap() {
            documented.insert(format!("{} {path}", m.to_uppercase()));
        }
    }
    let guide = std::fs::read_to_string("docs/testing.md").unwrap();
    let start = guide.find("<!-- api-reference:start").expect("the reference's start marker");
    let end = guide.find("<!-- api-reference:end -->").expect("the reference's end marker");
    let mut listed = BTreeSet::new();
    for line in guide[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cell = line.split(" | ").next().unwrap();
        for route in cell.split('`').skip(1).step_by(2) {
            listed.insert(route.to_string());
        }
    }
    let missing: Vec<_> = documented.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&documented).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in docs/testing.md: {missing:?}; not in the OpenAPI file: {extra:?}"
    );
}

impl Plane {
    async fn create_cluster_for_routes(&self) -> (u16, Value) {
        self.call("POST", "/v1/clusters", json!({"id": "scratch", "clock": "manual"})).await
    }
}

/// `advance` past session.timeout.ms expires a live member at once; past the transaction
/// timeout it aborts the open transaction, and the producer is fenced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advancing_the_manual_clock_expires_members_and_aborts_transactions() {
    let p = plane(true).await;
    let clock0 = p.ok("GET", "/v1/clock", Value::Null).await;
    assert_eq!(clock0["mode"], "manual");
    create_topic(&p.bootstrap, "ticks", 1, &[]).await;

    // A consumer in group g1, polled by its own thread.
    let stop = Arc::new(AtomicBool::new(false));
    let (b, s2) = (p.bootstrap.clone(), stop.clone());
    let poller = std::thread::spawn(move || {
        let c: BaseConsumer = common::consumer(
            &b,
            &[("group.id", "g1"), ("session.timeout.ms", "30000"), ("heartbeat.interval.ms", "3000")],
        );
        c.subscribe(&["ticks"]).unwrap();
        while !s2.load(Ordering::Relaxed) {
            let _ = c.poll(Duration::from_millis(50));
        }
    });
    let w = p
        .ok(
            "POST",
            "/v1/wait",
            json!({"for": "group", "group": "g1", "state": "Stable", "members": 1, "timeout_ms": 20000}),
        )
        .await;
    assert_eq!(w["ok"], true, "{w}");

    for huge in [json!({"ms": i64::MAX}), json!({"ms": -1}), json!({"ms": 4_000_000_000_000_i64})] {
        let (s, v) = p.call("POST", "/v1/clock/advance", huge.clone()).await;
        assert_eq!(s, 400, "{huge} -> {v}");
    }
    let wall = Instant::now();
    let a = p.ok("POST", "/v1/clock/advance", json!({"ms": 31_000})).await;
    assert_eq!(a["now_ms"].as_i64().unwrap(), clock0["now_ms"].as_i64().unwrap() + 31_000);
    let w = p
        .ok("POST", "/v1/wait", json!({"for": "group", "group": "g1", "members": 0, "timeout_ms": 1000}))
        .await;
    assert_eq!(w["ok"], true, "the member is gone right after advance: {w}");
    assert!(wall.elapsed() < Duration::from_secs(1), "took {:?}", wall.elapsed());
    // The consumer finds out on its next heartbeat and joins again.
    let w = p
        .ok(
            "POST",
            "/v1/wait",
            json!({"for": "group", "group": "g1", "state": "Stable", "members": 1, "timeout_ms": 20000}),
        )
        .await;
    assert_eq!(w["ok"], true, "{w}");
    stop.store(true, Ordering::Relaxed);
    poller.join().unwrap();

    // A transaction left open past transaction.timeout.ms.
    let tp = producer(&p.bootstrap, &[("transactional.id", "tx-1"), ("transaction.timeout.ms", "60000")]);
    let tp2 = tp.clone();
    tokio::task::spawn_blocking(move || {
        tp2.init_transactions(Duration::from_secs(20)).unwrap();
        tp2.begin_transaction().unwrap();
    })
    .await
    .unwrap();
    send(&tp, "ticks", "k", "never-committed").await;
    let w = p
        .ok("POST", "/v1/wait", json!({"for": "transaction", "transactional_id": "tx-1", "state": "Ongoing"}))
        .await;
    let epoch = w["seen"]["producer_epoch"].as_i64().unwrap();
    p.ok("POST", "/v1/clock/advance", json!({"ms": 61_000})).await;
    let w = p.ok("POST", "/v1/wait", json!({"for": "transaction", "transactional_id": "tx-1", "state": "CompleteAbort", "timeout_ms": 2000})).await;
    assert_eq!(w["ok"], true, "{w}");
    assert!(w["seen"]["producer_epoch"].as_i64().unwrap() > epoch, "the abort bumped the epoch: {w}");
    let commit =
        tokio::task::spawn_blocking(move || tp.commit_transaction(Duration::from_secs(20))).await.unwrap();
    assert!(commit.is_err(), "the producer is fenced after its transaction timed out");
    // Nothing of it is visible to read_committed, and its marker is in the log.
    let (lo, hi) = watermarks(&p.bootstrap, "ticks");
    assert_eq!((lo, hi), (0, 2), "one record and its abort marker");
    let c = common::consumer(&p.bootstrap, &[("isolation.level", "read_committed")]);
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("ticks", 0, Offset::Beginning).unwrap();
    c.assign(&tpl).unwrap();
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            panic!("read_committed saw an aborted record: {:?}", m.map(|m| rdkafka::Message::offset(&m)));
        }
    }
}

/// Roll, retention and compaction run now and report what they did; time rules follow the
/// manual clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_runs_on_demand_and_retention_follows_the_clock() {
    let p = plane(true).await;
    create_topic(&p.bootstrap, "table", 1, &[("cleanup.policy", "compact")]).await;
    let pr = producer(&p.bootstrap, &[]);
    for round in 0..4 {
        for k in 0..5 {
            send(&pr, "table", &format!("k{k}"), &format!("v{round}")).await;
        }
    }
    let r = p.ok("POST", "/v1/maintenance/compaction", json!({"topic": "table"})).await;
    assert_eq!(r["segments_rolled"], 1, "{r}");
    assert_eq!(r["records_removed"], 15, "{r}");
    let w = p
        .ok(
            "POST",
            "/v1/wait",
            json!({"for": "compacted", "topic": "table", "offset": 20, "timeout_ms": 1000}),
        )
        .await;
    assert_eq!(w["ok"], true, "{w}");
    let got = read_all(&p.bootstrap, "table", 5, &[]);
    let want: Vec<(String, String)> = (0..5).map(|k| (format!("k{k}"), "v3".to_string())).collect();
    assert_eq!(got, want);

    // Retention: 60 s on the manual clock. Client timestamps are wall time and the clock started
    // before them, so advance well past retention.ms.
    create_topic(&p.bootstrap, "events", 1, &[("retention.ms", "60000")]).await;
    for i in 0..10 {
        send(&pr, "events", "k", &format!("e{i}")).await;
    }
    let r = p.ok("POST", "/v1/maintenance/roll", json!({"topic": "events"})).await;
    assert_eq!(r["segments_rolled"], 1, "{r}");
    let r = p.ok("POST", "/v1/maintenance/retention", json!({"topic": "events"})).await;
    assert_eq!(r["segments_deleted"], 0, "nothing is old yet on the manual clock: {r}");
    assert_eq!(watermarks(&p.bootstrap, "events"), (0, 10));
    let a = p.ok("POST", "/v1/clock/advance", json!({"ms": 600_000})).await;
    assert_eq!(a["fired"]["retention"]["segments_deleted"], 1, "{a}");
    assert_eq!(watermarks(&p.bootstrap, "events"), (10, 10));

    // An idempotent producer's state expires after producer.id.expiration.ms (a day) of idle
    // time on the clock.
    let idem = producer(&p.bootstrap, &[("enable.idempotence", "true")]);
    send(&idem, "events", "k", "from-an-idempotent-producer").await;
    let producers = || async {
        let mut raw = common::raw::Raw::connect(&p.bootstrap).await;
        let req = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
            .with_name(TopicName(StrBytes::from_static_str("events")))
            .with_partition_indexes(vec![0])]);
        let r: DescribeProducersResponse = raw.request(ApiKey::DescribeProducers, 0, &req).await.unwrap();
        r.topics[0].partitions[0].active_producers.len()
    };
    assert_eq!(producers().await, 1);
    let a = p.ok("POST", "/v1/clock/advance", json!({"ms": 86_400_000})).await;
    assert!(a["fired"]["retention"]["producers_expired"].as_u64() >= Some(1), "{a}");
    assert_eq!(producers().await, 0);

    let (s, v) = p.call("POST", "/v1/maintenance/compaction", json!({"topic": "nope"})).await;
    assert_eq!(s, 404, "{v}");
    let (s, _) = p.call("POST", "/v1/maintenance/defragment", json!({})).await;
    assert_eq!(s, 404);
}

/// Rules answer errors, close connections before or after the request is applied, delay; they
/// fire after N matches for M times, and count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_fire_deterministically_and_the_idempotent_producer_survives_them() {
    let p = plane(false).await;
    create_topic(&p.bootstrap, "f", 1, &[]).await;
    let pr = producer(&p.bootstrap, &[("enable.idempotence", "true"), ("retry.backoff.ms", "20")]);
    send(&pr, "f", "k", "warm-up").await;

    // NOT_LEADER_OR_FOLLOWER twice, then through.
    let rule = p
        .ok("POST", "/v1/faults", json!({"match": {"api_key": 0, "topic": "f"}, "action": {"type": "error", "code": 6}, "times": 2}))
        .await;
    let id = rule["id"].as_u64().unwrap();
    assert_eq!(send(&pr, "f", "k", "after-errors").await, 1);
    let r = p.ok("GET", &format!("/v1/faults/{id}"), Value::Null).await;
    assert_eq!((r["fired"].as_u64(), r["matched"].as_u64().map(|m| m >= 3)), (Some(2), Some(true)), "{r}");
    p.ok("DELETE", &format!("/v1/faults/{id}"), Value::Null).await;

    // The answer lost after the append: the retry is recognised as a duplicate.
    p.ok(
        "POST",
        "/v1/faults",
        json!({"match": {"api_key": 0}, "action": {"type": "close_after"}, "times": 1}),
    )
    .await;
    assert_eq!(send(&pr, "f", "k", "applied-once").await, 2);
    // Closed before it is applied: the retry appends it.
    p.ok(
        "POST",
        "/v1/faults",
        json!({"match": {"api_key": 0}, "action": {"type": "close_before"}, "after": 1, "times": 1}),
    )
    .await;
    send(&pr, "f", "k", "before-1").await;
    send(&pr, "f", "k", "before-2").await;
    let listed = p.ok("GET", "/v1/faults", Value::Null).await;
    let fired: Vec<u64> = listed.as_array().unwrap().iter().map(|r| r["fired"].as_u64().unwrap()).collect();
    assert_eq!(fired, [1, 1], "{listed}");
    let cleared = p.ok("DELETE", "/v1/faults", Value::Null).await;
    assert_eq!(cleared["removed"], 2);
    let values: Vec<String> = read_all(&p.bootstrap, "f", 5, &[]).into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["warm-up", "after-errors", "applied-once", "before-1", "before-2"]);
    assert_eq!(watermarks(&p.bootstrap, "f").1, 5, "no duplicate in the log");

    // A slow broker.
    p.ok(
        "POST",
        "/v1/faults",
        json!({"match": {"api_key": 0}, "action": {"type": "delay", "ms": 400}, "times": 1}),
    )
    .await;
    let t = Instant::now();
    send(&pr, "f", "k", "slow").await;
    assert!(t.elapsed() >= Duration::from_millis(400), "{:?}", t.elapsed());
    pr.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(p.ok("DELETE", "/v1/faults", Value::Null).await["removed"], 1);

    // Throttled: the answer carries throttle_time_ms and the connection's next request waits
    // it out (KIP-219).
    p.ok(
        "POST",
        "/v1/faults",
        json!({"match": {"api_key": 18}, "action": {"type": "throttle", "ms": 300}, "times": 1}),
    )
    .await;
    let mut raw = common::raw::Raw::connect(&p.bootstrap).await;
    let r: ApiVersionsResponse =
        raw.request(ApiKey::ApiVersions, 2, &ApiVersionsRequest::default()).await.unwrap();
    assert_eq!(r.throttle_time_ms, 300);
    assert!(!r.api_keys.is_empty(), "the answer is otherwise the broker's own");
    let t = Instant::now();
    let r: ApiVersionsResponse =
        raw.request(ApiKey::ApiVersions, 2, &ApiVersionsRequest::default()).await.unwrap();
    assert_eq!(r.throttle_time_ms, 0);
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "the muted connection answered after {:?}",
        t.elapsed()
    );
    assert_eq!(p.ok("DELETE", "/v1/faults", Value::Null).await["removed"], 1);

    // A dropped fetch answer leaves the connection open: the next request is answered.
    p.ok(
        "POST",
        "/v1/faults",
        json!({"match": {"api_key": 1, "topic": "f"}, "action": {"type": "drop_answer"}, "times": 1}),
    )
    .await;
    let fetch =
        FetchRequest::default().with_max_wait_ms(0).with_min_bytes(1).with_max_bytes(1 << 20).with_topics(
            vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("f")))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)])],
        );
    raw.send_request(ApiKey::Fetch, 12, &fetch).await.unwrap();
    let r: Option<ApiVersionsResponse> = tokio::time::timeout(
        Duration::from_secs(5),
        raw.request(ApiKey::ApiVersions, 2, &ApiVersionsRequest::default()),
    )
    .await
    .unwrap();
    assert!(r.is_some_and(|r| r.error_code == 0), "the connection still answers after a dropped fetch");
    assert_eq!(p.ok("DELETE", "/v1/faults", Value::Null).await["removed"], 1);

    // Nonsense rules are refused with the reason.
    for bad in [
        json!({"match": {"api_key": 18}, "action": {"type": "error", "code": 35}}),
        json!({"action": {"type": "error", "code": 6}}),
        json!({"action": {"type": "drop_answer"}, "probability": 1.5}),
        json!({"action": {"type": "delay", "ms": 999_999_999}}),
        json!({"match": {"partition": 0}, "action": {"type": "close_before"}}),
        json!({"match": {"api_key": 19}, "action": {"type": "throttle", "ms": 700_000}}),
        json!({"match": {"api_key": 0}, "action": {"type": "error", "code": 0}}),
        json!({"match": {"api_key": 32}, "action": {"type": "throttle", "ms": 10}}),
    ] {
        let (s, v) = p.call("POST", "/v1/faults", bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    for garbage in [
        "{",
        "[]",
        "{\"action\":{\"type\":\"explode\"}}",
        "{\"action\":{\"type\":\"close_after\"},\"mtach\":{}}",
    ] {
        let (s, _) = p.raw("POST", "/v1/faults", Some(garbage.into())).await;
        assert!((400..500).contains(&s), "{garbage} -> {s}");
    }
    assert_eq!(p.ok("GET", "/v1/faults", Value::Null).await, json!([]));
}

/// A crash (as kill -9) and restart from the data dir keeps every acknowledged record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_restarts_the_broker_from_its_data_dir() {
    let p = plane(false).await;
    create_topic(&p.bootstrap, "c", 1, &[]).await;
    let pr = producer(&p.bootstrap, &[("acks", "all")]);
    for i in 0..5 {
        send(&pr, "c", "k", &format!("r{i}")).await;
    }
    let r = p.ok("POST", "/v1/crash", Value::Null).await;
    assert_eq!(r["recovered_cleanly"], false, "{r}");
    send(&pr, "c", "k", "r5").await;
    let values: Vec<String> = read_all(&p.bootstrap, "c", 6, &[]).into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["r0", "r1", "r2", "r3", "r4", "r5"]);
}

/// Clusters in one process are separate; reset empties one; a snapshot restores and forks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_clusters_reset_snapshot_restore_and_fork() {
    let p = plane(false).await;
    let a = p.ok("POST", "/v1/clusters", json!({"id": "a"})).await;
    let b = p.ok("POST", "/v1/clusters", json!({"clock": "manual", "config": {"num.partitions": "3"}})).await;
    assert_ne!(a["cluster_id"], b["cluster_id"]);
    assert_ne!(a["bootstrap"], b["bootstrap"]);
    assert_eq!(b["clock"], "manual");
    let (s, _) = p.call("POST", "/v1/clusters", json!({"id": "a"})).await;
    assert_eq!(s, 409);
    let (s, _) = p.call("POST", "/v1/clusters", json!({"id": "../x"})).await;
    assert_eq!(s, 400);
    let (s, _) = p.call("POST", "/v1/clusters", json!({"config": {"num.partitions": "many"}})).await;
    assert_eq!(s, 400);
    let ab = a["bootstrap"].as_str().unwrap().to_string();
    let bid = b["id"].as_str().unwrap().to_string();

    create_topic(&ab, "orders", 1, &[]).await;
    let pr = producer(&ab, &[]);
    send(&pr, "orders", "k", "first").await;
    // Another cluster does not see it; the wait says what it saw.
    let (s, w) = p
        .call(
            "POST",
            &format!("/v1/clusters/{bid}/wait"),
            json!({"for": "topic", "topic": "orders", "timeout_ms": 100}),
        )
        .await;
    assert_eq!(s, 408);
    assert_eq!(w["seen"]["exists"], false, "{w}");
    // Its clock is its own.
    let before = p.ok("GET", "/v1/clock", Value::Null).await;
    p.ok("POST", &format!("/v1/clusters/{bid}/clock/advance"), json!({"ms": 5000})).await;
    assert_eq!(p.ok("GET", "/v1/clock", Value::Null).await["mode"], before["mode"]);
    let (s, _) = p.call("POST", "/v1/clusters/a/clock/advance", json!({"ms": 1})).await;
    assert_eq!(s, 409, "a system clock is not advanced");

    let snap = p.ok("POST", "/v1/clusters/a/snapshots", Value::Null).await;
    let sid = snap["id"].as_str().unwrap().to_string();
    send(&pr, "orders", "k", "second").await;
    let fork = p.ok("POST", "/v1/clusters", json!({"id": "fork", "snapshot": sid})).await;
    assert_ne!(fork["cluster_id"], a["cluster_id"], "a fork is a new cluster");
    let fb = fork["bootstrap"].as_str().unwrap().to_string();
    let (fb2, ab2) = (fb.clone(), ab.clone());
    let (forked, original) = tokio::task::spawn_blocking(move || {
        (read_all(&fb2, "orders", 1, &[]), read_all(&ab2, "orders", 2, &[]))
    })
    .await
    .unwrap();
    assert_eq!(forked, [("k".to_string(), "first".to_string())]);
    assert_eq!(original.len(), 2);
    assert_eq!(watermarks(&fb, "orders"), (0, 1));

    p.ok("POST", "/v1/clusters/a/restore", json!({"snapshot": sid})).await;
    assert_eq!(watermarks(&ab, "orders"), (0, 1), "restored to the snapshot");
    let r = p.ok("POST", "/v1/clusters/a/reset", Value::Null).await;
    assert_eq!(r["topics"], 0, "{r}");
    assert_eq!(r["cluster_id"], a["cluster_id"], "reset keeps the cluster id");
    let (s, w) = p
        .call("POST", "/v1/clusters/a/wait", json!({"for": "topic", "topic": "orders", "timeout_ms": 50}))
        .await;
    assert_eq!((s, &w["seen"]["exists"]), (408, &json!(false)));

    let list = p.ok("GET", "/v1/clusters", Value::Null).await;
    let ids: BTreeSet<String> =
        list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["a", bid.as_str(), "default", "fork"].iter().map(|s| s.to_string()).collect());
    p.ok("DELETE", &format!("/v1/clusters/{bid}"), Value::Null).await;
    let (s, _) = p.call("GET", &format!("/v1/clusters/{bid}"), Value::Null).await;
    assert_eq!(s, 404);
    let (s, _) = p.call("DELETE", "/v1/clusters/default", Value::Null).await;
    assert_eq!(s, 409);

    // Bad input to the routes is a 4xx.
    for (m, path, body) in [
        ("POST", "/v1/clock/advance", "{\"ms\":\"soon\"}"),
        ("POST", "/v1/clock/advance", "not json"),
        ("POST", "/v1/wait", "{\"for\":\"weather\"}"),
        ("POST", "/v1/wait", "{\"for\":\"group\"}"),
        ("GET", "/v1/faults/abc", ""),
        ("POST", "/v1/clusters/zzz/crash", ""),
        ("POST", "/v1/clusters/a/restore", "{\"snapshot\":\"nope\"}"),
    ] {
        let (s, _) = p.raw(m, path, Some(body.into())).await;
        assert!((400..500).contains(&s), "{m} {path} {body} -> {s}");
    }
}

/// `--dev` serves the control API on a free loopback port and prints it; `odradek ctl` drives it;
/// `--control-listen` on a non-loopback address without a token stops the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_prints_its_control_address_and_ctl_uses_it() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_odradek");
    let mut child = Command::new(bin)
        .args(["--dev", "--clock=manual", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        lines.find_map(|l| l.ok().filter(|l| l.starts_with("control API: ")))
    })
    .await
    .unwrap()
    .expect("the control address is printed");
    let addr = line.split("http://").nth(1).unwrap().split('/').next().unwrap().to_string();
    let out = Command::new(bin).args(["ctl", "--url", &addr, "advance", "1500"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["advanced_ms"], 1500);
    let out = Command::new(bin)
        .args(["ctl", "--url", &addr, "wait", "{\"for\":\"topic\",\"topic\":\"x\",\"timeout_ms\":10}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a wait that times out exits 1");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seen"]["exists"], false);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());

    let refused = Command::new(bin)
        .args(["--dev", "--listen", "127.0.0.1:0", "--control-listen", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a loopback address"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// With a token, a request without `Authorization: Bearer <token>` is 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_token_is_required_when_set() {
    assert!(http::bind("0.0.0.0:0", None).await.is_err(), "non-loopback without a token");
    let dir = tempfile::tempdir().unwrap();
    let config = BrokerConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let broker = Broker::start_with(config.clone(), Controls::default()).await.unwrap();
    let control = Control::new(broker, config, Controls::default(), Some("s3cret".into())).unwrap();
    let l = http::bind("0.0.0.0:0", Some("s3cret")).await.unwrap();
    let addr = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
    tokio::spawn(http::serve(l, control, std::future::pending()));
    let call = |token: Option<&'static str>| {
        let addr = addr.clone();
        async move { odradek::control::ctl::call(&addr, token, "GET", "/v1/clock", None).await.unwrap().0 }
    };
    assert_eq!(call(None).await, 401);
    assert_eq!(call(Some("wrong")).await, 401);
    assert_eq!(call(Some("s3cret")).await, 200);
}
