//! `odradek --dev --secure`: from nothing to SASL_SSL, mutual TLS and ACLs in one command. Makes a
//! CA, a server certificate (localhost, 127.0.0.1 and the listen host), client certificates for
//! `admin` and `alice`, SCRAM-SHA-256/512 and PLAIN users `admin`/`admin-secret`,
//! `alice`/`alice-secret` and `bob`/`bob-secret`, two listeners: SASL_SSL on the listen port
//! (PLAIN and SCRAM) and SSL with required client certificates on the next free port, and ACLs on
//! (StandardAuthorizer): `User:admin` is a super user, `User:alice` may do everything on every
//! topic, group and transactional id, `User:bob` nothing until ACLs grant it. Once the broker is up, ready
//! client configs are written to `<data dir>/secure/`: Java `client-*.properties`, librdkafka
//! `librdkafka-*.conf`, kafka-python and KafkaJS JSON. Development only: the keys are not
//! encrypted.
use std::path::{Path, PathBuf};

use crate::config::BrokerConfig;

pub const USERS: &[(&str, &str)] =
    &[("admin", "admin-secret"), ("alice", "alice-secret"), ("bob", "bob-secret")];

/// Generates the PKI into `<data dir>/secure/` and sets the listeners and users on `config`.
pub fn prepare(config: &mut BrokerConfig) -> Result<PathBuf, String> {
    let dir = config.data_dir.join("secure");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let listen = if config.listen.is_empty() { "127.0.0.1:9092".to_string() } else { config.listen.clone() };
    let (host, _) = listen.rsplit_once(':').ok_or_else(|| format!("--listen {listen} is not HOST:PORT"))?;
    let host = host.trim_matches(['[', ']']).to_string();
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !hosts.contains(&host) && !host.is_empty() && host != "0.0.0.0" {
        hosts.push(host.clone());
    }
    // A restart on the same data dir keeps the certificates clients already trust.
    if !(dir.join("ca.pem").exists() && dir.join("server.pem").exists() && dir.join("admin.pem").exists()) {
        let pki = super::devcerts::generate(&hosts, &["admin", "alice"])?;
        let w = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        w("ca.pem", &pki.ca.cert)?;
        w("server.pem", &format!("{}{}", pki.server.key, pki.server.cert))?;
        for (name, p) in &pki.clients {
            w(&format!("{name}.pem"), &format!("{}{}", p.key, p.cert))?;
            w(&format!("{name}.crt"), &p.cert)?;
            w(&format!("{name}.key"), &p.key)?;
        }
    }
    let d = |f: &str| dir.join(f).display().to_string();
    let port: u16 = listen.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(9092);
    let ssl_port = if port == 0 { 0 } else { free_port_after(&host, port) };
    let jaas = USERS.iter().map(|(u, p)| format!("user_{u}=\"{p}\"")).collect::<Vec<_>>().join(" ");
    let bind = if host.contains(':') { format!("[{host}]") } else { host.clone() };
    let sets = [
        ("listeners", format!("SASL_SSL://{bind}:{port},SSL://{bind}:{ssl_port}")),
        ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".to_string()),
        (
            "listener.name.sasl_ssl.plain.sasl.jaas.config",
            format!("org.apache.kafka.common.security.plain.PlainLoginModule required {jaas};"),
        ),
        ("ssl.keystore.type", "PEM".to_string()),
        ("ssl.keystore.location", d("server.pem")),
        ("ssl.truststore.type", "PEM".to_string()),
        ("ssl.truststore.location", d("ca.pem")),
        ("listener.name.ssl.ssl.client.auth", "required".to_string()),
        ("ssl.principal.mapping.rules", "RULE:^CN=([^,]+),O=Odradek dev$/$1/,DEFAULT".to_string()),
        ("super.users", "User:admin".to_string()),
        ("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_string()),
    ];
    for (k, v) in sets {
        config.set_key(k, &v).map_err(|e| e.to_string())?;
    }
    use super::acl::{op, pattern, perm, resource, Binding};
    let alice: Vec<Binding> = [resource::TOPIC, resource::GROUP, resource::TRANSACTIONAL_ID]
        .into_iter()
        .map(|rt| Binding {
            resource_type: rt,
            name: "*".into(),
            pattern: pattern::LITERAL,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: op::ALL,
            permission: perm::ALLOW,
        })
        .collect();
    super::acl::seed(&config.data_dir, &alice)?;
    config.listen.clear();
    config.advertised_listener = None;
    for (u, p) in USERS {
        for m in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
            config.add_scram.push(format!("{m}=[name={u},password={p}]"));
        }
    }
    Ok(dir)
}

/// The first port after `port` that can be bound now (the SSL listener's).
fn free_port_after(host: &str, port: u16) -> u16 {
    let h = if host.is_empty() { "0.0.0.0" } else { host };
    for p in port.saturating_add(1)..=u16::MAX {
        if std::net::TcpListener::bind((h, p)).is_ok() {
            return p;
        }
    }
    0
}

/// Writes the client configs for the bound listeners; returns the files written.
pub fn write_client_configs(dir: &Path, sasl_ssl: &str, ssl: &str) -> Result<Vec<PathBuf>, String> {
    let d = |f: &str| dir.join(f).display().to_string();
    let ca = d("ca.pem");
    let mut files = Vec::new();
    let mut w = |name: &str, text: String| -> Result<(), String> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        files.push(p);
        Ok(())
    };
    let (user, pw) = USERS[0];
    for (file, mech) in [("client-scram.properties", "SCRAM-SHA-512"), ("client-plain.properties", "PLAIN")] {
        let module = if mech == "PLAIN" {
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        } else {
            "org.apache.kafka.common.security.scram.ScramLoginModule"
        };
        w(
            file,
            format!(
                "# Java clients: --command-config / --producer.config / --consumer.config\nbootstrap.servers={sasl_ssl}\nsecurity.protocol=SASL_SSL\nsasl.mechanism={mech}\nsasl.jaas.config={module} required username=\"{user}\" password=\"{pw}\";\nssl.truststore.type=PEM\nssl.truststore.location={ca}\n"
            ),
        )?;
    }
    w(
        "client-mtls.properties",
        format!("# Java clients over mutual TLS as User:admin\nbootstrap.servers={ssl}\nsecurity.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={ca}\nssl.keystore.type=PEM\nssl.keystore.location={}\n", d("admin.pem")),
    )?;
    w(
        "librdkafka-scram.conf",
        format!("# librdkafka / confluent-kafka / kcat -F\nbootstrap.servers={sasl_ssl}\nsecurity.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username={user}\nsasl.password={pw}\nssl.ca.location={ca}\n"),
    )?;
    w(
        "librdkafka-mtls.conf",
        format!("bootstrap.servers={ssl}\nsecurity.protocol=SSL\nssl.ca.location={ca}\nssl.certificate.location={}\nssl.key.location={}\n", d("admin.crt"), d("admin.key")),
    )?;
    w(
        "kafka-python.json",
        format!(
            "{{\"bootstrap_servers\": \"{sasl_ssl}\", \"security_protocol\": \"SASL_SSL\", \"sasl_mechanism\": \"SCRAM-SHA-512\", \"sasl_plain_username\": \"{user}\", \"sasl_plain_password\": \"{pw}\", \"ssl_cafile\": \"{ca}\"}}\n"
        ),
    )?;
    w(
        "kafkajs.json",
        format!("{{\"brokers\": [\"{sasl_ssl}\"], \"ssl\": {{\"ca\": [\"{ca}\"]}}, \"sasl\": {{\"mechanism\": \"scram-sha-512\", \"username\": \"{user}\", \"password\": \"{pw}\"}}}}\n"),
    )?;
    Ok(files)
}
