//! Fuzz targets: what the broker does with bytes from the network or the disk, as plain
//! functions that must never panic and check their own invariants (a panic is the finding).
//! `fuzz/` drives them with cargo-fuzz (libFuzzer, nightly) for long runs; `tests/fuzz_targets.rs`
//! drives them with a mutation loop on stable in `make test`.
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::LogConfig;
use crate::log::file::Disk;
use crate::log::flusher::Background;
use crate::log::sim_disk::SimDisk;
use crate::log::{LogEnv, Partition, PartitionLog, Recovery, StorageHealth};
use crate::record::batch::check_crc;
use crate::record::validate::{validate, Rules};
use crate::record::{BatchHeader, BatchIter};

/// A request frame body (after the size prefix): header, then the body of whatever API and
/// version the header names, decoded as the connection would.
pub fn request(data: &[u8]) {
    let mut frame = Bytes::copy_from_slice(data);
    if let Ok(h) = crate::protocol::decode_header(&mut frame) {
        let _ = crate::handler::decode_any(h.api_key, h.api_version, &mut frame);
    }
}

/// A produce request's records: batch walking, CRC and full record validation, under the
/// rules of a plain and of a compacted topic. A batch that validates has exactly the records its
/// header counts.
pub fn batch(data: &[u8]) {
    for (pos, h) in BatchIter::new(data) {
        let b = &data[pos..pos + h.total_len()];
        let _ = check_crc(b, &h);
        for rules in [
            Rules { need_key: false, timestamps: None, max_decompressed: 8 << 20 },
            Rules { need_key: true, timestamps: Some((0, i64::MAX / 2)), max_decompressed: 1 << 20 },
        ] {
            if let Ok(s) = validate(b, &h, &rules) {
                assert_eq!(
                    s.records as i64, h.records_count as i64,
                    "a valid batch holds what its header counts"
                );
                assert_eq!(h.records_count as i64, h.last_offset_delta as i64 + 1);
                assert!(s.decompressed_bytes <= rules.max_decompressed);
            }
        }
    }
}

/// Recovery of one partition directory holding fuzzed files: the first byte picks which file the
/// rest becomes (a whole segment, or the index, time index, producer snapshot or txnindex beside
/// a valid segment), the second whether the last stop was clean. Opening either refuses or
/// yields a log whose batches are contiguous from its start to its end offset.
pub fn recovery(data: &[u8]) {
    let (Some(&mode), Some(&flags)) = (data.first(), data.get(1)) else { return };
    let rest = &data[2..];
    let sim = Arc::new(SimDisk::new());
    let disk = Disk::sim(sim);
    let dir = Path::new("/fuzz/p-0");
    if disk.create_dir_all(dir).is_err() {
        return;
    }
    let stem = "00000000000000000000";
    let valid = valid_segment();
    let files: Vec<(String, &[u8])> = match mode % 5 {
        0 => vec![(format!("{stem}.log"), rest)],
        1 => vec![(format!("{stem}.log"), &valid), (format!("{stem}.index"), rest)],
        2 => vec![(format!("{stem}.log"), &valid), (format!("{stem}.timeindex"), rest)],
        3 => vec![(format!("{stem}.log"), &valid), ("00000000000000000006.snapshot".to_string(), rest)],
        _ => vec![(format!("{stem}.log"), &valid), (format!("{stem}.txnindex"), rest)],
    };
    for (name, bytes) in &files {
        if disk.write_atomic(&dir.join(name), bytes).is_err() {
            return;
        }
    }
    // A clean stop is only claimed beside a valid segment: a clean marker promises the segments.
    let clean = mode % 5 != 0 && flags & 1 == 1;
    let env = LogEnv { disk, background: Background::inline(), health: StorageHealth::new(dir) };
    let rec = Recovery { clean, recovery_point: 0, log_start_offset: 0 };
    let Ok((log, _)) = PartitionLog::open(dir, LogConfig::default(), rec, 1_000, &env) else { return };
    let p = Partition::new("fuzz".into(), 0, log);
    let (start, end) = (p.log_start_offset(), p.high_watermark());
    let mut at = start;
    while at < end {
        let r = p.read(at, 1 << 20, true).expect("every offset below the log end is readable");
        let mut next = at;
        for (_, h) in BatchIter::new(&r.records) {
            assert!(h.next_offset() > next, "batches move forward");
            next = h.next_offset();
        }
        assert!(next > at, "a read below the log end returns a batch");
        at = next;
    }
    assert_eq!(at, end, "the last batch ends at the log end offset");
}

// ---- input mutation, shared by the stable fuzz loops (tests/fuzz_targets.rs, tests/wire_fuzz.rs)

/// A small deterministic generator (xorshift64), seeded per case so a failure replays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

const INTERESTING: [i64; 10] = [0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x7fff_ffff, -0x8000_0000, 1 << 20];

/// One to four random edits: bit flips, random or boundary bytes, boundary 16/32-bit integers,
/// inserted, deleted, duplicated or truncated ranges.
pub fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = rng.next_u64() as u8;
            }
            2 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())] as i32;
                b[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            3 if len >= 2 => {
                let i = rng.below(len - 1);
                let v = INTERESTING[rng.below(INTERESTING.len())] as i16;
                b[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
            4 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let junk: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                b.splice(i..i, junk);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                b.drain(i..i + n);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let part = b[i..i + n].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, part);
            }
            _ if len > 0 => b.truncate(rng.below(len)),
            _ => {}
        }
    }
    b
}

/// Recomputes the CRC of every batch in a buffer of concatenated batches (as far as their
/// lengths allow), so mutated records get past the CRC check and reach validation.
pub fn fix_crcs(b: &mut [u8]) {
    let mut at = 0;
    while at + 61 <= b.len() {
        let len = i32::from_be_bytes([b[at + 8], b[at + 9], b[at + 10], b[at + 11]]);
        let end = at + 12 + len.max(49) as usize;
        if end > b.len() {
            return;
        }
        let crc = crc32c::crc32c(&b[at + 21..end]);
        b[at + 17..at + 21].copy_from_slice(&crc.to_be_bytes());
        at = end;
    }
}

/// Two valid batches (offsets 0-2 and 3-5, producer 7), as a segment holds them.
pub fn valid_segment() -> Vec<u8> {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let mut v = Vec::new();
    for base in [0i64, 3] {
        let recs: Vec<Record> = (0..3)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: 7,
                producer_epoch: 0,
                timestamp_type: TimestampType::Creation,
                offset: base + i,
                sequence: (base + i) as i32,
                timestamp: 1_000,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"value")),
                headers: Default::default(),
            })
            .collect();
        let mut b = bytes::BytesMut::new();
        // Encoding in-memory records into a buffer cannot fail.
        let _ = RecordBatchEncoder::encode(
            &mut b,
            &recs,
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        );
        v.extend_from_slice(&b);
    }
    debug_assert!(BatchHeader::parse(&v).is_ok());
    v
}
