//! A read-only view of a v2 `RecordBatch` header, plus the few in-place rewrites the broker does.
//!
//! Byte layout (big-endian), as on the wire and on disk:
//! ```text
//!  0 base_offset i64        | 8 batch_length i32 (bytes after this field)
//! 12 partition_leader_epoch | 16 magic i8 (= 2)     | 17 crc u32 (CRC-32C of bytes 21..end)
//! 21 attributes i16         | 23 last_offset_delta i32
//! 27 base_timestamp i64     | 35 max_timestamp i64
//! 43 producer_id i64        | 51 producer_epoch i16 | 53 base_sequence i32
//! 57 records_count i32      | 61 records ...
//! ```
//! Rewriting `base_offset` or `partition_leader_epoch` leaves the CRC valid (they sit before it);
//! stamping LogAppendTime changes `max_timestamp` and attributes, so the CRC is recomputed over the
//! same bytes: the records themselves are never re-encoded.

/// Size of the fixed batch header.
pub const HEADER_LEN: usize = 61;
/// Bytes before `batch_length` ends: the part of the header not counted by `batch_length`.
pub const LOG_OVERHEAD: usize = 12;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("record batch is truncated: {have} bytes, need {need}")]
    Truncated { have: usize, need: usize },
    #[error("unsupported record batch magic {0} (only v2 is accepted)")]
    UnsupportedMagic(i8),
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CorruptMessage { stored: u32, computed: u32 },
    #[error("invalid record batch: {0}")]
    InvalidRecord(&'static str),
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// The fixed header of one batch, copied out of the bytes (61 bytes: cheap to copy, no borrow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses the header at the start of `b`. Checks sizes and magic, not the CRC.
    pub fn parse(b: &[u8]) -> Result<BatchHeader, BatchError> {
        if b.len() < 17 {
            return Err(BatchError::Truncated { have: b.len(), need: HEADER_LEN });
        }
        let magic = b[16] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        if b.len() < HEADER_LEN {
            return Err(BatchError::Truncated { have: b.len(), need: HEADER_LEN });
        }
        let batch_length = be_i32(b, 8);
        if batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(BatchError::InvalidRecord("batch length smaller than the v2 header"));
        }
        let h = BatchHeader {
            base_offset: be_i64(b, 0),
            batch_length,
            partition_leader_epoch: be_i32(b, 12),
            magic,
            crc: be_u32(b, 17),
            attributes: be_i16(b, 21),
            last_offset_delta: be_i32(b, 23),
            base_timestamp: be_i64(b, 27),
            max_timestamp: be_i64(b, 35),
            producer_id: be_i64(b, 43),
            producer_epoch: be_i16(b, 51),
            base_sequence: be_i32(b, 53),
            records_count: be_i32(b, 57),
        };
        if h.last_offset_delta < 0 || h.records_count < 0 {
            return Err(BatchError::InvalidRecord("negative record count or offset delta"));
        }
        Ok(h)
    }

    /// Total size of the batch on the wire, header included.
    pub fn total_len(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
    pub fn compression(&self) -> i16 {
        self.attributes & ATTR_COMPRESSION_MASK
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_TIMESTAMP_TYPE != 0
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }
    /// Sequence number of the last record, wrapping at i32::MAX as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let s = self.base_sequence as i64 + self.last_offset_delta as i64;
        if s > i32::MAX as i64 {
            (s - i32::MAX as i64 - 1) as i32
        } else {
            s as i32
        }
    }
}

/// Computes the CRC-32C the header should carry.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[21..])
}

/// Validates the CRC of one whole batch (`batch.len() == header.total_len()`).
pub fn check_crc(batch: &[u8], h: &BatchHeader) -> Result<(), BatchError> {
    let computed = compute_crc(batch);
    if computed != h.crc {
        return Err(BatchError::CorruptMessage { stored: h.crc, computed });
    }
    Ok(())
}

/// Rewrites `base_offset` in place. The CRC does not cover it.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Rewrites `partition_leader_epoch` in place. The CRC does not cover it.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[12..16].copy_from_slice(&epoch.to_be_bytes());
}

/// Stamps LogAppendTime: sets the timestamp-type bit and `max_timestamp`, then recomputes the CRC.
pub fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attrs = be_i16(batch, 21) | ATTR_TIMESTAMP_TYPE;
    batch[21..23].copy_from_slice(&attrs.to_be_bytes());
    batch[35..43].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Walks concatenated batches in a buffer, yielding `(position, header)`. Stops at the first
/// incomplete or malformed batch and reports it through [`BatchIter::error`], so callers can tell
/// a clean end from a torn tail.
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    error: Option<BatchError>,
}

impl<'a> BatchIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        BatchIter { buf, pos: 0, error: None }
    }
    /// Position just after the last complete batch returned.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Why iteration stopped early, if it did.
    pub fn error(&self) -> Option<&BatchError> {
        self.error.as_ref()
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = (usize, BatchHeader);
    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() || self.error.is_some() {
            return None;
        }
        match BatchHeader::parse(rest) {
            Ok(h) if h.total_len() <= rest.len() => {
                let at = self.pos;
                self.pos += h.total_len();
                Some((at, h))
            }
            Ok(h) => {
                self.error = Some(BatchError::Truncated { have: rest.len(), need: h.total_len() });
                None
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a syntactically valid v2 batch with `count` empty-ish records (test helper).
    pub fn make_batch(base_offset: i64, count: i32, ts: i64, payload_len: usize) -> Vec<u8> {
        make_batch_with_producer(base_offset, count, ts, payload_len, -1, -1, -1)
    }

    pub fn make_batch_with_producer(
        base_offset: i64,
        count: i32,
        ts: i64,
        payload_len: usize,
        pid: i64,
        epoch: i16,
        seq: i32,
    ) -> Vec<u8> {
        let records = records_section(count, payload_len);
        let mut b = vec![0u8; HEADER_LEN];
        b.extend_from_slice(&records);
        let len = (b.len() - LOG_OVERHEAD) as i32;
        b[0..8].copy_from_slice(&base_offset.to_be_bytes());
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[12..16].copy_from_slice(&(-1i32).to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[27..35].copy_from_slice(&ts.to_be_bytes());
        b[35..43].copy_from_slice(&ts.to_be_bytes());
        b[43..51].copy_from_slice(&pid.to_be_bytes());
        b[51..53].copy_from_slice(&epoch.to_be_bytes());
        b[53..57].copy_from_slice(&seq.to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        let crc = compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn zigzag(v: i64, out: &mut Vec<u8>) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// `count` well-formed keyless records (timestamp delta 0, offset deltas 0..count) taking
    /// about `payload_len` bytes: every record but the last has a null value, the last carries
    /// the rest as its value (bytes `i % 251`).
    fn records_section(count: i32, payload_len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload_len + 16);
        for i in 0..count {
            let last = i == count - 1;
            let mut body = vec![0u8, 0]; // attributes, timestamp delta 0
            zigzag(i as i64, &mut body);
            zigzag(-1, &mut body); // null key
            if last {
                // Fill up to payload_len: value bytes = what is left after the fixed fields.
                let fixed = body.len() + 1 /* header count */ + 2 /* length varints, about */;
                let v = payload_len.saturating_sub(out.len() + fixed + 2);
                zigzag(v as i64, &mut body);
                body.extend((0..v).map(|j| (j % 251) as u8));
            } else {
                zigzag(-1, &mut body);
            }
            body.push(0); // no headers
            zigzag(body.len() as i64, &mut out);
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn parse_roundtrip_and_crc() {
        let b = make_batch(5, 3, 1000, 40);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.base_offset, 5);
        assert_eq!(h.last_offset(), 7);
        assert_eq!(h.total_len(), b.len());
        assert!(check_crc(&b, &h).is_ok());
    }

    #[test]
    fn offset_rewrite_keeps_crc() {
        let mut b = make_batch(0, 3, 1000, 40);
        set_base_offset(&mut b, 77);
        set_partition_leader_epoch(&mut b, 4);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.base_offset, 77);
        assert_eq!(h.partition_leader_epoch, 4);
        assert!(check_crc(&b, &h).is_ok());
    }

    #[test]
    fn log_append_time_recomputes_crc() {
        let mut b = make_batch(0, 1, 1000, 10);
        set_log_append_time(&mut b, 99_999);
        let h = BatchHeader::parse(&b).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 99_999);
        assert!(check_crc(&b, &h).is_ok());
    }

    #[test]
    fn flipped_byte_fails_crc() {
        let mut b = make_batch(0, 1, 1000, 10);
        b[HEADER_LEN + 3] ^= 0xff;
        let h = BatchHeader::parse(&b).unwrap();
        assert!(matches!(check_crc(&b, &h), Err(BatchError::CorruptMessage { .. })));
    }

    #[test]
    fn iter_stops_on_torn_tail() {
        let mut buf = make_batch(0, 1, 1, 10);
        buf.extend(make_batch(1, 1, 1, 10));
        let full = buf.len();
        buf.extend(&make_batch(2, 1, 1, 10)[..20]);
        let mut it = BatchIter::new(&buf);
        assert_eq!(it.by_ref().count(), 2);
        assert_eq!(it.position(), full);
        assert!(matches!(it.error(), Some(BatchError::Truncated { .. })));
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..80 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let _ = BatchHeader::parse(&junk);
            let _ = BatchIter::new(&junk).count();
        }
    }

    #[test]
    fn last_sequence_wraps() {
        let b = make_batch_with_producer(0, 3, 0, 0, 1, 0, i32::MAX - 1);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.last_sequence(), 0, "MAX-1, MAX, 0");
    }
}
