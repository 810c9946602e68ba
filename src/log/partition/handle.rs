//! `Partition`: the shared handle the rest of the broker holds: atomics readable without a lock
//! (high watermark, log start, last stable offset; the recovery point is in `Durability`) and
//! the `PartitionLog` under
//! a short lock, plus the parked fetches to wake.
use super::*;

/// A partition as the rest of the broker sees it.
pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub dir: PathBuf,
    log: Mutex<PartitionLog>,
    high_watermark: AtomicI64,
    log_start_offset: AtomicI64,
    last_stable_offset: AtomicI64,
    durability: Arc<Durability>,
    /// The recovery point as last written to the checkpoint file: the compactor rewrites only
    /// segments below it. Unlimited for a log without a checkpoint file (standalone), where the
    /// recovery point itself is the limit.
    compaction_limit: AtomicI64,
    /// Where the compactor's dirty section starts (the cleaner checkpoint).
    cleaner_offset: AtomicI64,
    /// When the first tombstone kept by the compactor may be removed (i64::MAX: none kept).
    tombstone_expiry: AtomicI64,
    waiters: Mutex<Vec<Arc<Notify>>>,
    /// Held by a cleaner pass (retention or compaction) for its whole run: the background
    /// cleaner and the control API's passes never work on one partition at once (they share the
    /// compactor's temporary file names), and a halt waits for a pass in flight.
    cleaning: Mutex<()>,
    /// Set by `LogManager::halt`: no cleaner pass starts on this partition any more.
    halted: std::sync::atomic::AtomicBool,
    /// What clients wrote and read here (the broker's topic metrics add these up).
    pub traffic: Traffic,
    /// Who leads the partition, in which epoch (one node: this broker, LEADER_EPOCH, forever).
    lead: parking_lot::RwLock<Lead>,
    /// Below what records are committed and visible (i64::MAX on one node, where every appended
    /// record is; a cluster's commit to the metadata store moves it). Waiters watch it.
    committed: AtomicI64,
    commits: tokio::sync::watch::Sender<(i64, i32, bool)>,
}

/// Reads `want` bytes of a planned read, after the partition lock is released. Allocated for what
/// is there to read, never for what was asked.
fn read_planned(plan: Option<ReadPlan>, want: u32) -> io::Result<Bytes> {
    Ok(match plan {
        Some(p) if want > 0 => {
            let mut buf = bytes::BytesMut::zeroed(want as usize);
            let n = p.file.read_at(&mut buf, p.position as u64)?;
            buf.truncate(n);
            buf.freeze()
        }
        _ => Bytes::new(),
    })
}

/// Leadership of a partition. On one node this broker leads at [`LEADER_EPOCH`] from offset 0;
/// in a cluster (feature `cluster`) the owner in the metadata store leads, each new owner in a
/// new epoch.
#[derive(Clone, Debug)]
pub struct Lead {
    /// This broker leads: it takes appends and serves reads.
    pub here: bool,
    /// The leading broker when it is another one (None: this broker, or nobody is known).
    pub leader: Option<i32>,
    pub epoch: i32,
    /// (epoch, first offset) of every epoch of the log, oldest first (empty: one epoch,
    /// LEADER_EPOCH, from the log start).
    pub history: Vec<(i32, i64)>,
}

impl Default for Lead {
    fn default() -> Lead {
        Lead { here: true, leader: None, epoch: LEADER_EPOCH, history: Vec::new() }
    }
}

/// How a request's leader epoch compares with the partition's (KIP-320), as Kafka's leader
/// checks it before serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderCheck {
    Ok,
    /// Another broker leads (or nobody does yet).
    NotLeader,
    /// The request names an older epoch than the leader's.
    Fenced,
    /// The request names a newer epoch than this broker knows.
    Unknown,
}

/// Why a wait for a commit ended without it.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("this broker no longer leads the partition (it moved to a new epoch before the commit)")]
    Moved,
}

/// Bytes and records appended by producers and returned by fetches, since the broker started.
#[derive(Default)]
pub struct Traffic {
    pub bytes_in: AtomicU64,
    pub messages_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub messages_out: AtomicU64,
}

impl Traffic {
    /// A fetch returned these record batches (the last may be cut short; its records are counted
    /// only when its header is whole).
    pub fn fetched(&self, records: &[u8]) {
        if records.is_empty() {
            return;
        }
        let mut n = 0u64;
        for (_, h) in BatchIter::new(records) {
            if !h.is_control() {
                n += h.records_count.max(0) as u64;
            }
        }
        self.bytes_out.fetch_add(records.len() as u64, Ordering::Relaxed);
        self.messages_out.fetch_add(n, Ordering::Relaxed);
    }
}

impl Partition {
    /// Takes the partition's cleaner lock for a pass; `None` once the log manager has halted.
    /// Blocking: call it on the blocking pool, never under another of the partition's locks.
    pub fn begin_cleaning(&self) -> Option<parking_lot::MutexGuard<'_, ()>> {
        let g = self.cleaning.lock();
        (!self.halted.load(Ordering::Acquire)).then_some(g)
    }

    /// Waits out a pass in flight and refuses later ones.
    pub fn halt_cleaning(&self) {
        let _g = self.cleaning.lock();
        self.halted.store(true, Ordering::Release);
    }

    pub fn new(topic: String, index: i32, log: PartitionLog) -> Partition {
        let (leo, lso) = (log.log_end_offset(), log.log_start_offset());
        let stable = log.last_stable_offset();
        Partition {
            topic,
            index,
            dir: log.dir().to_path_buf(),
            durability: log.durability().clone(),
            log: Mutex::new(log),
            high_watermark: AtomicI64::new(leo),
            log_start_offset: AtomicI64::new(lso),
            last_stable_offset: AtomicI64::new(stable),
            compaction_limit: AtomicI64::new(i64::MAX),
            cleaner_offset: AtomicI64::new(0),
            tombstone_expiry: AtomicI64::new(i64::MAX),
            waiters: Mutex::new(Vec::new()),
            cleaning: Mutex::new(()),
            halted: std::sync::atomic::AtomicBool::new(false),
            traffic: Traffic::default(),
            lead: parking_lot::RwLock::new(Lead::default()),
            committed: AtomicI64::new(i64::MAX),
            commits: tokio::sync::watch::Sender::new((i64::MAX, LEADER_EPOCH, true)),
        }
    }

    /// The high watermark: the log end offset, or below it the committed offset (a cluster).
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire).min(self.committed.load(Ordering::Acquire))
    }

    /// Whether appends wait for a commit beyond this log (a cluster's partition): acks=all then
    /// waits for [`Partition::wait_committed`] instead of the local fsync.
    pub fn replicated(&self) -> bool {
        self.committed.load(Ordering::Acquire) != i64::MAX
    }

    pub fn lead(&self) -> Lead {
        self.lead.read().clone()
    }

    /// Sets who leads; the log stamps `epoch` into later batches. Commit waiters of an older
    /// epoch (or once this broker stops leading) fail.
    pub fn set_lead(&self, lead: Lead) {
        let (here, epoch) = (lead.here, lead.epoch);
        self.with_log(|l| l.set_leader_epoch(epoch));
        *self.lead.write() = lead;
        let c = self.committed.load(Ordering::Acquire);
        self.commits.send_replace((c, epoch, here));
        self.wake_waiters();
    }

    /// A request's view of leadership: `current_epoch` is the epoch it names (-1: none).
    pub fn check_leader(&self, current_epoch: i32) -> LeaderCheck {
        let l = self.lead.read();
        if !l.here {
            LeaderCheck::NotLeader
        } else if current_epoch >= 0 && current_epoch < l.epoch {
            LeaderCheck::Fenced
        } else if current_epoch > l.epoch {
            LeaderCheck::Unknown
        } else {
            LeaderCheck::Ok
        }
    }

    /// The last offset (exclusive) of `epoch` and the largest epoch at or below it that the log
    /// has (OffsetForLeaderEpoch); None when the log has no epoch at or below it.
    pub fn epoch_end(&self, epoch: i32) -> Option<(i32, i64)> {
        let l = self.lead.read();
        if l.history.is_empty() {
            return (0..=l.epoch).contains(&epoch).then(|| (l.epoch, self.high_watermark()));
        }
        let i = l.history.iter().rposition(|(e, _)| *e <= epoch)?;
        let end = l.history.get(i + 1).map(|(_, start)| *start).unwrap_or_else(|| self.high_watermark());
        Some((l.history[i].0, end))
    }

    /// Records are committed below `offset` (a cluster's commit); parked fetches and acks=all
    /// waiters see it.
    pub fn commit_to(&self, offset: i64) {
        self.committed.store(offset, Ordering::Release);
        let l = self.lead.read();
        self.commits.send_replace((offset, l.epoch, l.here));
        drop(l);
        self.wake_waiters();
    }

    /// Waits until everything below `offset` is committed in `epoch`, the epoch the append was
    /// made in.
    pub async fn wait_committed(&self, offset: i64, epoch: i32) -> Result<(), CommitError> {
        let mut rx = self.commits.subscribe();
        let r = rx.wait_for(|(c, e, here)| *c >= offset || *e != epoch || !*here).await;
        match r {
            Ok(v) if v.0 >= offset && v.1 == epoch && v.2 => Ok(()),
            _ => Err(CommitError::Moved),
        }
    }

    /// Bytes of whole batches from `offset`, committed or not, at most `max_bytes` (at least one
    /// batch): what a cluster's uploader sends to the object store.
    pub fn read_uncommitted(&self, offset: i64, max_bytes: u32) -> Result<Bytes, ReadError> {
        let (plan, want, ..) = self.plan_read(offset, max_bytes, true, i64::MAX, false, false)?;
        Ok(read_planned(plan, want)?)
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }
    /// The last stable offset: read_committed consumers see records below it only.
    pub fn last_stable_offset(&self) -> i64 {
        self.last_stable_offset.load(Ordering::Acquire).min(self.committed.load(Ordering::Acquire))
    }
    /// Every offset below it is on disk (see durability.rs).
    pub fn recovery_point(&self) -> i64 {
        self.durability.recovery_point()
    }
    pub fn durability(&self) -> &Arc<Durability> {
        &self.durability
    }
    /// A ticket for everything appended so far.
    pub fn ticket(&self) -> SyncTicket {
        self.durability.ticket(self.high_watermark())
    }
    /// Below what the compactor may rewrite: the checkpointed recovery point (a log without a
    /// checkpoint file: its recovery point).
    pub fn compaction_limit(&self) -> i64 {
        self.compaction_limit.load(Ordering::Acquire).min(self.recovery_point())
    }
    /// Whether the checkpoint file lags the recovery point (a compaction pass then writes it first).
    pub fn checkpoint_behind(&self) -> bool {
        self.compaction_limit.load(Ordering::Acquire) < self.recovery_point()
    }
    /// The recovery point just written to the checkpoint file.
    pub fn set_compaction_limit(&self, offset: i64) {
        self.compaction_limit.store(offset, Ordering::Release);
    }
    pub fn cleaner_offset(&self) -> i64 {
        self.cleaner_offset.load(Ordering::Acquire)
    }
    pub fn set_cleaner_offset(&self, offset: i64) {
        self.cleaner_offset.store(offset, Ordering::Release);
    }
    pub fn tombstone_expiry(&self) -> i64 {
        self.tombstone_expiry.load(Ordering::Acquire)
    }
    pub fn set_tombstone_expiry(&self, at_ms: i64) {
        self.tombstone_expiry.store(at_ms, Ordering::Release);
    }
    /// Runs `f` on the locked log (short, bounded work only).
    pub fn with_log<R>(&self, f: impl FnOnce(&mut PartitionLog) -> R) -> R {
        let mut log = self.log.lock();
        let r = f(&mut log);
        self.high_watermark.store(log.log_end_offset(), Ordering::Release);
        self.log_start_offset.store(log.log_start_offset(), Ordering::Release);
        self.last_stable_offset.store(log.last_stable_offset(), Ordering::Release);
        r
    }

    /// Appends a producer's batches: every record is validated first, without the lock (Kafka's
    /// produce-time checks: see `record::validate`), then the batches are appended under it.
    pub fn append(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        self.append_from(records, now_ms, Origin::Client)
    }

    /// [`Partition::append`] of a batch the broker's own coordinator wrote for a producer (the
    /// offsets a transaction commits): its epoch is checked, it has no sequence to check.
    pub fn append_from_coordinator(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        self.append_from(records, now_ms, Origin::Coordinator)
    }

    fn append_from(&self, records: &[u8], now_ms: i64, origin: Origin) -> Result<AppendInfo, AppendError> {
        let rules = self.log.lock().validation_rules(now_ms);
        for (pos, h) in BatchIter::new(records) {
            let batch = &records[pos..pos + h.total_len()];
            check_crc(batch, &h)?;
            crate::record::validate::validate(batch, &h, &rules)?;
        }
        // A malformed tail (or no batch at all) is reported by the append itself.
        let r = self.with_log(|l| l.append_checked(records, now_ms, true, origin));
        if let Ok(AppendInfo { duplicate: false, base_offset, last_offset, .. }) = &r {
            self.traffic.bytes_in.fetch_add(records.len() as u64, Ordering::Relaxed);
            self.traffic
                .messages_in
                .fetch_add((last_offset - base_offset + 1).max(0) as u64, Ordering::Relaxed);
            self.wake_waiters();
        }
        r
    }

    /// Reads from `offset`, at most `max_bytes` (but at least one whole batch when `min_one`).
    pub fn read(&self, offset: i64, max_bytes: u32, min_one: bool) -> Result<ReadInfo, ReadError> {
        self.read_until(offset, max_bytes, min_one, i64::MAX, false)
    }

    /// Like [`Partition::read`], stopping before the batch holding `upper` (read_committed reads
    /// stop at the last stable offset).
    pub fn read_until(
        &self,
        offset: i64,
        max_bytes: u32,
        min_one: bool,
        upper: i64,
        with_aborted: bool,
    ) -> Result<ReadInfo, ReadError> {
        let (plan, want, hw, lso, aborted) =
            self.plan_read_until(offset, max_bytes, min_one, upper, with_aborted)?;
        let records = read_planned(plan, want)?;
        Ok(ReadInfo { records, high_watermark: hw, log_start_offset: lso, aborted })
    }

    /// How many bytes [`Partition::read_until`] would return now, without reading them (a parked
    /// fetch counts what has arrived this way and reads once, when it answers).
    pub fn readable_bytes(
        &self,
        offset: i64,
        max_bytes: u32,
        min_one: bool,
        upper: i64,
    ) -> Result<u32, ReadError> {
        Ok(self.plan_read_until(offset, max_bytes, min_one, upper, false)?.1)
    }

    fn plan_read_until(
        &self,
        offset: i64,
        max_bytes: u32,
        min_one: bool,
        upper: i64,
        with_aborted: bool,
    ) -> Result<(Option<ReadPlan>, u32, i64, i64, Vec<(i64, i64)>), ReadError> {
        self.plan_read(offset, max_bytes, min_one, upper, with_aborted, true)
    }

    /// Plans a read; `visible` stops it at the committed offset and reports the high watermark
    /// below it (readers), else it reads what the log holds (the uploader).
    #[allow(clippy::type_complexity)]
    fn plan_read(
        &self,
        offset: i64,
        max_bytes: u32,
        min_one: bool,
        upper: i64,
        with_aborted: bool,
        visible: bool,
    ) -> Result<(Option<ReadPlan>, u32, i64, i64, Vec<(i64, i64)>), ReadError> {
        let committed = if visible { self.committed.load(Ordering::Acquire) } else { i64::MAX };
        let upper = upper.min(committed);
        let log = self.log.lock();
        let mut plan = log.plan_read(offset, max_bytes)?;
        if upper <= offset {
            plan = None;
        } else if let Some(p) = plan.as_mut() {
            if let Some(end) = log.position_of(upper, &p.file)? {
                p.end = p.end.min(end);
                if p.end <= p.position {
                    plan = None;
                }
            }
        }
        // Under the same lock as the plan: the compactor may remove an aborted transaction's
        // entry (once its data and marker are gone) right after this.
        let aborted =
            if with_aborted && plan.is_some() { log.aborted_between(offset, upper) } else { Vec::new() };
        let want = match &plan {
            Some(p) if min_one || p.first_len <= max_bytes => {
                max_bytes.max(if min_one { p.first_len } else { 0 }).min(p.end.saturating_sub(p.position))
            }
            _ => 0,
        };
        Ok((plan, want, log.log_end_offset().min(committed), log.log_start_offset(), aborted))
    }

    /// Registers a waiter woken by the next append.
    pub fn add_waiter(&self, n: Arc<Notify>) {
        let mut ws = self.waiters.lock();
        // Drop waiters whose fetch already returned (only this list still holds them).
        ws.retain(|w| Arc::strong_count(w) > 1);
        ws.push(n);
    }

    fn wake_waiters(&self) {
        let ws = std::mem::take(&mut *self.waiters.lock());
        for w in ws {
            w.notify_one();
        }
    }
}
