//! `BrokerState`: everything a request handler may reach, owned by the broker and shared by the
//! server, the handlers and the background tasks. It sits below `server` and `handler` and above
//! the domain (`coordinator`, `cleaner`, `security`, `log`), so every call goes down through it
//! (as mini-redis keeps its `db.rs`); it only holds and names things, it does no work.
use std::sync::Arc;

use crate::config::BrokerConfig;
use crate::coordinator::group::GroupCoordinator;
use crate::coordinator::producer_id::ProducerIdManager;
use crate::coordinator::txn::TxnCoordinator;
use crate::log::LogManager;

/// Everything a request handler may reach.
pub struct BrokerState {
    pub logs: Arc<LogManager>,
    pub config: Arc<BrokerConfig>,
    pub producer_ids: Arc<ProducerIdManager>,
    pub groups: Arc<GroupCoordinator>,
    pub txns: Arc<TxnCoordinator>,
    /// Bytes of requests in flight and answers not yet written (queued.max.request.bytes).
    pub memory: crate::memory::MemoryPool,
    /// Connection bounds (max.connections, per IP, idle and read timeouts).
    pub net: crate::config::NetLimits,
    /// The bound listeners, in the order configured (`listeners`).
    pub listeners: Vec<Arc<crate::security::Listener>>,
    /// SCRAM credentials (salted and hashed), durable in the data dir.
    pub scram: crate::security::scram::CredentialStore,
    /// ACLs, when `authorizer.class.name` switches them on.
    pub acl: Option<crate::security::acl::Authorizer>,
    /// Fault rules a test set through the control API (none in normal operation).
    pub faults: Arc<crate::faults::Faults>,
    /// The broker's counters (`crate::metrics`; the same as `logs.metrics()`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The other brokers of a cluster (feature `cluster`; empty on one node).
    pub peers: Peers,
}

/// What a cluster's metadata store says about the brokers: who is alive, where, and the
/// cluster's id. Filled by `crate::cluster`; on one node it stays empty and this broker is all.
#[derive(Default)]
pub struct Peers {
    pub live: parking_lot::RwLock<Vec<Peer>>,
    pub cluster_id: parking_lot::RwLock<Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

impl BrokerState {
    /// The domain clock (`crate::clock`): wall time, or manual under `--clock=manual`.
    pub fn clock(&self) -> &crate::clock::Clock {
        self.logs.clock()
    }
    pub fn node_id(&self) -> i32 {
        self.logs.node_id
    }
    pub fn cluster_id(&self) -> String {
        self.peers.cluster_id.read().clone().unwrap_or_else(|| self.logs.cluster_id.clone())
    }
    /// The first listener's advertised address (each connection answers with its own listener's).
    pub fn advertised(&self) -> (String, i32) {
        self.listeners[0].advertised.clone()
    }
}
