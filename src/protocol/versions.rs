//! The ONE table of APIs and versions Odradek serves, and the ApiVersions answer built from it.
//!
//! An API appears here only when its handler implements every version listed. Minimums follow
//! Kafka 4.x (which dropped the oldest versions); maximums are the newest the kafka-protocol crate
//! encodes, unless a comment says why not. A test checks each range against the message's own
//! `VERSIONS`, because `ApiKey::valid_versions()` over-reports some keys.
use kafka_protocol::messages::ApiKey;

/// (api, (min, max)).
pub const SERVED: &[(ApiKey, (i16, i16))] = &[
    // v3 is Kafka 4's floor; v13 (KIP-516) addresses topics by id.
    (ApiKey::Produce, (3, 13)),
    // v4 is Kafka 4's floor; v13+ use topic ids; v18 only adds a follower-only field.
    (ApiKey::Fetch, (4, 18)),
    // v1 floor; v9+ timestamps -4/-5 (tiered storage) answered as a broker without remote storage.
    (ApiKey::ListOffsets, (1, 10)),
    // Every version: old kcat/librdkafka start at low versions; v13 only adds a top-level error.
    (ApiKey::Metadata, (0, 13)),
    // A single node with one leader epoch (0): answers are exact.
    (ApiKey::OffsetForLeaderEpoch, (2, 4)),
    // v0-5: idempotent producers. v6 (KIP-939 two-phase commit) is not served.
    (ApiKey::InitProducerId, (0, 5)),
    (ApiKey::ApiVersions, (0, 4)),
    (ApiKey::CreateTopics, (2, 7)),
    (ApiKey::DeleteTopics, (1, 6)),
    (ApiKey::DeleteRecords, (0, 2)),
    (ApiKey::DescribeConfigs, (1, 4)),
    (ApiKey::CreatePartitions, (0, 3)),
    (ApiKey::DescribeCluster, (0, 2)),
    // Transactions: version 1, and version 2 (KIP-890, finalized as the `transaction.version`
    // feature in ApiVersions): EndTxn v5 bumps the epoch, TxnOffsetCommit v5 and Produce v12+
    // enroll their partitions. AddPartitionsToTxn v4+ is the batched form partition leaders send
    // (with verify_only); WriteTxnMarkers is how `kafka-transactions.sh abort` ends a hanging one.
    (ApiKey::AddPartitionsToTxn, (0, 5)),
    (ApiKey::WriteTxnMarkers, (1, 1)),
    (ApiKey::AddOffsetsToTxn, (0, 4)),
    (ApiKey::EndTxn, (0, 5)),
    (ApiKey::TxnOffsetCommit, (0, 5)),
    // Transaction admin (kafka-transactions.sh list/describe/describe-producers).
    (ApiKey::ListTransactions, (0, 2)),
    (ApiKey::DescribeTransactions, (0, 0)),
    (ApiKey::DescribeProducers, (0, 0)),
    // Topic configs and the dynamically updatable broker keys change live and persist; other
    // broker keys answer INVALID_CONFIG, as Kafka answers for keys that are not dynamic.
    (ApiKey::IncrementalAlterConfigs, (0, 1)),
    (ApiKey::AlterConfigs, (0, 2)),
    // One log dir; v4 adds total and usable bytes.
    (ApiKey::DescribeLogDirs, (1, 4)),
    // Consumer groups, classic protocol. FindCoordinator v6 adds share-group keys (answered with
    // COORDINATOR_NOT_AVAILABLE: there is no share-group coordinator).
    (ApiKey::FindCoordinator, (0, 6)),
    // v0-1 were removed in Kafka 4 (KIP-896).
    (ApiKey::JoinGroup, (2, 9)),
    (ApiKey::SyncGroup, (0, 5)),
    (ApiKey::Heartbeat, (0, 4)),
    (ApiKey::LeaveGroup, (0, 5)),
    // The newest versions kafka-protocol 0.18 decodes (Kafka's v10 adds topic ids).
    (ApiKey::OffsetCommit, (2, 9)),
    (ApiKey::OffsetFetch, (1, 9)),
    (ApiKey::ListGroups, (0, 5)),
    (ApiKey::DescribeGroups, (0, 6)),
    (ApiKey::DeleteGroups, (0, 2)),
    (ApiKey::OffsetDelete, (0, 0)),
    // KIP-848 consumer groups: server-side uniform/range assignment. v1 adds client-generated
    // member ids and regular-expression subscriptions.
    (ApiKey::ConsumerGroupHeartbeat, (0, 1)),
    (ApiKey::ConsumerGroupDescribe, (0, 1)),
    // SASL (security/sasl.rs): v0 handshakes are followed by raw tokens; SaslAuthenticate v1+
    // carries the session lifetime (KIP-368). On a listener without SASL both answer
    // ILLEGAL_SASL_STATE, as Kafka does.
    (ApiKey::SaslHandshake, (0, 1)),
    (ApiKey::SaslAuthenticate, (0, 2)),
    // SCRAM credentials (kafka-configs.sh --entity-type users, Admin.alterUserScramCredentials).
    (ApiKey::DescribeUserScramCredentials, (0, 0)),
    (ApiKey::AlterUserScramCredentials, (0, 0)),
    // ACLs (security/acl.rs), Kafka 4's range; SECURITY_DISABLED without an authorizer.
    (ApiKey::CreateAcls, (1, 3)),
    (ApiKey::DescribeAcls, (1, 3)),
    (ApiKey::DeleteAcls, (1, 3)),
];

/// The served range of `api`, if we serve it.
pub fn served(api: ApiKey) -> Option<(i16, i16)> {
    SERVED.iter().find(|(k, _)| *k == api).map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Message, VersionRange};

    fn request_versions(api: ApiKey) -> VersionRange {
        match api {
            ApiKey::Produce => ProduceRequest::VERSIONS,
            ApiKey::Fetch => FetchRequest::VERSIONS,
            ApiKey::ListOffsets => ListOffsetsRequest::VERSIONS,
            ApiKey::Metadata => MetadataRequest::VERSIONS,
            ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest::VERSIONS,
            ApiKey::InitProducerId => InitProducerIdRequest::VERSIONS,
            ApiKey::ApiVersions => ApiVersionsRequest::VERSIONS,
            ApiKey::CreateTopics => CreateTopicsRequest::VERSIONS,
            ApiKey::DeleteTopics => DeleteTopicsRequest::VERSIONS,
            ApiKey::DeleteRecords => DeleteRecordsRequest::VERSIONS,
            ApiKey::DescribeConfigs => DescribeConfigsRequest::VERSIONS,
            ApiKey::CreatePartitions => CreatePartitionsRequest::VERSIONS,
            ApiKey::DescribeCluster => DescribeClusterRequest::VERSIONS,
            ApiKey::AddPartitionsToTxn => AddPartitionsToTxnRequest::VERSIONS,
            ApiKey::AddOffsetsToTxn => AddOffsetsToTxnRequest::VERSIONS,
            ApiKey::EndTxn => EndTxnRequest::VERSIONS,
            ApiKey::TxnOffsetCommit => TxnOffsetCommitRequest::VERSIONS,
            ApiKey::ListTransactions => ListTransactionsRequest::VERSIONS,
            ApiKey::WriteTxnMarkers => WriteTxnMarkersRequest::VERSIONS,
            ApiKey::DescribeTransactions => DescribeTransactionsRequest::VERSIONS,
            ApiKey::DescribeProducers => DescribeProducersRequest::VERSIONS,
            ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::VERSIONS,
            ApiKey::AlterConfigs => AlterConfigsRequest::VERSIONS,
            ApiKey::DescribeLogDirs => DescribeLogDirsRequest::VERSIONS,
            ApiKey::FindCoordinator => FindCoordinatorRequest::VERSIONS,
            ApiKey::JoinGroup => JoinGroupRequest::VERSIONS,
            ApiKey::SyncGroup => SyncGroupRequest::VERSIONS,
            ApiKey::Heartbeat => HeartbeatRequest::VERSIONS,
            ApiKey::LeaveGroup => LeaveGroupRequest::VERSIONS,
            ApiKey::OffsetCommit => OffsetCommitRequest::VERSIONS,
            ApiKey::OffsetFetch => OffsetFetchRequest::VERSIONS,
            ApiKey::ListGroups => ListGroupsRequest::VERSIONS,
            ApiKey::DescribeGroups => DescribeGroupsRequest::VERSIONS,
            ApiKey::DeleteGroups => DeleteGroupsRequest::VERSIONS,
            ApiKey::OffsetDelete => OffsetDeleteRequest::VERSIONS,
            ApiKey::ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest::VERSIONS,
            ApiKey::ConsumerGroupDescribe => ConsumerGroupDescribeRequest::VERSIONS,
            ApiKey::SaslHandshake => SaslHandshakeRequest::VERSIONS,
            ApiKey::CreateAcls => CreateAclsRequest::VERSIONS,
            ApiKey::DescribeAcls => DescribeAclsRequest::VERSIONS,
            ApiKey::DeleteAcls => DeleteAclsRequest::VERSIONS,
            ApiKey::SaslAuthenticate => SaslAuthenticateRequest::VERSIONS,
            ApiKey::DescribeUserScramCredentials => DescribeUserScramCredentialsRequest::VERSIONS,
            ApiKey::AlterUserScramCredentials => AlterUserScramCredentialsRequest::VERSIONS,
            other => panic!("add {other:?} to this test"),
        }
    }

    #[test]
    fn served_ranges_fit_the_message_definitions() {
        for (api, (min, max)) in SERVED {
            let v = request_versions(*api);
            assert!(*min >= v.min && *max <= v.max && min <= max, "{api:?} {min}..{max} vs {v}");
        }
    }

    #[test]
    fn kafka4_minimums_that_librdkafka_needs() {
        assert!(served(ApiKey::Produce).unwrap().0 <= 10 && served(ApiKey::Produce).unwrap().1 >= 10);
        assert!(served(ApiKey::Fetch).unwrap().1 >= 16);
        assert!(served(ApiKey::OffsetForLeaderEpoch).unwrap().0 <= 2);
        assert!(served(ApiKey::DescribeConfigs).unwrap().0 <= 1);
    }
}
