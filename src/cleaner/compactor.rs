//! Key compaction for `cleanup.policy=compact`: keep the latest record per key.
//!
//! One pass over one partition:
//! 1. Under the partition lock, take the list of sealed segments (the active one is never
//!    cleaned) and the cleaner checkpoint (where the dirty section starts).
//! 2. Without the lock, choose the dirty section: sealed segments past the checkpoint whose newest
//!    record is older than `min.compaction.lag.ms`; skip the pass unless the dirty bytes are at
//!    least `min.cleanable.dirty.ratio` of the sealed log, or a dirty record is older than
//!    `max.compaction.lag.ms`.
//! 3. Build the key -> latest offset map over the dirty section (bounded memory: the map stops
//!    at a segment boundary when full; the rest is cleaned next time).
//! 4. Recopy every sealed segment up to the end of that section: a record stays if it is the
//!    latest for its key; tombstones stay until `delete.retention.ms` after their timestamp;
//!    keyless records and aborted transactional data are dropped. A transaction marker goes
//!    when no record of its transaction is left in the log, it is older than
//!    `delete.retention.ms` (readers get that long to pass it; measured from the marker's own
//!    timestamp, where Kafka counts from the pass that first found the transaction empty), it
//!    lies below the oldest producer snapshot (so no crash replay starts before it and
//!    misses it), and a later batch of the same producer is in the sealed log (the newest one
//!    carries the producer's epoch, which fencing needs, as Kafka keeps each producer's last
//!    batch). An ABORT marker's entry leaves the aborted-transaction index first. Without
//!    this, every transaction on a compacted topic (exactly-once Connect writes one per source
//!    batch) would leave a marker behind forever.
//!    Nothing at or past the last stable offset (undecided transactions) is cleaned. Batches keep their headers and offsets (gaps are fine) and are
//!    re-compressed with their own codec; unchanged batches are copied as they are.
//! 5. Each rewritten segment is written to `<base>.log.cleaned`, fsynced and scanned (its indexes
//!    built) without the lock; txnindex files losing ABORT entries are rewritten durably; then,
//!    under the lock, the copy is renamed over the original (`PartitionLog::replace_segment`):
//!    atomic, so a crash at any step leaves a readable log. After the lock: the new index files
//!    and a sync of the directory. Stray `.cleaned` files are deleted when the log is opened.
//!    Only segments below the checkpointed recovery point are compacted, so a recovery never has
//!    to validate one (its offset gaps would look like a hole).
//! 6. The checkpoint moves to the end of the cleaned section.
use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use super::offset_map::{key_hash, OffsetMap};
use crate::log::file::LogFile;
use crate::log::partition::{Partition, SegmentInfo};
use crate::log::segment::{file_stem, OpenMode, Segment};
use crate::record::batch::{BatchHeader, HEADER_LEN};
use crate::record::records::{
    decompressed_records, empty_batch, marker_is_commit, parse_records, rebuild_batch,
};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanStats {
    pub segments_rewritten: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
    pub markers_removed: u64,
    pub cleaned_up_to: i64,
}

/// What the recopy has seen of a producer's current transaction (since its last marker).
#[derive(Default, Clone, Copy)]
struct TxnSeen {
    /// Some of its data was in the log when the pass started.
    on_disk: bool,
    /// Some of its data survives this pass.
    retained: bool,
}

/// Reads every batch of a sealed segment, in order, one at a time.
fn for_each_batch(
    seg: &SegmentInfo,
    mut f: impl FnMut(&[u8], &BatchHeader) -> io::Result<()>,
) -> io::Result<()> {
    let mut pos: u64 = 0;
    let mut hdr = [0u8; HEADER_LEN];
    let mut buf = Vec::new();
    while pos + HEADER_LEN as u64 <= seg.size as u64 {
        seg.file.read_exact_at(&mut hdr, pos)?;
        let h = BatchHeader::parse(&hdr).map_err(io::Error::other)?;
        buf.resize(h.total_len(), 0);
        seg.file.read_exact_at(&mut buf, pos)?;
        f(&buf, &h)?;
        pos += h.total_len() as u64;
    }
    Ok(())
}

/// The offset of the last batch of each producer in `segs` (headers only).
fn last_batch_per_producer(segs: &[SegmentInfo]) -> io::Result<HashMap<i64, i64>> {
    let mut last = HashMap::new();
    let mut hdr = [0u8; HEADER_LEN];
    for seg in segs {
        let mut pos: u64 = 0;
        while pos + HEADER_LEN as u64 <= seg.size as u64 {
            seg.file.read_exact_at(&mut hdr, pos)?;
            let h = BatchHeader::parse(&hdr).map_err(io::Error::other)?;
            if h.has_producer_id() {
                last.insert(h.producer_id, h.base_offset);
            }
            pos += h.total_len() as u64;
        }
    }
    Ok(last)
}

/// One compaction pass over `p`. `force` ignores the dirty ratio (tests, benchmarks).
pub fn compact(p: &Partition, now_ms: i64, map_bytes: usize, force: bool) -> io::Result<Option<CleanStats>> {
    // One pass per partition at a time (the background cleaner and on-demand passes).
    let Some(_cleaning) = p.begin_cleaning() else { return Ok(None) };
    let limit = p.compaction_limit();
    let (segs, cfg, dir, disk, stable) = p.with_log(|l| {
        (
            l.sealed_segments(limit),
            l.config().clone(),
            l.dir().to_path_buf(),
            l.disk().clone(),
            l.last_stable_offset(),
        )
    });
    // Only decided data is cleaned: nothing at or past the last stable offset.
    let segs: Vec<SegmentInfo> = segs.into_iter().filter(|s| s.next_offset <= stable).collect();
    if !cfg.compact || segs.is_empty() {
        return Ok(None);
    }
    let start = p.cleaner_offset();
    // As Kafka's cleaner: the lag applies only when set; with 0 a segment is dirty whatever its
    // timestamps say (records stamped ahead of the broker's clock included).
    let lag_edge = match cfg.min_compaction_lag_ms {
        0 => i64::MAX,
        lag => now_ms.saturating_sub(lag),
    };
    let dirty: Vec<&SegmentInfo> =
        segs.iter().filter(|s| s.next_offset > start).take_while(|s| s.max_timestamp <= lag_edge).collect();
    // Tombstones kept by an earlier pass expire by time alone: clean again once the first of them
    // is due, even with nothing new to clean (Kafka's delete horizon, KIP-534).
    let tombstones_due = now_ms >= p.tombstone_expiry();
    if dirty.is_empty() && !tombstones_due {
        return Ok(None);
    }
    let total: u64 = segs.iter().map(|s| s.size as u64).sum();
    let dirty_bytes: u64 = dirty.iter().map(|s| s.size as u64).sum();
    let overdue = dirty.iter().any(|s| now_ms.saturating_sub(s.max_timestamp) > cfg.max_compaction_lag_ms);
    if !force
        && !overdue
        && !tombstones_due
        && (dirty_bytes as f64) < cfg.min_cleanable_dirty_ratio * total as f64
    {
        return Ok(None);
    }
    // Step 3: the key map over the dirty section, stopping at a segment boundary when full.
    let mut map = OffsetMap::with_memory(map_bytes);
    let mut end = start;
    'segments: for seg in &dirty {
        let mut keys = Vec::new();
        for_each_batch(seg, |b, h| {
            if h.is_control() {
                return Ok(());
            }
            if h.is_transactional() && p.with_log(|l| l.is_aborted(h.producer_id, h.base_offset)) {
                return Ok(()); // aborted data never wins a key
            }
            let raw = decompressed_records(b, h).map_err(io::Error::other)?;
            for r in parse_records(&raw).ok_or_else(|| io::Error::other("malformed records"))? {
                if let Some(k) = r.key {
                    keys.push((key_hash(k), h.base_offset + r.offset_delta as i64));
                }
            }
            Ok(())
        })?;
        if !map.has_room(keys.len()) && !map.is_empty() {
            break 'segments;
        }
        for (k, o) in keys {
            if !map.put(k, o) {
                break 'segments;
            }
        }
        end = seg.next_offset;
    }
    if end <= start && !tombstones_due {
        return Ok(None);
    }
    let end = end.max(start);
    let mut next_expiry = i64::MAX;
    // Step 4-5: recopy the sealed segments below `end`.
    let mut stats = CleanStats { cleaned_up_to: end, ..Default::default() };
    let horizon = now_ms.saturating_sub(cfg.delete_retention_ms);
    let mut txns: HashMap<i64, TxnSeen> = HashMap::new();
    // Markers go only below the oldest producer snapshot, and never as their producer's last
    // batch: (snapshot floor, last batch per producer), read at the first marker met, so a
    // topic without transactions pays nothing for it.
    let mut placement: Option<(i64, HashMap<i64, i64>)> = None;
    // The offset of each producer's last batch, read when a batch of one loses every record.
    let mut last_batches: Option<HashMap<i64, i64>> = None;
    for seg in segs.iter().filter(|s| s.base_offset < end) {
        let cleaned_path = dir.join(format!("{}.log.cleaned", file_stem(seg.base_offset)));
        let _ = disk.remove_if_exists(&cleaned_path);
        let out = Arc::new(disk.open_file(&cleaned_path)?);
        let mut changed = false;
        // ABORT markers dropped from this segment: (producer id, marker offset)
        let mut forgotten: Vec<(i64, i64)> = Vec::new();
        let mut markers_removed = 0u64;
        let result = for_each_batch(seg, |b, h| {
            if h.is_control() {
                let Some(commit) = marker_is_commit(b, h) else { return out.append(&[b]) };
                let seen = txns.remove(&h.producer_id).unwrap_or_default();
                if placement.is_none() {
                    placement = Some((
                        p.with_log(|l| l.oldest_snapshot()).unwrap_or(i64::MIN),
                        last_batch_per_producer(&segs)?,
                    ));
                }
                let (snapshot_floor, last_batch) = placement.as_ref().expect("set just above");
                let later_batch = last_batch.get(&h.producer_id).is_some_and(|&o| o > h.base_offset);
                let placed = h.base_offset < *snapshot_floor && later_batch;
                if !seen.on_disk && h.max_timestamp < horizon && placed {
                    changed = true;
                    markers_removed += 1;
                    if !commit {
                        forgotten.push((h.producer_id, h.base_offset));
                    }
                    return Ok(());
                }
                // Kept for now. Once its transaction has no data left it is due at its delete
                // horizon, and a pass is scheduled for then. One kept for its place (its producer's
                // last batch, or above the oldest snapshot) waits for a pass that new data brings:
                // scheduling it would rescan the log every tick.
                if !seen.retained && placed {
                    next_expiry = next_expiry.min(h.max_timestamp.saturating_add(cfg.delete_retention_ms));
                }
                return out.append(&[b]);
            }
            if h.is_transactional() {
                txns.entry(h.producer_id).or_default().on_disk = true;
            }
            // A producer's last batch in the log is kept, emptied if need be, as Kafka's cleaner
            // keeps it (RETAIN_EMPTY): its header carries the producer's epoch and last sequence.
            let mut last_of_producer = || -> io::Result<bool> {
                if !h.has_producer_id() {
                    return Ok(false);
                }
                if last_batches.is_none() {
                    last_batches = Some(last_batch_per_producer(&segs)?);
                }
                Ok(last_batches.as_ref().and_then(|m| m.get(&h.producer_id)) == Some(&h.base_offset))
            };
            if h.is_transactional() && p.with_log(|l| l.is_aborted(h.producer_id, h.base_offset)) {
                // Aborted transactional data is removed once cleaned.
                if last_of_producer()? {
                    if h.records_count == 0 {
                        return out.append(&[b]); // already emptied by an earlier pass
                    }
                    changed = true;
                    stats.records_removed += h.records_count as u64;
                    return out.append(&[&empty_batch(b)]);
                }
                changed = true;
                stats.records_removed += h.records_count.max(0) as u64;
                return Ok(());
            }
            let raw = decompressed_records(b, h).map_err(io::Error::other)?;
            let recs = parse_records(&raw).ok_or_else(|| io::Error::other("malformed records"))?;
            let kept: Vec<&[u8]> = recs
                .iter()
                .filter(|r| {
                    let offset = h.base_offset + r.offset_delta as i64;
                    let Some(k) = r.key else { return false };
                    let latest = map.get(key_hash(k)).is_none_or(|o| o == offset);
                    let ts = if h.is_log_append_time() {
                        h.max_timestamp
                    } else {
                        h.base_timestamp + r.timestamp_delta
                    };
                    let keep = latest && !(r.is_tombstone && ts < horizon);
                    if keep && r.is_tombstone {
                        next_expiry = next_expiry.min(ts.saturating_add(cfg.delete_retention_ms));
                    }
                    keep
                })
                .map(|r| r.raw)
                .collect();
            stats.records_removed += (recs.len() - kept.len()) as u64;
            if h.is_transactional() && (!kept.is_empty() || kept.len() == recs.len()) {
                // the batch is written out (even one without records): its transaction keeps data
                txns.entry(h.producer_id).or_default().retained = true;
            }
            if kept.len() == recs.len() {
                out.append(&[b])
            } else {
                changed = true;
                if kept.is_empty() {
                    if last_of_producer()? {
                        return out.append(&[&empty_batch(b)]);
                    }
                    return Ok(());
                }
                let nb = rebuild_batch(b, h, &kept).map_err(io::Error::other)?;
                out.append(&[&nb])
            }
        });
        if let Err(e) = result.and_then(|_| out.sync_data()) {
            let _ = disk.remove_if_exists(&cleaned_path);
            return Err(e);
        }
        if !changed {
            let _ = disk.remove_if_exists(&cleaned_path);
            continue;
        }
        let after = out.len()?;
        // Without the lock: the copy's indexes, and the txnindex files without the dropped ABORT
        // entries (durable before the swap: a crash in between leaves a marker that no entry
        // points at, which readers pass over).
        let (replacement, _) = Segment::open_file(
            &disk,
            &dir,
            seg.base_offset,
            out,
            OpenMode::Trust,
            now_ms,
            cfg.index_interval_bytes,
        )?;
        let (index, time_index) = replacement.index_files();
        // Files are written by name, never while a deletion renames the directory away (the
        // file-writer lock is never held while taking the partition lock).
        if !forgotten.is_empty() {
            let rewrites = p.with_log(|l| l.txn_index_rewrites(&forgotten));
            let _files = p.durability().lock_files();
            if p.durability().is_deleted() {
                let _ = disk.remove_if_exists(&cleaned_path);
                return Ok(None);
            }
            for (path, body) in rewrites {
                if let Err(e) = crate::log::txn_index::write(&disk, &path, body.as_deref()) {
                    // A failed fsync is never retried: the log dir goes offline.
                    p.durability().fail(&e);
                    return Err(e);
                }
            }
        }
        let expected: Arc<LogFile> = seg.file.clone();
        if p.with_log(|l| {
            l.replace_segment(seg.base_offset, &expected, &cleaned_path, replacement, &forgotten)
        })? {
            let _files = p.durability().lock_files();
            if p.durability().is_deleted() {
                return Ok(None);
            }
            let stem = file_stem(seg.base_offset);
            disk.write_replacing(&dir.join(format!("{stem}.index")), &index, false)?;
            disk.write_replacing(&dir.join(format!("{stem}.timeindex")), &time_index, false)?;
            p.durability().sync_dir_if_needed()?;
            stats.markers_removed += markers_removed;
            stats.segments_rewritten += 1;
            stats.bytes_before += seg.size as u64;
            stats.bytes_after += after;
        }
    }
    p.set_cleaner_offset(end);
    p.set_tombstone_expiry(next_expiry);
    Ok(Some(stats))
}
