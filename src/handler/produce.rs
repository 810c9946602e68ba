//! Produce: walk the batch headers, append under each partition's lock, wait for the group
//! commit when acks=all. Batches are never re-encoded (see `PartitionLog::append`). What a sync
//! covers is the log's decision: an append returns a ticket, acks=all awaits it.
use std::sync::Arc;

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::s;
use crate::log::partition::LeaderCheck;
use crate::log::{AppendError, Durable, Partition, SyncTicket};
use crate::protocol::error::{append_error, code, commit_error};
use crate::protocol::{encode_response, FrameError};
use crate::record::validate::Invalid;
use crate::state::BrokerState;

fn is_authz(c: i16) -> bool {
    matches!(
        c,
        code::TOPIC_AUTHORIZATION_FAILED
            | code::CLUSTER_AUTHORIZATION_FAILED
            | code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    )
}

fn failed(index: i32, err: i16, msg: Option<String>, v: i16) -> PartitionProduceResponse {
    let mut r =
        PartitionProduceResponse::default().with_index(index).with_error_code(err).with_base_offset(-1);
    if v >= 8 {
        r.error_message = msg.map(s);
    }
    r
}

/// A produce request whose batches are appended, waiting (for acks=all) on the group commit.
pub struct Pending {
    v: i16,
    response: ProduceResponse,
    waiting: Vec<(usize, usize, Wait)>,
}

/// What an acks=all answer waits for: the local fsync (one node), or the commit of a cluster's
/// partition (its data in the object store, its offsets in the metadata store) in the epoch the
/// batch was appended in.
enum Wait {
    Sync(Durable),
    Commit(Arc<Partition>, i64, i32),
}

impl Pending {
    pub fn acks0_failed(&self) -> bool {
        self.response.responses.iter().any(|t| t.partition_responses.iter().any(|p| p.error_code != 0))
    }

    /// Waits for the fsyncs (acks=all) and completes the response.
    pub async fn finish(self) -> ProduceResponse {
        let Pending { v, mut response, waiting } = self;
        for (ti, pi, wait) in waiting {
            let idx = response.responses[ti].partition_responses[pi].index;
            match wait {
                Wait::Sync(durable) => {
                    if let Err(e) = durable.wait().await {
                        response.responses[ti].partition_responses[pi] =
                            failed(idx, code::KAFKA_STORAGE_ERROR, Some(format!("fsync failed: {e}")), v);
                    }
                }
                Wait::Commit(p, offset, epoch) => {
                    if let Err(e) = p.wait_committed(offset, epoch).await {
                        response.responses[ti].partition_responses[pi] =
                            failed(idx, commit_error(&e), Some(e.to_string()), v);
                    }
                }
            }
        }
        response
    }
}

/// Produce: authorized first (Kafka's order), then transactional batches enrolled (version 2)
/// or verified (version 1), then appended; a refused partition is neither. acks=0 has no
/// answer; acks=all answers once its batches are durable.
pub async fn handle(
    state: &Arc<BrokerState>,
    req: ProduceRequest,
    v: i16,
    who: &super::Who<'_>,
    correlation_id: i32,
    header_version: i16,
) -> Result<super::Reply, FrameError> {
    let acks = req.acks;
    let mut refused = authorize(state, &req, v, who);
    let enrolled = super::txn::enroll_produce_partitions(state, &req, v, &refused).await;
    refused.extend(enrolled);
    let pending = append(state, req, v, &refused);
    if acks == 0 {
        if pending.acks0_failed() {
            // acks=0 has no response to carry an error: Kafka closes the connection instead.
            return Err(FrameError::Malformed(
                "acks=0 produce",
                "failed; closing the connection as Kafka does".into(),
            ));
        }
        return Ok(super::Reply::None);
    }
    let metrics = state.metrics.clone();
    Ok(super::Reply::Later(Box::pin(async move {
        let resp = pending.finish().await;
        super::errors::count(&metrics, kafka_protocol::messages::ApiKey::Produce, &resp);
        encode_response(correlation_id, header_version, v, &resp)
    })))
}

/// Kafka's checks before anything is appended, as (topic, partition) -> error: WRITE on the
/// transactional id of a transactional request (all partitions refused), then WRITE on each
/// topic. (An idempotent producer's right is checked at InitProducerId, as in Kafka.)
pub fn authorize(
    state: &BrokerState,
    req: &ProduceRequest,
    v: i16,
    who: &super::Who<'_>,
) -> std::collections::HashMap<(String, i32), i16> {
    use crate::security::acl::{op, resource};
    let mut refused = std::collections::HashMap::new();
    if !who.checked() {
        return refused;
    }
    let whole = match &req.transactional_id {
        Some(id) => (!who.may(op::WRITE, resource::TRANSACTIONAL_ID, id))
            .then_some(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        None => None,
    };
    for td in &req.topic_data {
        let name = if v >= 13 {
            state.logs.topic_by_id(td.topic_id).map(|t| t.name.clone())
        } else {
            Some(td.name.0.to_string())
        };
        let Some(name) = name else { continue };
        let c = whole.or_else(|| {
            (!who.may(op::WRITE, resource::TOPIC, &name)).then_some(code::TOPIC_AUTHORIZATION_FAILED)
        });
        if let Some(c) = c {
            for pd in &td.partition_data {
                refused.insert((name.clone(), pd.index), c);
            }
        }
    }
    refused
}

/// Appends every batch now (in request order) and queues the fsyncs acks=all needs; the caller
/// awaits [`Pending::finish`] for the response, so the connection can read the next request while
/// this one waits for its group commit.
pub fn append(
    state: &Arc<BrokerState>,
    req: ProduceRequest,
    v: i16,
    refused: &std::collections::HashMap<(String, i32), i16>,
) -> Pending {
    let now = state.logs.now_ms();
    let acks = req.acks;
    let mut topics_out = Vec::with_capacity(req.topic_data.len());
    // (topic slot, partition slot, ticket or commit) for acks=all.
    let mut waiting: Vec<(usize, usize, Result<SyncTicket, (Arc<Partition>, i64, i32)>)> = Vec::new();
    for td in req.topic_data {
        let topic = if v >= 13 { state.logs.topic_by_id(td.topic_id) } else { state.logs.topic(&td.name.0) };
        let unknown = if v >= 13 { code::UNKNOWN_TOPIC_ID } else { code::UNKNOWN_TOPIC_OR_PARTITION };
        let mut parts_out = Vec::with_capacity(td.partition_data.len());
        for pd in td.partition_data {
            let idx = pd.index;
            if !matches!(acks, -1..=1) {
                parts_out.push(failed(idx, code::INVALID_REQUIRED_ACKS, None, v));
                continue;
            }
            if let Some(c) =
                topic.as_ref().and_then(|t| refused.get(&(t.name.clone(), idx))).filter(|c| is_authz(**c))
            {
                parts_out.push(failed(idx, *c, None, v));
                continue;
            }
            let Some(p) = topic.as_ref().and_then(|t| t.partition(idx)) else {
                parts_out.push(failed(
                    idx,
                    if topic.is_some() { code::UNKNOWN_TOPIC_OR_PARTITION } else { unknown },
                    None,
                    v,
                ));
                continue;
            };
            let lead = p.check_leader(-1);
            if lead != LeaderCheck::Ok {
                parts_out.push(failed(idx, crate::protocol::error::leader_error(lead), None, v));
                continue;
            }
            if let Some(c) = refused.get(&(p.topic.clone(), idx)) {
                let msg = (!is_authz(*c))
                    .then(|| "the partition could not join the producer's transaction".to_string());
                parts_out.push(failed(idx, *c, msg, v));
                continue;
            }
            let min_isr = p.with_log(|l| l.config().min_insync_replicas);
            if acks == -1 && min_isr > 1 && !state.config.dev {
                // One node is an in-sync replica set of one: acks=all cannot meet min.insync.replicas.
                parts_out.push(failed(idx, code::NOT_ENOUGH_REPLICAS, Some(format!("The size of the current ISR 1 is insufficient to satisfy the min.isr requirement of {min_isr}")), v));
                continue;
            }
            if state.logs.storage_failed() {
                parts_out.push(failed(
                    idx,
                    code::KAFKA_STORAGE_ERROR,
                    Some("the log directory is offline".into()),
                    v,
                ));
                continue;
            }
            let Some(records) = pd.records else {
                parts_out.push(failed(idx, code::INVALID_RECORD, Some("no records".into()), v));
                continue;
            };
            // Produce v3+ carries exactly one batch per partition (Kafka refuses a second one before
            // looking at any of them, CRCs included).
            if crate::record::batch::BatchIter::new(&records).nth(1).is_some() {
                let msg = "a produce request (v3 and later) carries exactly one record batch per partition";
                parts_out.push(failed(idx, code::INVALID_RECORD, Some(msg.into()), v));
                continue;
            }
            let epoch = p.lead().epoch;
            match p.append(&records, now) {
                Ok(info) => {
                    let mut r = PartitionProduceResponse::default()
                        .with_index(idx)
                        .with_base_offset(info.base_offset)
                        .with_log_append_time_ms(info.log_append_time);
                    if v >= 5 {
                        r.log_start_offset = info.log_start_offset;
                    }
                    if acks == -1 {
                        let wait = if p.replicated() {
                            Err((p.clone(), info.last_offset + 1, epoch))
                        } else {
                            Ok(info.durable)
                        };
                        waiting.push((topics_out.len(), parts_out.len(), wait));
                    }
                    parts_out.push(r);
                }
                Err(e) => {
                    if !matches!(e, AppendError::Storage(_)) {
                        tracing::debug!(topic = %p.topic, partition = idx, error = %e, "produce rejected");
                    }
                    let mut r = failed(idx, append_error(&e), Some(e.to_string()), v);
                    if v >= 8 {
                        // Which records of the batch were refused, as Kafka reports them: the
                        // client fails those and the rest of the batch as collateral.
                        r.record_errors = match &e {
                            AppendError::Invalid(Invalid::Rejected { errors, .. }) => errors
                                .iter()
                                .map(|x| {
                                    BatchIndexAndErrorMessage::default()
                                        .with_batch_index(x.index as i32)
                                        .with_batch_index_error_message(Some(s(x.message.clone())))
                                })
                                .collect(),
                            AppendError::Invalid(Invalid::Record { index: Some(i), .. }) => {
                                vec![BatchIndexAndErrorMessage::default()
                                    .with_batch_index(*i as i32)
                                    .with_batch_index_error_message(Some(s(e.to_string())))]
                            }
                            _ => Vec::new(),
                        };
                    }
                    parts_out.push(r);
                }
            }
        }
        let mut t = TopicProduceResponse::default().with_partition_responses(parts_out);
        if v >= 13 {
            t.topic_id = td.topic_id;
        } else {
            t.name = td.name;
        }
        topics_out.push(t);
    }
    // Queue every ticket now, so one fsync round serves all of them (group commit).
    let waiting = waiting
        .into_iter()
        .map(|(ti, pi, w)| {
            let w = match w {
                Ok(t) => Wait::Sync(t.submit()),
                Err((p, offset, epoch)) => Wait::Commit(p, offset, epoch),
            };
            (ti, pi, w)
        })
        .collect();
    Pending { v, response: ProduceResponse::default().with_responses(topics_out), waiting }
}
