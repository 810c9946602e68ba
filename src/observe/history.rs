//! The last minutes of throughput and consumer lag, sampled every [`INTERVAL_MS`] for the
//! console's charts. Memory is bounded: [`KEEP`] samples, and the lag of at most [`MAX_GROUPS`]
//! groups.
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::state::BrokerState;

pub const INTERVAL_MS: u64 = 2000;
/// Ten minutes of samples.
pub const KEEP: usize = 300;
pub const MAX_GROUPS: usize = 1000;

#[derive(Clone, Copy, Default)]
struct Totals {
    bytes_in: u64,
    bytes_out: u64,
    messages_in: u64,
    messages_out: u64,
    requests: u64,
}

#[derive(Default)]
struct Inner {
    last: Option<(i64, Totals)>,
    /// (t_ms, per-second rates).
    rates: VecDeque<(i64, [f64; 5])>,
    lag: BTreeMap<String, VecDeque<(i64, i64)>>,
}

#[derive(Default)]
pub struct History {
    inner: Mutex<Inner>,
}

fn totals(st: &BrokerState) -> Totals {
    let mut t = Totals::default();
    for topic in st.logs.topics() {
        for p in topic.partitions.read().iter() {
            t.bytes_in += p.traffic.bytes_in.load(Relaxed);
            t.bytes_out += p.traffic.bytes_out.load(Relaxed);
            t.messages_in += p.traffic.messages_in.load(Relaxed);
            t.messages_out += p.traffic.messages_out.load(Relaxed);
        }
    }
    t.requests = st.metrics.requests().iter().map(|(_, _, n)| n).sum();
    t
}

impl History {
    /// Takes one sample (wall time).
    pub fn sample(&self, st: &BrokerState) {
        let now = crate::clock::now_ms();
        let t = totals(st);
        let mut lag: BTreeMap<String, i64> = BTreeMap::new();
        for l in super::metrics::lags(st, None, false) {
            if lag.len() >= MAX_GROUPS && !lag.contains_key(&l.group) {
                continue;
            }
            *lag.entry(l.group).or_insert(0) += l.lag;
        }
        let mut g = self.inner.lock();
        if let Some((at, before)) = g.last {
            let secs = ((now - at).max(1)) as f64 / 1000.0;
            // A counter that went down (a restarted broker's partitions) counts from zero.
            let rate = |a: u64, b: u64| a.checked_sub(b).unwrap_or(a) as f64 / secs;
            let r = [
                rate(t.bytes_in, before.bytes_in),
                rate(t.bytes_out, before.bytes_out),
                rate(t.messages_in, before.messages_in),
                rate(t.messages_out, before.messages_out),
                rate(t.requests, before.requests),
            ];
            g.rates.push_back((now, r));
            while g.rates.len() > KEEP {
                g.rates.pop_front();
            }
        }
        g.last = Some((now, t));
        for (group, v) in lag {
            let q = g.lag.entry(group).or_default();
            q.push_back((now, v));
            while q.len() > KEEP {
                q.pop_front();
            }
        }
        // Groups gone (deleted) stop being kept once their samples are old.
        g.lag.retain(|_, q| q.back().is_some_and(|(t, _)| now - t < (KEEP as i64) * INTERVAL_MS as i64));
    }

    pub fn throughput(&self) -> Value {
        let g = self.inner.lock();
        let samples: Vec<Value> = g
            .rates
            .iter()
            .map(|(t, r)| {
                json!({"t_ms": t, "bytes_in": r[0], "bytes_out": r[1], "messages_in": r[2],
                    "messages_out": r[3], "requests": r[4]})
            })
            .collect();
        json!({"interval_ms": INTERVAL_MS, "samples": samples})
    }

    pub fn lag_of(&self, group: &str) -> Vec<(i64, i64)> {
        self.inner.lock().lag.get(group).map(|q| q.iter().copied().collect()).unwrap_or_default()
    }
}
