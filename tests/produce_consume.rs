//! Proves: records produced by librdkafka come back byte for byte (keys, headers, timestamps,
//! every codec), keys route consistently over 4 partitions, and auto-created topics work.
mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_headers_timestamps_roundtrip() {
    let b = broker().await;
    let p = producer(&b.bootstrap(), &[("acks", "all")]);
    let mut sent = Vec::new();
    for i in 0..50i64 {
        let key = format!("key-{i}");
        let val = format!("value-{i}-{}", "x".repeat(i as usize));
        let headers = OwnedHeaders::new()
            .insert(Header { key: "h1", value: Some(format!("hv{i}").as_bytes()) })
            .insert(Header { key: "empty", value: None::<&[u8]> });
        let ts = 1_700_000_000_000 + i;
        let d = p
            .send(
                FutureRecord::to("rt").key(&key).payload(&val).headers(headers).timestamp(ts),
                Duration::from_secs(20),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        let (part, off) = (d.partition, d.offset);
        assert_eq!(part, 0);
        assert_eq!(off, i, "offsets are dense from 0");
        sent.push((key, val, ts));
    }
    let c = consumer(&b.bootstrap(), &[]);
    let got = read(&c, "rt", &[0], Offset::Beginning, 50, Duration::from_secs(20));
    for (i, g) in got.iter().enumerate() {
        let (k, v, ts) = &sent[i];
        assert_eq!(g.offset, i as i64);
        assert_eq!(g.key.as_deref(), Some(k.as_bytes()));
        assert_eq!(g.value.as_deref(), Some(v.as_bytes()));
        assert_eq!(g.timestamp, Some(*ts));
        assert_eq!(
            g.headers,
            vec![("h1".to_string(), Some(format!("hv{i}").into_bytes())), ("empty".to_string(), None)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_passes_through() {
    let b = broker().await;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        let p = producer(&b.bootstrap(), &[("compression.codec", codec), ("linger.ms", "50")]);
        let payload = format!("{codec} payload that compresses well well well well well well");
        let mut futs = Vec::new();
        for i in 0..200 {
            let v = format!("{payload} {i}");
            futs.push(
                p.send_result(FutureRecord::to(&topic).key("k").payload(&v)).map_err(|(e, _)| e).unwrap(),
            );
        }
        for f in futs {
            f.await.unwrap().map_err(|(e, _)| e).unwrap();
        }
        let c = consumer(&b.bootstrap(), &[]);
        let got = read(&c, &topic, &[0], Offset::Beginning, 200, Duration::from_secs(20));
        for (i, g) in got.iter().enumerate() {
            assert_eq!(g.offset, i as i64, "{codec}");
            assert_eq!(g.value.as_deref(), Some(format!("{payload} {i}").as_bytes()), "{codec}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_partitions_route_keys_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker_in(dir.path(), &[("num.partitions", "4")]).await;
    let p = producer(&b.bootstrap(), &[]);
    let mut by_key: HashMap<String, i32> = HashMap::new();
    let mut per_partition = [0usize; 4];
    for i in 0..400 {
        let key = format!("customer-{}", i % 20);
        let (part, _) = send(&p, "orders", None, key.as_bytes(), format!("order {i}").as_bytes()).await;
        if let Some(prev) = by_key.insert(key.clone(), part) {
            assert_eq!(prev, part, "key {key} moved partitions");
        }
        per_partition[part as usize] += 1;
    }
    assert!(
        per_partition.iter().filter(|n| **n > 0).count() >= 2,
        "20 keys spread over partitions: {per_partition:?}"
    );
    let c = consumer(&b.bootstrap(), &[]);
    let got = read(&c, "orders", &[0, 1, 2, 3], Offset::Beginning, 400, Duration::from_secs(30));
    let mut counted = [0usize; 4];
    for g in &got {
        counted[g.partition as usize] += 1;
        let key = String::from_utf8(g.key.clone().unwrap()).unwrap();
        assert_eq!(by_key[&key], g.partition);
    }
    assert_eq!(counted, per_partition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_create_can_be_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker_in(dir.path(), &[("auto.create.topics.enable", "false")]).await;
    let p = producer(&b.bootstrap(), &[("message.timeout.ms", "2000")]);
    let r = p.send(FutureRecord::to("nope").key("k").payload("v"), Duration::from_secs(5)).await;
    assert!(r.is_err(), "producing to a missing topic fails when auto-create is off");
    assert!(b.state().logs.topic("nope").is_none());
}
