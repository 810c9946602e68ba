//! Model-based test: `PartitionLog` against an in-memory list of batches under random append,
//! roll, read, truncate and reopen (clean and unclean). Every read must return exactly the bytes the
//! model holds, and offsets must match after every step.
use std::sync::Arc;

use proptest::prelude::*;

use super::partition::{Partition, PartitionLog};
use crate::config::LogConfig;
use crate::record::batch::tests::make_batch;
use crate::record::batch::{set_base_offset, set_partition_leader_epoch, BatchIter};

#[derive(Debug, Clone)]
enum Op {
    Append { count: i32, payload: usize },
    Roll,
    Read { pick: usize },
    Truncate { pick: usize },
    Reopen { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1..5i32, 0..300usize).prop_map(|(count, payload)| Op::Append { count, payload }),
        1 => Just(Op::Roll),
        4 => any::<usize>().prop_map(|pick| Op::Read { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Truncate { pick }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

fn open(dir: &std::path::Path, clean: bool) -> Partition {
    let cfg = LogConfig { segment_bytes: 1024, index_interval_bytes: 128, ..LogConfig::default() };
    let (log, _) = PartitionLog::open_standalone(dir, cfg, clean, 0, None).unwrap();
    Partition::new("m".into(), 0, log)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn partition_log_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Arc::new(open(dir.path(), true));
        // The model: (base offset, exact bytes on disk) per batch.
        let mut model: Vec<(i64, Vec<u8>)> = Vec::new();
        let leo = |m: &Vec<(i64, Vec<u8>)>| m.last().map(|(b, bytes)| b + crate::record::BatchHeader::parse(bytes).unwrap().last_offset_delta as i64 + 1).unwrap_or(0);
        for op in ops {
            match op {
                Op::Append { count, payload } => {
                    let b = make_batch(0, count, 1000, payload);
                    let info = p.append(&b, 1000).unwrap();
                    let base = leo(&model);
                    prop_assert_eq!(info.base_offset, base);
                    let mut stored = b.clone();
                    set_base_offset(&mut stored, base);
                    set_partition_leader_epoch(&mut stored, super::partition::LEADER_EPOCH);
                    model.push((base, stored));
                }
                Op::Roll => {
                    p.with_log(|l| l.roll(1000)).unwrap();
                }
                Op::Read { pick } => {
                    let end = leo(&model);
                    let offset = if end == 0 { 0 } else { (pick % (end as usize + 1)) as i64 };
                    let r = p.read(offset, 1 << 20, true).unwrap();
                    prop_assert_eq!(r.high_watermark, end);
                    if offset == end {
                        prop_assert!(r.records.is_empty());
                        continue;
                    }
                    let start = model.iter().position(|(b, bytes)| {
                        let h = crate::record::BatchHeader::parse(bytes).unwrap();
                        *b <= offset && offset <= h.last_offset()
                    }).unwrap();
                    let mut it = BatchIter::new(&r.records);
                    let mut n = 0;
                    for (i, (pos, h)) in (start..).zip(it.by_ref()) {
                        prop_assert_eq!(&r.records[pos..pos + h.total_len()], &model[i].1[..]);
                        n += 1;
                    }
                    prop_assert!(n >= 1, "at least the batch holding the offset");
                    prop_assert!(it.error().is_none());
                }
                Op::Truncate { pick } => {
                    if model.is_empty() { continue; }
                    let idx = pick % model.len();
                    let to = model[idx].0;
                    p.with_log(|l| l.truncate_to(to, 1000)).unwrap();
                    model.truncate(idx);
                    prop_assert_eq!(p.high_watermark(), leo(&model));
                }
                Op::Reopen { clean } => {
                    if clean {
                        p.with_log(|l| l.close()).unwrap();
                    }
                    drop(p);
                    p = Arc::new(open(dir.path(), clean));
                    prop_assert_eq!(p.high_watermark(), leo(&model));
                }
            }
        }
    }
}
