//! ApiVersions: the table from `protocol::versions`, nothing else.
use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use crate::broker::BrokerState;
use crate::protocol::error::code;
use crate::protocol::versions::SERVED;

pub fn table() -> Vec<ApiVersion> {
    let mut v: Vec<ApiVersion> = SERVED
        .iter()
        .map(|(k, (min, max))| ApiVersion::default().with_api_key(*k as i16).with_min_version(*min).with_max_version(*max))
        .collect();
    v.sort_by_key(|a| a.api_key);
    v
}

pub async fn handle(_state: &Arc<BrokerState>, _req: ApiVersionsRequest, _v: i16) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_error_code(code::NONE).with_api_keys(table())
}

/// The answer to an ApiVersions request at a version we do not serve: a v0 response carrying
/// UNSUPPORTED_VERSION and our table, so the client retries with a version we list.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_error_code(code::UNSUPPORTED_VERSION).with_api_keys(table())
}
