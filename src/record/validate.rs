//! Produce-time validation of every record in a v2 batch, as Kafka's log validator does before
//! anything is written: the header's count and offset range agree, every record is well formed
//! and ends exactly where its length says, the batch holds exactly the records its header counts,
//! timestamps are in range, compacted topics get a key on every record.
//!
//! One rule is stricter than Kafka: each record's offset delta must be its index. Kafka stores an
//! uncompressed batch with other deltas as it came and rewrites a compressed one; Odradek never
//! rewrites records, so it refuses them (no stock client writes them).
//!
//! Compressed batches are decompressed as a stream into a fixed scratch buffer: nothing is
//! allocated at a size the client chose, and the decompressed bytes are capped
//! (`max_decompressed`), so a small batch cannot make the broker inflate gigabytes. The batch
//! bytes are only read; what is stored is still exactly what was received.
//!
//! Record layout (varints are zig-zag):
//! ```text
//! length varint | attributes i8 | timestamp_delta varlong | offset_delta varint |
//! key_length varint (-1 = null) | key | value_length varint (-1 = null) | value |
//! header_count varint | (header_key_length varint | key | header_value_length varint | value)*
//! ```
use std::io::{self, Read};

use super::batch::{BatchHeader, HEADER_LEN};

/// What a batch is checked against (from the partition's config).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// cleanup.policy contains compact: every record needs a key.
    pub need_key: bool,
    /// CreateTime topics: the accepted timestamp range, inclusive. `None` for LogAppendTime.
    pub timestamps: Option<(i64, i64)>,
    /// Ceiling on the decompressed size of one batch's records.
    pub max_decompressed: u64,
}

/// Why a batch was refused. Each maps to the error code Kafka answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The bytes cannot be read as records (a compressed payload that does not decompress, a
    /// record that runs past the end of its batch): INVALID_RECORD, as Kafka answers a record it
    /// cannot read. (CORRUPT_MESSAGE, which clients retry, stays for a wrong CRC: retrying a
    /// batch whose CRC is right but whose records are unreadable cannot help.)
    #[error("{0}")]
    Malformed(String),
    /// The records contradict the header or break a rule: INVALID_RECORD. `index` is the record's
    /// position in the batch when one record is to blame.
    #[error("{msg}")]
    Record { index: Option<u32>, msg: String },
    /// Records that are well formed but break a topic's rule (a keyless record on a compacted
    /// topic, a timestamp out of range): every one is named, as Kafka collects them all, and the
    /// batch is refused whole. INVALID_TIMESTAMP when any timestamp is to blame, else
    /// INVALID_RECORD; the message is Kafka's.
    #[error("{}", rejected_message(.errors, *.timestamps))]
    Rejected { errors: Vec<RecordError>, timestamps: bool },
}

/// One refused record: its position in the batch (Kafka's `batch_index`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub index: u32,
    pub message: String,
}

/// Kafka's partition-level message for refused records (`LogValidator.processRecordErrors`).
fn rejected_message(errors: &[RecordError], timestamps: bool) -> String {
    if timestamps {
        return "One or more records have been rejected due to invalid timestamp".to_string();
    }
    let shown: Vec<String> = errors
        .iter()
        .take(3)
        .map(|e| format!("RecordError(batchIndex={}, message='{}')", e.index, e.message))
        .collect();
    format!(
        "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
        errors.len(),
        shown.join(", ")
    )
}

fn record(index: Option<u32>, msg: impl Into<String>) -> Invalid {
    Invalid::Record { index, msg: msg.into() }
}

/// What validation learned about a batch (for statistics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub records: u32,
    pub decompressed_bytes: u64,
}

/// Checks the header fields that need no records: count vs offset range.
pub fn check_header(h: &BatchHeader) -> Result<(), Invalid> {
    if h.records_count <= 0 {
        return Err(record(None, format!("Invalid reported count for record batch: {}", h.records_count)));
    }
    if h.records_count as i64 != h.last_offset_delta as i64 + 1 {
        return Err(record(
            None,
            format!(
                "Inconsistent batch offset range (last offset delta {}) and record count {}",
                h.last_offset_delta, h.records_count
            ),
        ));
    }
    Ok(())
}

/// Validates every record of one batch (`batch` is exactly the batch, CRC already checked).
pub fn validate(batch: &[u8], h: &BatchHeader, rules: &Rules) -> Result<Summary, Invalid> {
    check_header(h)?;
    let payload = &batch[HEADER_LEN..h.total_len()];
    let cap = rules.max_decompressed;
    match h.compression() {
        0 => walk(&mut SliceSrc { b: payload, at: 0 }, h, rules),
        1 => walk(&mut StreamSrc::new(flate2::read::MultiGzDecoder::new(payload), cap), h, rules),
        2 => walk(&mut StreamSrc::new(SnappyReader::new(payload, cap), cap), h, rules),
        3 => {
            let d = lz4::Decoder::new(payload)
                .map_err(|e| Invalid::Malformed(format!("lz4 payload cannot be decompressed: {e}")))?;
            walk(&mut StreamSrc::new(d, cap), h, rules)
        }
        4 => {
            let mut d = zstd::stream::read::Decoder::with_buffer(payload)
                .map_err(|e| Invalid::Malformed(format!("zstd payload cannot be decompressed: {e}")))?;
            // A frame may ask for a window of up to 2 GiB; producers use far less. This bounds
            // the decoder's own memory.
            d.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|e| Invalid::Malformed(format!("zstd: {e}")))?;
            walk(&mut StreamSrc::new(d, cap), h, rules)
        }
        c => Err(Invalid::Malformed(format!("unknown compression codec {c}"))),
    }
}

/// 2^24 = 16 MiB: what any producer's zstd level needs for a batch, and the most one decoder holds.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// A source of decompressed record bytes.
trait Src {
    /// The next byte, `None` at the end of the records.
    fn byte(&mut self) -> Result<Option<u8>, Invalid>;
    /// Skips `n` bytes; fewer available is an error.
    fn skip(&mut self, n: u64) -> Result<(), Invalid>;
    /// Bytes consumed so far.
    fn consumed(&self) -> u64;
}

struct SliceSrc<'a> {
    b: &'a [u8],
    at: usize,
}

impl Src for SliceSrc<'_> {
    fn byte(&mut self) -> Result<Option<u8>, Invalid> {
        let r = self.b.get(self.at).copied();
        if r.is_some() {
            self.at += 1;
        }
        Ok(r)
    }
    fn skip(&mut self, n: u64) -> Result<(), Invalid> {
        if n > (self.b.len() - self.at) as u64 {
            return Err(Invalid::Malformed("a record runs past the end of its batch".into()));
        }
        self.at += n as usize;
        Ok(())
    }
    fn consumed(&self) -> u64 {
        self.at as u64
    }
}

/// Scratch buffer of the streaming source: the only memory validation takes per batch.
const SCRATCH: usize = 16 * 1024;

struct StreamSrc<R: Read> {
    r: R,
    buf: Box<[u8; SCRATCH]>,
    pos: usize,
    len: usize,
    consumed: u64,
    cap: u64,
    eof: bool,
}

impl<R: Read> StreamSrc<R> {
    fn new(r: R, cap: u64) -> Self {
        StreamSrc { r, buf: Box::new([0; SCRATCH]), pos: 0, len: 0, consumed: 0, cap, eof: false }
    }
    fn fill(&mut self) -> Result<bool, Invalid> {
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.r.read(&mut self.buf[..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Invalid::Malformed(format!("compressed payload cannot be decompressed: {e}")))
                }
            }
        }
    }
    fn account(&mut self, n: u64) -> Result<(), Invalid> {
        self.consumed += n;
        if self.consumed > self.cap {
            return Err(record(
                None,
                format!("records decompress to more than {} bytes, the limit for one batch", self.cap),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Src for StreamSrc<R> {
    fn byte(&mut self) -> Result<Option<u8>, Invalid> {
        if self.pos == self.len && !self.fill()? {
            return Ok(None);
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        self.account(1)?;
        Ok(Some(b))
    }
    fn skip(&mut self, mut n: u64) -> Result<(), Invalid> {
        while n > 0 {
            if self.pos == self.len && !self.fill()? {
                return Err(Invalid::Malformed("a record runs past the end of its batch".into()));
            }
            let take = ((self.len - self.pos) as u64).min(n);
            self.pos += take as usize;
            n -= take;
            self.account(take)?;
        }
        Ok(())
    }
    fn consumed(&self) -> u64 {
        self.consumed
    }
}

fn varint<S: Src>(s: &mut S) -> Result<Option<i64>, Invalid> {
    let mut shift = 0;
    let mut v: u64 = 0;
    loop {
        let Some(byte) = s.byte()? else {
            return if shift == 0 {
                Ok(None)
            } else {
                Err(Invalid::Malformed("a varint runs past the end of the records".into()))
            };
        };
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err(Invalid::Malformed("a varint is longer than 10 bytes".into()));
        }
    }
    Ok(Some(((v >> 1) as i64) ^ -((v & 1) as i64)))
}

fn field<S: Src>(s: &mut S, i: u32) -> Result<i64, Invalid> {
    varint(s)?.ok_or_else(|| Invalid::Malformed(format!("record {i} ends in the middle of a field")))
}

fn walk<S: Src>(s: &mut S, h: &BatchHeader, rules: &Rules) -> Result<Summary, Invalid> {
    let count = h.records_count as u32;
    let mut i: u32 = 0;
    // Rule breaks are collected (nothing is allocated unless a record breaks one); a record
    // that cannot be read stops the walk at once.
    let mut rejected: Vec<RecordError> = Vec::new();
    let mut bad_timestamp = false;
    while let Some(len) = varint(s)? {
        if i >= count {
            return Err(record(
                None,
                format!("the batch holds more records than its header's count {count}"),
            ));
        }
        if len <= 0 {
            return Err(record(Some(i), format!("invalid record size {len}")));
        }
        let body_start = s.consumed();
        if s.byte()?.is_none() {
            return Err(Invalid::Malformed(format!("record {i} ends in the middle of a field")));
        }
        let ts_delta = field(s, i)?;
        let offset_delta = field(s, i)?;
        if offset_delta != i as i64 {
            return Err(record(Some(i), format!("record {i} has offset delta {offset_delta}; the offsets in a batch must be consecutive from 0")));
        }
        let ts = h.base_timestamp.saturating_add(ts_delta);
        // -1 is "no timestamp", which Kafka lets through.
        let ts_window = rules.timestamps.filter(|(min, max)| ts != -1 && (ts < *min || ts > *max));
        let key_len = field(s, i)?;
        if key_len < -1 {
            return Err(record(Some(i), format!("record {i} has key length {key_len}")));
        }
        // One error per record, the first check that fails in Kafka's order (the key, then
        // the timestamp).
        if key_len < 0 && rules.need_key {
            rejected.push(RecordError {
                index: i,
                message: "Compacted topic cannot accept message without key.".to_string(),
            });
        } else if let Some((min, max)) = ts_window {
            bad_timestamp = true;
            rejected.push(RecordError {
                index: i,
                message: format!(
                    "Timestamp {ts} of message with offset {i} is out of range. The timestamp should be within [{min}, {max}]"
                ),
            });
        }
        s.skip(key_len.max(0) as u64)?;
        let value_len = field(s, i)?;
        if value_len < -1 {
            return Err(record(Some(i), format!("record {i} has value length {value_len}")));
        }
        s.skip(value_len.max(0) as u64)?;
        let headers = field(s, i)?;
        if headers < 0 {
            return Err(record(Some(i), format!("record {i} has a negative header count {headers}")));
        }
        for _ in 0..headers {
            let hk = field(s, i)?;
            if hk < 0 {
                return Err(record(Some(i), format!("record {i} has a header with key length {hk}")));
            }
            s.skip(hk as u64)?;
            let hv = field(s, i)?;
            if hv < -1 {
                return Err(record(Some(i), format!("record {i} has a header with value length {hv}")));
            }
            s.skip(hv.max(0) as u64)?;
            if s.consumed() - body_start > len as u64 {
                break; // already past the record's end: reported just below
            }
        }
        let read = s.consumed() - body_start;
        if read != len as u64 {
            return Err(record(
                Some(i),
                format!("invalid record size: expected {len} bytes in record {i}, read {read}"),
            ));
        }
        i += 1;
    }
    if i != count {
        return Err(record(None, format!("the batch holds {i} records, its header says {count}")));
    }
    if !rejected.is_empty() {
        return Err(Invalid::Rejected { errors: rejected, timestamps: bad_timestamp });
    }
    Ok(Summary { records: i, decompressed_bytes: s.consumed() })
}

/// Kafka's snappy framing (xerial: a 16-byte magic header, then length-prefixed raw snappy
/// blocks) or, without the magic, one raw snappy block, as librdkafka accepts. Each block's
/// declared length is checked against the ceiling before anything is allocated for it.
struct SnappyReader<'a> {
    input: &'a [u8],
    framed: bool,
    out: Vec<u8>,
    pos: usize,
    cap: u64,
    produced: u64,
}

const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";

impl<'a> SnappyReader<'a> {
    fn new(input: &'a [u8], cap: u64) -> Self {
        let framed = input.starts_with(XERIAL_MAGIC);
        let input = if framed { input.get(16..).unwrap_or(&[]) } else { input };
        SnappyReader { input, framed, out: Vec::new(), pos: 0, cap, produced: 0 }
    }
    fn next_block(&mut self) -> io::Result<bool> {
        if self.input.is_empty() {
            return Ok(false);
        }
        let block = if self.framed {
            if self.input.len() < 4 {
                return Err(io::Error::other("truncated snappy block length"));
            }
            let n = u32::from_be_bytes([self.input[0], self.input[1], self.input[2], self.input[3]]) as usize;
            let rest = &self.input[4..];
            if n > rest.len() {
                return Err(io::Error::other("snappy block runs past the end of the payload"));
            }
            let (b, r) = rest.split_at(n);
            self.input = r;
            b
        } else {
            std::mem::take(&mut self.input)
        };
        let n = snap::raw::decompress_len(block).map_err(io::Error::other)?;
        if self.produced + n as u64 > self.cap {
            return Err(io::Error::other(format!(
                "snappy block decompresses past the {} byte limit",
                self.cap
            )));
        }
        self.out.resize(n, 0);
        let got = snap::raw::Decoder::new().decompress(block, &mut self.out).map_err(io::Error::other)?;
        self.out.truncate(got);
        self.produced += got as u64;
        self.pos = 0;
        Ok(true)
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = (self.out.len() - self.pos).min(dst.len());
        dst[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use super::*;
    use crate::record::batch::compute_crc;

    const OPEN: Rules = Rules { need_key: false, timestamps: None, max_decompressed: 64 << 20 };

    fn encode(n: usize, value: usize, key: bool, compression: Compression) -> Vec<u8> {
        let recs: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: 1_000 + i as i64,
                key: key.then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![b'v'; value])),
                headers: [(
                    kafka_protocol::protocol::StrBytes::from_static_str("h"),
                    Some(Bytes::from_static(b"x")),
                )]
                .into_iter()
                .collect(),
                delete_horizon: false,
            })
            .collect();
        let mut b = BytesMut::new();
        RecordBatchEncoder::encode(&mut b, &recs, &RecordEncodeOptions { version: 2, compression }).unwrap();
        b.to_vec()
    }

    fn check(b: &[u8], rules: &Rules) -> Result<Summary, Invalid> {
        let h = BatchHeader::parse(b).unwrap();
        validate(b, &h, rules)
    }

    fn fix_crc(b: &mut [u8]) {
        let crc = compute_crc(b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn well_formed_batches_pass_with_every_codec() {
        for c in
            [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
        {
            let b = encode(14, 100, true, c);
            let s = check(&b, &OPEN).unwrap_or_else(|e| panic!("{c:?}: {e}"));
            assert_eq!(s.records, 14, "{c:?}");
        }
    }

    #[test]
    fn undecompressable_payload_is_corrupt() {
        for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let mut b = encode(14, 100, true, c);
            // Scribble over the compressed payload (past any codec header), CRC recomputed.
            let mid = HEADER_LEN + (b.len() - HEADER_LEN) / 2;
            for x in &mut b[mid..mid + 8] {
                *x ^= 0x5a;
            }
            fix_crc(&mut b);
            let e = check(&b, &OPEN).unwrap_err();
            assert!(matches!(e, Invalid::Malformed(_) | Invalid::Record { .. }), "{c:?}: {e:?}");
        }
    }

    #[test]
    fn lying_offset_delta_is_refused() {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut b = encode(14, 10, true, c);
            b[23..27].copy_from_slice(&1_000_000_000i32.to_be_bytes());
            fix_crc(&mut b);
            assert!(matches!(check(&b, &OPEN), Err(Invalid::Record { index: None, .. })), "{c:?}");
        }
    }

    #[test]
    fn header_count_must_match_the_records() {
        // Header claims 2 records (and a matching offset delta), the batch holds 1.
        let mut b = encode(1, 10, true, Compression::None);
        b[23..27].copy_from_slice(&1i32.to_be_bytes());
        b[57..61].copy_from_slice(&2i32.to_be_bytes());
        fix_crc(&mut b);
        let e = check(&b, &OPEN).unwrap_err();
        assert!(e.to_string().contains("holds 1 records"), "{e}");
        // And the other way: more records than the header says.
        let mut b = encode(3, 10, true, Compression::Lz4);
        b[23..27].copy_from_slice(&1i32.to_be_bytes());
        b[57..61].copy_from_slice(&2i32.to_be_bytes());
        fix_crc(&mut b);
        assert!(check(&b, &OPEN).unwrap_err().to_string().contains("more records"));
    }

    #[test]
    fn keys_timestamps_and_sizes() {
        let b = encode(3, 10, false, Compression::Snappy);
        let compact = Rules { need_key: true, ..OPEN };
        match check(&b, &compact) {
            Err(Invalid::Rejected { errors, timestamps: false }) => {
                assert_eq!(
                    errors.iter().map(|e| e.index).collect::<Vec<_>>(),
                    [0, 1, 2],
                    "every keyless record"
                );
            }
            other => panic!("{other:?}"),
        }
        let b = encode(3, 10, true, Compression::None);
        let window = Rules { timestamps: Some((1_000, 1_001)), ..OPEN };
        match check(&b, &window) {
            Err(e @ Invalid::Rejected { .. }) => {
                assert_eq!(e.to_string(), "One or more records have been rejected due to invalid timestamp");
                let Invalid::Rejected { errors, timestamps } = e else { unreachable!() };
                assert!(timestamps);
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].index, 2);
                assert!(
                    errors[0].message.starts_with("Timestamp 1002 of message with offset 2 is out of range"),
                    "{}",
                    errors[0].message
                );
            }
            other => panic!("{other:?}"),
        }
        // 1000 records of 10 KiB of one byte: zstd makes it tiny, the ceiling stops it inflating.
        let b = encode(1_000, 10 * 1024, true, Compression::Zstd);
        assert!(b.len() < 200 * 1024, "{}", b.len());
        let small = Rules { max_decompressed: 1 << 20, ..OPEN };
        assert!(check(&b, &small).unwrap_err().to_string().contains("limit for one batch"));
        assert_eq!(check(&b, &OPEN).unwrap().records, 1_000);
    }

    #[test]
    fn record_fields_must_fill_the_record_exactly() {
        let mut b = encode(2, 10, true, Compression::None);
        // The first record's length varint: grow it by one (zig-zag +2), so the record claims a
        // byte that belongs to the next one.
        b[HEADER_LEN] += 2;
        fix_crc(&mut b);
        assert!(check(&b, &OPEN).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let good = encode(5, 20, true, Compression::Gzip);
        let mut rng = 0x9e3779b97f4a7c15u64;
        for _ in 0..5_000 {
            let mut b = good.clone();
            for _ in 0..4 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let at = HEADER_LEN + (rng as usize % (b.len() - HEADER_LEN));
                b[at] = (rng >> 32) as u8;
            }
            let h = BatchHeader::parse(&b).unwrap();
            let _ = validate(&b, &h, &OPEN);
        }
    }
}
