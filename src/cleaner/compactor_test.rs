//! Compaction against a model: after a pass, the cleaned range holds exactly the latest record
//! per key (tombstones gone once older than delete.retention.ms), everything after it is
//! untouched, offsets never change; and a failure at any write leaves the log as it was.
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;

use super::compactor::compact;
use crate::config::LogConfig;
use crate::log::file::FaultPlan;
use crate::log::partition::{Partition, PartitionLog};

fn batch(recs: &[(String, Option<String>, i64)], compression: Compression) -> Vec<u8> {
    let records: Vec<Record> = recs
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: *ts,
            key: Some(Bytes::from(k.clone())),
            value: v.clone().map(Bytes::from),
            headers: Default::default(),
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(&mut b, &records, &RecordEncodeOptions { version: 2, compression }).unwrap();
    b.to_vec()
}

/// The broker compacts only data that is durable: make everything appended so far durable (the
/// standalone log syncs inline), then run a pass.
fn compact_durable(
    p: &Partition,
    now_ms: i64,
    map_bytes: usize,
    force: bool,
) -> std::io::Result<Option<super::compactor::CleanStats>> {
    let _ = p.ticket().submit();
    compact(p, now_ms, map_bytes, force)
}

fn compacted_config() -> LogConfig {
    LogConfig {
        compact: true,
        delete: false,
        segment_bytes: 400,
        delete_retention_ms: 1000,
        timestamp_after_max_ms: i64::MAX,
        timestamp_before_max_ms: i64::MAX,
        ..LogConfig::default()
    }
}

/// Every record in the log (control records included), in offset order.
fn records(p: &Partition) -> Vec<Record> {
    let mut out = Vec::new();
    let mut offset = p.log_start_offset();
    while offset < p.high_watermark() {
        let r = p.read(offset, 1 << 20, true).unwrap();
        if r.records.is_empty() {
            break;
        }
        let mut buf = r.records.clone();
        while !buf.is_empty() {
            let Ok(set) = RecordBatchDecoder::decode(&mut buf) else { break };
            for rec in set.records {
                let next = rec.offset + 1;
                if rec.offset >= offset {
                    out.push(rec);
                }
                offset = offset.max(next);
            }
        }
    }
    out
}

/// Every record in the log: offset -> (key, value).
fn read_all(p: &Partition) -> Vec<(i64, String, Option<String>)> {
    records(p)
        .into_iter()
        .map(|r| {
            (
                r.offset,
                String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                r.value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn compacted_log_is_latest_per_key(
        writes in proptest::collection::vec((0u8..6, proptest::option::weighted(0.8, 0u16..1000), 0i64..5000), 5..120),
        codec in 0usize..3,
    ) {
        let compression = [Compression::None, Compression::Gzip, Compression::Lz4][codec];
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = PartitionLog::open_standalone(dir.path(), compacted_config(), true, 0, None).unwrap();
        let p = Partition::new("c".into(), 0, log);
        let mut all: Vec<(i64, String, Option<String>, i64)> = Vec::new();
        for chunk in writes.chunks(3) {
            let recs: Vec<(String, Option<String>, i64)> = chunk.iter().map(|(k, v, ts)| (format!("key{k}"), v.map(|v| format!("v{v}")), *ts)).collect();
            let info = p.append(&batch(&recs, compression), 0).unwrap();
            for (i, (k, v, ts)) in recs.into_iter().enumerate() {
                all.push((info.base_offset + i as i64, k, v, ts));
            }
        }
        let before = read_all(&p);
        let now = 5_500;
        let stats = compact_durable(&p, now, 1 << 20, true).unwrap();
        let after = read_all(&p);
        let Some(stats) = stats else {
            prop_assert_eq!(after, before);
            return Ok(());
        };
        let end = stats.cleaned_up_to;
        let horizon = now - 1000;
        let mut latest: HashMap<String, i64> = HashMap::new();
        for (o, k, _, _) in all.iter().filter(|(o, ..)| *o < end) {
            latest.insert(k.clone(), *o);
        }
        let expected: Vec<(i64, String, Option<String>)> = all
            .iter()
            .filter(|(o, k, v, ts)| *o >= end || (latest[k] == *o && !(v.is_none() && *ts < horizon)))
            .map(|(o, k, v, _)| (*o, k.clone(), v.clone()))
            .collect();
        prop_assert_eq!(after, expected);
        prop_assert_eq!(p.cleaner_offset(), end);
        // Reopening (unclean, with the recovery point a checkpoint would hold) finds the same log.
        let again = {
            let (log, _) = PartitionLog::open_standalone(dir.path(), compacted_config(), false, p.recovery_point(), None).unwrap();
            read_all(&Partition::new("c".into(), 0, log))
        };
        prop_assert_eq!(again, read_all(&p));
    }
}

#[test]
fn a_failed_write_during_compaction_leaves_a_valid_log() {
    for fail_after in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        let plan = FaultPlan::new(-1, -1);
        let (log, _) =
            PartitionLog::open_standalone(dir.path(), compacted_config(), true, 0, Some(plan.clone()))
                .unwrap();
        let p = Partition::new("c".into(), 0, log);
        for i in 0..30 {
            let recs = vec![(format!("key{}", i % 3), Some(format!("value-{i}")), 100 + i as i64)];
            p.append(&batch(&recs, Compression::None), 0).unwrap();
        }
        let before = read_all(&p);
        plan.writes_before_failure.store(fail_after, Ordering::SeqCst);
        let r = compact_durable(&p, 200, 1 << 20, true);
        plan.writes_before_failure.store(-1, Ordering::SeqCst);
        let now = read_all(&p);
        // Segments are swapped one at a time, so a failure leaves some segments cleaned and the
        // rest as they were: every record left is one that was written (same offset, same value),
        // and the latest record of every key is still there.
        let mut it = before.iter();
        for rec in &now {
            assert!(
                it.any(|b| b == rec),
                "after a failure at write {fail_after}: {rec:?} was not in the log before"
            );
        }
        for k in ["key0", "key1", "key2"] {
            let last_before = before.iter().rev().find(|r| r.1 == k);
            let last_now = now.iter().rev().find(|r| r.1 == k);
            assert_eq!(
                last_before, last_now,
                "latest {k} kept after a failure at write {fail_after} ({r:?})"
            );
        }
        // Whatever happened, no temporary file is left behind after a reopen, and the log reads.
        let rp = p.recovery_point();
        drop(p);
        let (log, _) =
            PartitionLog::open_standalone(dir.path(), compacted_config(), false, rp, None).unwrap();
        let p = Partition::new("c".into(), 0, log);
        let reopened = read_all(&p);
        assert_eq!(reopened, now, "reopen after a failure at write {fail_after}");
        assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".cleaned")));
    }
}

#[test]
fn a_crash_between_write_and_swap_keeps_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = PartitionLog::open_standalone(dir.path(), compacted_config(), true, 0, None).unwrap();
    let p = Partition::new("c".into(), 0, log);
    for i in 0..20 {
        p.append(&batch(&[(format!("k{}", i % 2), Some(format!("v{i}")), 100)], Compression::None), 0)
            .unwrap();
    }
    let before = read_all(&p);
    drop(p);
    // A cleaned file that was written but never swapped in (the crash came first).
    std::fs::write(dir.path().join("00000000000000000000.log.cleaned"), b"partial junk").unwrap();
    let (log, _) = PartitionLog::open_standalone(dir.path(), compacted_config(), false, 0, None).unwrap();
    let p = Partition::new("c".into(), 0, log);
    assert_eq!(read_all(&p), before);
    assert!(!dir.path().join("00000000000000000000.log.cleaned").exists());
}

#[test]
fn keyless_records_are_rejected_on_compacted_topics() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = PartitionLog::open_standalone(dir.path(), compacted_config(), true, 0, None).unwrap();
    let log = Partition::new("c".into(), 0, log);
    let recs = vec![Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    }];
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &recs,
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .unwrap();
    let e = log.append(&b, 0).unwrap_err();
    assert!(e.to_string().contains("without key"), "{e}");
    assert_eq!(log.high_watermark(), 0);
}

#[test]
fn aborted_transactional_records_never_win_and_open_transactions_are_not_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 150, ..compacted_config() };
    let (log, _) = PartitionLog::open_standalone(dir.path(), cfg.clone(), true, 0, None).unwrap();
    let p = Partition::new("c".into(), 0, log);
    p.append(&batch(&[("k".into(), Some("committed-plain".into()), 100)], Compression::None), 0).unwrap(); // 0
    p.append(&txn_record(7, 0, "k", "aborted"), 0).unwrap(); // 1
    p.with_log(|l| l.append_marker(7, 0, false, 0, 0)).unwrap(); // 2: ABORT
    p.append(&txn_record(8, 0, "j", "open"), 0).unwrap(); // 3: stays open
    for i in 0..4 {
        p.append(&batch(&[(format!("f{i}"), Some("x".into()), 100)], Compression::None), 0).unwrap();
    }
    assert_eq!(p.last_stable_offset(), 3);
    let stats = compact_durable(&p, 200, 1 << 20, true).unwrap().unwrap();
    assert!(
        stats.cleaned_up_to <= 3,
        "nothing past the last stable offset is cleaned: {}",
        stats.cleaned_up_to
    );
    let all = read_all(&p);
    let k: Vec<_> = all.iter().filter(|r| r.1 == "k").collect();
    assert_eq!(
        k,
        vec![&(0, "k".to_string(), Some("committed-plain".to_string()))],
        "the aborted value neither wins nor stays"
    );
    assert!(
        all.iter().any(|r| r.0 == 3 && r.2.as_deref() == Some("open")),
        "the open transaction is untouched"
    );
}

/// (offset, producer id) of every transaction marker in the log.
fn markers(p: &Partition) -> Vec<(i64, i64)> {
    records(p).into_iter().filter(|r| r.control).map(|r| (r.offset, r.producer_id)).collect()
}

fn txn_record(pid: i64, seq: i32, k: &str, v: &str) -> Vec<u8> {
    let rec = Record {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: pid,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: seq,
        timestamp: 100,
        key: Some(Bytes::from(k.to_string())),
        value: Some(Bytes::from(v.to_string())),
        headers: Default::default(),
    };
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        [&rec],
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .unwrap();
    b.to_vec()
}

#[test]
fn markers_go_once_their_transaction_has_no_data_left_and_the_delete_horizon_passed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 150, ..compacted_config() }; // delete.retention.ms 1000
    let (log, _) = PartitionLog::open_standalone(dir.path(), cfg.clone(), true, 0, None).unwrap();
    let p = Partition::new("c".into(), 0, log);
    let marker = |pid: i64, commit: bool| p.with_log(|l| l.append_marker(pid, 0, commit, 0, 100)).unwrap();
    p.append(&txn_record(7, 0, "k", "aborted"), 0).unwrap(); // 0
    marker(7, false); // 1: ABORT at t=100
    p.append(&txn_record(8, 0, "j", "overwritten"), 0).unwrap(); // 2
    marker(8, true); // 3: COMMIT
    p.append(&txn_record(9, 0, "m", "kept"), 0).unwrap(); // 4: the latest value of m
    marker(9, true); // 5
    p.append(&txn_record(10, 0, "z", "overwritten"), 0).unwrap(); // 6
    marker(10, true); // 7: producer 10's last batch
    p.append(&batch(&[("j".into(), Some("plain".into()), 100)], Compression::None), 0).unwrap(); // 8
    p.append(&batch(&[("z".into(), Some("plain".into()), 100)], Compression::None), 0).unwrap(); // 9
    p.append(&txn_record(7, 1, "k7", "later"), 0).unwrap(); // 10
    marker(7, true); // 11
    p.append(&txn_record(8, 1, "j8", "later"), 0).unwrap(); // 12
    marker(8, true); // 13
    for i in 0..10 {
        p.append(&batch(&[(format!("f{i}"), Some("x".into()), 100)], Compression::None), 0).unwrap();
    }
    let all_markers = vec![(1, 7), (3, 8), (5, 9), (7, 10), (11, 7), (13, 8)];
    assert_eq!(markers(&p), all_markers);
    assert_eq!(p.with_log(|l| l.aborted_between(0, 100)), vec![(7, 0)]);
    assert!(p.with_log(|l| l.oldest_snapshot()).unwrap() > 13, "the markers lie below the oldest snapshot");

    // Inside the delete horizon: the data goes (aborted; overwritten), every marker stays.
    let s = compact_durable(&p, 200, 1 << 20, true).unwrap().unwrap();
    assert_eq!(s.markers_removed, 0);
    assert_eq!(markers(&p), all_markers);
    assert!(read_all(&p).iter().all(|r| r.1 != "k" && r.2.as_deref() != Some("overwritten")));
    assert_eq!(
        p.with_log(|l| l.aborted_between(0, 100)),
        vec![(7, 0)],
        "the ABORT marker is still there, so is its entry"
    );

    // Past the horizon (t=100 + 1000), with nothing new to clean: the markers of the two empty
    // transactions whose producers wrote again go, the ABORT's index entry with it. Kept: those
    // of transactions with data left (9, and 7's and 8's later ones) and producer 10's marker,
    // its last batch (it carries the epoch that fences a zombie of it).
    let s = compact_durable(&p, 5000, 1 << 20, false).unwrap().expect("the due markers trigger a pass");
    assert_eq!(s.markers_removed, 2);
    assert_eq!(markers(&p), vec![(5, 9), (7, 10), (11, 7), (13, 8)]);
    assert!(p.with_log(|l| l.aborted_between(0, 100)).is_empty());
    assert!(read_all(&p).iter().any(|r| r.0 == 4 && r.2.as_deref() == Some("kept")));
    // and no pass is due any more (nothing rescans the log every tick)
    assert!(compact_durable(&p, 6000, 1 << 20, false).unwrap().is_none());

    // A reopened log (txnindex files, producer snapshots) agrees, and nothing is left open.
    drop(p);
    let (log, _) = PartitionLog::open_standalone(dir.path(), cfg, true, 0, None).unwrap();
    let p = Partition::new("c".into(), 0, log);
    assert!(p.with_log(|l| l.aborted_between(0, 100)).is_empty());
    assert_eq!(markers(&p), vec![(5, 9), (7, 10), (11, 7), (13, 8)]);
    assert_eq!(p.last_stable_offset(), p.high_watermark());
}

#[test]
fn a_producers_last_batch_is_kept_empty_when_compaction_removes_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: 150, ..compacted_config() };
    let (log, _) = PartitionLog::open_standalone(dir.path(), cfg.clone(), true, 0, None).unwrap();
    let p = Partition::new("c".into(), 0, log);
    // Producer 5 (idempotent) writes k at offset 0, sequence 0; someone else overwrites k.
    let mut idem = txn_record(5, 0, "k", "old");
    {
        // the same batch, not transactional: attributes bit 4 off, CRC again
        let attrs = i16::from_be_bytes([idem[21], idem[22]]) & !0x10;
        idem[21..23].copy_from_slice(&attrs.to_be_bytes());
        let crc = crate::record::batch::compute_crc(&idem);
        idem[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    p.append(&idem, 0).unwrap();
    p.append(&batch(&[("k".into(), Some("new".into()), 100)], Compression::None), 0).unwrap();
    for i in 0..6 {
        p.append(
            &batch(&[(format!("f{i}"), Some("filler-filler-filler".into()), 100)], Compression::None),
            0,
        )
        .unwrap();
    }
    let s = compact_durable(&p, 10_000, 1 << 20, true).unwrap().expect("a pass ran");
    assert!(s.records_removed >= 1, "{s:?}");
    let r = p.read(0, 1 << 20, true).unwrap();
    let h = crate::record::BatchHeader::parse(&r.records).unwrap();
    assert_eq!(
        (h.base_offset, h.records_count, h.producer_id, h.base_sequence, h.total_len()),
        (0, 0, 5, 0, crate::record::batch::HEADER_LEN),
        "producer 5's batch stays, without records"
    );
    assert!(crate::record::batch::check_crc(&r.records[..h.total_len()], &h).is_ok());
    let kv: Vec<(i64, String, Option<String>)> =
        read_all(&p).into_iter().filter(|(_, k, _)| k == "k").collect();
    assert_eq!(kv, vec![(1, "k".to_string(), Some("new".to_string()))]);
    // A second pass keeps the empty batch as it is.
    compact_durable(&p, 20_000, 1 << 20, true).unwrap();
    let r = p.read(0, 1 << 20, true).unwrap();
    let h = crate::record::BatchHeader::parse(&r.records).unwrap();
    assert_eq!((h.base_offset, h.records_count, h.producer_id), (0, 0, 5));
}
