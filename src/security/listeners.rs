//! Listeners as Kafka configures them: `listeners`, `advertised.listeners`,
//! `listener.security.protocol.map` and `controller.listener.names`, with `--listen` as the
//! shorthand for one PLAINTEXT listener. Names are case-insensitive and kept upper case, as
//! Kafka normalises them; a listener's own settings are `listener.name.<name in lower case>.<key>`.
use crate::config::{BrokerConfig, ConfigError};

/// Kafka's security protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(Self::Plaintext),
            "SSL" => Some(Self::Ssl),
            "SASL_PLAINTEXT" => Some(Self::SaslPlaintext),
            "SASL_SSL" => Some(Self::SaslSsl),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }
    /// The connection is TLS from its first byte.
    pub fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
    /// Clients authenticate with SASL before anything else.
    pub fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// One listener to bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSpec {
    /// Upper case, e.g. `PLAINTEXT` or `INTERNAL`.
    pub name: String,
    pub protocol: SecurityProtocol,
    /// Host to bind (empty: every interface) and port (0: any free port).
    pub host: String,
    pub port: u16,
    /// From `advertised.listeners`; `None`: the bound address (loopback for a wildcard bind).
    pub advertised: Option<(String, u16)>,
}

impl ListenerSpec {
    /// `host:port` to bind.
    pub fn bind_addr(&self) -> String {
        let host = if self.host.is_empty() { "0.0.0.0" } else { self.host.as_str() };
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
    /// The prefix of this listener's own keys.
    pub fn prefix(&self) -> String {
        format!("listener.name.{}.", self.name.to_ascii_lowercase())
    }
}

/// What Kafka maps when `listener.security.protocol.map` is not set.
const DEFAULT_MAP: &str =
    "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

fn bad(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue { key: key.into(), value: value.into(), reason: reason.into() }
}

/// `NAME://HOST:PORT` (HOST may be empty or `[v6]`).
fn endpoint(key: &str, whole: &str, item: &str) -> Result<(String, String, u16), ConfigError> {
    let Some((name, rest)) = item.split_once("://") else {
        return Err(bad(key, whole, format!("'{item}' is not NAME://HOST:PORT")));
    };
    let name = name.trim().to_ascii_uppercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(bad(key, whole, format!("'{name}' is not a listener name")));
    }
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err(bad(key, whole, format!("'{item}' has no port")));
    };
    let port: u16 =
        port.trim().parse().map_err(|_| bad(key, whole, format!("'{port}' in '{item}' is not a port")))?;
    let host = host.trim();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Ok((name, host.to_string(), port))
}

fn endpoints(key: &str, value: &str) -> Result<Vec<(String, String, u16)>, ConfigError> {
    let mut out: Vec<(String, String, u16)> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let e = endpoint(key, value, item)?;
        if out.iter().any(|o| o.0 == e.0) {
            return Err(bad(
                key,
                value,
                format!("Each listener must have a different name; {} appears twice", e.0),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

/// The listeners to bind, in the order configured.
pub fn resolve(config: &BrokerConfig) -> Result<Vec<ListenerSpec>, ConfigError> {
    let Some(listeners) = config.set.get("listeners").filter(|v| !v.trim().is_empty()) else {
        // The --listen shorthand (or the embedded builder's address): one PLAINTEXT listener.
        let listen = if config.listen.is_empty() { "127.0.0.1:9092" } else { config.listen.as_str() };
        let (_, host, port) = endpoint("--listen", listen, &format!("PLAINTEXT://{listen}"))?;
        let advertised = match (&config.advertised_listener, config.set.get("advertised.listeners")) {
            (Some(a), _) => Some(a.clone()),
            (None, Some(a)) => Some(a.clone()),
            _ => None,
        };
        let advertised = match advertised {
            Some(a) => {
                let item = if a.contains("://") { a.clone() } else { format!("PLAINTEXT://{a}") };
                let (_, h, p) =
                    endpoint("advertised.listeners", &a, item.split(',').next().unwrap_or_default())?;
                Some((h, p))
            }
            None => None,
        };
        return Ok(vec![ListenerSpec {
            name: "PLAINTEXT".into(),
            protocol: SecurityProtocol::Plaintext,
            host,
            port,
            advertised,
        }]);
    };
    let map_raw =
        config.set.get("listener.security.protocol.map").cloned().unwrap_or_else(|| DEFAULT_MAP.to_string());
    let mut map = Vec::new();
    for item in map_raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((n, p)) = item.split_once(':') else {
            return Err(bad(
                "listener.security.protocol.map",
                &map_raw,
                format!("'{item}' is not NAME:PROTOCOL"),
            ));
        };
        let Some(p) = SecurityProtocol::parse(p) else {
            return Err(bad(
                "listener.security.protocol.map",
                &map_raw,
                format!("'{p}' is not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)"),
            ));
        };
        map.push((n.trim().to_ascii_uppercase(), p));
    }
    let controllers: Vec<String> = config
        .set
        .get("controller.listener.names")
        .map(|v| v.split(',').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (name, host, port) in endpoints("listeners", listeners)? {
        if controllers.contains(&name) {
            // A KRaft controller listener: Odradek has no controller quorum to serve there.
            tracing::info!(listener = %name, "not binding {name}: it is a controller listener (controller.listener.names) and this broker runs no KRaft controller");
            continue;
        }
        let Some(&(_, protocol)) = map.iter().find(|(n, _)| *n == name) else {
            return Err(bad(
                "listeners",
                listeners,
                format!("No security protocol defined for listener {name} (listener.security.protocol.map)"),
            ));
        };
        if out.iter().any(|l: &ListenerSpec| l.port == port && port != 0 && l.host == host) {
            return Err(bad(
                "listeners",
                listeners,
                format!("Each listener must have a different port; {host}:{port} appears twice"),
            ));
        }
        out.push(ListenerSpec { name, protocol, host, port, advertised: None });
    }
    if out.is_empty() {
        return Err(bad(
            "listeners",
            listeners,
            "no broker listener left to bind (only controller listeners)",
        ));
    }
    if let Some(adv) = config.set.get("advertised.listeners").filter(|v| !v.trim().is_empty()) {
        for (name, host, port) in endpoints("advertised.listeners", adv)? {
            if controllers.contains(&name) {
                continue;
            }
            let Some(l) = out.iter_mut().find(|l| l.name == name) else {
                return Err(bad("advertised.listeners", adv, format!("{name} is not one of the listeners")));
            };
            if host.is_empty() || host == "0.0.0.0" || host == "::" {
                return Err(bad("advertised.listeners", adv, "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address."));
            }
            l.advertised = Some((host, port));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kv: &[(&str, &str)]) -> BrokerConfig {
        let mut c = BrokerConfig::default();
        for (k, v) in kv {
            c.set.insert(k.to_string(), v.to_string());
        }
        c
    }

    #[test]
    fn kafka_listener_settings() {
        let c = cfg(&[
            (
                "listeners",
                "PLAINTEXT://:9092,CONTROLLER://:9093,internal://127.0.0.1:0,SASL_SSL://[::1]:9094",
            ),
            (
                "listener.security.protocol.map",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            ),
            ("controller.listener.names", "CONTROLLER"),
            ("advertised.listeners", "PLAINTEXT://localhost:9092,INTERNAL://10.0.0.1:19092"),
        ]);
        let l = resolve(&c).unwrap();
        assert_eq!(
            l.iter().map(|l| (l.name.as_str(), l.protocol)).collect::<Vec<_>>(),
            vec![
                ("PLAINTEXT", SecurityProtocol::Plaintext),
                ("INTERNAL", SecurityProtocol::SaslPlaintext),
                ("SASL_SSL", SecurityProtocol::SaslSsl)
            ]
        );
        assert_eq!(l[0].bind_addr(), "0.0.0.0:9092");
        assert_eq!(l[2].bind_addr(), "[::1]:9094");
        assert_eq!(l[0].advertised, Some(("localhost".into(), 9092)));
        assert_eq!(l[1].advertised, Some(("10.0.0.1".into(), 19092)));
        assert_eq!(l[2].advertised, None);
        assert_eq!(l[1].prefix(), "listener.name.internal.");
    }

    #[test]
    fn the_shorthand_is_one_plaintext_listener() {
        let mut c = cfg(&[]);
        c.listen = "127.0.0.1:0".into();
        c.advertised_listener = Some("example.com:1234".into());
        let l = resolve(&c).unwrap();
        assert_eq!(
            l,
            vec![ListenerSpec {
                name: "PLAINTEXT".into(),
                protocol: SecurityProtocol::Plaintext,
                host: "127.0.0.1".into(),
                port: 0,
                advertised: Some(("example.com".into(), 1234))
            }]
        );
    }

    #[test]
    fn nonsense_is_refused() {
        for kv in [
            vec![("listeners", "INTERNAL://:9092")],
            vec![("listeners", "PLAINTEXT://:9092,PLAINTEXT://:9093")],
            vec![("listeners", "PLAINTEXT://:9092,SSL://:9092")],
            vec![("listeners", "PLAINTEXT://localhost")],
            vec![("listeners", "PLAINTEXT://:99999")],
            vec![("listeners", "localhost:9092")],
            vec![("listeners", "PLAINTEXT://:9092"), ("listener.security.protocol.map", "PLAINTEXT:TLS")],
            vec![("listeners", "PLAINTEXT://:9092"), ("advertised.listeners", "SSL://h:1")],
            vec![("listeners", "PLAINTEXT://:9092"), ("advertised.listeners", "PLAINTEXT://0.0.0.0:9092")],
            vec![("listeners", "CONTROLLER://:9093"), ("controller.listener.names", "CONTROLLER")],
        ] {
            assert!(resolve(&cfg(&kv)).is_err(), "{kv:?} must be refused");
        }
    }
}
