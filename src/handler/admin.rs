//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords,
//! DescribeCluster, DescribeLogDirs.
use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::*;

use super::s;
use crate::protocol::error::{code, topic_error};
use crate::security::acl;
use crate::state::BrokerState;

fn replication_error(rf: i16) -> String {
    format!(
        "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only 1 broker(s) are registered."
    )
}

pub async fn create_topics(
    state: &Arc<BrokerState>,
    req: CreateTopicsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> CreateTopicsResponse {
    let mut out = Vec::with_capacity(req.topics.len());
    let mut seen = std::collections::HashSet::new();
    // max.partitions.per.request: counted over the whole request, refused up front.
    let asked: i64 = req
        .topics
        .iter()
        .map(|t| {
            if !t.assignments.is_empty() {
                t.assignments.len() as i64
            } else if t.num_partitions == -1 {
                state.config.num_partitions() as i64
            } else {
                t.num_partitions.max(0) as i64
            }
        })
        .sum();
    let per_request = state.config.max_partitions_per_request();
    let over = asked > per_request as i64;
    for t in req.topics {
        let name = t.name.0.to_string();
        let mut r = CreatableTopicResult::default().with_name(t.name.clone());
        let err = |mut r: CreatableTopicResult, c: i16, m: String| {
            r.error_code = c;
            if v >= 1 {
                r.error_message = Some(s(m));
            }
            if v >= 5 {
                r.num_partitions = -1;
                r.replication_factor = -1;
            }
            r
        };
        if !seen.insert(name.clone()) {
            out.push(err(
                r,
                code::INVALID_REQUEST,
                format!("Create topics request from client contains topic {name} more than once"),
            ));
            continue;
        }
        if !who.may_cluster(acl::op::CREATE) && !who.may(acl::op::CREATE, acl::resource::TOPIC, &name) {
            out.push(err(r, code::TOPIC_AUTHORIZATION_FAILED, "Authorization failed.".into()));
            continue;
        }
        let rf = if t.replication_factor == -1 {
            state.config.default_replication_factor()
        } else {
            t.replication_factor
        };
        if !t.assignments.is_empty() && (t.num_partitions != -1 || t.replication_factor != -1) {
            out.push(err(r, code::INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into()));
            continue;
        }
        if !state.config.dev
            && t.assignments.iter().any(|a| a.broker_ids.iter().any(|b| b.0 != state.node_id()))
        {
            out.push(err(
                r,
                code::INVALID_REPLICA_ASSIGNMENT,
                "Replica assignment names a broker that does not exist.".into(),
            ));
            continue;
        }
        let rf = if t.assignments.is_empty() { rf } else { t.assignments[0].broker_ids.len() as i16 };
        if rf < 1 {
            out.push(err(
                r,
                code::INVALID_REPLICATION_FACTOR,
                "Replication factor must be larger than 0, or -1 to use the default value.".into(),
            ));
            continue;
        }
        if rf > 1 && state.config.dev {
            tracing::warn!(topic = %name, replication_factor = rf, "--dev: replication factor clamped to 1 on this single node");
        } else if rf > 1 {
            out.push(err(r, code::INVALID_REPLICATION_FACTOR, replication_error(rf)));
            continue;
        }
        let partitions = if !t.assignments.is_empty() {
            t.assignments.len() as i32
        } else if t.num_partitions == -1 {
            state.config.num_partitions()
        } else {
            t.num_partitions
        };
        let mut configs = BTreeMap::new();
        let mut null_value = None;
        for c in &t.configs {
            match &c.value {
                Some(val) => {
                    configs.insert(c.name.to_string(), val.to_string());
                }
                None => null_value = Some(c.name.to_string()),
            }
        }
        if let Some(k) = null_value {
            out.push(err(
                r,
                code::INVALID_CONFIG,
                format!("Null value not supported for topic configs: {k}"),
            ));
            continue;
        }
        if over {
            out.push(err(r, code::POLICY_VIOLATION, format!("The request asks for {asked} partitions in all, above max.partitions.per.request ({per_request}).")));
            continue;
        }
        // Creating partitions syncs files and directories: on the blocking pool, not an async worker.
        let st = state.clone();
        let (n, cfgs, validate_only) = (name.clone(), configs.clone(), req.validate_only);
        let created =
            tokio::task::spawn_blocking(move || st.logs.create_topic(&n, partitions, cfgs, validate_only))
                .await
                .unwrap_or_else(|e| Err(crate::log::TopicError::Storage(std::io::Error::other(e))));
        match created {
            Ok(created) => {
                if let Some(t) = &created {
                    tracing::info!(topic = %name, partitions, "created topic");
                    if v >= 7 {
                        r.topic_id = t.id;
                    }
                }
                if v >= 5 {
                    r.num_partitions = partitions;
                    r.replication_factor = 1;
                    let described = super::configs::topic_configs(state, &configs, None, false, false);
                    r.configs = Some(
                        described
                            .into_iter()
                            .map(|c| {
                                CreatableTopicConfigs::default()
                                    .with_name(c.name)
                                    .with_value(c.value)
                                    .with_read_only(c.read_only)
                                    .with_config_source(c.config_source)
                                    .with_is_sensitive(c.is_sensitive)
                            })
                            .collect(),
                    );
                }
                out.push(r);
            }
            Err(e) => out.push(err(r, topic_error(&e), e.to_string())),
        }
    }
    CreateTopicsResponse::default().with_topics(out)
}

pub async fn delete_topics(
    state: &Arc<BrokerState>,
    req: DeleteTopicsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> DeleteTopicsResponse {
    // v0-5 name topics; v6 names or ids.
    let wanted: Vec<(Option<String>, uuid::Uuid)> = if v >= 6 {
        req.topics.iter().map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)).collect()
    } else {
        req.topic_names.iter().map(|n| (Some(n.0.to_string()), uuid::Uuid::nil())).collect()
    };
    let mut out = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let topic = match &name {
            Some(n) => state.logs.topic(n),
            None => state.logs.topic_by_id(id),
        };
        let mut r = DeletableTopicResult::default();
        if v >= 6 {
            r.name = name.clone().map(|n| TopicName(s(n)));
            r.topic_id = id;
        } else {
            r.name = Some(TopicName(s(name.clone().unwrap_or_default())));
        }
        let by_name = name.clone().or_else(|| topic.as_ref().map(|t| t.name.clone()));
        let denied = by_name.as_deref().is_some_and(|n| !who.may(acl::op::DELETE, acl::resource::TOPIC, n));
        let (c, msg) = match topic {
            _ if denied => (code::TOPIC_AUTHORIZATION_FAILED, Some("Authorization failed.".to_string())),
            None => (
                if name.is_none() { code::UNKNOWN_TOPIC_ID } else { code::UNKNOWN_TOPIC_OR_PARTITION },
                Some("This server does not host this topic.".to_string()),
            ),
            Some(_) if !state.config.delete_topic_enable() => {
                (code::TOPIC_DELETION_DISABLED, Some("Topic deletion is disabled.".into()))
            }
            Some(t) => match state.logs.delete_topic(&t.name) {
                Ok(tid) => {
                    tracing::info!(topic = %t.name, "deleted topic");
                    if v >= 6 {
                        r.name = Some(TopicName(s(t.name.clone())));
                        r.topic_id = tid;
                    }
                    (code::NONE, None)
                }
                Err(e) => (topic_error(&e), Some(e.to_string())),
            },
        };
        r.error_code = c;
        if v >= 5 {
            r.error_message = msg.map(s);
        }
        out.push(r);
    }
    DeleteTopicsResponse::default().with_responses(out)
}

pub async fn create_partitions(
    state: &Arc<BrokerState>,
    req: CreatePartitionsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> CreatePartitionsResponse {
    let mut out = Vec::with_capacity(req.topics.len());
    // max.partitions.per.request, over the whole request (new partitions only).
    let asked: i64 = req
        .topics
        .iter()
        .map(|t| {
            (t.count as i64 - state.logs.topic(&t.name.0).map(|x| x.partition_count() as i64).unwrap_or(0))
                .max(0)
        })
        .sum();
    let per_request = state.config.max_partitions_per_request();
    for t in req.topics {
        let mut r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if !who.may(acl::op::ALTER, acl::resource::TOPIC, &t.name.0) {
            r.error_code = code::TOPIC_AUTHORIZATION_FAILED;
            r.error_message = Some(s("Authorization failed."));
            out.push(r);
            continue;
        }
        if asked > per_request as i64 {
            r.error_code = code::POLICY_VIOLATION;
            r.error_message = Some(s(format!("The request asks for {asked} new partitions in all, above max.partitions.per.request ({per_request}).")));
            out.push(r);
            continue;
        }
        let bad_assignment = t.assignments.as_ref().is_some_and(|a| {
            a.iter().any(|x| x.broker_ids.iter().any(|b| b.0 != state.node_id()) || x.broker_ids.len() != 1)
        });
        let res = if bad_assignment {
            Err((
                code::INVALID_REPLICA_ASSIGNMENT,
                "Replica assignment must name only this broker, once.".to_string(),
            ))
        } else {
            let st = state.clone();
            let (name, count, validate_only) = (t.name.0.to_string(), t.count, req.validate_only);
            tokio::task::spawn_blocking(move || st.logs.create_partitions(&name, count, validate_only))
                .await
                .unwrap_or_else(|e| Err(crate::log::TopicError::Storage(std::io::Error::other(e))))
                .map_err(|e| (topic_error(&e), e.to_string()))
        };
        if let Err((c, m)) = res {
            r.error_code = c;
            r.error_message = Some(s(m));
        } else {
            tracing::info!(topic = %t.name.0, count = t.count, "partitions created");
        }
        out.push(r);
    }
    CreatePartitionsResponse::default().with_results(out)
}

pub async fn delete_records(
    state: &Arc<BrokerState>,
    req: DeleteRecordsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> DeleteRecordsResponse {
    let mut out = Vec::with_capacity(req.topics.len());
    let mut moved = false;
    for t in req.topics {
        let topic = state.logs.topic(&t.name.0);
        let denied = !who.may(acl::op::DELETE, acl::resource::TOPIC, &t.name.0);
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let mut r = DeleteRecordsPartitionResult::default()
                .with_partition_index(rp.partition_index)
                .with_low_watermark(-1);
            match topic.as_ref().and_then(|x| x.partition(rp.partition_index)) {
                _ if denied => r.error_code = code::TOPIC_AUTHORIZATION_FAILED,
                None => r.error_code = code::UNKNOWN_TOPIC_OR_PARTITION,
                // As Kafka: records are deleted only where cleanup.policy includes "delete"
                Some(p) if !p.with_log(|l| l.config().delete) => r.error_code = code::POLICY_VIOLATION,
                Some(p) => {
                    let hw = p.high_watermark();
                    let target = if rp.offset == -1 { hw } else { rp.offset };
                    if target < 0 || target > hw {
                        r.error_code = code::OFFSET_OUT_OF_RANGE;
                    } else {
                        match p.with_log(|l| l.delete_records_before(target)) {
                            Ok(lw) => {
                                r.low_watermark = lw;
                                moved = true;
                            }
                            Err(e) => r.error_code = crate::protocol::error::storage_io_error(&e),
                        }
                    }
                }
            }
            parts.push(r);
        }
        out.push(DeleteRecordsTopicResult::default().with_name(t.name).with_partitions(parts));
    }
    if moved {
        // The new log start offset must survive a crash before we acknowledge it.
        if let Err(e) = state.logs.write_checkpoints() {
            state.logs.fail_storage(&e);
        }
    }
    DeleteRecordsResponse::default().with_topics(out)
}

pub async fn describe_cluster(
    state: &Arc<BrokerState>,
    req: DescribeClusterRequest,
    v: i16,
    advertised: &(String, i32),
    who: &super::Who<'_>,
) -> DescribeClusterResponse {
    let (host, port) = advertised.clone();
    let broker = DescribeClusterBroker::default()
        .with_broker_id(BrokerId(state.node_id()))
        .with_host(s(host))
        .with_port(port);
    let mut r = DescribeClusterResponse::default()
        .with_cluster_id(s(state.cluster_id()))
        .with_controller_id(BrokerId(state.node_id()))
        .with_brokers(vec![broker])
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            super::metadata::allowed_ops(
                who,
                acl::resource::CLUSTER,
                acl::CLUSTER_NAME,
                super::metadata::CLUSTER_OPERATIONS,
            )
        } else {
            super::metadata::OPERATIONS_OMITTED
        });
    // endpoint_type 2 asks for controller endpoints; this node is its own controller.
    if v >= 1 {
        r.endpoint_type = if req.endpoint_type == 2 { 2 } else { 1 };
    }
    r
}

/// DescribeLogDirs: the one data directory with real partition sizes and the disk's totals.
pub async fn describe_log_dirs(
    state: &Arc<BrokerState>,
    req: kafka_protocol::messages::DescribeLogDirsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> kafka_protocol::messages::DescribeLogDirsResponse {
    use kafka_protocol::messages::describe_log_dirs_response::{
        DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
    };
    use kafka_protocol::messages::TopicName;
    if !who.may_cluster(acl::op::DESCRIBE) {
        // v3+ carry the error; older versions get no directories, as Kafka answers.
        let mut r = kafka_protocol::messages::DescribeLogDirsResponse::default();
        if v >= 3 {
            r.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
        }
        return r;
    }
    let wanted: Option<std::collections::HashMap<String, Vec<i32>>> = req
        .topics
        .as_ref()
        .map(|ts| ts.iter().map(|t| (t.topic.0.to_string(), t.partitions.clone())).collect());
    let mut topics = Vec::new();
    for t in state.logs.topics() {
        let parts: Vec<i32> = match &wanted {
            None => (0..t.partition_count()).collect(),
            Some(w) => match w.get(&t.name) {
                Some(ps) => ps.iter().copied().filter(|p| *p >= 0 && *p < t.partition_count()).collect(),
                None => continue,
            },
        };
        let partitions = parts
            .into_iter()
            .filter_map(|p| t.partition(p))
            .map(|p| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(p.with_log(|l| l.size_bytes()) as i64)
            })
            .collect();
        topics.push(
            DescribeLogDirsTopic::default()
                .with_name(TopicName(s(t.name.clone())))
                .with_partitions(partitions),
        );
    }
    let mut result = DescribeLogDirsResult::default()
        .with_log_dir(s(state.logs.data_dir().display().to_string()))
        .with_topics(topics);
    if v >= 4 {
        let (total, usable) = disk_space(state.logs.data_dir());
        result.total_bytes = total;
        result.usable_bytes = usable;
    }
    kafka_protocol::messages::DescribeLogDirsResponse::default().with_results(vec![result])
}

/// (total, available) bytes of the file system holding `dir`; -1 if unknown.
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return (-1, -1) };
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return (-1, -1);
        }
        let f = st.f_frsize as i64;
        (st.f_blocks as i64 * f, st.f_bavail as i64 * f)
    }
}
