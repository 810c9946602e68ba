//! Wall-clock time in milliseconds, the unit of every Kafka timestamp.
//!
//! Read by async shells (coordinator services, background tasks, a few handlers and the security
//! checks); the log and the state machines take `now_ms` as input.
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
