//! The compactor's key -> latest offset map, with a fixed memory bound.
//!
//! An open-addressing table of 24-byte slots (a 128-bit key hash and an offset), sized once from
//! `log.cleaner.dedupe.buffer.size` and never grown: when it is 90% full the compactor stops
//! extending the dirty section at a segment boundary and cleans what it has. Keys are hashed to
//! 128 bits (two SipHash-1-3 rounds with different prefixes), so a collision that would drop the
//! wrong record needs a 2^-127 coincidence (one bit is spent marking a slot used), like Kafka's MD5-based map.
use std::hash::{DefaultHasher, Hasher};

pub const SLOT_BYTES: usize = 24;
const MAX_LOAD: f64 = 0.9;

pub fn key_hash(key: &[u8]) -> (u64, u64) {
    let mut a = DefaultHasher::new();
    a.write_u8(0x5a);
    a.write(key);
    let mut b = DefaultHasher::new();
    b.write_u8(0xa5);
    b.write(key);
    let hi = a.finish();
    // (0, 0) marks an empty slot.
    let lo = b.finish() | 1;
    (hi, lo)
}

pub struct OffsetMap {
    slots: Vec<(u64, u64, i64)>,
    used: usize,
}

impl OffsetMap {
    /// A map using at most `bytes` bytes (at least one slot).
    pub fn with_memory(bytes: usize) -> OffsetMap {
        let n = (bytes / SLOT_BYTES).max(16);
        OffsetMap { slots: vec![(0, 0, -1); n], used: 0 }
    }

    pub fn len(&self) -> usize {
        self.used
    }
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }
    /// Whether another `extra` distinct keys may still fit.
    pub fn has_room(&self, extra: usize) -> bool {
        ((self.used + extra) as f64) < self.slots.len() as f64 * MAX_LOAD
    }

    fn find(&self, h: (u64, u64)) -> usize {
        let n = self.slots.len();
        let mut i = (h.0 as usize) % n;
        loop {
            let s = &self.slots[i];
            if (s.0, s.1) == h || (s.0 == 0 && s.1 == 0) {
                return i;
            }
            i = (i + 1) % n;
        }
    }

    /// Records `offset` as the latest for the key. Returns false (and stores nothing) when full.
    pub fn put(&mut self, h: (u64, u64), offset: i64) -> bool {
        let i = self.find(h);
        if self.slots[i].0 == 0 && self.slots[i].1 == 0 {
            if !self.has_room(1) {
                return false;
            }
            self.used += 1;
        }
        self.slots[i] = (h.0, h.1, offset);
        true
    }

    pub fn get(&self, h: (u64, u64)) -> Option<i64> {
        let s = self.slots[self.find(h)];
        if s.0 == 0 && s.1 == 0 {
            None
        } else {
            Some(s.2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_offset_wins_and_memory_is_bounded() {
        let mut m = OffsetMap::with_memory(24 * 100);
        assert!(m.put(key_hash(b"a"), 1));
        assert!(m.put(key_hash(b"a"), 7));
        assert_eq!(m.get(key_hash(b"a")), Some(7));
        assert_eq!(m.get(key_hash(b"b")), None);
        let mut stored = 1;
        for i in 0..1000 {
            if m.put(key_hash(format!("k{i}").as_bytes()), i) {
                stored += 1;
            }
        }
        assert!(stored < 91, "at most 90% of 100 slots: {stored}");
        assert_eq!(m.len(), stored);
    }
}
