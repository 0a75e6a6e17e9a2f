//! A request's secret → what it may do.

use super::{
    same_secret, AclPolicyConfig, AclRefusal, AclTables, Authz, TokenRecord, ANONYMOUS_ID,
    ANONYMOUS_SECRET,
};
use acl::{Authorizer, Rules};
use api_types::acl::{NodeIdentity, ServiceIdentity, TemplatedPolicyRef};
use serde::{Deserialize, Serialize};
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

    /// The rule texts of identities and templated policies that apply in datacenter `dc` (one
    /// restricted to other datacenters grants nothing here, as in Consul).
    fn identity_rules(
        services: &[ServiceIdentity],
        nodes: &[NodeIdentity],
        templated: &[TemplatedPolicyRef],
        dc: &str,
        out: &mut Vec<String>,
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
        out.extend(texts);
    }

    /// The rules a token holds in datacenter `dc`, as the IDs of stored policies and the
    /// texts of its identities' and templated policies' synthetic ones.
    fn token_parts<'a>(&'a self, tok: &'a TokenRecord, dc: &str) -> (Vec<&'a String>, Vec<String>) {
        let mut texts = Vec::new();
        let mut policy_ids: Vec<&String> = tok.policies.iter().collect();
        for rid in &tok.roles {
            if let Some(role) = self.roles.get(rid) {
                policy_ids.extend(role.policies.iter());
                Self::identity_rules(
                    &role.service_identities,
                    &role.node_identities,
                    &role.templated_policies,
                    dc,
                    &mut texts,
                );
            }
        }
        Self::identity_rules(
            &tok.service_identities,
            &tok.node_identities,
            &tok.templated_policies,
            dc,
            &mut texts,
        );
        policy_ids.retain(|id| {
            self.policies
                .get(*id)
                .is_some_and(|p| applies_in(&p.datacenters, dc))
        });
        (policy_ids, texts)
    }

    fn token_rules(&self, tok: &TokenRecord, dc: &str) -> Vec<Arc<Rules>> {
        let (policy_ids, texts) = self.token_parts(tok, dc);
        let mut out: Vec<Arc<Rules>> = policy_ids
            .into_iter()
            .filter_map(|id| self.parsed.0.get(id).cloned())
            .collect();
        out.extend(
            texts
                .iter()
                .filter_map(|t| Rules::parse(t).ok())
                .map(Arc::new),
        );
        out
    }

    /// Who holds `secret` (`""`: the anonymous token) and what it may do: the initial
    /// management secret before the leader stored it, the anonymous token before the
    /// built-ins exist, else a live token.
    fn holder(
        &self,
        secret: &str,
        now_ms: u64,
        config: &AclPolicyConfig,
    ) -> Result<Holder<'_>, AclRefusal> {
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
            return Ok(Holder::Management);
        }
        match self.live_token(secret, now_ms) {
            Some(t) => Ok(Holder::Token(t)),
            None if secret == ANONYMOUS_SECRET => Ok(Holder::Anonymous),
            None if !self.is_bootstrapped() => Err(AclRefusal::Denied(
                "ACL system must be bootstrapped before making any requests that require authorization: ACL not found".into(),
            )),
            None => Err(AclRefusal::NotFound),
        }
    }

    /// What the holder of `secret` may do, in the words a server hands a client agent
    /// (which builds the authorizer under its own default policy).
    pub fn identity(
        &self,
        secret: &str,
        now_ms: u64,
        config: &AclPolicyConfig,
    ) -> Result<Identity, AclRefusal> {
        Ok(match self.holder(secret, now_ms, config)? {
            Holder::Management => Identity {
                accessor_id: String::new(),
                management: true,
                rules: Vec::new(),
                expires_ms: None,
            },
            Holder::Anonymous => Identity {
                accessor_id: ANONYMOUS_ID.to_string(),
                management: false,
                rules: Vec::new(),
                expires_ms: None,
            },
            Holder::Token(tok) => {
                let (policy_ids, mut texts) = self.token_parts(tok, &config.datacenter);
                let mut rules: Vec<String> = policy_ids
                    .into_iter()
                    .filter_map(|id| self.policies.get(id).map(|p| p.rules.clone()))
                    .collect();
                rules.append(&mut texts);
                Identity {
                    accessor_id: tok.accessor_id.clone(),
                    management: false,
                    rules,
                    expires_ms: tok.expiration_ms,
                }
            }
        })
    }

    /// What the holder of `secret` may do (`""`: the anonymous token).
    pub fn authorize(
        &self,
        secret: &str,
        now_ms: u64,
        config: &AclPolicyConfig,
    ) -> Result<Authz, AclRefusal> {
        Ok(match self.holder(secret, now_ms, config)? {
            Holder::Management => Authz {
                authorizer: Arc::new(Authorizer::manage_all()),
                accessor_id: String::new(),
                expires_ms: None,
            },
            Holder::Anonymous => Authz {
                authorizer: Arc::new(Authorizer::new(config.default_policy, std::iter::empty())),
                accessor_id: ANONYMOUS_ID.to_string(),
                expires_ms: None,
            },
            Holder::Token(tok) => {
                let rules = self.token_rules(tok, &config.datacenter);
                Authz {
                    authorizer: Arc::new(Authorizer::new(
                        config.default_policy,
                        rules.iter().map(|r| r.as_ref()),
                    )),
                    accessor_id: tok.accessor_id.clone(),
                    expires_ms: tok.expiration_ms,
                }
            }
        })
    }
}

/// Whose secret a request carries.
enum Holder<'a> {
    /// The configured initial management secret, before the leader stored its token.
    Management,
    /// The anonymous token, before the leader stored the built-ins.
    Anonymous,
    Token(&'a TokenRecord),
}

/// A resolved token as a server hands it to a client agent (`/v1/internal/acl/resolve` on
/// the server port): who it is and the rules of its policies, roles and identities that
/// apply in this datacenter. The client builds the authorizer under its own default policy,
/// as Consul's client agents compile the policies they fetch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    /// Everything allowed: the initial management secret before its token was stored.
    #[serde(rename = "Management")]
    pub management: bool,
    /// Policy texts (HCL or JSON, as written).
    #[serde(rename = "Rules")]
    pub rules: Vec<String>,
    /// Milliseconds since the epoch after which the token no longer resolves.
    #[serde(rename = "ExpirationMs")]
    pub expires_ms: Option<u64>,
}

impl Identity {
    /// The authorizer of this identity under `default` (the resolving agent's default
    /// policy). A rule text that no longer parses grants nothing.
    pub fn authz(&self, default: acl::DefaultPolicy) -> Authz {
        let authorizer = if self.management {
            Authorizer::manage_all()
        } else {
            let rules: Vec<Rules> = self
                .rules
                .iter()
                .filter_map(|t| Rules::parse(t).ok())
                .collect();
            Authorizer::new(default, rules.iter())
        };
        Authz {
            authorizer: Arc::new(authorizer),
            accessor_id: self.accessor_id.clone(),
            expires_ms: self.expires_ms,
        }
    }

    /// Whether the token has expired at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|e| e <= now_ms)
    }
}

/// Whether something restricted to `datacenters` (empty: everywhere) applies in `dc`.
fn applies_in(datacenters: &[String], dc: &str) -> bool {
    datacenters.is_empty() || datacenters.iter().any(|d| d == dc)
}

#[cfg(test)]
mod tests {
    use super::super::{bootstrap_token, builtins, AclCommand, PolicyRecord};
    use super::*;
    use crate::catalog::{Command, Request, State};
    use acl::{Access, DefaultPolicy, Resource};
    use api_types::acl::ServiceIdentity;

    fn apply(s: &mut State, index: u64, cmd: AclCommand) {
        let req = Request {
            now_ms: 1_000,
            cmd: Command::Acl(cmd),
        };
        s.apply(index, &req).0.expect("applied");
    }

    fn config(default_policy: DefaultPolicy) -> AclPolicyConfig {
        AclPolicyConfig {
            default_policy,
            initial_management: Some("initial".into()),
            datacenter: "dc1".into(),
        }
    }

    /// A bootstrapped state with a token holding a `key_prefix "app/"` write policy and a
    /// service identity for `web`.
    fn state() -> State {
        let mut s = State::default();
        apply(&mut s, 1, builtins(1_000, None));
        apply(
            &mut s,
            2,
            AclCommand::Bootstrap {
                token: bootstrap_token(1_000),
                reset_index: None,
            },
        );
        apply(
            &mut s,
            3,
            AclCommand::PolicySet {
                policy: PolicyRecord {
                    id: "p1".into(),
                    name: "app".into(),
                    rules: r#"key_prefix "app/" { policy = "write" }"#.into(),
                    ..Default::default()
                },
            },
        );
        apply(
            &mut s,
            4,
            AclCommand::TokenSet {
                token: TokenRecord {
                    accessor_id: "a1".into(),
                    secret_id: "s1".into(),
                    policies: vec!["p1".into()],
                    service_identities: vec![ServiceIdentity {
                        service_name: "web".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                create: true,
            },
        );
        s
    }

    #[test]
    fn an_identity_grants_a_client_what_the_server_grants() {
        let s = state();
        let cfg = config(DefaultPolicy::Deny);
        let on_server = s.acl().authorize("s1", 2_000, &cfg).unwrap();
        let identity = s.acl().identity("s1", 2_000, &cfg).unwrap();
        assert_eq!(identity.accessor_id, "a1");
        assert_eq!(identity.rules.len(), 2, "{identity:?}");
        // Through the wire and back, as a client receives it.
        let wire = serde_json::to_vec(&identity).unwrap();
        let on_client = serde_json::from_slice::<Identity>(&wire)
            .unwrap()
            .authz(DefaultPolicy::Deny);
        for (r, name, need) in [
            (Resource::Key, "app/x", Access::Write),
            (Resource::Key, "other", Access::Read),
            (Resource::Service, "web", Access::Write),
            (Resource::Service, "db", Access::Read),
            (Resource::Node, "n1", Access::Read),
            (Resource::Acl, "", Access::Write),
        ] {
            assert_eq!(
                on_client.allows(r, name, need),
                on_server.allows(r, name, need),
                "{r:?} {name} {need:?}"
            );
        }
        assert!(on_client.allows(Resource::Key, "app/x", Access::Write));
        assert!(!on_client.allows(Resource::Key, "other", Access::Read));
        assert_eq!(on_client.accessor_id(), "a1");
    }

    #[test]
    fn the_anonymous_token_unknown_secrets_and_the_initial_management_secret() {
        let s = state();
        let cfg = config(DefaultPolicy::Deny);
        let anon = s.acl().identity("", 2_000, &cfg).unwrap();
        assert_eq!(anon.accessor_id, super::super::ANONYMOUS_ID);
        assert!(anon.rules.is_empty() && !anon.management);
        // The client's own default policy applies to what no rule covers.
        assert!(anon
            .authz(DefaultPolicy::Allow)
            .allows(Resource::Key, "k", Access::Read));
        assert!(!anon
            .authz(DefaultPolicy::Deny)
            .allows(Resource::Key, "k", Access::Read));
        assert_eq!(
            s.acl().identity("nobody's", 2_000, &cfg),
            Err(AclRefusal::NotFound)
        );
        let initial = s.acl().identity("initial", 2_000, &cfg).unwrap();
        assert!(initial.management);
        assert!(initial
            .authz(DefaultPolicy::Deny)
            .allows(Resource::Acl, "", Access::Write));
    }
}
