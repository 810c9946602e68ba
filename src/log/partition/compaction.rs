//! The compaction swap: which sealed segments the cleaner may rewrite, and renaming a compacted
//! copy over a segment (the Architecture Invariant on segment replacement lives here).
use super::*;

impl PartitionLog {
    /// The sealed segments the compactor may rewrite, read without holding the lock: finalized,
    /// and below `durable_below` (the recovery point as checkpointed, so a recovery never has to
    /// validate a compacted segment, whose offset gaps would look like a hole).
    pub fn sealed_segments(&self, durable_below: i64) -> Vec<SegmentInfo> {
        // The rule recovery trusts a segment by: the segment after it starts at or below the
        // checkpointed recovery point.
        let next_base = |b: i64| self.segments.range(b + 1..).next().map(|(n, _)| *n).unwrap_or(i64::MAX);
        self.finalized_sealed()
            .filter(|(b, _)| next_base(**b) <= durable_below)
            .map(|(_, s)| SegmentInfo {
                base_offset: s.base_offset,
                next_offset: s.next_offset(),
                size: s.size(),
                max_timestamp: if s.max_timestamp() >= 0 { s.max_timestamp() } else { s.created_ms },
                file: s.log_file().clone(),
            })
            .collect()
    }

    /// Swaps in a compacted copy of a sealed segment: `cleaned` (a fully written and fsynced file
    /// in this directory, already scanned into `replacement`) is renamed over `<base>.log`, which
    /// is atomic, so a crash leaves either the old or the new segment. The ABORT markers it drops
    /// (`forget`) leave the in-memory index here; their txnindex files were rewritten durably
    /// before (see [`Self::txn_index_rewrites`]). Does nothing (and deletes `cleaned`) if the
    /// segment changed meanwhile. The caller writes the new index files and syncs the directory
    /// after releasing the lock.
    pub fn replace_segment(
        &mut self,
        base: i64,
        expected: &Arc<LogFile>,
        cleaned: &Path,
        mut replacement: Segment,
        forget: &[(i64, i64)],
    ) -> io::Result<bool> {
        let current = self.segments.get(&base).map(|s| s.log_file().clone());
        if current.is_none_or(|f| !Arc::ptr_eq(&f, expected))
            || base == self.active_base()
            || self.durability.is_deleted()
        {
            let _ = self.env.disk.remove_file(cleaned);
            return Ok(false);
        }
        self.aborted.retain(|a| !forget.contains(&(a.producer_id, a.last_offset)));
        let path = self.dir.join(format!("{}.log", file_stem(base)));
        self.env.disk.rename(cleaned, &path)?;
        self.durability.dir_changed();
        let file = Arc::new(self.env.disk.open_file(&path)?);
        file.assume_synced();
        replacement.set_log_file(file);
        replacement.finalized().store(true, Ordering::Release);
        self.durability.untrack(base);
        self.segments.insert(base, replacement);
        Ok(true)
    }
}
