//! Header names and the query metadata every blocking-capable read carries.

pub const INDEX: &str = "X-Consul-Index";
pub const LAST_CONTACT: &str = "X-Consul-LastContact";
pub const KNOWN_LEADER: &str = "X-Consul-KnownLeader";
pub const EFFECTIVE_CONSISTENCY: &str = "X-Consul-Effective-Consistency";
pub const DEFAULT_ACL_POLICY: &str = "X-Consul-Default-ACL-Policy";
pub const CONTENT_HASH: &str = "X-Consul-ContentHash";
pub const TOKEN: &str = "X-Consul-Token";
pub const NAMESPACE: &str = "X-Consul-Namespace";
pub const RESULTS_FILTERED_BY_ACLS: &str = "X-Consul-Results-Filtered-By-ACLs";

/// What a read says about the data it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryMeta {
    /// `X-Consul-Index`: never 0.
    pub index: u64,
    /// `X-Consul-LastContact` in milliseconds.
    pub last_contact_ms: u64,
    /// `X-Consul-KnownLeader`.
    pub known_leader: bool,
    /// `X-Consul-Results-Filtered-By-ACLs`: the token could not see part of the answer.
    pub results_filtered_by_acls: bool,
}
