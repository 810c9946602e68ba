//! DescribeConfigs for topics and the broker: every known config with its value, source,
//! read-only flag, type, documentation and synonyms, as Kafka reports them.
use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::s;
use crate::broker::BrokerState;
use crate::config::{BROKER_KEYS, TOPIC_KEYS};
use crate::protocol::error::code;

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

/// Kafka's ConfigSource values.
pub mod source {
    pub const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    pub const DEFAULT_CONFIG: i8 = 5;
}

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
        for sname in syns.iter() {
            if let Some(v) = state.config.set.get(*sname) {
                chain.push(synonym(sname, Some(v.clone()), source::STATIC_BROKER_CONFIG));
            }
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

fn broker_configs(state: &BrokerState, keys: Option<&[String]>, synonyms: bool, docs: bool) -> Vec<DescribeConfigsResourceResult> {
    let mut out = Vec::new();
    for def in BROKER_KEYS {
        if keys.is_some_and(|k| !k.iter().any(|x| x == def.name)) {
            continue;
        }
        let explicitly = state.config.set.get(def.name).cloned();
        let value = state.config.get(def.name);
        let src = if explicitly.is_some() { source::STATIC_BROKER_CONFIG } else { source::DEFAULT_CONFIG };
        let mut r = DescribeConfigsResourceResult::default()
            .with_name(s(def.name))
            .with_value(value.clone().map(s))
            .with_read_only(def.read_only)
            .with_config_source(src)
            .with_config_type(def.ty.code());
        if synonyms {
            let mut chain = Vec::new();
            if let Some(v) = explicitly {
                chain.push(synonym(def.name, Some(v), source::STATIC_BROKER_CONFIG));
            }
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

pub async fn describe_configs(state: &Arc<BrokerState>, req: DescribeConfigsRequest, v: i16) -> DescribeConfigsResponse {
    let docs = v >= 3 && req.include_documentation;
    let mut results = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let keys: Option<Vec<String>> = res.configuration_keys.as_ref().map(|k| k.iter().map(|x| x.to_string()).collect());
        let mut r = DescribeConfigsResult::default().with_resource_type(res.resource_type).with_resource_name(res.resource_name.clone());
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
                    r.error_message = Some(s(format!("Unexpected broker id, expected {} or empty string, but received {name}", state.node_id())));
                } else {
                    r.configs = broker_configs(state, keys.as_deref(), req.include_synonyms, docs);
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
