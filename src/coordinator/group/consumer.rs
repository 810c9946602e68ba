//! The KIP-848 `consumer` group protocol as a pure state machine: server-side assignment, member
//! epochs, and partitions revoked by their owner before anyone else gets them.
//!
//! Owns: consumer-protocol groups (membership, subscriptions, the target assignment and each
//! member's current assignment). Offsets stay with [`super::state::Groups`]. Must not: do I/O, read
//! the clock or `.await`; topic metadata comes in as a [`TopicsView`] snapshot.
//!
//! Epochs: the group epoch moves whenever membership, a subscription or a subscribed topic's
//! partition count changes; the target assignment is recomputed at that epoch. A member reaches
//! the target epoch once it has given up the partitions it must revoke; partitions it should get
//! are handed over only when their previous owner no longer holds them.
//!
//! Persistence: the shell snapshots a group before a heartbeat, and [`records_between`] turns
//! the change into Kafka's ConsumerGroup* records (`consumer_records.rs`), which the shell writes
//! before it answers; if the write fails it puts the snapshot back (Kafka's coordinator runtime
//! reverts its in-memory state the same way). At start [`ConsumerGroups::replay`] rebuilds every
//! group and [`ConsumerGroups::loaded`] restarts the members' session timers, so members keep
//! heartbeating with their ids and epochs across a broker restart.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::consumer_records::{ConsumerRecord, StoredAssignment, StoredConsumerMember};
use super::records::GroupRecord;

/// Topic name -> (topic id, partition count): the metadata the assignors need.
pub type TopicsView = BTreeMap<String, (Uuid, i32)>;
/// An assignment: topic id -> partitions.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

pub const ASSIGNORS: &[&str] = &["uniform", "range"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerGroupError {
    #[error("the member is not known to the group; rejoin with epoch 0")]
    UnknownMemberId,
    #[error("the member epoch is fenced; rejoin with epoch 0")]
    FencedMemberEpoch,
    #[error("the member epoch is stale")]
    StaleMemberEpoch,
    #[error("the static member's previous incarnation has not left yet")]
    UnreleasedInstanceId,
    #[error("the assignor is not supported by this broker")]
    UnsupportedAssignor,
    #[error("the group uses the classic protocol and has members")]
    GroupIdNotFound,
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    #[error("the group is at group.consumer.max.size")]
    GroupMaxSizeReached,
    #[error("invalid regular expression")]
    InvalidRegularExpression,
}

#[derive(Debug, Clone)]
pub struct ConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    pub previous_epoch: i32,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// What the member holds (as the broker has told it).
    pub assigned: Assignment,
    /// Partitions it was asked to give up and has not confirmed yet.
    pub revoking: Assignment,
    /// The assignment epoch the pending revocation was computed for.
    revoking_epoch: i32,
    /// The assignment last sent in a response; an unchanged one is not sent again.
    last_sent: Option<Assignment>,
    pub last_heartbeat_ms: i64,
    pub revoke_deadline_ms: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    pub group_id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: BTreeMap<String, ConsumerMember>,
    pub target: HashMap<String, Assignment>,
    /// The metadata the target was computed from (subscribed topics only).
    subscribed_metadata: TopicsView,
}

impl ConsumerGroup {
    /// Kafka's consumer group states.
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch != self.group_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || !m.revoking.is_empty())
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    fn subscribed(&self, topics: &TopicsView) -> TopicsView {
        let mut out = TopicsView::new();
        for m in self.members.values() {
            for (name, meta) in topics {
                if member_subscribes(m, name) {
                    out.insert(name.clone(), *meta);
                }
            }
        }
        out
    }

    /// Recomputes the target assignment at the current group epoch.
    fn assign(&mut self, topics: &TopicsView) {
        let subscribed = self.subscribed(topics);
        let mut target: HashMap<String, Assignment> =
            self.members.keys().map(|m| (m.clone(), Assignment::new())).collect();
        let member_ids: Vec<String> = self.members.keys().cloned().collect();
        if self.assignor == "range" {
            for (name, (id, parts)) in &subscribed {
                let subs: Vec<&String> =
                    member_ids.iter().filter(|m| member_subscribes(&self.members[*m], name)).collect();
                if subs.is_empty() {
                    continue;
                }
                let n = subs.len() as i32;
                let (per, extra) = (parts / n, parts % n);
                let mut next = 0;
                for (i, m) in subs.iter().enumerate() {
                    let count = per + if (i as i32) < extra { 1 } else { 0 };
                    let e = target.get_mut(*m).expect("member").entry(*id).or_default();
                    for p in next..next + count {
                        e.insert(p);
                    }
                    next += count;
                }
            }
        } else {
            // Uniform: keep each partition with its current target owner when that owner still
            // subscribes and is not over its fair share, then give the rest to the least loaded.
            let mut all: Vec<(String, Uuid, i32)> = Vec::new();
            for (name, (id, parts)) in &subscribed {
                for p in 0..*parts {
                    all.push((name.clone(), *id, p));
                }
            }
            let eligible = |name: &str| -> Vec<String> {
                member_ids.iter().filter(|m| member_subscribes(&self.members[*m], name)).cloned().collect()
            };
            let fair = if member_ids.is_empty() { 0 } else { all.len().div_ceil(member_ids.len()) };
            let mut load: HashMap<String, usize> = member_ids.iter().map(|m| (m.clone(), 0)).collect();
            let mut unplaced = Vec::new();
            for (name, id, p) in &all {
                let prev = self
                    .target
                    .iter()
                    .find(|(m, a)| a.get(id).is_some_and(|s| s.contains(p)) && target.contains_key(*m))
                    .map(|(m, _)| m.clone());
                match prev {
                    Some(m) if member_subscribes(&self.members[&m], name) && load[&m] < fair => {
                        target.get_mut(&m).expect("member").entry(*id).or_default().insert(*p);
                        *load.get_mut(&m).expect("member") += 1;
                    }
                    _ => unplaced.push((name.clone(), *id, *p)),
                }
            }
            for (name, id, p) in unplaced {
                let Some(m) = eligible(&name).into_iter().min_by_key(|m| (load[m], m.clone())) else {
                    continue;
                };
                target.get_mut(&m).expect("member").entry(id).or_default().insert(p);
                *load.get_mut(&m).expect("member") += 1;
            }
        }
        self.target = target;
        self.assignment_epoch = self.group_epoch;
        self.subscribed_metadata = subscribed;
    }

    /// Whether `p` of `topic` is held or being revoked by a member other than `me`.
    fn held_by_other(&self, me: &str, topic: &Uuid, p: i32) -> bool {
        self.members.values().any(|m| {
            m.member_id != me
                && (m.assigned.get(topic).is_some_and(|s| s.contains(&p))
                    || m.revoking.get(topic).is_some_and(|s| s.contains(&p)))
        })
    }

    /// Moves `member` toward its target: revoke first; then take free partitions and the epoch.
    fn reconcile(&mut self, member: &str, now: i64) {
        let target = self.target.get(member).cloned().unwrap_or_default();
        let epoch = self.assignment_epoch;
        let Some(mut m) = self.members.get(member).cloned() else { return };
        if !m.revoking.is_empty() && m.revoking_epoch != epoch {
            // The target moved while a revocation was pending: partitions the new target gives
            // back to this member need not be revoked after all.
            let mut still = Assignment::new();
            for (t, ps) in &m.revoking {
                for p in ps {
                    if target.get(t).is_some_and(|s| s.contains(p)) {
                        m.assigned.entry(*t).or_default().insert(*p);
                    } else {
                        still.entry(*t).or_default().insert(*p);
                    }
                }
            }
            m.revoking = still;
            m.revoking_epoch = epoch;
            if m.revoking.is_empty() {
                m.revoke_deadline_ms = None;
            }
            self.members.insert(member.to_string(), m.clone());
        }
        if !m.revoking.is_empty() {
            return; // waiting for the member to confirm the revocation
        }
        let mut keep = Assignment::new();
        let mut revoke = Assignment::new();
        for (t, ps) in &m.assigned {
            for p in ps {
                if target.get(t).is_some_and(|s| s.contains(p)) {
                    keep.entry(*t).or_default().insert(*p);
                } else {
                    revoke.entry(*t).or_default().insert(*p);
                }
            }
        }
        if !revoke.is_empty() {
            let mm = self.members.get_mut(member).expect("member");
            mm.assigned = keep;
            mm.revoking = revoke;
            mm.revoking_epoch = epoch;
            mm.revoke_deadline_ms = Some(now + mm.rebalance_timeout_ms as i64);
            return;
        }
        let mut next = keep;
        for (t, ps) in &target {
            for p in ps {
                if !self.held_by_other(member, t, *p) {
                    next.entry(*t).or_default().insert(*p);
                }
            }
        }
        let mm = self.members.get_mut(member).expect("member");
        mm.assigned = next;
        if mm.member_epoch != epoch {
            mm.previous_epoch = mm.member_epoch;
            mm.member_epoch = epoch;
        }
    }
}

fn member_subscribes(m: &ConsumerMember, topic: &str) -> bool {
    if m.subscribed_topic_names.iter().any(|t| t == topic) {
        return true;
    }
    match &m.subscribed_topic_regex {
        Some(r) if !topic.starts_with("__") => {
            regex::Regex::new(&format!("^(?:{r})$")).is_ok_and(|re| re.is_match(topic))
        }
        _ => false,
    }
}

/// One ConsumerGroupHeartbeat, as the domain sees it. `None` fields: unchanged since the last one.
#[derive(Debug, Clone)]
pub struct HeartbeatInput {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatResult {
    pub member_id: String,
    pub member_epoch: i32,
    /// The member's assignment; `None` when unchanged since the last response.
    pub assignment: Option<Assignment>,
}

#[derive(Debug, Default)]
pub struct ConsumerGroups {
    pub groups: HashMap<String, ConsumerGroup>,
    pub session_timeout_ms: i64,
    pub max_size: usize,
}

impl ConsumerMember {
    fn blank(member_id: &str) -> ConsumerMember {
        ConsumerMember {
            member_id: member_id.to_string(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            member_epoch: 0,
            previous_epoch: -1,
            rebalance_timeout_ms: -1,
            subscribed_topic_names: vec![],
            subscribed_topic_regex: None,
            server_assignor: None,
            assigned: Assignment::new(),
            revoking: Assignment::new(),
            revoking_epoch: -1,
            last_sent: None,
            last_heartbeat_ms: 0,
            revoke_deadline_ms: None,
        }
    }

    fn stored(&self) -> StoredConsumerMember {
        StoredConsumerMember {
            instance_id: self.instance_id.clone(),
            rack_id: self.rack_id.clone(),
            client_id: self.client_id.clone(),
            client_host: self.client_host.clone(),
            subscribed_topic_names: self.subscribed_topic_names.clone(),
            subscribed_topic_regex: self.subscribed_topic_regex.clone(),
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            server_assignor: self.server_assignor.clone(),
        }
    }

    /// Kafka's MemberState: 1 while partitions wait to be revoked, 0 when the member holds its
    /// whole target, 2 while some of it is still held by others.
    fn current(&self, target: Option<&Assignment>) -> StoredAssignment {
        let state = if !self.revoking.is_empty() {
            1
        } else if target.is_none_or(|t| {
            t.iter()
                .filter(|(_, ps)| !ps.is_empty())
                .eq(self.assigned.iter().filter(|(_, ps)| !ps.is_empty()))
        }) {
            0
        } else {
            2
        };
        StoredAssignment {
            member_epoch: self.member_epoch,
            previous_member_epoch: self.previous_epoch,
            state,
            assigned: self.assigned.clone(),
            revoking: self.revoking.clone(),
        }
    }
}

/// The records that take a group from `before` to `after` (either absent: created or deleted),
/// in Kafka's order: departed members' tombstones, member metadata and the group epoch, the
/// target assignment and its epoch, then current assignments.
pub fn records_between(
    group_id: &str,
    before: Option<&ConsumerGroup>,
    after: Option<&ConsumerGroup>,
) -> Vec<GroupRecord> {
    let g = group_id.to_string();
    let mut out = Vec::new();
    let mut push = |r: ConsumerRecord| out.push(GroupRecord::Consumer(r));
    let Some(a) = after else {
        // The group is deleted: Kafka's order.
        if let Some(b) = before {
            for m in b.members.keys() {
                push(ConsumerRecord::Current { group: g.clone(), member: m.clone(), value: None });
            }
            for m in b.members.keys() {
                push(ConsumerRecord::Target { group: g.clone(), member: m.clone(), value: None });
            }
            push(ConsumerRecord::TargetEpoch { group: g.clone(), epoch: None });
            for m in b.members.keys() {
                push(ConsumerRecord::Member { group: g.clone(), member: m.clone(), value: None });
            }
            push(ConsumerRecord::GroupEpoch { group: g, epoch: None });
        }
        return out;
    };
    for m in before.iter().flat_map(|b| b.members.keys()).filter(|m| !a.members.contains_key(*m)) {
        push(ConsumerRecord::Current { group: g.clone(), member: m.clone(), value: None });
        push(ConsumerRecord::Target { group: g.clone(), member: m.clone(), value: None });
        push(ConsumerRecord::Member { group: g.clone(), member: m.clone(), value: None });
    }
    let old = |m: &str| before.and_then(|b| b.members.get(m));
    for (id, m) in &a.members {
        let stored = m.stored();
        if old(id).map(|o| o.stored()) != Some(stored.clone()) {
            push(ConsumerRecord::Member { group: g.clone(), member: id.clone(), value: Some(stored) });
        }
    }
    if before.is_none_or(|b| b.group_epoch != a.group_epoch) {
        push(ConsumerRecord::GroupEpoch { group: g.clone(), epoch: Some(a.group_epoch) });
    }
    for id in a.members.keys() {
        let t = a.target.get(id);
        if t.is_some() && before.and_then(|b| b.target.get(id)) != t {
            push(ConsumerRecord::Target { group: g.clone(), member: id.clone(), value: t.cloned() });
        }
    }
    if before.is_none_or(|b| b.assignment_epoch != a.assignment_epoch) {
        push(ConsumerRecord::TargetEpoch { group: g.clone(), epoch: Some(a.assignment_epoch) });
    }
    for (id, m) in &a.members {
        let now = m.current(a.target.get(id));
        let was = old(id).map(|o| o.current(before.and_then(|b| b.target.get(id))));
        if was.as_ref() != Some(&now) {
            push(ConsumerRecord::Current { group: g.clone(), member: id.clone(), value: Some(now) });
        }
    }
    out
}

impl ConsumerGroups {
    /// Rebuilds groups from their records at start (in log order).
    pub fn replay(&mut self, r: &ConsumerRecord) {
        fn group<'a>(gs: &'a mut HashMap<String, ConsumerGroup>, g: &str) -> &'a mut ConsumerGroup {
            gs.entry(g.to_string()).or_insert_with(|| ConsumerGroup {
                group_id: g.to_string(),
                assignor: "uniform".into(),
                ..Default::default()
            })
        }
        match r {
            ConsumerRecord::GroupEpoch { group: g, epoch: None } => {
                self.groups.remove(g);
            }
            ConsumerRecord::GroupEpoch { group: g, epoch: Some(e) } => {
                group(&mut self.groups, g).group_epoch = *e;
            }
            ConsumerRecord::TargetEpoch { group: g, epoch } => {
                if let (Some(e), Some(x)) = (epoch, self.groups.get_mut(g)) {
                    x.assignment_epoch = *e;
                }
            }
            ConsumerRecord::Member { group: g, member, value } => match value {
                None => {
                    if let Some(x) = self.groups.get_mut(g) {
                        x.members.remove(member);
                        x.target.remove(member);
                    }
                }
                Some(s) => {
                    let x = group(&mut self.groups, g);
                    let m = x.members.entry(member.clone()).or_insert_with(|| ConsumerMember::blank(member));
                    m.instance_id = s.instance_id.clone();
                    m.rack_id = s.rack_id.clone();
                    m.client_id = s.client_id.clone();
                    m.client_host = s.client_host.clone();
                    m.subscribed_topic_names = s.subscribed_topic_names.clone();
                    m.subscribed_topic_regex = s.subscribed_topic_regex.clone();
                    m.rebalance_timeout_ms = s.rebalance_timeout_ms;
                    m.server_assignor = s.server_assignor.clone();
                }
            },
            ConsumerRecord::Target { group: g, member, value } => {
                if let Some(x) = self.groups.get_mut(g) {
                    match value {
                        Some(a) => x.target.insert(member.clone(), a.clone()),
                        None => x.target.remove(member),
                    };
                }
            }
            ConsumerRecord::Current { group: g, member, value: Some(c) } => {
                if let Some(m) = self.groups.get_mut(g).and_then(|x| x.members.get_mut(member)) {
                    m.member_epoch = c.member_epoch;
                    m.previous_epoch = c.previous_member_epoch;
                    m.assigned = c.assigned.clone();
                    m.revoking = c.revoking.clone();
                }
            }
            ConsumerRecord::Current { value: None, .. } => {}
        }
    }

    /// After the replay: every member's session starts now (as Kafka reschedules them on load),
    /// pending revocations get a fresh deadline, and the subscribed topics' metadata is taken
    /// from the live topics. Returns the number of members loaded.
    pub fn loaded(&mut self, topics: &TopicsView, now: i64) -> usize {
        let mut n = 0;
        for g in self.groups.values_mut() {
            let members: BTreeSet<String> = g.members.keys().cloned().collect();
            g.target.retain(|m, _| members.contains(m));
            let epoch = g.assignment_epoch;
            for m in g.members.values_mut() {
                m.last_heartbeat_ms = now;
                m.last_sent = None;
                m.revoking_epoch = epoch;
                m.revoke_deadline_ms =
                    (!m.revoking.is_empty()).then(|| now + m.rebalance_timeout_ms.max(0) as i64);
                n += 1;
            }
            if let Some(a) = g.members.values().filter_map(|m| m.server_assignor.clone()).next() {
                g.assignor = a;
            }
            g.subscribed_metadata = g.subscribed(topics);
        }
        n
    }

    /// Puts a group back as it was before a change whose records could not be written.
    pub fn restore(&mut self, group_id: &str, before: Option<ConsumerGroup>) {
        match before {
            Some(g) => {
                self.groups.insert(group_id.to_string(), g);
            }
            None => {
                self.groups.remove(group_id);
            }
        }
    }

    pub fn new(session_timeout_ms: i64, max_size: usize) -> ConsumerGroups {
        ConsumerGroups { groups: HashMap::new(), session_timeout_ms, max_size }
    }

    pub fn has_members(&self, group: &str) -> bool {
        self.groups.get(group).is_some_and(|g| !g.members.is_empty())
    }

    /// The heartbeat: join (epoch 0), stay, leave (epoch -1 / -2).
    pub fn heartbeat(
        &mut self,
        req: HeartbeatInput,
        topics: &TopicsView,
        now: i64,
    ) -> Result<HeartbeatResult, ConsumerGroupError> {
        if req.group_id.is_empty() {
            return Err(ConsumerGroupError::InvalidRequest("GroupId can't be empty."));
        }
        if let Some(a) = &req.server_assignor {
            if !ASSIGNORS.contains(&a.as_str()) {
                return Err(ConsumerGroupError::UnsupportedAssignor);
            }
        }
        if let Some(r) = &req.subscribed_topic_regex {
            if regex::Regex::new(r).is_err() {
                return Err(ConsumerGroupError::InvalidRegularExpression);
            }
        }
        // Only a join (epoch 0) makes a group; any other epoch names one that must exist (Kafka
        // answers GROUP_ID_NOT_FOUND, not UNKNOWN_MEMBER_ID, when it does not).
        if req.member_epoch != 0 && !self.groups.contains_key(&req.group_id) {
            return Err(ConsumerGroupError::GroupIdNotFound);
        }
        let max_size = self.max_size;
        let g = self.groups.entry(req.group_id.clone()).or_insert_with(|| ConsumerGroup {
            group_id: req.group_id.clone(),
            assignor: "uniform".into(),
            ..Default::default()
        });
        // Leave.
        if req.member_epoch == -1 || req.member_epoch == -2 {
            let id = match (&req.instance_id, req.member_id.is_empty()) {
                (Some(inst), true) => g
                    .members
                    .values()
                    .find(|m| m.instance_id.as_ref() == Some(inst))
                    .map(|m| m.member_id.clone()),
                _ => Some(req.member_id.clone()),
            };
            let Some(id) = id.filter(|i| g.members.contains_key(i)) else {
                return Err(ConsumerGroupError::UnknownMemberId);
            };
            g.members.remove(&id);
            g.target.remove(&id);
            g.group_epoch += 1;
            g.assign(topics);
            return Ok(HeartbeatResult { member_id: id, member_epoch: req.member_epoch, assignment: None });
        }
        let member_id = if req.member_epoch == 0 {
            if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                return Err(ConsumerGroupError::InvalidRequest(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                ));
            }
            if req.rebalance_timeout_ms < 0 {
                return Err(ConsumerGroupError::InvalidRequest(
                    "RebalanceTimeoutMs must be provided in first request.",
                ));
            }
            let id = if req.member_id.is_empty() {
                Uuid::new_v4().simple().to_string()
            } else {
                req.member_id.clone()
            };
            // A static member replacing its previous incarnation takes over its assignment.
            let replaced = req.instance_id.as_ref().and_then(|inst| {
                g.members
                    .values()
                    .find(|m| m.instance_id.as_ref() == Some(inst) && m.member_id != id)
                    .map(|m| m.member_id.clone())
            });
            if let Some(old) = &replaced {
                if g.members[old].member_epoch != -2 {
                    return Err(ConsumerGroupError::UnreleasedInstanceId);
                }
            }
            if !g.members.contains_key(&id) && replaced.is_none() && g.members.len() >= max_size {
                return Err(ConsumerGroupError::GroupMaxSizeReached);
            }
            let prior = replaced.as_ref().and_then(|o| g.members.remove(o));
            let target = replaced.as_ref().and_then(|o| g.target.remove(o));
            let m = g.members.entry(id.clone()).or_insert_with(|| ConsumerMember {
                member_id: id.clone(),
                instance_id: req.instance_id.clone(),
                rack_id: req.rack_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                member_epoch: 0,
                previous_epoch: -1,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                subscribed_topic_names: vec![],
                subscribed_topic_regex: None,
                server_assignor: None,
                assigned: prior.as_ref().map(|p| p.assigned.clone()).unwrap_or_default(),
                revoking: Assignment::new(),
                revoking_epoch: -1,
                last_sent: None,
                last_heartbeat_ms: now,
                revoke_deadline_ms: None,
            });
            // A rejoin with epoch 0 of a known member: it lost its state; start clean.
            if prior.is_none() {
                m.assigned = Assignment::new();
                m.revoking = Assignment::new();
                m.member_epoch = 0;
            }
            if let Some(t) = target {
                g.target.insert(id.clone(), t);
            }
            id
        } else {
            let Some(m) = g.members.get(&req.member_id) else {
                return Err(ConsumerGroupError::UnknownMemberId);
            };
            if req.member_epoch != m.member_epoch {
                // A lost response: the member still reports the previous epoch and a subset of
                // what it holds now. Anything else is fenced.
                let owned_ok = req.owned.as_ref().is_none_or(|o| {
                    o.iter()
                        .all(|(t, ps)| ps.iter().all(|p| m.assigned.get(t).is_some_and(|s| s.contains(p))))
                });
                if !(req.member_epoch == m.previous_epoch && owned_ok) {
                    return Err(ConsumerGroupError::FencedMemberEpoch);
                }
            }
            req.member_id.clone()
        };
        let mut bump = false;
        {
            let m = g.members.get_mut(&member_id).expect("member present");
            m.last_heartbeat_ms = now;
            if req.rebalance_timeout_ms > 0 {
                m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            }
            if let Some(names) = &req.subscribed_topic_names {
                let mut n = names.clone();
                n.sort();
                if n != m.subscribed_topic_names {
                    m.subscribed_topic_names = n;
                    bump = true;
                }
            }
            if req.subscribed_topic_regex.is_some() && req.subscribed_topic_regex != m.subscribed_topic_regex
            {
                m.subscribed_topic_regex = req.subscribed_topic_regex.clone();
                bump = true;
            }
            if req.server_assignor.is_some() && req.server_assignor != m.server_assignor {
                m.server_assignor = req.server_assignor.clone();
                bump = true;
            }
            if req.member_epoch == 0 && m.member_epoch == 0 {
                bump = true;
            }
            // Revocation confirmed when the member no longer reports the revoked partitions.
            if let Some(owned) = &req.owned {
                let still = m
                    .revoking
                    .iter()
                    .any(|(t, ps)| ps.iter().any(|p| owned.get(t).is_some_and(|s| s.contains(p))));
                if !still {
                    m.revoking.clear();
                    m.revoke_deadline_ms = None;
                }
            }
        }
        if let Some(a) = g.members.values().filter_map(|m| m.server_assignor.clone()).next() {
            g.assignor = a;
        }
        if g.subscribed(topics) != g.subscribed_metadata {
            bump = true;
        }
        if bump {
            g.group_epoch += 1;
            g.assign(topics);
        }
        g.reconcile(&member_id, now);
        let m = g.members.get_mut(&member_id).expect("member present");
        // Send the assignment when it changed, on a (re)join, or when the member's view differs.
        let send = req.member_epoch == 0
            || m.last_sent.as_ref() != Some(&m.assigned)
            || req.owned.as_ref().is_some_and(|o| *o != m.assigned);
        let assignment = if send { Some(m.assigned.clone()) } else { None };
        if send {
            m.last_sent = Some(m.assigned.clone());
        }
        Ok(HeartbeatResult { member_id, member_epoch: m.member_epoch, assignment })
    }

    /// Session expiry and revocation deadlines. Returns the members removed and the records
    /// that say so.
    pub fn tick(&mut self, topics: &TopicsView, now: i64) -> (Vec<(String, String)>, Vec<GroupRecord>) {
        let mut removed = Vec::new();
        let mut records = Vec::new();
        let session = self.session_timeout_ms;
        for g in self.groups.values_mut() {
            let dead: Vec<String> = g
                .members
                .values()
                .filter(|m| {
                    now - m.last_heartbeat_ms > session || m.revoke_deadline_ms.is_some_and(|d| now > d)
                })
                .map(|m| m.member_id.clone())
                .collect();
            if dead.is_empty() {
                continue;
            }
            let before = g.clone();
            for id in dead {
                g.members.remove(&id);
                g.target.remove(&id);
                removed.push((g.group_id.clone(), id));
            }
            g.group_epoch += 1;
            g.assign(topics);
            records.extend(records_between(&g.group_id, Some(&before), Some(g)));
        }
        (removed, records)
    }

    /// OffsetCommit / OffsetFetch validation for a member of a consumer group.
    pub fn validate_offset_access(
        &self,
        group: &str,
        member_id: &str,
        epoch: i32,
    ) -> Result<(), ConsumerGroupError> {
        let Some(g) = self.groups.get(group) else { return Ok(()) };
        let Some(m) = g.members.get(member_id) else {
            return Err(ConsumerGroupError::UnknownMemberId);
        };
        if epoch != m.member_epoch {
            return Err(ConsumerGroupError::StaleMemberEpoch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> TopicsView {
        let mut t = TopicsView::new();
        t.insert("orders".into(), (Uuid::from_u128(1), 4));
        t.insert("payments".into(), (Uuid::from_u128(2), 2));
        t.insert("__consumer_offsets".into(), (Uuid::from_u128(3), 50));
        t
    }

    fn hb(member: &str, epoch: i32, names: Option<&[&str]>, owned: Option<Assignment>) -> HeartbeatInput {
        HeartbeatInput {
            group_id: "cg".into(),
            member_id: member.into(),
            member_epoch: epoch,
            instance_id: None,
            rack_id: None,
            rebalance_timeout_ms: 30_000,
            subscribed_topic_names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
            subscribed_topic_regex: None,
            server_assignor: None,
            owned,
            client_id: "c".into(),
            client_host: "h".into(),
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(|s| s.len()).sum()
    }

    #[test]
    fn single_member_gets_everything() {
        let mut cg = ConsumerGroups::new(45_000, 100);
        let r = cg
            .heartbeat(hb("a", 0, Some(&["orders", "payments"]), Some(Assignment::new())), &topics(), 0)
            .unwrap();
        assert_eq!(r.member_epoch, 1);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 6);
    }

    #[test]
    fn second_member_gets_partitions_only_after_revocation() {
        let mut cg = ConsumerGroups::new(45_000, 100);
        let t = topics();
        let a1 = cg.heartbeat(hb("a", 0, Some(&["orders"]), Some(Assignment::new())), &t, 0).unwrap();
        let a_owned = a1.assignment.clone().unwrap();
        assert_eq!(count(&a_owned), 4);
        // b joins: the group epoch moves, but a still holds everything, so b gets nothing yet.
        let b1 = cg.heartbeat(hb("b", 0, Some(&["orders"]), Some(Assignment::new())), &t, 1).unwrap();
        assert_eq!(count(b1.assignment.as_ref().unwrap()), 0);
        // a's next heartbeat asks it to give up two partitions, keeping its epoch.
        let a2 = cg.heartbeat(hb("a", a1.member_epoch, None, Some(a_owned.clone())), &t, 2).unwrap();
        assert_eq!(count(a2.assignment.as_ref().unwrap()), 2);
        assert_eq!(a2.member_epoch, a1.member_epoch, "epoch moves only after the revocation");
        // b still gets nothing while a has not confirmed.
        let b2 = cg.heartbeat(hb("b", b1.member_epoch, None, Some(Assignment::new())), &t, 3).unwrap();
        assert!(b2.assignment.is_none(), "unchanged (empty) assignment is not resent");
        // a confirms (reports only what it kept): it reaches the new epoch.
        let a3 = cg.heartbeat(hb("a", a2.member_epoch, None, a2.assignment.clone()), &t, 4).unwrap();
        assert_eq!(a3.member_epoch, 2);
        // Now b gets the two freed partitions.
        let b3 = cg.heartbeat(hb("b", b2.member_epoch, None, Some(Assignment::new())), &t, 5).unwrap();
        assert_eq!(count(b3.assignment.as_ref().unwrap()), 2);
        assert_eq!(b3.member_epoch, 2);
        let a = a3.assignment.or(a2.assignment).unwrap();
        let b = b3.assignment.unwrap();
        assert_eq!(count(&a), 2);
        for (t, ps) in &a {
            assert!(b.get(t).is_none_or(|bs| bs.is_disjoint(ps)), "no partition owned twice");
        }
        assert_eq!(cg.groups["cg"].state_name(), "Stable");
    }

    #[test]
    fn fencing_and_unknown_members() {
        let mut cg = ConsumerGroups::new(45_000, 100);
        let t = topics();
        let r = cg.heartbeat(hb("a", 0, Some(&["orders"]), Some(Assignment::new())), &t, 0).unwrap();
        assert_eq!(
            cg.heartbeat(hb("a", r.member_epoch + 5, None, None), &t, 1),
            Err(ConsumerGroupError::FencedMemberEpoch)
        );
        assert_eq!(cg.heartbeat(hb("zz", 3, None, None), &t, 1), Err(ConsumerGroupError::UnknownMemberId));
        assert_eq!(
            cg.validate_offset_access("cg", "a", r.member_epoch - 1),
            Err(ConsumerGroupError::StaleMemberEpoch)
        );
        assert_eq!(cg.validate_offset_access("cg", "a", r.member_epoch), Ok(()));
    }

    #[test]
    fn session_expiry_and_leave_rebalance() {
        let mut cg = ConsumerGroups::new(45_000, 100);
        let t = topics();
        let a = cg.heartbeat(hb("a", 0, Some(&["orders"]), Some(Assignment::new())), &t, 0).unwrap();
        cg.heartbeat(hb("b", 0, Some(&["orders"]), Some(Assignment::new())), &t, 0).unwrap();
        // b goes silent; a keeps heartbeating.
        cg.heartbeat(hb("a", a.member_epoch, None, a.assignment.clone()), &t, 40_000).unwrap();
        let (removed, recs) = cg.tick(&t, 45_001);
        assert_eq!(removed, vec![("cg".to_string(), "b".to_string())]);
        let tombstone = |r: &GroupRecord| matches!(r, GroupRecord::Consumer(ConsumerRecord::Member { member, value: None, .. }) if member == "b");
        assert!(recs.iter().any(tombstone), "{recs:?}");
        let a2 = cg.heartbeat(hb("a", a.member_epoch, None, a.assignment.clone()), &t, 45_002);
        let a2 = a2.unwrap();
        assert!(a2.assignment.is_some(), "the assignment changed, so it is sent");
        assert_eq!(count(a2.assignment.as_ref().unwrap()), 4);
        // Leave.
        let l = cg.heartbeat(hb("a", -1, None, None), &t, 45_003).unwrap();
        assert_eq!(l.member_epoch, -1);
        assert!(!cg.has_members("cg"));
    }

    #[test]
    fn regex_and_range_assignor() {
        let mut cg = ConsumerGroups::new(45_000, 100);
        let t = topics();
        let mut h = hb("a", 0, None, Some(Assignment::new()));
        h.subscribed_topic_regex = Some("ord.*|pay.*".into());
        h.server_assignor = Some("range".into());
        let r = cg.heartbeat(h, &t, 0).unwrap();
        assert_eq!(count(r.assignment.as_ref().unwrap()), 6, "internal topics never match a regex");
        let mut bad = hb("b", 0, Some(&["orders"]), None);
        bad.server_assignor = Some("sticky".into());
        assert_eq!(cg.heartbeat(bad, &t, 0), Err(ConsumerGroupError::UnsupportedAssignor));
    }

    #[test]
    fn new_partitions_bump_the_epoch() {
        let mut cg = ConsumerGroups::new(45_000, 100);
        let mut t = topics();
        let r = cg.heartbeat(hb("a", 0, Some(&["payments"]), Some(Assignment::new())), &t, 0).unwrap();
        assert_eq!(count(r.assignment.as_ref().unwrap()), 2);
        t.insert("payments".into(), (Uuid::from_u128(2), 5));
        let r2 = cg.heartbeat(hb("a", r.member_epoch, None, r.assignment.clone()), &t, 1).unwrap();
        assert_eq!(r2.member_epoch, r.member_epoch + 1);
        assert_eq!(count(r2.assignment.as_ref().unwrap()), 5);
    }

    /// What the records say of a group, and what the live group says: the same after a reload.
    fn persisted(g: &ConsumerGroups) -> Vec<String> {
        let mut out: Vec<String> = g
            .groups
            .values()
            .map(|x| {
                let members: Vec<_> =
                    x.members.values().map(|m| (m.stored(), m.current(x.target.get(&m.member_id)))).collect();
                let mut target: Vec<_> = x.target.iter().collect();
                target.sort();
                format!("{} {} {} {members:?} {target:?}", x.group_id, x.group_epoch, x.assignment_epoch)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn the_records_rebuild_every_group_after_a_restart() {
        let t = topics();
        let mut live = ConsumerGroups::new(45_000, 100);
        let mut log: Vec<GroupRecord> = Vec::new();
        let mut epochs: HashMap<String, (i32, Option<Assignment>)> = HashMap::new();
        let mut seed = 7u64;
        for step in 0..400i64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let who = format!("m{}", (seed >> 33) % 4);
            let group = if (seed >> 40).is_multiple_of(3) { "cg2" } else { "cg" };
            let (epoch, owned) = epochs.get(&who).cloned().unwrap_or((0, Some(Assignment::new())));
            let mut input = hb(&who, epoch, Some(&["orders", "payments"]), owned);
            input.group_id = group.into();
            if (seed >> 50).is_multiple_of(17) {
                input.member_epoch = -1;
            }
            let before = live.groups.get(group).cloned();
            match live.heartbeat(input, &t, step * 100) {
                Ok(r) => {
                    log.extend(records_between(group, before.as_ref(), live.groups.get(group)));
                    if r.member_epoch < 0 {
                        epochs.remove(&who);
                    } else {
                        let owned = r.assignment.or(epochs.get(&who).and_then(|e| e.1.clone()));
                        epochs.insert(who.clone(), (r.member_epoch, owned));
                    }
                }
                Err(_) => {
                    live.restore(group, before);
                    epochs.remove(&who);
                }
            }
            if step % 50 == 49 {
                let mut reloaded = ConsumerGroups::new(45_000, 100);
                for r in &log {
                    let GroupRecord::Consumer(c) = r else { panic!("{r:?}") };
                    // Through the bytes, as a restart reads them.
                    let (k, v) = r.encode();
                    assert_eq!(GroupRecord::decode(&k, v.as_deref()).as_ref(), Some(r));
                    reloaded.replay(c);
                }
                let n = reloaded.loaded(&t, step * 100);
                assert_eq!(n, live.groups.values().map(|g| g.members.len()).sum::<usize>());
                assert!(!persisted(&live).is_empty());
                assert_eq!(persisted(&reloaded), persisted(&live), "after step {step}");
            }
        }
    }
}
