//! Consumer group APIs: FindCoordinator; the classic protocol's JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup; OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups, OffsetDelete;
//! KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//! Translates protocol types to the coordinator's domain inputs and back.
use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::s;
use crate::coordinator::group::records::CommittedOffset;
use crate::coordinator::group::state::{GroupError, JoinInput, JoinResult, Reply, SyncInput, SyncResult};
use crate::coordinator::group::{ConsumerHeartbeatError, Written};
use crate::protocol::error::{code, delete_group_error, group_error, storage_error, txn_shell_error};
use crate::security::acl;
use crate::state::BrokerState;

fn gerr(e: Option<GroupError>) -> i16 {
    e.as_ref().map(group_error).unwrap_or(code::NONE)
}

const KEY_GROUP: i8 = 0;
const KEY_TRANSACTION: i8 = 1;

pub async fn find_coordinator(
    state: &Arc<BrokerState>,
    req: FindCoordinatorRequest,
    v: i16,
    advertised: &(String, i32),
    who: &super::Who<'_>,
) -> FindCoordinatorResponse {
    let (host, port) = advertised.clone();
    let node = BrokerId(state.node_id());
    let answer = |key_type: i8, key: &str| -> (i16, Option<String>) {
        match key_type {
            KEY_GROUP if !who.may(acl::op::DESCRIBE, acl::resource::GROUP, key) => {
                return (code::GROUP_AUTHORIZATION_FAILED, None)
            }
            KEY_TRANSACTION if !who.may(acl::op::DESCRIBE, acl::resource::TRANSACTIONAL_ID, key) => {
                return (code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None)
            }
            _ => {}
        }
        let ready = match key_type {
            // A cluster (feature `cluster`, stage 1) does not move the group and transaction
            // coordinators with their internal topics' partitions yet: answering with this broker
            // would split a group over brokers, so no coordinator is offered (docs/cluster.md).
            KEY_GROUP | KEY_TRANSACTION if state.config.clustered() => Err((
                code::COORDINATOR_NOT_AVAILABLE,
                "groups and transactions are not served by an Odradek cluster yet".to_string(),
            )),
            KEY_GROUP => {
                state.groups.offsets_topic().map(drop).map_err(|e| (storage_error(&e), e.to_string()))
            }
            KEY_TRANSACTION => {
                state.txns.txn_topic().map(drop).map_err(|e| (txn_shell_error(&e, true), e.to_string()))
            }
            // Share groups (2) are not served.
            _ => Err((
                code::COORDINATOR_NOT_AVAILABLE,
                "this broker has no share-group coordinator".to_string(),
            )),
        };
        match ready {
            Ok(()) => (code::NONE, None),
            Err((c, m)) => (c, Some(m)),
        }
    };
    if v >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let (err, msg) = answer(req.key_type, k);
                let c = Coordinator::default()
                    .with_key(k.clone())
                    .with_error_code(err)
                    .with_error_message(msg.map(s));
                if err == code::NONE {
                    c.with_node_id(node).with_host(s(host.clone())).with_port(port)
                } else {
                    c.with_node_id(BrokerId(-1)).with_host(s("")).with_port(-1)
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let (err, msg) = answer(if v >= 1 { req.key_type } else { KEY_GROUP }, &req.key);
    let mut r = FindCoordinatorResponse::default().with_error_code(err);
    if v >= 1 {
        r.error_message = msg.map(s);
    }
    if err == code::NONE {
        r.with_node_id(node).with_host(s(host)).with_port(port)
    } else {
        r.with_node_id(BrokerId(-1)).with_host(s("")).with_port(-1)
    }
}

pub async fn join_group(
    state: &Arc<BrokerState>,
    req: JoinGroupRequest,
    v: i16,
    client_id: &str,
    client_host: &str,
    who: &super::Who<'_>,
) -> JoinGroupResponse {
    if !who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0) {
        let mut r = JoinGroupResponse::default()
            .with_error_code(code::GROUP_AUTHORIZATION_FAILED)
            .with_generation_id(-1)
            .with_member_id(req.member_id.clone());
        if v < 7 {
            r.protocol_name = Some(s(""));
        }
        return r;
    }
    let input = JoinInput {
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|x| x.to_string()),
        client_id: client_id.to_string(),
        client_host: client_host.to_string(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if v >= 1 { req.rebalance_timeout_ms } else { req.session_timeout_ms },
        protocol_type: req.protocol_type.to_string(),
        protocols: req.protocols.iter().map(|p| (p.name.to_string(), p.metadata.clone())).collect(),
        require_known_member_id: v >= 4,
    };
    let r = match state.groups.join(input).await {
        Some(Reply::Join(j)) => j,
        _ => JoinResult {
            error: Some(GroupError::CoordinatorNotAvailable),
            generation: -1,
            protocol_type: None,
            protocol: None,
            leader: String::new(),
            member_id: req.member_id.to_string(),
            members: vec![],
            skip_assignment: false,
        },
    };
    let mut resp = JoinGroupResponse::default()
        .with_error_code(gerr(r.error))
        .with_generation_id(r.generation)
        .with_leader(s(r.leader))
        .with_member_id(s(r.member_id))
        .with_members(
            r.members
                .into_iter()
                .map(|(m, inst, md)| {
                    let mut x = JoinGroupResponseMember::default().with_member_id(s(m)).with_metadata(md);
                    if v >= 5 {
                        x.group_instance_id = inst.map(s);
                    }
                    x
                })
                .collect(),
        );
    // protocol_name is nullable only from v7; before, an empty string means "none".
    if v >= 7 {
        resp.protocol_type = r.protocol_type.map(s);
        resp.protocol_name = r.protocol.map(s);
    } else {
        resp.protocol_name = Some(s(r.protocol.unwrap_or_default()));
    }
    if v >= 9 {
        resp.skip_assignment = r.skip_assignment;
    }
    resp
}

pub async fn sync_group(
    state: &Arc<BrokerState>,
    req: SyncGroupRequest,
    v: i16,
    who: &super::Who<'_>,
) -> SyncGroupResponse {
    if !who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0) {
        return SyncGroupResponse::default().with_error_code(code::GROUP_AUTHORIZATION_FAILED);
    }
    let input = SyncInput {
        group_id: req.group_id.0.to_string(),
        generation: req.generation_id,
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|x| x.to_string()),
        protocol_type: if v >= 5 { req.protocol_type.as_ref().map(|x| x.to_string()) } else { None },
        protocol: if v >= 5 { req.protocol_name.as_ref().map(|x| x.to_string()) } else { None },
        assignments: req
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect(),
    };
    let r = match state.groups.sync(input).await {
        Some(Reply::Sync(x)) => x,
        _ => SyncResult {
            error: Some(GroupError::CoordinatorNotAvailable),
            protocol_type: None,
            protocol: None,
            assignment: Default::default(),
        },
    };
    let mut resp = SyncGroupResponse::default().with_error_code(gerr(r.error)).with_assignment(r.assignment);
    if v >= 5 {
        resp.protocol_type = r.protocol_type.map(s);
        resp.protocol_name = r.protocol.map(s);
    }
    resp
}

pub async fn heartbeat(
    state: &Arc<BrokerState>,
    req: HeartbeatRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> HeartbeatResponse {
    if !who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0) {
        return HeartbeatResponse::default().with_error_code(code::GROUP_AUTHORIZATION_FAILED);
    }
    let r = state.groups.heartbeat(
        &req.group_id.0,
        &req.member_id,
        req.group_instance_id.as_deref(),
        req.generation_id,
    );
    HeartbeatResponse::default().with_error_code(gerr(r.err()))
}

pub async fn leave_group(
    state: &Arc<BrokerState>,
    req: LeaveGroupRequest,
    v: i16,
    who: &super::Who<'_>,
) -> LeaveGroupResponse {
    if !who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0) {
        return LeaveGroupResponse::default().with_error_code(code::GROUP_AUTHORIZATION_FAILED);
    }
    let members: Vec<(String, Option<String>)> = if v >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|x| x.to_string())))
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let (top, results) = state.groups.leave(&req.group_id.0, &members).await;
    let mut resp = LeaveGroupResponse::default().with_error_code(gerr(top));
    if v >= 3 {
        resp.members = results
            .into_iter()
            .map(|(m, inst, e)| {
                MemberResponse::default()
                    .with_member_id(s(m))
                    .with_group_instance_id(inst.map(s))
                    .with_error_code(gerr(e))
            })
            .collect();
    } else if let Some((_, _, e)) = results.first() {
        resp.error_code = gerr(*e);
    }
    resp
}

pub async fn offset_commit(
    state: &Arc<BrokerState>,
    req: OffsetCommitRequest,
    v: i16,
    who: &super::Who<'_>,
) -> OffsetCommitResponse {
    let mut offsets = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            offsets.push((
                t.name.0.to_string(),
                p.partition_index,
                p.committed_offset,
                if v >= 6 { p.committed_leader_epoch } else { -1 },
                p.committed_metadata.as_ref().map(|m| m.to_string()),
            ));
        }
    }
    // READ on the group (every partition refused), then READ on each topic (those not committed).
    let group_ok = who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0);
    let mut refused: Vec<(String, i32, i16)> = Vec::new();
    offsets.retain(|(t, p, ..)| {
        let c = if !group_ok {
            code::GROUP_AUTHORIZATION_FAILED
        } else if !who.may(acl::op::READ, acl::resource::TOPIC, t) {
            code::TOPIC_AUTHORIZATION_FAILED
        } else {
            return true;
        };
        refused.push((t.clone(), *p, c));
        false
    });
    let (results, write) = if offsets.is_empty() && !refused.is_empty() {
        (Vec::new(), Ok(()))
    } else {
        let w = state
            .groups
            .commit_offsets(
                &req.group_id.0,
                req.generation_id_or_member_epoch,
                &req.member_id,
                req.group_instance_id.as_deref(),
                offsets,
            )
            .await;
        (w.value, w.write)
    };
    let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
    let refused = refused.into_iter().map(|(t, p, c)| (t, p, Err(c)));
    for (t, p, e) in results.into_iter().map(|(t, p, e)| (t, p, Ok(e))).chain(refused) {
        let c = match e {
            Err(c) => c,
            Ok(None) if write.is_err() => write.as_ref().err().map(storage_error).unwrap_or(code::NONE),
            Ok(e) => gerr(e),
        };
        let unknown = state.logs.topic(&t).is_none_or(|x| x.partition(p).is_none());
        let c = if c == code::NONE && unknown { code::UNKNOWN_TOPIC_OR_PARTITION } else { c };
        let part = OffsetCommitResponsePartition::default().with_partition_index(p).with_error_code(c);
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(
                OffsetCommitResponseTopic::default().with_name(TopicName(s(t))).with_partitions(vec![part]),
            ),
        }
    }
    OffsetCommitResponse::default().with_topics(topics)
}

fn fetched(c: Option<CommittedOffset>) -> (i64, i32, Option<StrBytes>) {
    match c {
        Some(c) => (c.offset, c.leader_epoch, Some(s(c.metadata))),
        None => (-1, -1, Some(s(""))),
    }
}

pub async fn offset_fetch(
    state: &Arc<BrokerState>,
    req: OffsetFetchRequest,
    v: i16,
    who: &super::Who<'_>,
) -> OffsetFetchResponse {
    type Asked = Option<Vec<(String, i32)>>;
    let lookup = |group: &str, asked: Asked| state.groups.fetch_offsets(group, asked.as_deref());
    if v >= 8 {
        let groups = req
            .groups
            .iter()
            .map(|rg| {
                let asked: Asked = rg.topics.as_ref().map(|ts| {
                    ts.iter()
                        .flat_map(|t| t.partition_indexes.iter().map(|p| (t.name.0.to_string(), *p)))
                        .collect()
                });
                if !who.may(acl::op::DESCRIBE, acl::resource::GROUP, &rg.group_id.0) {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(rg.group_id.clone())
                        .with_error_code(code::GROUP_AUTHORIZATION_FAILED);
                }
                if v >= 9 {
                    if let Some(mid) = rg.member_id.as_ref().filter(|m| !m.is_empty()) {
                        let check = state.groups.validate_offset_access(&rg.group_id.0, mid, rg.member_epoch);
                        if let Err(e) = check {
                            return OffsetFetchResponseGroup::default()
                                .with_group_id(rg.group_id.clone())
                                .with_error_code(crate::protocol::error::consumer_group_error(&e));
                        }
                    }
                }
                let rows = lookup(&rg.group_id.0, asked);
                let unstable = req.require_stable && state.groups.has_pending(&rg.group_id.0);
                let mut topics: Vec<OffsetFetchResponseTopics> = Vec::new();
                for (t, p, c) in rows {
                    let topic_ok = who.may(acl::op::DESCRIBE, acl::resource::TOPIC, &t);
                    if !topic_ok && rg.topics.is_none() {
                        continue; // all offsets asked: only topics this client may describe
                    }
                    let (o, e, m) = if topic_ok { fetched(c) } else { fetched(None) };
                    let mut part = OffsetFetchResponsePartitions::default()
                        .with_partition_index(p)
                        .with_committed_offset(o)
                        .with_committed_leader_epoch(e)
                        .with_metadata(m);
                    if !topic_ok {
                        part.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                    } else if unstable {
                        // A transaction holds offsets for this group: the client retries.
                        part.error_code = code::UNSTABLE_OFFSET_COMMIT;
                    }
                    match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                        Some(x) => x.partitions.push(part),
                        None => topics.push(
                            OffsetFetchResponseTopics::default()
                                .with_name(TopicName(s(t)))
                                .with_partitions(vec![part]),
                        ),
                    }
                }
                OffsetFetchResponseGroup::default().with_group_id(rg.group_id.clone()).with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let asked: Asked = req.topics.as_ref().map(|ts| {
        ts.iter().flat_map(|t| t.partition_indexes.iter().map(|p| (t.name.0.to_string(), *p))).collect()
    });
    if !who.may(acl::op::DESCRIBE, acl::resource::GROUP, &req.group_id.0) {
        let mut r = OffsetFetchResponse::default();
        if v >= 2 {
            r.error_code = code::GROUP_AUTHORIZATION_FAILED;
        }
        return r;
    }
    let rows = lookup(&req.group_id.0, asked);
    let unstable = v >= 7 && req.require_stable && state.groups.has_pending(&req.group_id.0);
    let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
    for (t, p, c) in rows {
        let topic_ok = who.may(acl::op::DESCRIBE, acl::resource::TOPIC, &t);
        if !topic_ok && req.topics.is_none() {
            continue;
        }
        let (o, mut e, m) = if topic_ok { fetched(c) } else { fetched(None) };
        if v < 5 {
            e = -1;
        }
        let err = if !topic_ok {
            code::TOPIC_AUTHORIZATION_FAILED
        } else if unstable {
            code::UNSTABLE_OFFSET_COMMIT
        } else {
            code::NONE
        };
        let part = OffsetFetchResponsePartition::default()
            .with_error_code(err)
            .with_partition_index(p)
            .with_committed_offset(o)
            .with_committed_leader_epoch(e)
            .with_metadata(m);
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(
                OffsetFetchResponseTopic::default().with_name(TopicName(s(t))).with_partitions(vec![part]),
            ),
        }
    }
    OffsetFetchResponse::default().with_topics(topics)
}

pub async fn list_groups(
    state: &Arc<BrokerState>,
    req: ListGroupsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> ListGroupsResponse {
    let states: Vec<String> =
        if v >= 4 { req.states_filter.iter().map(|x| x.to_lowercase()).collect() } else { vec![] };
    let types: Vec<String> =
        if v >= 5 { req.types_filter.iter().map(|x| x.to_lowercase()).collect() } else { vec![] };
    let groups = state.groups.view(|gs| {
        // (id, protocol type, state, group type)
        let mut all: Vec<(String, String, &'static str, &'static str)> = gs
            .consumer
            .groups
            .values()
            .map(|g| (g.group_id.clone(), "consumer".to_string(), g.state_name(), "consumer"))
            .collect();
        for g in gs.groups() {
            if g.state == crate::coordinator::group::state::GroupState::Dead
                || gs.consumer.groups.contains_key(&g.group_id)
            {
                continue;
            }
            all.push((
                g.group_id.clone(),
                g.protocol_type.clone().unwrap_or_default(),
                g.state.name(),
                "classic",
            ));
        }
        let everything = who.may_cluster(acl::op::DESCRIBE);
        all.retain(|(id, _, _, _)| everything || who.may(acl::op::DESCRIBE, acl::resource::GROUP, id));
        all.retain(|(_, _, st, ty)| {
            (states.is_empty() || states.contains(&st.to_lowercase()))
                && (types.is_empty() || types.iter().any(|t| t == ty))
        });
        all.sort();
        all
    });
    let listed = groups
        .into_iter()
        .map(|(id, pt, st, ty)| {
            let mut l = list_groups_response::ListedGroup::default()
                .with_group_id(GroupId(s(id)))
                .with_protocol_type(s(pt));
            if v >= 4 {
                l.group_state = s(st);
            }
            if v >= 5 {
                l.group_type = s(ty);
            }
            l
        })
        .collect();
    ListGroupsResponse::default().with_groups(listed)
}

pub async fn describe_groups(
    state: &Arc<BrokerState>,
    req: DescribeGroupsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .iter()
        .map(|gid| {
            let (d, is_consumer) = state
                .groups
                .view(|gs| (gs.group(&gid.0).cloned(), gs.consumer.groups.contains_key(gid.0.as_str())));
            let mut out = describe_groups_response::DescribedGroup::default().with_group_id(gid.clone());
            if !who.may(acl::op::DESCRIBE, acl::resource::GROUP, &gid.0) {
                out.error_code = code::GROUP_AUTHORIZATION_FAILED;
                if v >= 3 {
                    out.authorized_operations = i32::MIN;
                }
                return out;
            }
            if is_consumer {
                out.group_state = s("Dead");
                if v >= 6 {
                    out.error_code = code::GROUP_ID_NOT_FOUND;
                    out.error_message = Some(s(format!("Group {} is not a classic group.", gid.0)));
                }
                return out;
            }
            if v >= 3 {
                out.authorized_operations = if req.include_authorized_operations {
                    super::metadata::allowed_ops(
                        who,
                        acl::resource::GROUP,
                        &gid.0,
                        super::metadata::GROUP_OPERATIONS,
                    )
                } else {
                    i32::MIN
                };
            }
            match d {
                None => {
                    out.group_state = s("Dead");
                    if v >= 6 {
                        out.error_code = code::GROUP_ID_NOT_FOUND;
                        out.error_message = Some(s(format!("Group {} not found.", gid.0)));
                    }
                }
                Some(g) => {
                    out.group_state = s(g.state.name());
                    out.protocol_type = s(g.protocol_type.clone().unwrap_or_default());
                    let stable = g.state == crate::coordinator::group::state::GroupState::Stable;
                    out.protocol_data =
                        s(if stable { g.protocol.clone().unwrap_or_default() } else { String::new() });
                    out.members = g
                        .members
                        .iter()
                        .map(|m| {
                            let mut dm = describe_groups_response::DescribedGroupMember::default()
                                .with_member_id(s(m.member_id.clone()))
                                .with_client_id(s(m.client_id.clone()))
                                .with_client_host(s(m.client_host.clone()))
                                .with_member_metadata(if stable {
                                    g.protocol
                                        .as_deref()
                                        .and_then(|p| m.protocols.iter().find(|(n, _)| n == p))
                                        .map(|(_, b)| b.clone())
                                        .unwrap_or_default()
                                } else {
                                    Default::default()
                                })
                                .with_member_assignment(if stable {
                                    m.assignment.clone()
                                } else {
                                    Default::default()
                                });
                            if v >= 4 {
                                dm.group_instance_id = m.instance_id.clone().map(s);
                            }
                            dm
                        })
                        .collect();
                }
            }
            out
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub async fn delete_groups(
    state: &Arc<BrokerState>,
    req: DeleteGroupsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> DeleteGroupsResponse {
    let mut results = Vec::new();
    for gid in &req.groups_names {
        if !who.may(acl::op::DELETE, acl::resource::GROUP, &gid.0) {
            results.push(
                delete_groups_response::DeletableGroupResult::default()
                    .with_group_id(gid.clone())
                    .with_error_code(code::GROUP_AUTHORIZATION_FAILED),
            );
            continue;
        }
        let c = match state.groups.delete_group(&gid.0).await {
            Ok(()) => code::NONE,
            Err(e) => delete_group_error(&e),
        };
        results.push(
            delete_groups_response::DeletableGroupResult::default()
                .with_group_id(gid.clone())
                .with_error_code(c),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}

pub async fn offset_delete(
    state: &Arc<BrokerState>,
    req: OffsetDeleteRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> OffsetDeleteResponse {
    if !who.may(acl::op::DELETE, acl::resource::GROUP, &req.group_id.0) {
        return OffsetDeleteResponse::default().with_error_code(code::GROUP_AUTHORIZATION_FAILED);
    }
    let asked: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), p.partition_index)))
        .collect();
    match state.groups.delete_offsets(&req.group_id.0, &asked).await {
        Err(e) => OffsetDeleteResponse::default().with_error_code(group_error(&e)),
        Ok(Written { value: rows, write }) => {
            let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
            for (t, p, e) in rows {
                let c = match (&write, e) {
                    (Err(w), None) => storage_error(w),
                    (_, e) => gerr(e),
                };
                let part =
                    OffsetDeleteResponsePartition::default().with_partition_index(p).with_error_code(c);
                match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                    Some(x) => x.partitions.push(part),
                    None => topics.push(
                        OffsetDeleteResponseTopic::default()
                            .with_name(TopicName(s(t)))
                            .with_partitions(vec![part]),
                    ),
                }
            }
            OffsetDeleteResponse::default().with_topics(topics)
        }
    }
}

/// KIP-848 ConsumerGroupHeartbeat: join (epoch 0), heartbeat, leave (epoch -1/-2).
pub async fn consumer_group_heartbeat(
    state: &Arc<BrokerState>,
    req: ConsumerGroupHeartbeatRequest,
    v: i16,
    client_id: &str,
    client_host: &str,
    who: &super::Who<'_>,
) -> ConsumerGroupHeartbeatResponse {
    use crate::coordinator::group::consumer::{Assignment, ConsumerGroupError, HeartbeatInput};
    use crate::protocol::error::consumer_group_error;
    // An error answer leaves member_epoch at its default (0), as Kafka's does.
    let fail = |e: ConsumerGroupError| {
        ConsumerGroupHeartbeatResponse::default()
            .with_error_code(consumer_group_error(&e))
            .with_error_message(Some(s(e.to_string())))
    };
    if !who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0) {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(code::GROUP_AUTHORIZATION_FAILED)
            .with_error_message(Some(s("Group authorization failed.")));
    }
    if v >= 1 && req.member_id.is_empty() {
        return fail(ConsumerGroupError::InvalidRequest("MemberId can't be empty."));
    }
    if let Err(e) = state.groups.offsets_topic() {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(storage_error(&e))
            .with_error_message(Some(s(e.to_string())));
    }
    let owned: Option<Assignment> = req
        .topic_partitions
        .as_ref()
        .map(|tps| tps.iter().map(|tp| (tp.topic_id, tp.partitions.iter().copied().collect())).collect());
    let input = HeartbeatInput {
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|x| x.to_string()),
        rack_id: req.rack_id.as_ref().map(|x| x.to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|n| n.iter().map(|t| t.0.to_string()).collect()),
        subscribed_topic_regex: if v >= 1 {
            req.subscribed_topic_regex.as_ref().map(|x| x.to_string())
        } else {
            None
        },
        server_assignor: req.server_assignor.as_ref().map(|x| x.to_string()),
        owned,
        client_id: client_id.to_string(),
        client_host: client_host.to_string(),
    };
    tracing::debug!(group = %input.group_id, member = %input.member_id, epoch = input.member_epoch, owned = ?input.owned, "consumer group heartbeat");
    let r = state.groups.consumer_heartbeat(input).await;
    match &r {
        Ok((hb, _)) => {
            tracing::debug!(member = %hb.member_id, epoch = hb.member_epoch, assignment = ?hb.assignment, "consumer group heartbeat answered")
        }
        Err(e) => tracing::debug!(error = %e, "consumer group heartbeat refused"),
    }
    match r {
        Err(ConsumerHeartbeatError::Group(e)) => fail(e),
        Err(ConsumerHeartbeatError::Storage(e)) => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(storage_error(&e))
            .with_error_message(Some(s(e.to_string()))),
        Ok((hb, interval)) => {
            let assignment = hb.assignment.map(|a| {
                consumer_group_heartbeat_response::Assignment::default().with_topic_partitions(
                    a.into_iter()
                        .filter(|(_, ps)| !ps.is_empty())
                        .map(|(id, ps)| {
                            consumer_group_heartbeat_response::TopicPartitions::default()
                                .with_topic_id(id)
                                .with_partitions(ps.into_iter().collect())
                        })
                        .collect(),
                )
            });
            ConsumerGroupHeartbeatResponse::default()
                .with_member_id(Some(s(hb.member_id)))
                .with_member_epoch(hb.member_epoch)
                .with_heartbeat_interval_ms(interval)
                .with_assignment(assignment)
        }
    }
}

pub async fn consumer_group_describe(
    state: &Arc<BrokerState>,
    req: ConsumerGroupDescribeRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> ConsumerGroupDescribeResponse {
    let names: std::collections::HashMap<uuid::Uuid, String> =
        state.logs.topics().iter().map(|t| (t.id, t.name.clone())).collect();
    let conv = |a: &crate::coordinator::group::consumer::Assignment| {
        consumer_group_describe_response::Assignment::default().with_topic_partitions(
            a.iter()
                .filter(|(_, ps)| !ps.is_empty())
                .map(|(id, ps)| {
                    consumer_group_describe_response::TopicPartitions::default()
                        .with_topic_id(*id)
                        .with_topic_name(TopicName(s(names.get(id).cloned().unwrap_or_default())))
                        .with_partitions(ps.iter().copied().collect())
                })
                .collect(),
        )
    };
    let groups = req
        .group_ids
        .iter()
        .map(|gid| {
            let d = state.groups.view(|gs| gs.consumer.groups.get(gid.0.as_str()).cloned());
            let mut out =
                consumer_group_describe_response::DescribedGroup::default().with_group_id(gid.clone());
            if !who.may(acl::op::DESCRIBE, acl::resource::GROUP, &gid.0) {
                out.error_code = code::GROUP_AUTHORIZATION_FAILED;
                return out;
            }
            out.authorized_operations =
                if req.include_authorized_operations { super::metadata::GROUP_OPERATIONS } else { i32::MIN };
            match d {
                None => {
                    out.error_code = code::GROUP_ID_NOT_FOUND;
                    out.error_message = Some(s(format!("Group {} not found.", gid.0)));
                }
                Some(g) => {
                    out.group_state = s(g.state_name());
                    out.group_epoch = g.group_epoch;
                    out.assignment_epoch = g.assignment_epoch;
                    out.assignor_name = s(g.assignor.clone());
                    out.members = g
                        .members
                        .values()
                        .map(|m| {
                            consumer_group_describe_response::Member::default()
                                .with_member_id(s(m.member_id.clone()))
                                .with_instance_id(m.instance_id.clone().map(s))
                                .with_rack_id(m.rack_id.clone().map(s))
                                .with_member_epoch(m.member_epoch)
                                .with_client_id(s(m.client_id.clone()))
                                .with_client_host(s(m.client_host.clone()))
                                .with_subscribed_topic_names(
                                    m.subscribed_topic_names
                                        .iter()
                                        .map(|t| TopicName(s(t.clone())))
                                        .collect(),
                                )
                                .with_subscribed_topic_regex(m.subscribed_topic_regex.clone().map(s))
                                .with_assignment(conv(&m.assigned))
                                .with_target_assignment(conv(
                                    g.target.get(&m.member_id).unwrap_or(&Default::default()),
                                ))
                        })
                        .collect();
                }
            }
            out
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
