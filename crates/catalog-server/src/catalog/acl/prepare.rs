//! Consul's request bodies → records: IDs generated, links by name resolved to IDs,
//! references and identities checked, with Consul's refusal texts.

use super::{AclRefusal, AclTables, PolicyRecord, RoleRecord, TokenRecord, RESERVED_PREFIX};
use acl::Rules;
use api_types::acl::*;

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

/// The ID a policy or role write is for: the URL's (which must exist, and match the body's
/// when the body names one), or a new one for a create.
fn target_id(
    what: &str,
    in_body: &str,
    existing: Option<&str>,
    exists: impl Fn(&str) -> bool,
    new_uuid: impl FnOnce() -> String,
) -> Result<String, AclRefusal> {
    let Some(id) = existing else {
        return Ok(new_uuid());
    };
    if !in_body.is_empty() && in_body != id {
        return Err(AclRefusal::BadRequest(format!(
            "{what} ID in URL and payload do not match"
        )));
    }
    if !exists(id) {
        return Err(AclRefusal::Invalid(format!(
            "cannot find {} {id:?}",
            what.to_lowercase()
        )));
    }
    Ok(id.to_string())
}

fn parse_time_ms(t: &str) -> Option<u64> {
    let dt = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
}

impl AclTables {
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
        match (&old, req.auth_method.as_str()) {
            (_, "") => {}
            (None, _) => {
                return Err(AclRefusal::Invalid(
                    "AuthMethod field is disallowed outside of login".into(),
                ))
            }
            (Some(o), m) if m != o.auth_method => {
                return Err(AclRefusal::Invalid(format!(
                    "Cannot change AuthMethod of {}",
                    o.accessor_id
                )))
            }
            (Some(_), _) => {}
        }
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
            auth_method: old.map_or_else(String::new, |o| o.auth_method.clone()),
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
        if !old.auth_method.is_empty() {
            return Err(AclRefusal::Invalid(
                "Cannot clone a token created from an auth method".into(),
            ));
        }
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
        let id = target_id(
            "Policy",
            &req.id,
            existing,
            |id| self.policies.contains_key(id),
            new_uuid,
        )?;
        if let Some(builtin) = acl::builtin::builtin_policy(&id) {
            // Built-ins keep their name and rules (Consul allows a new description).
            if req.rules != builtin.rules() || req.name != builtin.name() {
                return Err(AclRefusal::Invalid(format!(
                    "Changing the Rules for the builtin {} policy is not permitted",
                    builtin.name()
                )));
            }
        } else if req.name.is_empty() {
            return Err(AclRefusal::Invalid("Invalid Policy: no Name is set".into()));
        } else if !valid_name(&req.name) {
            return Err(AclRefusal::Invalid(
                "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed".into(),
            ));
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
        let id = target_id(
            "Role",
            &req.id,
            existing,
            |id| self.roles.contains_key(id),
            new_uuid,
        )?;
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
