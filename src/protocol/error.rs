//! The ONLY place a domain error becomes a Kafka error code. Every match is exhaustive (no `_ =>`),
//! so a new error variant does not compile until someone picks its code.
use crate::config::{ConfigError, IncrementalError};
use crate::coordinator::group::consumer::ConsumerGroupError;
use crate::coordinator::group::state::GroupError;
use crate::coordinator::group::DeleteGroupError;
use crate::coordinator::txn::state::TxnError;
use crate::coordinator::txn::{MarkerError, TxnShellError};
use crate::coordinator::StorageError;
use crate::log::producer_state::SequenceError;
use crate::log::{AppendError, ReadError, TopicError};
use crate::record::validate::Invalid;
use crate::record::BatchError;
use crate::security::acl::AclError;
use crate::security::scram::CredentialError;

/// Kafka error codes used by Odradek (names as in Kafka's `Errors` enum).
pub mod code {
    pub const NONE: i16 = 0;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
    pub const SECURITY_DISABLED: i16 = 54;
    pub const ILLEGAL_SASL_STATE: i16 = 34;
    pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
    pub const RESOURCE_NOT_FOUND: i16 = 91;
    pub const DUPLICATE_RESOURCE: i16 = 92;
    pub const UNACCEPTABLE_CREDENTIAL: i16 = 93;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const RECORD_LIST_TOO_LARGE: i16 = 18;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const INVALID_TIMESTAMP: i16 = 32;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const POLICY_VIOLATION: i16 = 44;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const CONCURRENT_TRANSACTIONS: i16 = 51;
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    pub const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    pub const PRODUCER_FENCED: i16 = 90;
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
    pub const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
    pub const TOPIC_DELETION_DISABLED: i16 = 73;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub const FENCED_INSTANCE_ID: i16 = 82;
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
    pub const INVALID_RECORD: i16 = 87;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    pub const FENCED_MEMBER_EPOCH: i16 = 110;
    pub const UNRELEASED_INSTANCE_ID: i16 = 111;
    pub const UNSUPPORTED_ASSIGNOR: i16 = 112;
    pub const STALE_MEMBER_EPOCH: i16 = 113;
    pub const INVALID_REGULAR_EXPRESSION: i16 = 128;
}

pub fn batch_error(e: &BatchError) -> i16 {
    match e {
        BatchError::Truncated { .. } => code::CORRUPT_MESSAGE,
        BatchError::UnsupportedMagic(_) => code::INVALID_RECORD,
        BatchError::CorruptMessage { .. } => code::CORRUPT_MESSAGE,
        BatchError::InvalidRecord(_) => code::CORRUPT_MESSAGE,
    }
}

pub fn sequence_error(e: &SequenceError) -> i16 {
    match e {
        SequenceError::InvalidProducerEpoch { .. } => code::INVALID_PRODUCER_EPOCH,
        SequenceError::OutOfOrderSequenceNumber { .. } => code::OUT_OF_ORDER_SEQUENCE_NUMBER,
    }
}

/// A request's leader epoch against the partition's leadership (KIP-320).
pub fn leader_error(c: crate::log::partition::LeaderCheck) -> i16 {
    use crate::log::partition::LeaderCheck;
    match c {
        LeaderCheck::Ok => code::NONE,
        LeaderCheck::NotLeader => code::NOT_LEADER_OR_FOLLOWER,
        LeaderCheck::Fenced => code::FENCED_LEADER_EPOCH,
        LeaderCheck::Unknown => code::UNKNOWN_LEADER_EPOCH,
    }
}

/// An acks=all append whose commit did not happen here: the partition moved to another owner,
/// so the client retries there (its idempotent sequence keeps it from being written twice).
pub fn commit_error(e: &crate::log::partition::CommitError) -> i16 {
    match e {
        crate::log::partition::CommitError::Moved => code::NOT_LEADER_OR_FOLLOWER,
    }
}

pub fn append_error(e: &AppendError) -> i16 {
    match e {
        AppendError::Batch(b) => batch_error(b),
        AppendError::MessageTooLarge { .. } => code::MESSAGE_TOO_LARGE,
        AppendError::RecordListTooLarge { .. } => code::RECORD_LIST_TOO_LARGE,
        AppendError::InvalidRecord(_) => code::INVALID_RECORD,
        AppendError::Invalid(i) => match i {
            Invalid::Malformed(_) => code::INVALID_RECORD,
            Invalid::Record { .. } => code::INVALID_RECORD,
            Invalid::Rejected { timestamps: true, .. } => code::INVALID_TIMESTAMP,
            Invalid::Rejected { timestamps: false, .. } => code::INVALID_RECORD,
        },
        AppendError::InvalidTimestamp { .. } => code::INVALID_TIMESTAMP,
        AppendError::Sequence(s) => sequence_error(s),
        AppendError::Storage(_) => code::KAFKA_STORAGE_ERROR,
        AppendError::Deleted => code::UNKNOWN_TOPIC_OR_PARTITION,
        AppendError::ShuttingDown => code::NOT_LEADER_OR_FOLLOWER,
    }
}

pub fn read_error(e: &ReadError) -> i16 {
    match e {
        ReadError::OffsetOutOfRange { .. } => code::OFFSET_OUT_OF_RANGE,
        ReadError::Storage(_) => code::KAFKA_STORAGE_ERROR,
    }
}

pub fn config_error(e: &ConfigError) -> i16 {
    match e {
        ConfigError::UnknownKey(_) => code::INVALID_CONFIG,
        ConfigError::InvalidValue { .. } => code::INVALID_CONFIG,
        ConfigError::File { .. } => code::INVALID_CONFIG,
    }
}

pub fn topic_error(e: &TopicError) -> i16 {
    match e {
        TopicError::TopicAlreadyExists(_) => code::TOPIC_ALREADY_EXISTS,
        TopicError::InvalidTopic(_) => code::INVALID_TOPIC_EXCEPTION,
        TopicError::UnknownTopicOrPartition(_) => code::UNKNOWN_TOPIC_OR_PARTITION,
        TopicError::InvalidPartitions(_) => code::INVALID_PARTITIONS,
        TopicError::PolicyViolation(_) => code::POLICY_VIOLATION,
        TopicError::InvalidConfig(c) => config_error(c),
        TopicError::Storage(_) => code::KAFKA_STORAGE_ERROR,
        TopicError::Open(_) => code::KAFKA_STORAGE_ERROR,
    }
}

pub fn group_error(e: &GroupError) -> i16 {
    match e {
        GroupError::InvalidGroupId => code::INVALID_GROUP_ID,
        GroupError::InvalidSessionTimeout => code::INVALID_SESSION_TIMEOUT,
        GroupError::UnknownMemberId => code::UNKNOWN_MEMBER_ID,
        GroupError::MemberIdRequired => code::MEMBER_ID_REQUIRED,
        GroupError::IllegalGeneration => code::ILLEGAL_GENERATION,
        GroupError::RebalanceInProgress => code::REBALANCE_IN_PROGRESS,
        GroupError::InconsistentGroupProtocol => code::INCONSISTENT_GROUP_PROTOCOL,
        GroupError::FencedInstanceId => code::FENCED_INSTANCE_ID,
        GroupError::GroupMaxSizeReached => code::GROUP_MAX_SIZE_REACHED,
        GroupError::NonEmptyGroup => code::NON_EMPTY_GROUP,
        GroupError::GroupIdNotFound => code::GROUP_ID_NOT_FOUND,
        GroupError::OffsetMetadataTooLarge => code::OFFSET_METADATA_TOO_LARGE,
        GroupError::CoordinatorNotAvailable => code::COORDINATOR_NOT_AVAILABLE,
        GroupError::GroupSubscribedToTopic => code::GROUP_SUBSCRIBED_TO_TOPIC,
        GroupError::StaleMemberEpoch => code::STALE_MEMBER_EPOCH,
    }
}

pub fn consumer_group_error(e: &ConsumerGroupError) -> i16 {
    match e {
        ConsumerGroupError::UnknownMemberId => code::UNKNOWN_MEMBER_ID,
        ConsumerGroupError::FencedMemberEpoch => code::FENCED_MEMBER_EPOCH,
        ConsumerGroupError::StaleMemberEpoch => code::STALE_MEMBER_EPOCH,
        ConsumerGroupError::UnreleasedInstanceId => code::UNRELEASED_INSTANCE_ID,
        ConsumerGroupError::UnsupportedAssignor => code::UNSUPPORTED_ASSIGNOR,
        ConsumerGroupError::GroupIdNotFound => code::GROUP_ID_NOT_FOUND,
        ConsumerGroupError::InvalidRequest(_) => code::INVALID_REQUEST,
        ConsumerGroupError::GroupMaxSizeReached => code::GROUP_MAX_SIZE_REACHED,
        ConsumerGroupError::InvalidRegularExpression => code::INVALID_REGULAR_EXPRESSION,
    }
}

pub fn txn_error(e: &TxnError) -> i16 {
    match e {
        TxnError::InvalidTransactionTimeout => code::INVALID_TRANSACTION_TIMEOUT,
        TxnError::InvalidProducerIdMapping => code::INVALID_PRODUCER_ID_MAPPING,
        TxnError::ProducerFenced => code::PRODUCER_FENCED,
        TxnError::InvalidProducerEpoch => code::INVALID_PRODUCER_EPOCH,
        TxnError::ConcurrentTransactions => code::CONCURRENT_TRANSACTIONS,
        TxnError::InvalidTxnState => code::INVALID_TXN_STATE,
        TxnError::InvalidRequest => code::INVALID_REQUEST,
    }
}

/// A coordinator's internal topic failed. As Kafka's group and transaction coordinators
/// normalize a failed write: the topic or partition is not there -> COORDINATOR_NOT_AVAILABLE
/// (the client retries here); storage failed or the broker is stepping down -> NOT_COORDINATOR
/// (the client looks the coordinator up again); a write Kafka would call too large or malformed
/// -> UNKNOWN_SERVER_ERROR (a bug, not the client's fault).
pub fn storage_error(e: &StorageError) -> i16 {
    match e {
        StorageError::Topic(_) => code::COORDINATOR_NOT_AVAILABLE,
        StorageError::MissingPartition(_) => code::COORDINATOR_NOT_AVAILABLE,
        StorageError::Encode(_) => code::UNKNOWN_SERVER_ERROR,
        StorageError::Append(a) => match a {
            AppendError::Storage(_) | AppendError::ShuttingDown => code::NOT_COORDINATOR,
            AppendError::Deleted => code::COORDINATOR_NOT_AVAILABLE,
            AppendError::MessageTooLarge { .. } | AppendError::RecordListTooLarge { .. } => {
                code::UNKNOWN_SERVER_ERROR
            }
            AppendError::Batch(_)
            | AppendError::InvalidRecord(_)
            | AppendError::Invalid(_)
            | AppendError::InvalidTimestamp { .. }
            | AppendError::Sequence(_) => code::UNKNOWN_SERVER_ERROR,
        },
        StorageError::Sync(_) => code::NOT_COORDINATOR,
        StorageError::Read(_) => code::NOT_COORDINATOR,
    }
}

/// A transaction coordinator answer. PRODUCER_FENCED exists since KIP-588: request versions
/// before it (`fenced_ok` false) get INVALID_PRODUCER_EPOCH, which those clients understand.
pub fn txn_shell_error(e: &TxnShellError, fenced_ok: bool) -> i16 {
    match e {
        TxnShellError::Txn(TxnError::ProducerFenced) if !fenced_ok => code::INVALID_PRODUCER_EPOCH,
        TxnShellError::Txn(t) => txn_error(t),
        TxnShellError::Storage(s) => storage_error(s),
    }
}

/// Produce's transaction check (KIP-890: verification or, v12+, enrolment) as Kafka answers it
/// on the partition: a fenced or stale epoch -> INVALID_PRODUCER_EPOCH; a transaction still
/// ending -> CONCURRENT_TRANSACTIONS (retried); a coordinator that cannot write ->
/// COORDINATOR_NOT_AVAILABLE, which producers retry; anything else about the transaction's state -> INVALID_TXN_STATE.
pub fn produce_txn_error(e: &TxnShellError) -> i16 {
    match e {
        TxnShellError::Txn(t) => match t {
            TxnError::ProducerFenced | TxnError::InvalidProducerEpoch => code::INVALID_PRODUCER_EPOCH,
            TxnError::ConcurrentTransactions => code::CONCURRENT_TRANSACTIONS,
            TxnError::InvalidTransactionTimeout
            | TxnError::InvalidProducerIdMapping
            | TxnError::InvalidTxnState
            | TxnError::InvalidRequest => code::INVALID_TXN_STATE,
        },
        TxnShellError::Storage(_) => code::COORDINATOR_NOT_AVAILABLE,
    }
}

/// TxnOffsetCommit v5+ enrols the group's offsets partition itself; a coordinator that cannot
/// write yet answers CONCURRENT_TRANSACTIONS, which the producer retries.
pub fn txn_offset_enrol_error(e: &TxnShellError, fenced_ok: bool) -> i16 {
    match e {
        TxnShellError::Txn(_) => txn_shell_error(e, fenced_ok),
        TxnShellError::Storage(_) => code::CONCURRENT_TRANSACTIONS,
    }
}

/// WriteTxnMarkers, per partition.
pub fn marker_error(e: &MarkerError) -> i16 {
    match e {
        MarkerError::UnknownTopicOrPartition => code::UNKNOWN_TOPIC_OR_PARTITION,
        MarkerError::StaleProducerEpoch => code::INVALID_PRODUCER_EPOCH,
        MarkerError::Append(a) => append_error(a),
        MarkerError::Sync(_) => code::KAFKA_STORAGE_ERROR,
    }
}

pub fn delete_group_error(e: &DeleteGroupError) -> i16 {
    match e {
        DeleteGroupError::Group(g) => group_error(g),
        DeleteGroupError::Storage(s) => storage_error(s),
    }
}

/// IncrementalAlterConfigs, per resource: a malformed change is the request's fault; a list
/// operation on a key that is not a list is a bad config.
pub fn incremental_config_error(e: &IncrementalError) -> i16 {
    match e {
        IncrementalError::NullValue(_) => code::INVALID_REQUEST,
        IncrementalError::NotAList { .. } => code::INVALID_CONFIG,
        IncrementalError::UnknownOperation(_) => code::INVALID_REQUEST,
    }
}

/// CreateAcls and DeleteAcls: a binding Kafka would refuse is the request's fault; the ACL file
/// could not be written: storage.
pub fn acl_error(e: &AclError) -> i16 {
    match e {
        AclError::Invalid(_) => code::INVALID_REQUEST,
        AclError::Storage(_) => code::KAFKA_STORAGE_ERROR,
    }
}

/// AlterUserScramCredentials, per user.
pub fn credential_error(e: &CredentialError) -> i16 {
    match e {
        CredentialError::NotFound(_) => code::RESOURCE_NOT_FOUND,
        CredentialError::Unacceptable(_) => code::UNACCEPTABLE_CREDENTIAL,
        CredentialError::Storage(_) => code::KAFKA_STORAGE_ERROR,
    }
}

/// A log operation outside append and read (DeleteRecords) failed on disk: the one policy for
/// storage I/O, as `read_error` and `append_error` answer it.
pub fn storage_io_error(_e: &std::io::Error) -> i16 {
    code::KAFKA_STORAGE_ERROR
}
