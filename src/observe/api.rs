//! The console's JSON (`/api/...`): read-only views of a running broker. Each function answers a
//! value or an [`ApiError`] (a 4xx with a reason); none changes anything. Query parameters arrive
//! as strings and are checked here, so a nonsense request gets a 400 that says why.
use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Value};

use crate::state::BrokerState;

/// A request the broker cannot answer: the HTTP status and why.
#[derive(Debug)]
pub struct ApiError(pub u16, pub String);

fn bad(why: impl Into<String>) -> ApiError {
    ApiError(400, why.into())
}

fn not_found(why: impl Into<String>) -> ApiError {
    ApiError(404, why.into())
}

type Answer = Result<Value, ApiError>;

/// Messages per page, at most.
pub const MAX_LIMIT: usize = 500;

fn is_internal(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}

pub fn overview(st: &BrokerState, uptime_ms: u64) -> Value {
    let topics = st.logs.topics();
    let partitions: usize = topics.iter().map(|t| t.partitions.read().len()).sum();
    let groups = st.groups.view(|gs| {
        let classic = gs
            .groups()
            .filter(|g| {
                !gs.consumer.groups.contains_key(&g.group_id)
                    && g.state != crate::coordinator::group::state::GroupState::Dead
            })
            .count();
        classic + gs.consumer.groups.len()
    });
    let transactions = st.txns.view(|t| t.all().count());
    let listeners: Vec<Value> = st
        .listeners
        .iter()
        .map(|l| {
            json!({
                "name": l.spec.name,
                "protocol": l.spec.protocol.name(),
                "address": format!("{}:{}", l.advertised.0, l.advertised.1),
                "connections": l.connections.load(std::sync::atomic::Ordering::Relaxed),
            })
        })
        .collect();
    json!({
        "cluster_id": st.cluster_id(),
        "node_id": st.node_id(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_ms": uptime_ms,
        "listeners": listeners,
        "topics": topics.len(),
        "partitions": partitions,
        "groups": groups,
        "transactions": transactions,
    })
}

pub fn topics(st: &BrokerState) -> Value {
    let mut topics = st.logs.topics();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let out: Vec<Value> = topics
        .iter()
        .map(|t| {
            let parts = t.partitions.read();
            let size: u64 = parts.iter().map(|p| p.with_log(|l| l.size_bytes())).sum();
            let records: i64 = parts.iter().map(|p| p.high_watermark() - p.log_start_offset()).sum();
            let policy =
                st.config.topic_value(&t.configs.read(), "cleanup.policy").unwrap_or_else(|| "delete".into());
            json!({
                "name": t.name,
                "topic_id": t.id.to_string(),
                "internal": is_internal(&t.name),
                "partitions": parts.len(),
                "size_bytes": size,
                "records": records,
                "cleanup_policy": policy,
            })
        })
        .collect();
    Value::Array(out)
}

pub fn topic(st: &BrokerState, name: &str) -> Answer {
    let t = st.logs.topic(name).ok_or_else(|| not_found(format!("no topic {name:?}")))?;
    let overrides = t.configs.read().clone();
    let mut configs = BTreeMap::new();
    for (def, _) in crate::config::TOPIC_KEYS {
        if let Some(v) = st.config.topic_value(&overrides, def.name) {
            configs.insert(def.name.to_string(), v);
        }
    }
    let parts: Vec<Value> = t
        .partitions
        .read()
        .iter()
        .map(|p| {
            let (size, segments) = p.with_log(|l| (l.size_bytes(), l.segment_count()));
            json!({
                "partition": p.index,
                "log_start_offset": p.log_start_offset(),
                "high_watermark": p.high_watermark(),
                "last_stable_offset": p.last_stable_offset(),
                "size_bytes": size,
                "segments": segments,
            })
        })
        .collect();
    Ok(json!({
        "name": t.name,
        "topic_id": t.id.to_string(),
        "internal": is_internal(&t.name),
        "configs": configs,
        "partitions": parts,
    }))
}

fn number<T: std::str::FromStr>(q: &BTreeMap<String, String>, key: &str) -> Result<Option<T>, ApiError> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => {
            v.trim().parse::<T>().map(Some).map_err(|_| bad(format!("{key}={v:?} is not a number in range")))
        }
    }
}

fn shown(b: Option<&[u8]>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => json!({
            "base64": base64::engine::general_purpose::STANDARD.encode(b),
            "text": std::str::from_utf8(b).ok(),
        }),
    }
}

/// The message browser: records of one partition from an offset or a timestamp.
pub fn messages(st: &BrokerState, name: &str, q: &BTreeMap<String, String>) -> Answer {
    for k in q.keys() {
        if !["partition", "offset", "timestamp", "limit"].contains(&k.as_str()) {
            return Err(bad(format!("unknown parameter {k:?} (partition, offset, timestamp, limit)")));
        }
    }
    let partition: i32 = number(q, "partition")?.unwrap_or(0);
    let offset: Option<i64> = number(q, "offset")?;
    let timestamp: Option<i64> = number(q, "timestamp")?;
    let limit: usize =
        number::<i64>(q, "limit")?.unwrap_or(50).try_into().map_err(|_| bad("limit is negative"))?;
    if partition < 0 {
        return Err(bad("partition is negative"));
    }
    if offset.is_some_and(|o| o < 0) || timestamp.is_some_and(|t| t < 0) {
        return Err(bad("offset and timestamp are not negative"));
    }
    if offset.is_some() && timestamp.is_some() {
        return Err(bad("give offset or timestamp, not both"));
    }
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(format!("limit is 1 to {MAX_LIMIT}")));
    }
    let t = st.logs.topic(name).ok_or_else(|| not_found(format!("no topic {name:?}")))?;
    let p = t
        .partition(partition)
        .ok_or_else(|| not_found(format!("topic {name:?} has no partition {partition}")))?;
    let (start, hw) = (p.log_start_offset(), p.high_watermark());
    let mut from = match (offset, timestamp) {
        (_, Some(ts)) => p
            .with_log(|l| l.offset_for_timestamp(ts))
            .map_err(|e| ApiError(500, format!("reading the log: {e}")))?
            .map(|(o, _)| o)
            .unwrap_or(hw),
        (Some(o), None) => o,
        (None, None) => start,
    };
    from = from.max(start);
    let mut records = Vec::new();
    let mut next = from;
    // Page through batches until `limit` records are collected or the end is reached.
    while records.len() < limit && next < hw {
        let r = match p.read(next, 1 << 20, true) {
            Ok(r) => r,
            Err(e) => return Err(ApiError(409, format!("reading offset {next}: {e:?}"))),
        };
        if r.records.is_empty() {
            break;
        }
        let mut moved = false;
        for (pos, h) in crate::record::BatchIter::new(&r.records) {
            if h.next_offset() <= next {
                continue;
            }
            if h.is_control() {
                next = h.next_offset();
                moved = true;
                continue;
            }
            let batch = &r.records[pos..pos + h.total_len()];
            let raw = crate::record::records::decompressed_records(batch, &h)
                .map_err(|e| ApiError(409, format!("batch at {}: {e}", h.base_offset)))?;
            let parsed = crate::record::records::parse_full(&raw)
                .ok_or_else(|| ApiError(409, format!("batch at {} does not parse", h.base_offset)))?;
            for rec in parsed {
                let off = h.base_offset + rec.offset_delta as i64;
                if off < next || records.len() >= limit {
                    continue;
                }
                let ts = if h.is_log_append_time() {
                    h.max_timestamp
                } else {
                    h.base_timestamp + rec.timestamp_delta
                };
                let headers: Vec<Value> = rec
                    .headers
                    .iter()
                    .map(|(k, v)| json!({"key": String::from_utf8_lossy(k), "value": shown(*v)}))
                    .collect();
                records.push(json!({
                    "offset": off,
                    "timestamp": ts,
                    "timestamp_type": if h.is_log_append_time() { "LogAppendTime" } else { "CreateTime" },
                    "key": shown(rec.key),
                    "value": shown(rec.value),
                    "headers": headers,
                    "transactional": h.is_transactional(),
                }));
                next = off + 1;
            }
            if records.len() < limit {
                next = next.max(h.next_offset());
            }
            moved = true;
            if records.len() >= limit {
                break;
            }
        }
        if !moved {
            break;
        }
    }
    Ok(json!({
        "topic": name,
        "partition": partition,
        "log_start_offset": start,
        "high_watermark": hw,
        "records": records,
        "next_offset": next.min(hw).max(from),
    }))
}

/// (group id, protocol, state, members) of every group the coordinator knows.
fn group_rows(st: &BrokerState) -> Vec<(String, &'static str, &'static str, usize)> {
    st.groups.view(|gs| {
        let mut out: Vec<_> = gs
            .consumer
            .groups
            .values()
            .map(|g| (g.group_id.clone(), "consumer", g.state_name(), g.members.len()))
            .collect();
        for g in gs.groups() {
            if gs.consumer.groups.contains_key(&g.group_id)
                || g.state == crate::coordinator::group::state::GroupState::Dead
            {
                continue;
            }
            out.push((g.group_id.clone(), "classic", g.state.name(), g.members.len()));
        }
        out.sort();
        out
    })
}

pub fn groups(st: &BrokerState) -> Value {
    let lags = super::metrics::lags(st, None, false);
    let rows: Vec<Value> = group_rows(st)
        .into_iter()
        .map(|(id, protocol, state, members)| {
            let lag: i64 = lags.iter().filter(|l| l.group == id).map(|l| l.lag).sum();
            json!({"group_id": id, "protocol": protocol, "state": state, "members": members, "lag": lag})
        })
        .collect();
    Value::Array(rows)
}

/// A classic consumer's assignment (the consumer protocol's bytes): [(topic, partitions)].
fn classic_assignment(b: &[u8]) -> Vec<(String, Vec<i32>)> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Some(h)
    }
    let mut b = b;
    let mut out = Vec::new();
    let parse = |b: &mut &[u8], out: &mut Vec<(String, Vec<i32>)>| -> Option<()> {
        take(b, 2)?; // version
        let topics = i32::from_be_bytes(take(b, 4)?.try_into().ok()?);
        for _ in 0..topics.clamp(0, 100_000) {
            let len = i16::from_be_bytes(take(b, 2)?.try_into().ok()?);
            let name = String::from_utf8_lossy(take(b, len.max(0) as usize)?).into_owned();
            let n = i32::from_be_bytes(take(b, 4)?.try_into().ok()?);
            let mut ps = Vec::new();
            for _ in 0..n.clamp(0, 1_000_000) {
                ps.push(i32::from_be_bytes(take(b, 4)?.try_into().ok()?));
            }
            out.push((name, ps));
        }
        Some(())
    };
    let _ = parse(&mut b, &mut out);
    out
}

pub fn group(st: &BrokerState, id: &str, history: Vec<(i64, i64)>) -> Answer {
    let Some((_, protocol, state, _)) = group_rows(st).into_iter().find(|g| g.0 == id) else {
        return Err(not_found(format!("no group {id:?}")));
    };
    let names: BTreeMap<uuid::Uuid, String> =
        st.logs.topics().iter().map(|t| (t.id, t.name.clone())).collect();
    let detail = st.groups.view(|gs| {
        if let Some(g) = gs.consumer.groups.get(id) {
            let members: Vec<Value> = g
                .members
                .values()
                .map(|m| {
                    let assignment: Vec<Value> = m
                        .assigned
                        .iter()
                        .map(|(tid, ps)| json!({"topic": names.get(tid).cloned().unwrap_or_else(|| tid.to_string()), "partitions": ps}))
                        .collect();
                    json!({"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host, "assignment": assignment})
                })
                .collect();
            return json!({"protocol_type": "consumer", "assignor": g.assignor, "generation": g.group_epoch, "members": members});
        }
        match gs.group(id) {
            Some(g) => {
                let members: Vec<Value> = g
                    .members
                    .iter()
                    .map(|m| {
                        let assignment: Vec<Value> = classic_assignment(&m.assignment)
                            .into_iter()
                            .map(|(t, ps)| json!({"topic": t, "partitions": ps}))
                            .collect();
                        json!({"member_id": m.member_id, "client_id": m.client_id, "client_host": m.client_host, "assignment": assignment})
                    })
                    .collect();
                json!({"protocol_type": g.protocol_type, "assignor": g.protocol, "generation": g.generation, "members": members})
            }
            None => json!({"members": []}),
        }
    });
    let offsets: Vec<Value> = super::metrics::lags(st, Some(id), true)
        .into_iter()
        .map(|l| {
            json!({"topic": l.topic, "partition": l.partition, "committed": l.committed,
                "high_watermark": l.high_watermark, "lag": l.lag, "lag_ms": l.lag_ms})
        })
        .collect();
    let history: Vec<Value> = history.into_iter().map(|(t, lag)| json!({"t_ms": t, "lag": lag})).collect();
    Ok(json!({
        "group_id": id,
        "protocol": protocol,
        "state": state,
        "protocol_type": detail["protocol_type"],
        "assignor": detail["assignor"],
        "generation": detail["generation"],
        "members": detail["members"],
        "offsets": offsets,
        "history": history,
    }))
}

pub fn transactions(st: &BrokerState) -> Value {
    let mut rows: Vec<Value> = st.txns.view(|t| {
        t.all()
            .map(|m| {
                let parts: Vec<Value> =
                    m.partitions.iter().map(|(t, p)| json!({"topic": t, "partition": p})).collect();
                json!({
                    "transactional_id": m.transactional_id,
                    "producer_id": m.producer_id,
                    "producer_epoch": m.producer_epoch,
                    "state": m.state.name(),
                    "timeout_ms": m.timeout_ms,
                    "partitions": parts,
                })
            })
            .collect()
    });
    rows.sort_by(|a, b| a["transactional_id"].as_str().cmp(&b["transactional_id"].as_str()));
    Value::Array(rows)
}

pub fn configs(st: &BrokerState) -> Value {
    let rows: Vec<Value> = crate::config::BROKER_KEYS
        .iter()
        .map(|def| {
            let sensitive = def.ty == crate::config::ConfigType::Password;
            // The data dir and listeners always come from the command line or the config file.
            let from_start = ["log.dirs", "listeners", "advertised.listeners"].contains(&def.name);
            let source = match st.config.explicit(def.name).map(|(_, s)| s) {
                None if from_start => "static",
                None => "default",
                Some(s) if s == crate::config::source::STATIC_BROKER_CONFIG => "static",
                Some(_) => "dynamic",
            };
            let value = if sensitive { None } else { st.config.get(def.name) };
            json!({"name": def.name, "value": value, "source": source, "sensitive": sensitive})
        })
        .collect();
    Value::Array(rows)
}
