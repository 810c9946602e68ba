//! Coordinators: state that spans partitions and clients: consumer groups (`group/`) and producer
//! id allocation, and transactions (`txn/`).
pub mod group;
pub mod producer_id;
pub mod txn;

use std::sync::Arc;

use kafka_protocol::records::{Record, RecordBatchDecoder};

use crate::log::{LogManager, Topic, TopicError};

/// Calls `f` with every record of every partition of an internal topic, in offset order within
/// each partition: how the coordinators rebuild their state at start.
pub(crate) fn replay_topic(topic: &Topic, mut f: impl FnMut(Record)) -> Result<(), String> {
    for p in topic.partitions.read().iter() {
        let mut offset = p.log_start_offset();
        while offset < p.high_watermark() {
            let r = p.read(offset, 1 << 20, true).map_err(|e| e.to_string())?;
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
            offset = last + 1;
        }
    }
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
