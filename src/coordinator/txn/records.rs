//! `__transaction_state` records in Kafka's schemas (version 0, non-flexible):
//! ```text
//! key:   version i16 = 0, transactional_id string
//! value: version i16 = 0, producer_id i64, producer_epoch i16, transaction_timeout_ms i32,
//!        transaction_status i8, partitions [i32 count] x { topic string, partitions [i32] },
//!        last_update_timestamp_ms i64, start_timestamp_ms i64
//! ```
use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

use super::state::{TxnMeta, TxnState};

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

pub fn encode(m: &TxnMeta) -> (Bytes, Bytes) {
    let mut k = BytesMut::new();
    k.put_i16(0);
    put_str(&mut k, &m.transactional_id);
    let mut v = BytesMut::new();
    v.put_i16(0);
    v.put_i64(m.producer_id);
    v.put_i16(m.producer_epoch);
    v.put_i32(m.timeout_ms);
    v.put_i8(m.state as i8);
    let mut by_topic: std::collections::BTreeMap<&str, Vec<i32>> = std::collections::BTreeMap::new();
    for (t, p) in &m.partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    v.put_i32(by_topic.len() as i32);
    for (t, ps) in by_topic {
        put_str(&mut v, t);
        v.put_i32(ps.len() as i32);
        for p in ps {
            v.put_i32(p);
        }
    }
    v.put_i64(m.last_update_ms);
    v.put_i64(m.start_ms);
    (k.freeze(), v.freeze())
}

struct Cur<'a>(&'a [u8], usize);
impl Cur<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.0.get(self.1..self.1.checked_add(n)?)?;
        self.1 += n;
        Some(s)
    }
    fn i8(&mut self) -> Option<i8> {
        Some(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.i16()?;
        if n < 0 {
            return Some(String::new());
        }
        String::from_utf8(self.take(n as usize)?.to_vec()).ok()
    }
}

/// Decodes a record; `None` for other versions or damage (skipped), `Some(Err(id))` for a
/// tombstone of `id`.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<Result<TxnMeta, String>> {
    let mut k = Cur(key, 0);
    if k.i16()? != 0 {
        return None;
    }
    let id = k.str()?;
    let Some(value) = value else { return Some(Err(id)) };
    let mut v = Cur(value, 0);
    if v.i16()? != 0 {
        return None;
    }
    let producer_id = v.i64()?;
    let producer_epoch = v.i16()?;
    let timeout_ms = v.i32()?;
    let state = TxnState::from_code(v.i8()?)?;
    let mut partitions = BTreeSet::new();
    for _ in 0..v.i32()?.max(0) {
        let t = v.str()?;
        for _ in 0..v.i32()?.max(0) {
            partitions.insert((t.clone(), v.i32()?));
        }
    }
    let last_update_ms = v.i64()?;
    let start_ms = v.i64()?;
    Some(Ok(TxnMeta {
        transactional_id: id,
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        start_ms,
        last_update_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let m = TxnMeta {
            transactional_id: "orders-tx".into(),
            producer_id: 42,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: [("a".to_string(), 0), ("a".to_string(), 2), ("b".to_string(), 1)]
                .into_iter()
                .collect(),
            start_ms: 10,
            last_update_ms: 11,
        };
        let (k, v) = encode(&m);
        assert_eq!(decode(&k, Some(&v)), Some(Ok(m)));
        assert_eq!(decode(&k, None), Some(Err("orders-tx".into())));
        assert_eq!(decode(&[0, 1], None), None);
    }
}
