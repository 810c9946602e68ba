//! State-machine tests of the classic group protocol, driven by a manual clock (plain `now` values).
use super::*;

fn join_in(group: &str, member: &str, inst: Option<&str>, protos: &[&str]) -> JoinInput {
    JoinInput {
        group_id: group.into(),
        member_id: member.into(),
        instance_id: inst.map(str::to_string),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: protos.iter().map(|p| (p.to_string(), Bytes::from(format!("meta-{p}")))).collect(),
        require_known_member_id: true,
    }
}

fn groups() -> Groups {
    Groups::new(GroupConfig { initial_rebalance_delay_ms: 0, ..GroupConfig::default() })
}

fn join_reply(o: &Outcome, w: WaiterId) -> Option<JoinResult> {
    o.replies.iter().find(|(x, _)| *x == w).and_then(|(_, r)| match r {
        Reply::Join(j) => Some(j.clone()),
        _ => None,
    })
}
fn sync_reply(o: &Outcome, w: WaiterId) -> Option<SyncResult> {
    o.replies.iter().find(|(x, _)| *x == w).and_then(|(_, r)| match r {
        Reply::Sync(j) => Some(j.clone()),
        _ => None,
    })
}

/// Gets a member id through the MEMBER_ID_REQUIRED handshake.
fn member_id(gs: &mut Groups, group: &str, w: WaiterId, now: i64) -> String {
    let o = gs.join(join_in(group, "", None, &["range"]), now, w);
    let r = join_reply(&o, w).unwrap();
    assert_eq!(r.error, Some(GroupError::MemberIdRequired));
    r.member_id
}

fn sync(
    gs: &mut Groups,
    g: &str,
    gen: i32,
    m: &str,
    asg: Vec<(String, Bytes)>,
    now: i64,
    w: WaiterId,
) -> Outcome {
    gs.sync(
        SyncInput {
            group_id: g.into(),
            generation: gen,
            member_id: m.into(),
            instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol: Some("range".into()),
            assignments: asg,
        },
        now,
        w,
    )
}

#[test]
fn two_members_join_sync_and_get_their_assignments() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    let b = member_id(&mut gs, "g", 2, 0);
    let o = gs.join(join_in("g", &a, None, &["range"]), 1, 3);
    assert!(join_reply(&o, 3).is_none(), "waits for b (b is pending)");
    let o = gs.join(join_in("g", &b, None, &["range"]), 2, 4);
    let ja = join_reply(&o, 3).unwrap();
    let jb = join_reply(&o, 4).unwrap();
    assert_eq!(ja.generation, 1);
    assert_eq!(ja.leader, a);
    assert_eq!(ja.members.len(), 2, "the leader sees every member");
    assert!(jb.members.is_empty());
    assert_eq!(ja.protocol.as_deref(), Some("range"));
    // Follower syncs first and waits; the leader's sync releases both.
    let o = sync(&mut gs, "g", 1, &b, vec![], 3, 5);
    assert!(o.replies.is_empty());
    let o =
        sync(&mut gs, "g", 1, &a, vec![(a.clone(), Bytes::from("A")), (b.clone(), Bytes::from("B"))], 4, 6);
    assert_eq!(sync_reply(&o, 5).unwrap().assignment, Bytes::from("B"));
    assert_eq!(sync_reply(&o, 6).unwrap().assignment, Bytes::from("A"));
    assert!(matches!(o.records.as_slice(), [GroupRecord::Group { .. }]));
    assert_eq!(gs.group("g").unwrap().state, GroupState::Stable);
    assert_eq!(gs.heartbeat("g", &a, None, 1, 5), Ok(()));
    assert_eq!(gs.heartbeat("g", &a, None, 0, 5), Err(GroupError::IllegalGeneration));
    assert_eq!(gs.heartbeat("g", "nobody", None, 1, 5), Err(GroupError::UnknownMemberId));
}

#[test]
fn join_storm_completes_once_everyone_rejoined() {
    let mut gs = groups();
    let ids: Vec<String> = (0..20).map(|i| member_id(&mut gs, "storm", 100 + i, 0)).collect();
    let mut last = Outcome::default();
    for (i, id) in ids.iter().enumerate() {
        last = gs.join(join_in("storm", id, None, &["range", "roundrobin"]), 1, i as u64);
        if i < 19 {
            assert!(last.replies.is_empty(), "member {i}: rebalance waits for all");
        }
    }
    assert_eq!(last.replies.len(), 20);
    let gens: HashSet<i32> = last
        .replies
        .iter()
        .map(|(_, r)| match r {
            Reply::Join(j) => j.generation,
            _ => -1,
        })
        .collect();
    assert_eq!(gens, HashSet::from([1]));
}

#[test]
fn member_timing_out_mid_rebalance_is_dropped_at_the_deadline() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    let b = member_id(&mut gs, "g", 2, 0);
    gs.join(join_in("g", &a, None, &["range"]), 0, 3);
    let o = gs.join(join_in("g", &b, None, &["range"]), 0, 4);
    let gen = join_reply(&o, 3).unwrap().generation;
    let o =
        sync(&mut gs, "g", gen, &a, vec![(a.clone(), Bytes::from("A")), (b.clone(), Bytes::from("B"))], 0, 5);
    assert!(sync_reply(&o, 5).is_some());
    // A rejoins (new subscription) -> rebalance; B never rejoins.
    let mut j = join_in("g", &a, None, &["range"]);
    j.protocols[0].1 = Bytes::from("new-meta");
    let o = gs.join(j, 1_000, 6);
    assert!(join_reply(&o, 6).is_none());
    assert_eq!(gs.heartbeat("g", &b, None, gen, 1_500), Err(GroupError::RebalanceInProgress));
    // Rebalance timeout is 30 s: at 31 s B is dropped and A completes alone.
    let o = gs.tick(31_001);
    let r = join_reply(&o, 6).unwrap();
    assert_eq!(r.generation, gen + 1);
    assert_eq!(r.members.len(), 1);
    assert_eq!(gs.group("g").unwrap().members.len(), 1);
}

#[test]
fn session_timeout_evicts_a_silent_member() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    let o = gs.join(join_in("g", &a, None, &["range"]), 0, 2);
    let gen = join_reply(&o, 2).unwrap().generation;
    sync(&mut gs, "g", gen, &a, vec![(a.clone(), Bytes::from("A"))], 0, 3);
    assert!(gs.tick(9_000).replies.is_empty());
    let o = gs.tick(10_001);
    assert!(o.records.iter().any(|r| matches!(r, GroupRecord::Group { .. })));
    assert_eq!(gs.group("g").unwrap().state, GroupState::Empty);
}

#[test]
fn static_member_restart_keeps_assignment_without_rebalance() {
    let mut gs = groups();
    let o = gs.join(join_in("s", "", Some("pod-1"), &["range"]), 0, 1);
    let first = join_reply(&o, 1).unwrap();
    assert_eq!(first.error, None, "static members skip MEMBER_ID_REQUIRED");
    let m1 = first.member_id.clone();
    sync(&mut gs, "s", first.generation, &m1, vec![(m1.clone(), Bytes::from("P0"))], 1, 2);
    // The process restarts: joins with no member id but the same instance id.
    let o = gs.join(join_in("s", "", Some("pod-1"), &["range"]), 5_000, 3);
    let again = join_reply(&o, 3).unwrap();
    assert_eq!(again.error, None);
    assert_ne!(again.member_id, m1);
    assert_eq!(again.generation, first.generation, "no new generation");
    assert!(again.skip_assignment, "the static leader keeps the existing assignment");
    assert_eq!(gs.group("s").unwrap().state, GroupState::Stable);
    let o = gs.sync(
        SyncInput {
            group_id: "s".into(),
            generation: again.generation,
            member_id: again.member_id.clone(),
            instance_id: Some("pod-1".into()),
            protocol_type: None,
            protocol: None,
            assignments: vec![],
        },
        5_001,
        4,
    );
    assert_eq!(sync_reply(&o, 4).unwrap().assignment, Bytes::from("P0"));
    // The old incarnation is fenced.
    assert_eq!(
        gs.heartbeat("s", &m1, Some("pod-1"), again.generation, 5_002),
        Err(GroupError::FencedInstanceId)
    );
}

#[test]
fn generation_mismatch_and_unknown_member_in_sync() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    let o = gs.join(join_in("g", &a, None, &["range"]), 0, 2);
    let gen = join_reply(&o, 2).unwrap().generation;
    let o = sync(&mut gs, "g", gen + 5, &a, vec![], 0, 3);
    assert_eq!(sync_reply(&o, 3).unwrap().error, Some(GroupError::IllegalGeneration));
    let o = sync(&mut gs, "g", gen, "ghost", vec![], 0, 4);
    assert_eq!(sync_reply(&o, 4).unwrap().error, Some(GroupError::UnknownMemberId));
}

#[test]
fn cooperative_rebalance_second_round() {
    // Cooperative-sticky: after the first assignment a member revokes and rejoins; a second
    // rebalance with the same members completes with a new generation.
    let mut gs = groups();
    let a = member_id(&mut gs, "c", 1, 0);
    let b = member_id(&mut gs, "c", 2, 0);
    gs.join(join_in("c", &a, None, &["cooperative-sticky"]), 0, 3);
    let o = gs.join(join_in("c", &b, None, &["cooperative-sticky"]), 0, 4);
    let gen = join_reply(&o, 3).unwrap().generation;
    sync(&mut gs, "c", gen, &b, vec![], 0, 5);
    sync(&mut gs, "c", gen, &a, vec![(a.clone(), Bytes::from("A")), (b.clone(), Bytes::from("B"))], 0, 6);
    let mut ja = join_in("c", &a, None, &["cooperative-sticky"]);
    ja.protocols[0].1 = Bytes::from("owned-partitions-changed");
    let o = gs.join(ja, 10, 7);
    assert!(o.replies.is_empty());
    assert_eq!(gs.heartbeat("c", &b, None, gen, 11), Err(GroupError::RebalanceInProgress));
    let o = gs.join(join_in("c", &b, None, &["cooperative-sticky"]), 12, 8);
    assert_eq!(join_reply(&o, 7).unwrap().generation, gen + 1);
    assert_eq!(join_reply(&o, 8).unwrap().generation, gen + 1);
}

#[test]
fn inconsistent_protocols_are_rejected() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    gs.join(join_in("g", &a, None, &["range"]), 0, 2);
    let mut other = join_in("g", "", None, &["roundrobin"]);
    other.require_known_member_id = false;
    let o = gs.join(other, 0, 3);
    assert_eq!(join_reply(&o, 3).unwrap().error, Some(GroupError::InconsistentGroupProtocol));
}

#[test]
fn offsets_commit_replay_fetch_delete() {
    let mut gs = groups();
    // A simple (non-member) commit to a new group.
    let (res, o) =
        gs.commit_offsets("simple", -1, "", None, vec![("t".into(), 0, 42, 0, Some("md".into()))], 7);
    assert_eq!(res, vec![("t".to_string(), 0, None)]);
    assert!(gs.fetch_offsets("simple", None).is_empty(), "not applied until replayed");
    for r in &o.records {
        gs.replay(r, false, 7);
    }
    let f = gs.fetch_offsets("simple", Some(&[("t".into(), 0), ("t".into(), 1)]));
    assert_eq!(f[0].2.as_ref().unwrap().offset, 42);
    assert_eq!(f[0].2.as_ref().unwrap().metadata, "md");
    assert!(f[1].2.is_none());
    // Metadata too large.
    let (res, _) =
        gs.commit_offsets("simple", -1, "", None, vec![("t".into(), 0, 1, 0, Some("x".repeat(5000)))], 8);
    assert_eq!(res[0].2, Some(GroupError::OffsetMetadataTooLarge));
    // Delete the group: tombstones, then it is gone.
    let o = gs.delete_group("simple").unwrap();
    assert_eq!(o.records.len(), 2);
    for r in &o.records {
        gs.replay(r, false, 9);
    }
    assert!(gs.group("simple").is_none());
    assert_eq!(gs.delete_group("simple").err(), Some(GroupError::GroupIdNotFound));
}

#[test]
fn commit_from_a_stale_generation_is_refused() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    let o = gs.join(join_in("g", &a, None, &["range"]), 0, 2);
    let gen = join_reply(&o, 2).unwrap().generation;
    let (res, _) = gs.commit_offsets("g", gen, &a, None, vec![("t".into(), 0, 1, 0, None)], 1);
    assert_eq!(res[0].2, Some(GroupError::RebalanceInProgress), "CompletingRebalance");
    sync(&mut gs, "g", gen, &a, vec![(a.clone(), Bytes::new())], 1, 3);
    let (res, _) = gs.commit_offsets("g", gen, &a, None, vec![("t".into(), 0, 1, 0, None)], 2);
    assert_eq!(res[0].2, None);
    let (res, _) = gs.commit_offsets("g", gen - 1, &a, None, vec![("t".into(), 0, 1, 0, None)], 2);
    assert_eq!(res[0].2, Some(GroupError::IllegalGeneration));
    let (res, _) = gs.commit_offsets("g", -1, "", None, vec![("t".into(), 0, 1, 0, None)], 2);
    assert_eq!(res[0].2, Some(GroupError::UnknownMemberId), "simple commits only to empty groups");
}

#[test]
fn restart_replay_restores_a_stable_group() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    let o = gs.join(join_in("g", &a, None, &["range"]), 0, 2);
    let gen = join_reply(&o, 2).unwrap().generation;
    let o = sync(&mut gs, "g", gen, &a, vec![(a.clone(), Bytes::from("A"))], 0, 3);
    let mut fresh = groups();
    for r in &o.records {
        fresh.replay(r, true, 100);
    }
    let g = fresh.group("g").unwrap();
    assert_eq!(g.state, GroupState::Stable);
    assert_eq!(g.generation, gen);
    assert_eq!(fresh.heartbeat("g", &a, None, gen, 200), Ok(()), "members keep going after a broker restart");
}

#[test]
fn leave_triggers_rebalance_for_the_rest() {
    let mut gs = groups();
    let a = member_id(&mut gs, "g", 1, 0);
    let b = member_id(&mut gs, "g", 2, 0);
    gs.join(join_in("g", &a, None, &["range"]), 0, 3);
    let o = gs.join(join_in("g", &b, None, &["range"]), 0, 4);
    let gen = join_reply(&o, 3).unwrap().generation;
    sync(&mut gs, "g", gen, &b, vec![], 0, 5);
    sync(&mut gs, "g", gen, &a, vec![], 0, 6);
    let (err, res, _) = gs.leave("g", &[(b.clone(), None), ("ghost".into(), None)], 1);
    assert_eq!(err, None);
    assert_eq!(res[0].2, None);
    assert_eq!(res[1].2, Some(GroupError::UnknownMemberId));
    assert_eq!(gs.group("g").unwrap().state, GroupState::PreparingRebalance);
    let o = gs.join(join_in("g", &a, None, &["range"]), 2, 7);
    let r = join_reply(&o, 7).unwrap();
    assert_eq!(r.generation, gen + 1);
    assert_eq!(r.members.len(), 1);
}

#[test]
fn initial_rebalance_delay_waits_for_more_members() {
    let mut gs = Groups::new(GroupConfig { initial_rebalance_delay_ms: 3_000, ..GroupConfig::default() });
    let a = member_id(&mut gs, "d", 1, 0);
    let o = gs.join(join_in("d", &a, None, &["range"]), 0, 2);
    assert!(o.replies.is_empty(), "the first rebalance of an empty group is delayed");
    assert!(gs.tick(2_999).replies.is_empty());
    let o = gs.tick(3_000);
    assert_eq!(join_reply(&o, 2).unwrap().generation, 1);
}
