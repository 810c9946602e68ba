//! Pure bytes <-> typed messages. No I/O, no broker state.
//!
//! Owns: the request header (read with the header version each API's version demands), response
//! framing (size prefix + response header + body), the one table of APIs and versions we serve
//! ([`versions`]) and the one mapping from domain errors to Kafka error codes ([`error`]).
pub mod error;
pub mod versions;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

/// A request header, decoded.
#[derive(Debug, Clone)]
pub struct Header {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("request frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("{api:?} v{version} is not served (we serve v{min}..=v{max})")]
    UnsupportedVersion { api: ApiKey, version: i16, min: i16, max: i16, correlation_id: i32 },
    #[error("cannot decode the {0}: {1}")]
    Malformed(&'static str, String),
    /// The request is well formed but the connection must close (SASL: a request before
    /// authentication, an expired session).
    #[error("{0}")]
    Refused(String),
}

/// Reads the request header from the front of `frame`, leaving the body in `frame`.
pub fn decode_header(frame: &mut Bytes) -> Result<Header, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::TooShort(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api = ApiKey::try_from(raw_key).map_err(|_| FrameError::UnknownApi(raw_key))?;
    let Some((min, max)) = versions::served(api) else {
        return Err(FrameError::UnknownApi(raw_key));
    };
    if version < min || version > max {
        return Err(FrameError::UnsupportedVersion { api, version, min, max, correlation_id });
    }
    let hv = api.request_header_version(version);
    let h = RequestHeader::decode(frame, hv)
        .map_err(|e| FrameError::Malformed("request header", e.to_string()))?;
    Ok(Header {
        api_key: api,
        api_version: version,
        correlation_id,
        client_id: h.client_id.map(|s| s.to_string()),
    })
}

/// Decodes a request body. Bytes left after the last field are ignored, as Kafka's request
/// parser does: librdkafka 2.16 (the confluent-kafka 2.16.1 wheel) sends its all-topics
/// Metadata v13 request with the topic count as a 4-byte INT32 instead of a compact varint,
/// which reads as "all topics" followed by 3 stray bytes; Kafka answers it, so we do too.
pub fn decode_body<T: Decodable>(body: &mut Bytes, version: i16) -> Result<T, FrameError> {
    let msg = T::decode(body, version).map_err(|e| FrameError::Malformed("request body", e.to_string()))?;
    if body.has_remaining() {
        tracing::debug!(trailing = body.remaining(), "ignoring bytes after the request body");
    }
    Ok(msg)
}

/// Encodes a size-prefixed response frame.
pub fn encode_response<T: Encodable>(
    correlation_id: i32,
    header_version: i16,
    version: i16,
    body: &T,
) -> Result<Bytes, FrameError> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let enc = |e: anyhow::Error| FrameError::Malformed("response", e.to_string());
    let hsize = header.compute_size(header_version).map_err(enc)?;
    let bsize = body.compute_size(version).map_err(enc)?;
    let mut buf = BytesMut::with_capacity(4 + hsize + bsize);
    buf.put_i32((hsize + bsize) as i32);
    header.encode(&mut buf, header_version).map_err(enc)?;
    body.encode(&mut buf, version).map_err(enc)?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{MetadataRequest, RequestHeader};

    fn frame(key: i16, version: i16, header_version: i16) -> Bytes {
        let mut b = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(key)
            .with_request_api_version(version)
            .with_correlation_id(42)
            .with_client_id(Some("t".into()))
            .encode(&mut b, header_version)
            .unwrap();
        MetadataRequest::default().encode(&mut b, version).unwrap();
        b.freeze()
    }

    #[test]
    fn header_roundtrip() {
        let mut f = frame(3, 12, 2);
        let h = decode_header(&mut f).unwrap();
        assert_eq!(h.correlation_id, 42);
        assert_eq!(h.client_id.as_deref(), Some("t"));
        let _m: MetadataRequest = decode_body(&mut f, 12).unwrap();
    }

    #[test]
    fn trailing_bytes_after_a_body_are_ignored_as_kafka_does() {
        // librdkafka 2.16's all-topics Metadata v13 request body, as captured on the wire
        let mut body = Bytes::from_static(&[0, 0, 0, 0, 1, 0, 0]);
        let m: MetadataRequest = decode_body(&mut body, 13).unwrap();
        assert!(m.topics.is_none(), "all topics");
        assert!(!m.allow_auto_topic_creation);
        // a body that is short of its fields is still refused
        let mut short = Bytes::from_static(&[2, 0, 0]);
        assert!(decode_body::<MetadataRequest>(&mut short, 13).is_err());
    }

    #[test]
    fn unknown_and_unsupported() {
        let mut f = Bytes::from_static(&[0x03, 0xe7, 0, 0, 0, 0, 0, 42, 0xff, 0xff]);
        assert!(matches!(decode_header(&mut f), Err(FrameError::UnknownApi(999))));
        let mut f = Bytes::from_static(&[0, 3, 0, 99, 0, 0, 0, 42, 0xff, 0xff]);
        assert!(matches!(
            decode_header(&mut f),
            Err(FrameError::UnsupportedVersion { correlation_id: 42, .. })
        ));
        let mut short = Bytes::from_static(&[0, 3, 0]);
        assert!(matches!(decode_header(&mut short), Err(FrameError::TooShort(3))));
    }

    #[test]
    fn garbage_bodies_do_not_panic() {
        let (mut decoded, mut refused) = (0, 0);
        for (key, v) in versions::SERVED {
            for version in v.0..=v.1 {
                for len in [0usize, 1, 3, 7, 40] {
                    let mut b = BytesMut::new();
                    let hv = key.request_header_version(version);
                    RequestHeader::default()
                        .with_request_api_key(*key as i16)
                        .with_request_api_version(version)
                        .encode(&mut b, hv)
                        .unwrap();
                    b.extend((0..len).map(|i| (i * 91 + 7) as u8));
                    let mut f = b.freeze();
                    decode_header(&mut f).expect("a valid header");
                    match crate::handler::decode_any(*key, version, &mut f) {
                        Ok(()) => decoded += 1,
                        Err(_) => refused += 1,
                    }
                }
            }
        }
        // Both outcomes happen: the bodies reached the decoders (not only the header check).
        assert!(decoded > 0 && refused > 100, "decoded {decoded}, refused {refused}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]
        /// Random bodies for every served API and version: decoding fails cleanly, never panics
        /// or aborts (lying array lengths included, see alloc.rs).
        #[test]
        fn random_bodies_never_panic(pick in 0usize..1000, version_pick in 0i16..100, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let (key, (min, max)) = versions::SERVED[pick % versions::SERVED.len()];
            let version = min + version_pick % (max - min + 1);
            let mut b = BytesMut::new();
            RequestHeader::default()
                .with_request_api_key(key as i16)
                .with_request_api_version(version)
                .encode(&mut b, key.request_header_version(version))
                .unwrap();
            b.extend_from_slice(&body);
            let mut f = b.freeze();
            // The header is valid, so the body always reaches its decoder.
            proptest::prop_assert!(decode_header(&mut f).is_ok());
            let _ = crate::handler::decode_any(key, version, &mut f);
        }

        /// Random whole frames (header included) never panic the header decoder.
        #[test]
        fn random_frames_never_panic(frame in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut f = Bytes::from(frame);
            let _ = decode_header(&mut f);
        }
    }
}
