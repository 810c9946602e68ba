//! TLS listeners with rustls, configured by Kafka's `ssl.*` keys (each may be given per listener
//! as `listener.name.<name>.ssl.*`): a keystore (PEM file, PKCS12 file, or inline PEM in
//! `ssl.keystore.certificate.chain` + `ssl.keystore.key`), a truststore for client certificates
//! (PEM or PKCS12, or inline `ssl.truststore.certificates`), `ssl.client.auth`,
//! `ssl.enabled.protocols`, `ssl.cipher.suites`. What rustls cannot do (TLS 1.0/1.1, CBC or RSA
//! key-exchange suites, JKS files) stops the broker at start with the reason. Files are checked
//! for changes every second; a changed keystore or truststore is loaded for new connections
//! without a restart (one that fails to load is logged and the old one kept).
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

/// `ssl.client.auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// The TLS side of one listener.
pub struct Tls {
    listener: String,
    get: Settings,
    current: RwLock<Arc<ServerConfig>>,
    /// Files the config was built from, with their modification times then.
    files: RwLock<Vec<(PathBuf, Option<SystemTime>)>>,
    pub client_auth: ClientAuth,
}

/// The listener's effective `ssl.*` values (listener prefix first, then the plain key).
#[derive(Clone)]
struct Settings(Arc<dyn Fn(&str) -> Option<String> + Send + Sync>);

impl Settings {
    fn get(&self, k: &str) -> Option<String> {
        (self.0)(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Kafka's (IANA) suite names for what rustls offers.
fn iana_name(s: &SupportedCipherSuite) -> String {
    let n = format!("{:?}", s.suite());
    n.replacen("TLS13_", "TLS_", 1)
}

fn versions(get: &Settings) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let raw = get.get("ssl.enabled.protocols").unwrap_or_else(|| "TLSv1.2,TLSv1.3".into());
    let mut out = Vec::new();
    let mut unsupported = Vec::new();
    for p in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match p {
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            other => unsupported.push(other.to_string()),
        }
    }
    if !unsupported.is_empty() {
        return Err(format!(
            "ssl.enabled.protocols={raw}: {} cannot be served (rustls speaks TLSv1.2 and TLSv1.3 only); remove {}",
            unsupported.join(", "),
            if unsupported.len() > 1 { "them" } else { "it" }
        ));
    }
    if out.is_empty() {
        return Err(format!("ssl.enabled.protocols={raw} enables no protocol"));
    }
    Ok(out)
}

fn suites(get: &Settings) -> Result<Option<Vec<SupportedCipherSuite>>, String> {
    let Some(raw) = get.get("ssl.cipher.suites") else { return Ok(None) };
    let all = provider().cipher_suites.clone();
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match all.iter().find(|s| iana_name(s) == name) {
            Some(s) => out.push(*s),
            None => {
                return Err(format!(
                    "ssl.cipher.suites: {name} is not available (rustls offers {}; CBC, RSA key exchange and other legacy suites are not)",
                    all.iter().map(iana_name).collect::<Vec<_>>().join(", ")
                ))
            }
        }
    }
    Ok(Some(out))
}

enum StoreKind {
    Pem,
    Pkcs12,
}

/// `ssl.keystore.type`/`ssl.truststore.type`; unset or JKS (Kafka's default name, which Java
/// also uses for PKCS12 files): told apart by the file's first bytes.
fn store_kind(key: &str, declared: Option<String>, bytes: &[u8]) -> Result<StoreKind, String> {
    let declared = declared.map(|d| d.to_ascii_uppercase());
    match declared.as_deref() {
        Some("PEM") => return Ok(StoreKind::Pem),
        Some("PKCS12") => return Ok(StoreKind::Pkcs12),
        Some("JKS") | None => {}
        Some(other) => return Err(format!("{key}={other}: supported types are PEM and PKCS12")),
    }
    if bytes.starts_with(&[0xfe, 0xed, 0xfe, 0xed]) || bytes.starts_with(&[0xce, 0xce, 0xce, 0xce]) {
        return Err(format!(
            "the file is a Java JKS/JCEKS keystore, which Odradek cannot read; convert it with keytool -importkeystore -deststoretype PKCS12 and set {key}=PKCS12"
        ));
    }
    if bytes.windows(11).take(64).any(|w| w == b"-----BEGIN ") {
        Ok(StoreKind::Pem)
    } else {
        Ok(StoreKind::Pkcs12)
    }
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {path}: {e}"))
}

fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what}: bad PEM certificate: {e:?}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no certificate found"));
    }
    Ok(certs)
}

/// A PEM private key: PKCS#8 (encrypted with `ssl.key.password` when it says so), PKCS#1 or SEC1.
fn pem_key(pem: &[u8], password: Option<&str>, what: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some(pw) = password else {
            return Err(format!("{what}: the private key is encrypted and ssl.key.password is not set"));
        };
        use pkcs8::der::Decode;
        let (_, doc) =
            pkcs8::SecretDocument::from_pem(&text).map_err(|e| format!("{what}: bad encrypted key: {e}"))?;
        let enc = pkcs8::EncryptedPrivateKeyInfoRef::from_der(doc.as_bytes())
            .map_err(|e| format!("{what}: bad encrypted key: {e}"))?;
        let plain = enc
            .decrypt(pw)
            .map_err(|_| format!("{what}: cannot decrypt the private key with ssl.key.password"))?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec())));
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("{what}: no usable private key ({e:?})"))
}

struct Loaded {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Option<RootCertStore>,
    files: Vec<PathBuf>,
}

fn load(get: &Settings) -> Result<Loaded, String> {
    let mut files = Vec::new();
    let key_password = get.get("ssl.key.password");
    let (chain, key) = match (get.get("ssl.keystore.certificate.chain"), get.get("ssl.keystore.key")) {
        (Some(chain), Some(key)) => {
            if get.get("ssl.keystore.location").is_some() {
                return Err("give either ssl.keystore.location or ssl.keystore.certificate.chain + ssl.keystore.key, not both".into());
            }
            (
                pem_certs(chain.as_bytes(), "ssl.keystore.certificate.chain")?,
                pem_key(key.as_bytes(), key_password.as_deref(), "ssl.keystore.key")?,
            )
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err("ssl.keystore.certificate.chain and ssl.keystore.key go together".into())
        }
        (None, None) => {
            let Some(path) = get.get("ssl.keystore.location") else {
                return Err("a TLS listener needs a certificate: set ssl.keystore.location (PEM or PKCS12) or ssl.keystore.certificate.chain + ssl.keystore.key".into());
            };
            let bytes = read(&path, "ssl.keystore.location")?;
            files.push(PathBuf::from(&path));
            match store_kind("ssl.keystore.type", get.get("ssl.keystore.type"), &bytes)? {
                StoreKind::Pem => {
                    (pem_certs(&bytes, &path)?, pem_key(&bytes, key_password.as_deref(), &path)?)
                }
                StoreKind::Pkcs12 => {
                    let pw = get.get("ssl.keystore.password").unwrap_or_default();
                    let ks = p12_keystore::KeyStore::from_pkcs12(
                        &bytes,
                        &pw,
                        p12_keystore::Pkcs12ImportPolicy::Relaxed,
                    )
                    .map_err(|e| {
                        format!("{path}: cannot open the PKCS12 keystore (ssl.keystore.password): {e}")
                    })?;
                    let Some((_, chain)) = ks.private_key_chain() else {
                        return Err(format!("{path}: the PKCS12 keystore holds no private key"));
                    };
                    let certs: Vec<CertificateDer<'static>> =
                        chain.certs().iter().map(|c| CertificateDer::from(c.as_der().to_vec())).collect();
                    (certs, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())))
                }
            }
        }
    };
    let trust: Option<Vec<CertificateDer<'static>>> =
        match (get.get("ssl.truststore.certificates"), get.get("ssl.truststore.location")) {
            (Some(_), Some(_)) => {
                return Err(
                    "give either ssl.truststore.location or ssl.truststore.certificates, not both".into()
                )
            }
            (Some(pem), None) => Some(pem_certs(pem.as_bytes(), "ssl.truststore.certificates")?),
            (None, Some(path)) => {
                let bytes = read(&path, "ssl.truststore.location")?;
                files.push(PathBuf::from(&path));
                Some(match store_kind("ssl.truststore.type", get.get("ssl.truststore.type"), &bytes)? {
                    StoreKind::Pem => pem_certs(&bytes, &path)?,
                    StoreKind::Pkcs12 => {
                        let pw = get.get("ssl.truststore.password").unwrap_or_default();
                        let ks = p12_keystore::KeyStore::from_pkcs12(
                            &bytes,
                            &pw,
                            p12_keystore::Pkcs12ImportPolicy::Relaxed,
                        )
                        .map_err(|e| {
                            format!(
                                "{path}: cannot open the PKCS12 truststore (ssl.truststore.password): {e}"
                            )
                        })?;
                        let certs: Vec<_> = ks
                            .entries()
                            .filter_map(|(_, e)| match e {
                                p12_keystore::KeyStoreEntry::Certificate(c) => {
                                    Some(CertificateDer::from(c.as_der().to_vec()))
                                }
                                _ => None,
                            })
                            .collect();
                        if certs.is_empty() {
                            return Err(format!(
                                "{path}: the PKCS12 truststore holds no trusted certificate"
                            ));
                        }
                        certs
                    }
                })
            }
            (None, None) => None,
        };
    let roots = match trust {
        Some(certs) => {
            let mut roots = RootCertStore::empty();
            for c in certs {
                roots.add(c).map_err(|e| {
                    format!("truststore: a certificate cannot be used as a trust anchor: {e}")
                })?;
            }
            Some(roots)
        }
        None => None,
    };
    Ok(Loaded { chain, key, roots, files })
}

fn build(get: &Settings, auth: ClientAuth) -> Result<(ServerConfig, Vec<PathBuf>), String> {
    let versions = versions(get)?;
    let mut p = (*provider()).clone();
    if let Some(s) = suites(get)? {
        p.cipher_suites = s;
    }
    let p = Arc::new(p);
    let loaded = load(get)?;
    let builder = ServerConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("ssl.enabled.protocols / ssl.cipher.suites: {e}"))?;
    let builder = match (auth, loaded.roots) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => return Err("ssl.client.auth asks for client certificates but no truststore is set (ssl.truststore.location or ssl.truststore.certificates)".into()),
        (a, Some(roots)) => {
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p.clone());
            let v = if a == ClientAuth::Requested { v.allow_unauthenticated() } else { v };
            builder.with_client_cert_verifier(v.build().map_err(|e| format!("truststore: {e}"))?)
        }
    };
    let mut cfg = builder
        .with_single_cert(loaded.chain, loaded.key)
        .map_err(|e| format!("the keystore's certificate and key do not go together: {e}"))?;
    // No TLS 1.3 session tickets: they arrive after the handshake unasked, and kafka-python
    // closes a connection that becomes readable with no request in flight.
    cfg.send_tls13_tickets = 0;
    Ok((cfg, loaded.files))
}

fn mtime(p: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl Tls {
    /// Builds the listener's TLS config from its settings; `Err` names what cannot be honoured.
    pub fn new(
        listener: &str,
        get: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Tls, String> {
        let get = Settings(Arc::new(get));
        let client_auth = match get.get("ssl.client.auth").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("none") => ClientAuth::None,
            Some("requested") => ClientAuth::Requested,
            Some("required") => ClientAuth::Required,
            Some(other) => {
                return Err(format!("ssl.client.auth={other}: expected none, requested or required"))
            }
        };
        let (cfg, files) = build(&get, client_auth)?;
        let files = files.into_iter().map(|f| {
            let t = mtime(&f);
            (f, t)
        });
        Ok(Tls {
            listener: listener.to_string(),
            current: RwLock::new(Arc::new(cfg)),
            files: RwLock::new(files.collect()),
            get,
            client_auth,
        })
    }

    /// The config for a new connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.read().clone())
    }

    /// Reloads when a keystore or truststore file changed since it was loaded. Returns whether
    /// a new config is in force.
    pub fn reload_if_changed(&self) -> bool {
        let changed = self.files.read().iter().any(|(f, t)| mtime(f) != *t);
        if !changed {
            return false;
        }
        // Remember the new times first: a file that fails to load is retried only when it changes again.
        let now: Vec<_> = self.files.read().iter().map(|(f, _)| (f.clone(), mtime(f))).collect();
        *self.files.write() = now;
        match build(&self.get, self.client_auth) {
            Ok((cfg, _)) => {
                *self.current.write() = Arc::new(cfg);
                tracing::info!(listener = %self.listener, "TLS keystore/truststore changed: loaded for new connections");
                true
            }
            Err(e) => {
                tracing::error!(listener = %self.listener, error = %e, "TLS keystore/truststore changed but cannot be loaded; keeping the previous one");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(kv: Vec<(&'static str, String)>) -> Result<Tls, String> {
        Tls::new("SSL", move |k| kv.iter().find(|(x, _)| *x == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn pkcs12_encrypted_pem_and_refused_keystores() {
        let pki = crate::security::devcerts::generate(&["localhost".into()], &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_der = match PrivateKeyDer::from_pem_slice(pki.server.key.as_bytes()).unwrap() {
            PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
            _ => panic!("rcgen keys are PKCS#8"),
        };
        let cert_der = CertificateDer::from_pem_slice(pki.server.cert.as_bytes()).unwrap().to_vec();
        // PKCS12, as keytool -importkeystore -deststoretype PKCS12 makes them.
        let mut ks = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(
            vec![1u8; 20],
            p12_keystore::PrivateKey::from_der(&key_der).unwrap(),
            [p12_keystore::Certificate::from_der(&cert_der).unwrap()],
        );
        ks.add_entry("server", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let p12 = dir.path().join("server.p12");
        std::fs::write(&p12, ks.writer("changeit").write().unwrap()).unwrap();
        let loc = p12.display().to_string();
        assert!(tls(vec![
            ("ssl.keystore.location", loc.clone()),
            ("ssl.keystore.type", "PKCS12".into()),
            ("ssl.keystore.password", "changeit".into())
        ])
        .is_ok());
        // Unset type (Kafka's JKS default name): told apart by content.
        assert!(tls(vec![
            ("ssl.keystore.location", loc.clone()),
            ("ssl.keystore.password", "changeit".into())
        ])
        .is_ok());
        let e = tls(vec![("ssl.keystore.location", loc), ("ssl.keystore.password", "wrong".into())])
            .err()
            .unwrap();
        assert!(e.contains("ssl.keystore.password"), "{e}");
        // Inline PEM with an encrypted PKCS#8 key and ssl.key.password.
        use pkcs8::der::{Decode, EncodePem};
        let info = pkcs8::PrivateKeyInfoRef::from_der(&key_der).unwrap();
        let params =
            pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &[7u8; 16], [9u8; 16])
                .unwrap();
        let enc = info.encrypt_with_params(params, "keypass").unwrap();
        let enc_pem = pkcs8::EncryptedPrivateKeyInfoRef::from_der(enc.as_bytes())
            .unwrap()
            .to_pem(pkcs8::LineEnding::LF)
            .unwrap();
        let inline = |pw: &str| {
            vec![
                ("ssl.keystore.certificate.chain", pki.server.cert.clone()),
                ("ssl.keystore.key", enc_pem.clone()),
                ("ssl.key.password", pw.to_string()),
            ]
        };
        assert!(tls(inline("keypass")).is_ok());
        assert!(tls(inline("nope")).err().unwrap().contains("ssl.key.password"));
        // A JKS file is refused with the way out.
        let jks = dir.path().join("server.jks");
        std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).unwrap();
        let e = tls(vec![("ssl.keystore.location", jks.display().to_string())]).err().unwrap();
        assert!(e.contains("keytool"), "{e}");
    }
}
