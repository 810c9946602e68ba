//! Proves: admin calls through librdkafka's AdminClient (create with configs, validate-only,
//! replication factor rules, create partitions, describe configs, delete records, delete topics),
//! ListOffsets by time and watermarks, and that data and topics survive a broker restart.
mod common;

use std::time::Duration;

use common::*;
use rdkafka::admin::{
    AdminOptions, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_round_trip() {
    let b = broker().await;
    let admin = create_topic_admin(&b.bootstrap());
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let r = admin
        .create_topics(
            &[NewTopic::new("adm", 3, TopicReplication::Fixed(1))
                .set("retention.ms", "12345")
                .set("cleanup.policy", "compact")],
            &opts,
        )
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    // Again: TOPIC_ALREADY_EXISTS.
    let r = admin.create_topics(&[NewTopic::new("adm", 3, TopicReplication::Fixed(1))], &opts).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists);
    // Replication factor 3 on one broker: INVALID_REPLICATION_FACTOR, as in Kafka.
    let r = admin.create_topics(&[NewTopic::new("rf3", 1, TopicReplication::Fixed(3))], &opts).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, rdkafka::types::RDKafkaErrorCode::InvalidReplicationFactor);
    // Invalid config value and unknown key: INVALID_CONFIG.
    let r = admin
        .create_topics(
            &[NewTopic::new("badcfg", 1, TopicReplication::Fixed(1)).set("retention.ms", "soon")],
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, rdkafka::types::RDKafkaErrorCode::InvalidConfig);
    // validate_only creates nothing.
    let r = admin
        .create_topics(
            &[NewTopic::new("dry", 2, TopicReplication::Fixed(1))],
            &AdminOptions::new().validate_only(true),
        )
        .await
        .unwrap();
    assert!(r[0].is_ok());
    assert!(b.state().logs.topic("dry").is_none());
    // Invalid name.
    let r = admin
        .create_topics(&[NewTopic::new("bad/name", 1, TopicReplication::Fixed(1))], &opts)
        .await
        .unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, rdkafka::types::RDKafkaErrorCode::InvalidTopic);

    // Describe configs: the override and its source, a default, and the broker.
    let d = admin
        .describe_configs(&[ResourceSpecifier::Topic("adm"), ResourceSpecifier::Broker(1)], &opts)
        .await
        .unwrap();
    let topic = d[0].as_ref().unwrap();
    let rt = topic.get("retention.ms").unwrap();
    assert_eq!(rt.value.as_deref(), Some("12345"));
    assert_eq!(rt.source, ConfigSource::DynamicTopic);
    assert_eq!(topic.get("cleanup.policy").unwrap().value.as_deref(), Some("compact"));
    let seg = topic.get("segment.bytes").unwrap();
    assert_eq!(seg.value.as_deref(), Some("1073741824"));
    assert_eq!(seg.source, ConfigSource::Default);
    let broker = d[1].as_ref().unwrap();
    assert_eq!(broker.get("num.partitions").unwrap().value.as_deref(), Some("1"));
    assert!(broker.get("node.id").unwrap().is_read_only);

    // Create partitions: 3 -> 5, and shrinking is INVALID_PARTITIONS.
    let r = admin.create_partitions(&[NewPartitions::new("adm", 5)], &opts).await.unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    assert_eq!(b.state().logs.topic("adm").unwrap().partition_count(), 5);
    let r = admin.create_partitions(&[NewPartitions::new("adm", 2)], &opts).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, rdkafka::types::RDKafkaErrorCode::InvalidPartitions);

    // Delete records: produce 10 to partition 4, delete before 6.
    let p = producer(&b.bootstrap(), &[]);
    for i in 0..10 {
        send(&p, "adm", Some(4), b"k", format!("v{i}").as_bytes()).await;
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("adm", 4, Offset::Offset(6)).unwrap();
    // As Kafka: a topic whose cleanup.policy lacks "delete" keeps its records (POLICY_VIOLATION).
    let res = admin.delete_records(&tpl, &opts).await.unwrap();
    let refused = format!("{:?}", res.find_partition("adm", 4).unwrap().error());
    assert!(refused.contains("PolicyViolation"), "{refused}");
    let cfg = rdkafka::admin::AlterConfig::new(ResourceSpecifier::Topic("adm"))
        .set("cleanup.policy", "compact,delete")
        .set("retention.ms", "12345");
    let r = admin.alter_configs(&[cfg], &opts).await.unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    let res = admin.delete_records(&tpl, &opts).await.unwrap();
    assert_eq!(res.find_partition("adm", 4).unwrap().offset(), Offset::Offset(6));
    let c = consumer(&b.bootstrap(), &[]);
    let (lo, hi) = c.fetch_watermarks("adm", 4, Duration::from_secs(5)).unwrap();
    assert_eq!((lo, hi), (6, 10));
    let got = read(&c, "adm", &[4], Offset::Beginning, 4, Duration::from_secs(10));
    assert_eq!(got[0].offset, 6);
    assert_eq!(got[0].value.as_deref(), Some(&b"v6"[..]));

    // Delete the topic.
    let r = admin.delete_topics(&["adm"], &opts).await.unwrap();
    assert!(r[0].is_ok());
    assert!(b.state().logs.topic("adm").is_none());
    let r = admin.delete_topics(&["adm"], &opts).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().1, rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_for_times_and_out_of_range_reset() {
    let b = broker().await;
    let p = producer(&b.bootstrap(), &[("linger.ms", "100")]);
    // Ten records in (probably) one batch with timestamps 1000, 2000, ... : the lookup must find
    // the exact record inside the batch, not the batch start.
    let base = odradek::clock::now_ms() - 100_000;
    let mut futs = Vec::new();
    for i in 0..10i64 {
        let v = format!("t{i}");
        futs.push(
            p.send_result(FutureRecord::to("times").key("k").payload(&v).timestamp(base + i * 1000))
                .map_err(|(e, _)| e)
                .unwrap(),
        );
    }
    for f in futs {
        f.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
    let c = consumer(&b.bootstrap(), &[]);
    for (target, want) in [
        (base + 2500, Offset::Offset(3)),
        (base, Offset::Offset(0)),
        (base + 9000, Offset::Offset(9)),
        (base + 9001, Offset::End),
    ] {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("times", 0, Offset::Offset(target)).unwrap();
        let r = c.offsets_for_times(tpl, Duration::from_secs(5)).unwrap();
        let got = r.find_partition("times", 0).unwrap().offset();
        assert_eq!(got, want, "timestamp {target}");
    }
    // A consumer starting past the end with auto.offset.reset=earliest resets to the beginning.
    let c2 = consumer(&b.bootstrap(), &[("auto.offset.reset", "earliest")]);
    let got = read(&c2, "times", &[0], Offset::Offset(500), 10, Duration::from_secs(15));
    assert_eq!(got[0].offset, 0);
    assert_eq!(got[9].value.as_deref(), Some(&b"t9"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut expect = Vec::new();
    let topic_id;
    {
        let b = broker_in(dir.path(), &[("num.partitions", "2"), ("log.segment.bytes", "4096")]).await;
        let p = producer(&b.bootstrap(), &[("acks", "all"), ("linger.ms", "0")]);
        for i in 0..300 {
            let v = format!("value-{i}-{}", "y".repeat(i % 50));
            let (part, off) = send(&p, "keep", Some(i as i32 % 2), b"key", v.as_bytes()).await;
            expect.push((part, off, v));
        }
        topic_id = b.state().logs.topic("keep").unwrap().id;
        assert!(
            b.state().logs.topic("keep").unwrap().partition(0).unwrap().with_log(|l| l.segment_count()) > 3,
            "small segments rolled"
        );
        b.shutdown().await.unwrap();
    }
    let b = broker_in(dir.path(), &[]).await;
    assert_eq!(b.state().logs.topic("keep").unwrap().id, topic_id, "topic ids are stable across restarts");
    let c = consumer(&b.bootstrap(), &[]);
    let got = read(&c, "keep", &[0, 1], Offset::Beginning, 300, Duration::from_secs(30));
    let mut got: Vec<(i32, i64, String)> = got
        .into_iter()
        .map(|g| (g.partition, g.offset, String::from_utf8(g.value.unwrap()).unwrap()))
        .collect();
    got.sort();
    expect.sort();
    assert_eq!(got, expect);
    // Appends continue at the right offsets.
    let p = producer(&b.bootstrap(), &[]);
    assert_eq!(send(&p, "keep", Some(0), b"k", b"after").await, (0, 150));
}
