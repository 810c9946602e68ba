//! Proves: topic configs altered with AlterConfigs (librdkafka) and IncrementalAlterConfigs (SET,
//! DELETE, APPEND, SUBTRACT) read back identically from DescribeConfigs, survive a restart, and
//! apply live: a retention change deletes old segments without a restart and consumers reset to the
//! new log start. Dynamic broker configs (per broker and cluster default) apply to topics without
//! an override and persist; static broker keys are refused with INVALID_CONFIG. DescribeLogDirs
//! reports real sizes.
mod common;

use std::time::{Duration, Instant};

use common::raw::Raw;
use common::*;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::Offset;

fn sb(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

async fn incremental(
    r: &mut Raw,
    ty: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
) -> (i16, Option<String>) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
        .with_resource_type(ty)
        .with_resource_name(sb(name))
        .with_configs(
            ops.iter()
                .map(|(k, op, v)| {
                    AlterableConfig::default()
                        .with_name(sb(k))
                        .with_config_operation(*op)
                        .with_value(v.map(sb))
                })
                .collect(),
        )]);
    let resp: IncrementalAlterConfigsResponse =
        r.request(ApiKey::IncrementalAlterConfigs, 1, &req).await.unwrap();
    (resp.responses[0].error_code, resp.responses[0].error_message.as_ref().map(|m| m.to_string()))
}

async fn describe(b: &str, topic: &str) -> Vec<(String, Option<String>, String)> {
    let admin = create_topic_admin(b);
    let d = admin.describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new()).await.unwrap();
    d[0].as_ref()
        .unwrap()
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.value.clone(), format!("{:?}", e.source)))
        .collect()
}

fn value(d: &[(String, Option<String>, String)], k: &str) -> (Option<String>, String) {
    let e = d.iter().find(|e| e.0 == k).unwrap();
    (e.1.clone(), e.2.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_round_trip_and_retention_applies_live() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [("log.retention.check.interval.ms", "100")];
    let b = broker_in(dir.path(), &sets).await;
    let bs = b.bootstrap();
    let admin = create_topic_admin(&bs);
    let r = admin
        .create_topics(
            &[NewTopic::new("ret", 1, TopicReplication::Fixed(1)).set("segment.bytes", "1024")],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(r[0].is_ok());
    let p = producer(&bs, &[("linger.ms", "0")]);
    for i in 0..60 {
        send(&p, "ret", Some(0), b"k", format!("value-{i:04}-{}", "x".repeat(100)).as_bytes()).await;
    }
    let part = b.state().logs.topic("ret").unwrap().partition(0).unwrap();
    assert!(part.with_log(|l| l.segment_count()) > 5);
    assert_eq!(part.log_start_offset(), 0);

    // AlterConfigs (librdkafka): replaces the overrides; retention.ms=1 deletes old segments live.
    let r = admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("ret"))
                .set("segment.bytes", "1024")
                .set("retention.ms", "1")],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while part.with_log(|l| l.segment_count()) > 1 {
        assert!(Instant::now() < deadline, "retention did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = part.log_start_offset();
    assert!(start > 50, "log start moved to the active segment: {start}");
    let d = describe(&bs, "ret").await;
    assert_eq!(value(&d, "retention.ms"), (Some("1".into()), "DynamicTopic".to_string()));
    // A consumer asking for offset 0 is out of range and resets to the new start.
    let c = consumer(&bs, &[("auto.offset.reset", "earliest")]);
    let got = read(&c, "ret", &[0], Offset::Offset(0), 1, Duration::from_secs(15));
    assert_eq!(got[0].offset, start);
    let (lo, hi) = c.fetch_watermarks("ret", 0, Duration::from_secs(5)).unwrap();
    assert_eq!((lo, hi), (start, 60));

    // IncrementalAlterConfigs: SET, APPEND, SUBTRACT, DELETE.
    let mut raw = Raw::connect(&bs).await;
    assert_eq!(
        incremental(&mut raw, 2, "ret", &[("retention.ms", 1, None), ("cleanup.policy", 2, Some("compact"))])
            .await
            .0,
        0
    );
    let d = describe(&bs, "ret").await;
    assert_eq!(value(&d, "cleanup.policy").0.as_deref(), Some("delete,compact"));
    assert_eq!(value(&d, "retention.ms"), (Some("604800000".into()), "Default".to_string()));
    assert_eq!(incremental(&mut raw, 2, "ret", &[("cleanup.policy", 3, Some("delete"))]).await.0, 0);
    assert_eq!(incremental(&mut raw, 2, "ret", &[("max.message.bytes", 0, Some("5000"))]).await.0, 0);
    // Errors: bad value, unknown key, APPEND on a non-list, duplicate key, unknown topic, broker.
    assert_eq!(incremental(&mut raw, 2, "ret", &[("retention.ms", 0, Some("soon"))]).await.0, 40);
    assert_eq!(incremental(&mut raw, 2, "ret", &[("no.such.config", 0, Some("1"))]).await.0, 40);
    assert_eq!(incremental(&mut raw, 2, "ret", &[("retention.ms", 2, Some("1"))]).await.0, 40);
    assert_eq!(
        incremental(&mut raw, 2, "ret", &[("retention.ms", 0, Some("1")), ("retention.ms", 1, None)]).await.0,
        42
    );
    assert_eq!(incremental(&mut raw, 2, "nope", &[("retention.ms", 0, Some("1"))]).await.0, 3);
    // Broker configs: static ones are refused, log defaults are dynamic (per broker and cluster).
    let (c, msg) = incremental(&mut raw, 4, "1", &[("node.id", 0, Some("7"))]).await;
    assert_eq!(c, 40);
    assert!(msg.unwrap().contains("node.id"));
    assert_eq!(
        incremental(&mut raw, 4, "9", &[("log.retention.ms", 0, Some("1"))]).await.0,
        42,
        "another broker's id"
    );
    assert_eq!(incremental(&mut raw, 2, "ret", &[("segment.bytes", 1, None)]).await.0, 0);
    assert_eq!(incremental(&mut raw, 4, "", &[("log.segment.bytes", 0, Some("2048"))]).await.0, 0);
    assert_eq!(incremental(&mut raw, 4, "1", &[("log.segment.bytes", 0, Some("3072"))]).await.0, 0);
    let d = describe(&bs, "ret").await;
    assert_eq!(
        value(&d, "segment.bytes"),
        (Some("3072".into()), "DynamicBroker".to_string()),
        "the per-broker value wins over the cluster default"
    );
    assert_eq!(part.with_log(|l| l.config().segment_bytes), 3072, "applied to the log at once");
    // validate_only changes nothing.
    let d_before = describe(&bs, "ret").await;

    // DescribeLogDirs: real sizes.
    let dl: DescribeLogDirsResponse = raw
        .request(ApiKey::DescribeLogDirs, 4, &DescribeLogDirsRequest::default().with_topics(None))
        .await
        .unwrap();
    let t = dl.results[0].topics.iter().find(|t| t.name.0.as_str() == "ret").unwrap();
    assert_eq!(t.partitions[0].partition_size, part.with_log(|l| l.size_bytes()) as i64);
    assert!(t.partitions[0].partition_size > 0);
    assert!(dl.results[0].total_bytes > 0 && dl.results[0].usable_bytes > 0);

    // Restart: the configs are still there, identical.
    b.shutdown().await.unwrap();
    let b = broker_in(dir.path(), &sets).await;
    let d_after = describe(&b.bootstrap(), "ret").await;
    assert_eq!(d_before, d_after);
    assert_eq!(value(&d_after, "cleanup.policy").0.as_deref(), Some("compact"));
    assert_eq!(value(&d_after, "max.message.bytes"), (Some("5000".into()), "DynamicTopic".to_string()));
    assert_eq!(
        value(&d_after, "segment.bytes"),
        (Some("3072".into()), "DynamicBroker".to_string()),
        "dynamic broker configs persist"
    );
    let part = b.state().logs.topic("ret").unwrap().partition(0).unwrap();
    assert_eq!(part.with_log(|l| l.config().segment_bytes), 3072);
}
