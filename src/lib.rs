//! Odradek: a Kafka-compatible event broker. See ARCHITECTURE.md for the map.
//!
//! Calls go down, never up: `main -> control -> broker -> cluster -> server -> handler -> state -> {coordinator, cleaner,
//! security} -> log -> record`, with `protocol` beside `server`/`handler` and the leaves `config`,
//! `clock`, `faults`, `memory`, `metrics`, `alloc` usable from anywhere (checked by `tests/layers.rs`).
pub mod alloc;
pub mod broker;
pub mod cleaner;
pub mod clock;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod config;
pub mod control;
pub mod coordinator;
pub mod faults;
pub mod fuzz;
pub mod handler;
pub mod log;
pub mod memory;
pub mod metrics;
pub mod observe;
pub mod protocol;
pub mod record;
pub mod security;
pub mod server;
pub mod state;

pub use broker::{Broker, BrokerBuilder, StartError};
pub use config::BrokerConfig;

/// See `alloc.rs`: keeps a lying array length in a request from aborting the process.
#[global_allocator]
static GLOBAL: alloc::GuardedAllocator = alloc::GuardedAllocator;
