use super::*;

mod log_tests {
    use super::*;
    use crate::record::batch::tests::make_batch;

    #[test]
    fn failed_write_leaves_the_log_as_it_was() {
        let d = tempfile::tempdir().unwrap();
        // The segment's first three writes succeed, the fourth fails.
        let plan = FaultPlan::new(3, -1);
        let (mut log, _) =
            PartitionLog::open_standalone(d.path(), LogConfig::default(), true, 0, Some(plan)).unwrap();
        for i in 0..3 {
            assert_eq!(log.append(&make_batch(0, 2, 1000, 20), 1000).unwrap().base_offset, i * 2);
        }
        let size_before = log.size_bytes();
        assert!(matches!(log.append(&make_batch(0, 2, 1000, 20), 1000), Err(AppendError::Storage(_))));
        assert_eq!(log.log_end_offset(), 6);
        assert_eq!(log.size_bytes(), size_before);
        drop(log);
        // An unclean reopen finds exactly the three good batches.
        let (log, rep) =
            PartitionLog::open_standalone(d.path(), LogConfig::default(), false, 0, None).unwrap();
        assert_eq!(log.log_end_offset(), 6);
        assert_eq!(rep.truncated_bytes, 0);
    }

    #[test]
    fn corruption_below_the_recovery_point_refuses_to_start() {
        let d = tempfile::tempdir().unwrap();
        let (mut log, _) =
            PartitionLog::open_standalone(d.path(), LogConfig::default(), true, 0, None).unwrap();
        for _ in 0..4 {
            log.append(&make_batch(0, 1, 1000, 50), 1000).unwrap();
        }
        drop(log);
        let path = d.path().join(format!("{}.log", file_stem(0)));
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 4 + HEADER_LEN + 5; // inside the second batch's records
        bytes[at] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        // Recovery point 4: all four batches were fsynced and acknowledged.
        let r = PartitionLog::open_standalone(d.path(), LogConfig::default(), false, 4, None);
        assert!(matches!(r, Err(OpenError::CorruptBelowRecoveryPoint { .. })), "{:?}", r.err());
        // With a recovery point of 1 the damage is in unsynced data: cut, log continues at 1.
        let (log, _) = PartitionLog::open_standalone(d.path(), LogConfig::default(), false, 1, None).unwrap();
        assert_eq!(log.log_end_offset(), 1);
    }

    #[test]
    fn retention_deletes_old_and_oversized_segments_but_never_the_active_one() {
        let d = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 200,
            retention_ms: 1_000,
            retention_bytes: -1,
            ..LogConfig::default()
        };
        let (mut log, _) = PartitionLog::open_standalone(d.path(), cfg.clone(), true, 0, None).unwrap();
        for i in 0..6 {
            log.append(&make_batch(0, 1, 10_000 + i * 1_000, 100), 10_000 + i * 1_000).unwrap();
        }
        assert_eq!(log.segment_count(), 6, "each 161-byte batch fills a 200-byte segment");
        // At 13_500 the segments whose newest record is before 12_500 go.
        assert_eq!(log.apply_retention(13_500).unwrap(), 3);
        assert_eq!(log.log_start_offset(), 3);
        // Far in the future everything but the active segment goes.
        assert_eq!(log.apply_retention(1_000_000).unwrap(), 2);
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.log_start_offset(), 5);
        assert_eq!(log.log_end_offset(), 6);
        // Size-based.
        let d2 = tempfile::tempdir().unwrap();
        let cfg =
            LogConfig { segment_bytes: 200, retention_ms: -1, retention_bytes: 400, ..LogConfig::default() };
        let (mut log, _) = PartitionLog::open_standalone(d2.path(), cfg, true, 0, None).unwrap();
        for i in 0..5 {
            log.append(&make_batch(0, 1, 10_000 + i, 100), 10_000).unwrap();
        }
        // Kafka's rule: drop the oldest segment while the log would still be >= retention.bytes
        // without it: 805 -> 644 -> 483, then 322 would be under 400, so 483 bytes stay.
        assert_eq!(log.apply_retention(10_000).unwrap(), 2);
        assert_eq!(log.log_start_offset(), 2);
    }

    #[test]
    fn log_append_time_is_stamped_with_a_valid_crc() {
        let d = tempfile::tempdir().unwrap();
        let cfg = LogConfig { log_append_time: true, ..LogConfig::default() };
        let (log, _) = PartitionLog::open_standalone(d.path(), cfg, true, 0, None).unwrap();
        let p = Partition::new("t".into(), 0, log);
        let info = p.append(&make_batch(0, 3, 5, 40), 777_000).unwrap();
        assert_eq!(info.log_append_time, 777_000);
        let r = p.read(0, 1 << 20, true).unwrap();
        let h = BatchHeader::parse(&r.records).unwrap();
        assert_eq!(h.max_timestamp, 777_000);
        assert!(h.is_log_append_time());
        assert!(check_crc(&r.records[..h.total_len()], &h).is_ok());
    }
}

mod txn_tests {
    use super::*;
    use crate::record::batch::tests::make_batch_with_producer;

    fn txn_batch(pid: i64, count: i32, seq: i32) -> Vec<u8> {
        let mut b = make_batch_with_producer(0, count, 1000, 10, pid, 0, seq);
        let attrs = i16::from_be_bytes([b[21], b[22]]) | 0x10;
        b[21..23].copy_from_slice(&attrs.to_be_bytes());
        let crc = crate::record::batch::compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn check(p: &Partition) {
        assert_eq!(p.last_stable_offset(), 6);
        assert_eq!(p.with_log(|l| l.aborted_between(0, 6)), vec![(2, 3)]);
        assert!(p.with_log(|l| l.is_aborted(2, 3)));
        assert!(!p.with_log(|l| l.is_aborted(1, 0)));
    }

    #[test]
    fn markers_move_the_last_stable_offset_and_fill_the_aborted_index() {
        let d = tempfile::tempdir().unwrap();
        let (log, _) = PartitionLog::open_standalone(d.path(), LogConfig::default(), true, 0, None).unwrap();
        let p = Partition::new("t".into(), 0, log);
        p.append(&txn_batch(1, 2, 0), 1000).unwrap(); // 0-1, pid 1
        p.append(&crate::record::batch::tests::make_batch(0, 1, 1000, 10), 1000).unwrap(); // 2
        p.append(&txn_batch(2, 1, 0), 1000).unwrap(); // 3, pid 2
        assert_eq!(p.last_stable_offset(), 0, "pid 1's open transaction pins the LSO");
        assert!(p.read_until(0, 1 << 20, true, p.last_stable_offset(), false).unwrap().records.is_empty());
        let r = p.read_until(0, 1 << 20, true, i64::MAX, false).unwrap();
        assert_eq!(BatchIter::new(&r.records).count(), 3, "read_uncommitted sees everything");
        p.with_log(|l| l.append_marker(1, 0, true, 0, 1000)).unwrap(); // 4: COMMIT pid 1
        assert_eq!(p.last_stable_offset(), 3);
        let r = p.read_until(0, 1 << 20, true, 3, false).unwrap();
        let seen: Vec<i64> = BatchIter::new(&r.records).map(|(_, h)| h.base_offset).collect();
        assert_eq!(seen, vec![0, 2], "read_committed stops before pid 2's open transaction");
        p.with_log(|l| l.append_marker(2, 0, false, 0, 1000)).unwrap(); // 5: ABORT pid 2
        check(&p);
        let markers: Vec<bool> =
            BatchIter::new(&p.read(4, 1 << 20, true).unwrap().records).map(|(_, h)| h.is_control()).collect();
        assert_eq!(markers, vec![true, true]);
        // Clean restart: snapshot + txnindex.
        p.with_log(|l| l.close()).unwrap();
        drop(p);
        let (log, _) = PartitionLog::open_standalone(d.path(), LogConfig::default(), true, 6, None).unwrap();
        let p = Partition::new("t".into(), 0, log);
        check(&p);
        // Crash without snapshots or indexes: everything is rebuilt from the markers in the log.
        drop(p);
        for e in std::fs::read_dir(d.path()).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "snapshot" || x == "txnindex") {
                std::fs::remove_file(path).unwrap();
            }
        }
        let (log, _) = PartitionLog::open_standalone(d.path(), LogConfig::default(), false, 0, None).unwrap();
        let p = Partition::new("t".into(), 0, log);
        check(&p);
        // An open transaction survives a restart and keeps pinning the LSO.
        p.append(&txn_batch(3, 1, 0), 1000).unwrap(); // 6, pid 3
        p.with_log(|l| l.close()).unwrap();
        drop(p);
        let (log, _) = PartitionLog::open_standalone(d.path(), LogConfig::default(), false, 0, None).unwrap();
        assert_eq!(log.last_stable_offset(), 6);
    }
}
