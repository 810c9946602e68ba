//! The request side of fault injection (`crate::faults`): what a request names (topics,
//! partitions, group, transactional id) for the rules to match on, and the error answer an
//! `error` rule sends instead of handling the request.
//!
//! Only runs while a fault rule exists; it decodes a copy of the body, so the normal path is
//! untouched.
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::faults::Request;
use crate::protocol::{decode_body, encode_response, FrameError, Header};
use crate::state::BrokerState;

/// APIs an `error` rule can answer (their responses carry the code per partition, per topic or
/// for the whole request, as the API does).
pub const ERROR_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
];

/// Whether a rule's action can be carried out on the API it matches: an `error` or `throttle`
/// needs `match.api_key` among the APIs that have such an answer here.
pub fn check_rule(spec: &crate::faults::RuleSpec) -> Result<(), String> {
    use crate::faults::Action;
    let api = spec.matches.api_key.and_then(|k| ApiKey::try_from(k).ok());
    let (what, served): (&str, Vec<(ApiKey, String)>) = match spec.action {
        Action::Error { .. } => ("an error", ERROR_APIS.iter().map(|a| (*a, String::new())).collect()),
        Action::Throttle { .. } => {
            ("a throttle", THROTTLE_APIS.iter().map(|(a, min)| (*a, format!(" (v{min}+)"))).collect())
        }
        _ => return Ok(()),
    };
    if api.is_some_and(|a| served.iter().any(|(s, _)| *s == a)) {
        return Ok(());
    }
    let names: Vec<String> = served.iter().map(|(a, note)| format!("{a:?}={}{note}", *a as i16)).collect();
    Err(format!("{what} action needs match.api_key, one of {}", names.join(", ")))
}

fn s(x: &StrBytes) -> String {
    x.to_string()
}

fn topic_name(state: &BrokerState, name: &StrBytes, id: uuid::Uuid) -> String {
    if name.is_empty() && !id.is_nil() {
        if let Some(t) = state.logs.topic_by_id(id) {
            return t.name.clone();
        }
    }
    s(name)
}

/// What the request names, for matching. A body that does not decode names nothing (the handler
/// will refuse it anyway).
pub fn request_of<'a>(state: &BrokerState, h: &'a Header, body: &Bytes, principal: &'a str) -> Request<'a> {
    let mut r = Request {
        api_key: h.api_key as i16,
        version: h.api_version,
        client_id: h.client_id.as_deref(),
        principal,
        ..Default::default()
    };
    let v = h.api_version;
    let mut b = body.clone();
    macro_rules! dec {
        ($t:ty) => {
            match decode_body::<$t>(&mut b, v) {
                Ok(x) => x,
                Err(_) => return r,
            }
        };
    }
    match h.api_key {
        ApiKey::Produce => {
            let q = dec!(ProduceRequest);
            r.transactional_ids = q.transactional_id.iter().map(|t| s(&t.0)).collect();
            r.topics = q
                .topic_data
                .iter()
                .map(|t| {
                    (
                        topic_name(state, &t.name.0, t.topic_id),
                        t.partition_data.iter().map(|p| p.index).collect(),
                    )
                })
                .collect();
        }
        ApiKey::Fetch => {
            let q = dec!(FetchRequest);
            r.topics = q
                .topics
                .iter()
                .map(|t| {
                    (
                        topic_name(state, &t.topic.0, t.topic_id),
                        t.partitions.iter().map(|p| p.partition).collect(),
                    )
                })
                .collect();
        }
        ApiKey::ListOffsets => {
            let q = dec!(ListOffsetsRequest);
            r.topics = q
                .topics
                .iter()
                .map(|t| (s(&t.name.0), t.partitions.iter().map(|p| p.partition_index).collect()))
                .collect();
        }
        ApiKey::OffsetCommit => {
            let q = dec!(OffsetCommitRequest);
            r.groups = vec![s(&q.group_id.0)];
            r.topics = q
                .topics
                .iter()
                .map(|t| {
                    (
                        topic_name(state, &t.name.0, t.topic_id),
                        t.partitions.iter().map(|p| p.partition_index).collect(),
                    )
                })
                .collect();
        }
        ApiKey::OffsetFetch => {
            let q = dec!(OffsetFetchRequest);
            r.groups = match q.groups.is_empty() {
                false => q.groups.iter().map(|g| s(&g.group_id.0)).collect(),
                true => vec![s(&q.group_id.0)],
            };
        }
        ApiKey::FindCoordinator => {
            let q = dec!(FindCoordinatorRequest);
            let keys: Vec<String> = match q.coordinator_keys.is_empty() {
                false => q.coordinator_keys.iter().map(s).collect(),
                true => vec![s(&q.key)],
            };
            if q.key_type == 1 {
                r.transactional_ids = keys;
            } else {
                r.groups = keys;
            }
        }
        ApiKey::JoinGroup => r.groups = vec![s(&dec!(JoinGroupRequest).group_id.0)],
        ApiKey::SyncGroup => r.groups = vec![s(&dec!(SyncGroupRequest).group_id.0)],
        ApiKey::Heartbeat => r.groups = vec![s(&dec!(HeartbeatRequest).group_id.0)],
        ApiKey::LeaveGroup => r.groups = vec![s(&dec!(LeaveGroupRequest).group_id.0)],
        ApiKey::ConsumerGroupHeartbeat => r.groups = vec![s(&dec!(ConsumerGroupHeartbeatRequest).group_id.0)],
        ApiKey::InitProducerId => {
            r.transactional_ids =
                dec!(InitProducerIdRequest).transactional_id.iter().map(|t| s(&t.0)).collect()
        }
        ApiKey::AddPartitionsToTxn => {
            let q = dec!(AddPartitionsToTxnRequest);
            if !q.transactions.is_empty() {
                for t in &q.transactions {
                    r.transactional_ids.push(s(&t.transactional_id.0));
                    r.topics.extend(t.topics.iter().map(|t| (s(&t.name.0), t.partitions.clone())));
                }
            } else {
                r.transactional_ids = vec![s(&q.v3_and_below_transactional_id.0)];
                r.topics =
                    q.v3_and_below_topics.iter().map(|t| (s(&t.name.0), t.partitions.clone())).collect();
            }
        }
        ApiKey::AddOffsetsToTxn => {
            let q = dec!(AddOffsetsToTxnRequest);
            r.transactional_ids = vec![s(&q.transactional_id.0)];
            r.groups = vec![s(&q.group_id.0)];
        }
        ApiKey::EndTxn => r.transactional_ids = vec![s(&dec!(EndTxnRequest).transactional_id.0)],
        ApiKey::TxnOffsetCommit => {
            let q = dec!(TxnOffsetCommitRequest);
            r.transactional_ids = vec![s(&q.transactional_id.0)];
            r.groups = vec![s(&q.group_id.0)];
            r.topics = q
                .topics
                .iter()
                .map(|t| (s(&t.name.0), t.partitions.iter().map(|p| p.partition_index).collect()))
                .collect();
        }
        ApiKey::CreateTopics => {
            r.topics = dec!(CreateTopicsRequest).topics.iter().map(|t| (s(&t.name.0), vec![])).collect()
        }
        ApiKey::DeleteTopics => {
            let q = dec!(DeleteTopicsRequest);
            r.topics = q.topic_names.iter().map(|t| (s(&t.0), vec![])).collect();
            r.topics.extend(q.topics.iter().filter_map(|t| t.name.as_ref().map(|n| (s(&n.0), vec![]))));
        }
        _ => {}
    }
    r
}

/// APIs a `throttle` rule can answer, with the first version whose response carries
/// `throttle_time_ms`.
pub const THROTTLE_APIS: &[(ApiKey, i16)] = &[
    (ApiKey::Produce, 1),
    (ApiKey::Fetch, 1),
    (ApiKey::ListOffsets, 2),
    (ApiKey::Metadata, 3),
    (ApiKey::OffsetCommit, 3),
    (ApiKey::OffsetFetch, 3),
    (ApiKey::FindCoordinator, 1),
    (ApiKey::JoinGroup, 2),
    (ApiKey::Heartbeat, 1),
    (ApiKey::LeaveGroup, 1),
    (ApiKey::SyncGroup, 1),
    (ApiKey::ApiVersions, 1),
    (ApiKey::CreateTopics, 2),
    (ApiKey::InitProducerId, 0),
    (ApiKey::AddPartitionsToTxn, 0),
    (ApiKey::AddOffsetsToTxn, 0),
    (ApiKey::EndTxn, 0),
    (ApiKey::TxnOffsetCommit, 0),
    (ApiKey::ConsumerGroupHeartbeat, 0),
];

/// `answer` (a whole response frame) with `throttle_time_ms` set to `ms`; unchanged for an API or
/// version whose response has no such field.
pub fn throttled(h: &Header, answer: Bytes, ms: i32) -> Result<Bytes, FrameError> {
    use kafka_protocol::protocol::Decodable;
    let v = h.api_version;
    if !THROTTLE_APIS.iter().any(|(a, min)| *a == h.api_key && v >= *min) || answer.len() < 4 {
        return Ok(answer);
    }
    let hv = h.api_key.response_header_version(v);
    let bad = |e: anyhow::Error| FrameError::Malformed("response", e.to_string());
    let mut b = answer.slice(4..);
    ResponseHeader::decode(&mut b, hv).map_err(bad)?;
    macro_rules! set {
        ($t:ty) => {{
            let mut r = <$t>::decode(&mut b, v).map_err(bad)?;
            r.throttle_time_ms = ms;
            encode_response(h.correlation_id, hv, v, &r)
        }};
    }
    match h.api_key {
        ApiKey::Produce => set!(ProduceResponse),
        ApiKey::Fetch => set!(FetchResponse),
        ApiKey::ListOffsets => set!(ListOffsetsResponse),
        ApiKey::Metadata => set!(MetadataResponse),
        ApiKey::OffsetCommit => set!(OffsetCommitResponse),
        ApiKey::OffsetFetch => set!(OffsetFetchResponse),
        ApiKey::FindCoordinator => set!(FindCoordinatorResponse),
        ApiKey::JoinGroup => set!(JoinGroupResponse),
        ApiKey::Heartbeat => set!(HeartbeatResponse),
        ApiKey::LeaveGroup => set!(LeaveGroupResponse),
        ApiKey::SyncGroup => set!(SyncGroupResponse),
        ApiKey::ApiVersions => set!(ApiVersionsResponse),
        ApiKey::CreateTopics => set!(CreateTopicsResponse),
        ApiKey::InitProducerId => set!(InitProducerIdResponse),
        ApiKey::AddPartitionsToTxn => set!(AddPartitionsToTxnResponse),
        ApiKey::AddOffsetsToTxn => set!(AddOffsetsToTxnResponse),
        ApiKey::EndTxn => set!(EndTxnResponse),
        ApiKey::TxnOffsetCommit => set!(TxnOffsetCommitResponse),
        ApiKey::ConsumerGroupHeartbeat => set!(ConsumerGroupHeartbeatResponse),
        _ => Ok(answer),
    }
}

/// The answer an `error` rule sends for this request: `code` wherever the response carries an
/// error, nothing applied. `None` for an API without one here ([`ERROR_APIS`]).
pub fn error_answer(h: &Header, body: Bytes, code: i16) -> Result<Option<Bytes>, FrameError> {
    let (v, cid) = (h.api_version, h.correlation_id);
    let hv = h.api_key.response_header_version(v);
    let mut b = body;
    macro_rules! answer {
        ($resp:expr) => {
            Ok(Some(encode_response(cid, hv, v, &$resp)?))
        };
    }
    match h.api_key {
        ApiKey::Produce => {
            let q: ProduceRequest = decode_body(&mut b, v)?;
            if q.acks == 0 {
                // No answer is expected: a failed acks=0 produce closes the connection, as on Kafka.
                return Err(FrameError::Refused(
                    "fault rule: error on an acks=0 produce; closing the connection".into(),
                ));
            }
            let responses = q
                .topic_data
                .into_iter()
                .map(|t| {
                    TopicProduceResponse::default()
                        .with_name(t.name)
                        .with_topic_id(t.topic_id)
                        .with_partition_responses(
                            t.partition_data
                                .iter()
                                .map(|p| {
                                    PartitionProduceResponse::default()
                                        .with_index(p.index)
                                        .with_error_code(code)
                                        .with_base_offset(-1)
                                        .with_log_append_time_ms(-1)
                                        .with_log_start_offset(-1)
                                })
                                .collect(),
                        )
                })
                .collect();
            answer!(ProduceResponse::default().with_responses(responses))
        }
        ApiKey::Fetch => {
            let q: FetchRequest = decode_body(&mut b, v)?;
            let responses = q
                .topics
                .into_iter()
                .map(|t| {
                    FetchableTopicResponse::default()
                        .with_topic(t.topic)
                        .with_topic_id(t.topic_id)
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    fetch_response::PartitionData::default()
                                        .with_partition_index(p.partition)
                                        .with_error_code(code)
                                        .with_high_watermark(-1)
                                        .with_last_stable_offset(-1)
                                        .with_log_start_offset(-1)
                                })
                                .collect(),
                        )
                })
                .collect();
            answer!(FetchResponse::default().with_responses(responses))
        }
        ApiKey::ListOffsets => {
            let q: ListOffsetsRequest = decode_body(&mut b, v)?;
            let topics = q
                .topics
                .into_iter()
                .map(|t| {
                    ListOffsetsTopicResponse::default().with_name(t.name).with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                ListOffsetsPartitionResponse::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                                    .with_timestamp(-1)
                                    .with_offset(-1)
                            })
                            .collect(),
                    )
                })
                .collect();
            answer!(ListOffsetsResponse::default().with_topics(topics))
        }
        ApiKey::OffsetCommit => {
            let q: OffsetCommitRequest = decode_body(&mut b, v)?;
            let topics = q
                .topics
                .into_iter()
                .map(|t| {
                    OffsetCommitResponseTopic::default()
                        .with_name(t.name)
                        .with_topic_id(t.topic_id)
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    OffsetCommitResponsePartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect();
            answer!(OffsetCommitResponse::default().with_topics(topics))
        }
        ApiKey::OffsetFetch => {
            let q: OffsetFetchRequest = decode_body(&mut b, v)?;
            if v >= 8 {
                let groups = q
                    .groups
                    .into_iter()
                    .map(|g| {
                        OffsetFetchResponseGroup::default().with_group_id(g.group_id).with_error_code(code)
                    })
                    .collect();
                answer!(OffsetFetchResponse::default().with_groups(groups))
            } else if v >= 2 {
                answer!(OffsetFetchResponse::default().with_error_code(code))
            } else {
                // v0-1 carry errors per partition only.
                let topics = q
                    .topics
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| {
                        OffsetFetchResponseTopic::default().with_name(t.name).with_partitions(
                            t.partition_indexes
                                .iter()
                                .map(|p| {
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(-1)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                    })
                    .collect();
                answer!(OffsetFetchResponse::default().with_topics(topics))
            }
        }
        ApiKey::FindCoordinator => {
            let q: FindCoordinatorRequest = decode_body(&mut b, v)?;
            if v >= 4 {
                let cs = q
                    .coordinator_keys
                    .into_iter()
                    .map(|k| {
                        find_coordinator_response::Coordinator::default()
                            .with_key(k)
                            .with_node_id(kafka_protocol::messages::BrokerId(-1))
                            .with_port(-1)
                            .with_error_code(code)
                    })
                    .collect();
                answer!(FindCoordinatorResponse::default().with_coordinators(cs))
            } else {
                answer!(FindCoordinatorResponse::default()
                    .with_error_code(code)
                    .with_node_id(kafka_protocol::messages::BrokerId(-1))
                    .with_port(-1))
            }
        }
        ApiKey::JoinGroup => {
            let q: JoinGroupRequest = decode_body(&mut b, v)?;
            let mut resp = JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(-1)
                .with_member_id(q.member_id)
                .with_leader(StrBytes::from_static_str(""));
            if v >= 7 {
                resp.protocol_name = None;
            }
            answer!(resp)
        }
        ApiKey::SyncGroup => {
            let _: SyncGroupRequest = decode_body(&mut b, v)?;
            answer!(SyncGroupResponse::default().with_error_code(code))
        }
        ApiKey::Heartbeat => {
            let _: HeartbeatRequest = decode_body(&mut b, v)?;
            answer!(HeartbeatResponse::default().with_error_code(code))
        }
        ApiKey::LeaveGroup => {
            let _: LeaveGroupRequest = decode_body(&mut b, v)?;
            answer!(LeaveGroupResponse::default().with_error_code(code))
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let _: ConsumerGroupHeartbeatRequest = decode_body(&mut b, v)?;
            answer!(ConsumerGroupHeartbeatResponse::default().with_error_code(code).with_member_epoch(-1))
        }
        ApiKey::InitProducerId => {
            let _: InitProducerIdRequest = decode_body(&mut b, v)?;
            answer!(InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(kafka_protocol::messages::ProducerId(-1))
                .with_producer_epoch(-1))
        }
        ApiKey::AddPartitionsToTxn => {
            let q: AddPartitionsToTxnRequest = decode_body(&mut b, v)?;
            if v >= 4 {
                answer!(AddPartitionsToTxnResponse::default().with_error_code(code))
            } else {
                let topics = q
                    .v3_and_below_topics
                    .into_iter()
                    .map(|t| {
                        AddPartitionsToTxnTopicResult::default().with_name(t.name).with_results_by_partition(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    AddPartitionsToTxnPartitionResult::default()
                                        .with_partition_index(*p)
                                        .with_partition_error_code(code)
                                })
                                .collect(),
                        )
                    })
                    .collect();
                answer!(AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics))
            }
        }
        ApiKey::AddOffsetsToTxn => {
            let _: AddOffsetsToTxnRequest = decode_body(&mut b, v)?;
            answer!(AddOffsetsToTxnResponse::default().with_error_code(code))
        }
        ApiKey::EndTxn => {
            let _: EndTxnRequest = decode_body(&mut b, v)?;
            answer!(EndTxnResponse::default()
                .with_error_code(code)
                .with_producer_id(kafka_protocol::messages::ProducerId(-1))
                .with_producer_epoch(-1))
        }
        ApiKey::TxnOffsetCommit => {
            let q: TxnOffsetCommitRequest = decode_body(&mut b, v)?;
            let topics = q
                .topics
                .into_iter()
                .map(|t| {
                    TxnOffsetCommitResponseTopic::default().with_name(t.name).with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                TxnOffsetCommitResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
                })
                .collect();
            answer!(TxnOffsetCommitResponse::default().with_topics(topics))
        }
        ApiKey::CreateTopics => {
            let q: CreateTopicsRequest = decode_body(&mut b, v)?;
            let topics = q
                .topics
                .into_iter()
                .map(|t| {
                    CreatableTopicResult::default()
                        .with_name(t.name)
                        .with_error_code(code)
                        .with_num_partitions(-1)
                        .with_replication_factor(-1)
                })
                .collect();
            answer!(CreateTopicsResponse::default().with_topics(topics))
        }
        ApiKey::DeleteTopics => {
            let q: DeleteTopicsRequest = decode_body(&mut b, v)?;
            let mut rs: Vec<DeletableTopicResult> = q
                .topic_names
                .into_iter()
                .map(|n| DeletableTopicResult::default().with_name(Some(n)).with_error_code(code))
                .collect();
            rs.extend(q.topics.into_iter().map(|t| {
                DeletableTopicResult::default()
                    .with_name(t.name)
                    .with_topic_id(t.topic_id)
                    .with_error_code(code)
            }));
            answer!(DeleteTopicsResponse::default().with_responses(rs))
        }
        _ => Ok(None),
    }
}
