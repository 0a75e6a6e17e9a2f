//! A request's secret → what it may do.

use super::{
    same_secret, AclPolicyConfig, AclRefusal, AclTables, Authz, TokenRecord, ANONYMOUS_ID,
    ANONYMOUS_SECRET,
};
use acl::{Authorizer, Rules};
use api_types::acl::{NodeIdentity, ServiceIdentity, TemplatedPolicyRef};
use std::sync::Arc;

impl AclTables {
    pub(super) fn live_token(&self, secret: &str, now_ms: u64) -> Option<&TokenRecord> {
        let accessor = self.by_secret.get(secret)?;
        let tok = self.tokens.get(accessor)?;
        match tok.expiration_ms {
            Some(exp) if exp <= now_ms => None,
            _ => Some(tok),
        }
    }

    /// The rules of identities and templated policies that apply in datacenter `dc` (one
    /// restricted to other datacenters grants nothing here, as in Consul).
    fn identity_rules(
        services: &[ServiceIdentity],
        nodes: &[NodeIdentity],
        templated: &[TemplatedPolicyRef],
        dc: &str,
        out: &mut Vec<Arc<Rules>>,
    ) {
        let texts = services
            .iter()
            .filter(|s| applies_in(&s.datacenters, dc))
            .map(|s| acl::identity::service_identity_rules(&s.service_name))
            .chain(
                nodes
                    .iter()
                    .filter(|n| n.datacenter == dc)
                    .map(|n| acl::identity::node_identity_rules(&n.node_name)),
            )
            .chain(
                templated
                    .iter()
                    .filter(|tp| applies_in(&tp.datacenters, dc))
                    .filter_map(|tp| {
                        let name = tp
                            .template_variables
                            .as_ref()
                            .map_or("", |v| v.name.as_str());
                        acl::templated::rules(&tp.template_name, name)
                    }),
            );
        for text in texts {
            if let Ok(r) = Rules::parse(&text) {
                out.push(Arc::new(r));
            }
        }
    }

    fn token_rules(&self, tok: &TokenRecord, dc: &str) -> Vec<Arc<Rules>> {
        let mut out = Vec::new();
        let mut policy_ids: Vec<&String> = tok.policies.iter().collect();
        for rid in &tok.roles {
            if let Some(role) = self.roles.get(rid) {
                policy_ids.extend(role.policies.iter());
                Self::identity_rules(
                    &role.service_identities,
                    &role.node_identities,
                    &role.templated_policies,
                    dc,
                    &mut out,
                );
            }
        }
        for id in policy_ids {
            let here = self
                .policies
                .get(id)
                .is_some_and(|p| applies_in(&p.datacenters, dc));
            if let (true, Some(r)) = (here, self.parsed.0.get(id)) {
                out.push(r.clone());
            }
        }
        Self::identity_rules(
            &tok.service_identities,
            &tok.node_identities,
            &tok.templated_policies,
            dc,
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
                expires_ms: None,
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
                    expires_ms: None,
                })
            }
            None if !self.is_bootstrapped() => {
                return Err(AclRefusal::Denied(
                    "ACL system must be bootstrapped before making any requests that require authorization: ACL not found".into(),
                ))
            }
            None => return Err(AclRefusal::NotFound),
        };
        let rules = self.token_rules(tok, &config.datacenter);
        Ok(Authz {
            authorizer: Arc::new(Authorizer::new(
                config.default_policy,
                rules.iter().map(|r| r.as_ref()),
            )),
            accessor_id: tok.accessor_id.clone(),
            expires_ms: tok.expiration_ms,
        })
    }
}

/// Whether something restricted to `datacenters` (empty: everywhere) applies in `dc`.
fn applies_in(datacenters: &[String], dc: &str) -> bool {
    datacenters.is_empty() || datacenters.iter().any(|d| d == dc)
}
