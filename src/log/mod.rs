//! Storage: every topic's partition logs in one data directory.
//!
//! Owns: the data directory layout (below), topic metadata (id, partition count, config overrides),
//! the clean-shutdown marker, the recovery-point and log-start-offset checkpoints, and the fsync
//! thread. Must not: see protocol types. Concurrency: the topic map is behind a `parking_lot`
//! `RwLock` taken briefly; each partition has its own lock (see partition/), so produce and fetch
//! on different partitions never contend on a global lock.
//!
//! Layout of the data dir:
//! ```text
//! meta.properties                     version, cluster.id, node.id (Kafka's file)
//! .odradek_clean_shutdown             present only after a clean shutdown
//! recovery-point-offset-checkpoint    Kafka's checkpoint format: "0\n<n>\n<topic> <partition> <offset>\n"...
//! log-start-offset-checkpoint         same format
//! cleaner-offset-checkpoint           same format: where each compacted log's dirty section starts
//! topic-metadata/<topic>.properties   topic.id, partitions, config.<key>=<value>
//! broker-dynamic-config.properties    broker.<key>=<value> and default.<key>=<value> (dynamic broker configs)
//! <topic>-<partition>/                the partition log (partition/, segment.rs)
//! ```
pub mod durability;
pub mod file;
pub mod flusher;
pub mod index;
#[cfg(test)]
mod model_test;
pub mod partition;
#[cfg(test)]
mod power_cut_test;
pub mod producer_state;
pub mod progress;
mod recovery;
pub mod segment;
pub mod sim_disk;
pub mod txn_index;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use uuid::Uuid;

use crate::config::{BrokerConfig, LogConfig};
pub use durability::{Durable, LogEnv, StorageHealth, SyncTicket};
use file::Disk;
use flusher::Background;
pub use partition::{
    AppendError, AppendInfo, Lead, OpenError, Partition, PartitionLog, ReadError, ReadInfo, Recovery,
};

const CLEAN_SHUTDOWN: &str = ".odradek_clean_shutdown";
const RECOVERY_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
const START_CHECKPOINT: &str = "log-start-offset-checkpoint";
const CLEANER_CHECKPOINT: &str = "cleaner-offset-checkpoint";
const DYNAMIC_CONFIGS: &str = "broker-dynamic-config.properties";
const TOPIC_META_DIR: &str = "topic-metadata";

/// Kafka's limit on topic name length.
pub const TOPIC_NAME_MAX: usize = 249;

pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: RwLock<Vec<Arc<Partition>>>,
    pub configs: RwLock<BTreeMap<String, String>>,
}

impl Topic {
    pub fn partition(&self, i: i32) -> Option<Arc<Partition>> {
        if i < 0 {
            return None;
        }
        self.partitions.read().get(i as usize).cloned()
    }
    pub fn partition_count(&self) -> i32 {
        self.partitions.read().len() as i32
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic '{0}' already exists.")]
    TopicAlreadyExists(String),
    #[error("{0}")]
    InvalidTopic(String),
    #[error("This server does not host this topic: {0}")]
    UnknownTopicOrPartition(String),
    #[error("{0}")]
    InvalidPartitions(String),
    /// A resource bound refuses the request up front (partitions per broker, file descriptors).
    #[error("{0}")]
    PolicyViolation(String),
    #[error(transparent)]
    InvalidConfig(#[from] crate::config::ConfigError),
    #[error("storage error: {0}")]
    Storage(#[from] io::Error),
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// Kafka's topic name rules: 1..=249 chars of [a-zA-Z0-9._-], not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::InvalidTopic("Topic name is illegal, it can't be empty".into()));
    }
    if name == "." || name == ".." {
        return Err(TopicError::InvalidTopic("Topic name cannot be \".\" or \"..\"".into()));
    }
    if name.len() > TOPIC_NAME_MAX {
        return Err(TopicError::InvalidTopic(format!(
            "Topic name is illegal, it can't be longer than {TOPIC_NAME_MAX} characters, topic name: {name}"
        )));
    }
    if !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-') {
        return Err(TopicError::InvalidTopic(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        )));
    }
    Ok(())
}

/// Where a [`LogManager`] keeps its files and runs its background I/O (tests choose a simulated
/// disk, fault injection, or fsync threads they drive by hand).
#[derive(Default)]
pub struct LogOptions {
    pub disk: Disk,
    /// None: start the fsync and seal threads.
    pub background: Option<Arc<Background>>,
    /// The broker's domain clock (wall time by default; `--clock=manual`).
    pub clock: crate::clock::Clock,
    /// The broker's counters (fsync latency and group-commit sizes, the cleaner's work).
    pub metrics: Arc<crate::metrics::Metrics>,
}

pub struct LogManager {
    data_dir: PathBuf,
    config: Arc<BrokerConfig>,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    env: LogEnv,
    /// One checkpoint writer at a time: they share temporary file names, and the compaction
    /// limits they set must never run ahead of what is on disk.
    checkpoint_lock: parking_lot::Mutex<()>,
    /// Topic creation, deletion and partition creation one at a time: a topic deleted and
    /// created again under its name must not share a partition directory half way.
    admin_lock: parking_lot::Mutex<()>,
    pub cluster_id: String,
    pub node_id: i32,
    /// Whether the previous run shut down cleanly (recovery skipped).
    pub recovered_cleanly: bool,
    clock: crate::clock::Clock,
    metrics: Arc<crate::metrics::Metrics>,
    /// Set by `halt`: nothing more is written (checkpoints, topic metadata, cleaner passes).
    halted: std::sync::atomic::AtomicBool,
    /// Set by `shutdown`: no more topic changes.
    closing: std::sync::atomic::AtomicBool,
}

/// The process's open-file limit (soft).
fn file_limit() -> u64 {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes only the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return 1024;
    }
    r.rlim_cur
}

/// Descriptors this process has open now (Linux), if it can tell.
fn open_files() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64)
}

/// Reads a checkpoint file (Kafka's format). A missing file is empty; one that does not parse
/// refuses to start: recovery points read as 0 would make recovery cut compacted segments.
fn read_checkpoint(disk: &Disk, path: &Path) -> Result<HashMap<(String, i32), i64>, TopicError> {
    let mut out = HashMap::new();
    let text = match disk.read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    let bad = |why: &str| {
        TopicError::InvalidTopic(format!(
            "the checkpoint file {} is damaged ({why}); refusing to start",
            path.display()
        ))
    };
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Err(bad("unknown version"));
    }
    let count: usize =
        lines.next().and_then(|l| l.trim().parse().ok()).ok_or_else(|| bad("no entry count"))?;
    for line in lines.by_ref().take(count) {
        let mut it = line.split_whitespace();
        let (Some(t), Some(p), Some(o)) = (it.next(), it.next(), it.next()) else {
            return Err(bad("short line"));
        };
        let (Ok(p), Ok(o)) = (p.parse(), o.parse()) else { return Err(bad("not a number")) };
        out.insert((t.to_string(), p), o);
    }
    if out.len() != count {
        return Err(bad("fewer entries than its count"));
    }
    Ok(out)
}

/// A Kafka-style cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).
pub fn new_cluster_id() -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in b {
        acc = (acc << 8) | byte as u32;
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(A[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// Empties a cluster broker's data directory but for its identity (`meta.properties`): there
/// the partition logs are a cache of the object store, rebuilt when the broker claims a partition,
/// and what an earlier run left (possibly past what was committed) must not be served or trusted.
pub fn clear_cache(disk: &Disk, dir: &Path) -> io::Result<()> {
    if !disk.exists(dir) {
        return Ok(());
    }
    for (name, is_dir) in disk.list_dir(dir)? {
        let path = dir.join(&name);
        if is_dir {
            disk.remove_dir_all(&path)?;
        } else if name != "meta.properties" {
            disk.remove_file(&path)?;
        }
    }
    disk.sync_dir(dir)
}

impl LogManager {
    /// Opens the data directory: meta.properties, every topic, recovery if the last run crashed.
    pub fn open(config: Arc<BrokerConfig>, options: LogOptions) -> Result<LogManager, TopicError> {
        let dir = config.data_dir.clone();
        let disk = options.disk.clone();
        if config.clustered() {
            clear_cache(&disk, &dir)?;
        }
        // New directories are made durable in their parents before anything is written in them.
        for made in disk.create_dir_all(&dir.join(TOPIC_META_DIR))? {
            if let Some(parent) = made.parent().filter(|p| !p.as_os_str().is_empty()) {
                disk.sync_dir(parent)?;
            }
        }
        let node_id = config.node_id();
        let meta_path = dir.join("meta.properties");
        let cluster_id = match disk.read_to_string(&meta_path) {
            Ok(text) => {
                let p = crate::config::parse_properties(&text);
                if let Some(stored) = p.get("node.id").and_then(|v| v.parse::<i32>().ok()) {
                    if stored != node_id {
                        return Err(TopicError::InvalidTopic(format!(
                            "the data directory {} belongs to node.id {stored}, but node.id is {node_id}",
                            dir.display()
                        )));
                    }
                }
                p.get("cluster.id").cloned().unwrap_or_else(new_cluster_id)
            }
            Err(_) => {
                let id = new_cluster_id();
                disk.write_atomic(
                    &meta_path,
                    format!("#\nversion=1\ncluster.id={id}\nnode.id={node_id}\n").as_bytes(),
                )?;
                id
            }
        };
        if let Ok(text) = disk.read_to_string(&dir.join(DYNAMIC_CONFIGS)) {
            *config.dynamic.write() = crate::config::DynamicConfigs::from_properties(&text);
        }
        let marker = dir.join(CLEAN_SHUTDOWN);
        let clean = disk.exists(&marker);
        let background = match options.background {
            Some(b) => b,
            None => Background::threaded(options.metrics.clone())?,
        };
        let env = LogEnv { disk: disk.clone(), background, health: StorageHealth::new(&dir) };
        let mgr = LogManager {
            data_dir: dir.clone(),
            config: config.clone(),
            topics: RwLock::new(HashMap::new()),
            env,
            checkpoint_lock: parking_lot::Mutex::new(()),
            admin_lock: parking_lot::Mutex::new(()),
            cluster_id,
            node_id,
            recovered_cleanly: clean,
            clock: options.clock.clone(),
            metrics: options.metrics.clone(),
            halted: std::sync::atomic::AtomicBool::new(false),
            closing: std::sync::atomic::AtomicBool::new(false),
        };
        let recovery = read_checkpoint(&disk, &dir.join(RECOVERY_CHECKPOINT))?;
        let starts = read_checkpoint(&disk, &dir.join(START_CHECKPOINT))?;
        let cleaned = read_checkpoint(&disk, &dir.join(CLEANER_CHECKPOINT))?;
        // Topics deleted while a crash interrupted the removal of their directories.
        for (name, is_dir) in disk.list_dir(&dir)? {
            if is_dir && name.ends_with("-delete") {
                disk.remove_dir_all(&dir.join(&name))?;
            }
        }
        let mut metas: Vec<String> =
            disk.list_dir(&dir.join(TOPIC_META_DIR))?.into_iter().map(|(n, _)| n).collect();
        metas.sort();
        let mut topic_props = Vec::with_capacity(metas.len());
        for file in metas {
            let Some(name) = file.strip_suffix(".properties").map(str::to_string) else { continue };
            let props =
                crate::config::parse_properties(&disk.read_to_string(&dir.join(TOPIC_META_DIR).join(&file))?);
            topic_props.push((name, props));
        }
        let partitions: u64 = topic_props
            .iter()
            .map(|(_, p)| p.get("partitions").and_then(|v| v.parse::<u64>().ok()).unwrap_or(1))
            .sum();
        let what = if clean { "opening partition logs" } else { "recovering partition logs after a crash" };
        let mut progress = progress::Progress::new(what, "partitions", partitions);
        for (name, props) in topic_props {
            let id = props.get("topic.id").and_then(|v| Uuid::parse_str(v).ok()).unwrap_or_else(Uuid::new_v4);
            let count: i32 = props.get("partitions").and_then(|v| v.parse().ok()).unwrap_or(1);
            let configs: BTreeMap<String, String> = props
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("config.").map(|k| (k.to_string(), v.clone())))
                .collect();
            let lc = config.log_config(&configs);
            let mut parts = Vec::new();
            for p in 0..count {
                let rec = Recovery {
                    clean,
                    recovery_point: recovery.get(&(name.clone(), p)).copied().unwrap_or(0),
                    log_start_offset: starts.get(&(name.clone(), p)).copied().unwrap_or(0),
                };
                let part = mgr.open_partition(&name, p, lc.clone(), rec)?;
                part.set_cleaner_offset(cleaned.get(&(name.clone(), p)).copied().unwrap_or(0));
                if lc.compact {
                    // Tombstones kept before the restart: let the compactor look once.
                    part.set_tombstone_expiry(0);
                }
                parts.push(Arc::new(part));
                progress.step(1);
            }
            mgr.topics.write().insert(
                name.clone(),
                Arc::new(Topic { name, id, partitions: RwLock::new(parts), configs: RwLock::new(configs) }),
            );
        }
        progress.finish();
        // From here on, a crash is unclean until the next clean shutdown writes the marker; the
        // removal is durable before anything is written (or a power cut could bring it back and
        // make the next start trust a log it should validate).
        if clean {
            disk.remove_file(&marker)?;
            disk.sync_dir(&dir)?;
        }
        mgr.write_checkpoints()?;
        Ok(mgr)
    }

    fn open_partition(
        &self,
        topic: &str,
        p: i32,
        lc: LogConfig,
        rec: Recovery,
    ) -> Result<Partition, TopicError> {
        let dir = self.data_dir.join(format!("{topic}-{p}"));
        let (mut log, rep) = PartitionLog::open(&dir, lc, rec, self.now_ms(), &self.env)?;
        // Producers idle past producer.id.expiration.ms stay expired across a restart (their
        // state comes back from a snapshot otherwise), as Kafka filters them at load.
        log.expire_producers(self.now_ms(), self.config.setting("producer.id.expiration.ms"));
        if rep.truncated_bytes > 0 || rep.discarded_segments > 0 {
            tracing::warn!(
                topic,
                partition = p,
                validated = rep.validated_segments,
                truncated_bytes = rep.truncated_bytes,
                discarded_segments = rep.discarded_segments,
                log_end_offset = log.log_end_offset(),
                recovery_point = rec.recovery_point,
                "recovered partition log: unsynced data after the recovery point was dropped"
            );
        } else if rep.validated_segments > 0 {
            tracing::info!(
                topic,
                partition = p,
                validated = rep.validated_segments,
                log_end_offset = log.log_end_offset(),
                "recovered partition log"
            );
        }
        let part = Partition::new(topic.to_string(), p, log);
        if self.config.clustered() {
            // A cluster's partition is led by its owner in the metadata store: until this broker
            // claims it, it neither takes appends nor shows records.
            part.set_lead(Lead { here: false, leader: None, epoch: -1, history: Vec::new() });
            part.commit_to(0);
        }
        Ok(part)
    }

    /// Replaces partition `p` of `topic` by a log made of `batches` (whole v2 batches, contiguous,
    /// the first at `base`), opened through recovery as after a crash: indexes, the producer
    /// state and the aborted-transaction index come from the batches. A cluster's new owner
    /// rebuilds a partition this way from the object store. The old handle stops leading and
    /// writes nothing more; the new one starts as a follower (its caller sets the lead).
    pub fn replace_partition(
        &self,
        topic: &str,
        p: i32,
        base: i64,
        batches: &[u8],
    ) -> Result<Arc<Partition>, TopicError> {
        let _admin = self.admin_lock.lock();
        self.refuse_if_halted()?;
        let t = self.topic(topic).ok_or_else(|| TopicError::UnknownTopicOrPartition(topic.into()))?;
        let old =
            t.partition(p).ok_or_else(|| TopicError::UnknownTopicOrPartition(format!("{topic}-{p}")))?;
        old.set_lead(Lead { here: false, ..old.lead() });
        old.halt_cleaning();
        {
            let _files = old.durability().lock_files();
            old.with_log(|l| l.mark_deleted());
        }
        let dir = self.data_dir.join(format!("{topic}-{p}"));
        self.env.disk.remove_dir_all(&dir)?;
        self.env.disk.create_dir_all(&dir)?;
        if !batches.is_empty() {
            self.env.disk.write_atomic(&dir.join(format!("{}.log", segment::file_stem(base))), batches)?;
        }
        self.env.disk.sync_dir(&self.data_dir)?;
        let lc = self.config.log_config(&t.configs.read());
        let part = Arc::new(self.open_partition(
            topic,
            p,
            lc,
            Recovery { clean: false, recovery_point: 0, log_start_offset: base },
        )?);
        part.set_compaction_limit(0);
        if let Some(slot) = t.partitions.write().get_mut(p as usize) {
            *slot = part.clone();
        }
        Ok(part)
    }

    /// Creates the directories of new partitions, their entries durable in the data dir. All or
    /// nothing: when one fails, the ones this call made are removed again.
    fn create_partitions_on_disk(
        &self,
        topic: &str,
        range: std::ops::Range<i32>,
        lc: &LogConfig,
    ) -> Result<Vec<Arc<Partition>>, TopicError> {
        let mut parts = Vec::new();
        let made = (|| {
            for p in range.clone() {
                let pdir = self.data_dir.join(format!("{topic}-{p}"));
                if self.env.disk.exists(&pdir) {
                    self.env.disk.remove_dir_all(&pdir)?;
                }
                parts.push(Arc::new(self.open_partition(
                    topic,
                    p,
                    lc.clone(),
                    Recovery { clean: true, recovery_point: 0, log_start_offset: 0 },
                )?));
            }
            self.env.disk.sync_dir(&self.data_dir)?;
            Ok::<(), TopicError>(())
        })();
        if let Err(e) = made {
            self.remove_new_partitions(&parts);
            return Err(e);
        }
        for p in &parts {
            p.set_compaction_limit(0);
        }
        Ok(parts)
    }

    /// Undoes [`LogManager::create_partitions_on_disk`] for partitions nobody has seen yet.
    fn remove_new_partitions(&self, parts: &[Arc<Partition>]) {
        for p in parts {
            let _files = p.durability().lock_files();
            p.with_log(|l| l.mark_deleted());
            if let Err(e) = self.env.disk.remove_dir_all(&p.dir) {
                tracing::warn!(dir = %p.dir.display(), error = %e, "could not remove a partition directory while undoing a failed create");
            }
        }
        let _ = self.env.disk.sync_dir(&self.data_dir);
    }

    /// Partitions on this broker, over all topics (internal ones included).
    pub fn partition_count(&self) -> usize {
        self.topics.read().values().map(|t| t.partition_count() as usize).sum()
    }

    /// Whether `new` more partitions fit: `max.broker.partitions` (by default what the file limit
    /// allows, a quarter of it kept for connections and everything else), and the descriptors
    /// actually free now, since each partition keeps its active segment open.
    pub fn check_capacity(&self, new: usize) -> Result<(), TopicError> {
        let limit = file_limit();
        let reserve = (limit / 4).max(256);
        let max =
            self.config.max_broker_partitions().unwrap_or_else(|| limit.saturating_sub(reserve) as usize);
        let have = self.partition_count();
        if have + new > max {
            return Err(TopicError::PolicyViolation(format!(
                "Creating {new} partitions would put {} on this broker, above its limit of {max} (max.broker.partitions{}).",
                have + new,
                if self.config.max_broker_partitions().is_some() { "" } else { ", by default three quarters of the open-file limit" }
            )));
        }
        if let Some(open) = open_files() {
            if open + new as u64 + reserve > limit {
                return Err(TopicError::PolicyViolation(format!(
                    "Creating {new} partitions needs {new} more file descriptors; {open} of the limit of {limit} are open and {reserve} are kept free."
                )));
            }
        }
        Ok(())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    pub fn config(&self) -> &Arc<BrokerConfig> {
        &self.config
    }
    pub fn disk(&self) -> &Disk {
        &self.env.disk
    }
    /// The broker's domain clock: every time-based rule reads it (see `clock.rs`).
    pub fn clock(&self) -> &crate::clock::Clock {
        &self.clock
    }
    /// The broker's counters.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
    pub fn storage_failed(&self) -> bool {
        self.env.health.failed()
    }
    /// Takes the log dir offline after an I/O error: no more writes (KAFKA_STORAGE_ERROR).
    pub fn fail_storage(&self, why: &io::Error) {
        self.env.health.fail(why);
    }

    /// The time-based flush policy (`flush.ms`): queues a background sync for every partition
    /// whose policy says it is due. Called periodically by the broker.
    pub fn flush_due_partitions(&self) {
        for t in self.topics() {
            for p in t.partitions.read().iter() {
                if let Some(ticket) = p.with_log(|l| l.flush_due().then(|| l.ticket())) {
                    ticket.submit_in_background();
                }
            }
        }
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }
    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics.read().values().find(|t| t.id == id).cloned()
    }
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self.topics.read().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn write_topic_meta(&self, t: &Topic) -> io::Result<()> {
        let mut s = format!("topic.id={}\npartitions={}\n", t.id, t.partition_count());
        for (k, v) in t.configs.read().iter() {
            s.push_str(&format!("config.{k}={v}\n"));
        }
        self.env.disk.write_atomic(
            &self.data_dir.join(TOPIC_META_DIR).join(format!("{}.properties", t.name)),
            s.as_bytes(),
        )
    }

    /// Creates a topic (validated before anything is written).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, TopicError> {
        self.create_topic_as(name, partitions, configs, validate_only, None)
    }

    /// [`LogManager::create_topic`] with a given topic id (a cluster's brokers make the topic the
    /// metadata store names, under its id).
    pub fn create_topic_as(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
        id: Option<Uuid>,
    ) -> Result<Option<Arc<Topic>>, TopicError> {
        validate_topic_name(name)?;
        if partitions < 1 {
            return Err(TopicError::InvalidPartitions("Number of partitions must be larger than 0.".into()));
        }
        if partitions > 100_000 {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {partitions} is above the limit of 100000."
            )));
        }
        crate::config::validate_topic_configs(&configs)?;
        let _admin = self.admin_lock.lock();
        self.refuse_if_halted()?;
        {
            // Creators and deleters are serialized by the admin lock, so the name stays free
            // while the partitions are made without holding the topics lock (which every
            // produce and fetch takes to look a topic up).
            let topics = self.topics.read();
            if topics.contains_key(name) {
                return Err(TopicError::TopicAlreadyExists(name.into()));
            }
            // Kafka refuses names that collide once '.' and '_' are treated alike (metric names).
            let norm = |s: &str| s.replace('.', "_");
            if let Some(other) = topics.keys().find(|k| norm(k) == norm(name)) {
                return Err(TopicError::InvalidTopic(format!(
                    "Topic '{name}' collides with existing topic: {other}"
                )));
            }
        }
        self.check_capacity(partitions as usize)?;
        if validate_only {
            return Ok(None);
        }
        let lc = self.config.log_config(&configs);
        let parts = self.create_partitions_on_disk(name, 0..partitions, &lc)?;
        let t = Arc::new(Topic {
            name: name.to_string(),
            id: id.unwrap_or_else(Uuid::new_v4),
            partitions: RwLock::new(parts),
            configs: RwLock::new(configs),
        });
        if let Err(e) = self.write_topic_meta(&t) {
            self.remove_new_partitions(&t.partitions.read());
            return Err(e.into());
        }
        self.topics.write().insert(name.to_string(), t.clone());
        // Entries for the new partitions replace whatever an older topic of this name left.
        self.write_checkpoints()?;
        Ok(Some(t))
    }

    /// Deletes a topic: metadata first (so a crash never resurrects half a topic), then files.
    pub fn delete_topic(&self, name: &str) -> Result<Uuid, TopicError> {
        let _admin = self.admin_lock.lock();
        self.refuse_if_halted()?;
        let t = self
            .topics
            .write()
            .remove(name)
            .ok_or_else(|| TopicError::UnknownTopicOrPartition(name.into()))?;
        let meta = self.data_dir.join(TOPIC_META_DIR);
        self.env.disk.remove_file(&meta.join(format!("{name}.properties")))?;
        self.env.disk.sync_dir(&meta)?;
        // No checkpoint entry of this topic may outlive it: a topic created later under the same
        // name would inherit its recovery point and log start.
        self.write_checkpoints()?;
        for p in t.partitions.read().iter() {
            // From here on nothing of the old partition writes into the directory by its name
            // (a new topic of that name may take it).
            let _files = p.durability().lock_files();
            p.with_log(|l| l.mark_deleted());
            let doomed = self.data_dir.join(format!("{}-{}.{}-delete", name, p.index, t.id.simple()));
            if self.env.disk.rename(&p.dir, &doomed).is_ok() {
                let _ = self.env.disk.remove_dir_all(&doomed);
            }
        }
        Ok(t.id)
    }

    /// Adds partitions to a topic (CreatePartitions).
    pub fn create_partitions(&self, name: &str, count: i32, validate_only: bool) -> Result<(), TopicError> {
        let t = self.topic(name).ok_or_else(|| TopicError::UnknownTopicOrPartition(name.into()))?;
        let current = t.partition_count();
        if count <= current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic currently has {current} partitions, which is higher than the requested {count}."
            )));
        }
        if count > 100_000 {
            return Err(TopicError::InvalidPartitions(format!(
                "Number of partitions {count} is above the limit of 100000."
            )));
        }
        self.check_capacity((count - current) as usize)?;
        if validate_only {
            return Ok(());
        }
        let _admin = self.admin_lock.lock();
        self.refuse_if_halted()?;
        if t.partition_count() != current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic {name} changed while its partitions were being added; retry."
            )));
        }
        let lc = self.config.log_config(&t.configs.read());
        // Made without the topic's partition lock held, so producers to the existing partitions
        // are not stopped; visible all at once, and only once the metadata names them.
        let new = self.create_partitions_on_disk(name, current..count, &lc)?;
        t.partitions.write().extend(new.iter().cloned());
        if let Err(e) = self.write_topic_meta(&t) {
            t.partitions.write().truncate(current as usize);
            self.remove_new_partitions(&new);
            return Err(e.into());
        }
        self.write_checkpoints()?;
        Ok(())
    }

    /// Replaces a topic's config overrides (validated first), persists them and applies them to
    /// every partition at once: a retention or segment change takes effect without a restart.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let t = self.topic(name).ok_or_else(|| TopicError::UnknownTopicOrPartition(name.into()))?;
        crate::config::validate_topic_configs(&overrides)?;
        if validate_only {
            return Ok(());
        }
        *t.configs.write() = overrides.clone();
        self.write_topic_meta(&t)?;
        let lc = self.config.log_config(&overrides);
        for p in t.partitions.read().iter() {
            p.with_log(|l| l.set_config(lc.clone()));
        }
        Ok(())
    }

    /// Replaces one scope of the dynamic broker configs (`per_broker`: this broker, else the
    /// cluster default), persists them, and re-resolves every partition's log settings at once.
    pub fn alter_broker_configs(
        &self,
        per_broker: bool,
        values: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), crate::config::ConfigError> {
        for (k, v) in &values {
            let def = crate::config::broker_key(k)
                .ok_or_else(|| crate::config::ConfigError::UnknownKey(k.clone()))?;
            crate::config::validate(def, v)?;
        }
        if validate_only {
            return Ok(());
        }
        let snapshot = {
            let mut d = self.config.dynamic.write();
            if per_broker {
                d.broker = values;
            } else {
                d.cluster_default = values;
            }
            d.clone()
        };
        self.env
            .disk
            .write_atomic(&self.data_dir.join(DYNAMIC_CONFIGS), snapshot.to_properties().as_bytes())
            .map_err(|e| crate::config::ConfigError::File {
                path: DYNAMIC_CONFIGS.into(),
                reason: e.to_string(),
            })?;
        for t in self.topics() {
            let lc = self.config.log_config(&t.configs.read());
            for p in t.partitions.read().iter() {
                p.with_log(|l| l.set_config(lc.clone()));
            }
        }
        Ok(())
    }

    /// Writes the recovery-point, log-start-offset and cleaner checkpoints (each atomically and
    /// durably). The recovery points written are what the partitions' tickets made durable.
    pub fn write_checkpoints(&self) -> io::Result<()> {
        let _one_writer = self.checkpoint_lock.lock();
        if self.halted.load(std::sync::atomic::Ordering::Acquire) {
            // Halted (a simulated crash): another broker may own the data dir now.
            return Ok(());
        }
        let topics = self.topics();
        let mut rp = Vec::new();
        let mut ls = Vec::new();
        let mut co = Vec::new();
        let mut written = Vec::new();
        for t in &topics {
            for p in t.partitions.read().iter() {
                let r = p.recovery_point();
                rp.push(format!("{} {} {}", t.name, p.index, r));
                ls.push(format!("{} {} {}", t.name, p.index, p.log_start_offset()));
                if p.cleaner_offset() > 0 {
                    co.push(format!("{} {} {}", t.name, p.index, p.cleaner_offset()));
                }
                written.push((p.clone(), r));
            }
        }
        let fmt = |v: &Vec<String>| {
            format!("0\n{}\n{}", v.len(), v.iter().map(|l| format!("{l}\n")).collect::<String>())
        };
        let disk = &self.env.disk;
        disk.write_atomic(&self.data_dir.join(RECOVERY_CHECKPOINT), fmt(&rp).as_bytes())?;
        disk.write_atomic(&self.data_dir.join(CLEANER_CHECKPOINT), fmt(&co).as_bytes())?;
        disk.write_atomic(&self.data_dir.join(START_CHECKPOINT), fmt(&ls).as_bytes())?;
        for (p, r) in written {
            p.set_compaction_limit(r);
        }
        Ok(())
    }

    /// Topic changes stop once the broker halts or closes: a CreateTopics still running on the
    /// blocking pool must not write into a data dir being closed or reopened.
    fn refuse_if_halted(&self) -> Result<(), TopicError> {
        let closing = self.closing.load(std::sync::atomic::Ordering::Acquire);
        if closing || self.halted.load(std::sync::atomic::Ordering::Acquire) {
            return Err(TopicError::Storage(io::Error::other("the broker is stopping")));
        }
        Ok(())
    }

    /// Waits until the background work queued so far (seal jobs of rolled segments, pending
    /// fsyncs) is done.
    pub fn settle(&self) {
        self.env.background.drain();
    }

    /// Stops every append and waits out the background work, writing nothing else: the state a
    /// `kill -9` leaves (what was written is in the page cache; no sync, checkpoint or
    /// clean-shutdown marker). A topic change or checkpoint write in flight is waited out; none
    /// starts afterwards. The data dir can then be opened again, with recovery.
    pub fn halt(&self) {
        self.halted.store(true, std::sync::atomic::Ordering::Release);
        drop(self.admin_lock.lock());
        drop(self.checkpoint_lock.lock());
        for t in self.topics() {
            for p in t.partitions.read().iter() {
                p.with_log(|l| l.stop_appends());
                p.halt_cleaning();
            }
        }
        self.env.background.drain();
    }

    /// Clean shutdown: let the seal and fsync threads finish, then for every partition its index
    /// files, txnindex, a producer snapshot and a sync of everything; then the checkpoints, then
    /// the marker.
    pub fn shutdown(&self) -> io::Result<()> {
        // No topic changes from here on (one in flight is waited out), no more appends (so no
        // more rolls and seal jobs), then the background work, then close.
        self.closing.store(true, std::sync::atomic::Ordering::Release);
        drop(self.admin_lock.lock());
        for t in self.topics() {
            for p in t.partitions.read().iter() {
                p.with_log(|l| l.stop_appends());
            }
        }
        self.env.background.drain();
        // Closing writes and syncs only what changed since the files were last complete; the
        // partitions are closed by a few threads at once (syncs wait on the device, not the CPU).
        let parts: Vec<Arc<Partition>> =
            self.topics().iter().flat_map(|t| t.partitions.read().clone()).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = parts.len().clamp(1, 8);
        let results: Vec<io::Result<()>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = parts.get(i) else { return Ok(()) };
                        p.with_log(|l| l.close())?;
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|_| Err(io::Error::other("a close thread panicked"))))
                .collect()
        });
        for r in results {
            r?;
        }
        self.write_checkpoints()?;
        if !self.storage_failed() {
            self.env.disk.write_atomic(&self.data_dir.join(CLEAN_SHUTDOWN), b"")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_that_fails_part_way_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(BrokerConfig { data_dir: dir.path().into(), ..Default::default() });
        let logs = LogManager::open(
            config,
            LogOptions {
                disk: Disk::os(),
                background: Some(super::flusher::Background::manual()),
                ..Default::default()
            },
        )
        .unwrap();
        // A plain file where partition 7's directory goes: the create fails there, after seven
        // partitions were made.
        std::fs::write(dir.path().join("half-7"), b"in the way").unwrap();
        let e =
            logs.create_topic("half", 20, BTreeMap::new(), false).err().expect("the create fails part way");
        assert!(matches!(e, TopicError::Storage(_) | TopicError::Open(_)), "{e}");
        assert!(logs.topic("half").is_none());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("half") && n != "half-7")
            .collect();
        assert!(left.is_empty(), "directories left behind: {left:?}");
    }

    #[test]
    fn a_clean_stop_rewrites_only_partitions_that_changed() {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(BrokerConfig { data_dir: dir.path().into(), ..Default::default() });
        let open = || {
            LogManager::open(
                config.clone(),
                LogOptions {
                    disk: Disk::os(),
                    background: Some(super::flusher::Background::inline()),
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let logs = open();
        logs.create_topic("t", 2, BTreeMap::new(), false).unwrap();
        let t = logs.topic("t").unwrap();
        let batch = crate::record::batch::tests::make_batch(0, 3, crate::clock::now_ms(), 30);
        t.partition(0).unwrap().append(&batch, crate::clock::now_ms()).unwrap();
        logs.shutdown().unwrap();
        drop((t, logs));
        let snapshots = |p: i32| -> Vec<(String, std::time::SystemTime)> {
            let mut v: Vec<_> = std::fs::read_dir(dir.path().join(format!("t-{p}")))
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| {
                    (e.file_name().to_string_lossy().to_string(), e.metadata().unwrap().modified().unwrap())
                })
                .collect();
            v.sort();
            v
        };
        let (before0, before1) = (snapshots(0), snapshots(1));
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Reopened cleanly; partition 1 gets a batch, partition 0 is left alone.
        let logs = open();
        let t = logs.topic("t").unwrap();
        t.partition(1).unwrap().append(&batch, crate::clock::now_ms()).unwrap();
        logs.shutdown().unwrap();
        assert_eq!(snapshots(0), before0, "an untouched partition's files are left as they were");
        assert_ne!(snapshots(1), before1, "a changed one is closed in full");
        drop((t, logs));
        let logs = open();
        let t = logs.topic("t").unwrap();
        assert_eq!(
            (t.partition(0).unwrap().high_watermark(), t.partition(1).unwrap().high_watermark()),
            (3, 3)
        );
    }

    #[test]
    fn partitions_beyond_the_broker_limit_are_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig { data_dir: dir.path().into(), ..Default::default() };
        config.set_key("max.broker.partitions", "30").unwrap();
        let logs = LogManager::open(
            Arc::new(config),
            LogOptions {
                disk: Disk::os(),
                background: Some(super::flusher::Background::manual()),
                ..Default::default()
            },
        )
        .unwrap();
        logs.create_topic("a", 20, BTreeMap::new(), false).unwrap();
        assert!(matches!(
            logs.create_topic("b", 11, BTreeMap::new(), false),
            Err(TopicError::PolicyViolation(_))
        ));
        assert!(matches!(logs.create_partitions("a", 31, false), Err(TopicError::PolicyViolation(_))));
        assert_eq!(logs.topic("a").unwrap().partition_count(), 20);
        assert!(logs.topic("b").is_none());
        logs.create_partitions("a", 30, false).unwrap();
        assert_eq!(logs.partition_count(), 30);
    }

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        assert!(validate_topic_name("__consumer_offsets").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a/b").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
    }

    #[test]
    fn cluster_id_shape() {
        let id = new_cluster_id();
        assert_eq!(id.len(), 22);
        assert_ne!(id, new_cluster_id());
    }
}
