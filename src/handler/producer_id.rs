//! InitProducerId: idempotent producers here; with a transactional.id, the transaction
//! coordinator (handler/txn.rs).
use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::protocol::error::code;
use crate::state::BrokerState;

pub async fn handle(
    state: &Arc<BrokerState>,
    req: InitProducerIdRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> InitProducerIdResponse {
    if req.transactional_id.as_ref().is_some_and(|t| t.0.is_empty()) {
        return InitProducerIdResponse::default()
            .with_error_code(code::INVALID_REQUEST)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    use crate::security::acl::{op, resource};
    let refuse = |c: i16| {
        InitProducerIdResponse::default()
            .with_error_code(c)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if let Some(id) = &req.transactional_id {
        if !who.may(op::WRITE, resource::TRANSACTIONAL_ID, &id.0) {
            return refuse(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        }
        return super::txn::init_producer_id(state, &req, _v, &id.0).await;
    }
    // An idempotent producer: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (KIP-679).
    if !who.may_cluster(op::IDEMPOTENT_WRITE) && !who.may_any(op::WRITE, resource::TOPIC) {
        return refuse(code::CLUSTER_AUTHORIZATION_FAILED);
    }
    match state.producer_ids.next() {
        Ok(id) => InitProducerIdResponse::default().with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(e) => {
            state.logs.fail_storage(&e);
            InitProducerIdResponse::default()
                .with_error_code(code::KAFKA_STORAGE_ERROR)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        }
    }
}
