//! The file seam: every byte the log writes or reads goes through [`LogFile`], so tests can make
//! the Nth write or fsync fail ([`FaultPlan`]) and watch the log react.
//!
//! Concurrency: `LogFile` is shared (`Arc`) between the partition (appends under its lock), fetches
//! (positional reads, no lock needed) and the fsync thread. Reads are positional (`pread`) so they
//! never race with the append cursor.
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Fault injection for tests: after `writes_before_failure` successful writes (or syncs), every
/// later one fails with an I/O error. Negative means never.
#[derive(Debug)]
pub struct FaultPlan {
    pub writes_before_failure: AtomicI64,
    pub syncs_before_failure: AtomicI64,
}

impl FaultPlan {
    pub fn new(writes: i64, syncs: i64) -> Arc<FaultPlan> {
        Arc::new(FaultPlan {
            writes_before_failure: AtomicI64::new(writes),
            syncs_before_failure: AtomicI64::new(syncs),
        })
    }
    fn take(counter: &AtomicI64) -> io::Result<()> {
        let left = counter.load(Ordering::SeqCst);
        if left < 0 {
            return Ok(());
        }
        if left == 0 {
            return Err(io::Error::other("injected fault"));
        }
        counter.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Debug)]
pub struct LogFile {
    file: File,
    path: PathBuf,
    faults: Option<Arc<FaultPlan>>,
}

impl LogFile {
    /// Opens (creating if needed) a file for appending and positional reads.
    pub fn open(path: &Path, faults: Option<Arc<FaultPlan>>) -> io::Result<LogFile> {
        let file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        Ok(LogFile { file, path: path.to_path_buf(), faults })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Appends all of `parts` (a vectored write, looping over short writes).
    pub fn append(&self, parts: &[&[u8]]) -> io::Result<()> {
        if let Some(f) = &self.faults {
            FaultPlan::take(&f.writes_before_failure)?;
        }
        let mut idx = 0;
        let mut skip = 0;
        let mut f = &self.file;
        while idx < parts.len() {
            let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(parts.len() - idx);
            slices.push(IoSlice::new(&parts[idx][skip..]));
            for p in &parts[idx + 1..] {
                slices.push(IoSlice::new(p));
            }
            let mut n = f.write_vectored(&slices)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
            }
            while idx < parts.len() && n >= parts[idx].len() - skip {
                n -= parts[idx].len() - skip;
                idx += 1;
                skip = 0;
            }
            if idx < parts.len() {
                skip += n;
            }
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes at `pos`.
    pub fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, pos)
    }

    /// Reads up to `buf.len()` bytes at `pos`, returning how many were read.
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.file.read_at(&mut buf[done..], pos + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    pub fn sync_data(&self) -> io::Result<()> {
        if let Some(f) = &self.faults {
            FaultPlan::take(&f.syncs_before_failure)?;
        }
        self.file.sync_data()
    }

    pub fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectored_append_and_read() {
        let d = tempfile::tempdir().unwrap();
        let f = LogFile::open(&d.path().join("a"), None).unwrap();
        f.append(&[b"ab", b"", b"cdef"]).unwrap();
        let mut buf = [0u8; 6];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"abcdef");
        assert_eq!(f.len().unwrap(), 6);
    }

    #[test]
    fn injected_faults_fire_after_n() {
        let d = tempfile::tempdir().unwrap();
        let plan = FaultPlan::new(1, 0);
        let f = LogFile::open(&d.path().join("a"), Some(plan)).unwrap();
        f.append(&[b"x"]).unwrap();
        assert!(f.append(&[b"y"]).is_err());
        assert!(f.sync_data().is_err());
        assert_eq!(f.len().unwrap(), 1);
    }
}
