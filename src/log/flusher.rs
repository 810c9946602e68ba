//! The log's background I/O: the fsync thread (group commit of [`SyncTicket`]s) and the seal
//! thread (work done after a segment is sealed: its sync, index files, producer snapshot), so the
//! async runtime and the partition locks never wait for a disk.
//!
//! Fsync thread: requests queue while a round runs; the next round takes all of them at once,
//! groups them by partition and makes each partition durable once, up to the largest end offset
//! among its tickets, so one `fdatasync` answers every producer waiting on that partition.
//!
//! Seal thread: jobs run one at a time, in the order they were queued (a partition's seal jobs
//! therefore finish in roll order).
//!
//! Modes: `threaded` (the broker), `inline` (run on the caller's thread: unit tests of one log),
//! `manual` (queued until a test runs them: the power-cut model test decides what completed
//! before the cut).
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::durability::{Durability, Durable, DurableInner, SyncTicket};

pub type SealJob = Box<dyn FnOnce() + Send>;
type Reply = Option<tokio::sync::oneshot::Sender<io::Result<()>>>;

enum FsyncRequest {
    Ticket(SyncTicket, Reply),
    Barrier(mpsc::Sender<()>),
}

enum SealRequest {
    Job(SealJob),
    Barrier(mpsc::Sender<()>),
}

enum Mode {
    Threaded {
        fsync: Mutex<Option<mpsc::Sender<FsyncRequest>>>,
        seal: Mutex<Option<mpsc::Sender<SealRequest>>>,
        threads: Mutex<Vec<JoinHandle<()>>>,
    },
    Inline,
    Manual {
        fsync: Mutex<VecDeque<(SyncTicket, Reply)>>,
        seal: Mutex<VecDeque<SealJob>>,
    },
}

pub struct Background {
    mode: Mode,
}

/// One group-commit round: every partition once, up to the largest end among its tickets.
fn run_round(round: Vec<(SyncTicket, Reply)>, metrics: Option<&crate::metrics::Metrics>) {
    // Tickets from before a truncation are answered on their own (with an error).
    let mut by_partition: HashMap<(*const Durability, u64), (Arc<Durability>, i64, Vec<Reply>)> =
        HashMap::new();
    for (t, reply) in round {
        let e = by_partition
            .entry((Arc::as_ptr(&t.durability), t.truncations))
            .or_insert_with(|| (t.durability.clone(), t.end, Vec::new()));
        e.1 = e.1.max(t.end);
        e.2.push(reply);
    }
    for ((_, truncations), (d, end, replies)) in by_partition {
        let started = std::time::Instant::now();
        let r = d.make_durable(end, truncations).map_err(|e| (e.kind(), e.to_string()));
        if let Some(m) = metrics.filter(|m| m.enabled()) {
            m.fsync.observe_duration(started.elapsed());
            m.flush_batch.observe(replies.len() as f64);
        }
        for reply in replies.into_iter().flatten() {
            let _ = reply.send(r.clone().map_err(|(k, m)| io::Error::new(k, m)));
        }
    }
}

impl Background {
    /// The fsync and seal threads; the fsync thread records its latency and batch sizes in `metrics`.
    pub fn threaded(metrics: Arc<crate::metrics::Metrics>) -> io::Result<Arc<Background>> {
        let (ftx, frx) = mpsc::channel::<FsyncRequest>();
        let (stx, srx) = mpsc::channel::<SealRequest>();
        let fsync = std::thread::Builder::new().name("odradek-fsync".into()).spawn(move || {
            while let Ok(first) = frx.recv() {
                let mut round = Vec::new();
                let mut barriers = Vec::new();
                let mut take = |r: FsyncRequest| match r {
                    FsyncRequest::Ticket(t, reply) => round.push((t, reply)),
                    FsyncRequest::Barrier(b) => barriers.push(b),
                };
                take(first);
                while let Ok(r) = frx.try_recv() {
                    take(r);
                }
                run_round(round, Some(&metrics));
                for b in barriers {
                    let _ = b.send(());
                }
            }
        })?;
        let seal = std::thread::Builder::new().name("odradek-seal".into()).spawn(move || {
            while let Ok(r) = srx.recv() {
                match r {
                    SealRequest::Job(job) => job(),
                    SealRequest::Barrier(b) => {
                        let _ = b.send(());
                    }
                }
            }
        })?;
        Ok(Arc::new(Background {
            mode: Mode::Threaded {
                fsync: Mutex::new(Some(ftx)),
                seal: Mutex::new(Some(stx)),
                threads: Mutex::new(vec![fsync, seal]),
            },
        }))
    }

    pub fn inline() -> Arc<Background> {
        Arc::new(Background { mode: Mode::Inline })
    }

    pub fn manual() -> Arc<Background> {
        Arc::new(Background {
            mode: Mode::Manual { fsync: Mutex::new(VecDeque::new()), seal: Mutex::new(VecDeque::new()) },
        })
    }

    pub(crate) fn submit(&self, t: SyncTicket) -> Durable {
        match &self.mode {
            Mode::Inline => Durable(DurableInner::Ready(t.durability.make_durable(t.end, t.truncations))),
            Mode::Threaded { fsync, .. } => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                match fsync.lock().as_ref() {
                    Some(s) if s.send(FsyncRequest::Ticket(t, Some(tx))).is_ok() => {
                        Durable(DurableInner::Waiting(rx))
                    }
                    _ => Durable(DurableInner::Ready(Err(io::Error::other("fsync thread stopped")))),
                }
            }
            Mode::Manual { fsync, .. } => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                fsync.lock().push_back((t, Some(tx)));
                Durable(DurableInner::Waiting(rx))
            }
        }
    }

    pub(crate) fn submit_detached(&self, t: SyncTicket) {
        match &self.mode {
            Mode::Inline => {
                let _ = t.durability.make_durable(t.end, t.truncations);
            }
            Mode::Threaded { fsync, .. } => {
                if let Some(s) = fsync.lock().as_ref() {
                    let _ = s.send(FsyncRequest::Ticket(t, None));
                }
            }
            Mode::Manual { fsync, .. } => fsync.lock().push_back((t, None)),
        }
    }

    /// Queues work for after a segment is sealed.
    pub(crate) fn seal(&self, job: SealJob) {
        match &self.mode {
            Mode::Inline => job(),
            Mode::Threaded { seal, .. } => {
                if let Some(s) = seal.lock().as_ref() {
                    let _ = s.send(SealRequest::Job(job));
                }
            }
            Mode::Manual { seal, .. } => seal.lock().push_back(job),
        }
    }

    /// Waits until everything queued so far has run (clean shutdown; manual mode runs it all).
    pub fn drain(&self) {
        match &self.mode {
            Mode::Inline => {}
            Mode::Threaded { fsync, seal, .. } => {
                let (tx, rx) = mpsc::channel();
                if let Some(s) = seal.lock().as_ref() {
                    if s.send(SealRequest::Barrier(tx.clone())).is_ok() {
                        let _ = rx.recv();
                    }
                }
                if let Some(s) = fsync.lock().as_ref() {
                    if s.send(FsyncRequest::Barrier(tx)).is_ok() {
                        let _ = rx.recv();
                    }
                }
            }
            Mode::Manual { .. } => while self.run_seal_jobs(usize::MAX) + self.run_fsync_round() > 0 {},
        }
    }

    /// Manual mode: runs one group-commit round over everything queued; returns the ticket count.
    pub fn run_fsync_round(&self) -> usize {
        let Mode::Manual { fsync, .. } = &self.mode else { return 0 };
        let round: Vec<(SyncTicket, Reply)> = fsync.lock().drain(..).collect();
        let n = round.len();
        run_round(round, None);
        n
    }

    /// Manual mode: runs up to `n` queued seal jobs, oldest first; returns how many ran.
    pub fn run_seal_jobs(&self, n: usize) -> usize {
        let Mode::Manual { seal, .. } = &self.mode else { return 0 };
        let mut ran = 0;
        while ran < n {
            let Some(job) = seal.lock().pop_front() else { break };
            job();
            ran += 1;
        }
        ran
    }

    /// Manual mode: forgets everything queued (a power cut: none of it ever ran).
    pub fn discard(&self) {
        if let Mode::Manual { fsync, seal } = &self.mode {
            fsync.lock().clear();
            seal.lock().clear();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Mode::Threaded { fsync, seal, threads } = &self.mode {
            fsync.lock().take();
            seal.lock().take();
            let me = std::thread::current().id();
            for t in threads.lock().drain(..) {
                // The last reference may go away on one of these threads (a job held it).
                if t.thread().id() != me {
                    let _ = t.join();
                }
            }
        }
    }
}
