//! The words of a check: what an operation needs ([`Access`]), what a rule grants ([`Level`]),
//! what applies where no rule says anything ([`DefaultPolicy`]) and what is guarded
//! ([`Resource`]), each with Consul's strings.

use std::fmt;

/// What an operation needs on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reading one item (`GET /v1/kv/foo`, a service's instances).
    Read,
    /// Listing the keys under a prefix (`?keys`, `?recurse`); only key rules tell it apart
    /// from read.
    List,
    /// Creating, changing or deleting.
    Write,
}

impl Access {
    /// Consul's word: `read`, `list` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::List => "list",
            Access::Write => "write",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule grants: a rule's `policy = "..."` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Nothing, whatever other rules or the default say.
    Deny,
    /// Read only.
    Read,
    /// Read and list (key rules only).
    List,
    /// Everything: read, list and write.
    Write,
}

impl Level {
    /// Consul's word: `deny`, `read`, `list` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Deny => "deny",
            Level::Read => "read",
            Level::List => "list",
            Level::Write => "write",
        }
    }

    /// Reads a policy value; like Consul, the case of the letters does not matter.
    pub fn parse(text: &str) -> Option<Level> {
        [Level::Deny, Level::Read, Level::List, Level::Write]
            .into_iter()
            .find(|l| text.eq_ignore_ascii_case(l.as_str()))
    }

    /// Whether a rule with this level lets an operation needing `need` through: `read` is
    /// granted by read, list and write; `list` by list and write; `write` by write only.
    pub fn allows(self, need: Access) -> bool {
        match self {
            Level::Deny => false,
            Level::Read => need == Access::Read,
            Level::List => matches!(need, Access::Read | Access::List),
            Level::Write => true,
        }
    }

    /// Rank when two rules for the same name meet: deny > write > list > read.
    fn precedence(self) -> u8 {
        match self {
            Level::Read => 1,
            Level::List => 2,
            Level::Write => 3,
            Level::Deny => 4,
        }
    }

    /// The one of two (possibly absent) levels that wins a merge; a level beats none.
    pub(crate) fn merge(a: Option<Level>, b: Option<Level>) -> Option<Level> {
        match (a, b) {
            (Some(a), Some(b)) if b.precedence() > a.precedence() => Some(b),
            (Some(a), _) => Some(a),
            (None, b) => b,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The agent's `acl.default_policy`: the answer when no rule of a token matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DefaultPolicy {
    /// `allow` (Consul's default): everything not denied is allowed, except managing ACLs.
    #[default]
    Allow,
    /// `deny`: only what a rule grants is allowed.
    Deny,
}

impl DefaultPolicy {
    /// Consul's word: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            DefaultPolicy::Allow => "allow",
            DefaultPolicy::Deny => "deny",
        }
    }

    /// Reads `allow` or `deny` (exactly, as Consul's configuration does).
    pub fn parse(text: &str) -> Option<DefaultPolicy> {
        match text {
            "allow" => Some(DefaultPolicy::Allow),
            "deny" => Some(DefaultPolicy::Deny),
            _ => None,
        }
    }
}

impl fmt::Display for DefaultPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a check guards. Segmented resources are checked for a name (a key, a service, a
/// node, ...); `acl`, `keyring`, `mesh`, `operator` and `peering` are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// ACL tokens, policies, roles, auth methods; also snapshots (which need `acl` write).
    Acl,
    /// An agent's own endpoints, named by the agent's node name.
    Agent,
    /// User events, by event name.
    Event,
    /// Intentions, by destination service name (rules: a `service` rule's `intentions`).
    Intention,
    /// KV entries, by key.
    Key,
    /// The gossip encryption keyring.
    Keyring,
    /// Mesh-wide configuration; falls back to `operator` rules when no `mesh` rule is given.
    Mesh,
    /// Catalog nodes, by node name.
    Node,
    /// Cluster operations (Raft, autopilot, ...).
    Operator,
    /// Cluster peering; falls back to `operator` rules when no `peering` rule is given.
    Peering,
    /// Prepared queries, by query name.
    Query,
    /// Catalog services, by service name.
    Service,
    /// Sessions, by node name.
    Session,
}

impl Resource {
    /// Consul's word, as used in permission-denied messages (`key`, `service`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Acl => "acl",
            Resource::Agent => "agent",
            Resource::Event => "event",
            Resource::Intention => "intention",
            Resource::Key => "key",
            Resource::Keyring => "keyring",
            Resource::Mesh => "mesh",
            Resource::Node => "node",
            Resource::Operator => "operator",
            Resource::Peering => "peering",
            Resource::Query => "query",
            Resource::Service => "service",
            Resource::Session => "session",
        }
    }

    /// Whether checks on this resource are for a name (segmented resources).
    pub fn is_named(self) -> bool {
        !matches!(
            self,
            Resource::Acl
                | Resource::Keyring
                | Resource::Mesh
                | Resource::Operator
                | Resource::Peering
        )
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_grant_as_consul_enforces() {
        use Access::*;
        let table = [
            (Level::Deny, [false, false, false]),
            (Level::Read, [true, false, false]),
            (Level::List, [true, true, false]),
            (Level::Write, [true, true, true]),
        ];
        for (level, expected) in table {
            let got = [Read, List, Write].map(|a| level.allows(a));
            assert_eq!(got, expected, "{level}");
        }
    }

    #[test]
    fn merge_prefers_deny_then_write_then_list_then_read() {
        use Level::*;
        let table = [
            (Some(Read), Some(Write), Some(Write)),
            (Some(Write), Some(Read), Some(Write)),
            (Some(Write), Some(Deny), Some(Deny)),
            (Some(Deny), Some(Write), Some(Deny)),
            (Some(Read), Some(List), Some(List)),
            (Some(List), Some(Write), Some(Write)),
            (None, Some(Read), Some(Read)),
            (Some(Read), None, Some(Read)),
            (None, None, None),
        ];
        for (a, b, want) in table {
            assert_eq!(Level::merge(a, b), want, "{a:?} + {b:?}");
        }
    }

    #[test]
    fn words() {
        assert_eq!(Level::parse("WRITE"), Some(Level::Write));
        assert_eq!(Level::parse("bogus"), None);
        assert_eq!(DefaultPolicy::parse("deny"), Some(DefaultPolicy::Deny));
        assert_eq!(DefaultPolicy::parse("Deny"), None);
        assert_eq!(Resource::Query.to_string(), "query");
        assert!(!Resource::Peering.is_named());
        assert!(Resource::Session.is_named());
    }
}
