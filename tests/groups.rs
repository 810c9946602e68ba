//! Proves: librdkafka consumer groups on the classic protocol: two consumers split the partitions,
//! when one leaves the other takes all, committed offsets resume exactly after a consumer restart
//! and after a broker restart; admin list/describe/delete of groups.
mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::AdminOptions;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::TopicPartitionList;

fn group_consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .set("fetch.wait.max.ms", "100");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("consumer")
}

fn assigned(c: &BaseConsumer) -> BTreeSet<i32> {
    c.assignment().map(|a| a.elements().iter().map(|e| e.partition()).collect()).unwrap_or_default()
}

/// Polls every consumer until `cond` holds or the timeout passes; returns records seen per consumer.
fn poll_until(
    cs: &[&BaseConsumer],
    timeout: Duration,
    mut cond: impl FnMut(&[&BaseConsumer]) -> bool,
) -> Vec<Vec<(i32, i64, Vec<u8>)>> {
    let deadline = Instant::now() + timeout;
    let mut seen = vec![Vec::new(); cs.len()];
    loop {
        for (i, c) in cs.iter().enumerate() {
            while let Some(m) = c.poll(Duration::from_millis(20)) {
                let m = m.expect("consume");
                seen[i].push((m.partition(), m.offset(), m.payload().unwrap_or_default().to_vec()));
            }
        }
        if cond(cs) {
            return seen;
        }
        assert!(Instant::now() < deadline, "condition not reached in {timeout:?}");
    }
}

async fn produce_n(bootstrap: &str, topic: &str, parts: i32, n: usize, tag: &str) {
    let p = producer(bootstrap, &[]);
    for i in 0..n {
        send(&p, topic, Some((i as i32) % parts), b"k", format!("{tag}-{i}").as_bytes()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_split_then_one_takes_all() {
    let dir = tempfile::tempdir().unwrap();
    let b =
        broker_in(dir.path(), &[("num.partitions", "4"), ("group.initial.rebalance.delay.ms", "0")]).await;
    let bs = b.bootstrap();
    produce_n(&bs, "split", 4, 40, "a").await;
    let c1 = group_consumer(&bs, "g-split", &[]);
    let c2 = group_consumer(&bs, "g-split", &[]);
    c1.subscribe(&["split"]).unwrap();
    c2.subscribe(&["split"]).unwrap();
    let seen = poll_until(&[&c1, &c2], Duration::from_secs(30), |cs| {
        let (a, b) = (assigned(cs[0]), assigned(cs[1]));
        a.len() == 2 && b.len() == 2 && a.is_disjoint(&b)
    });
    let _ = seen;
    // Drop one: the survivor gets all four partitions after the rebalance.
    drop(c2);
    poll_until(&[&c1], Duration::from_secs(30), |cs| assigned(cs[0]).len() == 4);
    let st = b.state().groups.view(|g| g.group("g-split").map(|g| (g.state, g.members.len())));
    assert_eq!(st, Some((odradek::coordinator::group::state::GroupState::Stable, 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_resume_after_consumer_and_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [("num.partitions", "2"), ("group.initial.rebalance.delay.ms", "0")];
    let b = broker_in(dir.path(), &sets).await;
    let bs = b.bootstrap();
    produce_n(&bs, "resume", 2, 20, "first").await;
    // Consume 20, commit synchronously.
    {
        let c = group_consumer(&bs, "g-resume", &[]);
        c.subscribe(&["resume"]).unwrap();
        assert_eq!(read_n(&c, 20, Duration::from_secs(30)).len(), 20);
        c.commit_consumer_state(CommitMode::Sync).unwrap();
        let committed = c.committed(Duration::from_secs(5)).unwrap();
        let offs: HashMap<i32, i64> =
            committed.elements().iter().map(|e| (e.partition(), e.offset().to_raw().unwrap())).collect();
        assert_eq!(offs, HashMap::from([(0, 10), (1, 10)]));
    }
    produce_n(&bs, "resume", 2, 6, "second").await;
    // A new consumer of the same group starts exactly after the commit.
    {
        let c = group_consumer(&bs, "g-resume", &[]);
        c.subscribe(&["resume"]).unwrap();
        let got = read_n(&c, 6, Duration::from_secs(30));
        let mut got: Vec<(i32, i64, String)> =
            got.into_iter().map(|(p, o, v)| (p, o, String::from_utf8(v).unwrap())).collect();
        got.sort();
        let want: Vec<(i32, i64, String)> = vec![
            (0, 10, "second-0".into()),
            (0, 11, "second-2".into()),
            (0, 12, "second-4".into()),
            (1, 10, "second-1".into()),
            (1, 11, "second-3".into()),
            (1, 12, "second-5".into()),
        ];
        assert_eq!(got, want, "resumed exactly after the committed offsets");
        assert!(c.poll(Duration::from_millis(500)).is_none(), "nothing re-delivered");
        c.commit_consumer_state(CommitMode::Sync).unwrap();
    }
    // Restart the broker (SIGKILL-like: no clean shutdown), offsets must still be there.
    drop(b);
    std::fs::remove_file(dir.path().join(".odradek_clean_shutdown")).unwrap();
    let b = broker_in(dir.path(), &sets).await;
    let c = group_consumer(&b.bootstrap(), "g-resume", &[]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("resume", 0);
    tpl.add_partition("resume", 1);
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    let offs: HashMap<i32, i64> =
        committed.elements().iter().map(|e| (e.partition(), e.offset().to_raw().unwrap())).collect();
    assert_eq!(offs, HashMap::from([(0, 13), (1, 13)]), "committed offsets survive a broker restart");
    // Admin: list, then delete the (now empty) group.
    let admin = create_topic_admin(&b.bootstrap());
    let groups = c.fetch_group_list(Some("g-resume"), Duration::from_secs(5)).unwrap();
    assert_eq!(groups.groups().len(), 1);
    drop(c);
    let r = admin.delete_groups(&["g-resume"], &AdminOptions::new()).await.unwrap();
    assert!(r[0].is_ok(), "{r:?}");
    assert!(b.state().groups.view(|g| g.group("g-resume").is_none()));
}

/// Reads `n` records from a subscribed consumer.
fn read_n(c: &BaseConsumer, n: usize, timeout: Duration) -> Vec<(i32, i64, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "read {} of {n}", out.len());
        if let Some(m) = c.poll(Duration::from_millis(50)) {
            let m = m.expect("consume");
            out.push((m.partition(), m.offset(), m.payload().unwrap_or_default().to_vec()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_consumer_protocol_split_leave_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let b =
        broker_in(dir.path(), &[("num.partitions", "4"), ("group.consumer.heartbeat.interval.ms", "500")])
            .await;
    let bs = b.bootstrap();
    produce_n(&bs, "kip848", 4, 40, "a").await;
    let cfg = [("group.protocol", "consumer")];
    let strip = |c: &mut ClientConfig| {
        // The consumer protocol owns these on the server side.
        c.remove("session.timeout.ms");
        c.remove("heartbeat.interval.ms");
    };
    let mk = || {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &bs)
            .set("group.id", "g-848")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100");
        for (k, v) in cfg {
            c.set(k, v);
        }
        strip(&mut c);
        c.create::<BaseConsumer>().expect("consumer")
    };
    let c1 = mk();
    let c2 = mk();
    c1.subscribe(&["kip848"]).unwrap();
    c2.subscribe(&["kip848"]).unwrap();
    let seen = poll_until(&[&c1, &c2], Duration::from_secs(40), |cs| {
        let (a, b) = (assigned(cs[0]), assigned(cs[1]));
        a.len() == 2 && b.len() == 2 && a.is_disjoint(&b)
    });
    let _ = seen;
    let desc =
        b.state().groups.view(|g| g.consumer.groups.get("g-848").map(|g| (g.state_name(), g.members.len())));
    assert_eq!(desc, Some(("Stable", 2)));
    // c2 committed nothing, so its partitions are re-read by c1 once it has them all.
    drop(c2);
    poll_until(&[&c1], Duration::from_secs(40), |cs| assigned(cs[0]).len() == 4);
    // Read everything through c1 and commit. Progress is c1's position in its current
    // assignment: records it read of a partition before that partition moved to c2 and back do
    // not count (the client forgets its position for a partition it gives up; counting them
    // made this test commit only half the partitions now and then).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pos: HashMap<i32, i64> = c1
            .position()
            .unwrap()
            .elements()
            .iter()
            .map(|e| (e.partition(), e.offset().to_raw().unwrap_or(-1)))
            .collect();
        if pos.len() == 4 && pos.values().all(|&o| o == 10) {
            break;
        }
        assert!(Instant::now() < deadline, "positions {pos:?}");
        if let Some(m) = c1.poll(Duration::from_millis(50)) {
            m.unwrap();
        }
    }
    c1.commit_consumer_state(CommitMode::Sync).unwrap();
    let committed = c1.committed(Duration::from_secs(5)).unwrap();
    let offs: HashMap<i32, i64> =
        committed.elements().iter().map(|e| (e.partition(), e.offset().to_raw().unwrap())).collect();
    assert_eq!(offs, HashMap::from([(0, 10), (1, 10), (2, 10), (3, 10)]));
}

/// KIP-848 membership is durable: after a clean restart on the same address the group is back
/// with its members, epochs and assignments before anyone heartbeats, and the members carry on
/// with their epochs: the group epoch does not move (a rejoin would bump it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_members_survive_a_broker_restart_without_rejoining() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [("num.partitions", "4"), ("group.consumer.heartbeat.interval.ms", "500")];
    let b = broker_in(dir.path(), &sets).await;
    let addr = b.local_addr().to_string();
    let bs = b.bootstrap();
    produce_n(&bs, "kip848r", 4, 40, "a").await;
    let mk = || {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &bs)
            .set("group.id", "g-848r")
            .set("group.protocol", "consumer")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100");
        c.create::<BaseConsumer>().expect("consumer")
    };
    let (c1, c2) = (mk(), mk());
    c1.subscribe(&["kip848r"]).unwrap();
    c2.subscribe(&["kip848r"]).unwrap();
    poll_until(&[&c1, &c2], Duration::from_secs(40), |cs| {
        let (a, b) = (assigned(cs[0]), assigned(cs[1]));
        a.len() == 2 && b.len() == 2 && a.is_disjoint(&b)
    });
    type Seen = (i32, i32, Vec<(String, i32, usize)>);
    let seen = |b: &odradek::Broker| -> Option<Seen> {
        b.state().groups.view(|g| {
            g.consumer.groups.get("g-848r").map(|g| {
                let members = g
                    .members
                    .values()
                    .map(|m| {
                        (m.member_id.clone(), m.member_epoch, m.assigned.values().map(|p| p.len()).sum())
                    })
                    .collect();
                (g.group_epoch, g.assignment_epoch, members)
            })
        })
    };
    // Stable: both members at the assignment epoch with two partitions each.
    let before = seen(&b).expect("group");
    assert_eq!(before.2.len(), 2, "{before:?}");
    assert!(before.2.iter().all(|(_, e, n)| *e == before.1 && *n == 2), "{before:?}");
    b.shutdown().await.unwrap();

    let mut builder = odradek::Broker::builder().data_dir(dir.path()).listen(addr.clone());
    for (k, v) in sets {
        builder = builder.set(k, v);
    }
    let b2 = builder.start().await.expect("restart");
    assert_eq!(seen(&b2).as_ref(), Some(&before), "loaded from __consumer_offsets before any heartbeat");
    // The members heartbeat on (every 500 ms) with their epochs and keep their partitions.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        for c in [&c1, &c2] {
            // The restart's transient errors (AllBrokersDown while it was away) are expected.
            let _ = c.poll(Duration::from_millis(50));
        }
    }
    let after = seen(&b2).expect("group");
    assert_eq!(after, before, "no rejoin: same members, epochs and assignments");
    let beat = b2
        .state()
        .groups
        .view(|g| g.consumer.groups["g-848r"].members.values().map(|m| m.last_heartbeat_ms).min().unwrap());
    assert!(odradek::clock::now_ms() - beat < 2_000, "the members heartbeat to the restarted broker");
    assert_eq!(assigned(&c1).len() + assigned(&c2).len(), 4);
}
