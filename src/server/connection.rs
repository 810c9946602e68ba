//! One client connection: read size-prefixed frames (bounded by `socket.request.max.bytes`),
//! decode the header, hand the body to the handlers, write responses in request order.
//!
//! On a TLS listener the handshake comes first (within `socket.request.read.timeout.ms`; a
//! failure is logged, rate-limited, and closes only this connection) and gives the principal of
//! a client certificate. On a SASL listener the handlers gate every request on the connection's
//! SASL session; after a v0 handshake the next frames are raw tokens, answered here; a failed
//! login's answer and close wait `connection.failed.authentication.delay.ms`.
//!
//! Three tasks per connection. The reader reads frames, each only after leasing its size from
//! the broker's memory pool (so a spent budget stops reading sockets), at most one frame ahead of
//! the handling; it closes the connection when a frame stops arriving half way
//! (`socket.request.read.timeout.ms`) or nothing has happened for `connections.max.idle.ms`, and
//! when it ends the handlers learn it at once (a parked fetch stops waiting). The handling loop
//! runs requests one at a time, in order, as Kafka does. One exception keeps acks=all producers
//! fast: a produce request's batches are appended in order, and only its answer waits for the
//! fsync, on the writer task, while the next request is handled (so pipelined produce requests
//! share a group commit). An answer holding leased memory (a fetch's data) is written before the
//! next request is handled, so one connection holds at most one such answer. The writer sends
//! answers strictly in request order. Errors that mean the byte stream cannot be trusted (a size
//! over the limit, an unknown API, an undecodable header or body) close this connection only;
//! every other connection keeps being served.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use super::Admitted;
use crate::handler::{self, Reply, RequestCtx};
use crate::memory::{Lease, MemoryPool};
use crate::protocol;
use crate::security::principal::Principal;
use crate::security::Listener;
use crate::state::BrokerState;

/// How much of a claimed frame size is allocated up front; the rest grows as bytes arrive, so a
/// lying length prefix cannot make us allocate memory the peer never sends.
const FRAME_PREALLOC_MAX: usize = 64 * 1024;

/// Reads a frame's size prefix; `None` at a clean end of stream.
async fn read_size<R: AsyncReadExt + Unpin>(r: &mut R, max: usize) -> std::io::Result<Option<usize>> {
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
    Ok(Some(size as usize))
}

async fn read_body<R: AsyncReadExt + Unpin>(r: &mut R, size: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(size.min(FRAME_PREALLOC_MAX));
    while buf.len() < size {
        let want = (size - buf.len()).min(FRAME_PREALLOC_MAX.max(buf.capacity() - buf.len()));
        buf.reserve(want);
        let n = (&mut *r).take(want as u64).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed mid-frame",
            ));
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R, max: usize) -> std::io::Result<Option<Bytes>> {
    match read_size(r, max).await? {
        Some(n) => read_body(r, n).await.map(Some),
        None => Ok(None),
    }
}

/// Milliseconds since `epoch` of the connection's last activity (a frame read, an answer written).
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle_for(&self) -> Duration {
        Duration::from_millis(
            (self.epoch.elapsed().as_millis() as u64).saturating_sub(self.last_ms.load(Ordering::Relaxed)),
        )
    }
}

/// Answers waiting to be written, in request order. Bounded: when the client pipelines more than
/// this many requests, the handling loop waits for the writer.
const REPLIES_IN_FLIGHT_MAX: usize = 64;

/// One answer for the writer: the reply, the memory it holds, who wants to know it was written,
/// and the request's API key and arrival (its latency is recorded once the answer is written).
type Outgoing = (Reply, Option<Lease>, Option<oneshot::Sender<()>>, Option<(i16, Instant)>);

async fn write_replies<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Outgoing>,
    peer: SocketAddr,
    activity: Arc<Activity>,
    stall: Option<Duration>,
    metrics: Arc<crate::metrics::Metrics>,
) {
    while let Some((r, lease, written, timing)) = rx.recv().await {
        let bytes = match r {
            Reply::None => {
                if let Some((api, at)) = timing {
                    metrics.answered(api, at.elapsed());
                }
                continue;
            }
            Reply::Now(b) => b,
            Reply::Later(f) => match f.await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection: cannot encode response");
                    return;
                }
            },
        };
        // flush: a TLS stream may hold encrypted bytes back until asked (a no-op on TCP).
        let write = async {
            wr.write_all(&bytes).await?;
            wr.flush().await
        };
        let done = match stall {
            Some(d) => tokio::time::timeout(d, write).await.unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client has not read its answer for connections.max.idle.ms",
                ))
            }),
            None => write.await,
        };
        if let Err(e) = done {
            tracing::debug!(%peer, error = %e, "write failed; closing connection");
            return;
        }
        activity.touch();
        if let Some((api, at)) = timing {
            metrics.answered(api, at.elapsed());
        }
        drop(lease);
        if let Some(w) = written {
            let _ = w.send(());
        }
    }
}

pub async fn serve(
    state: Arc<BrokerState>,
    listener: Arc<Listener>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    place: Admitted,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = &listener.tls else {
        // Plain TCP splits without a lock (the hot path); a TLS stream through tokio's split.
        let (rd, wr) = stream.into_split();
        return serve_split(state, listener, rd, wr, peer, shutdown, place, Principal::anonymous()).await;
    };
    // The handshake must finish within the half-frame timeout: a client that sends nothing, or
    // plaintext Kafka bytes, or garbage, is closed and logged; nobody else notices.
    let acceptor = tls.acceptor();
    let stream = match tokio::time::timeout(state.net.read_timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            crate::security::log_failed_login(
                peer,
                &listener.spec.name,
                &format!("TLS handshake failed: {e}"),
            );
            return;
        }
        Err(_) => {
            crate::security::log_failed_login(
                peer,
                &listener.spec.name,
                "TLS handshake did not finish within socket.request.read.timeout.ms",
            );
            return;
        }
    };
    let principal = match stream.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        None => Principal::anonymous(),
        Some(cert) => match crate::security::principal::subject_dn(cert) {
            Some(dn) => match listener.mapping.apply(&dn) {
                Some(name) => Principal::user(name),
                None => {
                    crate::security::log_failed_login(
                        peer,
                        &listener.spec.name,
                        &format!("no ssl.principal.mapping.rules rule applies to {dn}"),
                    );
                    return;
                }
            },
            None => {
                crate::security::log_failed_login(
                    peer,
                    &listener.spec.name,
                    "the client certificate's subject cannot be read",
                );
                return;
            }
        },
    };
    let (rd, wr) = tokio::io::split(stream);
    serve_split(state, listener, rd, wr, peer, shutdown, place, principal).await
}

#[allow(clippy::too_many_arguments)]
async fn serve_split<R, W>(
    state: Arc<BrokerState>,
    listener: Arc<Listener>,
    rd: R,
    wr: W,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    place: Admitted,
    principal: Principal,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity { epoch: Instant::now(), last_ms: AtomicU64::new(0) });
    let (tx, rx) = mpsc::channel(REPLIES_IN_FLIGHT_MAX);
    let writer =
        tokio::spawn(write_replies(wr, rx, peer, activity.clone(), state.net.idle, state.metrics.clone()));
    // One frame read ahead of the handling, at most.
    let (frames_tx, frames_rx) = mpsc::channel(1);
    let (closed_tx, closed_rx) = watch::channel(false);
    let reader =
        tokio::spawn(read_frames(state.clone(), rd, peer, shutdown.clone(), frames_tx, closed_tx, activity));
    let ctx = RequestCtx {
        peer,
        listener,
        closed: closed_rx,
        lease: None,
        session: Default::default(),
        principal: Arc::new(principal),
        mute_for: None,
    };
    serve_requests(&state, ctx, frames_rx, shutdown.clone(), tx).await;
    reader.abort();
    // Let the writer flush answers already queued (the sender is dropped), then end; after a
    // stop only briefly (a delayed answer or a client that stopped reading must not hold a
    // stopped broker's connection open).
    let mut writer = writer;
    if *shutdown.borrow() {
        if tokio::time::timeout(Duration::from_secs(1), &mut writer).await.is_err() {
            writer.abort();
        }
    } else {
        let _ = writer.await;
    }
    drop(place);
}

/// Why the reader stopped, for the log.
enum Stop {
    Eof,
    Shutdown,
    Idle(Duration),
    Stalled(Duration),
    Bad(std::io::Error),
}

async fn read_frames<R: AsyncRead + Unpin>(
    state: Arc<BrokerState>,
    rd: R,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    frames: mpsc::Sender<(Bytes, Lease)>,
    closed: watch::Sender<bool>,
    activity: Arc<Activity>,
) {
    let stop = tokio::select! {
        _ = shutdown.changed() => Stop::Shutdown,
        s = read_loop(&state.memory, rd, &state, &frames, &activity) => s,
    };
    match stop {
        Stop::Eof | Stop::Shutdown => {}
        Stop::Idle(d) => {
            tracing::debug!(%peer, idle_ms = d.as_millis() as u64, "closing idle connection (connections.max.idle.ms)")
        }
        Stop::Stalled(d) => {
            tracing::warn!(%peer, timeout_ms = d.as_millis() as u64, "closing connection: a request frame stopped arriving half way (socket.request.read.timeout.ms)")
        }
        Stop::Bad(e) => tracing::warn!(%peer, error = %e, "closing connection: bad frame"),
    }
    let _ = closed.send(true);
}

async fn read_loop<R: AsyncRead + Unpin>(
    pool: &MemoryPool,
    rd: R,
    state: &BrokerState,
    frames: &mpsc::Sender<(Bytes, Lease)>,
    activity: &Activity,
) -> Stop {
    let mut rd = BufReader::with_capacity(16 * 1024, rd);
    let max = state.config.socket_request_max_bytes();
    let (idle, stall) = (state.net.idle, state.net.read_timeout);
    loop {
        // Wait for the next frame's first byte; idle is measured from the last read or write, so
        // a long answer being written or a long-poll keeps the connection alive.
        loop {
            let wait = idle.map(|d| d.saturating_sub(activity.idle_for()));
            let ready = match wait {
                Some(w) => match tokio::time::timeout(w, rd.fill_buf_ready()).await {
                    Ok(r) => r,
                    Err(_) if activity.idle_for() >= idle.unwrap_or_default() => {
                        return Stop::Idle(activity.idle_for())
                    }
                    Err(_) => continue,
                },
                None => rd.fill_buf_ready().await,
            };
            match ready {
                Ok(true) => break,
                Ok(false) => return Stop::Eof,
                // A TLS peer that closes without close_notify has simply gone, like a TCP EOF.
                Err(e)
                    if e.kind() == std::io::ErrorKind::UnexpectedEof
                        || e.kind() == std::io::ErrorKind::ConnectionReset =>
                {
                    return Stop::Eof
                }
                Err(e) => return Stop::Bad(e),
            }
        }
        let size = match tokio::time::timeout(stall, read_size(&mut rd, max)).await {
            Err(_) => return Stop::Stalled(stall),
            Ok(Ok(Some(n))) => n,
            Ok(Ok(None)) => return Stop::Eof,
            Ok(Err(e)) => return Stop::Bad(e),
        };
        // Waiting for memory is the broker's doing, not the client's: not timed.
        let lease = pool.lease(size).await;
        let body = match tokio::time::timeout(stall, read_body(&mut rd, size)).await {
            Err(_) => return Stop::Stalled(stall),
            Ok(Ok(b)) => b,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Stop::Eof,
            Ok(Err(e)) => return Stop::Bad(e),
        };
        activity.touch();
        if frames.send((body, lease)).await.is_err() {
            return Stop::Eof;
        }
    }
}

/// `fill_buf` that only says whether bytes are there (true) or the stream ended (false).
trait FillReady {
    async fn fill_buf_ready(&mut self) -> std::io::Result<bool>;
}

impl<R: tokio::io::AsyncRead + Unpin> FillReady for BufReader<R> {
    async fn fill_buf_ready(&mut self) -> std::io::Result<bool> {
        use tokio::io::AsyncBufReadExt;
        Ok(!self.fill_buf().await?.is_empty())
    }
}

async fn serve_requests(
    state: &Arc<BrokerState>,
    mut ctx: RequestCtx,
    mut frames: mpsc::Receiver<(Bytes, Lease)>,
    mut shutdown: watch::Receiver<bool>,
    tx: mpsc::Sender<Outgoing>,
) {
    let peer = ctx.peer;
    let mut previous_written: Option<oneshot::Receiver<()>> = None;
    loop {
        let next = tokio::select! {
            _ = shutdown.changed() => return,
            f = frames.recv() => f,
        };
        let Some((mut frame, frame_lease)) = next else { return };
        if let Some(w) = previous_written.take() {
            // The last answer held leased memory: it is written before more is taken.
            let written = tokio::select! {
                _ = shutdown.changed() => return,
                w = w => w,
            };
            if written.is_err() {
                return;
            }
        }
        if ctx.session.expects_raw_token() {
            // SASL after a v0 handshake: the frame is a bare token, and so is the answer.
            let answer = handler::sasl::raw_token(state, &mut ctx, &frame);
            drop(frame_lease);
            match (answer, ctx.session.close_after.take()) {
                (Some(b), None) => {
                    if tx.send((Reply::Now(b), None, None, None)).await.is_err() {
                        return;
                    }
                }
                (_, delay) => {
                    tokio::time::sleep(delay.unwrap_or_default()).await;
                    return;
                }
            }
            continue;
        }
        let arrived = Instant::now();
        let mut timing = None;
        let reply = match protocol::decode_header(&mut frame) {
            Ok(header) => {
                state.metrics.request(header.api_key as i16, header.api_version);
                timing = Some((header.api_key as i16, arrived));
                // One line per request at trace level (`RUST_LOG=odradek::server=trace`): which
                // client uses which API at which version, as collected in compat-tests/*/FINDINGS.md.
                tracing::trace!(%peer, api = ?header.api_key, version = header.api_version, client = ?header.client_id, "request");
                // A stop ends a request in flight too (a parked JoinGroup, a fetch waiting):
                // a broker stopped to be restarted in this process leaves no handler behind.
                let handled = tokio::select! {
                    r = handler::handle(state, &header, frame, &mut ctx) => r,
                    _ = shutdown.changed() => return,
                };
                match handled {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(%peer, api = ?header.api_key, version = header.api_version, client = ?header.client_id, error = %e, "closing connection");
                        return;
                    }
                }
            }
            Err(e) => match handler::answer_undecodable(&e) {
                Some(b) => Reply::Now(b),
                None => {
                    tracing::warn!(%peer, error = %e, "closing connection");
                    return;
                }
            },
        };
        // The request's own bytes are handled (a produce's batches are in the log).
        drop(frame_lease);
        if let Some(delay) = ctx.session.close_after.take() {
            // A failed login: the answer and the close both wait (connection.failed.authentication.delay.ms).
            tokio::time::sleep(delay).await;
            let _ = tx.send((reply, None, None, timing)).await;
            return;
        }
        let written = ctx.lease.as_ref().filter(|l| l.bytes() > 0).map(|_| {
            let (w, r) = oneshot::channel();
            previous_written = Some(r);
            w
        });
        let sent = tokio::select! {
            _ = shutdown.changed() => return,
            r = tx.send((reply, ctx.lease.take(), written, timing)) => r,
        };
        if sent.is_err() {
            return;
        }
        if let Some(d) = ctx.mute_for.take() {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(d) => {}
            }
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
