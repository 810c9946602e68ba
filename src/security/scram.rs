//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka serves them: credentials are
//! kept salted and hashed (salt, StoredKey, ServerKey, iterations; never the password), durable
//! in `DIR/scram-credentials` (written atomically), and managed with
//! AlterUserScramCredentials / DescribeUserScramCredentials or `--add-scram` at start.
//!
//! Kafka's exchange: the client-first message must use the gs2 header `n,,` or `n,a=<authzid>,`
//! (no channel binding), iterations are 4096..=16384, and every failure, unknown user included,
//! is one generic authentication error (the server never sends `e=`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use parking_lot::RwLock;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::{pct, unpct};
use crate::log::file::Disk;

pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mechanism {
    Sha256,
    Sha512,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha256 => "SCRAM-SHA-256",
            Mechanism::Sha512 => "SCRAM-SHA-512",
        }
    }
    pub fn parse(s: &str) -> Option<Mechanism> {
        match s {
            "SCRAM-SHA-256" => Some(Mechanism::Sha256),
            "SCRAM-SHA-512" => Some(Mechanism::Sha512),
            _ => None,
        }
    }
    /// Kafka's wire number (ScramMechanism): 1 = SHA-256, 2 = SHA-512.
    pub fn wire(self) -> i8 {
        match self {
            Mechanism::Sha256 => 1,
            Mechanism::Sha512 => 2,
        }
    }
    pub fn from_wire(n: i8) -> Option<Mechanism> {
        match n {
            1 => Some(Mechanism::Sha256),
            2 => Some(Mechanism::Sha512),
            _ => None,
        }
    }
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Mechanism::Sha512 => {
                let mut m = <Hmac<Sha512> as hmac::KeyInit>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }
    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => Sha256::digest(data).to_vec(),
            Mechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
    /// RFC 5802's Hi(): PBKDF2 with this HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec(),
            Mechanism::Sha512 => pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec(),
        }
    }
}

/// What is stored for one user and mechanism.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl Credential {
    /// From the salted password a client computed (AlterUserScramCredentials sends that).
    pub fn from_salted(m: Mechanism, salt: Vec<u8>, salted: &[u8], iterations: i32) -> Credential {
        let client_key = m.hmac(salted, b"Client Key");
        Credential {
            salt,
            stored_key: m.hash(&client_key),
            server_key: m.hmac(salted, b"Server Key"),
            iterations,
        }
    }
    pub fn from_password(m: Mechanism, password: &str, iterations: i32) -> Credential {
        let mut salt = vec![0u8; 32];
        getrandom::fill(&mut salt).expect("the system random source");
        let salted = m.salted_password(password.as_bytes(), &salt, iterations as u32);
        Credential::from_salted(m, salt, &salted, iterations)
    }
}

/// Why a credential change is refused (Kafka's codes are chosen by the handler).
#[derive(Debug, PartialEq, Eq)]
pub enum CredentialError {
    /// UNACCEPTABLE_CREDENTIAL
    Unacceptable(String),
    /// RESOURCE_NOT_FOUND
    NotFound(String),
    Storage(String),
}

/// Every SCRAM credential, durable in one file.
pub struct CredentialStore {
    path: PathBuf,
    disk: Disk,
    users: RwLock<BTreeMap<(String, Mechanism), Credential>>,
}

impl CredentialStore {
    /// Reads `DIR/scram-credentials` (absent: no users). A file that does not parse stops the
    /// start: silently dropping credentials would lock users out or, worse, hide a tampered file.
    pub fn open(disk: Disk, data_dir: &std::path::Path) -> Result<CredentialStore, String> {
        let path = data_dir.join("scram-credentials");
        let mut users = BTreeMap::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let bad = || {
                        format!(
                            "{}: line {} is not 'MECHANISM USER ITERATIONS SALT STORED_KEY SERVER_KEY'",
                            path.display(),
                            n + 1
                        )
                    };
                    let f: Vec<&str> = line.split(' ').collect();
                    if f.len() != 6 {
                        return Err(bad());
                    }
                    let m = Mechanism::parse(f[0]).ok_or_else(bad)?;
                    let user = unpct(f[1]).ok_or_else(bad)?;
                    let iterations = f[2].parse().map_err(|_| bad())?;
                    let dec = |s: &str| B64.decode(s).map_err(|_| bad());
                    users.insert(
                        (user, m),
                        Credential {
                            iterations,
                            salt: dec(f[3])?,
                            stored_key: dec(f[4])?,
                            server_key: dec(f[5])?,
                        },
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
        Ok(CredentialStore { path, disk, users: RwLock::new(users) })
    }

    pub fn get(&self, user: &str, m: Mechanism) -> Option<Credential> {
        self.users.read().get(&(user.to_string(), m)).cloned()
    }

    /// Whether `password` is `user`'s, under any SCRAM mechanism it has a credential for (the
    /// check a SCRAM login makes, for HTTP Basic logins to the console).
    pub fn verify_password(&self, user: &str, password: &str) -> bool {
        let mut ok = false;
        for m in [Mechanism::Sha256, Mechanism::Sha512] {
            if let Some(c) = self.get(user, m) {
                let salted = m.salted_password(password.as_bytes(), &c.salt, c.iterations.max(1) as u32);
                let stored = m.hash(&m.hmac(&salted, b"Client Key"));
                ok |= bool::from(subtle::ConstantTimeEq::ct_eq(stored.as_slice(), c.stored_key.as_slice()));
            }
        }
        ok
    }

    /// Every (user, mechanism, iterations), by user.
    pub fn describe(&self) -> Vec<(String, Mechanism, i32)> {
        self.users.read().iter().map(|((u, m), c)| (u.clone(), *m, c.iterations)).collect()
    }

    fn persist(&self, users: &BTreeMap<(String, Mechanism), Credential>) -> Result<(), CredentialError> {
        let mut text = String::from("# SCRAM credentials: MECHANISM USER ITERATIONS SALT STORED_KEY SERVER_KEY (base64); no passwords\n");
        for ((u, m), c) in users {
            text.push_str(&format!(
                "{} {} {} {} {} {}\n",
                m.name(),
                pct(u),
                c.iterations,
                B64.encode(&c.salt),
                B64.encode(&c.stored_key),
                B64.encode(&c.server_key)
            ));
        }
        self.disk
            .write_atomic(&self.path, text.as_bytes())
            .map_err(|e| CredentialError::Storage(e.to_string()))
    }

    /// Applies upserts and deletions together, durably, or none of them.
    pub fn alter(
        &self,
        upserts: Vec<(String, Mechanism, Credential)>,
        deletions: Vec<(String, Mechanism)>,
    ) -> Result<(), CredentialError> {
        let mut users = self.users.write();
        let mut next = users.clone();
        for (u, m) in deletions {
            if next.remove(&(u.clone(), m)).is_none() {
                return Err(CredentialError::NotFound(
                    "Attempt to delete a user credential that does not exist".to_string(),
                ));
            }
        }
        for (u, m, c) in upserts {
            check_credential(&u, c.iterations)?;
            next.insert((u, m), c);
        }
        self.persist(&next)?;
        *users = next;
        Ok(())
    }
}

/// Kafka's limits on a new credential.
pub fn check_credential(user: &str, iterations: i32) -> Result<(), CredentialError> {
    if user.is_empty() {
        return Err(CredentialError::Unacceptable("Username must not be empty".into()));
    }
    if iterations < MIN_ITERATIONS {
        return Err(CredentialError::Unacceptable("Too few iterations".into()));
    }
    if iterations > MAX_ITERATIONS {
        return Err(CredentialError::Unacceptable("Too many iterations".into()));
    }
    Ok(())
}

/// `--add-scram` as kafka-storage takes it: `SCRAM-SHA-512=[name=alice,password=alice-secret]`
/// (optionally `iterations=N`). Returns (user, mechanism, credential).
pub fn parse_add_scram(arg: &str) -> Result<(String, Mechanism, Credential), String> {
    let bad = || {
        format!("--add-scram {arg:?}: expected SCRAM-SHA-256=[name=USER,password=PASSWORD] (or SCRAM-SHA-512, optional iterations=N)")
    };
    let (mech, rest) = arg.split_once('=').ok_or_else(bad)?;
    let m = Mechanism::parse(mech.trim()).ok_or_else(bad)?;
    let inner = rest.trim().strip_prefix('[').and_then(|r| r.strip_suffix(']')).ok_or_else(bad)?;
    let (mut name, mut password, mut iterations) = (None, None, 4096);
    for kv in inner.split(',') {
        let (k, v) = kv.split_once('=').ok_or_else(bad)?;
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "name" => name = Some(v),
            "password" => password = Some(v),
            "iterations" => iterations = v.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    let (Some(name), Some(password)) = (name, password) else { return Err(bad()) };
    check_credential(&name, iterations).map_err(|e| format!("--add-scram: {e:?}"))?;
    let c = Credential::from_password(m, &password, iterations);
    Ok((name, m, c))
}

/// The client's side of the last step (RFC 5802), for tests, benchmarks and tools that speak
/// SCRAM to a broker: the client-final message for `password`, given the client-first-bare and
/// server-first messages, and the server signature a genuine server answers with (`v=`).
pub fn client_final(
    m: Mechanism,
    password: &str,
    client_first_bare: &str,
    server_first: &str,
) -> Result<(String, Vec<u8>), String> {
    let attr = |k: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(k))
            .ok_or_else(|| format!("server-first message without {k}"))
    };
    let salt = B64.decode(attr("s=")?).map_err(|_| "bad salt".to_string())?;
    let iterations: u32 = attr("i=")?.parse().map_err(|_| "bad iteration count".to_string())?;
    let salted = m.salted_password(password.as_bytes(), &salt, iterations);
    let client_key = m.hmac(&salted, b"Client Key");
    let without_proof = format!("c=biws,r={}", attr("r=")?);
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let proof: Vec<u8> =
        client_key.iter().zip(m.hmac(&m.hash(&client_key), auth.as_bytes())).map(|(a, b)| a ^ b).collect();
    let server_signature = m.hmac(&m.hmac(&salted, b"Server Key"), auth.as_bytes());
    Ok((format!("{without_proof},p={}", B64.encode(proof)), server_signature))
}

/// One SCRAM exchange on the server side.
pub struct ScramServer {
    m: Mechanism,
    state: Step,
}

enum Step {
    First,
    Final {
        user: String,
        client_first_bare: String,
        server_first: String,
        nonce: String,
        gs2: String,
        cred: Credential,
    },
    Done,
}

/// The exchange failed; Kafka answers every such case with one generic message.
#[derive(Debug)]
pub struct ScramFailed(pub String);

/// `saslname` unescaping: `=2C` -> `,`, `=3D` -> `=`; any other `=` is malformed.
fn sasl_name(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

impl ScramServer {
    pub fn new(m: Mechanism) -> ScramServer {
        ScramServer { m, state: Step::First }
    }

    /// Feeds one client message; returns the server's answer, and the authenticated user when
    /// this was the last step.
    pub fn step(
        &mut self,
        msg: &[u8],
        store: &CredentialStore,
    ) -> Result<(Vec<u8>, Option<String>), ScramFailed> {
        let text =
            std::str::from_utf8(msg).map_err(|_| ScramFailed("the SCRAM message is not UTF-8".into()))?;
        match std::mem::replace(&mut self.state, Step::Done) {
            Step::First => {
                // gs2-header: "n," then an optional "a=authzid", then ",".
                let Some(rest) = text.strip_prefix("n,") else {
                    return Err(ScramFailed(format!(
                        "invalid SCRAM client-first message (channel binding is not supported): {text:?}"
                    )));
                };
                let (authzid, bare) = rest
                    .split_once(',')
                    .ok_or_else(|| ScramFailed("invalid SCRAM client-first message".into()))?;
                let gs2 = format!("n,{authzid},");
                let mut user = None;
                let mut cnonce = None;
                for attr in bare.split(',') {
                    if let Some(u) = attr.strip_prefix("n=") {
                        user = sasl_name(u);
                    } else if let Some(r) = attr.strip_prefix("r=") {
                        cnonce = Some(r.to_string());
                    } else if attr.starts_with("m=") {
                        return Err(ScramFailed("mandatory SCRAM extensions are not supported".into()));
                    }
                }
                let (Some(user), Some(cnonce)) = (user, cnonce) else {
                    return Err(ScramFailed("invalid SCRAM client-first message".into()));
                };
                if cnonce.is_empty() || !bare.starts_with("n=") {
                    return Err(ScramFailed("invalid SCRAM client-first message".into()));
                }
                if let Some(a) = authzid.strip_prefix("a=") {
                    if sasl_name(a).as_deref() != Some(user.as_str()) {
                        return Err(ScramFailed("authorization id must match the user name".into()));
                    }
                } else if !authzid.is_empty() {
                    return Err(ScramFailed("invalid SCRAM gs2 header".into()));
                }
                let Some(cred) = store.get(&user, self.m) else {
                    return Err(ScramFailed(format!("unknown user {user} for {}", self.m.name())));
                };
                let mut snonce = [0u8; 24];
                getrandom::fill(&mut snonce).map_err(|e| ScramFailed(e.to_string()))?;
                let nonce = format!("{cnonce}{}", B64.encode(snonce).trim_end_matches('='));
                let server_first = format!("r={nonce},s={},i={}", B64.encode(&cred.salt), cred.iterations);
                self.state = Step::Final {
                    user,
                    client_first_bare: bare.to_string(),
                    server_first: server_first.clone(),
                    nonce,
                    gs2,
                    cred,
                };
                Ok((server_first.into_bytes(), None))
            }
            Step::Final { user, client_first_bare, server_first, nonce, gs2, cred } => {
                let (without_proof, proof) = text
                    .rsplit_once(",p=")
                    .ok_or_else(|| ScramFailed("invalid SCRAM client-final message".into()))?;
                let mut channel = None;
                let mut r = None;
                for attr in without_proof.split(',') {
                    if let Some(c) = attr.strip_prefix("c=") {
                        channel = Some(c);
                    } else if let Some(n) = attr.strip_prefix("r=") {
                        r = Some(n);
                    }
                }
                if channel.and_then(|c| B64.decode(c).ok()).as_deref() != Some(gs2.as_bytes()) {
                    return Err(ScramFailed("SCRAM channel binding does not match the gs2 header".into()));
                }
                if r != Some(nonce.as_str()) {
                    return Err(ScramFailed("SCRAM nonce mismatch".into()));
                }
                let proof = B64.decode(proof).map_err(|_| ScramFailed("invalid SCRAM proof".into()))?;
                let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                let client_signature = self.m.hmac(&cred.stored_key, auth_message.as_bytes());
                if proof.len() != client_signature.len() {
                    return Err(ScramFailed("invalid SCRAM proof".into()));
                }
                let client_key: Vec<u8> = proof.iter().zip(&client_signature).map(|(a, b)| a ^ b).collect();
                if !bool::from(self.m.hash(&client_key).ct_eq(&cred.stored_key)) {
                    return Err(ScramFailed("invalid credentials".into()));
                }
                let server_signature = self.m.hmac(&cred.server_key, auth_message.as_bytes());
                Ok((format!("v={}", B64.encode(server_signature)).into_bytes(), Some(user)))
            }
            Step::Done => Err(ScramFailed("SCRAM exchange already finished".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677_test_vector() {
        // RFC 7677 section 3: user "user", password "pencil".
        let m = Mechanism::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = m.salted_password(b"pencil", &salt, 4096);
        let c = Credential::from_salted(m, salt, &salted, 4096);
        let auth = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let client_key = m.hmac(&salted, b"Client Key");
        let proof: Vec<u8> =
            client_key.iter().zip(m.hmac(&c.stored_key, auth.as_bytes())).map(|(a, b)| a ^ b).collect();
        assert_eq!(B64.encode(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(
            B64.encode(m.hmac(&c.server_key, auth.as_bytes())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn exchange_and_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(Disk::os(), dir.path()).unwrap();
        for m in [Mechanism::Sha256, Mechanism::Sha512] {
            store
                .alter(vec![("al,ice=".into(), m, Credential::from_password(m, "secret", 4096))], vec![])
                .unwrap();
        }
        let store = CredentialStore::open(Disk::os(), dir.path()).unwrap();
        assert_eq!(store.describe().len(), 2);
        for m in [Mechanism::Sha256, Mechanism::Sha512] {
            for (password, ok) in [("secret", true), ("wrong", false)] {
                let mut s = ScramServer::new(m);
                let bare = "n=al=2Cice=3D,r=abcdefgh";
                let (sf, user) = s.step(format!("n,,{bare}").as_bytes(), &store).unwrap();
                assert!(user.is_none());
                let sf = String::from_utf8(sf).unwrap();
                assert!(sf.starts_with("r=abcdefgh"));
                let (cf, expect) = client_final(m, password, bare, &sf).unwrap();
                match s.step(cf.as_bytes(), &store) {
                    Ok((v, Some(u))) => {
                        assert!(ok);
                        assert_eq!(u, "al,ice=");
                        assert_eq!(String::from_utf8(v).unwrap(), format!("v={}", B64.encode(expect)));
                    }
                    other => assert!(!ok, "{:?}", other.map(|x| x.1)),
                }
            }
        }
        assert!(ScramServer::new(Mechanism::Sha256).step(b"n,,n=nobody,r=x", &store).is_err());
        assert!(ScramServer::new(Mechanism::Sha256)
            .step(b"p=tls-unique,,n=al=2Cice=3D,r=x", &store)
            .is_err());
        assert_eq!(
            store.alter(vec![], vec![("ghost".into(), Mechanism::Sha256)]),
            Err(CredentialError::NotFound("Attempt to delete a user credential that does not exist".into()))
        );
        assert!(matches!(
            store.alter(
                vec![(
                    "u".into(),
                    Mechanism::Sha256,
                    Credential::from_password(Mechanism::Sha256, "p", 4095)
                )],
                vec![]
            ),
            Err(CredentialError::Unacceptable(_))
        ));
        let (u, m, c) = parse_add_scram("SCRAM-SHA-512=[name=admin,password=admin-secret]").unwrap();
        assert_eq!((u.as_str(), m, c.iterations), ("admin", Mechanism::Sha512, 4096));
        assert!(parse_add_scram("SCRAM-SHA-1=[name=a,password=b]").is_err());
    }
}
