//! The broker: owns the [`BrokerState`] (storage, coordinators, listeners, security) and the
//! tasks that serve it (accept loops, the coordinators' timer, the cleaner, periodic work); start
//! and stop order live here.
//!
//! Start: bind every listener -> open the data dir (recovery if the last run crashed) -> open the
//! coordinators (replaying their topics) -> finish half-ended transactions -> serve. Stop: stop
//! accepting and close connections -> fsync every log, write indexes, snapshots, checkpoints ->
//! write the clean-shutdown marker. Dropping a running [`Broker`] performs the same stop, but
//! aborts the tasks instead of waiting for them.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{BrokerConfig, ConfigError};
use crate::coordinator::group::GroupCoordinator;
use crate::coordinator::producer_id::ProducerIdManager;
use crate::coordinator::txn::TxnCoordinator;
use crate::log::{LogManager, LogOptions, TopicError};
use crate::state::BrokerState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot open the data directory: {0}")]
    Storage(#[from] TopicError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a broker is given from outside besides its config: the clock it runs on and the fault
/// rules a test may set. They outlive a restart of the broker (the control API keeps them).
#[derive(Clone, Default)]
pub struct Controls {
    pub clock: crate::clock::Clock,
    pub faults: Arc<crate::faults::Faults>,
    /// The broker's counters: they go on counting across a restart by the control plane.
    pub metrics: Arc<crate::metrics::Metrics>,
}

pub struct Broker {
    state: Arc<BrokerState>,
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    admission: Arc<crate::server::Admission>,
    stopped: bool,
    _temp: Option<tempfile::TempDir>,
}

/// Builds a broker for embedding (tests, examples): `Broker::builder().start().await`.
#[derive(Default)]
pub struct BrokerBuilder {
    config: BrokerConfig,
    temp: bool,
}

impl BrokerBuilder {
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = dir.into();
        self.temp = false;
        self
    }
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.config.listen = addr.into();
        self
    }
    /// The development profile of `--dev` (replication factors clamped to 1).
    pub fn dev(mut self, on: bool) -> Self {
        self.config.dev = on;
        self
    }
    /// Sets a broker config key (Kafka's name), validated at start.
    /// The address Metadata tells clients to connect to (`advertised.listeners`).
    pub fn advertise(mut self, addr: impl Into<String>) -> Self {
        self.config.advertised_listener = Some(addr.into());
        self
    }
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.config.set.insert(key.to_string(), value.to_string());
        self
    }
    /// A SCRAM credential made at start, as `--add-scram 'SCRAM-SHA-512=[name=alice,password=secret]'`.
    pub fn add_scram(mut self, spec: &str) -> Self {
        self.config.add_scram.push(spec.to_string());
        self
    }
    pub async fn start(self) -> Result<Broker, StartError> {
        let mut config = BrokerConfig {
            listen: self.config.listen.clone(),
            data_dir: self.config.data_dir.clone(),
            dev: self.config.dev,
            advertised_listener: self.config.advertised_listener.clone(),
            add_scram: self.config.add_scram.clone(),
            ..Default::default()
        };
        for (k, v) in &self.config.set {
            config.set_key(k, v)?;
        }
        if config.listen.is_empty() {
            config.listen = "127.0.0.1:0".into();
        }
        let temp = if self.temp || config.data_dir.as_os_str().is_empty() {
            let t = tempfile::Builder::new().prefix("odradek-").tempdir()?;
            config.data_dir = t.path().to_path_buf();
            Some(t)
        } else {
            None
        };
        let mut b = Broker::start(config).await?;
        b._temp = temp;
        Ok(b)
    }
}

impl Broker {
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder { temp: true, ..Default::default() }
    }

    /// Opens storage, binds the listener and starts serving, on the wall clock.
    pub async fn start(config: BrokerConfig) -> Result<Broker, StartError> {
        Broker::start_with(config, Controls::default()).await
    }

    /// [`Broker::start`] with a given clock and fault rules.
    pub async fn start_with(mut config: BrokerConfig, controls: Controls) -> Result<Broker, StartError> {
        let net = config.net_limits()?;
        let specs = crate::security::listeners::resolve(&config)?;
        crate::security::check_supported(&config, &specs)?;
        crate::server::raise_file_limit();
        let mut bound = Vec::new();
        for spec in specs {
            let addr = spec.bind_addr();
            let l = crate::server::listen(&addr, net.backlog)
                .await
                .map_err(|source| StartError::Bind { addr: format!("{} ({})", addr, spec.name), source })?;
            let at = l.local_addr()?;
            bound.push((l, Arc::new(crate::security::Listener::build(spec, at, &config)?)));
        }
        let addr = bound[0].1.bound;
        config.listen = addr.to_string();
        let config = Arc::new(config);
        let c2 = config.clone();
        let options = LogOptions {
            clock: controls.clock.clone(),
            metrics: controls.metrics.clone(),
            ..Default::default()
        };
        let logs = tokio::task::spawn_blocking(move || LogManager::open(c2, options))
            .await
            .map_err(|e| StartError::Io(std::io::Error::other(e)))??;
        let logs = Arc::new(logs);
        let producer_ids = Arc::new(ProducerIdManager::open(logs.disk().clone(), logs.data_dir())?);
        let offsets_partitions = config.setting("offsets.topic.num.partitions");
        let groups = GroupCoordinator::open(
            &logs,
            crate::coordinator::group::state::GroupConfig::from_broker(&config),
            offsets_partitions,
        )
        .map_err(|e| StartError::Io(std::io::Error::other(e.to_string())))?;
        let groups = Arc::new(groups);
        let max_txn_timeout = config.setting("transaction.max.timeout.ms");
        let txn_partitions = config.setting("transaction.state.log.num.partitions");
        let txns = TxnCoordinator::open(&logs, &groups, &producer_ids, max_txn_timeout, txn_partitions)
            .map_err(|e| StartError::Io(std::io::Error::other(e.to_string())))?;
        let txns = Arc::new(txns);
        let memory = crate::memory::MemoryPool::new(net.queued_bytes);
        let scram = crate::security::scram::CredentialStore::open(logs.disk().clone(), logs.data_dir())
            .map_err(|e| StartError::Io(std::io::Error::other(e)))?;
        let acl = match config.set.get("authorizer.class.name").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(_) => Some(
                crate::security::acl::Authorizer::open(
                    logs.disk().clone(),
                    logs.data_dir(),
                    &config.get("super.users").unwrap_or_default(),
                    config
                        .get("allow.everyone.if.no.acl.found")
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
                )
                .map_err(|e| StartError::Io(std::io::Error::other(e)))?,
            ),
        };
        if !config.add_scram.is_empty() {
            let mut ups = Vec::new();
            for a in &config.add_scram {
                let (u, m, c) = crate::security::scram::parse_add_scram(a)
                    .map_err(|e| StartError::Io(std::io::Error::other(e)))?;
                ups.push((u, m, c));
            }
            scram
                .alter(ups, vec![])
                .map_err(|e| StartError::Io(std::io::Error::other(format!("--add-scram: {e:?}"))))?;
        }
        let listeners = bound.iter().map(|(_, l)| l.clone()).collect();
        let state = Arc::new(BrokerState {
            logs,
            config: config.clone(),
            producer_ids,
            groups,
            txns,
            memory,
            net,
            listeners,
            scram,
            acl,
            faults: controls.faults.clone(),
            metrics: controls.metrics.clone(),
            peers: Default::default(),
        });
        #[cfg(feature = "cluster")]
        let cluster = if config.clustered() {
            Some(crate::cluster::Node::join(state.clone()).await.map_err(StartError::Io)?)
        } else {
            None
        };
        // Transactions a crash left half-ended get their markers before anyone is served.
        state.txns.recover().await;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let admission = Arc::new(crate::server::Admission::new(&state.net));
        let mut tasks = Vec::new();
        for (sock, l) in bound {
            tasks.push(tokio::spawn(crate::server::accept_loop(
                sock,
                l,
                admission.clone(),
                state.clone(),
                shutdown_rx.clone(),
            )));
        }
        let timers = tokio::spawn(group_timer(state.clone(), shutdown_rx.clone()));
        let retention_every = config.setting::<u64>("log.retention.check.interval.ms").max(10);
        let compact_every = config.setting::<u64>("log.cleaner.backoff.ms").max(10);
        let map_bytes: usize = config.setting("log.cleaner.dedupe.buffer.size");
        let cleaner = tokio::spawn(crate::cleaner::run(
            state.logs.clone(),
            Duration::from_millis(retention_every),
            Duration::from_millis(compact_every),
            map_bytes,
            shutdown_rx.clone(),
        ));
        #[cfg(feature = "cluster")]
        let shutdown_rx2 = shutdown_rx.clone();
        let background = tokio::spawn(background(state.clone(), shutdown_rx));
        let shown: Vec<String> = state
            .listeners
            .iter()
            .map(|l| {
                format!(
                    "{}://{} (advertised {}:{}, {})",
                    l.spec.name,
                    l.bound,
                    l.advertised.0,
                    l.advertised.1,
                    l.spec.protocol.name()
                )
            })
            .collect();
        tracing::info!(
            node_id = state.node_id(),
            cluster_id = %state.cluster_id(),
            listeners = %shown.join(", "),
            data_dir = %config.data_dir.display(),
            recovered_cleanly = state.logs.recovered_cleanly,
            manual_clock = state.clock().is_manual(),
            "odradek started"
        );
        tasks.extend([timers, cleaner, background]);
        #[cfg(feature = "cluster")]
        if let Some(node) = cluster {
            tasks.extend(node.spawn(shutdown_rx2));
        }
        Ok(Broker { state, addr, shutdown_tx, tasks, admission, stopped: false, _temp: None })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// `host:port` for a client's `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        let (h, p) = self.state.advertised();
        format!("{h}:{p}")
    }
    /// `host:port` advertised by the listener of that name (e.g. `SASL_SSL`), if there is one.
    pub fn bootstrap_for(&self, listener: &str) -> Option<String> {
        self.state
            .listeners
            .iter()
            .find(|l| l.spec.name.eq_ignore_ascii_case(listener))
            .map(|l| format!("{}:{}", l.advertised.0, l.advertised.1))
    }
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Stops serving and shuts storage down cleanly.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.stop_tasks();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        self.wait_for_connections().await;
        self.stopped = true;
        let st = self.state.clone();
        tokio::task::spawn_blocking(move || st.logs.shutdown()).await.map_err(std::io::Error::other)?
    }

    /// Stops as a `kill -9` would: connections dropped, nothing more written, no final sync, no
    /// checkpoints, no clean-shutdown marker; what was written so far stays in the page cache.
    /// The next start on this data dir runs recovery. For tests (`POST /v1/crash`).
    pub async fn crash(mut self) {
        self.stop_tasks();
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        self.stopped = true;
        // The connections were told to stop above; halt (no more writes, a cleaner pass or
        // topic change in flight waited out), then wait until their tasks are gone.
        let st = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || st.logs.halt()).await;
        self.wait_for_connections().await;
    }

    async fn wait_for_connections(&self) {
        if !self.admission.drained(Duration::from_secs(10)).await {
            tracing::warn!(
                open = self.admission.open_connections(),
                "connections still open 10 s after the stop"
            );
        }
    }

    fn stop_tasks(&self) {
        let _ = self.shutdown_tx.send(true);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if !self.stopped {
            self.stop_tasks();
            for t in &self.tasks {
                t.abort();
            }
            if let Err(e) = self.state.logs.shutdown() {
                tracing::error!(error = %e, "shutdown on drop failed");
            }
        }
    }
}

/// The group coordinator's clock: session expiry and rebalance deadlines, every 100 ms.
async fn group_timer(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {
                state.groups.tick().await;
                state.txns.tick().await;
            }
        }
    }
}

/// Periodic work: recovery-point checkpoints and the time-based flush policy (flush.ms).
async fn background(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let checkpoint_every = state.config.setting::<u64>("log.flush.offset.checkpoint.interval.ms").max(100);
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    let mut last_checkpoint = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        state.logs.flush_due_partitions();
        crate::server::trim_after_closes();
        for l in &state.listeners {
            if let Some(t) = &l.tls {
                t.reload_if_changed();
            }
        }
        if last_checkpoint.elapsed() >= Duration::from_millis(checkpoint_every) {
            last_checkpoint = tokio::time::Instant::now();
            let st = state.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = st.logs.write_checkpoints() {
                    tracing::warn!(error = %e, "writing checkpoints failed");
                }
            })
            .await;
        }
    }
}
