//! What TLS, SASL and ACLs cost on the hot paths: the same produce and fetch load, one run each,
//! against an embedded broker on a PLAINTEXT listener, a SASL_SSL listener (SCRAM login, TLS 1.3
//! AES-GCM), and the SASL_SSL listener with ACLs on (the client allowed by a prefixed ACL among
//! 1,000 others). Raw protocol over one connection, 8 produce requests in flight, each request one
//! 64 KiB batch of 64 x 1 KiB records, acks=1; then fetches of 1 MiB reading it all back.
//!
//! `cargo bench --bench security` (a benchmark, not a test).
mod common;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Conn {
    s: Box<dyn Stream>,
    cid: i32,
}

impl Conn {
    async fn send<Q: kafka_protocol::protocol::Encodable>(&mut self, api: ApiKey, v: i16, req: &Q) {
        self.cid += 1;
        self.s.write_all(&common::request_frame(api, v, self.cid, req)).await.unwrap();
        self.s.flush().await.unwrap();
    }
    async fn recv<R: kafka_protocol::protocol::Decodable>(&mut self, api: ApiKey, v: i16, cid: i32) -> R {
        let len = self.s.read_i32().await.unwrap();
        let mut buf = vec![0u8; len as usize];
        self.s.read_exact(&mut buf).await.unwrap();
        common::decode_response(buf, api, v, cid)
    }
    async fn call<Q: kafka_protocol::protocol::Encodable, R: kafka_protocol::protocol::Decodable>(
        &mut self,
        api: ApiKey,
        v: i16,
        req: &Q,
    ) -> R {
        self.send(api, v, req).await;
        let cid = self.cid;
        self.recv(api, v, cid).await
    }
}

fn batch() -> Bytes {
    let recs: Vec<Record> = (0..64)
        .map(|i| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: i as i32 - 1,
            timestamp: odradek::clock::now_ms(),
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'x'; 1024])),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut b = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut b,
        &recs,
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .unwrap();
    b.freeze()
}

async fn scram_login(c: &mut Conn, user: &str, password: &str) {
    let _: SaslHandshakeResponse = c
        .call(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("SCRAM-SHA-256")),
        )
        .await;
    let bare = format!("n={user},r=benchnonce");
    let first: SaslAuthenticateResponse = c
        .call(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(format!("n,,{bare}"))),
        )
        .await;
    let sf = String::from_utf8(first.auth_bytes.to_vec()).unwrap();
    let (client_final, _) = odradek::security::scram::client_final(
        odradek::security::scram::Mechanism::Sha256,
        password,
        &bare,
        &sf,
    )
    .unwrap();
    let fin: SaslAuthenticateResponse = c
        .call(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(client_final)),
        )
        .await;
    assert_eq!(fin.error_code, 0, "login");
}

/// (produce MB/s, fetch MB/s) for `total` bytes.
async fn run(c: &mut Conn, topic: &str, total: usize) -> (f64, f64) {
    let created: CreateTopicsResponse = c
        .call(
            ApiKey::CreateTopics,
            5,
            &CreateTopicsRequest::default()
                .with_topics(vec![create_topics_request::CreatableTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.into())))
                    .with_num_partitions(1)
                    .with_replication_factor(1)])
                .with_timeout_ms(5000),
        )
        .await;
    assert_eq!(created.topics[0].error_code, 0);
    let b = batch();
    let req = ProduceRequest::default().with_acks(1).with_timeout_ms(5000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(b.clone()))]),
    ]);
    let n = total / b.len();
    let t = Instant::now();
    let mut inflight = VecDeque::new();
    for _ in 0..n {
        if inflight.len() == 8 {
            let cid = inflight.pop_front().unwrap();
            let r: ProduceResponse = c.recv(ApiKey::Produce, 9, cid).await;
            assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        }
        c.send(ApiKey::Produce, 9, &req).await;
        inflight.push_back(c.cid);
    }
    while let Some(cid) = inflight.pop_front() {
        let _: ProduceResponse = c.recv(ApiKey::Produce, 9, cid).await;
    }
    let produce = (n * b.len()) as f64 / t.elapsed().as_secs_f64() / 1e6;
    let t = Instant::now();
    let (mut offset, mut read) = (0i64, 0usize);
    while offset < (n * 64) as i64 {
        let f: FetchResponse = c
            .call(
                ApiKey::Fetch,
                12,
                &FetchRequest::default().with_max_wait_ms(0).with_max_bytes(1 << 20).with_topics(vec![
                    fetch_request::FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.into())))
                        .with_partitions(vec![fetch_request::FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20)]),
                ]),
            )
            .await;
        let recs = f.responses[0].partitions[0].records.clone().unwrap_or_default();
        assert_eq!(f.responses[0].partitions[0].error_code, 0);
        read += recs.len();
        let mut at = 0;
        while at + 61 <= recs.len() {
            let h = odradek::record::BatchHeader::parse(&recs[at..]).unwrap();
            offset = h.base_offset + h.last_offset_delta as i64 + 1;
            at += h.total_len();
        }
    }
    (produce, read as f64 / t.elapsed().as_secs_f64() / 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total = 512 << 20;
    let pki = odradek::security::devcerts::generate(&["localhost".into(), "127.0.0.1".into()], &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("server.pem");
    std::fs::write(&ks, format!("{}{}", pki.server.key, pki.server.cert)).unwrap();
    let ks = ks.display().to_string();
    let tls = {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_slice(pki.ca.cert.as_bytes()).unwrap())
            .unwrap();
        let cfg =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    };
    println!("{:44} {:>12} {:>12}", "512 MiB, 64 KiB batches of 1 KiB records", "produce MB/s", "fetch MB/s");
    for (label, acls) in [
        ("PLAINTEXT", false),
        ("SASL_SSL (SCRAM, TLS 1.3)", false),
        ("SASL_SSL + ACLs (1,001 bindings)", true),
    ] {
        let data = tempfile::tempdir().unwrap();
        let mut b = odradek::Broker::builder()
            .data_dir(data.path())
            .set("listeners", "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0")
            .set("sasl.enabled.mechanisms", "SCRAM-SHA-256")
            .set("ssl.keystore.location", &ks)
            .add_scram("SCRAM-SHA-256=[name=bench,password=bench-secret]");
        if acls {
            b = b.set("authorizer.class.name", "acl").set("super.users", "User:setup");
        }
        let broker = b.start().await.unwrap();
        if let Some(a) = &broker.state().acl {
            use odradek::security::acl::{op, pattern, perm, resource, Binding};
            let mut bs: Vec<Binding> = (0..1000)
                .map(|i| Binding {
                    resource_type: resource::TOPIC,
                    name: format!("other-{i}"),
                    pattern: pattern::LITERAL,
                    principal: format!("User:u{i}"),
                    host: "*".into(),
                    operation: op::READ,
                    permission: perm::ALLOW,
                })
                .collect();
            bs.push(Binding {
                resource_type: resource::TOPIC,
                name: "bench".into(),
                pattern: pattern::PREFIXED,
                principal: "User:bench".into(),
                host: "*".into(),
                operation: op::ALL,
                permission: perm::ALLOW,
            });
            a.create(bs).unwrap();
        }
        let mut c = if label == "PLAINTEXT" {
            Conn {
                s: Box::new(
                    tokio::net::TcpStream::connect(broker.bootstrap_for("PLAINTEXT").unwrap()).await.unwrap(),
                ),
                cid: 0,
            }
        } else {
            let tcp =
                tokio::net::TcpStream::connect(broker.bootstrap_for("SASL_SSL").unwrap()).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let s = tls
                .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .unwrap();
            let mut c = Conn { s: Box::new(s), cid: 0 };
            scram_login(&mut c, "bench", "bench-secret").await;
            c
        };
        let (p, f) = run(&mut c, "bench-topic", total).await;
        println!("{label:44} {p:>12.0} {f:>12.0}");
        drop(c);
        broker.shutdown().await.unwrap();
    }
    // One authorization decision on its own, among 1,001 bindings.
    use odradek::security::acl::{op, pattern, perm, resource, Authorizer, Binding};
    let d = tempfile::tempdir().unwrap();
    let a = Authorizer::open(odradek::log::file::Disk::os(), d.path(), "", false).unwrap();
    let mut bs: Vec<Binding> = (0..1000)
        .map(|i| Binding {
            resource_type: resource::TOPIC,
            name: format!("other-{i}"),
            pattern: pattern::LITERAL,
            principal: format!("User:u{i}"),
            host: "*".into(),
            operation: op::READ,
            permission: perm::ALLOW,
        })
        .collect();
    bs.push(Binding {
        resource_type: resource::TOPIC,
        name: "bench".into(),
        pattern: pattern::PREFIXED,
        principal: "User:bench".into(),
        host: "*".into(),
        operation: op::ALL,
        permission: perm::ALLOW,
    });
    a.create(bs).unwrap();
    let who = odradek::security::principal::Principal::user("bench");
    let host: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        assert!(std::hint::black_box(a.authorize(
            &who,
            host,
            op::WRITE,
            resource::TOPIC,
            std::hint::black_box("bench-topic")
        )));
    }
    println!("one ACL decision among 1,001 bindings: {:.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
}
