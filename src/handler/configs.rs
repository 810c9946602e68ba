//! DescribeConfigs for topics and the broker: every known config with its value, source,
//! read-only flag, type, documentation and synonyms, as Kafka reports them; AlterConfigs and
//! IncrementalAlterConfigs (the change rules are `config::apply_incremental`).
use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::s;
use crate::config::{BROKER_KEYS, TOPIC_KEYS};
use crate::protocol::error::{code, incremental_config_error};
use crate::security::acl;
use crate::state::BrokerState;

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

use crate::config::source;

fn synonym(name: &str, value: Option<String>, src: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default().with_name(s(name)).with_value(value.map(s)).with_source(src)
}

/// Describes a topic's configs given its overrides (also used by CreateTopics v5+).
pub fn topic_configs(
    state: &BrokerState,
    overrides: &BTreeMap<String, String>,
    keys: Option<&[String]>,
    synonyms: bool,
    docs: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let mut out = Vec::new();
    for (def, syns) in TOPIC_KEYS {
        if keys.is_some_and(|k| !k.iter().any(|x| x == def.name)) {
            continue;
        }
        let mut chain = Vec::new();
        if let Some(v) = overrides.get(def.name) {
            chain.push(synonym(def.name, Some(v.clone()), source::DYNAMIC_TOPIC_CONFIG));
        }
        let mut layered: Vec<(i8, &str, String)> = Vec::new();
        for sname in syns.iter() {
            for (v, src) in state.config.layers(sname) {
                layered.push((src, sname, v));
            }
        }
        layered.sort_by_key(|(src, _, _)| *src);
        for (src, sname, v) in layered {
            chain.push(synonym(sname, Some(v), src));
        }
        if let Some(primary) = syns.first() {
            let default = crate::config::broker_key(primary).and_then(|d| d.default).or(def.default);
            chain.push(synonym(primary, default.map(str::to_string), source::DEFAULT_CONFIG));
        } else {
            chain.push(synonym(def.name, def.default.map(str::to_string), source::DEFAULT_CONFIG));
        }
        let value = state.config.topic_value(overrides, def.name);
        let src = chain.first().map(|c| c.source).unwrap_or(source::DEFAULT_CONFIG);
        let mut r = DescribeConfigsResourceResult::default()
            .with_name(s(def.name))
            .with_value(value.map(s))
            .with_read_only(false)
            .with_config_source(src)
            .with_config_type(def.ty.code());
        if synonyms {
            r.synonyms = chain;
        }
        if docs && !def.doc.is_empty() {
            r.documentation = Some(s(def.doc));
        }
        out.push(r);
    }
    out
}

fn broker_configs(
    state: &BrokerState,
    keys: Option<&[String]>,
    synonyms: bool,
    docs: bool,
    cluster_default_only: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let mut out = Vec::new();
    let defaults = state.config.dynamic.read().cluster_default.clone();
    for def in BROKER_KEYS {
        if keys.is_some_and(|k| !k.iter().any(|x| x == def.name)) {
            continue;
        }
        if cluster_default_only {
            // Describing the "" broker resource lists only the cluster-wide dynamic defaults.
            if let Some(v) = defaults.get(def.name) {
                out.push(
                    DescribeConfigsResourceResult::default()
                        .with_name(s(def.name))
                        .with_value(Some(s(v.clone())))
                        .with_config_source(source::DYNAMIC_DEFAULT_BROKER_CONFIG)
                        .with_config_type(def.ty.code()),
                );
            }
            continue;
        }
        let mut layers = state.config.layers(def.name);
        let mut value = state.config.get(def.name);
        let sensitive = def.ty == crate::config::ConfigType::Password;
        if sensitive {
            // Passwords and keys are never sent back, as Kafka hides them.
            value = None;
            for l in &mut layers {
                l.0.clear();
            }
        }
        let src = layers.first().map(|l| l.1).unwrap_or(source::DEFAULT_CONFIG);
        let mut r = DescribeConfigsResourceResult::default()
            .with_name(s(def.name))
            .with_value(value.clone().map(s))
            .with_read_only(def.read_only)
            .with_is_sensitive(sensitive)
            .with_config_source(src)
            .with_config_type(def.ty.code());
        if synonyms {
            let mut chain: Vec<DescribeConfigsSynonym> = layers
                .into_iter()
                .map(|(v, src)| synonym(def.name, (!sensitive).then_some(v), src))
                .collect();
            chain.push(synonym(def.name, def.default.map(str::to_string), source::DEFAULT_CONFIG));
            r.synonyms = chain;
        }
        if docs {
            r.documentation = Some(s(def.doc));
        }
        out.push(r);
    }
    out
}

pub async fn describe_configs(
    state: &Arc<BrokerState>,
    req: DescribeConfigsRequest,
    v: i16,
    who: &super::Who<'_>,
) -> DescribeConfigsResponse {
    let docs = v >= 3 && req.include_documentation;
    let mut results = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let keys: Option<Vec<String>> =
            res.configuration_keys.as_ref().map(|k| k.iter().map(|x| x.to_string()).collect());
        let mut r = DescribeConfigsResult::default()
            .with_resource_type(res.resource_type)
            .with_resource_name(res.resource_name.clone());
        if let Some((c, m)) =
            config_authz(who, res.resource_type, &res.resource_name, acl::op::DESCRIBE_CONFIGS)
        {
            r.error_code = c;
            r.error_message = Some(s(m));
            results.push(r);
            continue;
        }
        match res.resource_type {
            RESOURCE_TOPIC => match state.logs.topic(&res.resource_name) {
                Some(t) => {
                    let overrides = t.configs.read().clone();
                    r.configs = topic_configs(state, &overrides, keys.as_deref(), req.include_synonyms, docs);
                }
                None => {
                    r.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                    r.error_message = Some(s(format!("Topic '{}' does not exist.", res.resource_name)));
                }
            },
            RESOURCE_BROKER => {
                let name = res.resource_name.to_string();
                if !name.is_empty() && name != state.node_id().to_string() {
                    r.error_code = code::INVALID_REQUEST;
                    r.error_message = Some(s(format!(
                        "Unexpected broker id, expected {} or empty string, but received {name}",
                        state.node_id()
                    )));
                } else {
                    r.configs =
                        broker_configs(state, keys.as_deref(), req.include_synonyms, docs, name.is_empty());
                }
            }
            other => {
                r.error_code = code::INVALID_REQUEST;
                r.error_message = Some(s(format!("Unsupported resource type {other}")));
            }
        }
        results.push(r);
    }
    DescribeConfigsResponse::default().with_results(results)
}

/// DESCRIBE_CONFIGS / ALTER_CONFIGS on a topic (TOPIC_AUTHORIZATION_FAILED) or on the cluster
/// for a broker resource (CLUSTER_AUTHORIZATION_FAILED); `None` when allowed.
fn config_authz(who: &super::Who<'_>, rtype: i8, name: &str, op: i8) -> Option<(i16, &'static str)> {
    match rtype {
        RESOURCE_TOPIC if !who.may(op, acl::resource::TOPIC, name) => {
            Some((code::TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed."))
        }
        RESOURCE_BROKER if !who.may_cluster(op) => {
            Some((code::CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed."))
        }
        _ => None,
    }
}

/// The outcome for one resource: (error code, message).
type AlterOutcome = (i16, Option<String>);

/// Which dynamic scope a BROKER resource name means: "" is the cluster default, this node's id
/// is this broker; anything else is not ours.
fn broker_scope(state: &BrokerState, name: &str) -> Result<bool, AlterOutcome> {
    if name.is_empty() {
        Ok(false)
    } else if name == state.node_id().to_string() {
        Ok(true)
    } else {
        Err((
            code::INVALID_REQUEST,
            Some(format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                state.node_id()
            )),
        ))
    }
}

fn not_dynamic(state: &BrokerState, keys: &[String]) -> Option<AlterOutcome> {
    let _ = state;
    let bad: Vec<&String> = keys
        .iter()
        .filter(|k| crate::config::broker_key(k).is_some() && !crate::config::is_dynamic_broker_key(k))
        .collect();
    let unknown: Vec<&String> = keys.iter().filter(|k| crate::config::broker_key(k).is_none()).collect();
    if !unknown.is_empty() {
        return Some((
            code::INVALID_CONFIG,
            Some(format!(
                "Unknown broker configs: [{}]",
                unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )),
        ));
    }
    if !bad.is_empty() {
        return Some((
            code::INVALID_CONFIG,
            Some(format!(
                "Cannot update these configs dynamically: [{}]",
                bad.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )),
        ));
    }
    None
}

fn apply_broker(
    state: &BrokerState,
    per_broker: bool,
    values: BTreeMap<String, String>,
    validate_only: bool,
) -> AlterOutcome {
    match state.logs.alter_broker_configs(per_broker, values, validate_only) {
        Ok(()) => (code::NONE, None),
        Err(e) => (crate::protocol::error::config_error(&e), Some(e.to_string())),
    }
}

/// IncrementalAlterConfigs on a BROKER resource.
fn incremental_broker(
    state: &BrokerState,
    name: &str,
    changes: &[(String, i8, Option<String>)],
    validate_only: bool,
) -> AlterOutcome {
    let per_broker = match broker_scope(state, name) {
        Ok(p) => p,
        Err(o) => return o,
    };
    if let Some(o) = not_dynamic(state, &changes.iter().map(|c| c.0.clone()).collect::<Vec<_>>()) {
        return o;
    }
    let mut values = {
        let d = state.config.dynamic.read();
        if per_broker {
            d.broker.clone()
        } else {
            d.cluster_default.clone()
        }
    };
    for (k, op, v) in changes {
        let is_list = crate::config::broker_key(k).is_some_and(|d| d.ty == crate::config::ConfigType::List);
        let current = |vals: &BTreeMap<String, String>| vals.get(k).cloned().or_else(|| state.config.get(k));
        if let Err(e) = crate::config::apply_incremental(&mut values, k, *op, v.as_deref(), is_list, current)
        {
            return (incremental_config_error(&e), Some(e.to_string()));
        }
    }
    apply_broker(state, per_broker, values, validate_only)
}

/// Applies (name, op, value) changes to a topic's overrides: SET, DELETE, APPEND, SUBTRACT.
fn incremental_topic(
    state: &BrokerState,
    topic: &str,
    changes: &[(String, i8, Option<String>)],
    validate_only: bool,
) -> AlterOutcome {
    let Some(t) = state.logs.topic(topic) else {
        return (code::UNKNOWN_TOPIC_OR_PARTITION, Some(format!("Topic {topic} does not exist.")));
    };
    let mut overrides = t.configs.read().clone();
    let mut seen = std::collections::HashSet::new();
    for (name, op, value) in changes {
        if !seen.insert(name.clone()) {
            return (code::INVALID_REQUEST, Some(format!("Error due to duplicate config keys: {name}")));
        }
        let Some((def, _)) = crate::config::topic_key(name) else {
            return (code::INVALID_CONFIG, Some(format!("Unknown topic config name: {name}")));
        };
        let is_list = def.ty == crate::config::ConfigType::List;
        let current = |vals: &BTreeMap<String, String>| state.config.topic_value(vals, name);
        if let Err(e) =
            crate::config::apply_incremental(&mut overrides, name, *op, value.as_deref(), is_list, current)
        {
            return (incremental_config_error(&e), Some(e.to_string()));
        }
    }
    match state.logs.alter_topic_configs(topic, overrides, validate_only) {
        Ok(()) => (code::NONE, None),
        Err(e) => (crate::protocol::error::topic_error(&e), Some(e.to_string())),
    }
}

pub async fn incremental_alter_configs(
    state: &Arc<BrokerState>,
    req: kafka_protocol::messages::IncrementalAlterConfigsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> kafka_protocol::messages::IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    let mut out = Vec::with_capacity(req.resources.len());
    for r in &req.resources {
        let changes: Vec<(String, i8, Option<String>)> = r
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.config_operation, c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let refused = config_authz(who, r.resource_type, &r.resource_name, acl::op::ALTER_CONFIGS);
        let (c, m) = match r.resource_type {
            _ if refused.is_some() => refused.map(|(c, m)| (c, Some(m.to_string()))).unwrap_or_default(),
            RESOURCE_TOPIC => incremental_topic(state, &r.resource_name, &changes, req.validate_only),
            RESOURCE_BROKER => incremental_broker(state, &r.resource_name, &changes, req.validate_only),
            other => (code::INVALID_REQUEST, Some(format!("Unsupported resource type {other}"))),
        };
        out.push(
            AlterConfigsResourceResponse::default()
                .with_error_code(c)
                .with_error_message(m.map(s))
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone()),
        );
    }
    kafka_protocol::messages::IncrementalAlterConfigsResponse::default().with_responses(out)
}

/// AlterConfigs (the legacy, non-incremental API): the given set replaces all overrides.
pub async fn alter_configs(
    state: &Arc<BrokerState>,
    req: kafka_protocol::messages::AlterConfigsRequest,
    _v: i16,
    who: &super::Who<'_>,
) -> kafka_protocol::messages::AlterConfigsResponse {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    let mut out = Vec::with_capacity(req.resources.len());
    for r in &req.resources {
        let refused = config_authz(who, r.resource_type, &r.resource_name, acl::op::ALTER_CONFIGS);
        let (c, m) = match r.resource_type {
            _ if refused.is_some() => refused.map(|(c, m)| (c, Some(m.to_string()))).unwrap_or_default(),
            RESOURCE_TOPIC => match state.logs.topic(&r.resource_name) {
                None => (
                    code::UNKNOWN_TOPIC_OR_PARTITION,
                    Some(format!("Topic {} does not exist.", r.resource_name)),
                ),
                Some(_) => {
                    let mut overrides = BTreeMap::new();
                    let mut bad = None;
                    for cfg in &r.configs {
                        match &cfg.value {
                            Some(v) => {
                                overrides.insert(cfg.name.to_string(), v.to_string());
                            }
                            None => bad = Some(cfg.name.to_string()),
                        }
                    }
                    match bad {
                        Some(k) => {
                            (code::INVALID_REQUEST, Some(format!("Null value not supported for : {k}")))
                        }
                        None => match state.logs.alter_topic_configs(
                            &r.resource_name,
                            overrides,
                            req.validate_only,
                        ) {
                            Ok(()) => (code::NONE, None),
                            Err(e) => (crate::protocol::error::topic_error(&e), Some(e.to_string())),
                        },
                    }
                }
            },
            RESOURCE_BROKER => match broker_scope(state, &r.resource_name) {
                Err(o) => o,
                Ok(per_broker) => {
                    let keys: Vec<String> = r.configs.iter().map(|c| c.name.to_string()).collect();
                    match not_dynamic(state, &keys) {
                        Some(o) => o,
                        None => {
                            let values: BTreeMap<String, String> = r
                                .configs
                                .iter()
                                .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
                                .collect();
                            apply_broker(state, per_broker, values, req.validate_only)
                        }
                    }
                }
            },
            other => (code::INVALID_REQUEST, Some(format!("Unsupported resource type {other}"))),
        };
        out.push(
            AlterConfigsResourceResponse::default()
                .with_error_code(c)
                .with_error_message(m.map(s))
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone()),
        );
    }
    kafka_protocol::messages::AlterConfigsResponse::default().with_responses(out)
}
