//! Sparse offset and time indexes of one segment.
//!
//! Owns: the in-memory entry lists and their on-disk form. Entries are added while the segment is
//! active and written out when it is sealed (roll) or at clean shutdown; after a crash the active
//! segment's indexes are rebuilt from the log, and any index file that fails its sanity check is
//! rebuilt too, so index files are a cache, never the truth.
//!
//! Byte layout (big-endian):
//! - `<base>.index`: entries of 8 bytes: `relative_offset u32, position u32`, strictly increasing.
//! - `<base>.timeindex`: entries of 12 bytes: `timestamp i64, relative_offset u32`, timestamps
//!   strictly increasing.
//! - both end with a 24-byte [`Trailer`] naming the `.log` they describe (its size, the position
//!   of its last batch and its next offset) and a CRC-32C of the whole file: an index written for
//!   another version of the segment (before a compaction, a truncation, or torn by a power cut) is
//!   recognised and rebuilt, so index files never need an fsync.

/// The end of every index file: which `.log` it describes, and a checksum of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub log_size: u32,
    pub last_batch_position: u32,
    pub next_offset: i64,
}

pub const TRAILER_LEN: usize = 24;
const TRAILER_MAGIC: &[u8; 4] = b"ODIX";

impl Trailer {
    /// Appends the trailer and the CRC-32C of `out` (entries and trailer) to `out`.
    pub fn seal(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(TRAILER_MAGIC);
        out.extend_from_slice(&self.log_size.to_be_bytes());
        out.extend_from_slice(&self.last_batch_position.to_be_bytes());
        out.extend_from_slice(&self.next_offset.to_be_bytes());
        let crc = crc32c::crc32c(out);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    /// Splits a file into (entries, trailer) when its checksum holds.
    pub fn open(b: &[u8]) -> Option<(&[u8], Trailer)> {
        if b.len() < TRAILER_LEN {
            return None;
        }
        let (body, crc) = b.split_at(b.len() - 4);
        if crc32c::crc32c(body).to_be_bytes() != crc {
            return None;
        }
        let t = &body[body.len() - (TRAILER_LEN - 4)..];
        if &t[..4] != TRAILER_MAGIC {
            return None;
        }
        let u = |i: usize| u32::from_be_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
        let mut n = [0u8; 8];
        n.copy_from_slice(&t[12..20]);
        Some((
            &body[..body.len() - (TRAILER_LEN - 4)],
            Trailer { log_size: u(4), last_batch_position: u(8), next_offset: i64::from_be_bytes(n) },
        ))
    }
}

/// One offset index entry: a batch starting at or before `base + relative_offset` lives at `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

/// One time index entry: records with timestamp >= `timestamp` start at or after this offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

#[derive(Debug, Default, Clone)]
pub struct OffsetIndex {
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    pub fn push(&mut self, e: OffsetEntry) {
        if self.entries.last().is_none_or(|l| e.relative_offset > l.relative_offset) {
            self.entries.push(e);
        }
    }
    /// The last entry whose relative offset is <= `rel`.
    pub fn lookup(&self, rel: u32) -> Option<OffsetEntry> {
        let i = self.entries.partition_point(|e| e.relative_offset <= rel);
        if i == 0 {
            None
        } else {
            Some(self.entries[i - 1])
        }
    }
    /// Drops entries at or after `rel` or at or beyond `position`.
    pub fn truncate(&mut self, rel: u32, position: u32) {
        self.entries.retain(|e| e.relative_offset < rel && e.position < position);
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 8);
        for e in &self.entries {
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
            out.extend_from_slice(&e.position.to_be_bytes());
        }
        out
    }
    /// Parses and validates an index file against the log size. `None` means: rebuild it.
    pub fn from_bytes(b: &[u8], log_size: u32) -> Option<OffsetIndex> {
        if !b.len().is_multiple_of(8) {
            return None;
        }
        let mut idx = OffsetIndex::default();
        for c in b.chunks_exact(8) {
            let e = OffsetEntry {
                relative_offset: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                position: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
            };
            if e.position >= log_size {
                return None;
            }
            if let Some(l) = idx.entries.last() {
                if e.relative_offset <= l.relative_offset || e.position <= l.position {
                    return None;
                }
            }
            idx.entries.push(e);
        }
        Some(idx)
    }
}

#[derive(Debug, Default, Clone)]
pub struct TimeIndex {
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    pub fn push(&mut self, e: TimeEntry) {
        if self.entries.last().is_none_or(|l| e.timestamp > l.timestamp) {
            self.entries.push(e);
        }
    }
    /// The last entry with timestamp < `ts`: the scan for the first record with timestamp >= `ts`
    /// can start at its offset (Kafka's rule, since timestamps within a log are not monotonic).
    pub fn lookup(&self, ts: i64) -> Option<TimeEntry> {
        let i = self.entries.partition_point(|e| e.timestamp < ts);
        if i == 0 {
            None
        } else {
            Some(self.entries[i - 1])
        }
    }
    pub fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }
    pub fn truncate(&mut self, rel: u32) {
        self.entries.retain(|e| e.relative_offset < rel);
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 12);
        for e in &self.entries {
            out.extend_from_slice(&e.timestamp.to_be_bytes());
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
        }
        out
    }
    pub fn from_bytes(b: &[u8], max_relative_offset: u32) -> Option<TimeIndex> {
        if !b.len().is_multiple_of(12) {
            return None;
        }
        let mut idx = TimeIndex::default();
        for c in b.chunks_exact(12) {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&c[..8]);
            let e = TimeEntry {
                timestamp: i64::from_be_bytes(ts),
                relative_offset: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
            };
            if e.relative_offset > max_relative_offset {
                return None;
            }
            if let Some(l) = idx.entries.last() {
                if e.timestamp <= l.timestamp || e.relative_offset < l.relative_offset {
                    return None;
                }
            }
            idx.entries.push(e);
        }
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_boundaries() {
        let mut i = OffsetIndex::default();
        assert_eq!(i.lookup(5), None);
        i.push(OffsetEntry { relative_offset: 10, position: 100 });
        i.push(OffsetEntry { relative_offset: 20, position: 200 });
        i.push(OffsetEntry { relative_offset: 20, position: 300 }); // ignored, not increasing
        assert_eq!(i.len(), 2);
        assert_eq!(i.lookup(9), None);
        assert_eq!(i.lookup(10).unwrap().position, 100);
        assert_eq!(i.lookup(19).unwrap().position, 100);
        assert_eq!(i.lookup(u32::MAX).unwrap().position, 200);
    }

    #[test]
    fn offset_roundtrip_and_validation() {
        let mut i = OffsetIndex::default();
        i.push(OffsetEntry { relative_offset: 1, position: 10 });
        i.push(OffsetEntry { relative_offset: 2, position: 20 });
        let b = i.to_bytes();
        assert_eq!(OffsetIndex::from_bytes(&b, 100).unwrap().len(), 2);
        assert!(OffsetIndex::from_bytes(&b, 20).is_none(), "position past log end");
        assert!(OffsetIndex::from_bytes(&b[..7], 100).is_none(), "torn entry");
        let mut swapped = b.clone();
        swapped.rotate_left(8);
        assert!(OffsetIndex::from_bytes(&swapped, 100).is_none(), "not increasing");
    }

    #[test]
    fn a_trailer_detects_torn_and_foreign_files() {
        let t = Trailer { log_size: 100, last_batch_position: 40, next_offset: 7 };
        let mut b = vec![1, 2, 3, 4, 5, 6, 7, 8];
        t.seal(&mut b);
        let (entries, got) = Trailer::open(&b).unwrap();
        assert_eq!(entries, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(got, t);
        assert!(Trailer::open(&b[..b.len() - 1]).is_none(), "torn");
        let mut flipped = b.clone();
        flipped[2] ^= 1;
        assert!(Trailer::open(&flipped).is_none(), "damaged");
        assert!(Trailer::open(&[0u8; 30]).is_none(), "zeros");
    }

    #[test]
    fn time_lookup_is_strictly_before() {
        let mut t = TimeIndex::default();
        t.push(TimeEntry { timestamp: 100, relative_offset: 0 });
        t.push(TimeEntry { timestamp: 200, relative_offset: 5 });
        assert_eq!(t.lookup(100), None);
        assert_eq!(t.lookup(150).unwrap().relative_offset, 0);
        assert_eq!(t.lookup(201).unwrap().relative_offset, 5);
        let b = t.to_bytes();
        assert_eq!(TimeIndex::from_bytes(&b, 5).unwrap().len(), 2);
        assert!(TimeIndex::from_bytes(&b, 4).is_none());
    }
}
