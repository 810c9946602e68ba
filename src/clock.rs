//! Wall-clock time in milliseconds, the unit of every Kafka timestamp.
//!
//! Only async shells and the log's append path read it; state machines take `now_ms` as input.
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
