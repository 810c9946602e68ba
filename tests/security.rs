//! Listeners, TLS, mTLS and SASL (PLAIN, SCRAM) end to end: librdkafka over SASL_PLAINTEXT
//! PLAIN, and the exact exchanges over TLS with a rustls client (SCRAM by hand, as the RFC
//! describes it), the SCRAM admin APIs, bad input on every layer, certificate reload, and the
//! settings that must stop the broker at start.
mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use common::raw::Raw;
use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use odradek::security::devcerts;
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use tokio::io::AsyncReadExt;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn pki() -> devcerts::DevPki {
    devcerts::generate(&["localhost".into(), "127.0.0.1".into()], &["alice", "bob"]).unwrap()
}

async fn start(
    dir: &std::path::Path,
    sets: &[(&str, &str)],
    scram: &[&str],
) -> Result<odradek::Broker, odradek::StartError> {
    let mut b = odradek::Broker::builder().data_dir(dir);
    for (k, v) in sets {
        b = b.set(k, v);
    }
    for s in scram {
        b = b.add_scram(s);
    }
    b.start().await
}

fn tls_client(ca_pem: &str, client: Option<&devcerts::Pem>) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client {
        Some(p) => b
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(p.cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(p.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

async fn tls_connect(addr: &str, c: &tokio_rustls::TlsConnector) -> std::io::Result<Raw> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let s = c.connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp).await?;
    Ok(Raw::over(s))
}

/// The broker closes the connection (whatever it sent first, e.g. a TLS alert) within 5 s.
async fn closed(r: &mut Raw) -> bool {
    let mut b = [0u8; 256];
    let until_eof = async {
        loop {
            match r.s.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), until_eof).await.is_ok()
}

async fn metadata(r: &mut Raw) -> Option<MetadataResponse> {
    r.request(ApiKey::Metadata, 12, &MetadataRequest::default()).await
}

/// The client side of SCRAM (RFC 5802), for the test: returns the error of the final step.
async fn scram_login(r: &mut Raw, mech: &str, user: &str, password: &str) -> (i16, Option<String>, i64) {
    let hs: SaslHandshakeResponse = r
        .request(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mech.into())),
        )
        .await
        .unwrap();
    assert_eq!(hs.error_code, 0, "{:?}", hs.mechanisms);
    let bare = format!("n={user},r=clientnonce123");
    let first: SaslAuthenticateResponse = r
        .request(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(format!("n,,{bare}"))),
        )
        .await
        .unwrap();
    if first.error_code != 0 {
        return (first.error_code, first.error_message.map(|m| m.to_string()), 0);
    }
    let sf = String::from_utf8(first.auth_bytes.to_vec()).unwrap();
    let m = odradek::security::scram::Mechanism::parse(mech).unwrap();
    let (client_final, server_sig) = odradek::security::scram::client_final(m, password, &bare, &sf).unwrap();
    let fin: SaslAuthenticateResponse = r
        .request(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(client_final)),
        )
        .await
        .unwrap();
    if fin.error_code == 0 {
        assert_eq!(
            String::from_utf8(fin.auth_bytes.to_vec()).unwrap(),
            format!("v={}", B64.encode(server_sig)),
            "the server proves it knows the credential"
        );
    }
    (
        fin.error_code,
        fin.error_message.map(|m| m.to_string()).filter(|m| !m.is_empty()),
        fin.session_lifetime_ms,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_listener_answers_with_its_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        dir.path(),
        &[
            ("listeners", "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0,LIMITED://127.0.0.1:0,CONTROLLER://127.0.0.1:0"),
            ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,LIMITED:PLAINTEXT,CONTROLLER:PLAINTEXT"),
            ("controller.listener.names", "CONTROLLER"),
            ("listener.name.limited.max.connections", "1"),
        ],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(b.state().listeners.len(), 3, "the controller listener is not bound");
    // listener.name.limited.max.connections=1: a second connection waits until the first closes.
    let internal = b.bootstrap_for("LIMITED").unwrap();
    let mut first = Raw::connect(&internal).await;
    assert!(metadata(&mut first).await.is_some());
    let mut second = Raw::connect(&internal).await;
    second.send_request(ApiKey::Metadata, 12, &MetadataRequest::default()).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(700), second.read_frame()).await.is_err(),
        "over the listener's max.connections"
    );
    drop(first);
    assert!(
        tokio::time::timeout(Duration::from_secs(5), second.read_frame()).await.ok().flatten().is_some(),
        "served once a place is free"
    );
    drop(second);
    for name in ["PLAINTEXT", "INTERNAL"] {
        let addr = b.bootstrap_for(name).unwrap();
        let c = consumer(&addr, &[]);
        let md =
            tokio::task::spawn_blocking(move || c.fetch_metadata(None, Duration::from_secs(10)).unwrap())
                .await
                .unwrap();
        let port: i32 = addr.rsplit_once(':').unwrap().1.parse().unwrap();
        assert_eq!(md.brokers()[0].port(), port, "{name} answers with its own port");
    }
    assert_ne!(b.bootstrap_for("PLAINTEXT"), b.bootstrap_for("INTERNAL"));
    // A TLS client on a plaintext port: its ClientHello reads as an oversized frame; the
    // connection is closed and the listener keeps serving.
    let pki = pki();
    let addr = b.bootstrap_for("PLAINTEXT").unwrap();
    assert!(
        tls_connect(&addr, &tls_client(&pki.ca.cert, None)).await.is_err(),
        "no TLS on a PLAINTEXT listener"
    );
    let mut r = Raw::connect(&addr).await;
    assert!(metadata(&mut r).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_over_sasl_plain() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        dir.path(),
        &[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
            ("sasl.enabled.mechanisms", "PLAIN"),
            (
                "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob="bob-secret";"#,
            ),
            ("auto.create.topics.enable", "true"),
            ("connection.failed.authentication.delay.ms", "10"),
        ],
        &[],
    )
    .await
    .unwrap();
    let addr = b.bootstrap();
    let auth = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "alice"),
        ("sasl.password", "alice-secret"),
    ];
    let p = producer(&addr, &auth);
    for i in 0..20 {
        let payload = format!("secret record {i}");
        p.send(
            FutureRecord::<str, str>::to("sasl-topic").partition(0).key("k").payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    let c = consumer(&addr, &auth);
    let got = tokio::task::spawn_blocking(move || {
        read(&c, "sasl-topic", &[0], rdkafka::Offset::Beginning, 20, Duration::from_secs(20))
    })
    .await
    .unwrap();
    assert_eq!(got.len(), 20);
    assert_eq!(got[7].value.as_deref(), Some(&b"secret record 7"[..]));
    // A wrong password: librdkafka reports the authentication failure, nothing is served.
    let bad = consumer(
        &addr,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "alice"),
            ("sasl.password", "nope"),
        ],
    );
    let err = tokio::task::spawn_blocking(move || {
        bad.fetch_metadata(Some("sasl-topic"), Duration::from_secs(5)).err()
    })
    .await
    .unwrap();
    assert!(err.is_some(), "metadata without a valid login");
    // Raw: a request before authenticating closes the connection; so does garbage in a token.
    let mut r = Raw::connect(&addr).await;
    assert!(metadata(&mut r).await.is_none());
    let mut r = Raw::connect(&addr).await;
    let v: Option<ApiVersionsResponse> =
        r.request(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()).await;
    assert!(v.unwrap().api_keys.iter().any(|k| k.api_key == ApiKey::SaslHandshake as i16));
    let hs: SaslHandshakeResponse = r
        .request(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("SCRAM-SHA-256")),
        )
        .await
        .unwrap();
    assert_eq!(hs.error_code, 33, "UNSUPPORTED_SASL_MECHANISM");
    assert_eq!(hs.mechanisms.iter().map(|m| m.to_string()).collect::<Vec<_>>(), vec!["PLAIN"]);
    assert!(closed(&mut r).await, "closed after an unsupported mechanism");
    let mut r = Raw::connect(&addr).await;
    let _: SaslHandshakeResponse = r
        .request(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
        )
        .await
        .unwrap();
    let a: SaslAuthenticateResponse = r
        .request(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"\xff\x00garbage")),
        )
        .await
        .unwrap();
    assert_eq!(a.error_code, 58);
    assert!(closed(&mut r).await);
    // v0 handshake: raw tokens.
    let mut r = Raw::connect(&addr).await;
    let _: SaslHandshakeResponse = r
        .request(
            ApiKey::SaslHandshake,
            0,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
        )
        .await
        .unwrap();
    let token = b"\0bob\0bob-secret";
    r.send_bytes(&[&(token.len() as i32).to_be_bytes()[..], &token[..]].concat()).await.unwrap();
    let tok = r.read_frame().await.expect("an empty token answers a PLAIN login");
    assert!(tok.is_empty());
    assert!(metadata(&mut r).await.is_some(), "served after a v0 login");
    // The healthy client was never disturbed.
    let payload = "after the noise";
    p.send(
        FutureRecord::<str, str>::to("sasl-topic").partition(0).key("k").payload(payload),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_over_tls_and_the_credential_apis() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    std::fs::write(dir.path().join("server.pem"), format!("{}{}", pki.server.key, pki.server.cert)).unwrap();
    let ks = dir.path().join("server.pem").display().to_string();
    let data = dir.path().join("data");
    let sets = [
        ("listeners", "SASL_SSL://127.0.0.1:0"),
        ("sasl.enabled.mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512"),
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", ks.as_str()),
        ("connection.failed.authentication.delay.ms", "10"),
        ("connections.max.reauth.ms", "60000"),
    ];
    let b = start(&data, &sets, &["SCRAM-SHA-512=[name=admin,password=admin-secret]"]).await.unwrap();
    let addr = b.bootstrap();
    let tls = tls_client(&pki.ca.cert, None);
    let mut admin = tls_connect(&addr, &tls).await.unwrap();
    let (code, msg, lifetime) = scram_login(&mut admin, "SCRAM-SHA-512", "admin", "admin-secret").await;
    assert_eq!((code, msg), (0, None));
    assert_eq!(lifetime, 60000, "session lifetime from connections.max.reauth.ms");
    assert!(metadata(&mut admin).await.is_some());
    // Wrong password, unknown user, wrong mechanism for the user: Kafka's one message, then closed.
    for (mech, user, pw) in [
        ("SCRAM-SHA-512", "admin", "wrong"),
        ("SCRAM-SHA-512", "nobody", "x"),
        ("SCRAM-SHA-256", "admin", "admin-secret"),
    ] {
        let mut r = tls_connect(&addr, &tls).await.unwrap();
        let (code, msg, _) = scram_login(&mut r, mech, user, pw).await;
        assert_eq!(code, 58, "{mech} {user}");
        assert_eq!(msg.as_deref(), Some(format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {mech}").as_str()));
        assert!(closed(&mut r).await);
    }
    // A new user through AlterUserScramCredentials (the client sends the salted password).
    let salt = b"0123456789abcdef".to_vec();
    let salted = odradek::security::scram::Mechanism::Sha256.salted_password(b"bob-secret", &salt, 8192);
    let up = alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
        .with_name(StrBytes::from_static_str("bob"))
        .with_mechanism(1)
        .with_iterations(8192)
        .with_salt(Bytes::from(salt))
        .with_salted_password(Bytes::from(salted));
    let weak = up.clone().with_name(StrBytes::from_static_str("weak")).with_iterations(1000);
    let del = alter_user_scram_credentials_request::ScramCredentialDeletion::default()
        .with_name(StrBytes::from_static_str("ghost"))
        .with_mechanism(1);
    let r: AlterUserScramCredentialsResponse = admin
        .request(
            ApiKey::AlterUserScramCredentials,
            0,
            &AlterUserScramCredentialsRequest::default()
                .with_upsertions(vec![up, weak])
                .with_deletions(vec![del]),
        )
        .await
        .unwrap();
    let codes: Vec<(String, i16)> = r.results.iter().map(|x| (x.user.to_string(), x.error_code)).collect();
    assert_eq!(codes, vec![("ghost".into(), 91), ("bob".into(), 0), ("weak".into(), 93)]);
    let d: DescribeUserScramCredentialsResponse = admin
        .request(ApiKey::DescribeUserScramCredentials, 0, &DescribeUserScramCredentialsRequest::default())
        .await
        .unwrap();
    let described: Vec<(String, Vec<(i8, i32)>)> = d
        .results
        .iter()
        .map(|x| {
            (x.user.to_string(), x.credential_infos.iter().map(|c| (c.mechanism, c.iterations)).collect())
        })
        .collect();
    assert_eq!(described, vec![("admin".into(), vec![(2, 4096)]), ("bob".into(), vec![(1, 8192)])]);
    let mut bob = tls_connect(&addr, &tls).await.unwrap();
    assert_eq!(scram_login(&mut bob, "SCRAM-SHA-256", "bob", "bob-secret").await.0, 0);
    // Re-authentication on the same connection (KIP-368), same principal: served on.
    assert_eq!(scram_login(&mut bob, "SCRAM-SHA-256", "bob", "bob-secret").await.0, 0);
    assert!(metadata(&mut bob).await.is_some());
    // Plaintext Kafka bytes on the TLS port: closed; TLS still served to others.
    let mut plain = Raw::connect(&addr).await;
    let _ = plain.send_request(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()).await;
    assert!(closed(&mut plain).await);
    drop(b);
    // Credentials survive a restart (salted and hashed on disk: no password in the file).
    let stored = std::fs::read_to_string(data.join("scram-credentials")).unwrap();
    assert!(!stored.contains("bob-secret") && !stored.contains("admin-secret"));
    let b = start(&data, &sets, &[]).await.unwrap();
    let mut bob = tls_connect(&b.bootstrap(), &tls).await.unwrap();
    assert_eq!(scram_login(&mut bob, "SCRAM-SHA-256", "bob", "bob-secret").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_and_certificate_reload() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (chain, key, ca) =
        (dir.path().join("chain.pem"), dir.path().join("key.pem"), dir.path().join("ca.pem"));
    std::fs::write(&chain, &pki.server.cert).unwrap();
    std::fs::write(&key, &pki.server.key).unwrap();
    std::fs::write(&ca, &pki.ca.cert).unwrap();
    // PEM keystore file with key and chain together, a PEM truststore, client auth required.
    let ks = dir.path().join("ks.pem");
    std::fs::write(&ks, format!("{}{}", pki.server.cert, pki.server.key)).unwrap();
    let (ks_s, ca_s) = (ks.display().to_string(), ca.display().to_string());
    let b = start(
        &dir.path().join("data"),
        &[
            ("listeners", "SSL://127.0.0.1:0"),
            ("ssl.keystore.location", ks_s.as_str()),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", ca_s.as_str()),
            ("ssl.client.auth", "required"),
            ("ssl.principal.mapping.rules", "RULE:^CN=([a-z]+),O=Odradek dev$/$1/U,DEFAULT"),
            ("authorizer.class.name", "acl"),
            ("super.users", "User:ALICE"),
        ],
        &[],
    )
    .await
    .unwrap();
    let addr = b.bootstrap();
    let alice = tls_client(&pki.ca.cert, Some(&pki.clients[0].1));
    let mut r = tls_connect(&addr, &alice).await.unwrap();
    assert!(metadata(&mut r).await.is_some(), "a client certificate signed by the trusted CA is served");
    // The principal is the certificate subject through the mapping rule: CN=alice -> User:ALICE,
    // a super user; bob's certificate maps to User:BOB, who may not create topics.
    let create = CreateTopicsRequest::default()
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("mtls")))
            .with_num_partitions(1)
            .with_replication_factor(1)])
        .with_timeout_ms(5000);
    let mut bob = tls_connect(&addr, &tls_client(&pki.ca.cert, Some(&pki.clients[1].1))).await.unwrap();
    let c: CreateTopicsResponse = bob.request(ApiKey::CreateTopics, 5, &create).await.unwrap();
    assert_eq!(c.topics[0].error_code, 29, "User:BOB may not create topics");
    let c: CreateTopicsResponse = r.request(ApiKey::CreateTopics, 5, &create).await.unwrap();
    assert_eq!(c.topics[0].error_code, 0, "User:ALICE is a super user");
    // No client certificate: the handshake fails (TLS 1.3 reports it on the first read).
    let anon = tls_client(&pki.ca.cert, None);
    match tls_connect(&addr, &anon).await {
        Err(_) => {}
        Ok(mut r) => assert!(metadata(&mut r).await.is_none(), "served without a client certificate"),
    }
    // A certificate from another CA is refused too.
    let other = devcerts::generate(&["localhost".into()], &["mallory"]).unwrap();
    let mallory = tls_client(&pki.ca.cert, Some(&other.clients[0].1));
    match tls_connect(&addr, &mallory).await {
        Err(_) => {}
        Ok(mut r) => assert!(metadata(&mut r).await.is_none(), "served with an untrusted client certificate"),
    }
    // Replace the keystore with a certificate from a new CA (and trust it): new connections
    // get it within a few seconds, without a restart.
    let next = devcerts::generate(&["localhost".into(), "127.0.0.1".into()], &["carol"]).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(&ca, format!("{}{}", pki.ca.cert, next.ca.cert)).unwrap();
    std::fs::write(&ks, format!("{}{}", next.server.cert, next.server.key)).unwrap();
    let carol = tls_client(&next.ca.cert, Some(&next.clients[0].1));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut r) = tls_connect(&addr, &carol).await {
            if metadata(&mut r).await.is_some() {
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "the new certificate was not loaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The connection made before the reload keeps working.
    assert!(metadata(&mut r).await.is_some());
}

#[tokio::test]
async fn security_settings_that_cannot_be_honoured_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let ks = dir.path().join("ks.pem");
    std::fs::write(&ks, format!("{}{}", pki.server.cert, pki.server.key)).unwrap();
    let ks = ks.display().to_string();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("listeners", "SASL_PLAINTEXT://127.0.0.1:0")], "GSSAPI"),
        (
            vec![("listeners", "SASL_PLAINTEXT://127.0.0.1:0"), ("sasl.enabled.mechanisms", "PLAIN")],
            "sasl.jaas.config",
        ),
        (vec![("listeners", "SSL://127.0.0.1:0")], "ssl.keystore.location"),
        (
            vec![
                ("listeners", "SSL://127.0.0.1:0"),
                ("ssl.keystore.location", &ks),
                ("ssl.enabled.protocols", "TLSv1.1,TLSv1.2"),
            ],
            "TLSv1.1",
        ),
        (
            vec![
                ("listeners", "SSL://127.0.0.1:0"),
                ("ssl.keystore.location", &ks),
                ("ssl.cipher.suites", "TLS_RSA_WITH_AES_128_CBC_SHA"),
            ],
            "TLS_RSA_WITH_AES_128_CBC_SHA",
        ),
        (
            vec![
                ("listeners", "SSL://127.0.0.1:0"),
                ("ssl.keystore.location", &ks),
                ("ssl.client.auth", "required"),
            ],
            "truststore",
        ),
        (vec![("authorizer.class.name", "com.example.MyAuthorizer")], "authorizer.class.name"),
        (vec![("authorizer.class.name", "acl"), ("super.users", "admin")], "super.users"),
        (vec![("listeners", "SECRET://127.0.0.1:0")], "No security protocol defined for listener SECRET"),
        (vec![("principal.builder.class", "com.example.Principals")], "principal.builder.class"),
    ];
    for (sets, expect) in cases {
        let d = tempfile::tempdir().unwrap();
        let e =
            start(d.path(), &sets, &[]).await.err().unwrap_or_else(|| panic!("{sets:?} started")).to_string();
        assert!(e.contains(expect), "{sets:?}: {e}");
    }
}

fn plain_users() -> Vec<(&'static str, &'static str)> {
    vec![
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.enabled.mechanisms", "PLAIN"),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";"#,
        ),
        ("connection.failed.authentication.delay.ms", "0"),
    ]
}

async fn plain_login(addr: &str, user: &str, password: &str) -> Raw {
    let mut r = Raw::connect(addr).await;
    let _: SaslHandshakeResponse = r
        .request(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
        )
        .await
        .unwrap();
    let a: SaslAuthenticateResponse = r
        .request(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(format!("\0{user}\0{password}"))),
        )
        .await
        .unwrap();
    assert_eq!(a.error_code, 0, "{user} logs in");
    r
}

fn acl(
    rt: i8,
    name: &str,
    pattern: i8,
    principal: &str,
    op: i8,
    perm: i8,
) -> create_acls_request::AclCreation {
    create_acls_request::AclCreation::default()
        .with_resource_type(rt)
        .with_resource_name(StrBytes::from_string(name.into()))
        .with_resource_pattern_type(pattern)
        .with_principal(StrBytes::from_string(principal.into()))
        .with_host(StrBytes::from_static_str("*"))
        .with_operation(op)
        .with_permission_type(perm)
}

fn sasl(user: &'static str, pw: &'static str) -> [(&'static str, &'static str); 4] {
    [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", user),
        ("sasl.password", pw),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_as_kafka_enforces_them() {
    use odradek::security::acl::{op, pattern, perm, resource};
    let dir = tempfile::tempdir().unwrap();
    let mut sets = plain_users();
    sets.push(("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"));
    sets.push(("super.users", "User:admin"));
    let b = start(dir.path(), &sets, &[]).await.unwrap();
    let addr = b.bootstrap();
    let mut admin = plain_login(&addr, "admin", "admin-secret").await;
    for t in ["orders", "secret"] {
        let c: CreateTopicsResponse = admin
            .request(
                ApiKey::CreateTopics,
                5,
                &CreateTopicsRequest::default()
                    .with_topics(vec![create_topics_request::CreatableTopic::default()
                        .with_name(TopicName(StrBytes::from_static_str(t)))
                        .with_num_partitions(1)
                        .with_replication_factor(1)])
                    .with_timeout_ms(5000),
            )
            .await
            .unwrap();
        assert_eq!(c.topics[0].error_code, 0);
    }
    // bob has no ACL: Metadata hides both topics, and a named one is TOPIC_AUTHORIZATION_FAILED.
    let mut bob = plain_login(&addr, "bob", "bob-secret").await;
    let all = metadata(&mut bob).await.unwrap();
    assert!(
        all.topics.is_empty(),
        "bob sees no topic: {:?}",
        all.topics.iter().map(|t| t.name.clone()).collect::<Vec<_>>()
    );
    let named: MetadataResponse = bob
        .request(
            ApiKey::Metadata,
            12,
            &MetadataRequest::default()
                .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("orders"))))])),
        )
        .await
        .unwrap();
    assert_eq!(named.topics[0].error_code, 29);
    // A stock producer as bob is refused; the admin's view is whole.
    let p = producer(&addr, &sasl("bob", "bob-secret"));
    let err = p
        .send(FutureRecord::<str, str>::to("orders").partition(0).payload("x"), Duration::from_secs(5))
        .await
        .err()
        .map(|e| format!("{:?}", e.0));
    assert!(err.as_deref().is_some_and(|e| e.contains("TopicAuthorization")), "{err:?}");
    // Grant bob WRITE on orders (literal) and READ on topics prefixed "ord", and his group.
    let r: CreateAclsResponse = admin
        .request(
            ApiKey::CreateAcls,
            3,
            &CreateAclsRequest::default().with_creations(vec![
                acl(resource::TOPIC, "orders", pattern::LITERAL, "User:bob", op::WRITE, perm::ALLOW),
                acl(resource::TOPIC, "ord", pattern::PREFIXED, "User:bob", op::READ, perm::ALLOW),
                acl(resource::GROUP, "bobs", pattern::LITERAL, "User:bob", op::READ, perm::ALLOW),
                acl(resource::CLUSTER, "other-name", pattern::LITERAL, "User:bob", op::ALTER, perm::ALLOW),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(r.results.iter().map(|x| x.error_code).collect::<Vec<_>>(), vec![0, 0, 0, 42]);
    let p = producer(&addr, &sasl("bob", "bob-secret"));
    for i in 0..5 {
        let v = format!("order {i}");
        p.send(
            FutureRecord::<str, str>::to("orders").partition(0).key("k").payload(&v),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    let err = p
        .send(FutureRecord::<str, str>::to("secret").partition(0).payload("x"), Duration::from_secs(5))
        .await
        .err()
        .map(|e| format!("{:?}", e.0));
    assert!(err.as_deref().is_some_and(|e| e.contains("TopicAuthorization")), "secret stays closed: {err:?}");
    let mut cfg = sasl("bob", "bob-secret").to_vec();
    cfg.push(("group.id", "bobs"));
    let c = consumer(&addr, &cfg);
    let got = tokio::task::spawn_blocking(move || {
        read(&c, "orders", &[0], rdkafka::Offset::Beginning, 5, Duration::from_secs(20))
    })
    .await
    .unwrap();
    assert_eq!(
        got.iter().map(|g| g.value.clone().unwrap()).collect::<Vec<_>>(),
        (0..5).map(|i| format!("order {i}").into_bytes()).collect::<Vec<_>>()
    );
    // Committing offsets needs READ on the group: "other" is refused.
    let commit = |g: &str| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(g.into())))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("orders")))
                .with_partitions(vec![offset_commit_request::OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(3)])])
    };
    let ok: OffsetCommitResponse = bob.request(ApiKey::OffsetCommit, 8, &commit("bobs")).await.unwrap();
    assert_eq!(ok.topics[0].partitions[0].error_code, 0);
    let no: OffsetCommitResponse = bob.request(ApiKey::OffsetCommit, 8, &commit("other")).await.unwrap();
    assert_eq!(no.topics[0].partitions[0].error_code, 30, "GROUP_AUTHORIZATION_FAILED");
    // ACL admin is for ALTER on the cluster: bob cannot grant himself more.
    let r: CreateAclsResponse = bob
        .request(
            ApiKey::CreateAcls,
            3,
            &CreateAclsRequest::default().with_creations(vec![acl(
                resource::TOPIC,
                "*",
                pattern::LITERAL,
                "User:bob",
                op::ALL,
                perm::ALLOW,
            )]),
        )
        .await
        .unwrap();
    assert_eq!(r.results[0].error_code, 31);
    // A DENY wins over the prefixed READ.
    let _: CreateAclsResponse = admin
        .request(
            ApiKey::CreateAcls,
            3,
            &CreateAclsRequest::default().with_creations(vec![acl(
                resource::TOPIC,
                "orders",
                pattern::LITERAL,
                "User:bob",
                op::READ,
                perm::DENY,
            )]),
        )
        .await
        .unwrap();
    let fetch = FetchRequest::default().with_max_wait_ms(0).with_max_bytes(1 << 20).with_topics(vec![
        fetch_request::FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("orders")))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)]),
    ]);
    let f: FetchResponse = bob.request(ApiKey::Fetch, 12, &fetch).await.unwrap();
    assert_eq!(f.responses[0].partitions[0].error_code, 29);
    assert!(
        f.responses[0].partitions[0].records.as_ref().is_none_or(|r| r.is_empty()),
        "no data for a denied fetch"
    );
    // DescribeAcls with a MATCH filter lists what applies to orders; DeleteAcls removes bob's.
    let d: DescribeAclsResponse = admin
        .request(
            ApiKey::DescribeAcls,
            3,
            &DescribeAclsRequest::default()
                .with_resource_type_filter(resource::TOPIC)
                .with_resource_name_filter(Some(StrBytes::from_static_str("orders")))
                .with_pattern_type_filter(pattern::MATCH)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(op::ANY)
                .with_permission_type(perm::ANY),
        )
        .await
        .unwrap();
    let n: usize = d.resources.iter().map(|r| r.acls.len()).sum();
    assert_eq!(n, 3, "literal WRITE, literal DENY READ, prefixed READ");
    let del: DeleteAclsResponse = admin
        .request(
            ApiKey::DeleteAcls,
            3,
            &DeleteAclsRequest::default().with_filters(vec![delete_acls_request::DeleteAclsFilter::default(
            )
            .with_resource_type_filter(resource::ANY)
            .with_resource_name_filter(None)
            .with_pattern_type_filter(pattern::ANY)
            .with_host_filter(None)
            .with_principal_filter(Some(StrBytes::from_static_str("User:bob")))
            .with_operation(op::ANY)
            .with_permission_type(perm::ANY)]),
        )
        .await
        .unwrap();
    assert_eq!(del.filter_results[0].matching_acls.len(), 4);
    drop(b);
    // ACLs are durable: after a restart bob is refused again (none left), admin still super.
    let b = start(dir.path(), &sets, &[]).await.unwrap();
    let mut bob = plain_login(&b.bootstrap(), "bob", "bob-secret").await;
    let f: FetchResponse = bob.request(ApiKey::Fetch, 12, &fetch).await.unwrap();
    assert_eq!(f.responses[0].partitions[0].error_code, 29);
    // Without an authorizer the ACL APIs say so.
    let plain = start(tempfile::tempdir().unwrap().path(), &plain_users(), &[]).await.unwrap();
    let mut a = plain_login(&plain.bootstrap(), "alice", "alice-secret").await;
    let r: DescribeAclsResponse = a
        .request(
            ApiKey::DescribeAcls,
            3,
            &DescribeAclsRequest::default()
                .with_resource_type_filter(1)
                .with_pattern_type_filter(1)
                .with_operation(1)
                .with_permission_type(1),
        )
        .await
        .unwrap();
    assert_eq!(r.error_code, 54, "SECURITY_DISABLED");
}

async fn oauth_login(r: &mut Raw, token: &str) -> SaslAuthenticateResponse {
    let hs: SaslHandshakeResponse = r
        .request(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("OAUTHBEARER")),
        )
        .await
        .unwrap();
    assert_eq!(hs.error_code, 0);
    r.request(
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default()
            .with_auth_bytes(Bytes::from(format!("n,,\x01auth=Bearer {token}\x01\x01"))),
    )
    .await
    .unwrap()
}

/// An invalid token: the server's invalid_token challenge, the client's \x01, then the failure.
async fn oauth_refused(r: &mut Raw, token: &str) {
    let first = oauth_login(r, token).await;
    assert_eq!(first.error_code, 0);
    assert_eq!(&first.auth_bytes[..], br#"{"status":"invalid_token"}"#);
    let fin: SaslAuthenticateResponse = r
        .request(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"\x01")),
        )
        .await
        .unwrap();
    assert_eq!(fin.error_code, 58);
    assert!(closed(r).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauthbearer_unsecured_and_signed_tokens() {
    // Kafka's unsecured validator: alg none, sub, exp; the session ends with the token.
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        dir.path(),
        &[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
            ("sasl.enabled.mechanisms", "OAUTHBEARER"),
            ("listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config", r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";"#),
            ("connection.failed.authentication.delay.ms", "0"),
        ],
        &[],
    )
    .await
    .unwrap();
    let addr = b.bootstrap();
    let mut r = Raw::connect(&addr).await;
    let ok = oauth_login(&mut r, &odradek::security::oauth::unsecured_token("alice", 60)).await;
    assert_eq!(ok.error_code, 0);
    assert!(
        ok.session_lifetime_ms > 50_000 && ok.session_lifetime_ms <= 60_000,
        "the token's lifetime: {}",
        ok.session_lifetime_ms
    );
    assert!(metadata(&mut r).await.is_some());
    let mut r = Raw::connect(&addr).await;
    oauth_refused(&mut r, &odradek::security::oauth::unsecured_token("alice", -10)).await;
    let mut r = Raw::connect(&addr).await;
    oauth_refused(&mut r, "not.a.token").await;
    drop(b);

    // Signed tokens (ES256) against a JWKS file, with audience and issuer.
    use base64::Engine;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = key.public_key_raw();
    let (x, y) = (&point[1..33], &point[33..65]);
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": url.encode(x), "y": url.encode(y), "kid": "k1", "alg": "ES256", "use": "sig"}]});
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    let url_s = format!("file://{}", jwks_path.display());
    let b = start(
        &dir.path().join("signed"),
        &[
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
            ("sasl.enabled.mechanisms", "OAUTHBEARER"),
            (
                "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
            ),
            ("sasl.oauthbearer.jwks.endpoint.url", &url_s),
            ("sasl.oauthbearer.expected.audience", "kafka"),
            ("sasl.oauthbearer.expected.issuer", "https://issuer.example"),
            ("connection.failed.authentication.delay.ms", "0"),
        ],
        &[],
    )
    .await
    .unwrap();
    let addr = b.bootstrap();
    let now = odradek::clock::now_ms() / 1000;
    let sign = |k: &rcgen::KeyPair, claims: serde_json::Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_pem(k.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let good = sign(
        &key,
        serde_json::json!({"sub": "svc-orders", "aud": "kafka", "iss": "https://issuer.example", "exp": now + 120, "iat": now}),
    );
    let mut r = Raw::connect(&addr).await;
    assert_eq!(oauth_login(&mut r, &good).await.error_code, 0);
    assert!(metadata(&mut r).await.is_some());
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    for bad in [
        sign(
            &key,
            serde_json::json!({"sub": "svc", "aud": "someone-else", "iss": "https://issuer.example", "exp": now + 120}),
        ),
        sign(
            &key,
            serde_json::json!({"sub": "svc", "aud": "kafka", "iss": "https://evil.example", "exp": now + 120}),
        ),
        sign(
            &key,
            serde_json::json!({"sub": "svc", "aud": "kafka", "iss": "https://issuer.example", "exp": now - 600}),
        ),
        sign(
            &other,
            serde_json::json!({"sub": "svc", "aud": "kafka", "iss": "https://issuer.example", "exp": now + 120}),
        ),
        odradek::security::oauth::unsecured_token("svc", 60),
    ] {
        let mut r = Raw::connect(&addr).await;
        oauth_refused(&mut r, &bad).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_server_properties_with_sasl_ssl_scram_and_acls_starts_unchanged() {
    // What a Kafka 4 KRaft combined node's server.properties says for SASL_SSL + SCRAM + ACLs.
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let ks = dir.path().join("broker.pem");
    std::fs::write(&ks, format!("{}{}", pki.server.key, pki.server.cert)).unwrap();
    let text = format!(
        r#"# Kafka 4.x server.properties
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:19093
listeners=SASL_SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:19093
advertised.listeners=SASL_SSL://localhost:19092
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";
ssl.keystore.type=PEM
ssl.keystore.location={}
ssl.client.auth=none
ssl.endpoint.identification.algorithm=https
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
num.partitions=3
"#,
        ks.display()
    );
    let props = dir.path().join("server.properties");
    std::fs::write(&props, text).unwrap();
    let mut b = odradek::Broker::builder()
        .data_dir(dir.path().join("data"))
        .add_scram("SCRAM-SHA-512=[name=admin,password=admin-secret]")
        .add_scram("SCRAM-SHA-512=[name=app,password=app-secret]");
    for (k, v) in odradek::BrokerConfig::read_properties(&props).unwrap() {
        b = b.set(&k, &v);
    }
    let b = b.start().await.unwrap();
    assert_eq!(b.state().listeners.len(), 1, "only SASL_SSL is bound; CONTROLLER is a controller listener");
    let addr = format!("127.0.0.1:{}", b.state().listeners[0].bound.port());
    let tls = tls_client(&pki.ca.cert, None);
    let mut admin = tls_connect(&addr, &tls).await.unwrap();
    assert_eq!(scram_login(&mut admin, "SCRAM-SHA-512", "admin", "admin-secret").await.0, 0);
    let md = metadata(&mut admin).await.unwrap();
    assert_eq!(
        (md.brokers[0].host.as_str(), md.brokers[0].port),
        ("localhost", 19092),
        "advertised.listeners"
    );
    let create = CreateTopicsRequest::default()
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_num_partitions(-1)
            .with_replication_factor(-1)])
        .with_timeout_ms(5000);
    let mut app = tls_connect(&addr, &tls).await.unwrap();
    assert_eq!(scram_login(&mut app, "SCRAM-SHA-512", "app", "app-secret").await.0, 0);
    let c: CreateTopicsResponse = app.request(ApiKey::CreateTopics, 5, &create).await.unwrap();
    assert_eq!(c.topics[0].error_code, 29, "ACLs are on: app may not create topics");
    let c: CreateTopicsResponse = admin.request(ApiKey::CreateTopics, 5, &create).await.unwrap();
    assert_eq!(
        (c.topics[0].error_code, c.topics[0].num_partitions),
        (0, 3),
        "the super user may; num.partitions honoured"
    );
    // Nothing else listens: the default PLAINTEXT port is not opened behind the operator's back.
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", 19093)).await.is_err(), "no controller listener");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_advertised_version_of_the_new_apis_answers() {
    use odradek::security::acl::{op, pattern, perm, resource};
    let dir = tempfile::tempdir().unwrap();
    let mut sets = plain_users();
    sets.push(("authorizer.class.name", "acl"));
    sets.push(("super.users", "User:admin"));
    let b = start(dir.path(), &sets, &["SCRAM-SHA-256=[name=x,password=y]"]).await.unwrap();
    let addr = b.bootstrap();
    // SaslHandshake v0-1 and SaslAuthenticate v0-2: a PLAIN login at each, then a request served.
    for hv in 0..=1i16 {
        for av in 0..=2i16 {
            let mut r = Raw::connect(&addr).await;
            let hs: SaslHandshakeResponse = r
                .request(
                    ApiKey::SaslHandshake,
                    hv,
                    &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
                )
                .await
                .unwrap();
            assert_eq!(hs.error_code, 0);
            if hv == 0 {
                let token = b"\0admin\0admin-secret";
                r.send_bytes(&[&(token.len() as i32).to_be_bytes()[..], &token[..]].concat()).await.unwrap();
                assert!(r.read_frame().await.is_some());
            } else {
                let a: SaslAuthenticateResponse = r
                    .request(
                        ApiKey::SaslAuthenticate,
                        av,
                        &SaslAuthenticateRequest::default()
                            .with_auth_bytes(Bytes::from_static(b"\0admin\0admin-secret")),
                    )
                    .await
                    .expect("answered");
                assert_eq!(a.error_code, 0, "SaslAuthenticate v{av}");
            }
            assert!(metadata(&mut r).await.is_some(), "served after handshake v{hv} / authenticate v{av}");
        }
    }
    let mut admin = plain_login(&addr, "admin", "admin-secret").await;
    for v in 1..=3i16 {
        let name = format!("t{v}");
        let c: CreateAclsResponse = admin
            .request(
                ApiKey::CreateAcls,
                v,
                &CreateAclsRequest::default().with_creations(vec![acl(
                    resource::TOPIC,
                    &name,
                    pattern::LITERAL,
                    "User:bob",
                    op::READ,
                    perm::ALLOW,
                )]),
            )
            .await
            .expect("CreateAcls answered");
        assert_eq!(c.results[0].error_code, 0, "CreateAcls v{v}");
        let filter = DescribeAclsRequest::default()
            .with_resource_type_filter(resource::TOPIC)
            .with_resource_name_filter(Some(StrBytes::from_string(name.clone())))
            .with_pattern_type_filter(pattern::LITERAL)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(op::ANY)
            .with_permission_type(perm::ANY);
        let d: DescribeAclsResponse =
            admin.request(ApiKey::DescribeAcls, v, &filter).await.expect("DescribeAcls answered");
        assert_eq!(d.resources.len(), 1, "DescribeAcls v{v}");
        let del: DeleteAclsResponse = admin
            .request(
                ApiKey::DeleteAcls,
                v,
                &DeleteAclsRequest::default().with_filters(vec![
                    delete_acls_request::DeleteAclsFilter::default()
                        .with_resource_type_filter(resource::TOPIC)
                        .with_resource_name_filter(Some(StrBytes::from_string(name)))
                        .with_pattern_type_filter(pattern::LITERAL)
                        .with_principal_filter(None)
                        .with_host_filter(None)
                        .with_operation(op::ANY)
                        .with_permission_type(perm::ANY),
                ]),
            )
            .await
            .expect("DeleteAcls answered");
        assert_eq!(del.filter_results[0].matching_acls.len(), 1, "DeleteAcls v{v}");
    }
    let d: DescribeUserScramCredentialsResponse = admin
        .request(ApiKey::DescribeUserScramCredentials, 0, &DescribeUserScramCredentialsRequest::default())
        .await
        .unwrap();
    assert_eq!(d.results.len(), 1);
}
