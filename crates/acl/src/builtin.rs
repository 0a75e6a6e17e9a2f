//! The policies every cluster has: `global-management` (given to the bootstrap token) and
//! `builtin/global-read-only`, with Consul's IDs, names, descriptions and rules texts, which
//! the API returns as they are.

/// IDs starting so are reserved for builtin policies; new policies never get one.
pub const RESERVED_ID_PREFIX: &str = "00000000-0000-0000-0000-0000000000";

/// ID of the `global-management` policy.
pub const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// Name of the `global-management` policy (users may rename it).
pub const GLOBAL_MANAGEMENT_NAME: &str = "global-management";
/// Description of the `global-management` policy.
pub const GLOBAL_MANAGEMENT_DESCRIPTION: &str = "Builtin Policy that grants unlimited access";
/// Rules of the `global-management` policy: write on everything.
pub const GLOBAL_MANAGEMENT_RULES: &str = concat!(
    "\n",
    "acl = \"write\"\n",
    "agent_prefix \"\" {\n\tpolicy = \"write\"\n}\n",
    "event_prefix \"\" {\n\tpolicy = \"write\"\n}\n",
    "key_prefix \"\" {\n\tpolicy = \"write\"\n}\n",
    "keyring = \"write\"\n",
    "node_prefix \"\" {\n\tpolicy = \"write\"\n}\n",
    "operator = \"write\"\n",
    "mesh = \"write\"\n",
    "peering = \"write\"\n",
    "query_prefix \"\" {\n\tpolicy = \"write\"\n}\n",
    "service_prefix \"\" {\n\tpolicy = \"write\"\n\tintentions = \"write\"\n}\n",
    "session_prefix \"\" {\n\tpolicy = \"write\"\n}",
);

/// ID of the `builtin/global-read-only` policy (the same digits as the anonymous token's
/// accessor ID, in another table).
pub const GLOBAL_READ_ONLY_ID: &str = "00000000-0000-0000-0000-000000000002";
/// Name of the `builtin/global-read-only` policy.
pub const GLOBAL_READ_ONLY_NAME: &str = "builtin/global-read-only";
/// Description of the `builtin/global-read-only` policy.
pub const GLOBAL_READ_ONLY_DESCRIPTION: &str =
    "Builtin Policy that grants unlimited read-only access to all components";
/// Rules of the `builtin/global-read-only` policy: read on everything.
pub const GLOBAL_READ_ONLY_RULES: &str = concat!(
    "\n",
    "acl = \"read\"\n",
    "agent_prefix \"\" {\n\tpolicy = \"read\"\n}\n",
    "event_prefix \"\" {\n\tpolicy = \"read\"\n}\n",
    "key_prefix \"\" {\n\tpolicy = \"read\"\n}\n",
    "keyring = \"read\"\n",
    "node_prefix \"\" {\n\tpolicy = \"read\"\n}\n",
    "operator = \"read\"\n",
    "mesh = \"read\"\n",
    "peering = \"read\"\n",
    "query_prefix \"\" {\n\tpolicy = \"read\"\n}\n",
    "service_prefix \"\" {\n\tpolicy = \"read\"\n\tintentions = \"read\"\n}\n",
    "session_prefix \"\" {\n\tpolicy = \"read\"\n}",
);

/// A policy created with the cluster, whose rules cannot be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinPolicy {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    rules: &'static str,
}

impl BuiltinPolicy {
    /// The policy's fixed ID.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The policy's name as created.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The policy's description.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The policy's rules text.
    pub fn rules(&self) -> &'static str {
        self.rules
    }
}

const BUILTIN: [BuiltinPolicy; 2] = [
    BuiltinPolicy {
        id: GLOBAL_MANAGEMENT_ID,
        name: GLOBAL_MANAGEMENT_NAME,
        description: GLOBAL_MANAGEMENT_DESCRIPTION,
        rules: GLOBAL_MANAGEMENT_RULES,
    },
    BuiltinPolicy {
        id: GLOBAL_READ_ONLY_ID,
        name: GLOBAL_READ_ONLY_NAME,
        description: GLOBAL_READ_ONLY_DESCRIPTION,
        rules: GLOBAL_READ_ONLY_RULES,
    },
];

/// The builtin policies, `global-management` first.
pub fn builtin_policies() -> &'static [BuiltinPolicy] {
    &BUILTIN
}

/// The builtin policy with this ID.
pub fn builtin_policy(id: &str) -> Option<&'static BuiltinPolicy> {
    BUILTIN.iter().find(|p| p.id == id)
}

/// Whether `id` is in the range reserved for builtin policies.
pub fn is_reserved_id(id: &str) -> bool {
    id.starts_with(RESERVED_ID_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Access, Authorizer, DefaultPolicy, Resource, Rules};

    const ALL: [Resource; 13] = [
        Resource::Acl,
        Resource::Agent,
        Resource::Event,
        Resource::Intention,
        Resource::Key,
        Resource::Keyring,
        Resource::Mesh,
        Resource::Node,
        Resource::Operator,
        Resource::Peering,
        Resource::Query,
        Resource::Service,
        Resource::Session,
    ];

    #[test]
    fn global_management_allows_everything_even_under_deny() {
        let rules = Rules::parse(GLOBAL_MANAGEMENT_RULES).expect("parses");
        let authz = Authorizer::new(DefaultPolicy::Deny, [&rules]);
        for resource in ALL {
            for need in [Access::Read, Access::List, Access::Write] {
                for name in ["", "web", "a/b/c"] {
                    assert!(
                        authz.allows(resource, name, need),
                        "{resource}:{need} {name}"
                    );
                }
            }
        }
        assert!(authz.key_write_prefix(""));
        assert!(authz.key_write_prefix("app/"));
    }

    #[test]
    fn global_read_only_reads_but_never_writes() {
        let rules = Rules::parse(GLOBAL_READ_ONLY_RULES).expect("parses");
        let authz = Authorizer::new(DefaultPolicy::Allow, [&rules]);
        for resource in ALL {
            assert!(authz.allows(resource, "x", Access::Read), "{resource}");
            assert!(!authz.allows(resource, "x", Access::Write), "{resource}");
        }
        assert!(!authz.allows(Resource::Key, "x", Access::List));
        assert!(!authz.key_write_prefix(""));
    }

    #[test]
    fn lookups() {
        assert_eq!(
            builtin_policy(GLOBAL_MANAGEMENT_ID).map(|p| p.name()),
            Some("global-management")
        );
        assert_eq!(builtin_policies().len(), 2);
        assert!(builtin_policy("00000000-0000-0000-0000-000000000003").is_none());
        assert!(is_reserved_id("00000000-0000-0000-0000-000000000042"));
        assert!(!is_reserved_id("10000000-0000-0000-0000-000000000001"));
        assert!(GLOBAL_MANAGEMENT_RULES.starts_with("\nacl = \"write\"\nagent_prefix"));
        assert!(GLOBAL_MANAGEMENT_RULES.ends_with("session_prefix \"\" {\n\tpolicy = \"write\"\n}"));
    }
}
