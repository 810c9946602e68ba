//! The control plane for tests: what the HTTP control API (`http.rs`) and `odradek ctl`
//! (`ctl.rs`) drive. It sits above the broker: it holds the clusters of this process (the one
//! started from the command line is `default`; `POST /v1/clusters` adds more, each a separate
//! broker with its own port, data dir, cluster id, clock and fault rules), and carries out what a
//! test asks: move a manual clock and fire what became due, roll/retention/compaction now, wait
//! for a condition, crash and restart a broker, reset, snapshot and fork a cluster.
//!
//! A cluster's clock and fault rules live in its [`Cluster`], not in the broker, so they carry
//! over a crash, a reset or a snapshot (each of which stops the broker and starts a new one on
//! the same port).
pub mod ctl;
pub mod http;
pub mod site;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::broker::{Broker, Controls, StartError};
use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::state::BrokerState;

/// The name of the cluster started from the command line.
pub const DEFAULT_CLUSTER: &str = "default";

/// Why a control request could not be done; `http.rs` maps each to a status code.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Failed(String),
}

impl From<StartError> for ControlError {
    fn from(e: StartError) -> Self {
        ControlError::Failed(format!("the broker could not start: {e}"))
    }
}

impl From<std::io::Error> for ControlError {
    fn from(e: std::io::Error) -> Self {
        ControlError::Failed(e.to_string())
    }
}

/// One broker of this process and what outlives its restarts.
pub struct Cluster {
    pub id: String,
    config: BrokerConfig,
    controls: Controls,
    broker: tokio::sync::RwLock<Option<Broker>>,
    /// Why the last start failed, while the cluster has no broker.
    start_error: parking_lot::Mutex<Option<String>>,
    /// The temporary directory of a cluster made through the API (removed with it).
    _temp: Option<tempfile::TempDir>,
    pub created_ms: i64,
}

/// A snapshot: a stopped copy of a cluster's data dir (sealed segments hard-linked).
struct Snapshot {
    id: String,
    of: String,
    dir: PathBuf,
    taken_ms: i64,
}

/// How a new cluster is made (`POST /v1/clusters`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCluster {
    /// A name; default `c<N>`.
    #[serde(default)]
    pub id: Option<String>,
    /// `manual` or `system` (default: the default cluster's clock mode).
    #[serde(default)]
    pub clock: Option<String>,
    /// Broker config keys (Kafka's names).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Start from this snapshot's data (a fork).
    #[serde(default)]
    pub snapshot: Option<String>,
}

pub struct Control {
    clusters: parking_lot::Mutex<BTreeMap<String, Arc<Cluster>>>,
    snapshots: parking_lot::Mutex<BTreeMap<String, Snapshot>>,
    /// Where API clusters and snapshots are kept.
    root: tempfile::TempDir,
    next: std::sync::atomic::AtomicU64,
    manual_by_default: bool,
    /// Bearer token the HTTP API requires, if any.
    pub token: Option<String>,
}

/// The config for the next start: its own dynamic layer (read from the data dir at start, so a
/// reset leaves none behind).
fn fresh(config: &BrokerConfig) -> BrokerConfig {
    let mut c = config.clone();
    c.dynamic = Default::default();
    c
}

fn restart_config(config: &BrokerConfig, b: &Broker) -> BrokerConfig {
    let mut c = config.clone();
    // The same port again: clients reconnect to where they were.
    if !c.set.contains_key("listeners") {
        c.listen = b.local_addr().to_string();
    }
    c
}

impl Control {
    /// Takes the broker started from the command line as the `default` cluster.
    pub fn new(
        broker: Broker,
        config: BrokerConfig,
        controls: Controls,
        token: Option<String>,
    ) -> std::io::Result<Arc<Control>> {
        let manual = controls.clock.is_manual();
        let config = restart_config(&config, &broker);
        let c = Cluster::running_as(DEFAULT_CLUSTER.into(), config, controls, broker, None);
        let root = tempfile::Builder::new().prefix("odradek-control-").tempdir()?;
        let mut clusters = BTreeMap::new();
        clusters.insert(c.id.clone(), c);
        Ok(Arc::new(Control {
            clusters: parking_lot::Mutex::new(clusters),
            snapshots: parking_lot::Mutex::new(BTreeMap::new()),
            root,
            next: std::sync::atomic::AtomicU64::new(1),
            manual_by_default: manual,
            token,
        }))
    }

    pub fn cluster(&self, id: &str) -> Result<Arc<Cluster>, ControlError> {
        self.clusters
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| ControlError::NotFound(format!("no cluster {id:?}")))
    }

    pub fn clusters(&self) -> Vec<Arc<Cluster>> {
        self.clusters.lock().values().cloned().collect()
    }

    /// Stops every cluster cleanly (the process is exiting).
    pub async fn shutdown(&self) -> std::io::Result<()> {
        let all: Vec<Arc<Cluster>> = std::mem::take(&mut *self.clusters.lock()).into_values().collect();
        let mut first_err = None;
        for c in all {
            if let Some(b) = c.broker.write().await.take() {
                if let Err(e) = b.shutdown().await {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// A new, separate broker in this process.
    pub async fn create(&self, req: NewCluster) -> Result<Value, ControlError> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = req.id.clone().unwrap_or_else(|| format!("c{n}"));
        if id.is_empty()
            || id.len() > 64
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ControlError::BadRequest(format!(
                "cluster id {id:?}: use 1-64 letters, digits, '-' or '_'"
            )));
        }
        if self.clusters.lock().contains_key(&id) {
            return Err(ControlError::Conflict(format!("cluster {id:?} exists")));
        }
        let manual = match req.clock.as_deref() {
            None => self.manual_by_default,
            Some(m) => {
                m.parse::<crate::clock::ClockMode>().map_err(ControlError::BadRequest)?
                    == crate::clock::ClockMode::Manual
            }
        };
        let temp = tempfile::Builder::new().prefix("cluster-").tempdir_in(self.root.path())?;
        let data_dir = temp.path().join("data");
        if let Some(s) = &req.snapshot {
            let src = self
                .snapshots
                .lock()
                .get(s)
                .map(|s| s.dir.clone())
                .ok_or_else(|| ControlError::NotFound(format!("no snapshot {s:?}")))?;
            let dir = data_dir.clone();
            tokio::task::spawn_blocking(move || {
                link_copy(&src, &dir)?;
                new_identity(&dir)
            })
            .await
            .map_err(|e| ControlError::Failed(e.to_string()))??;
        }
        let mut config =
            BrokerConfig { data_dir, listen: "127.0.0.1:0".into(), dev: true, ..Default::default() };
        config
            .set_key("auto.create.topics.enable", "true")
            .map_err(|e| ControlError::BadRequest(e.to_string()))?;
        config
            .set_key("group.initial.rebalance.delay.ms", "0")
            .map_err(|e| ControlError::BadRequest(e.to_string()))?;
        for (k, v) in &req.config {
            config.set_key(k, v).map_err(|e| ControlError::BadRequest(e.to_string()))?;
        }
        let controls = Controls {
            clock: if manual { Clock::manual() } else { Clock::system() },
            faults: Default::default(),
            metrics: Default::default(),
        };
        let started = std::time::Instant::now();
        let broker = Broker::start_with(config.clone(), controls.clone()).await?;
        let start_ms = started.elapsed().as_secs_f64() * 1000.0;
        let config = restart_config(&config, &broker);
        let c = Cluster::running_as(id.clone(), config, controls, broker, Some(temp));
        {
            let mut all = self.clusters.lock();
            if all.contains_key(&id) {
                return Err(ControlError::Conflict(format!("cluster {id:?} exists")));
            }
            all.insert(id.clone(), c.clone());
        }
        tracing::info!(cluster = %id, startup_ms = start_ms, "cluster created");
        let mut v = c.describe().await?;
        v["startup_ms"] = json!(start_ms);
        Ok(v)
    }

    /// Stops a cluster and removes its data (the default cluster cannot be deleted).
    pub async fn delete(&self, id: &str) -> Result<Value, ControlError> {
        if id == DEFAULT_CLUSTER {
            return Err(ControlError::Conflict(
                "the default cluster is the process's own; stop the process".into(),
            ));
        }
        let c = self
            .clusters
            .lock()
            .remove(id)
            .ok_or_else(|| ControlError::NotFound(format!("no cluster {id:?}")))?;
        if let Some(b) = c.broker.write().await.take() {
            b.shutdown().await?;
        }
        Ok(json!({"deleted": id}))
    }

    /// A copy of the cluster's data as of now: the broker stops cleanly, its files are linked or
    /// copied, and it starts again on the same port (clients see one disconnect).
    pub async fn snapshot(&self, id: &str) -> Result<Value, ControlError> {
        let c = self.cluster(id)?;
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sid = format!("s{n}");
        let dir = self.root.path().join("snapshots").join(&sid);
        let started = std::time::Instant::now();
        let src = c.config.data_dir.clone();
        let d2 = dir.clone();
        c.restart_around(move || link_copy(&src, &d2)).await?;
        let took = started.elapsed().as_secs_f64() * 1000.0;
        self.snapshots.lock().insert(
            sid.clone(),
            Snapshot { id: sid.clone(), of: id.to_string(), dir, taken_ms: crate::clock::now_ms() },
        );
        Ok(json!({"id": sid, "cluster": id, "took_ms": took}))
    }

    pub fn snapshots(&self) -> Value {
        let s = self.snapshots.lock();
        Value::Array(
            s.values().map(|s| json!({"id": s.id, "cluster": s.of, "taken_ms": s.taken_ms})).collect(),
        )
    }

    /// Puts a snapshot's data in place of the cluster's (same port, same cluster id).
    pub async fn restore(&self, id: &str, snapshot: &str) -> Result<Value, ControlError> {
        let c = self.cluster(id)?;
        let src = self
            .snapshots
            .lock()
            .get(snapshot)
            .map(|s| s.dir.clone())
            .ok_or_else(|| ControlError::NotFound(format!("no snapshot {snapshot:?}")))?;
        let dst = c.config.data_dir.clone();
        c.restart_around(move || {
            let keep = std::fs::read_to_string(dst.join("meta.properties")).ok();
            clear_dir(&dst)?;
            link_copy(&src, &dst)?;
            if let Some(meta) = keep {
                std::fs::write(dst.join("meta.properties"), meta)?;
            }
            Ok(())
        })
        .await?;
        c.describe().await
    }
}

/// Copies a data dir: the `.log` files of sealed segments are hard-linked (a sealed segment is
/// never written again; compaction and retention replace or remove it by name), the active
/// segment (the last `.log` of each partition) and every other file are copied.
fn link_copy(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut logs: Vec<PathBuf> = Vec::new();
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(src)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in &entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            link_copy(&p, &dst.join(e.file_name()))?;
        } else if p.extension().is_some_and(|x| x == "log") {
            logs.push(p);
        } else {
            std::fs::copy(&p, dst.join(e.file_name()))?;
        }
    }
    // Segment files are named by their zero-padded base offset: the last in order is active.
    let last = logs.last().cloned();
    for p in logs {
        let to = dst.join(p.file_name().unwrap_or_default());
        let sealed = Some(&p) != last.as_ref();
        if !(sealed && std::fs::hard_link(&p, &to).is_ok()) {
            std::fs::copy(&p, &to)?;
        }
    }
    Ok(())
}

/// A fork is a new cluster: it gets its own cluster id.
fn new_identity(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("meta.properties");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let id = crate::log::new_cluster_id();
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("cluster.id=") {
                format!("cluster.id={id}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, out.join("\n") + "\n")
}

fn clear_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            std::fs::remove_dir_all(e.path())?;
        } else {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

/// A condition to wait for (`POST /v1/wait`).
#[derive(Debug, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A group (classic or KIP-848) in `state` (if given) with `members` members (if given).
    Group {
        group: String,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        members: Option<usize>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// A group's committed offsets at or past the given ones.
    Offsets {
        group: String,
        offsets: Vec<TopicPartitionOffset>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Every partition of `topics` (default: every topic the group has committed offsets for)
    /// has a committed offset at its high watermark.
    LagZero {
        group: String,
        #[serde(default)]
        topics: Option<Vec<String>>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// A transactional id in `state` (Kafka's names: Empty, Ongoing, CompleteCommit, ...).
    Transaction {
        transactional_id: String,
        state: String,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// A topic with at least `partitions` partitions.
    Topic {
        topic: String,
        #[serde(default)]
        partitions: Option<i32>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// The cleaner has compacted every partition of `topic` (or just `partition`) up to `offset`.
    Compacted {
        topic: String,
        #[serde(default)]
        partition: Option<i32>,
        offset: i64,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopicPartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl Condition {
    fn timeout(&self) -> Duration {
        let t = match self {
            Condition::Group { timeout_ms, .. }
            | Condition::Offsets { timeout_ms, .. }
            | Condition::LagZero { timeout_ms, .. }
            | Condition::Transaction { timeout_ms, .. }
            | Condition::Topic { timeout_ms, .. }
            | Condition::Compacted { timeout_ms, .. } => timeout_ms.unwrap_or(10_000),
        };
        Duration::from_millis(t.min(600_000))
    }

    /// Whether it holds now, and what was seen.
    fn check(&self, st: &BrokerState) -> (bool, Value) {
        match self {
            Condition::Group { group, state, members, .. } => {
                let seen = group_seen(st, group);
                let ok = seen["exists"] == json!(true)
                    && state.as_ref().is_none_or(|s| seen["state"].as_str() == Some(s.as_str()))
                    && members.is_none_or(|m| seen["members"].as_u64() == Some(m as u64));
                (ok, seen)
            }
            Condition::Offsets { group, offsets, .. } => {
                let want: Vec<(String, i32)> =
                    offsets.iter().map(|o| (o.topic.clone(), o.partition)).collect();
                let got = st.groups.view(|g| g.fetch_offsets(group, Some(&want)));
                let mut ok = true;
                let mut seen = Vec::new();
                for (o, (t, p, c)) in offsets.iter().zip(got) {
                    let committed = c.map(|c| c.offset);
                    ok &= committed.is_some_and(|c| c >= o.offset);
                    seen.push(json!({"topic": t, "partition": p, "committed": committed, "want": o.offset}));
                }
                (ok, json!({"group": group, "offsets": seen}))
            }
            Condition::LagZero { group, topics, .. } => {
                let committed = st.groups.view(|g| g.fetch_offsets(group, None));
                let names: Vec<String> = match topics {
                    Some(t) => t.clone(),
                    None => {
                        let mut n: Vec<String> = committed.iter().map(|(t, _, _)| t.clone()).collect();
                        n.dedup();
                        n
                    }
                };
                let mut ok = !names.is_empty();
                let mut seen = Vec::new();
                for name in &names {
                    let Some(t) = st.logs.topic(name) else {
                        ok = false;
                        seen.push(json!({"topic": name, "exists": false}));
                        continue;
                    };
                    for p in t.partitions.read().iter() {
                        let hw = p.high_watermark();
                        let c = committed
                            .iter()
                            .find(|(tn, pi, _)| tn == name && *pi == p.index)
                            .and_then(|(_, _, c)| c.as_ref().map(|c| c.offset));
                        let lag = hw - c.unwrap_or(p.log_start_offset());
                        ok &= lag <= 0;
                        seen.push(json!({"topic": name, "partition": p.index, "high_watermark": hw, "committed": c, "lag": lag.max(0)}));
                    }
                }
                (ok, json!({"group": group, "partitions": seen}))
            }
            Condition::Transaction { transactional_id, state, .. } => {
                let got = st.txns.view(|t| {
                    t.get(transactional_id).map(|m| (m.state.name(), m.producer_id, m.producer_epoch))
                });
                let ok = got.is_some_and(|(s, _, _)| s.eq_ignore_ascii_case(state));
                let seen = match got {
                    Some((s, pid, e)) => {
                        json!({"transactional_id": transactional_id, "state": s, "producer_id": pid, "producer_epoch": e})
                    }
                    None => json!({"transactional_id": transactional_id, "exists": false}),
                };
                (ok, seen)
            }
            Condition::Topic { topic, partitions, .. } => {
                let n = st.logs.topic(topic).map(|t| t.partition_count());
                let ok = n.is_some_and(|n| partitions.is_none_or(|want| n >= want));
                (ok, json!({"topic": topic, "exists": n.is_some(), "partitions": n}))
            }
            Condition::Compacted { topic, partition, offset, .. } => {
                let Some(t) = st.logs.topic(topic) else {
                    return (false, json!({"topic": topic, "exists": false}));
                };
                let mut ok = true;
                let mut seen = Vec::new();
                for p in t.partitions.read().iter().filter(|p| partition.is_none_or(|want| want == p.index)) {
                    let c = p.cleaner_offset();
                    ok &= c >= *offset;
                    seen.push(json!({"partition": p.index, "cleaned_up_to": c}));
                }
                (ok && !seen.is_empty(), json!({"topic": topic, "partitions": seen}))
            }
        }
    }
}

/// What a group looks like now, classic or KIP-848.
fn group_seen(st: &BrokerState, group: &str) -> Value {
    st.groups.view(|g| {
        if let Some(cg) = g.consumer.groups.get(group) {
            let members: Vec<Value> = cg
                .members
                .values()
                .map(|m| json!({"member_id": m.member_id, "client_id": m.client_id, "member_epoch": m.member_epoch}))
                .collect();
            return json!({"group": group, "exists": true, "protocol": "consumer", "state": cg.state_name(),
                "members": cg.members.len(), "group_epoch": cg.group_epoch, "member_list": members});
        }
        match g.group(group) {
            Some(c) => {
                let members: Vec<Value> = c
                    .members
                    .iter()
                    .map(|m| json!({"member_id": m.member_id, "client_id": m.client_id}))
                    .collect();
                json!({"group": group, "exists": true, "protocol": "classic", "state": c.state.name(),
                    "members": c.members.len(), "generation": c.generation, "member_list": members})
            }
            None => json!({"group": group, "exists": false}),
        }
    })
}

/// The answer to a wait: whether the condition held, how long it took, and what was seen last.
#[derive(Debug, Serialize)]
pub struct WaitOutcome {
    pub ok: bool,
    pub waited_ms: u64,
    pub seen: Value,
}

impl Cluster {
    fn running_as(
        id: String,
        config: BrokerConfig,
        controls: Controls,
        broker: Broker,
        temp: Option<tempfile::TempDir>,
    ) -> Arc<Cluster> {
        Arc::new(Cluster {
            id,
            config,
            controls,
            broker: tokio::sync::RwLock::new(Some(broker)),
            start_error: parking_lot::Mutex::new(None),
            _temp: temp,
            created_ms: crate::clock::now_ms(),
        })
    }

    /// The running broker's state (an error while it restarts).
    pub async fn state(&self) -> Result<Arc<BrokerState>, ControlError> {
        Ok(self.running().await?.1)
    }

    /// The running broker, held: a crash, reset, snapshot or restore waits until the guard is
    /// dropped, so work done on the state (advance, maintenance) never races a restart.
    async fn running(
        &self,
    ) -> Result<(tokio::sync::RwLockReadGuard<'_, Option<Broker>>, Arc<BrokerState>), ControlError> {
        let b = self.broker.read().await;
        match b.as_ref().map(|b| b.state().clone()) {
            Some(st) => Ok((b, st)),
            None => Err(self.not_running()),
        }
    }

    fn not_running(&self) -> ControlError {
        match self.start_error.lock().clone() {
            Some(e) => ControlError::Failed(format!(
                "cluster {:?} has no broker: its last start failed ({e}); crash, reset or restore start it again",
                self.id
            )),
            None => ControlError::Conflict(format!("cluster {:?} is restarting", self.id)),
        }
    }

    /// Starts the broker into an empty slot, remembering why if it fails.
    async fn start_into(&self, slot: &mut Option<Broker>) -> Result<(), ControlError> {
        match Broker::start_with(fresh(&self.config), self.controls.clone()).await {
            Ok(b) => {
                *slot = Some(b);
                *self.start_error.lock() = None;
                Ok(())
            }
            Err(e) => {
                *self.start_error.lock() = Some(e.to_string());
                Err(e.into())
            }
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.controls.clock
    }

    pub fn faults(&self) -> &crate::faults::Faults {
        &self.controls.faults
    }

    pub async fn describe(&self) -> Result<Value, ControlError> {
        let b = self.broker.read().await;
        let Some(b) = b.as_ref() else {
            return Err(self.not_running());
        };
        let st = b.state();
        Ok(json!({
            "id": self.id,
            "cluster_id": st.cluster_id(),
            "bootstrap": b.bootstrap(),
            "data_dir": self.config.data_dir.display().to_string(),
            "clock": if self.clock().is_manual() { "manual" } else { "system" },
            "now_ms": self.clock().now_ms(),
            "topics": st.logs.topics().iter().filter(|t| !t.name.starts_with("__")).count(),
            "fault_rules": self.faults().list().len(),
            "created_ms": self.created_ms,
        }))
    }

    /// Moves a manual clock forward, then runs everything time-driven at the new time (group and
    /// KIP-848 session and rebalance deadlines, transaction timeouts, offsets retention, log
    /// retention, compaction's time rules) and returns once what they wrote is durable.
    pub async fn advance(&self, ms: i64) -> Result<Value, ControlError> {
        // A hundred years at most: every deadline is now + a timeout, and must not overflow.
        const MAX_ADVANCE_MS: i64 = 100 * 365 * 24 * 3_600_000;
        if !(0..=MAX_ADVANCE_MS).contains(&ms) {
            return Err(ControlError::BadRequest(format!(
                "ms must be within 0 and {MAX_ADVANCE_MS}, got {ms}"
            )));
        }
        if self.clock().now_ms().checked_add(ms).is_none_or(|t| t > i64::MAX / 2) {
            return Err(ControlError::BadRequest(format!("advancing by {ms} ms would overflow the clock")));
        }
        let (_running, st) = self.running().await?;
        let Some(now) = self.clock().advance(ms) else {
            return Err(ControlError::Conflict(
                "this cluster runs on the system clock; start it with --clock=manual".into(),
            ));
        };
        let report = Self::fire_due(&st, now).await;
        Ok(json!({"now_ms": now, "advanced_ms": ms, "fired": report}))
    }

    /// The timers that are due at `now`, run to completion.
    async fn fire_due(st: &Arc<BrokerState>, now: i64) -> Value {
        st.groups.tick().await;
        st.txns.tick().await;
        // A transaction the tick aborted writes markers; a second tick completes what they
        // started (the coordinator's own end of it) before we answer.
        st.txns.tick().await;
        let logs = st.logs.clone();
        let map_bytes: usize = st.config.setting("log.cleaner.dedupe.buffer.size");
        let r = tokio::task::spawn_blocking(move || {
            let retention = crate::cleaner::retention_of(&logs, now, None);
            let compaction = crate::cleaner::compaction_of(&logs, now, map_bytes, None, false);
            logs.settle();
            (retention, compaction)
        })
        .await;
        match r {
            Ok((retention, compaction)) => json!({"retention": retention, "compaction": compaction}),
            Err(e) => json!({"error": e.to_string()}),
        }
    }

    /// Roll, retention or compaction of one topic (or all), now.
    pub async fn maintain(
        &self,
        what: &str,
        topic: Option<String>,
        roll: bool,
    ) -> Result<Value, ControlError> {
        let (_running, st) = self.running().await?;
        if let Some(t) = &topic {
            if st.logs.topic(t).is_none() {
                return Err(ControlError::NotFound(format!("no topic {t:?}")));
            }
        }
        let logs = st.logs.clone();
        let what = what.to_string();
        let map_bytes: usize = st.config.setting("log.cleaner.dedupe.buffer.size");
        let r = tokio::task::spawn_blocking(move || {
            let now = logs.now_ms();
            let only = topic.as_deref();
            match what.as_str() {
                "roll" => Ok(crate::cleaner::roll_now(&logs, only)),
                "retention" => Ok(crate::cleaner::retention_of(&logs, now, only)),
                "compaction" => {
                    let rolled = if roll { crate::cleaner::roll_now(&logs, only).segments_rolled } else { 0 };
                    let mut r = crate::cleaner::compaction_of(&logs, now, map_bytes, only, true);
                    r.segments_rolled = rolled;
                    logs.settle();
                    Ok(r)
                }
                other => Err(ControlError::NotFound(format!(
                    "no maintenance task {other:?} (roll, retention, compaction)"
                ))),
            }
        })
        .await
        .map_err(|e| ControlError::Failed(e.to_string()))??;
        Ok(serde_json::to_value(r).unwrap_or_default())
    }

    /// Waits until `cond` holds or its timeout passes.
    pub async fn wait(&self, cond: Condition) -> Result<WaitOutcome, ControlError> {
        let started = std::time::Instant::now();
        let deadline = started + cond.timeout();
        loop {
            let st = self.state().await?;
            let (ok, seen) = cond.check(&st);
            if ok || std::time::Instant::now() >= deadline {
                return Ok(WaitOutcome { ok, waited_ms: started.elapsed().as_millis() as u64, seen });
            }
            drop(st);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the broker as `kill -9` would and starts it again from its data dir (recovery runs).
    pub async fn crash(&self) -> Result<Value, ControlError> {
        let mut slot = self.broker.write().await;
        let started = std::time::Instant::now();
        // No broker (a failed start): the crash is a start.
        if let Some(b) = slot.take() {
            b.crash().await;
        }
        self.start_into(&mut slot).await?;
        let recovered_cleanly = slot.as_ref().is_some_and(|b| b.state().logs.recovered_cleanly);
        tracing::warn!(cluster = %self.id, "crashed and restarted on request");
        Ok(
            json!({"restarted": true, "recovered_cleanly": recovered_cleanly, "took_ms": started.elapsed().as_secs_f64() * 1000.0}),
        )
    }

    /// Everything gone (topics, groups, transactions, configs, ACLs, credentials): the data dir
    /// emptied and the broker started again on the same port, with the same cluster id.
    pub async fn reset(&self) -> Result<Value, ControlError> {
        let dir = self.config.data_dir.clone();
        self.restart_around(move || {
            let keep = std::fs::read_to_string(dir.join("meta.properties")).ok();
            clear_dir(&dir)?;
            if let Some(meta) = keep {
                std::fs::write(dir.join("meta.properties"), meta)?;
            }
            Ok(())
        })
        .await?;
        self.faults().clear();
        self.describe().await
    }

    /// Stops the broker cleanly, runs `f` on the blocking pool, starts it again.
    async fn restart_around(
        &self,
        f: impl FnOnce() -> std::io::Result<()> + Send + 'static,
    ) -> Result<(), ControlError> {
        let mut slot = self.broker.write().await;
        if let Some(b) = slot.take() {
            if let Err(e) = b.shutdown().await {
                *self.start_error.lock() = Some(format!("the stop before the restart failed: {e}"));
                return Err(e.into());
            }
        }
        let done = tokio::task::spawn_blocking(f).await.map_err(|e| ControlError::Failed(e.to_string()))?;
        // Start again even when `f` failed: the cluster must not be left without a broker.
        self.start_into(&mut slot).await?;
        done.map_err(ControlError::from)
    }
}
