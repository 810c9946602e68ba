//! ApiVersions: the table from `protocol::versions` and the finalized `transaction.version`
//! feature.
use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use crate::protocol::error::code;
use crate::protocol::versions::SERVED;
use crate::state::BrokerState;

pub fn table() -> Vec<ApiVersion> {
    let mut v: Vec<ApiVersion> = SERVED
        .iter()
        .map(|(k, (min, max))| {
            ApiVersion::default().with_api_key(*k as i16).with_min_version(*min).with_max_version(*max)
        })
        .collect();
    v.sort_by_key(|a| a.api_key);
    v
}

/// The features this broker supports and has finalized (ApiVersions v3+): `transaction.version`
/// 2 tells KIP-890 clients they may use transactions version 2; older clients keep version 1.
pub const TRANSACTION_VERSION: i16 = 2;

pub async fn handle(
    state: &Arc<BrokerState>,
    _req: ApiVersionsRequest,
    v: i16,
    _who: &super::Who<'_>,
) -> ApiVersionsResponse {
    use kafka_protocol::messages::api_versions_response::{FinalizedFeatureKey, SupportedFeatureKey};
    let mut r = ApiVersionsResponse::default().with_error_code(code::NONE).with_api_keys(table());
    if v >= 3 {
        let level = state
            .config
            .get("transaction.version")
            .and_then(|x| x.parse::<i16>().ok())
            .unwrap_or(TRANSACTION_VERSION)
            .clamp(0, TRANSACTION_VERSION);
        r.supported_features = vec![SupportedFeatureKey::default()
            .with_name("transaction.version".into())
            .with_min_version(0)
            .with_max_version(TRANSACTION_VERSION)];
        r.finalized_features_epoch = 1;
        if level > 0 {
            r.finalized_features = vec![FinalizedFeatureKey::default()
                .with_name("transaction.version".into())
                .with_min_version_level(level)
                .with_max_version_level(level)];
        }
    }
    r
}

/// The answer to an ApiVersions request at a version we do not serve: a v0 response carrying
/// UNSUPPORTED_VERSION and, as Kafka answers, only the ApiVersions entry of our table, so the
/// client retries with a version it lists (and then gets the whole table).
pub fn unsupported_version_response() -> ApiVersionsResponse {
    let own = table().into_iter().filter(|k| k.api_key == ApiKey::ApiVersions as i16).collect();
    ApiVersionsResponse::default().with_error_code(code::UNSUPPORTED_VERSION).with_api_keys(own)
}
