//! Shared helpers for integration tests: an in-process broker on 127.0.0.1:0 in a temp dir, and
//! thin wrappers over the real librdkafka client (the `rdkafka` crate).
#![allow(dead_code)]
pub mod raw;
use std::time::Duration;

use odradek::Broker;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

pub async fn broker() -> Broker {
    init_tracing();
    Broker::builder().start().await.expect("broker starts")
}

pub async fn broker_in(dir: &std::path::Path, sets: &[(&str, &str)]) -> Broker {
    init_tracing();
    let mut b = Broker::builder().data_dir(dir).listen("127.0.0.1:0");
    for (k, v) in sets {
        b = b.set(k, v);
    }
    b.start().await.expect("broker starts")
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap).set("linger.ms", "5").set("message.timeout.ms", "20000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("producer")
}

pub fn consumer(bootstrap: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", "odradek-test-assign-only")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "50");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("consumer")
}

/// A record as read back: (partition, offset, key, value, timestamp, headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Reads `count` records from the given partitions starting at `from`, or panics after `timeout`.
pub fn read(
    c: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    from: Offset,
    count: usize,
    timeout: Duration,
) -> Vec<Got> {
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, *p, from).unwrap();
    }
    c.assign(&tpl).unwrap();
    let deadline = std::time::Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after reading {} of {count} records",
            out.len()
        );
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(Got {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(|k| k.to_vec()),
                value: m.payload().map(|v| v.to_vec()),
                timestamp: m.timestamp().to_millis(),
                headers: m
                    .headers()
                    .map(|h| h.iter().map(|x| (x.key.to_string(), x.value.map(|v| v.to_vec()))).collect())
                    .unwrap_or_default(),
            }),
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

/// Produces one record and returns (partition, offset).
pub async fn send(
    p: &FutureProducer,
    topic: &str,
    partition: Option<i32>,
    key: &[u8],
    value: &[u8],
) -> (i32, i64) {
    let mut r = FutureRecord::to(topic).key(key).payload(value);
    if let Some(x) = partition {
        r = r.partition(x);
    }
    let d = p.send(r, Duration::from_secs(20)).await.map_err(|(e, _)| e).expect("delivered");
    (d.partition, d.offset)
}

pub fn create_topic_admin(
    bootstrap: &str,
) -> rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin client")
}
