//! Opening a partition log, and recovery after a crash or a power cut.
//!
//! The rules (docs/storage-format.md, "Recovery"):
//! * After a clean shutdown every segment is trusted (index files loaded when they describe the
//!   file); any damage found is refused.
//! * After an unclean stop, with `R` the checkpointed recovery point (everything below it was
//!   acknowledged durable): segments wholly below `R` are trusted; damage in them, or in a
//!   validated segment below `R`, stops the broker and names the file and byte position. Every
//!   segment from the one holding `R` on is validated batch by batch. At the first torn or invalid
//!   batch at or past `R`, or at a hole (a segment that does not start where the one before it
//!   ends), the log is cut: that tail and every later segment are removed. They were never
//!   acknowledged as durable: the log syncs segments in offset order, so nothing after unsynced
//!   data can have been acknowledged.
//! * A log that ends below `R` lost acknowledged data: refused.
//! * What recovery kept is then synced (files, then the directory), so the recovery point is the
//!   log end again, and segments whose index files or txnindex were never written get them.
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::durability::{Durability, LogEnv};
use super::file::Disk;
use super::partition::{
    for_each_batch_header, marker_is_commit, AbortedTxn, OpenError, OpenReport, PartitionLog, Recovery,
};
use super::producer_state::ProducerStateManager;
use super::segment::{file_stem, OpenMode, Segment};

fn list(disk: &Disk, dir: &Path) -> io::Result<(Vec<i64>, Vec<i64>)> {
    let mut bases = vec![];
    let mut snapshots = vec![];
    for (name, _) in disk.list_dir(dir)? {
        if let Some(stem) = name.strip_suffix(".log") {
            if let Ok(b) = stem.parse::<i64>() {
                bases.push(b);
            }
        } else if let Some(stem) = name.strip_suffix(".snapshot") {
            if let Ok(b) = stem.parse::<i64>() {
                snapshots.push(b);
            }
        } else if name.ends_with(".tmp") || name.ends_with(".cleaned") {
            // An interrupted atomic write or compaction: the original is still in place.
            disk.remove_if_exists(&dir.join(&name))?;
        }
    }
    bases.sort_unstable();
    snapshots.sort_unstable();
    Ok((bases, snapshots))
}

impl PartitionLog {
    /// Opens or creates the log in `dir` (see the module header for the recovery rules).
    pub fn open(
        dir: &Path,
        config: super::super::config::LogConfig,
        rec: Recovery,
        now_ms: i64,
        env: &LogEnv,
    ) -> Result<(PartitionLog, OpenReport), OpenError> {
        let io_err = |source| OpenError::Io { dir: dir.display().to_string(), source };
        let disk = &env.disk;
        disk.create_dir_all(dir).map_err(io_err)?;
        let (bases, snapshots) = list(disk, dir).map_err(io_err)?;
        let r = if rec.clean { i64::MAX } else { rec.recovery_point };
        let mut report = OpenReport::default();
        let mut segments: BTreeMap<i64, Segment> = BTreeMap::new();
        let mut validated: Vec<i64> = Vec::new();
        let mut rebuilt: Vec<i64> = Vec::new();
        let mut cut_at: Option<usize> = None;
        let refuse = |what: &'static str, file: &Path, position: u64, reason: String| {
            OpenError::CorruptBelowRecoveryPoint {
                what,
                file: file.display().to_string(),
                position,
                recovery_point: rec.recovery_point,
                reason,
            }
        };
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(format!("{}.log", file_stem(base)));
            // Continuity: a segment starts where the one before it ends. Compacted segments may
            // leave gaps, but they always lie below the checkpointed recovery point (the
            // compactor only rewrites segments below it), so a gap in validated data is a hole.
            let prev = segments.iter().next_back().map(|(b, s)| (*b, s.next_offset()));
            if let Some((prev_base, end)) = prev {
                if base < end {
                    if base < r {
                        return Err(refuse(
                            "overlapping segments",
                            &path,
                            0,
                            format!("segment starts at offset {base}, the previous one ends at {end}"),
                        ));
                    }
                    cut_at = Some(i);
                    break;
                }
                if base > end && validated.last() == Some(&prev_base) {
                    if end < r {
                        return Err(refuse(
                            "missing offsets",
                            &path,
                            0,
                            format!("offsets {end}..{base} are gone"),
                        ));
                    }
                    tracing::warn!(file = %path.display(), expected = end, found = base, "a hole after unsynced data: removing this segment and every later one (never acknowledged as durable)");
                    cut_at = Some(i);
                    break;
                }
            }
            let trusted = rec.clean || bases.get(i + 1).is_some_and(|next| *next <= r);
            let mode = if trusted { OpenMode::Trust } else { OpenMode::Validate };
            let (mut seg, rep) =
                Segment::open(disk, dir, base, mode, now_ms, config.index_interval_bytes).map_err(io_err)?;
            if mode == OpenMode::Validate {
                report.validated_segments += 1;
                validated.push(base);
            } else if rep.indexes_rebuilt {
                rebuilt.push(base);
            }
            if let Some(reason) = &rep.stopped_by {
                // The first batch that did not pass starts at the segment's next offset.
                if trusted || seg.next_offset() < r {
                    return Err(refuse("corruption", &path, rep.valid_bytes, reason.to_string()));
                }
                tracing::warn!(file = %path.display(), valid_bytes = rep.valid_bytes, cut_bytes = rep.file_bytes - rep.valid_bytes, %reason, "truncated a torn or invalid tail during recovery (never acknowledged as durable)");
                report.truncated_bytes += rep.file_bytes - rep.valid_bytes;
                seg.cut_to_valid(&rep).map_err(io_err)?;
                segments.insert(base, seg);
                if i + 1 < bases.len() {
                    cut_at = Some(i + 1);
                }
                break;
            }
            segments.insert(base, seg);
        }
        if let Some(from) = cut_at {
            for &base in &bases[from..] {
                let stem = file_stem(base);
                for ext in ["log", "index", "timeindex", "txnindex"] {
                    disk.remove_if_exists(&dir.join(format!("{stem}.{ext}"))).map_err(io_err)?;
                }
                report.discarded_segments += 1;
            }
            tracing::warn!(dir = %dir.display(), segments = bases.len() - from, first = bases[from], "removed segments after the end of the valid log");
        }
        // Segments wholly below the log start offset (retention or DeleteRecords whose removal a
        // crash undid) are removed again.
        let log_start_ckpt = rec.log_start_offset.max(0);
        let below: Vec<i64> = segments
            .keys()
            .zip(segments.keys().skip(1))
            .filter(|(_, next)| **next <= log_start_ckpt)
            .map(|(b, _)| *b)
            .collect();
        let mut dir_changed = cut_at.is_some() || !below.is_empty();
        for b in below {
            if let Some(s) = segments.remove(&b) {
                s.delete_files(disk).map_err(io_err)?;
            }
        }
        report.segments = segments.len();
        let log_end_offset = segments.values().next_back().map(|s| s.next_offset()).unwrap_or(log_start_ckpt);
        if !rec.clean && log_end_offset < rec.recovery_point {
            return Err(OpenError::MissingBelowRecoveryPoint {
                dir: dir.display().to_string(),
                log_end_offset,
                recovery_point: rec.recovery_point,
            });
        }
        let durability = Durability::new(env, dir, 0);
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset: 0,
            log_end_offset,
            producers: ProducerStateManager::default(),
            aborted: Vec::new(),
            unflushed_messages: 0,
            // flush.ms runs on wall time (see flush_due).
            last_flush_ms: crate::clock::now_ms(),
            env: env.clone(),
            durability,
            closed: false,
            at_rest: None,
            leader_epoch: super::partition::LEADER_EPOCH,
        };
        log.log_start_offset = log
            .segments
            .keys()
            .next()
            .copied()
            .unwrap_or(log_end_offset)
            .max(log_start_ckpt)
            .min(log_end_offset);
        if log.segments.is_empty() {
            let seg = Segment::create(disk, dir, log_end_offset, now_ms, log.config.index_interval_bytes)
                .map_err(io_err)?;
            log.segments.insert(log_end_offset, seg);
            dir_changed = true;
        }
        log.load_producer_state(&snapshots).map_err(io_err)?;
        log.settle(&validated, &rebuilt, dir_changed).map_err(io_err)?;
        log.write_leader_epoch_checkpoint().map_err(io_err)?;
        if rec.clean && validated.is_empty() && rebuilt.is_empty() && !dir_changed && !snapshots.is_empty() {
            // Opened from the files a clean shutdown left, and nothing had to be redone.
            log.at_rest = Some(log.at_rest_state());
        }
        Ok((log, report))
    }

    /// After recovery: sync what was kept (files, then the directory) so the whole log is durable,
    /// write the index files and txnindex of sealed segments that lack them, and start tracking
    /// the active segment.
    fn settle(&mut self, validated: &[i64], rebuilt: &[i64], dir_changed: bool) -> io::Result<()> {
        let disk = self.env.disk.clone();
        let active = self.active_base();
        for s in self.segments.values() {
            if validated.contains(&s.base_offset) {
                s.log_file().sync_data()?;
            } else {
                s.log_file().assume_synced();
            }
        }
        for s in self.segments.values().filter(|s| s.base_offset != active) {
            if validated.contains(&s.base_offset) || rebuilt.contains(&s.base_offset) {
                s.write_indexes(&disk)?;
            }
            if validated.contains(&s.base_offset) {
                let path = self.dir.join(format!("{}.txnindex", file_stem(s.base_offset)));
                super::txn_index::write(
                    &disk,
                    &path,
                    super::txn_index::encode(&self.aborted, s.base_offset, s.next_offset()).as_deref(),
                )?;
            }
            s.finalized().store(true, std::sync::atomic::Ordering::Release);
        }
        if !validated.is_empty() {
            // Recovered data may sit in the page cache only (after kill -9): make it all durable.
            disk.sync_dir(&self.dir)?;
        } else if dir_changed || !rebuilt.is_empty() {
            // New or removed files: the first sync that needs it makes their entries durable.
            self.durability.dir_changed();
        }
        let (base, file) = {
            let a = self.segments.values().next_back().expect("a log always has an active segment");
            (a.base_offset, a.log_file().clone())
        };
        self.durability.track(base, file);
        self.durability.set_recovery_point(self.log_end_offset);
        Ok(())
    }

    /// Loads the newest usable producer snapshot and replays batch headers after it.
    pub(super) fn load_producer_state(&mut self, snapshots: &[i64]) -> io::Result<()> {
        let disk = self.env.disk.clone();
        let mut from = self.log_start_offset;
        for &s in snapshots.iter().rev() {
            let path = self.dir.join(format!("{}.snapshot", file_stem(s)));
            if s > self.log_end_offset {
                disk.remove_if_exists(&path)?;
                continue;
            }
            if let Ok(b) = disk.read(&path) {
                if let Some(m) = ProducerStateManager::decode(&b) {
                    self.producers = m;
                    from = s;
                    break;
                }
            }
        }
        // Aborted transactions whose marker is before the replay point come from the segments'
        // txnindex files; those after it are found again by the replay below.
        self.aborted.clear();
        for base in self.segments.keys() {
            if let Ok(b) = disk.read(&self.dir.join(format!("{}.txnindex", file_stem(*base)))) {
                self.aborted
                    .extend(super::txn_index::decode(&b).into_iter().filter(|a| a.last_offset < from));
            }
        }
        let (producers, aborted) = (&mut self.producers, &mut self.aborted);
        for_each_batch_header(&self.segments, from, |h, seg, pos| {
            if h.is_control() && h.has_producer_id() {
                let commit = marker_is_commit(seg, pos, h)?;
                if let Some(first) = producers.close_txn(h.producer_id, h.producer_epoch, 0, h.max_timestamp)
                {
                    if !commit {
                        aborted.push(AbortedTxn {
                            producer_id: h.producer_id,
                            first_offset: first,
                            last_offset: h.base_offset,
                        });
                    }
                }
            } else {
                producers.record(h);
            }
            Ok(())
        })?;
        self.aborted.sort_by_key(|a| a.last_offset);
        Ok(())
    }
}
