//! Several brokers over etcd and an S3-compatible object store (feature `cluster`; the keys, the
//! object layout and the sequences are in docs/cluster.md).
//!
//! Every partition has one owner: a key in etcd under the owner's lease, written by a claim that
//! bumps the partition's epoch (the Kafka leader epoch clients see). The owner appends to its
//! `PartitionLog` as a single broker does (the local directory is a cache); the uploader packs
//! the new batches of every owned partition into one WAL object, PUTs it, then commits where each
//! partition's data lies (an extent key per upload and the new high watermark) in one etcd
//! transaction that compares every included partition's owner key. acks=all is answered after
//! that commit and readers see records below it only; an owner that lost its lease (paused,
//! partitioned, a zombie) fails the comparison, so nothing it writes becomes visible. A new owner
//! claims first, then rebuilds the log from the extents and serves.
//!
//! `meta.rs`: the etcd keys and transactions. `store.rs`: the object store. This file: joining,
//! the lease, the control loop (membership, topics, claims, balance) and the uploader.
mod meta;
mod store;

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::log::Lead;
use crate::record::batch::BatchIter;
use crate::state::BrokerState;
use meta::Meta;
use store::Store;

type Key = (String, i32);

/// What this broker holds of a partition it owns.
#[derive(Clone, Debug)]
struct Owned {
    epoch: i32,
    /// The owner key's mod revision (every commit compares it).
    owner_rev: i64,
    /// The high-watermark key's mod revision after our last commit.
    hw_rev: i64,
    committed: i64,
    /// Where the trailing run of WAL extents starts, and how many there are (folded into one
    /// segment object when they are many).
    fold_base: i64,
    small: usize,
}

/// WAL extents of a partition folded into one segment object once there are this many.
const FOLD_AT: usize = 64;
/// At most this much of one partition goes into one WAL object.
const PART_CHUNK: u32 = 1 << 20;
/// A WAL object is cut at this size.
const WAL_MAX: usize = 8 << 20;

pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<BrokerState>,
    id: i32,
    meta: Meta,
    store: Store,
    lease_ms: u64,
    linger: Duration,
    owned: Mutex<HashMap<Key, Owned>>,
    /// When each live broker was first seen: partitions move to a newcomer only once it is settled.
    seen: Mutex<HashMap<i32, Instant>>,
    /// Since when a partition has had no owner (anyone claims it after a grace).
    unowned: Mutex<HashMap<Key, Instant>>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl Node {
    /// Joins the cluster: connects to etcd and the object store, agrees on the cluster id, takes
    /// a lease and registers this broker, and shares producer-id blocks through etcd.
    pub async fn join(state: Arc<BrokerState>) -> io::Result<Node> {
        // The object store's HTTPS client takes the process's rustls provider: ring, as the
        // broker's own TLS (an error only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = state.config.clone();
        let endpoints: Vec<String> = c
            .get("cluster.metadata.endpoints")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let prefix = c.get("cluster.metadata.prefix").unwrap_or_else(|| "/odradek".into());
        let lease_ms: u64 = c.setting("cluster.lease.ms");
        let unreachable = |e: etcd_client::Error| {
            other(format!("cannot reach etcd at {} (cluster.metadata.endpoints): {e}", endpoints.join(",")))
        };
        let meta = Meta::connect(&endpoints, &prefix, lease_ms).await.map_err(unreachable)?;
        let store = Store::open(&c).map_err(other)?;
        let cluster_id = meta.cluster_id(&state.logs.cluster_id).await.map_err(unreachable)?;
        *state.peers.cluster_id.write() = Some(cluster_id.clone());
        let (host, port) = state.advertised();
        meta.register(state.node_id(), &host, port).await.map_err(other)?;
        let pids = meta.clone();
        state.producer_ids.share(Box::new(move |n| {
            // Blocking, once per block: the handler's worker waits a round trip to etcd.
            let m = pids.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                rt.block_on(m.reserve_producer_ids(n)).map_err(other)
            })
            .join()
            .map_err(|_| other("the producer-id reservation thread panicked"))?
        }));
        tracing::info!(node_id = state.node_id(), %cluster_id, endpoints = %endpoints.join(","), storage = %store.describe(), "joined the cluster");
        let linger = Duration::from_millis(c.setting("cluster.commit.linger.ms"));
        Ok(Node {
            inner: Arc::new(Inner {
                id: state.node_id(),
                state,
                meta,
                store,
                lease_ms,
                linger,
                owned: Mutex::new(HashMap::new()),
                seen: Mutex::new(HashMap::new()),
                unowned: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The lease keeper, the control loop and the uploader, until `shutdown`.
    pub fn spawn(self, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let i = self.inner;
        vec![
            tokio::spawn(i.clone().keep_lease(shutdown.clone())),
            tokio::spawn(i.clone().control(shutdown.clone())),
            tokio::spawn(i.uploader(shutdown)),
        ]
    }
}

impl Inner {
    async fn keep_lease(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let every = Duration::from_millis((self.lease_ms / 3).max(200));
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    let _ = self.meta.revoke().await;
                    return;
                }
                _ = tokio::time::sleep(every) => {}
            }
            match self.meta.keep_alive().await {
                Ok(true) => {}
                Ok(false) => {
                    // The lease expired (this process was paused, or etcd was out of reach too
                    // long): every owner key under it is gone. Stop leading, then rejoin.
                    tracing::warn!(
                        "the cluster lease expired: giving up every partition and registering again"
                    );
                    self.drop_all();
                    let (host, port) = self.state.advertised();
                    if let Err(e) = self.meta.renew_and_register(self.id, &host, port).await {
                        tracing::warn!(error = %e, "registering again failed; retrying");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "lease keep-alive failed; retrying"),
            }
        }
    }

    fn drop_all(&self) {
        let keys: Vec<Key> = self.owned.lock().drain().map(|(k, _)| k).collect();
        for k in keys {
            self.stop_leading(&k, None, -1);
        }
    }

    /// This broker no longer leads `key`: appends waiting for their commit fail, reads stop.
    fn stop_leading(&self, key: &Key, leader: Option<i32>, epoch: i32) {
        if let Some(p) = self.state.logs.topic(&key.0).and_then(|t| t.partition(key.1)) {
            let l = p.lead();
            p.set_lead(Lead { here: false, leader, epoch, history: l.history });
        }
    }

    async fn control(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.control_once().await {
                tracing::warn!(error = %e, "cluster control loop: {e}");
            }
        }
    }

    async fn control_once(&self) -> io::Result<()> {
        let peers = self.meta.brokers().await.map_err(other)?;
        let live: Vec<i32> = peers.iter().map(|p| p.id).collect();
        {
            let mut seen = self.seen.lock();
            seen.retain(|id, _| live.contains(id));
            for id in &live {
                seen.entry(*id).or_insert_with(Instant::now);
            }
        }
        *self.state.peers.live.write() = peers;
        let topics = self.sync_topics().await?;
        let owners = self.meta.owners().await.map_err(other)?;
        let settle = Duration::from_millis(self.lease_ms.max(2000));
        let mut release: Option<(Key, Owned)> = None;
        for (name, count) in topics {
            for p in 0..count {
                let key = (name.clone(), p);
                let mine = self.owned.lock().get(&key).cloned();
                match owners.get(&key) {
                    Some(o) if Some(o.rev) == mine.as_ref().map(|m| m.owner_rev) => {
                        let want = desired(&key, &live);
                        let newcomer_settled =
                            want.and_then(|w| self.seen.lock().get(&w).map(|t| t.elapsed() > settle));
                        if want != Some(self.id) && newcomer_settled == Some(true) && release.is_none() {
                            release = Some((key.clone(), mine.clone().expect("matched above")));
                        }
                    }
                    Some(o) => {
                        if mine.is_some() {
                            tracing::warn!(topic = %key.0, partition = key.1, owner = o.broker, epoch = o.epoch, "the partition has a new owner: this broker stops leading it");
                            self.owned.lock().remove(&key);
                        }
                        self.unowned.lock().remove(&key);
                        self.route(&key, Some(o.broker), o.epoch);
                    }
                    None => {
                        if mine.is_some() {
                            tracing::warn!(topic = %key.0, partition = key.1, "the partition's owner key is gone: this broker stops leading it");
                            self.owned.lock().remove(&key);
                            self.route(&key, None, -1);
                        }
                        let since = *self.unowned.lock().entry(key.clone()).or_insert_with(Instant::now);
                        let grace = Duration::from_millis(self.lease_ms / 2);
                        if desired(&key, &live) == Some(self.id) || since.elapsed() > grace {
                            self.claim(&key).await?;
                        }
                    }
                }
            }
        }
        if let Some((key, o)) = release {
            // Balance: the partition's preferred owner is alive and settled; hand it over.
            tracing::info!(topic = %key.0, partition = key.1, "releasing the partition to its preferred owner");
            self.owned.lock().remove(&key);
            self.stop_leading(&key, None, o.epoch);
            self.meta.release(&key, o.owner_rev).await.map_err(other)?;
        }
        Ok(())
    }

    /// Routing of a partition this broker does not own: where Metadata sends clients.
    fn route(&self, key: &Key, leader: Option<i32>, epoch: i32) {
        if let Some(p) = self.state.logs.topic(&key.0).and_then(|t| t.partition(key.1)) {
            let l = p.lead();
            if l.here || l.leader != leader || l.epoch != epoch {
                p.set_lead(Lead { here: false, leader, epoch, history: l.history });
            }
        }
    }

    /// Topics: the ones in etcd are made here (under their ids); ones made here first (CreateTopics,
    /// auto-creation) are published. Returns every topic etcd has, with its partition count.
    async fn sync_topics(&self) -> io::Result<Vec<(String, i32)>> {
        let logs = &self.state.logs;
        let mut known = self.meta.topics().await.map_err(other)?;
        for t in logs.topics() {
            if known.contains_key(&t.name) {
                continue;
            }
            let rec = meta::TopicRecord {
                id: t.id,
                partitions: t.partition_count(),
                configs: t.configs.read().clone(),
            };
            let won = self.meta.publish_topic(&t.name, &rec).await.map_err(other)?;
            known.insert(t.name.clone(), won);
        }
        let mut out = Vec::new();
        for (name, rec) in known {
            match logs.topic(&name) {
                Some(t) if t.id == rec.id => {}
                Some(_) => {
                    // Made here at the same time as on another broker, which published first: ours
                    // (unowned, so never written) gives way to the published one.
                    tracing::info!(topic = %name, "another broker created this topic first: taking its id");
                    let l = logs.clone();
                    let n = name.clone();
                    tokio::task::spawn_blocking(move || l.delete_topic(&n))
                        .await
                        .map_err(other)?
                        .map_err(other)?;
                    self.make_topic(&name, &rec).await?;
                }
                None => self.make_topic(&name, &rec).await?,
            }
            out.push((name, rec.partitions));
        }
        Ok(out)
    }

    async fn make_topic(&self, name: &str, rec: &meta::TopicRecord) -> io::Result<()> {
        let l = self.state.logs.clone();
        let (n, r) = (name.to_string(), rec.clone());
        let made = tokio::task::spawn_blocking(move || {
            l.create_topic_as(&n, r.partitions, r.configs, false, Some(r.id))
        })
        .await
        .map_err(other)?;
        match made {
            Ok(_) | Err(crate::log::TopicError::TopicAlreadyExists(_)) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    /// Claims an unowned partition (bumping its epoch), rebuilds its log from the object store,
    /// then leads it.
    async fn claim(&self, key: &Key) -> io::Result<()> {
        let Some(claim) = self.meta.claim(key, self.id).await.map_err(other)? else {
            return Ok(());
        };
        self.unowned.lock().remove(key);
        let started = Instant::now();
        match self.rebuild(key, &claim).await {
            Ok(o) => {
                tracing::info!(
                    topic = %key.0, partition = key.1, epoch = claim.epoch, high_watermark = claim.hw,
                    extents = claim.extents.len(), ms = started.elapsed().as_millis() as u64,
                    "claimed the partition"
                );
                self.owned.lock().insert(key.clone(), o);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(topic = %key.0, partition = key.1, error = %e, "rebuilding a claimed partition failed; releasing it");
                let _ = self.meta.release(key, claim.owner_rev).await;
                Err(e)
            }
        }
    }

    async fn rebuild(&self, key: &Key, claim: &meta::Claim) -> io::Result<Owned> {
        let base = claim.extents.first().map(|e| e.base).unwrap_or(claim.hw);
        let mut bytes = Vec::new();
        let mut at = base;
        for e in &claim.extents {
            if e.base != at {
                return Err(other(format!(
                    "the extents of {}-{} are not contiguous at offset {at}",
                    key.0, key.1
                )));
            }
            let b = self.store.get_range(&e.object, e.pos, e.len).await.map_err(other)?;
            if b.len() as u64 != e.len {
                return Err(other(format!("object {} is shorter than its extent", e.object)));
            }
            bytes.extend_from_slice(&b);
            at = e.end;
        }
        if at != claim.hw {
            return Err(other(format!(
                "the extents of {}-{} end at {at}, the high watermark is {}",
                key.0, key.1, claim.hw
            )));
        }
        let l = self.state.logs.clone();
        let (t, p) = key.clone();
        let part = tokio::task::spawn_blocking(move || l.replace_partition(&t, p, base, &bytes))
            .await
            .map_err(other)?
            .map_err(other)?;
        if part.with_log(|l| l.log_end_offset()) != claim.hw {
            return Err(other("the rebuilt log does not end at the high watermark"));
        }
        part.commit_to(claim.hw);
        part.set_lead(Lead {
            here: true,
            leader: Some(self.id),
            epoch: claim.epoch,
            history: claim.history.clone(),
        });
        let trailing = claim.extents.iter().rev().take_while(|e| e.is_wal()).count();
        let fold_base = claim
            .extents
            .len()
            .checked_sub(trailing)
            .and_then(|i| claim.extents.get(i))
            .map(|e| e.base)
            .unwrap_or(claim.hw);
        Ok(Owned {
            epoch: claim.epoch,
            owner_rev: claim.owner_rev,
            hw_rev: claim.hw_rev,
            committed: claim.hw,
            fold_base,
            small: trailing,
        })
    }

    async fn uploader(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let wait = match self.upload_once().await {
                Ok(true) => self.linger,
                Ok(false) => Duration::from_millis(2).max(self.linger),
                Err(e) => {
                    tracing::warn!(error = %e, "cluster upload failed; retrying");
                    Duration::from_millis(200)
                }
            };
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One group commit: new batches of every owned partition into one WAL object, then one etcd
    /// transaction. Returns whether there was anything to upload.
    async fn upload_once(&self) -> io::Result<bool> {
        let owned: Vec<(Key, Owned)> =
            self.owned.lock().iter().map(|(k, o)| (k.clone(), o.clone())).collect();
        let mut wal: Vec<u8> = Vec::new();
        let mut parts: Vec<(Key, Owned, u64, u64, i64)> = Vec::new();
        for (key, o) in owned {
            let Some(p) = self.state.logs.topic(&key.0).and_then(|t| t.partition(key.1)) else { continue };
            let lead = p.lead();
            if !lead.here || lead.epoch != o.epoch {
                continue;
            }
            let bytes = p.read_uncommitted(o.committed, PART_CHUNK).map_err(|e| other(format!("{e:?}")))?;
            let (mut len, mut end) = (0usize, o.committed);
            for (pos, h) in BatchIter::new(&bytes) {
                len = pos + h.total_len();
                end = h.next_offset();
            }
            if len == 0 {
                continue;
            }
            parts.push((key, o, wal.len() as u64, len as u64, end));
            wal.extend_from_slice(&bytes[..len]);
            if wal.len() >= WAL_MAX {
                break;
            }
        }
        if parts.is_empty() {
            self.fold_some().await?;
            return Ok(false);
        }
        let object = self.store.wal_name(self.id);
        self.store.put(&object, wal).await.map_err(other)?;
        let commits: Vec<meta::Commit> = parts
            .iter()
            .map(|(key, o, pos, len, end)| meta::Commit {
                key: key.clone(),
                owner_rev: o.owner_rev,
                hw_rev: o.hw_rev,
                extent: meta::Extent {
                    base: o.committed,
                    end: *end,
                    object: object.clone(),
                    pos: *pos,
                    len: *len,
                },
            })
            .collect();
        let outcome = self.meta.commit(&commits).await;
        let revisions: HashMap<Key, i64> = match outcome {
            Ok(Some(rev)) => commits.iter().map(|c| (c.key.clone(), rev)).collect(),
            // Refused, or no answer (etcd may have applied it): ask etcd what happened per partition.
            Ok(None) | Err(_) => {
                if let Err(e) = &outcome {
                    tracing::warn!(error = %e, "the commit got no answer; checking what etcd holds");
                }
                self.settle(&commits).await.map_err(other)?
            }
        };
        self.commit_parts(&parts, &revisions);
        self.fold_some().await?;
        Ok(true)
    }

    fn commit_parts(&self, parts: &[(Key, Owned, u64, u64, i64)], revisions: &HashMap<Key, i64>) {
        for (key, o, _, _, end) in parts {
            let Some(rev) = revisions.get(key) else { continue };
            if let Some(m) = self.owned.lock().get_mut(key).filter(|m| m.epoch == o.epoch) {
                m.hw_rev = *rev;
                m.committed = *end;
                m.small += 1;
            }
            if let Some(p) = self.state.logs.topic(&key.0).and_then(|t| t.partition(key.1)) {
                if p.lead().epoch == o.epoch {
                    p.commit_to(*end);
                }
            }
        }
    }

    /// After a refused or unanswered commit: for each partition, whether etcd holds our extent
    /// (then it is committed, at the revision returned), still our previous state (not committed:
    /// the next round uploads it again), or another owner (this broker stops leading it).
    async fn settle(&self, commits: &[meta::Commit]) -> Result<HashMap<Key, i64>, etcd_client::Error> {
        let mut done = HashMap::new();
        for c in commits {
            match self.meta.commit_state(c).await? {
                meta::CommitState::Applied(rev) => {
                    done.insert(c.key.clone(), rev);
                }
                meta::CommitState::NotApplied => {}
                meta::CommitState::Lost => {
                    tracing::warn!(topic = %c.key.0, partition = c.key.1, "a commit was refused: another broker owns the partition now");
                    self.owned.lock().remove(&c.key);
                    self.stop_leading(&c.key, None, -1);
                }
            }
        }
        Ok(done)
    }

    /// Folds the trailing WAL extents of a partition that has many into one segment object.
    async fn fold_some(&self) -> io::Result<()> {
        let due: Option<(Key, Owned)> =
            self.owned.lock().iter().find(|(_, o)| o.small >= FOLD_AT).map(|(k, o)| (k.clone(), o.clone()));
        let Some((key, o)) = due else { return Ok(()) };
        let Some(p) = self.state.logs.topic(&key.0).and_then(|t| t.partition(key.1)) else { return Ok(()) };
        let mut bytes = Vec::new();
        let mut at = o.fold_base;
        while at < o.committed {
            let b = p.read_uncommitted(at, 4 << 20).map_err(|e| other(format!("{e:?}")))?;
            let mut took = 0;
            for (pos, h) in BatchIter::new(&b) {
                if h.base_offset >= o.committed {
                    break;
                }
                took = pos + h.total_len();
                at = h.next_offset();
            }
            if took == 0 {
                return Err(other(format!("{}-{}: no batch at offset {at} to fold", key.0, key.1)));
            }
            bytes.extend_from_slice(&b[..took]);
        }
        if at != o.committed {
            return Err(other("folding ran past the committed offset"));
        }
        let object = self.store.segment_name(&key, o.fold_base, o.committed);
        let len = bytes.len() as u64;
        self.store.put(&object, bytes).await.map_err(other)?;
        let seg = meta::Extent { base: o.fold_base, end: o.committed, object, pos: 0, len };
        if self.meta.fold(&key, o.owner_rev, o.hw_rev, &seg).await.map_err(other)? {
            if let Some(m) = self.owned.lock().get_mut(&key).filter(|m| m.epoch == o.epoch) {
                m.small = m.small.saturating_sub(o.small);
                m.fold_base = o.committed;
            }
            tracing::debug!(topic = %key.0, partition = key.1, from = o.fold_base, to = o.committed, "folded WAL extents into a segment object");
        }
        Ok(())
    }
}

/// The broker a partition prefers among the live ones (rendezvous hashing: a broker that comes
/// or goes moves only its own share).
fn desired(key: &Key, live: &[i32]) -> Option<i32> {
    live.iter().copied().max_by_key(|b| {
        let mut h = crc32c::crc32c(key.0.as_bytes());
        h = crc32c::crc32c_append(h, &key.1.to_be_bytes());
        crc32c::crc32c_append(h, &b.to_be_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_owners_spread_and_move_little() {
        let keys: Vec<Key> = (0..12).map(|p| ("t".to_string(), p)).collect();
        let three: Vec<Option<i32>> = keys.iter().map(|k| desired(k, &[1, 2, 3])).collect();
        for b in 1..=3 {
            assert!(three.contains(&Some(b)), "broker {b} prefers none of 12 partitions: {three:?}");
        }
        // Broker 3 leaves: only its partitions move.
        for (k, before) in keys.iter().zip(&three) {
            let after = desired(k, &[1, 2]);
            if *before != Some(3) {
                assert_eq!(after, *before);
            }
        }
        assert_eq!(desired(&keys[0], &[]), None);
    }
}
