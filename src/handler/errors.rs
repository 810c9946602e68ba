//! The error codes in a response, for the broker's error counts (Kafka's ErrorsPerSec, which
//! counts every code a response carries, NONE included, once per partition or resource). A walk
//! over the response already built: nothing allocated, nothing decoded again.
use kafka_protocol::messages::*;

pub trait ErrorCodes {
    fn each_error(&self, f: &mut dyn FnMut(i16));
}

/// Counts the response's error codes as answers of `api`.
pub fn count(metrics: &crate::metrics::Metrics, api: ApiKey, resp: &impl ErrorCodes) {
    if metrics.enabled() {
        resp.each_error(&mut |c| metrics.error(api as i16, c));
    }
}

/// Responses with one error code for the whole request.
macro_rules! whole {
    ($($t:ty),* $(,)?) => {
        $(impl ErrorCodes for $t {
            fn each_error(&self, f: &mut dyn FnMut(i16)) {
                f(self.error_code)
            }
        })*
    };
}

whole!(
    JoinGroupResponse,
    SyncGroupResponse,
    HeartbeatResponse,
    ListGroupsResponse,
    SaslHandshakeResponse,
    SaslAuthenticateResponse,
    ApiVersionsResponse,
    InitProducerIdResponse,
    AddOffsetsToTxnResponse,
    EndTxnResponse,
    DescribeAclsResponse,
    DescribeClusterResponse,
    ListTransactionsResponse,
    ConsumerGroupHeartbeatResponse,
);

/// Responses with a list of results, each with its own code.
macro_rules! listed {
    ($($t:ty => $list:ident),* $(,)?) => {
        $(impl ErrorCodes for $t {
            fn each_error(&self, f: &mut dyn FnMut(i16)) {
                for r in &self.$list {
                    f(r.error_code)
                }
            }
        })*
    };
}

listed!(
    DescribeGroupsResponse => groups,
    DeleteGroupsResponse => results,
    CreateTopicsResponse => topics,
    DeleteTopicsResponse => responses,
    CreatePartitionsResponse => results,
    CreateAclsResponse => results,
    DeleteAclsResponse => filter_results,
    DescribeConfigsResponse => results,
    AlterConfigsResponse => responses,
    IncrementalAlterConfigsResponse => responses,
    DescribeTransactionsResponse => transaction_states,
    AlterUserScramCredentialsResponse => results,
    ConsumerGroupDescribeResponse => groups,
);

/// Responses listing topics, each listing partitions with their codes.
macro_rules! per_partition {
    ($($t:ty => $topics:ident . $parts:ident),* $(,)?) => {
        $(impl ErrorCodes for $t {
            fn each_error(&self, f: &mut dyn FnMut(i16)) {
                for t in &self.$topics {
                    for p in &t.$parts {
                        f(p.error_code)
                    }
                }
            }
        })*
    };
}

per_partition!(
    ProduceResponse => responses.partition_responses,
    ListOffsetsResponse => topics.partitions,
    OffsetCommitResponse => topics.partitions,
    DeleteRecordsResponse => topics.partitions,
    TxnOffsetCommitResponse => topics.partitions,
    OffsetForLeaderEpochResponse => topics.partitions,
    DescribeProducersResponse => topics.partitions,
);

impl ErrorCodes for FetchResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        f(self.error_code);
        for t in &self.responses {
            for p in &t.partitions {
                f(p.error_code)
            }
        }
    }
}

impl ErrorCodes for MetadataResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        for t in &self.topics {
            f(t.error_code);
            for p in &t.partitions {
                f(p.error_code)
            }
        }
    }
}

impl ErrorCodes for OffsetFetchResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        if self.groups.is_empty() {
            f(self.error_code);
            for t in &self.topics {
                for p in &t.partitions {
                    f(p.error_code)
                }
            }
        }
        for g in &self.groups {
            f(g.error_code);
            for t in &g.topics {
                for p in &t.partitions {
                    f(p.error_code)
                }
            }
        }
    }
}

impl ErrorCodes for FindCoordinatorResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        if self.coordinators.is_empty() {
            f(self.error_code);
        }
        for c in &self.coordinators {
            f(c.error_code)
        }
    }
}

impl ErrorCodes for LeaveGroupResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        f(self.error_code);
        for m in &self.members {
            f(m.error_code)
        }
    }
}

impl ErrorCodes for AddPartitionsToTxnResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        for t in &self.results_by_topic_v3_and_below {
            for p in &t.results_by_partition {
                f(p.partition_error_code)
            }
        }
        if !self.results_by_transaction.is_empty() {
            f(self.error_code);
        }
        for x in &self.results_by_transaction {
            for t in &x.topic_results {
                for p in &t.results_by_partition {
                    f(p.partition_error_code)
                }
            }
        }
    }
}

impl ErrorCodes for WriteTxnMarkersResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        for m in &self.markers {
            for t in &m.topics {
                for p in &t.partitions {
                    f(p.error_code)
                }
            }
        }
    }
}

impl ErrorCodes for DescribeLogDirsResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        f(self.error_code);
        for r in &self.results {
            f(r.error_code)
        }
    }
}

impl ErrorCodes for DescribeUserScramCredentialsResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        f(self.error_code);
        for r in &self.results {
            f(r.error_code)
        }
    }
}

impl ErrorCodes for OffsetDeleteResponse {
    fn each_error(&self, f: &mut dyn FnMut(i16)) {
        f(self.error_code);
        for t in &self.topics {
            for p in &t.partitions {
                f(p.error_code)
            }
        }
    }
}
