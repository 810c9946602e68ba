//! The log cleaner. Today: time- and size-based retention for `cleanup.policy` containing
//! `delete` (key compaction is not implemented yet).
//!
//! Runs every `log.retention.check.interval.ms` on the blocking pool, one partition lock at a time,
//! so produce and fetch on other partitions never wait for it. Must not: see protocol types.
use std::sync::Arc;

use crate::log::LogManager;

/// One retention pass over every partition. Returns the number of segments deleted.
pub fn retention_pass(logs: &LogManager, now_ms: i64) -> usize {
    let mut deleted = 0;
    let mut moved = false;
    for t in logs.topics() {
        for p in t.partitions.read().iter() {
            let r = p.with_log(|l| {
                if !l.config().delete {
                    return Ok(0);
                }
                l.apply_retention(now_ms)
            });
            match r {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(topic = %t.name, partition = p.index, segments = n, log_start_offset = p.log_start_offset(), "retention deleted segments");
                        moved = true;
                    }
                    deleted += n;
                }
                Err(e) => logs.fail_storage(&e),
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

/// The background task: a retention pass every `interval`.
pub async fn run(logs: Arc<crate::broker::BrokerState>, interval: std::time::Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let st = logs.clone();
        let _ = tokio::task::spawn_blocking(move || retention_pass(&st.logs, crate::clock::now_ms())).await;
    }
}
