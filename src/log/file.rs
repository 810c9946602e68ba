//! The file seam: every byte and every directory entry the log writes or reads goes through a
//! [`Disk`], so tests can put a simulated page cache below it ([`super::sim_disk`]) or make the
//! Nth write or fsync fail ([`FaultPlan`]).
//!
//! [`LogFile`] is an open segment (or other appended) file. It counts the bytes written and the
//! bytes known synced, so a sync that is already covered costs nothing and one `fdatasync` serves
//! every waiter (see `durability.rs`).
//!
//! Concurrency: `LogFile` is shared (`Arc`) between the partition (appends under its lock), fetches
//! (positional reads, no lock needed) and the fsync threads. Reads are positional (`pread`) so they
//! never race with the append cursor.
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use super::sim_disk::{Kind, SimDisk};

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

#[derive(Debug, Clone)]
enum Backend {
    Os,
    Sim(Arc<SimDisk>),
}

/// Where the log's files live: the operating system's filesystem, or a simulated disk.
#[derive(Debug, Clone)]
pub struct Disk {
    backend: Backend,
    faults: Option<Arc<FaultPlan>>,
}

impl Default for Disk {
    fn default() -> Self {
        Disk::os()
    }
}

impl Disk {
    pub fn os() -> Disk {
        Disk { backend: Backend::Os, faults: None }
    }
    pub fn sim(disk: Arc<SimDisk>) -> Disk {
        Disk { backend: Backend::Sim(disk), faults: None }
    }
    pub fn with_faults(mut self, faults: Option<Arc<FaultPlan>>) -> Disk {
        self.faults = faults;
        self
    }
    pub fn faults(&self) -> Option<&Arc<FaultPlan>> {
        self.faults.as_ref()
    }

    /// Opens (creating if needed) a file for appending and positional reads.
    pub fn open_file(&self, path: &Path) -> io::Result<LogFile> {
        let inner = match &self.backend {
            Backend::Os => Inner::Os(OpenOptions::new().read(true).append(true).create(true).open(path)?),
            Backend::Sim(d) => {
                let (parent, name) = d.parent_of(path)?;
                Inner::Sim(d.clone(), d.create(parent, &name, Kind::File, false)?.ino)
            }
        };
        let f = LogFile {
            inner,
            path: path.to_path_buf(),
            faults: self.faults.clone(),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            truncations: AtomicU64::new(0),
            needs_full_sync: AtomicBool::new(false),
        };
        let len = f.len()?;
        f.written.store(len, Ordering::Release);
        Ok(f)
    }

    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match &self.backend {
            Backend::Os => std::fs::read(path),
            Backend::Sim(d) => {
                let ino = d.resolve(path)?;
                let len = d.attr(ino)?.size as usize;
                d.read(ino, 0, len)
            }
        }
    }

    pub fn read_to_string(&self, path: &Path) -> io::Result<String> {
        String::from_utf8(self.read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    pub fn exists(&self, path: &Path) -> bool {
        match &self.backend {
            Backend::Os => path.exists(),
            Backend::Sim(d) => d.resolve(path).is_ok(),
        }
    }

    /// Names in a directory, each with whether it is a directory.
    pub fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        match &self.backend {
            Backend::Os => {
                let mut out = Vec::new();
                for e in std::fs::read_dir(path)? {
                    let e = e?;
                    out.push((e.file_name().to_string_lossy().to_string(), e.file_type()?.is_dir()));
                }
                Ok(out)
            }
            Backend::Sim(d) => {
                Ok(d.readdir(d.resolve(path)?)?.into_iter().map(|(n, a)| (n, a.kind == Kind::Dir)).collect())
            }
        }
    }

    /// Creates `path` and missing parents; returns the directories created, outermost first
    /// (their entries in their parents are not durable until the parents are synced).
    pub fn create_dir_all(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        match &self.backend {
            Backend::Os => {
                let mut missing = Vec::new();
                let mut p = Some(path);
                while let Some(q) = p {
                    if q.as_os_str().is_empty() || q.exists() {
                        break;
                    }
                    missing.push(q.to_path_buf());
                    p = q.parent();
                }
                std::fs::create_dir_all(path)?;
                missing.reverse();
                Ok(missing)
            }
            Backend::Sim(d) => d.create_dir_all(path),
        }
    }

    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        match &self.backend {
            Backend::Os => std::fs::remove_file(path),
            Backend::Sim(d) => {
                let (parent, name) = d.parent_of(path)?;
                d.unlink(parent, &name)
            }
        }
    }

    /// Removes a file; a missing one is fine.
    pub fn remove_if_exists(&self, path: &Path) -> io::Result<()> {
        match self.remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        match &self.backend {
            Backend::Os => std::fs::remove_dir_all(path),
            Backend::Sim(d) => d.remove_dir_all(path),
        }
    }

    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match &self.backend {
            Backend::Os => std::fs::rename(from, to),
            Backend::Sim(d) => {
                let (p1, n1) = d.parent_of(from)?;
                let (p2, n2) = d.parent_of(to)?;
                d.rename(p1, &n1, p2, &n2)
            }
        }
    }

    /// fsync of a directory: the entries created, renamed or removed in it become durable.
    pub fn sync_dir(&self, path: &Path) -> io::Result<()> {
        match &self.backend {
            Backend::Os => File::open(path)?.sync_all(),
            Backend::Sim(d) => d.sync_dir(d.resolve(path)?),
        }
    }

    /// Writes `bytes` to `path` atomically: `<name>.tmp`, fsync, rename, fsync of the directory.
    /// A crash leaves the old or the new file, never a torn one.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.write_replacing(path, bytes, true)?;
        if let Some(dir) = path.parent() {
            self.sync_dir(dir)?;
        }
        Ok(())
    }

    /// Writes `<name>.tmp` (fsynced when `durable`) and renames it over `path`, without syncing
    /// the directory: for caches that validate themselves, or when the caller syncs the directory.
    pub fn write_replacing(&self, path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
        let tmp = tmp_path(path);
        {
            let _ = self.remove_if_exists(&tmp);
            // Injected faults are for segment files; metadata writes do not spend them.
            let plain = Disk { backend: self.backend.clone(), faults: None };
            let f = plain.open_file(&tmp)?;
            f.truncate(0)?;
            f.append(&[bytes])?;
            if durable {
                f.sync_data()?;
            }
        }
        self.rename(&tmp, path)
    }
}

/// `<name>.tmp` beside `path` (the whole name kept, so `a.index` and `a.timeindex` never share one).
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

#[derive(Debug)]
enum Inner {
    Os(File),
    Sim(Arc<SimDisk>, u64),
}

#[derive(Debug)]
pub struct LogFile {
    inner: Inner,
    path: PathBuf,
    faults: Option<Arc<FaultPlan>>,
    /// Bytes in the file as far as this process wrote them.
    written: AtomicU64,
    /// Bytes known to be on disk (an fdatasync covering them returned).
    synced: AtomicU64,
    /// Bumped by every truncation, so a sync that raced with one does not claim too much.
    truncations: AtomicU64,
    /// A truncation changed the length since the last sync: the next sync is a full fsync.
    needs_full_sync: AtomicBool,
}

impl LogFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file has no bytes (its size, as `len`, asks the disk).
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    pub fn len(&self) -> io::Result<u64> {
        match &self.inner {
            Inner::Os(f) => Ok(f.metadata()?.len()),
            Inner::Sim(d, ino) => Ok(d.attr(*ino)?.size),
        }
    }

    /// Bytes written so far (what a sync now would cover).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }
    /// Whether every byte written is known to be on disk.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire) >= self.written() && !self.needs_full_sync.load(Ordering::Acquire)
    }
    /// Declares the file's current content durable (after a clean shutdown synced it).
    pub fn assume_synced(&self) {
        self.synced.store(self.written(), Ordering::Release);
    }

    /// Appends all of `parts` (a vectored write, looping over short writes).
    pub fn append(&self, parts: &[&[u8]]) -> io::Result<()> {
        if let Some(f) = &self.faults {
            FaultPlan::take(&f.writes_before_failure)?;
        }
        let total: usize = parts.iter().map(|p| p.len()).sum();
        match &self.inner {
            Inner::Os(file) => write_all_vectored(file, parts)?,
            Inner::Sim(d, ino) => d.append(*ino, parts)?,
        }
        self.written.fetch_add(total as u64, Ordering::AcqRel);
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes at `pos`.
    pub fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        if self.read_at(buf, pos)? < buf.len() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        Ok(())
    }

    /// Reads up to `buf.len()` bytes at `pos`, returning how many were read.
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        match &self.inner {
            Inner::Os(file) => {
                let mut done = 0;
                while done < buf.len() {
                    let n = file.read_at(&mut buf[done..], pos + done as u64)?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                }
                Ok(done)
            }
            Inner::Sim(d, ino) => d.read_into(*ino, pos, buf),
        }
    }

    /// `fdatasync` (a full `fsync` after a truncation), unconditionally.
    pub fn sync_data(&self) -> io::Result<()> {
        let w = self.written();
        let t = self.truncations.load(Ordering::Acquire);
        let full = self.needs_full_sync.swap(false, Ordering::AcqRel);
        if let Some(f) = &self.faults {
            if let Err(e) = FaultPlan::take(&f.syncs_before_failure) {
                self.needs_full_sync.store(full, Ordering::Release);
                return Err(e);
            }
        }
        let r = match &self.inner {
            Inner::Os(file) => {
                if full {
                    file.sync_all()
                } else {
                    file.sync_data()
                }
            }
            Inner::Sim(d, ino) => d.sync_file(*ino),
        };
        if r.is_err() {
            self.needs_full_sync.store(full, Ordering::Release);
            return r;
        }
        // A truncation while the sync ran: the bytes counted before it may not be what is on disk.
        if self.truncations.load(Ordering::Acquire) == t {
            self.synced.fetch_max(w, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Syncs only when something written is not yet known to be on disk.
    pub fn sync_if_needed(&self) -> io::Result<()> {
        if self.is_synced() {
            return Ok(());
        }
        self.sync_data()
    }

    /// Cuts the file to `len` bytes. The new length is durable only after the next sync.
    pub fn truncate(&self, len: u64) -> io::Result<()> {
        match &self.inner {
            Inner::Os(file) => file.set_len(len)?,
            Inner::Sim(d, ino) => d.set_len(*ino, len)?,
        }
        self.truncations.fetch_add(1, Ordering::AcqRel);
        self.written.store(len, Ordering::Release);
        let synced = self.synced.load(Ordering::Acquire);
        if synced > len {
            self.synced.store(len, Ordering::Release);
        }
        self.needs_full_sync.store(true, Ordering::Release);
        Ok(())
    }
}

fn write_all_vectored(file: &File, parts: &[&[u8]]) -> io::Result<()> {
    let mut idx = 0;
    let mut skip = 0;
    let mut f = file;
    while idx < parts.len() {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(parts.len() - idx);
        slices.push(IoSlice::new(&parts[idx][skip..]));
        for p in &parts[idx + 1..] {
            slices.push(IoSlice::new(p));
        }
        let mut n = f.write_vectored(&slices)?;
        if n == 0 && parts[idx..].iter().any(|p| !p.is_empty()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectored_append_and_read() {
        let d = tempfile::tempdir().unwrap();
        let f = Disk::os().open_file(&d.path().join("a")).unwrap();
        f.append(&[b"ab", b"", b"cdef"]).unwrap();
        let mut buf = [0u8; 6];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"abcdef");
        assert_eq!(f.len().unwrap(), 6);
        assert!(!f.is_synced());
        f.sync_if_needed().unwrap();
        assert!(f.is_synced());
    }

    #[test]
    fn injected_faults_fire_after_n() {
        let d = tempfile::tempdir().unwrap();
        let plan = FaultPlan::new(1, 0);
        let f = Disk::os().with_faults(Some(plan)).open_file(&d.path().join("a")).unwrap();
        f.append(&[b"x"]).unwrap();
        assert!(f.append(&[b"y"]).is_err());
        assert!(f.sync_data().is_err());
        assert!(!f.is_synced(), "a failed sync claims nothing");
        assert_eq!(f.len().unwrap(), 1);
    }

    #[test]
    fn tmp_names_keep_the_whole_name() {
        assert_eq!(tmp_path(Path::new("/d/0.index")), Path::new("/d/0.index.tmp"));
        assert_eq!(tmp_path(Path::new("/d/0.timeindex")), Path::new("/d/0.timeindex.tmp"));
    }

    #[test]
    fn the_sim_backend_loses_an_atomic_write_only_before_the_directory_sync() {
        let sim = Arc::new(SimDisk::new());
        let disk = Disk::sim(sim.clone());
        disk.create_dir_all(Path::new("/d")).unwrap();
        sim.sync_dir(super::super::sim_disk::ROOT).unwrap();
        disk.write_atomic(Path::new("/d/m"), b"one").unwrap();
        disk.write_replacing(Path::new("/d/m"), b"two", true).unwrap();
        sim.power_cut(super::super::sim_disk::Cut::DropAll);
        assert_eq!(disk.read(Path::new("/d/m")).unwrap(), b"one");
    }
}
