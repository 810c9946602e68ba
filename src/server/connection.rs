//! One client connection: read size-prefixed frames (bounded by `socket.request.max.bytes`),
//! decode the header, hand the body to the handlers, write responses in request order.
//!
//! Requests on one connection are handled one at a time, in order, as Kafka does. One exception
//! keeps acks=all producers fast: a produce request's batches are appended in order, and only its
//! answer waits for the fsync, on the connection's writer task, while the reader goes on to the
//! next request (so pipelined produce requests share a group commit). The writer sends answers
//! strictly in request order. Errors that mean the
//! byte stream cannot be trusted (a size over the limit, an unknown API, an undecodable header or
//! body) close this connection only; every other connection keeps being served.
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::broker::BrokerState;
use crate::handler::{self, Reply};
use crate::protocol::{self, FrameError};

/// How much of a claimed frame size is allocated up front; the rest grows as bytes arrive, so a
/// lying length prefix cannot make us allocate memory the peer never sends.
const FRAME_PREALLOC_MAX: usize = 64 * 1024;

async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R, max: usize) -> std::io::Result<Option<Bytes>> {
    let size = match r.read_i32().await {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    if size < 0 || size as usize > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("request size {size} is outside 0..={max} (socket.request.max.bytes)"),
        ));
    }
    let size = size as usize;
    let mut buf = BytesMut::with_capacity(size.min(FRAME_PREALLOC_MAX));
    while buf.len() < size {
        let want = (size - buf.len()).min(FRAME_PREALLOC_MAX.max(buf.capacity() - buf.len()));
        buf.reserve(want);
        let n = (&mut *r).take(want as u64).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed mid-frame"));
        }
    }
    Ok(Some(buf.freeze()))
}

/// Answers waiting to be written, in request order. Bounded: when the client pipelines more than
/// this many requests, the reader waits for the writer.
const REPLIES_IN_FLIGHT_MAX: usize = 64;

async fn write_replies(mut wr: tokio::net::tcp::OwnedWriteHalf, mut rx: tokio::sync::mpsc::Receiver<Reply>, peer: SocketAddr) {
    while let Some(r) = rx.recv().await {
        let bytes = match r {
            Reply::None => continue,
            Reply::Now(b) => b,
            Reply::Later(f) => match f.await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection: cannot encode response");
                    return;
                }
            },
        };
        if let Err(e) = wr.write_all(&bytes).await {
            tracing::debug!(%peer, error = %e, "write failed; closing connection");
            return;
        }
    }
}

pub async fn serve(state: Arc<BrokerState>, stream: TcpStream, peer: SocketAddr, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, rx) = tokio::sync::mpsc::channel(REPLIES_IN_FLIGHT_MAX);
    let writer = tokio::spawn(write_replies(wr, rx, peer));
    serve_requests(&state, rd, peer, &mut shutdown, tx).await;
    // Let the writer flush answers already queued (the sender is dropped), then end.
    let _ = writer.await;
}

async fn serve_requests(
    state: &Arc<BrokerState>,
    rd: tokio::net::tcp::OwnedReadHalf,
    peer: SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
    tx: tokio::sync::mpsc::Sender<Reply>,
) {
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let max = state.config.socket_request_max_bytes();
    loop {
        let frame = tokio::select! {
            _ = shutdown.changed() => return,
            f = read_frame(&mut rd, max) => f,
        };
        let mut frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: bad frame");
                return;
            }
        };
        let reply = match protocol::decode_header(&mut frame) {
            Ok(header) => {
                // One line per request at trace level (`RUST_LOG=odradek::server=trace`): which
                // client uses which API at which version, as collected in compat-tests/*/FINDINGS.md.
                tracing::trace!(%peer, api = ?header.api_key, version = header.api_version, client = ?header.client_id, "request");
                match handler::handle(state, &header, frame, peer).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(%peer, api = ?header.api_key, version = header.api_version, client = ?header.client_id, error = %e, "closing connection");
                        return;
                    }
                }
            }
            Err(FrameError::UnsupportedVersion { api, version, correlation_id, .. })
                if api == kafka_protocol::messages::ApiKey::ApiVersions =>
            {
                // Kafka's rule: answer a too-new ApiVersions with a v0 response carrying
                // UNSUPPORTED_VERSION and our table, so the client can retry with a version we serve.
                tracing::debug!(%peer, version, "ApiVersions version not served; answering with v0");
                match protocol::encode_response(correlation_id, 0, 0, &handler::api_versions::unsupported_version_response()) {
                    Ok(b) => Reply::Now(b),
                    Err(_) => return,
                }
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                return;
            }
        };
        if tx.send(reply).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frame_limits() {
        let mut ok: &[u8] = &[0, 0, 0, 3, 1, 2, 3];
        assert_eq!(read_frame(&mut ok, 10).await.unwrap().unwrap().as_ref(), &[1, 2, 3]);
        let mut big: &[u8] = &[0, 0, 0, 11];
        assert!(read_frame(&mut big, 10).await.is_err());
        let mut neg: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut neg, 10).await.is_err());
        let mut lying: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(read_frame(&mut lying, 10).await.is_err());
        let mut empty: &[u8] = &[];
        assert!(read_frame(&mut empty, 10).await.unwrap().is_none());
    }
}
