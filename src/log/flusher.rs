//! Group commit: one thread that runs every `fdatasync`, so the async runtime never blocks on one.
//!
//! Requests queue while a sync runs; the next round takes all of them at once and syncs each
//! distinct file once, so one `fdatasync` serves every producer waiting on that file. A failed sync
//! is reported to every waiter of that round and never retried (after a failed fsync the page cache
//! state is unknown; the caller takes the log dir offline).
use std::collections::HashMap;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::file::LogFile;

type Done = Box<dyn FnOnce(io::Result<()>) + Send>;

struct Request {
    file: Arc<LogFile>,
    done: Done,
}

pub struct Flusher {
    tx: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    pub fn start() -> io::Result<Flusher> {
        let (tx, rx) = mpsc::channel::<Request>();
        let thread = std::thread::Builder::new().name("odradek-fsync".into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut round = vec![first];
                while let Ok(r) = rx.try_recv() {
                    round.push(r);
                }
                let mut results: HashMap<*const LogFile, Result<(), (io::ErrorKind, String)>> =
                    HashMap::new();
                for r in &round {
                    results.entry(Arc::as_ptr(&r.file)).or_insert_with(|| {
                        r.file.sync_data().map_err(|e| (e.kind(), e.to_string()))
                    });
                }
                for r in round {
                    let res = match &results[&Arc::as_ptr(&r.file)] {
                        Ok(()) => Ok(()),
                        Err((k, m)) => Err(io::Error::new(*k, m.clone())),
                    };
                    (r.done)(res);
                }
            }
        })?;
        Ok(Flusher { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues a sync of `file`; `done` runs on the fsync thread with the result.
    pub fn request(&self, file: Arc<LogFile>, done: impl FnOnce(io::Result<()>) + Send + 'static) {
        let req = Request { file, done: Box::new(done) };
        match &self.tx {
            Some(tx) => {
                if let Err(mpsc::SendError(r)) = tx.send(req) {
                    (r.done)(Err(io::Error::other("fsync thread stopped")));
                }
            }
            None => (req.done)(Err(io::Error::other("fsync thread stopped"))),
        }
    }

    /// Syncs `file` and waits for it without blocking the runtime.
    pub async fn sync(&self, file: Arc<LogFile>) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.request(file, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or_else(|_| Err(io::Error::other("fsync thread stopped")))
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_waiters_one_file() {
        let d = tempfile::tempdir().unwrap();
        let f = Arc::new(LogFile::open(&d.path().join("x"), None).unwrap());
        let fl = Arc::new(Flusher::start().unwrap());
        let mut hs = vec![];
        for _ in 0..50 {
            let (fl, f) = (fl.clone(), f.clone());
            hs.push(tokio::spawn(async move { fl.sync(f).await }));
        }
        for h in hs {
            assert!(h.await.unwrap().is_ok());
        }
    }

    #[tokio::test]
    async fn failed_sync_reported() {
        let d = tempfile::tempdir().unwrap();
        let plan = super::super::file::FaultPlan::new(-1, 0);
        let f = Arc::new(LogFile::open(&d.path().join("x"), Some(plan)).unwrap());
        let fl = Flusher::start().unwrap();
        assert!(fl.sync(f).await.is_err());
    }
}
