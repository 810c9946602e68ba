//! The classic group protocol as a pure state machine: `(state, now_ms, input) -> Outcome`.
//!
//! Owns: every group's membership, generation, chosen protocol, assignments and committed offsets.
//! This file is the group manager (membership and rebalances); `offsets.rs` is the offset store
//! (commits, transactional offsets, fetch, delete), as Kafka splits them.
//! Must not: do I/O, read the clock, or `.await`. Requests that must wait (JoinGroup until the
//! rebalance completes, SyncGroup until the leader's assignment arrives) are parked under a
//! [`WaiterId`]; their answers come out of later calls (another member's request or [`Groups::tick`])
//! as `Outcome::replies`. Records to persist come out as `Outcome::records`; the shell appends them to
//! `__consumer_offsets` and then calls [`Groups::replay`], which is also how a restart reloads state.
//! Offsets change only through `replay`, so what is in memory is what is in the log.
use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use super::consumer::ConsumerGroups;
use super::records::{CommittedOffset, GroupRecord, StoredGroup, StoredMember};

pub type WaiterId = u64;

/// Limits and timing, from Kafka's `group.*` broker configs.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: i64,
    pub max_size: usize,
    pub offset_metadata_max_bytes: usize,
    pub offsets_retention_ms: i64,
    /// KIP-848 consumer groups: `group.consumer.session.timeout.ms`, `...heartbeat.interval.ms`.
    pub consumer_session_timeout_ms: i64,
    pub consumer_heartbeat_interval_ms: i32,
}

impl GroupConfig {
    /// Resolved once at start from the broker's `group.*` and `offset*` keys.
    pub fn from_broker(c: &crate::config::BrokerConfig) -> GroupConfig {
        GroupConfig {
            min_session_timeout_ms: c.setting("group.min.session.timeout.ms"),
            max_session_timeout_ms: c.setting("group.max.session.timeout.ms"),
            initial_rebalance_delay_ms: c.setting("group.initial.rebalance.delay.ms"),
            max_size: c.setting("group.max.size"),
            offset_metadata_max_bytes: c.setting("offset.metadata.max.bytes"),
            offsets_retention_ms: c.setting::<i64>("offsets.retention.minutes") * 60_000,
            consumer_session_timeout_ms: c.setting("group.consumer.session.timeout.ms"),
            consumer_heartbeat_interval_ms: c.setting("group.consumer.heartbeat.interval.ms"),
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX as usize,
            offset_metadata_max_bytes: 4096,
            offsets_retention_ms: 7 * 24 * 3_600_000,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("the group id is empty")]
    InvalidGroupId,
    #[error("the session timeout is outside the broker's allowed range")]
    InvalidSessionTimeout,
    #[error("the member id is not known to the group")]
    UnknownMemberId,
    #[error("a member id is required: rejoin with the member id in this response")]
    MemberIdRequired,
    #[error("the generation does not match the group's")]
    IllegalGeneration,
    #[error("the group is rebalancing")]
    RebalanceInProgress,
    #[error("the protocol type or protocols do not match the group's")]
    InconsistentGroupProtocol,
    #[error("another member uses this group.instance.id")]
    FencedInstanceId,
    #[error("the group is at group.max.size")]
    GroupMaxSizeReached,
    #[error("the group is not empty")]
    NonEmptyGroup,
    #[error("the group does not exist")]
    GroupIdNotFound,
    #[error("the offset metadata is larger than offset.metadata.max.bytes")]
    OffsetMetadataTooLarge,
    #[error("the group is loading or was just deleted; retry")]
    CoordinatorNotAvailable,
    #[error("members of the group are subscribed to this topic")]
    GroupSubscribedToTopic,
    #[error("the member epoch is stale")]
    StaleMemberEpoch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Kafka's names, as ListGroups and DescribeGroups report them.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub last_heartbeat_ms: i64,
    join_waiter: Option<WaiterId>,
    sync_waiter: Option<WaiterId>,
    /// Set for a member that joined this rebalance and has not completed it yet.
    is_new: bool,
}

impl Member {
    fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|(n, _)| n == protocol).map(|(_, m)| m.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    /// In join order (Kafka picks the first joined member as leader).
    pub members: Vec<Member>,
    pending: HashMap<String, i64>,
    static_members: HashMap<String, String>,
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
    rebalance_deadline_ms: i64,
    initial_delay_until_ms: i64,
    state_since_ms: i64,
}

impl Group {
    fn new(group_id: &str, now: i64) -> Group {
        Group {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending: HashMap::new(),
            static_members: HashMap::new(),
            offsets: BTreeMap::new(),
            rebalance_deadline_ms: 0,
            initial_delay_until_ms: 0,
            state_since_ms: now,
        }
    }
    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.member_id == id)
    }
    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.member_id == id)
    }
    fn set_state(&mut self, s: GroupState, now: i64) {
        self.state = s;
        self.state_since_ms = now;
    }
    /// The protocols every member supports, in the order the first member prefers them.
    fn candidate_protocols(&self) -> Vec<String> {
        let Some(first) = self.members.first() else { return vec![] };
        first
            .protocols
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| self.members.iter().all(|m| m.protocols.iter().any(|(x, _)| x == n)))
            .collect()
    }
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(n, _)| self.candidate_protocols().contains(n))
    }
    /// Each member votes for its most preferred candidate; the most votes wins (ties: the first
    /// member's preference order).
    fn select_protocol(&self) -> Option<String> {
        let cands = self.candidate_protocols();
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for m in &self.members {
            if let Some((n, _)) = m.protocols.iter().find(|(n, _)| cands.contains(n)) {
                *votes.entry(n.as_str()).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for c in &cands {
            let v = votes.get(c.as_str()).copied().unwrap_or(0);
            if best.is_none_or(|(_, bv)| v > bv) {
                best = Some((c.as_str(), v));
            }
        }
        best.map(|(n, _)| n.to_string())
    }
    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.join_waiter.is_some())
    }
    fn stored(&self, now: i64) -> StoredGroup {
        StoredGroup {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            state_timestamp: now,
            members: self
                .members
                .iter()
                .map(|m| StoredMember {
                    member_id: m.member_id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: self.protocol.as_deref().map(|p| m.metadata(p)).unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct JoinInput {
    pub group_id: String,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and a member id.
    pub require_known_member_id: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    pub error: Option<GroupError>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// (member id, instance id, metadata): only for the leader.
    pub members: Vec<(String, Option<String>, Bytes)>,
    /// A static leader rejoining a stable group: it must not compute a new assignment (KIP-814).
    pub skip_assignment: bool,
}

impl JoinResult {
    fn error(e: GroupError, member_id: &str) -> JoinResult {
        JoinResult {
            error: Some(e),
            generation: -1,
            protocol_type: None,
            protocol: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: vec![],
            skip_assignment: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyncInput {
    pub group_id: String,
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    pub error: Option<GroupError>,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    fn error(e: GroupError) -> SyncResult {
        SyncResult { error: Some(e), protocol_type: None, protocol: None, assignment: Bytes::new() }
    }
}

/// An answer to a parked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Join(JoinResult),
    Sync(SyncResult),
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub records: Vec<GroupRecord>,
    pub replies: Vec<(WaiterId, Reply)>,
    /// Rebalances this step began (for the broker's metrics).
    pub rebalances: u64,
}

/// One partition to commit: (topic, partition, offset, leader epoch, metadata).
pub type OffsetInput = (String, i32, i64, i32, Option<String>);

#[derive(Debug, Default)]
pub struct Groups {
    pub config: GroupConfig,
    groups: HashMap<String, Group>,
    /// KIP-848 consumer-protocol groups (membership only; their offsets live in `groups`).
    pub consumer: ConsumerGroups,
    /// Offsets committed inside a transaction, per producer id, until its marker decides them.
    pending_txn: HashMap<i64, Vec<GroupRecord>>,
    next_member: u64,
}

impl Groups {
    pub fn new(config: GroupConfig) -> Groups {
        let consumer = ConsumerGroups::new(config.consumer_session_timeout_ms, config.max_size);
        Groups { config, groups: HashMap::new(), consumer, pending_txn: HashMap::new(), next_member: 0 }
    }

    /// Whether the id names a group using the classic protocol with members (a consumer-protocol
    /// member may not join it).
    pub fn is_active_classic(&self, id: &str) -> bool {
        self.groups.get(id).is_some_and(|g| !g.members.is_empty())
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    fn new_member_id(&mut self, client_id: &str) -> String {
        self.next_member += 1;
        format!("{client_id}-{}", uuid::Uuid::new_v4())
    }

    pub fn join(&mut self, req: JoinInput, now: i64, waiter: WaiterId) -> Outcome {
        let mut out = Outcome::default();
        let fail = |out: &mut Outcome, e: GroupError, id: &str| {
            out.replies.push((waiter, Reply::Join(JoinResult::error(e, id))))
        };
        if req.group_id.is_empty() {
            fail(&mut out, GroupError::InvalidGroupId, &req.member_id);
            return out;
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            fail(&mut out, GroupError::InvalidSessionTimeout, &req.member_id);
            return out;
        }
        if !req.member_id.is_empty() && !self.groups.contains_key(&req.group_id) {
            fail(&mut out, GroupError::UnknownMemberId, &req.member_id);
            return out;
        }
        if self.consumer.has_members(&req.group_id) {
            // A group is classic or consumer: a classic member cannot join a live consumer group.
            fail(&mut out, GroupError::InconsistentGroupProtocol, &req.member_id);
            return out;
        }
        let max_size = self.config.max_size;
        let delay = self.config.initial_rebalance_delay_ms;
        let new_id = if req.member_id.is_empty() { Some(self.new_member_id(&req.client_id)) } else { None };
        let g = self.groups.entry(req.group_id.clone()).or_insert_with(|| Group::new(&req.group_id, now));
        if g.state == GroupState::Dead {
            fail(&mut out, GroupError::CoordinatorNotAvailable, &req.member_id);
            return out;
        }
        if !g.supports(&req.protocol_type, &req.protocols) {
            fail(&mut out, GroupError::InconsistentGroupProtocol, &req.member_id);
            return out;
        }
        let mut member_id = req.member_id.clone();
        if let Some(new_id) = new_id {
            if let Some(inst) = &req.instance_id {
                if let Some(old) = g.static_members.get(inst).cloned() {
                    // A static member restarting: it takes over its old slot under a new id.
                    return Self::rejoin_static(g, req, old, new_id, now, waiter, delay);
                }
                member_id = new_id;
            } else if req.require_known_member_id {
                if g.members.len() + g.pending.len() >= max_size {
                    fail(&mut out, GroupError::GroupMaxSizeReached, "");
                    return out;
                }
                g.pending.insert(new_id.clone(), now + req.session_timeout_ms as i64);
                fail(&mut out, GroupError::MemberIdRequired, &new_id);
                return out;
            } else {
                member_id = new_id;
            }
        } else {
            let known = g.member(&member_id).is_some() || g.pending.contains_key(&member_id);
            if !known {
                fail(&mut out, GroupError::UnknownMemberId, &member_id);
                return out;
            }
            if let Some(inst) = &req.instance_id {
                if g.static_members.get(inst).is_some_and(|m| *m != member_id) {
                    fail(&mut out, GroupError::FencedInstanceId, &member_id);
                    return out;
                }
            }
        }
        g.pending.remove(&member_id);
        if g.member(&member_id).is_none() && g.members.len() >= max_size {
            fail(&mut out, GroupError::GroupMaxSizeReached, &member_id);
            return out;
        }
        Self::add_or_update(g, &req, &member_id, now, waiter, delay, &mut out);
        out
    }

    fn rejoin_static(
        g: &mut Group,
        req: JoinInput,
        old: String,
        new_id: String,
        now: i64,
        waiter: WaiterId,
        delay: i64,
    ) -> Outcome {
        let mut out = Outcome::default();
        let inst = req.instance_id.clone().unwrap_or_default();
        let Some(idx) = g.members.iter().position(|m| m.member_id == old) else {
            g.static_members.remove(&inst);
            Self::add_or_update(g, &req, &new_id, now, waiter, delay, &mut out);
            return out;
        };
        // The old incarnation's parked requests are fenced.
        let oldm = &mut g.members[idx];
        if let Some(w) = oldm.join_waiter.take() {
            out.replies.push((w, Reply::Join(JoinResult::error(GroupError::FencedInstanceId, &old))));
        }
        if let Some(w) = oldm.sync_waiter.take() {
            out.replies.push((w, Reply::Sync(SyncResult::error(GroupError::FencedInstanceId))));
        }
        let same_protocols = oldm.protocols == req.protocols;
        oldm.member_id = new_id.clone();
        oldm.last_heartbeat_ms = now;
        oldm.session_timeout_ms = req.session_timeout_ms;
        oldm.rebalance_timeout_ms = req.rebalance_timeout_ms;
        oldm.client_id = req.client_id.clone();
        oldm.client_host = req.client_host.clone();
        g.static_members.insert(inst, new_id.clone());
        if g.leader.as_deref() == Some(old.as_str()) {
            g.leader = Some(new_id.clone());
        }
        if g.state == GroupState::Stable && same_protocols {
            // No rebalance: answer with the current generation; the member syncs to get its
            // old assignment back.
            let leader = g.leader.clone().unwrap_or_default();
            let is_leader = leader == new_id;
            let members = if is_leader { Self::member_list(g) } else { vec![] };
            out.records.push(GroupRecord::Group { group: g.group_id.clone(), value: Some(g.stored(now)) });
            out.replies.push((
                waiter,
                Reply::Join(JoinResult {
                    error: None,
                    generation: g.generation,
                    protocol_type: g.protocol_type.clone(),
                    protocol: g.protocol.clone(),
                    leader,
                    member_id: new_id,
                    members,
                    skip_assignment: is_leader,
                }),
            ));
            return out;
        }
        let mut req = req;
        req.member_id = new_id.clone();
        Self::add_or_update(g, &req, &new_id, now, waiter, delay, &mut out);
        out
    }

    fn member_list(g: &Group) -> Vec<(String, Option<String>, Bytes)> {
        let p = g.protocol.clone().unwrap_or_default();
        g.members.iter().map(|m| (m.member_id.clone(), m.instance_id.clone(), m.metadata(&p))).collect()
    }

    fn add_or_update(
        g: &mut Group,
        req: &JoinInput,
        member_id: &str,
        now: i64,
        waiter: WaiterId,
        delay: i64,
        out: &mut Outcome,
    ) {
        let existing = g.member(member_id).is_some();
        if existing {
            let m = g.member_mut(member_id).expect("checked above");
            let unchanged = m.protocols == req.protocols;
            if let Some(w) = m.join_waiter.replace(waiter) {
                // A duplicate join from the same member: the newer one wins.
                out.replies.push((w, Reply::Join(JoinResult::error(GroupError::UnknownMemberId, member_id))));
            }
            m.protocols = req.protocols.clone();
            m.session_timeout_ms = req.session_timeout_ms;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.last_heartbeat_ms = now;
            let is_leader = g.leader.as_deref() == Some(member_id);
            match g.state {
                GroupState::CompletingRebalance | GroupState::Stable
                    if unchanged && !(g.state == GroupState::Stable && is_leader) =>
                {
                    // Same metadata: answer with the current generation, no new rebalance.
                    let m = g.member_mut(member_id).expect("checked above");
                    m.join_waiter = None;
                    let members = if is_leader { Self::member_list(g) } else { vec![] };
                    out.replies.push((
                        waiter,
                        Reply::Join(JoinResult {
                            error: None,
                            generation: g.generation,
                            protocol_type: g.protocol_type.clone(),
                            protocol: g.protocol.clone(),
                            leader: g.leader.clone().unwrap_or_default(),
                            member_id: member_id.to_string(),
                            members,
                            skip_assignment: false,
                        }),
                    ));
                    return;
                }
                GroupState::PreparingRebalance => {}
                _ => Self::prepare_rebalance(g, now, delay, out),
            }
        } else {
            if g.members.is_empty() {
                g.protocol_type = Some(req.protocol_type.clone());
            }
            if let Some(inst) = &req.instance_id {
                g.static_members.insert(inst.clone(), member_id.to_string());
            }
            g.members.push(Member {
                member_id: member_id.to_string(),
                instance_id: req.instance_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                session_timeout_ms: req.session_timeout_ms,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                protocol_type: req.protocol_type.clone(),
                protocols: req.protocols.clone(),
                assignment: Bytes::new(),
                last_heartbeat_ms: now,
                join_waiter: Some(waiter),
                sync_waiter: None,
                is_new: true,
            });
            if g.state == GroupState::PreparingRebalance && g.initial_delay_until_ms > now {
                // Initial rebalance delay: each new member extends it, up to the rebalance timeout.
                let cap = g.state_since_ms
                    + g.members.iter().map(|m| m.rebalance_timeout_ms as i64).max().unwrap_or(0);
                g.initial_delay_until_ms = (now + delay).min(cap).max(g.initial_delay_until_ms);
            }
            if g.state != GroupState::PreparingRebalance {
                Self::prepare_rebalance(g, now, delay, out);
            }
        }
        Self::maybe_complete_join(g, now, out);
    }

    fn prepare_rebalance(g: &mut Group, now: i64, delay: i64, out: &mut Outcome) {
        if g.state == GroupState::CompletingRebalance {
            for m in g.members.iter_mut() {
                m.assignment = Bytes::new();
                if let Some(w) = m.sync_waiter.take() {
                    out.replies.push((w, Reply::Sync(SyncResult::error(GroupError::RebalanceInProgress))));
                }
            }
        }
        let initial = g.state == GroupState::Empty;
        g.set_state(GroupState::PreparingRebalance, now);
        out.rebalances += 1;
        let timeout = g.members.iter().map(|m| m.rebalance_timeout_ms as i64).max().unwrap_or(0);
        g.rebalance_deadline_ms = now + timeout;
        g.initial_delay_until_ms = if initial && delay > 0 { now + delay.min(timeout) } else { 0 };
    }

    fn maybe_complete_join(g: &mut Group, now: i64, out: &mut Outcome) {
        if g.state != GroupState::PreparingRebalance {
            return;
        }
        let delay_over = now >= g.initial_delay_until_ms;
        if (g.all_joined() && delay_over) || now >= g.rebalance_deadline_ms {
            Self::complete_join(g, now, out);
        }
    }

    fn complete_join(g: &mut Group, now: i64, out: &mut Outcome) {
        // Members that did not rejoin in time are removed (their join is not coming).
        let gone: Vec<String> =
            g.members.iter().filter(|m| m.join_waiter.is_none()).map(|m| m.member_id.clone()).collect();
        for id in gone {
            Self::remove_member(g, &id);
        }
        g.pending.clear();
        g.generation += 1;
        if g.members.is_empty() {
            g.protocol = None;
            g.protocol_type = if g.offsets.is_empty() { None } else { g.protocol_type.take() };
            g.leader = None;
            g.set_state(GroupState::Empty, now);
            out.records.push(GroupRecord::Group { group: g.group_id.clone(), value: Some(g.stored(now)) });
            return;
        }
        g.protocol = g.select_protocol();
        if g.leader.as_ref().is_none_or(|l| g.member(l).is_none()) {
            g.leader = g.members.first().map(|m| m.member_id.clone());
        }
        g.set_state(GroupState::CompletingRebalance, now);
        let leader = g.leader.clone().unwrap_or_default();
        let list = Self::member_list(g);
        for m in g.members.iter_mut() {
            m.last_heartbeat_ms = now;
            m.is_new = false;
            if let Some(w) = m.join_waiter.take() {
                let is_leader = m.member_id == leader;
                out.replies.push((
                    w,
                    Reply::Join(JoinResult {
                        error: None,
                        generation: g.generation,
                        protocol_type: g.protocol_type.clone(),
                        protocol: g.protocol.clone(),
                        leader: leader.clone(),
                        member_id: m.member_id.clone(),
                        members: if is_leader { list.clone() } else { vec![] },
                        skip_assignment: false,
                    }),
                ));
            }
        }
    }

    fn remove_member(g: &mut Group, id: &str) -> Option<Member> {
        let idx = g.members.iter().position(|m| m.member_id == id)?;
        let m = g.members.remove(idx);
        if let Some(inst) = &m.instance_id {
            if g.static_members.get(inst).is_some_and(|x| x == id) {
                g.static_members.remove(inst);
            }
        }
        if g.leader.as_deref() == Some(id) {
            g.leader = g.members.first().map(|m| m.member_id.clone());
        }
        Some(m)
    }

    /// Checks membership, instance fencing and generation for sync/heartbeat/commit.
    fn validate_member(
        g: &Group,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), GroupError> {
        if let Some(inst) = instance_id {
            match g.static_members.get(inst) {
                Some(m) if m != member_id => return Err(GroupError::FencedInstanceId),
                _ => {}
            }
        }
        if g.member(member_id).is_none() {
            return Err(GroupError::UnknownMemberId);
        }
        if generation != g.generation {
            return Err(GroupError::IllegalGeneration);
        }
        Ok(())
    }

    pub fn sync(&mut self, req: SyncInput, now: i64, waiter: WaiterId) -> Outcome {
        let mut out = Outcome::default();
        let reply = |out: &mut Outcome, r: SyncResult| out.replies.push((waiter, Reply::Sync(r)));
        let Some(g) = self.groups.get_mut(&req.group_id) else {
            reply(&mut out, SyncResult::error(GroupError::UnknownMemberId));
            return out;
        };
        if let Err(e) = Self::validate_member(g, &req.member_id, req.instance_id.as_deref(), req.generation) {
            reply(&mut out, SyncResult::error(e));
            return out;
        }
        if req.protocol_type.as_ref().is_some_and(|t| Some(t) != g.protocol_type.as_ref())
            || req.protocol.as_ref().is_some_and(|p| Some(p) != g.protocol.as_ref())
        {
            reply(&mut out, SyncResult::error(GroupError::InconsistentGroupProtocol));
            return out;
        }
        match g.state {
            GroupState::Empty | GroupState::Dead => {
                reply(&mut out, SyncResult::error(GroupError::UnknownMemberId))
            }
            GroupState::PreparingRebalance => {
                reply(&mut out, SyncResult::error(GroupError::RebalanceInProgress))
            }
            GroupState::Stable => {
                let (pt, p) = (g.protocol_type.clone(), g.protocol.clone());
                let m = g.member_mut(&req.member_id).expect("validated");
                m.last_heartbeat_ms = now;
                let r = SyncResult {
                    error: None,
                    protocol_type: pt,
                    protocol: p,
                    assignment: m.assignment.clone(),
                };
                reply(&mut out, r);
            }
            GroupState::CompletingRebalance => {
                let m = g.member_mut(&req.member_id).expect("validated");
                m.last_heartbeat_ms = now;
                if let Some(w) = m.sync_waiter.replace(waiter) {
                    out.replies.push((w, Reply::Sync(SyncResult::error(GroupError::UnknownMemberId))));
                }
                if g.leader.as_deref() == Some(req.member_id.as_str()) {
                    let map: HashMap<&str, &Bytes> =
                        req.assignments.iter().map(|(k, v)| (k.as_str(), v)).collect();
                    for m in g.members.iter_mut() {
                        m.assignment =
                            map.get(m.member_id.as_str()).map(|b| (*b).clone()).unwrap_or_default();
                    }
                    g.set_state(GroupState::Stable, now);
                    out.records
                        .push(GroupRecord::Group { group: g.group_id.clone(), value: Some(g.stored(now)) });
                    for m in g.members.iter_mut() {
                        if let Some(w) = m.sync_waiter.take() {
                            out.replies.push((
                                w,
                                Reply::Sync(SyncResult {
                                    error: None,
                                    protocol_type: g.protocol_type.clone(),
                                    protocol: g.protocol.clone(),
                                    assignment: m.assignment.clone(),
                                }),
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    pub fn heartbeat(
        &mut self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: i64,
    ) -> Result<(), GroupError> {
        let g = self.groups.get_mut(group_id).ok_or(GroupError::UnknownMemberId)?;
        match g.state {
            GroupState::Empty | GroupState::Dead => return Err(GroupError::UnknownMemberId),
            _ => {}
        }
        Self::validate_member(g, member_id, instance_id, generation)?;
        if let Some(m) = g.member_mut(member_id) {
            m.last_heartbeat_ms = now;
        }
        match g.state {
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// LeaveGroup: the top-level error, and per member (member id, instance id, error).
    #[allow(clippy::type_complexity)]
    pub fn leave(
        &mut self,
        group_id: &str,
        members: &[(String, Option<String>)],
        now: i64,
    ) -> (Option<GroupError>, Vec<(String, Option<String>, Option<GroupError>)>, Outcome) {
        let mut out = Outcome::default();
        let delay = self.config.initial_rebalance_delay_ms;
        let Some(g) = self.groups.get_mut(group_id) else {
            return (Some(GroupError::UnknownMemberId), vec![], out);
        };
        let mut results = Vec::new();
        let mut removed = false;
        for (mid, inst) in members {
            let target = match inst {
                Some(i) => match g.static_members.get(i) {
                    Some(m) if mid.is_empty() || m == mid => Ok(m.clone()),
                    Some(_) => Err(GroupError::FencedInstanceId),
                    None => Err(GroupError::UnknownMemberId),
                },
                None if g.member(mid).is_some() => Ok(mid.clone()),
                None if g.pending.remove(mid).is_some() => {
                    results.push((mid.clone(), None, None));
                    continue;
                }
                None => Err(GroupError::UnknownMemberId),
            };
            match target {
                Ok(id) => {
                    if let Some(m) = Self::remove_member(g, &id) {
                        if let Some(w) = m.join_waiter {
                            out.replies
                                .push((w, Reply::Join(JoinResult::error(GroupError::UnknownMemberId, &id))));
                        }
                        if let Some(w) = m.sync_waiter {
                            out.replies
                                .push((w, Reply::Sync(SyncResult::error(GroupError::UnknownMemberId))));
                        }
                    }
                    removed = true;
                    results.push((mid.clone(), inst.clone(), None));
                }
                Err(e) => results.push((mid.clone(), inst.clone(), Some(e))),
            }
        }
        if removed {
            Self::after_removal(g, now, delay, &mut out);
        }
        (None, results, out)
    }

    fn after_removal(g: &mut Group, now: i64, delay: i64, out: &mut Outcome) {
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                if g.members.is_empty() {
                    Self::prepare_rebalance(g, now, 0, out);
                    Self::complete_join(g, now, out);
                } else {
                    Self::prepare_rebalance(g, now, delay, out);
                }
            }
            GroupState::PreparingRebalance => Self::maybe_complete_join(g, now, out),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Timers: expired sessions, rebalance deadlines, pending member ids, offset retention.
    pub fn tick(&mut self, now: i64) -> Outcome {
        let mut out = Outcome::default();
        let delay = self.config.initial_rebalance_delay_ms;
        let retention = self.config.offsets_retention_ms;
        for g in self.groups.values_mut() {
            g.pending.retain(|_, deadline| *deadline > now);
            let expired: Vec<String> = g
                .members
                .iter()
                .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
                .filter(|m| now - m.last_heartbeat_ms > m.session_timeout_ms as i64)
                .map(|m| m.member_id.clone())
                .collect();
            if !expired.is_empty() {
                for id in &expired {
                    tracing::info!(group = %g.group_id, member = %id, "member session expired");
                    Self::remove_member(g, id);
                }
                Self::after_removal(g, now, delay, &mut out);
            }
            Self::maybe_complete_join(g, now, &mut out);
            if g.state == GroupState::Empty && !g.offsets.is_empty() && now - g.state_since_ms > retention {
                for ((t, p), c) in g.offsets.iter() {
                    if now - c.commit_timestamp > retention {
                        out.records.push(GroupRecord::Offset {
                            group: g.group_id.clone(),
                            topic: t.clone(),
                            partition: *p,
                            value: None,
                        });
                    }
                }
            }
        }
        out
    }

    /// DeleteGroups: only empty groups; tombstones for the group and every offset.
    pub fn delete_group(&mut self, group_id: &str) -> Result<Outcome, GroupError> {
        if self.consumer.has_members(group_id) {
            return Err(GroupError::NonEmptyGroup);
        }
        let removed = self.consumer.groups.remove(group_id);
        let known_consumer = removed.is_some();
        let mut out = Outcome {
            records: super::consumer::records_between(group_id, removed.as_ref(), None),
            ..Default::default()
        };
        let Some(g) = self.groups.get(group_id) else {
            return if known_consumer { Ok(out) } else { Err(GroupError::GroupIdNotFound) };
        };
        if g.state == GroupState::Dead {
            return Err(GroupError::GroupIdNotFound);
        }
        if !g.members.is_empty() || g.state != GroupState::Empty {
            return Err(GroupError::NonEmptyGroup);
        }
        for (t, p) in g.offsets.keys() {
            out.records.push(GroupRecord::Offset {
                group: group_id.to_string(),
                topic: t.clone(),
                partition: *p,
                value: None,
            });
        }
        out.records.push(GroupRecord::Group { group: group_id.to_string(), value: None });
        Ok(out)
    }

    /// Applies a record read back from (or just written to) `__consumer_offsets`. Group metadata
    /// records restore membership only when `loading` (in normal operation memory is ahead of them).
    pub fn replay(&mut self, r: &GroupRecord, loading: bool, now: i64) {
        match r {
            // KIP-848 groups change in memory before their records are written (see
            // `consumer.rs`): only loading replays them.
            GroupRecord::Consumer(c) => {
                if loading {
                    self.consumer.replay(c);
                }
            }
            GroupRecord::Offset { group, topic, partition, value } => match value {
                Some(c) => {
                    let g = self.groups.entry(group.clone()).or_insert_with(|| Group::new(group, now));
                    if g.state == GroupState::Dead {
                        *g = Group::new(group, now);
                    }
                    g.offsets.insert((topic.clone(), *partition), c.clone());
                }
                None => {
                    if let Some(g) = self.groups.get_mut(group) {
                        g.offsets.remove(&(topic.clone(), *partition));
                    }
                }
            },
            GroupRecord::Group { group, value: None } => {
                if let Some(g) = self.groups.get(group) {
                    if loading || g.members.is_empty() {
                        self.groups.remove(group);
                    }
                }
            }
            GroupRecord::Group { group, value: Some(sg) } if loading => {
                let g = self.groups.entry(group.clone()).or_insert_with(|| Group::new(group, now));
                g.protocol_type =
                    if sg.protocol_type.is_empty() { None } else { Some(sg.protocol_type.clone()) };
                g.generation = sg.generation;
                g.protocol = sg.protocol.clone();
                g.leader = sg.leader.clone();
                g.static_members.clear();
                g.members = sg
                    .members
                    .iter()
                    .map(|m| {
                        if let Some(i) = &m.instance_id {
                            g.static_members.insert(i.clone(), m.member_id.clone());
                        }
                        Member {
                            member_id: m.member_id.clone(),
                            instance_id: m.instance_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            session_timeout_ms: m.session_timeout_ms,
                            rebalance_timeout_ms: m.rebalance_timeout_ms,
                            protocol_type: sg.protocol_type.clone(),
                            protocols: sg
                                .protocol
                                .clone()
                                .map(|p| vec![(p, m.subscription.clone())])
                                .unwrap_or_default(),
                            assignment: m.assignment.clone(),
                            // Members get a full session after a restart to heartbeat again.
                            last_heartbeat_ms: now,
                            join_waiter: None,
                            sync_waiter: None,
                            is_new: false,
                        }
                    })
                    .collect();
                let st = if g.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
                g.set_state(st, now);
            }
            GroupRecord::Group { .. } => {}
        }
    }
}

mod offsets;

#[cfg(test)]
mod tests;
