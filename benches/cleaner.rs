//! Compaction benchmarks: MB/s of dirty log cleaned, and append throughput on a partition while
//! the compactor runs on another thread. Prints figures; a benchmark, not a test.
//!
//! `cargo bench --bench cleaner`
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use odradek::cleaner::compactor::compact;
use odradek::config::LogConfig;
use odradek::log::{Partition, PartitionLog};

fn batch(start: usize, n: usize, keys: usize, value_len: usize) -> Vec<u8> {
    let now = odradek::clock::now_ms() - 60_000;
    let recs: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: now,
            key: Some(Bytes::from(format!("key-{}", (start + i) % keys))),
            value: Some(Bytes::from(vec![b'v'; value_len])),
            headers: Default::default(),
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &recs,
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .unwrap();
    b.to_vec()
}

fn partition(dir: &std::path::Path) -> Partition {
    let cfg = LogConfig { compact: true, delete: false, segment_bytes: 4 << 20, ..LogConfig::default() };
    let (log, _) = PartitionLog::open_standalone(dir, cfg, true, 0, None).unwrap();
    Partition::new("bench".into(), 0, log)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let p = partition(dir.path());
    // ~200 MB of 1 KiB values over 10,000 keys.
    let mut i = 0;
    while p.with_log(|l| l.size_bytes()) < 200 << 20 {
        p.append(&batch(i, 100, 10_000, 1000), odradek::clock::now_ms()).unwrap();
        i += 100;
    }
    let before = p.with_log(|l| l.size_bytes());
    let t = Instant::now();
    let stats = compact(&p, odradek::clock::now_ms(), 128 << 20, true).unwrap().unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "compaction: {:.0} MB of log in {:.2} s = {:.0} MB/s; {} segments rewritten, {} -> {} MB, {} records removed",
        before as f64 / 1e6,
        secs,
        before as f64 / 1e6 / secs,
        stats.segments_rewritten,
        stats.bytes_before / 1_000_000,
        stats.bytes_after / 1_000_000,
        stats.records_removed
    );

    // Append throughput alone, then with the compactor busy on another partition.
    let run_appends = |p: &Partition, secs: f64| -> f64 {
        let b = batch(0, 16, 1_000_000, 1000);
        let t = Instant::now();
        let mut bytes = 0usize;
        while t.elapsed().as_secs_f64() < secs {
            p.append(&b, odradek::clock::now_ms()).unwrap();
            bytes += b.len();
        }
        bytes as f64 / 1e6 / t.elapsed().as_secs_f64()
    };
    let d2 = tempfile::tempdir().unwrap();
    let hot = partition(d2.path());
    let alone = run_appends(&hot, 2.0);
    let d3 = tempfile::tempdir().unwrap();
    let cold = Arc::new(partition(d3.path()));
    let mut i = 0;
    while cold.with_log(|l| l.size_bytes()) < 150 << 20 {
        cold.append(&batch(i, 100, 5_000, 1000), odradek::clock::now_ms()).unwrap();
        i += 100;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (c2, s2) = (cold.clone(), stop.clone());
    let cleaner = std::thread::spawn(move || {
        let mut passes = 0;
        while !s2.load(Ordering::Relaxed) {
            c2.set_cleaner_offset(0);
            c2.set_tombstone_expiry(0);
            compact(&c2, odradek::clock::now_ms(), 128 << 20, true).unwrap();
            passes += 1;
        }
        passes
    });
    let busy = run_appends(&hot, 2.0);
    stop.store(true, Ordering::Relaxed);
    let passes = cleaner.join().unwrap();
    println!("append 16 KiB batches: {alone:.0} MB/s alone, {busy:.0} MB/s while the compactor runs ({passes} passes over another partition)");
}
