//! SASL/OAUTHBEARER (RFC 7628) as Kafka's broker validates tokens:
//! * by default Kafka's unsecured validator (`OAuthBearerUnsecuredValidatorCallbackHandler`):
//!   a JWS with `"alg":"none"`, a principal claim (`unsecuredValidatorPrincipalClaimName`, `sub`),
//!   `exp` required, `unsecuredValidatorRequiredScope` and `unsecuredValidatorAllowableClockSkewMs`
//!   from the listener's OAUTHBEARER JAAS line. For development and tests only, as in Kafka.
//! * with `listener.name.<l>.oauthbearer.sasl.server.callback.handler.class` =
//!   `org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler`:
//!   signed JWTs checked against the keys of `sasl.oauthbearer.jwks.endpoint.url` (a `file:` URL
//!   here; the file is re-read when it changes), `sasl.oauthbearer.expected.audience` and
//!   `.expected.issuer`, the principal from `sasl.oauthbearer.sub.claim.name`, with
//!   `sasl.oauthbearer.clock.skew.seconds` of leeway.
//!
//! A bad token is answered as Kafka answers it: the server sends `{"status":"invalid_token"}`,
//! the client acknowledges with `\x01`, and the login fails with SASL_AUTHENTICATION_FAILED.
use std::path::PathBuf;
use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use parking_lot::Mutex;

pub const SECURED_HANDLERS: &[&str] = &[
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
];

#[derive(Debug)]
struct Jwks {
    path: PathBuf,
    loaded: Mutex<(Option<SystemTime>, jsonwebtoken::jwk::JwkSet)>,
    audience: Vec<String>,
    issuer: Option<String>,
    skew_s: u64,
}

#[derive(Debug)]
pub struct OAuthConfig {
    principal_claim: String,
    scope_claim: String,
    required_scopes: Vec<String>,
    skew_ms: i64,
    jwks: Option<Jwks>,
}

/// A validated token: the principal and when it expires (ms since the epoch).
#[derive(Debug, PartialEq, Eq)]
pub struct Token {
    pub principal: String,
    pub expires_ms: i64,
}

fn read_jwks(path: &PathBuf) -> Result<jsonwebtoken::jwk::JwkSet, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the JWKS file {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not a JWKS document: {e}", path.display()))
}

impl OAuthConfig {
    /// `get` reads the listener's keys (prefix first); `jaas` holds the OAUTHBEARER JAAS options.
    pub fn new(
        get: &dyn Fn(&str) -> Option<String>,
        jaas: &[(String, String)],
    ) -> Result<OAuthConfig, String> {
        let opt = |k: &str| jaas.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        let handler = get("oauthbearer.sasl.server.callback.handler.class");
        let jwks = match handler {
            None => None,
            Some(h) if SECURED_HANDLERS.contains(&h.as_str()) => {
                let url = get("sasl.oauthbearer.jwks.endpoint.url")
                    .ok_or("OAuthBearerValidatorCallbackHandler needs sasl.oauthbearer.jwks.endpoint.url")?;
                let Some(path) = url.strip_prefix("file:").map(|p| p.trim_start_matches("//")) else {
                    return Err(format!("sasl.oauthbearer.jwks.endpoint.url={url}: only file: URLs are supported (Odradek makes no outgoing HTTP requests); fetch the JWKS into a file"));
                };
                let path =
                    PathBuf::from(if path.starts_with('/') { path.to_string() } else { format!("/{path}") });
                let keys = read_jwks(&path)?;
                let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                Some(Jwks {
                    path,
                    loaded: Mutex::new((mtime, keys)),
                    audience: get("sasl.oauthbearer.expected.audience")
                        .map(|a| {
                            a.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
                        })
                        .unwrap_or_default(),
                    issuer: get("sasl.oauthbearer.expected.issuer"),
                    skew_s: get("sasl.oauthbearer.clock.skew.seconds")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(30),
                })
            }
            Some(other) => {
                return Err(format!(
                    "oauthbearer.sasl.server.callback.handler.class={other}: only {} is implemented",
                    SECURED_HANDLERS[0]
                ))
            }
        };
        let secured = jwks.is_some();
        Ok(OAuthConfig {
            principal_claim: if secured {
                get("sasl.oauthbearer.sub.claim.name")
            } else {
                opt("unsecuredValidatorPrincipalClaimName")
            }
            .unwrap_or_else(|| "sub".into()),
            scope_claim: if secured {
                get("sasl.oauthbearer.scope.claim.name")
            } else {
                opt("unsecuredValidatorScopeClaimName")
            }
            .unwrap_or_else(|| "scope".into()),
            required_scopes: opt("unsecuredValidatorRequiredScope")
                .map(|s| {
                    s.split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            skew_ms: opt("unsecuredValidatorAllowableClockSkewMs").and_then(|v| v.parse().ok()).unwrap_or(0),
            jwks,
        })
    }

    fn claims_of(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let Some(jwks) = &self.jwks else {
            // Unsecured: header.payload. with alg none.
            let parts: Vec<&str> = token.split('.').collect();
            if parts.len() != 3 || !parts[2].is_empty() {
                return Err("an unsecured token has three parts and an empty signature".into());
            }
            let dec = |p: &str| -> Result<serde_json::Map<String, serde_json::Value>, String> {
                let bytes = B64URL
                    .decode(p.trim_end_matches('='))
                    .map_err(|_| "the token is not base64url".to_string())?;
                serde_json::from_slice(&bytes)
                    .map_err(|_| "the token's parts are not JSON objects".to_string())
            };
            let header = dec(parts[0])?;
            if header.get("alg").and_then(|a| a.as_str()) != Some("none") {
                return Err("an unsecured token must say \"alg\":\"none\"".into());
            }
            let claims = dec(parts[1])?;
            let exp = claims.get("exp").and_then(|e| e.as_f64()).ok_or("the token has no exp claim")?;
            if ((exp * 1000.0) as i64) + self.skew_ms <= now_ms {
                return Err("the token has expired".into());
            }
            return Ok(claims);
        };
        // Signed: a key of the JWKS (re-read when the file changed), its algorithm, audience, issuer.
        let mtime = std::fs::metadata(&jwks.path).and_then(|m| m.modified()).ok();
        let mut loaded = jwks.loaded.lock();
        if mtime != loaded.0 {
            match read_jwks(&jwks.path) {
                Ok(k) => *loaded = (mtime, k),
                Err(e) => {
                    tracing::error!(error = %e, "JWKS file changed but cannot be read; keeping the previous keys")
                }
            }
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("bad token header: {e}"))?;
        let jwk = match &header.kid {
            Some(kid) => loaded.1.find(kid).ok_or_else(|| format!("no key {kid} in the JWKS"))?,
            None => loaded.1.keys.first().ok_or("the JWKS holds no key")?,
        };
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable JWKS key: {e}"))?;
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.leeway = jwks.skew_s;
        v.set_required_spec_claims(&["exp"]);
        if jwks.audience.is_empty() {
            v.validate_aud = false;
        } else {
            v.set_audience(&jwks.audience);
        }
        if let Some(i) = &jwks.issuer {
            v.set_issuer(&[i]);
        }
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &v)
            .map_err(|e| format!("token rejected: {e}"))?;
        Ok(data.claims)
    }

    /// Validates a token; `Err` says why (logged, never sent: the client gets invalid_token).
    pub fn validate(&self, token: &str, now_ms: i64) -> Result<Token, String> {
        let claims = self.claims_of(token, now_ms)?;
        let principal = claims
            .get(&self.principal_claim)
            .and_then(|p| p.as_str())
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| format!("the token has no {} claim", self.principal_claim))?;
        if !self.required_scopes.is_empty() {
            let scopes: Vec<String> = match claims.get(&self.scope_claim) {
                Some(serde_json::Value::String(s)) => s.split(' ').map(str::to_string).collect(),
                Some(serde_json::Value::Array(a)) => {
                    a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()
                }
                _ => Vec::new(),
            };
            if let Some(missing) = self.required_scopes.iter().find(|r| !scopes.contains(r)) {
                return Err(format!("the token lacks the required scope {missing}"));
            }
        }
        let exp = claims.get("exp").and_then(|e| e.as_f64()).unwrap_or(0.0);
        Ok(Token { principal: principal.to_string(), expires_ms: (exp * 1000.0) as i64 })
    }
}

/// The token of an RFC 7628 client first message: `gs2-header \x01 auth=Bearer <token> \x01 ... \x01`.
pub fn bearer(msg: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(msg).map_err(|_| "the OAUTHBEARER message is not UTF-8".to_string())?;
    let (gs2, rest) = text.split_once('\x01').ok_or("invalid OAUTHBEARER client message")?;
    if !(gs2.starts_with("n,") || gs2.starts_with("y,")) {
        return Err("invalid OAUTHBEARER gs2 header".into());
    }
    for kv in rest.split('\x01') {
        if let Some(v) = kv.strip_prefix("auth=") {
            let t = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .ok_or("the auth value is not a Bearer token")?;
            return Ok(t.trim().to_string());
        }
    }
    Err("the OAUTHBEARER message has no auth=Bearer value".into())
}

/// An unsecured (alg none) token, as Kafka's unsecured login module makes them (tests, --dev).
pub fn unsecured_token(principal: &str, lifetime_s: i64) -> String {
    let now = crate::clock::now_ms() / 1000;
    let h = B64URL.encode(br#"{"alg":"none"}"#);
    let c =
        B64URL.encode(serde_json::json!({"sub": principal, "iat": now, "exp": now + lifetime_s}).to_string());
    format!("{h}.{c}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsecured_tokens() {
        let cfg = OAuthConfig::new(&|_| None, &[("unsecuredValidatorRequiredScope".into(), "kafka".into())])
            .unwrap();
        let now = crate::clock::now_ms();
        let c = |claims: serde_json::Value| {
            format!("{}.{}.", B64URL.encode(br#"{"alg":"none"}"#), B64URL.encode(claims.to_string()))
        };
        let ok = c(serde_json::json!({"sub": "alice", "exp": now / 1000 + 60, "scope": "kafka other"}));
        assert_eq!(cfg.validate(&ok, now).unwrap().principal, "alice");
        assert!(
            cfg.validate(
                &c(serde_json::json!({"sub": "alice", "exp": now / 1000 - 1, "scope": "kafka"})),
                now
            )
            .is_err(),
            "expired"
        );
        assert!(
            cfg.validate(&c(serde_json::json!({"sub": "alice", "exp": now / 1000 + 60})), now).is_err(),
            "scope missing"
        );
        assert!(
            cfg.validate(&c(serde_json::json!({"exp": now / 1000 + 60, "scope": "kafka"})), now).is_err(),
            "no sub"
        );
        let signed_alg = format!(
            "{}.{}.",
            B64URL.encode(br#"{"alg":"HS256"}"#),
            B64URL.encode(serde_json::json!({"sub": "a", "exp": now / 1000 + 60}).to_string())
        );
        assert!(cfg.validate(&signed_alg, now).is_err(), "unsecured means alg none");
        assert_eq!(bearer(format!("n,,\x01auth=Bearer {ok}\x01\x01").as_bytes()).unwrap(), ok);
        assert!(bearer(b"garbage").is_err());
        assert!(OAuthConfig::new(
            &|k| (k == "oauthbearer.sasl.server.callback.handler.class")
                .then(|| "com.example.Handler".to_string()),
            &[]
        )
        .is_err());
    }
}
