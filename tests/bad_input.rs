//! Proves: malformed frames, lying length prefixes, oversize requests, unknown APIs and versions,
//! and corrupt batches get Kafka's answer or a closed connection, never a crash, never a write;
//! and every other client keeps being served.
mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::raw::{batch, Raw};
use common::*;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

async fn create(raw: &mut Raw, name: &str, partitions: i32) {
    let req =
        CreateTopicsRequest::default().with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.into())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = raw.request(ApiKey::CreateTopics, 7, &req).await.unwrap();
    assert_eq!(r.topics[0].error_code, 0);
}

fn produce_req(topic: &str, records: bytes::Bytes) -> ProduceRequest {
    ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))]),
    ])
}

/// The broker still answers Metadata on a fresh connection.
async fn still_serving(addr: &str) {
    let mut r = Raw::connect(addr).await;
    let m: MetadataResponse =
        r.request(ApiKey::Metadata, 12, &MetadataRequest::default()).await.expect("broker still serving");
    assert_eq!(m.brokers.len(), 1);
}

#[tokio::test]
async fn garbage_frames_close_only_that_connection() {
    let b = broker().await;
    let addr = b.bootstrap();
    let mut bystander = Raw::connect(&addr).await;
    let cases: Vec<Vec<u8>> = vec![
        vec![0, 0, 0, 2, 1, 2],                                       // too short for a header
        vec![0x7f, 0xff, 0xff, 0xff], // size far over socket.request.max.bytes
        vec![0xff, 0xff, 0xff, 0xfe], // negative size
        vec![0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff], // unknown API key 999
        vec![0, 0, 0, 10, 0, 0, 0, 99, 0, 0, 0, 1, 0xff, 0xff], // Produce v99
        vec![0, 0, 0, 12, 0, 3, 0, 12, 0, 0, 0, 1, 0x7f, 0xff, 0, 0], // Metadata with a lying client id length
    ];
    for c in cases {
        let mut r = Raw::connect(&addr).await;
        r.send_bytes(&c).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), r.read_frame())
            .await
            .expect("broker answers or closes");
        assert!(got.is_none(), "connection closed for {c:?}");
    }
    // A lying length prefix: claims 50 MB, sends 10 bytes, hangs up.
    let mut r = Raw::connect(&addr).await;
    r.send_bytes(&[0x03, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).await.unwrap();
    drop(r);
    // Array lengths that claim billions of elements.
    let mut r = Raw::connect(&addr).await;
    let mut f = BytesMut::new();
    f.extend_from_slice(&[0, 0, 0, 16, 0, 3, 0, 4, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0]);
    r.send_bytes(&f).await.unwrap();
    assert!(r.read_frame().await.is_none());
    let m: MetadataResponse =
        bystander.request(ApiKey::Metadata, 12, &MetadataRequest::default()).await.unwrap();
    assert_eq!(m.brokers.len(), 1, "the bystander connection is untouched");
    still_serving(&addr).await;
}

#[tokio::test]
async fn api_versions_too_new_gets_v0_answer_with_its_own_entry() {
    let b = broker().await;
    let mut r = Raw::connect(&b.bootstrap()).await;
    // ApiVersions v9, header v2; we must answer with a v0 body and header v0.
    r.send_bytes(&[0, 0, 0, 12, 0, 18, 0, 9, 0, 0, 0, 7, 0, 1, b'x', 0]).await.unwrap();
    let mut f = r.read_frame().await.expect("answered");
    use bytes::Buf;
    assert_eq!(f.get_i32(), 7, "correlation id");
    let resp = <ApiVersionsResponse as kafka_protocol::protocol::Decodable>::decode(&mut f, 0).unwrap();
    assert_eq!(resp.error_code, 35, "UNSUPPORTED_VERSION");
    // As Kafka answers: the ApiVersions entry only (the client retries with its max version).
    let keys: Vec<_> = resp.api_keys.iter().map(|k| (k.api_key, k.min_version, k.max_version)).collect();
    assert_eq!(keys, vec![(18, 0, 4)]);
    // And the connection stays usable at a version we serve.
    let ok: ApiVersionsResponse =
        r.request(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()).await.unwrap();
    assert_eq!(ok.error_code, 0);
    assert!(ok.api_keys.iter().any(|k| k.api_key == 0 && k.min_version == 3 && k.max_version == 13));
}

#[tokio::test]
async fn corrupt_batches_are_rejected_and_nothing_is_written() {
    let b = broker().await;
    let mut r = Raw::connect(&b.bootstrap()).await;
    create(&mut r, "crc", 1).await;
    // base sequence 0 keeps both records in one batch (with -1 the encoder writes a batch per
    // record, and two batches in one partition are refused as INVALID_RECORD before any CRC check)
    let good = batch(&["a", "b"], -1, -1, 0, crate::now());
    // Flip a byte inside the records: CRC mismatch.
    let mut bad = BytesMut::from(&good[..]);
    let n = bad.len();
    bad[n - 2] ^= 0x55;
    let resp: ProduceResponse =
        r.request(ApiKey::Produce, 9, &produce_req("crc", bad.freeze())).await.unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 2, "CORRUPT_MESSAGE");
    // Truncated batch.
    let resp: ProduceResponse =
        r.request(ApiKey::Produce, 9, &produce_req("crc", good.slice(..good.len() - 3))).await.unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 2, "CORRUPT_MESSAGE for a torn batch");
    // Old magic.
    let mut old = BytesMut::from(&good[..]);
    old[16] = 1;
    let resp: ProduceResponse =
        r.request(ApiKey::Produce, 9, &produce_req("crc", old.freeze())).await.unwrap();
    assert_ne!(resp.responses[0].partition_responses[0].error_code, 0);
    // Nothing was written: the log end offset is still 0, then a good batch lands at 0.
    assert_eq!(b.state().logs.topic("crc").unwrap().partition(0).unwrap().high_watermark(), 0);
    let resp: ProduceResponse = r.request(ApiKey::Produce, 9, &produce_req("crc", good)).await.unwrap();
    let pr = &resp.responses[0].partition_responses[0];
    assert_eq!((pr.error_code, pr.base_offset), (0, 0));
    assert_eq!(b.state().logs.topic("crc").unwrap().partition(0).unwrap().high_watermark(), 2);
}

#[tokio::test]
async fn size_limits_give_kafka_codes() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker_in(dir.path(), &[("message.max.bytes", "200")]).await;
    let mut r = Raw::connect(&b.bootstrap()).await;
    create(&mut r, "small", 1).await;
    let big = batch(&[&"x".repeat(500)], -1, -1, -1, crate::now());
    let resp: ProduceResponse = r.request(ApiKey::Produce, 9, &produce_req("small", big)).await.unwrap();
    let pr = &resp.responses[0].partition_responses[0];
    assert_eq!(pr.error_code, 10, "MESSAGE_TOO_LARGE");
    assert!(pr.error_message.as_ref().is_some_and(|m| m.contains("max.message.bytes")));
    let resp: ProduceResponse = r
        .request(ApiKey::Produce, 9, &produce_req("missing-topic", batch(&["a"], -1, -1, -1, crate::now())))
        .await
        .unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    let mut bad_acks = produce_req("small", batch(&["a"], -1, -1, -1, crate::now()));
    bad_acks.acks = 2;
    let resp: ProduceResponse = r.request(ApiKey::Produce, 9, &bad_acks).await.unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 21, "INVALID_REQUIRED_ACKS");
}

fn now() -> i64 {
    odradek::clock::now_ms()
}

#[tokio::test]
async fn a_fetch_claiming_to_be_a_follower_is_refused_and_rack_ids_are_ignored() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    let b = broker().await;
    let mut r = Raw::connect(&b.bootstrap()).await;
    create(&mut r, "f", 1).await;
    let fetch = |replica: i32, epoch: i32, rack: &str| {
        FetchRequest::default()
            .with_replica_id(BrokerId(replica))
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_rack_id(StrBytes::from_string(rack.into()))
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("f")))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_current_leader_epoch(epoch)
                    .with_partition_max_bytes(1 << 20)])])
    };
    let resp: FetchResponse = r.request(ApiKey::Fetch, 12, &fetch(7, -1, "")).await.unwrap();
    assert_eq!(resp.responses[0].partitions[0].error_code, 6, "NOT_LEADER_OR_FOLLOWER");
    let resp: FetchResponse = r.request(ApiKey::Fetch, 12, &fetch(7, 0, "")).await.unwrap();
    assert_eq!(resp.responses[0].partitions[0].error_code, 75, "UNKNOWN_LEADER_EPOCH");
    // A consumer naming its rack (KIP-392) is served by the leader: no preferred read replica.
    let resp: FetchResponse = r.request(ApiKey::Fetch, 12, &fetch(-1, 0, "rack-a")).await.unwrap();
    let p = &resp.responses[0].partitions[0];
    assert_eq!((p.error_code, p.preferred_read_replica.0), (0, -1));
}
