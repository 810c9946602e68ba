//! A short run of the fuzz targets in `odradek::fuzz` (request decoding, batch validation,
//! recovery over random files) on stable Rust: a seeded mutation loop over valid inputs, for
//! `FUZZ_SECONDS` per target (default 8). A panic is a finding; the seed of the failing case is
//! printed so it can be replayed with `FUZZ_SEED`. Long runs use cargo-fuzz (see fuzz/README.md).
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use odradek::fuzz::{fix_crcs, mutate, Rng};

fn run(name: &str, seeds: &[Vec<u8>], fix: impl Fn(&mut Vec<u8>), target: impl Fn(&[u8])) {
    let secs: u64 = std::env::var("FUZZ_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let base: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64 * 0x9e37_79b9 + 1);
    for s in seeds {
        target(s);
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let seed = base.wrapping_add(n).wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
        let mut rng = Rng(seed);
        let pick = rng.below(seeds.len());
        let mut input = mutate(&mut rng, &seeds[pick]);
        if rng.below(2) == 0 {
            fix(&mut input);
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input)));
        if r.is_err() {
            panic!(
                "{name}: the target panicked on case {n} (FUZZ_SEED={base}); input {} bytes: {:02x?}",
                input.len(),
                &input[..input.len().min(256)]
            );
        }
        n += 1;
    }
    println!("fuzz {name}: {n} cases in {:?} (FUZZ_SEED={base})", start.elapsed());
    assert!(n > 100, "{name}: too few cases ran");
}

fn frame<R: Encodable + HeaderVersion>(api: ApiKey, v: i16, req: &R) -> Vec<u8> {
    let mut b = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(v)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("fuzz")))
        .encode(&mut b, api.request_header_version(v))
        .unwrap();
    req.encode(&mut b, v).unwrap();
    b.to_vec()
}

trait HeaderVersion {}
impl<T: Encodable> HeaderVersion for T {}

fn records(n: usize, compression: Compression, pid: i64) -> Vec<u8> {
    let recs: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: 1_700_000_000_000 + i as i64,
            key: (i % 3 != 2).then(|| Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("value {i} value {i} value"))),
            headers: [(StrBytes::from_static_str("h"), Some(Bytes::from_static(b"v")))].into_iter().collect(),
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(&mut b, &recs, &RecordEncodeOptions { version: 2, compression }).unwrap();
    b.to_vec()
}

#[test]
fn fuzz_request_decoding() {
    let name = |s: &str| TopicName(StrBytes::from_string(s.into()));
    let produce = ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(vec![
        produce_request::TopicProduceData::default().with_name(name("t")).with_partition_data(vec![
            produce_request::PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(records(3, Compression::None, 1)))),
        ]),
    ]);
    let fetch =
        FetchRequest::default().with_max_wait_ms(10).with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(name("t"))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    let create =
        CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(name("t"))
            .with_num_partitions(3)
            .with_replication_factor(1)]);
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_session_timeout_ms(10_000)
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::from_static(&[0, 1, 0, 0, 0, 1, 0, 1, b't']))]);
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![
                offset_commit_request::OffsetCommitRequestPartition::default().with_committed_offset(5)
            ])]);
    let seeds = vec![
        frame(
            ApiKey::ApiVersions,
            3,
            &ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("x"))
                .with_client_software_version(StrBytes::from_static_str("1")),
        ),
        frame(ApiKey::Metadata, 12, &MetadataRequest::default()),
        frame(
            ApiKey::Metadata,
            4,
            &MetadataRequest::default().with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(name("t"))),
            ])),
        ),
        frame(ApiKey::Produce, 9, &produce),
        frame(ApiKey::Produce, 3, &produce),
        frame(ApiKey::Fetch, 12, &fetch),
        frame(ApiKey::Fetch, 4, &fetch),
        frame(ApiKey::CreateTopics, 7, &create),
        frame(ApiKey::JoinGroup, 9, &join),
        frame(ApiKey::OffsetCommit, 8, &commit),
        frame(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default().with_transaction_timeout_ms(1000)),
        frame(
            ApiKey::FindCoordinator,
            4,
            &FindCoordinatorRequest::default().with_coordinator_keys(vec![StrBytes::from_static_str("g")]),
        ),
        frame(
            ApiKey::ConsumerGroupHeartbeat,
            0,
            &ConsumerGroupHeartbeatRequest::default().with_group_id(GroupId(StrBytes::from_static_str("g"))),
        ),
    ];
    run("request", &seeds, |_| {}, odradek::fuzz::request);
}

#[test]
fn fuzz_batch_validation() {
    let mut seeds = Vec::new();
    for c in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
    {
        seeds.push(records(8, c, 1));
    }
    let mut two = records(2, Compression::None, -1);
    two.extend(records(3, Compression::Lz4, 2));
    seeds.push(two);
    run("batch", &seeds, |b| fix_crcs(b), odradek::fuzz::batch);
}

#[test]
fn fuzz_recovery() {
    let seg = odradek::fuzz::valid_segment();
    let mut seeds = Vec::new();
    for mode in 0u8..5 {
        for flags in 0u8..2 {
            let mut s = vec![mode, flags];
            if mode == 0 {
                s.extend_from_slice(&seg);
            } else {
                let mut b = BytesMut::new();
                for i in 0..6u32 {
                    b.put_u32(i);
                    b.put_u32(i * 40);
                }
                b.put_slice(&[0; 24]);
                s.extend_from_slice(&b);
            }
            seeds.push(s);
        }
    }
    run(
        "recovery",
        &seeds,
        |b| {
            if b.len() > 2 {
                let mut rest = b[2..].to_vec();
                fix_crcs(&mut rest);
                b.truncate(2);
                b.extend(rest);
            }
        },
        odradek::fuzz::recovery,
    );
}
