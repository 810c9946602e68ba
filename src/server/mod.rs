//! Sockets and frames. Knows a frame's length, the request header and the correlation id; never an
//! API's meaning (it hands the frame to `handler::handle`).
//!
//! One accept loop per listener (`security::Listener`: its protocol, TLS and SASL settings);
//! connection slots and per-IP counts are shared by all of them.
//!
//! Bounds (see README "Limits"): `max.connections` (past it the accept loop waits for a slot),
//! `max.connections.per.ip` and its overrides (past it a new connection is closed at once),
//! `socket.listen.backlog.size`; per connection see connection.rs.
pub mod connection;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};

use crate::state::BrokerState;

/// Binds `addr` with the given listen backlog.
pub async fn listen(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let sock = if a.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        sock.set_reuseaddr(true)?;
        match sock.bind(a).and_then(|_| sock.listen(backlog)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, format!("{addr} resolves to no address"))
    }))
}

/// Raises the soft limit on open files to the hard limit, as most servers do: partitions and
/// connections each hold descriptors. Returns the limit in force.
pub fn raise_file_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let raised = libc::rlimit { rlim_cur: r.rlim_max, rlim_max: r.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
        r.rlim_cur
    }
}

/// Live connections per IP address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// Holds a connection's place (its `max.connections` slot and its per-IP count) until dropped.
pub struct Admitted {
    _slot: tokio::sync::OwnedSemaphorePermit,
    /// The listener's own `max.connections` place, when it has one.
    _listener_slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ip: IpAddr,
    per_ip: Arc<PerIp>,
}

/// Connections closed since the allocator last gave freed memory back (see [`trim_after_closes`]).
static CLOSED_SINCE_TRIM: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Called periodically: once many connections have closed, asks the allocator to return the
/// memory they freed. glibc keeps freed per-connection buffers in its arenas otherwise (7,000
/// closed connections kept 130 MiB resident here; after a trim, 6 MiB).
pub fn trim_after_closes() {
    if CLOSED_SINCE_TRIM.load(std::sync::atomic::Ordering::Relaxed) < 64 {
        return;
    }
    CLOSED_SINCE_TRIM.store(0, std::sync::atomic::Ordering::Relaxed);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's arenas to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        CLOSED_SINCE_TRIM.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut m = self.per_ip.0.lock();
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Counts a connection as open on its listener until the connection's task ends (or is dropped).
struct OpenConnection(Arc<crate::security::Listener>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Logs a repeated condition at most once per interval, with how often it happened meanwhile.
struct RateLimitedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    const EVERY: Duration = Duration::from_secs(10);
    fn hit(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < Self::EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Connection places shared by every listener: `max.connections` slots and per-IP counts.
pub struct Admission {
    slots: Arc<Semaphore>,
    per_ip: Arc<PerIp>,
    max: usize,
}

impl Admission {
    pub fn new(net: &crate::config::NetLimits) -> Admission {
        let max = net.max_connections.min(Semaphore::MAX_PERMITS);
        Admission { slots: Arc::new(Semaphore::new(max)), per_ip: Arc::new(PerIp::default()), max }
    }

    /// Connections open now (each holds a slot until its task ends).
    pub fn open_connections(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }

    /// Waits (up to `limit`) until every connection task has ended: after a stop, so a broker
    /// restarted on the same data dir in this process never shares it with old handlers.
    pub async fn drained(&self, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        while self.open_connections() > 0 {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

/// Accepts connections on one listener until `shutdown` flips, one task per connection.
pub async fn accept_loop(
    listener: TcpListener,
    info: Arc<crate::security::Listener>,
    admission: Arc<Admission>,
    state: Arc<BrokerState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (slots, per_ip) = (admission.slots.clone(), admission.per_ip.clone());
    // listener.name.<name>.max.connections: this listener's own bound, within the broker's.
    let own_key = format!("{}max.connections", info.spec.prefix());
    let own: Option<Arc<Semaphore>> = state
        .config
        .set
        .get(&own_key)
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS))));
    let mut accept_errors = RateLimitedLog { last: None, suppressed: 0 };
    let mut refused = RateLimitedLog { last: None, suppressed: 0 };
    loop {
        // At max.connections, stop accepting (new connections wait in the backlog) until one closes.
        let own_slot = match &own {
            None => None,
            Some(sem) => tokio::select! {
                _ = shutdown.changed() => break,
                s = sem.clone().acquire_owned() => match s { Ok(s) => Some(s), Err(_) => break },
            },
        };
        let slot = tokio::select! {
            _ = shutdown.changed() => break,
            s = slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => break },
        };
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let ip = peer.ip();
                let limit = state.net.per_ip_limit(ip);
                let admitted = {
                    let mut m = per_ip.0.lock();
                    let n = m.entry(ip).or_insert(0);
                    if *n >= limit {
                        false
                    } else {
                        *n += 1;
                        true
                    }
                };
                if !admitted {
                    if let Some(more) = refused.hit() {
                        tracing::warn!(%peer, limit, also_refused_since_last_log = more, "closing new connection: max.connections.per.ip reached for this address");
                    }
                    drop(stream);
                    continue;
                }
                let place = Admitted { _slot: slot, _listener_slot: own_slot, ip, per_ip: per_ip.clone() };
                let (st, sd, l) = (state.clone(), shutdown.clone(), info.clone());
                info.accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                info.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let open = OpenConnection(l.clone());
                tokio::spawn(async move {
                    connection::serve(st, l, stream, peer, sd, place).await;
                    drop(open);
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning, and say so once per interval.
                if let Some(more) = accept_errors.hit() {
                    tracing::warn!(error = %e, also_failed_since_last_log = more, "accept failed; retrying in 100 ms");
                }
                drop(slot);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
