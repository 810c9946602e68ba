//! The broker's memory budget for request traffic: bytes of request frames being read or
//! handled and of fetch answers not yet written, over all connections (Kafka's
//! `queued.max.request.bytes` and its memory pool are the model). A connection takes a lease
//! before it reads a frame's body and a fetch takes one before it reads data; when the budget is
//! spent they wait, so the broker stops reading from sockets instead of growing. A lease is
//! returned when it is dropped: with the frame once handled, with an answer once written, or
//! when the connection goes away.
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone)]
pub struct MemoryPool {
    sem: Arc<Semaphore>,
    total: usize,
}

/// Bytes held from the pool until dropped.
pub struct Lease {
    _permit: Option<OwnedSemaphorePermit>,
    bytes: usize,
}

impl Lease {
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl MemoryPool {
    /// A pool of `total` bytes; `None` is unbounded.
    pub fn new(total: Option<usize>) -> MemoryPool {
        let total = total.unwrap_or(Semaphore::MAX_PERMITS).min(Semaphore::MAX_PERMITS);
        MemoryPool { sem: Arc::new(Semaphore::new(total)), total }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes not leased right now.
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }

    /// Waits until `bytes` (at most the whole pool, so any single lease can be granted) are free.
    pub async fn lease(&self, bytes: usize) -> Lease {
        let n = bytes.min(self.total).min(u32::MAX as usize);
        if n == 0 {
            return Lease { _permit: None, bytes: 0 };
        }
        // The semaphore is never closed, so acquiring only waits.
        match self.sem.clone().acquire_many_owned(n as u32).await {
            Ok(p) => Lease { _permit: Some(p), bytes: n },
            Err(_) => Lease { _permit: None, bytes: 0 },
        }
    }
}

impl MemoryPool {
    /// Like [`MemoryPool::lease`], but waits only until `deadline`; then takes what is free (up
    /// to `bytes`, possibly nothing). A fetch answers with less data rather than wait without
    /// end: a wait for memory must never depend on requests queued behind it.
    pub async fn lease_by(&self, bytes: usize, deadline: tokio::time::Instant) -> Lease {
        if let Ok(l) = tokio::time::timeout_at(deadline, self.lease(bytes)).await {
            return l;
        }
        let n = self.available().min(bytes).min(u32::MAX as usize);
        match self.sem.clone().try_acquire_many_owned(n as u32) {
            Ok(p) if n > 0 => Lease { _permit: Some(p), bytes: n },
            _ => Lease { _permit: None, bytes: 0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn leases_wait_for_each_other_and_return_on_drop() {
        let pool = MemoryPool::new(Some(100));
        let a = pool.lease(70).await;
        assert_eq!(pool.available(), 30);
        let p2 = pool.clone();
        let waiter = tokio::spawn(async move { p2.lease(50).await.bytes() });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "50 more bytes are not there while 70 are leased");
        drop(a);
        assert_eq!(waiter.await.unwrap(), 50);
        assert_eq!(pool.available(), 100);
        // A lease larger than the pool is granted as the whole pool, never a deadlock.
        assert_eq!(pool.lease(1_000).await.bytes(), 100);
        // With a deadline, what is free once it passes.
        let held = pool.lease(80).await;
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(20);
        assert_eq!(pool.lease_by(50, soon).await.bytes(), 20);
        drop(held);
    }
}
