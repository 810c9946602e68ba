//! Producer id allocation for idempotent producers, unique across restarts.
//!
//! Ids are handed out from blocks of [`BLOCK_SIZE`]; the end of the current block is persisted
//! (atomically, fsynced) before any id in it is used, so after a crash the next run starts at a
//! fresh block and never reuses an id. File `producer-id-block` in the data dir: one decimal number,
//! the first id not yet reserved.
use std::path::PathBuf;

use parking_lot::Mutex;

use crate::log::file::Disk;

pub const BLOCK_SIZE: i64 = 1000;

/// Reserves the next block of ids somewhere shared (a cluster's metadata store) and returns its
/// first id; blocking.
pub type BlockSource = Box<dyn Fn(i64) -> std::io::Result<i64> + Send + Sync>;

pub struct ProducerIdManager {
    disk: Disk,
    path: PathBuf,
    /// (next id to hand out, end of the reserved block)
    state: Mutex<(i64, i64)>,
    /// Where blocks come from when brokers share the id space (None: the local file).
    shared: parking_lot::RwLock<Option<BlockSource>>,
}

impl ProducerIdManager {
    pub fn open(disk: Disk, data_dir: &std::path::Path) -> std::io::Result<ProducerIdManager> {
        let path = data_dir.join("producer-id-block");
        let reserved =
            disk.read_to_string(&path).ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0);
        Ok(ProducerIdManager {
            disk,
            path,
            state: Mutex::new((reserved, reserved)),
            shared: parking_lot::RwLock::new(None),
        })
    }

    /// Blocks come from `source` from now on (a cluster: ids unique across its brokers).
    pub fn share(&self, source: BlockSource) {
        *self.shared.write() = Some(source);
        let mut st = self.state.lock();
        st.1 = st.0;
    }

    /// The next unused producer id.
    pub fn next(&self) -> std::io::Result<i64> {
        let mut st = self.state.lock();
        if st.0 >= st.1 {
            if let Some(source) = self.shared.read().as_ref() {
                let start = source(BLOCK_SIZE)?;
                *st = (start, start + BLOCK_SIZE);
            }
        }
        if st.0 >= st.1 {
            let end = st.1 + BLOCK_SIZE;
            self.disk.write_atomic(&self.path, end.to_string().as_bytes())?;
            st.1 = end;
        }
        let id = st.0;
        st.0 += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_repeat_across_reopen() {
        let d = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::open(Disk::os(), d.path()).unwrap();
        let a = m.next().unwrap();
        let b = m.next().unwrap();
        assert_eq!(b, a + 1);
        drop(m);
        let m = ProducerIdManager::open(Disk::os(), d.path()).unwrap();
        let c = m.next().unwrap();
        assert!(c > b, "after a restart ids continue past the reserved block");
    }
}
