//! Proves: the real binary loses no record acknowledged with acks=all, and leaves no hole in any
//! partition, across many power cuts. Its data dir sits on a FUSE filesystem served by this test
//! over the simulated page-cache disk (`odradek::log::sim_disk`): every write is volatile until
//! its file is fsynced, every directory change until its directory is; at a cut the broker is
//! SIGKILLed, the filesystem unmounted (so the kernel keeps no cache of it) and everything
//! volatile dropped or partly kept (a torn prefix, or random pages). The load: librdkafka
//! producers with acks=all and acks=1 on the same partitions, and a raw client sending acks=all
//! produce requests with several batches for one partition, with 16 KiB segments so requests
//! span rolls. Just before each kill a consumer group commits offsets (answered only once
//! durable). After each cut the broker restarts on what is left and a consumer reads every
//! partition: offsets dense from 0, every acks=all acknowledged record at its offset, byte for
//! byte; the group's committed offsets and the topic's config are what they were.
//!
//! Needs /dev/fuse and root (the machines this project runs on have both). POWER_CUT_CYCLES sets
//! the number of cycles (default 8); POWER_CUT_BIN another broker binary.
mod common;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use common::raw::Raw;
use common::*;
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use odradek::log::sim_disk::{Attr, Cut, Kind, SimDisk};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

const TTL: Duration = Duration::ZERO;
const TOPIC: &str = "cuts";
const PARTITIONS: i32 = 3;
const GROUP: &str = "cuts-group";
const RETENTION: &str = "987654321";

/// A FUSE filesystem over the simulated disk.
struct LazyFs {
    disk: Arc<SimDisk>,
}

fn attr(a: Attr) -> FileAttr {
    let dir = a.kind == Kind::Dir;
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: if dir { FileType::Directory } else { FileType::RegularFile },
        perm: if dir { 0o755 } else { 0o644 },
        nlink: if dir { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn name(n: &OsStr) -> String {
    n.to_string_lossy().to_string()
}

impl Filesystem for LazyFs {
    fn lookup(&self, _: &Request, parent: INodeNo, n: &OsStr, reply: ReplyEntry) {
        match self.disk.lookup(parent.0, &name(n)) {
            Ok(a) => reply.entry(&TTL, &attr(a), Generation(0)),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn getattr(&self, _: &Request, ino: INodeNo, _: Option<FileHandle>, reply: ReplyAttr) {
        match self.disk.attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &attr(a)),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn setattr(
        &self,
        _: &Request,
        ino: INodeNo,
        _: Option<u32>,
        _: Option<u32>,
        _: Option<u32>,
        size: Option<u64>,
        _: Option<TimeOrNow>,
        _: Option<TimeOrNow>,
        _: Option<std::time::SystemTime>,
        _: Option<FileHandle>,
        _: Option<std::time::SystemTime>,
        _: Option<std::time::SystemTime>,
        _: Option<std::time::SystemTime>,
        _: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        if let Some(len) = size {
            if let Err(e) = self.disk.set_len(ino.0, len) {
                return reply.error(Errno::from(e));
            }
        }
        match self.disk.attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &attr(a)),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn mkdir(&self, _: &Request, parent: INodeNo, n: &OsStr, _: u32, _: u32, reply: ReplyEntry) {
        match self.disk.create(parent.0, &name(n), Kind::Dir, true) {
            Ok(a) => reply.entry(&TTL, &attr(a), Generation(0)),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn create(
        &self,
        _: &Request,
        parent: INodeNo,
        n: &OsStr,
        _: u32,
        _: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.disk.create(parent.0, &name(n), Kind::File, flags & libc::O_EXCL != 0) {
            Ok(a) => {
                if flags & libc::O_TRUNC != 0 {
                    let _ = self.disk.set_len(a.ino, 0);
                }
                reply.created(&TTL, &attr(a), Generation(0), FileHandle(0), FopenFlags::FOPEN_DIRECT_IO)
            }
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn open(&self, _: &Request, _: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO);
    }
    fn unlink(&self, _: &Request, parent: INodeNo, n: &OsStr, reply: ReplyEmpty) {
        match self.disk.unlink(parent.0, &name(n)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn rmdir(&self, _: &Request, parent: INodeNo, n: &OsStr, reply: ReplyEmpty) {
        match self.disk.rmdir(parent.0, &name(n)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn rename(
        &self,
        _: &Request,
        parent: INodeNo,
        n: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self.disk.rename(parent.0, &name(n), newparent.0, &name(newname)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        offset: u64,
        size: u32,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.disk.read(ino.0, offset, size as usize) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        _: &Request,
        ino: INodeNo,
        _: FileHandle,
        offset: u64,
        data: &[u8],
        _: WriteFlags,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.disk.write(ino.0, offset, data) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn flush(&self, _: &Request, _: INodeNo, _: FileHandle, _: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }
    fn fsync(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        match self.disk.sync_file(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn readdir(&self, _: &Request, ino: INodeNo, _: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let entries = match self.disk.readdir(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(Errno::from(e)),
        };
        let mut all = vec![
            (ino.0, FileType::Directory, ".".to_string()),
            (ino.0, FileType::Directory, "..".to_string()),
        ];
        all.extend(entries.into_iter().map(|(n, a)| {
            (a.ino, if a.kind == Kind::Dir { FileType::Directory } else { FileType::RegularFile }, n)
        }));
        for (i, (ino, kind, n)) in all.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, n) {
                break;
            }
        }
        reply.ok();
    }
    fn fsyncdir(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        match self.disk.sync_dir(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(Errno::from(e)),
        }
    }
    fn statfs(&self, _: &Request, _: INodeNo, reply: fuser::ReplyStatfs) {
        reply.statfs(1 << 24, 1 << 23, 1 << 23, 1 << 20, 1 << 19, 4096, 255, 4096);
    }
}

fn mount(disk: &Arc<SimDisk>, at: &Path) -> fuser::BackgroundSession {
    let mut cfg = fuser::Config::default();
    cfg.mount_options.push(fuser::MountOption::FSName("odradek-power-cut".into()));
    fuser::spawn_mount2(LazyFs { disk: disk.clone() }, at, &cfg)
        .expect("mount the power-cut filesystem (needs /dev/fuse and root)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(dir: &Path, port: u16, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    // POWER_CUT_BIN runs another build (an older one, to see this test fail).
    let bin = std::env::var("POWER_CUT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_odradek").to_string());
    let child = Command::new(bin)
        .args(["--data-dir", dir.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .args(["--set", &format!("num.partitions={PARTITIONS}"), "--set", "log.segment.bytes=16384"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("spawn odradek");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "broker did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

type Acked = Arc<Mutex<HashMap<(i32, i64), String>>>;

/// acks=all produce requests of one 9-record batch of mixed sizes for one partition (a request
/// carries one batch per partition, as Kafka requires), until `stop`; records the offsets of every
/// answered request.
async fn raw_multi_batch(bootstrap: String, cycle: usize, acked: Acked, stop: Arc<AtomicBool>) {
    let mut raw = Raw::connect(&bootstrap).await;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let partition = (i % PARTITIONS as u64) as i32;
        let mut values = Vec::new();
        for b in 0..3 {
            values.extend((0..3).map(|r| {
                format!("raw-c{cycle}-{i}-{b}-{r}-{}", "y".repeat((i as usize * 37 + b * 11) % 900))
            }));
        }
        let refs: Vec<&str> = values.iter().map(|s| s.as_str()).collect();
        // sequence 0 (no producer id): the encoder keeps all nine records in one batch
        let records = common::raw::batch(&refs, -1, -1, 0, odradek::clock::now_ms());
        let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))]),
        ]);
        let Some(resp) = raw.request::<_, ProduceResponse>(ApiKey::Produce, 9, &req).await else { return };
        let p = &resp.responses[0].partition_responses[0];
        if p.error_code == 0 {
            let mut a = acked.lock().unwrap();
            for (k, v) in values.into_iter().enumerate() {
                a.insert((partition, p.base_offset + k as i64), v);
            }
        }
        i += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_power_cuts() {
    let cycles: usize = std::env::var("POWER_CUT_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let root = tempfile::tempdir().unwrap();
    let mnt = root.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let data = mnt.join("data");
    let log = root.path().join("broker.log");
    let disk = Arc::new(SimDisk::new());
    let acked: Acked = Arc::default();
    let mut acks1_present = 0usize;
    for cycle in 0..cycles {
        let session = mount(&disk, &mnt);
        let port = free_port();
        let bootstrap = format!("127.0.0.1:{port}");
        let mut child = spawn(&data, port, &log);
        if cycle == 0 {
            let admin = create_topic_admin(&bootstrap);
            let t =
                rdkafka::admin::NewTopic::new(TOPIC, PARTITIONS, rdkafka::admin::TopicReplication::Fixed(1))
                    .set("retention.ms", RETENTION);
            let r = admin.create_topics(&[t], &rdkafka::admin::AdminOptions::new()).await.unwrap();
            assert!(r[0].is_ok(), "{r:?}");
        }
        // Load: acks=all and acks=1 producers on the same partitions, and multi-batch requests.
        let stop = Arc::new(AtomicBool::new(false));
        let raw = tokio::spawn(raw_multi_batch(bootstrap.clone(), cycle, acked.clone(), stop.clone()));
        let all = producer(
            &bootstrap,
            &[("acks", "all"), ("linger.ms", "2"), ("message.timeout.ms", "5000"), ("retries", "0")],
        );
        let one = producer(&bootstrap, &[("acks", "1"), ("linger.ms", "2"), ("message.timeout.ms", "5000")]);
        let mut inflight = Vec::new();
        let until = Instant::now() + Duration::from_millis(900 + 150 * (cycle as u64 % 4));
        let mut i = 0u64;
        while Instant::now() < until {
            let v = format!("c{cycle}-m{i}-{}", "z".repeat((i % 400) as usize));
            let key = format!("k{}", i % 13);
            if let Ok(f) = all.send_result(FutureRecord::to(TOPIC).key(&key).payload(&v)) {
                let acked = acked.clone();
                inflight.push(tokio::spawn(async move {
                    if let Ok(Ok(d)) = f.await {
                        acked.lock().unwrap().insert((d.partition, d.offset), v);
                    }
                }));
            }
            let _ = one.send_result(FutureRecord::to(TOPIC).key(&key).payload("acks1"));
            i += 1;
            if i.is_multiple_of(64) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        // A group commits (the answer comes once the commit is durable), then the process dies
        // with produce requests still in flight, then the power goes.
        let committed: Vec<(i32, i64)> = {
            let a = acked.lock().unwrap();
            (0..PARTITIONS)
                .map(|p| (p, a.keys().filter(|(q, _)| *q == p).map(|(_, o)| *o + 1).max().unwrap_or(0)))
                .collect()
        };
        let g = consumer(&bootstrap, &[("group.id", GROUP)]);
        let mut tpl = rdkafka::TopicPartitionList::new();
        for (p, o) in &committed {
            tpl.add_partition_offset(TOPIC, *p, Offset::Offset(*o)).unwrap();
        }
        rdkafka::consumer::Consumer::commit(&g, &tpl, rdkafka::consumer::CommitMode::Sync)
            .expect("offset commit");
        drop(g);
        child.kill().unwrap();
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        let _ = raw.await;
        for h in inflight {
            let _ = h.await;
        }
        drop(all);
        drop(one);
        drop(session);
        let cut = match cycle % 3 {
            0 => Cut::DropAll,
            1 => Cut::TornPrefix(cycle as u64 * 7919),
            _ => Cut::RandomPages(cycle as u64 * 104_729),
        };
        disk.power_cut(cut);
        // Restart on what survived, and read everything back.
        let session = mount(&disk, &mnt);
        let mut child = spawn(&data, port, &log);
        let expect = acked.lock().unwrap().clone();
        assert!(expect.len() > 100, "cycle {cycle}: only {} records acknowledged", expect.len());
        let c = consumer(&bootstrap, &[]);
        let meta =
            rdkafka::consumer::Consumer::fetch_metadata(&c, Some(TOPIC), Duration::from_secs(10)).unwrap();
        assert_eq!(
            meta.topics()[0].partitions().len(),
            PARTITIONS as usize,
            "cycle {cycle}: the topic survived"
        );
        let g = consumer(&bootstrap, &[("group.id", GROUP)]);
        let mut tpl = rdkafka::TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition(TOPIC, p);
        }
        let got: Vec<(i32, i64)> =
            rdkafka::consumer::Consumer::committed_offsets(&g, tpl, Duration::from_secs(20))
                .unwrap()
                .elements()
                .iter()
                .map(|e| (e.partition(), e.offset().to_raw().unwrap_or(-1)))
                .collect();
        assert_eq!(got, committed, "cycle {cycle} ({cut:?}): the group's committed offsets");
        drop(g);
        let admin = create_topic_admin(&bootstrap);
        let cfg = admin
            .describe_configs(
                &[rdkafka::admin::ResourceSpecifier::Topic(TOPIC)],
                &rdkafka::admin::AdminOptions::new(),
            )
            .await
            .unwrap();
        let retention =
            cfg[0].as_ref().ok().and_then(|c| c.get("retention.ms")).and_then(|e| e.value.clone());
        assert_eq!(retention.as_deref(), Some(RETENTION), "cycle {cycle} ({cut:?}): the topic's config");
        drop(admin);
        for part in 0..PARTITIONS {
            let (low, high) =
                rdkafka::consumer::Consumer::fetch_watermarks(&c, TOPIC, part, Duration::from_secs(10))
                    .unwrap();
            assert_eq!(low, 0);
            let top = expect.keys().filter(|(p, _)| *p == part).map(|(_, o)| *o).max().unwrap_or(-1);
            assert!(high > top, "cycle {cycle} ({cut:?}): partition {part} ends at {high}, but offset {top} was acknowledged with acks=all");
            let got = read(&c, TOPIC, &[part], Offset::Beginning, high as usize, Duration::from_secs(60));
            let offsets: Vec<i64> = got.iter().map(|g| g.offset).collect();
            assert_eq!(offsets, (0..high).collect::<Vec<i64>>(), "cycle {cycle} ({cut:?}): partition {part} has a hole or a duplicate below its high watermark {high}");
            let by_offset: HashMap<i64, Vec<u8>> =
                got.into_iter().map(|g| (g.offset, g.value.unwrap_or_default())).collect();
            for ((_, o), v) in expect.iter().filter(|((p, _), _)| *p == part) {
                assert_eq!(
                    by_offset.get(o).map(|b| b.as_slice()),
                    Some(v.as_bytes()),
                    "cycle {cycle} ({cut:?}): acknowledged record {part}/{o} lost or changed"
                );
            }
            acks1_present += by_offset.values().filter(|v| v.as_slice() == b"acks1").count();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        drop(session);
        // The verification run synced everything it recovered; the next cycle starts from it.
        disk.power_cut(Cut::DropAll);
    }
    eprintln!(
        "{cycles} power cuts, {} acks=all records checked, {acks1_present} acks=1 records present at the end",
        acked.lock().unwrap().len()
    );
}
