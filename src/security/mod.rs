//! Security: listeners and their protocols (`listeners.rs`; TLS in `tls.rs`, SASL in `sasl.rs`,
//! `scram.rs` and `oauth.rs`), who a connection is (`principal.rs`), ACLs (`acl.rs`), `--dev
//! --secure` (`devmode.rs`, `devcerts.rs`), and the rule that a security setting Odradek does not
//! honour stops the broker at start (fail closed) instead of being ignored.
pub mod acl;
pub mod devcerts;
pub mod devmode;
pub mod listeners;
pub mod oauth;
pub mod principal;
pub mod sasl;
pub mod scram;
pub mod tls;

use std::net::SocketAddr;

pub use listeners::{ListenerSpec, SecurityProtocol};

use crate::config::{BrokerConfig, ConfigError};

/// A bound listener, as connections see it.
pub struct Listener {
    pub spec: ListenerSpec,
    pub bound: SocketAddr,
    /// What Metadata, FindCoordinator and DescribeCluster tell a client that came in here.
    pub advertised: (String, i32),
    /// SSL and SASL_SSL listeners.
    pub tls: Option<tls::Tls>,
    /// SASL_PLAINTEXT and SASL_SSL listeners.
    pub sasl: Option<sasl::SaslConfig>,
    /// `ssl.principal.mapping.rules` for client certificates.
    pub mapping: principal::MappingRules,
    /// Connections open now, and accepted since start (the broker's metrics).
    pub connections: std::sync::atomic::AtomicI64,
    pub accepted: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{} ({})", self.spec.name, self.bound, self.spec.protocol.name())
    }
}

/// A listener's effective value of `key`: `listener.name.<name>.<key>` first, then `key`.
pub fn listener_value(config: &BrokerConfig, listener: &str, key: &str) -> Option<String> {
    let prefixed = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
    config.set.get(&prefixed).cloned().or_else(|| config.get(key)).filter(|v| !v.trim().is_empty())
}

impl Listener {
    /// The listener's TLS and SASL set up from its settings; `Err` says what cannot be honoured.
    pub fn build(
        spec: ListenerSpec,
        bound: SocketAddr,
        config: &BrokerConfig,
    ) -> Result<Listener, ConfigError> {
        let name = spec.name.clone();
        let fail = |what: &str, e: String| {
            refuse(&format!("{}{what}", spec.prefix()), "", format!("listener {name}: {e}"))
        };
        let tls = if spec.protocol.tls() {
            let (c, n) = (config.clone(), name.clone());
            Some(tls::Tls::new(&name, move |k| listener_value(&c, &n, k)).map_err(|e| fail("ssl.*", e))?)
        } else {
            None
        };
        let sasl = if spec.protocol.sasl() {
            Some(
                sasl::SaslConfig::new(&name, &|k| listener_value(config, &name, k))
                    .map_err(|e| fail("sasl.*", e))?,
            )
        } else {
            None
        };
        let rules =
            listener_value(config, &name, "ssl.principal.mapping.rules").unwrap_or_else(|| "DEFAULT".into());
        let mapping =
            principal::MappingRules::parse(&rules).map_err(|e| fail("ssl.principal.mapping.rules", e))?;
        let mut l = Listener::new(spec, bound);
        l.tls = tls;
        l.sasl = sasl;
        l.mapping = mapping;
        Ok(l)
    }

    /// A listener without TLS or SASL.
    pub fn new(spec: ListenerSpec, bound: SocketAddr) -> Listener {
        let advertised = match &spec.advertised {
            Some((h, p)) => (h.clone(), *p as i32),
            // A wildcard bind is advertised as loopback: right for local use only (set
            // advertised.listeners for remote clients).
            None if bound.ip().is_unspecified() => ("127.0.0.1".to_string(), bound.port() as i32),
            None => (bound.ip().to_string(), bound.port() as i32),
        };
        let mapping = principal::MappingRules::parse("DEFAULT").expect("DEFAULT parses");
        Listener {
            spec,
            bound,
            advertised,
            tls: None,
            sasl: None,
            mapping,
            connections: Default::default(),
            accepted: Default::default(),
        }
    }
    /// A listener for code that serves requests without a socket (fuzzing, tests).
    pub fn plaintext_for_tests() -> Listener {
        let spec = ListenerSpec {
            name: "PLAINTEXT".into(),
            protocol: SecurityProtocol::Plaintext,
            host: "127.0.0.1".into(),
            port: 9092,
            advertised: None,
        };
        Listener::new(spec, SocketAddr::from(([127, 0, 0, 1], 9092)))
    }
}

fn refuse(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue { key: key.into(), value: value.into(), reason: reason.into() }
}

/// Keys naming Java classes or providers: Odradek cannot load them, and ignoring them could leave
/// the broker more open than its operator meant.
const CLASS_KEYS: &[&str] = &[
    "principal.builder.class",
    "sasl.server.callback.handler.class",
    "sasl.client.callback.handler.class",
    "sasl.login.class",
    "sasl.login.callback.handler.class",
    "ssl.engine.factory.class",
    "security.providers",
    "ssl.provider",
    "create.topic.policy.class.name",
    "alter.config.policy.class.name",
];

/// Refuses, at start, every security setting that would not be honoured: a listener protocol or
/// an authorizer that is not implemented, or a plug-in class. Called with the resolved listeners.
pub fn check_supported(config: &BrokerConfig, listeners: &[ListenerSpec]) -> Result<(), ConfigError> {
    let _ = listeners;
    if cfg!(not(feature = "cluster")) && config.clustered() {
        return Err(refuse(
            "cluster.metadata.endpoints",
            config.set.get("cluster.metadata.endpoints").map(String::as_str).unwrap_or(""),
            "this broker was built without the `cluster` feature (cargo build --features cluster)",
        ));
    }
    if let Some(a) = config.set.get("authorizer.class.name").filter(|v| !v.trim().is_empty()) {
        if !acl::Authorizer::recognised(a) {
            return Err(refuse("authorizer.class.name", a, "Odradek implements org.apache.kafka.metadata.authorizer.StandardAuthorizer (or `acl`); it cannot load other authorizer classes"));
        }
    }
    for (k, v) in &config.set {
        if v.trim().is_empty() {
            continue;
        }
        let bare = strip_listener_prefix(k);
        let secured_oauth = bare == "oauthbearer.sasl.server.callback.handler.class"
            && oauth::SECURED_HANDLERS.contains(&v.trim());
        if !secured_oauth
            && (CLASS_KEYS.contains(&bare) || bare.ends_with(".sasl.server.callback.handler.class"))
        {
            return Err(refuse(k, v, "Odradek cannot load Java classes; this setting cannot be honoured"));
        }
    }
    if config.set.get("super.users").is_some_and(|v| !v.trim().is_empty())
        && !config.set.contains_key("authorizer.class.name")
    {
        tracing::warn!("super.users is set but no authorizer is configured (authorizer.class.name): every client may do everything, as in Kafka");
    }
    Ok(())
}

/// Logs a failed login, at most once a second (with how many were not logged meanwhile): a
/// client guessing passwords must not fill the log.
pub fn log_failed_login(peer: SocketAddr, listener: &str, reason: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
    let now = crate::clock::now_ms().max(0) as u64;
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 1000
        && LAST_MS.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        let more = SUPPRESSED.swap(0, Ordering::Relaxed);
        tracing::warn!(%peer, listener, also_failed_since_last_log = more, "authentication failed: {reason}");
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// One field of the space-separated credential and ACL files: percent-encoded (spaces, `%` and
/// anything unusual become `%XX`), the empty string as `%00EMPTY`.
pub(crate) fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.:*@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00EMPTY");
    }
    out
}

/// The inverse of [`pct`]; `None` for a malformed field.
pub(crate) fn unpct(s: &str) -> Option<String> {
    if s == "%00EMPTY" {
        return Some(String::new());
    }
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `listener.name.<name>.<key>` -> `<key>`; other keys unchanged.
fn strip_listener_prefix(k: &str) -> &str {
    k.strip_prefix("listener.name.").and_then(|rest| rest.split_once('.')).map(|(_, key)| key).unwrap_or(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_honoured_stops_the_start() {
        let mut c = BrokerConfig::default();
        c.set.insert("listeners".into(), "SASL_SSL://127.0.0.1:9093".into());
        let l = listeners::resolve(&c).unwrap().remove(0);
        // Kafka's default mechanism (GSSAPI) and no keystore: refused, with the reason.
        let e = Listener::build(l, SocketAddr::from(([127, 0, 0, 1], 0)), &c).err().unwrap().to_string();
        assert!(e.contains("ssl.keystore.location"), "{e}");
        let mut c = BrokerConfig::default();
        c.set.insert("authorizer.class.name".into(), "com.example.MyAuthorizer".into());
        assert!(check_supported(&c, &listeners::resolve(&c).unwrap()).is_err());
        c.set.insert(
            "authorizer.class.name".into(),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer".into(),
        );
        assert!(check_supported(&c, &listeners::resolve(&c).unwrap()).is_ok());
        let mut c = BrokerConfig::default();
        c.set.insert("listener.name.plaintext.principal.builder.class".into(), "com.example.Builder".into());
        assert!(check_supported(&c, &listeners::resolve(&c).unwrap()).is_err());
        let c = BrokerConfig::default();
        assert!(check_supported(&c, &listeners::resolve(&c).unwrap()).is_ok());
    }
}
