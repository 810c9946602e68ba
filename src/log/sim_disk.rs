//! A simulated disk with a page cache, for power-cut tests: every write is volatile until the file
//! is fsynced, every directory change (create, unlink, rename, mkdir, rmdir) until its directory
//! is fsynced. [`SimDisk::power_cut`] then drops what is volatile, the way a real disk cache does
//! (optionally keeping a torn part of it), and the log is reopened on what is left.
//!
//! It is the store below the `Disk::Sim` backend of `log/file.rs` (in-process model tests) and
//! below the FUSE filesystem of `tests/power_cut.rs` (the real binary), so both see one model.
//! Inode based: a directory maps names to inode numbers; paths resolve from the root inode.
//!
//! Not a production filesystem: everything lives in memory behind one mutex.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Component, Path};

use parking_lot::Mutex;

/// Page size of the model: volatile data is dropped or kept in whole pages.
pub const PAGE: usize = 4096;
pub const ROOT: u64 = 1;

/// What a power cut keeps of the volatile state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Nothing that was not fsynced survives.
    DropAll,
    /// Each file keeps its unsynced pages up to a random page boundary (a torn tail); each
    /// directory keeps a random prefix of its unsynced changes, in the order they were made.
    TornPrefix(u64),
    /// Each unsynced page independently survives or not; the length is the old or the new one;
    /// directories as for `TornPrefix`.
    RandomPages(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub ino: u64,
    pub kind: Kind,
    pub size: u64,
}

#[derive(Debug, Default)]
struct FileNode {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Pages written since the last sync, and whether the length changed.
    dirty: BTreeSet<usize>,
    len_dirty: bool,
}

#[derive(Debug, Clone)]
enum DirOp {
    Insert(String, u64),
    Remove(String),
}

#[derive(Debug, Default)]
struct DirNode {
    entries: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
    /// Changes since the last sync of this directory, in order.
    pending: Vec<DirOp>,
}

#[derive(Debug)]
enum Node {
    File(FileNode),
    Dir(DirNode),
}

#[derive(Debug)]
struct State {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
}

#[derive(Debug)]
pub struct SimDisk {
    state: Mutex<State>,
}

impl Default for SimDisk {
    fn default() -> Self {
        SimDisk::new()
    }
}

fn enoent() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}
fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// splitmix64: a small deterministic generator for the cut's choices.
fn next_rand(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl State {
    fn dir(&mut self, ino: u64) -> io::Result<&mut DirNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::Dir(d)) => Ok(d),
            Some(Node::File(_)) => Err(errno(libc::ENOTDIR)),
            None => Err(enoent()),
        }
    }
    fn file(&mut self, ino: u64) -> io::Result<&mut FileNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::File(f)) => Ok(f),
            Some(Node::Dir(_)) => Err(errno(libc::EISDIR)),
            None => Err(enoent()),
        }
    }
    fn insert(&mut self, parent: u64, name: &str, ino: u64) -> io::Result<()> {
        let d = self.dir(parent)?;
        d.entries.insert(name.to_string(), ino);
        d.pending.push(DirOp::Insert(name.to_string(), ino));
        Ok(())
    }
    fn remove(&mut self, parent: u64, name: &str) -> io::Result<u64> {
        let d = self.dir(parent)?;
        let ino = d.entries.remove(name).ok_or_else(enoent)?;
        d.pending.push(DirOp::Remove(name.to_string()));
        Ok(ino)
    }
    fn new_node(&mut self, n: Node) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, n);
        ino
    }
}

impl SimDisk {
    pub fn new() -> SimDisk {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::Dir(DirNode::default()));
        SimDisk { state: Mutex::new(State { nodes, next_ino: ROOT + 1 }) }
    }

    // --- inode operations (what a FUSE filesystem needs) -------------------------------------

    pub fn lookup(&self, parent: u64, name: &str) -> io::Result<Attr> {
        let mut st = self.state.lock();
        let ino = *st.dir(parent)?.entries.get(name).ok_or_else(enoent)?;
        Self::attr_of(&st, ino)
    }

    fn attr_of(st: &State, ino: u64) -> io::Result<Attr> {
        match st.nodes.get(&ino) {
            Some(Node::File(f)) => Ok(Attr { ino, kind: Kind::File, size: f.data.len() as u64 }),
            Some(Node::Dir(_)) => Ok(Attr { ino, kind: Kind::Dir, size: 0 }),
            None => Err(enoent()),
        }
    }

    pub fn attr(&self, ino: u64) -> io::Result<Attr> {
        Self::attr_of(&self.state.lock(), ino)
    }

    /// Creates a file or directory `name` in `parent`; an existing file is returned as it is.
    pub fn create(&self, parent: u64, name: &str, kind: Kind, exclusive: bool) -> io::Result<Attr> {
        let mut st = self.state.lock();
        if let Some(&ino) = st.dir(parent)?.entries.get(name) {
            if exclusive || kind == Kind::Dir {
                return Err(errno(libc::EEXIST));
            }
            return Self::attr_of(&st, ino);
        }
        let node = match kind {
            Kind::File => Node::File(FileNode::default()),
            Kind::Dir => Node::Dir(DirNode::default()),
        };
        let ino = st.new_node(node);
        st.insert(parent, name, ino)?;
        Self::attr_of(&st, ino)
    }

    pub fn unlink(&self, parent: u64, name: &str) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = *st.dir(parent)?.entries.get(name).ok_or_else(enoent)?;
        if matches!(st.nodes.get(&ino), Some(Node::Dir(_))) {
            return Err(errno(libc::EISDIR));
        }
        st.remove(parent, name)?;
        Ok(())
    }

    pub fn rmdir(&self, parent: u64, name: &str) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = *st.dir(parent)?.entries.get(name).ok_or_else(enoent)?;
        if !st.dir(ino)?.entries.is_empty() {
            return Err(errno(libc::ENOTEMPTY));
        }
        st.remove(parent, name)?;
        Ok(())
    }

    /// Renames atomically; a file at the target is replaced.
    pub fn rename(&self, parent: u64, name: &str, new_parent: u64, new_name: &str) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = *st.dir(parent)?.entries.get(name).ok_or_else(enoent)?;
        if let Some(&target) = st.dir(new_parent)?.entries.get(new_name) {
            if target == ino {
                return Ok(());
            }
            if let Ok(d) = st.dir(target) {
                if !d.entries.is_empty() {
                    return Err(errno(libc::ENOTEMPTY));
                }
            }
        }
        st.remove(parent, name)?;
        st.insert(new_parent, new_name, ino)
    }

    pub fn readdir(&self, ino: u64) -> io::Result<Vec<(String, Attr)>> {
        let mut st = self.state.lock();
        let entries: Vec<(String, u64)> = st.dir(ino)?.entries.iter().map(|(k, v)| (k.clone(), *v)).collect();
        entries.into_iter().map(|(n, i)| Ok((n, Self::attr_of(&st, i)?))).collect()
    }

    pub fn read(&self, ino: u64, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut st = self.state.lock();
        let f = st.file(ino)?;
        let start = (offset as usize).min(f.data.len());
        let end = start.saturating_add(len).min(f.data.len());
        Ok(f.data[start..end].to_vec())
    }

    /// Reads into `buf` at `offset`; returns the bytes read (short at the end of the file).
    pub fn read_into(&self, ino: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut st = self.state.lock();
        let f = st.file(ino)?;
        let start = (offset as usize).min(f.data.len());
        let n = buf.len().min(f.data.len() - start);
        buf[..n].copy_from_slice(&f.data[start..start + n]);
        Ok(n)
    }

    pub fn write(&self, ino: u64, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.state.lock();
        let f = st.file(ino)?;
        let off = offset as usize;
        let end = off + data.len();
        if end > f.data.len() {
            f.data.resize(end, 0);
            f.len_dirty = true;
        }
        f.data[off..end].copy_from_slice(data);
        if !data.is_empty() {
            for p in off / PAGE..=(end - 1) / PAGE {
                f.dirty.insert(p);
            }
        }
        Ok(())
    }

    /// Appends at the end of the file.
    pub fn append(&self, ino: u64, parts: &[&[u8]]) -> io::Result<()> {
        for p in parts {
            let len = self.attr(ino)?.size;
            self.write(ino, len, p)?;
        }
        Ok(())
    }

    pub fn set_len(&self, ino: u64, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let f = st.file(ino)?;
        let len = len as usize;
        if len != f.data.len() {
            let old = f.data.len();
            f.data.resize(len, 0);
            f.len_dirty = true;
            if len > old {
                for p in old / PAGE..=(len - 1) / PAGE {
                    f.dirty.insert(p);
                }
            }
        }
        Ok(())
    }

    /// fsync / fdatasync of a file: its data and length become durable (its name does not).
    pub fn sync_file(&self, ino: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let f = st.file(ino)?;
        f.durable.resize(f.data.len(), 0);
        for p in std::mem::take(&mut f.dirty) {
            let s = p * PAGE;
            if s < f.data.len() {
                let e = (s + PAGE).min(f.data.len());
                let (d, v) = (&mut f.durable, &f.data);
                d[s..e].copy_from_slice(&v[s..e]);
            }
        }
        f.len_dirty = false;
        Ok(())
    }

    /// fsync of a directory: its entries become durable.
    pub fn sync_dir(&self, ino: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let d = st.dir(ino)?;
        d.durable = d.entries.clone();
        d.pending.clear();
        Ok(())
    }

    /// The power cut: every volatile write and directory change is dropped, or partly kept.
    pub fn power_cut(&self, cut: Cut) {
        let mut st = self.state.lock();
        let mut seed = match cut {
            Cut::DropAll => 0,
            Cut::TornPrefix(s) | Cut::RandomPages(s) => s,
        };
        let mut inos: Vec<u64> = st.nodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            match st.nodes.get_mut(&ino) {
                Some(Node::File(f)) => {
                    let mut kept = f.durable.clone();
                    match cut {
                        Cut::DropAll => {}
                        Cut::TornPrefix(_) => {
                            let pages = f.data.len().div_ceil(PAGE);
                            let first = f.dirty.iter().next().copied().unwrap_or(pages);
                            let keep_to = if pages > first {
                                first + (next_rand(&mut seed) as usize) % (pages - first + 1)
                            } else {
                                first
                            };
                            let new_len = if f.len_dirty {
                                f.durable.len().max((keep_to * PAGE).min(f.data.len()))
                            } else {
                                f.durable.len()
                            };
                            kept.resize(new_len, 0);
                            for &p in f.dirty.iter().filter(|p| **p < keep_to) {
                                let s = p * PAGE;
                                let e = (s + PAGE).min(new_len).min(f.data.len());
                                if s < e {
                                    kept[s..e].copy_from_slice(&f.data[s..e]);
                                }
                            }
                        }
                        Cut::RandomPages(_) => {
                            let new_len = if f.len_dirty && next_rand(&mut seed).is_multiple_of(2) {
                                f.data.len()
                            } else {
                                f.durable.len()
                            };
                            kept.resize(new_len, 0);
                            for &p in &f.dirty {
                                if next_rand(&mut seed).is_multiple_of(2) {
                                    let s = p * PAGE;
                                    let e = (s + PAGE).min(new_len).min(f.data.len());
                                    if s < e {
                                        kept[s..e].copy_from_slice(&f.data[s..e]);
                                    }
                                }
                            }
                        }
                    }
                    f.data = kept.clone();
                    f.durable = kept;
                    f.dirty.clear();
                    f.len_dirty = false;
                }
                Some(Node::Dir(d)) => {
                    let keep = match cut {
                        Cut::DropAll => 0,
                        _ => (next_rand(&mut seed) as usize) % (d.pending.len() + 1),
                    };
                    let mut entries = d.durable.clone();
                    for op in &d.pending[..keep] {
                        match op {
                            DirOp::Insert(n, i) => {
                                entries.insert(n.clone(), *i);
                            }
                            DirOp::Remove(n) => {
                                entries.remove(n);
                            }
                        }
                    }
                    d.entries = entries.clone();
                    d.durable = entries;
                    d.pending.clear();
                }
                None => {}
            }
        }
    }

    // --- path operations (what `log/file.rs` needs) --------------------------------------------

    /// The inode of `path` (absolute or relative to the root; `.`/`..` are not supported).
    pub fn resolve(&self, path: &Path) -> io::Result<u64> {
        let mut ino = ROOT;
        for c in path.components() {
            match c {
                Component::Normal(n) => ino = self.lookup(ino, &n.to_string_lossy())?.ino,
                Component::RootDir | Component::CurDir => {}
                _ => return Err(io::Error::other("unsupported path component")),
            }
        }
        Ok(ino)
    }

    /// (parent inode, file name) of `path`.
    pub fn parent_of(&self, path: &Path) -> io::Result<(u64, String)> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("path has no file name"))?
            .to_string_lossy()
            .to_string();
        let parent = path.parent().map(|p| self.resolve(p)).unwrap_or(Ok(ROOT))?;
        Ok((parent, name))
    }

    /// Creates missing directories along `path`; returns the directories it created, outermost first.
    pub fn create_dir_all(&self, path: &Path) -> io::Result<Vec<std::path::PathBuf>> {
        let mut ino = ROOT;
        let mut made = Vec::new();
        let mut so_far = std::path::PathBuf::from("/");
        for c in path.components() {
            if let Component::Normal(n) = c {
                let name = n.to_string_lossy().to_string();
                so_far.push(&name);
                ino = match self.lookup(ino, &name) {
                    Ok(a) if a.kind == Kind::Dir => a.ino,
                    Ok(_) => return Err(errno(libc::ENOTDIR)),
                    Err(_) => {
                        made.push(so_far.clone());
                        self.create(ino, &name, Kind::Dir, true)?.ino
                    }
                };
            }
        }
        Ok(made)
    }

    /// Removes `path` and everything below it.
    pub fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let (parent, name) = self.parent_of(path)?;
        let ino = self.lookup(parent, &name)?.ino;
        self.empty_dir(ino)?;
        self.rmdir(parent, &name)
    }

    fn empty_dir(&self, ino: u64) -> io::Result<()> {
        for (name, a) in self.readdir(ino)? {
            if a.kind == Kind::Dir {
                self.empty_dir(a.ino)?;
                self.rmdir(ino, &name)?;
            } else {
                self.unlink(ino, &name)?;
            }
        }
        Ok(())
    }

    /// Every file under the root with its current content (for test diagnostics).
    pub fn tree(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let mut stack = vec![(String::new(), ROOT)];
        while let Some((prefix, ino)) = stack.pop() {
            for (n, a) in self.readdir(ino).unwrap_or_default() {
                let p = format!("{prefix}/{n}");
                if a.kind == Kind::Dir {
                    stack.push((p, a.ino));
                } else {
                    out.push((p, a.size));
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_and_entries_are_dropped_at_a_cut() {
        let d = SimDisk::new();
        d.create_dir_all(Path::new("/a")).unwrap();
        let dir = d.resolve(Path::new("/a")).unwrap();
        d.sync_dir(ROOT).unwrap();
        let f = d.create(dir, "x", Kind::File, false).unwrap().ino;
        d.write(f, 0, b"hello").unwrap();
        d.sync_file(f).unwrap();
        d.write(f, 5, b" world").unwrap();
        // The file's data is durable, its name is not.
        d.power_cut(Cut::DropAll);
        assert!(d.lookup(dir, "x").is_err(), "the entry was never made durable");
        let f = d.create(dir, "y", Kind::File, false).unwrap().ino;
        d.write(f, 0, b"hello").unwrap();
        d.sync_file(f).unwrap();
        d.sync_dir(dir).unwrap();
        d.write(f, 5, b" world").unwrap();
        d.power_cut(Cut::DropAll);
        assert_eq!(d.read(f, 0, 100).unwrap(), b"hello");
    }

    #[test]
    fn renames_are_volatile_until_the_directory_is_synced() {
        let d = SimDisk::new();
        let a = d.create(ROOT, "a", Kind::File, false).unwrap().ino;
        d.write(a, 0, b"old").unwrap();
        d.sync_file(a).unwrap();
        d.sync_dir(ROOT).unwrap();
        let t = d.create(ROOT, "a.tmp", Kind::File, false).unwrap().ino;
        d.write(t, 0, b"new").unwrap();
        d.sync_file(t).unwrap();
        d.rename(ROOT, "a.tmp", ROOT, "a").unwrap();
        d.power_cut(Cut::DropAll);
        let got = d.lookup(ROOT, "a").unwrap().ino;
        assert_eq!(d.read(got, 0, 10).unwrap(), b"old");
    }

    #[test]
    fn a_torn_cut_keeps_a_page_aligned_prefix() {
        let d = SimDisk::new();
        let f = d.create(ROOT, "f", Kind::File, false).unwrap().ino;
        d.sync_dir(ROOT).unwrap();
        d.write(f, 0, &vec![7u8; 3 * PAGE + 10]).unwrap();
        d.power_cut(Cut::TornPrefix(3));
        let len = d.attr(f).unwrap().size as usize;
        assert!(len.is_multiple_of(PAGE) || len == 3 * PAGE + 10, "{len}");
        assert!(d.read(f, 0, len).unwrap().iter().all(|b| *b == 7));
    }
}
