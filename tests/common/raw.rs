//! A raw Kafka protocol client over TCP, for tests that must send exact bytes (bad frames,
//! hand-built batches, specific API versions).
#![allow(dead_code)]
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A byte stream: TCP, or TLS over it.
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

pub struct Raw {
    pub s: Box<dyn Stream>,
    cid: i32,
}

impl Raw {
    pub async fn connect(addr: &str) -> Raw {
        Raw { s: Box::new(TcpStream::connect(addr).await.unwrap()), cid: 0 }
    }

    /// Over an established stream (e.g. a TLS session).
    pub fn over(s: impl Stream + 'static) -> Raw {
        Raw { s: Box::new(s), cid: 0 }
    }

    pub async fn send_bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.s.write_all(b).await?;
        self.s.flush().await
    }

    /// Reads one response frame; None if the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let n = self.s.read_i32().await.ok()?;
        let mut buf = vec![0u8; n as usize];
        self.s.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    /// Sends a request without waiting for its answer.
    pub async fn send_request<Req: Encodable>(
        &mut self,
        api: ApiKey,
        v: i16,
        req: &Req,
    ) -> std::io::Result<()> {
        self.cid += 1;
        let mut b = BytesMut::new();
        b.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(v)
            .with_correlation_id(self.cid)
            .with_client_id(Some(StrBytes::from_static_str("raw-test")))
            .encode(&mut b, api.request_header_version(v))
            .unwrap();
        req.encode(&mut b, v).unwrap();
        let len = (b.len() - 4) as i32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        self.s.write_all(&b).await?;
        self.s.flush().await
    }

    pub async fn request<Req: Encodable, Resp: Decodable>(
        &mut self,
        api: ApiKey,
        v: i16,
        req: &Req,
    ) -> Option<Resp> {
        self.cid += 1;
        let mut b = BytesMut::new();
        b.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(v)
            .with_correlation_id(self.cid)
            .with_client_id(Some(StrBytes::from_static_str("raw-test")))
            .encode(&mut b, api.request_header_version(v))
            .unwrap();
        req.encode(&mut b, v).unwrap();
        let len = (b.len() - 4) as i32;
        b[..4].copy_from_slice(&len.to_be_bytes());
        self.s.write_all(&b).await.ok()?;
        self.s.flush().await.ok()?;
        let mut f = self.read_frame().await?;
        let h = ResponseHeader::decode(&mut f, api.response_header_version(v)).unwrap();
        assert_eq!(h.correlation_id, self.cid);
        let r = Resp::decode(&mut f, v).unwrap();
        assert_eq!(f.remaining(), 0, "whole response consumed");
        Some(r)
    }
}

/// Encodes a v2 batch of `values` with the given producer fields.
pub fn batch(values: &[&str], pid: i64, epoch: i16, seq: i32, ts: i64) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if seq < 0 { -1 } else { seq + i as i32 },
            timestamp: ts,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &records,
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .unwrap();
    b.freeze()
}
