//! `/metrics`: the broker's counters (`crate::metrics`) and its state at the moment of the scrape
//! (offsets, sizes, groups, transactions, consumer lag), in the Prometheus text format, encoded by
//! the prometheus-client crate. Names follow Kafka's JMX beans as the Prometheus JMX exporter
//! spells them (`kafka_<domain>_<type>_<name>`), and kafka_exporter's for consumer lag, so
//! dashboards made for Kafka translate; README's metrics reference lists them.
//!
//! Everything here runs per scrape, off the hot path: the request paths only bump atomics.
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::state::BrokerState;

/// Consumer lag in time needs a read of the first unconsumed record: at most this many per scrape.
const LAG_TIME_READS: usize = 4096;

/// The exposition of one broker, or of a process whose broker is not up yet (`state: None`).
pub fn render(state: Option<Arc<BrokerState>>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { state }));
    let mut out = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// Kafka's name of an API (as in its RequestMetrics beans).
pub fn api_name(api: i16) -> String {
    match kafka_protocol::messages::ApiKey::try_from(api) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("api_{api}"),
    }
}

/// Kafka's name of an error code (`NONE`, `UNKNOWN_TOPIC_OR_PARTITION`, ...).
pub fn error_name(code: i16) -> String {
    if code == 0 {
        return "NONE".into();
    }
    match kafka_protocol::error::ResponseError::try_from_code(code) {
        Some(e) => {
            let camel = format!("{e:?}");
            let mut out = String::with_capacity(camel.len() + 8);
            for (i, c) in camel.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
        None => format!("ERROR_{code}"),
    }
}

struct Scrape {
    state: Option<Arc<BrokerState>>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrape")
    }
}

type Enc<'a> = DescriptorEncoder<'a>;
type Fmt = Result<(), std::fmt::Error>;

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut Enc<'_>,
    name: &str,
    help: &str,
    series: &[(Vec<(&str, String)>, V)],
) -> Fmt {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        m.encode_family(&labels.as_slice())?.encode_gauge(v)?;
    }
    Ok(())
}

fn counter(enc: &mut Enc<'_>, name: &str, help: &str, series: &[(Vec<(&str, String)>, u64)]) -> Fmt {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        m.encode_family(&labels.as_slice())?.encode_counter::<NoLabelSet, u64, u64>(v, None)?;
    }
    Ok(())
}

fn histogram(
    enc: &mut Enc<'_>,
    name: &str,
    help: &str,
    series: &[(Vec<(&str, String)>, &crate::metrics::Histogram)],
) -> Fmt {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in series {
        let (sum, count, buckets) = h.snapshot();
        m.encode_family(&labels.as_slice())?.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    Ok(())
}

/// One partition's offsets and sizes, read once per scrape.
struct PartitionRow {
    topic: String,
    partition: i32,
    log_start: i64,
    log_end: i64,
    stable: i64,
    size: u64,
    segments: usize,
    dirty: Option<(u64, u64)>,
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let version = vec![("version", env!("CARGO_PKG_VERSION").to_string())];
        gauge(&mut enc, "odradek_build_info", "The broker's version.", &[(version, 1i64)])?;
        gauge(
            &mut enc,
            "odradek_ready",
            "1 once recovery has finished and every listener is bound.",
            &[(vec![], self.state.is_some() as i64)],
        )?;
        let Some(st) = &self.state else { return Ok(()) };
        let m = &st.metrics;
        requests(&mut enc, m)?;
        let rows = partitions(st);
        topics(&mut enc, st)?;
        logs(&mut enc, &rows)?;
        histogram(
            &mut enc,
            "kafka_log_logflushstats_logflushrateandtime_seconds",
            "Time one fsync of a partition log took (Kafka's LogFlushRateAndTimeMs).",
            &[(vec![], &m.fsync)],
        )?;
        histogram(
            &mut enc,
            "odradek_log_flush_batch_size",
            "Sync requests (acks=all appends waiting) one fsync answered: the group commit's batch.",
            &[(vec![], &m.flush_batch)],
        )?;
        gauge(
            &mut enc,
            "kafka_server_delayedoperationpurgatory_purgatorysize",
            "Requests parked waiting (Kafka's purgatory size): fetches waiting for data.",
            &[(vec![("delayedoperation", "Fetch".to_string())], m.fetch_waiters.load(Relaxed))],
        )?;
        let conns: Vec<_> = st
            .listeners
            .iter()
            .map(|l| (vec![("listener", l.spec.name.clone())], l.connections.load(Relaxed)))
            .collect();
        gauge(
            &mut enc,
            "kafka_server_socketservermetrics_connection_count",
            "Connections open now.",
            &conns,
        )?;
        let accepted: Vec<_> = st
            .listeners
            .iter()
            .map(|l| (vec![("listener", l.spec.name.clone())], l.accepted.load(Relaxed)))
            .collect();
        counter(
            &mut enc,
            "kafka_server_socketservermetrics_connection_creation",
            "Connections accepted.",
            &accepted,
        )?;
        cleaner(&mut enc, m, &rows)?;
        groups(&mut enc, st)?;
        transactions(&mut enc, st)?;
        lag(&mut enc, st)?;
        Ok(())
    }
}

fn requests(enc: &mut Enc<'_>, m: &crate::metrics::Metrics) -> Fmt {
    let by_version: Vec<_> = m
        .requests()
        .into_iter()
        .map(|(api, v, n)| (vec![("request", api_name(api)), ("version", v.to_string())], n))
        .collect();
    counter(enc, "kafka_network_requestmetrics_requests", "Requests read, by API and version.", &by_version)?;
    let errors: Vec<_> = m
        .errors()
        .into_iter()
        .map(|(api, code, n)| (vec![("request", api_name(api)), ("error", error_name(code))], n))
        .collect();
    counter(
        enc,
        "kafka_network_requestmetrics_errors",
        "Error codes in answers (NONE included), once per partition or resource, as Kafka's ErrorsPerSec.",
        &errors,
    )?;
    let mut apis: Vec<i16> = m.requests().into_iter().map(|(a, _, _)| a).collect();
    apis.dedup();
    let lat: Vec<_> =
        apis.iter().filter_map(|a| m.latency(*a).map(|h| (vec![("request", api_name(*a))], h))).collect();
    histogram(
        enc,
        "kafka_network_requestmetrics_totaltime_seconds",
        "Time from a request being taken to its answer written (an acks=all produce includes its fsync).",
        &lat,
    )
}

fn partitions(st: &BrokerState) -> Vec<PartitionRow> {
    let mut rows = Vec::new();
    let mut topics = st.logs.topics();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    for t in topics {
        for p in t.partitions.read().iter() {
            let cleaned_to = p.cleaner_offset();
            let (size, segments, dirty) = p.with_log(|l| {
                let dirty = l.config().compact.then(|| {
                    let sealed = l.sealed_segments(i64::MAX);
                    let total: u64 = sealed.iter().map(|s| s.size as u64).sum();
                    let dirty: u64 =
                        sealed.iter().filter(|s| s.next_offset > cleaned_to).map(|s| s.size as u64).sum();
                    (dirty, total)
                });
                (l.size_bytes(), l.segment_count(), dirty)
            });
            rows.push(PartitionRow {
                topic: t.name.clone(),
                partition: p.index,
                log_start: p.log_start_offset(),
                log_end: p.high_watermark(),
                stable: p.last_stable_offset(),
                size,
                segments,
                dirty,
            });
        }
    }
    rows
}

fn topics(enc: &mut Enc<'_>, st: &BrokerState) -> Fmt {
    let mut sums: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for t in st.logs.topics() {
        let e = sums.entry(t.name.clone()).or_default();
        for p in t.partitions.read().iter() {
            let tr = &p.traffic;
            e[0] += tr.bytes_in.load(Relaxed);
            e[1] += tr.bytes_out.load(Relaxed);
            e[2] += tr.messages_in.load(Relaxed);
            e[3] += tr.messages_out.load(Relaxed);
        }
    }
    let col = |i: usize| -> Vec<(Vec<(&str, String)>, u64)> {
        sums.iter().map(|(t, v)| (vec![("topic", t.clone())], v[i])).collect()
    };
    counter(
        enc,
        "kafka_server_brokertopicmetrics_bytesin",
        "Record batch bytes appended by producers.",
        &col(0),
    )?;
    counter(
        enc,
        "kafka_server_brokertopicmetrics_bytesout",
        "Record batch bytes returned by fetches.",
        &col(1),
    )?;
    counter(enc, "kafka_server_brokertopicmetrics_messagesin", "Records appended by producers.", &col(2))?;
    counter(
        enc,
        "kafka_server_brokertopicmetrics_messagesout",
        "Records returned by fetches (control records not counted).",
        &col(3),
    )
}

fn labels(r: &PartitionRow) -> Vec<(&'static str, String)> {
    vec![("topic", r.topic.clone()), ("partition", r.partition.to_string())]
}

fn logs(enc: &mut Enc<'_>, rows: &[PartitionRow]) -> Fmt {
    let col = |f: &dyn Fn(&PartitionRow) -> i64| -> Vec<(Vec<(&str, String)>, i64)> {
        rows.iter().map(|r| (labels(r), f(r))).collect()
    };
    gauge(enc, "kafka_log_log_logstartoffset", "First offset of the log.", &col(&|r| r.log_start))?;
    gauge(enc, "kafka_log_log_logendoffset", "Offset the next record will get.", &col(&|r| r.log_end))?;
    gauge(
        enc,
        "kafka_log_log_highwatermark",
        "Offset up to which records are committed (the log end on one node).",
        &col(&|r| r.log_end),
    )?;
    gauge(
        enc,
        "kafka_log_log_laststableoffset",
        "Offset below which every transaction is decided (read_committed reads stop here).",
        &col(&|r| r.stable),
    )?;
    gauge(enc, "kafka_log_log_size", "Bytes of the log's segments.", &col(&|r| r.size as i64))?;
    gauge(enc, "kafka_log_log_numlogsegments", "Segments of the log.", &col(&|r| r.segments as i64))
}

fn cleaner(enc: &mut Enc<'_>, m: &crate::metrics::Metrics, rows: &[PartitionRow]) -> Fmt {
    counter(
        enc,
        "kafka_log_logcleaner_cleaned_bytes",
        "Bytes of segments the compactor rewrote.",
        &[(vec![], m.cleaner_bytes_cleaned.load(Relaxed))],
    )?;
    counter(
        enc,
        "kafka_log_logcleaner_passes",
        "Compaction passes that rewrote a partition.",
        &[(vec![], m.cleaner_passes.load(Relaxed))],
    )?;
    let dirty: Vec<_> = rows.iter().filter_map(|r| r.dirty.map(|(d, _)| (labels(r), d as i64))).collect();
    let max_pct = rows
        .iter()
        .filter_map(|r| r.dirty.filter(|(_, t)| *t > 0).map(|(d, t)| d as f64 * 100.0 / t as f64))
        .fold(0.0f64, f64::max);
    gauge(
        enc,
        "kafka_log_logcleanermanager_max_dirty_percent",
        "The largest share of sealed bytes not yet compacted, over compacted partitions.",
        &[(vec![], max_pct)],
    )?;
    gauge(
        enc,
        "kafka_log_logcleanermanager_dirty_bytes",
        "Sealed bytes of a compacted partition not yet compacted (the cleaner's lag).",
        &dirty,
    )
}

fn groups(enc: &mut Enc<'_>, st: &BrokerState) -> Fmt {
    let counts: BTreeMap<(&'static str, &'static str), i64> = st.groups.view(|gs| {
        let mut c = BTreeMap::new();
        for g in gs.consumer.groups.values() {
            *c.entry(("consumer", g.state_name())).or_insert(0) += 1;
        }
        for g in gs.groups() {
            if gs.consumer.groups.contains_key(&g.group_id)
                || g.state == crate::coordinator::group::state::GroupState::Dead
            {
                continue;
            }
            *c.entry(("classic", g.state.name())).or_insert(0) += 1;
        }
        c
    });
    let series: Vec<_> = counts
        .into_iter()
        .map(|((p, s), n)| (vec![("protocol", p.to_string()), ("state", s.to_string())], n))
        .collect();
    gauge(enc, "kafka_coordinator_group_groups", "Consumer groups by protocol and state.", &series)?;
    let m = &st.metrics;
    counter(
        enc,
        "kafka_coordinator_group_rebalances",
        "Rebalances begun (classic: a PreparingRebalance; consumer: a new group epoch).",
        &[
            (vec![("protocol", "classic".to_string())], m.rebalances_classic.load(Relaxed)),
            (vec![("protocol", "consumer".to_string())], m.rebalances_consumer.load(Relaxed)),
        ],
    )
}

fn transactions(enc: &mut Enc<'_>, st: &BrokerState) -> Fmt {
    let counts: BTreeMap<&'static str, i64> = st.txns.view(|t| {
        let mut c = BTreeMap::new();
        for m in t.all() {
            *c.entry(m.state.name()).or_insert(0) += 1;
        }
        c
    });
    let series: Vec<_> = counts.into_iter().map(|(s, n)| (vec![("state", s.to_string())], n)).collect();
    gauge(
        enc,
        "kafka_coordinator_transaction_transactions",
        "Transactional ids by the state of their transaction.",
        &series,
    )
}

/// One group's committed offset on one partition, with its lag.
pub struct Lag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    pub high_watermark: i64,
    pub lag: i64,
    /// now − timestamp of the first record not consumed (0 when caught up; None when unknown).
    pub lag_ms: Option<i64>,
}

/// Every committed offset of every group (of `only` group, if given), with lag in records and time.
pub fn lags(st: &BrokerState, only: Option<&str>, with_time: bool) -> Vec<Lag> {
    let committed: Vec<(String, String, i32, i64)> = st.groups.view(|gs| {
        let mut out = Vec::new();
        for g in gs.groups() {
            if only.is_some_and(|o| o != g.group_id) {
                continue;
            }
            for ((t, p), c) in &g.offsets {
                out.push((g.group_id.clone(), t.clone(), *p, c.offset));
            }
        }
        out
    });
    let now = st.logs.now_ms();
    let mut reads = 0;
    let mut out = Vec::with_capacity(committed.len());
    for (group, topic, partition, offset) in committed {
        let Some(p) = st.logs.topic(&topic).and_then(|t| t.partition(partition)) else { continue };
        let hw = p.high_watermark();
        let lag = (hw - offset.max(p.log_start_offset())).max(0);
        let lag_ms = if lag == 0 {
            Some(0)
        } else if with_time && reads < LAG_TIME_READS {
            reads += 1;
            first_timestamp_at(&p, offset.max(p.log_start_offset())).map(|ts| (now - ts).max(0))
        } else {
            None
        };
        out.push(Lag { group, topic, partition, committed: offset, high_watermark: hw, lag, lag_ms });
    }
    out.sort_by(|a, b| (&a.group, &a.topic, a.partition).cmp(&(&b.group, &b.topic, b.partition)));
    out
}

/// The timestamp of the first data record at or after `offset`.
pub fn first_timestamp_at(p: &crate::log::Partition, offset: i64) -> Option<i64> {
    let mut at = offset;
    // A few batches at most: markers and compacted gaps are skipped.
    for _ in 0..8 {
        let r = p.read(at, 1, true).ok()?;
        let mut last_next = None;
        for (pos, h) in crate::record::BatchIter::new(&r.records) {
            last_next = Some(h.next_offset());
            if h.is_control() || h.next_offset() <= at {
                continue;
            }
            let batch = &r.records[pos..pos + h.total_len()];
            let raw = crate::record::records::decompressed_records(batch, &h).ok()?;
            for rec in crate::record::records::parse_records(&raw)? {
                if h.base_offset + rec.offset_delta as i64 >= at {
                    return Some(if h.is_log_append_time() {
                        h.max_timestamp
                    } else {
                        h.base_timestamp + rec.timestamp_delta
                    });
                }
            }
        }
        at = last_next?;
    }
    None
}

fn lag(enc: &mut Enc<'_>, st: &BrokerState) -> Fmt {
    let rows = lags(st, None, true);
    let l = |r: &Lag| {
        vec![
            ("consumergroup", r.group.clone()),
            ("topic", r.topic.clone()),
            ("partition", r.partition.to_string()),
        ]
    };
    let cur: Vec<_> = rows.iter().map(|r| (l(r), r.committed)).collect();
    gauge(enc, "kafka_consumergroup_current_offset", "The group's committed offset.", &cur)?;
    let lag: Vec<_> = rows.iter().map(|r| (l(r), r.lag)).collect();
    gauge(
        enc,
        "kafka_consumergroup_lag",
        "Records not yet consumed: high watermark − committed offset.",
        &lag,
    )?;
    let secs: Vec<_> = rows.iter().filter_map(|r| r.lag_ms.map(|ms| (l(r), ms as f64 / 1000.0))).collect();
    gauge(
        enc,
        "kafka_consumergroup_lag_seconds",
        "Age of the first record not yet consumed (0 when caught up).",
        &secs,
    )?;
    let members: Vec<_> = st.groups.view(|gs| {
        let mut out: Vec<(Vec<(&str, String)>, i64)> = gs
            .consumer
            .groups
            .values()
            .map(|g| (vec![("consumergroup", g.group_id.clone())], g.members.len() as i64))
            .collect();
        for g in gs.groups() {
            if !gs.consumer.groups.contains_key(&g.group_id) {
                out.push((vec![("consumergroup", g.group_id.clone())], g.members.len() as i64));
            }
        }
        out.sort();
        out
    });
    gauge(enc, "kafka_consumergroup_members", "Members of the group now.", &members)
}
