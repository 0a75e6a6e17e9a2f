//! Service and node identities: a token's shorthand for "may act as this service / node",
//! which Consul turns into a synthetic policy whose rules are generated here; and the name
//! checks Consul applies to identities, policies, roles and auth methods.

use api_types::go_quote as quote;

/// Rules of a service identity's synthetic policy: write on the service and its sidecar
/// proxy, read on all services and nodes (to discover them).
pub fn service_identity_rules(service_name: &str) -> String {
    format!(
        concat!(
            "\nservice \"{name}\" {{\n\tpolicy = \"write\"\n}}",
            "\nservice \"{name}-sidecar-proxy\" {{\n\tpolicy = \"write\"\n}}",
            "\nservice_prefix \"\" {{\n\tpolicy = \"read\"\n}}",
            "\nnode_prefix \"\" {{\n\tpolicy = \"read\"\n}}",
        ),
        name = service_name
    )
}

/// Rules of a node identity's synthetic policy: write on the node (register itself, update
/// its coordinates), read on all services (anti-entropy).
pub fn node_identity_rules(node_name: &str) -> String {
    format!(
        concat!(
            "\nnode \"{name}\" {{\n\tpolicy = \"write\"\n}}",
            "\nservice_prefix \"\" {{\n\tpolicy = \"read\"\n}}",
        ),
        name = node_name
    )
}

/// Longest service or node identity name.
pub const IDENTITY_NAME_MAX_LENGTH: usize = 256;

/// Whether a service identity may bear this name: 1 to 256 of lowercase letters, digits,
/// `-` and `_`, starting and ending with a letter or digit.
pub fn is_valid_service_identity_name(name: &str) -> bool {
    is_identity_name(name)
}

/// Whether a node identity may bear this name (same rule as service identities).
pub fn is_valid_node_identity_name(name: &str) -> bool {
    is_identity_name(name)
}

fn is_identity_name(name: &str) -> bool {
    let inner = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= IDENTITY_NAME_MAX_LENGTH
        && name.chars().all(inner)
        && name.starts_with(edge)
        && name.ends_with(edge)
}

/// Whether a policy may bear this name: 1 to 128 of ASCII letters, digits, `-` and `_`.
pub fn is_valid_policy_name(name: &str) -> bool {
    is_plain_name(name, 128)
}

/// Whether a role may bear this name: 1 to 256 of ASCII letters, digits, `-` and `_`.
pub fn is_valid_role_name(name: &str) -> bool {
    is_plain_name(name, 256)
}

/// Whether an auth method may bear this name: 1 to 128 of ASCII letters, digits, `-`, `_`.
pub fn is_valid_auth_method_name(name: &str) -> bool {
    is_plain_name(name, 128)
}

fn is_plain_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A policy Consul makes up for an identity or a templated policy, as shown in a token's
/// expanded form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticPolicy {
    id: String,
    name: String,
    description: String,
    rules: String,
}

impl SyntheticPolicy {
    /// The synthetic policy of the service identity `service_name`.
    pub fn for_service_identity(service_name: &str) -> SyntheticPolicy {
        SyntheticPolicy::new(
            service_identity_rules(service_name),
            format!(
                "synthetic policy for service identity {}",
                quote(service_name)
            ),
        )
    }

    /// The synthetic policy of the node identity `node_name`.
    pub fn for_node_identity(node_name: &str) -> SyntheticPolicy {
        SyntheticPolicy::new(
            node_identity_rules(node_name),
            format!("synthetic policy for node identity {}", quote(node_name)),
        )
    }

    /// The synthetic policy of a templated policy rendered with `rules`.
    pub fn for_templated_policy(template_name: &str, rules: String) -> SyntheticPolicy {
        SyntheticPolicy::new(
            rules,
            format!("synthetic policy generated from templated policy: {template_name}"),
        )
    }

    fn new(rules: String, description: String) -> SyntheticPolicy {
        let id = synthetic_id(&rules);
        SyntheticPolicy {
            name: format!("synthetic-policy-{id}"),
            id,
            description,
            rules,
        }
    }

    /// The policy's ID (derived from its rules).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `synthetic-policy-<id>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the policy stands for.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The policy's rules text.
    pub fn rules(&self) -> &str {
        &self.rules
    }
}

/// Consul's synthetic policy ID. Consul calls Go's `fnv.New128a().Sum([]byte(rules))`, which
/// appends the hash of nothing to the rules rather than hashing them: the ID is the rules'
/// bytes in hex followed by FNV-1a 128's offset basis.
fn synthetic_id(rules: &str) -> String {
    const FNV128A_EMPTY: &str = "6c62272e07bb014262b821756295c58d";
    let mut id = String::with_capacity(rules.len() * 2 + FNV128A_EMPTY.len());
    for b in rules.bytes() {
        id.push_str(&format!("{b:02x}"));
    }
    id.push_str(FNV128A_EMPTY);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Access, Authorizer, DefaultPolicy, Resource, Rules};

    #[test]
    fn rules_texts_match_consul() {
        assert_eq!(
            service_identity_rules("web"),
            "\nservice \"web\" {\n\tpolicy = \"write\"\n}\nservice \"web-sidecar-proxy\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}\nnode_prefix \"\" {\n\tpolicy = \"read\"\n}"
        );
        assert_eq!(
            node_identity_rules("node-1"),
            "\nnode \"node-1\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"read\"\n}"
        );
    }

    #[test]
    fn service_identity_grants_what_it_should() {
        let rules = Rules::parse(&service_identity_rules("web")).expect("parses");
        let authz = Authorizer::new(DefaultPolicy::Deny, [&rules]);
        let table = [
            (Resource::Service, "web", Access::Write, true),
            (Resource::Service, "web-sidecar-proxy", Access::Write, true),
            (Resource::Service, "web2", Access::Write, false),
            (Resource::Service, "db", Access::Read, true),
            (Resource::Node, "any", Access::Read, true),
            (Resource::Node, "any", Access::Write, false),
            (Resource::Intention, "web", Access::Read, true),
            (Resource::Intention, "web", Access::Write, false),
            (Resource::Key, "a", Access::Read, false),
            (Resource::Operator, "", Access::Read, false),
        ];
        for (resource, name, need, want) in table {
            assert_eq!(
                authz.allows(resource, name, need),
                want,
                "{resource}:{need} {name}"
            );
        }
    }

    #[test]
    fn node_identity_grants_what_it_should() {
        let rules = Rules::parse(&node_identity_rules("n1")).expect("parses");
        let authz = Authorizer::new(DefaultPolicy::Deny, [&rules]);
        let table = [
            (Resource::Node, "n1", Access::Write, true),
            (Resource::Node, "n2", Access::Read, false),
            (Resource::Service, "web", Access::Read, true),
            (Resource::Service, "web", Access::Write, false),
            (Resource::Agent, "n1", Access::Read, false),
        ];
        for (resource, name, need, want) in table {
            assert_eq!(
                authz.allows(resource, name, need),
                want,
                "{resource}:{need} {name}"
            );
        }
    }

    #[test]
    fn names() {
        let table = [
            ("web", true),
            ("web-1_a", true),
            ("a", true),
            ("", false),
            ("-web", false),
            ("web_", false),
            ("Web", false),
            ("web.1", false),
        ];
        for (name, want) in table {
            assert_eq!(is_valid_service_identity_name(name), want, "{name}");
            assert_eq!(is_valid_node_identity_name(name), want, "{name}");
        }
        assert!(is_valid_service_identity_name(&"a".repeat(256)));
        assert!(!is_valid_service_identity_name(&"a".repeat(257)));
        assert!(is_valid_policy_name("Ops-Team_1"));
        assert!(!is_valid_policy_name("ops team"));
        assert!(!is_valid_policy_name(&"a".repeat(129)));
        assert!(is_valid_role_name(&"a".repeat(256)));
        assert!(!is_valid_auth_method_name(""));
    }

    #[test]
    fn synthetic_policies() {
        let p = SyntheticPolicy::for_service_identity("web");
        assert_eq!(
            p.description(),
            "synthetic policy for service identity \"web\""
        );
        assert!(p.id().starts_with("0a7365727669636520")); // "\nservice "
        assert!(p.id().ends_with("6c62272e07bb014262b821756295c58d"));
        assert_eq!(p.name(), format!("synthetic-policy-{}", p.id()));
        let n = SyntheticPolicy::for_node_identity("n1");
        assert_eq!(n.description(), "synthetic policy for node identity \"n1\"");
        assert_eq!(n.rules(), node_identity_rules("n1"));
    }
}
