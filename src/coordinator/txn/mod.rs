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

use super::StorageError;
use crate::coordinator::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::coordinator::producer_id::ProducerIdManager;
use crate::log::{AppendError, LogManager, Topic, TopicError};
use state::{InitOutcome, MarkerJob, TxnError, TxnRecord, Txns};

pub const TXN_TOPIC: &str = "__transaction_state";

/// Coordinator failures: the client's (the state machine's answer) or storage's.
#[derive(Debug, thiserror::Error)]
pub enum TxnShellError {
    #[error(transparent)]
    Txn(#[from] TxnError),
    #[error("transaction coordinator storage: {0}")]
    Storage(#[from] StorageError),
}

impl From<TopicError> for TxnShellError {
    fn from(e: TopicError) -> Self {
        TxnShellError::Storage(StorageError::Topic(e))
    }
}

impl From<AppendError> for TxnShellError {
    fn from(e: AppendError) -> Self {
        TxnShellError::Storage(StorageError::Append(e))
    }
}

/// One COMMIT or ABORT marker to write on some partitions (WriteTxnMarkers, or the coordinator's
/// own end of a transaction).
#[derive(Debug, Clone)]
pub struct Marker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// Why a marker was not written on a partition.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("the producer's epoch in this partition is newer than the marker's")]
    StaleProducerEpoch,
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("the marker could not be synced: {0}")]
    Sync(#[source] std::io::Error),
}

/// The transaction coordinator service: handlers call its operations and get domain results.
pub struct TxnCoordinator {
    logs: Arc<LogManager>,
    groups: Arc<GroupCoordinator>,
    ids: Arc<ProducerIdManager>,
    state: Mutex<Txns>,
    topic: Mutex<Option<Arc<Topic>>>,
    partitions: i32,
    serial: tokio::sync::Mutex<()>,
}

impl TxnCoordinator {
    pub fn open(
        logs: &Arc<LogManager>,
        groups: &Arc<GroupCoordinator>,
        ids: &Arc<ProducerIdManager>,
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
            })?;
        }
        Ok(TxnCoordinator {
            logs: logs.clone(),
            groups: groups.clone(),
            ids: ids.clone(),
            state: Mutex::new(txns),
            topic: Mutex::new(topic),
            partitions,
            serial: tokio::sync::Mutex::new(()),
        })
    }

    /// A read-only view of the transactions (ListTransactions, DescribeTransactions).
    pub fn view<R>(&self, f: impl FnOnce(&Txns) -> R) -> R {
        f(&self.state.lock())
    }

    /// Whether `p` is in the ongoing transaction of (`id`, `pid`, `epoch`) (KIP-890 verification).
    pub fn has_partition(&self, id: &str, pid: i64, epoch: i16, p: &(String, i32)) -> Result<bool, TxnError> {
        self.state.lock().has_partition(id, pid, epoch, p)
    }

    /// `__transaction_state`, created on first use.
    pub fn txn_topic(&self) -> Result<Arc<Topic>, TxnShellError> {
        if let Some(t) = self.topic.lock().clone() {
            return Ok(t);
        }
        let t = super::internal_topic(&self.logs, TXN_TOPIC, self.partitions)?;
        *self.topic.lock() = Some(t.clone());
        Ok(t)
    }

    /// Appends a record to `__transaction_state`, waits for the fsync, then applies it.
    async fn persist(&self, r: &TxnRecord) -> Result<(), TxnShellError> {
        let topic = self.txn_topic()?;
        let pidx =
            crate::coordinator::group::records::partition_for(&r.transactional_id, topic.partition_count());
        let part = super::partition_of(&topic, pidx)?;
        let (k, v) = records::encode(r);
        let now = self.logs.now_ms();
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
        .map_err(|e| StorageError::Encode(e.to_string()))?;
        let info = part.append(&b, now)?;
        super::wait_durable(vec![info.durable]).await?;
        self.state.lock().replay(r);
        Ok(())
    }

    /// Writes `marker` on every partition of `parts` and waits until they are durable; one result
    /// per partition, in order. A marker reaching `__consumer_offsets` decides the offsets
    /// committed in the transaction. With `refuse_stale`, a partition whose producer epoch is newer
    /// than the marker's refuses it (WriteTxnMarkers from outside: an older coordinator's marker).
    pub async fn write_markers(
        &self,
        marker: &Marker,
        parts: &[(String, i32)],
        refuse_stale: bool,
    ) -> Vec<Result<(), MarkerError>> {
        let now = self.logs.now_ms();
        let mut results: Vec<Result<(), MarkerError>> = Vec::with_capacity(parts.len());
        let mut tickets = Vec::new();
        for (t, p) in parts {
            let Some(part) = self.logs.topic(t).and_then(|x| x.partition(*p)) else {
                results.push(Err(MarkerError::UnknownTopicOrPartition));
                continue;
            };
            let written = part.with_log(|l| {
                let newer = l
                    .producers()
                    .get(marker.producer_id)
                    .is_some_and(|e| e.producer_epoch > marker.producer_epoch);
                if refuse_stale && newer {
                    return Err(MarkerError::StaleProducerEpoch);
                }
                Ok(l.append_marker(
                    marker.producer_id,
                    marker.producer_epoch,
                    marker.commit,
                    marker.coordinator_epoch,
                    now,
                )?)
            });
            match written {
                Ok(info) => {
                    tickets.push((results.len(), info.durable.submit()));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        // Every marker is durable before any is acknowledged.
        for (i, durable) in tickets {
            if let Err(e) = durable.wait().await {
                results[i] = Err(MarkerError::Sync(e));
            }
        }
        if parts.iter().zip(&results).any(|((t, _), r)| t == OFFSETS_TOPIC && r.is_ok()) {
            self.groups.complete_txn(marker.producer_id, marker.commit);
        }
        results
    }

    /// Writes the markers of `job` on every partition (fsynced) and tells the group coordinator
    /// about offsets partitions, then the Complete record.
    async fn finish(&self, job: &MarkerJob) -> Result<(), TxnShellError> {
        let marker = Marker {
            producer_id: job.producer_id,
            producer_epoch: job.producer_epoch,
            commit: job.commit,
            coordinator_epoch: 0,
        };
        let parts: Vec<(String, i32)> = job.partitions.iter().cloned().collect();
        for r in self.write_markers(&marker, &parts, false).await {
            match r {
                // A partition deleted since it joined the transaction needs no marker.
                Ok(()) | Err(MarkerError::UnknownTopicOrPartition) => {}
                Err(MarkerError::Append(e)) => return Err(e.into()),
                Err(MarkerError::Sync(e)) => return Err(StorageError::Sync(e).into()),
                // Not asked for (refuse_stale is false); named so the match stays exhaustive.
                Err(MarkerError::StaleProducerEpoch) => return Err(TxnError::InvalidProducerEpoch.into()),
            }
        }
        let done = self.state.lock().complete(&job.transactional_id, self.logs.now_ms());
        if let Some(done) = done {
            self.persist(&done).await?;
        }
        Ok(())
    }

    /// Finishes transactions a crash left half-ended (called once at start).
    pub async fn recover(&self) {
        let _g = self.serial.lock().await;
        let jobs = self.state.lock().unfinished();
        for job in jobs {
            if let Err(e) = self.finish(&job).await {
                tracing::error!(transactional_id = %job.transactional_id, error = %e, "could not finish a transaction after restart");
            }
        }
    }

    /// InitProducerId with a transactional id: a new or bumped (producer id, epoch), after
    /// aborting the previous incarnation's open transaction.
    pub async fn init_producer_id(
        &self,
        id: &str,
        timeout_ms: i32,
        pid: i64,
        epoch: i16,
    ) -> Result<(i64, i16), TxnShellError> {
        self.txn_topic()?;
        let _g = self.serial.lock().await;
        loop {
            let now = self.logs.now_ms();
            let mut alloc_error = None;
            let out = {
                let mut alloc = || match self.ids.next() {
                    Ok(i) => i,
                    Err(e) => {
                        alloc_error = Some(e);
                        -1
                    }
                };
                self.state.lock().init_producer_id(id, timeout_ms, pid, epoch, now, &mut alloc)
            };
            if let Some(e) = alloc_error {
                self.logs.fail_storage(&e);
                return Err(StorageError::Sync(e).into());
            }
            match out? {
                InitOutcome::Ready { producer_id, producer_epoch, record } => {
                    self.persist(&record).await?;
                    return Ok((producer_id, producer_epoch));
                }
                InitOutcome::AbortFirst(job, prep) => {
                    tracing::info!(transactional_id = %id, "aborting the previous incarnation's open transaction");
                    self.persist(&prep).await?;
                    self.finish(&job).await?;
                }
            }
        }
    }

    pub async fn add_partitions(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        parts: &[(String, i32)],
    ) -> Result<(), TxnShellError> {
        let _g = self.serial.lock().await;
        let r = self.state.lock().add_partitions(id, pid, epoch, parts, self.logs.now_ms())?;
        if let Some(r) = r {
            self.persist(&r).await?;
        }
        Ok(())
    }

    /// Ends a transaction; returns the producer id and epoch to use next (bumped with `v2`).
    pub async fn end_txn(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
        v2: bool,
    ) -> Result<(i64, i16), TxnShellError> {
        let _g = self.serial.lock().await;
        let r = self.state.lock().end_txn(id, pid, epoch, commit, self.logs.now_ms(), v2)?;
        if let Some((prep, job)) = r {
            self.persist(&prep).await?;
            self.finish(&job).await?;
        }
        let now =
            self.state.lock().get(id).map(|m| (m.producer_id, m.producer_epoch)).unwrap_or((pid, epoch));
        Ok(now)
    }

    /// Timer: aborts transactions open past their timeout.
    pub async fn tick(&self) {
        if self.state.lock().expired(self.logs.now_ms()).is_empty() {
            return;
        }
        // Decided under the lock: a tick running beside this one (the broker's timer and the
        // control API's advance) has aborted them by then, and this one waits for it.
        let _g = self.serial.lock().await;
        let expired = self.state.lock().expired(self.logs.now_ms());
        for (prep, job) in expired {
            tracing::info!(transactional_id = %job.transactional_id, "transaction timed out; aborting");
            if let Err(e) = async {
                self.persist(&prep).await?;
                self.finish(&job).await
            }
            .await
            {
                tracing::warn!(transactional_id = %job.transactional_id, error = %e, "timed-out transaction could not be aborted yet");
            }
        }
    }
}
