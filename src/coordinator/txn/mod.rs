//! The transaction coordinator: an async shell around the pure state machine in [`state`].
//!
//! Owns `__transaction_state` (compacted, Kafka's schemas, partition = hash of the transactional
//! id), the ordering of a transaction's end (Prepare record -> markers on every partition, fsynced
//! -> Complete record), timeouts, and recovery: at start it replays the topic and finishes any
//! transaction a crash left in a Prepare state. Operations are serialized by one async mutex: a
//! transaction's steps never interleave with another request for the same coordinator. Offsets
//! committed in a transaction are handed to the group coordinator, which applies them when the
//! COMMIT marker reaches `__consumer_offsets`.
pub mod records;
pub mod state;

use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use parking_lot::Mutex;

use crate::coordinator::group::GroupCoordinator;
use crate::log::{LogManager, Topic, TopicError};
use state::{InitOutcome, MarkerJob, TxnError, TxnRecord, Txns};

pub const TXN_TOPIC: &str = "__transaction_state";

/// Coordinator failures that are not the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum TxnShellError {
    #[error(transparent)]
    Txn(#[from] TxnError),
    #[error("transaction coordinator storage: {0}")]
    Storage(String),
}

impl From<TopicError> for TxnShellError {
    fn from(e: TopicError) -> Self {
        TxnShellError::Storage(e.to_string())
    }
}

pub struct TxnCoordinator {
    state: Mutex<Txns>,
    topic: Mutex<Option<Arc<Topic>>>,
    partitions: i32,
    serial: tokio::sync::Mutex<()>,
}

impl TxnCoordinator {
    pub fn open(
        logs: &LogManager,
        max_timeout_ms: i32,
        partitions: i32,
    ) -> Result<TxnCoordinator, TxnShellError> {
        let mut txns = Txns::new(max_timeout_ms);
        let topic = logs.topic(TXN_TOPIC);
        if let Some(t) = &topic {
            super::replay_topic(t, |rec| {
                if let Some(Ok(m)) = rec.key.as_ref().and_then(|k| records::decode(k, rec.value.as_deref())) {
                    txns.replay(&m);
                }
            })
            .map_err(TxnShellError::Storage)?;
        }
        Ok(TxnCoordinator {
            state: Mutex::new(txns),
            topic: Mutex::new(topic),
            partitions,
            serial: tokio::sync::Mutex::new(()),
        })
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&Txns) -> R) -> R {
        f(&self.state.lock())
    }

    /// `__transaction_state`, created on first use.
    pub fn txn_topic(&self, logs: &LogManager) -> Result<Arc<Topic>, TxnShellError> {
        if let Some(t) = self.topic.lock().clone() {
            return Ok(t);
        }
        let t = super::internal_topic(logs, TXN_TOPIC, self.partitions)?;
        *self.topic.lock() = Some(t.clone());
        Ok(t)
    }

    /// Appends a record to `__transaction_state`, waits for the fsync, then applies it.
    async fn persist(&self, logs: &LogManager, r: &TxnRecord) -> Result<(), TxnShellError> {
        let topic = self.txn_topic(logs)?;
        let pidx =
            crate::coordinator::group::records::partition_for(&r.transactional_id, topic.partition_count());
        let part = topic.partition(pidx).ok_or_else(|| TxnShellError::Storage("missing partition".into()))?;
        let (k, v) = records::encode(r);
        let now = crate::clock::now_ms();
        let rec = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: now,
            key: Some(k),
            value: Some(v),
            headers: Default::default(),
        };
        let mut b = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut b,
            [&rec],
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        )
        .map_err(|e| TxnShellError::Storage(e.to_string()))?;
        let info = part.append(&b, now).map_err(|e| TxnShellError::Storage(e.to_string()))?;
        info.durable.submit().wait().await.map_err(|e| TxnShellError::Storage(e.to_string()))?;
        self.state.lock().replay(r);
        Ok(())
    }

    /// Writes the markers of `job` on every partition (fsynced) and tells the group coordinator
    /// about offsets partitions, then the Complete record.
    async fn finish(
        &self,
        logs: &LogManager,
        groups: &GroupCoordinator,
        job: &MarkerJob,
    ) -> Result<(), TxnShellError> {
        let now = crate::clock::now_ms();
        let mut syncs = Vec::new();
        for (t, p) in &job.partitions {
            let Some(part) = logs.topic(t).and_then(|x| x.partition(*p)) else { continue };
            let info = part
                .with_log(|l| l.append_marker(job.producer_id, job.producer_epoch, job.commit, 0, now))
                .map_err(|e| TxnShellError::Storage(e.to_string()))?;
            syncs.push(info.durable.submit());
        }
        for durable in syncs {
            durable.wait().await.map_err(|e| TxnShellError::Storage(e.to_string()))?;
        }
        if job.partitions.iter().any(|(t, _)| t == crate::coordinator::group::OFFSETS_TOPIC) {
            groups.complete_txn(job.producer_id, job.commit);
        }
        let done = self.state.lock().complete(&job.transactional_id, now);
        if let Some(done) = done {
            self.persist(logs, &done).await?;
        }
        Ok(())
    }

    /// Finishes transactions a crash left half-ended (called once at start).
    pub async fn recover(&self, logs: &LogManager, groups: &GroupCoordinator) {
        let _g = self.serial.lock().await;
        let jobs = self.state.lock().unfinished();
        for job in jobs {
            if let Err(e) = self.finish(logs, groups, &job).await {
                tracing::error!(transactional_id = %job.transactional_id, error = %e, "could not finish a transaction after restart");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn init_producer_id(
        &self,
        logs: &LogManager,
        groups: &GroupCoordinator,
        ids: &crate::coordinator::producer_id::ProducerIdManager,
        id: &str,
        timeout_ms: i32,
        pid: i64,
        epoch: i16,
    ) -> Result<(i64, i16), TxnShellError> {
        self.txn_topic(logs)?;
        let _g = self.serial.lock().await;
        loop {
            let now = crate::clock::now_ms();
            let mut alloc_error = None;
            let out = {
                let mut alloc = || match ids.next() {
                    Ok(i) => i,
                    Err(e) => {
                        alloc_error = Some(e);
                        -1
                    }
                };
                self.state.lock().init_producer_id(id, timeout_ms, pid, epoch, now, &mut alloc)
            };
            if let Some(e) = alloc_error {
                logs.fail_storage(&e);
                return Err(TxnShellError::Storage(e.to_string()));
            }
            let out = out?;
            match out {
                InitOutcome::Ready { producer_id, producer_epoch, record } => {
                    self.persist(logs, &record).await?;
                    return Ok((producer_id, producer_epoch));
                }
                InitOutcome::AbortFirst(job, prep) => {
                    tracing::info!(transactional_id = %id, "aborting the previous incarnation's open transaction");
                    self.persist(logs, &prep).await?;
                    self.finish(logs, groups, &job).await?;
                }
            }
        }
    }

    pub async fn add_partitions(
        &self,
        logs: &LogManager,
        id: &str,
        pid: i64,
        epoch: i16,
        parts: &[(String, i32)],
    ) -> Result<(), TxnShellError> {
        let _g = self.serial.lock().await;
        let r = self.state.lock().add_partitions(id, pid, epoch, parts, crate::clock::now_ms())?;
        if let Some(r) = r {
            self.persist(logs, &r).await?;
        }
        Ok(())
    }

    /// Ends a transaction; returns the producer id and epoch to use next (bumped with `v2`).
    pub async fn end_txn(
        &self,
        logs: &LogManager,
        groups: &GroupCoordinator,
        id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
        v2: bool,
    ) -> Result<(i64, i16), TxnShellError> {
        let _g = self.serial.lock().await;
        let r = self.state.lock().end_txn(id, pid, epoch, commit, crate::clock::now_ms(), v2)?;
        if let Some((prep, job)) = r {
            self.persist(logs, &prep).await?;
            self.finish(logs, groups, &job).await?;
        }
        let now =
            self.state.lock().get(id).map(|m| (m.producer_id, m.producer_epoch)).unwrap_or((pid, epoch));
        Ok(now)
    }

    /// Timer: aborts transactions open past their timeout.
    pub async fn tick(&self, logs: &LogManager, groups: &GroupCoordinator) {
        let expired = self.state.lock().expired(crate::clock::now_ms());
        if expired.is_empty() {
            return;
        }
        let _g = self.serial.lock().await;
        for (prep, job) in expired {
            tracing::info!(transactional_id = %job.transactional_id, "transaction timed out; aborting");
            if let Err(e) = async {
                self.persist(logs, &prep).await?;
                self.finish(logs, groups, &job).await
            }
            .await
            {
                tracing::warn!(transactional_id = %job.transactional_id, error = %e, "timed-out transaction could not be aborted yet");
            }
        }
    }
}
