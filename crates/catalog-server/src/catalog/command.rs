//! What can be written to the catalog: every change is one [`Command`] carried through Raft
//! and applied by [`super::State::apply`]. Commands carry the leader's clock (`now_ms`) so that
//! applying them is deterministic on every server.

use super::health::HealthStatus;
use super::records::*;
use serde::{Deserialize, Serialize};

/// A command plus the leader's wall clock at proposal time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub now_ms: u64,
    pub cmd: Command,
}

/// One catalog registration: validated whole before any of it is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub node: NodeRecord,
    /// Leave an existing node as it is (it must exist).
    pub skip_node_update: bool,
    pub service: Option<ServiceRecord>,
    /// Node checks, and checks of `service` or of services already on the node.
    pub checks: Vec<CheckRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KvOp {
    Set,
    Cas(u64),
    Acquire(String),
    Release(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Create or update a node (`SkipNodeUpdate` leaves an existing one untouched).
    RegisterNode {
        node: NodeRecord,
        skip_node_update: bool,
    },
    /// Register a service instance (and checks) on an existing node.
    RegisterService {
        node: String,
        service: ServiceRecord,
        checks: Vec<CheckRecord>,
        replace_existing_checks: bool,
    },
    RegisterCheck {
        check: CheckRecord,
    },
    /// A whole catalog registration — node, its service, their checks — applied together or
    /// not at all (`PUT /v1/catalog/register`).
    Register(Registration),
    DeregisterNode {
        node: String,
    },
    DeregisterService {
        node: String,
        service_id: String,
    },
    DeregisterCheck {
        node: String,
        check_id: String,
    },
    /// A check's status and output, from a check runner or a TTL update.
    UpdateCheck {
        node: String,
        check_id: String,
        status: HealthStatus,
        output: String,
    },
    KvSet {
        entry: KvRecord,
        op: KvOp,
    },
    KvDelete {
        key: String,
        recurse: bool,
        cas: Option<u64>,
    },
    SessionCreate {
        session: SessionRecord,
    },
    SessionDestroy {
        id: String,
    },
    Txn {
        ops: Vec<TxnOp>,
    },
    /// A token, policy or role change.
    Acl(super::acl::AclCommand),
    /// A no-op used to learn the current index (leadership barrier).
    Noop,
    /// Forget KV tombstones written at or before `upto_index` (the leader sends it for
    /// tombstones older than the tombstone TTL, like Consul's tombstone GC).
    ReapTombstones {
        upto_index: u64,
    },
    /// Replace the whole state (`consul snapshot restore`).
    Restore {
        state: Box<super::State>,
    },
    /// Nodes' network coordinates (`PUT /v1/coordinate/update`); those of unknown nodes are
    /// dropped.
    UpdateCoordinates {
        updates: Vec<(String, super::coordinate::Coord)>,
    },
    /// Create or replace a prepared query (by its ID).
    PreparedQuerySet {
        query: super::prepared_query::PreparedQuery,
    },
    /// Delete a prepared query.
    PreparedQueryDelete {
        id: String,
    },
    /// Autopilot's configuration (`PUT /v1/operator/autopilot/configuration`, the leader's
    /// initial values); replies `Bool` (stored or not).
    AutopilotSet {
        config: super::autopilot::AutopilotConfig,
        how: super::autopilot::AutopilotWrite,
    },
    /// Several writers' commands proposed as one Raft entry (group commit); each gets its own
    /// reply, in order.
    Batch(Vec<Command>),
    /// A `PUT /v1/txn` with node, service or check operations besides KV ones (a KV-only one
    /// stays a [`Command::Txn`], which servers of earlier versions read).
    CatalogTxn {
        ops: Vec<CatalogTxnOp>,
    },
}

impl Command {
    /// Whether applying this may change node `node`'s registrations (its services, or the
    /// definitions of its checks; a check's status update does not).
    pub fn touches_node(&self, node: &str) -> bool {
        let is = |n: &str| n.eq_ignore_ascii_case(node);
        match self {
            Command::RegisterNode { node: n, .. } => is(&n.node),
            Command::RegisterService { node: n, .. }
            | Command::DeregisterNode { node: n }
            | Command::DeregisterService { node: n, .. }
            | Command::DeregisterCheck { node: n, .. } => is(n),
            Command::RegisterCheck { check } => is(&check.node),
            Command::Register(r) => is(&r.node.node) || r.checks.iter().any(|c| is(&c.node)),
            Command::Restore { .. } => true,
            Command::Batch(cmds) => cmds.iter().any(|c| c.touches_node(node)),
            Command::CatalogTxn { ops } => ops.iter().any(|op| match op {
                CatalogTxnOp::Kv(_) => false,
                CatalogTxnOp::Node { node: n, .. } => is(&n.node),
                CatalogTxnOp::Service { node: n, .. } => is(n),
                CatalogTxnOp::Check { check, .. } => is(&check.node),
            }),
            Command::UpdateCheck { .. }
            | Command::KvSet { .. }
            | Command::KvDelete { .. }
            | Command::SessionCreate { .. }
            | Command::SessionDestroy { .. }
            | Command::Txn { .. }
            | Command::Noop
            | Command::Acl(_)
            | Command::UpdateCoordinates { .. }
            | Command::PreparedQuerySet { .. }
            | Command::PreparedQueryDelete { .. }
            | Command::AutopilotSet { .. }
            | Command::ReapTombstones { .. } => false,
        }
    }
}

/// One KV operation of `PUT /v1/txn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnOp {
    pub verb: String,
    pub key: String,
    #[serde(default)]
    pub value: Vec<u8>,
    pub flags: u64,
    pub index: u64,
    pub session: String,
}

/// One operation of a [`Command::CatalogTxn`]. The verbs are Consul's (`set`, `cas`, `get`,
/// `delete`, `delete-cas`); a record's `modify_index` is the index `cas` and `delete-cas`
/// compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum CatalogTxnOp {
    Kv(TxnOp),
    Node {
        verb: String,
        node: NodeRecord,
    },
    Service {
        verb: String,
        node: String,
        service: ServiceRecord,
    },
    Check {
        verb: String,
        check: CheckRecord,
    },
}

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    Done,
    Bool(bool),
    Txn(Result<Vec<TxnResult>, Vec<TxnError>>),
    Batch(Vec<Result<Reply, super::CatalogError>>),
}

/// One result of a transaction: a KV entry, a node, a service or a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TxnResult {
    pub entry: Option<KvRecord>,
    #[serde(default)]
    pub node: Option<NodeRecord>,
    /// A service and the node it is on.
    #[serde(default)]
    pub service: Option<(String, ServiceRecord)>,
    #[serde(default)]
    pub check: Option<CheckRecord>,
}

impl TxnResult {
    pub fn kv(entry: KvRecord) -> Self {
        TxnResult {
            entry: Some(entry),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnError {
    pub op_index: usize,
    pub what: String,
}
