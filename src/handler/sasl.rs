//! SaslHandshake, SaslAuthenticate (and v0's raw tokens), DescribeUserScramCredentials and
//! AlterUserScramCredentials. The exchange itself is `security::sasl`; here are Kafka's answers.
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::*;

use super::{s, RequestCtx};
use crate::protocol::error::code;
use crate::security::sasl::TokenResult;
use crate::security::scram::{check_credential, Credential, CredentialError, Mechanism};
use crate::state::BrokerState;

pub fn handshake(req: SaslHandshakeRequest, v: i16, ctx: &mut RequestCtx) -> SaslHandshakeResponse {
    let Some(cfg) = &ctx.listener.sasl else {
        // Not a SASL listener: there is nothing to authenticate (Kafka answers the same).
        return SaslHandshakeResponse::default().with_error_code(code::ILLEGAL_SASL_STATE);
    };
    let enabled: Vec<_> = cfg.mechanisms.iter().map(|m| s(m.name())).collect();
    match ctx.session.handshake(cfg, req.mechanism.as_str(), v) {
        Ok(()) => SaslHandshakeResponse::default().with_mechanisms(enabled),
        Err(Some(msg)) => {
            tracing::warn!(peer = %ctx.peer, listener = %ctx.listener.spec.name, mechanism = %req.mechanism.as_str(), "SASL handshake refused: {msg}");
            ctx.session.close_after = Some(cfg.failure_delay);
            SaslHandshakeResponse::default()
                .with_error_code(code::UNSUPPORTED_SASL_MECHANISM)
                .with_mechanisms(enabled)
        }
        Err(None) => SaslHandshakeResponse::default().with_error_code(code::ILLEGAL_SASL_STATE),
    }
}

/// One token through the listener's session: (token back, session lifetime) or the failure.
fn token(state: &BrokerState, ctx: &mut RequestCtx, bytes: &[u8]) -> Result<(Vec<u8>, Option<i64>), String> {
    let Some(cfg) = &ctx.listener.sasl else {
        return Err("SaslAuthenticate request received after successful authentication".into());
    };
    match ctx.session.token(cfg, &state.scram, bytes) {
        TokenResult::Continue(t) => Ok((t, None)),
        TokenResult::Done(t, lifetime) => {
            if let Some(p) = &ctx.session.principal {
                ctx.principal = Arc::new(p.clone());
                tracing::debug!(peer = %ctx.peer, listener = %ctx.listener.spec.name, principal = %p, "authenticated");
            }
            Ok((t, Some(lifetime)))
        }
        TokenResult::Failed(msg) => {
            crate::security::log_failed_login(ctx.peer, &ctx.listener.spec.name, &msg);
            Err(msg)
        }
    }
}

pub fn authenticate(
    state: &Arc<BrokerState>,
    req: SaslAuthenticateRequest,
    v: i16,
    ctx: &mut RequestCtx,
) -> SaslAuthenticateResponse {
    if ctx.listener.sasl.is_none() || (ctx.session.authenticated() && ctx.listener.sasl.is_some()) {
        return SaslAuthenticateResponse::default()
            .with_error_code(code::ILLEGAL_SASL_STATE)
            .with_error_message(Some(s(
                "SaslAuthenticate request received after successful authentication",
            )));
    }
    match token(state, ctx, &req.auth_bytes) {
        Ok((t, lifetime)) => {
            let mut r = SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(t));
            if v >= 1 {
                r.session_lifetime_ms = lifetime.unwrap_or(0);
            }
            r
        }
        Err(msg) => SaslAuthenticateResponse::default()
            .with_error_code(code::SASL_AUTHENTICATION_FAILED)
            .with_error_message(Some(s(msg))),
    }
}

/// Handshake v0: the frame is a raw token, and so is the answer. A failure closes the connection
/// without an answer, as Kafka does.
pub fn raw_token(state: &Arc<BrokerState>, ctx: &mut RequestCtx, frame: &[u8]) -> Option<Bytes> {
    match token(state, ctx, frame) {
        Ok((t, _)) => {
            let mut b = BytesMut::with_capacity(4 + t.len());
            b.put_i32(t.len() as i32);
            b.put_slice(&t);
            Some(b.freeze())
        }
        Err(_) => None,
    }
}

pub async fn describe_user_scram_credentials(
    state: &Arc<BrokerState>,
    req: DescribeUserScramCredentialsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> DescribeUserScramCredentialsResponse {
    if !who.may_cluster(crate::security::acl::op::DESCRIBE) {
        return DescribeUserScramCredentialsResponse::default()
            .with_error_code(code::CLUSTER_AUTHORIZATION_FAILED)
            .with_error_message(Some(s("Cluster authorization failed.")));
    }
    let mut by_user: BTreeMap<String, Vec<CredentialInfo>> = BTreeMap::new();
    for (u, m, iterations) in state.scram.describe() {
        by_user
            .entry(u)
            .or_default()
            .push(CredentialInfo::default().with_mechanism(m.wire()).with_iterations(iterations));
    }
    let asked: Vec<String> = req.users.unwrap_or_default().into_iter().map(|u| u.name.to_string()).collect();
    let mut results = Vec::new();
    if asked.is_empty() {
        for (u, infos) in by_user {
            results.push(
                DescribeUserScramCredentialsResult::default().with_user(s(u)).with_credential_infos(infos),
            );
        }
    } else {
        let mut seen = HashSet::new();
        let dups: HashSet<&String> = asked.iter().filter(|u| !seen.insert(*u)).collect();
        let mut done = HashSet::new();
        for u in &asked {
            if !done.insert(u) {
                continue;
            }
            let r = DescribeUserScramCredentialsResult::default().with_user(s(u.clone()));
            results.push(if dups.contains(u) {
                r.with_error_code(code::DUPLICATE_RESOURCE).with_error_message(Some(s(format!(
                    "Cannot describe SCRAM credentials for the same user twice in a single request: {u}"
                ))))
            } else {
                match by_user.get(u) {
                    Some(infos) => r.with_credential_infos(infos.clone()),
                    None => r.with_error_code(code::RESOURCE_NOT_FOUND).with_error_message(Some(s(format!(
                        "Attempt to describe a user credential that does not exist: {u}"
                    )))),
                }
            });
        }
    }
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

pub async fn alter_user_scram_credentials(
    state: &Arc<BrokerState>,
    req: AlterUserScramCredentialsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> AlterUserScramCredentialsResponse {
    if !who.may_cluster(crate::security::acl::op::ALTER) {
        let mut users: Vec<String> = Vec::new();
        for u in req
            .deletions
            .iter()
            .map(|d| d.name.to_string())
            .chain(req.upsertions.iter().map(|u| u.name.to_string()))
        {
            if !users.contains(&u) {
                users.push(u);
            }
        }
        return AlterUserScramCredentialsResponse::default().with_results(
            users
                .into_iter()
                .map(|u| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(s(u))
                        .with_error_code(code::CLUSTER_AUTHORIZATION_FAILED)
                        .with_error_message(Some(s("Cluster authorization failed.")))
                })
                .collect(),
        );
    }
    // Per user, in the order first named: every change of one user applies together or not at all.
    let mut order: Vec<String> = Vec::new();
    let mut changes: BTreeMap<String, (Vec<(Mechanism, Credential)>, Vec<Mechanism>, Option<(i16, String)>)> =
        BTreeMap::new();
    let mut note = |u: &str| {
        if !order.iter().any(|o| o == u) {
            order.push(u.to_string());
        }
    };
    for d in &req.deletions {
        let u = d.name.to_string();
        note(&u);
        let e = changes.entry(u).or_default();
        match Mechanism::from_wire(d.mechanism) {
            None => {
                e.2 =
                    e.2.take().or(Some((code::UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism".into())))
            }
            Some(m) if e.1.contains(&m) => {
                e.2 = e.2.take().or(Some((
                    code::DUPLICATE_RESOURCE,
                    "A user credential cannot be altered twice in the same request".into(),
                )))
            }
            Some(m) => e.1.push(m),
        }
    }
    for up in &req.upsertions {
        let u = up.name.to_string();
        note(&u);
        let e = changes.entry(u.clone()).or_default();
        match Mechanism::from_wire(up.mechanism) {
            None => {
                e.2 =
                    e.2.take().or(Some((code::UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism".into())))
            }
            Some(m) if e.1.contains(&m) || e.0.iter().any(|(x, _)| *x == m) => {
                e.2 = e.2.take().or(Some((
                    code::DUPLICATE_RESOURCE,
                    "A user credential cannot be altered twice in the same request".into(),
                )))
            }
            Some(m) => match check_credential(&u, up.iterations) {
                Err(CredentialError::Unacceptable(msg)) => {
                    e.2 = e.2.take().or(Some((code::UNACCEPTABLE_CREDENTIAL, msg)))
                }
                Err(_) => {}
                Ok(()) => e.0.push((
                    m,
                    Credential::from_salted(m, up.salt.to_vec(), &up.salted_password, up.iterations),
                )),
            },
        }
    }
    let mut results = Vec::new();
    for u in order {
        let (ups, dels, err) = changes.remove(&u).unwrap_or_default();
        let r = AlterUserScramCredentialsResult::default().with_user(s(u.clone()));
        let outcome = match err {
            Some(e) => Err(e),
            None if u.is_empty() => Err((code::UNACCEPTABLE_CREDENTIAL, "Username must not be empty".into())),
            None => {
                let st = state.clone();
                let uu = u.clone();
                let done = tokio::task::spawn_blocking(move || {
                    st.scram.alter(
                        ups.into_iter().map(|(m, c)| (uu.clone(), m, c)).collect(),
                        dels.into_iter().map(|m| (uu.clone(), m)).collect(),
                    )
                })
                .await;
                match done {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => {
                        let c = crate::protocol::error::credential_error(&e);
                        let (CredentialError::NotFound(m)
                        | CredentialError::Unacceptable(m)
                        | CredentialError::Storage(m)) = e;
                        Err((c, m))
                    }
                    Err(e) => Err((code::UNKNOWN_SERVER_ERROR, e.to_string())),
                }
            }
        };
        results.push(match outcome {
            Ok(()) => r,
            Err((c, m)) => r.with_error_code(c).with_error_message(Some(s(m))),
        });
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}
