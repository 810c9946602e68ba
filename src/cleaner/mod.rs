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

/// What an on-demand pass did (the control API answers with it).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    /// Partitions the pass looked at.
    pub partitions: usize,
    pub segments_rolled: usize,
    pub segments_deleted: usize,
    /// Idle producers forgotten (`producer.id.expiration.ms`), by retention passes.
    pub producers_expired: usize,
    /// Partitions compaction rewrote something in.
    pub partitions_cleaned: usize,
    pub segments_rewritten: usize,
    pub records_removed: u64,
    pub markers_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// The topics a pass covers: one by name, or all of them.
fn chosen(logs: &LogManager, only: Option<&str>) -> Vec<Arc<crate::log::Topic>> {
    logs.topics().into_iter().filter(|t| only.is_none_or(|n| n == t.name)).collect()
}

/// One retention pass over every partition. Returns the number of segments deleted.
pub fn retention_pass(logs: &LogManager, now_ms: i64) -> usize {
    retention_of(logs, now_ms, None).segments_deleted
}

/// Rolls the active segment of every partition of `only` (or all) that has data, and returns
/// once the sealed segments are synced and the recovery points past them.
pub fn roll_now(logs: &LogManager, only: Option<&str>) -> Report {
    let mut r = Report::default();
    let now = logs.now_ms();
    for t in chosen(logs, only) {
        for p in t.partitions.read().iter() {
            r.partitions += 1;
            let rolled = p.with_log(|l| {
                let before = l.segment_count();
                l.roll(now).map(|_| l.segment_count() > before)
            });
            match rolled {
                Ok(true) => r.segments_rolled += 1,
                Ok(false) => {}
                Err(e) => tracing::error!(topic = %t.name, partition = p.index, error = %e, "roll failed"),
            }
        }
    }
    logs.settle();
    r
}

/// A retention pass over the partitions of `only` (or all), now.
pub fn retention_of(logs: &LogManager, now_ms: i64, only: Option<&str>) -> Report {
    let mut report = Report::default();
    let expiration_ms: i64 = logs.config().setting("producer.id.expiration.ms");
    let mut deleted = 0;
    let mut moved = false;
    for t in chosen(logs, only) {
        for p in t.partitions.read().iter() {
            report.partitions += 1;
            let Some(_cleaning) = p.begin_cleaning() else { continue };
            // Time and size retention apply to `delete` logs; segments below the log start offset
            // (DeleteRecords) go on every log.
            let expired = p.with_log(|l| l.expire_producers(now_ms, expiration_ms));
            if expired > 0 {
                tracing::debug!(topic = %t.name, partition = p.index, producers = expired, "idle producers expired");
                report.producers_expired += expired;
            }
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
    report.segments_deleted = deleted;
    report
}

/// One compaction pass over every compacted partition. Returns the partitions cleaned.
pub fn compaction_pass(logs: &LogManager, now_ms: i64, map_bytes: usize) -> usize {
    compaction_of(logs, now_ms, map_bytes, None, false).partitions_cleaned
}

/// Compaction of the compacted partitions of `only` (or all), now. `force` cleans whatever is
/// dirty regardless of `min.cleanable.dirty.ratio` (the time rules, `min.compaction.lag.ms` and
/// the delete horizon, still hold: they follow the broker's clock).
pub fn compaction_of(
    logs: &LogManager,
    now_ms: i64,
    map_bytes: usize,
    only: Option<&str>,
    force: bool,
) -> Report {
    let mut report = Report::default();
    let mut cleaned = 0;
    // Only segments below the checkpointed recovery point are compacted: bring the checkpoint up
    // to date first when a compacted log has durable data past it.
    let behind = chosen(logs, only).iter().any(|t| {
        t.partitions.read().iter().any(|p| p.checkpoint_behind() && p.with_log(|l| l.config().compact))
    });
    if behind {
        if let Err(e) = logs.write_checkpoints() {
            tracing::warn!(error = %e, "writing checkpoints before compaction failed");
            return report;
        }
    }
    for t in chosen(logs, only) {
        for p in t.partitions.read().iter() {
            report.partitions += 1;
            match compactor::compact(p, now_ms, map_bytes, force) {
                Ok(Some(s)) => {
                    cleaned += 1;
                    report.segments_rewritten += s.segments_rewritten;
                    report.records_removed += s.records_removed;
                    report.markers_removed += s.markers_removed;
                    report.bytes_before += s.bytes_before;
                    report.bytes_after += s.bytes_after;
                    if s.segments_rewritten > 0 {
                        let m = logs.metrics();
                        m.cleaner_passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        m.cleaner_bytes_cleaned
                            .fetch_add(s.bytes_before, std::sync::atomic::Ordering::Relaxed);
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
    report.partitions_cleaned = cleaned;
    report
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
            let now = logs.now_ms();
            if compact {
                compaction_pass(&logs, now, map_bytes);
            } else {
                retention_pass(&logs, now);
            }
        })
        .await;
    }
}
