//! The answer to "may this token do that?": a token's policies merged into one set of rules,
//! asked first, and the agent's default policy for what no rule covers.
//!
//! Merging follows Consul's policy merger: for the same resource, name and kind (exact or
//! prefix) the most restrictive level wins (deny > write > list > read); a service rule's
//! `intentions` merges on its own. Lookups follow Consul's policy authorizer: an exact rule
//! for the name, else the longest prefix rule, else the default. `mesh` and `peering` without
//! a rule of their own follow `operator`. The default policy `allow` allows everything but
//! `acl` (reading and writing ACLs, and snapshots, need an `acl` rule), `deny` nothing.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use crate::access::{Access, DefaultPolicy, Level, Resource};
use crate::errors::PermissionDenied;
use crate::rules::Rules;

/// Decides checks for one token (or for everyone, see [`Authorizer::manage_all`]).
#[derive(Debug, Clone)]
pub struct Authorizer {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Everything allowed: ACLs disabled.
    ManageAll,
    /// Merged rules over a default policy.
    Policies(Box<Merged>),
}

#[derive(Debug, Clone)]
struct Merged {
    default: DefaultPolicy,
    acl: Option<Level>,
    keyring: Option<Level>,
    mesh: Option<Level>,
    operator: Option<Level>,
    peering: Option<Level>,
    /// Rules of the segmented resources, one tree per resource (see [`tree_index`]).
    trees: [Tree; 8],
}

/// Rules of one segmented resource, by name.
type Tree = BTreeMap<String, Leaf>;

/// The exact and the prefix rule for one name.
#[derive(Debug, Clone, Copy, Default)]
struct Leaf {
    exact: Option<Level>,
    prefix: Option<Level>,
}

/// What the rules say before the default policy is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Allow,
    Deny,
    /// No rule applies.
    Default,
}

/// Index of the key rules' tree.
const KEY_TREE: usize = 3;

fn tree_index(resource: Resource) -> Option<usize> {
    Some(match resource {
        Resource::Agent => 0,
        Resource::Event => 1,
        Resource::Intention => 2,
        Resource::Key => KEY_TREE,
        Resource::Node => 4,
        Resource::Query => 5,
        Resource::Service => 6,
        Resource::Session => 7,
        Resource::Acl
        | Resource::Keyring
        | Resource::Mesh
        | Resource::Operator
        | Resource::Peering => return None,
    })
}

impl Authorizer {
    /// Allows every check; what a request gets while ACLs are disabled.
    pub fn manage_all() -> Authorizer {
        Authorizer {
            kind: Kind::ManageAll,
        }
    }

    /// The authorizer of a token holding `policies` (its own, its roles', its identities'
    /// synthetic ones, in any order), under the agent's `default` policy.
    pub fn new<'a>(
        default: DefaultPolicy,
        policies: impl IntoIterator<Item = &'a Rules>,
    ) -> Authorizer {
        let mut merged = Merged {
            default,
            acl: None,
            keyring: None,
            mesh: None,
            operator: None,
            peering: None,
            trees: Default::default(),
        };
        // (resource, prefix, name) -> (policy, intentions)
        let mut segments: HashMap<(Resource, bool, String), (Level, Option<Level>)> =
            HashMap::new();
        for rules in policies {
            for (slot, resource) in [
                (&mut merged.acl, Resource::Acl),
                (&mut merged.keyring, Resource::Keyring),
                (&mut merged.mesh, Resource::Mesh),
                (&mut merged.operator, Resource::Operator),
                (&mut merged.peering, Resource::Peering),
            ] {
                *slot = Level::merge(*slot, rules.top_level(resource));
            }
            for rule in rules.segment_rules() {
                let key = (rule.resource, rule.prefix, rule.name.clone());
                segments
                    .entry(key)
                    .and_modify(|(policy, intentions)| {
                        *policy = Level::merge(Some(*policy), Some(rule.policy)).unwrap_or(*policy);
                        *intentions = Level::merge(*intentions, rule.intentions);
                    })
                    .or_insert((rule.policy, rule.intentions));
            }
        }
        for ((resource, prefix, name), (policy, intentions)) in segments {
            if resource == Resource::Service {
                // Without `intentions`, a service rule grants intention read with read or
                // write, and denies otherwise.
                let intention = intentions.unwrap_or(match policy {
                    Level::Read | Level::Write => Level::Read,
                    Level::Deny | Level::List => Level::Deny,
                });
                merged.insert(Resource::Intention, prefix, name.clone(), intention);
            }
            merged.insert(resource, prefix, name, policy);
        }
        Authorizer {
            kind: Kind::Policies(Box::new(merged)),
        }
    }

    /// Whether an operation needing `need` on `resource` is allowed; `name` is the segment
    /// (key, service name, node name, ...) and is ignored for unnamed resources.
    pub fn allows(&self, resource: Resource, name: &str, need: Access) -> bool {
        match &self.kind {
            Kind::ManageAll => true,
            Kind::Policies(merged) => merged.resolve(resource, merged.decide(resource, name, need)),
        }
    }

    /// Whether the whole key subtree under `prefix` may be written or deleted at once
    /// (`DELETE /v1/kv/<prefix>?recurse`, Consul's `KeyWritePrefix`): the longest prefix rule
    /// covering `prefix` must grant write, and no rule (exact or prefix) at or under `prefix`
    /// may grant less than write. Without any such rule, the default policy answers.
    pub fn key_write_prefix(&self, prefix: &str) -> bool {
        match &self.kind {
            Kind::ManageAll => true,
            Kind::Policies(merged) => {
                merged.resolve(Resource::Key, merged.key_write_prefix(prefix))
            }
        }
    }

    /// [`Authorizer::allows`], or the refusal worded for the token `accessor_id`.
    pub fn check(
        &self,
        accessor_id: &str,
        resource: Resource,
        name: &str,
        need: Access,
    ) -> Result<(), PermissionDenied> {
        if self.allows(resource, name, need) {
            return Ok(());
        }
        let name = Some(name).filter(|_| resource.is_named());
        Err(PermissionDenied::new(accessor_id, resource, need, name))
    }

    /// [`Authorizer::key_write_prefix`], or the refusal (`key:write` on the prefix).
    pub fn check_key_write_prefix(
        &self,
        accessor_id: &str,
        prefix: &str,
    ) -> Result<(), PermissionDenied> {
        if self.key_write_prefix(prefix) {
            return Ok(());
        }
        Err(PermissionDenied::new(
            accessor_id,
            Resource::Key,
            Access::Write,
            Some(prefix),
        ))
    }
}

impl Merged {
    fn insert(&mut self, resource: Resource, prefix: bool, name: String, level: Level) {
        let Some(i) = tree_index(resource) else {
            return;
        };
        let leaf = self.trees[i].entry(name).or_default();
        if prefix {
            leaf.prefix = Some(level);
        } else {
            leaf.exact = Some(level);
        }
    }

    fn decide(&self, resource: Resource, name: &str, need: Access) -> Decision {
        let level = match resource {
            Resource::Acl => self.acl,
            Resource::Keyring => self.keyring,
            Resource::Operator => self.operator,
            Resource::Mesh => self.mesh.or(self.operator),
            Resource::Peering => self.peering.or(self.operator),
            _ => tree_index(resource).and_then(|i| lookup(&self.trees[i], name)),
        };
        match level {
            Some(level) if level.allows(need) => Decision::Allow,
            Some(_) => Decision::Deny,
            None => Decision::Default,
        }
    }

    /// The default policy's answer where the rules gave none.
    fn resolve(&self, resource: Resource, decision: Decision) -> bool {
        match decision {
            Decision::Allow => true,
            Decision::Deny => false,
            // Consul's allow-all default still denies managing ACLs.
            Decision::Default => self.default == DefaultPolicy::Allow && resource != Resource::Acl,
        }
    }

    fn key_write_prefix(&self, prefix: &str) -> Decision {
        let tree = &self.trees[KEY_TREE];
        // The longest prefix rule covering `prefix` itself.
        let mut base = Decision::Default;
        for leaf in covering(tree, prefix) {
            if let Some(level) = leaf.prefix {
                base = if level == Level::Write {
                    Decision::Allow
                } else {
                    Decision::Deny
                };
            }
        }
        if base == Decision::Deny {
            return Decision::Deny;
        }
        // Any rule at or below `prefix` granting less than write.
        let below = tree
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix));
        for (_, leaf) in below {
            if [leaf.exact, leaf.prefix]
                .into_iter()
                .flatten()
                .any(|level| level != Level::Write)
            {
                return Decision::Deny;
            }
        }
        base
    }
}

/// The leaves whose names are prefixes of `name` (`""` first, `name` itself last).
fn covering<'a>(tree: &'a Tree, name: &'a str) -> impl Iterator<Item = &'a Leaf> + 'a {
    name.char_indices()
        .map(|(i, _)| i)
        .chain([name.len()])
        .filter_map(move |end| tree.get(&name[..end]))
}

/// The rule for `name`: its exact rule, else the longest prefix rule.
fn lookup(tree: &Tree, name: &str) -> Option<Level> {
    if let Some(exact) = tree.get(name).and_then(|leaf| leaf.exact) {
        return Some(exact);
    }
    covering(tree, name).filter_map(|leaf| leaf.prefix).last()
}
