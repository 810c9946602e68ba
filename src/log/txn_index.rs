//! The aborted-transaction index: `<base>.txnindex`, the aborted transactions whose ABORT marker
//! lies in that segment.
//!
//! Byte layout: entries of 24 bytes, big-endian, no header: `producer_id i64, first_offset i64,
//! last_offset i64` (the marker's offset). Written durably (fsynced, then the directory) by the
//! segment's seal job and at clean shutdown, always before the producer snapshot that makes a
//! replay start past it; rewritten by the compactor before it swaps in a segment without some
//! ABORT markers. At start, entries before the replay point come from these files and markers
//! after it are read again from the log.
use std::io;
use std::path::Path;

use super::file::Disk;

/// An aborted transaction: its data lies in `[first_offset, last_offset)`, its ABORT marker at
/// `last_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// The file body for the aborted transactions whose marker is in `[base, next_offset)`; None when
/// there are none (the file is then absent).
pub fn encode(aborted: &[AbortedTxn], base: i64, next_offset: i64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for a in aborted.iter().filter(|a| a.last_offset >= base && a.last_offset < next_offset) {
        out.extend_from_slice(&a.producer_id.to_be_bytes());
        out.extend_from_slice(&a.first_offset.to_be_bytes());
        out.extend_from_slice(&a.last_offset.to_be_bytes());
    }
    (!out.is_empty()).then_some(out)
}

pub fn decode(b: &[u8]) -> Vec<AbortedTxn> {
    b.chunks_exact(24)
        .map(|c| {
            let n = |i: usize| {
                let mut x = [0u8; 8];
                x.copy_from_slice(&c[i..i + 8]);
                i64::from_be_bytes(x)
            };
            AbortedTxn { producer_id: n(0), first_offset: n(8), last_offset: n(16) }
        })
        .filter(|a| a.first_offset <= a.last_offset)
        .collect()
}

/// Writes (or removes, when `body` is None) a txnindex durably: file synced, then its directory.
pub fn write(disk: &Disk, path: &Path, body: Option<&[u8]>) -> io::Result<()> {
    match body {
        Some(b) => disk.write_atomic(path, b),
        None => {
            if disk.exists(path) {
                disk.remove_file(path)?;
                if let Some(dir) = path.parent() {
                    disk.sync_dir(dir)?;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_keeps_only_the_segment_range() {
        let a = [
            AbortedTxn { producer_id: 1, first_offset: 0, last_offset: 5 },
            AbortedTxn { producer_id: 2, first_offset: 3, last_offset: 12 },
        ];
        assert_eq!(decode(&encode(&a, 0, 10).unwrap()), vec![a[0]]);
        assert_eq!(decode(&encode(&a, 10, 20).unwrap()), vec![a[1]]);
        assert!(encode(&a, 20, 30).is_none());
    }
}
