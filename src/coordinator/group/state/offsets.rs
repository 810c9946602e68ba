//! The offset store of the group coordinator (Kafka's offset manager, beside the group manager
//! in `mod.rs`): OffsetCommit and TxnOffsetCommit validation and records, transactional offsets
//! pending until their marker, OffsetFetch, OffsetDelete. Pure, like the rest of the state
//! machine; committed offsets change only through `replay`.
use super::*;

impl Groups {
    /// TxnOffsetCommit: validated like OffsetCommit, except that a producer without group
    /// membership (generation -1) may always commit; the records stay pending until the marker.
    pub fn txn_commit_offsets(
        &mut self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        offsets: Vec<OffsetInput>,
        now: i64,
    ) -> (Vec<(String, i32, Option<GroupError>)>, Outcome) {
        if generation < 0 && !group_id.is_empty() {
            let mut out = Outcome::default();
            let res = self.offset_records(group_id, offsets, now, &mut out);
            return (res, out);
        }
        self.commit_offsets(group_id, generation, member_id, instance_id, offsets, now)
    }

    /// Records written in producer `pid`'s transaction, applied when it commits.
    pub fn add_pending(&mut self, pid: i64, records: Vec<GroupRecord>) {
        self.pending_txn.entry(pid).or_default().extend(records);
    }

    /// A COMMIT or ABORT marker for `pid` reached `__consumer_offsets`.
    pub fn complete_txn(&mut self, pid: i64, commit: bool, now: i64) {
        if let Some(recs) = self.pending_txn.remove(&pid) {
            if commit {
                for r in &recs {
                    self.replay(r, false, now);
                }
            }
        }
    }

    /// Whether a transaction holds uncommitted offsets for the group (require_stable).
    pub fn has_pending(&self, group_id: &str) -> bool {
        self.pending_txn.values().any(|rs| rs.iter().any(|r| r.group() == group_id))
    }

    /// OffsetCommit: per partition, the error (None = committed once the records are written).
    pub fn commit_offsets(
        &mut self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        offsets: Vec<OffsetInput>,
        now: i64,
    ) -> (Vec<(String, i32, Option<GroupError>)>, Outcome) {
        let mut out = Outcome::default();
        let all = |e: Option<GroupError>, offsets: &[OffsetInput]| {
            offsets.iter().map(|(t, p, ..)| (t.clone(), *p, e)).collect::<Vec<_>>()
        };
        if group_id.is_empty() {
            return (all(Some(GroupError::InvalidGroupId), &offsets), out);
        }
        let consumer_check = if self.consumer.has_members(group_id) {
            Some(self.consumer.validate_offset_access(group_id, member_id, generation).map_err(|e| match e {
                crate::coordinator::group::consumer::ConsumerGroupError::StaleMemberEpoch => {
                    GroupError::StaleMemberEpoch
                }
                _ => GroupError::UnknownMemberId,
            }))
        } else {
            None
        };
        let check = match self.groups.get(group_id) {
            _ if consumer_check.is_some() => consumer_check.unwrap_or(Ok(())),
            None if generation < 0 => Ok(()),
            None => Err(GroupError::IllegalGeneration),
            Some(g) if generation < 0 && g.state == GroupState::Empty => Ok(()),
            Some(g) if g.state == GroupState::Dead => Err(GroupError::CoordinatorNotAvailable),
            Some(g) if g.state == GroupState::CompletingRebalance => Err(GroupError::RebalanceInProgress),
            Some(g) => Self::validate_member(g, member_id, instance_id, generation),
        };
        if let Err(e) = check {
            return (all(Some(e), &offsets), out);
        }
        let g = self.groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, now));
        if let Some(m) = g.member_mut(member_id) {
            m.last_heartbeat_ms = now;
        }
        let results = self.offset_records(group_id, offsets, now, &mut out);
        (results, out)
    }

    /// The OffsetCommit records for validated offsets (metadata size checked per partition).
    fn offset_records(
        &self,
        group_id: &str,
        offsets: Vec<OffsetInput>,
        now: i64,
        out: &mut Outcome,
    ) -> Vec<(String, i32, Option<GroupError>)> {
        let mut results = Vec::with_capacity(offsets.len());
        for (t, p, offset, epoch, md) in offsets {
            let md = md.unwrap_or_default();
            if md.len() > self.config.offset_metadata_max_bytes {
                results.push((t, p, Some(GroupError::OffsetMetadataTooLarge)));
                continue;
            }
            out.records.push(GroupRecord::Offset {
                group: group_id.to_string(),
                topic: t.clone(),
                partition: p,
                value: Some(CommittedOffset {
                    offset,
                    leader_epoch: epoch,
                    metadata: md,
                    commit_timestamp: now,
                }),
            });
            results.push((t, p, None));
        }
        results
    }

    /// Committed offsets of a group: for the asked partitions, or all of them.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Vec<(String, i32, Option<CommittedOffset>)> {
        let g = self.groups.get(group_id);
        match partitions {
            Some(ps) => ps
                .iter()
                .map(|(t, p)| (t.clone(), *p, g.and_then(|g| g.offsets.get(&(t.clone(), *p)).cloned())))
                .collect(),
            None => g
                .map(|g| g.offsets.iter().map(|((t, p), c)| (t.clone(), *p, Some(c.clone()))).collect())
                .unwrap_or_default(),
        }
    }

    /// OffsetDelete: refused for topics the group's consumers are subscribed to.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
        subscribed: &HashSet<String>,
    ) -> Result<(Vec<(String, i32, Option<GroupError>)>, Outcome), GroupError> {
        let g = self.groups.get(group_id).ok_or(GroupError::GroupIdNotFound)?;
        if g.state == GroupState::Dead {
            return Err(GroupError::GroupIdNotFound);
        }
        let mut out = Outcome::default();
        let mut res = Vec::new();
        for (t, p) in partitions {
            if subscribed.contains(t) && g.state != GroupState::Empty {
                res.push((t.clone(), *p, Some(GroupError::GroupSubscribedToTopic)));
                continue;
            }
            if g.offsets.contains_key(&(t.clone(), *p)) {
                out.records.push(GroupRecord::Offset {
                    group: group_id.to_string(),
                    topic: t.clone(),
                    partition: *p,
                    value: None,
                });
            }
            res.push((t.clone(), *p, None));
        }
        Ok((res, out))
    }
}
