//! Micro-benchmarks of the hot paths: batch header parse + CRC, offset index lookup, partition
//! append (write to page cache) and read. Prints ns/op; a benchmark, not a test.
use std::time::Instant;

use odradek::config::LogConfig;
use odradek::log::index::{OffsetEntry, OffsetIndex};
use odradek::log::{Partition, PartitionLog};
use odradek::record::BatchHeader;

fn batch(count: i32, payload: usize) -> Vec<u8> {
    let mut b = vec![0u8; 61 + payload];
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[16] = 2;
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    let now = odradek::clock::now_ms();
    b[27..35].copy_from_slice(&now.to_be_bytes());
    b[35..43].copy_from_slice(&now.to_be_bytes());
    b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn bench(name: &str, iters: u64, bytes_per_op: usize, mut f: impl FnMut(u64)) {
    for i in 0..iters / 10 {
        f(i);
    }
    let t = Instant::now();
    for i in 0..iters {
        f(i);
    }
    let ns = t.elapsed().as_nanos() as f64 / iters as f64;
    let mbs = if bytes_per_op > 0 { format!("  {:8.0} MB/s", bytes_per_op as f64 / ns * 1e3) } else { String::new() };
    println!("{name:40} {ns:10.1} ns/op{mbs}");
}

fn main() {
    let b16k = batch(16, 16 * 1024);
    bench("header parse (61 B)", 10_000_000, 0, |_| {
        std::hint::black_box(BatchHeader::parse(std::hint::black_box(&b16k)).unwrap());
    });
    bench("crc32c of a 16 KiB batch", 200_000, b16k.len(), |_| {
        std::hint::black_box(crc32c::crc32c(std::hint::black_box(&b16k[21..])));
    });
    let mut idx = OffsetIndex::default();
    for i in 0..100_000u32 {
        idx.push(OffsetEntry { relative_offset: i * 10, position: i * 4096 });
    }
    bench("offset index lookup (100k entries)", 5_000_000, 0, |i| {
        std::hint::black_box(idx.lookup((i as u32).wrapping_mul(7919) % 1_000_000));
    });
    let dir = tempfile::tempdir().unwrap();
    // The broker's own setup: fsync and seal threads in the background (a roll's sync of the
    // sealed segment runs there, not inside the append that rolled).
    let env = odradek::log::LogEnv { disk: odradek::log::file::Disk::os(), background: odradek::log::flusher::Background::threaded().unwrap(), health: odradek::log::StorageHealth::new(dir.path()) };
    let (log, _) = PartitionLog::open(dir.path(), LogConfig::default(), odradek::log::Recovery::default(), odradek::clock::now_ms(), &env).unwrap();
    let p = Partition::new("bench".into(), 0, log);
    let b1k = batch(1, 1024);
    let now = odradek::clock::now_ms();
    bench("partition append 1 KiB batch", 200_000, b1k.len(), |_| {
        p.append(&b1k, now).unwrap();
    });
    bench("partition append 16 KiB batch", 50_000, b16k.len(), |_| {
        p.append(&b16k, now).unwrap();
    });
    let hw = p.high_watermark();
    bench("partition read 1 MiB from random offset", 20_000, 1 << 20, |i| {
        let off = (i as i64 * 7919) % hw;
        std::hint::black_box(p.read(off, 1 << 20, true).unwrap());
    });
}
