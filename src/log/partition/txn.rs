//! The transactional side of a partition log: COMMIT/ABORT markers, the last stable offset and
//! the aborted-transaction index (its file format is `log/txn_index.rs`).
use super::*;

impl PartitionLog {
    /// Appends a transaction marker (a control batch holding one COMMIT or ABORT record) for
    /// `producer_id`, closing its open transaction here. An aborted transaction's offset range is
    /// added to the aborted-transaction index that read_committed fetches return.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        self.check_open()?;
        let batch = crate::record::records::control_batch(
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            now_ms,
        );
        let h = BatchHeader::parse(&batch)?;
        let info = self.write_batches(&batch, &[(0, h)], now_ms)?;
        if let Some(first) = self.producers.close_txn(producer_id, producer_epoch, coordinator_epoch, now_ms)
        {
            if !commit {
                self.aborted.push(AbortedTxn {
                    producer_id,
                    first_offset: first,
                    last_offset: info.last_offset,
                });
            }
        }
        Ok(info)
    }

    /// The last stable offset: the first offset of the oldest open transaction, else the log end.
    pub fn last_stable_offset(&self) -> i64 {
        self.producers.first_unstable_offset().unwrap_or(self.log_end_offset).min(self.log_end_offset)
    }

    /// Aborted transactions overlapping `[from, to)`: (producer id, first offset), as Fetch returns.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .map(|a| (a.producer_id, a.first_offset))
            .collect()
    }

    /// Whether the record at `offset` of `producer_id` belongs to an aborted transaction.
    pub fn is_aborted(&self, producer_id: i64, offset: i64) -> bool {
        self.aborted
            .iter()
            .any(|a| a.producer_id == producer_id && a.first_offset <= offset && offset < a.last_offset)
    }

    /// The txnindex body of the segment at `base` (None: no aborted transaction ends in it).
    pub(super) fn txn_index_bytes(&self, base: i64, except: &[(i64, i64)]) -> Option<Vec<u8>> {
        let seg = self.segments.get(&base)?;
        let kept: Vec<AbortedTxn> = self
            .aborted
            .iter()
            .filter(|a| !except.contains(&(a.producer_id, a.last_offset)))
            .copied()
            .collect();
        crate::log::txn_index::encode(&kept, base, seg.next_offset())
    }

    /// The txnindex files to write before a segment without the ABORT markers in `gone`
    /// ((producer id, marker offset)) is swapped in: (path, body or None to remove). The
    /// compactor writes them durably, outside the lock, then calls [`Self::replace_segment`].
    pub fn txn_index_rewrites(&self, gone: &[(i64, i64)]) -> Vec<(PathBuf, Option<Vec<u8>>)> {
        let mut bases: Vec<i64> = gone
            .iter()
            .filter_map(|(_, at)| self.segments.range(..=*at).next_back().map(|(b, _)| *b))
            .collect();
        bases.sort_unstable();
        bases.dedup();
        bases
            .into_iter()
            .map(|b| (self.dir.join(format!("{}.txnindex", file_stem(b))), self.txn_index_bytes(b, gone)))
            .collect()
    }
}
