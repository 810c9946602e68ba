//! End-to-end load generator against any Kafka-protocol broker (Odradek, Kafka, a peer), driven by
//! librdkafka: produce and consume throughput, producer ack latency and end-to-end latency
//! percentiles, for 100 B and 1 KiB records, 1 and 4 partitions, acks=1 and acks=all.
//!
//! `cargo bench --bench loadgen -- --bootstrap 127.0.0.1:9092 [--messages 500000]
//!  [--sizes 100,1024] [--partitions 1,4] [--acks 1,all] [--rate 10000] [--latency-secs 5]`
//!
//! A benchmark, not a test: it asserts nothing except that every message was delivered.
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

struct Args {
    bootstrap: String,
    messages: usize,
    sizes: Vec<usize>,
    partitions: Vec<i32>,
    acks: Vec<String>,
    rate: u64,
    latency_secs: u64,
}

fn args() -> Args {
    let mut a = Args {
        bootstrap: "127.0.0.1:9092".into(),
        messages: 500_000,
        sizes: vec![100, 1024],
        partitions: vec![1, 4],
        acks: vec!["1".into(), "all".into()],
        rate: 10_000,
        latency_secs: 5,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--bootstrap" => a.bootstrap = val,
            "--messages" => a.messages = val.parse().expect("--messages N"),
            "--sizes" => a.sizes = val.split(',').map(|x| x.parse().expect("size")).collect(),
            "--partitions" => a.partitions = val.split(',').map(|x| x.parse().expect("partitions")).collect(),
            "--acks" => a.acks = val.split(',').map(str::to_string).collect(),
            "--rate" => a.rate = val.parse().expect("--rate N"),
            "--latency-secs" => a.latency_secs = val.parse().expect("--latency-secs N"),
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// Collects ack latencies (µs) through the delivery callback.
struct Ctx {
    latencies: Mutex<Vec<u64>>,
    errors: AtomicU64,
    delivered: AtomicU64,
}
impl ClientContext for Ctx {}
impl ProducerContext for Ctx {
    type DeliveryOpaque = Box<Instant>;
    fn delivery(&self, r: &DeliveryResult<'_>, sent: Box<Instant>) {
        match r {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                self.latencies.lock().unwrap().push(sent.elapsed().as_micros() as u64);
            }
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let r = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .unwrap();
    r[0].as_ref().expect("topic created");
}

fn producer(bootstrap: &str, acks: &str) -> ThreadedProducer<Ctx> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", acks)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("compression.codec", "none")
        .create_with_context(Ctx {
            latencies: Mutex::new(Vec::new()),
            errors: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        })
        .unwrap()
}

fn produce_run(a: &Args, topic: &str, size: usize, parts: i32, acks: &str) {
    let p = producer(&a.bootstrap, acks);
    let payload = vec![b'x'; size];
    let start = Instant::now();
    for i in 0..a.messages {
        let part = (i as i32) % parts;
        let mut rec = BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(topic, Box::new(Instant::now()))
            .payload(&payload)
            .partition(part);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
    p.flush(Duration::from_secs(120)).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let ctx = p.context();
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    let mut lat = std::mem::take(&mut *ctx.latencies.lock().unwrap());
    println!(
        "produce  size={size:5} parts={parts} acks={acks:3}  {:>10.0} msgs/s {:>8.1} MB/s  ack p50={:.2}ms p99={:.2}ms  (delivered {delivered}, errors {})",
        delivered as f64 / secs,
        delivered as f64 * size as f64 / secs / 1e6,
        common::pct(&mut lat, 0.5),
        common::pct(&mut lat, 0.99),
        ctx.errors.load(Ordering::Relaxed)
    );
}

fn consume_run(a: &Args, topic: &str, size: usize, parts: i32) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &a.bootstrap)
        .set("group.id", "odradek-loadgen")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut n = 0usize;
    let mut bytes = 0usize;
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while n < a.messages && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            first.get_or_insert_with(Instant::now);
            n += 1;
            bytes += m.payload().map(|p| p.len()).unwrap_or(0);
        }
    }
    let secs = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(f64::NAN);
    println!(
        "consume  size={size:5} parts={parts}           {:>10.0} msgs/s {:>8.1} MB/s  ({n} msgs)",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

fn latency_run(a: &Args, size: usize, acks: &str) {
    let topic = format!("loadgen-lat-{}-{acks}-{}", size, std::process::id());
    create_topic(&a.bootstrap, &topic, 1);
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &a.bootstrap)
        .set("group.id", "odradek-loadgen")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .set("fetch.min.bytes", "1")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::End).unwrap();
    c.assign(&tpl).unwrap();
    let clock = Instant::now();
    let total = (a.rate * a.latency_secs) as usize;
    let done = Arc::new(AtomicU64::new(0));
    let d2 = done.clone();
    let reader = std::thread::spawn(move || {
        let mut lat = Vec::with_capacity(total);
        let deadline = Instant::now() + Duration::from_secs(60);
        while lat.len() < total && Instant::now() < deadline {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                let p = m.payload().unwrap_or_default();
                if p.len() >= 8 {
                    let sent = u64::from_be_bytes(p[..8].try_into().unwrap());
                    lat.push(clock.elapsed().as_micros() as u64 - sent);
                }
            }
        }
        d2.store(1, Ordering::Relaxed);
        lat
    });
    std::thread::sleep(Duration::from_millis(500));
    let p = producer(&a.bootstrap, acks);
    let mut payload = vec![b'x'; size.max(8)];
    let interval = Duration::from_nanos(1_000_000_000 / a.rate);
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        payload[..8].copy_from_slice(&(clock.elapsed().as_micros() as u64).to_be_bytes());
        let _ = p.send(
            BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(&topic, Box::new(Instant::now()))
                .payload(&payload)
                .partition(0),
        );
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let mut e2e = reader.join().unwrap();
    let mut ack = std::mem::take(&mut *p.context().latencies.lock().unwrap());
    println!(
        "latency  size={size:5} parts=1 acks={acks:3} rate={}/s  ack p50={:.2} p99={:.2} p99.9={:.2} ms   end-to-end p50={:.2} p99={:.2} p99.9={:.2} max={:.2} ms ({} msgs)",
        a.rate,
        common::pct(&mut ack, 0.5),
        common::pct(&mut ack, 0.99),
        common::pct(&mut ack, 0.999),
        common::pct(&mut e2e, 0.5),
        common::pct(&mut e2e, 0.99),
        common::pct(&mut e2e, 0.999),
        common::pct(&mut e2e, 1.0),
        e2e.len()
    );
}

fn main() {
    let a = args();
    println!("loadgen against {} ({} messages per run)", a.bootstrap, a.messages);
    for &size in &a.sizes {
        for &parts in &a.partitions {
            for acks in &a.acks {
                let topic = format!("loadgen-{size}-{parts}-{acks}-{}", std::process::id());
                create_topic(&a.bootstrap, &topic, parts);
                produce_run(&a, &topic, size, parts, acks);
                if acks == &a.acks[0] {
                    consume_run(&a, &topic, size, parts);
                }
            }
        }
    }
    if a.latency_secs > 0 {
        for acks in &a.acks {
            latency_run(&a, 100, acks);
        }
    }
}
