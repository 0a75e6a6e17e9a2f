//! One policy's rules: the text parsed ([`syntax`]), interpreted as resources and rules, and
//! validated as Consul validates them, in Consul's order and words.
//!
//! Top-level resources (`acl`, `operator`, `keyring`, `mesh`, `peering`) take a level
//! (`operator = "read"`, an empty string meaning "no rule"). Segmented resources take rules
//! per name, exact (`key "a/b"`) or by prefix (`key_prefix "a/"`), each with a `policy` and,
//! for services, an optional `intentions` level. `list` is a level for key rules only.

mod duplicates;
mod syntax;
#[cfg(test)]
mod tests;

use crate::access::{Level, Resource};
use api_types::go_quote as quote;
use syntax::Node;

/// A parsed and validated rules text: the rules of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rules {
    acl: Option<Level>,
    keyring: Option<Level>,
    mesh: Option<Level>,
    operator: Option<Level>,
    peering: Option<Level>,
    segments: Vec<SegmentRule>,
}

/// One rule of a segmented resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentRule {
    pub(crate) resource: Resource,
    /// `key_prefix "a"` rather than `key "a"`.
    pub(crate) prefix: bool,
    pub(crate) name: String,
    pub(crate) policy: Level,
    /// A service rule's `intentions` level, when given.
    pub(crate) intentions: Option<Level>,
}

/// Why a rules text was refused, in Consul's words: `Failed to parse ACL rules: ...` for text
/// that is not a rules document, `Invalid <resource> policy: ...` for a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RulesError(String);

impl RulesError {
    fn syntax(reason: impl std::fmt::Display) -> RulesError {
        RulesError(format!("Failed to parse ACL rules: {reason}"))
    }
}

/// A segmented resource as written in rules, and how Consul prints one of its rules.
struct Segment {
    word: &'static str,
    resource: Resource,
    /// Go type of the rule, for `Invalid ... policy: &acl.KeyRule{...}`.
    go_type: &'static str,
    /// Go field holding the name.
    go_name: &'static str,
    /// Whether the Go type carries `EnterpriseRule` (printed empty in CE).
    enterprise: bool,
}

/// In Consul's validation order.
const SEGMENTS: [Segment; 7] = [
    Segment::new("agent", Resource::Agent, "AgentRule", "Node", false),
    Segment::new("key", Resource::Key, "KeyRule", "Prefix", true),
    Segment::new("node", Resource::Node, "NodeRule", "Name", true),
    Segment::new("service", Resource::Service, "ServiceRule", "Name", true),
    Segment::new("session", Resource::Session, "SessionRule", "Node", false),
    Segment::new("event", Resource::Event, "EventRule", "Event", false),
    Segment::new(
        "query",
        Resource::Query,
        "PreparedQueryRule",
        "Prefix",
        false,
    ),
];

impl Segment {
    const fn new(
        word: &'static str,
        resource: Resource,
        go_type: &'static str,
        go_name: &'static str,
        enterprise: bool,
    ) -> Segment {
        Segment {
            word,
            resource,
            go_type,
            go_name,
            enterprise,
        }
    }

    fn is_service(&self) -> bool {
        self.resource == Resource::Service
    }
}

/// Top-level resources, in Consul's validation order (`acl` first, the rest after the
/// segmented ones).
const TOP_LEVEL: [&str; 5] = ["acl", "keyring", "operator", "mesh", "peering"];

/// Resources of Consul Enterprise, refused by name.
const ENTERPRISE: [&str; 5] = [
    "partition",
    "partition_prefix",
    "namespace",
    "namespace_prefix",
    "sentinel",
];

/// A rule as written, before validation.
struct Written {
    segment: usize,
    prefix: bool,
    name: String,
    policy: String,
    intentions: String,
}

impl Rules {
    /// Parses and validates a rules text: HCL (HCL 1 forms included) or, when it starts with
    /// `{`, JSON. The empty text is a policy without rules.
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        if text.is_empty() {
            return Ok(Rules::default());
        }
        let entries = syntax::read(text).map_err(RulesError::syntax)?;
        let mut top: [String; 5] = Default::default();
        let mut written = Vec::new();
        for (key, node) in entries {
            let word = key.to_ascii_lowercase();
            if let Some(i) = TOP_LEVEL.iter().position(|w| *w == word) {
                // Like HCL 1's decoder, a repeated one (JSON only) overwrites.
                top[i] = scalar(&key, node)?;
            } else if let Some((segment, prefix)) = segment_of(&word) {
                collect(segment, prefix, &key, node, &mut written)?;
            } else if ENTERPRISE.contains(&word.as_str()) {
                return Err(enterprise(&key));
            } else {
                return Err(RulesError::syntax(format!(
                    "unknown ACL resource {}",
                    quote(&key)
                )));
            }
        }
        validate(top, written)
    }

    /// Whether the policy has no rule at all.
    pub fn is_empty(&self) -> bool {
        self.acl.is_none()
            && self.keyring.is_none()
            && self.mesh.is_none()
            && self.operator.is_none()
            && self.peering.is_none()
            && self.segments.is_empty()
    }

    /// The level of a top-level resource (`acl`, `keyring`, `mesh`, `operator`, `peering`).
    pub(crate) fn top_level(&self, resource: Resource) -> Option<Level> {
        match resource {
            Resource::Acl => self.acl,
            Resource::Keyring => self.keyring,
            Resource::Mesh => self.mesh,
            Resource::Operator => self.operator,
            Resource::Peering => self.peering,
            _ => None,
        }
    }

    /// The rules of segmented resources, in source order.
    pub(crate) fn segment_rules(&self) -> &[SegmentRule] {
        &self.segments
    }
}

fn segment_of(word: &str) -> Option<(usize, bool)> {
    let (base, prefix) = match word.strip_suffix("_prefix") {
        Some(base) => (base, true),
        None => (word, false),
    };
    let i = SEGMENTS.iter().position(|s| s.word == base)?;
    Some((i, prefix))
}

fn enterprise(key: &str) -> RulesError {
    RulesError::syntax(format!(
        "{} rules are a Consul Enterprise feature",
        quote(key)
    ))
}

/// A top-level value: a string (numbers and booleans as their text, as HCL 1 reads them).
fn scalar(key: &str, node: Node) -> Result<String, RulesError> {
    match node {
        Node::Scalar(s) => Ok(s),
        other => Err(RulesError::syntax(format!(
            "{key}: expected a string, got {}",
            other.kind()
        ))),
    }
}

/// The objects a node stands for: itself, or each object of a list (HCL 1 flattens lists
/// of objects, as JSON rules write repeated blocks).
fn objects(node: Node, what: &str) -> Result<Vec<Vec<(String, Node)>>, RulesError> {
    match node {
        Node::Object(entries) => Ok(vec![entries]),
        Node::List(items) => items
            .into_iter()
            .map(|item| match item {
                Node::Object(entries) => Ok(entries),
                other => Err(expected_block(what, &other)),
            })
            .collect(),
        other => Err(expected_block(what, &other)),
    }
}

fn expected_block(what: &str, got: &Node) -> RulesError {
    RulesError::syntax(format!("{what}: expected a block, got {}", got.kind()))
}

/// The rules under one `key`/`key_prefix`/... entry.
fn collect(
    segment: usize,
    prefix: bool,
    key: &str,
    node: Node,
    out: &mut Vec<Written>,
) -> Result<(), RulesError> {
    for named in objects(node, key)? {
        for (name, body) in named {
            let what = format!("{key} {}", quote(&name));
            for attributes in objects(body, &what)? {
                let mut rule = Written {
                    segment,
                    prefix,
                    name: name.clone(),
                    policy: String::new(),
                    intentions: String::new(),
                };
                for (attribute, value) in attributes {
                    let word = attribute.to_ascii_lowercase();
                    let slot = match word.as_str() {
                        "policy" => &mut rule.policy,
                        "intentions" if SEGMENTS[segment].is_service() => &mut rule.intentions,
                        "sentinel" => return Err(enterprise(&attribute)),
                        _ => {
                            return Err(RulesError::syntax(format!(
                                "{what}: unknown attribute {}",
                                quote(&attribute)
                            )))
                        }
                    };
                    *slot = scalar(&format!("{what}: {attribute}"), value)?;
                }
                out.push(rule);
            }
        }
    }
    Ok(())
}

/// Checks every value in Consul's order and builds the rules.
fn validate(top: [String; 5], written: Vec<Written>) -> Result<Rules, RulesError> {
    let top_level = |i: usize| -> Result<Option<Level>, RulesError> {
        let value = &top[i];
        if value.is_empty() {
            return Ok(None);
        }
        valid_level(value, false)
            .map(Some)
            .ok_or_else(|| RulesError(format!("Invalid {} policy: {}", TOP_LEVEL[i], quote(value))))
    };
    let acl = top_level(0)?;
    let mut segments = Vec::with_capacity(written.len());
    for (i, segment) in SEGMENTS.iter().enumerate() {
        for prefix in [false, true] {
            for rule in written
                .iter()
                .filter(|r| r.segment == i && r.prefix == prefix)
            {
                segments.push(validate_rule(segment, rule)?);
            }
        }
    }
    Ok(Rules {
        acl,
        keyring: top_level(1)?,
        operator: top_level(2)?,
        mesh: top_level(3)?,
        peering: top_level(4)?,
        segments,
    })
}

fn validate_rule(segment: &Segment, rule: &Written) -> Result<SegmentRule, RulesError> {
    let kind = if rule.prefix {
        format!("{}_prefix", segment.word)
    } else {
        segment.word.to_string()
    };
    let allow_list = segment.resource == Resource::Key;
    let policy = valid_level(&rule.policy, allow_list)
        .ok_or_else(|| RulesError(format!("Invalid {kind} policy: {}", go_rule(segment, rule))))?;
    let intentions = if rule.intentions.is_empty() {
        None
    } else {
        Some(valid_level(&rule.intentions, false).ok_or_else(|| {
            RulesError(format!(
                "Invalid {kind} intentions policy: {}",
                go_rule(segment, rule)
            ))
        })?)
    };
    Ok(SegmentRule {
        resource: segment.resource,
        prefix: rule.prefix,
        name: rule.name.clone(),
        policy,
        intentions,
    })
}

fn valid_level(value: &str, allow_list: bool) -> Option<Level> {
    Level::parse(value).filter(|l| allow_list || *l != Level::List)
}

/// The rule as Go's `%#v` prints Consul's rule struct.
fn go_rule(segment: &Segment, rule: &Written) -> String {
    let mut out = format!(
        "&acl.{}{{{}:{}, Policy:{}",
        segment.go_type,
        segment.go_name,
        quote(&rule.name),
        quote(&rule.policy)
    );
    if segment.is_service() {
        out.push_str(&format!(", Intentions:{}", quote(&rule.intentions)));
    }
    if segment.enterprise {
        out.push_str(", EnterpriseRule:acl.EnterpriseRule{}");
    }
    out.push('}');
    out
}
