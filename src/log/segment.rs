//! One segment of a partition log: `<base_offset>.log` plus its sparse indexes.
//!
//! Owns: the `.log` file (record batches exactly as on the wire, with broker-assigned offsets), the
//! in-memory offset and time indexes and their on-disk form (written after the segment is sealed,
//! and at clean shutdown, by the partition's seal job; see index.rs for their self-validating
//! trailer). Must not: know about producers, fetch sessions or the protocol, or sync anything
//! (durability.rs decides that). Concurrency: mutated only under the owning partition's lock; reads
//! go through the shared `Arc<LogFile>` with positional reads.
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::file::{Disk, LogFile};
use super::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex, Trailer};
use crate::record::batch::{check_crc, BatchError, BatchHeader, HEADER_LEN};

/// File name stem for a segment: the base offset, zero-padded to 20 digits as Kafka does.
pub fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// What a scan of a segment found.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Bytes of valid batches from the start of the file.
    pub valid_bytes: u64,
    /// The file's length before the scan cut anything.
    pub file_bytes: u64,
    /// Why the scan stopped before the end of the file, if it did.
    pub stopped_by: Option<BatchError>,
    pub batches: u64,
    /// The index files were missing or did not describe this file, and were rebuilt in memory.
    pub indexes_rebuilt: bool,
}

/// How to open a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Known durable: load the index files if they describe this file, scan only the tail.
    Trust,
    /// May hold a torn tail: check every batch (size, magic, CRC, increasing offsets).
    Validate,
}

#[derive(Debug)]
pub struct Segment {
    pub base_offset: i64,
    log: Arc<LogFile>,
    dir: PathBuf,
    size: u32,
    next_offset: i64,
    max_timestamp: i64,
    last_batch_position: u32,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index: u32,
    index_interval_bytes: u32,
    /// When the first batch was appended (wall clock), for `segment.ms` rolls.
    pub created_ms: i64,
    /// Its seal job ran (file synced, index files and snapshot written): the cleaner may use it.
    finalized: Arc<AtomicBool>,
}

impl Segment {
    fn empty(
        dir: &Path,
        base_offset: i64,
        log: Arc<LogFile>,
        size: u32,
        now_ms: i64,
        index_interval_bytes: u32,
    ) -> Segment {
        Segment {
            base_offset,
            log,
            dir: dir.to_path_buf(),
            size,
            next_offset: base_offset,
            max_timestamp: -1,
            last_batch_position: 0,
            offset_index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            bytes_since_index: 0,
            index_interval_bytes,
            created_ms: now_ms,
            finalized: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Creates a new, empty segment file (its directory entry is durable only after the
    /// partition directory is synced, which the next ticket does).
    pub fn create(
        disk: &Disk,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
        index_interval_bytes: u32,
    ) -> io::Result<Segment> {
        let stem = file_stem(base_offset);
        // A txnindex left by an earlier segment at this base (after a truncation) is not ours.
        disk.remove_if_exists(&dir.join(format!("{stem}.txnindex")))?;
        let log = disk.open_file(&dir.join(format!("{stem}.log")))?;
        log.truncate(0)?;
        Ok(Segment::empty(dir, base_offset, Arc::new(log), 0, now_ms, index_interval_bytes))
    }

    /// Opens an existing segment. `Validate` checks every batch, cuts the file after the last
    /// valid one and rebuilds the indexes; `Trust` loads the index files when they describe this
    /// file (else rebuilds them from the batch headers) and scans only the tail. Either way a
    /// batch that runs past the end of the file or a header that does not parse stops the scan,
    /// and the report says so; the caller decides whether that is a torn tail or damage.
    pub fn open(
        disk: &Disk,
        dir: &Path,
        base_offset: i64,
        mode: OpenMode,
        now_ms: i64,
        index_interval_bytes: u32,
    ) -> io::Result<(Segment, ScanReport)> {
        let path = dir.join(format!("{}.log", file_stem(base_offset)));
        let log = Arc::new(disk.open_file(&path)?);
        Segment::open_file(disk, dir, base_offset, log, mode, now_ms, index_interval_bytes)
    }

    /// Opens a segment from an already open file (the compactor's cleaned copy before its rename).
    pub fn open_file(
        disk: &Disk,
        dir: &Path,
        base_offset: i64,
        log: Arc<LogFile>,
        mode: OpenMode,
        now_ms: i64,
        index_interval_bytes: u32,
    ) -> io::Result<(Segment, ScanReport)> {
        let len = log.len()?;
        let size = u32::try_from(len).map_err(|_| io::Error::other("segment larger than 4 GiB"))?;
        let mut seg = Segment::empty(dir, base_offset, log, size, now_ms, index_interval_bytes);
        let mut report = ScanReport { file_bytes: len, ..Default::default() };
        let loaded = mode == OpenMode::Trust && seg.load_indexes(disk);
        let start =
            if loaded { seg.offset_index.lookup(u32::MAX).map(|e| e.position).unwrap_or(0) } else { 0 };
        report.indexes_rebuilt = !loaded;
        if !loaded {
            seg.offset_index = OffsetIndex::default();
            seg.time_index = TimeIndex::default();
            seg.max_timestamp = -1;
        }
        seg.rescan_from(start, mode == OpenMode::Validate, !loaded, &mut report)?;
        // A scan that stopped early leaves the file as it is: the caller either refuses to start
        // (the bytes stay for inspection) or cuts the tail with `cut_to_valid`.
        Ok((seg, report))
    }

    /// Cuts the file after the last valid batch a scan found (a torn tail).
    pub fn cut_to_valid(&mut self, report: &ScanReport) -> io::Result<()> {
        if report.valid_bytes < self.size as u64 {
            self.log.truncate(report.valid_bytes)?;
            self.size = report.valid_bytes as u32;
        }
        Ok(())
    }

    fn load_indexes(&mut self, disk: &Disk) -> bool {
        let stem = file_stem(self.base_offset);
        let (Ok(oi), Ok(ti)) = (
            disk.read(&self.dir.join(format!("{stem}.index"))),
            disk.read(&self.dir.join(format!("{stem}.timeindex"))),
        ) else {
            return false;
        };
        let (Some((oe, ot)), Some((te, tt))) = (Trailer::open(&oi), Trailer::open(&ti)) else { return false };
        if ot != tt || ot.log_size != self.size {
            return false;
        }
        // The trailer names the last batch: check it is where it says and ends the file.
        if self.size > 0 {
            let Ok(h) = self.header_at(ot.last_batch_position) else { return false };
            if ot.last_batch_position as u64 + h.total_len() as u64 != self.size as u64
                || h.next_offset() != ot.next_offset
            {
                return false;
            }
        }
        let Some(o) = OffsetIndex::from_bytes(oe, self.size.max(1)) else { return false };
        let Some(t) = TimeIndex::from_bytes(te, u32::MAX) else { return false };
        self.offset_index = o;
        self.time_index = t;
        self.max_timestamp = self.time_index.last().map(|e| e.timestamp).unwrap_or(-1);
        true
    }

    /// The index files' bytes (offset index, time index), each with its trailer.
    pub fn index_files(&self) -> (Vec<u8>, Vec<u8>) {
        let t = Trailer {
            log_size: self.size,
            last_batch_position: self.last_batch_position,
            next_offset: self.next_offset,
        };
        let mut oi = self.offset_index.to_bytes();
        t.seal(&mut oi);
        let mut ti = self.time_index.to_bytes();
        t.seal(&mut ti);
        (oi, ti)
    }

    /// Walks batches from `start` to the end of the file, updating next offset, timestamps and
    /// (when `index`) the indexes; with `validate`, checks CRCs and offset order.
    fn rescan_from(
        &mut self,
        start: u32,
        validate: bool,
        index: bool,
        report: &mut ScanReport,
    ) -> io::Result<()> {
        let mut pos = start as u64;
        let end = self.size as u64;
        report.valid_bytes = pos;
        if start > 0 {
            // Resuming after the index: the batch at `start` sets where the offsets continue.
            self.next_offset = self.base_offset;
        }
        let mut hdr = [0u8; HEADER_LEN];
        let mut whole = Vec::new();
        while pos < end {
            if end - pos < HEADER_LEN as u64 {
                report.stopped_by =
                    Some(BatchError::Truncated { have: (end - pos) as usize, need: HEADER_LEN });
                break;
            }
            self.log.read_exact_at(&mut hdr, pos)?;
            let h = match BatchHeader::parse(&hdr) {
                Ok(h) => h,
                Err(e) => {
                    report.stopped_by = Some(e);
                    break;
                }
            };
            let total = h.total_len() as u64;
            if pos + total > end {
                report.stopped_by =
                    Some(BatchError::Truncated { have: (end - pos) as usize, need: total as usize });
                break;
            }
            if h.last_offset() < h.base_offset
                || (validate && h.base_offset < self.next_offset)
                || h.base_offset < self.base_offset
            {
                report.stopped_by = Some(BatchError::InvalidRecord("offsets not increasing"));
                break;
            }
            if validate {
                whole.resize(total as usize, 0);
                self.log.read_exact_at(&mut whole, pos)?;
                if let Err(e) = check_crc(&whole, &h) {
                    report.stopped_by = Some(e);
                    break;
                }
            }
            if index {
                self.note_batch(&h, pos as u32);
            } else if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
            }
            self.last_batch_position = pos as u32;
            self.next_offset = h.next_offset();
            pos += total;
            report.valid_bytes = pos;
            report.batches += 1;
        }
        Ok(())
    }

    /// Index bookkeeping for a batch placed at `position`.
    fn note_batch(&mut self, h: &BatchHeader, position: u32) {
        if self.offset_index.is_empty() || self.bytes_since_index >= self.index_interval_bytes {
            self.offset_index
                .push(OffsetEntry { relative_offset: (h.base_offset - self.base_offset) as u32, position });
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += h.total_len() as u32;
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.time_index.push(TimeEntry {
                timestamp: h.max_timestamp,
                relative_offset: (h.last_offset() - self.base_offset) as u32,
            });
        }
    }

    pub fn log_file(&self) -> &Arc<LogFile> {
        &self.log
    }
    /// Points this segment at another handle of the same bytes (the cleaned copy after its rename).
    pub fn set_log_file(&mut self, log: Arc<LogFile>) {
        self.log = log;
    }
    pub fn size(&self) -> u32 {
        self.size
    }
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    pub fn finalized(&self) -> &Arc<AtomicBool> {
        &self.finalized
    }
    pub fn is_finalized(&self) -> bool {
        self.finalized.load(Ordering::Acquire)
    }

    /// Appends one batch: `header` is the (rewritten) 61-byte header, `body` the records untouched.
    pub fn append(&mut self, header: &[u8; HEADER_LEN], body: &[u8]) -> io::Result<()> {
        let h = BatchHeader::parse(header).map_err(io::Error::other)?;
        let position = self.size;
        self.log.append(&[header, body])?;
        self.size += (HEADER_LEN + body.len()) as u32;
        self.note_batch(&h, position);
        self.last_batch_position = position;
        self.next_offset = h.next_offset();
        Ok(())
    }

    /// Reads the header of the batch at `pos`.
    fn header_at(&self, pos: u32) -> io::Result<BatchHeader> {
        let mut hdr = [0u8; HEADER_LEN];
        self.log.read_exact_at(&mut hdr, pos as u64)?;
        BatchHeader::parse(&hdr).map_err(io::Error::other)
    }

    /// Position and header of the first batch whose last offset is >= `offset`.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<(u32, BatchHeader)>> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let rel = (offset - self.base_offset).clamp(0, u32::MAX as i64) as u32;
        let mut pos = self.offset_index.lookup(rel).map(|e| e.position).unwrap_or(0);
        while pos < self.size {
            let h = self.header_at(pos)?;
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.total_len() as u32;
        }
        Ok(None)
    }

    fn batch_bytes(&self, pos: u32, h: &BatchHeader) -> io::Result<Bytes> {
        let mut buf = BytesMut::zeroed(h.total_len());
        self.log.read_exact_at(&mut buf, pos as u64)?;
        Ok(buf.freeze())
    }

    /// The first record with timestamp >= `ts`: (offset, timestamp), looked up exactly inside the
    /// first batch whose max timestamp is >= `ts`.
    pub fn find_by_timestamp(&self, ts: i64, from: i64) -> io::Result<Option<(i64, i64)>> {
        if self.max_timestamp < ts {
            return Ok(None);
        }
        let start_rel = self.time_index.lookup(ts).map(|e| e.relative_offset).unwrap_or(0);
        let start = (self.base_offset + start_rel as i64).max(from);
        let mut pos = match self.find_batch(start)? {
            Some((p, _)) => p,
            None => return Ok(None),
        };
        while pos < self.size {
            let h = self.header_at(pos)?;
            if h.max_timestamp >= ts && h.last_offset() >= from {
                let b = self.batch_bytes(pos, &h)?;
                if let Some(found) = crate::record::timestamps::first_at_or_after(&b, &h, ts, from) {
                    return Ok(Some(found));
                }
            }
            pos += h.total_len() as u32;
        }
        Ok(None)
    }

    /// The record holding the segment's largest timestamp: (offset, timestamp).
    pub fn find_max_timestamp(&self) -> io::Result<Option<(i64, i64)>> {
        let mut best: Option<(u32, BatchHeader)> = None;
        let mut pos = 0;
        if let Some(e) = self.time_index.last() {
            if let Some((p, _)) = self.find_batch(self.base_offset + e.relative_offset as i64)? {
                pos = p;
            }
        }
        while pos < self.size {
            let h = self.header_at(pos)?;
            if best.is_none_or(|(_, b)| h.max_timestamp > b.max_timestamp) {
                best = Some((pos, h));
            }
            pos += h.total_len() as u32;
        }
        match best {
            Some((p, h)) => {
                let b = self.batch_bytes(p, &h)?;
                Ok(Some(crate::record::timestamps::max_timestamp_record(&b, &h)))
            }
            None => Ok(None),
        }
    }

    /// Removes every batch whose base offset is >= `offset` (batches are never split).
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        let cut = match self.find_batch(offset)? {
            Some((pos, h)) if h.base_offset >= offset => pos,
            Some((pos, h)) => pos + h.total_len() as u32,
            None => return Ok(()),
        };
        self.log.truncate(cut as u64)?;
        self.size = cut;
        let rel = (offset - self.base_offset).max(0) as u32;
        self.offset_index.truncate(rel, cut);
        self.time_index.truncate(rel);
        self.max_timestamp = self.time_index.last().map(|e| e.timestamp).unwrap_or(-1);
        // Recompute the next offset from the remaining batches.
        self.next_offset = self.base_offset;
        self.last_batch_position = 0;
        let start = self.offset_index.lookup(u32::MAX).map(|e| e.position).unwrap_or(0);
        let mut pos = start;
        while pos < self.size {
            let h = self.header_at(pos)?;
            self.next_offset = h.next_offset();
            self.last_batch_position = pos;
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
            }
            pos += h.total_len() as u32;
        }
        self.bytes_since_index = self.index_interval_bytes;
        Ok(())
    }

    /// Writes the index files (a cache: not synced; a torn or stale file is rebuilt on load).
    pub fn write_indexes(&self, disk: &Disk) -> io::Result<()> {
        let stem = file_stem(self.base_offset);
        let (oi, ti) = self.index_files();
        disk.write_replacing(&self.dir.join(format!("{stem}.index")), &oi, false)?;
        disk.write_replacing(&self.dir.join(format!("{stem}.timeindex")), &ti, false)
    }

    /// Deletes this segment's files.
    pub fn delete_files(&self, disk: &Disk) -> io::Result<()> {
        let stem = file_stem(self.base_offset);
        for ext in ["log", "index", "timeindex", "txnindex"] {
            disk.remove_if_exists(&self.dir.join(format!("{stem}.{ext}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::batch::tests::make_batch;

    fn hdr(b: &[u8]) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&b[..HEADER_LEN]);
        h
    }

    #[test]
    fn append_find_read_reopen() {
        let d = tempfile::tempdir().unwrap();
        let disk = Disk::os();
        let mut s = Segment::create(&disk, d.path(), 100, 0, 64).unwrap();
        let mut sizes = vec![];
        for i in 0..10 {
            let b = make_batch(100 + i * 2, 2, 1000 + i, 50);
            sizes.push(b.len());
            s.append(&hdr(&b), &b[HEADER_LEN..]).unwrap();
        }
        assert_eq!(s.next_offset(), 120);
        let (pos, h) = s.find_batch(107).unwrap().unwrap();
        assert_eq!(h.base_offset, 106);
        assert_eq!(pos as usize, sizes[0] * 3);
        assert!(s.find_batch(120).unwrap().is_none());
        let (off, _) = s.find_by_timestamp(1004, 0).unwrap().unwrap();
        assert_eq!(off, 108, "the test batches cannot be record-decoded, so the batch base offset is used");
        s.write_indexes(&disk).unwrap();
        drop(s);
        for mode in [OpenMode::Trust, OpenMode::Validate] {
            let (s2, rep) = Segment::open(&disk, d.path(), 100, mode, 0, 64).unwrap();
            assert!(rep.stopped_by.is_none());
            assert_eq!(rep.indexes_rebuilt, mode == OpenMode::Validate);
            assert_eq!(s2.next_offset(), 120);
            assert_eq!(s2.max_timestamp(), 1009);
            assert_eq!(s2.find_batch(107).unwrap().unwrap().1.base_offset, 106);
        }
    }

    #[test]
    fn index_files_of_another_version_of_the_segment_are_rebuilt() {
        let d = tempfile::tempdir().unwrap();
        let disk = Disk::os();
        let mut s = Segment::create(&disk, d.path(), 0, 0, 64).unwrap();
        for i in 0..4 {
            let b = make_batch(i, 1, 1000 + i, 50);
            s.append(&hdr(&b), &b[HEADER_LEN..]).unwrap();
        }
        s.write_indexes(&disk).unwrap();
        // One more batch after the index files were written: they no longer describe the file.
        let b = make_batch(4, 1, 5000, 50);
        s.append(&hdr(&b), &b[HEADER_LEN..]).unwrap();
        drop(s);
        let (s2, rep) = Segment::open(&disk, d.path(), 0, OpenMode::Trust, 0, 64).unwrap();
        assert!(rep.indexes_rebuilt);
        assert_eq!(s2.next_offset(), 5);
        assert_eq!(s2.max_timestamp(), 5000, "a stale time index would have said 1003");
    }

    #[test]
    fn torn_tail_is_cut_on_validate() {
        let d = tempfile::tempdir().unwrap();
        let disk = Disk::os();
        let mut s = Segment::create(&disk, d.path(), 0, 0, 4096).unwrap();
        let b = make_batch(0, 1, 1, 30);
        s.append(&hdr(&b), &b[HEADER_LEN..]).unwrap();
        let good = s.size();
        s.log_file().append(&[&make_batch(1, 1, 1, 30)[..40]]).unwrap();
        drop(s);
        let (mut s2, rep) = Segment::open(&disk, d.path(), 0, OpenMode::Validate, 0, 4096).unwrap();
        assert!(matches!(rep.stopped_by, Some(BatchError::Truncated { .. })));
        assert!(s2.size() > good, "the scan alone cuts nothing");
        s2.cut_to_valid(&rep).unwrap();
        assert_eq!(s2.size(), good);
        assert_eq!(s2.next_offset(), 1);
    }

    #[test]
    fn corrupt_crc_stops_validation() {
        let d = tempfile::tempdir().unwrap();
        let disk = Disk::os();
        let mut s = Segment::create(&disk, d.path(), 0, 0, 4096).unwrap();
        let b = make_batch(0, 1, 1, 30);
        s.append(&hdr(&b), &b[HEADER_LEN..]).unwrap();
        let mut bad = make_batch(1, 1, 1, 30);
        bad[HEADER_LEN + 1] ^= 1;
        s.log_file().append(&[&bad]).unwrap();
        drop(s);
        let (s2, rep) = Segment::open(&disk, d.path(), 0, OpenMode::Validate, 0, 4096).unwrap();
        assert!(matches!(rep.stopped_by, Some(BatchError::CorruptMessage { .. })));
        assert_eq!(s2.next_offset(), 1);
    }

    #[test]
    fn truncate_to_cuts_whole_batches() {
        let d = tempfile::tempdir().unwrap();
        let disk = Disk::os();
        let mut s = Segment::create(&disk, d.path(), 0, 0, 1).unwrap();
        for i in 0..5 {
            let b = make_batch(i * 3, 3, i, 10);
            s.append(&hdr(&b), &b[HEADER_LEN..]).unwrap();
        }
        s.truncate_to(6).unwrap();
        assert_eq!(s.next_offset(), 6);
        s.truncate_to(4).unwrap();
        assert_eq!(s.next_offset(), 6, "offset 4 is inside the batch 3..5, which stays");
        s.truncate_to(3).unwrap();
        assert_eq!(s.next_offset(), 3);
    }
}
