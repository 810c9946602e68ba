//! SASL on a listener, as Kafka's server authenticator does it: before a client is authenticated
//! it may send ApiVersions (once) and SaslHandshake, then its tokens (SaslAuthenticate with
//! handshake v1, raw size-prefixed tokens with v0); anything else closes the connection. A failed
//! login is answered with SASL_AUTHENTICATION_FAILED and the connection is closed, both after
//! `connection.failed.authentication.delay.ms`. With `connections.max.reauth.ms` the session has
//! a lifetime (told in SaslAuthenticate v1+); the client re-authenticates on the same connection
//! (KIP-368) with the same mechanism and principal; a request after expiry closes the connection.
//!
//! Mechanisms: PLAIN (users from the listener's JAAS line, `user_<name>="<password>"`),
//! SCRAM-SHA-256 and SCRAM-SHA-512 (credentials in [`super::scram::CredentialStore`]),
//! OAUTHBEARER (`super::oauth`: Kafka's unsecured validator, or signed JWTs against a JWKS file).
use std::collections::HashMap;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

use super::principal::Principal;
use super::scram::{CredentialStore, Mechanism as ScramMech, ScramServer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mech {
    Plain,
    Scram(ScramMech),
    OAuthBearer,
}

impl Mech {
    pub fn parse(s: &str) -> Option<Mech> {
        match s {
            "PLAIN" => Some(Mech::Plain),
            "OAUTHBEARER" => Some(Mech::OAuthBearer),
            s => ScramMech::parse(s).map(Mech::Scram),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::Scram(m) => m.name(),
            Mech::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// One SASL listener's settings.
#[derive(Debug)]
pub struct SaslConfig {
    pub mechanisms: Vec<Mech>,
    /// PLAIN's users and passwords (from the JAAS line).
    plain_users: HashMap<String, String>,
    pub reauth: Option<Duration>,
    pub failure_delay: Duration,
    oauth: Option<super::oauth::OAuthConfig>,
}

impl SaslConfig {
    /// Whether PLAIN on this listener accepts `user` with `password` (console logins).
    pub fn plain_accepts(&self, user: &str, password: &str) -> bool {
        let allowed = self.mechanisms.iter().any(|m| m.name() == "PLAIN");
        allowed
            && self.plain_users.get(user).is_some_and(|p| bool::from(p.as_bytes().ct_eq(password.as_bytes())))
    }
}

/// A parsed JAAS line: `<LoginModule class> <flag> key="value" ...;`.
#[derive(Debug, PartialEq, Eq)]
pub struct Jaas {
    pub module: String,
    pub options: Vec<(String, String)>,
}

/// Kafka's `sasl.jaas.config` syntax: one login module, a control flag, options, a final `;`.
/// Values may be quoted (with `\"` and `\\` escapes) or bare words.
pub fn parse_jaas(s: &str) -> Result<Jaas, String> {
    let mut toks = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == '"' {
            it.next();
            let mut v = String::new();
            loop {
                match it.next() {
                    Some('\\') => v.push(it.next().ok_or("unterminated quote in JAAS config")?),
                    Some('"') => break,
                    Some(c) => v.push(c),
                    None => return Err("unterminated quote in JAAS config".into()),
                }
            }
            toks.push((true, v));
        } else if c == '=' || c == ';' {
            it.next();
            toks.push((false, c.to_string()));
        } else {
            let mut v = String::new();
            while let Some(&c) = it.peek() {
                if c.is_whitespace() || c == '=' || c == ';' || c == '"' {
                    break;
                }
                v.push(c);
                it.next();
            }
            toks.push((false, v));
        }
    }
    let mut t = toks.into_iter();
    let (_, module) = t.next().ok_or("empty JAAS config")?;
    let (_, flag) = t.next().ok_or("JAAS config: expected a control flag after the login module")?;
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.to_ascii_lowercase().as_str()) {
        return Err(format!("JAAS config: invalid control flag '{flag}'"));
    }
    let mut options = Vec::new();
    loop {
        match t.next() {
            Some((false, s)) if s == ";" => break,
            Some((_, key)) => {
                match t.next() {
                    Some((false, eq)) if eq == "=" => {}
                    _ => return Err(format!("JAAS config: expected '=' after option {key}")),
                }
                let (_, value) = t.next().ok_or_else(|| format!("JAAS config: option {key} has no value"))?;
                options.push((key, value));
            }
            None => return Err("JAAS config must end with ';'".into()),
        }
    }
    if t.next().is_some() {
        return Err("JAAS config: only one login module is allowed".into());
    }
    Ok(Jaas { module, options })
}

impl SaslConfig {
    /// The listener's SASL settings; `get` reads a key with the listener prefix first.
    pub fn new(listener: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<SaslConfig, String> {
        let raw = get("sasl.enabled.mechanisms").unwrap_or_else(|| "GSSAPI".into());
        let mut mechanisms = Vec::new();
        for m in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match Mech::parse(m) {
                Some(x) => mechanisms.push(x),
                None if m == "GSSAPI" => return Err(format!("sasl.enabled.mechanisms={raw}: GSSAPI (Kerberos) is not supported (Kafka's default; set PLAIN, SCRAM-SHA-256 and/or SCRAM-SHA-512)")),
                None => return Err(format!("sasl.enabled.mechanisms={raw}: unknown mechanism {m}")),
            }
        }
        if mechanisms.is_empty() {
            return Err(format!("listener {listener}: sasl.enabled.mechanisms is empty"));
        }
        let lower = listener.to_ascii_lowercase();
        let mut plain_users = HashMap::new();
        let mut oauth = None;
        for m in &mechanisms {
            let key = format!("listener.name.{lower}.{}.sasl.jaas.config", m.name().to_ascii_lowercase());
            let jaas = get(&format!("{}.sasl.jaas.config", m.name().to_ascii_lowercase()));
            match (m, jaas) {
                (Mech::Plain, None) => return Err(format!("listener {listener} enables PLAIN but {key} is not set (PlainLoginModule with user_<name>=\"<password>\" options)")),
                (Mech::Plain, Some(j)) => {
                    let j = parse_jaas(&j).map_err(|e| format!("{key}: {e}"))?;
                    if j.module != "org.apache.kafka.common.security.plain.PlainLoginModule" {
                        return Err(format!("{key}: PLAIN needs org.apache.kafka.common.security.plain.PlainLoginModule, not {}", j.module));
                    }
                    for (k, v) in j.options {
                        if let Some(u) = k.strip_prefix("user_") {
                            plain_users.insert(u.to_string(), v);
                        }
                    }
                }
                (Mech::Scram(_), Some(j)) => {
                    // The broker's own client login (inter-broker); checked, not needed by one node.
                    parse_jaas(&j).map_err(|e| format!("{key}: {e}"))?;
                }
                (Mech::Scram(_), None) => {}
                (Mech::OAuthBearer, jaas) => {
                    let options = match jaas {
                        Some(j) => {
                            let j = parse_jaas(&j).map_err(|e| format!("{key}: {e}"))?;
                            if j.module != "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule" {
                                return Err(format!("{key}: OAUTHBEARER needs org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule, not {}", j.module));
                            }
                            j.options
                        }
                        None => Vec::new(),
                    };
                    oauth = Some(super::oauth::OAuthConfig::new(get, &options).map_err(|e| format!("listener {listener}: {e}"))?);
                }
            }
        }
        let num = |k: &str, d: u64| -> Result<u64, String> {
            match get(k) {
                None => Ok(d),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .map(|n| n.max(0) as u64)
                    .map_err(|_| format!("{k}={v} is not a number")),
            }
        };
        let reauth = num("connections.max.reauth.ms", 0)?;
        let delay = num("connection.failed.authentication.delay.ms", 100)?;
        Ok(SaslConfig {
            mechanisms,
            plain_users,
            reauth: (reauth > 0).then(|| Duration::from_millis(reauth)),
            failure_delay: Duration::from_millis(delay),
            oauth,
        })
    }
}

/// What the handler does with a request on a SASL listener, decided before it is decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// Serve it.
    Serve,
    /// Close the connection without an answer (Kafka's "Unexpected Kafka request of type X
    /// during SASL handshake", a second ApiVersions, a request after the session expired).
    Close(String),
}

enum Step {
    /// Nothing yet, or ApiVersions seen (`versions_seen`).
    Start,
    /// SaslHandshake done: tokens of this mechanism come next.
    Handshaken {
        mech: Mech,
        raw: bool,
    },
    Scram {
        server: ScramServer,
        mech: Mech,
        raw: bool,
    },
    /// OAUTHBEARER sent `invalid_token`; the client's `\x01` ends the attempt.
    OAuthRefused {
        raw: bool,
        why: String,
    },
    Authenticated,
}

/// A connection's authentication state.
pub struct Session {
    step: Step,
    versions_seen: bool,
    pub principal: Option<Principal>,
    mech: Option<Mech>,
    expires: Option<Instant>,
    /// Set when the connection must close once the current answer is sent (after the delay).
    pub close_after: Option<Duration>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            step: Step::Start,
            versions_seen: false,
            principal: None,
            mech: None,
            expires: None,
            close_after: None,
        }
    }
}

/// The result of one token.
pub enum TokenResult {
    /// Send this token back; more are expected.
    Continue(Vec<u8>),
    /// Authenticated; the last token to send back, and the session lifetime in ms (0: none).
    Done(Vec<u8>, i64),
    /// Failed with Kafka's message (the connection closes after the delay).
    Failed(String),
}

impl Session {
    pub fn authenticated(&self) -> bool {
        matches!(self.step, Step::Authenticated)
    }
    /// The next frame is a raw SASL token (handshake v0), not a Kafka request.
    pub fn expects_raw_token(&self) -> bool {
        matches!(
            self.step,
            Step::Handshaken { raw: true, .. }
                | Step::Scram { raw: true, .. }
                | Step::OAuthRefused { raw: true, .. }
        )
    }

    /// Whether a request of this kind may be served now. `api` names the API in the message (it
    /// is formatted only when the connection is refused: nothing is allocated per request).
    pub fn gate(
        &mut self,
        api: &dyn std::fmt::Debug,
        is_api_versions: bool,
        is_handshake: bool,
        is_authenticate: bool,
    ) -> Gate {
        match &self.step {
            Step::Authenticated => {
                if self.expires.is_some_and(|e| Instant::now() >= e) && !is_handshake {
                    return Gate::Close("the SASL session expired (connections.max.reauth.ms) and the client did not re-authenticate".into());
                }
                Gate::Serve
            }
            Step::Start if is_api_versions => {
                if self.versions_seen {
                    return Gate::Close("a second ApiVersions request during SASL authentication".into());
                }
                self.versions_seen = true;
                Gate::Serve
            }
            Step::Start if is_handshake => Gate::Serve,
            Step::Handshaken { raw: false, .. }
            | Step::Scram { raw: false, .. }
            | Step::OAuthRefused { raw: false, .. }
                if is_authenticate =>
            {
                Gate::Serve
            }
            _ if self.reauthenticating() && (is_authenticate || is_handshake) => Gate::Serve,
            _ => Gate::Close(format!("Unexpected Kafka request of type {api:?} during SASL handshake.")),
        }
    }

    fn reauthenticating(&self) -> bool {
        self.principal.is_some() && !self.authenticated()
    }

    /// SaslHandshake: `Ok` when the mechanism is enabled (tokens follow), `Err(Some)` with
    /// UNSUPPORTED_SASL_MECHANISM's close, `Err(None)` when a handshake is not allowed now
    /// (ILLEGAL_SASL_STATE, connection kept).
    pub fn handshake(
        &mut self,
        cfg: &SaslConfig,
        mechanism: &str,
        version: i16,
    ) -> Result<(), Option<String>> {
        let reauth = self.authenticated();
        if reauth && self.expires.is_none() {
            return Err(None);
        }
        if !matches!(self.step, Step::Start | Step::Authenticated) {
            return Err(None);
        }
        match Mech::parse(mechanism).filter(|m| cfg.mechanisms.contains(m)) {
            Some(m) => {
                if reauth && self.mech != Some(m) {
                    // Kafka: the handshake passes, the next token fails.
                    self.close_after = Some(cfg.failure_delay);
                }
                self.step = Step::Handshaken { mech: m, raw: version == 0 };
                Ok(())
            }
            None => Err(Some(format!("Unsupported SASL mechanism {mechanism}"))),
        }
    }

    /// One client token (SaslAuthenticate's auth_bytes, or a raw v0 frame).
    pub fn token(&mut self, cfg: &SaslConfig, store: &CredentialStore, token: &[u8]) -> TokenResult {
        if self.close_after.is_some() {
            return TokenResult::Failed(
                "Authentication failed: the mechanism changed during re-authentication".into(),
            );
        }
        let (mech, raw) = match &self.step {
            Step::Handshaken { mech, raw } => (*mech, *raw),
            Step::Scram { mech, raw, .. } => (*mech, *raw),
            Step::OAuthRefused { why, .. } => {
                let why = why.clone();
                return self.fail(cfg, format!("Authentication failed: {why}"));
            }
            _ => {
                return TokenResult::Failed(
                    "SaslAuthenticate request received after successful authentication".into(),
                )
            }
        };
        let reauth = self.principal.is_some();
        let generic = |m: Mech| {
            format!(
                "Authentication failed during {} due to invalid credentials with SASL mechanism {}",
                if reauth { "re-authentication" } else { "authentication" },
                m.name()
            )
        };
        let user = match mech {
            Mech::OAuthBearer => {
                let checked = match &cfg.oauth {
                    Some(o) => {
                        super::oauth::bearer(token).and_then(|t| o.validate(&t, crate::clock::now_ms()))
                    }
                    None => Err("OAUTHBEARER is not configured".to_string()),
                };
                return match checked {
                    Ok(t) => {
                        let left =
                            Duration::from_millis((t.expires_ms - crate::clock::now_ms()).max(0) as u64);
                        self.done_until(cfg, mech, t.principal, Vec::new(), Some(left))
                    }
                    Err(why) => {
                        tracing::debug!(reason = %why, "OAUTHBEARER token refused");
                        // RFC 7628: the server's error, then the client's \x01, then the failure.
                        self.step = Step::OAuthRefused { raw, why: why.clone() };
                        TokenResult::Continue(br#"{"status":"invalid_token"}"#.to_vec())
                    }
                };
            }
            Mech::Plain => match plain(cfg, token) {
                Ok(u) => u,
                Err(msg) => return self.fail(cfg, msg),
            },
            Mech::Scram(m) => {
                let mut server = match std::mem::replace(&mut self.step, Step::Start) {
                    Step::Scram { server, .. } => server,
                    _ => ScramServer::new(m),
                };
                match server.step(token, store) {
                    Ok((reply, None)) => {
                        self.step = Step::Scram { server, mech, raw };
                        return TokenResult::Continue(reply);
                    }
                    Ok((reply, Some(user))) => return self.done(cfg, mech, user, reply),
                    Err(e) => {
                        tracing::debug!(reason = %e.0, "SCRAM authentication failed");
                        return self.fail(cfg, generic(mech));
                    }
                }
            }
        };
        self.done(cfg, mech, user, Vec::new())
    }

    fn done(&mut self, cfg: &SaslConfig, mech: Mech, user: String, reply: Vec<u8>) -> TokenResult {
        self.done_until(cfg, mech, user, reply, None)
    }

    /// Authenticated; the session lasts `connections.max.reauth.ms` or until `credential` runs
    /// out (an OAUTHBEARER token's exp), whichever is sooner.
    fn done_until(
        &mut self,
        cfg: &SaslConfig,
        mech: Mech,
        user: String,
        reply: Vec<u8>,
        credential: Option<Duration>,
    ) -> TokenResult {
        if let Some(p) = &self.principal {
            if p.0 != user {
                return self.fail(
                    cfg,
                    format!("Cannot change principals during re-authentication from {p}: User:{user}"),
                );
            }
        }
        self.principal = Some(Principal::user(user));
        self.mech = Some(mech);
        self.step = Step::Authenticated;
        let lifetime = match (cfg.reauth, credential) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.expires = lifetime.map(|d| Instant::now() + d);
        TokenResult::Done(reply, lifetime.map(|d| d.as_millis() as i64).unwrap_or(0))
    }

    fn fail(&mut self, cfg: &SaslConfig, msg: String) -> TokenResult {
        self.close_after = Some(cfg.failure_delay);
        self.step = Step::Start;
        TokenResult::Failed(msg)
    }
}

/// PLAIN (RFC 4616): `authzid NUL authcid NUL password`; returns the user.
fn plain(cfg: &SaslConfig, token: &[u8]) -> Result<String, String> {
    let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
    if parts.len() != 3 {
        return Err(format!("Invalid SASL/PLAIN response: expected 3 tokens, got {}", parts.len()));
    }
    let s = |b: &[u8]| {
        String::from_utf8(b.to_vec()).map_err(|_| "Invalid SASL/PLAIN response: not UTF-8".to_string())
    };
    let (authzid, user, password) = (s(parts[0])?, s(parts[1])?, parts[2]);
    if user.is_empty() {
        return Err("Authentication failed: username not specified".into());
    }
    if password.is_empty() {
        return Err("Authentication failed: password not specified".into());
    }
    let ok = match cfg.plain_users.get(&user) {
        Some(expected) => bool::from(expected.as_bytes().ct_eq(password)),
        None => {
            // Same work for an unknown user.
            let _ = b"not-a-password".ct_eq(password);
            false
        }
    };
    if !ok {
        return Err("Authentication failed: Invalid username or password".into());
    }
    if !authzid.is_empty() && authzid != user {
        return Err(
            "Authentication failed: Client requested an authorization id that is different from username"
                .into(),
        );
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SaslConfig {
        let map: HashMap<&str, &str> = [
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256"),
            ("plain.sasl.jaas.config", r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="al\"ice";"#),
            ("connection.failed.authentication.delay.ms", "0"),
        ]
        .into_iter()
        .collect();
        SaslConfig::new("SASL_PLAINTEXT", &|k| map.get(k).map(|v| v.to_string())).unwrap()
    }

    #[test]
    fn jaas_lines() {
        let j = parse_jaas(r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob=bob;"#).unwrap();
        assert_eq!(
            j.options,
            vec![("user_alice".into(), "alice-secret".into()), ("user_bob".into(), "bob".into())]
        );
        assert!(parse_jaas("Module required a=\"b\"").is_err());
        assert!(parse_jaas("Module sometimes a=\"b\";").is_err());
        assert!(parse_jaas("Module required a;").is_err());
        assert!(parse_jaas("A required; B required;").is_err());
    }

    #[test]
    fn plain_logins() {
        let c = cfg();
        let store =
            CredentialStore::open(crate::log::file::Disk::os(), tempfile::tempdir().unwrap().path()).unwrap();
        let mut s = Session::default();
        assert_eq!(
            s.gate(&kafka_protocol::messages::ApiKey::Metadata, false, false, false),
            Gate::Close("Unexpected Kafka request of type Metadata during SASL handshake.".into())
        );
        assert_eq!(s.gate(&kafka_protocol::messages::ApiKey::ApiVersions, true, false, false), Gate::Serve);
        assert!(matches!(
            s.gate(&kafka_protocol::messages::ApiKey::ApiVersions, true, false, false),
            Gate::Close(_)
        ));
        assert_eq!(s.handshake(&c, "GSSAPI", 1), Err(Some("Unsupported SASL mechanism GSSAPI".into())));
        s.handshake(&c, "PLAIN", 1).unwrap();
        assert_eq!(
            s.gate(&kafka_protocol::messages::ApiKey::SaslAuthenticate, false, false, true),
            Gate::Serve
        );
        assert!(matches!(s.token(&c, &store, b"\0alice\0al\"ice"), TokenResult::Done(_, 0)));
        assert_eq!(s.principal, Some(Principal::user("alice")));
        assert_eq!(s.gate(&kafka_protocol::messages::ApiKey::Metadata, false, false, false), Gate::Serve);
        for (bad, msg) in [
            (&b"\0alice\0wrong"[..], "Authentication failed: Invalid username or password"),
            (b"\0mallory\0x", "Authentication failed: Invalid username or password"),
            (
                b"admin\0alice\0al\"ice",
                "Authentication failed: Client requested an authorization id that is different from username",
            ),
            (b"garbage", "Invalid SASL/PLAIN response: expected 3 tokens, got 1"),
        ] {
            let mut s = Session::default();
            s.handshake(&c, "PLAIN", 1).unwrap();
            match s.token(&c, &store, bad) {
                TokenResult::Failed(m) => assert_eq!(m, msg),
                _ => panic!("accepted {bad:?}"),
            }
            assert!(s.close_after.is_some());
        }
    }

    #[test]
    fn unsupported_settings_are_refused() {
        for (k, v) in [
            ("sasl.enabled.mechanisms", "GSSAPI"),
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("sasl.enabled.mechanisms", "KERBEROS"),
        ] {
            let get = |key: &str| (key == k).then(|| v.to_string());
            assert!(SaslConfig::new("X", &get).is_err(), "{k}={v}");
        }
        assert!(SaslConfig::new("X", &|k: &str| (k == "sasl.enabled.mechanisms")
            .then(|| "SCRAM-SHA-512".to_string()))
        .is_ok());
    }
}
