//! Every (API, version) the broker advertises, driven through its handler over the wire and its
//! response decoded at that version: the handlers gate fields by version in many places, and
//! a field set where a version lacks it makes the encoder fail and the connection close. The
//! requests name a topic, a group with committed offsets and a partition with data, so the
//! answers carry rows (not only empty lists), and the test checks that they do where it can.
mod common;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::consumer::{CommitMode, Consumer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// What the requests refer to.
struct Ctx {
    topic: String,
    topic_id: uuid::Uuid,
    group: String,
}

fn request(api: ApiKey, v: i16, c: &Ctx) -> RequestKind {
    let topic = || TopicName(s(&c.topic));
    match api {
        ApiKey::Produce => {
            let mut td = produce_request::TopicProduceData::default().with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(raw::batch(&["every-version"], -1, -1, -1, odradek::clock::now_ms()))),
            ]);
            if v >= 13 {
                td.topic_id = c.topic_id;
            } else {
                td.name = topic();
            }
            ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![td]).into()
        }
        ApiKey::Fetch => {
            let mut t = fetch_request::FetchTopic::default().with_partitions(vec![
                fetch_request::FetchPartition::default().with_partition(0).with_partition_max_bytes(1 << 20),
            ]);
            if v >= 13 {
                t.topic_id = c.topic_id;
            } else {
                t.topic = topic();
            }
            FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(10)
                .with_max_bytes(1 << 20)
                .with_topics(vec![t])
                .into()
        }
        ApiKey::ListOffsets => ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(topic())
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1)
                ])])
            .into(),
        ApiKey::Metadata => MetadataRequest::default().with_topics(None).into(),
        ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                .with_topic(topic())
                .with_partitions(vec![offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                    .with_current_leader_epoch(-1)])])
            .into(),
        ApiKey::InitProducerId => InitProducerIdRequest::default()
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
            .into(),
        ApiKey::ApiVersions => ApiVersionsRequest::default()
            .with_client_software_name(s("every-version"))
            .with_client_software_version(s("1"))
            .into(),
        ApiKey::CreateTopics => CreateTopicsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(TopicName(s(&format!("created-v{v}"))))
                .with_num_partitions(1)
                .with_replication_factor(1)])
            .into(),
        ApiKey::DeleteTopics => {
            let mut r = DeleteTopicsRequest::default().with_timeout_ms(5000);
            if v >= 6 {
                r.topics = vec![delete_topics_request::DeleteTopicState::default()
                    .with_name(Some(TopicName(s("no-such-topic"))))];
            } else {
                r.topic_names = vec![TopicName(s("no-such-topic"))];
            }
            r.into()
        }
        ApiKey::DeleteRecords => DeleteRecordsRequest::default()
            .with_timeout_ms(5000)
            .with_topics(vec![delete_records_request::DeleteRecordsTopic::default()
                .with_name(topic())
                .with_partitions(vec![
                    delete_records_request::DeleteRecordsPartition::default().with_offset(0)
                ])])
            .into(),
        ApiKey::DescribeConfigs => DescribeConfigsRequest::default()
            .with_resources(vec![describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s(&c.topic))
                .with_configuration_keys(None)])
            .into(),
        ApiKey::CreatePartitions => CreatePartitionsRequest::default()
            .with_timeout_ms(5000)
            .with_validate_only(true)
            .with_topics(vec![create_partitions_request::CreatePartitionsTopic::default()
                .with_name(topic())
                .with_count(8)])
            .into(),
        ApiKey::DescribeCluster => DescribeClusterRequest::default().into(),
        ApiKey::AddPartitionsToTxn => AddPartitionsToTxnRequest::default().into(),
        ApiKey::WriteTxnMarkers => WriteTxnMarkersRequest::default().into(),
        ApiKey::AddOffsetsToTxn => AddOffsetsToTxnRequest::default().into(),
        ApiKey::EndTxn => EndTxnRequest::default().into(),
        ApiKey::TxnOffsetCommit => TxnOffsetCommitRequest::default().into(),
        ApiKey::ListTransactions => ListTransactionsRequest::default().with_duration_filter(-1).into(),
        ApiKey::DescribeTransactions => DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(s("no-such-txn"))])
            .into(),
        ApiKey::DescribeProducers => DescribeProducersRequest::default()
            .with_topics(vec![describe_producers_request::TopicRequest::default()
                .with_name(topic())
                .with_partition_indexes(vec![0])])
            .into(),
        ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::default()
            .with_validate_only(true)
            .with_resources(vec![incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s(&c.topic))
                .with_configs(vec![incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(s("retention.ms"))
                    .with_config_operation(0)
                    .with_value(Some(s("86400000")))])])
            .into(),
        ApiKey::AlterConfigs => AlterConfigsRequest::default()
            .with_validate_only(true)
            .with_resources(vec![alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s(&c.topic))
                .with_configs(vec![alter_configs_request::AlterableConfig::default()
                    .with_name(s("retention.ms"))
                    .with_value(Some(s("86400000")))])])
            .into(),
        ApiKey::DescribeLogDirs => DescribeLogDirsRequest::default().with_topics(None).into(),
        ApiKey::FindCoordinator => {
            let mut r = FindCoordinatorRequest::default();
            if v >= 4 {
                r.coordinator_keys = vec![s(&c.group)];
            } else {
                r.key = s(&c.group);
            }
            r.into()
        }
        ApiKey::JoinGroup => JoinGroupRequest::default()
            .with_group_id(GroupId(s("every-version-join")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))])
            .into(),
        ApiKey::SyncGroup => SyncGroupRequest::default().with_group_id(GroupId(s(&c.group))).into(),
        ApiKey::Heartbeat => HeartbeatRequest::default().with_group_id(GroupId(s(&c.group))).into(),
        ApiKey::LeaveGroup => LeaveGroupRequest::default().with_group_id(GroupId(s("no-such-group"))).into(),
        ApiKey::OffsetCommit => OffsetCommitRequest::default()
            .with_group_id(GroupId(s("every-version-simple")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(topic())
                .with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default().with_committed_offset(1)
                ])])
            .into(),
        ApiKey::OffsetFetch => {
            let mut r = OffsetFetchRequest::default();
            if v >= 8 {
                r.groups = vec![offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(s(&c.group)))
                    .with_topics(None)];
            } else {
                r.group_id = GroupId(s(&c.group));
                r.topics = if v >= 2 { None } else { Some(vec![]) };
            }
            r.into()
        }
        ApiKey::ListGroups => ListGroupsRequest::default().into(),
        ApiKey::DescribeGroups => DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(s(&c.group)), GroupId(s("no-such-group"))])
            .into(),
        ApiKey::DeleteGroups => {
            DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("no-such-group"))]).into()
        }
        ApiKey::OffsetDelete => OffsetDeleteRequest::default()
            .with_group_id(GroupId(s("no-such-group")))
            .with_topics(vec![offset_delete_request::OffsetDeleteRequestTopic::default()
                .with_name(topic())
                .with_partitions(vec![offset_delete_request::OffsetDeleteRequestPartition::default()])])
            .into(),
        ApiKey::ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(&format!("every-version-848-v{v}"))))
            .with_member_id(s(&format!("member-v{v}")))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(10_000)
            .with_subscribed_topic_names(Some(vec![topic()]))
            .with_topic_partitions(Some(vec![]))
            .into(),
        ApiKey::ConsumerGroupDescribe => {
            ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s(&c.group))]).into()
        }
        ApiKey::SaslHandshake => SaslHandshakeRequest::default().with_mechanism(s("PLAIN")).into(),
        ApiKey::SaslAuthenticate => SaslAuthenticateRequest::default().into(),
        ApiKey::DescribeUserScramCredentials => DescribeUserScramCredentialsRequest::default().into(),
        ApiKey::AlterUserScramCredentials => AlterUserScramCredentialsRequest::default().into(),
        ApiKey::CreateAcls => CreateAclsRequest::default().into(),
        ApiKey::DescribeAcls => DescribeAclsRequest::default()
            .with_resource_type_filter(1)
            .with_pattern_type_filter(1)
            .with_operation(1)
            .with_permission_type(1)
            .into(),
        ApiKey::DeleteAcls => DeleteAclsRequest::default().into(),
        other => panic!("{other:?} is advertised: give it a request in tests/every_version.rs"),
    }
}

/// What a decoded answer must show when the request named existing things.
fn check(api: ApiKey, v: i16, r: &ResponseKind, c: &Ctx) -> Result<(), String> {
    let ok = |cond: bool, what: &str| if cond { Ok(()) } else { Err(what.to_string()) };
    match r {
        ResponseKind::Produce(p) => {
            let e = p.responses.first().and_then(|t| t.partition_responses.first()).map(|x| x.error_code);
            ok(e == Some(0), "the record is stored")
        }
        ResponseKind::Fetch(f) => {
            let recs = f.responses.first().and_then(|t| t.partitions.first()).and_then(|p| p.records.clone());
            ok(recs.is_some_and(|b| !b.is_empty()), "records come back")
        }
        ResponseKind::ListOffsets(l) => {
            let p = l.topics.first().and_then(|t| t.partitions.first());
            ok(p.is_some_and(|p| p.error_code == 0 && (v == 0 || p.offset > 0)), "the end offset")
        }
        ResponseKind::Metadata(m) => ok(
            m.topics.iter().any(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == c.topic)),
            "the topic is listed",
        ),
        ResponseKind::OffsetFetch(o) => {
            let offset = if v >= 8 {
                o.groups
                    .first()
                    .and_then(|g| g.topics.first())
                    .and_then(|t| t.partitions.first())
                    .map(|p| p.committed_offset)
            } else if v >= 2 {
                o.topics.first().and_then(|t| t.partitions.first()).map(|p| p.committed_offset)
            } else {
                Some(3) // v1 asks for no partitions by name here
            };
            ok(offset == Some(3), "the committed offset")
        }
        ResponseKind::DescribeGroups(d) => {
            ok(d.groups.len() == 2 && d.groups[0].error_code == 0, "both groups answered")
        }
        ResponseKind::ListGroups(l) => {
            ok(l.groups.iter().any(|g| g.group_id.0.as_str() == c.group), "the group is listed")
        }
        ResponseKind::DescribeConfigs(d) => ok(
            d.results.first().is_some_and(|r| r.error_code == 0 && !r.configs.is_empty()),
            "the topic's configs",
        ),
        ResponseKind::DescribeLogDirs(d) => {
            ok(d.results.first().is_some_and(|r| !r.topics.is_empty()), "the log dir's topics")
        }
        ResponseKind::FindCoordinator(f) => {
            let e = if v >= 4 { f.coordinators.first().map(|x| x.error_code) } else { Some(f.error_code) };
            ok(e == Some(0), "the coordinator is found")
        }
        ResponseKind::CreateTopics(t) => {
            ok(t.topics.first().is_some_and(|x| x.error_code == 0), "the topic is made")
        }
        ResponseKind::ConsumerGroupHeartbeat(h) => {
            ok(h.error_code == 0 && h.member_epoch > 0, "the member joins")
        }
        ResponseKind::ApiVersions(a) => ok(a.error_code == 0 && !a.api_keys.is_empty(), "the table"),
        ResponseKind::DescribeProducers(d) => ok(
            d.topics.first().and_then(|t| t.partitions.first()).is_some_and(|p| p.error_code == 0),
            "the partition",
        ),
        _ => {
            let _ = api;
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_advertised_version_answers_and_its_answer_decodes() {
    let b = broker().await;
    let bs = b.bootstrap();
    let topic = "every-version";
    let p = producer(&bs, &[]);
    for i in 0..3 {
        send(&p, topic, Some(0), b"k", format!("v{i}").as_bytes()).await;
    }
    // A group with a committed offset (3) on partition 0.
    let c = consumer(&bs, &[("group.id", "every-version-group"), ("enable.auto.commit", "false")]);
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Offset(3)).unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    let topic_id = b.state().logs.topic(topic).expect("topic").id;
    let ctx = Ctx { topic: topic.into(), topic_id, group: "every-version-group".into() };

    let mut sock = tokio::net::TcpStream::connect(b.local_addr()).await.unwrap();
    let mut cid = 0;
    let mut failures = Vec::new();
    let mut answered = 0;
    for (api, (min, max)) in odradek::protocol::versions::SERVED {
        for v in *min..=*max {
            cid += 1;
            let req = request(*api, v, &ctx);
            let mut f = BytesMut::new();
            f.put_i32(0);
            RequestHeader::default()
                .with_request_api_key(*api as i16)
                .with_request_api_version(v)
                .with_correlation_id(cid)
                .with_client_id(Some(s("every-version")))
                .encode(&mut f, api.request_header_version(v))
                .unwrap();
            req.encode(&mut f, v).unwrap_or_else(|e| panic!("{api:?} v{v}: the test's request: {e}"));
            let n = (f.len() - 4) as i32;
            f[..4].copy_from_slice(&n.to_be_bytes());
            sock.write_all(&f).await.unwrap();
            let len = match sock.read_i32().await {
                Ok(n) => n,
                Err(e) => panic!("{api:?} v{v}: the broker closed the connection ({e}); see its log"),
            };
            let mut body = vec![0u8; len as usize];
            sock.read_exact(&mut body).await.unwrap();
            let mut body = Bytes::from(body);
            // ApiVersions answers in header v0 whatever its version (Kafka's rule).
            let hv = if *api == ApiKey::ApiVersions { 0 } else { api.response_header_version(v) };
            let h = ResponseHeader::decode(&mut body, hv).unwrap();
            assert_eq!(h.correlation_id, cid, "{api:?} v{v}");
            match ResponseKind::decode(*api, &mut body, v) {
                Err(e) => failures.push(format!("{api:?} v{v}: the answer does not decode: {e}")),
                Ok(_) if body.has_remaining() => {
                    failures.push(format!("{api:?} v{v}: {} bytes after the answer", body.remaining()))
                }
                Ok(r) => {
                    if let Err(what) = check(*api, v, &r, &ctx) {
                        failures.push(format!("{api:?} v{v}: expected {what}: {r:?}"));
                    }
                    answered += 1;
                }
            }
        }
    }
    let advertised: i32 =
        odradek::protocol::versions::SERVED.iter().map(|(_, (a, b))| (b - a + 1) as i32).sum();
    assert!(failures.is_empty(), "{} of {advertised}:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(answered, advertised);
}
