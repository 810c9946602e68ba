//! Time in milliseconds since the epoch, the unit of every Kafka timestamp.
//!
//! [`Clock`] is the broker's one source of *domain* time: group session and rebalance deadlines,
//! the initial rebalance delay, KIP-848 member expiry, transaction timeouts, offsets retention,
//! log retention and roll checks, LogAppendTime timestamps and the cleaner's lag checks all read
//! it. The broker owns one (`LogManager::clock`) and everything reaches it from there; nothing
//! holds a global. A manual clock (`--clock=manual`) moves only when told to
//! (`POST /v1/clock/advance`), so a test can jump past a 45 s session timeout at once.
//!
//! What stays on wall time ([`now_ms`] and tokio's timers), on purpose: waits a client blocks on
//! (fetch `max_wait_ms`, request and idle timeouts, memory-pool waits), the time-based flush
//! (`flush.ms`, a durability policy), and security (certificate validity, token lifetimes,
//! re-authentication deadlines), so a stopped virtual clock never hangs a client or keeps an
//! expired credential alive.
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The broker's domain clock: wall time, or a manual clock that starts at the wall time of its
/// creation and moves only by [`Clock::advance`]. Cloning shares the same time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

/// How `--clock` chose the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClockMode {
    #[default]
    System,
    Manual,
}

impl std::str::FromStr for ClockMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "system" | "wall" => Ok(ClockMode::System),
            "manual" => Ok(ClockMode::Manual),
            other => Err(format!("unknown clock {other:?}: expected system or manual")),
        }
    }
}

impl Clock {
    pub fn system() -> Clock {
        Clock { manual: None }
    }
    /// A manual clock reading the wall time now until it is advanced.
    pub fn manual() -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(now_ms()))) }
    }
    pub fn new(mode: ClockMode) -> Clock {
        match mode {
            ClockMode::System => Clock::system(),
            ClockMode::Manual => Clock::manual(),
        }
    }
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            None => now_ms(),
            Some(t) => t.load(Ordering::Acquire),
        }
    }
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
    /// Moves a manual clock forward by `ms` (never back) and returns the new time; `None` on the
    /// system clock, which nobody moves.
    pub fn advance(&self, ms: i64) -> Option<i64> {
        let t = self.manual.as_ref()?;
        let ms = ms.max(0);
        // Saturating, never wrapping: a time past i64::MAX would read as the distant past.
        let before = t.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| Some(v.saturating_add(ms)));
        Some(before.unwrap_or_else(|v| v).saturating_add(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_time_moves_only_when_advanced_and_is_shared_by_clones() {
        let c = Clock::manual();
        let t0 = c.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now_ms(), t0);
        let other = c.clone();
        assert_eq!(c.advance(45_000), Some(t0 + 45_000));
        assert_eq!(other.now_ms(), t0 + 45_000);
        assert_eq!(c.advance(-10), Some(t0 + 45_000), "a clock never goes back");
        assert_eq!(c.advance(i64::MAX), Some(i64::MAX), "saturates");
        assert_eq!(c.now_ms(), i64::MAX);
        assert_eq!(Clock::system().advance(1), None);
        assert!("manual".parse::<ClockMode>().is_ok() && "lunar".parse::<ClockMode>().is_err());
    }
}
