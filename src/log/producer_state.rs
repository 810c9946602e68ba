//! Per-partition idempotent producer state: the sequence rules that make retries safe.
//!
//! Owns: for each producer id, its epoch and the metadata of its last five batches (Kafka keeps
//! five because a producer has at most five requests in flight). Pure data, no I/O except the
//! snapshot encoding. Concurrency: lives inside the partition and is touched only under its lock.
//!
//! It also tracks each producer's open transaction (the offset of its first transactional batch
//! not yet closed by a COMMIT/ABORT marker): the smallest one is where the last stable offset
//! stops.
//!
//! Snapshot file `<offset>.snapshot` (big-endian, CRC-32C over everything before it):
//! ```text
//! magic "ODPS" | version u16 = 2 | count u32 |
//!   count x { producer_id i64, producer_epoch i16, last_timestamp i64, n u8,
//!             n x { first_seq i32, last_seq i32, first_offset i64, last_offset i64 } }
//! | open_txns u32 | open_txns x { producer_id i64, first_offset i64 }
//! | crc u32
//! ```
//! (Version 1 files, without the open transactions, are still read.)
use std::collections::{HashMap, VecDeque};

use crate::record::batch::BatchHeader;

/// How many recent batches per producer are remembered for duplicate detection.
pub const BATCHES_PER_PRODUCER_MAX: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_epoch: i16,
    /// The coordinator epoch of the last marker written for this producer, if any.
    pub coordinator_epoch: Option<i32>,
    pub last_timestamp: i64,
    pub batches: VecDeque<BatchMeta>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SequenceError {
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch { producer_id: i64, epoch: i16, current: i16 },
    #[error("out of order sequence for producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrderSequenceNumber { producer_id: i64, expected: i32, got: i32 },
}

/// The verdict on an incoming batch.
#[derive(Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already in the log: answer with these offsets, append nothing.
    Duplicate(BatchMeta),
}

/// Who wrote a batch. Kafka checks a client's sequence numbers; a coordinator's own writes (offsets
/// a transaction commits, written by the group coordinator under the producer's id and epoch) carry
/// no sequence and are checked for a stale epoch only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Client,
    Coordinator,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// producer id -> first offset of its open transaction.
    open_txns: std::collections::BTreeMap<i64, i64>,
}

fn next_seq(s: i32) -> i32 {
    if s == i32::MAX {
        0
    } else {
        s + 1
    }
}

impl ProducerStateManager {
    pub fn len(&self) -> usize {
        self.producers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Applies Kafka's rules to a batch from an idempotent producer, without changing state.
    pub fn check(&self, h: &BatchHeader, origin: Origin) -> Result<SequenceCheck, SequenceError> {
        if !h.has_producer_id() {
            return Ok(SequenceCheck::Append);
        }
        let Some(e) = self.producers.get(&h.producer_id) else {
            // Unknown producer (new, or its state expired): any sequence starts it.
            return Ok(SequenceCheck::Append);
        };
        if h.producer_epoch < e.producer_epoch {
            return Err(SequenceError::InvalidProducerEpoch {
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                current: e.producer_epoch,
            });
        }
        if origin == Origin::Coordinator {
            return Ok(SequenceCheck::Append);
        }
        if h.producer_epoch > e.producer_epoch {
            if h.base_sequence != 0 {
                return Err(SequenceError::OutOfOrderSequenceNumber {
                    producer_id: h.producer_id,
                    expected: 0,
                    got: h.base_sequence,
                });
            }
            return Ok(SequenceCheck::Append);
        }
        if let Some(dup) =
            e.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence())
        {
            return Ok(SequenceCheck::Duplicate(*dup));
        }
        let last = e.batches.back().map(|b| b.last_seq).unwrap_or(-1);
        let expected = next_seq(last);
        if last >= 0 && h.base_sequence != expected {
            return Err(SequenceError::OutOfOrderSequenceNumber {
                producer_id: h.producer_id,
                expected,
                got: h.base_sequence,
            });
        }
        Ok(SequenceCheck::Append)
    }

    pub fn entries(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// The first offset of the oldest open transaction, if any.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.open_txns.values().min().copied()
    }
    pub fn open_txn(&self, producer_id: i64) -> Option<i64> {
        self.open_txns.get(&producer_id).copied()
    }
    pub fn open_txns(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.open_txns.iter().map(|(p, o)| (*p, *o))
    }
    /// A COMMIT/ABORT marker for `producer_id` at `producer_epoch` was appended: the producer's
    /// epoch moves up to the marker's (so a fenced producer's older epoch is refused from now on,
    /// as Kafka does), its last timestamp becomes the marker's (DescribeProducers shows it), and its
    /// open transaction closes. Returns where that transaction started.
    pub fn close_txn(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        timestamp: i64,
    ) -> Option<i64> {
        let e = self.producers.entry(producer_id).or_default();
        e.last_timestamp = timestamp;
        if producer_epoch > e.producer_epoch {
            e.producer_epoch = producer_epoch;
            e.batches.clear();
        }
        e.coordinator_epoch = Some(coordinator_epoch);
        self.open_txns.remove(&producer_id)
    }

    /// Records an appended batch (after offsets are assigned). Also used when replaying the log.
    /// Control batches (markers) are handled by the caller through [`Self::close_txn`].
    pub fn record(&mut self, h: &BatchHeader) {
        if !h.has_producer_id() || h.is_control() {
            return;
        }
        if h.is_transactional() {
            self.open_txns.entry(h.producer_id).or_insert(h.base_offset);
        }
        let e = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch != e.producer_epoch {
            e.producer_epoch = h.producer_epoch;
            e.batches.clear();
        }
        e.last_timestamp = h.max_timestamp;
        if h.base_sequence < 0 {
            return;
        }
        e.batches.push_back(BatchMeta {
            first_seq: h.base_sequence,
            last_seq: h.last_sequence(),
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
        });
        while e.batches.len() > BATCHES_PER_PRODUCER_MAX {
            e.batches.pop_front();
        }
    }

    /// Forgets producers idle for `expiration_ms` (`producer.id.expiration.ms`), as Kafka does:
    /// no open transaction and `now_ms - last_timestamp >= expiration_ms`, the timestamp being
    /// the last batch's (a record's CreateTime or its append time) or the last marker's. An entry
    /// with no timestamp is kept. Returns how many were removed.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        let open = &self.open_txns;
        self.producers.retain(|id, e| {
            open.contains_key(id)
                || e.last_timestamp <= 0
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Forgets batches at or after `offset` (used when the log is truncated).
    pub fn truncate_to(&mut self, offset: i64) {
        for e in self.producers.values_mut() {
            e.batches.retain(|b| b.last_offset < offset);
        }
        self.producers.retain(|_, e| !e.batches.is_empty());
        self.open_txns.retain(|_, first| *first < offset);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"ODPS");
        out.extend_from_slice(&2u16.to_be_bytes());
        out.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let e = &self.producers[&id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.producer_epoch.to_be_bytes());
            out.extend_from_slice(&e.last_timestamp.to_be_bytes());
            out.push(e.batches.len() as u8);
            for b in &e.batches {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.first_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
            }
        }
        out.extend_from_slice(&(self.open_txns.len() as u32).to_be_bytes());
        for (pid, first) in &self.open_txns {
            out.extend_from_slice(&pid.to_be_bytes());
            out.extend_from_slice(&first.to_be_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes a snapshot; `None` if it is damaged (the caller then rebuilds from the log).
    pub fn decode(b: &[u8]) -> Option<ProducerStateManager> {
        if b.len() < 14 || &b[..4] != b"ODPS" {
            return None;
        }
        let (body, crc) = b.split_at(b.len() - 4);
        if crc32c::crc32c(body).to_be_bytes() != crc {
            return None;
        }
        let mut r = Reader { b: body, at: 4 };
        let version = r.u16()?;
        if version != 1 && version != 2 {
            return None;
        }
        let n = r.u32()?;
        let mut m = ProducerStateManager::default();
        for _ in 0..n {
            let id = r.i64()?;
            let producer_epoch = r.u16()? as i16;
            let last_timestamp = r.i64()?;
            let nb = r.u8()?;
            let mut batches = VecDeque::new();
            for _ in 0..nb {
                batches.push_back(BatchMeta {
                    first_seq: r.u32()? as i32,
                    last_seq: r.u32()? as i32,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                });
            }
            m.producers.insert(
                id,
                ProducerEntry { producer_epoch, coordinator_epoch: None, last_timestamp, batches },
            );
        }
        if version >= 2 {
            for _ in 0..r.u32()? {
                let pid = r.i64()?;
                let first = r.i64()?;
                m.open_txns.insert(pid, first);
            }
        }
        Some(m)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}
impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.b.get(self.at..self.at + N)?;
        self.at += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::batch::tests::make_batch_with_producer;

    fn h(base: i64, count: i32, pid: i64, epoch: i16, seq: i32) -> BatchHeader {
        BatchHeader::parse(&make_batch_with_producer(base, count, 0, 0, pid, epoch, seq)).unwrap()
    }

    #[test]
    fn idle_producers_expire_unless_a_transaction_is_open() {
        let mut m = ProducerStateManager::default();
        m.record(&h(0, 1, 7, 0, 0));
        m.record(&h(1, 1, 8, 0, 0));
        for e in m.producers.values_mut() {
            e.last_timestamp = 1_000;
        }
        m.open_txns.insert(8, 1);
        assert_eq!(m.expire(1_000 + 86_399_999, 86_400_000), 0);
        assert_eq!(m.expire(1_000 + 86_400_000, 86_400_000), 1);
        assert!(m.get(7).is_none() && m.get(8).is_some(), "the producer with an open transaction stays");
    }

    #[test]
    fn in_order_duplicate_gap_and_fencing() {
        let mut m = ProducerStateManager::default();
        let b0 = h(0, 3, 7, 0, 0);
        assert_eq!(m.check(&b0, Origin::Client), Ok(SequenceCheck::Append));
        m.record(&b0);
        let b1 = h(3, 2, 7, 0, 3);
        assert_eq!(m.check(&b1, Origin::Client), Ok(SequenceCheck::Append));
        m.record(&b1);
        // A retry of b0 (client sends base offset 0 again) is a duplicate with its original offsets.
        assert!(matches!(
            m.check(&h(0, 3, 7, 0, 0), Origin::Client),
            Ok(SequenceCheck::Duplicate(BatchMeta { first_offset: 0, last_offset: 2, .. }))
        ));
        // A gap.
        assert!(matches!(
            m.check(&h(0, 1, 7, 0, 9), Origin::Client),
            Err(SequenceError::OutOfOrderSequenceNumber { expected: 5, got: 9, .. })
        ));
        // A stale epoch.
        m.record(&h(5, 1, 7, 1, 0));
        assert!(matches!(
            m.check(&h(0, 1, 7, 0, 6), Origin::Client),
            Err(SequenceError::InvalidProducerEpoch { .. })
        ));
        // A new epoch must start at 0.
        assert!(matches!(
            m.check(&h(0, 1, 7, 2, 4), Origin::Client),
            Err(SequenceError::OutOfOrderSequenceNumber { .. })
        ));
        // The group coordinator's offsets of a transaction carry no sequence (-1): a new epoch is
        // fine, a stale one is fenced all the same.
        assert_eq!(m.check(&h(0, 1, 7, 2, -1), Origin::Coordinator), Ok(SequenceCheck::Append));
        assert_eq!(m.check(&h(0, 1, 7, 1, -1), Origin::Coordinator), Ok(SequenceCheck::Append));
        assert!(matches!(
            m.check(&h(0, 1, 7, 0, -1), Origin::Coordinator),
            Err(SequenceError::InvalidProducerEpoch { .. })
        ));
    }

    #[test]
    fn a_marker_sets_the_last_timestamp() {
        let mut m = ProducerStateManager::default();
        let mut b = h(0, 1, 7, 0, 0);
        b.max_timestamp = 1_000;
        m.record(&b);
        assert_eq!(m.get(7).unwrap().last_timestamp, 1_000);
        m.close_txn(7, 1, 0, 5_000);
        let e = m.get(7).unwrap();
        assert_eq!((e.last_timestamp, e.producer_epoch), (5_000, 1), "as Kafka: the marker's time and epoch");
    }

    #[test]
    fn only_five_batches_remembered() {
        let mut m = ProducerStateManager::default();
        for i in 0..7 {
            m.record(&h(i, 1, 1, 0, i as i32));
        }
        assert_eq!(m.get(1).unwrap().batches.len(), BATCHES_PER_PRODUCER_MAX);
    }

    #[test]
    fn snapshot_roundtrip_and_damage() {
        let mut m = ProducerStateManager::default();
        m.record(&h(0, 3, 7, 2, 0));
        m.record(&h(3, 1, 9, 0, 10));
        let b = m.encode();
        assert_eq!(ProducerStateManager::decode(&b), Some(m));
        let mut bad = b.clone();
        bad[10] ^= 1;
        assert_eq!(ProducerStateManager::decode(&bad), None);
        assert_eq!(ProducerStateManager::decode(&b[..b.len() - 1]), None);
    }
}
