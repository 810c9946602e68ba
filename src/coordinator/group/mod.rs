//! The group coordinator: an async shell around the pure state machine in [`state`].
//!
//! The shell owns what the state machine must not: the clock, the parked requests (one oneshot
//! per [`state::WaiterId`]), a timer task, and `__consumer_offsets`, the compacted internal topic
//! the records go to. Every call runs the state machine under a short `parking_lot` lock (never
//! held across an `.await`), appends the records it returns (waiting for the fsync, so a committed
//! offset is durable when OffsetCommit returns), replays them, and only then delivers the replies.
//! At start it replays `__consumer_offsets` to rebuild every group.
pub mod consumer;
pub mod records;
pub mod state;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::log::{LogManager, Topic, TopicError};
use records::GroupRecord;
use state::{GroupConfig, Groups, Outcome, Reply, WaiterId};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("cannot write __consumer_offsets: {0}")]
    Storage(String),
    #[error("cannot create __consumer_offsets: {0}")]
    Topic(#[from] TopicError),
}

pub struct GroupCoordinator {
    state: Mutex<Groups>,
    waiters: Mutex<HashMap<WaiterId, oneshot::Sender<Reply>>>,
    next_waiter: AtomicU64,
    topic: Mutex<Option<Arc<Topic>>>,
    partitions: i32,
}

impl GroupCoordinator {
    /// Loads every group from `__consumer_offsets`, if it exists.
    pub fn open(
        logs: &LogManager,
        config: GroupConfig,
        partitions: i32,
    ) -> Result<GroupCoordinator, CoordinatorError> {
        let mut groups = Groups::new(config);
        let now = crate::clock::now_ms();
        let topic = logs.topic(OFFSETS_TOPIC);
        if let Some(t) = &topic {
            let mut n = 0usize;
            super::replay_topic(t, |rec| {
                if rec.control {
                    // A transaction marker decides the offsets committed in it.
                    let commit = rec
                        .key
                        .as_ref()
                        .is_some_and(|k| k.len() >= 4 && i16::from_be_bytes([k[2], k[3]]) == 1);
                    groups.complete_txn(rec.producer_id, commit, now);
                    return;
                }
                if let Some(gr) = rec.key.as_ref().and_then(|k| GroupRecord::decode(k, rec.value.as_deref()))
                {
                    if rec.transactional {
                        groups.add_pending(rec.producer_id, vec![gr]);
                    } else {
                        groups.replay(&gr, true, now);
                    }
                    n += 1;
                }
            })
            .map_err(CoordinatorError::Storage)?;
            tracing::info!(
                records = n,
                groups = groups.groups().count(),
                "loaded consumer groups from __consumer_offsets"
            );
        }
        Ok(GroupCoordinator {
            state: Mutex::new(groups),
            waiters: Mutex::new(HashMap::new()),
            next_waiter: AtomicU64::new(1),
            topic: Mutex::new(topic),
            partitions,
        })
    }

    /// `__consumer_offsets`, created on first use (compacted, as Kafka does).
    pub fn offsets_topic(&self, logs: &LogManager) -> Result<Arc<Topic>, CoordinatorError> {
        if let Some(t) = self.topic.lock().clone() {
            return Ok(t);
        }
        let t = super::internal_topic(logs, OFFSETS_TOPIC, self.partitions)?;
        *self.topic.lock() = Some(t.clone());
        Ok(t)
    }

    /// Runs `f` on the state machine under the lock.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut Groups) -> R) -> R {
        f(&mut self.state.lock())
    }

    pub fn new_waiter(&self) -> (WaiterId, oneshot::Receiver<Reply>) {
        let id = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().insert(id, tx);
        (id, rx)
    }

    pub fn drop_waiter(&self, id: WaiterId) {
        self.waiters.lock().remove(&id);
    }

    /// Persists the outcome's records (fsynced), replays them, then delivers its replies.
    pub async fn apply(&self, logs: &LogManager, out: Outcome) -> Result<(), CoordinatorError> {
        let mut result = Ok(());
        if !out.records.is_empty() {
            result = self.persist(logs, &out.records).await;
            if result.is_ok() {
                let now = crate::clock::now_ms();
                let mut st = self.state.lock();
                for r in &out.records {
                    st.replay(r, false, now);
                }
            }
        }
        let mut ws = self.waiters.lock();
        for (id, reply) in out.replies {
            if let Some(tx) = ws.remove(&id) {
                let _ = tx.send(reply);
            }
        }
        result
    }

    async fn persist(&self, logs: &LogManager, recs: &[GroupRecord]) -> Result<(), CoordinatorError> {
        let topic = self.offsets_topic(logs)?;
        let now = crate::clock::now_ms();
        // Group the records by their partition (group id hash), one batch per partition.
        let mut by_partition: HashMap<i32, Vec<&GroupRecord>> = HashMap::new();
        for r in recs {
            by_partition
                .entry(records::partition_for(r.group(), topic.partition_count()))
                .or_default()
                .push(r);
        }
        let mut syncs = Vec::new();
        for (p, rs) in by_partition {
            let part = topic
                .partition(p)
                .ok_or_else(|| CoordinatorError::Storage(format!("partition {p} missing")))?;
            let batch = encode_batch(&rs, now).map_err(CoordinatorError::Storage)?;
            let info = part.append(&batch, now).map_err(|e| CoordinatorError::Storage(e.to_string()))?;
            syncs.push(info.durable.submit());
        }
        for durable in syncs {
            durable.wait().await.map_err(|e| CoordinatorError::Storage(e.to_string()))?;
        }
        Ok(())
    }

    /// A transaction marker for `pid` was written to `__consumer_offsets`.
    pub fn complete_txn(&self, pid: i64, commit: bool) {
        self.state.lock().complete_txn(pid, commit, crate::clock::now_ms());
    }

    /// Appends offsets committed in producer `pid`'s transaction (a transactional batch, fsynced);
    /// they stay pending until the transaction's marker.
    pub async fn persist_txn_offsets(
        &self,
        logs: &LogManager,
        pid: i64,
        epoch: i16,
        recs: Vec<GroupRecord>,
    ) -> Result<(), CoordinatorError> {
        if recs.is_empty() {
            return Ok(());
        }
        let topic = self.offsets_topic(logs)?;
        let now = crate::clock::now_ms();
        let mut by_partition: HashMap<i32, Vec<&GroupRecord>> = HashMap::new();
        for r in &recs {
            by_partition
                .entry(records::partition_for(r.group(), topic.partition_count()))
                .or_default()
                .push(r);
        }
        for (p, rs) in by_partition {
            let part = topic
                .partition(p)
                .ok_or_else(|| CoordinatorError::Storage(format!("partition {p} missing")))?;
            // One batch per record: a producer's batches carry no sequence here (-1), and the
            // log accepts one batch per append from a producer id.
            let mut last = None;
            for r in rs {
                let batch = encode_txn_batch(&[r], pid, epoch, now).map_err(CoordinatorError::Storage)?;
                last = Some(part.append(&batch, now).map_err(|e| CoordinatorError::Storage(e.to_string()))?);
            }
            let Some(info) = last else { continue };
            info.durable.submit().wait().await.map_err(|e| CoordinatorError::Storage(e.to_string()))?;
        }
        self.state.lock().add_pending(pid, recs);
        Ok(())
    }

    /// Topic metadata for the consumer-protocol assignors.
    pub fn topics_view(logs: &LogManager) -> consumer::TopicsView {
        logs.topics().iter().map(|t| (t.name.clone(), (t.id, t.partition_count()))).collect()
    }

    /// Timer: session expiry, rebalance deadlines, retention.
    pub async fn tick(&self, logs: &LogManager) {
        let now = crate::clock::now_ms();
        let has_consumer_groups = !self.state.lock().consumer.groups.is_empty();
        if has_consumer_groups {
            let view = Self::topics_view(logs);
            for (g, m) in self.state.lock().consumer.tick(&view, now) {
                tracing::info!(group = %g, member = %m, "consumer-protocol member expired");
            }
        }
        let out = self.state.lock().tick(now);
        if !out.records.is_empty() || !out.replies.is_empty() {
            if let Err(e) = self.apply(logs, out).await {
                tracing::warn!(error = %e, "group coordinator timer could not persist");
            }
        }
    }
}

/// Offsets of a transaction: a transactional batch of producer `pid`.
fn encode_txn_batch(recs: &[&GroupRecord], pid: i64, epoch: i16, now: i64) -> Result<Bytes, String> {
    encode_records(recs, now, Some((pid, epoch)))
}

fn encode_batch(recs: &[&GroupRecord], now: i64) -> Result<Bytes, String> {
    encode_records(recs, now, None)
}

fn encode_records(recs: &[&GroupRecord], now: i64, txn: Option<(i64, i16)>) -> Result<Bytes, String> {
    let records: Vec<Record> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (k, v) = r.encode();
            Record {
                transactional: txn.is_some(),
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: txn.map(|t| t.0).unwrap_or(-1),
                producer_epoch: txn.map(|t| t.1).unwrap_or(-1),
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder starts a new batch wherever offset - sequence changes: keeping it
                // constant (base sequence -1, "none") makes one batch of all, so a commit is
                // stored whole or not at all, as Kafka stores it.
                sequence: i as i32 - 1,
                timestamp: now,
                key: Some(k),
                value: v,
                headers: Default::default(),
            }
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &records,
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .map_err(|e| e.to_string())?;
    Ok(b.freeze())
}

#[cfg(test)]
mod one_batch_test {
    use super::*;
    use crate::record::BatchHeader;

    #[test]
    fn a_commit_of_many_offsets_is_one_batch() {
        let recs: Vec<GroupRecord> = (0..5)
            .map(|p| GroupRecord::Offset { group: "g".into(), topic: "t".into(), partition: p, value: None })
            .collect();
        let refs: Vec<&GroupRecord> = recs.iter().collect();
        for b in [encode_batch(&refs, 1).unwrap(), encode_txn_batch(&refs, 7, 0, 1).unwrap()] {
            let h = BatchHeader::parse(&b).unwrap();
            assert_eq!((h.records_count, h.total_len(), h.base_sequence), (5, b.len(), -1));
        }
    }
}
