//! ACL reads in Consul's shapes: links' names resolved at read time, secrets shown only
//! when asked to.

use super::{AclTables, PolicyRecord, RoleRecord, TokenRecord};
use api_types::acl::*;

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

impl AclTables {
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
            auth_method: t.auth_method.clone(),
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

    /// `/v1/acl/tokens` with its `policy`, `role`, `servicename` and `authmethod` filters;
    /// expired tokens are left out.
    pub fn tokens(
        &self,
        now_ms: u64,
        show_secrets: bool,
        policy: Option<&str>,
        role: Option<&str>,
        service: Option<&str>,
        auth_method: Option<&str>,
    ) -> Vec<AclToken> {
        self.tokens
            .values()
            .filter(|t| t.expiration_ms.is_none_or(|e| e > now_ms))
            .filter(|t| auth_method.is_none_or(|m| t.auth_method == m))
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

    /// Accessors of the tokens whose expiration time has passed.
    pub fn expired(&self, now_ms: u64) -> Vec<String> {
        self.tokens
            .values()
            .filter(|t| t.expiration_ms.is_some_and(|e| e <= now_ms))
            .map(|t| t.accessor_id.clone())
            .collect()
    }
}
