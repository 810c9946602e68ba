//! Proves: SIGKILL of the real binary in the middle of transactional load loses no committed
//! transaction and never exposes a partial one: after restart (and the producer's re-init, which
//! aborts what was left open) read_committed shows every acknowledged commit whole, and any other
//! transaction either whole or not at all.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    let c = Command::new(env!("CARGO_BIN_EXE_odradek"))
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--set",
            "num.partitions=2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    c
}

fn producer(bs: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("transactional.id", "crash-tx")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "5000")
        .create()
        .unwrap()
}

#[test]
fn sigkill_mid_transaction_keeps_commits_whole() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bs = format!("127.0.0.1:{port}");
    let mut child = spawn(dir.path(), port);
    let t = Duration::from_secs(10);
    let p = producer(&bs);
    p.init_transactions(t).unwrap();
    let mut acked: BTreeSet<u32> = BTreeSet::new();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        child.kill().unwrap();
        child.wait().unwrap();
    });
    let mut txn = 0u32;
    loop {
        if p.begin_transaction().is_err() {
            break;
        }
        let mut ok = true;
        for i in 0..10 {
            let v = format!("{txn}:{i}");
            if p.send(BaseRecord::to("crash-tx-topic").partition(i % 2).key("k").payload(&v)).is_err() {
                ok = false;
                break;
            }
        }
        if !ok || p.commit_transaction(Duration::from_secs(3)).is_err() {
            break;
        }
        acked.insert(txn);
        txn += 1;
    }
    killer.join().unwrap();
    drop(p);
    assert!(acked.len() > 5, "only {} transactions committed before the kill", acked.len());
    let mut child = spawn(dir.path(), port);
    // The restarted producer's init aborts whatever the crash left open.
    let p = producer(&bs);
    p.init_transactions(t).unwrap();
    drop(p);
    let c = consumer(&bs, &[("isolation.level", "read_committed")]);
    let mut tpl = TopicPartitionList::new();
    for part in 0..2 {
        tpl.add_partition_offset("crash-tx-topic", part, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut seen: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let v = String::from_utf8(m.unwrap().payload().unwrap().to_vec()).unwrap();
            let (tx, i) = v.split_once(':').unwrap();
            assert!(seen.entry(tx.parse().unwrap()).or_default().insert(i.parse().unwrap()), "duplicate {v}");
        }
    }
    for tx in &acked {
        assert_eq!(seen.get(tx).map(|s| s.len()), Some(10), "acknowledged transaction {tx} is not whole");
    }
    for (tx, recs) in &seen {
        assert_eq!(recs.len(), 10, "transaction {tx} is partially visible: {recs:?}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
