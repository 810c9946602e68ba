//! The broker's counters: what the hot paths bump, as relaxed atomics in fixed arrays (no lock,
//! no map, no allocation on a request). A leaf: anything may count here. What a scrape shows is
//! built from these and from the broker's state (offsets, groups, transactions) only when asked,
//! by `observe::metrics`, which encodes it with the prometheus-client crate.
//!
//! Per-topic and per-partition counts live on the partition handle (`log::Partition`), and
//! per-listener connection counts on the listener, beside what they count.
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// API keys counted (Kafka's go up to ~90; a higher key is not served and not counted).
pub const APIS: usize = 96;
/// Versions counted per API (a higher version is counted as the highest).
pub const VERSIONS: usize = 24;
/// Error code slots: -1 (UNKNOWN_SERVER_ERROR) at 0, then 0, 1, ... (the last one holds anything above).
pub const ERROR_SLOTS: usize = 160;

/// Upper bounds of the latency buckets, in seconds (Kafka's request times span 0.1 ms to seconds).
pub const LATENCY_BOUNDS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the group-commit batch size buckets (sync requests covered by one fsync).
pub const BATCH_BOUNDS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// A histogram of fixed buckets, all atomics: `observe` is a short scan and three adds.
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative), one more than `bounds` for +Inf.
    counts: Box<[AtomicU64]>,
    /// The sum, in millionths of the unit (microseconds for latencies).
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        let i = self.bounds.iter().position(|b| v <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((v * 1e6) as u64, Relaxed);
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// (sum, count, per-bucket counts with their upper bounds, +Inf last). Not cumulative:
    /// prometheus-client's encoder adds them up as it writes the `le` series.
    pub fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            let n = c.load(Relaxed);
            total += n;
            buckets.push((self.bounds.get(i).copied().unwrap_or(f64::INFINITY), n));
        }
        (self.sum_micros.load(Relaxed) as f64 / 1e6, total, buckets)
    }
}

/// The broker's counters. One per broker process lineage: the control plane keeps it across a
/// broker's restart (crash, reset), as a process keeps its counters.
pub struct Metrics {
    enabled: AtomicBool,
    requests: Box<[AtomicU64]>,
    errors: Box<[AtomicU64]>,
    latency: Box<[Histogram]>,
    /// fsync latency of partition logs (the group commit's and the seal thread's).
    pub fsync: Histogram,
    /// Sync requests (acks=all appends waiting) covered by one fsync.
    pub flush_batch: Histogram,
    /// Fetches parked until data arrives or max_wait_ms passes.
    pub fetch_waiters: AtomicI64,
    pub cleaner_bytes_cleaned: AtomicU64,
    pub cleaner_passes: AtomicU64,
    pub rebalances_classic: AtomicU64,
    pub rebalances_consumer: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(true)
    }
}

impl Metrics {
    /// `enabled: false` counts nothing on the request paths (what `--no-metrics` measures against).
    pub fn new(enabled: bool) -> Metrics {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Box<[AtomicU64]>>();
        Metrics {
            enabled: AtomicBool::new(enabled),
            requests: zeros(APIS * VERSIONS),
            errors: zeros(APIS * ERROR_SLOTS),
            latency: (0..APIS).map(|_| Histogram::new(&LATENCY_BOUNDS)).collect(),
            fsync: Histogram::new(&LATENCY_BOUNDS),
            flush_batch: Histogram::new(&BATCH_BOUNDS),
            fetch_waiters: AtomicI64::new(0),
            cleaner_bytes_cleaned: AtomicU64::new(0),
            cleaner_passes: AtomicU64::new(0),
            rebalances_classic: AtomicU64::new(0),
            rebalances_consumer: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// A request of `api` at `version` was read.
    #[inline]
    pub fn request(&self, api: i16, version: i16) {
        if !self.enabled() || api < 0 || api as usize >= APIS {
            return;
        }
        let v = (version.max(0) as usize).min(VERSIONS - 1);
        self.requests[api as usize * VERSIONS + v].fetch_add(1, Relaxed);
    }

    /// One error code (NONE included, as Kafka's ErrorsPerSec counts it) in an answer of `api`.
    #[inline]
    pub fn error(&self, api: i16, code: i16) {
        if !self.enabled() || api < 0 || api as usize >= APIS {
            return;
        }
        let slot = ((code as i32 + 1).max(0) as usize).min(ERROR_SLOTS - 1);
        self.errors[api as usize * ERROR_SLOTS + slot].fetch_add(1, Relaxed);
    }

    /// A request of `api` took `d` from being read to its answer being written.
    #[inline]
    pub fn answered(&self, api: i16, d: Duration) {
        if !self.enabled() || api < 0 || api as usize >= APIS {
            return;
        }
        self.latency[api as usize].observe_duration(d);
    }

    /// Non-zero request counts: (api, version, count).
    pub fn requests(&self) -> Vec<(i16, i16, u64)> {
        let mut out = Vec::new();
        for (i, c) in self.requests.iter().enumerate() {
            let n = c.load(Relaxed);
            if n > 0 {
                out.push(((i / VERSIONS) as i16, (i % VERSIONS) as i16, n));
            }
        }
        out
    }

    /// Non-zero error counts: (api, error code, count).
    pub fn errors(&self) -> Vec<(i16, i16, u64)> {
        let mut out = Vec::new();
        for (i, c) in self.errors.iter().enumerate() {
            let n = c.load(Relaxed);
            if n > 0 {
                out.push(((i / ERROR_SLOTS) as i16, (i % ERROR_SLOTS) as i16 - 1, n));
            }
        }
        out
    }

    /// The latency histogram of an API (None for a key out of range).
    pub fn latency(&self, api: i16) -> Option<&Histogram> {
        self.latency.get(usize::try_from(api).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_count_each_value_once_and_sum_is_kept() {
        let h = Histogram::new(&LATENCY_BOUNDS);
        h.observe(0.0002);
        h.observe(0.003);
        h.observe(20.0);
        let (sum, count, b) = h.snapshot();
        assert_eq!(count, 3);
        assert!((sum - 20.0032).abs() < 1e-6, "{sum}");
        assert_eq!(b[0], (0.0001, 0));
        assert_eq!(b[1], (0.00025, 1));
        assert_eq!(b.iter().find(|(le, _)| *le == 0.005).unwrap().1, 1);
        assert_eq!(*b.last().unwrap(), (f64::INFINITY, 1));
        assert_eq!(b.iter().map(|(_, n)| n).sum::<u64>(), 3);
    }

    #[test]
    fn requests_and_errors_are_counted_by_slot() {
        let m = Metrics::new(true);
        m.request(0, 11);
        m.request(0, 11);
        m.request(1, 99);
        m.error(0, -1);
        m.error(0, 3);
        m.error(0, 3);
        m.error(200, 3);
        assert_eq!(m.requests(), vec![(0, 11, 2), (1, (VERSIONS - 1) as i16, 1)]);
        assert_eq!(m.errors(), vec![(0, -1, 1), (0, 3, 2)]);
        let off = Metrics::new(false);
        off.request(0, 1);
        assert!(off.requests().is_empty());
    }
}
