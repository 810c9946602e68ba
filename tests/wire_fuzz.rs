//! End-to-end mutation fuzzing over the wire: the frames stock clients (librdkafka: producers
//! with every codec, idempotent and transactional, a consumer group, the admin client) send are
//! captured through a proxy, then mutated and sent to the broker for `WIRE_FUZZ_SECONDS` (20 by
//! default), with a healthy acks=all producer alongside. Asserted afterwards: no panic, every
//! answer is a well-formed response to its request, the healthy producer kept being served,
//! every partition is contiguous up to its high watermark (no high watermark beyond what was
//! written) and readable by a stock consumer, RSS grew less than 512 MiB, and descriptors are back
//! to the baseline once the fuzzing connections closed.
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use common::*;
use kafka_protocol::messages::{ApiKey, ProduceRequest, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};
use odradek::fuzz::{fix_crcs, mutate, Rng};
use parking_lot::Mutex;
use rdkafka::consumer::Consumer;
use rdkafka::producer::Producer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Forwards client connections to the broker, keeping every request frame the clients send.
async fn capture_proxy(
    listener: TcpListener,
    broker: std::net::SocketAddr,
    frames: Arc<Mutex<Vec<Vec<u8>>>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = TcpStream::connect(broker).await else { continue };
        let frames = frames.clone();
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut sr, &mut cw).await;
        });
        tokio::spawn(async move {
            loop {
                let Ok(n) = cr.read_i32().await else { return };
                let mut body = vec![0u8; n.max(0) as usize];
                if cr.read_exact(&mut body).await.is_err() {
                    return;
                }
                {
                    let mut f = frames.lock();
                    if f.len() < 20_000 {
                        f.push(body.clone());
                    }
                }
                if sw.write_all(&n.to_be_bytes()).await.is_err() || sw.write_all(&body).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Stock-client traffic, through the proxy.
async fn stock_traffic(bootstrap: &str) {
    use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
    let admin = create_topic_admin(bootstrap);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let r = admin
        .create_topics(
            &[
                NewTopic::new("fz-a", 3, TopicReplication::Fixed(1)),
                NewTopic::new("fz-c", 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact"),
                NewTopic::new("fz-healthy", 1, TopicReplication::Fixed(1)),
            ],
            &opts,
        )
        .await
        .unwrap();
    assert!(r.iter().all(|t| t.is_ok()), "{r:?}");
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let p = producer(
            bootstrap,
            &[("compression.type", codec), ("enable.idempotence", "true"), ("linger.ms", "5")],
        );
        let sends: Vec<_> = (0..30)
            .map(|i| {
                let (k, v) =
                    (format!("key-{i}"), format!("{codec} value {i} {}", "lorem ipsum ".repeat(i % 7)));
                let p = p.clone();
                async move {
                    let topic = if i % 3 == 0 { "fz-c" } else { "fz-a" };
                    p.send(
                        rdkafka::producer::FutureRecord::to(topic).key(&k).payload(&v),
                        Duration::from_secs(10),
                    )
                    .await
                    .map(|_| ())
                    .map_err(|(e, _)| e)
                }
            })
            .collect();
        for r in futures_join(sends).await {
            r.unwrap();
        }
    }
    let bs = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let tp: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bs)
            .set("transactional.id", "fz-tx")
            .create()
            .unwrap();
        tp.init_transactions(Duration::from_secs(10)).unwrap();
        for commit in [true, false] {
            tp.begin_transaction().unwrap();
            for i in 0..5 {
                tp.send(
                    rdkafka::producer::BaseRecord::to("fz-a").key("tx").payload(&format!("tx {commit} {i}")),
                )
                .unwrap();
            }
            tp.flush(Duration::from_secs(10)).unwrap();
            if commit {
                tp.commit_transaction(Duration::from_secs(10)).unwrap();
            } else {
                tp.abort_transaction(Duration::from_secs(10)).unwrap();
            }
        }
        let c = consumer(
            &bs,
            &[("group.id", "fz-g"), ("auto.offset.reset", "earliest"), ("enable.auto.offset.store", "true")],
        );
        c.subscribe(&["fz-a"]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut n = 0;
        while n < 40 && Instant::now() < deadline {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(200)) {
                n += 1;
            }
        }
        assert!(n >= 40, "the group consumer read {n}");
        c.commit_consumer_state(rdkafka::consumer::CommitMode::Sync).unwrap();
    })
    .await
    .unwrap();
}

async fn futures_join<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(fs.len());
    for f in fs {
        out.push(f.await);
    }
    out
}

/// A mutation of one captured frame. Produce frames get their records mutated (CRCs fixed, so
/// validation is what meets them) half the time; everything else gets byte-level edits.
fn mutated(rng: &mut Rng, frame: &[u8]) -> Vec<u8> {
    if frame.len() > 8
        && i16::from_be_bytes([frame[0], frame[1]]) == ApiKey::Produce as i16
        && rng.below(2) == 0
    {
        let mut b = Bytes::copy_from_slice(frame);
        if let Ok(h) = odradek::protocol::decode_header(&mut b) {
            let header_len = frame.len() - b.len();
            if let Ok(mut req) = ProduceRequest::decode(&mut b, h.api_version) {
                for td in &mut req.topic_data {
                    for pd in &mut td.partition_data {
                        if let Some(r) = &pd.records {
                            let mut m = mutate(rng, r);
                            fix_crcs(&mut m);
                            pd.records = Some(Bytes::from(m));
                        }
                    }
                }
                let mut out = BytesMut::from(&frame[..header_len]);
                if req.encode(&mut out, h.api_version).is_ok() {
                    return out.to_vec();
                }
            }
        }
    }
    mutate(rng, frame)
}

/// Checks an answer against the request it answers. Returns an explanation when it is malformed.
fn check_answer(request: &[u8], answer: &[u8]) -> Result<(), String> {
    if answer.len() < 4 {
        return Err(format!("answer of {} bytes", answer.len()));
    }
    let mut req = Bytes::copy_from_slice(request);
    let header = odradek::protocol::decode_header(&mut req);
    let sent_cid = i32::from_be_bytes([request[4], request[5], request[6], request[7]]);
    let got_cid = i32::from_be_bytes([answer[0], answer[1], answer[2], answer[3]]);
    if sent_cid != got_cid {
        return Err(format!("correlation id {got_cid}, sent {sent_cid}"));
    }
    let (api, v) = match header {
        Ok(h) => (h.api_key, h.api_version),
        // Only a too-new ApiVersions is answered without a decodable header: v0, with its own entry.
        Err(_) if i16::from_be_bytes([request[0], request[1]]) == ApiKey::ApiVersions as i16 => {
            (ApiKey::ApiVersions, 0)
        }
        Err(e) => return Err(format!("an answer to a request whose header does not decode ({e})")),
    };
    let decode = |v: i16| -> Result<(), String> {
        let mut b = Bytes::copy_from_slice(answer);
        ResponseHeader::decode(&mut b, api.response_header_version(v)).map_err(|e| e.to_string())?;
        ResponseKind::decode(api, &mut b, v).map_err(|e| e.to_string())?;
        if b.has_remaining() {
            return Err(format!("{} bytes after the body", b.remaining()));
        }
        Ok(())
    };
    decode(v)
        .or_else(|e| if api == ApiKey::ApiVersions { decode(0) } else { Err(e) })
        .map_err(|e| format!("{api:?} v{v}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_client_frames_hurt_nobody() {
    let secs: u64 = std::env::var("WIRE_FUZZ_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    init_tracing();
    let b = odradek::Broker::builder()
        .data_dir(dir.path())
        .listen("127.0.0.1:0")
        .advertise(proxy_addr.clone())
        // Mutated CreateTopics may ask for many partitions: keep what they can make small.
        .set("max.broker.partitions", "1500")
        .start()
        .await
        .unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(capture_proxy(proxy, b.local_addr(), frames.clone()));
    stock_traffic(&proxy_addr).await;
    let corpus: Vec<Vec<u8>> = frames.lock().iter().filter(|f| f.len() >= 8).cloned().collect();
    let mut apis: Vec<i16> = corpus.iter().map(|f| i16::from_be_bytes([f[0], f[1]])).collect();
    apis.sort();
    apis.dedup();
    println!("captured {} frames of {} APIs: {apis:?}", corpus.len(), apis.len());
    assert!(apis.len() >= 15, "the stock clients used {apis:?}");

    // The healthy producer, through the proxy like any client.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let healthy = {
        let (stop, acked, bs) = (stop.clone(), acked.clone(), proxy_addr.clone());
        tokio::spawn(async move {
            let p = producer(&bs, &[("acks", "all"), ("linger.ms", "0")]);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let n = acked.load(Ordering::Relaxed);
                send(&p, "fz-healthy", Some(0), b"h", format!("healthy {n}").as_bytes()).await;
                lat.push(t.elapsed());
                acked.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            lat.sort();
            lat
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fds0, parts0, rss0) = (open_fds(), b.state().logs.partition_count(), rss_bytes());

    let broker = b.local_addr();
    let base: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64);
    let mut rng = Rng(base.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (mut sent, mut answered, mut closed) = (0u64, 0u64, 0u64);
    let mut conn: Option<TcpStream> = None;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let pick = rng.below(corpus.len());
        let frame = mutated(&mut rng, &corpus[pick]);
        if frame.len() < 8 {
            continue;
        }
        if conn.is_none() {
            conn = TcpStream::connect(broker).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&frame);
        sent += 1;
        if c.write_all(&out).await.is_err() {
            conn = None;
            closed += 1;
            continue;
        }
        let read = async {
            let n = c.read_i32().await?;
            let mut buf = vec![0u8; n.max(0) as usize];
            c.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        match tokio::time::timeout(Duration::from_millis(400), read).await {
            Ok(Ok(answer)) => {
                answered += 1;
                if let Err(e) = check_answer(&frame, &answer) {
                    panic!("malformed answer: {e}; request {:02x?}", &frame[..frame.len().min(200)]);
                }
            }
            // Closed (bad frame) or no answer yet (acks=0, a parked fetch): a new connection.
            Ok(Err(_)) => {
                closed += 1;
                conn = None;
            }
            Err(_) => conn = None,
        }
    }
    drop(conn);
    stop.store(true, Ordering::Relaxed);
    let lat = healthy.await.unwrap();
    let p99 = lat[lat.len() * 99 / 100];
    let grown = rss_bytes().saturating_sub(rss0);
    println!("wire fuzz: {sent} frames sent, {answered} answered, {closed} connections closed by the broker in {:?}; healthy producer: {} acked, p99 {p99:?}; RSS grew {} MiB", start.elapsed(), lat.len(), grown >> 20);
    assert!(sent > 500, "only {sent} frames sent");
    assert!(lat.len() > 50, "the healthy producer got {} answers", lat.len());
    assert!(p99 < Duration::from_secs(5), "healthy p99 {p99:?}");
    assert!(grown < 512 << 20, "RSS grew {} MiB", grown >> 20);

    // Every partition: contiguous batches up to its high watermark, nothing claimed beyond.
    for t in b.state().logs.topics() {
        for p in t.partitions.read().iter() {
            let (mut at, hw) = (p.log_start_offset(), p.high_watermark());
            while at < hw {
                let r = p.read(at, 1 << 20, true).unwrap();
                let mut next = at;
                for (_, h) in odradek::record::BatchIter::new(&r.records) {
                    assert!(
                        h.base_offset <= next.max(at) && h.next_offset() > next,
                        "{}-{}: batch {}..{} after {next}",
                        t.name,
                        p.index,
                        h.base_offset,
                        h.next_offset()
                    );
                    next = h.next_offset();
                }
                assert!(
                    next > at,
                    "{}-{}: nothing readable at {at} below the high watermark {hw}",
                    t.name,
                    p.index
                );
                at = next;
            }
            assert_eq!(at, hw, "{}-{}: the last batch ends at the high watermark", t.name, p.index);
            assert!(hw < 1_000_000, "{}-{}: high watermark {hw}", t.name, p.index);
        }
    }
    // A stock consumer reads every healthy record, in order.
    let n = acked.load(Ordering::Relaxed) as usize;
    let c = consumer(&proxy_addr, &[]);
    let got = read(&c, "fz-healthy", &[0], rdkafka::Offset::Beginning, n, Duration::from_secs(30));
    assert_eq!(got.len(), n);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.value.as_deref(), Some(format!("healthy {i}").as_bytes()));
    }
    // And the fuzzed topic to its end (a read_uncommitted consumer sees every data record).
    let hw = b.state().logs.topic("fz-a").unwrap().partition(0).unwrap().high_watermark();
    let c = consumer(&proxy_addr, &[]);
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("fz-a", 0, rdkafka::Offset::Beginning).unwrap();
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = -1;
    while last + 2 < hw && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => last = rdkafka::message::Message::offset(&m),
            Some(Err(e)) => panic!("consumer error on fz-a: {e}"),
            None => {}
        }
    }
    let lso = b.state().logs.topic("fz-a").unwrap().partition(0).unwrap().last_stable_offset();
    assert!(last + 2 >= hw, "read fz-a-0 to {last}, high watermark {hw}, last stable offset {lso}");
    drop((c, got));
    // Descriptors back to the baseline (new partitions made by fuzzed CreateTopics hold one each).
    let want = fds0 + (b.state().logs.partition_count() - parts0) + 8;
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds() > want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        open_fds() <= want,
        "{} descriptors open, baseline {fds0} (+{} partitions)",
        open_fds(),
        b.state().logs.partition_count() - parts0
    );
}
