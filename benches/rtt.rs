//! The broker's own latency, without a client library in the way: one thread sends Produce
//! requests (one 100 B record, acks=1 or all) at a fixed rate over one connection and waits for
//! each answer (produce round trip); another thread long-polls Fetch on a second connection and
//! notes when each record arrives (end to end: produce sent -> fetch answer read). Both use
//! blocking sockets and hand-encoded requests, so the figures are the broker's and the kernel's.
//!
//! `cargo bench --bench rtt -- [--bootstrap HOST:PORT] [--rate 10000] [--secs 5] [--acks 1|all]`
//! Without --bootstrap it starts a broker in this process (on its own 2-thread runtime).
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

struct Conn {
    s: TcpStream,
    cid: i32,
}

impl Conn {
    fn connect(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        Conn { s, cid: 0 }
    }

    fn call<Req: Encodable, Resp: Decodable>(&mut self, api: ApiKey, v: i16, req: &Req) -> Resp {
        self.cid += 1;
        self.s.write_all(&common::request_frame(api, v, self.cid, req)).unwrap();
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut body).unwrap();
        common::decode_response(body, api, v, self.cid)
    }
}

/// One record whose value starts with `sent_us`, the sender's clock in µs.
fn batch(sent_us: u64) -> Bytes {
    let mut value = vec![b'x'; 100];
    value[..8].copy_from_slice(&sent_us.to_be_bytes());
    let r = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(value)),
        headers: Default::default(),
    };
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &[r],
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .unwrap();
    b.freeze()
}

fn main() {
    let mut bootstrap = None;
    let (mut rate, mut secs, mut acks) = (10_000u64, 5u64, 1i16);
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--bootstrap" => bootstrap = it.next(),
            "--rate" => rate = it.next().and_then(|v| v.parse().ok()).expect("--rate N"),
            "--secs" => secs = it.next().and_then(|v| v.parse().ok()).expect("--secs N"),
            "--acks" => acks = if it.next().as_deref() == Some("all") { -1 } else { 1 },
            _ => {} // cargo bench passes --bench
        }
    }
    let mut _embedded = None;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let addr = match bootstrap {
        Some(b) => b,
        None => {
            let b = rt.block_on(odradek::Broker::builder().start()).unwrap();
            let a = b.bootstrap();
            _embedded = Some(b);
            a
        }
    };
    let topic = format!("rtt-{}", std::process::id());
    let mut admin = Conn::connect(&addr);
    let ct = CreateTopicsRequest::default().with_timeout_ms(10_000).with_topics(vec![
        kafka_protocol::messages::create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.clone())))
            .with_num_partitions(1)
            .with_replication_factor(1),
    ]);
    let _: kafka_protocol::messages::CreateTopicsResponse = admin.call(ApiKey::CreateTopics, 5, &ct);

    let clock = Instant::now();
    let total = (rate * secs) as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let e2e = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let reader = {
        let (addr, topic, stop, e2e) = (addr.clone(), topic.clone(), stop.clone(), e2e.clone());
        std::thread::spawn(move || {
            let mut c = Conn::connect(&addr);
            let mut offset = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let req = FetchRequest::default()
                    .with_replica_id(kafka_protocol::messages::BrokerId(-1))
                    .with_max_wait_ms(200)
                    .with_min_bytes(1)
                    .with_max_bytes(1 << 20)
                    .with_topics(vec![FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partitions(vec![FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20)])]);
                let resp: FetchResponse = c.call(ApiKey::Fetch, 11, &req);
                let now = clock.elapsed().as_micros() as u64;
                for t in resp.responses {
                    for p in t.partitions {
                        let Some(mut recs) = p.records else { continue };
                        if !recs.has_remaining() {
                            continue;
                        }
                        for set in RecordBatchDecoder::decode_all(&mut recs).unwrap() {
                            for r in set.records {
                                offset = r.offset + 1;
                                if let Some(v) = r.value {
                                    let sent = u64::from_be_bytes(v[..8].try_into().unwrap());
                                    e2e.lock().unwrap().push(now - sent);
                                }
                            }
                        }
                    }
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut p = Conn::connect(&addr);
    let mut rtt = Vec::with_capacity(total);
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let t0 = Instant::now();
        let req = ProduceRequest::default().with_acks(acks).with_timeout_ms(10_000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.clone())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch(clock.elapsed().as_micros() as u64)))]),
        ]);
        let resp: ProduceResponse = p.call(ApiKey::Produce, 9, &req);
        rtt.push(t0.elapsed().as_micros() as u64);
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0, "produce failed");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while e2e.lock().unwrap().len() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let mut e = std::mem::take(&mut *e2e.lock().unwrap());
    println!(
        "rtt-bench {addr} rate={rate}/s acks={} n={total}: produce round trip p50={:.3} p99={:.3} p99.9={:.3} max={:.3} ms; end to end ({} seen) p50={:.3} p99={:.3} p99.9={:.3} max={:.3} ms",
        if acks == -1 { "all" } else { "1" },
        common::pct(&mut rtt, 0.5),
        common::pct(&mut rtt, 0.99),
        common::pct(&mut rtt, 0.999),
        common::pct(&mut rtt, 1.0),
        e.len(),
        common::pct(&mut e, 0.5),
        common::pct(&mut e, 0.99),
        common::pct(&mut e, 0.999),
        common::pct(&mut e, 1.0),
    );
}
