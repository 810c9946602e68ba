//! The transaction coordinator as a pure state machine: transactions version 1, and version 2
//! (KIP-890: partitions enrolled by Produce, the epoch bumped at every EndTxn).
//!
//! Owns: each transactional id's producer id and epoch, timeout, state and partitions. Must not: do
//! I/O, read the clock, or `.await`. Every change comes out as a [`TxnRecord`] for
//! `__transaction_state`; ending a transaction also yields a [`MarkerJob`] the shell carries out
//! (COMMIT/ABORT markers on every partition, fsynced) before it calls [`Txns::complete`].
use std::collections::{BTreeSet, HashMap};

/// Kafka's transaction states, with their status codes in `__transaction_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
}

impl TxnState {
    pub fn from_code(c: i8) -> Option<TxnState> {
        Some(match c {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMeta {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub start_ms: i64,
    pub last_update_ms: i64,
}

/// What `__transaction_state` holds per transactional id (the latest record wins; compacted).
pub type TxnRecord = TxnMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    #[error("the transaction timeout is larger than transaction.max.timeout.ms")]
    InvalidTransactionTimeout,
    #[error("the producer id does not match the transactional id")]
    InvalidProducerIdMapping,
    #[error("a newer producer with the same transactional id exists")]
    ProducerFenced,
    #[error("the producer epoch is not the current one")]
    InvalidProducerEpoch,
    #[error("a previous transaction is still completing; retry")]
    ConcurrentTransactions,
    #[error("the transaction is not in a state that allows this")]
    InvalidTxnState,
    #[error("the transactional id is empty")]
    InvalidRequest,
}

/// Markers to write: every partition of the transaction gets a COMMIT or ABORT marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerJob {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub partitions: BTreeSet<(String, i32)>,
}

/// InitProducerId's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    Ready {
        producer_id: i64,
        producer_epoch: i16,
        record: TxnRecord,
    },
    /// A transaction of the previous incarnation is open: abort it first, then ask again.
    AbortFirst(MarkerJob, TxnRecord),
}

#[derive(Debug, Default)]
pub struct Txns {
    map: HashMap<String, TxnMeta>,
    pub max_timeout_ms: i32,
}

impl Txns {
    pub fn new(max_timeout_ms: i32) -> Txns {
        Txns { map: HashMap::new(), max_timeout_ms }
    }
    pub fn get(&self, id: &str) -> Option<&TxnMeta> {
        self.map.get(id)
    }
    pub fn all(&self) -> impl Iterator<Item = &TxnMeta> {
        self.map.values()
    }

    /// Restores state from a `__transaction_state` record (start-up and after each write).
    pub fn replay(&mut self, r: &TxnRecord) {
        self.map.insert(r.transactional_id.clone(), r.clone());
    }

    fn check(&self, id: &str, pid: i64, epoch: i16) -> Result<&TxnMeta, TxnError> {
        let m = self.map.get(id).ok_or(TxnError::InvalidProducerIdMapping)?;
        if m.producer_id != pid {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if epoch < m.producer_epoch {
            return Err(TxnError::ProducerFenced);
        }
        if epoch > m.producer_epoch {
            return Err(TxnError::InvalidProducerEpoch);
        }
        Ok(m)
    }

    /// InitProducerId with a transactional id. `alloc` hands out a fresh producer id.
    pub fn init_producer_id(
        &mut self,
        id: &str,
        timeout_ms: i32,
        req_pid: i64,
        req_epoch: i16,
        now: i64,
        alloc: &mut dyn FnMut() -> i64,
    ) -> Result<InitOutcome, TxnError> {
        if id.is_empty() {
            return Err(TxnError::InvalidRequest);
        }
        if timeout_ms <= 0 || timeout_ms > self.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout);
        }
        let Some(m) = self.map.get(id).cloned() else {
            let r = TxnMeta {
                transactional_id: id.to_string(),
                producer_id: alloc(),
                producer_epoch: 0,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now,
            };
            return Ok(InitOutcome::Ready { producer_id: r.producer_id, producer_epoch: 0, record: r });
        };
        if req_pid >= 0 && (req_pid != m.producer_id || req_epoch != m.producer_epoch) {
            // KIP-360: a producer retrying with an old identity is fenced by the newer one.
            return Err(TxnError::ProducerFenced);
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => Err(TxnError::ConcurrentTransactions),
            TxnState::Ongoing => {
                // Abort the previous incarnation's transaction with a bumped epoch (fences it).
                let bumped = m.producer_epoch.saturating_add(1);
                let mut r = m.clone();
                r.producer_epoch = bumped;
                r.state = TxnState::PrepareAbort;
                r.last_update_ms = now;
                let job = MarkerJob {
                    transactional_id: id.into(),
                    producer_id: m.producer_id,
                    producer_epoch: bumped,
                    commit: false,
                    partitions: m.partitions.clone(),
                };
                Ok(InitOutcome::AbortFirst(job, r))
            }
            _ => {
                let mut r = m.clone();
                if m.producer_epoch >= i16::MAX - 1 {
                    r.producer_id = alloc();
                    r.producer_epoch = 0;
                } else {
                    r.producer_epoch += 1;
                }
                r.timeout_ms = timeout_ms;
                r.state = TxnState::Empty;
                r.partitions.clear();
                r.start_ms = -1;
                r.last_update_ms = now;
                Ok(InitOutcome::Ready {
                    producer_id: r.producer_id,
                    producer_epoch: r.producer_epoch,
                    record: r,
                })
            }
        }
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: the transaction becomes (or stays) Ongoing.
    pub fn add_partitions(
        &mut self,
        id: &str,
        pid: i64,
        epoch: i16,
        parts: &[(String, i32)],
        now: i64,
    ) -> Result<Option<TxnRecord>, TxnError> {
        let m = self.check(id, pid, epoch)?;
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => return Err(TxnError::ConcurrentTransactions),
            TxnState::Dead => return Err(TxnError::InvalidTxnState),
            _ => {}
        }
        if m.state == TxnState::Ongoing && parts.iter().all(|p| m.partitions.contains(p)) {
            return Ok(None);
        }
        let mut r = m.clone();
        if r.state != TxnState::Ongoing {
            r.partitions.clear();
            r.start_ms = now;
        }
        r.state = TxnState::Ongoing;
        r.partitions.extend(parts.iter().cloned());
        r.last_update_ms = now;
        Ok(Some(r))
    }

    /// Whether `id` has an ongoing transaction containing the partition (TxnOffsetCommit needs its
    /// group's offsets partition added first).
    pub fn has_partition(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        part: &(String, i32),
    ) -> Result<bool, TxnError> {
        let m = self.check(id, pid, epoch)?;
        Ok(m.state == TxnState::Ongoing && m.partitions.contains(part))
    }

    /// EndTxn: returns the Prepare record and the markers to write, or `None` when the same
    /// outcome was already completed (a retry).
    /// With `v2` (KIP-890), the epoch moves up by one at the end of every transaction: the Prepare
    /// record and the markers carry the new epoch (fencing late writes of the old one), and a retry
    /// with the previous epoch of an already completed end is answered as a success.
    pub fn end_txn(
        &mut self,
        id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
        now: i64,
        v2: bool,
    ) -> Result<Option<(TxnRecord, MarkerJob)>, TxnError> {
        if v2 {
            if let Some(m) = self.map.get(id) {
                let done = matches!(
                    (m.state, commit),
                    (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false)
                );
                if m.producer_id == pid && epoch == m.producer_epoch - 1 && done {
                    return Ok(None);
                }
            }
        }
        let m = self.check(id, pid, epoch)?.clone();
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut r = m.clone();
                r.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
                r.last_update_ms = now;
                let marker_epoch = if v2 { epoch.saturating_add(1) } else { epoch };
                r.producer_epoch = marker_epoch;
                let job = MarkerJob {
                    transactional_id: id.into(),
                    producer_id: pid,
                    producer_epoch: marker_epoch,
                    commit,
                    partitions: m.partitions.clone(),
                };
                Ok(Some((r, job)))
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(TxnError::ConcurrentTransactions)
            }
            _ => Err(TxnError::InvalidTxnState),
        }
    }

    /// After the markers of a Prepare state are written: the Complete record.
    pub fn complete(&self, id: &str, now: i64) -> Option<TxnRecord> {
        let m = self.map.get(id)?;
        let mut r = m.clone();
        r.state = match m.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            _ => return None,
        };
        r.partitions.clear();
        r.last_update_ms = now;
        Some(r)
    }

    /// Transactions open longer than their timeout are aborted, with the epoch bumped so the
    /// producer that forgot them is fenced.
    pub fn expired(&self, now: i64) -> Vec<(TxnRecord, MarkerJob)> {
        self.map
            .values()
            .filter(|m| {
                m.state == TxnState::Ongoing && m.start_ms >= 0 && now - m.start_ms > m.timeout_ms as i64
            })
            .map(|m| {
                let mut r = m.clone();
                r.producer_epoch = m.producer_epoch.saturating_add(1);
                r.state = TxnState::PrepareAbort;
                r.last_update_ms = now;
                let job = MarkerJob {
                    transactional_id: m.transactional_id.clone(),
                    producer_id: m.producer_id,
                    producer_epoch: r.producer_epoch,
                    commit: false,
                    partitions: m.partitions.clone(),
                };
                (r, job)
            })
            .collect()
    }

    /// Transactions left in a Prepare state by a crash: their markers must be (re)written.
    pub fn unfinished(&self) -> Vec<MarkerJob> {
        self.map
            .values()
            .filter(|m| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|m| MarkerJob {
                transactional_id: m.transactional_id.clone(),
                producer_id: m.producer_id,
                producer_epoch: m.producer_epoch,
                commit: m.state == TxnState::PrepareCommit,
                partitions: m.partitions.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str, i: i32) -> (String, i32) {
        (t.to_string(), i)
    }

    fn ready(o: InitOutcome, txns: &mut Txns) -> (i64, i16) {
        match o {
            InitOutcome::Ready { producer_id, producer_epoch, record } => {
                txns.replay(&record);
                (producer_id, producer_epoch)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn commit_cycle_and_retry() {
        let mut t = Txns::new(900_000);
        let mut next = 100;
        let mut alloc = || {
            next += 1;
            next
        };
        let (pid, e) = ready(t.init_producer_id("tx", 60_000, -1, -1, 0, &mut alloc).unwrap(), &mut t);
        assert_eq!((pid, e), (101, 0));
        let r = t.add_partitions("tx", pid, e, &[p("a", 0), p("b", 1)], 10).unwrap().unwrap();
        assert_eq!(r.state, TxnState::Ongoing);
        t.replay(&r);
        assert_eq!(
            t.add_partitions("tx", pid, e, &[p("a", 0)], 11).unwrap(),
            None,
            "already in the transaction"
        );
        let (prep, job) = t.end_txn("tx", pid, e, true, 20, false).unwrap().unwrap();
        assert_eq!(job.partitions.len(), 2);
        t.replay(&prep);
        assert_eq!(t.end_txn("tx", pid, e, true, 21, false), Err(TxnError::ConcurrentTransactions));
        let done = t.complete("tx", 22).unwrap();
        assert_eq!(done.state, TxnState::CompleteCommit);
        t.replay(&done);
        assert_eq!(t.end_txn("tx", pid, e, true, 23, false), Ok(None), "a retried commit is fine");
        assert_eq!(t.end_txn("tx", pid, e, false, 23, false), Err(TxnError::InvalidTxnState));
    }

    #[test]
    fn a_new_incarnation_fences_and_aborts_the_old_one() {
        let mut t = Txns::new(900_000);
        let mut alloc = || 7;
        let (pid, e) = ready(t.init_producer_id("tx", 60_000, -1, -1, 0, &mut alloc).unwrap(), &mut t);
        let r = t.add_partitions("tx", pid, e, &[p("a", 0)], 1).unwrap().unwrap();
        t.replay(&r);
        // The zombie's transaction is aborted first, with a bumped epoch.
        let InitOutcome::AbortFirst(job, prep) =
            t.init_producer_id("tx", 60_000, -1, -1, 2, &mut alloc).unwrap()
        else {
            panic!()
        };
        assert!(!job.commit);
        assert_eq!(job.producer_epoch, 1);
        t.replay(&prep);
        let done = t.complete("tx", 3).unwrap();
        t.replay(&done);
        let (pid2, e2) = ready(t.init_producer_id("tx", 60_000, -1, -1, 4, &mut alloc).unwrap(), &mut t);
        assert_eq!((pid2, e2), (7, 2));
        assert_eq!(t.add_partitions("tx", pid, e, &[p("a", 0)], 5), Err(TxnError::ProducerFenced));
        assert_eq!(t.end_txn("tx", pid, e, true, 5, false), Err(TxnError::ProducerFenced));
        assert_eq!(t.add_partitions("tx", 99, e2, &[p("a", 0)], 5), Err(TxnError::InvalidProducerIdMapping));
    }

    #[test]
    fn timeouts_abort_and_bump_the_epoch() {
        let mut t = Txns::new(900_000);
        let mut alloc = || 1;
        let (pid, e) = ready(t.init_producer_id("tx", 1_000, -1, -1, 0, &mut alloc).unwrap(), &mut t);
        assert_eq!(
            t.init_producer_id("tx2", 1_000_000, -1, -1, 0, &mut alloc),
            Err(TxnError::InvalidTransactionTimeout)
        );
        let r = t.add_partitions("tx", pid, e, &[p("a", 0)], 100).unwrap().unwrap();
        t.replay(&r);
        assert!(t.expired(1_000).is_empty());
        let exp = t.expired(1_101);
        assert_eq!(exp.len(), 1);
        assert_eq!(exp[0].1.producer_epoch, e + 1);
        t.replay(&exp[0].0);
        assert_eq!(t.unfinished().len(), 1, "a crash now would leave markers to write");
        assert_eq!(t.end_txn("tx", pid, e, true, 1_200, false), Err(TxnError::ProducerFenced));
    }

    #[test]
    fn version_2_bumps_the_epoch_at_every_end_and_accepts_a_retry() {
        let mut t = Txns::new(900_000);
        let mut alloc = || 9;
        let (pid, e) = ready(t.init_producer_id("v2", 60_000, -1, -1, 0, &mut alloc).unwrap(), &mut t);
        let r = t.add_partitions("v2", pid, e, &[p("a", 0)], 1).unwrap().unwrap();
        t.replay(&r);
        let (prep, job) = t.end_txn("v2", pid, e, true, 2, true).unwrap().unwrap();
        assert_eq!(job.producer_epoch, e + 1, "markers carry the new epoch");
        t.replay(&prep);
        let done = t.complete("v2", 3).unwrap();
        t.replay(&done);
        assert_eq!(t.get("v2").unwrap().producer_epoch, e + 1);
        assert_eq!(
            t.end_txn("v2", pid, e, true, 4, true),
            Ok(None),
            "a retry with the previous epoch succeeds"
        );
        assert_eq!(t.add_partitions("v2", pid, e, &[p("a", 0)], 5), Err(TxnError::ProducerFenced));
        assert!(
            t.add_partitions("v2", pid, e + 1, &[p("a", 0)], 5).unwrap().is_some(),
            "the next transaction uses the new epoch"
        );
    }
}
