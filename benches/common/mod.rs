//! What the benches share: the Kafka request frame and response decoding of the raw-protocol
//! clients (groups.rs over tokio, rtt.rs over blocking sockets), and percentiles.
#![allow(dead_code)] // each bench uses part of it
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// A size-prefixed request frame: header (client id `bench`) and body.
pub fn request_frame<Q: Encodable>(api: ApiKey, v: i16, correlation_id: i32, req: &Q) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(v)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("bench")))
        .encode(&mut b, api.request_header_version(v))
        .unwrap();
    req.encode(&mut b, v).unwrap();
    let n = (b.len() - 4) as i32;
    b[..4].copy_from_slice(&n.to_be_bytes());
    b
}

/// Decodes a response frame (without its size prefix) answering `correlation_id`.
pub fn decode_response<R: Decodable>(frame: Vec<u8>, api: ApiKey, v: i16, correlation_id: i32) -> R {
    let mut f = Bytes::from(frame);
    let h = ResponseHeader::decode(&mut f, api.response_header_version(v)).unwrap();
    assert_eq!(h.correlation_id, correlation_id);
    R::decode(&mut f, v).unwrap()
}

/// The `p` quantile of `v` (µs), in ms; NaN when empty. Sorts `v`.
pub fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}
