//! Proves (feature `cluster`, docs/cluster.md): three broker processes over etcd (Debian's
//! etcd-server) and an S3 server (moto, from PyPI), both started here on loopback, serve stock
//! librdkafka clients with the partitions spread over them; with brokers SIGKILLed and restarted
//! under load every acknowledged record is read back exactly once, in order, at its acknowledged
//! offset; an owner paused past its lease (SIGSTOP) cannot make anything visible once resumed;
//! and etcd or the S3 server paused for 10 s loses no acknowledged record.
//!
//! `tests/cluster/setup.sh` installs etcd and moto; ODRADEK_MOTO_SERVER names moto_server (default:
//! the venv that script makes in the cache). `make test` builds this test (make test-cluster) and
//! runs it in the compat suite's second lane (compat-tests/cluster), with ODRADEK_CLUSTER_BIN
//! naming the cluster build of the broker.
mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

const LEASE_MS: u64 = 3000;

struct Cluster {
    dir: tempfile::TempDir,
    etcd: Child,
    etcd_url: String,
    s3: Child,
    s3_port: u16,
    brokers: Vec<Option<Child>>,
    ports: Vec<u16>,
}

impl Cluster {
    fn start(n: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let (client, peer, metrics) = (free_port(), free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{client}");
        let mut etcd = Command::new(std::env::var("ODRADEK_ETCD").unwrap_or_else(|_| "etcd".into()))
            .args(["--name", "t", "--data-dir"])
            .arg(dir.path().join("etcd"))
            .args(["--listen-client-urls", &etcd_url, "--advertise-client-urls", &etcd_url])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-cluster", &format!("t=http://127.0.0.1:{peer}")])
            .args(["--listen-metrics-urls", &format!("http://127.0.0.1:{metrics}")])
            .args(["--logger", "zap", "--log-level", "warn", "--auto-compaction-retention", "1m"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("etcd.log")).unwrap())
            .spawn()
            .expect("etcd (tests/cluster/setup.sh installs it)");
        let s3_port = free_port();
        let moto = std::env::var("ODRADEK_MOTO_SERVER").unwrap_or_else(|_| {
            let cache = std::env::var("ODRADEK_CACHE").unwrap_or_else(|_| {
                format!("{}/.cache/odradek", std::env::var("HOME").unwrap_or("/tmp".into()))
            });
            format!("{cache}/cluster-venv/bin/moto_server")
        });
        let mut s3 = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &s3_port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("moto.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{moto}: {e} (tests/cluster/setup.sh installs it)"));
        wait_port(client, "etcd", &mut etcd);
        wait_port(s3_port, "moto", &mut s3);
        // The bucket (moto accepts an unsigned PUT to create one).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
                .arg(format!("http://127.0.0.1:{s3_port}/odradek-test"))
                .output()
                .expect("curl");
            if out.stdout == b"200" {
                break;
            }
            assert!(Instant::now() < deadline, "could not create the bucket");
            std::thread::sleep(Duration::from_millis(100));
        }
        let ports = (0..n).map(|_| free_port()).collect();
        let mut c =
            Cluster { dir, etcd, etcd_url, s3, s3_port, brokers: (0..n).map(|_| None).collect(), ports };
        for i in 0..n {
            c.spawn_broker(i);
        }
        c
    }

    fn spawn_broker(&mut self, i: usize) {
        let port = self.ports[i];
        let data = self.dir.path().join(format!("broker-{}", i + 1));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("broker-{}.log", i + 1)))
            .unwrap();
        // compat-tests/cluster runs this test's binary after target/debug/odradek went back to
        // the default build: it names the cluster build here.
        let bin = std::env::var("ODRADEK_CLUSTER_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_odradek").to_string());
        let mut child = Command::new(bin)
            .args(["--data-dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
            .args(["--set", &format!("node.id={}", i + 1)])
            .args(["--set", &format!("cluster.metadata.endpoints={}", self.etcd_url)])
            .args(["--set", "cluster.storage.url=s3://odradek-test/cluster"])
            .args(["--set", &format!("cluster.storage.endpoint=http://127.0.0.1:{}", self.s3_port)])
            .args(["--set", "cluster.storage.allow.http=true"])
            .args(["--set", "cluster.storage.access.key.id=test"])
            .args(["--set", "cluster.storage.secret.access.key=test"])
            .args(["--set", &format!("cluster.lease.ms={LEASE_MS}")])
            .args(["--set", "num.partitions=12"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn odradek");
        wait_port(port, &format!("broker {}", i + 1), &mut child);
        self.brokers[i] = Some(child);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.brokers[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn bootstrap(&self) -> String {
        self.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// The broker logs, for a failing assertion's message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for i in 0..self.ports.len() {
            let text = std::fs::read_to_string(self.dir.path().join(format!("broker-{}.log", i + 1)))
                .unwrap_or_default();
            let lines: Vec<&str> =
                text.lines().filter(|l| !l.contains(" INFO ") || l.contains("claimed")).collect();
            let tail = lines[lines.len().saturating_sub(25)..].join("\n");
            out.push_str(&format!("--- broker {} ---\n{tail}\n", i + 1));
        }
        out
    }

    /// Waits until Metadata names a live leader for each of the topic's partitions; returns them.
    fn leaders(&self, topic: &str, partitions: usize) -> BTreeMap<i32, i32> {
        let c = consumer(&self.bootstrap(), &[]);
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Ok(md) = c.fetch_metadata(Some(topic), Duration::from_secs(5)) {
                let live: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
                if let Some(t) = md.topics().first() {
                    let l: BTreeMap<i32, i32> = t
                        .partitions()
                        .iter()
                        .filter(|p| p.error().is_none() && live.contains(&p.leader()))
                        .map(|p| (p.id(), p.leader()))
                        .collect();
                    if l.len() == partitions {
                        return l;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "partitions of {topic} did not all get a leader\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin = create_topic_admin(&self.bootstrap());
        let r = admin
            .create_topics(
                &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .unwrap();
        assert!(r[0].is_ok(), "{r:?}");
        self.leaders(topic, partitions as usize);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.brokers.len() {
            if let Some(c) = &self.brokers[i] {
                signal(c, libc::SIGCONT);
            }
            self.kill(i);
        }
        for c in [&mut self.etcd, &mut self.s3] {
            signal(c, libc::SIGCONT);
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::env::var("ODRADEK_KEEP").is_ok() {
            let kept = self.dir.path().to_path_buf();
            std::mem::forget(std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()));
            eprintln!("kept {}", kept.display());
        }
    }
}

type Acked = Arc<Mutex<HashMap<(i32, i64), String>>>;

/// Produces `p<partition>-<n>` records round-robin over the partitions with an idempotent acks=all
/// producer until `stop`, recording each acknowledged one at its offset.
async fn produce_until(
    bootstrap: String,
    topic: &'static str,
    partitions: i32,
    acked: Acked,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> u64 {
    let p = producer(
        &bootstrap,
        &[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("message.timeout.ms", "120000"),
            ("max.in.flight.requests.per.connection", "5"),
        ],
    );
    let mut n = 0u64;
    let mut inflight = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let part = (n % partitions as u64) as i32;
        let v = format!("p{part}-{n}");
        match p.send_result(FutureRecord::to(topic).partition(part).key(&v).payload(&v)) {
            Ok(f) => {
                let acked = acked.clone();
                inflight.push(tokio::spawn(async move {
                    if let Ok(Ok(d)) = f.await {
                        acked.lock().unwrap().insert((d.partition, d.offset), v);
                    }
                }));
                n += 1;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
        if inflight.len() >= 2000 {
            for h in inflight.drain(..1000) {
                let _ = h.await;
            }
        }
        if n.is_multiple_of(200) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    for h in inflight {
        let _ = h.await;
    }
    n
}

/// Reads every partition from its start to its high watermark and checks: each acknowledged
/// record is at its offset with its value, no value appears twice, and each partition's values
/// were written in the order they were sent.
fn check_all(c: &Cluster, topic: &str, partitions: i32, acked: &Acked) {
    let acked = acked.lock().unwrap().clone();
    let consumer = consumer(&c.bootstrap(), &[("fetch.wait.max.ms", "100")]);
    let mut got: HashMap<i32, Vec<(i64, String)>> = HashMap::new();
    for p in 0..partitions {
        // Partitions may still be moving back to restarted brokers: ask until a leader answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        let high = loop {
            match consumer.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                Ok((_, high)) => break high,
                Err(e) => {
                    assert!(Instant::now() < deadline, "partition {p}: no high watermark: {e}\n{}", c.logs())
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let want = acked.keys().filter(|(q, _)| *q == p).map(|(_, o)| *o + 1).max().unwrap_or(0);
        assert!(
            high >= want,
            "partition {p}: high watermark {high} is below an acknowledged offset {}",
            want - 1
        );
        let recs = if high > 0 {
            read(&consumer, topic, &[p], Offset::Beginning, high as usize, Duration::from_secs(60))
        } else {
            Vec::new()
        };
        got.insert(
            p,
            recs.into_iter()
                .map(|r| (r.offset, String::from_utf8(r.value.unwrap_or_default()).unwrap()))
                .collect(),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (p, recs) in &got {
        let mut last = -1i64;
        for (i, (offset, v)) in recs.iter().enumerate() {
            assert_eq!(*offset, i as i64, "partition {p}: a hole or a repeat at offset {offset}");
            assert!(seen.insert(v.clone()), "partition {p}: {v} is in the log twice (offset {offset})");
            let (vp, vn) = v.split_once('-').expect("value shape");
            assert_eq!(vp, format!("p{p}"), "a record of another partition in partition {p}");
            let vn: i64 = vn.parse().unwrap();
            assert!(
                vn > last,
                "partition {p}: {v} at offset {offset} comes after a later record (out of order)"
            );
            last = vn;
        }
    }
    for ((p, offset), v) in &acked {
        let at = got.get(p).and_then(|r| r.get(*offset as usize)).map(|x| x.1.as_str());
        assert_eq!(at, Some(v.as_str()), "acknowledged record {v} is not at partition {p} offset {offset}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_brokers_lose_and_duplicate_nothing_when_killed_under_load() {
    let mut c = Cluster::start(3);
    c.create_topic("load", 12).await;
    let spread: std::collections::BTreeSet<i32> = c.leaders("load", 12).values().copied().collect();
    assert!(spread.len() >= 2, "12 partitions all on one broker: {spread:?}");
    let acked: Acked = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prod = tokio::spawn(produce_until(c.bootstrap(), "load", 12, acked.clone(), stop.clone()));
    let secs: u64 = std::env::var("CLUSTER_KILL_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
    let started = Instant::now();
    let mut kills = 0;
    let mut rng = 0x9e3779b97f4a7c15u64;
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(secs * 1000 / 9)).await;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let victim = (rng % 3) as usize;
        c.kill(victim);
        kills += 1;
        tokio::time::sleep(Duration::from_millis(800 + rng % 1500)).await;
        c.spawn_broker(victim);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = prod.await.unwrap();
    assert!(kills >= 6, "only {kills} kills");
    c.leaders("load", 12);
    let n = acked.lock().unwrap().len();
    eprintln!("sent {sent}, acknowledged {n}, {kills} kills in {:?}", started.elapsed());
    assert!(n as u64 > sent / 2, "only {n} of {sent} records acknowledged\n{}", c.logs());
    check_all(&c, "load", 12, &acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_paused_past_its_lease_cannot_make_writes_visible() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
    let c = Cluster::start(3);
    c.create_topic("zombie", 3).await;
    // Groups and transactions are not served by a cluster yet: no coordinator is offered.
    {
        use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
        let mut raw = common::raw::Raw::connect(&format!("127.0.0.1:{}", c.ports[0])).await;
        let req = FindCoordinatorRequest::default()
            .with_key(kafka_protocol::protocol::StrBytes::from_static_str("g"))
            .with_key_type(0);
        let resp: FindCoordinatorResponse = raw.request(ApiKey::FindCoordinator, 3, &req).await.unwrap();
        assert_eq!(resp.error_code, 15, "COORDINATOR_NOT_AVAILABLE");
    }
    let victim_id = c.leaders("zombie", 3)[&0];
    let victim = (victim_id - 1) as usize;
    let p = producer(&c.bootstrap(), &[("acks", "all"), ("enable.idempotence", "true")]);
    let mut want = Vec::new();
    for i in 0..10 {
        let v = format!("before-{i}");
        send(&p, "zombie", Some(0), b"k", v.as_bytes()).await;
        want.push(v);
    }
    drop(p);
    // A connection to the owner, opened while it still owns the partition.
    let mut raw = common::raw::Raw::connect(&format!("127.0.0.1:{}", c.ports[victim])).await;
    signal(c.brokers[victim].as_ref().unwrap(), libc::SIGSTOP);
    let others: Vec<String> =
        (0..3).filter(|i| *i != victim).map(|i| format!("127.0.0.1:{}", c.ports[i])).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let md_client = consumer(&others.join(","), &[]);
    loop {
        let leader = md_client.fetch_metadata(Some("zombie"), Duration::from_secs(5)).ok().and_then(|md| {
            md.topics().first().and_then(|t| t.partitions().iter().find(|p| p.id() == 0).map(|p| p.leader()))
        });
        if matches!(leader, Some(l) if l >= 0 && l != victim_id) {
            break;
        }
        assert!(Instant::now() < deadline, "partition 0 did not move off the paused broker\n{}", c.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let p = producer(&others.join(","), &[("acks", "all"), ("enable.idempotence", "true")]);
    for i in 0..10 {
        let v = format!("after-{i}");
        send(&p, "zombie", Some(0), b"k", v.as_bytes()).await;
        want.push(v);
    }
    // The paused owner wakes up and, before it has looked at etcd, is asked to write.
    signal(c.brokers[victim].as_ref().unwrap(), libc::SIGCONT);
    let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(kafka_protocol::protocol::StrBytes::from_static_str("zombie")))
            .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(
                common::raw::batch(&["zombie-write"], -1, -1, -1, odradek::clock::now_ms()),
            ))]),
    ]);
    let resp: ProduceResponse =
        raw.request(ApiKey::Produce, 9, &req).await.expect("an answer from the resumed broker");
    let code = resp.responses[0].partition_responses[0].error_code;
    assert_eq!(code, 6, "the resumed owner must answer NOT_LEADER_OR_FOLLOWER, not acknowledge the write");
    for i in 10..15 {
        let v = format!("after-{i}");
        send(&p, "zombie", Some(0), b"k", v.as_bytes()).await;
        want.push(v);
    }
    // Whoever leads partition 0 now serves exactly the acknowledged records.
    c.leaders("zombie", 3);
    let cons = consumer(&c.bootstrap(), &[]);
    let got = read(&cons, "zombie", &[0], Offset::Beginning, want.len(), Duration::from_secs(30));
    let got: Vec<String> = got.into_iter().map(|g| String::from_utf8(g.value.unwrap()).unwrap()).collect();
    assert_eq!(got, want);
    let (_, high) = cons.fetch_watermarks("zombie", 0, Duration::from_secs(10)).unwrap();
    assert_eq!(high, want.len() as i64, "nothing beyond the acknowledged records is visible");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_or_the_object_store_paused_loses_no_acknowledged_record() {
    let c = Cluster::start(3);
    c.create_topic("pause", 6).await;
    let acked: Acked = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prod = tokio::spawn(produce_until(c.bootstrap(), "pause", 6, acked.clone(), stop.clone()));
    let count = || acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (name, child) in [("the S3 server", &c.s3), ("etcd", &c.etcd)] {
        let before = count();
        signal(child, libc::SIGSTOP);
        // Answers already on their way may still arrive; after that nothing is acknowledged
        // while the store is away (an acknowledgement needs the object and the commit).
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let paused = count();
        tokio::time::sleep(Duration::from_secs(9)).await;
        let still = count();
        signal(child, libc::SIGCONT);
        assert_eq!(still, paused, "records were acknowledged while {name} was paused");
        let deadline = Instant::now() + Duration::from_secs(60);
        while count() <= still {
            assert!(Instant::now() < deadline, "nothing acknowledged after {name} came back\n{}", c.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("{name}: {before} acknowledged before the pause, {paused} at its start, {still} at its end, {} after", count());
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = prod.await.unwrap();
    c.leaders("pause", 6);
    eprintln!("sent {sent}, acknowledged {}", count());
    check_all(&c, "pause", 6, &acked);
}
