//! KIP-848 consumer groups in `__consumer_offsets`, in Kafka's record schemas, so a group's
//! members, epochs and assignments survive a restart and members keep heartbeating without
//! rejoining.
//!
//! Keys (non-flexible: type i16, then strings with an i16 length):
//! ```text
//! 3 ConsumerGroupMetadataKey            group
//! 5 ConsumerGroupMemberMetadataKey      group, member
//! 6 ConsumerGroupTargetAssignmentMetadataKey  group
//! 7 ConsumerGroupTargetAssignmentMemberKey    group, member
//! 8 ConsumerGroupCurrentMemberAssignmentKey   group, member
//! ```
//! Values (version i16 = 0, then flexible: compact strings and arrays, an empty tagged-field
//! section closing each struct):
//! ```text
//! 3 epoch i32
//! 5 instance_id ?str, rack_id ?str, client_id str, client_host str, subscribed_topic_names [str],
//!   subscribed_topic_regex ?str, rebalance_timeout_ms i32, server_assignor ?str
//!   (classic_member_metadata is tagged field 0, null here, so not written)
//! 6 assignment_epoch i32
//! 7 topic_partitions [ {topic_id uuid, partitions [i32]} ]
//! 8 member_epoch i32, previous_member_epoch i32, state i8, assigned_partitions [..],
//!   partitions_pending_revocation [..]
//! ```
//! Kafka's `ConsumerGroupPartitionMetadata` (key 4) is not written: the subscribed topics'
//! metadata is taken from the live topics when the group is loaded.
//! A null value is a tombstone. A member leaving writes tombstones for its current assignment,
//! its target and its metadata, then the new group epoch; a deleted group, every member's current
//! assignment, every target, the target epoch, every member's metadata, then the group epoch, in
//! Kafka's order. Tagged fields newer Kafka versions add (MetadataHash, AssignmentTimestamp,
//! AssignmentEpochs) are skipped on read and not written.
use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::consumer::Assignment;

/// A member's subscription and identity (key 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConsumerMember {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
}

/// A member's current assignment (key 8). `state` is Kafka's MemberState: 0 stable,
/// 1 unrevoked partitions, 2 unreleased partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAssignment {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: i8,
    pub assigned: Assignment,
    pub revoking: Assignment,
}

/// One KIP-848 record (`None` values are tombstones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerRecord {
    GroupEpoch { group: String, epoch: Option<i32> },
    Member { group: String, member: String, value: Option<StoredConsumerMember> },
    TargetEpoch { group: String, epoch: Option<i32> },
    Target { group: String, member: String, value: Option<Assignment> },
    Current { group: String, member: String, value: Option<StoredAssignment> },
}

impl ConsumerRecord {
    pub fn group(&self) -> &str {
        match self {
            ConsumerRecord::GroupEpoch { group, .. }
            | ConsumerRecord::Member { group, .. }
            | ConsumerRecord::TargetEpoch { group, .. }
            | ConsumerRecord::Target { group, .. }
            | ConsumerRecord::Current { group, .. } => group,
        }
    }

    pub fn encode(&self) -> (Bytes, Option<Bytes>) {
        let mut k = BytesMut::new();
        let value = |f: &dyn Fn(&mut BytesMut)| {
            let mut v = BytesMut::new();
            v.put_i16(0);
            f(&mut v);
            v.put_u8(0); // no tagged fields
            v.freeze()
        };
        let v = match self {
            ConsumerRecord::GroupEpoch { group, epoch } => {
                key(&mut k, 3, group, None);
                epoch.map(|e| value(&|v| v.put_i32(e)))
            }
            ConsumerRecord::Member { group, member, value: m } => {
                key(&mut k, 5, group, Some(member));
                m.as_ref().map(|m| {
                    value(&|v| {
                        put_cnstr(v, m.instance_id.as_deref());
                        put_cnstr(v, m.rack_id.as_deref());
                        put_cnstr(v, Some(&m.client_id));
                        put_cnstr(v, Some(&m.client_host));
                        put_uvarint(v, m.subscribed_topic_names.len() as u32 + 1);
                        for t in &m.subscribed_topic_names {
                            put_cnstr(v, Some(t));
                        }
                        put_cnstr(v, m.subscribed_topic_regex.as_deref());
                        v.put_i32(m.rebalance_timeout_ms);
                        put_cnstr(v, m.server_assignor.as_deref());
                        // classic_member_metadata is a tagged field (tag 0), null: not written.
                    })
                })
            }
            ConsumerRecord::TargetEpoch { group, epoch } => {
                key(&mut k, 6, group, None);
                epoch.map(|e| value(&|v| v.put_i32(e)))
            }
            ConsumerRecord::Target { group, member, value: a } => {
                key(&mut k, 7, group, Some(member));
                a.as_ref().map(|a| value(&|v| put_assignment(v, a)))
            }
            ConsumerRecord::Current { group, member, value: c } => {
                key(&mut k, 8, group, Some(member));
                c.as_ref().map(|c| {
                    value(&|v| {
                        v.put_i32(c.member_epoch);
                        v.put_i32(c.previous_member_epoch);
                        v.put_i8(c.state);
                        put_assignment(v, &c.assigned);
                        put_assignment(v, &c.revoking);
                    })
                })
            }
        };
        (k.freeze(), v)
    }

    /// Decodes key types 3, 5, 6, 7 and 8 (`None` for anything else or a malformed record).
    pub fn decode(key_type: i16, key: &mut Cursor, value: Option<&[u8]>) -> Option<ConsumerRecord> {
        let group = key.str()?;
        let member = if matches!(key_type, 5 | 7 | 8) { Some(key.str()?) } else { None };
        let mut v = value.map(|b| Cursor { b, at: 0 });
        if let Some(v) = v.as_mut() {
            v.i16()?; // version 0 and later: the fields read here are in every version
        }
        Some(match key_type {
            3 => ConsumerRecord::GroupEpoch {
                group,
                epoch: match v {
                    None => None,
                    Some(mut v) => Some(v.i32()?),
                },
            },
            6 => ConsumerRecord::TargetEpoch {
                group,
                epoch: match v {
                    None => None,
                    Some(mut v) => Some(v.i32()?),
                },
            },
            5 => ConsumerRecord::Member {
                group,
                member: member?,
                value: match v {
                    None => None,
                    Some(mut v) => Some(StoredConsumerMember {
                        instance_id: v.cnstr()?,
                        rack_id: v.cnstr()?,
                        client_id: v.cnstr()?.unwrap_or_default(),
                        client_host: v.cnstr()?.unwrap_or_default(),
                        subscribed_topic_names: {
                            let n = v.count()?;
                            let mut names = Vec::new();
                            for _ in 0..n {
                                names.push(v.cnstr()?.unwrap_or_default());
                            }
                            names
                        },
                        subscribed_topic_regex: v.cnstr()?,
                        rebalance_timeout_ms: v.i32()?,
                        server_assignor: v.cnstr()?,
                    }),
                },
            },
            7 => ConsumerRecord::Target {
                group,
                member: member?,
                value: match v {
                    None => None,
                    Some(mut v) => Some(v.assignment()?),
                },
            },
            8 => ConsumerRecord::Current {
                group,
                member: member?,
                value: match v {
                    None => None,
                    Some(mut v) => Some(StoredAssignment {
                        member_epoch: v.i32()?,
                        previous_member_epoch: v.i32()?,
                        state: v.take(1)?[0] as i8,
                        assigned: v.assignment()?,
                        revoking: v.assignment()?,
                    }),
                },
            },
            _ => return None,
        })
    }
}

fn key(k: &mut BytesMut, key_type: i16, group: &str, member: Option<&str>) {
    k.put_i16(key_type);
    put_str(k, group);
    if let Some(m) = member {
        put_str(k, m);
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    let n = s.len().min(i16::MAX as usize);
    b.put_i16(n as i16);
    b.put_slice(&s.as_bytes()[..n]);
}

fn put_uvarint(b: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn put_cnstr(b: &mut BytesMut, s: Option<&str>) {
    match s {
        None => b.put_u8(0),
        Some(s) => {
            put_uvarint(b, s.len() as u32 + 1);
            b.put_slice(s.as_bytes());
        }
    }
}

fn put_assignment(b: &mut BytesMut, a: &Assignment) {
    let topics: Vec<_> = a.iter().filter(|(_, ps)| !ps.is_empty()).collect();
    put_uvarint(b, topics.len() as u32 + 1);
    for (id, ps) in topics {
        b.put_slice(id.as_bytes());
        put_uvarint(b, ps.len() as u32 + 1);
        for p in ps {
            b.put_i32(*p);
        }
        b.put_u8(0);
    }
}

/// Reads the big-endian and varint fields of a record.
pub struct Cursor<'a> {
    pub b: &'a [u8],
    pub at: usize,
}

impl Cursor<'_> {
    pub fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    pub fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    pub fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    /// An i16-length string (`None` inside for null).
    pub fn nstr(&mut self) -> Option<Option<String>> {
        let n = self.i16()?;
        if n < 0 {
            return Some(None);
        }
        Some(Some(String::from_utf8(self.take(n as usize)?.to_vec()).ok()?))
    }
    pub fn str(&mut self) -> Option<String> {
        self.nstr()?.or(Some(String::new()))
    }
    pub fn bytes(&mut self) -> Option<Bytes> {
        let n = self.i32()?;
        if n < 0 {
            return Some(Bytes::new());
        }
        Some(Bytes::copy_from_slice(self.take(n as usize)?))
    }
    fn uvarint(&mut self) -> Option<u32> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            v |= ((b & 0x7f) as u32) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    /// A compact array's element count (null reads as empty); bounded by the bytes left.
    fn count(&mut self) -> Option<usize> {
        let n = self.uvarint()?.saturating_sub(1) as usize;
        (n <= self.b.len() - self.at).then_some(n)
    }
    fn cnstr(&mut self) -> Option<Option<String>> {
        let n = self.uvarint()?;
        if n == 0 {
            return Some(None);
        }
        Some(Some(String::from_utf8(self.take(n as usize - 1)?.to_vec()).ok()?))
    }
    /// Skips a tagged-field section.
    fn tags(&mut self) -> Option<()> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?;
            let n = self.uvarint()? as usize;
            self.take(n)?;
        }
        Some(())
    }
    fn assignment(&mut self) -> Option<Assignment> {
        let mut a = Assignment::new();
        for _ in 0..self.count()? {
            let id = Uuid::from_slice(self.take(16)?).ok()?;
            let e = a.entry(id).or_default();
            for _ in 0..self.count()? {
                e.insert(self.i32()?);
            }
            self.tags()?;
        }
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asg(pairs: &[(u128, &[i32])]) -> Assignment {
        pairs.iter().map(|(t, ps)| (Uuid::from_u128(*t), ps.iter().copied().collect())).collect()
    }

    #[test]
    fn every_record_round_trips() {
        let recs = vec![
            ConsumerRecord::GroupEpoch { group: "g".into(), epoch: Some(7) },
            ConsumerRecord::GroupEpoch { group: "g".into(), epoch: None },
            ConsumerRecord::TargetEpoch { group: "g".into(), epoch: Some(6) },
            ConsumerRecord::Member {
                group: "g".into(),
                member: "m1".into(),
                value: Some(StoredConsumerMember {
                    instance_id: Some("i".into()),
                    rack_id: None,
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    subscribed_topic_names: vec!["a".into(), "b".into()],
                    subscribed_topic_regex: Some("x.*".into()),
                    rebalance_timeout_ms: 300_000,
                    server_assignor: Some("uniform".into()),
                }),
            },
            ConsumerRecord::Member { group: "g".into(), member: "m1".into(), value: None },
            ConsumerRecord::Target {
                group: "g".into(),
                member: "m1".into(),
                value: Some(asg(&[(1, &[0, 2]), (2, &[1])])),
            },
            ConsumerRecord::Current {
                group: "g".into(),
                member: "m1".into(),
                value: Some(StoredAssignment {
                    member_epoch: 6,
                    previous_member_epoch: 5,
                    state: 1,
                    assigned: asg(&[(1, &[0])]),
                    revoking: asg(&[(2, &[3])]),
                }),
            },
        ];
        for r in recs {
            let (k, v) = r.encode();
            let mut c = Cursor { b: &k, at: 0 };
            let t = c.i16().unwrap();
            assert_eq!(ConsumerRecord::decode(t, &mut c, v.as_deref()), Some(r));
        }
    }

    #[test]
    fn a_lying_array_length_is_refused_before_allocation() {
        let r =
            ConsumerRecord::Target { group: "g".into(), member: "m".into(), value: Some(Assignment::new()) };
        let (k, _) = r.encode();
        let v = [0u8, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
        let mut c = Cursor { b: &k, at: 0 };
        let t = c.i16().unwrap();
        assert_eq!(ConsumerRecord::decode(t, &mut c, Some(&v)), None);
    }
}
