//! Durability: the one place that decides when appended data is on disk and moves a partition's
//! recovery point.
//!
//! Every append returns a [`SyncTicket`] for the offsets it wrote. Submitting the ticket queues it
//! on the fsync thread ([`super::flusher`]); its [`Durable`] resolves once every file that holds
//! data below the ticket's end offset is synced (sealed segments first, then the active one) and
//! the partition directory's entries (new segment files, renames, removals) are synced too. Only
//! then does the recovery point move, to the highest offset below which all of that is on disk.
//! Nothing outside `log/` syncs a file or moves a recovery point.
//!
//! Group commit: all tickets queued while a round runs are served by the next round, which syncs
//! each partition's files once, up to the largest end offset among its tickets.
//!
//! A failed sync is never retried (after a failed fsync the page cache state is unknown): the data
//! directory goes offline for writes ([`StorageHealth`]) and every later ticket fails.
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::file::{Disk, LogFile};
use super::flusher::Background;

/// Whether the data directory still takes writes. Shared by every partition and the fsync threads.
#[derive(Debug)]
pub struct StorageHealth {
    failed: AtomicBool,
    dir: PathBuf,
}

impl StorageHealth {
    pub fn new(dir: &Path) -> Arc<StorageHealth> {
        Arc::new(StorageHealth { failed: AtomicBool::new(false), dir: dir.to_path_buf() })
    }
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
    /// Takes the log dir offline after an I/O error: no more writes (KAFKA_STORAGE_ERROR).
    pub fn fail(&self, why: &io::Error) {
        if !self.failed.swap(true, Ordering::AcqRel) {
            tracing::error!(error = %why, dir = %self.dir.display(), "log directory failed; it is offline for writes until restart");
        }
    }
    pub fn check(&self) -> io::Result<()> {
        if self.failed() {
            return Err(io::Error::other("the log directory is offline after an I/O error"));
        }
        Ok(())
    }
}

/// What the log needs from its environment: where files live and who runs the background I/O.
#[derive(Clone)]
pub struct LogEnv {
    pub disk: Disk,
    pub background: Arc<Background>,
    pub health: Arc<StorageHealth>,
}

impl LogEnv {
    /// Syncs inline on the caller's thread (unit tests of a single log).
    pub fn inline(disk: Disk, dir: &Path) -> LogEnv {
        LogEnv { disk, background: Background::inline(), health: StorageHealth::new(dir) }
    }
}

/// A partition's durability state, shared by its log, its tickets and the fsync threads.
pub struct Durability {
    /// Highest offset (exclusive) below which every byte and directory entry is on disk.
    recovery_point: AtomicI64,
    /// Segment files that may hold unsynced data, in offset order, from the first such segment to
    /// the active one: (base offset, file).
    files: Mutex<Vec<(i64, Arc<LogFile>)>>,
    dir: PathBuf,
    /// Bumped after every change of an entry in the partition directory; `dir_synced` is the
    /// value the last directory sync covered.
    dir_changes: AtomicU64,
    dir_synced: AtomicU64,
    /// The partition was deleted: its directory is gone, syncing it again is not needed.
    deleted: AtomicBool,
    /// Held by whoever writes files into the directory by name off the partition lock (the seal
    /// job) and by topic deletion while it renames the directory away.
    file_writers: Mutex<()>,
    /// Bumped when the log is truncated: tickets and seal jobs from before cover offsets that are
    /// gone and must not move the recovery point.
    truncations: AtomicU64,
    disk: Disk,
    health: Arc<StorageHealth>,
    background: Arc<Background>,
}

impl std::fmt::Debug for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durability")
            .field("dir", &self.dir)
            .field("recovery_point", &self.recovery_point())
            .finish()
    }
}

impl Durability {
    pub fn new(env: &LogEnv, dir: &Path, recovery_point: i64) -> Arc<Durability> {
        Arc::new(Durability {
            recovery_point: AtomicI64::new(recovery_point),
            files: Mutex::new(Vec::new()),
            dir: dir.to_path_buf(),
            dir_changes: AtomicU64::new(0),
            dir_synced: AtomicU64::new(0),
            deleted: AtomicBool::new(false),
            file_writers: Mutex::new(()),
            truncations: AtomicU64::new(0),
            disk: env.disk.clone(),
            health: env.health.clone(),
            background: env.background.clone(),
        })
    }

    pub fn recovery_point(&self) -> i64 {
        self.recovery_point.load(Ordering::Acquire)
    }
    pub fn health(&self) -> &Arc<StorageHealth> {
        &self.health
    }

    /// The log was truncated to `offset`: the recovery point comes down, and tickets issued
    /// before no longer count.
    pub(crate) fn truncated(&self, offset: i64) {
        self.truncations.fetch_add(1, Ordering::AcqRel);
        self.recovery_point.fetch_min(offset, Ordering::AcqRel);
    }

    /// See `file_writers`.
    pub(crate) fn lock_files(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.file_writers.lock()
    }

    /// Takes the log dir offline, unless the error comes from a partition being deleted.
    pub(crate) fn fail(&self, e: &io::Error) {
        if !self.is_deleted() {
            self.health.fail(e);
        }
    }

    /// Declares everything below `offset` durable (after a clean shutdown, or a recovery that
    /// synced every file it kept).
    pub(crate) fn set_recovery_point(&self, offset: i64) {
        self.recovery_point.store(offset, Ordering::Release);
    }

    /// A segment file that may receive unsynced data (a new active segment).
    pub(crate) fn track(&self, base: i64, file: Arc<LogFile>) {
        let mut fs = self.files.lock();
        fs.retain(|(b, _)| *b != base);
        let at = fs.partition_point(|(b, _)| *b < base);
        fs.insert(at, (base, file));
    }

    /// A segment's file went away or was replaced by a synced copy.
    pub(crate) fn untrack(&self, base: i64) {
        self.files.lock().retain(|(b, _)| *b != base);
    }

    /// An entry of the partition directory changed (file created, renamed or removed).
    pub(crate) fn dir_changed(&self) {
        self.dir_changes.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
    }
    /// The partition's topic was deleted (its files are going or gone).
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// A ticket for everything written below `end`.
    pub fn ticket(self: &Arc<Self>, end: i64) -> SyncTicket {
        SyncTicket { durability: self.clone(), end, truncations: self.truncations.load(Ordering::Acquire) }
    }

    /// Makes everything below `end` durable, on the calling thread: syncs the files that hold data
    /// below `end` (in offset order), then the directory, then moves the recovery point.
    pub(crate) fn make_durable(&self, end: i64, truncations: u64) -> io::Result<()> {
        if truncations != self.truncations.load(Ordering::Acquire) {
            return Err(io::Error::other("the log was truncated below these offsets"));
        }
        if self.recovery_point() >= end {
            return Ok(());
        }
        self.health.check()?;
        let files: Vec<(i64, Arc<LogFile>)> =
            self.files.lock().iter().filter(|(b, _)| *b < end).cloned().collect();
        let result = (|| {
            for (_, f) in &files {
                f.sync_if_needed()?;
            }
            self.sync_dir_if_needed()
        })();
        if let Err(e) = result {
            self.fail(&e);
            return Err(e);
        }
        if truncations != self.truncations.load(Ordering::Acquire) {
            return Err(io::Error::other("the log was truncated below these offsets"));
        }
        self.recovery_point.fetch_max(end, Ordering::AcqRel);
        // Sealed files that are now fully synced need no more syncs.
        let mut fs = self.files.lock();
        while fs.len() > 1 && fs[0].1.is_synced() && fs[1].0 <= self.recovery_point() {
            fs.remove(0);
        }
        Ok(())
    }

    /// Whether an entry of the partition directory changed since its last sync.
    pub(crate) fn dir_pending(&self) -> bool {
        self.dir_synced.load(Ordering::Acquire) < self.dir_changes.load(Ordering::Acquire)
    }

    /// Syncs the partition directory when an entry changed since its last sync.
    pub(crate) fn sync_dir_if_needed(&self) -> io::Result<()> {
        let changes = self.dir_changes.load(Ordering::Acquire);
        if self.dir_synced.load(Ordering::Acquire) >= changes {
            return Ok(());
        }
        match self.disk.sync_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.deleted.load(Ordering::Acquire) => {}
            Err(e) => {
                // Never retried: a failed directory sync takes the log dir offline.
                self.fail(&e);
                return Err(e);
            }
            Ok(()) => {}
        }
        self.dir_synced.fetch_max(changes, Ordering::AcqRel);
        Ok(())
    }
}

/// The promise an append makes: sync this and everything below `end` is on disk.
#[derive(Debug, Clone)]
pub struct SyncTicket {
    pub(crate) durability: Arc<Durability>,
    pub(crate) end: i64,
    pub(crate) truncations: u64,
}

impl SyncTicket {
    /// Whether the data is already known durable (nothing to wait for).
    pub fn is_durable(&self) -> bool {
        self.durability.recovery_point() >= self.end
    }
    /// Queues the ticket on the fsync thread now (group commit) and returns what to await.
    pub fn submit(self) -> Durable {
        if self.is_durable() {
            return Durable(DurableInner::Ready(Ok(())));
        }
        let bg = self.durability.background.clone();
        bg.submit(self)
    }
    /// Queues the ticket without waiting for it (the flush policy of acks=0/1 appends).
    pub fn submit_in_background(self) {
        if !self.is_durable() {
            let bg = self.durability.background.clone();
            bg.submit_detached(self);
        }
    }
}

pub(crate) enum DurableInner {
    Ready(io::Result<()>),
    Waiting(tokio::sync::oneshot::Receiver<io::Result<()>>),
}

/// Resolves when a ticket's data is durable (or the sync failed and the log dir went offline).
pub struct Durable(pub(crate) DurableInner);

impl Durable {
    pub async fn wait(self) -> io::Result<()> {
        match self.0 {
            DurableInner::Ready(r) => r,
            DurableInner::Waiting(rx) => {
                rx.await.unwrap_or_else(|_| Err(io::Error::other("fsync thread stopped")))
            }
        }
    }
    /// The result if it is there already (tests that drive the fsync thread by hand).
    pub fn try_result(&mut self) -> Option<io::Result<()>> {
        match &mut self.0 {
            DurableInner::Ready(r) => Some(std::mem::replace(r, Ok(()))),
            DurableInner::Waiting(rx) => match rx.try_recv() {
                Ok(r) => Some(r),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => None,
                Err(_) => Some(Err(io::Error::other("fsync thread stopped"))),
            },
        }
    }
}
