//! Broker and topic configuration: Kafka's key names, Kafka's defaults, validation and limits.
//!
//! Owns: the one table of every config key Odradek understands ([`BROKER_KEYS`], [`TOPIC_KEYS`]),
//! parsing of `server.properties` and `--set key=value`, and resolving a topic's effective settings
//! (topic override > dynamic per-broker > dynamic cluster default > static broker synonym >
//! default) into a [`LogConfig`]; [`BrokerConfig::setting`] reads a numeric key with the table's
//! default, the one default each key has.
//! Must not: touch files other than the properties file it is asked to read.
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    Int,
    Long,
    Double,
    Str,
    List,
    Password,
}

impl ConfigType {
    /// Kafka's DescribeConfigs type code.
    pub fn code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::Str => 2,
            ConfigType::Int => 3,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Password => 9,
        }
    }
}

/// One known key: its type, default (None = null in Kafka), minimum for numbers, and the allowed
/// values for enumerations.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    pub ty: ConfigType,
    pub default: Option<&'static str>,
    pub min: Option<f64>,
    pub allowed: &'static [&'static str],
    pub read_only: bool,
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    ty: ConfigType,
    default: Option<&'static str>,
    min: Option<f64>,
    doc: &'static str,
) -> KeyDef {
    KeyDef { name, ty, default, min, allowed: &[], read_only: false, doc }
}
const fn ro(mut k: KeyDef) -> KeyDef {
    k.read_only = true;
    k
}
const fn one_of(mut k: KeyDef, allowed: &'static [&'static str]) -> KeyDef {
    k.allowed = allowed;
    k
}

use ConfigType::*;

const LONG_MAX: &str = "9223372036854775807";
const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];
const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];

/// Broker keys, with Kafka 4.x defaults.
pub const BROKER_KEYS: &[KeyDef] = &[
    // Several brokers over etcd and an object store (feature `cluster`, docs/cluster.md). A broker
    // built without the feature refuses to start when these are set.
    ro(key("cluster.metadata.endpoints", List, None, None, "etcd client URLs (comma-separated): set, the broker joins a cluster.")),
    ro(key("cluster.metadata.prefix", Str, Some("/odradek"), None, "The etcd key prefix of the cluster's metadata.")),
    ro(key("cluster.storage.url", Str, None, None, "Where the cluster keeps its data: s3://bucket/prefix, file:///dir or memory://.")),
    ro(key("cluster.storage.endpoint", Str, None, None, "The S3 endpoint URL (an S3-compatible server); unset: AWS.")),
    ro(key("cluster.storage.region", Str, Some("us-east-1"), None, "The S3 region.")),
    ro(key("cluster.storage.access.key.id", Str, None, None, "The S3 access key id (unset: the AWS environment).")),
    ro(key("cluster.storage.secret.access.key", Password, None, None, "The S3 secret access key.")),
    ro(key("cluster.storage.allow.http", Boolean, Some("false"), None, "Allow a plain-HTTP S3 endpoint.")),
    ro(key("cluster.lease.ms", Long, Some("6000"), Some(1000.0), "A broker's lease in etcd: its partitions move once it has been silent this long.")),
    ro(key("cluster.commit.linger.ms", Long, Some("2"), Some(0.0), "How long the uploader gathers appends before it writes a WAL object.")),
    ro(key("node.id", Int, Some("1"), Some(0.0), "The node id of this broker.")),
    ro(key("broker.id", Int, Some("1"), Some(0.0), "Synonym of node.id.")),
    ro(key("process.roles", List, Some("broker,controller"), None, "A single combined node.")),
    ro(key("log.dirs", Str, None, None, "The data directory (--data-dir).")),
    ro(key("listeners", Str, None, None, "Listeners to bind, NAME://HOST:PORT,... (--listen is the shorthand for one PLAINTEXT listener).")),
    ro(key("advertised.listeners", Str, None, None, "Addresses advertised to clients, per listener name.")),
    ro(key("listener.security.protocol.map", Str, Some("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"), None, "Listener name to security protocol.")),
    ro(key("controller.listener.names", Str, None, None, "Controller listeners: not bound (no KRaft controller here).")),
    ro(key("inter.broker.listener.name", Str, None, None, "Accepted; one node has no inter-broker traffic.")),
    ro(key("security.inter.broker.protocol", Str, Some("PLAINTEXT"), None, "Accepted; one node has no inter-broker traffic.")),
    ro(key("sasl.enabled.mechanisms", List, Some("GSSAPI"), None, "SASL mechanisms of SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (GSSAPI, Kafka's default, is refused).")),
    ro(key("sasl.mechanism.inter.broker.protocol", Str, Some("GSSAPI"), None, "Accepted; one node has no inter-broker traffic.")),
    ro(key("sasl.jaas.config", Password, None, None, "JAAS line; on a broker only the listener- and mechanism-prefixed form is read.")),
    ro(key("sasl.server.callback.handler.class", Str, None, None, "Only OAuthBearerValidatorCallbackHandler, for OAUTHBEARER (listener- and mechanism-prefixed).")),
    ro(key("sasl.oauthbearer.jwks.endpoint.url", Str, None, None, "JWKS of the token issuer, as a file: URL.")),
    ro(key("sasl.oauthbearer.expected.audience", List, None, None, "Accepted aud values of signed tokens.")),
    ro(key("sasl.oauthbearer.expected.issuer", Str, None, None, "The iss value signed tokens must carry.")),
    ro(key("sasl.oauthbearer.sub.claim.name", Str, Some("sub"), None, "The claim naming the principal.")),
    ro(key("sasl.oauthbearer.scope.claim.name", Str, Some("scope"), None, "The claim listing scopes.")),
    ro(key("sasl.oauthbearer.clock.skew.seconds", Int, Some("30"), Some(0.0), "Leeway for exp/nbf/iat of signed tokens.")),
    ro(key("connections.max.reauth.ms", Long, Some("0"), Some(0.0), "SASL session lifetime; clients re-authenticate before it ends (KIP-368). 0: no limit.")),
    ro(key("connection.failed.authentication.delay.ms", Int, Some("100"), Some(0.0), "Delay of the answer and the close after a failed login.")),
    ro(key("ssl.keystore.type", Str, Some("JKS"), None, "PEM or PKCS12 (JKS files are refused; unset or JKS: told apart by content).")),
    ro(key("ssl.keystore.location", Str, None, None, "The listener's certificate and key (PEM or PKCS12 file).")),
    ro(key("ssl.keystore.password", Password, None, None, "Password of a PKCS12 keystore.")),
    ro(key("ssl.key.password", Password, None, None, "Password of an encrypted PKCS#8 key.")),
    ro(key("ssl.keystore.certificate.chain", Password, None, None, "Inline PEM certificate chain.")),
    ro(key("ssl.keystore.key", Password, None, None, "Inline PEM private key.")),
    ro(key("ssl.truststore.type", Str, Some("JKS"), None, "PEM or PKCS12.")),
    ro(key("ssl.truststore.location", Str, None, None, "CA certificates that sign client certificates.")),
    ro(key("ssl.truststore.password", Password, None, None, "Password of a PKCS12 truststore.")),
    ro(key("ssl.truststore.certificates", Password, None, None, "Inline PEM trusted certificates.")),
    ro(one_of(key("ssl.client.auth", Str, Some("none"), None, "Client certificates: none, requested or required."), &["none", "requested", "required"])),
    ro(key("ssl.enabled.protocols", List, Some("TLSv1.2,TLSv1.3"), None, "TLSv1.2 and/or TLSv1.3 (older ones are refused).")),
    ro(key("ssl.protocol", Str, Some("TLSv1.3"), None, "Accepted; ssl.enabled.protocols decides.")),
    ro(key("ssl.cipher.suites", List, Some(""), None, "IANA names of suites rustls offers; empty: all of them.")),
    ro(key("ssl.principal.mapping.rules", Str, Some("DEFAULT"), None, "RULE:pattern/replacement/[LU],...,DEFAULT for client-certificate principals.")),
    ro(key("ssl.endpoint.identification.algorithm", Str, Some("https"), None, "Accepted; for clients (the broker makes no TLS connections).")),
    ro(key("super.users", Str, None, None, "Principals allowed everything when ACLs are on, separated by ';' (User:admin;User:ops).")),
    ro(key("authorizer.class.name", Str, Some(""), None, "org.apache.kafka.metadata.authorizer.StandardAuthorizer (or acl) switches ACLs on; other classes stop the start.")),
    ro(key("allow.everyone.if.no.acl.found", Boolean, Some("false"), None, "With ACLs on: a resource no ACL names is open to everyone.")),
    key("num.partitions", Int, Some("1"), Some(1.0), "Default partitions for new topics."),
    key("auto.create.topics.enable", Boolean, Some("true"), None, "Create topics on Metadata requests."),
    key("default.replication.factor", Int, Some("1"), Some(1.0), "Default replication factor."),
    key("min.insync.replicas", Int, Some("1"), Some(1.0), "Minimum in-sync replicas for acks=all."),
    key("message.max.bytes", Int, Some("1048588"), Some(0.0), "Largest record batch accepted."),
    ro(key("socket.request.max.bytes", Int, Some("104857600"), Some(1.0), "Largest request frame accepted.")),
    ro(key("queued.max.request.bytes", Long, Some("268435456"), Some(-1.0), "Bytes of requests in flight and answers not yet written, over all connections, before the broker stops reading sockets (-1: no bound, Kafka's default; Odradek's default is 256 MiB).")),
    ro(key("max.connections", Int, Some("2147483647"), Some(0.0), "Connections accepted at once; past it the broker stops accepting until one closes.")),
    ro(key("max.connections.per.ip", Int, Some("2147483647"), Some(0.0), "Connections from one IP address; past it new ones are closed at once.")),
    ro(key("max.connections.per.ip.overrides", Str, Some(""), None, "Per-IP limits, as ip:count,ip:count (IP addresses only).")),
    ro(key("connections.max.idle.ms", Long, Some("600000"), Some(-1.0), "Close a connection with no request and no answer written for this long (-1: never).")),
    ro(key("socket.listen.backlog.size", Int, Some("50"), Some(1.0), "Pending connections the listen socket queues.")),
    ro(key("socket.request.read.timeout.ms", Long, Some("30000"), Some(1.0), "Odradek's own: a request frame must arrive whole within this long of its first byte, or the connection closes.")),
    ro(key("max.broker.partitions", Int, None, Some(1.0), "Partitions this broker holds at most (KIP-578's name); unset: what the file-descriptor limit allows.")),
    ro(key("max.partitions.per.request", Int, Some("100000"), Some(1.0), "Odradek's own: new partitions one CreateTopics or CreatePartitions request may ask for, in all.")),
    key("log.segment.bytes", Int, Some("1073741824"), Some(14.0), "Segment size before a roll."),
    key("log.roll.ms", Long, None, Some(1.0), "Segment age before a roll (overrides log.roll.hours)."),
    key("log.roll.hours", Int, Some("168"), Some(1.0), "Segment age before a roll, in hours."),
    key("log.roll.jitter.ms", Long, None, Some(0.0), "Jitter for time-based rolls."),
    key("log.index.interval.bytes", Int, Some("4096"), Some(0.0), "Bytes between offset index entries."),
    key("log.index.size.max.bytes", Int, Some("10485760"), Some(4.0), "Index size limit."),
    key("log.flush.interval.messages", Long, Some(LONG_MAX), Some(1.0), "Messages before an fsync."),
    key("log.flush.interval.ms", Long, None, Some(0.0), "Time before an fsync."),
    key("log.flush.scheduler.interval.ms", Long, Some(LONG_MAX), Some(0.0), "How often the flush policy is checked."),
    ro(key("log.flush.offset.checkpoint.interval.ms", Int, Some("60000"), Some(0.0), "How often the recovery point is checkpointed.")),
    one_of(key("log.message.timestamp.type", Str, Some("CreateTime"), None, "CreateTime or LogAppendTime."), TIMESTAMP_TYPES),
    key("log.message.timestamp.before.max.ms", Long, Some(LONG_MAX), Some(0.0), "How far in the past a timestamp may be."),
    key("log.message.timestamp.after.max.ms", Long, Some("3600000"), Some(0.0), "How far in the future a timestamp may be."),
    key("log.retention.ms", Long, None, Some(-1.0), "Retention time (overrides minutes and hours)."),
    key("log.retention.minutes", Int, None, Some(-1.0), "Retention time in minutes."),
    key("log.retention.hours", Int, Some("168"), Some(-1.0), "Retention time in hours."),
    key("log.retention.bytes", Long, Some("-1"), None, "Retention size per partition."),
    key("log.cleanup.policy", List, Some("delete"), None, "delete, compact or both."),
    key("log.cleaner.delete.retention.ms", Long, Some("86400000"), Some(0.0), "How long tombstones are kept."),
    key("log.cleaner.min.compaction.lag.ms", Long, Some("0"), Some(0.0), "Minimum age before compaction."),
    key("log.cleaner.max.compaction.lag.ms", Long, Some(LONG_MAX), Some(1.0), "Maximum age before compaction."),
    key("log.cleaner.min.cleanable.ratio", Double, Some("0.5"), Some(0.0), "Dirty ratio that triggers cleaning."),
    key("log.cleaner.dedupe.buffer.size", Long, Some("134217728"), Some(1024.0), "Memory bound of the compactor's key map."),
    key("log.cleaner.backoff.ms", Long, Some("15000"), Some(0.0), "How often the compactor looks for dirty logs."),
    key("log.retention.check.interval.ms", Long, Some("300000"), Some(1.0), "How often retention runs."),
    key("log.segment.delete.delay.ms", Long, Some("60000"), Some(0.0), "Delay before deleted segment files are removed."),
    key("log.preallocate", Boolean, Some("false"), None, "Preallocate segment files."),
    key("log.local.retention.ms", Long, Some("-2"), Some(-2.0), "Local retention time (tiered storage)."),
    key("log.local.retention.bytes", Long, Some("-2"), Some(-2.0), "Local retention size (tiered storage)."),
    one_of(key("compression.type", Str, Some("producer"), None, "Final compression; only producer is served."), COMPRESSION_TYPES),
    key("unclean.leader.election.enable", Boolean, Some("false"), None, "Unclean leader election."),
    key("fetch.max.bytes", Int, Some("57671680"), Some(1024.0), "Largest fetch response."),
    key("offsets.topic.num.partitions", Int, Some("50"), Some(1.0), "Partitions of __consumer_offsets."),
    key("offsets.retention.minutes", Int, Some("10080"), Some(1.0), "How long offsets of an empty group are kept."),
    key("offset.metadata.max.bytes", Int, Some("4096"), Some(0.0), "Largest metadata string of a committed offset."),
    key("group.min.session.timeout.ms", Int, Some("6000"), Some(0.0), "Smallest session timeout a member may ask for."),
    key("group.max.session.timeout.ms", Int, Some("1800000"), Some(0.0), "Largest session timeout a member may ask for."),
    key("group.initial.rebalance.delay.ms", Int, Some("3000"), Some(0.0), "How long the first rebalance of an empty group waits for more members."),
    key("group.max.size", Int, Some("2147483647"), Some(1.0), "Most members in one group."),
    key("group.consumer.session.timeout.ms", Int, Some("45000"), Some(1.0), "Session timeout of consumer-protocol (KIP-848) members."),
    key("group.consumer.heartbeat.interval.ms", Int, Some("5000"), Some(1.0), "Heartbeat interval given to consumer-protocol members."),
    key("transaction.max.timeout.ms", Int, Some("900000"), Some(1.0), "Largest transaction timeout."),
    key("transaction.version", Int, Some("2"), Some(0.0), "The finalized level of Kafka's transaction.version feature (what kafka-features.sh sets): 2 lets KIP-890 clients use transactions version 2, 0 or 1 keeps every client on version 1."),
    key("transaction.state.log.num.partitions", Int, Some("50"), Some(1.0), "Partitions of __transaction_state."),
    key("producer.id.expiration.ms", Int, Some("86400000"), Some(1.0), "Idle time before producer state expires."),
    key("delete.topic.enable", Boolean, Some("true"), None, "Allow topic deletion."),
];

/// Topic keys: (definition, broker synonyms in precedence order).
pub const TOPIC_KEYS: &[(KeyDef, &[&str])] = &[
    (key("cleanup.policy", List, Some("delete"), None, ""), &["log.cleanup.policy"]),
    (
        one_of(key("compression.type", Str, Some("producer"), None, ""), COMPRESSION_TYPES),
        &["compression.type"],
    ),
    (key("delete.retention.ms", Long, Some("86400000"), Some(0.0), ""), &["log.cleaner.delete.retention.ms"]),
    (key("file.delete.delay.ms", Long, Some("60000"), Some(0.0), ""), &["log.segment.delete.delay.ms"]),
    (key("flush.messages", Long, Some(LONG_MAX), Some(1.0), ""), &["log.flush.interval.messages"]),
    (key("flush.ms", Long, Some(LONG_MAX), Some(0.0), ""), &["log.flush.interval.ms"]),
    (key("follower.replication.throttled.replicas", List, Some(""), None, ""), &[]),
    (key("index.interval.bytes", Int, Some("4096"), Some(0.0), ""), &["log.index.interval.bytes"]),
    (key("leader.replication.throttled.replicas", List, Some(""), None, ""), &[]),
    (key("local.retention.bytes", Long, Some("-2"), Some(-2.0), ""), &["log.local.retention.bytes"]),
    (key("local.retention.ms", Long, Some("-2"), Some(-2.0), ""), &["log.local.retention.ms"]),
    (
        key("max.compaction.lag.ms", Long, Some(LONG_MAX), Some(1.0), ""),
        &["log.cleaner.max.compaction.lag.ms"],
    ),
    (key("max.message.bytes", Int, Some("1048588"), Some(0.0), ""), &["message.max.bytes"]),
    (
        key("message.timestamp.after.max.ms", Long, Some("3600000"), Some(0.0), ""),
        &["log.message.timestamp.after.max.ms"],
    ),
    (
        key("message.timestamp.before.max.ms", Long, Some(LONG_MAX), Some(0.0), ""),
        &["log.message.timestamp.before.max.ms"],
    ),
    (
        one_of(key("message.timestamp.type", Str, Some("CreateTime"), None, ""), TIMESTAMP_TYPES),
        &["log.message.timestamp.type"],
    ),
    (
        key("min.cleanable.dirty.ratio", Double, Some("0.5"), Some(0.0), ""),
        &["log.cleaner.min.cleanable.ratio"],
    ),
    (key("min.compaction.lag.ms", Long, Some("0"), Some(0.0), ""), &["log.cleaner.min.compaction.lag.ms"]),
    (key("min.insync.replicas", Int, Some("1"), Some(1.0), ""), &["min.insync.replicas"]),
    (key("preallocate", Boolean, Some("false"), None, ""), &["log.preallocate"]),
    (key("remote.storage.enable", Boolean, Some("false"), None, ""), &[]),
    (key("retention.bytes", Long, Some("-1"), None, ""), &["log.retention.bytes"]),
    (
        key("retention.ms", Long, Some("604800000"), Some(-1.0), ""),
        &["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
    ),
    (key("segment.bytes", Int, Some("1073741824"), Some(14.0), ""), &["log.segment.bytes"]),
    (key("segment.index.bytes", Int, Some("10485760"), Some(4.0), ""), &["log.index.size.max.bytes"]),
    (key("segment.jitter.ms", Long, Some("0"), Some(0.0), ""), &["log.roll.jitter.ms"]),
    (key("segment.ms", Long, Some("604800000"), Some(1.0), ""), &["log.roll.ms", "log.roll.hours"]),
    (
        key("unclean.leader.election.enable", Boolean, Some("false"), None, ""),
        &["unclean.leader.election.enable"],
    ),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("Unknown topic config name: {0}")]
    UnknownKey(String),
    #[error("Invalid value {value} for configuration {key}: {reason}")]
    InvalidValue { key: String, value: String, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

/// Bounds of the network layer (see [`BrokerConfig::net_limits`]).
#[derive(Debug, Clone)]
pub struct NetLimits {
    pub max_connections: usize,
    pub per_ip: usize,
    pub per_ip_overrides: std::collections::HashMap<std::net::IpAddr, usize>,
    pub idle: Option<std::time::Duration>,
    pub read_timeout: std::time::Duration,
    pub backlog: u32,
    /// `None`: unbounded (queued.max.request.bytes=-1).
    pub queued_bytes: Option<usize>,
}

impl NetLimits {
    pub fn per_ip_limit(&self, ip: std::net::IpAddr) -> usize {
        self.per_ip_overrides.get(&ip).copied().unwrap_or(self.per_ip)
    }
}

/// Checks `value` against the key's type, minimum and allowed values.
pub fn validate(def: &KeyDef, value: &str) -> Result<(), ConfigError> {
    let bad =
        |reason: String| ConfigError::InvalidValue { key: def.name.into(), value: value.into(), reason };
    let v = value.trim();
    let number = match def.ty {
        Boolean => {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return Err(bad("Expected value to be either true or false".into()));
            }
            None
        }
        Int => Some(v.parse::<i32>().map_err(|_| bad("Not a number of type INT".into()))? as f64),
        Long => Some(v.parse::<i64>().map_err(|_| bad("Not a number of type LONG".into()))? as f64),
        Double => Some(v.parse::<f64>().map_err(|_| bad("Not a number of type DOUBLE".into()))?),
        Str | Password => None,
        List => {
            if def.name.ends_with("cleanup.policy") {
                for p in v.split(',').map(str::trim) {
                    if !CLEANUP_POLICIES.contains(&p) {
                        return Err(bad(format!("String must be one of: {}", CLEANUP_POLICIES.join(", "))));
                    }
                }
            }
            None
        }
    };
    if let (Some(n), Some(min)) = (number, def.min) {
        if n < min {
            return Err(bad(format!("Value must be at least {min}")));
        }
    }
    if !def.allowed.is_empty() && !def.allowed.contains(&v) {
        return Err(bad(format!("String must be one of: {}", def.allowed.join(", "))));
    }
    Ok(())
}

pub fn broker_key(name: &str) -> Option<&'static KeyDef> {
    BROKER_KEYS.iter().find(|k| k.name == name)
}
pub fn topic_key(name: &str) -> Option<&'static (KeyDef, &'static [&'static str])> {
    TOPIC_KEYS.iter().find(|(k, _)| k.name == name)
}

/// Kafka's DescribeConfigs sources for broker keys.
pub mod source {
    pub const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    pub const DYNAMIC_BROKER_CONFIG: i8 = 2;
    pub const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    pub const DEFAULT_CONFIG: i8 = 5;
}

/// Broker configs changed at run time (IncrementalAlterConfigs / AlterConfigs on a BROKER
/// resource): for this broker, and the cluster-wide default. Both take precedence over the
/// static configuration, in that order, as in Kafka. Persisted by the log manager.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DynamicConfigs {
    pub broker: BTreeMap<String, String>,
    pub cluster_default: BTreeMap<String, String>,
}

impl DynamicConfigs {
    pub fn to_properties(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.broker {
            s.push_str(&format!("broker.{k}={v}\n"));
        }
        for (k, v) in &self.cluster_default {
            s.push_str(&format!("default.{k}={v}\n"));
        }
        s
    }
    pub fn from_properties(text: &str) -> DynamicConfigs {
        let mut d = DynamicConfigs::default();
        for (k, v) in parse_properties(text) {
            if let Some(k) = k.strip_prefix("broker.") {
                d.broker.insert(k.to_string(), v);
            } else if let Some(k) = k.strip_prefix("default.") {
                d.cluster_default.insert(k.to_string(), v);
            }
        }
        d
    }
}

/// A `listener.name.<listener>.[<mechanism>.]<key>` override of a known broker key.
fn listener_key(k: &str) -> Option<&'static KeyDef> {
    let rest = k.strip_prefix("listener.name.")?.split_once('.')?.1;
    broker_key(rest).or_else(|| broker_key(rest.split_once('.')?.1))
}

/// Whether a broker key may be changed at run time: the log configs every topic inherits (Kafka's
/// reconfigurable log configs).
pub fn is_dynamic_broker_key(k: &str) -> bool {
    broker_key(k).is_some_and(|d| !d.read_only) && TOPIC_KEYS.iter().any(|(_, syns)| syns.contains(&k))
}

/// Broker configuration: static values from the properties file or `--set`, plus the dynamic
/// layer changed at run time.
#[derive(Debug, Clone, Default)]
pub struct BrokerConfig {
    /// Explicitly set keys (known or not); unknown keys are kept and reported, like Kafka does.
    pub set: BTreeMap<String, String>,
    /// Dynamic broker configs (shared by every clone of this config).
    pub dynamic: std::sync::Arc<parking_lot::RwLock<DynamicConfigs>>,
    pub listen: String,
    pub advertised_listener: Option<String>,
    pub data_dir: std::path::PathBuf,
    /// `--dev`: a development profile (replication factors above 1 are clamped to 1, with a
    /// warning, so tools that default to 3 work on one node). Never for production data.
    pub dev: bool,
    /// `--add-scram` credentials applied at start (`SCRAM-SHA-256=[name=...,password=...]`).
    pub add_scram: Vec<String>,
}

impl BrokerConfig {
    /// Reads a Java-style properties file (key=value or key: value, # and ! comments).
    pub fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File { path: path.display().to_string(), reason: e.to_string() })?;
        Ok(parse_properties(&text))
    }

    /// Sets one key after validating it. Unknown keys are accepted with a warning.
    pub fn set_key(&mut self, k: &str, v: &str) -> Result<(), ConfigError> {
        if let Some(def) = broker_key(k) {
            validate(def, v)?;
        } else if let Some(def) = listener_key(k) {
            validate(def, v)?;
        } else {
            tracing::warn!(key = k, "the configuration {k} was supplied but isn't a known config");
        }
        self.set.insert(k.to_string(), v.trim().to_string());
        Ok(())
    }

    /// Where an explicitly set broker key comes from: (value, source), dynamic layers first.
    pub fn explicit(&self, k: &str) -> Option<(String, i8)> {
        let d = self.dynamic.read();
        if let Some(v) = d.broker.get(k) {
            return Some((v.clone(), source::DYNAMIC_BROKER_CONFIG));
        }
        if let Some(v) = d.cluster_default.get(k) {
            return Some((v.clone(), source::DYNAMIC_DEFAULT_BROKER_CONFIG));
        }
        self.set.get(k).map(|v| (v.clone(), source::STATIC_BROKER_CONFIG))
    }

    /// Every explicit layer holding `k`, in precedence order (for DescribeConfigs synonyms).
    pub fn layers(&self, k: &str) -> Vec<(String, i8)> {
        let d = self.dynamic.read();
        let mut out = Vec::new();
        if let Some(v) = d.broker.get(k) {
            out.push((v.clone(), source::DYNAMIC_BROKER_CONFIG));
        }
        if let Some(v) = d.cluster_default.get(k) {
            out.push((v.clone(), source::DYNAMIC_DEFAULT_BROKER_CONFIG));
        }
        if let Some(v) = self.set.get(k) {
            out.push((v.clone(), source::STATIC_BROKER_CONFIG));
        }
        out
    }

    /// The effective string value of a broker key (dynamic, static, or default).
    pub fn get(&self, k: &str) -> Option<String> {
        if let Some((v, _)) = self.explicit(k) {
            return Some(v);
        }
        // synonyms resolved the way Kafka does
        match k {
            "log.retention.ms" => return Some(self.retention_ms().to_string()),
            "log.roll.ms" => return Some(self.roll_ms().to_string()),
            "node.id" | "broker.id" => return Some(self.node_id().to_string()),
            "log.dirs" => return Some(self.data_dir.display().to_string()),
            "listeners" => return Some(format!("PLAINTEXT://{}", self.listen)),
            "advertised.listeners" => {
                return Some(format!(
                    "PLAINTEXT://{}",
                    self.advertised_listener.as_deref().unwrap_or(&self.listen)
                ))
            }
            _ => {}
        }
        broker_key(k).and_then(|d| d.default.map(str::to_string))
    }

    /// A numeric key's effective value: set (dynamically or at start) or else the table's
    /// default, the one default each key has. Values were validated at start; the table's default
    /// stands in for one that does not parse. A key missing from the table, or without a numeric
    /// default, is a bug (every broker start reads them all, so any test finds it).
    pub fn setting<T: std::str::FromStr>(&self, k: &str) -> T {
        if let Some(v) = self.get(k).and_then(|v| v.trim().parse().ok()) {
            return v;
        }
        broker_key(k)
            .and_then(|d| d.default)
            .and_then(|d| d.trim().parse().ok())
            .unwrap_or_else(|| panic!("config key {k} has no numeric default in the table"))
    }
    fn flag(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn node_id(&self) -> i32 {
        self.set
            .get("node.id")
            .or_else(|| self.set.get("broker.id"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }
    /// This broker is one of a cluster (`cluster.metadata.endpoints` is set).
    pub fn clustered(&self) -> bool {
        self.set.get("cluster.metadata.endpoints").is_some_and(|v| !v.trim().is_empty())
    }
    pub fn num_partitions(&self) -> i32 {
        self.setting("num.partitions")
    }
    pub fn auto_create_topics_enable(&self) -> bool {
        self.flag("auto.create.topics.enable")
    }
    pub fn default_replication_factor(&self) -> i16 {
        self.setting("default.replication.factor")
    }
    pub fn socket_request_max_bytes(&self) -> usize {
        self.setting("socket.request.max.bytes")
    }
    /// The connection and memory bounds of the network layer, checked at start: a bound that
    /// cannot be honoured stops the broker instead of being ignored.
    pub fn net_limits(&self) -> Result<NetLimits, ConfigError> {
        let bad = |key: &str, value: String, reason: String| ConfigError::InvalidValue {
            key: key.into(),
            value,
            reason,
        };
        let queued: i64 = self.setting("queued.max.request.bytes");
        let frame = self.socket_request_max_bytes();
        let queued_bytes = if queued < 0 { None } else { Some(queued as usize) };
        if let Some(q) = queued_bytes {
            if q < frame {
                return Err(bad("queued.max.request.bytes", q.to_string(), format!("must be at least socket.request.max.bytes ({frame}), or the largest request could never be read")));
            }
        }
        let mut per_ip_overrides = std::collections::HashMap::new();
        let raw = self.get("max.connections.per.ip.overrides").unwrap_or_default();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parsed = item.rsplit_once(':').and_then(|(h, n)| {
                Some((
                    h.trim().trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok()?,
                    n.trim().parse::<usize>().ok()?,
                ))
            });
            match parsed {
                Some((ip, n)) => {
                    per_ip_overrides.insert(ip, n);
                }
                None => {
                    return Err(bad(
                        "max.connections.per.ip.overrides",
                        raw.clone(),
                        format!(
                            "'{item}' is not ip:count (host names are not supported; give the IP address)"
                        ),
                    ))
                }
            }
        }
        let idle: i64 = self.setting("connections.max.idle.ms");
        Ok(NetLimits {
            max_connections: self.setting::<i64>("max.connections").max(0) as usize,
            per_ip: self.setting::<i64>("max.connections.per.ip").max(0) as usize,
            per_ip_overrides,
            idle: (idle >= 0).then(|| std::time::Duration::from_millis(idle as u64)),
            read_timeout: std::time::Duration::from_millis(
                self.setting::<u64>("socket.request.read.timeout.ms").max(1),
            ),
            backlog: self.setting::<u32>("socket.listen.backlog.size").max(1),
            queued_bytes,
        })
    }
    /// `max.broker.partitions` when set.
    pub fn max_broker_partitions(&self) -> Option<usize> {
        self.get("max.broker.partitions").and_then(|v| v.trim().parse::<usize>().ok())
    }
    pub fn max_partitions_per_request(&self) -> usize {
        self.setting("max.partitions.per.request")
    }
    pub fn fetch_max_bytes(&self) -> i32 {
        self.setting("fetch.max.bytes")
    }
    pub fn delete_topic_enable(&self) -> bool {
        self.flag("delete.topic.enable")
    }
    pub fn retention_ms(&self) -> i64 {
        if let Some(v) = self.explicit("log.retention.ms").and_then(|v| v.0.parse().ok()) {
            return v;
        }
        if let Some(v) = self.explicit("log.retention.minutes").and_then(|v| v.0.parse::<i64>().ok()) {
            return v * 60_000;
        }
        self.setting::<i64>("log.retention.hours") * 3_600_000
    }
    pub fn roll_ms(&self) -> i64 {
        if let Some(v) = self.explicit("log.roll.ms").and_then(|v| v.0.parse().ok()) {
            return v;
        }
        self.setting::<i64>("log.roll.hours") * 3_600_000
    }
    pub fn flush_ms(&self) -> i64 {
        self.explicit("log.flush.interval.ms")
            .and_then(|v| v.0.parse().ok())
            .unwrap_or_else(|| self.setting("log.flush.scheduler.interval.ms"))
    }

    /// The group coordinator's settings.
    /// The broker-level value backing a topic key, if the broker sets one explicitly.
    pub fn topic_synonym_value(&self, topic_key: &str) -> Option<(&'static str, String)> {
        let (_, syns) = crate::config::topic_key(topic_key)?;
        // Source-major, as Kafka resolves: any dynamic per-broker synonym beats any cluster
        // default, which beats any static one.
        let d = self.dynamic.read().clone();
        let layers = [&d.broker, &d.cluster_default, &self.set];
        for (layer, s) in layers.iter().flat_map(|l| syns.iter().map(move |s| (l, s))) {
            if let Some(v) = layer.get(*s) {
                let v = match *s {
                    "log.retention.minutes" => {
                        v.parse::<i64>().map(|m| (m * 60_000).to_string()).unwrap_or(v.clone())
                    }
                    "log.retention.hours" | "log.roll.hours" => {
                        v.parse::<i64>().map(|h| (h * 3_600_000).to_string()).unwrap_or(v.clone())
                    }
                    _ => v.clone(),
                };
                return Some((s, v));
            }
        }
        None
    }

    /// The effective value of a topic key given the topic's overrides.
    pub fn topic_value(&self, overrides: &BTreeMap<String, String>, k: &str) -> Option<String> {
        if let Some(v) = overrides.get(k) {
            return Some(v.clone());
        }
        if let Some((_, v)) = self.topic_synonym_value(k) {
            return Some(v);
        }
        topic_key(k).and_then(|(d, _)| d.default.map(str::to_string))
    }

    /// Resolves what the log needs for a topic.
    pub fn log_config(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let n = |k: &str, d: i64| -> i64 {
            self.topic_value(overrides, k).and_then(|v| v.parse().ok()).unwrap_or(d)
        };
        LogConfig {
            segment_bytes: n("segment.bytes", 1 << 30).clamp(14, i32::MAX as i64) as u32,
            segment_ms: n("segment.ms", 604_800_000),
            index_interval_bytes: n("index.interval.bytes", 4096).clamp(0, i32::MAX as i64) as u32,
            max_message_bytes: n("max.message.bytes", 1_048_588).clamp(0, i32::MAX as i64) as u32,
            flush_messages: n("flush.messages", i64::MAX),
            flush_ms: n("flush.ms", i64::MAX),
            log_append_time: self.topic_value(overrides, "message.timestamp.type").as_deref()
                == Some("LogAppendTime"),
            timestamp_before_max_ms: n("message.timestamp.before.max.ms", i64::MAX),
            timestamp_after_max_ms: n("message.timestamp.after.max.ms", 3_600_000),
            retention_ms: n("retention.ms", 604_800_000),
            retention_bytes: n("retention.bytes", -1),
            compact: self.topic_value(overrides, "cleanup.policy").is_some_and(|p| p.contains("compact")),
            delete: self.topic_value(overrides, "cleanup.policy").is_none_or(|p| p.contains("delete")),
            delete_retention_ms: n("delete.retention.ms", 86_400_000),
            min_insync_replicas: n("min.insync.replicas", 1),
            min_compaction_lag_ms: n("min.compaction.lag.ms", 0),
            max_compaction_lag_ms: n("max.compaction.lag.ms", i64::MAX),
            min_cleanable_dirty_ratio: self
                .topic_value(overrides, "min.cleanable.dirty.ratio")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.5),
        }
    }
}

/// Parses properties text: `key=value`, `key: value` or `key value`; `#`/`!` comments.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('!') {
            continue;
        }
        let split = l.find(['=', ':']).or_else(|| l.find(char::is_whitespace));
        match split {
            Some(i) => {
                out.insert(l[..i].trim().to_string(), l[i + 1..].trim().to_string());
            }
            None => {
                out.insert(l.to_string(), String::new());
            }
        }
    }
    out
}

/// What a partition log needs to know, resolved from topic overrides and broker settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u32,
    pub segment_ms: i64,
    pub index_interval_bytes: u32,
    pub max_message_bytes: u32,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub log_append_time: bool,
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub compact: bool,
    pub delete: bool,
    pub delete_retention_ms: i64,
    pub min_insync_replicas: i64,
    pub min_compaction_lag_ms: i64,
    pub max_compaction_lag_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
}

impl Default for LogConfig {
    fn default() -> Self {
        BrokerConfig::default().log_config(&BTreeMap::new())
    }
}

/// Validates a set of topic overrides (CreateTopics, stored metadata).
pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (k, v) in configs {
        let (def, _) = topic_key(k).ok_or_else(|| ConfigError::UnknownKey(k.clone()))?;
        validate(def, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_synonyms() {
        let mut c = BrokerConfig::default();
        assert_eq!(c.retention_ms(), 604_800_000);
        assert_eq!(c.log_config(&BTreeMap::new()).segment_bytes, 1 << 30);
        c.set_key("log.retention.hours", "1").unwrap();
        assert_eq!(c.topic_value(&BTreeMap::new(), "retention.ms").unwrap(), "3600000");
        c.set_key("log.segment.bytes", "1000").unwrap();
        let mut o = BTreeMap::new();
        assert_eq!(c.log_config(&o).segment_bytes, 1000);
        o.insert("segment.bytes".into(), "2000".into());
        assert_eq!(c.log_config(&o).segment_bytes, 2000);
    }

    #[test]
    fn nonsense_is_rejected() {
        let mut c = BrokerConfig::default();
        assert!(c.set_key("num.partitions", "0").is_err());
        assert!(c.set_key("num.partitions", "lots").is_err());
        assert!(c.set_key("auto.create.topics.enable", "maybe").is_err());
        assert!(c.set_key("log.message.timestamp.type", "Sometime").is_err());
        assert!(c.set_key("log.segment.bytes", "99999999999").is_err());
        let mut o = BTreeMap::new();
        o.insert("cleanup.policy".into(), "compact,delete".into());
        assert!(validate_topic_configs(&o).is_ok());
        o.insert("cleanup.policy".into(), "shred".into());
        assert!(validate_topic_configs(&o).is_err());
        let mut u = BTreeMap::new();
        u.insert("no.such.key".into(), "1".into());
        assert_eq!(validate_topic_configs(&u), Err(ConfigError::UnknownKey("no.such.key".into())));
    }

    #[test]
    fn properties_parse() {
        let p = parse_properties("# c\n a = 1\nb:2\n!x\nc 3\n");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "3");
    }
}

/// Why an IncrementalAlterConfigs change cannot be applied (`protocol/error.rs` picks the code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncrementalError {
    #[error("Null value not supported for : {0}")]
    NullValue(String),
    #[error("Config value {verb} is not allowed for config key: {key}")]
    NotAList { verb: &'static str, key: String },
    #[error("Unknown config operation {0}")]
    UnknownOperation(i8),
}

/// Applies one IncrementalAlterConfigs change (Kafka's `AlterConfigOp.OpType`: 0 SET, 1 DELETE,
/// 2 APPEND, 3 SUBTRACT) to `values`, the overrides of one resource. APPEND and SUBTRACT work on
/// list keys only, starting from `current` (the key's effective value); APPEND adds the items not
/// already there, in order, as Kafka does. The one copy of these rules, for topics and brokers.
pub fn apply_incremental(
    values: &mut BTreeMap<String, String>,
    key: &str,
    op: i8,
    value: Option<&str>,
    is_list: bool,
    current: impl FnOnce(&BTreeMap<String, String>) -> Option<String>,
) -> Result<(), IncrementalError> {
    let items = |s: &str| -> Vec<String> {
        s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
    };
    match op {
        0 => {
            let v = value.ok_or_else(|| IncrementalError::NullValue(key.to_string()))?;
            values.insert(key.to_string(), v.to_string());
        }
        1 => {
            values.remove(key);
        }
        2 | 3 => {
            if !is_list {
                let verb = if op == 2 { "append" } else { "subtract" };
                return Err(IncrementalError::NotAList { verb, key: key.to_string() });
            }
            let mut list = items(&current(values).unwrap_or_default());
            let given = items(value.unwrap_or_default());
            if op == 2 {
                for g in given {
                    if !list.contains(&g) {
                        list.push(g);
                    }
                }
            } else {
                list.retain(|i| !given.contains(i));
            }
            values.insert(key.to_string(), list.join(","));
        }
        other => return Err(IncrementalError::UnknownOperation(other)),
    }
    Ok(())
}

#[cfg(test)]
mod incremental_tests {
    use super::*;

    #[test]
    fn set_delete_append_subtract() {
        let mut v = BTreeMap::new();
        let cur = |m: &BTreeMap<String, String>| m.get("k").cloned().or(Some("a,b".to_string()));
        apply_incremental(&mut v, "k", 2, Some("b,c, d"), true, cur).unwrap();
        assert_eq!(v["k"], "a,b,c,d", "appends what is not there yet");
        apply_incremental(&mut v, "k", 3, Some("a,d"), true, cur).unwrap();
        assert_eq!(v["k"], "b,c");
        assert_eq!(
            apply_incremental(&mut v, "x", 2, Some("1"), false, cur),
            Err(IncrementalError::NotAList { verb: "append", key: "x".into() })
        );
        assert_eq!(
            apply_incremental(&mut v, "k", 0, None, true, cur),
            Err(IncrementalError::NullValue("k".into()))
        );
        apply_incremental(&mut v, "k", 1, None, true, cur).unwrap();
        assert!(!v.contains_key("k"));
        assert_eq!(
            apply_incremental(&mut v, "k", 9, None, true, cur),
            Err(IncrementalError::UnknownOperation(9))
        );
    }
}
