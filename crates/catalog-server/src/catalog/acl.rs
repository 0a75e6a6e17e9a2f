//! ACL state: tokens, policies and roles, replicated like the rest of the catalog, and the
//! resolution of a request's secret to what it may do ([`Authz`]).
//!
//! Writes are prepared here from Consul's request shapes (links by name resolved to IDs,
//! IDs generated, references checked) and applied by `State::apply` like every command; reads
//! answer in Consul's shapes with links' names resolved at read time.

use super::state::{CatalogError, State, Touched, WatchKey};
use acl::{Access, Authorizer, DefaultPolicy, PermissionDenied, Resource, Rules};
use api_types::acl::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
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

/// Parsed rules by policy ID: derived from the stored rules texts, never persisted.
#[derive(Debug, Clone, Default)]
struct ParsedRules(HashMap<String, Arc<Rules>>);

impl PartialEq for ParsedRules {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The ACL tables of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AclTables {
    tokens: BTreeMap<String, TokenRecord>,
    policies: BTreeMap<String, PolicyRecord>,
    roles: BTreeMap<String, RoleRecord>,
    /// The index of the bootstrap (0: not bootstrapped yet).
    bootstrap_index: u64,
    /// The index of the last ACL change.
    index: u64,
    #[serde(skip)]
    by_secret: HashMap<String, String>,
    #[serde(skip)]
    parsed: ParsedRules,
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
    /// 404.
    #[error("{0}")]
    Missing(String),
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
}

impl Authz {
    /// Everything allowed (ACLs disabled).
    pub fn manage_all() -> Authz {
        Authz {
            authorizer: Arc::new(Authorizer::manage_all()),
            accessor_id: String::new(),
        }
    }

    /// Nothing allowed (a token deleted while its request was parked).
    pub fn deny_all(accessor_id: &str) -> Authz {
        Authz {
            authorizer: Arc::new(Authorizer::new(DefaultPolicy::Deny, std::iter::empty())),
            accessor_id: accessor_id.to_string(),
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
        }
    }

    pub fn accessor_id(&self) -> &str {
        &self.accessor_id
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
}

fn fmt_time(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn hash_of(parts: &[&str]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    base64::engine::general_purpose::STANDARD.encode(&h.finalize()[..16])
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// Names of policies, roles and service identities: Consul's `^[A-Za-z0-9\-_]{1,128}$`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AclTables {
    /// Rebuilds the derived maps after a snapshot was loaded.
    pub(super) fn reindex(&mut self) {
        self.by_secret = self
            .tokens
            .values()
            .map(|t| (t.secret_id.clone(), t.accessor_id.clone()))
            .collect();
        self.parsed.0 = self
            .policies
            .values()
            .filter_map(|p| Some((p.id.clone(), Arc::new(Rules::parse(&p.rules).ok()?))))
            .collect();
    }

    /// A snapshot restore replaced the tables at `index`.
    pub(super) fn restored_at(&mut self, index: u64) {
        self.index = index;
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn bootstrap_index(&self) -> u64 {
        self.bootstrap_index
    }

    /// Whether the built-ins (or the initial management token `initial`) are missing.
    pub fn needs_init(&self, initial: Option<&str>) -> bool {
        !self.policies.contains_key(GLOBAL_MANAGEMENT_ID)
            || !self.tokens.contains_key(ANONYMOUS_ID)
            || initial.is_some_and(|s| !self.by_secret.contains_key(s))
    }

    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrap_index != 0
    }

    fn touch(&mut self, index: u64, t: &mut Touched) {
        self.index = index;
        t.push(WatchKey::Acl);
    }

    fn put_token(&mut self, index: u64, mut tok: TokenRecord, t: &mut Touched) {
        if let Some(old) = self.tokens.get(&tok.accessor_id) {
            tok.create_index = old.create_index;
            self.by_secret.remove(&old.secret_id.clone());
        } else {
            tok.create_index = index;
        }
        tok.modify_index = index;
        self.by_secret
            .insert(tok.secret_id.clone(), tok.accessor_id.clone());
        self.tokens.insert(tok.accessor_id.clone(), tok);
        self.touch(index, t);
    }

    fn put_policy(&mut self, index: u64, mut p: PolicyRecord, t: &mut Touched) {
        p.create_index = self
            .policies
            .get(&p.id)
            .map_or(index, |old| old.create_index);
        p.modify_index = index;
        match Rules::parse(&p.rules) {
            Ok(r) => {
                self.parsed.0.insert(p.id.clone(), Arc::new(r));
            }
            Err(_) => {
                self.parsed.0.remove(&p.id);
            }
        }
        self.policies.insert(p.id.clone(), p);
        self.touch(index, t);
    }

    /// Applies an ACL command (called by `State::apply`).
    pub(super) fn apply(
        &mut self,
        index: u64,
        cmd: &AclCommand,
        t: &mut Touched,
    ) -> Result<(), CatalogError> {
        match cmd {
            AclCommand::Init {
                management,
                anonymous,
                initial,
            } => {
                if !self.policies.contains_key(&management.id) {
                    self.put_policy(index, management.clone(), t);
                }
                if !self.tokens.contains_key(&anonymous.accessor_id) {
                    self.put_token(index, anonymous.clone(), t);
                }
                if let Some(tok) = initial {
                    if !self.by_secret.contains_key(&tok.secret_id)
                        && !self.tokens.contains_key(&tok.accessor_id)
                    {
                        self.put_token(index, tok.clone(), t);
                    }
                    if self.bootstrap_index == 0 {
                        self.bootstrap_index = index;
                    }
                }
                Ok(())
            }
            AclCommand::Bootstrap { token, reset_index } => {
                if self.bootstrap_index != 0 && *reset_index != Some(self.bootstrap_index) {
                    return Err(CatalogError::AclBootstrapDone(self.bootstrap_index));
                }
                self.bootstrap_index = index;
                self.put_token(index, token.clone(), t);
                Ok(())
            }
            AclCommand::TokenSet { token, create } => {
                if *create && self.tokens.contains_key(&token.accessor_id) {
                    return Err(CatalogError::AclInvalid(
                        "Invalid Token: AccessorID is already in use".into(),
                    ));
                }
                if !*create && !self.tokens.contains_key(&token.accessor_id) {
                    return Err(CatalogError::AclInvalid(format!(
                        "Cannot find token {:?}",
                        token.accessor_id
                    )));
                }
                if let Some(owner) = self.by_secret.get(&token.secret_id) {
                    if owner != &token.accessor_id {
                        return Err(CatalogError::AclInvalid(
                            "Invalid Token: SecretID is already in use".into(),
                        ));
                    }
                }
                self.put_token(index, token.clone(), t);
                Ok(())
            }
            AclCommand::TokenDelete { accessor_id } => {
                if let Some(old) = self.tokens.remove(accessor_id) {
                    self.by_secret.remove(&old.secret_id);
                    self.touch(index, t);
                }
                Ok(())
            }
            AclCommand::PolicySet { policy } => {
                if let Some(other) = self
                    .policies
                    .values()
                    .find(|p| p.name == policy.name && p.id != policy.id)
                {
                    return Err(CatalogError::AclInvalid(format!(
                        "Invalid Policy: A Policy with Name {:?} already exists",
                        other.name
                    )));
                }
                self.put_policy(index, policy.clone(), t);
                Ok(())
            }
            AclCommand::PolicyDelete { id } => {
                if self.policies.remove(id).is_some() {
                    self.parsed.0.remove(id);
                    self.touch(index, t);
                }
                Ok(())
            }
            AclCommand::RoleSet { role } => {
                if let Some(other) = self
                    .roles
                    .values()
                    .find(|r| r.name == role.name && r.id != role.id)
                {
                    return Err(CatalogError::AclInvalid(format!(
                        "Invalid Role: A Role with Name {:?} already exists",
                        other.name
                    )));
                }
                let mut r = role.clone();
                r.create_index = self.roles.get(&r.id).map_or(index, |o| o.create_index);
                r.modify_index = index;
                self.roles.insert(r.id.clone(), r);
                self.touch(index, t);
                Ok(())
            }
            AclCommand::RoleDelete { id } => {
                if self.roles.remove(id).is_some() {
                    self.touch(index, t);
                }
                Ok(())
            }
        }
    }

    // ---- resolution ----

    fn live_token(&self, secret: &str, now_ms: u64) -> Option<&TokenRecord> {
        let accessor = self.by_secret.get(secret)?;
        let tok = self.tokens.get(accessor)?;
        match tok.expiration_ms {
            Some(exp) if exp <= now_ms => None,
            _ => Some(tok),
        }
    }

    fn identity_rules(
        services: &[ServiceIdentity],
        nodes: &[NodeIdentity],
        templated: &[TemplatedPolicyRef],
        out: &mut Vec<Arc<Rules>>,
    ) {
        let texts = services
            .iter()
            .map(|s| acl::identity::service_identity_rules(&s.service_name))
            .chain(
                nodes
                    .iter()
                    .map(|n| acl::identity::node_identity_rules(&n.node_name)),
            )
            .chain(templated.iter().filter_map(|tp| {
                let name = tp
                    .template_variables
                    .as_ref()
                    .map_or("", |v| v.name.as_str());
                acl::templated::rules(&tp.template_name, name)
            }));
        for text in texts {
            if let Ok(r) = Rules::parse(&text) {
                out.push(Arc::new(r));
            }
        }
    }

    fn token_rules(&self, tok: &TokenRecord) -> Vec<Arc<Rules>> {
        let mut out = Vec::new();
        let mut policy_ids: Vec<&String> = tok.policies.iter().collect();
        for rid in &tok.roles {
            if let Some(role) = self.roles.get(rid) {
                policy_ids.extend(role.policies.iter());
                Self::identity_rules(
                    &role.service_identities,
                    &role.node_identities,
                    &role.templated_policies,
                    &mut out,
                );
            }
        }
        for id in policy_ids {
            if let Some(r) = self.parsed.0.get(id) {
                out.push(r.clone());
            }
        }
        Self::identity_rules(
            &tok.service_identities,
            &tok.node_identities,
            &tok.templated_policies,
            &mut out,
        );
        out
    }

    /// What the holder of `secret` may do (`""`: the anonymous token).
    pub fn authorize(
        &self,
        secret: &str,
        now_ms: u64,
        config: &AclPolicyConfig,
    ) -> Result<Authz, AclRefusal> {
        let secret = if secret.is_empty() {
            ANONYMOUS_SECRET
        } else {
            secret
        };
        if config
            .initial_management
            .as_deref()
            .is_some_and(|m| same_secret(m, secret))
            && self.live_token(secret, now_ms).is_none()
        {
            return Ok(Authz {
                authorizer: Arc::new(Authorizer::manage_all()),
                accessor_id: String::new(),
            });
        }
        let tok = match self.live_token(secret, now_ms) {
            Some(t) => t,
            None if secret == ANONYMOUS_SECRET => {
                return Ok(Authz {
                    authorizer: Arc::new(Authorizer::new(
                        config.default_policy,
                        std::iter::empty(),
                    )),
                    accessor_id: ANONYMOUS_ID.to_string(),
                })
            }
            None if !self.is_bootstrapped() => {
                return Err(AclRefusal::Denied(
                    "ACL system must be bootstrapped before making any requests that require authorization: ACL not found".into(),
                ))
            }
            None => return Err(AclRefusal::NotFound),
        };
        let rules = self.token_rules(tok);
        Ok(Authz {
            authorizer: Arc::new(Authorizer::new(
                config.default_policy,
                rules.iter().map(|r| r.as_ref()),
            )),
            accessor_id: tok.accessor_id.clone(),
        })
    }

    /// The accessor of a live token with this secret.
    pub fn accessor_of(&self, secret: &str, now_ms: u64) -> Option<&str> {
        self.live_token(secret, now_ms)
            .map(|t| t.accessor_id.as_str())
    }

    // ---- reads in Consul's shapes ----

    fn policy_links(&self, ids: &[String]) -> Vec<AclLink> {
        ids.iter()
            .filter_map(|id| {
                let p = self.policies.get(id)?;
                Some(AclLink {
                    id: p.id.clone(),
                    name: p.name.clone(),
                })
            })
            .collect()
    }

    fn role_links(&self, ids: &[String]) -> Vec<AclLink> {
        ids.iter()
            .filter_map(|id| {
                let r = self.roles.get(id)?;
                Some(AclLink {
                    id: r.id.clone(),
                    name: r.name.clone(),
                })
            })
            .collect()
    }

    fn token_wire(&self, t: &TokenRecord, show_secret: bool) -> AclToken {
        let policies = self.policy_links(&t.policies);
        let roles = self.role_links(&t.roles);
        let hash = hash_of(&[
            &t.description,
            &t.policies.join(","),
            &t.roles.join(","),
            &serde_json::to_string(&t.service_identities).unwrap_or_default(),
            &serde_json::to_string(&t.node_identities).unwrap_or_default(),
            &serde_json::to_string(&t.templated_policies).unwrap_or_default(),
            if t.local { "local" } else { "global" },
        ]);
        AclToken {
            accessor_id: t.accessor_id.clone(),
            secret_id: if show_secret {
                t.secret_id.clone()
            } else {
                "<hidden>".to_string()
            },
            description: t.description.clone(),
            policies,
            roles,
            service_identities: t.service_identities.clone(),
            node_identities: t.node_identities.clone(),
            templated_policies: t.templated_policies.clone(),
            local: t.local,
            auth_method: String::new(),
            expiration_time: t.expiration_ms.map(fmt_time),
            expiration_ttl: String::new(),
            create_time: fmt_time(t.create_ms),
            hash,
            create_index: t.create_index,
            modify_index: t.modify_index,
        }
    }

    pub fn token(&self, accessor_id: &str, show_secret: bool) -> Option<AclToken> {
        self.tokens
            .get(accessor_id)
            .map(|t| self.token_wire(t, show_secret))
    }

    pub fn token_by_secret(&self, secret: &str, now_ms: u64) -> Option<AclToken> {
        self.live_token(secret, now_ms)
            .map(|t| self.token_wire(t, true))
    }

    /// `/v1/acl/tokens` with its `policy`, `role` and `servicename` filters; expired tokens
    /// are left out.
    pub fn tokens(
        &self,
        now_ms: u64,
        show_secrets: bool,
        policy: Option<&str>,
        role: Option<&str>,
        service: Option<&str>,
    ) -> Vec<AclToken> {
        self.tokens
            .values()
            .filter(|t| t.expiration_ms.is_none_or(|e| e > now_ms))
            .filter(|t| policy.is_none_or(|p| t.policies.iter().any(|x| x == p)))
            .filter(|t| role.is_none_or(|r| t.roles.iter().any(|x| x == r)))
            .filter(|t| {
                service.is_none_or(|s| t.service_identities.iter().any(|x| x.service_name == s))
            })
            .map(|t| self.token_wire(t, show_secrets))
            .collect()
    }

    fn policy_wire(p: &PolicyRecord) -> AclPolicy {
        AclPolicy {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            rules: p.rules.clone(),
            datacenters: p.datacenters.clone(),
            hash: hash_of(&[&p.name, &p.description, &p.rules, &p.datacenters.join(",")]),
            create_index: p.create_index,
            modify_index: p.modify_index,
        }
    }

    pub fn policy(&self, id: &str) -> Option<AclPolicy> {
        self.policies.get(id).map(Self::policy_wire)
    }

    pub fn policy_by_name(&self, name: &str) -> Option<AclPolicy> {
        self.policies
            .values()
            .find(|p| p.name == name)
            .map(Self::policy_wire)
    }

    pub fn policies(&self) -> Vec<AclPolicyStub> {
        let mut out: Vec<AclPolicyStub> = self
            .policies
            .values()
            .map(|p| {
                let w = Self::policy_wire(p);
                AclPolicyStub {
                    id: w.id,
                    name: w.name,
                    description: w.description,
                    datacenters: (!w.datacenters.is_empty()).then_some(w.datacenters),
                    hash: w.hash,
                    create_index: w.create_index,
                    modify_index: w.modify_index,
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    fn role_wire(&self, r: &RoleRecord) -> AclRole {
        AclRole {
            id: r.id.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            policies: self.policy_links(&r.policies),
            service_identities: r.service_identities.clone(),
            node_identities: r.node_identities.clone(),
            templated_policies: r.templated_policies.clone(),
            hash: hash_of(&[&r.name, &r.description, &r.policies.join(",")]),
            create_index: r.create_index,
            modify_index: r.modify_index,
        }
    }

    pub fn role(&self, id: &str) -> Option<AclRole> {
        self.roles.get(id).map(|r| self.role_wire(r))
    }

    pub fn role_by_name(&self, name: &str) -> Option<AclRole> {
        self.roles
            .values()
            .find(|r| r.name == name)
            .map(|r| self.role_wire(r))
    }

    pub fn roles(&self, policy: Option<&str>) -> Vec<AclRole> {
        self.roles
            .values()
            .filter(|r| policy.is_none_or(|p| r.policies.iter().any(|x| x == p)))
            .map(|r| self.role_wire(r))
            .collect()
    }

    pub fn has_token(&self, accessor_id: &str) -> bool {
        self.tokens.contains_key(accessor_id)
    }

    pub fn token_record(&self, accessor_id: &str) -> Option<&TokenRecord> {
        self.tokens.get(accessor_id)
    }

    // ---- preparing writes ----

    fn resolve_links(
        &self,
        links: &[AclLink],
        what: &str,
        by_id: impl Fn(&str) -> bool,
        by_name: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, AclRefusal> {
        let mut out: Vec<String> = Vec::new();
        for l in links {
            let id = if !l.id.is_empty() {
                if !by_id(&l.id) {
                    return Err(AclRefusal::Invalid(format!(
                        "cannot find {what} {:?}",
                        l.id
                    )));
                }
                l.id.clone()
            } else if !l.name.is_empty() {
                by_name(&l.name).ok_or_else(|| {
                    AclRefusal::Invalid(format!("cannot find {what} {:?}", l.name))
                })?
            } else {
                return Err(AclRefusal::Invalid(format!(
                    "{what} link is missing an ID or Name"
                )));
            };
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn check_identities(
        services: &[ServiceIdentity],
        nodes: &[NodeIdentity],
        templated: &[TemplatedPolicyRef],
        owner: &str,
    ) -> Result<(), AclRefusal> {
        for s in services {
            if s.service_name.is_empty() {
                return Err(AclRefusal::Invalid(format!(
                    "Service identity is missing the service name field on this {owner}"
                )));
            }
            if !valid_name(&s.service_name) {
                return Err(AclRefusal::Invalid(format!(
                    "Service identity {:?} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
                    s.service_name
                )));
            }
        }
        for n in nodes {
            if n.node_name.is_empty() {
                return Err(AclRefusal::Invalid(format!(
                    "Node identity is missing the node name field on this {owner}"
                )));
            }
            if n.datacenter.is_empty() {
                return Err(AclRefusal::Invalid(format!(
                    "Node identity is missing the datacenter field on this {owner}"
                )));
            }
        }
        for tp in templated {
            let name = tp
                .template_variables
                .as_ref()
                .map_or("", |v| v.name.as_str());
            if acl::templated::rules(&tp.template_name, name).is_none() {
                return Err(AclRefusal::Invalid(format!(
                    "templated policy {:?} does not exist or its variables are invalid",
                    tp.template_name
                )));
            }
        }
        Ok(())
    }

    /// A token create (`existing` None) or update from its request body.
    pub fn prepare_token(
        &self,
        req: &AclToken,
        existing: Option<&str>,
        now_ms: u64,
        mut new_uuid: impl FnMut() -> String,
    ) -> Result<TokenRecord, AclRefusal> {
        let old = match existing {
            Some(id) => {
                if !req.accessor_id.is_empty() && req.accessor_id != id {
                    return Err(AclRefusal::BadRequest(
                        "Token Accessor ID in URL and payload do not match".into(),
                    ));
                }
                Some(
                    self.tokens
                        .get(id)
                        .ok_or_else(|| AclRefusal::Invalid(format!("Cannot find token {id:?}")))?,
                )
            }
            None => None,
        };
        let accessor_id = match (&old, req.accessor_id.as_str()) {
            (Some(o), _) => o.accessor_id.clone(),
            (None, "") => new_uuid(),
            (None, id) => {
                if !is_uuid(id) {
                    return Err(AclRefusal::Invalid(
                        "Invalid Token: AccessorID is not a valid UUID".into(),
                    ));
                }
                if id.starts_with(RESERVED_PREFIX) {
                    return Err(AclRefusal::Invalid(
                        "Invalid Token: UUIDs with the prefix \"00000000-0000-0000-0000-0000000000\" are reserved".into(),
                    ));
                }
                if self.tokens.contains_key(id) {
                    return Err(AclRefusal::Invalid(
                        "Invalid Token: AccessorID is already in use".into(),
                    ));
                }
                id.to_string()
            }
        };
        let secret_id = match (&old, req.secret_id.as_str()) {
            (Some(o), "") => o.secret_id.clone(),
            (Some(o), s) if s == o.secret_id => s.to_string(),
            (Some(_), _) => {
                return Err(AclRefusal::Invalid(
                    "Changing a token's SecretID is not permitted".into(),
                ))
            }
            (None, "") => new_uuid(),
            (None, s) => {
                if s.starts_with(RESERVED_PREFIX) {
                    return Err(AclRefusal::Invalid(
                        "Invalid Token: UUIDs with the prefix \"00000000-0000-0000-0000-0000000000\" are reserved".into(),
                    ));
                }
                if self.by_secret.contains_key(s) {
                    return Err(AclRefusal::Invalid(
                        "Invalid Token: SecretID is already in use".into(),
                    ));
                }
                s.to_string()
            }
        };
        let policies = self.resolve_links(
            &req.policies,
            "policy",
            |id| self.policies.contains_key(id),
            |n| {
                self.policies
                    .values()
                    .find(|p| p.name == n)
                    .map(|p| p.id.clone())
            },
        )?;
        let roles = self.resolve_links(
            &req.roles,
            "role",
            |id| self.roles.contains_key(id),
            |n| {
                self.roles
                    .values()
                    .find(|r| r.name == n)
                    .map(|r| r.id.clone())
            },
        )?;
        Self::check_identities(
            &req.service_identities,
            &req.node_identities,
            &req.templated_policies,
            "token",
        )?;
        let expiration_ms = match (&old, req.expiration_ttl.as_str()) {
            (Some(o), _) => o.expiration_ms,
            (None, "") => match &req.expiration_time {
                None => None,
                Some(t) => Some(parse_time_ms(t).ok_or_else(|| {
                    AclRefusal::BadRequest(format!("Invalid ExpirationTime {t:?}"))
                })?),
            },
            (None, ttl) => {
                let ns = api_types::parse_go_duration(ttl)
                    .map_err(|e| AclRefusal::BadRequest(format!("Request decode failed: {e}")))?;
                if !(60_000_000_000..=86_400_000_000_000).contains(&ns) {
                    return Err(AclRefusal::Invalid(format!(
                        "Token Expiration TTL '{ttl}' should be between 1m0s and 24h0m0s"
                    )));
                }
                Some(now_ms + (ns / 1_000_000) as u64)
            }
        };
        if let (None, Some(exp)) = (&old, expiration_ms) {
            if exp <= now_ms {
                return Err(AclRefusal::Invalid(
                    "ExpirationTime cannot be in the past".into(),
                ));
            }
        }
        let mut templated = req.templated_policies.clone();
        for tp in &mut templated {
            if let Some(v) = &tp.template_variables {
                if v.name.is_empty() {
                    tp.template_variables = None;
                }
            }
        }
        Ok(TokenRecord {
            accessor_id,
            secret_id,
            description: req.description.clone(),
            policies,
            roles,
            service_identities: req.service_identities.clone(),
            node_identities: req.node_identities.clone(),
            templated_policies: templated,
            local: old.map_or(req.local, |o| o.local),
            expiration_ms,
            create_ms: old.map_or(now_ms, |o| o.create_ms),
            create_index: 0,
            modify_index: 0,
        })
    }

    /// A copy of token `accessor_id` with new IDs and, when given, a new description.
    pub fn prepare_clone(
        &self,
        accessor_id: &str,
        description: &str,
        now_ms: u64,
        mut new_uuid: impl FnMut() -> String,
    ) -> Result<TokenRecord, AclRefusal> {
        let old = self.tokens.get(accessor_id).ok_or(AclRefusal::NotFound)?;
        Ok(TokenRecord {
            accessor_id: new_uuid(),
            secret_id: new_uuid(),
            description: if description.is_empty() {
                old.description.clone()
            } else {
                description.to_string()
            },
            create_ms: now_ms,
            create_index: 0,
            modify_index: 0,
            ..old.clone()
        })
    }

    /// A policy create (`existing` None) or update from its request body.
    pub fn prepare_policy(
        &self,
        req: &AclPolicy,
        existing: Option<&str>,
        new_uuid: impl FnOnce() -> String,
    ) -> Result<PolicyRecord, AclRefusal> {
        let id = match existing {
            Some(id) => {
                if !req.id.is_empty() && req.id != id {
                    return Err(AclRefusal::BadRequest(
                        "Policy ID in URL and payload do not match".into(),
                    ));
                }
                if !self.policies.contains_key(id) {
                    return Err(AclRefusal::Invalid(format!("cannot find policy {id:?}")));
                }
                id.to_string()
            }
            None => new_uuid(),
        };
        if req.name.is_empty() {
            return Err(AclRefusal::Invalid("Invalid Policy: no Name is set".into()));
        }
        if !valid_name(&req.name) {
            return Err(AclRefusal::Invalid(
                "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed".into(),
            ));
        }
        if id == GLOBAL_MANAGEMENT_ID {
            let old = &self.policies[GLOBAL_MANAGEMENT_ID];
            if req.rules != old.rules {
                return Err(AclRefusal::Invalid(
                    "Changing the Rules for the builtin global-management policy is not permitted"
                        .into(),
                ));
            }
        }
        if let Some(other) = self
            .policies
            .values()
            .find(|p| p.name == req.name && p.id != id)
        {
            return Err(AclRefusal::Invalid(format!(
                "Invalid Policy: A Policy with Name {:?} already exists",
                other.name
            )));
        }
        Rules::parse(&req.rules)
            .map_err(|e| AclRefusal::Invalid(format!("Invalid Policy: {e}")))?;
        Ok(PolicyRecord {
            id,
            name: req.name.clone(),
            description: req.description.clone(),
            rules: req.rules.clone(),
            datacenters: req.datacenters.clone(),
            create_index: 0,
            modify_index: 0,
        })
    }

    /// A role create (`existing` None) or update from its request body.
    pub fn prepare_role(
        &self,
        req: &AclRole,
        existing: Option<&str>,
        new_uuid: impl FnOnce() -> String,
    ) -> Result<RoleRecord, AclRefusal> {
        let id = match existing {
            Some(id) => {
                if !req.id.is_empty() && req.id != id {
                    return Err(AclRefusal::BadRequest(
                        "Role ID in URL and payload do not match".into(),
                    ));
                }
                if !self.roles.contains_key(id) {
                    return Err(AclRefusal::Invalid(format!("cannot find role {id:?}")));
                }
                id.to_string()
            }
            None => new_uuid(),
        };
        if req.name.is_empty() {
            return Err(AclRefusal::Invalid("Invalid Role: no Name is set".into()));
        }
        if !valid_name(&req.name) {
            return Err(AclRefusal::Invalid(
                "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
                    .into(),
            ));
        }
        if let Some(other) = self
            .roles
            .values()
            .find(|r| r.name == req.name && r.id != id)
        {
            return Err(AclRefusal::Invalid(format!(
                "Invalid Role: A Role with Name {:?} already exists",
                other.name
            )));
        }
        let policies = self.resolve_links(
            &req.policies,
            "policy",
            |id| self.policies.contains_key(id),
            |n| {
                self.policies
                    .values()
                    .find(|p| p.name == n)
                    .map(|p| p.id.clone())
            },
        )?;
        Self::check_identities(
            &req.service_identities,
            &req.node_identities,
            &req.templated_policies,
            "role",
        )?;
        Ok(RoleRecord {
            id,
            name: req.name.clone(),
            description: req.description.clone(),
            policies,
            service_identities: req.service_identities.clone(),
            node_identities: req.node_identities.clone(),
            templated_policies: req.templated_policies.clone(),
            create_index: 0,
            modify_index: 0,
        })
    }
}

fn parse_time_ms(t: &str) -> Option<u64> {
    let dt = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
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
        management,
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
        management: PolicyRecord,
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
