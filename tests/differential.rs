//! Raw-protocol differential test: the same requests, edge cases and bad ones among them, sent to
//! Odradek and to Apache Kafka 4.3, and the parts of the answers that depend neither on time nor
//! on ids (error codes, offsets, counts, config values and sources, whether the connection was
//! closed) compared case by case.
//!
//! Needs a running Apache Kafka: `ODRADEK_DIFF_KAFKA=127.0.0.1:PORT` (compat-tests/differential/
//! starts one, from compat-tests/reference/kafka.sh, and runs this with `--ignored`). The Odradek
//! side is an in-process broker unless `ODRADEK_DIFF_ODRADEK` names one. Both must be fresh: the
//! cases create their own topics and groups under fixed names.
//!
//! A case whose outcomes differ fails the test unless tests/differential-known.txt lists it with the
//! reason; a listed case that no longer differs fails it too, so the list stays true.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::raw::{batch, Raw};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::io::AsyncReadExt;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}
fn tn(x: &str) -> TopicName {
    TopicName(s(x))
}

/// Every `error_code: N` in a decoded answer, in order: the part of most answers that both brokers
/// must agree on, whatever ids and times they carry.
fn codes(r: &impl std::fmt::Debug) -> String {
    let d = format!("{r:?}");
    let mut out = Vec::new();
    let mut rest = d.as_str();
    while let Some(i) = rest.find("error_code: ") {
        rest = &rest[i + 12..];
        let n: String = rest.chars().take_while(|c| *c == '-' || c.is_ascii_digit()).collect();
        out.push(n);
    }
    format!("codes[{}]", out.join(","))
}

/// Sends one hand-made frame and tells whether the broker answered or closed the connection.
async fn frame_outcome(addr: &str, frame: &[u8]) -> String {
    let mut r = Raw::connect(addr).await;
    if r.send_bytes(frame).await.is_err() {
        return "closed".into();
    }
    match tokio::time::timeout(Duration::from_secs(5), r.read_frame()).await {
        Ok(Some(f)) => format!("answered {} bytes", f.len()),
        Ok(None) => "closed".into(),
        Err(_) => "no answer in 5 s".into(),
    }
}

fn create(
    name: &str,
    parts: i32,
    rf: i16,
    configs: &[(&str, &str)],
) -> create_topics_request::CreatableTopic {
    create_topics_request::CreatableTopic::default()
        .with_name(tn(name))
        .with_num_partitions(parts)
        .with_replication_factor(rf)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    create_topics_request::CreatableTopicConfig::default()
                        .with_name(s(k))
                        .with_value(Some(s(v)))
                })
                .collect(),
        )
}

async fn create_topics(
    addr: &str,
    topics: Vec<create_topics_request::CreatableTopic>,
    validate: bool,
) -> String {
    let mut r = Raw::connect(addr).await;
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_validate_only(validate)
        .with_topics(topics);
    let resp: CreateTopicsResponse = r.request(ApiKey::CreateTopics, 7, &req).await.expect("answer");
    resp.topics
        .iter()
        .map(|t| format!("{}={}(parts {})", t.name.0, t.error_code, t.num_partitions))
        .collect::<Vec<_>>()
        .join(" ")
}

fn produce_req(topic: &str, partition: i32, acks: i16, records: Bytes) -> ProduceRequest {
    ProduceRequest::default().with_acks(acks).with_timeout_ms(10_000).with_topic_data(vec![
        produce_request::TopicProduceData::default().with_name(tn(topic)).with_partition_data(vec![
            produce_request::PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records)),
        ]),
    ])
}

/// Produce v9 (names, not topic ids): error code and base offset of the one partition.
async fn produce(addr: &str, topic: &str, partition: i32, acks: i16, records: Bytes) -> String {
    let mut r = Raw::connect(addr).await;
    let req = produce_req(topic, partition, acks, records);
    let resp: Option<ProduceResponse> = r.request(ApiKey::Produce, 9, &req).await;
    match resp {
        None => "closed".into(),
        Some(p) => {
            let x = &p.responses[0].partition_responses[0];
            format!("error {} base {}", x.error_code, if x.error_code == 0 { x.base_offset } else { -1 })
        }
    }
}

fn fetch_req(topic: &str, offset: i64) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default().with_topic(tn(topic)).with_partitions(vec![
            fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20),
        ])])
}

async fn fetch(addr: &str, topic: &str, offset: i64) -> String {
    let mut r = Raw::connect(addr).await;
    let resp: FetchResponse = r.request(ApiKey::Fetch, 12, &fetch_req(topic, offset)).await.expect("answer");
    let p = &resp.responses[0].partitions[0];
    let n = p.records.as_ref().map_or(0, |b| b.len());
    format!(
        "error {} hw {} log_start {} has_records {}",
        p.error_code,
        p.high_watermark,
        p.log_start_offset,
        n > 0
    )
}

async fn list_offset(addr: &str, topic: &str, ts: i64) -> String {
    let mut r = Raw::connect(addr).await;
    let req = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
        list_offsets_request::ListOffsetsTopic::default().with_name(tn(topic)).with_partitions(vec![
            list_offsets_request::ListOffsetsPartition::default().with_partition_index(0).with_timestamp(ts),
        ]),
    ]);
    let resp: ListOffsetsResponse = r.request(ApiKey::ListOffsets, 7, &req).await.expect("answer");
    let p = &resp.topics[0].partitions[0];
    format!("error {} offset {}", p.error_code, p.offset)
}

async fn describe_topic_configs(addr: &str, topic: &str, keys: &[&str]) -> String {
    let mut r = Raw::connect(addr).await;
    let req = DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic))
            .with_configuration_keys(Some(keys.iter().map(|k| s(k)).collect())),
    ]);
    let resp: DescribeConfigsResponse = r.request(ApiKey::DescribeConfigs, 4, &req).await.expect("answer");
    let res = &resp.results[0];
    let mut rows: Vec<String> = res
        .configs
        .iter()
        .map(|c| {
            format!(
                "{}={} source {} read_only {} sensitive {}",
                c.name,
                c.value.as_ref().map_or("null".to_string(), |v| v.to_string()),
                c.config_source,
                c.read_only,
                c.is_sensitive
            )
        })
        .collect();
    rows.sort();
    format!("error {}: {}", res.error_code, rows.join("; "))
}

async fn alter_topic_config(addr: &str, topic: &str, key: &str, value: Option<&str>, op: i8) -> String {
    let mut r = Raw::connect(addr).await;
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic))
            .with_configs(vec![incremental_alter_configs_request::AlterableConfig::default()
                .with_name(s(key))
                .with_config_operation(op)
                .with_value(value.map(s))]),
    ]);
    let resp: IncrementalAlterConfigsResponse =
        r.request(ApiKey::IncrementalAlterConfigs, 1, &req).await.expect("answer");
    codes(&resp)
}

fn join_req(group: &str, member: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(&[0, 1, 0, 0, 0, 1, 0, 1, b'd', 0, 0, 0, 0]))])
}

/// FindCoordinator until it names a node, as every client does before it talks to a coordinator:
/// Kafka creates __consumer_offsets / __transaction_state on the first lookup and answers
/// NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE until they are there.
async fn find_coordinator(addr: &str, key: &str, key_type: i8) {
    let mut r = Raw::connect(addr).await;
    let mut seen = Vec::new();
    for _ in 0..100 {
        let req =
            FindCoordinatorRequest::default().with_key_type(key_type).with_coordinator_keys(vec![s(key)]);
        let resp: FindCoordinatorResponse =
            r.request(ApiKey::FindCoordinator, 4, &req).await.expect("answer");
        let c = &resp.coordinators[0];
        if c.error_code == 0 {
            return;
        }
        seen.push(c.error_code);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no coordinator for {key} at {addr}: {seen:?}");
}

/// OffsetFetch until the group's coordinator has loaded it: Kafka answers NOT_COORDINATOR or
/// COORDINATOR_LOAD_IN_PROGRESS for a while after __consumer_offsets is made, and clients retry.
async fn wait_group_ready(addr: &str, group: &str) {
    find_coordinator(addr, group, 0).await;
    let mut r = Raw::connect(addr).await;
    let mut seen = Vec::new();
    for _ in 0..100 {
        let req = OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(None);
        let resp: OffsetFetchResponse = r.request(ApiKey::OffsetFetch, 7, &req).await.expect("answer");
        if resp.error_code != 14 && resp.error_code != 16 {
            return;
        }
        seen.push(resp.error_code);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("group {group} never ready at {addr}: {seen:?}");
}

/// Runs every case against one broker; the outcomes by case name.
async fn run_cases(addr: &str) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();

    // --- framing and versions ---------------------------------------------------------------
    {
        // ApiVersions at a version no broker knows: a v0 answer with UNSUPPORTED_VERSION and the ApiVersions entry
        let mut f = BytesMut::new();
        f.put_i32(0);
        f.put_i16(18);
        f.put_i16(99);
        f.put_i32(7);
        f.put_i16(1);
        f.put_u8(b'x');
        f.put_u8(0); // header tags
        f.put_u8(1); // client software name ""
        f.put_u8(1); // version ""
        f.put_u8(0);
        let len = (f.len() - 4) as i32;
        f[..4].copy_from_slice(&len.to_be_bytes());
        let mut r = Raw::connect(addr).await;
        r.send_bytes(&f).await.unwrap();
        let resp = r.read_frame().await;
        out.insert(
            "api-versions-too-new",
            match resp {
                None => "closed".into(),
                Some(b) => {
                    let corr = i32::from_be_bytes(b[0..4].try_into().unwrap());
                    let err = i16::from_be_bytes(b[4..6].try_into().unwrap());
                    let n = i32::from_be_bytes(b[6..10].try_into().unwrap());
                    // the entries: api key, min, max (v0 layout); the ApiVersions one is what a
                    // client retries with
                    let keys: Vec<String> = b[10..]
                        .chunks_exact(6)
                        .take(n.clamp(0, 100) as usize)
                        .map(|e| {
                            let v = |i: usize| i16::from_be_bytes([e[i], e[i + 1]]);
                            format!("{}:{}..{}", v(0), v(2), v(4))
                        })
                        .filter(|k| k.starts_with("18:"))
                        .collect();
                    format!("corr {corr} error {err} entries {n} api-versions {keys:?}")
                }
            },
        );
    }
    let mut unknown_api = BytesMut::new();
    unknown_api.put_i32(10);
    unknown_api.put_i16(999);
    unknown_api.put_i16(0);
    unknown_api.put_i32(1);
    unknown_api.put_i16(-1);
    out.insert("unknown-api-key", frame_outcome(addr, &unknown_api).await);
    out.insert("oversize-frame", frame_outcome(addr, &(200 * 1024 * 1024i32).to_be_bytes()).await);
    out.insert("negative-frame-size", frame_outcome(addr, &(-5i32).to_be_bytes()).await);
    let mut garbage = BytesMut::new();
    garbage.put_i32(6);
    garbage.put_slice(&[0xff, 0x00, 0x12, 0x34, 0x56, 0x78]);
    out.insert("garbage-header", frame_outcome(addr, &garbage).await);
    {
        // Metadata v12 whose body is cut short after the header
        let mut f = BytesMut::new();
        f.put_i32(0);
        f.put_i16(3);
        f.put_i16(12);
        f.put_i32(3);
        f.put_i16(1);
        f.put_u8(b'x');
        f.put_u8(0);
        f.put_u8(5); // a compact array of 4 topics, then nothing
        let len = (f.len() - 4) as i32;
        f[..4].copy_from_slice(&len.to_be_bytes());
        out.insert("truncated-body", frame_outcome(addr, &f).await);
    }

    // --- topics ------------------------------------------------------------------------------
    out.insert(
        "create-topics",
        create_topics(
            addr,
            vec![
                create("diff-a", 3, 1, &[]),
                create("diff-b", -1, -1, &[]),
                create("diff-zero", 0, 1, &[]),
                create("diff-rf3", 1, 3, &[]),
                create("bad/name", 1, 1, &[]),
                create(".", 1, 1, &[]),
                create(&"n".repeat(250), 1, 1, &[]),
                create("diff-bad-policy", 1, 1, &[("cleanup.policy", "nonsense")]),
                create("diff-unknown-key", 1, 1, &[("no.such.config", "1")]),
                create("diff-bad-number", 1, 1, &[("retention.ms", "abc")]),
                create("diff-compact", 1, 1, &[("cleanup.policy", "compact"), ("segment.bytes", "1048576")]),
            ],
            false,
        )
        .await,
    );
    out.insert(
        "create-topics-duplicate",
        create_topics(addr, vec![create("diff-a", 3, 1, &[])], false).await,
    );
    out.insert(
        "create-topics-validate-only",
        create_topics(addr, vec![create("diff-validate", 2, 1, &[])], true).await,
    );
    {
        let mut r = Raw::connect(addr).await;
        let req = MetadataRequest::default()
            .with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(tn("diff-validate"))),
                metadata_request::MetadataRequestTopic::default().with_name(Some(tn("no-such-topic"))),
                metadata_request::MetadataRequestTopic::default().with_name(Some(tn("bad name!"))),
                metadata_request::MetadataRequestTopic::default().with_name(Some(tn("diff-a"))),
            ]))
            .with_allow_auto_topic_creation(false);
        let resp: MetadataResponse = r.request(ApiKey::Metadata, 12, &req).await.expect("answer");
        let mut rows: Vec<String> = resp
            .topics
            .iter()
            .map(|t| {
                format!(
                    "{}={} parts {}",
                    t.name.as_ref().map_or("null".to_string(), |n| n.0.to_string()),
                    t.error_code,
                    t.partitions.len()
                )
            })
            .collect();
        rows.sort();
        out.insert("metadata-named-topics", rows.join(" "));
    }
    {
        let mut r = Raw::connect(addr).await;
        let req = CreatePartitionsRequest::default().with_timeout_ms(10_000).with_topics(vec![
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(tn("diff-a"))
                .with_count(2)
                .with_assignments(None),
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(tn("diff-b"))
                .with_count(1)
                .with_assignments(None),
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(tn("diff-compact"))
                .with_count(4)
                .with_assignments(None),
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(tn("no-such-topic"))
                .with_count(4)
                .with_assignments(None),
        ]);
        let resp: CreatePartitionsResponse =
            r.request(ApiKey::CreatePartitions, 3, &req).await.expect("answer");
        let mut rows: Vec<String> =
            resp.results.iter().map(|t| format!("{}={}", t.name.0, t.error_code)).collect();
        rows.sort();
        out.insert("create-partitions", rows.join(" "));
    }
    {
        let mut r = Raw::connect(addr).await;
        let req = DeleteTopicsRequest::default()
            .with_timeout_ms(10_000)
            .with_topic_names(vec![tn("no-such-topic"), tn("diff-b")]);
        let resp: DeleteTopicsResponse = r.request(ApiKey::DeleteTopics, 5, &req).await.expect("answer");
        let mut rows: Vec<String> = resp
            .responses
            .iter()
            .map(|t| {
                format!("{}={}", t.name.as_ref().map_or("null".into(), |n| n.0.to_string()), t.error_code)
            })
            .collect();
        rows.sort();
        out.insert("delete-topics", rows.join(" "));
    }

    // --- produce, fetch, offsets -------------------------------------------------------------
    let now = odradek::clock::now_ms();
    // kafka-protocol's encoder puts records without a producer id in one batch each: two batches
    // in one partition's records, which Produce v3+ forbids
    out.insert(
        "produce-two-batches",
        produce(addr, "diff-a", 2, 1, batch(&["x", "y"], -1, -1, -1, now)).await,
    );
    let mut three = BytesMut::new();
    for v in ["a", "b", "c"] {
        three.extend_from_slice(&batch(&[v], -1, -1, -1, now));
    }
    out.insert(
        "produce-acks-1",
        produce(addr, "diff-a", 0, 1, batch(&["a", "b", "c"], -1, -1, 0, now)).await,
    );
    out.insert("produce-acks-all", produce(addr, "diff-a", 0, -1, batch(&["d", "e"], -1, -1, 0, now)).await);
    out.insert("produce-concatenated-batches", produce(addr, "diff-a", 1, -1, three.freeze()).await);
    out.insert("produce-acks-2", produce(addr, "diff-a", 0, 2, batch(&["x"], -1, -1, -1, now)).await);
    out.insert(
        "produce-unknown-topic",
        produce(addr, "no-such-topic", 0, -1, batch(&["x"], -1, -1, -1, now)).await,
    );
    out.insert(
        "produce-unknown-partition",
        produce(addr, "diff-a", 99, -1, batch(&["x"], -1, -1, -1, now)).await,
    );
    {
        let mut b = BytesMut::from(&batch(&["crc"], -1, -1, -1, now)[..]);
        let last = b.len() - 1;
        b[last] ^= 0x55; // a value byte: the CRC no longer matches
        out.insert("produce-bad-crc", produce(addr, "diff-a", 0, -1, b.freeze()).await);
    }
    {
        let big = "v".repeat(1_100_000);
        out.insert(
            "produce-too-large",
            produce(addr, "diff-a", 0, -1, batch(&[&big], -1, -1, -1, now)).await,
        );
    }
    {
        // an idempotent producer: in order, a duplicate, a gap
        let mut r = Raw::connect(addr).await;
        let init: InitProducerIdResponse = r
            .request(
                ApiKey::InitProducerId,
                4,
                &InitProducerIdRequest::default()
                    .with_transaction_timeout_ms(60_000)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            )
            .await
            .expect("answer");
        let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
        let mut seq = Vec::new();
        for (vals, first) in [(&["i0", "i1"][..], 0), (&["i2"][..], 2), (&["i2"][..], 2), (&["i9"][..], 9)] {
            seq.push(produce(addr, "diff-compact", 0, -1, batch(vals, pid, epoch, first, now)).await);
        }
        out.insert(
            "idempotent-sequence",
            format!("init {} epoch {epoch}; {}", init.error_code, seq.join("; ")),
        );
    }
    out.insert("fetch-from-0", fetch(addr, "diff-a", 0).await);
    out.insert("fetch-past-end", fetch(addr, "diff-a", 1000).await);
    out.insert("fetch-negative-offset", fetch(addr, "diff-a", -5).await);
    out.insert("fetch-at-end", fetch(addr, "diff-a", 5).await);
    {
        let mut r = Raw::connect(addr).await;
        let resp: FetchResponse =
            r.request(ApiKey::Fetch, 12, &fetch_req("no-such-topic", 0)).await.expect("answer");
        out.insert("fetch-unknown-topic", codes(&resp));
        let mut req = fetch_req("", 0);
        req.topics[0].topic_id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        let resp: FetchResponse = r.request(ApiKey::Fetch, 13, &req).await.expect("answer");
        out.insert("fetch-unknown-topic-id", codes(&resp));
    }
    out.insert("list-offsets-latest", list_offset(addr, "diff-a", -1).await);
    out.insert("list-offsets-earliest", list_offset(addr, "diff-a", -2).await);
    out.insert("list-offsets-future", list_offset(addr, "diff-a", now + 86_400_000).await);
    out.insert("list-offsets-past", list_offset(addr, "diff-a", now - 86_400_000).await);
    out.insert("list-offsets-unknown-topic", list_offset(addr, "no-such-topic", -1).await);
    {
        let mut r = Raw::connect(addr).await;
        let mut rows = Vec::new();
        for offset in [100i64, 2, -1] {
            let req = DeleteRecordsRequest::default().with_timeout_ms(10_000).with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(tn("diff-a"))
                    .with_partitions(vec![delete_records_request::DeleteRecordsPartition::default()
                        .with_partition_index(0)
                        .with_offset(offset)]),
            ]);
            let resp: DeleteRecordsResponse =
                r.request(ApiKey::DeleteRecords, 2, &req).await.expect("answer");
            let p = &resp.topics[0].partitions[0];
            rows.push(format!("to {offset}: error {} low {}", p.error_code, p.low_watermark));
        }
        out.insert("delete-records", rows.join("; "));
    }
    out.insert("fetch-below-log-start", fetch(addr, "diff-a", 0).await);
    // ListOffsets by time after DeleteRecords: only records from the log start on are searched
    {
        create_topics(addr, vec![create("diff-times", 1, 1, &[])], false).await;
        let mut rows = Vec::new();
        for i in 0..10i64 {
            // Kafka may not lead a partition it has just created yet: retry a few times
            let mut got = String::new();
            for _ in 0..50 {
                got = produce(addr, "diff-times", 0, -1, batch(&["t"], -1, -1, 0, 1000 * (i + 1))).await;
                if got.starts_with("error 0 ") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            rows.push(got);
        }
        let mut r = Raw::connect(addr).await;
        let req = DeleteRecordsRequest::default().with_timeout_ms(10_000).with_topics(vec![
            delete_records_request::DeleteRecordsTopic::default()
                .with_name(tn("diff-times"))
                .with_partitions(vec![delete_records_request::DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(6)]),
        ]);
        let resp: DeleteRecordsResponse = r.request(ApiKey::DeleteRecords, 2, &req).await.expect("answer");
        rows.push(format!("delete to 6: low {}", resp.topics[0].partitions[0].low_watermark));
        for ts in [0i64, 2500, 6000, 7000, 8500, 10_001] {
            let req = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(tn("diff-times"))
                    .with_partitions(vec![list_offsets_request::ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(ts)]),
            ]);
            let resp: ListOffsetsResponse = r.request(ApiKey::ListOffsets, 7, &req).await.expect("answer");
            let p = &resp.topics[0].partitions[0];
            rows.push(format!("at {ts}: {} offset {} timestamp {}", p.error_code, p.offset, p.timestamp));
        }
        out.insert("list-offsets-by-time-after-delete-records", rows.join("; "));
    }

    // --- configs -----------------------------------------------------------------------------
    let keys = [
        "cleanup.policy",
        "retention.ms",
        "retention.bytes",
        "segment.bytes",
        "segment.ms",
        "max.message.bytes",
        "compression.type",
        "message.timestamp.type",
        "min.compaction.lag.ms",
        "delete.retention.ms",
        "min.cleanable.dirty.ratio",
        "flush.messages",
        "flush.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.after.max.ms",
        "unclean.leader.election.enable",
        "file.delete.delay.ms",
    ];
    out.insert("describe-configs-defaults", describe_topic_configs(addr, "diff-a", &keys).await);
    out.insert(
        "describe-configs-set-at-create",
        describe_topic_configs(addr, "diff-compact", &keys[..4]).await,
    );
    out.insert(
        "describe-configs-unknown-topic",
        describe_topic_configs(addr, "no-such-topic", &["retention.ms"]).await,
    );
    out.insert(
        "alter-config-valid",
        alter_topic_config(addr, "diff-a", "retention.ms", Some("3600000"), 0).await,
    );
    out.insert(
        "alter-config-bad-value",
        alter_topic_config(addr, "diff-a", "retention.ms", Some("abc"), 0).await,
    );
    out.insert(
        "alter-config-unknown-key",
        alter_topic_config(addr, "diff-a", "no.such.config", Some("1"), 0).await,
    );
    out.insert(
        "alter-config-bad-policy",
        alter_topic_config(addr, "diff-a", "cleanup.policy", Some("bogus"), 0).await,
    );
    out.insert(
        "alter-config-unknown-topic",
        alter_topic_config(addr, "no-such-topic", "retention.ms", Some("1"), 0).await,
    );
    out.insert(
        "describe-configs-after-alter",
        describe_topic_configs(addr, "diff-a", &["retention.ms"]).await,
    );
    out.insert("alter-config-delete", alter_topic_config(addr, "diff-a", "retention.ms", None, 1).await);
    out.insert(
        "describe-configs-after-delete",
        describe_topic_configs(addr, "diff-a", &["retention.ms"]).await,
    );

    // --- classic groups ----------------------------------------------------------------------
    {
        let mut r = Raw::connect(addr).await;
        let g = "diff-group";
        wait_group_ready(addr, g).await;
        let mut rows = Vec::new();
        let first: JoinGroupResponse =
            r.request(ApiKey::JoinGroup, 7, &join_req(g, "")).await.expect("answer");
        rows.push(format!("join without id: {} id given {}", first.error_code, !first.member_id.is_empty()));
        let member = first.member_id.to_string();
        let joined: JoinGroupResponse =
            r.request(ApiKey::JoinGroup, 7, &join_req(g, &member)).await.expect("answer");
        rows.push(format!(
            "join: {} generation {} leader is me {} members {} protocol {:?}",
            joined.error_code,
            joined.generation_id,
            joined.leader == joined.member_id,
            joined.members.len(),
            joined.protocol_name.as_ref().map(|p| p.to_string())
        ));
        let gen = joined.generation_id;
        let sync = |gen: i32, m: &str| {
            SyncGroupRequest::default()
                .with_group_id(GroupId(s(g)))
                .with_generation_id(gen)
                .with_member_id(s(m))
                .with_protocol_type(Some(s("consumer")))
                .with_protocol_name(Some(s("range")))
                .with_assignments(vec![sync_group_request::SyncGroupRequestAssignment::default()
                    .with_member_id(s(m))
                    .with_assignment(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))])
        };
        let bad: SyncGroupResponse =
            r.request(ApiKey::SyncGroup, 5, &sync(gen + 1, &member)).await.expect("answer");
        rows.push(format!("sync wrong generation: {}", bad.error_code));
        let bad: SyncGroupResponse =
            r.request(ApiKey::SyncGroup, 5, &sync(gen, "stranger")).await.expect("answer");
        rows.push(format!("sync unknown member: {}", bad.error_code));
        let ok: SyncGroupResponse =
            r.request(ApiKey::SyncGroup, 5, &sync(gen, &member)).await.expect("answer");
        rows.push(format!("sync: {} assignment {} bytes", ok.error_code, ok.assignment.len()));
        let hb = |gen: i32, m: &str| {
            HeartbeatRequest::default()
                .with_group_id(GroupId(s(g)))
                .with_generation_id(gen)
                .with_member_id(s(m))
        };
        for (label, req) in [
            ("heartbeat", hb(gen, &member)),
            ("heartbeat wrong generation", hb(gen + 5, &member)),
            ("heartbeat unknown member", hb(gen, "stranger")),
        ] {
            let resp: HeartbeatResponse = r.request(ApiKey::Heartbeat, 4, &req).await.expect("answer");
            rows.push(format!("{label}: {}", resp.error_code));
        }
        let commit = |gen: i32, m: &str, offset: i64| {
            OffsetCommitRequest::default()
                .with_group_id(GroupId(s(g)))
                .with_generation_id_or_member_epoch(gen)
                .with_member_id(s(m))
                .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(tn("diff-a"))
                    .with_partitions(vec![offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset)])])
        };
        for (label, req) in [
            ("commit", commit(gen, &member, 4)),
            ("commit wrong generation", commit(gen + 1, &member, 1)),
            ("commit unknown member", commit(gen, "stranger", 1)),
            ("commit as a simple consumer into an active group", commit(-1, "", 1)),
        ] {
            let resp: OffsetCommitResponse = r.request(ApiKey::OffsetCommit, 8, &req).await.expect("answer");
            rows.push(format!("{label}: {}", codes(&resp)));
        }
        let fetch_offsets = |group: &str| {
            OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(tn("diff-a"))
                    .with_partition_indexes(vec![0, 1]),
            ]))
        };
        for group in [g, "no-such-group"] {
            let resp: OffsetFetchResponse =
                r.request(ApiKey::OffsetFetch, 7, &fetch_offsets(group)).await.expect("answer");
            let offs: Vec<String> = resp
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .map(|p| format!("p{}={}/{}", p.partition_index, p.committed_offset, p.error_code))
                .collect();
            rows.push(format!("offsets of {group}: {} {}", resp.error_code, offs.join(",")));
        }
        let resp: DescribeGroupsResponse = r
            .request(
                ApiKey::DescribeGroups,
                5,
                &DescribeGroupsRequest::default()
                    .with_groups(vec![GroupId(s(g)), GroupId(s("no-such-group"))]),
            )
            .await
            .expect("answer");
        for d in &resp.groups {
            rows.push(format!(
                "describe {}: {} state {} protocol {} members {}",
                d.group_id.0,
                d.error_code,
                d.group_state,
                d.protocol_data,
                d.members.len()
            ));
        }
        let resp: DeleteGroupsResponse = r
            .request(
                ApiKey::DeleteGroups,
                2,
                &DeleteGroupsRequest::default()
                    .with_groups_names(vec![GroupId(s(g)), GroupId(s("no-such-group"))]),
            )
            .await
            .expect("answer");
        let mut del: Vec<String> =
            resp.results.iter().map(|x| format!("{}={}", x.group_id.0, x.error_code)).collect();
        del.sort();
        rows.push(format!("delete groups: {}", del.join(" ")));
        let resp: LeaveGroupResponse = r
            .request(
                ApiKey::LeaveGroup,
                4,
                &LeaveGroupRequest::default().with_group_id(GroupId(s(g))).with_members(vec![
                    leave_group_request::MemberIdentity::default().with_member_id(s("stranger")),
                    leave_group_request::MemberIdentity::default().with_member_id(s(&member)),
                ]),
            )
            .await
            .expect("answer");
        rows.push(format!("leave: {}", codes(&resp)));
        out.insert("classic-group", rows.join("; "));
    }

    // --- KIP-848 groups ----------------------------------------------------------------------
    {
        wait_group_ready(addr, "diff-848").await;
        let mut r = Raw::connect(addr).await;
        let hb = |member: &str, epoch: i32, topics: Option<Vec<TopicName>>| {
            ConsumerGroupHeartbeatRequest::default()
                .with_group_id(GroupId(s("diff-848")))
                .with_member_id(s(member))
                .with_member_epoch(epoch)
                .with_rebalance_timeout_ms(30_000)
                .with_subscribed_topic_names(topics)
                .with_topic_partitions(if epoch == 0 { Some(vec![]) } else { None })
        };
        let mut rows = Vec::new();
        for (label, req) in [
            ("join without topics", hb("m-diff-1", 0, None)),
            ("unknown member at epoch 3", hb("m-diff-2", 3, Some(vec![tn("diff-a")]))),
            ("empty member id", hb("", 0, Some(vec![tn("diff-a")]))),
            ("join", hb("m-diff-3", 0, Some(vec![tn("diff-a")]))),
            ("fenced epoch", hb("m-diff-3", 7, Some(vec![tn("diff-a")]))),
        ] {
            let resp: ConsumerGroupHeartbeatResponse =
                r.request(ApiKey::ConsumerGroupHeartbeat, 0, &req).await.expect("answer");
            rows.push(format!("{label}: {} epoch {}", resp.error_code, resp.member_epoch.clamp(-1, 1)));
        }
        out.insert("consumer-group-heartbeat", rows.join("; "));
    }

    // --- transactions ------------------------------------------------------------------------
    {
        find_coordinator(addr, "diff-txn", 1).await;
        let mut r = Raw::connect(addr).await;
        let mut rows = Vec::new();
        let init = |id: &str, timeout: i32| {
            InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(s(id))))
                .with_transaction_timeout_ms(timeout)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        };
        let bad: InitProducerIdResponse =
            r.request(ApiKey::InitProducerId, 4, &init("diff-txn", 2_000_000_000)).await.expect("answer");
        rows.push(format!("init with a huge timeout: {}", bad.error_code));
        // Kafka answers COORDINATOR_LOAD_IN_PROGRESS while __transaction_state is created: retry
        let mut first = None;
        let mut seen = Vec::new();
        for _ in 0..50 {
            let x: InitProducerIdResponse =
                r.request(ApiKey::InitProducerId, 4, &init("diff-txn", 60_000)).await.expect("answer");
            if x.error_code == 0 {
                first = Some(x);
                break;
            }
            seen.push(x.error_code);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let first = first.unwrap_or_else(|| panic!("InitProducerId at {addr} keeps failing: {seen:?}"));
        let second: InitProducerIdResponse =
            r.request(ApiKey::InitProducerId, 4, &init("diff-txn", 60_000)).await.expect("answer");
        rows.push(format!(
            "init twice: same producer {} epoch bumped by {}",
            second.producer_id == first.producer_id,
            second.producer_epoch - first.producer_epoch
        ));
        let (pid, epoch) = (second.producer_id, second.producer_epoch);
        let add = |epoch: i16, pid: ProducerId| {
            AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(TransactionalId(s("diff-txn")))
                .with_v3_and_below_producer_id(pid)
                .with_v3_and_below_producer_epoch(epoch)
                .with_v3_and_below_topics(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(tn("diff-a"))
                        .with_partitions(vec![0]),
                ])
        };
        let end = |epoch: i16, commit: bool| {
            EndTxnRequest::default()
                .with_transactional_id(TransactionalId(s("diff-txn")))
                .with_producer_id(pid)
                .with_producer_epoch(epoch)
                .with_committed(commit)
        };
        let resp: EndTxnResponse = r.request(ApiKey::EndTxn, 3, &end(epoch, true)).await.expect("answer");
        rows.push(format!("commit with nothing added: {}", resp.error_code));
        for (label, req) in [
            ("add with the old epoch", add(first.producer_epoch, pid)),
            ("add with a wrong producer id", add(epoch, ProducerId(pid.0 + 1000))),
            ("add", add(epoch, pid)),
        ] {
            let resp: AddPartitionsToTxnResponse =
                r.request(ApiKey::AddPartitionsToTxn, 3, &req).await.expect("answer");
            rows.push(format!("{label}: {}", codes(&resp)));
        }
        let resp: AddOffsetsToTxnResponse = r
            .request(
                ApiKey::AddOffsetsToTxn,
                3,
                &AddOffsetsToTxnRequest::default()
                    .with_transactional_id(TransactionalId(s("diff-txn")))
                    .with_producer_id(ProducerId(pid.0 + 1000))
                    .with_producer_epoch(epoch)
                    .with_group_id(GroupId(s("diff-txn-group"))),
            )
            .await
            .expect("answer");
        rows.push(format!("add offsets with a wrong producer id: {}", resp.error_code));
        let resp: EndTxnResponse =
            r.request(ApiKey::EndTxn, 3, &end(first.producer_epoch, false)).await.expect("answer");
        rows.push(format!("abort with the old epoch: {}", resp.error_code));
        let resp: EndTxnResponse = r.request(ApiKey::EndTxn, 3, &end(epoch, false)).await.expect("answer");
        rows.push(format!("abort: {}", resp.error_code));
        // Kafka writes the markers after answering EndTxn: wait (5 s at most) for the abort to complete
        let mut resp = DescribeTransactionsResponse::default();
        for _ in 0..50 {
            resp = r
                .request(
                    ApiKey::DescribeTransactions,
                    0,
                    &DescribeTransactionsRequest::default().with_transactional_ids(vec![
                        TransactionalId(s("diff-txn")),
                        TransactionalId(s("no-such-txn")),
                    ]),
                )
                .await
                .expect("answer");
            if !resp.transaction_states[0].transaction_state.starts_with("Prepare") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for t in &resp.transaction_states {
            rows.push(format!(
                "describe {}: {} state {} timeout {}",
                t.transactional_id.0, t.error_code, t.transaction_state, t.transaction_timeout_ms
            ));
        }
        out.insert("transactions", rows.join("; "));
    }

    // --- offsets in a transaction after the producer's epoch moved on -------------------------
    // The second transaction commits offsets under a bumped epoch with nothing else written by it:
    // the coordinator's own batch (no sequence) must be taken, as Kafka takes it.
    {
        find_coordinator(addr, "diff-txn-off", 1).await;
        find_coordinator(addr, "diff-txn-off-group", 0).await;
        let mut r = Raw::connect(addr).await;
        let mut rows = Vec::new();
        let mut last = None;
        for (round, offset) in [(1, 5i64), (2, 7)] {
            // Kafka answers CONCURRENT_TRANSACTIONS while the previous round's markers are written
            let mut init = None;
            for _ in 0..50 {
                let x: InitProducerIdResponse = r
                    .request(
                        ApiKey::InitProducerId,
                        4,
                        &InitProducerIdRequest::default()
                            .with_transactional_id(Some(TransactionalId(s("diff-txn-off"))))
                            .with_transaction_timeout_ms(60_000)
                            .with_producer_id(ProducerId(-1))
                            .with_producer_epoch(-1),
                    )
                    .await
                    .expect("answer");
                if x.error_code == 0 {
                    init = Some(x);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let init = init.unwrap_or_else(|| panic!("InitProducerId at {addr} keeps failing"));
            let (pid, epoch) = (init.producer_id, init.producer_epoch);
            if let Some(prev) = last {
                rows.push(format!("round {round}: epoch bumped {}", epoch > prev));
            }
            last = Some(epoch);
            let add: AddOffsetsToTxnResponse = r
                .request(
                    ApiKey::AddOffsetsToTxn,
                    3,
                    &AddOffsetsToTxnRequest::default()
                        .with_transactional_id(TransactionalId(s("diff-txn-off")))
                        .with_producer_id(pid)
                        .with_producer_epoch(epoch)
                        .with_group_id(GroupId(s("diff-txn-off-group"))),
                )
                .await
                .expect("answer");
            let commit: TxnOffsetCommitResponse = r
                .request(
                    ApiKey::TxnOffsetCommit,
                    3,
                    &TxnOffsetCommitRequest::default()
                        .with_transactional_id(TransactionalId(s("diff-txn-off")))
                        .with_group_id(GroupId(s("diff-txn-off-group")))
                        .with_producer_id(pid)
                        .with_producer_epoch(epoch)
                        .with_generation_id(-1)
                        .with_member_id(s(""))
                        .with_topics(vec![txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                            .with_name(tn("diff-a"))
                            .with_partitions(vec![
                                txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                                    .with_partition_index(0)
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(-1),
                            ])]),
                )
                .await
                .expect("answer");
            let end: EndTxnResponse = r
                .request(
                    ApiKey::EndTxn,
                    3,
                    &EndTxnRequest::default()
                        .with_transactional_id(TransactionalId(s("diff-txn-off")))
                        .with_producer_id(pid)
                        .with_producer_epoch(epoch)
                        .with_committed(true),
                )
                .await
                .expect("answer");
            rows.push(format!(
                "round {round}: add offsets {}, txn offset commit {}, commit {}",
                add.error_code,
                codes(&commit),
                end.error_code
            ));
        }
        // the committed offset, once stable (Kafka completes the commit after answering EndTxn)
        let mut got = String::new();
        for _ in 0..50 {
            let resp: OffsetFetchResponse = r
                .request(
                    ApiKey::OffsetFetch,
                    7,
                    &OffsetFetchRequest::default()
                        .with_group_id(GroupId(s("diff-txn-off-group")))
                        .with_topics(Some(vec![offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(tn("diff-a"))
                            .with_partition_indexes(vec![0])]))
                        .with_require_stable(true),
                )
                .await
                .expect("answer");
            let p = &resp.topics[0].partitions[0];
            got = format!("offset fetch: {} {} offset {}", resp.error_code, p.error_code, p.committed_offset);
            if p.committed_offset == 7 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rows.push(got);
        out.insert("txn-offset-commit-after-epoch-bump", rows.join("; "));
    }

    // --- security off ------------------------------------------------------------------------
    {
        let mut r = Raw::connect(addr).await;
        let resp: Option<DescribeAclsResponse> = r
            .request(
                ApiKey::DescribeAcls,
                3,
                &DescribeAclsRequest::default()
                    .with_resource_type_filter(1)
                    .with_pattern_type_filter(1)
                    .with_operation(1)
                    .with_permission_type(1),
            )
            .await;
        out.insert("describe-acls-without-authorizer", resp.map_or("closed".into(), |x| codes(&x)));
    }
    {
        let mut r = Raw::connect(addr).await;
        let resp: Option<SaslHandshakeResponse> = r
            .request(ApiKey::SaslHandshake, 1, &SaslHandshakeRequest::default().with_mechanism(s("PLAIN")))
            .await;
        out.insert(
            "sasl-handshake-on-plaintext",
            resp.map_or("closed".into(), |x| format!("{} mechanisms {:?}", x.error_code, x.mechanisms)),
        );
        // whatever the handshake said, is the connection still usable?
        let mut b = [0u8; 1];
        let still = tokio::time::timeout(Duration::from_millis(300), r.s.read(&mut b)).await;
        out.insert("sasl-handshake-connection-after", format!("{}", still.is_err()));
    }
    // last: Apache Kafka 4.3's controller fails on an unknown operation (it renounces leadership,
    // which disturbs whatever runs at the same time)
    out.insert("alter-config-bad-op", alter_topic_config(addr, "diff-a", "retention.ms", Some("1"), 9).await);
    out
}

/// The checked-in list of known differences: `case: reason` lines, `#` comments.
fn known() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential-known.txt");
    std::fs::read_to_string(path)
        .expect("tests/differential-known.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(':').expect("case: reason");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a running Apache Kafka (ODRADEK_DIFF_KAFKA); compat-tests/differential runs it"]
async fn same_answers_as_apache_kafka() {
    let kafka =
        std::env::var("ODRADEK_DIFF_KAFKA").expect("ODRADEK_DIFF_KAFKA=HOST:PORT of an Apache Kafka broker");
    let embedded;
    let odradek = match std::env::var("ODRADEK_DIFF_ODRADEK") {
        Ok(a) => a,
        Err(_) => {
            embedded = common::broker().await;
            embedded.bootstrap()
        }
    };
    let ours = run_cases(&odradek).await;
    let theirs = run_cases(&kafka).await;
    let known = known();
    let mut failures = Vec::new();
    for (case, k) in &theirs {
        let o = &ours[case];
        let same = o == k;
        let listed = known.contains_key(*case);
        let mark = match (same, listed) {
            (true, false) => "same",
            (false, true) => "KNOWN",
            (false, false) => "DIFFERENT",
            (true, true) => "LISTED-BUT-SAME",
        };
        println!("{mark:16} {case}\n    odradek: {o}\n    kafka:   {k}");
        if same == listed {
            failures.push(format!("{case} ({mark})"));
        }
    }
    for case in known.keys() {
        if !theirs.contains_key(case.as_str()) {
            failures.push(format!("{case} (listed in differential-known.txt but no such case)"));
        }
    }
    println!("{} cases, {} known differences, {} failures", theirs.len(), known.len(), failures.len());
    assert!(
        failures.is_empty(),
        "differences from Apache Kafka not in tests/differential-known.txt: {failures:?}"
    );
}
