//! Proves: every record acknowledged with acks=all survives `kill -9` of the real binary, byte for
//! byte at its acknowledged offset, over repeated crash/restart rounds; and the recovered log
//! accepts new appends at the right offsets.
mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_odradek"))
        .args(["--data-dir", dir.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .args(["--set", "num.partitions=3", "--set", "log.segment.bytes=65536"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn odradek");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "broker did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    // (partition, offset) -> value, for every acknowledged record.
    let acked: Arc<Mutex<HashMap<(i32, i64), String>>> = Arc::default();
    let mut child = spawn(dir.path(), port);
    for round in 0..3 {
        let p = producer(
            &bootstrap,
            &[("acks", "all"), ("linger.ms", "2"), ("message.timeout.ms", "5000"), ("retries", "0")],
        );
        let stop = Instant::now() + Duration::from_millis(1200);
        let mut i = 0u64;
        let mut inflight = Vec::new();
        while Instant::now() < stop {
            let v = format!("r{round}-m{i}-{}", "z".repeat((i % 300) as usize));
            let key = format!("k{}", i % 17);
            match p.send_result(FutureRecord::to("crash").key(&key).payload(&v)) {
                Ok(f) => {
                    let acked = acked.clone();
                    inflight.push(tokio::spawn(async move {
                        if let Ok(Ok(d)) = f.await {
                            acked.lock().unwrap().insert((d.partition, d.offset), v);
                        }
                    }));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
            i += 1;
            if inflight.len() > 2000 {
                for h in inflight.drain(..1000) {
                    let _ = h.await;
                }
            }
        }
        // SIGKILL while the producer still has requests in flight.
        child.kill().unwrap();
        child.wait().unwrap();
        for h in inflight {
            let _ = h.await;
        }
        drop(p);
        let n = acked.lock().unwrap().len();
        assert!(n > 100, "round {round}: only {n} records acknowledged");
        child = spawn(dir.path(), port);
        // Read everything back and compare.
        let expect = acked.lock().unwrap().clone();
        let c = consumer(&bootstrap, &[]);
        let mut per_partition: HashMap<i32, i64> = HashMap::new();
        for (p, o) in expect.keys() {
            let e = per_partition.entry(*p).or_default();
            *e = (*e).max(*o + 1);
        }
        for (part, end) in per_partition {
            let got = read(&c, "crash", &[part], Offset::Beginning, end as usize, Duration::from_secs(30));
            let by_offset: HashMap<i64, Vec<u8>> =
                got.into_iter().map(|g| (g.offset, g.value.unwrap_or_default())).collect();
            for ((p, o), v) in expect.iter().filter(|((p, _), _)| *p == part) {
                assert_eq!(
                    by_offset.get(o).map(|b| b.as_slice()),
                    Some(v.as_bytes()),
                    "round {round}: acked record {p}/{o} lost or changed"
                );
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
