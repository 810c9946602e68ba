//! Group coordinator benchmarks against an embedded broker, over the real protocol:
//! * a 100-member rebalance: time from the last JoinGroup sent to every member holding its
//!   SyncGroup assignment;
//! * OffsetCommit throughput (each commit durable: fsynced before the answer), from 1 and 8
//!   connections.
//!
//! `cargo bench --bench groups` (a benchmark, not a test).
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Conn {
    s: TcpStream,
    cid: i32,
}

impl Conn {
    async fn new(addr: &str) -> Conn {
        Conn { s: TcpStream::connect(addr).await.unwrap(), cid: 0 }
    }
    async fn call<Q: Encodable, R: Decodable>(&mut self, api: ApiKey, v: i16, req: &Q) -> R {
        self.cid += 1;
        self.s.write_all(&common::request_frame(api, v, self.cid, req)).await.unwrap();
        let len = self.s.read_i32().await.unwrap();
        let mut buf = vec![0u8; len as usize];
        self.s.read_exact(&mut buf).await.unwrap();
        common::decode_response(buf, api, v, self.cid)
    }
}

fn join_req(member: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("bench-group")))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(60_000)
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::from_static(b"m"))])
}

async fn rebalance(addr: &str, members: usize) -> Duration {
    // Phase 1: every member gets its id (MEMBER_ID_REQUIRED handshake).
    let mut conns = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..members {
        let mut c = Conn::new(addr).await;
        let r: JoinGroupResponse = c.call(ApiKey::JoinGroup, 9, &join_req("")).await;
        assert_eq!(r.error_code, 79);
        ids.push(r.member_id.to_string());
        conns.push(c);
    }
    // Phase 2: all join; the clock starts when the last JoinGroup is sent.
    let start = Arc::new(tokio::sync::Mutex::new(None::<Instant>));
    let mut tasks = Vec::new();
    let n = members;
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (mut c, id) in conns.into_iter().zip(ids.clone()) {
        let (start, sent, ids) = (start.clone(), sent.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            if sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == n {
                *start.lock().await = Some(Instant::now());
            }
            let j: JoinGroupResponse = c.call(ApiKey::JoinGroup, 9, &join_req(&id)).await;
            assert_eq!(j.error_code, 0);
            let assignments = if j.leader == j.member_id {
                ids.iter()
                    .map(|m| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(StrBytes::from_string(m.clone()))
                            .with_assignment(Bytes::from(m.clone()))
                    })
                    .collect()
            } else {
                vec![]
            };
            let s: SyncGroupResponse = c
                .call(
                    ApiKey::SyncGroup,
                    5,
                    &SyncGroupRequest::default()
                        .with_group_id(GroupId(StrBytes::from_static_str("bench-group")))
                        .with_generation_id(j.generation_id)
                        .with_member_id(j.member_id.clone())
                        .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
                        .with_protocol_name(j.protocol_name.clone())
                        .with_assignments(assignments),
                )
                .await;
            assert_eq!(s.error_code, 0);
            assert_eq!(&s.assignment[..], j.member_id.as_bytes());
            Instant::now()
        }));
    }
    let mut last = Instant::now();
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    let s = start.lock().await.unwrap();
    last.duration_since(s)
}

async fn commits(addr: &str, conns: usize, per_conn: usize) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(&addr).await;
            for i in 0..per_conn {
                let req = OffsetCommitRequest::default()
                    .with_group_id(GroupId(StrBytes::from_string(format!("commit-bench-{c}"))))
                    .with_generation_id_or_member_epoch(-1)
                    .with_topics(vec![OffsetCommitRequestTopic::default()
                        .with_name(TopicName(StrBytes::from_static_str("commit-bench")))
                        .with_partitions(vec![OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(i as i64)])]);
                let r: OffsetCommitResponse = conn.call(ApiKey::OffsetCommit, 9, &req).await;
                assert_eq!(r.topics[0].partitions[0].error_code, 0);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (conns * per_conn) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let b =
            odradek::Broker::builder().set("group.initial.rebalance.delay.ms", "0").start().await.unwrap();
        let addr = b.bootstrap();
        // Create the topic the commits name.
        let mut c = Conn::new(&addr).await;
        let _: MetadataResponse = c
            .call(
                ApiKey::Metadata,
                12,
                &MetadataRequest::default()
                    .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_static_str("commit-bench"))))]))
                    .with_allow_auto_topic_creation(true),
            )
            .await;
        // Create __consumer_offsets before timing anything.
        let _: FindCoordinatorResponse = c
            .call(
                ApiKey::FindCoordinator,
                3,
                &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("bench-group")),
            )
            .await;
        for members in [10, 100] {
            let d = rebalance(&addr, members).await;
            println!(
                "rebalance of {members:3} members: last JoinGroup sent -> all assigned in {:.2} ms",
                d.as_secs_f64() * 1000.0
            );
            break_group(&addr).await;
        }
        for conns in [1, 8] {
            let r = commits(&addr, conns, 2000 / conns).await;
            println!("OffsetCommit (fsynced) from {conns} connection(s): {r:.0} commits/s");
        }
        b.shutdown().await.unwrap();
    });
}

/// Deletes the benchmark group between runs by making every member leave (a fresh group id would
/// also do; this keeps one group id in the output).
async fn break_group(addr: &str) {
    let mut c = Conn::new(addr).await;
    let d: DescribeGroupsResponse = c
        .call(
            ApiKey::DescribeGroups,
            5,
            &DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(StrBytes::from_static_str("bench-group"))]),
        )
        .await;
    let members = d.groups[0]
        .members
        .iter()
        .map(|m| leave_group_request::MemberIdentity::default().with_member_id(m.member_id.clone()))
        .collect();
    let _: LeaveGroupResponse = c
        .call(
            ApiKey::LeaveGroup,
            5,
            &LeaveGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("bench-group")))
                .with_members(members),
        )
        .await;
}
