//! The group coordinator: an async shell around the pure state machine in [`state`].
//!
//! The shell owns what the state machine must not: the clock, the parked requests (one oneshot
//! per [`state::WaiterId`]), a timer task, and `__consumer_offsets`, the compacted internal topic
//! the records go to. Every call runs the state machine under a short `parking_lot` lock (never
//! held across an `.await`), appends the records it returns (waiting for the fsync, so a committed
//! offset is durable when OffsetCommit returns), replays them, and only then delivers the replies.
//! At start it replays `__consumer_offsets` to rebuild every group. KIP-848 groups are the one
//! exception to "replay first": a heartbeat changes the group in memory, its records are written
//! before the answer, and a failed write puts the snapshot taken before it back.
pub mod consumer;
pub mod consumer_records;
pub mod records;
pub mod state;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::StorageError;
use crate::log::{LogManager, Topic};
use consumer::ConsumerGroupError;
use records::GroupRecord;
use state::{GroupConfig, GroupError, Groups, JoinInput, OffsetInput, Outcome, Reply, SyncInput, WaiterId};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// A partition's result with what became of the write that carries it: partitions the state
/// machine accepted fail with `write`'s error when the records could not be made durable.
#[derive(Debug)]
pub struct Written<T> {
    pub value: T,
    pub write: Result<(), StorageError>,
}

/// Why DeleteGroups could not delete a group.
#[derive(Debug, thiserror::Error)]
pub enum DeleteGroupError {
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why ConsumerGroupHeartbeat failed: the protocol's answer, or the write of its records.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerHeartbeatError {
    #[error(transparent)]
    Group(#[from] ConsumerGroupError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One partition's committed-offset answer: (topic, partition, error from the state machine).
pub type PartitionResult = (String, i32, Option<GroupError>);

/// The group coordinator service: handlers call its operations and get domain results; it runs
/// the state machine, persists what it returns and delivers the replies. Read-only views
/// (`view`) serve the Describe and List APIs.
pub struct GroupCoordinator {
    logs: Arc<LogManager>,
    state: Mutex<Groups>,
    waiters: Mutex<HashMap<WaiterId, oneshot::Sender<Reply>>>,
    next_waiter: AtomicU64,
    topic: Mutex<Option<Arc<Topic>>>,
    partitions: i32,
    ticking: tokio::sync::Mutex<()>,
}

impl GroupCoordinator {
    /// Loads every group from `__consumer_offsets`, if it exists.
    pub fn open(
        logs: &Arc<LogManager>,
        config: GroupConfig,
        partitions: i32,
    ) -> Result<GroupCoordinator, StorageError> {
        let mut groups = Groups::new(config);
        let now = logs.now_ms();
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
            })?;
            let members = groups.consumer.loaded(&Self::topics_view(logs), now);
            tracing::info!(
                records = n,
                groups = groups.groups().count(),
                consumer_groups = groups.consumer.groups.len(),
                consumer_members = members,
                "loaded consumer groups from __consumer_offsets"
            );
        }
        Ok(GroupCoordinator {
            logs: logs.clone(),
            state: Mutex::new(groups),
            waiters: Mutex::new(HashMap::new()),
            next_waiter: AtomicU64::new(1),
            topic: Mutex::new(topic),
            partitions,
            ticking: tokio::sync::Mutex::new(()),
        })
    }

    /// `__consumer_offsets`, created on first use (compacted, as Kafka does).
    pub fn offsets_topic(&self) -> Result<Arc<Topic>, StorageError> {
        if let Some(t) = self.topic.lock().clone() {
            return Ok(t);
        }
        let t = super::internal_topic(&self.logs, OFFSETS_TOPIC, self.partitions)?;
        *self.topic.lock() = Some(t.clone());
        Ok(t)
    }

    /// The `__consumer_offsets` partition that holds `group`.
    pub fn partition_for(&self, group: &str) -> Result<i32, StorageError> {
        Ok(records::partition_for(group, self.offsets_topic()?.partition_count()))
    }

    /// A read-only view of the groups (Describe, List, and the checks other APIs make).
    pub fn view<R>(&self, f: impl FnOnce(&Groups) -> R) -> R {
        f(&self.state.lock())
    }

    pub fn config(&self) -> GroupConfig {
        self.state.lock().config.clone()
    }

    /// JoinGroup: parks until the group's rebalance completes (or answers at once).
    pub async fn join(&self, input: JoinInput) -> Option<Reply> {
        let (id, rx) = self.new_waiter();
        let out = self.state.lock().join(input, self.logs.now_ms(), id);
        self.apply_and_wait(out, id, rx).await
    }

    /// SyncGroup: parks until the leader's assignment arrives (or answers at once).
    pub async fn sync(&self, input: SyncInput) -> Option<Reply> {
        let (id, rx) = self.new_waiter();
        let out = self.state.lock().sync(input, self.logs.now_ms(), id);
        self.apply_and_wait(out, id, rx).await
    }

    pub fn heartbeat(
        &self,
        group: &str,
        member: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), GroupError> {
        self.state.lock().heartbeat(group, member, instance, generation, self.logs.now_ms())
    }

    /// LeaveGroup: the top-level error and one result per (member id, instance id).
    #[allow(clippy::type_complexity)]
    pub async fn leave(
        &self,
        group: &str,
        members: &[(String, Option<String>)],
    ) -> (Option<GroupError>, Vec<(String, Option<String>, Option<GroupError>)>) {
        let (top, results, out) = self.state.lock().leave(group, members, self.logs.now_ms());
        if let Err(e) = self.apply(out).await {
            tracing::warn!(group, error = %e, "group coordinator write failed");
        }
        (top, results)
    }

    /// OffsetCommit (classic generation or KIP-848 member epoch), durable when it returns.
    pub async fn commit_offsets(
        &self,
        group: &str,
        generation_or_epoch: i32,
        member: &str,
        instance: Option<&str>,
        offsets: Vec<OffsetInput>,
    ) -> Written<Vec<PartitionResult>> {
        let (value, out) = self.state.lock().commit_offsets(
            group,
            generation_or_epoch,
            member,
            instance,
            offsets,
            self.logs.now_ms(),
        );
        Written { value, write: self.apply(out).await }
    }

    /// OffsetFetch: every asked partition (or all the group has) with its committed offset.
    pub fn fetch_offsets(
        &self,
        group: &str,
        asked: Option<&[(String, i32)]>,
    ) -> Vec<(String, i32, Option<records::CommittedOffset>)> {
        self.state.lock().fetch_offsets(group, asked)
    }

    /// Whether a transaction holds offsets of `group` not yet decided (require_stable).
    pub fn has_pending(&self, group: &str) -> bool {
        self.state.lock().has_pending(group)
    }

    /// OffsetFetch v9+: a KIP-848 member may read its group's offsets only with its current epoch.
    pub fn validate_offset_access(
        &self,
        group: &str,
        member: &str,
        epoch: i32,
    ) -> Result<(), ConsumerGroupError> {
        let st = self.state.lock();
        if st.consumer.has_members(group) {
            st.consumer.validate_offset_access(group, member, epoch)
        } else {
            Ok(())
        }
    }

    /// DeleteGroups: an empty group and its offsets (tombstones, durable when it returns).
    pub async fn delete_group(&self, group: &str) -> Result<(), DeleteGroupError> {
        let out = self.state.lock().delete_group(group)?;
        Ok(self.apply(out).await?)
    }

    /// OffsetDelete: offsets of topics the group does not subscribe to.
    pub async fn delete_offsets(
        &self,
        group: &str,
        asked: &[(String, i32)],
    ) -> Result<Written<Vec<PartitionResult>>, GroupError> {
        let (value, out) = {
            let mut st = self.state.lock();
            let subscribed = subscribed_topics(&st, group);
            st.delete_offsets(group, asked, &subscribed)?
        };
        Ok(Written { value, write: self.apply(out).await })
    }

    /// ConsumerGroupHeartbeat (KIP-848): join, heartbeat, leave; returns the answer and the
    /// heartbeat interval to tell the member.
    pub async fn consumer_heartbeat(
        &self,
        input: consumer::HeartbeatInput,
    ) -> Result<(consumer::HeartbeatResult, i32), ConsumerHeartbeatError> {
        let view = Self::topics_view(&self.logs);
        let group = input.group_id.clone();
        let (hb, interval, before, recs) = {
            let mut st = self.state.lock();
            if st.is_active_classic(&input.group_id) {
                return Err(ConsumerGroupError::GroupIdNotFound.into());
            }
            let interval = st.config.consumer_heartbeat_interval_ms;
            let before = st.consumer.groups.get(&group).cloned();
            match st.consumer.heartbeat(input, &view, self.logs.now_ms()) {
                Ok(hb) => {
                    let after = st.consumer.groups.get(&group);
                    if after.map(|g| g.group_epoch) != before.as_ref().map(|g| g.group_epoch) {
                        self.logs
                            .metrics()
                            .rebalances_consumer
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let recs = consumer::records_between(&group, before.as_ref(), after);
                    (hb, interval, before, recs)
                }
                Err(e) => {
                    st.consumer.restore(&group, before);
                    return Err(e.into());
                }
            }
        };
        // The answer waits for the records: a member's epoch and assignment are durable before
        // it acts on them. A failed write puts the group back as it was.
        if !recs.is_empty() {
            if let Err(e) = self.persist(&recs).await {
                self.state.lock().consumer.restore(&group, before);
                return Err(e.into());
            }
        }
        Ok((hb, interval))
    }

    /// TxnOffsetCommit: validated like OffsetCommit, written as a transactional batch of producer
    /// `pid`; the offsets stay pending until the transaction's marker.
    #[allow(clippy::too_many_arguments)]
    pub async fn txn_commit_offsets(
        &self,
        pid: i64,
        epoch: i16,
        group: &str,
        generation: i32,
        member: &str,
        instance: Option<&str>,
        offsets: Vec<OffsetInput>,
    ) -> Written<Vec<PartitionResult>> {
        let (value, out) = self.state.lock().txn_commit_offsets(
            group,
            generation,
            member,
            instance,
            offsets,
            self.logs.now_ms(),
        );
        Written { value, write: self.persist_txn_offsets(pid, epoch, out.records).await }
    }

    fn new_waiter(&self) -> (WaiterId, oneshot::Receiver<Reply>) {
        let id = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().insert(id, tx);
        (id, rx)
    }

    async fn apply_and_wait(
        &self,
        out: Outcome,
        id: WaiterId,
        rx: oneshot::Receiver<Reply>,
    ) -> Option<Reply> {
        if let Err(e) = self.apply(out).await {
            tracing::warn!(error = %e, "group coordinator write failed");
        }
        match rx.await {
            Ok(r) => Some(r),
            Err(_) => {
                self.waiters.lock().remove(&id);
                None
            }
        }
    }

    /// Persists the outcome's records (fsynced), replays them, then delivers its replies.
    async fn apply(&self, out: Outcome) -> Result<(), StorageError> {
        if out.rebalances > 0 {
            self.logs
                .metrics()
                .rebalances_classic
                .fetch_add(out.rebalances, std::sync::atomic::Ordering::Relaxed);
        }
        let mut result = Ok(());
        if !out.records.is_empty() {
            result = self.persist(&out.records).await;
            if result.is_ok() {
                let now = self.logs.now_ms();
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

    async fn persist(&self, recs: &[GroupRecord]) -> Result<(), StorageError> {
        if recs.is_empty() {
            return Ok(());
        }
        let topic = self.offsets_topic()?;
        let now = self.logs.now_ms();
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
            let part = super::partition_of(&topic, p)?;
            let batch = encode_batch(&rs, now).map_err(StorageError::Encode)?;
            syncs.push(part.append(&batch, now)?.durable);
        }
        super::wait_durable(syncs).await
    }

    /// A transaction marker for `pid` was written to `__consumer_offsets`.
    pub fn complete_txn(&self, pid: i64, commit: bool) {
        self.state.lock().complete_txn(pid, commit, self.logs.now_ms());
    }

    /// Appends offsets committed in producer `pid`'s transaction (a transactional batch, fsynced);
    /// they stay pending until the transaction's marker.
    async fn persist_txn_offsets(
        &self,
        pid: i64,
        epoch: i16,
        recs: Vec<GroupRecord>,
    ) -> Result<(), StorageError> {
        if recs.is_empty() {
            return Ok(());
        }
        let topic = self.offsets_topic()?;
        let now = self.logs.now_ms();
        let mut by_partition: HashMap<i32, Vec<&GroupRecord>> = HashMap::new();
        for r in &recs {
            by_partition
                .entry(records::partition_for(r.group(), topic.partition_count()))
                .or_default()
                .push(r);
        }
        let mut syncs = Vec::new();
        for (p, rs) in by_partition {
            let part = super::partition_of(&topic, p)?;
            // One batch for the partition's offsets: stored whole or not at all.
            let batch = encode_txn_batch(&rs, pid, epoch, now).map_err(StorageError::Encode)?;
            syncs.push(part.append_from_coordinator(&batch, now)?.durable);
        }
        super::wait_durable(syncs).await?;
        self.state.lock().add_pending(pid, recs);
        Ok(())
    }

    /// Topic metadata for the consumer-protocol assignors.
    pub fn topics_view(logs: &LogManager) -> consumer::TopicsView {
        logs.topics().iter().map(|t| (t.name.clone(), (t.id, t.partition_count()))).collect()
    }

    /// Timer: session expiry, rebalance deadlines, retention.
    pub async fn tick(&self) {
        // One tick at a time (the broker's timer and the control API's advance): a tick that
        // finds nothing due returns only after one already running has persisted what it found.
        let _one = self.ticking.lock().await;
        let now = self.logs.now_ms();
        let has_consumer_groups = !self.state.lock().consumer.groups.is_empty();
        if has_consumer_groups {
            let view = Self::topics_view(&self.logs);
            let (expired, recs) = self.state.lock().consumer.tick(&view, now);
            let groups: std::collections::BTreeSet<&String> = expired.iter().map(|(g, _)| g).collect();
            self.logs
                .metrics()
                .rebalances_consumer
                .fetch_add(groups.len() as u64, std::sync::atomic::Ordering::Relaxed);
            for (g, m) in expired {
                tracing::info!(group = %g, member = %m, "consumer-protocol member expired");
            }
            if let Err(e) = self.persist(&recs).await {
                tracing::warn!(error = %e, "expired consumer-protocol members could not be written");
            }
        }
        let out = self.state.lock().tick(now);
        if !out.records.is_empty() || !out.replies.is_empty() {
            if let Err(e) = self.apply(out).await {
                tracing::warn!(error = %e, "group coordinator timer could not persist");
            }
        }
    }
}

/// Topics the members of a classic `consumer` group subscribe to (from their ConsumerProtocol
/// metadata): OffsetDelete refuses to delete their offsets.
fn subscribed_topics(gs: &Groups, group: &str) -> HashSet<String> {
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::Decodable;
    let mut out = HashSet::new();
    if let Some(g) = gs.group(group) {
        if g.protocol_type.as_deref() == Some("consumer") {
            for m in &g.members {
                for (_, md) in &m.protocols {
                    let mut b = md.clone();
                    if b.len() < 2 {
                        continue;
                    }
                    let version = i16::from_be_bytes([b[0], b[1]]);
                    let _ = bytes::Buf::get_i16(&mut b);
                    if let Ok(sub) = ConsumerProtocolSubscription::decode(&mut b, version.clamp(0, 3)) {
                        out.extend(sub.topics.iter().map(|t| t.to_string()));
                    }
                }
            }
        }
    }
    out
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
