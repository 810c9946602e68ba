//! Request handlers: one module per API family. Thin: validate -> call the domain -> build the
//! response. The only place that matches on API keys.
//!
//! Concurrency: handlers are async and run on the connection's task; they never hold a
//! `parking_lot` lock across an `.await` (the domain calls take and drop locks internally).
pub mod acls;
pub mod admin;
pub mod api_versions;
pub mod configs;
pub mod errors;
pub mod faults;
pub mod fetch;
pub mod group;
pub mod list_offsets;
pub mod metadata;
pub mod produce;
pub mod producer_id;
pub mod sasl;
pub mod txn;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::*;

use crate::protocol::{decode_body, encode_response, FrameError, Header};
use crate::state::BrokerState;

/// What to send back for one request, in request order.
pub enum Reply {
    /// Nothing (acks=0 produce).
    None,
    /// A response frame, ready now.
    Now(Bytes),
    /// A response frame that completes later (acks=all produce waiting on its fsync). The side
    /// effects already happened in request order; only the answer waits.
    Later(Pin<Box<dyn Future<Output = Result<Bytes, FrameError>> + Send>>),
}

/// What a handler knows about the connection its request came on.
pub struct RequestCtx {
    pub peer: std::net::SocketAddr,
    /// The listener the connection came in on: its advertised address is the one answered.
    pub listener: Arc<crate::security::Listener>,
    /// Changes (or errors) when the connection's reader has stopped: the client closed it, timed
    /// out or sent garbage. A parked fetch stops waiting then; nobody will read its answer.
    pub closed: tokio::sync::watch::Receiver<bool>,
    /// Memory the answer holds from the broker's pool (a fetch's data), returned once written.
    pub lease: Option<crate::memory::Lease>,
    /// SASL state on a SASL listener (idle elsewhere).
    pub session: crate::security::sasl::Session,
    /// Who the client is: `ANONYMOUS`, its certificate's mapped subject, or its SASL user.
    pub principal: Arc<crate::security::principal::Principal>,
    /// Handle nothing more from this connection for this long once the answer is queued (a
    /// throttling fault rule).
    pub mute_for: Option<std::time::Duration>,
}

impl RequestCtx {
    /// Resolves when the connection is gone.
    pub async fn gone(&mut self) {
        while !*self.closed.borrow_and_update() {
            if self.closed.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Who sent the request, for authorization: `who.may(op, resource_type, name)` is true when no
/// authorizer is configured.
#[derive(Clone, Copy)]
pub struct Who<'a> {
    pub principal: &'a crate::security::principal::Principal,
    pub host: std::net::IpAddr,
    state: &'a BrokerState,
}

impl Who<'_> {
    /// Whether this client may do `op` on the resource (ACLs; always, without an authorizer).
    pub fn may(&self, op: i8, rtype: i8, name: &str) -> bool {
        match &self.state.acl {
            None => true,
            Some(a) => a.authorize(self.principal, self.host, op, rtype, name),
        }
    }
    /// ACLs are on.
    pub fn checked(&self) -> bool {
        self.state.acl.is_some()
    }
    /// Kafka's `authorizeByResourceType`: some ALLOW binding of `op` on a resource of this type.
    pub fn may_any(&self, op: i8, rtype: i8) -> bool {
        match &self.state.acl {
            None => true,
            Some(a) => a.authorize_any(self.principal, self.host, op, rtype),
        }
    }
    pub fn may_cluster(&self, op: i8) -> bool {
        self.may(op, crate::security::acl::resource::CLUSTER, crate::security::acl::CLUSTER_NAME)
    }
}

/// Handles one decoded request header + body: the SASL gate, then the fault rules (only while a
/// test has set some, see `crate::faults`), then the API's handler.
pub async fn handle(
    state: &Arc<BrokerState>,
    header: &Header,
    body: Bytes,
    ctx: &mut RequestCtx,
) -> Result<Reply, FrameError> {
    if ctx.listener.sasl.is_some() {
        let api = header.api_key;
        let gate = ctx.session.gate(
            &api,
            api == ApiKey::ApiVersions,
            api == ApiKey::SaslHandshake,
            api == ApiKey::SaslAuthenticate,
        );
        if let crate::security::sasl::Gate::Close(why) = gate {
            return Err(FrameError::Refused(why));
        }
    }
    if !state.faults.active() {
        return dispatch(state, header, body, ctx).await;
    }
    use crate::faults::Action;
    let principal = ctx.principal.to_string();
    let decided = state.faults.decide(&faults::request_of(state, header, &body, &principal));
    let Some((rule, action)) = decided else {
        return dispatch(state, header, body, ctx).await;
    };
    match action {
        Action::CloseBefore => {
            Err(FrameError::Refused(format!("fault rule {rule}: closing before the request is applied")))
        }
        Action::Error { code } => match faults::error_answer(header, body.clone(), code)? {
            Some(b) => Ok(Reply::Now(b)),
            // Rules are checked against ERROR_APIS when added; an API without an error answer
            // here is handled as if the rule had not matched.
            None => dispatch(state, header, body, ctx).await,
        },
        Action::Delay { ms } => {
            let reply = dispatch(state, header, body, ctx).await?;
            Ok(Reply::Later(Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                match reply {
                    Reply::Later(f) => f.await,
                    Reply::Now(b) => Ok(b),
                    Reply::None => Ok(Bytes::new()),
                }
            })))
        }
        Action::CloseAfter => {
            // Applied and durable (an acks=all answer waits for its fsync), then not answered.
            if let Reply::Later(f) = dispatch(state, header, body, ctx).await? {
                f.await?;
            }
            Err(FrameError::Refused(format!("fault rule {rule}: closing after the request was applied")))
        }
        Action::Throttle { ms } => {
            let answer = match dispatch(state, header, body, ctx).await? {
                Reply::Now(b) => b,
                Reply::Later(f) => f.await?,
                Reply::None => return Ok(Reply::None),
            };
            ctx.mute_for = Some(std::time::Duration::from_millis(ms));
            Ok(Reply::Now(faults::throttled(header, answer, ms.min(i32::MAX as u64) as i32)?))
        }
        Action::DropAnswer => {
            if let Reply::Later(f) = dispatch(state, header, body, ctx).await? {
                f.await?;
            }
            // Nothing is written, so nothing waits for the answer's memory to be returned.
            ctx.lease.take();
            Ok(Reply::None)
        }
    }
}

async fn dispatch(
    state: &Arc<BrokerState>,
    header: &Header,
    mut body: Bytes,
    ctx: &mut RequestCtx,
) -> Result<Reply, FrameError> {
    let peer = ctx.peer;
    let v = header.api_version;
    let hv = header.api_key.response_header_version(v);
    let cid = header.correlation_id;
    let principal = ctx.principal.clone();
    let who = Who { principal: &principal, host: ctx.peer.ip(), state };
    let api = header.api_key;
    macro_rules! call {
        ($req:ty, $f:path) => {{
            let req: $req = decode_body(&mut body, v)?;
            let resp = $f(state, req, v, &who).await;
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }};
    }
    match header.api_key {
        ApiKey::SaslHandshake => {
            let req: SaslHandshakeRequest = decode_body(&mut body, v)?;
            let resp = sasl::handshake(req, v, ctx);
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::SaslAuthenticate => {
            let req: SaslAuthenticateRequest = decode_body(&mut body, v)?;
            let resp = sasl::authenticate(state, req, v, ctx);
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::CreateAcls => call!(CreateAclsRequest, acls::create_acls),
        ApiKey::DescribeAcls => call!(DescribeAclsRequest, acls::describe_acls),
        ApiKey::DeleteAcls => call!(DeleteAclsRequest, acls::delete_acls),
        ApiKey::DescribeUserScramCredentials => {
            call!(DescribeUserScramCredentialsRequest, sasl::describe_user_scram_credentials)
        }
        ApiKey::AlterUserScramCredentials => {
            call!(AlterUserScramCredentialsRequest, sasl::alter_user_scram_credentials)
        }
        ApiKey::Produce => {
            let req: ProduceRequest = decode_body(&mut body, v)?;
            produce::handle(state, req, v, &who, cid, hv).await
        }
        ApiKey::Fetch => {
            let req: FetchRequest = decode_body(&mut body, v)?;
            drop(body);
            let resp = fetch::handle(state, req, v, ctx, &who).await;
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::ListOffsets => call!(ListOffsetsRequest, list_offsets::handle),
        ApiKey::Metadata => {
            let req: MetadataRequest = decode_body(&mut body, v)?;
            let resp = metadata::handle(state, req, v, &ctx.listener.advertised, &who).await;
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::OffsetForLeaderEpoch => call!(OffsetForLeaderEpochRequest, list_offsets::handle_leader_epoch),
        ApiKey::InitProducerId => call!(InitProducerIdRequest, producer_id::handle),
        ApiKey::ApiVersions => call!(ApiVersionsRequest, api_versions::handle),
        ApiKey::CreateTopics => call!(CreateTopicsRequest, admin::create_topics),
        ApiKey::DeleteTopics => call!(DeleteTopicsRequest, admin::delete_topics),
        ApiKey::DeleteRecords => call!(DeleteRecordsRequest, admin::delete_records),
        ApiKey::CreatePartitions => call!(CreatePartitionsRequest, admin::create_partitions),
        ApiKey::DescribeCluster => {
            let req: DescribeClusterRequest = decode_body(&mut body, v)?;
            let resp = admin::describe_cluster(state, req, v, &ctx.listener.advertised, &who).await;
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::DescribeConfigs => call!(DescribeConfigsRequest, configs::describe_configs),
        ApiKey::AddPartitionsToTxn => call!(AddPartitionsToTxnRequest, txn::add_partitions_to_txn),
        ApiKey::AddOffsetsToTxn => call!(AddOffsetsToTxnRequest, txn::add_offsets_to_txn),
        ApiKey::EndTxn => call!(EndTxnRequest, txn::end_txn),
        ApiKey::TxnOffsetCommit => call!(TxnOffsetCommitRequest, txn::txn_offset_commit),
        ApiKey::ListTransactions => call!(ListTransactionsRequest, txn::list_transactions),
        ApiKey::WriteTxnMarkers => call!(WriteTxnMarkersRequest, txn::write_txn_markers),
        ApiKey::DescribeTransactions => call!(DescribeTransactionsRequest, txn::describe_transactions),
        ApiKey::DescribeProducers => call!(DescribeProducersRequest, txn::describe_producers),
        ApiKey::IncrementalAlterConfigs => {
            call!(IncrementalAlterConfigsRequest, configs::incremental_alter_configs)
        }
        ApiKey::AlterConfigs => call!(AlterConfigsRequest, configs::alter_configs),
        ApiKey::DescribeLogDirs => call!(DescribeLogDirsRequest, admin::describe_log_dirs),
        ApiKey::FindCoordinator => {
            let req: FindCoordinatorRequest = decode_body(&mut body, v)?;
            let resp = group::find_coordinator(state, req, v, &ctx.listener.advertised, &who).await;
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = decode_body(&mut body, v)?;
            let client_id = header.client_id.clone().unwrap_or_default();
            let resp = group::join_group(state, req, v, &client_id, &format!("/{}", peer.ip()), &who).await;
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::SyncGroup => call!(SyncGroupRequest, group::sync_group),
        ApiKey::Heartbeat => call!(HeartbeatRequest, group::heartbeat),
        ApiKey::LeaveGroup => call!(LeaveGroupRequest, group::leave_group),
        ApiKey::OffsetCommit => call!(OffsetCommitRequest, group::offset_commit),
        ApiKey::OffsetFetch => call!(OffsetFetchRequest, group::offset_fetch),
        ApiKey::ListGroups => call!(ListGroupsRequest, group::list_groups),
        ApiKey::DescribeGroups => call!(DescribeGroupsRequest, group::describe_groups),
        ApiKey::DeleteGroups => call!(DeleteGroupsRequest, group::delete_groups),
        ApiKey::OffsetDelete => call!(OffsetDeleteRequest, group::offset_delete),
        ApiKey::ConsumerGroupHeartbeat => {
            let req: ConsumerGroupHeartbeatRequest = decode_body(&mut body, v)?;
            let client_id = header.client_id.clone().unwrap_or_default();
            let resp =
                group::consumer_group_heartbeat(state, req, v, &client_id, &format!("/{}", peer.ip()), &who)
                    .await;
            errors::count(&state.metrics, api, &resp);
            Ok(Reply::Now(encode_response(cid, hv, v, &resp)?))
        }
        ApiKey::ConsumerGroupDescribe => call!(ConsumerGroupDescribeRequest, group::consumer_group_describe),
        other => Err(FrameError::UnknownApi(other as i16)),
    }
}

/// What to answer a request whose header could not be taken: Kafka answers a too-new ApiVersions
/// with a v0 response carrying UNSUPPORTED_VERSION and the table, so the client retries with a
/// version served; anything else closes the connection.
pub fn answer_undecodable(e: &FrameError) -> Option<Bytes> {
    match e {
        FrameError::UnsupportedVersion { api: ApiKey::ApiVersions, version, correlation_id, .. } => {
            tracing::debug!(version, "ApiVersions version not served; answering with v0");
            encode_response(*correlation_id, 0, 0, &api_versions::unsupported_version_response()).ok()
        }
        _ => None,
    }
}

/// Decodes a body of any served API without handling it (fuzzing and tests).
pub fn decode_any(api: ApiKey, v: i16, body: &mut Bytes) -> Result<(), FrameError> {
    match api {
        ApiKey::CreateAcls => decode_body::<CreateAclsRequest>(body, v).map(drop),
        ApiKey::DescribeAcls => decode_body::<DescribeAclsRequest>(body, v).map(drop),
        ApiKey::DeleteAcls => decode_body::<DeleteAclsRequest>(body, v).map(drop),
        ApiKey::SaslHandshake => decode_body::<SaslHandshakeRequest>(body, v).map(drop),
        ApiKey::SaslAuthenticate => decode_body::<SaslAuthenticateRequest>(body, v).map(drop),
        ApiKey::DescribeUserScramCredentials => {
            decode_body::<DescribeUserScramCredentialsRequest>(body, v).map(drop)
        }
        ApiKey::AlterUserScramCredentials => {
            decode_body::<AlterUserScramCredentialsRequest>(body, v).map(drop)
        }
        ApiKey::Produce => decode_body::<ProduceRequest>(body, v).map(drop),
        ApiKey::Fetch => decode_body::<FetchRequest>(body, v).map(drop),
        ApiKey::ListOffsets => decode_body::<ListOffsetsRequest>(body, v).map(drop),
        ApiKey::Metadata => decode_body::<MetadataRequest>(body, v).map(drop),
        ApiKey::OffsetForLeaderEpoch => decode_body::<OffsetForLeaderEpochRequest>(body, v).map(drop),
        ApiKey::InitProducerId => decode_body::<InitProducerIdRequest>(body, v).map(drop),
        ApiKey::ApiVersions => decode_body::<ApiVersionsRequest>(body, v).map(drop),
        ApiKey::CreateTopics => decode_body::<CreateTopicsRequest>(body, v).map(drop),
        ApiKey::DeleteTopics => decode_body::<DeleteTopicsRequest>(body, v).map(drop),
        ApiKey::DeleteRecords => decode_body::<DeleteRecordsRequest>(body, v).map(drop),
        ApiKey::CreatePartitions => decode_body::<CreatePartitionsRequest>(body, v).map(drop),
        ApiKey::DescribeCluster => decode_body::<DescribeClusterRequest>(body, v).map(drop),
        ApiKey::DescribeConfigs => decode_body::<DescribeConfigsRequest>(body, v).map(drop),
        ApiKey::AddPartitionsToTxn => decode_body::<AddPartitionsToTxnRequest>(body, v).map(drop),
        ApiKey::AddOffsetsToTxn => decode_body::<AddOffsetsToTxnRequest>(body, v).map(drop),
        ApiKey::EndTxn => decode_body::<EndTxnRequest>(body, v).map(drop),
        ApiKey::TxnOffsetCommit => decode_body::<TxnOffsetCommitRequest>(body, v).map(drop),
        ApiKey::ListTransactions => decode_body::<ListTransactionsRequest>(body, v).map(drop),
        ApiKey::WriteTxnMarkers => decode_body::<WriteTxnMarkersRequest>(body, v).map(drop),
        ApiKey::DescribeTransactions => decode_body::<DescribeTransactionsRequest>(body, v).map(drop),
        ApiKey::DescribeProducers => decode_body::<DescribeProducersRequest>(body, v).map(drop),
        ApiKey::IncrementalAlterConfigs => decode_body::<IncrementalAlterConfigsRequest>(body, v).map(drop),
        ApiKey::AlterConfigs => decode_body::<AlterConfigsRequest>(body, v).map(drop),
        ApiKey::DescribeLogDirs => decode_body::<DescribeLogDirsRequest>(body, v).map(drop),
        ApiKey::FindCoordinator => decode_body::<FindCoordinatorRequest>(body, v).map(drop),
        ApiKey::JoinGroup => decode_body::<JoinGroupRequest>(body, v).map(drop),
        ApiKey::SyncGroup => decode_body::<SyncGroupRequest>(body, v).map(drop),
        ApiKey::Heartbeat => decode_body::<HeartbeatRequest>(body, v).map(drop),
        ApiKey::LeaveGroup => decode_body::<LeaveGroupRequest>(body, v).map(drop),
        ApiKey::OffsetCommit => decode_body::<OffsetCommitRequest>(body, v).map(drop),
        ApiKey::OffsetFetch => decode_body::<OffsetFetchRequest>(body, v).map(drop),
        ApiKey::ListGroups => decode_body::<ListGroupsRequest>(body, v).map(drop),
        ApiKey::DescribeGroups => decode_body::<DescribeGroupsRequest>(body, v).map(drop),
        ApiKey::DeleteGroups => decode_body::<DeleteGroupsRequest>(body, v).map(drop),
        ApiKey::OffsetDelete => decode_body::<OffsetDeleteRequest>(body, v).map(drop),
        ApiKey::ConsumerGroupHeartbeat => decode_body::<ConsumerGroupHeartbeatRequest>(body, v).map(drop),
        ApiKey::ConsumerGroupDescribe => decode_body::<ConsumerGroupDescribeRequest>(body, v).map(drop),
        other => Err(FrameError::UnknownApi(other as i16)),
    }
}

/// `Some(StrBytes)` from a `&str`.
pub(crate) fn s(x: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(x.into())
}
