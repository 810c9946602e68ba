//! Progress of long start-up work (opening many partition logs, replaying an internal topic):
//! a line every few seconds with counts, the rate and an estimate of what is left, so a slow
//! start says what it is doing instead of staying silent.
use std::time::{Duration, Instant};

/// How often a line is written while work goes on.
const EVERY: Duration = Duration::from_secs(2);

pub struct Progress {
    what: &'static str,
    unit: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    pub fn new(what: &'static str, unit: &'static str, total: u64) -> Progress {
        let now = Instant::now();
        Progress { what, unit, total, done: 0, started: now, last: now }
    }

    /// `n` more units done; logs when the last line is older than [`EVERY`].
    pub fn step(&mut self, n: u64) {
        self.done += n;
        if self.last.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64();
        let rate = self.done as f64 / secs.max(1e-3);
        let left = self.total.saturating_sub(self.done);
        let eta = if rate > 0.0 { left as f64 / rate } else { f64::INFINITY };
        tracing::info!(
            done = self.done,
            total = self.total,
            unit = self.unit,
            elapsed_s = format!("{secs:.1}"),
            remaining_s = format!("{eta:.0}"),
            "{}: {} of {} {}, about {:.0} s left",
            self.what,
            self.done,
            self.total,
            self.unit,
            eta
        );
    }

    /// Logs the total when the work took long enough to have logged progress.
    pub fn finish(self) {
        let secs = self.started.elapsed().as_secs_f64();
        if self.started.elapsed() >= EVERY {
            tracing::info!(
                done = self.done,
                unit = self.unit,
                elapsed_s = format!("{secs:.1}"),
                "{}: done",
                self.what
            );
        }
    }
}
