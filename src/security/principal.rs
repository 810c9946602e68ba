//! Who a connection is: Kafka's `KafkaPrincipal` (`User:<name>`). `ANONYMOUS` on PLAINTEXT and on
//! TLS without a client certificate; for mTLS the certificate's subject as RFC 2253 text (what
//! Java's `X500Principal.getName()` gives, e.g. `CN=alice,OU=eng,O=Example`), rewritten by
//! `ssl.principal.mapping.rules`; after SASL the authenticated user name.
use x509_parser::der_parser::asn1_rs::ToDer;
use x509_parser::prelude::*;

/// The principal's name (the type is always `User`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal(pub String);

impl Principal {
    pub fn anonymous() -> Principal {
        Principal("ANONYMOUS".into())
    }
    pub fn user(name: impl Into<String>) -> Principal {
        Principal(name.into())
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "User:{}", self.0)
    }
}

/// RFC 2253 keywords (the ones Java prints by name; others are `OID=#hex`).
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The subject of a DER certificate as RFC 2253 text (most specific RDN first, as Java prints it).
pub fn subject_dn(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let mut parts = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let part = match (keyword(&oid), atv.as_str()) {
                (Some(k), Ok(s)) => format!("{k}={}", escape(s)),
                _ => {
                    let hex: String = atv
                        .attr_value()
                        .to_der_vec()
                        .unwrap_or_default()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    format!("{oid}=#{hex}")
                }
            };
            parts.push(part);
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// One `ssl.principal.mapping.rules` entry.
#[derive(Debug)]
enum Rule {
    Default,
    Map { pattern: regex::Regex, replacement: String, case: Option<char> },
}

/// `ssl.principal.mapping.rules`: `DEFAULT` or `RULE:pattern/replacement/[LU]`, separated by commas
/// or new lines (a backslash escapes a `/` or `,` inside a pattern); the first rule whose pattern
/// matches the whole name decides.
#[derive(Debug)]
pub struct MappingRules(Vec<Rule>);

impl MappingRules {
    pub fn parse(raw: &str) -> Result<MappingRules, String> {
        let mut rules = Vec::new();
        let mut rest = raw.trim();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = r;
            } else if let Some(r) = rest.strip_prefix("RULE:") {
                let (pattern, r) = until_slash(r)
                    .ok_or_else(|| format!("'{rest}': expected RULE:pattern/replacement/[LU]"))?;
                let (replacement, r) = until_slash(r)
                    .ok_or_else(|| format!("'{rest}': expected RULE:pattern/replacement/[LU]"))?;
                let (case, r) = match r.chars().next() {
                    Some(c @ ('L' | 'U')) => (Some(c), &r[1..]),
                    _ => (None, r),
                };
                let pattern = regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("bad pattern {pattern}: {e}"))?;
                rules.push(Rule::Map { pattern, replacement: java_replacement(&replacement), case });
                rest = r;
            } else {
                return Err(format!("'{rest}' is neither DEFAULT nor RULE:pattern/replacement/[LU]"));
            }
            rest = rest.trim_start();
            match rest.chars().next() {
                None => break,
                Some(',') | Some('\n') => rest = rest[1..].trim_start(),
                Some(_) => return Err(format!("'{rest}': rules are separated by commas")),
            }
        }
        if rules.is_empty() {
            rules.push(Rule::Default);
        }
        Ok(MappingRules(rules))
    }

    /// The mapped name, or `None` when no rule applies (Kafka refuses the connection then).
    pub fn apply(&self, name: &str) -> Option<String> {
        for r in &self.0 {
            match r {
                Rule::Default => return Some(name.to_string()),
                Rule::Map { pattern, replacement, case } => {
                    if pattern.is_match(name) {
                        let out = pattern.replace(name, replacement.as_str()).into_owned();
                        return Some(match case {
                            Some('L') => out.to_lowercase(),
                            Some('U') => out.to_uppercase(),
                            _ => out,
                        });
                    }
                }
            }
        }
        None
    }
}

/// Text up to the next unescaped `/` (escapes kept, as the regex needs them) and what follows it.
fn until_slash(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, n) = chars.next()?;
                if n == '/' {
                    out.push('/');
                } else {
                    out.push('\\');
                    out.push(n);
                }
            }
            '/' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// Java's `$1` group references as the regex crate's `${1}`.
fn java_replacement(r: &str) -> String {
    let mut out = String::new();
    let mut it = r.chars().peekable();
    while let Some(c) = it.next() {
        if c == '$' && it.peek().is_some_and(|d| d.is_ascii_digit()) {
            let mut n = String::new();
            while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                n.push(*d);
                it.next();
            }
            out.push_str(&format!("${{{n}}}"));
        } else if c == '\\' {
            if let Some(n) = it.next() {
                if n == '$' {
                    out.push_str("$$");
                } else {
                    out.push(n);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_rules_as_kafka_documents_them() {
        let r = MappingRules::parse("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT").unwrap();
        assert_eq!(r.apply("CN=kafka-server1,OU=ServiceUsers,O=Org,C=US").as_deref(), Some("kafka-server1"));
        assert_eq!(
            r.apply("CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US").as_deref(),
            Some("duke@javasoft")
        );
        assert_eq!(r.apply("cn=Alice.Smith,o=x").as_deref(), Some("alice.smith"));
        assert_eq!(r.apply("O=nothing").as_deref(), Some("O=nothing"));
        let strict = MappingRules::parse("RULE:^CN=([a-z]+)$/$1/U").unwrap();
        assert_eq!(strict.apply("CN=bob").as_deref(), Some("BOB"));
        assert_eq!(strict.apply("CN=bob,O=x"), None);
        assert_eq!(MappingRules::parse("").unwrap().apply("CN=x").as_deref(), Some("CN=x"));
        assert!(MappingRules::parse("RULE:^CN=(.*)$").is_err());
        assert!(MappingRules::parse("SOMETHING").is_err());
    }

    #[test]
    fn certificate_subjects_read_as_java_prints_them() {
        let pki = crate::security::devcerts::generate(&["localhost".into()], &["alice"]).unwrap();
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(pki.clients[0].1.cert.as_bytes())
            .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())
            .unwrap();
        assert_eq!(subject_dn(&der).as_deref(), Some("CN=alice,O=Odradek dev"));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape("#x "), "\\#x\\ ");
    }
}
