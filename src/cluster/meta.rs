//! The cluster's keys in etcd and the transactions over them (docs/cluster.md lists them):
//!
//! ```text
//! <prefix>/cluster-id                          the cluster id (first broker's)
//! <prefix>/brokers/<id>                        host:port, under the broker's lease
//! <prefix>/topics/<name>                       {"id","partitions","configs"}
//! <prefix>/owners/<topic>/<p>                  <broker>:<epoch>, under the owner's lease
//! <prefix>/epochs/<topic>/<p>                  the partition's last epoch
//! <prefix>/epoch-starts/<topic>/<p>/<epoch>    the offset that epoch began at
//! <prefix>/hw/<topic>/<p>                      the committed offset (high watermark)
//! <prefix>/extents/<topic>/<p>/<base>          w|s, object, position, length, end offset
//! <prefix>/producer-id-block                   the first producer id not yet reserved
//! ```
use std::collections::BTreeMap;
use std::sync::Arc;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, LeaseKeepAliveStream, LeaseKeeper,
    PutOptions, Txn, TxnOp,
};

use crate::state::Peer;

type Key = (String, i32);
type Result<T> = std::result::Result<T, etcd_client::Error>;

#[derive(Clone)]
pub struct Meta {
    client: Client,
    prefix: String,
    ttl_s: i64,
    lease: Arc<parking_lot::Mutex<i64>>,
    keeper: Arc<tokio::sync::Mutex<Option<(LeaseKeeper, LeaseKeepAliveStream)>>>,
}

#[derive(Clone, Debug)]
pub struct TopicRecord {
    pub id: uuid::Uuid,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
}

/// A topic's value in etcd (JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct TopicJson {
    id: String,
    partitions: i32,
    configs: BTreeMap<String, String>,
}

impl TopicRecord {
    fn encode(&self) -> String {
        let j =
            TopicJson { id: self.id.to_string(), partitions: self.partitions, configs: self.configs.clone() };
        serde_json::to_string(&j).unwrap_or_default()
    }
    fn decode(v: &str) -> Option<TopicRecord> {
        let j: TopicJson = serde_json::from_str(v).ok()?;
        Some(TopicRecord {
            id: uuid::Uuid::parse_str(&j.id).ok()?,
            partitions: j.partitions,
            configs: j.configs,
        })
    }
}

#[derive(Clone, Debug)]
pub struct OwnerRecord {
    pub broker: i32,
    pub epoch: i32,
    /// The owner key's mod revision.
    pub rev: i64,
}

/// Where a range of a partition's batches lies: `len` bytes at `pos` of `object`, offsets
/// `[base, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extent {
    pub base: i64,
    pub end: i64,
    pub object: String,
    pub pos: u64,
    pub len: u64,
}

impl Extent {
    /// A slice of a WAL object (else a segment object, one partition's range whole).
    pub fn is_wal(&self) -> bool {
        self.object.ends_with(".wal")
    }
    fn encode(&self) -> String {
        format!("{}|{}|{}|{}", self.object, self.pos, self.len, self.end)
    }
    fn decode(base: i64, v: &str) -> Option<Extent> {
        let mut it = v.rsplitn(4, '|');
        let end = it.next()?.parse().ok()?;
        let len = it.next()?.parse().ok()?;
        let pos = it.next()?.parse().ok()?;
        let object = it.next()?.to_string();
        Some(Extent { base, end, object, pos, len })
    }
}

/// A won claim: the new epoch and what the partition holds.
pub struct Claim {
    pub epoch: i32,
    pub owner_rev: i64,
    pub hw: i64,
    pub hw_rev: i64,
    pub extents: Vec<Extent>,
    pub history: Vec<(i32, i64)>,
}

/// One partition's part of a group commit.
pub struct Commit {
    pub key: Key,
    pub owner_rev: i64,
    pub hw_rev: i64,
    pub extent: Extent,
}

pub enum CommitState {
    /// Our extent is there: committed, the high-watermark key at this revision.
    Applied(i64),
    /// Nothing changed: not committed, this broker still owns the partition.
    NotApplied,
    /// Another broker owns the partition.
    Lost,
}

fn text(v: &[u8]) -> &str {
    std::str::from_utf8(v).unwrap_or("")
}

impl Meta {
    pub async fn connect(endpoints: &[String], prefix: &str, lease_ms: u64) -> Result<Meta> {
        let opts = ConnectOptions::new()
            .with_connect_timeout(std::time::Duration::from_secs(3))
            .with_timeout(std::time::Duration::from_secs(5));
        let client = Client::connect(endpoints, Some(opts)).await?;
        Ok(Meta {
            client,
            prefix: format!("{}/", prefix.trim_end_matches('/')),
            ttl_s: lease_ms.div_ceil(1000).max(2) as i64,
            lease: Arc::new(parking_lot::Mutex::new(0)),
            keeper: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    fn k(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
    fn owner_key(&self, key: &Key) -> String {
        self.k(&format!("owners/{}/{}", key.0, key.1))
    }
    fn epoch_key(&self, key: &Key) -> String {
        self.k(&format!("epochs/{}/{}", key.0, key.1))
    }
    fn hw_key(&self, key: &Key) -> String {
        self.k(&format!("hw/{}/{}", key.0, key.1))
    }
    fn starts_prefix(&self, key: &Key) -> String {
        self.k(&format!("epoch-starts/{}/{}/", key.0, key.1))
    }
    fn extents_prefix(&self, key: &Key) -> String {
        self.k(&format!("extents/{}/{}/", key.0, key.1))
    }
    fn extent_key(&self, key: &Key, base: i64) -> String {
        format!("{}{base:020}", self.extents_prefix(key))
    }

    async fn get_one(&self, key: String) -> Result<Option<(String, i64)>> {
        let r = self.client.clone().get(key, None).await?;
        Ok(r.kvs().first().map(|kv| (text(kv.value()).to_string(), kv.mod_revision())))
    }

    async fn get_prefix(&self, prefix: String) -> Result<Vec<(String, String, i64)>> {
        let r = self.client.clone().get(prefix.clone(), Some(GetOptions::new().with_prefix())).await?;
        Ok(r.kvs()
            .iter()
            .map(|kv| {
                (text(kv.key())[prefix.len()..].to_string(), text(kv.value()).to_string(), kv.mod_revision())
            })
            .collect())
    }

    /// Writes `value` at `key` unless it exists; returns what is there afterwards.
    async fn create_or_get(&self, key: String, value: String) -> Result<String> {
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), value.clone(), None)])
            .or_else([TxnOp::get(key.clone(), None)]);
        let r = self.client.clone().txn(txn).await?;
        if r.succeeded() {
            return Ok(value);
        }
        Ok(self.get_one(key).await?.map(|(v, _)| v).unwrap_or(value))
    }

    pub async fn cluster_id(&self, candidate: &str) -> Result<String> {
        self.create_or_get(self.k("cluster-id"), candidate.to_string()).await
    }

    pub async fn register(&self, id: i32, host: &str, port: i32) -> Result<()> {
        let lease = self.client.clone().lease_grant(self.ttl_s, None).await?.id();
        *self.lease.lock() = lease;
        *self.keeper.lock().await = None;
        let opts = PutOptions::new().with_lease(lease);
        self.client
            .clone()
            .put(self.k(&format!("brokers/{id}")), format!("{host}:{port}"), Some(opts))
            .await?;
        Ok(())
    }

    pub async fn renew_and_register(&self, id: i32, host: &str, port: i32) -> Result<()> {
        self.register(id, host, port).await
    }

    /// Refreshes the lease: false once it has expired.
    pub async fn keep_alive(&self) -> Result<bool> {
        let lease = *self.lease.lock();
        let mut k = self.keeper.lock().await;
        if k.is_none() {
            *k = Some(self.client.clone().lease_keep_alive(lease).await?);
        }
        let (keeper, stream) = k.as_mut().expect("set above");
        let r = async {
            keeper.keep_alive().await?;
            stream.message().await
        }
        .await;
        match r {
            Ok(Some(resp)) => Ok(resp.ttl() > 0),
            Ok(None) => {
                *k = None;
                Err(etcd_client::Error::InvalidArgs("the keep-alive stream ended".into()))
            }
            Err(e) => {
                *k = None;
                Err(e)
            }
        }
    }

    pub async fn revoke(&self) -> Result<()> {
        let lease = *self.lease.lock();
        self.client.clone().lease_revoke(lease).await?;
        Ok(())
    }

    pub async fn brokers(&self) -> Result<Vec<Peer>> {
        let mut out: Vec<Peer> = self
            .get_prefix(self.k("brokers/"))
            .await?
            .into_iter()
            .filter_map(|(id, v, _)| {
                let (host, port) = v.rsplit_once(':')?;
                Some(Peer { id: id.parse().ok()?, host: host.to_string(), port: port.parse().ok()? })
            })
            .collect();
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    pub async fn topics(&self) -> Result<BTreeMap<String, TopicRecord>> {
        Ok(self
            .get_prefix(self.k("topics/"))
            .await?
            .into_iter()
            .filter_map(|(name, v, _)| Some((name, TopicRecord::decode(&v)?)))
            .collect())
    }

    /// Publishes a topic unless one of that name exists; returns the one that stands.
    pub async fn publish_topic(&self, name: &str, rec: &TopicRecord) -> Result<TopicRecord> {
        let stands = self.create_or_get(self.k(&format!("topics/{name}")), rec.encode()).await?;
        Ok(TopicRecord::decode(&stands).unwrap_or_else(|| rec.clone()))
    }

    pub async fn owners(&self) -> Result<BTreeMap<Key, OwnerRecord>> {
        Ok(self
            .get_prefix(self.k("owners/"))
            .await?
            .into_iter()
            .filter_map(|(k, v, rev)| {
                let (t, p) = k.rsplit_once('/')?;
                let (b, e) = v.split_once(':')?;
                Some((
                    (t.to_string(), p.parse().ok()?),
                    OwnerRecord { broker: b.parse().ok()?, epoch: e.parse().ok()?, rev },
                ))
            })
            .collect())
    }

    /// Claims an unowned partition for `me` in the next epoch, recording where the epoch
    /// starts; None when another broker got there first (or the partition moved meanwhile).
    pub async fn claim(&self, key: &Key, me: i32) -> Result<Option<Claim>> {
        let (ek, hk, ok) = (self.epoch_key(key), self.hw_key(key), self.owner_key(key));
        let (prev, r_e) = match self.get_one(ek.clone()).await? {
            Some((v, r)) => (v.parse::<i32>().ok(), r),
            None => (None, 0),
        };
        let (hw, r_hw) = match self.get_one(hk.clone()).await? {
            Some((v, r)) => (v.parse::<i64>().unwrap_or(0), r),
            None => (0, 0),
        };
        let epoch = prev.map_or(0, |e| e + 1);
        let lease = *self.lease.lock();
        let txn = Txn::new()
            .when([
                Compare::create_revision(ok.clone(), CompareOp::Equal, 0),
                Compare::mod_revision(ek.clone(), CompareOp::Equal, r_e),
                Compare::mod_revision(hk.clone(), CompareOp::Equal, r_hw),
            ])
            .and_then([
                TxnOp::put(ok, format!("{me}:{epoch}"), Some(PutOptions::new().with_lease(lease))),
                TxnOp::put(ek, epoch.to_string(), None),
                TxnOp::put(format!("{}{epoch:010}", self.starts_prefix(key)), hw.to_string(), None),
            ]);
        let r = self.client.clone().txn(txn).await?;
        if !r.succeeded() {
            return Ok(None);
        }
        let owner_rev = r.header().map(|h| h.revision()).unwrap_or(0);
        let mut extents = Vec::new();
        for (base, v, _) in self.get_prefix(self.extents_prefix(key)).await? {
            let e = base.parse().ok().and_then(|b| Extent::decode(b, &v));
            extents
                .push(e.ok_or_else(|| etcd_client::Error::InvalidArgs(format!("a malformed extent: {v}")))?);
        }
        let history = self
            .get_prefix(self.starts_prefix(key))
            .await?
            .into_iter()
            .filter_map(|(e, v, _)| Some((e.parse().ok()?, v.parse().ok()?)))
            .collect();
        Ok(Some(Claim { epoch, owner_rev, hw, hw_rev: r_hw, extents, history }))
    }

    /// Gives a partition up (its owner key, if still ours).
    pub async fn release(&self, key: &Key, owner_rev: i64) -> Result<()> {
        let ok = self.owner_key(key);
        let txn = Txn::new()
            .when([Compare::mod_revision(ok.clone(), CompareOp::Equal, owner_rev)])
            .and_then([TxnOp::delete(ok, None)]);
        self.client.clone().txn(txn).await?;
        Ok(())
    }

    /// The group commit: every partition's extent and high watermark, if every owner key and
    /// high watermark is still the one this broker last saw. Some(revision) when it committed.
    pub async fn commit(&self, commits: &[Commit]) -> Result<Option<i64>> {
        let mut when = Vec::with_capacity(commits.len() * 2);
        let mut ops = Vec::with_capacity(commits.len() * 2);
        for c in commits {
            when.push(Compare::mod_revision(self.owner_key(&c.key), CompareOp::Equal, c.owner_rev));
            when.push(Compare::mod_revision(self.hw_key(&c.key), CompareOp::Equal, c.hw_rev));
            ops.push(TxnOp::put(self.extent_key(&c.key, c.extent.base), c.extent.encode(), None));
            ops.push(TxnOp::put(self.hw_key(&c.key), c.extent.end.to_string(), None));
        }
        let r = self.client.clone().txn(Txn::new().when(when).and_then(ops)).await?;
        Ok(r.succeeded().then(|| r.header().map(|h| h.revision()).unwrap_or(0)))
    }

    pub async fn commit_state(&self, c: &Commit) -> Result<CommitState> {
        let owner = self.get_one(self.owner_key(&c.key)).await?;
        if owner.as_ref().map(|o| o.1) != Some(c.owner_rev) {
            return Ok(CommitState::Lost);
        }
        let ext = self.get_one(self.extent_key(&c.key, c.extent.base)).await?;
        let hw = self.get_one(self.hw_key(&c.key)).await?;
        match hw {
            Some((v, rev))
                if v == c.extent.end.to_string() && ext.map(|e| e.0) == Some(c.extent.encode()) =>
            {
                Ok(CommitState::Applied(rev))
            }
            Some((_, rev)) if rev == c.hw_rev => Ok(CommitState::NotApplied),
            None if c.hw_rev == 0 => Ok(CommitState::NotApplied),
            _ => Ok(CommitState::Lost),
        }
    }

    /// Replaces the extents in `[seg.base, seg.end)` by one segment object.
    pub async fn fold(&self, key: &Key, owner_rev: i64, hw_rev: i64, seg: &Extent) -> Result<bool> {
        let from = format!("{}\0", self.extent_key(key, seg.base));
        let to = self.extent_key(key, seg.end);
        let txn = Txn::new()
            .when([
                Compare::mod_revision(self.owner_key(key), CompareOp::Equal, owner_rev),
                Compare::mod_revision(self.hw_key(key), CompareOp::Equal, hw_rev),
            ])
            .and_then([
                TxnOp::delete(from, Some(DeleteOptions::new().with_range(to))),
                TxnOp::put(self.extent_key(key, seg.base), seg.encode(), None),
            ]);
        Ok(self.client.clone().txn(txn).await?.succeeded())
    }

    /// Reserves `n` producer ids for this broker; returns the first.
    pub async fn reserve_producer_ids(&self, n: i64) -> Result<i64> {
        let key = self.k("producer-id-block");
        loop {
            let (next, rev) = match self.get_one(key.clone()).await? {
                Some((v, r)) => (v.parse::<i64>().unwrap_or(0), r),
                None => (0, 0),
            };
            let txn = Txn::new()
                .when([Compare::mod_revision(key.clone(), CompareOp::Equal, rev)])
                .and_then([TxnOp::put(key.clone(), (next + n).to_string(), None)]);
            if self.client.clone().txn(txn).await?.succeeded() {
                return Ok(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_round_trip() {
        let e = Extent { base: 7, end: 19, object: "p/wal/2/abc.wal".into(), pos: 10, len: 300 };
        assert_eq!(Extent::decode(7, &e.encode()), Some(e.clone()));
        assert!(e.is_wal());
        let s = Extent { object: "p/seg/wal/0/00000000000000000007-19-x.seg".into(), ..e };
        assert!(!s.is_wal(), "a segment of a topic named wal is not a WAL slice");
    }
}
