//! Deterministic fault injection for tests: rules that match requests and say what to do to them
//! (answer an error code, delay the answer, close the connection before or after the request is
//! applied, drop the answer). The control API manages them (`/v1/faults`); the request handler
//! asks [`Faults::decide`] for each request while any rule exists, and carries the action out.
//!
//! A rule matches on the API key and a version range, topics and partitions, group,
//! transactional id, client id and principal; it fires after `after` matches, at most `times`
//! times, each time with `probability` drawn from its own seeded generator, so a run with the
//! same requests fires the same way. Every firing is logged and counted.
//!
//! With no rule, [`Faults::active`] is one relaxed atomic load: the hot path pays nothing else.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

/// What a rule does to a request it fires on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Answer with this Kafka error code without applying the request (on every partition, where
    /// the response has partitions).
    Error { code: i16 },
    /// Apply the request, then hold its answer (and, answers being in order, the connection's
    /// later ones) for this long.
    Delay { ms: u64 },
    /// Close the connection before the request is applied; nothing is answered.
    CloseBefore,
    /// Apply the request (and wait until it is durable), then close the connection instead of
    /// answering: the client cannot tell whether it happened.
    CloseAfter,
    /// Apply the request and never answer it; the connection stays open.
    DropAnswer,
    /// Apply the request, answer with `throttle_time_ms` = `ms` and handle nothing more from the
    /// connection for that long, as a broker enforcing a quota does (KIP-219).
    Throttle { ms: u64 },
}

/// What a rule matches. Every field given must match; an empty rule matches every request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// A rule as the control API takes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, rename = "match")]
    pub matches: Match,
    pub action: Action,
    /// Matches let through before the rule first fires.
    #[serde(default)]
    pub after: u64,
    /// How many times it fires at most (none: every time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// The chance of firing on each match past `after` (default 1), drawn from a generator seeded
    /// with `seed` (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default)]
    pub seed: u64,
}

impl RuleSpec {
    pub fn check(&self) -> Result<(), String> {
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) || p.is_nan() {
                return Err(format!("probability must be within 0 and 1, got {p}"));
            }
        }
        if let (Some(a), Some(b)) = (self.matches.min_version, self.matches.max_version) {
            if a > b {
                return Err(format!("min_version {a} is above max_version {b}"));
            }
        }
        if let Action::Delay { ms } | Action::Throttle { ms } = self.action {
            if ms > 600_000 {
                return Err(format!("{ms} ms is over the 600000 ms a delay or throttle may take"));
            }
        }
        if let Action::Error { code: 0 } = self.action {
            return Err(
                "error code 0 is success: an error rule would answer success for a request never applied"
                    .into(),
            );
        }
        if self.matches.partition.is_some() && self.matches.topic.is_none() {
            return Err("a partition matches only together with a topic".into());
        }
        Ok(())
    }
}

/// What the handler knows of a request when it asks.
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub api_key: i16,
    pub version: i16,
    pub client_id: Option<&'a str>,
    pub principal: &'a str,
    /// (topic, partitions named for it; empty when the request names a whole topic).
    pub topics: Vec<(String, Vec<i32>)>,
    /// Every group the request names (several in a batched FindCoordinator or OffsetFetch).
    pub groups: Vec<String>,
    /// Every transactional id it names (several in a batched FindCoordinator or
    /// AddPartitionsToTxn v4+).
    pub transactional_ids: Vec<String>,
}

impl Match {
    fn matches(&self, r: &Request<'_>) -> bool {
        let eq = |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == got);
        self.api_key.is_none_or(|k| k == r.api_key)
            && self.min_version.is_none_or(|v| r.version >= v)
            && self.max_version.is_none_or(|v| r.version <= v)
            && eq(&self.client_id, r.client_id)
            && self.principal.as_deref().is_none_or(|p| p == r.principal)
            && self.group.as_deref().is_none_or(|g| r.groups.iter().any(|x| x == g))
            && self.transactional_id.as_deref().is_none_or(|t| r.transactional_ids.iter().any(|x| x == t))
            && self.topic.as_deref().is_none_or(|t| {
                r.topics.iter().any(|(name, parts)| {
                    name == t && self.partition.is_none_or(|p| parts.is_empty() || parts.contains(&p))
                })
            })
    }
}

/// A rule with its counters.
#[derive(Debug)]
pub struct Rule {
    pub id: u64,
    pub spec: RuleSpec,
    matched: AtomicU64,
    fired: AtomicU64,
    rng: Mutex<u64>,
}

/// A rule and its counters, as listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuleView {
    pub id: u64,
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub matched: u64,
    pub fired: u64,
}

impl Rule {
    fn view(&self) -> RuleView {
        RuleView {
            id: self.id,
            spec: self.spec.clone(),
            matched: self.matched.load(Ordering::Relaxed),
            fired: self.fired.load(Ordering::Relaxed),
        }
    }

    /// Counts a match and says whether the rule fires on it.
    fn fires(&self) -> bool {
        let n = self.matched.fetch_add(1, Ordering::AcqRel);
        if n < self.spec.after {
            return false;
        }
        if let Some(p) = self.spec.probability {
            if next_unit(&mut self.rng.lock()) >= p {
                return false;
            }
        }
        // Reserve a firing; one over the limit gives it back.
        let before = self.fired.fetch_add(1, Ordering::AcqRel);
        if self.spec.times.is_some_and(|m| before >= m) {
            self.fired.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// splitmix64 as a uniform draw in [0, 1): small, seedable, the same on every machine.
fn next_unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// One broker's fault rules.
#[derive(Debug, Default)]
pub struct Faults {
    active: AtomicBool,
    rules: RwLock<Vec<Arc<Rule>>>,
    next_id: AtomicU64,
}

impl Faults {
    /// Whether any rule exists (the only cost on the request path when none does).
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn add(&self, spec: RuleSpec) -> Result<RuleView, String> {
        spec.check()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let rule = Arc::new(Rule {
            id,
            rng: Mutex::new(spec.seed),
            spec,
            matched: AtomicU64::new(0),
            fired: AtomicU64::new(0),
        });
        let view = rule.view();
        let mut rules = self.rules.write();
        rules.push(rule);
        self.active.store(true, Ordering::Relaxed);
        tracing::info!(rule = id, spec = ?view.spec, "fault rule added");
        Ok(view)
    }

    pub fn list(&self) -> Vec<RuleView> {
        self.rules.read().iter().map(|r| r.view()).collect()
    }

    pub fn get(&self, id: u64) -> Option<RuleView> {
        self.rules.read().iter().find(|r| r.id == id).map(|r| r.view())
    }

    /// Removes a rule; false when there is none with that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.rules.write();
        let before = rules.len();
        rules.retain(|r| r.id != id);
        self.active.store(!rules.is_empty(), Ordering::Relaxed);
        rules.len() != before
    }

    /// Removes every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut rules = self.rules.write();
        let n = rules.len();
        rules.clear();
        self.active.store(false, Ordering::Relaxed);
        n
    }

    /// The action of the first rule (in the order added) that matches and fires, if any. Every
    /// matching rule before it counts the match.
    pub fn decide(&self, r: &Request<'_>) -> Option<(u64, Action)> {
        let rules: Vec<Arc<Rule>> = self.rules.read().clone();
        for rule in rules {
            if rule.spec.matches.matches(r) && rule.fires() {
                tracing::warn!(rule = rule.id, api_key = r.api_key, version = r.version, client = ?r.client_id, action = ?rule.spec.action, "fault fired");
                return Some((rule.id, rule.spec.action.clone()));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(api: i16, topic: &str, p: i32) -> Request<'static> {
        Request {
            api_key: api,
            version: 9,
            principal: "User:ANONYMOUS",
            topics: vec![(topic.into(), vec![p])],
            ..Default::default()
        }
    }

    #[test]
    fn fires_after_n_matches_for_m_times() {
        let f = Faults::default();
        assert!(!f.active());
        let spec = RuleSpec {
            matches: Match { api_key: Some(0), topic: Some("t".into()), ..Default::default() },
            action: Action::Error { code: 6 },
            after: 2,
            times: Some(2),
            probability: None,
            seed: 0,
        };
        let id = f.add(spec).unwrap().id;
        assert!(f.active());
        let fired: Vec<bool> = (0..6).map(|_| f.decide(&req(0, "t", 0)).is_some()).collect();
        assert_eq!(fired, [false, false, true, true, false, false]);
        assert!(f.decide(&req(1, "t", 0)).is_none(), "another API does not match");
        assert!(f.decide(&req(0, "u", 0)).is_none(), "another topic does not match");
        let v = f.get(id).unwrap();
        assert_eq!((v.matched, v.fired), (6, 2));
        assert!(f.remove(id) && !f.active() && !f.remove(id));
    }

    #[test]
    fn a_batched_request_matches_through_any_of_its_keys() {
        let f = Faults::default();
        let spec: RuleSpec =
            serde_json::from_str(r#"{"match":{"group":"g2"},"action":{"type":"close_before"}}"#).unwrap();
        f.add(spec).unwrap();
        let mut r = req(10, "t", 0);
        r.groups = vec!["g1".into(), "g2".into()];
        assert!(f.decide(&r).is_some());
        r.groups = vec!["g1".into()];
        assert!(f.decide(&r).is_none());
    }

    #[test]
    fn a_seeded_probability_fires_the_same_way_each_run() {
        let run = || {
            let f = Faults::default();
            f.add(RuleSpec {
                matches: Match::default(),
                action: Action::DropAnswer,
                after: 0,
                times: None,
                probability: Some(0.3),
                seed: 42,
            })
            .unwrap();
            (0..200).map(|_| f.decide(&req(3, "x", 0)).is_some()).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let n = a.iter().filter(|x| **x).count();
        assert!((30..90).contains(&n), "about 30% of 200 fire, got {n}");
    }

    #[test]
    fn nonsense_rules_are_refused_and_json_names_are_stable() {
        let bad: RuleSpec =
            serde_json::from_str(r#"{"action":{"type":"error","code":6},"probability":1.5}"#).unwrap();
        assert!(bad.check().is_err());
        assert!(serde_json::from_str::<RuleSpec>(r#"{"action":{"type":"explode"}}"#).is_err());
        let zero: RuleSpec = serde_json::from_str(r#"{"action":{"type":"error","code":0}}"#).unwrap();
        assert!(zero.check().is_err(), "code 0 would fake success");
        assert!(serde_json::from_str::<RuleSpec>(r#"{"action":{"type":"close_after"},"mtach":{}}"#).is_err());
        let ok: RuleSpec = serde_json::from_str(
            r#"{"match":{"api_key":26,"transactional_id":"tx"},"action":{"type":"close_after"},"times":1}"#,
        )
        .unwrap();
        assert_eq!(ok.action, Action::CloseAfter);
        assert!(ok.check().is_ok());
    }
}
