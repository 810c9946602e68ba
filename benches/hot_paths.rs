//! Micro-benchmarks of the hot paths: batch header parse + CRC, offset index lookup, partition
//! append (write to page cache) and read. Prints ns/op; a benchmark, not a test.
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use odradek::config::LogConfig;
use odradek::log::index::{OffsetEntry, OffsetIndex};
use odradek::log::{Partition, PartitionLog};
use odradek::record::BatchHeader;

/// A real v2 batch of `count` records holding `payload` value bytes in all, encoded by
/// kafka-protocol (what a client sends): produce validation walks every record.
/// `fill(n)` is the n-th value byte of the batch.
fn batch_with(count: i32, payload: usize, compression: Compression, fill: impl Fn(usize) -> u8) -> Vec<u8> {
    let now = odradek::clock::now_ms();
    let per = payload / count as usize;
    let recs: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // offset - sequence constant keeps every record in one batch (base sequence -1).
            sequence: i - 1,
            timestamp: now,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from((0..per).map(|j| fill(i as usize * per + j)).collect::<Vec<u8>>())),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(&mut b, &recs, &RecordEncodeOptions { version: 2, compression }).unwrap();
    b.to_vec()
}

fn batch(count: i32, payload: usize) -> Vec<u8> {
    batch_with(count, payload, Compression::None, |j| (j % 251) as u8)
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
    let mbs = if bytes_per_op > 0 {
        format!("  {:8.0} MB/s", bytes_per_op as f64 / ns * 1e3)
    } else {
        String::new()
    };
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
    // Produce-time validation (every record walked; compressed ones inflated as a stream). The
    // MB/s are of the records' decompressed bytes: the cost per GB produced.
    let rules =
        odradek::record::validate::Rules { need_key: false, timestamps: None, max_decompressed: 64 << 20 };
    for (name, c) in [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        // 64 records of 1 KiB values of random words (text-like: gzip makes them about 3:1
        // smaller), as a client batches them.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let words = [
            "order", "customer", "id", "amount", "status", "shipped", "pending", "eur", "usd", "item", "sku",
            "qty", "price", "created", "updated", "true", "false", "null",
        ];
        let mut text = Vec::with_capacity(64 * 1024 + 16);
        while text.len() < 64 * 1024 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
            text.extend_from_slice(format!(":{} ", (x >> 20) % 100_000).as_bytes());
        }
        let b = batch_with(64, 64 * 1024, c, |j| text[j]);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!((h.records_count, h.total_len()), (64, b.len()), "one batch of 64 records");
        let raw = odradek::record::validate::validate(&b, &h, &rules).unwrap().decompressed_bytes as usize;
        bench(
            &format!("validate 64 x 1 KiB records, {name} ({} B)", b.len()),
            if c == Compression::None { 100_000 } else { 5_000 },
            raw,
            |_| {
                std::hint::black_box(
                    odradek::record::validate::validate(std::hint::black_box(&b), &h, &rules).unwrap(),
                );
            },
        );
    }
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
    let env = odradek::log::LogEnv {
        disk: odradek::log::file::Disk::os(),
        background: odradek::log::flusher::Background::threaded(Default::default()).unwrap(),
        health: odradek::log::StorageHealth::new(dir.path()),
    };
    let (log, _) = PartitionLog::open(
        dir.path(),
        LogConfig::default(),
        odradek::log::Recovery::default(),
        odradek::clock::now_ms(),
        &env,
    )
    .unwrap();
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
