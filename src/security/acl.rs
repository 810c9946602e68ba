//! ACLs as Kafka's StandardAuthorizer applies them, switched on by `authorizer.class.name`
//! (`org.apache.kafka.metadata.authorizer.StandardAuthorizer`, or Odradek's short name
//! `acl`). A binding names a resource (type, name, LITERAL or PREFIXED), a principal
//! (`User:alice` or `User:*`), a host (an IP or `*`), an operation and ALLOW or DENY.
//!
//! A request is allowed when its principal is in `super.users`; otherwise, among the bindings
//! that match the resource, principal and host, a DENY of the operation (or ALL) refuses, then
//! an ALLOW of the operation (or ALL, or one that implies it) allows. No binding for the
//! resource at all: `allow.everyone.if.no.acl.found` decides (default false). ALLOW of READ,
//! WRITE, DELETE or ALTER implies DESCRIBE; ALLOW of ALTER_CONFIGS implies DESCRIBE_CONFIGS.
//! Bindings are durable in `DIR/acls` (written atomically).
use std::net::IpAddr;
use std::path::PathBuf;

use parking_lot::RwLock;

use super::principal::Principal;
use super::{pct, unpct};
use crate::log::file::Disk;

/// Kafka's resource types (wire codes).
pub mod resource {
    pub const ANY: i8 = 1;
    pub const TOPIC: i8 = 2;
    pub const GROUP: i8 = 3;
    pub const CLUSTER: i8 = 4;
    pub const TRANSACTIONAL_ID: i8 = 5;
    pub const DELEGATION_TOKEN: i8 = 6;
    pub const USER: i8 = 7;
}

/// Pattern types.
pub mod pattern {
    pub const ANY: i8 = 1;
    pub const MATCH: i8 = 2;
    pub const LITERAL: i8 = 3;
    pub const PREFIXED: i8 = 4;
}

/// Operations.
pub mod op {
    pub const ANY: i8 = 1;
    pub const ALL: i8 = 2;
    pub const READ: i8 = 3;
    pub const WRITE: i8 = 4;
    pub const CREATE: i8 = 5;
    pub const DELETE: i8 = 6;
    pub const ALTER: i8 = 7;
    pub const DESCRIBE: i8 = 8;
    pub const CLUSTER_ACTION: i8 = 9;
    pub const DESCRIBE_CONFIGS: i8 = 10;
    pub const ALTER_CONFIGS: i8 = 11;
    pub const IDEMPOTENT_WRITE: i8 = 12;
    pub const CREATE_TOKENS: i8 = 13;
    pub const DESCRIBE_TOKENS: i8 = 14;
    pub const TWO_PHASE_COMMIT: i8 = 15;
}

/// Permission types.
pub mod perm {
    pub const ANY: i8 = 1;
    pub const DENY: i8 = 2;
    pub const ALLOW: i8 = 3;
}

/// The one cluster resource's name.
pub const CLUSTER_NAME: &str = "kafka-cluster";

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binding {
    pub resource_type: i8,
    pub name: String,
    pub pattern: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

/// A Describe/DeleteAcls filter (ANY and MATCH allowed; `None` strings match anything).
#[derive(Clone, Debug)]
pub struct Filter {
    pub resource_type: i8,
    pub name: Option<String>,
    pub pattern: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

impl Filter {
    pub fn matches(&self, b: &Binding) -> bool {
        let rt = self.resource_type == resource::ANY || self.resource_type == b.resource_type;
        let name_pat = match (self.pattern, &self.name) {
            (pattern::ANY, None) => true,
            (pattern::ANY, Some(n)) => &b.name == n,
            (pattern::MATCH, None) => true,
            // MATCH: the bindings that would apply to a resource of this name.
            (pattern::MATCH, Some(n)) => match b.pattern {
                pattern::LITERAL => &b.name == n || b.name == "*",
                pattern::PREFIXED => n.starts_with(&b.name),
                _ => false,
            },
            (p, None) => p == b.pattern,
            (p, Some(n)) => p == b.pattern && &b.name == n,
        };
        let principal = self.principal.as_ref().is_none_or(|p| p == &b.principal);
        let host = self.host.as_ref().is_none_or(|h| h == &b.host);
        let op = self.operation == op::ANY || self.operation == b.operation;
        let perm = self.permission == perm::ANY || self.permission == b.permission;
        rt && name_pat && principal && host && op && perm
    }
}

/// Why a creation is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AclError {
    /// INVALID_REQUEST
    Invalid(String),
    Storage(String),
}

pub struct Authorizer {
    super_users: Vec<String>,
    allow_if_no_acl: bool,
    path: PathBuf,
    disk: Disk,
    bindings: RwLock<Vec<Binding>>,
}

fn implied(granted: i8, wanted: i8) -> bool {
    granted == wanted
        || granted == op::ALL
        || (wanted == op::DESCRIBE && matches!(granted, op::READ | op::WRITE | op::DELETE | op::ALTER))
        || (wanted == op::DESCRIBE_CONFIGS && granted == op::ALTER_CONFIGS)
}

fn resource_matches(b: &Binding, rtype: i8, name: &str) -> bool {
    b.resource_type == rtype
        && match b.pattern {
            pattern::LITERAL => b.name == name || b.name == "*",
            pattern::PREFIXED => name.starts_with(&b.name),
            _ => false,
        }
}

impl Authorizer {
    /// Whether `authorizer.class.name` names an authorizer Odradek implements.
    pub fn recognised(class: &str) -> bool {
        matches!(
            class.trim(),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                | "kafka.security.authorizer.AclAuthorizer"
                | "acl"
        )
    }

    pub fn open(
        disk: Disk,
        data_dir: &std::path::Path,
        super_users: &str,
        allow_if_no_acl: bool,
    ) -> Result<Authorizer, String> {
        let super_users: Vec<String> =
            super_users.split(';').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        for u in &super_users {
            if !u.contains(':') {
                return Err(format!("super.users: '{u}' is not a principal (User:name)"));
            }
        }
        let path = data_dir.join("acls");
        let mut bindings = Vec::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    bindings.push(parse_line(line).ok_or_else(|| {
                        format!("{}: line {} is not an ACL binding", path.display(), n + 1)
                    })?);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
        Ok(Authorizer { super_users, allow_if_no_acl, path, disk, bindings: RwLock::new(bindings) })
    }

    /// Whether `principal` from `host` may do `operation` on the resource.
    pub fn authorize(
        &self,
        principal: &Principal,
        host: IpAddr,
        operation: i8,
        rtype: i8,
        name: &str,
    ) -> bool {
        let who = principal.to_string();
        if self.super_users.contains(&who) {
            return true;
        }
        let host = host.to_string();
        let bindings = self.bindings.read();
        let mut any_for_resource = false;
        let mut allowed = false;
        for b in bindings.iter().filter(|b| resource_matches(b, rtype, name)) {
            any_for_resource = true;
            let applies =
                (b.principal == who || b.principal == "User:*") && (b.host == "*" || b.host == host);
            if !applies {
                continue;
            }
            match b.permission {
                perm::DENY if b.operation == operation || b.operation == op::ALL => return false,
                perm::ALLOW if implied(b.operation, operation) => allowed = true,
                _ => {}
            }
        }
        if !any_for_resource {
            return self.allow_if_no_acl;
        }
        allowed
    }

    /// Whether some binding allows `operation` on some resource of this type (Kafka's
    /// authorizeByResourceType, used for idempotent producers).
    pub fn authorize_any(&self, principal: &Principal, host: IpAddr, operation: i8, rtype: i8) -> bool {
        let who = principal.to_string();
        if self.super_users.contains(&who) {
            return true;
        }
        let host = host.to_string();
        let bindings = self.bindings.read();
        let applies = |b: &&Binding| {
            b.resource_type == rtype
                && (b.principal == who || b.principal == "User:*")
                && (b.host == "*" || b.host == host)
        };
        let denied_all = bindings.iter().filter(applies).any(|b| {
            b.permission == perm::DENY
                && b.pattern == pattern::LITERAL
                && b.name == "*"
                && (b.operation == operation || b.operation == op::ALL)
        });
        !denied_all
            && bindings
                .iter()
                .filter(applies)
                .any(|b| b.permission == perm::ALLOW && implied(b.operation, operation))
    }

    pub fn describe(&self, f: &Filter) -> Vec<Binding> {
        self.bindings.read().iter().filter(|b| f.matches(b)).cloned().collect()
    }

    fn persist(&self, all: &[Binding]) -> Result<(), AclError> {
        let mut text = String::from("# ACL bindings: RESOURCE_TYPE PATTERN OPERATION PERMISSION NAME PRINCIPAL HOST (wire codes; strings percent-encoded)\n");
        for b in all {
            text.push_str(&format!(
                "{} {} {} {} {} {} {}\n",
                b.resource_type,
                b.pattern,
                b.operation,
                b.permission,
                pct(&b.name),
                pct(&b.principal),
                pct(&b.host)
            ));
        }
        self.disk.write_atomic(&self.path, text.as_bytes()).map_err(|e| AclError::Storage(e.to_string()))
    }

    /// Adds bindings (durably; existing ones are kept once).
    pub fn create(&self, new: Vec<Binding>) -> Result<(), AclError> {
        let mut all = self.bindings.write();
        let mut next = all.clone();
        for b in new {
            validate(&b)?;
            if !next.contains(&b) {
                next.push(b);
            }
        }
        self.persist(&next)?;
        *all = next;
        Ok(())
    }

    /// Removes every binding matching one of the filters; returns, per filter, what it removed.
    pub fn delete(&self, filters: &[Filter]) -> Result<Vec<Vec<Binding>>, AclError> {
        let mut all = self.bindings.write();
        let removed: Vec<Vec<Binding>> =
            filters.iter().map(|f| all.iter().filter(|b| f.matches(b)).cloned().collect()).collect();
        let next: Vec<Binding> =
            all.iter().filter(|b| !filters.iter().any(|f| f.matches(b))).cloned().collect();
        if next.len() != all.len() {
            self.persist(&next)?;
            *all = next;
        }
        Ok(removed)
    }
}

/// Writes `DIR/acls` with these bindings unless the file exists (a development bootstrap).
pub fn seed(data_dir: &std::path::Path, bindings: &[Binding]) -> Result<(), String> {
    let path = data_dir.join("acls");
    if path.exists() {
        return Ok(());
    }
    let a = Authorizer {
        super_users: vec![],
        allow_if_no_acl: false,
        path,
        disk: Disk::os(),
        bindings: RwLock::new(vec![]),
    };
    a.create(bindings.to_vec()).map_err(|e| format!("{e:?}"))
}

/// Kafka's checks on a binding to create.
pub fn validate(b: &Binding) -> Result<(), AclError> {
    let bad = |m: &str| Err(AclError::Invalid(m.to_string()));
    if !matches!(
        b.resource_type,
        resource::TOPIC
            | resource::GROUP
            | resource::CLUSTER
            | resource::TRANSACTIONAL_ID
            | resource::DELEGATION_TOKEN
            | resource::USER
    ) {
        return bad("Invalid resource type");
    }
    if !matches!(b.pattern, pattern::LITERAL | pattern::PREFIXED) {
        return bad("Invalid pattern type: ACLs must be LITERAL or PREFIXED");
    }
    if !(op::ALL..=op::TWO_PHASE_COMMIT).contains(&b.operation) {
        return bad("Invalid operation");
    }
    if !matches!(b.permission, perm::ALLOW | perm::DENY) {
        return bad("Invalid permission type");
    }
    if b.name.is_empty() {
        return bad("Resource name should not be empty");
    }
    if b.resource_type == resource::CLUSTER && b.name != CLUSTER_NAME {
        return bad("The only valid name for the CLUSTER resource is kafka-cluster");
    }
    match b.principal.split_once(':') {
        Some((t, n)) if !t.is_empty() && !n.is_empty() => {}
        _ => return bad(&format!("Could not parse principal from `{}` (no colon is present separating the principal type from the principal name)", b.principal)),
    }
    Ok(())
}

fn parse_line(line: &str) -> Option<Binding> {
    let f: Vec<&str> = line.split(' ').collect();
    if f.len() != 7 {
        return None;
    }
    Some(Binding {
        resource_type: f[0].parse().ok()?,
        pattern: f[1].parse().ok()?,
        operation: f[2].parse().ok()?,
        permission: f[3].parse().ok()?,
        name: unpct(f[4])?,
        principal: unpct(f[5])?,
        host: unpct(f[6])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(rt: i8, name: &str, pat: i8, principal: &str, host: &str, o: i8, p: i8) -> Binding {
        Binding {
            resource_type: rt,
            name: name.into(),
            pattern: pat,
            principal: principal.into(),
            host: host.into(),
            operation: o,
            permission: p,
        }
    }

    #[test]
    fn kafka_authorization_rules() {
        let dir = tempfile::tempdir().unwrap();
        let a = Authorizer::open(Disk::os(), dir.path(), "User:admin;User:ops", false).unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let alice = Principal::user("alice");
        let bob = Principal::user("bob");
        a.create(vec![
            b(resource::TOPIC, "orders", pattern::LITERAL, "User:alice", "*", op::READ, perm::ALLOW),
            b(resource::TOPIC, "logs-", pattern::PREFIXED, "User:*", "*", op::WRITE, perm::ALLOW),
            b(resource::TOPIC, "logs-secret", pattern::LITERAL, "User:bob", "*", op::ALL, perm::DENY),
            b(resource::GROUP, "*", pattern::LITERAL, "User:alice", "127.0.0.1", op::READ, perm::ALLOW),
        ])
        .unwrap();
        assert!(a.authorize(&alice, local, op::READ, resource::TOPIC, "orders"));
        assert!(a.authorize(&alice, local, op::DESCRIBE, resource::TOPIC, "orders"), "READ implies DESCRIBE");
        assert!(!a.authorize(&alice, local, op::WRITE, resource::TOPIC, "orders"));
        assert!(!a.authorize(&bob, local, op::READ, resource::TOPIC, "orders"));
        assert!(
            a.authorize(&bob, local, op::WRITE, resource::TOPIC, "logs-app"),
            "prefixed, wildcard principal"
        );
        assert!(!a.authorize(&bob, local, op::WRITE, resource::TOPIC, "logs-secret"), "DENY wins");
        assert!(a.authorize(&alice, local, op::WRITE, resource::TOPIC, "logs-secret"));
        assert!(a.authorize(&alice, local, op::READ, resource::GROUP, "any-group"));
        assert!(
            !a.authorize(&alice, "10.0.0.1".parse().unwrap(), op::READ, resource::GROUP, "any-group"),
            "host"
        );
        assert!(
            !a.authorize(&alice, local, op::READ, resource::TOPIC, "no-acls"),
            "no ACL: denied by default"
        );
        assert!(
            a.authorize(&Principal::user("admin"), local, op::ALTER, resource::CLUSTER, CLUSTER_NAME),
            "super user"
        );
        drop(a);
        let a = Authorizer::open(Disk::os(), dir.path(), "", true).unwrap();
        assert!(
            a.authorize(&bob, local, op::READ, resource::TOPIC, "no-acls"),
            "allow.everyone.if.no.acl.found"
        );
        assert!(!a.authorize(&bob, local, op::READ, resource::TOPIC, "orders"), "bindings survive a restart");
        let f = Filter {
            resource_type: resource::TOPIC,
            name: Some("logs-secret".into()),
            pattern: pattern::MATCH,
            principal: None,
            host: None,
            operation: op::ANY,
            permission: perm::ANY,
        };
        assert_eq!(a.describe(&f).len(), 2, "MATCH: the literal and the prefix that apply");
        let removed = a.delete(&[f]).unwrap();
        assert_eq!(removed[0].len(), 2);
        assert_eq!(
            a.describe(&Filter {
                resource_type: resource::ANY,
                name: None,
                pattern: pattern::ANY,
                principal: None,
                host: None,
                operation: op::ANY,
                permission: perm::ANY
            })
            .len(),
            2
        );
        assert!(validate(&b(
            resource::CLUSTER,
            "other",
            pattern::LITERAL,
            "User:a",
            "*",
            op::ALTER,
            perm::ALLOW
        ))
        .is_err());
        assert!(
            validate(&b(resource::TOPIC, "t", pattern::MATCH, "User:a", "*", op::READ, perm::ALLOW)).is_err()
        );
        assert!(validate(&b(resource::TOPIC, "t", pattern::LITERAL, "alice", "*", op::READ, perm::ALLOW))
            .is_err());
    }
}
