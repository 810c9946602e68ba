//! One partition's log: an ordered set of segments with offsets, producer state and its files.
//!
//! Owns: the segments of one `<topic>-<partition>` directory, the log start and end offsets, the
//! idempotent producer state and its snapshots, the aborted-transaction index, and the long-poll
//! waiters of fetches. This file appends, reads, rolls and applies retention; `handle.rs` is the
//! shared [`Partition`], `txn.rs` the markers, last stable offset and aborted-transaction index,
//! `compaction.rs` the compaction swap. Opening (recovery) is in recovery.rs; when data is
//! durable is decided by durability.rs, never by a caller.
//! Must not: see protocol types; it takes batch bytes and returns domain results.
//! Concurrency: [`Partition`] is shared; its [`PartitionLog`] sits behind a `parking_lot::Mutex`
//! held only for short, bounded work (header checks, one vectored `write`, index updates, a few
//! header reads). No fsync and no index or snapshot write happens under it: a roll hands the
//! sealed segment to the seal thread. The bulk read of a fetch happens after the lock is released,
//! on the segment's shared file handle. Offsets visible to readers (`high_watermark`,
//! `log_start_offset`) are mirrored in atomics so metadata and list-offsets never take the lock.
//!
//! Files in the directory: `<base>.log`, `<base>.index`, `<base>.timeindex` (see segment.rs),
//! `<base>.txnindex` (txn_index.rs), `<offset>.snapshot` (producer state, see producer_state.rs)
//! and `leader-epoch-checkpoint`.
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::durability::{Durability, LogEnv, SyncTicket};
use super::file::{Disk, FaultPlan, LogFile};
use super::producer_state::{Origin, ProducerStateManager, SequenceCheck, SequenceError};
use super::segment::{file_stem, Segment};
pub use super::txn_index::AbortedTxn;
use crate::config::LogConfig;
use crate::record::batch::{
    check_crc, set_base_offset, set_log_append_time, set_partition_leader_epoch, BatchError, BatchHeader,
    BatchIter, HEADER_LEN,
};

/// The leader epoch of every partition on this single node. It is stamped into appended batches
/// and written to the leader-epoch checkpoint.
pub const LEADER_EPOCH: i32 = 0;

/// The most one batch's records may decompress to: 64 times `max.message.bytes`, at least
/// 64 MiB. Far above what any producer's batch inflates to, and it bounds what a small
/// compressed batch can cost the broker to check.
pub fn max_decompressed(max_message_bytes: u32) -> u64 {
    (max_message_bytes as u64).max(1 << 20) * 64
}

/// Producer snapshots kept per partition (the newest ones).
const SNAPSHOTS_KEPT: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: u32 },
    #[error("record batch of {size} bytes exceeds segment.bytes {max}")]
    RecordListTooLarge { size: usize, max: u32 },
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// A batch's records failed produce-time validation (see `record::validate`).
    #[error(transparent)]
    Invalid(#[from] crate::record::validate::Invalid),
    #[error("timestamp {timestamp} of the batch is out of range (now {now})")]
    InvalidTimestamp { timestamp: i64, now: i64 },
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    #[error("storage error: {0}")]
    Storage(#[from] io::Error),
    #[error("the topic was deleted")]
    Deleted,
    #[error("the broker is shutting down")]
    ShuttingDown,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange { offset: i64, log_start_offset: i64, log_end_offset: i64 },
    #[error("storage error: {0}")]
    Storage(#[from] io::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{what} in {file} at byte {position}, below the recovery point {recovery_point}: {reason}. Refusing to drop acknowledged data; move the file aside to start anyway")]
    CorruptBelowRecoveryPoint {
        what: &'static str,
        file: String,
        position: u64,
        recovery_point: i64,
        reason: String,
    },
    #[error("acknowledged data is missing in {dir}: the log ends at offset {log_end_offset}, below the recovery point {recovery_point} (a segment file is gone). Refusing to start; restore the files or move the directory aside")]
    MissingBelowRecoveryPoint { dir: String, log_end_offset: i64, recovery_point: i64 },
    #[error("I/O error opening {dir}: {source}")]
    Io { dir: String, source: io::Error },
}

/// The result of appending a produce request's batches to one partition.
#[derive(Debug, Clone)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The stamped time for LogAppendTime topics, else -1.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// What makes these offsets durable (acks=all waits for it; a duplicate's too: the original
    /// append may still be waiting for its sync).
    pub durable: SyncTicket,
    pub duplicate: bool,
}

/// Bytes for a fetch, cut at batch boundaries except possibly the last.
#[derive(Debug, Clone)]
pub struct ReadInfo {
    pub records: Bytes,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// With `read_until(.., with_aborted: true)` and records: the aborted transactions in
    /// `[offset, upper)` as (producer id, first offset), taken under the same lock as the read.
    pub aborted: Vec<(i64, i64)>,
}

/// A sealed segment as the compactor sees it.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size: u32,
    pub max_timestamp: i64,
    pub file: Arc<LogFile>,
}

/// A read planned under the lock and executed outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AtRest {
    log_start_offset: i64,
    log_end_offset: i64,
    segments: Vec<i64>,
    size: u64,
    aborted: usize,
    producers: Vec<u8>,
}

struct ReadPlan {
    file: Arc<LogFile>,
    position: u32,
    first_len: u32,
    end: u32,
}

/// What a recovery needs to know about the previous run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recovery {
    /// The previous run shut down cleanly (everything was synced).
    pub clean: bool,
    /// The checkpointed recovery point: every offset below it was acknowledged durable.
    pub recovery_point: i64,
    /// The checkpointed log start offset.
    pub log_start_offset: i64,
}

pub struct PartitionLog {
    pub(super) dir: PathBuf,
    pub(super) config: LogConfig,
    pub(super) segments: BTreeMap<i64, Segment>,
    pub(super) log_start_offset: i64,
    pub(super) log_end_offset: i64,
    pub(super) producers: ProducerStateManager,
    /// Aborted transactions, in marker order (the aborted-transaction index).
    pub(super) aborted: Vec<AbortedTxn>,
    pub(super) unflushed_messages: i64,
    pub(super) last_flush_ms: i64,
    pub(super) env: LogEnv,
    pub(super) durability: Arc<Durability>,
    /// Closed for a clean shutdown (or deleted): no more appends.
    pub(super) closed: bool,
    /// What the log looked like when its files on disk were last complete (a clean open that
    /// changed nothing, or a close). A clean shutdown skips rewriting a log that still matches.
    pub(super) at_rest: Option<AtRest>,
    /// The leader epoch stamped into appended batches (LEADER_EPOCH on one node; the partition's
    /// epoch in a cluster, where each change of owner bumps it).
    pub(super) leader_epoch: i32,
}

/// What opening a log found, for the startup log line.
#[derive(Debug, Default)]
pub struct OpenReport {
    pub segments: usize,
    pub validated_segments: usize,
    /// Bytes cut from a torn tail.
    pub truncated_bytes: u64,
    /// Segments after a torn tail or a hole, removed (never acknowledged as durable).
    pub discarded_segments: usize,
}

/// The work a roll hands to the seal thread: make the sealed segment durable, then write what
/// describes it (index files, txnindex, a producer snapshot at its end).
struct SealWork {
    /// Everything below the sealed segment's end.
    ticket: SyncTicket,
    disk: Disk,
    dir: PathBuf,
    base: i64,
    index: (Vec<u8>, Vec<u8>),
    txn_index: Option<Vec<u8>>,
    snapshot: Vec<u8>,
    finalized: Arc<std::sync::atomic::AtomicBool>,
}

impl SealWork {
    fn run(self) {
        let d = &self.ticket.durability;
        if d.is_deleted() || d.make_durable(self.ticket.end, self.ticket.truncations).is_err() {
            return; // deleted, truncated, or the log dir is offline: nothing more to write
        }
        // Files are written by name: not while the topic's deletion renames the directory away.
        let _files = d.lock_files();
        if d.is_deleted() {
            return;
        }
        if let Err(e) = self.write() {
            d.fail(&e);
            return;
        }
        self.finalized.store(true, Ordering::Release);
    }

    fn write(&self) -> io::Result<()> {
        let stem = file_stem(self.base);
        let disk = &self.disk;
        // Index files are caches that validate themselves: no fsync.
        disk.write_replacing(&self.dir.join(format!("{stem}.index")), &self.index.0, false)?;
        disk.write_replacing(&self.dir.join(format!("{stem}.timeindex")), &self.index.1, false)?;
        // The txnindex is durable before the snapshot that lets a replay start past it.
        if let Some(t) = &self.txn_index {
            super::txn_index::write(disk, &self.dir.join(format!("{stem}.txnindex")), Some(t))?;
        }
        write_snapshot(disk, &self.dir, self.ticket.end, &self.snapshot)
    }
}

/// Writes `<offset>.snapshot` durably and keeps only the newest [`SNAPSHOTS_KEPT`].
fn write_snapshot(disk: &Disk, dir: &Path, offset: i64, body: &[u8]) -> io::Result<()> {
    disk.write_atomic(&dir.join(format!("{}.snapshot", file_stem(offset))), body)?;
    let mut snaps = list_snapshots(disk, dir)?;
    snaps.sort_unstable();
    let keep = snaps.len().saturating_sub(SNAPSHOTS_KEPT);
    for s in &snaps[..keep] {
        disk.remove_if_exists(&dir.join(format!("{}.snapshot", file_stem(*s))))?;
    }
    Ok(())
}

pub(super) fn list_snapshots(disk: &Disk, dir: &Path) -> io::Result<Vec<i64>> {
    Ok(disk
        .list_dir(dir)?
        .into_iter()
        .filter_map(|(n, _)| n.strip_suffix(".snapshot").and_then(|s| s.parse().ok()))
        .collect())
}

impl PartitionLog {
    /// Opens a log on the operating system's disk with its syncs run inline: for tests and
    /// benchmarks of one log without a [`super::LogManager`].
    pub fn open_standalone(
        dir: &Path,
        config: LogConfig,
        clean: bool,
        recovery_point: i64,
        faults: Option<Arc<FaultPlan>>,
    ) -> Result<(PartitionLog, OpenReport), OpenError> {
        let env = LogEnv::inline(Disk::os().with_faults(faults), dir);
        PartitionLog::open(
            dir,
            config,
            Recovery { clean, recovery_point, log_start_offset: 0 },
            crate::clock::now_ms(),
            &env,
        )
    }

    /// What produce-time validation checks records against, from this log's config at `now_ms`.
    pub fn validation_rules(&self, now_ms: i64) -> crate::record::validate::Rules {
        let c = &self.config;
        crate::record::validate::Rules {
            need_key: c.compact,
            timestamps: (!c.log_append_time).then(|| {
                (
                    now_ms.saturating_sub(c.timestamp_before_max_ms),
                    now_ms.saturating_add(c.timestamp_after_max_ms),
                )
            }),
            max_decompressed: max_decompressed(c.max_message_bytes),
        }
    }

    /// The epoch stamped into batches appended from now on.
    pub fn set_leader_epoch(&mut self, epoch: i32) {
        self.leader_epoch = epoch;
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    pub fn producers(&self) -> &ProducerStateManager {
        &self.producers
    }
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size() as u64).sum()
    }
    pub fn durability(&self) -> &Arc<Durability> {
        &self.durability
    }
    pub fn disk(&self) -> &Disk {
        &self.env.disk
    }

    fn active(&mut self) -> &mut Segment {
        // Invariant: a log always has at least one segment (open and truncate keep one).
        self.segments.values_mut().next_back().expect("a log always has an active segment")
    }

    /// Validates every batch in `records`, then assigns offsets and appends them.
    /// Nothing is written unless every batch is valid.
    /// Appends are refused once the log is closed or its topic deleted.
    fn check_open(&self) -> Result<(), AppendError> {
        if self.durability.is_deleted() {
            return Err(AppendError::Deleted);
        }
        if self.closed {
            return Err(AppendError::ShuttingDown);
        }
        self.env.health.check()?;
        Ok(())
    }

    /// The topic is being deleted: nothing more is written by this log (under its lock, so no
    /// operation that started before touches the directory after the caller renames it).
    pub fn mark_deleted(&mut self) {
        self.durability.mark_deleted();
    }

    pub fn append(&mut self, records: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        self.append_checked(records, now_ms, false, Origin::Client)
    }

    /// [`PartitionLog::append`]; `crc_checked` says the caller already verified every batch's CRC
    /// (the broker's produce path does, with the record validation, before taking the lock).
    fn append_checked(
        &mut self,
        records: &[u8],
        now_ms: i64,
        crc_checked: bool,
        origin: Origin,
    ) -> Result<AppendInfo, AppendError> {
        self.check_open()?;
        let mut batches: Vec<(usize, BatchHeader)> = Vec::with_capacity(1);
        let mut it = BatchIter::new(records);
        for (pos, h) in it.by_ref() {
            if !crc_checked {
                check_crc(&records[pos..pos + h.total_len()], &h)?;
            }
            self.check_batch(&records[pos..pos + h.total_len()], &h, now_ms)?;
            batches.push((pos, h));
        }
        if let Some(e) = it.error() {
            return Err(AppendError::Batch(e.clone()));
        }
        if batches.is_empty() {
            return Err(AppendError::InvalidRecord("the produce request carries no record batch".into()));
        }
        if batches.iter().any(|(_, h)| h.has_producer_id()) && batches.len() > 1 {
            return Err(AppendError::InvalidRecord(
                "an idempotent producer must send exactly one batch per partition and request".into(),
            ));
        }
        if let Some((_, h)) = batches.first() {
            if let SequenceCheck::Duplicate(d) = self.producers.check(h, origin)? {
                return Ok(AppendInfo {
                    base_offset: d.first_offset,
                    last_offset: d.last_offset,
                    log_append_time: -1,
                    log_start_offset: self.log_start_offset,
                    durable: self.durability.ticket(d.last_offset + 1),
                    duplicate: true,
                });
            }
        }
        self.write_batches(records, &batches, now_ms)
    }

    /// Assigns offsets to already validated batches and appends them.
    fn write_batches(
        &mut self,
        records: &[u8],
        batches: &[(usize, BatchHeader)],
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let base_offset = self.log_end_offset;
        let stamp = if self.config.log_append_time { now_ms } else { -1 };
        let mut count = 0i64;
        for (pos, h) in batches {
            let total = h.total_len();
            self.maybe_roll(total as u32, now_ms)?;
            let mut header = [0u8; HEADER_LEN];
            header.copy_from_slice(&records[*pos..pos + HEADER_LEN]);
            let offset = self.log_end_offset;
            set_base_offset(&mut header, offset);
            set_partition_leader_epoch(&mut header, self.leader_epoch);
            let body = &records[pos + HEADER_LEN..pos + total];
            if stamp >= 0 {
                stamp_log_append_time(&mut header, body, stamp);
            }
            let seg = self.active();
            let before = seg.size();
            if let Err(e) = seg.append(&header, body) {
                // Leave no partial batch behind; the log dir goes offline.
                let _ = seg.log_file().truncate(before as u64);
                self.durability.fail(&e);
                return Err(AppendError::Storage(e));
            }
            let written = BatchHeader::parse(&header)?;
            self.producers.record(&written);
            self.log_end_offset = written.next_offset();
            count += written.last_offset_delta as i64 + 1;
        }
        self.unflushed_messages += count;
        let durable = self.durability.ticket(self.log_end_offset);
        if self.flush_due() {
            // flush.messages / flush.ms: a sync in the background, whatever the producer's acks.
            durable.clone().submit_in_background();
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: self.log_end_offset - 1,
            log_append_time: stamp,
            log_start_offset: self.log_start_offset,
            durable,
            duplicate: false,
        })
    }

    /// Per-batch checks that need no record decoding.
    fn check_batch(&self, batch: &[u8], h: &BatchHeader, now_ms: i64) -> Result<(), AppendError> {
        let size = h.total_len();
        if size > self.config.max_message_bytes as usize {
            return Err(AppendError::MessageTooLarge { size, max: self.config.max_message_bytes });
        }
        if size > self.config.segment_bytes as usize {
            return Err(AppendError::RecordListTooLarge { size, max: self.config.segment_bytes });
        }
        if h.is_control() {
            return Err(AppendError::InvalidRecord("clients may not produce control batches".into()));
        }
        // The header's own consistency; the records themselves are checked by `record::validate`
        // before the lock is taken (`Partition::append`).
        crate::record::validate::check_header(h)?;
        let _ = batch;
        if !self.config.log_append_time && h.max_timestamp >= 0 {
            let (before, after) = (self.config.timestamp_before_max_ms, self.config.timestamp_after_max_ms);
            if h.base_timestamp.min(h.max_timestamp) < now_ms.saturating_sub(before)
                || h.max_timestamp > now_ms.saturating_add(after)
            {
                return Err(AppendError::InvalidTimestamp { timestamp: h.max_timestamp, now: now_ms });
            }
        }
        Ok(())
    }

    /// Rolls to a new segment when the next batch would not fit, or the active one is old.
    fn maybe_roll(&mut self, next_len: u32, now_ms: i64) -> io::Result<()> {
        let cfg = &self.config;
        let (segment_bytes, segment_ms) = (cfg.segment_bytes, cfg.segment_ms);
        let leo = self.log_end_offset;
        let seg = self.active();
        if seg.is_empty() {
            return Ok(());
        }
        let full = seg.size() as u64 + next_len as u64 > segment_bytes as u64;
        let old = now_ms.saturating_sub(seg.created_ms) >= segment_ms;
        let offsets = leo - seg.base_offset > i32::MAX as i64 / 2;
        if full || old || offsets {
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at the log end offset. The sealed segment's
    /// sync, index files and the producer snapshot at its end are written by the seal thread; the
    /// recovery point passes the sealed segment only once its file is synced.
    pub fn roll(&mut self, now_ms: i64) -> io::Result<()> {
        let leo = self.log_end_offset;
        if self.active().is_empty() {
            return Ok(());
        }
        let base = self.active_base();
        let (index, finalized) = {
            let seg = self.active();
            (seg.index_files(), seg.finalized().clone())
        };
        let work = SealWork {
            ticket: self.durability.ticket(leo),
            disk: self.env.disk.clone(),
            dir: self.dir.clone(),
            base,
            index,
            txn_index: self.txn_index_bytes(base, &[]),
            snapshot: self.producers.encode(),
            finalized,
        };
        let seg =
            match Segment::create(&self.env.disk, &self.dir, leo, now_ms, self.config.index_interval_bytes) {
                Ok(s) => s,
                Err(e) => {
                    self.durability.fail(&e);
                    return Err(e);
                }
            };
        self.durability.track(leo, seg.log_file().clone());
        self.durability.dir_changed();
        self.segments.insert(leo, seg);
        self.env.background.seal(Box::new(move || work.run()));
        Ok(())
    }

    /// The offset of the oldest producer snapshot on disk (None if there is none). A replay after
    /// a crash starts at one of the snapshots, so the compactor removes a transaction marker only
    /// below this: no replay can then start before a marker that is no longer there and leave
    /// its transaction open.
    pub fn oldest_snapshot(&self) -> Option<i64> {
        list_snapshots(&self.env.disk, &self.dir).ok()?.into_iter().min()
    }

    /// Drops idle producers' state (`producer.id.expiration.ms`); returns how many.
    pub fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, expiration_ms)
    }

    /// Whether the flush policy (flush.messages / flush.ms) asks for an fsync now. flush.ms is a
    /// durability policy on wall time, whatever the broker's domain clock says.
    pub fn flush_due(&mut self) -> bool {
        let now_ms = crate::clock::now_ms();
        let due = self.unflushed_messages >= self.config.flush_messages
            || (self.unflushed_messages > 0
                && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms);
        if due {
            self.unflushed_messages = 0;
            self.last_flush_ms = now_ms;
        }
        due
    }

    /// A ticket for everything appended so far (the periodic flush, clean shutdown).
    pub fn ticket(&self) -> SyncTicket {
        self.durability.ticket(self.log_end_offset)
    }

    fn plan_read(&self, offset: i64, max_bytes: u32) -> Result<Option<ReadPlan>, ReadError> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(ReadError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let start_base = self.segments.range(..=offset).next_back().map(|(b, _)| *b).unwrap_or(i64::MIN);
        for (_, seg) in self.segments.range(start_base..) {
            if let Some((position, h)) = seg.find_batch(offset)? {
                let _ = max_bytes;
                return Ok(Some(ReadPlan {
                    file: seg.log_file().clone(),
                    position,
                    first_len: h.total_len() as u32,
                    end: seg.size(),
                }));
            }
        }
        Ok(None)
    }

    /// The byte position in `file`'s segment where the batch holding `offset` starts, if that
    /// batch is in the segment of `file`.
    fn position_of(&self, offset: i64, file: &Arc<LogFile>) -> io::Result<Option<u32>> {
        let Some((_, seg)) = self.segments.range(..=offset).next_back() else { return Ok(None) };
        if !Arc::ptr_eq(seg.log_file(), file) {
            return Ok(None);
        }
        Ok(seg.find_batch(offset)?.map(|(pos, _)| pos))
    }

    /// The first record at or after the log start offset with timestamp >= `ts`: its offset and
    /// timestamp (records below the log start, deleted by DeleteRecords but still in a segment,
    /// are not looked at, as Kafka searches).
    pub fn offset_for_timestamp(&self, ts: i64) -> io::Result<Option<(i64, i64)>> {
        let from = self.log_start_offset;
        for seg in self.segments.values() {
            if seg.max_timestamp() < ts || seg.next_offset() <= from {
                continue;
            }
            if let Some(found) = seg.find_by_timestamp(ts, from)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Offset and timestamp of the record with the largest timestamp.
    pub fn max_timestamp_offset(&self) -> io::Result<Option<(i64, i64)>> {
        let mut best: Option<(i64, i64)> = None;
        for seg in self.segments.values() {
            if let Some((o, t)) = seg.find_max_timestamp()? {
                if best.is_none_or(|(_, bt)| t > bt) {
                    best = Some((o, t));
                }
            }
        }
        Ok(best)
    }

    /// Deletes whole segments, by base offset (never the active one). Files go at once; the
    /// directory entries become durable with the next sync of the directory.
    fn delete_segments(&mut self, bases: &[i64]) -> io::Result<()> {
        for b in bases {
            if let Some(s) = self.segments.remove(b) {
                self.durability.untrack(*b);
                s.delete_files(&self.env.disk)?;
                self.durability.dir_changed();
            }
        }
        Ok(())
    }

    /// Sealed segments the cleaner may delete or rewrite: their seal job ran (so nothing writes
    /// their files any more).
    fn finalized_sealed(&self) -> impl Iterator<Item = (&i64, &Segment)> {
        let active = self.active_base();
        self.segments.iter().filter(move |(b, s)| **b != active && s.is_finalized())
    }

    /// Moves the log start offset forward (DeleteRecords) and drops segments wholly below it
    /// (those still being sealed go at the next retention pass).
    pub fn delete_records_before(&mut self, offset: i64) -> io::Result<i64> {
        let offset = offset.min(self.log_end_offset);
        if offset <= self.log_start_offset || self.durability.is_deleted() {
            return Ok(self.log_start_offset);
        }
        self.log_start_offset = offset;
        let doomed: Vec<i64> =
            self.finalized_sealed().filter(|(_, s)| s.next_offset() <= offset).map(|(b, _)| *b).collect();
        let r = self.delete_segments(&doomed);
        if let Err(e) = &r {
            self.durability.fail(e);
        }
        r.map(|_| self.log_start_offset)
    }

    /// Retention for `cleanup.policy=delete`: removes whole segments (never the active one) whose
    /// newest record is older than `retention.ms`, then oldest segments while the log exceeds
    /// `retention.bytes`, and moves the log start offset to the first remaining segment. Segments
    /// wholly below the log start offset (DeleteRecords) go too. Returns how many were deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> io::Result<usize> {
        if self.durability.is_deleted() {
            return Ok(0);
        }
        let (ms, bytes) = (self.config.retention_ms, self.config.retention_bytes);
        let active = self.active_base();
        let mut size: i64 = self.size_bytes() as i64;
        let mut doomed = Vec::new();
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        for (i, (base, seg)) in self.segments.iter().enumerate() {
            if *base == active || !seg.is_finalized() {
                break;
            }
            // Wholly below the log start: the next segment starts at or before it (a compacted
            // segment may end early or be empty; its offsets still reach the next base).
            let below_start = bases.get(i + 1).is_some_and(|next| *next <= self.log_start_offset);
            let newest = if seg.max_timestamp() >= 0 { seg.max_timestamp() } else { seg.created_ms };
            let too_old = self.config.delete && ms >= 0 && now_ms.saturating_sub(newest) > ms;
            let too_big = self.config.delete && bytes >= 0 && size - seg.size() as i64 >= bytes;
            if !(too_old || too_big || below_start) {
                break;
            }
            size -= seg.size() as i64;
            doomed.push(*base);
        }
        let r = self.delete_segments(&doomed);
        if let Some(first) = self.segments.keys().next() {
            self.log_start_offset = self.log_start_offset.max(*first);
        }
        if let Err(e) = &r {
            self.durability.fail(e);
        }
        r.map(|_| doomed.len())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn active_base(&self) -> i64 {
        self.segments.keys().next_back().copied().unwrap_or(0)
    }

    /// Removes every batch at or after `offset` (whole batches; a batch holding `offset` with a
    /// smaller base offset stays). The recovery point comes down with the log end; the next sync
    /// makes the cut and the removed files durable.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> io::Result<()> {
        if offset >= self.log_end_offset {
            return Ok(());
        }
        let doomed: Vec<i64> = self.segments.range(offset..).map(|(b, _)| *b).collect();
        self.delete_segments(&doomed)?;
        if let Some((_, seg)) = self.segments.range_mut(..offset).next_back() {
            seg.truncate_to(offset)?;
        }
        self.log_end_offset = self
            .segments
            .values()
            .next_back()
            .map(|s| s.next_offset())
            .unwrap_or(offset.min(self.log_end_offset));
        if self.segments.is_empty() {
            let leo = offset.max(self.log_start_offset);
            self.log_end_offset = leo;
            let seg =
                Segment::create(&self.env.disk, &self.dir, leo, now_ms, self.config.index_interval_bytes)?;
            self.durability.dir_changed();
            self.segments.insert(leo, seg);
        }
        let (base, file) = {
            let a = self.active();
            (a.base_offset, a.log_file().clone())
        };
        self.durability.track(base, file);
        self.durability.truncated(self.log_end_offset);
        self.log_start_offset = self.log_start_offset.min(self.log_end_offset);
        // Rebuild idempotence and transaction state from what is left (snapshots past the new end
        // are discarded by the loader).
        self.producers = ProducerStateManager::default();
        self.load_producer_state(&[])?;
        Ok(())
    }

    /// Clean shutdown (after the seal thread drained): the active segment's index files,
    /// txnindex and a producer snapshot, every file synced, then the directory; the recovery
    /// point reaches the log end.
    /// Refuses appends from now on (a clean shutdown begins).
    pub fn stop_appends(&mut self) {
        self.closed = true;
    }

    pub fn close(&mut self) -> io::Result<()> {
        self.closed = true;
        if self.durability.is_deleted() {
            return Ok(());
        }
        let now = self.at_rest_state();
        if self.at_rest.as_ref() == Some(&now)
            && self.segments.values().all(|s| s.log_file().is_synced())
            && !self.durability.dir_pending()
        {
            // Nothing changed since its files were last complete: nothing to write or sync.
            self.durability.set_recovery_point(self.log_end_offset);
            return Ok(());
        }
        let disk = self.env.disk.clone();
        let base = self.active_base();
        self.active().write_indexes(&disk)?;
        let stem = file_stem(base);
        super::txn_index::write(
            &disk,
            &self.dir.join(format!("{stem}.txnindex")),
            self.txn_index_bytes(base, &[]).as_deref(),
        )?;
        write_snapshot(&disk, &self.dir, self.log_end_offset, &self.producers.encode())?;
        for s in self.segments.values() {
            s.log_file().sync_if_needed()?;
        }
        self.write_leader_epoch_checkpoint()?;
        disk.sync_dir(&self.dir)?;
        self.durability.set_recovery_point(self.log_end_offset);
        self.at_rest = Some(now);
        Ok(())
    }

    /// The fingerprint [`PartitionLog::close`] compares: offsets, segments, sizes, aborted
    /// transactions and producer state, everything the files written at close hold.
    pub(super) fn at_rest_state(&self) -> AtRest {
        AtRest {
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
            segments: self.segments.keys().copied().collect(),
            size: self.size_bytes(),
            aborted: self.aborted.len(),
            producers: self.producers.encode(),
        }
    }

    pub(super) fn write_leader_epoch_checkpoint(&self) -> io::Result<()> {
        let path = self.dir.join("leader-epoch-checkpoint");
        let body = format!("0\n1\n{} {}\n", LEADER_EPOCH, self.log_start_offset);
        if self.env.disk.read_to_string(&path).ok().as_deref() != Some(body.as_str()) {
            self.env.disk.write_atomic(&path, body.as_bytes())?;
        }
        Ok(())
    }
}

fn stamp_log_append_time(header: &mut [u8; HEADER_LEN], body: &[u8], now_ms: i64) {
    // The CRC covers header bytes 21.. and the body; recompute it without copying the body.
    let mut tmp = *header;
    set_log_append_time(&mut tmp[..], now_ms); // sets attrs + max_timestamp (crc over header only)
    let crc = crc32c::crc32c_append(crc32c::crc32c(&tmp[21..]), body);
    tmp[17..21].copy_from_slice(&crc.to_be_bytes());
    *header = tmp;
}

/// Whether the control batch at `pos` is a COMMIT marker (else ABORT). The control record key is
/// `version i16, type i16` with type 1 = COMMIT, 0 = ABORT.
pub(super) fn marker_is_commit(seg: &Segment, pos: u32, h: &BatchHeader) -> io::Result<bool> {
    let mut buf = vec![0u8; h.total_len()];
    seg.log_file().read_exact_at(&mut buf, pos as u64)?;
    crate::record::records::marker_is_commit(&buf, h)
        .ok_or_else(|| io::Error::other("malformed control batch"))
}

/// Calls `f` with the header, segment and position of every batch at or after `from`.
pub(super) fn for_each_batch_header(
    segments: &BTreeMap<i64, Segment>,
    from: i64,
    mut f: impl FnMut(&BatchHeader, &Segment, u32) -> io::Result<()>,
) -> io::Result<()> {
    let start = segments.range(..=from).next_back().map(|(b, _)| *b).unwrap_or(i64::MIN);
    for (_, seg) in segments.range(start..) {
        let mut pos = match seg.find_batch(from.max(seg.base_offset))? {
            Some((p, _)) => p,
            None => continue,
        };
        let mut hdr = [0u8; HEADER_LEN];
        while pos < seg.size() {
            seg.log_file().read_exact_at(&mut hdr, pos as u64)?;
            let h = BatchHeader::parse(&hdr).map_err(io::Error::other)?;
            f(&h, seg, pos)?;
            pos += h.total_len() as u32;
        }
    }
    Ok(())
}

mod compaction;
mod handle;
mod txn;
pub use handle::{CommitError, Lead, LeaderCheck, Partition};

#[cfg(test)]
mod tests;
