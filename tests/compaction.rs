//! Proves: a compacted topic with many updates for few keys shrinks on disk and reads back the
//! latest value per key through librdkafka; tombstones disappear after delete.retention.ms;
//! keyless records are refused with INVALID_RECORD; compaction state survives a restart.
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topic_keeps_the_latest_value_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [("log.cleaner.backoff.ms", "100")];
    let b = broker_in(dir.path(), &sets).await;
    let bs = b.bootstrap();
    let admin = create_topic_admin(&bs);
    let topic = NewTopic::new("table", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "compact")
        .set("segment.bytes", "4096")
        .set("min.cleanable.dirty.ratio", "0.01")
        .set("delete.retention.ms", "300");
    assert!(admin.create_topics(&[topic], &AdminOptions::new()).await.unwrap()[0].is_ok());
    let p = producer(&bs, &[("linger.ms", "0"), ("compression.codec", "lz4")]);
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..600 {
        let k = format!("user-{}", i % 7);
        let v = format!("state-{i}-{}", "z".repeat(40));
        send(&p, "table", Some(0), k.as_bytes(), v.as_bytes()).await;
        latest.insert(k, v);
    }
    // A tombstone for user-3.
    p.send(FutureRecord::<str, [u8]>::to("table").key("user-3").partition(0), Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    latest.remove("user-3");
    // Keyless records are refused.
    let r = p
        .send(FutureRecord::<(), str>::to("table").payload("no key").partition(0), Duration::from_secs(10))
        .await;
    let err = r.expect_err("a keyless record must be refused").0;
    assert!(err.to_string().contains("InvalidRecord") || err.to_string().contains("INVALID_RECORD"), "{err}");
    // Roll the segment holding the tombstone by writing a little more, then wait for the cleaner.
    for i in 0..40 {
        send(&p, "table", Some(0), b"filler", format!("f{i}-{}", "q".repeat(100)).as_bytes()).await;
    }
    latest.insert("filler".into(), format!("f39-{}", "q".repeat(100)));
    let part = b.state().logs.topic("table").unwrap().partition(0).unwrap();
    let size_before = part.with_log(|l| l.size_bytes());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let size = part.with_log(|l| l.size_bytes());
        let c = consumer(&bs, &[]);
        let hw = part.high_watermark();
        let mut got: BTreeMap<String, String> = BTreeMap::new();
        let mut count = 0;
        let mut seen_tombstone = false;
        // Read to the end: record count is unknown after compaction, so read by offset.
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition_offset("table", 0, Offset::Beginning).unwrap();
        rdkafka::consumer::Consumer::assign(&c, &tpl).unwrap();
        let read_deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rdkafka::consumer::BaseConsumer::poll(&c, Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    use rdkafka::message::Message;
                    count += 1;
                    let k = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                    match m.payload() {
                        Some(v) => {
                            got.insert(k, String::from_utf8(v.to_vec()).unwrap());
                        }
                        None => {
                            seen_tombstone = true;
                            got.remove(&k);
                        }
                    }
                    if m.offset() + 1 >= hw {
                        break;
                    }
                }
                Some(Err(e)) => panic!("{e}"),
                None => assert!(Instant::now() < read_deadline, "could not read to the end"),
            }
        }
        assert_eq!(got, latest, "the latest value per key is always readable");
        if size * 4 < size_before && count < 60 && !seen_tombstone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not compacted: {size} of {size_before} bytes, {count} records, tombstone seen {seen_tombstone}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // After a restart the compacted log and the cleaner checkpoint are intact.
    let cleaned_to = part.cleaner_offset();
    assert!(cleaned_to > 0);
    b.shutdown().await.unwrap();
    let b = broker_in(dir.path(), &sets).await;
    let part = b.state().logs.topic("table").unwrap().partition(0).unwrap();
    assert_eq!(part.cleaner_offset(), cleaned_to);
}
