//! ACL state: tokens, policies, roles, auth methods and binding rules, replicated like the
//! rest of the catalog, and the resolution of a request's secret to what it may do ([`Authz`]).
//!
//! `tables.rs` holds the tables and their `apply`; `resolve.rs` turns a secret into an
//! authorizer; `wire.rs` answers reads in Consul's shapes (links' names resolved at read
//! time); `prepare.rs` turns Consul's request bodies into records (links by name resolved to
//! IDs, IDs generated, references checked) before they become commands; `auth.rs` does the
//! same for auth methods and binding rules and turns a login into a token, with `jwt.rs`
//! validating the bearer tokens of the `jwt` type.

mod auth;
mod cache;
mod jwt;
mod prepare;
mod resolve;
mod tables;
mod wire;

pub use auth::{AuthMethodRecord, BindingRuleRecord};
pub use cache::AuthzCache;
pub use resolve::Identity;
pub use tables::AclTables;

use super::state::State;
use acl::{Access, Authorizer, DefaultPolicy, PermissionDenied, Resource, Rules};
use api_types::acl::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The anonymous token's accessor (requests without a token act as it).
pub const ANONYMOUS_ID: &str = "00000000-0000-0000-0000-000000000002";
/// The anonymous token's secret.
pub const ANONYMOUS_SECRET: &str = "anonymous";
/// The built-in `global-management` policy's ID.
pub const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";
const RESERVED_PREFIX: &str = "00000000-0000-0000-0000-0000000000";

/// A stored token; links are kept by ID (names are resolved when read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TokenRecord {
    pub accessor_id: String,
    pub secret_id: String,
    pub description: String,
    pub policies: Vec<String>,
    pub roles: Vec<String>,
    pub service_identities: Vec<ServiceIdentity>,
    pub node_identities: Vec<NodeIdentity>,
    pub templated_policies: Vec<TemplatedPolicyRef>,
    pub local: bool,
    /// Milliseconds since the epoch after which the token no longer resolves.
    pub expiration_ms: Option<u64>,
    pub create_ms: u64,
    pub create_index: u64,
    pub modify_index: u64,
    /// The auth method whose login created the token (`""`: none).
    #[serde(default)]
    pub auth_method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PolicyRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rules: String,
    pub datacenters: Vec<String>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RoleRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub policies: Vec<String>,
    pub service_identities: Vec<ServiceIdentity>,
    pub node_identities: Vec<NodeIdentity>,
    pub templated_policies: Vec<TemplatedPolicyRef>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Why an ACL request was refused; `Display` is Consul's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclRefusal {
    /// 403.
    #[error("ACL not found")]
    NotFound,
    /// 403.
    #[error("{0}")]
    Denied(String),
    /// 400: the request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 500: Consul's RPC errors.
    #[error("{0}")]
    Invalid(String),
}

impl From<PermissionDenied> for AclRefusal {
    fn from(e: PermissionDenied) -> Self {
        AclRefusal::Denied(e.to_string())
    }
}

/// What a request may do: the resolved token's authorizer and who it is (for denial texts).
#[derive(Debug, Clone)]
pub struct Authz {
    authorizer: Arc<Authorizer>,
    accessor_id: String,
    /// When the token expires (its rights end then, whatever the tables say).
    expires_ms: Option<u64>,
}

impl Authz {
    /// Everything allowed (ACLs disabled).
    pub fn manage_all() -> Authz {
        // One shared authorizer: with ACLs off every request takes this path.
        static ALL: std::sync::OnceLock<Arc<Authorizer>> = std::sync::OnceLock::new();
        Authz {
            authorizer: ALL
                .get_or_init(|| Arc::new(Authorizer::manage_all()))
                .clone(),
            accessor_id: String::new(),
            expires_ms: None,
        }
    }

    /// Nothing allowed (a token deleted while its request was parked).
    pub fn deny_all(accessor_id: &str) -> Authz {
        Authz {
            authorizer: Arc::new(Authorizer::new(DefaultPolicy::Deny, std::iter::empty())),
            accessor_id: accessor_id.to_string(),
            expires_ms: None,
        }
    }

    /// The agent recovery token: `agent:write` on this agent, reads of nodes.
    pub fn recovery(node: &str) -> Authz {
        let text = format!(
            "agent {node:?} {{\n  policy = \"write\"\n}}\nnode_prefix \"\" {{\n  policy = \"read\"\n}}\n"
        );
        let rules = Rules::parse(&text).ok();
        Authz {
            authorizer: Arc::new(Authorizer::new(DefaultPolicy::Deny, rules.as_ref())),
            accessor_id: "agent-recovery-token".to_string(),
            expires_ms: None,
        }
    }

    /// What a client agent grants while no server can resolve a token (Consul's
    /// `down_policy`): `allow` and `deny` as their default policy alone, `extend-cache` and
    /// `async-cache` without a cached answer the agent's default policy alone (Consul's root
    /// authorizer: ACL management stays closed even under `allow`). Refusals name the
    /// accessor `primary-dc-down`, as Consul's do.
    pub fn servers_down(grant: DefaultPolicy) -> Authz {
        Authz {
            authorizer: Arc::new(Authorizer::new(grant, std::iter::empty())),
            accessor_id: "primary-dc-down".to_string(),
            expires_ms: None,
        }
    }

    pub fn accessor_id(&self) -> &str {
        &self.accessor_id
    }

    /// Whether the token's rights have ended at `now_ms` (it expired).
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|e| e <= now_ms)
    }

    pub fn allows(&self, r: Resource, name: &str, need: Access) -> bool {
        self.authorizer.allows(r, name, need)
    }

    /// `Ok` when allowed, else Consul's `Permission denied` text naming the token and the
    /// permission it lacks.
    pub fn require(&self, r: Resource, name: &str, need: Access) -> Result<(), AclRefusal> {
        Ok(self.authorizer.check(&self.accessor_id, r, name, need)?)
    }

    /// Write on every key under `prefix` (recursive deletes).
    pub fn require_key_write_prefix(&self, prefix: &str) -> Result<(), AclRefusal> {
        Ok(self
            .authorizer
            .check_key_write_prefix(&self.accessor_id, prefix)?)
    }

    /// Whether this token may see secrets (`acl:write`).
    pub fn sees_secrets(&self) -> bool {
        self.allows(Resource::Acl, "", Access::Write)
    }
}

/// How a server resolves tokens: the configured default policy and the management secret
/// from `acl.tokens.initial_management` (valid before the leader has stored it).
#[derive(Debug, Clone)]
pub struct AclPolicyConfig {
    pub default_policy: DefaultPolicy,
    pub initial_management: Option<String>,
    /// This agent's datacenter: policies and identities restricted to others do not apply.
    pub datacenter: String,
}

/// The records of the built-ins every ACL-enabled cluster holds: the `global-management`
/// policy and the anonymous token (and, when configured, the initial management token).
pub fn builtins(now_ms: u64, initial_management: Option<&str>) -> AclCommand {
    let management = PolicyRecord {
        id: GLOBAL_MANAGEMENT_ID.to_string(),
        name: "global-management".to_string(),
        description: "Builtin Policy that grants unlimited access".to_string(),
        rules: acl::builtin::GLOBAL_MANAGEMENT_RULES.to_string(),
        ..Default::default()
    };
    let read_only = PolicyRecord {
        id: acl::builtin::GLOBAL_READ_ONLY_ID.to_string(),
        name: acl::builtin::GLOBAL_READ_ONLY_NAME.to_string(),
        description: acl::builtin::GLOBAL_READ_ONLY_DESCRIPTION.to_string(),
        rules: acl::builtin::GLOBAL_READ_ONLY_RULES.to_string(),
        ..Default::default()
    };
    let anonymous = TokenRecord {
        accessor_id: ANONYMOUS_ID.to_string(),
        secret_id: ANONYMOUS_SECRET.to_string(),
        description: "Anonymous Token".to_string(),
        create_ms: now_ms,
        ..Default::default()
    };
    let initial = initial_management.map(|secret| TokenRecord {
        accessor_id: uuid::Uuid::new_v4().to_string(),
        secret_id: secret.to_string(),
        description: "Initial Management Token".to_string(),
        policies: vec![GLOBAL_MANAGEMENT_ID.to_string()],
        create_ms: now_ms,
        ..Default::default()
    });
    AclCommand::Init {
        policies: vec![management, read_only],
        anonymous,
        initial,
    }
}

/// A bootstrap token: global management with fresh IDs.
pub fn bootstrap_token(now_ms: u64) -> TokenRecord {
    TokenRecord {
        accessor_id: uuid::Uuid::new_v4().to_string(),
        secret_id: uuid::Uuid::new_v4().to_string(),
        description: "Bootstrap Token (Global Management)".to_string(),
        policies: vec![GLOBAL_MANAGEMENT_ID.to_string()],
        create_ms: now_ms,
        ..Default::default()
    }
}

/// The ACL writes (one variant of `Command`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum AclCommand {
    /// Store the built-ins when missing (the leader, when ACLs are enabled).
    Init {
        /// `global-management` and `builtin/global-read-only`.
        policies: Vec<PolicyRecord>,
        anonymous: TokenRecord,
        initial: Option<TokenRecord>,
    },
    /// `/v1/acl/bootstrap`: once, or again when the reset index names the bootstrap.
    Bootstrap {
        token: TokenRecord,
        reset_index: Option<u64>,
    },
    TokenSet {
        token: TokenRecord,
        create: bool,
    },
    TokenDelete {
        accessor_id: String,
    },
    PolicySet {
        policy: PolicyRecord,
    },
    PolicyDelete {
        id: String,
    },
    RoleSet {
        role: RoleRecord,
    },
    RoleDelete {
        id: String,
    },
    AuthMethodSet {
        method: AuthMethodRecord,
    },
    /// Deletes the method, its binding rules and the tokens its logins created.
    AuthMethodDelete {
        name: String,
    },
    BindingRuleSet {
        rule: BindingRuleRecord,
    },
    BindingRuleDelete {
        id: String,
    },
}

impl State {
    /// The ACL tables.
    pub fn acl(&self) -> &AclTables {
        &self.acl
    }
}

/// Compares two secrets in a time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
