//! The log cleaner: retention for `cleanup.policy` containing `delete` ([`retention_pass`]) and
//! key compaction for `compact` ([`compactor`]).
//!
//! Runs on the blocking pool, one partition at a time, taking a partition's lock only for short
//! steps (listing segments, swapping a cleaned segment in), so produce and fetch never wait for a
//! whole pass. Memory is bounded by `log.cleaner.dedupe.buffer.size`. Must not: see protocol types.
pub mod compactor;
#[cfg(test)]
mod compactor_test;
pub mod offset_map;
use std::sync::Arc;

use crate::log::LogManager;

/// One retention pass over every partition. Returns the number of segments deleted.
pub fn retention_pass(logs: &LogManager, now_ms: i64) -> usize {
    let mut deleted = 0;
    let mut moved = false;
    for t in logs.topics() {
        for p in t.partitions.read().iter() {
            // Time and size retention apply to `delete` logs; segments below the log start offset
            // (DeleteRecords) go on every log.
            let r = p.with_log(|l| l.apply_retention(now_ms));
            match r {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(topic = %t.name, partition = p.index, segments = n, log_start_offset = p.log_start_offset(), "retention deleted segments");
                        moved = true;
                    }
                    deleted += n;
                }
                // The log took the log dir offline itself.
                Err(e) => {
                    tracing::error!(topic = %t.name, partition = p.index, error = %e, "retention failed")
                }
            }
        }
    }
    if moved {
        if let Err(e) = logs.write_checkpoints() {
            tracing::warn!(error = %e, "writing checkpoints after retention failed");
        }
    }
    deleted
}

/// One compaction pass over every compacted partition. Returns the partitions cleaned.
pub fn compaction_pass(logs: &LogManager, now_ms: i64, map_bytes: usize) -> usize {
    let mut cleaned = 0;
    // Only segments below the checkpointed recovery point are compacted: bring the checkpoint up
    // to date first when a compacted log has durable data past it.
    let behind = logs.topics().iter().any(|t| {
        t.partitions.read().iter().any(|p| p.checkpoint_behind() && p.with_log(|l| l.config().compact))
    });
    if behind {
        if let Err(e) = logs.write_checkpoints() {
            tracing::warn!(error = %e, "writing checkpoints before compaction failed");
            return 0;
        }
    }
    for t in logs.topics() {
        for p in t.partitions.read().iter() {
            match compactor::compact(p, now_ms, map_bytes, false) {
                Ok(Some(s)) => {
                    cleaned += 1;
                    if s.segments_rewritten > 0 {
                        tracing::info!(topic = %t.name, partition = p.index, segments = s.segments_rewritten, bytes_before = s.bytes_before, bytes_after = s.bytes_after, records_removed = s.records_removed, markers_removed = s.markers_removed, "compacted");
                    } else {
                        tracing::debug!(topic = %t.name, partition = p.index, "compaction pass rewrote nothing");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(topic = %t.name, partition = p.index, error = %e, "compaction failed; the log is unchanged")
                }
            }
        }
    }
    if cleaned > 0 {
        if let Err(e) = logs.write_checkpoints() {
            tracing::warn!(error = %e, "writing checkpoints after compaction failed");
        }
    }
    cleaned
}

/// The background task: retention every `retention_every`, compaction every `compact_every`.
pub async fn run(
    logs: Arc<crate::log::LogManager>,
    retention_every: std::time::Duration,
    compact_every: std::time::Duration,
    map_bytes: usize,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut retention = tokio::time::interval(retention_every);
    let mut compaction = tokio::time::interval(compact_every);
    retention.tick().await;
    compaction.tick().await;
    loop {
        let compact = tokio::select! {
            _ = shutdown.changed() => return,
            _ = retention.tick() => false,
            _ = compaction.tick() => true,
        };
        let logs = logs.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let now = crate::clock::now_ms();
            if compact {
                compaction_pass(&logs, now, map_bytes);
            } else {
                retention_pass(&logs, now);
            }
        })
        .await;
    }
}
