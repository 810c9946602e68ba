//! Proves: idempotent producer rules: a retried batch returns its original offsets and is not
//! written twice, a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch is fenced, producer
//! ids are unique, and all of it survives a broker restart. Also librdkafka's idempotent producer.
mod common;

use std::time::Duration;

use common::raw::{batch, Raw};
use common::*;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::Offset;

fn produce(topic: &str, records: bytes::Bytes) -> ProduceRequest {
    ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))]),
    ])
}

async fn send(r: &mut Raw, topic: &str, b: bytes::Bytes) -> (i16, i64) {
    let resp: ProduceResponse = r.request(ApiKey::Produce, 9, &produce(topic, b)).await.unwrap();
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

async fn init_pid(r: &mut Raw) -> i64 {
    let resp: InitProducerIdResponse = r
        .request(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(60000),
        )
        .await
        .unwrap();
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.producer_epoch, 0);
    resp.producer_id.0
}

#[tokio::test]
async fn sequence_rules_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ts = odradek::clock::now_ms();
    let pid;
    {
        let b = broker_in(dir.path(), &[]).await;
        let mut r = Raw::connect(&b.bootstrap()).await;
        let _: MetadataResponse = r
            .request(
                ApiKey::Metadata,
                12,
                &MetadataRequest::default()
                    .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_static_str("idem"))))]))
                    .with_allow_auto_topic_creation(true),
            )
            .await
            .unwrap();
        pid = init_pid(&mut r).await;
        let other = init_pid(&mut r).await;
        assert_ne!(pid, other, "producer ids are unique");
        assert_eq!(send(&mut r, "idem", batch(&["a", "b", "c"], pid, 0, 0, ts)).await, (0, 0));
        assert_eq!(send(&mut r, "idem", batch(&["d", "e"], pid, 0, 3, ts)).await, (0, 3));
        // Retry of the first batch: original offsets, nothing appended.
        assert_eq!(send(&mut r, "idem", batch(&["a", "b", "c"], pid, 0, 0, ts)).await, (0, 0));
        assert_eq!(b.state().logs.topic("idem").unwrap().partition(0).unwrap().high_watermark(), 5);
        // Gap: expected 5, got 9.
        assert_eq!(
            send(&mut r, "idem", batch(&["x"], pid, 0, 9, ts)).await.0,
            45,
            "OUT_OF_ORDER_SEQUENCE_NUMBER"
        );
        // Epoch bump starts at 0; then the old epoch is fenced.
        assert_eq!(send(&mut r, "idem", batch(&["f"], pid, 1, 0, ts)).await, (0, 5));
        assert_eq!(send(&mut r, "idem", batch(&["g"], pid, 0, 5, ts)).await.0, 47, "INVALID_PRODUCER_EPOCH");
        b.shutdown().await.unwrap();
    }
    // Round 0 restarts after a clean shutdown; round 2 after a simulated crash at the end of round 1.
    for round in 0..3 {
        let clean = round != 1;
        let b = broker_in(dir.path(), &[]).await;
        let mut r = Raw::connect(&b.bootstrap()).await;
        // After a restart the duplicate is still recognised and the sequence continues.
        assert_eq!(send(&mut r, "idem", batch(&["f"], pid, 1, 0, ts)).await, (0, 5), "round {round}");
        assert_eq!(send(&mut r, "idem", batch(&["g"], pid, 0, 5, ts)).await.0, 47);
        let next = init_pid(&mut r).await;
        assert!(next > pid + 1, "ids are not reused after a restart");
        if clean {
            b.shutdown().await.unwrap();
        } else {
            // Simulate a crash: remove the clean-shutdown marker after dropping, so the next
            // start recovers from the log instead of the snapshot taken at shutdown.
            drop(b);
            std::fs::remove_file(dir.path().join(".odradek_clean_shutdown")).unwrap();
            for e in std::fs::read_dir(dir.path().join("idem-0")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "snapshot") {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_idempotent_producer() {
    let b = broker().await;
    let p = producer(
        &b.bootstrap(),
        &[("enable.idempotence", "true"), ("acks", "all"), ("max.in.flight.requests.per.connection", "5")],
    );
    let mut futs = Vec::new();
    for i in 0..2000 {
        let v = format!("v{i}");
        futs.push(
            p.send_result(rdkafka::producer::FutureRecord::to("idem-rk").key("k").payload(&v))
                .map_err(|(e, _)| e)
                .unwrap(),
        );
    }
    for (i, f) in futs.into_iter().enumerate() {
        let d = f.await.unwrap().map_err(|(e, _)| e).unwrap();
        assert_eq!(d.offset, i as i64);
    }
    let c = consumer(&b.bootstrap(), &[]);
    let got = read(&c, "idem-rk", &[0], Offset::Beginning, 2000, Duration::from_secs(30));
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.value.as_deref(), Some(format!("v{i}").as_bytes()));
    }
}
