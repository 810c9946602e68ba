//! Fetch: read batch bytes from each partition, long-poll until `min_bytes` or `max_wait_ms`.
//!
//! Memory is the broker's, not the client's: the response is capped by `fetch.max.bytes`, a
//! parked fetch only counts bytes (it reads once, when it answers), buffers are sized by what is
//! there to read, and the data is leased from the broker's pool until written.
//!
//! Sessionless: every answer carries session id 0, which clients treat as "no incremental
//! session" and keep sending full requests (KIP-227 allows it). The first batch is returned whole
//! even when it exceeds the byte limits, so a consumer always makes progress (KIP-74).
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::sync::Notify;

use crate::log::{Partition, ReadError};
use crate::protocol::error::{code, read_error};
use crate::state::BrokerState;

/// Kafka's isolation level value for read_committed.
const READ_COMMITTED: i8 = 1;

struct Slot {
    partition: Option<Arc<Partition>>,
    index: i32,
    fetch_offset: i64,
    max_bytes: i32,
    error: i16,
}

pub async fn handle(
    state: &Arc<BrokerState>,
    req: FetchRequest,
    v: i16,
    ctx: &mut super::RequestCtx,
    who: &super::Who<'_>,
) -> FetchResponse {
    if v >= 7 && req.session_id != 0 {
        return FetchResponse::default().with_error_code(code::FETCH_SESSION_ID_NOT_FOUND);
    }
    if v >= 7 && req.session_epoch > 0 {
        return FetchResponse::default().with_error_code(code::INVALID_FETCH_SESSION_EPOCH);
    }
    // A fetch claiming to come from a replica (a follower broker): this node has no followers, so
    // like Kafka's leader it refuses the claim per partition: UNKNOWN_LEADER_EPOCH when the fetch
    // names an epoch, else NOT_LEADER_OR_FOLLOWER.
    let replica_id = if v >= 15 { req.replica_state.replica_id.0 } else { req.replica_id.0 };
    let from_follower = replica_id >= 0;
    let mut topics: Vec<(FetchableTopicResponse, Vec<Slot>)> = Vec::with_capacity(req.topics.len());
    for ft in &req.topics {
        let topic = if v >= 13 { state.logs.topic_by_id(ft.topic_id) } else { state.logs.topic(&ft.topic.0) };
        let mut head = FetchableTopicResponse::default();
        if v >= 13 {
            head.topic_id = ft.topic_id;
        } else {
            head.topic = ft.topic.clone();
        }
        // READ on the topic, by name (Kafka answers TOPIC_AUTHORIZATION_FAILED before it says
        // whether a topic named by name exists).
        // (Skipped without an authorizer: nothing is allocated on the hot path.)
        let denied = who.checked() && {
            let name: Option<&str> =
                if v >= 13 { topic.as_ref().map(|t| t.name.as_str()) } else { Some(ft.topic.0.as_str()) };
            name.is_some_and(|n| {
                !who.may(crate::security::acl::op::READ, crate::security::acl::resource::TOPIC, n)
            })
        };
        let slots = ft
            .partitions
            .iter()
            .map(|fp| {
                let partition =
                    if denied { None } else { topic.as_ref().and_then(|t| t.partition(fp.partition)) };
                let error = if denied {
                    code::TOPIC_AUTHORIZATION_FAILED
                } else if topic.is_none() && v >= 13 {
                    code::UNKNOWN_TOPIC_ID
                } else if partition.is_none() {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                } else if let Some(c) = partition
                    .as_ref()
                    .map(|p| p.check_leader(fp.current_leader_epoch))
                    .filter(|c| *c != crate::log::partition::LeaderCheck::Ok)
                {
                    crate::protocol::error::leader_error(c)
                } else if from_follower {
                    if fp.current_leader_epoch >= 0 {
                        code::UNKNOWN_LEADER_EPOCH
                    } else {
                        code::NOT_LEADER_OR_FOLLOWER
                    }
                } else {
                    code::NONE
                };
                Slot {
                    partition,
                    index: fp.partition,
                    fetch_offset: fp.fetch_offset,
                    max_bytes: fp.partition_max_bytes,
                    error,
                }
            })
            .collect();
        topics.push((head, slots));
    }
    let max_bytes = if v >= 3 {
        req.max_bytes.clamp(0, state.config.fetch_max_bytes())
    } else {
        state.config.fetch_max_bytes()
    };
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(req.max_wait_ms.clamp(0, 300_000) as u64);
    let read_committed = v >= 4 && req.isolation_level == READ_COMMITTED;
    // Park until min_bytes have arrived or max_wait passes, counting bytes without reading them:
    // a parked fetch holds no data, and it ends as soon as its connection closes.
    let planned = loop {
        // Register before counting, so an append between the count and the wait is not missed.
        let notify = Arc::new(Notify::new());
        for (_, slots) in &topics {
            for s in slots.iter() {
                if let Some(p) = &s.partition {
                    p.add_waiter(notify.clone());
                }
            }
        }
        let (bytes, errors) = count_all(&topics, max_bytes, read_committed);
        let now = tokio::time::Instant::now();
        if req.min_bytes <= 0
            || bytes >= req.min_bytes as usize
            || errors
            || now >= deadline
            || topics.is_empty()
        {
            break bytes;
        }
        let _parked = Parked::new(&state.metrics);
        tokio::select! {
            r = tokio::time::timeout_at(deadline, notify.notified()) => {
                if r.is_err() {
                    // Timed out: answer with whatever is there now (possibly nothing).
                    break count_all(&topics, max_bytes, read_committed).0;
                }
            }
            _ = ctx.gone() => return FetchResponse::default(),
        }
    };
    // The answer's data comes out of the broker's memory budget and goes back once the answer
    // is written. Reads are capped by what was leased; when the budget stays spent for half a
    // second the answer carries less (possibly nothing) rather than wait behind the requests
    // queued on other connections.
    let lease =
        state.memory.lease_by(planned, tokio::time::Instant::now() + Duration::from_millis(500)).await;
    let budget = (lease.bytes() as i32).min(max_bytes);
    ctx.lease = Some(lease);
    read_all(state, &topics, budget, read_committed, v).0
}

/// Counts a fetch as parked (Kafka's fetch purgatory size) while it waits.
struct Parked<'a>(&'a crate::metrics::Metrics);

impl<'a> Parked<'a> {
    fn new(m: &'a crate::metrics::Metrics) -> Parked<'a> {
        m.fetch_waiters.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Parked(m)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.fetch_waiters.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The bytes [`read_all`] would return now, and whether any partition has an error.
fn count_all(
    topics: &[(FetchableTopicResponse, Vec<Slot>)],
    max_bytes: i32,
    read_committed: bool,
) -> (usize, bool) {
    let mut total = 0usize;
    let mut any_error = false;
    for (_, slots) in topics {
        for s in slots {
            let Some(p) = s.partition.as_ref().filter(|_| s.error == code::NONE) else {
                any_error = true;
                continue;
            };
            let budget = (max_bytes as usize).saturating_sub(total).min(s.max_bytes.max(0) as usize) as u32;
            let min_one = total == 0;
            if budget == 0 && !min_one {
                continue;
            }
            let upper = if read_committed { p.last_stable_offset() } else { i64::MAX };
            match p.readable_bytes(s.fetch_offset, budget, min_one, upper) {
                Ok(n) => total += n as usize,
                Err(_) => any_error = true,
            }
        }
    }
    (total, any_error)
}

fn read_all(
    state: &Arc<BrokerState>,
    topics: &[(FetchableTopicResponse, Vec<Slot>)],
    max_bytes: i32,
    read_committed: bool,
    v: i16,
) -> (FetchResponse, usize, bool) {
    let mut total = 0usize;
    let mut any_error = false;
    let mut out = Vec::with_capacity(topics.len());
    for (head, slots) in topics {
        let mut t = head.clone();
        for s in slots {
            let mut pd = PartitionData::default().with_partition_index(s.index);
            if read_committed {
                pd.aborted_transactions = Some(vec![]);
            }
            let Some(p) = s.partition.as_ref().filter(|_| s.error == code::NONE) else {
                unreadable(&mut pd, s.error);
                any_error = true;
                t.partitions.push(pd);
                continue;
            };
            let budget = (max_bytes as usize).saturating_sub(total).min(s.max_bytes.max(0) as usize) as u32;
            let min_one = total == 0;
            // read_committed stops at the last stable offset and lists the aborted transactions in
            // the returned range, so the client can drop their records.
            let stable = p.last_stable_offset();
            let upper = if read_committed { stable } else { i64::MAX };
            let result = if budget == 0 && !min_one {
                Ok(crate::log::ReadInfo {
                    records: bytes::Bytes::new(),
                    high_watermark: p.high_watermark(),
                    log_start_offset: p.log_start_offset(),
                    aborted: Vec::new(),
                })
            } else {
                p.read_until(s.fetch_offset, budget, min_one, upper, read_committed)
            };
            match result {
                Ok(r) => {
                    total += r.records.len();
                    if state.metrics.enabled() {
                        p.traffic.fetched(&r.records);
                    }
                    pd.high_watermark = r.high_watermark;
                    pd.last_stable_offset = stable;
                    pd.log_start_offset = r.log_start_offset;
                    if read_committed && !r.records.is_empty() {
                        pd.aborted_transactions = Some(
                            r.aborted
                                .into_iter()
                                .map(|(pid, first)| {
                                    kafka_protocol::messages::fetch_response::AbortedTransaction::default()
                                        .with_producer_id(kafka_protocol::messages::ProducerId(pid))
                                        .with_first_offset(first)
                                })
                                .collect(),
                        );
                    }
                    pd.records = Some(r.records);
                }
                Err(e) => {
                    if let ReadError::Storage(io) = &e {
                        tracing::error!(topic = %p.topic, partition = s.index, error = %io, "fetch read failed");
                    }
                    unreadable(&mut pd, read_error(&e));
                    any_error = true;
                }
            }
            if v < 5 {
                pd.log_start_offset = -1;
            }
            t.partitions.push(pd);
        }
        out.push(t);
    }
    (FetchResponse::default().with_responses(out), total, any_error)
}

/// A partition answered with an error carries no offsets (-1), as Kafka answers one it could not
/// read: the client goes by its reset policy and ListOffsets, not by these.
fn unreadable(pd: &mut PartitionData, error: i16) {
    pd.error_code = error;
    pd.high_watermark = -1;
    pd.last_stable_offset = -1;
    pd.log_start_offset = -1;
}
