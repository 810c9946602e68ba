//! The records the group coordinator writes to `__consumer_offsets`, in Kafka's own key and value
//! schemas, so tools that read that topic (lag monitors) understand them.
//!
//! Keys (big-endian, Kafka's non-flexible versions):
//! ```text
//! OffsetCommitKey   v1: version i16 = 1, group string, topic string, partition i32
//! GroupMetadataKey  v2: version i16 = 2, group string
//! ```
//! Values:
//! ```text
//! OffsetCommitValue  v3: version i16 = 3, offset i64, leader_epoch i32, metadata string,
//!                        commit_timestamp i64
//! GroupMetadataValue v3: version i16 = 3, protocol_type string, generation i32,
//!                        protocol nullable string, leader nullable string,
//!                        current_state_timestamp i64,
//!                        members [i32 count] x { member_id string, group_instance_id nullable
//!                        string, client_id string, client_host string, rebalance_timeout i32,
//!                        session_timeout i32, subscription bytes, assignment bytes }
//! ```
//! KIP-848 consumer groups use key types 3 and 5 to 8 (see `consumer_records.rs`).
//! string = i16 length + UTF-8 (-1 = null); bytes = i32 length + bytes. A null value is a
//! tombstone (offset deleted, group deleted). The records are compacted by key.
use bytes::{BufMut, Bytes, BytesMut};

pub use super::consumer_records::ConsumerRecord;
use super::consumer_records::Cursor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub state_timestamp: i64,
    pub members: Vec<StoredMember>,
}

/// One record of `__consumer_offsets`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRecord {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        value: Option<CommittedOffset>,
    },
    Group {
        group: String,
        value: Option<StoredGroup>,
    },
    /// A KIP-848 consumer group's epoch, members and assignments (`consumer_records.rs`).
    Consumer(ConsumerRecord),
}

impl GroupRecord {
    pub fn group(&self) -> &str {
        match self {
            GroupRecord::Offset { group, .. } | GroupRecord::Group { group, .. } => group,
            GroupRecord::Consumer(c) => c.group(),
        }
    }

    pub fn encode(&self) -> (Bytes, Option<Bytes>) {
        let mut k = BytesMut::new();
        match self {
            GroupRecord::Consumer(c) => c.encode(),
            GroupRecord::Offset { group, topic, partition, value } => {
                k.put_i16(1);
                put_str(&mut k, group);
                put_str(&mut k, topic);
                k.put_i32(*partition);
                let v = value.as_ref().map(|c| {
                    let mut v = BytesMut::new();
                    v.put_i16(3);
                    v.put_i64(c.offset);
                    v.put_i32(c.leader_epoch);
                    put_str(&mut v, &c.metadata);
                    v.put_i64(c.commit_timestamp);
                    v.freeze()
                });
                (k.freeze(), v)
            }
            GroupRecord::Group { group, value } => {
                k.put_i16(2);
                put_str(&mut k, group);
                let v = value.as_ref().map(|g| {
                    let mut v = BytesMut::new();
                    v.put_i16(3);
                    put_str(&mut v, &g.protocol_type);
                    v.put_i32(g.generation);
                    put_nstr(&mut v, g.protocol.as_deref());
                    put_nstr(&mut v, g.leader.as_deref());
                    v.put_i64(g.state_timestamp);
                    v.put_i32(g.members.len() as i32);
                    for m in &g.members {
                        put_str(&mut v, &m.member_id);
                        put_nstr(&mut v, m.instance_id.as_deref());
                        put_str(&mut v, &m.client_id);
                        put_str(&mut v, &m.client_host);
                        v.put_i32(m.rebalance_timeout_ms);
                        v.put_i32(m.session_timeout_ms);
                        v.put_i32(m.subscription.len() as i32);
                        v.put_slice(&m.subscription);
                        v.put_i32(m.assignment.len() as i32);
                        v.put_slice(&m.assignment);
                    }
                    v.freeze()
                });
                (k.freeze(), v)
            }
        }
    }

    /// Decodes a record; `None` for keys of other versions (e.g. records of a newer coordinator),
    /// which are skipped.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<GroupRecord> {
        let mut k = Cursor { b: key, at: 0 };
        match k.i16()? {
            t @ (3 | 5 | 6 | 7 | 8) => ConsumerRecord::decode(t, &mut k, value).map(GroupRecord::Consumer),
            0 | 1 => {
                let group = k.str()?;
                let topic = k.str()?;
                let partition = k.i32()?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let mut c = Cursor { b: v, at: 0 };
                        let ver = c.i16()?;
                        let offset = c.i64()?;
                        let leader_epoch = if ver >= 3 { c.i32()? } else { -1 };
                        let metadata = c.str()?;
                        let commit_timestamp = c.i64()?;
                        Some(CommittedOffset { offset, leader_epoch, metadata, commit_timestamp })
                    }
                };
                Some(GroupRecord::Offset { group, topic, partition, value })
            }
            2 => {
                let group = k.str()?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let mut c = Cursor { b: v, at: 0 };
                        let ver = c.i16()?;
                        if ver != 3 {
                            return None;
                        }
                        let protocol_type = c.str()?;
                        let generation = c.i32()?;
                        let protocol = c.nstr()?;
                        let leader = c.nstr()?;
                        let state_timestamp = c.i64()?;
                        let n = c.i32()?;
                        let mut members = Vec::new();
                        for _ in 0..n.max(0) {
                            members.push(StoredMember {
                                member_id: c.str()?,
                                instance_id: c.nstr()?,
                                client_id: c.str()?,
                                client_host: c.str()?,
                                rebalance_timeout_ms: c.i32()?,
                                session_timeout_ms: c.i32()?,
                                subscription: c.bytes()?,
                                assignment: c.bytes()?,
                            });
                        }
                        Some(StoredGroup {
                            protocol_type,
                            generation,
                            protocol,
                            leader,
                            state_timestamp,
                            members,
                        })
                    }
                };
                Some(GroupRecord::Group { group, value })
            }
            _ => None,
        }
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len().min(i16::MAX as usize) as i16);
    b.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}
fn put_nstr(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

/// Kafka's partition for a group: `abs(groupId.hashCode()) % partitions` with Java's String hash.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for u in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(u as i32);
    }
    // Kafka's Utils.abs maps i32::MIN to 0.
    let a = if h == i32::MIN { 0 } else { h.abs() };
    a % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let recs = vec![
            GroupRecord::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 3,
                value: Some(CommittedOffset {
                    offset: 42,
                    leader_epoch: 0,
                    metadata: "m".into(),
                    commit_timestamp: 7,
                }),
            },
            GroupRecord::Offset { group: "g".into(), topic: "t".into(), partition: 3, value: None },
            GroupRecord::Group {
                group: "g".into(),
                value: Some(StoredGroup {
                    protocol_type: "consumer".into(),
                    generation: 5,
                    protocol: Some("range".into()),
                    leader: Some("m1".into()),
                    state_timestamp: 9,
                    members: vec![StoredMember {
                        member_id: "m1".into(),
                        instance_id: None,
                        client_id: "c".into(),
                        client_host: "/127.0.0.1".into(),
                        rebalance_timeout_ms: 1,
                        session_timeout_ms: 2,
                        subscription: Bytes::from_static(b"sub"),
                        assignment: Bytes::from_static(b"asg"),
                    }],
                }),
            },
            GroupRecord::Group { group: "g".into(), value: None },
        ];
        for r in recs {
            let (k, v) = r.encode();
            assert_eq!(GroupRecord::decode(&k, v.as_deref()), Some(r));
        }
        assert_eq!(GroupRecord::decode(&[0, 9], None), None);
        assert_eq!(GroupRecord::decode(&[0, 1, 0, 5, b'a'], None), None, "truncated");
    }

    #[test]
    fn partition_matches_java_string_hash() {
        // "my-group".hashCode() == -1906497762 in Java; abs % 50 == 12.
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(partition_for("", 50), 0);
    }
}
