//! Transactions, versions 1 and 2 (KIP-890): InitProducerId with a transactional id,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, Produce's enrolment and
//! verification of transactional batches; the transaction admin APIs ListTransactions,
//! DescribeTransactions, DescribeProducers; WriteTxnMarkers.
use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;

use super::s;
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::coordinator::txn::{Marker, TxnShellError};
use crate::protocol::error::{
    code, group_error, marker_error, produce_txn_error, storage_error, txn_error, txn_offset_enrol_error,
    txn_shell_error,
};
use crate::security::acl;
use crate::state::BrokerState;

pub async fn init_producer_id(
    state: &Arc<BrokerState>,
    req: &InitProducerIdRequest,
    v: i16,
    id: &str,
) -> InitProducerIdResponse {
    let (pid, epoch) = if v >= 3 { (req.producer_id.0, req.producer_epoch) } else { (-1, -1) };
    let r = state.txns.init_producer_id(id, req.transaction_timeout_ms, pid, epoch).await;
    match r {
        Ok((p, e)) => {
            InitProducerIdResponse::default().with_producer_id(ProducerId(p)).with_producer_epoch(e)
        }
        Err(e) => InitProducerIdResponse::default()
            .with_error_code(txn_shell_error(&e, v >= 4))
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

pub async fn add_partitions_to_txn(
    state: &Arc<BrokerState>,
    req: AddPartitionsToTxnRequest,
    v: i16,
    who: &super::Who<'_>,
) -> AddPartitionsToTxnResponse {
    if v >= 4 {
        // The batched form is sent by partition leaders: CLUSTER_ACTION.
        if !who.may_cluster(acl::op::CLUSTER_ACTION) {
            return AddPartitionsToTxnResponse::default().with_error_code(code::CLUSTER_AUTHORIZATION_FAILED);
        }
        return add_partitions_batched(state, req).await;
    }
    let mut parts = Vec::new();
    let mut unknown = Vec::new();
    let id_denied =
        !who.may(acl::op::WRITE, acl::resource::TRANSACTIONAL_ID, &req.v3_and_below_transactional_id.0);
    let mut denied: Vec<(String, i32)> = Vec::new();
    for t in &req.v3_and_below_topics {
        for p in &t.partitions {
            if id_denied || !who.may(acl::op::WRITE, acl::resource::TOPIC, &t.name.0) {
                denied.push((t.name.0.to_string(), *p));
            } else if state.logs.topic(&t.name.0).is_some_and(|x| x.partition(*p).is_some()) {
                parts.push((t.name.0.to_string(), *p));
            } else {
                unknown.push((t.name.0.to_string(), *p));
            }
        }
    }
    // All or nothing, as Kafka: one unknown or unauthorized partition fails the others with
    // OPERATION_NOT_ATTEMPTED.
    let denied_code = if id_denied {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else {
        code::TOPIC_AUTHORIZATION_FAILED
    };
    let (ok_code, bad_code) = if !denied.is_empty() {
        (
            if id_denied {
                code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            } else {
                code::OPERATION_NOT_ATTEMPTED
            },
            if id_denied { denied_code } else { code::OPERATION_NOT_ATTEMPTED },
        )
    } else if !unknown.is_empty() {
        (code::OPERATION_NOT_ATTEMPTED, code::UNKNOWN_TOPIC_OR_PARTITION)
    } else {
        let r = state
            .txns
            .add_partitions(
                &req.v3_and_below_transactional_id.0,
                req.v3_and_below_producer_id.0,
                req.v3_and_below_producer_epoch,
                &parts,
            )
            .await;
        if let Err(e) = &r {
            tracing::debug!(transactional_id = %req.v3_and_below_transactional_id.0, error = %e, "AddPartitionsToTxn refused");
        }
        (r.as_ref().err().map(|e| txn_shell_error(e, v >= 2)).unwrap_or(code::NONE), code::NONE)
    };
    let mut topics: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for (list, c) in [(&parts, ok_code), (&unknown, bad_code), (&denied, denied_code)] {
        for (t, p) in list {
            let pr = AddPartitionsToTxnPartitionResult::default()
                .with_partition_index(*p)
                .with_partition_error_code(c);
            match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                Some(x) => x.results_by_partition.push(pr),
                None => topics.push(
                    AddPartitionsToTxnTopicResult::default()
                        .with_name(TopicName(s(t.clone())))
                        .with_results_by_partition(vec![pr]),
                ),
            }
        }
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics)
}

/// AddPartitionsToTxn v4+: the batched form partition leaders send (KIP-890 part 1): several
/// transactions per request; `verify_only` asks whether the partitions already belong to the
/// producer's ongoing transaction (INVALID_TXN_STATE if not) without adding them.
async fn add_partitions_batched(
    state: &Arc<BrokerState>,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    use kafka_protocol::messages::add_partitions_to_txn_response::AddPartitionsToTxnResult;
    let mut results = Vec::with_capacity(req.transactions.len());
    for t in &req.transactions {
        let parts: Vec<(String, i32)> = t
            .topics
            .iter()
            .flat_map(|x| x.partitions.iter().map(move |p| (x.name.0.to_string(), *p)))
            .collect();
        let per_partition: Vec<((String, i32), i16)> = if t.verify_only {
            parts
                .iter()
                .map(|p| {
                    let c = match state.txns.has_partition(
                        &t.transactional_id.0,
                        t.producer_id.0,
                        t.producer_epoch,
                        p,
                    ) {
                        Ok(true) => code::NONE,
                        Ok(false) => code::INVALID_TXN_STATE,
                        Err(e) => txn_error(&e),
                    };
                    (p.clone(), c)
                })
                .collect()
        } else {
            let unknown: Vec<&(String, i32)> = parts
                .iter()
                .filter(|(n, p)| state.logs.topic(n).is_none_or(|x| x.partition(*p).is_none()))
                .collect();
            if !unknown.is_empty() {
                parts
                    .iter()
                    .map(|p| {
                        (
                            p.clone(),
                            if unknown.contains(&p) {
                                code::UNKNOWN_TOPIC_OR_PARTITION
                            } else {
                                code::OPERATION_NOT_ATTEMPTED
                            },
                        )
                    })
                    .collect()
            } else {
                let r = state
                    .txns
                    .add_partitions(&t.transactional_id.0, t.producer_id.0, t.producer_epoch, &parts)
                    .await;
                let c = r.err().map(|e| txn_shell_error(&e, true)).unwrap_or(code::NONE);
                parts.iter().map(|p| (p.clone(), c)).collect()
            }
        };
        let mut topics: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
        for ((name, p), c) in per_partition {
            let pr = AddPartitionsToTxnPartitionResult::default()
                .with_partition_index(p)
                .with_partition_error_code(c);
            match topics.iter_mut().find(|x| x.name.0.as_str() == name) {
                Some(x) => x.results_by_partition.push(pr),
                None => topics.push(
                    AddPartitionsToTxnTopicResult::default()
                        .with_name(TopicName(s(name)))
                        .with_results_by_partition(vec![pr]),
                ),
            }
        }
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(t.transactional_id.clone())
                .with_topic_results(topics),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

pub async fn add_offsets_to_txn(
    state: &Arc<BrokerState>,
    req: AddOffsetsToTxnRequest,
    v: i16,
    who: &super::Who<'_>,
) -> AddOffsetsToTxnResponse {
    if !who.may(acl::op::WRITE, acl::resource::TRANSACTIONAL_ID, &req.transactional_id.0) {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    if !who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0) {
        return AddOffsetsToTxnResponse::default().with_error_code(code::GROUP_AUTHORIZATION_FAILED);
    }
    let part = match state.groups.partition_for(&req.group_id.0) {
        Ok(p) => (OFFSETS_TOPIC.to_string(), p),
        Err(e) => return AddOffsetsToTxnResponse::default().with_error_code(storage_error(&e)),
    };
    let r = state
        .txns
        .add_partitions(&req.transactional_id.0, req.producer_id.0, req.producer_epoch, &[part])
        .await;
    AddOffsetsToTxnResponse::default()
        .with_error_code(r.err().map(|e| txn_shell_error(&e, v >= 2)).unwrap_or(code::NONE))
}

/// EndTxn v5+ is transactions version 2 (KIP-890): the answer carries the bumped epoch.
pub async fn end_txn(
    state: &Arc<BrokerState>,
    req: EndTxnRequest,
    v: i16,
    who: &super::Who<'_>,
) -> EndTxnResponse {
    let v2 = v >= 5;
    if !who.may(acl::op::WRITE, acl::resource::TRANSACTIONAL_ID, &req.transactional_id.0) {
        let resp = EndTxnResponse::default().with_error_code(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        return if v2 { resp.with_producer_id(ProducerId(-1)).with_producer_epoch(-1) } else { resp };
    }
    let r = state
        .txns
        .end_txn(&req.transactional_id.0, req.producer_id.0, req.producer_epoch, req.committed, v2)
        .await;
    match r {
        Ok((pid, epoch)) => {
            let resp = EndTxnResponse::default();
            if v2 {
                resp.with_producer_id(ProducerId(pid)).with_producer_epoch(epoch)
            } else {
                resp
            }
        }
        Err(e) => {
            let resp = EndTxnResponse::default().with_error_code(txn_shell_error(&e, v >= 2));
            if v2 {
                resp.with_producer_id(ProducerId(-1)).with_producer_epoch(-1)
            } else {
                resp
            }
        }
    }
}

/// Transactions version 2: a Produce (v12+) with a transactional id enrolls its partitions in the
/// producer's transaction itself (no AddPartitionsToTxn). Returns the partitions that could not be
/// enrolled with the error to answer (CONCURRENT_TRANSACTIONS makes the client retry).
/// The transaction check of a produce request's transactional batches, before anything is
/// appended. Version 2 (produce v12+, KIP-890): the request enrolls its partitions in the
/// producer's transaction. Version 1: the partition must already be in the producer's ongoing
/// transaction (added by AddPartitionsToTxn), as Kafka's partition verification requires (KIP-890
/// part 1): a transactional batch from anyone else would open a transaction nobody ends and pin
/// the last stable offset, stalling every read_committed consumer of the partition. Transactional
/// batches without a transactional id are refused as Kafka refuses them.
pub async fn enroll_produce_partitions(
    state: &Arc<BrokerState>,
    req: &ProduceRequest,
    v: i16,
    skip: &std::collections::HashMap<(String, i32), i16>,
) -> std::collections::HashMap<(String, i32), i16> {
    let mut errors = std::collections::HashMap::new();
    let mut parts = Vec::new();
    let mut producer: Option<(i64, i16)> = None;
    for td in &req.topic_data {
        let name = if v >= 13 {
            state.logs.topic_by_id(td.topic_id).map(|t| t.name.clone())
        } else {
            Some(td.name.0.to_string())
        };
        let Some(name) = name else { continue };
        for pd in &td.partition_data {
            let Some(records) = pd.records.as_ref() else { continue };
            let Ok(h) = crate::record::BatchHeader::parse(records) else { continue };
            if h.is_transactional() && !skip.contains_key(&(name.clone(), pd.index)) {
                producer.get_or_insert((h.producer_id, h.producer_epoch));
                parts.push((name.clone(), pd.index));
            }
        }
    }
    let Some((pid, epoch)) = producer else { return errors };
    let Some(txn_id) = req.transactional_id.as_ref() else {
        for p in parts {
            errors.insert(p, code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        }
        return errors;
    };
    if v < 12 {
        for p in parts {
            match state.txns.has_partition(&txn_id.0, pid, epoch, &p) {
                Ok(true) => {}
                Ok(false) => {
                    errors.insert(p, code::INVALID_TXN_STATE);
                }
                Err(e) => {
                    errors.insert(p, produce_txn_error(&TxnShellError::Txn(e)));
                }
            }
        }
        return errors;
    }
    if let Err(e) = state.txns.add_partitions(&txn_id.0, pid, epoch, &parts).await {
        let c = produce_txn_error(&e);
        for p in parts {
            errors.insert(p, c);
        }
    }
    errors
}

pub async fn txn_offset_commit(
    state: &Arc<BrokerState>,
    req: TxnOffsetCommitRequest,
    v: i16,
    who: &super::Who<'_>,
) -> TxnOffsetCommitResponse {
    let mut offsets = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            offsets.push((
                t.name.0.to_string(),
                p.partition_index,
                p.committed_offset,
                if v >= 2 { p.committed_leader_epoch } else { -1 },
                p.committed_metadata.as_ref().map(|m| m.to_string()),
            ));
        }
    }
    let all = |c: i16, offsets: &[(String, i32, i64, i32, Option<String>)]| -> Vec<(String, i32, i16)> {
        offsets.iter().map(|(t, p, ..)| (t.clone(), *p, c)).collect()
    };
    // Kafka: WRITE on the transactional id, READ on the group, then READ on each topic.
    let refused = if !who.may(acl::op::WRITE, acl::resource::TRANSACTIONAL_ID, &req.transactional_id.0) {
        Some(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    } else if !who.may(acl::op::READ, acl::resource::GROUP, &req.group_id.0) {
        Some(code::GROUP_AUTHORIZATION_FAILED)
    } else {
        None
    };
    let mut denied_topics: Vec<(String, i32, i16)> = Vec::new();
    if let Some(c) = refused {
        denied_topics = all(c, &offsets);
        offsets.clear();
    } else {
        offsets.retain(|(t, p, ..)| {
            let ok = who.may(acl::op::READ, acl::resource::TOPIC, t);
            if !ok {
                denied_topics.push((t.clone(), *p, code::TOPIC_AUTHORIZATION_FAILED));
            }
            ok
        });
    }
    // The group's offsets partition must be part of the transaction: added by AddOffsetsToTxn in
    // version 1, by this request itself in version 2 (v5+, KIP-890).
    let rows: Vec<(String, i32, i16)> = match state.groups.partition_for(&req.group_id.0) {
        // Nothing authorized: the transaction is not touched.
        _ if offsets.is_empty() && !denied_topics.is_empty() => Vec::new(),
        Err(e) => all(storage_error(&e), &offsets),
        Ok(p) => {
            let part = (OFFSETS_TOPIC.to_string(), p);
            let enrolled = if v >= 5 {
                state
                    .txns
                    .add_partitions(
                        &req.transactional_id.0,
                        req.producer_id.0,
                        req.producer_epoch,
                        std::slice::from_ref(&part),
                    )
                    .await
                    .map(|_| true)
            } else {
                state
                    .txns
                    .has_partition(&req.transactional_id.0, req.producer_id.0, req.producer_epoch, &part)
                    .map_err(TxnShellError::Txn)
            };
            match enrolled {
                Err(e) => all(txn_offset_enrol_error(&e, v >= 2), &offsets),
                Ok(false) => all(code::INVALID_TXN_STATE, &offsets),
                Ok(true) => {
                    let (gen, member, inst) = if v >= 3 {
                        (
                            req.generation_id,
                            req.member_id.to_string(),
                            req.group_instance_id.as_ref().map(|x| x.to_string()),
                        )
                    } else {
                        (-1, String::new(), None)
                    };
                    let w = state
                        .groups
                        .txn_commit_offsets(
                            req.producer_id.0,
                            req.producer_epoch,
                            &req.group_id.0,
                            gen,
                            &member,
                            inst.as_deref(),
                            offsets.clone(),
                        )
                        .await;
                    if let Err(e) = &w.write {
                        tracing::warn!(group = %req.group_id.0, error = %e, "transactional offsets could not be written");
                    }
                    w.value
                        .into_iter()
                        .map(|(t, p, e)| {
                            let c = match (&w.write, e) {
                                (Err(we), None) => storage_error(we),
                                (_, e) => e.as_ref().map(group_error).unwrap_or(code::NONE),
                            };
                            (t, p, c)
                        })
                        .collect()
                }
            }
        }
    };
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
    for (t, p, c) in rows.into_iter().chain(denied_topics) {
        let pr = TxnOffsetCommitResponsePartition::default().with_partition_index(p).with_error_code(c);
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.partitions.push(pr),
            None => topics.push(
                TxnOffsetCommitResponseTopic::default().with_name(TopicName(s(t))).with_partitions(vec![pr]),
            ),
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// Kafka's transaction state names (ListTransactions filters, DescribeTransactions).
const STATE_NAMES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

pub async fn list_transactions(
    state: &Arc<BrokerState>,
    req: ListTransactionsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> ListTransactionsResponse {
    use kafka_protocol::messages::list_transactions_response::TransactionState;
    let unknown: Vec<_> =
        req.state_filters.iter().filter(|f| !STATE_NAMES.contains(&f.as_str())).cloned().collect();
    let pattern = if v >= 2 {
        req.transactional_id_pattern
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| regex::Regex::new(&format!("^(?:{})$", p.as_str())))
    } else {
        None
    };
    let pattern = match pattern {
        Some(Ok(r)) => Some(r),
        Some(Err(_)) => {
            return ListTransactionsResponse::default().with_error_code(code::INVALID_REGULAR_EXPRESSION)
        }
        None => None,
    };
    let now = state.logs.now_ms();
    let mut rows: Vec<TransactionState> = state.txns.view(|t| {
        t.all()
            .filter(|m| {
                req.state_filters.is_empty() || req.state_filters.iter().any(|f| f.as_str() == m.state.name())
            })
            .filter(|m| {
                req.producer_id_filters.is_empty()
                    || req.producer_id_filters.iter().any(|p| p.0 == m.producer_id)
            })
            .filter(|m| {
                v < 1
                    || req.duration_filter < 0
                    || (m.start_ms >= 0 && now - m.start_ms >= req.duration_filter)
            })
            .filter(|m| pattern.as_ref().is_none_or(|r| r.is_match(&m.transactional_id)))
            .filter(|m| who.may(acl::op::DESCRIBE, acl::resource::TRANSACTIONAL_ID, &m.transactional_id))
            .map(|m| {
                TransactionState::default()
                    .with_transactional_id(TransactionalId(s(m.transactional_id.clone())))
                    .with_producer_id(ProducerId(m.producer_id))
                    .with_transaction_state(s(m.state.name()))
            })
            .collect()
    });
    rows.sort_by(|a, b| a.transactional_id.0.cmp(&b.transactional_id.0));
    ListTransactionsResponse::default().with_unknown_state_filters(unknown).with_transaction_states(rows)
}

pub async fn describe_transactions(
    state: &Arc<BrokerState>,
    req: DescribeTransactionsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> DescribeTransactionsResponse {
    use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
    let states = req
        .transactional_ids
        .iter()
        .map(|id| {
            let r = TransactionState::default().with_transactional_id(id.clone());
            if !who.may(acl::op::DESCRIBE, acl::resource::TRANSACTIONAL_ID, &id.0) {
                return r
                    .with_error_code(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
                    .with_transaction_state(s(""))
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1);
            }
            let m = state.txns.view(|t| t.get(&id.0).cloned());
            match m {
                None => r
                    .with_error_code(code::TRANSACTIONAL_ID_NOT_FOUND)
                    .with_transaction_state(s(""))
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1),
                Some(m) => {
                    let mut topics: Vec<TopicData> = Vec::new();
                    for (t, p) in &m.partitions {
                        match topics.iter_mut().find(|x| x.topic.0.as_str() == t) {
                            Some(x) => x.partitions.push(*p),
                            None => topics.push(
                                TopicData::default()
                                    .with_topic(TopicName(s(t.clone())))
                                    .with_partitions(vec![*p]),
                            ),
                        }
                    }
                    r.with_transaction_state(s(m.state.name()))
                        .with_transaction_timeout_ms(m.timeout_ms)
                        .with_transaction_start_time_ms(m.start_ms)
                        .with_producer_id(ProducerId(m.producer_id))
                        .with_producer_epoch(m.producer_epoch)
                        .with_topics(topics)
                }
            }
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

pub async fn describe_producers(
    state: &Arc<BrokerState>,
    req: DescribeProducersRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> DescribeProducersResponse {
    use kafka_protocol::messages::describe_producers_response::{
        PartitionResponse, ProducerState, TopicResponse,
    };
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let topic = state.logs.topic(&t.name.0);
            let denied = !who.may(acl::op::READ, acl::resource::TOPIC, &t.name.0);
            let partitions = t
                .partition_indexes
                .iter()
                .map(|idx| {
                    let r = PartitionResponse::default().with_partition_index(*idx);
                    if denied {
                        return r.with_error_code(code::TOPIC_AUTHORIZATION_FAILED);
                    }
                    match topic.as_ref().and_then(|x| x.partition(*idx)) {
                        None => r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION),
                        Some(p) => {
                            let active = p.with_log(|l| {
                                l.producers()
                                    .entries()
                                    .map(|(pid, e)| {
                                        ProducerState::default()
                                            .with_producer_id(ProducerId(pid))
                                            .with_producer_epoch(e.producer_epoch as i32)
                                            .with_last_sequence(
                                                e.batches.back().map(|b| b.last_seq).unwrap_or(-1),
                                            )
                                            .with_last_timestamp(e.last_timestamp)
                                            .with_coordinator_epoch(e.coordinator_epoch.unwrap_or(-1))
                                            .with_current_txn_start_offset(
                                                l.producers().open_txn(pid).unwrap_or(-1),
                                            )
                                    })
                                    .collect::<Vec<_>>()
                            });
                            r.with_active_producers(active)
                        }
                    }
                })
                .collect();
            TopicResponse::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

/// WriteTxnMarkers: write COMMIT/ABORT markers directly (what `kafka-transactions.sh abort` sends
/// to a partition leader to end a hanging transaction). A marker older than the producer's epoch
/// in that partition is refused with INVALID_PRODUCER_EPOCH.
pub async fn write_txn_markers(
    state: &Arc<BrokerState>,
    req: WriteTxnMarkersRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> WriteTxnMarkersResponse {
    use kafka_protocol::messages::write_txn_markers_response::{
        WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    };
    let mut out = Vec::with_capacity(req.markers.len());
    let allowed = who.may_cluster(acl::op::CLUSTER_ACTION);
    for m in &req.markers {
        if !allowed {
            let topics = m
                .topics
                .iter()
                .map(|t| {
                    WritableTxnMarkerTopicResult::default().with_name(t.name.clone()).with_partitions(
                        t.partition_indexes
                            .iter()
                            .map(|i| {
                                WritableTxnMarkerPartitionResult::default()
                                    .with_partition_index(*i)
                                    .with_error_code(code::CLUSTER_AUTHORIZATION_FAILED)
                            })
                            .collect(),
                    )
                })
                .collect();
            out.push(WritableTxnMarkerResult::default().with_producer_id(m.producer_id).with_topics(topics));
            continue;
        }
        let marker = Marker {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            commit: m.transaction_result,
            coordinator_epoch: m.coordinator_epoch,
        };
        let parts: Vec<(String, i32)> = m
            .topics
            .iter()
            .flat_map(|t| t.partition_indexes.iter().map(move |i| (t.name.0.to_string(), *i)))
            .collect();
        let mut results = state.txns.write_markers(&marker, &parts, true).await.into_iter();
        let topics = m
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|i| {
                        let c = results.next().map_or(code::UNKNOWN_SERVER_ERROR, |r| {
                            r.as_ref().err().map(marker_error).unwrap_or(code::NONE)
                        });
                        WritableTxnMarkerPartitionResult::default()
                            .with_partition_index(*i)
                            .with_error_code(c)
                    })
                    .collect();
                WritableTxnMarkerTopicResult::default().with_name(t.name.clone()).with_partitions(partitions)
            })
            .collect();
        out.push(WritableTxnMarkerResult::default().with_producer_id(m.producer_id).with_topics(topics));
    }
    WriteTxnMarkersResponse::default().with_markers(out)
}
