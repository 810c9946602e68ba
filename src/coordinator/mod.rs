//! Coordinators: state that spans partitions and clients: consumer groups (`group/`) and producer
//! id allocation, and transactions (`txn/`).
pub mod group;
pub mod producer_id;
pub mod txn;

use std::sync::Arc;

use kafka_protocol::records::{Record, RecordBatchDecoder};

use crate::log::{AppendError, LogManager, Partition, ReadError, SyncTicket, Topic, TopicError};

/// Why a coordinator could not use its internal topic. Typed, so `protocol/error.rs` picks Kafka's
/// code for each cause (`storage_error`) instead of a blanket COORDINATOR_NOT_AVAILABLE.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the internal topic is not available: {0}")]
    Topic(#[from] TopicError),
    #[error("partition {0} of the internal topic is missing")]
    MissingPartition(i32),
    #[error("cannot encode the coordinator's records: {0}")]
    Encode(String),
    #[error("the internal topic refused the append: {0}")]
    Append(#[from] AppendError),
    #[error("the internal topic could not be synced: {0}")]
    Sync(#[source] std::io::Error),
    #[error("cannot read the internal topic: {0}")]
    Read(#[from] ReadError),
}

/// Partition `p` of an internal topic.
pub(crate) fn partition_of(topic: &Topic, p: i32) -> Result<Arc<Partition>, StorageError> {
    topic.partition(p).ok_or(StorageError::MissingPartition(p))
}

/// Waits until every append behind `tickets` is durable (submitted together: one group commit).
pub(crate) async fn wait_durable(tickets: Vec<SyncTicket>) -> Result<(), StorageError> {
    let waits: Vec<_> = tickets.into_iter().map(|t| t.submit()).collect();
    let mut first = Ok(());
    for w in waits {
        if let Err(e) = w.wait().await {
            if first.is_ok() {
                first = Err(StorageError::Sync(e));
            }
        }
    }
    first
}

/// Calls `f` with every record of every partition of an internal topic, in offset order within
/// each partition: how the coordinators rebuild their state at start.
pub(crate) fn replay_topic(topic: &Topic, mut f: impl FnMut(Record)) -> Result<(), StorageError> {
    let parts = topic.partitions.read().clone();
    let total: i64 = parts.iter().map(|p| p.high_watermark() - p.log_start_offset()).sum();
    let what = if topic.name == "__consumer_offsets" {
        "replaying __consumer_offsets"
    } else {
        "replaying __transaction_state"
    };
    let mut progress = crate::log::progress::Progress::new(what, "offsets", total.max(0) as u64);
    for p in parts.iter() {
        let mut offset = p.log_start_offset();
        while offset < p.high_watermark() {
            let r = p.read(offset, 1 << 20, true)?;
            if r.records.is_empty() {
                break;
            }
            let mut buf = r.records.clone();
            let mut last = offset;
            while let Ok(set) = RecordBatchDecoder::decode(&mut buf) {
                for rec in set.records {
                    last = last.max(rec.offset);
                    f(rec);
                }
                if buf.is_empty() {
                    break;
                }
            }
            progress.step((last + 1 - offset).max(0) as u64);
            offset = last + 1;
        }
    }
    progress.finish();
    Ok(())
}

/// A coordinator's compacted internal topic, created with `partitions` on first use.
pub(crate) fn internal_topic(
    logs: &LogManager,
    name: &str,
    partitions: i32,
) -> Result<Arc<Topic>, TopicError> {
    if let Some(t) = logs.topic(name) {
        return Ok(t);
    }
    let mut cfg = std::collections::BTreeMap::new();
    cfg.insert("cleanup.policy".to_string(), "compact".to_string());
    cfg.insert("segment.bytes".to_string(), "104857600".to_string());
    match logs.create_topic(name, partitions, cfg, false) {
        Ok(Some(t)) => Ok(t),
        Ok(None) | Err(TopicError::TopicAlreadyExists(_)) => {
            logs.topic(name).ok_or_else(|| TopicError::UnknownTopicOrPartition(name.into()))
        }
        Err(e) => Err(e),
    }
}
