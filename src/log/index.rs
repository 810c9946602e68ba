//! Sparse offset and time indexes of one segment.
//!
//! Owns: the in-memory entry lists and their on-disk form. Entries are added while the segment is
//! active and written out when it is sealed (roll) or at clean shutdown; after a crash the active
//! segment's indexes are rebuilt from the log, and any index file that fails its sanity check is
//! rebuilt too, so index files are a cache, never the truth.
//!
//! Byte layout (big-endian, no header, not checksummed: validated on load instead):
//! - `<base>.index`: entries of 8 bytes: `relative_offset u32, position u32`, strictly increasing.
//! - `<base>.timeindex`: entries of 12 bytes: `timestamp i64, relative_offset u32`, timestamps
//!   strictly increasing.

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
