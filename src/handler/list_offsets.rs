//! ListOffsets (earliest, latest, by timestamp, max timestamp) and OffsetForLeaderEpoch.
use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};

use crate::log::partition::LeaderCheck;
use crate::protocol::error::code;
use crate::protocol::error::leader_error;
use crate::state::BrokerState;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;

pub async fn handle(
    state: &Arc<BrokerState>,
    req: ListOffsetsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics.iter().cloned() {
        let topic = state.logs.topic(&t.name.0);
        let denied =
            !who.may(crate::security::acl::op::DESCRIBE, crate::security::acl::resource::TOPIC, &t.name.0);
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let mut r = ListOffsetsPartitionResponse::default().with_partition_index(rp.partition_index);
            if denied {
                parts.push(
                    r.with_error_code(code::TOPIC_AUTHORIZATION_FAILED).with_offset(-1).with_timestamp(-1),
                );
                continue;
            }
            let Some(p) = topic.as_ref().and_then(|x| x.partition(rp.partition_index)) else {
                parts.push(
                    r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION).with_offset(-1).with_timestamp(-1),
                );
                continue;
            };
            let lead = p.check_leader(rp.current_leader_epoch);
            if lead != LeaderCheck::Ok {
                parts.push(r.with_error_code(leader_error(lead)).with_offset(-1).with_timestamp(-1));
                continue;
            }
            let found: std::io::Result<Option<(i64, i64)>> = match rp.timestamp {
                // read_committed consumers see up to the last stable offset.
                LATEST if v >= 2 && req.isolation_level == 1 => Ok(Some((p.last_stable_offset(), -1))),
                LATEST => Ok(Some((p.high_watermark(), -1))),
                EARLIEST | EARLIEST_LOCAL => Ok(Some((p.log_start_offset(), -1))),
                // No tiered storage: nothing is uploaded or pending upload.
                LATEST_TIERED | EARLIEST_PENDING_UPLOAD => Ok(None),
                MAX_TIMESTAMP => p.with_log(|l| l.max_timestamp_offset()),
                ts if ts >= 0 => p.with_log(|l| l.offset_for_timestamp(ts)),
                _ => {
                    parts.push(r.with_error_code(code::INVALID_REQUEST).with_offset(-1).with_timestamp(-1));
                    continue;
                }
            };
            match found {
                Ok(Some((offset, ts))) => {
                    r.offset = offset;
                    r.timestamp = ts;
                    if v >= 4 {
                        r.leader_epoch = p.lead().epoch;
                    }
                }
                Ok(None) => {
                    r.offset = -1;
                    r.timestamp = -1;
                }
                Err(e) => {
                    state.logs.fail_storage(&e);
                    r.error_code = code::KAFKA_STORAGE_ERROR;
                    r.offset = -1;
                    r.timestamp = -1;
                }
            }
            parts.push(r);
        }
        topics.push(ListOffsetsTopicResponse::default().with_name(t.name).with_partitions(parts));
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// One node, one leader epoch (0) starting at the log start: epoch 0 ends at the log end offset.
pub async fn handle_leader_epoch(
    state: &Arc<BrokerState>,
    req: OffsetForLeaderEpochRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> OffsetForLeaderEpochResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = state.logs.topic(&t.topic.0);
        let denied =
            !who.may(crate::security::acl::op::DESCRIBE, crate::security::acl::resource::TOPIC, &t.topic.0);
        let parts = t
            .partitions
            .into_iter()
            .map(|rp| {
                let r = EpochEndOffset::default().with_partition(rp.partition);
                if denied {
                    return r
                        .with_error_code(code::TOPIC_AUTHORIZATION_FAILED)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                }
                match topic.as_ref().and_then(|x| x.partition(rp.partition)) {
                    None => r
                        .with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1),
                    Some(p) if p.check_leader(rp.current_leader_epoch) != LeaderCheck::Ok => r
                        .with_error_code(leader_error(p.check_leader(rp.current_leader_epoch)))
                        .with_leader_epoch(-1)
                        .with_end_offset(-1),
                    Some(p) => match (rp.leader_epoch >= 0).then(|| p.epoch_end(rp.leader_epoch)).flatten() {
                        Some((epoch, end)) => r.with_leader_epoch(epoch).with_end_offset(end),
                        None => r.with_leader_epoch(-1).with_end_offset(-1),
                    },
                }
            })
            .collect();
        topics.push(OffsetForLeaderTopicResult::default().with_topic(t.topic).with_partitions(parts));
    }
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
