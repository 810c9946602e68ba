//! Record-level timestamp lookups inside one batch, for ListOffsets by time (off the hot path).
//!
//! The batch header only knows the first and largest timestamps, so answering "first record with
//! timestamp >= T" exactly, as Kafka does, means reading records. Of user data, this and
//! compaction are the only places that decode them (decompressing if needed).
use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::batch::BatchHeader;

/// (offset, timestamp) of every record in the batch; `None` if it cannot be decoded.
fn record_times(batch: &Bytes, h: &BatchHeader) -> Option<Vec<(i64, i64)>> {
    if h.is_log_append_time() {
        return Some(vec![(h.base_offset, h.max_timestamp)]);
    }
    let mut buf = batch.clone();
    let set = RecordBatchDecoder::decode(&mut buf).ok()?;
    Some(set.records.iter().map(|r| (r.offset, r.timestamp)).collect())
}

/// The first record at or after offset `from` with timestamp >= `ts` in this batch, if any.
pub fn first_at_or_after(batch: &Bytes, h: &BatchHeader, ts: i64, from: i64) -> Option<(i64, i64)> {
    match record_times(batch, h) {
        Some(v) => v.into_iter().find(|(o, t)| *t >= ts && *o >= from),
        None => Some((h.base_offset.max(from), h.max_timestamp)),
    }
}

/// The record holding the batch's largest timestamp (the first one, if several).
pub fn max_timestamp_record(batch: &Bytes, h: &BatchHeader) -> (i64, i64) {
    record_times(batch, h)
        .and_then(|v| {
            v.into_iter().fold(None, |best: Option<(i64, i64)>, (o, t)| match best {
                Some((_, bt)) if bt >= t => best,
                _ => Some((o, t)),
            })
        })
        .unwrap_or((h.last_offset(), h.max_timestamp))
}
