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

/// Tried as a new user would: a librdkafka producer sends 100 records, 10 of them without a key,
/// to a compacted topic. As Kafka answers, the broker names the 10 in `record_errors`: the client
/// fails those with INVALID_RECORD and the others of their batch as collateral
/// (`InvalidDifferentRecord`), not all 100 with INVALID_RECORD; nothing of that batch is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_records_are_named_and_the_rest_fail_as_collateral() {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    let b = broker().await;
    let bs = b.bootstrap();
    let admin = create_topic_admin(&bs);
    let topic = NewTopic::new("table100", 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact");
    assert!(admin.create_topics(&[topic], &AdminOptions::new()).await.unwrap()[0].is_ok());
    // One batch: a long linger, and every send queued before any is awaited.
    let p = producer(&bs, &[("linger.ms", "300"), ("batch.num.messages", "1000")]);
    let keys: Vec<Option<String>> = (0..100).map(|i| (i % 10 != 0).then(|| format!("k{i}"))).collect();
    let sends: Vec<_> = keys
        .iter()
        .map(|k| {
            let mut r = FutureRecord::<str, str>::to("table100").payload("v").partition(0);
            if let Some(k) = k {
                r = r.key(k.as_str());
            }
            p.send_result(r).map_err(|(e, _)| e).expect("queued")
        })
        .collect();
    let mut named = 0;
    let mut collateral = 0;
    let mut stored = 0;
    for (k, f) in keys.iter().zip(sends) {
        match (k, f.await.expect("delivery report")) {
            (None, Err((KafkaError::MessageProduction(RDKafkaErrorCode::InvalidRecord), _))) => named += 1,
            (Some(_), Err((KafkaError::MessageProduction(RDKafkaErrorCode::InvalidDifferentRecord), _))) => {
                collateral += 1
            }
            (Some(_), Ok(_)) => stored += 1,
            (k, other) => panic!("key {k:?}: {other:?}"),
        }
    }
    assert_eq!(named, 10, "every keyless record fails with INVALID_RECORD");
    assert!(collateral > 0, "records batched with a keyless one fail as collateral, not as INVALID_RECORD");
    assert_eq!(named + collateral + stored, 100);
    let hw = b.state().logs.topic("table100").unwrap().partition(0).unwrap().high_watermark();
    assert_eq!(hw, stored as i64, "only batches without a keyless record are stored");
}

/// When compaction removes every record of a producer's last batch, the batch stays as an empty
/// batch (Kafka's RETAIN_EMPTY: its header keeps the producer's epoch and last sequence), and a
/// stock consumer reads past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producers_last_batch_stays_empty_and_consumers_read_past_it() {
    let b = broker().await;
    let bs = b.bootstrap();
    let admin = create_topic_admin(&bs);
    let topic = NewTopic::new("emptied", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "compact")
        .set("segment.bytes", "1024")
        .set("min.cleanable.dirty.ratio", "0.01");
    assert!(admin.create_topics(&[topic], &AdminOptions::new()).await.unwrap()[0].is_ok());
    // Producer A (idempotent) writes k once; producer B overwrites it, then fills segments.
    let a = producer(&bs, &[("enable.idempotence", "true")]);
    send(&a, "emptied", Some(0), b"k", b"from-a").await;
    let pb = producer(&bs, &[("enable.idempotence", "true")]);
    send(&pb, "emptied", Some(0), b"k", b"from-b").await;
    for i in 0..40 {
        send(&pb, "emptied", Some(0), format!("f{i}").as_bytes(), "x".repeat(100).as_bytes()).await;
    }
    let logs = b.state().logs.clone();
    let cleaned = tokio::task::spawn_blocking(move || {
        odradek::cleaner::compaction_pass(&logs, odradek::clock::now_ms() + 60_000, 1 << 20)
    })
    .await
    .unwrap();
    assert!(cleaned > 0, "a pass ran");
    let part = b.state().logs.topic("emptied").unwrap().partition(0).unwrap();
    let first = part.read(0, 1 << 20, true).unwrap();
    let h = odradek::record::BatchHeader::parse(&first.records).unwrap();
    assert_eq!((h.base_offset, h.records_count, h.base_sequence), (0, 0, 0), "A's batch, emptied");
    assert!(h.producer_id >= 0);
    let c = consumer(&bs, &[]);
    let got = read(&c, "emptied", &[0], rdkafka::Offset::Beginning, 41, Duration::from_secs(20));
    assert_eq!(got[0].offset, 1, "the first record read is B's, past the empty batch");
    assert_eq!(got[0].value.as_deref(), Some(&b"from-b"[..]));
    assert!(got
        .iter()
        .all(|g| g.key.as_deref() != Some(&b"k"[..]) || g.value.as_deref() == Some(&b"from-b"[..])));
}
