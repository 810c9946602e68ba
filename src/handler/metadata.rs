//! Metadata: brokers, cluster id, controller, topics with stable ids; auto topic creation.
use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::s;
use crate::log::{Topic, TopicError};
use crate::protocol::error::{code, topic_error};
use crate::state::BrokerState;

/// Kafka's AclOperation codes, as bits of an authorized-operations field.
const fn ops(codes: &[u8]) -> i32 {
    let mut bits = 0;
    let mut i = 0;
    while i < codes.len() {
        bits |= 1 << codes[i];
        i += 1;
    }
    bits
}
/// Without an authorizer Kafka reports every operation defined for the resource type:
/// topic READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const TOPIC_OPERATIONS: i32 = ops(&[3, 4, 5, 6, 7, 8, 10, 11]);
/// Cluster CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPERATIONS: i32 = ops(&[5, 7, 8, 9, 10, 11, 12]);
/// Group READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (Kafka 4: groups have configs).
pub const GROUP_OPERATIONS: i32 = ops(&[3, 6, 8, 10, 11]);
/// "Not requested" in an authorized-operations field.
pub const OPERATIONS_OMITTED: i32 = i32::MIN;

/// The operations of `all` this client may do on the resource, as bits (KIP-430).
pub(crate) fn allowed_ops(who: &super::Who<'_>, rtype: i8, name: &str, all: i32) -> i32 {
    if !who.checked() {
        return all;
    }
    if rtype == crate::security::acl::resource::CLUSTER
        && !who.may(crate::security::acl::op::DESCRIBE, rtype, name)
    {
        return 0;
    }
    (0..32)
        .filter(|b| all & (1 << b) != 0)
        .filter(|b| who.may(*b as i8, rtype, name))
        .fold(0, |acc, b| acc | (1 << b))
}

pub(crate) fn topic_entry(state: &BrokerState, t: &Topic, v: i16, with_ops: bool) -> MetadataResponseTopic {
    let node = state.node_id();
    let partitions = t
        .partitions
        .read()
        .iter()
        .map(|p| {
            // One node leads everything; a cluster's partition is led by its owner (or, between
            // owners, by nobody: LEADER_NOT_AVAILABLE, and the client asks again).
            let lead = p.lead();
            let (leader, error) = match (lead.here, lead.leader) {
                (true, _) => (node, code::NONE),
                (false, Some(b)) => (b, code::NONE),
                (false, None) => (-1, code::LEADER_NOT_AVAILABLE),
            };
            let nodes = if leader >= 0 { vec![BrokerId(leader)] } else { Vec::new() };
            MetadataResponsePartition::default()
                .with_error_code(error)
                .with_partition_index(p.index)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(if v >= 7 { lead.epoch } else { -1 })
                .with_replica_nodes(nodes.clone())
                .with_isr_nodes(nodes)
        })
        .collect();
    let mut e = MetadataResponseTopic::default()
        .with_name(Some(TopicName(s(t.name.clone()))))
        .with_is_internal(t.name.starts_with("__"))
        .with_partitions(partitions);
    if v >= 10 {
        e.topic_id = t.id;
    }
    if v >= 8 {
        e.topic_authorized_operations = if with_ops { TOPIC_OPERATIONS } else { OPERATIONS_OMITTED };
    }
    e
}

fn error_entry(name: Option<String>, id: uuid::Uuid, err: i16, v: i16) -> MetadataResponseTopic {
    let mut e =
        MetadataResponseTopic::default().with_error_code(err).with_name(name.map(|n| TopicName(s(n))));
    if v >= 10 {
        e.topic_id = id;
    }
    e
}

pub async fn handle(
    state: &Arc<BrokerState>,
    req: MetadataRequest,
    v: i16,
    advertised: &(String, i32),
    who: &super::Who<'_>,
) -> MetadataResponse {
    use crate::security::acl::{op, resource};
    let topic_ops = v >= 8 && req.include_topic_authorized_operations;
    let describable = |name: &str| who.may(op::DESCRIBE, resource::TOPIC, name);
    let entry = |t: &Topic| {
        let mut e = topic_entry(state, t, v, topic_ops);
        if topic_ops {
            e.topic_authorized_operations = allowed_ops(who, resource::TOPIC, &t.name, TOPIC_OPERATIONS);
        }
        e
    };
    let mut topics = Vec::new();
    match req.topics {
        None => {
            // All topics: those this client may describe.
            for t in state.logs.topics().into_iter().filter(|t| describable(&t.name)) {
                topics.push(entry(&t));
            }
        }
        Some(list) if v == 0 && list.is_empty() => {
            // v0: an empty list means all topics.
            for t in state.logs.topics().into_iter().filter(|t| describable(&t.name)) {
                topics.push(entry(&t));
            }
        }
        Some(list) => {
            let auto = state.config.auto_create_topics_enable() && (v < 4 || req.allow_auto_topic_creation);
            for rt in list {
                // v10+: a topic may be named by id; Java sends an empty (not null) name then.
                let by_id = !rt.topic_id.is_nil() && rt.name.as_ref().is_none_or(|n| n.0.is_empty());
                match rt.name.filter(|_| !by_id) {
                    Some(name) => {
                        let name = name.0.to_string();
                        if !describable(&name) {
                            topics.push(error_entry(
                                Some(name),
                                uuid::Uuid::nil(),
                                code::TOPIC_AUTHORIZATION_FAILED,
                                v,
                            ));
                            continue;
                        }
                        if let Some(t) = state.logs.topic(&name) {
                            topics.push(entry(&t));
                            continue;
                        }
                        if let Err(e) = crate::log::validate_topic_name(&name) {
                            topics.push(error_entry(Some(name), uuid::Uuid::nil(), topic_error(&e), v));
                            continue;
                        }
                        if !auto {
                            topics.push(error_entry(
                                Some(name),
                                uuid::Uuid::nil(),
                                code::UNKNOWN_TOPIC_OR_PARTITION,
                                v,
                            ));
                            continue;
                        }
                        if !who.may_cluster(op::CREATE) && !who.may(op::CREATE, resource::TOPIC, &name) {
                            topics.push(error_entry(
                                Some(name),
                                uuid::Uuid::nil(),
                                code::TOPIC_AUTHORIZATION_FAILED,
                                v,
                            ));
                            continue;
                        }
                        let n = state.config.num_partitions();
                        match state.logs.create_topic(&name, n, BTreeMap::new(), false) {
                            Ok(Some(t)) => {
                                tracing::info!(topic = %name, partitions = n, "auto-created topic");
                                topics.push(entry(&t));
                            }
                            Ok(None) => topics.push(error_entry(
                                Some(name),
                                uuid::Uuid::nil(),
                                code::UNKNOWN_TOPIC_OR_PARTITION,
                                v,
                            )),
                            Err(TopicError::TopicAlreadyExists(_)) => match state.logs.topic(&name) {
                                Some(t) => topics.push(entry(&t)),
                                None => topics.push(error_entry(
                                    Some(name),
                                    uuid::Uuid::nil(),
                                    code::UNKNOWN_TOPIC_OR_PARTITION,
                                    v,
                                )),
                            },
                            Err(e) => {
                                tracing::warn!(topic = %name, error = %e, "auto-create failed");
                                topics.push(error_entry(Some(name), uuid::Uuid::nil(), topic_error(&e), v))
                            }
                        }
                    }
                    None => match state.logs.topic_by_id(rt.topic_id) {
                        Some(t) if !describable(&t.name) => {
                            topics.push(error_entry(None, rt.topic_id, code::TOPIC_AUTHORIZATION_FAILED, v))
                        }
                        Some(t) => topics.push(entry(&t)),
                        None => topics.push(error_entry(None, rt.topic_id, code::UNKNOWN_TOPIC_ID, v)),
                    },
                }
            }
        }
    }
    let (host, port) = advertised.clone();
    let peers = state.peers.live.read().clone();
    let brokers = if peers.is_empty() {
        vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(state.node_id()))
            .with_host(s(host))
            .with_port(port)]
    } else {
        // A cluster: every live broker, as it registered itself (this one too).
        peers
            .iter()
            .map(|p| {
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(p.id))
                    .with_host(s(p.host.clone()))
                    .with_port(p.port)
            })
            .collect()
    };
    let controller = peers.iter().map(|p| p.id).min().unwrap_or(state.node_id());
    let mut resp = MetadataResponse::default().with_brokers(brokers).with_topics(topics);
    if v >= 1 {
        resp.controller_id = BrokerId(controller);
    }
    if v >= 2 {
        resp.cluster_id = Some(s(state.cluster_id()));
    }
    if (8..=10).contains(&v) && req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations =
            allowed_ops(who, resource::CLUSTER, crate::security::acl::CLUSTER_NAME, CLUSTER_OPERATIONS);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorized_operation_bits() {
        // READ..ALTER_CONFIGS for topics, as Kafka without an authorizer reports them.
        assert_eq!(TOPIC_OPERATIONS, 3576);
        assert_eq!(CLUSTER_OPERATIONS, 8096);
        assert_eq!(GROUP_OPERATIONS, 3400);
    }
}
