//! Walking the individual records inside a v2 batch, for compaction; building control batches
//! (markers) and empty batches; reading a marker's type. Works on raw (decompressed) record bytes and
//! hands out each record's exact byte range, so kept records are copied, never re-encoded.
//!
//! Record layout (varints are zig-zag, as Kafka's):
//! ```text
//! length varint | attributes i8 | timestamp_delta varlong | offset_delta varint |
//! key_length varint (-1 = null) | key | value_length varint (-1 = null) | value |
//! header_count varint | headers...
//! ```
use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor};

use super::batch::{compute_crc, BatchHeader, HEADER_LEN};

/// What compaction needs to know about one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    pub is_tombstone: bool,
    /// The record's bytes, length prefix included.
    pub raw: &'a [u8],
}

fn varint(b: &[u8], at: &mut usize) -> Option<i64> {
    let mut shift = 0;
    let mut v: u64 = 0;
    loop {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Parses every record of a raw (uncompressed) records section. `None` if malformed.
pub fn parse_records(raw: &[u8]) -> Option<Vec<RecordView<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let start = at;
        let len = varint(raw, &mut at)?;
        if len < 0 {
            return None;
        }
        let end = at.checked_add(len as usize)?;
        let body = raw.get(at..end)?;
        let mut p = 1; // attributes
        let timestamp_delta = varint(body, &mut p)?;
        let offset_delta = i32::try_from(varint(body, &mut p)?).ok()?;
        let klen = varint(body, &mut p)?;
        let key = if klen < 0 {
            None
        } else {
            let k = body.get(p..p.checked_add(klen as usize)?)?;
            p += klen as usize;
            Some(k)
        };
        let vlen = varint(body, &mut p)?;
        out.push(RecordView {
            offset_delta,
            timestamp_delta,
            key,
            is_tombstone: vlen < 0,
            raw: &raw[start..end],
        });
        at = end;
    }
    Some(out)
}

/// One record whole, for people reading a log (the console's message browser); not for hot paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullRecord<'a> {
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a [u8], Option<&'a [u8]>)>,
}

fn bytes_field<'a>(b: &'a [u8], p: &mut usize) -> Option<Option<&'a [u8]>> {
    let len = varint(b, p)?;
    if len < 0 {
        return Some(None);
    }
    let v = b.get(*p..p.checked_add(len as usize)?)?;
    *p += len as usize;
    Some(Some(v))
}

/// Parses every record of a raw (uncompressed) records section with its value and headers.
/// `None` if malformed.
pub fn parse_full(raw: &[u8]) -> Option<Vec<FullRecord<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let len = varint(raw, &mut at)?;
        if len < 0 {
            return None;
        }
        let end = at.checked_add(len as usize)?;
        let body = raw.get(at..end)?;
        let mut p = 1; // attributes
        let timestamp_delta = varint(body, &mut p)?;
        let offset_delta = i32::try_from(varint(body, &mut p)?).ok()?;
        let key = bytes_field(body, &mut p)?;
        let value = bytes_field(body, &mut p)?;
        let count = varint(body, &mut p)?;
        let mut headers = Vec::new();
        for _ in 0..count.max(0) {
            let k = bytes_field(body, &mut p)?.unwrap_or_default();
            let v = bytes_field(body, &mut p)?;
            headers.push((k, v));
        }
        out.push(FullRecord { offset_delta, timestamp_delta, key, value, headers });
        at = end;
    }
    Some(out)
}

fn codec_err(e: anyhow::Error) -> String {
    e.to_string()
}

/// The raw records section of a batch, decompressed if needed.
pub fn decompressed_records(batch: &[u8], h: &BatchHeader) -> Result<Bytes, String> {
    let mut payload = Bytes::copy_from_slice(&batch[HEADER_LEN..h.total_len()]);
    let f = |b: &mut Bytes| -> anyhow::Result<Bytes> { Ok(b.split_to(b.len())) };
    match h.compression() {
        0 => Ok(payload),
        1 => kafka_protocol::compression::Gzip::decompress(&mut payload, f).map_err(codec_err),
        2 => kafka_protocol::compression::Snappy::decompress(&mut payload, f).map_err(codec_err),
        3 => kafka_protocol::compression::Lz4::decompress(&mut payload, f).map_err(codec_err),
        4 => kafka_protocol::compression::Zstd::decompress(&mut payload, f).map_err(codec_err),
        c => Err(format!("unknown compression codec {c}")),
    }
}

/// The batch reduced to its header, as Kafka's cleaner keeps a producer's last batch when
/// compaction removes all its records (`writeEmptyHeader`): same base offset, last offset delta,
/// producer id, epoch and base sequence (so the producer's state can still be rebuilt from the
/// log), no records, no compression, no first timestamp, the max timestamp kept, CRC recomputed.
pub fn empty_batch(original: &[u8]) -> Vec<u8> {
    let mut b = original[..HEADER_LEN].to_vec();
    b[8..12].copy_from_slice(&((HEADER_LEN - 12) as i32).to_be_bytes());
    let attributes = i16::from_be_bytes([b[21], b[22]]) & !0x07;
    b[21..23].copy_from_slice(&attributes.to_be_bytes());
    b[27..35].copy_from_slice(&(-1i64).to_be_bytes());
    b[57..61].copy_from_slice(&0i32.to_be_bytes());
    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Rebuilds a batch keeping only `kept` records (raw slices of the same batch), with the original
/// header (base offset, last offset delta, timestamps, producer fields), the same codec, a new
/// count, length and CRC. Offsets of kept records are unchanged: gaps are fine.
pub fn rebuild_batch(original: &[u8], h: &BatchHeader, kept: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut raw = BytesMut::new();
    for r in kept {
        raw.extend_from_slice(r);
    }
    let payload: Vec<u8> = match h.compression() {
        0 => raw.to_vec(),
        c => {
            let mut out = BytesMut::new();
            let write = |b: &mut BytesMut| -> anyhow::Result<()> {
                b.extend_from_slice(&raw);
                Ok(())
            };
            match c {
                1 => kafka_protocol::compression::Gzip::compress(&mut out, write).map_err(codec_err)?,
                2 => kafka_protocol::compression::Snappy::compress(&mut out, write).map_err(codec_err)?,
                3 => kafka_protocol::compression::Lz4::compress(&mut out, write).map_err(codec_err)?,
                4 => kafka_protocol::compression::Zstd::compress(&mut out, write).map_err(codec_err)?,
                c => return Err(format!("unknown compression codec {c}")),
            }
            out.to_vec()
        }
    };
    let mut b = Vec::with_capacity(HEADER_LEN + payload.len());
    b.extend_from_slice(&original[..HEADER_LEN]);
    b.extend_from_slice(&payload);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[57..61].copy_from_slice(&(kept.len() as i32).to_be_bytes());
    let crc = compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(b)
}

/// For a control batch: `Some(true)` for a COMMIT marker, `Some(false)` for ABORT, `None` for
/// any other control record type or a malformed batch.
pub fn marker_is_commit(batch: &[u8], h: &BatchHeader) -> Option<bool> {
    let raw = decompressed_records(batch, h).ok()?;
    let recs = parse_records(&raw)?;
    let key = recs.first()?.key?;
    if key.len() < 4 {
        return None;
    }
    match i16::from_be_bytes([key[2], key[3]]) {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// A transaction marker: a control batch (transactional, control) holding one record whose key
/// is `version i16 = 0, type i16 (0 ABORT, 1 COMMIT)` and whose value is
/// `version i16 = 0, coordinator_epoch i32`.
pub fn control_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    now_ms: i64,
) -> Vec<u8> {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&(if commit { 1i16 } else { 0i16 }).to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let rec = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms,
        key: Some(Bytes::from(key)),
        value: Some(Bytes::from(value)),
        headers: Default::default(),
    };
    let mut b = BytesMut::new();
    // Encoding one in-memory record into a buffer cannot fail.
    let _ = RecordBatchEncoder::encode(
        &mut b,
        [&rec],
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    );
    b.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn batch(entries: &[(Option<&str>, Option<&str>)], compression: Compression) -> Vec<u8> {
        let recs: Vec<Record> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: 1000 + i as i64,
                key: k.map(|x| Bytes::from(x.to_string())),
                value: v.map(|x| Bytes::from(x.to_string())),
                headers: Default::default(),
            })
            .collect();
        let mut b = BytesMut::new();
        RecordBatchEncoder::encode(&mut b, &recs, &RecordEncodeOptions { version: 2, compression }).unwrap();
        b.to_vec()
    }

    #[test]
    fn parse_filter_rebuild_every_codec() {
        for c in
            [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
        {
            let b = batch(
                &[(Some("a"), Some("1")), (Some("b"), None), (None, Some("3")), (Some("a"), Some("4"))],
                c,
            );
            let h = BatchHeader::parse(&b).unwrap();
            let raw = decompressed_records(&b, &h).unwrap();
            let recs = parse_records(&raw).unwrap();
            assert_eq!(recs.len(), 4);
            assert_eq!(recs[1].key, Some(&b"b"[..]));
            assert!(recs[1].is_tombstone);
            assert_eq!(recs[2].key, None);
            assert_eq!(recs[3].offset_delta, 3);
            // Keep records 1 and 3.
            let kept = [recs[1].raw, recs[3].raw];
            let nb = rebuild_batch(&b, &h, &kept).unwrap();
            let nh = BatchHeader::parse(&nb).unwrap();
            assert!(crate::record::batch::check_crc(&nb, &nh).is_ok(), "{c:?}");
            assert_eq!(nh.records_count, 2);
            assert_eq!(nh.last_offset_delta, 3, "offsets preserved");
            let mut bytes = Bytes::from(nb);
            let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
            let offs: Vec<i64> = set.records.iter().map(|r| r.offset).collect();
            assert_eq!(offs, vec![1, 3], "{c:?}");
            assert_eq!(set.records[1].value.as_deref(), Some(&b"4"[..]));
        }
    }

    #[test]
    fn garbage_records_are_rejected() {
        assert!(parse_records(&[0x7f]).is_none());
        assert!(parse_records(&[0x04, 0, 0]).is_none());
    }
}
