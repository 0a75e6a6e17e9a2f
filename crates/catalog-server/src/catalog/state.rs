//! The catalog's in-memory state and `apply`: every write, its index bookkeeping, and the
//! watch keys it wakes.

use super::command::*;
use super::health::HealthStatus;
use super::records::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a blocking query waits on. A write wakes exactly the keys it touched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKey {
    Nodes,
    Services,
    Checks,
    Sessions,
    /// One service name (lower-cased): its instances, their checks and their nodes.
    Service(String),
    /// One node (lower-cased): the node, its services and checks.
    Node(String),
    /// A KV prefix; a change to key `k` wakes every prefix of `k`.
    KvPrefix(String),
    /// The ACL tables.
    Acl,
    /// The network coordinates.
    Coordinates,
    /// The prepared queries.
    PreparedQueries,
    /// Everything (the state was replaced by a snapshot restore).
    All,
}

/// A write the catalog refused; `Display` is Consul's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CatalogError {
    #[error("Missing node registration")]
    MissingNode,
    #[error(
        "Unknown service ID {0:?}. Ensure that the service ID is passed, not the service name."
    )]
    UnknownService(String),
    #[error("Unknown check ID {0:?}. Ensure that the check ID is passed, not the check name.")]
    UnknownCheck(String),
    #[error("ServiceID {0:?} does not exist")]
    CheckServiceMissing(String),
    #[error("invalid session {0:?}")]
    InvalidSession(String),
    #[error("Check '{0}' is in critical state")]
    CriticalCheck(String),
    #[error("Missing check '{0}' registration")]
    MissingCheck(String),
    #[error("ACL bootstrap no longer allowed (reset index: {0})")]
    AclBootstrapDone(u64),
    #[error("{0}")]
    AclInvalid(String),
    /// A prepared query the state refused (Consul's state-store texts).
    #[error("{0}")]
    PreparedQuery(String),
}

/// Per-table raft indexes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Indexes {
    pub nodes: u64,
    pub services: u64,
    pub checks: u64,
    pub kv: u64,
    pub sessions: u64,
    #[serde(default)]
    pub coordinates: u64,
    #[serde(default)]
    pub prepared_queries: u64,
}

/// The whole catalog. `nodes`/`services`/`checks` are keyed by lower-cased node name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub(super) nodes: BTreeMap<String, NodeRecord>,
    pub(super) services: BTreeMap<String, BTreeMap<String, ServiceRecord>>,
    pub(super) checks: BTreeMap<String, BTreeMap<String, CheckRecord>>,
    pub(super) kv: BTreeMap<String, KvRecord>,
    pub(super) tombstones: BTreeMap<String, u64>,
    pub(super) sessions: BTreeMap<String, SessionRecord>,
    /// Key → end of its lock-delay (ms since the epoch).
    pub(super) lock_delays: BTreeMap<String, u64>,
    pub(super) index: Indexes,
    /// Lower-cased service name → index of its last change.
    pub(super) service_index: HashMap<String, u64>,
    /// The index of the last applied command.
    pub(super) last_index: u64,
    /// The index of the last snapshot restore: no KV read reports less, so parked queries see it.
    #[serde(default)]
    pub(super) restore_index: u64,
    /// Tokens, policies and roles.
    #[serde(default)]
    pub(super) acl: super::acl::AclTables,
    /// Lower-cased node name → its network coordinate.
    #[serde(default)]
    pub(super) coordinates: BTreeMap<String, super::coordinate::CoordinateEntry>,
    /// Prepared queries by ID.
    #[serde(default)]
    pub(super) prepared_queries: BTreeMap<String, super::prepared_query::PreparedQuery>,
    /// Autopilot's configuration, once written (the leader stores its config file's values).
    #[serde(default)]
    pub(super) autopilot: Option<super::autopilot::AutopilotConfig>,
    /// Derived: lower-cased service name → (node key, service id). Rebuilt by [`State::reindex`].
    #[serde(skip)]
    pub(super) by_name: HashMap<String, BTreeSet<(String, String)>>,
}

pub(super) type Touched = Vec<WatchKey>;

pub(crate) fn lower(s: &str) -> String {
    s.to_lowercase()
}

impl State {
    /// Rebuilds derived indexes after a snapshot was loaded.
    pub fn reindex(&mut self) {
        self.acl.reindex();
        self.by_name.clear();
        for (node, svcs) in &self.services {
            for (id, s) in svcs {
                self.by_name
                    .entry(lower(&s.name))
                    .or_default()
                    .insert((node.clone(), id.clone()));
            }
        }
    }

    /// Applies one command at raft index `index`; returns the reply and the keys it touched.
    pub fn apply(&mut self, index: u64, req: &Request) -> (Result<Reply, CatalogError>, Touched) {
        let mut t = Touched::new();
        self.last_index = self.last_index.max(index);
        let r = self.apply_cmd(index, &req.cmd, req.now_ms, &mut t);
        (r, t)
    }

    fn apply_cmd(
        &mut self,
        index: u64,
        cmd: &Command,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        match cmd {
            Command::Batch(cmds) => Ok(Reply::Batch(
                cmds.iter()
                    .map(|c| self.apply_cmd(index, c, now_ms, t))
                    .collect(),
            )),
            Command::Noop => Ok(Reply::Done),
            Command::Acl(c) => self.acl.apply(index, c, t).map(|()| Reply::Done),
            Command::Restore { state } => {
                self.restore(index, (**state).clone());
                t.push(WatchKey::All);
                Ok(Reply::Done)
            }
            Command::ReapTombstones { upto_index } => {
                self.tombstones.retain(|_, i| *i > *upto_index);
                Ok(Reply::Done)
            }
            Command::RegisterNode {
                node,
                skip_node_update,
            } => {
                self.register_node(index, node, *skip_node_update, t);
                Ok(Reply::Done)
            }
            Command::RegisterService {
                node,
                service,
                checks,
                replace_existing_checks,
            } => self.register_service(
                index,
                node,
                service,
                checks,
                *replace_existing_checks,
                now_ms,
                t,
            ),
            Command::RegisterCheck { check } => {
                self.register_check(index, check.clone(), now_ms, t)
            }
            Command::Register(reg) => self.register(index, reg, now_ms, t),
            Command::DeregisterNode { node } => {
                self.deregister_node(index, node, now_ms, t);
                Ok(Reply::Bool(true))
            }
            Command::DeregisterService { node, service_id } => {
                self.deregister_service(index, node, service_id, now_ms, t)
            }
            Command::DeregisterCheck { node, check_id } => {
                self.deregister_check(index, node, check_id, now_ms, t)
            }
            Command::UpdateCheck {
                node,
                check_id,
                status,
                output,
            } => self.update_check(index, node, check_id, *status, output, now_ms, t),
            Command::KvSet { entry, op } => self.kv_set(index, entry, op, now_ms, t),
            Command::KvDelete { key, recurse, cas } => {
                Ok(self.kv_delete(index, key, *recurse, *cas, t))
            }
            Command::SessionCreate { session } => self.session_create(index, session, t),
            Command::SessionDestroy { id } => {
                self.session_invalidate(index, id, now_ms, t);
                Ok(Reply::Bool(true))
            }
            Command::Txn { ops } => Ok(self.txn(index, ops, now_ms, t)),
            Command::CatalogTxn { ops } => Ok(self.catalog_txn(index, ops, now_ms, t)),
            Command::UpdateCoordinates { updates } => {
                self.update_coordinates(index, updates, t);
                Ok(Reply::Done)
            }
            Command::PreparedQuerySet { query } => self
                .prepared_query_set(index, query, t)
                .map(|()| Reply::Done),
            Command::PreparedQueryDelete { id } => {
                self.prepared_query_delete(index, id, t);
                Ok(Reply::Done)
            }
            Command::AutopilotSet { config, how } => {
                Ok(Reply::Bool(self.autopilot_set(index, config, *how)))
            }
        }
    }

    /// Applies a whole registration, or nothing of it: everything that could refuse it is
    /// checked before the first change.
    fn register(
        &mut self,
        index: u64,
        reg: &Registration,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        let nkey = lower(&reg.node.node);
        let nothing_else = reg.service.is_none() && reg.checks.is_empty();
        if reg.skip_node_update && !self.nodes.contains_key(&nkey) {
            return if nothing_else {
                Ok(Reply::Done)
            } else {
                Err(CatalogError::MissingNode)
            };
        }
        for c in &reg.checks {
            let ckey = lower(&c.node);
            if ckey != nkey && !self.nodes.contains_key(&ckey) {
                return Err(CatalogError::MissingNode);
            }
            let own = ckey == nkey && reg.service.as_ref().is_some_and(|s| s.id == c.service_id);
            let existing = self
                .services
                .get(&ckey)
                .is_some_and(|m| m.contains_key(&c.service_id));
            if !c.service_id.is_empty() && !own && !existing {
                return Err(CatalogError::CheckServiceMissing(c.service_id.clone()));
            }
        }
        self.register_node(index, &reg.node, reg.skip_node_update, t);
        if let Some(service) = &reg.service {
            self.register_service(index, &reg.node.node, service, &[], false, now_ms, t)?;
        }
        for c in &reg.checks {
            self.register_check(index, c.clone(), now_ms, t)?;
        }
        Ok(Reply::Done)
    }

    pub(super) fn register_node(
        &mut self,
        index: u64,
        node: &NodeRecord,
        skip_update: bool,
        t: &mut Touched,
    ) {
        let key = lower(&node.node);
        match self.nodes.get_mut(&key) {
            Some(_) if skip_update => {}
            Some(existing) => {
                let mut n = node.clone();
                n.create_index = existing.create_index;
                n.modify_index = existing.modify_index;
                if *existing != n {
                    n.modify_index = index;
                    *existing = n;
                    self.index.nodes = index;
                    self.touch_node(index, &key, t);
                }
            }
            None => {
                let mut n = node.clone();
                n.create_index = index;
                n.modify_index = index;
                self.nodes.insert(key.clone(), n);
                self.index.nodes = index;
                self.touch_node(index, &key, t);
            }
        }
    }

    /// Marks a node changed: its watchers and every service on it.
    pub(super) fn touch_node(&mut self, index: u64, key: &str, t: &mut Touched) {
        t.push(WatchKey::Nodes);
        t.push(WatchKey::Node(key.to_string()));
        let names: Vec<String> = self
            .services
            .get(key)
            .map(|m| m.values().map(|s| lower(&s.name)).collect())
            .unwrap_or_default();
        for n in names {
            self.touch_service(index, &n, t);
        }
    }

    pub(super) fn touch_service(&mut self, index: u64, name_lower: &str, t: &mut Touched) {
        self.service_index.insert(name_lower.to_string(), index);
        t.push(WatchKey::Service(name_lower.to_string()));
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn register_service(
        &mut self,
        index: u64,
        node: &str,
        service: &ServiceRecord,
        checks: &[CheckRecord],
        replace_existing_checks: bool,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        let nkey = lower(node);
        if !self.nodes.contains_key(&nkey) {
            return Err(CatalogError::MissingNode);
        }
        let mut s = service.clone();
        let old = self.services.get(&nkey).and_then(|m| m.get(&s.id)).cloned();
        let changed = match &old {
            Some(o) => {
                s.create_index = o.create_index;
                s.modify_index = o.modify_index;
                *o != s
            }
            None => true,
        };
        if changed {
            if old.is_none() {
                s.create_index = index;
            }
            s.modify_index = index;
            if let Some(o) = &old {
                if lower(&o.name) != lower(&s.name) {
                    let on = lower(&o.name);
                    if let Some(set) = self.by_name.get_mut(&on) {
                        set.remove(&(nkey.clone(), s.id.clone()));
                    }
                    self.touch_service(index, &on, t);
                }
            }
            self.by_name
                .entry(lower(&s.name))
                .or_default()
                .insert((nkey.clone(), s.id.clone()));
            self.services
                .entry(nkey.clone())
                .or_default()
                .insert(s.id.clone(), s.clone());
            self.index.services = index;
            t.push(WatchKey::Services);
            t.push(WatchKey::Node(nkey.clone()));
            self.touch_service(index, &lower(&s.name), t);
        }
        if replace_existing_checks {
            let stale: Vec<String> = self
                .checks
                .get(&nkey)
                .map(|m| {
                    m.values()
                        .filter(|c| {
                            c.service_id == s.id && !checks.iter().any(|n| n.check_id == c.check_id)
                        })
                        .map(|c| c.check_id.clone())
                        .collect()
                })
                .unwrap_or_default();
            for id in stale {
                self.remove_check(index, &nkey, &id, now_ms, t);
            }
        }
        for c in checks {
            let mut c = c.clone();
            c.service_id = s.id.clone();
            self.register_check(index, c, now_ms, t)?;
        }
        Ok(Reply::Done)
    }

    pub(super) fn register_check(
        &mut self,
        index: u64,
        mut check: CheckRecord,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        let nkey = lower(&check.node);
        let Some(node) = self.nodes.get(&nkey) else {
            return Err(CatalogError::MissingNode);
        };
        check.node = node.node.clone();
        if !check.service_id.is_empty() {
            let Some(svc) = self
                .services
                .get(&nkey)
                .and_then(|m| m.get(&check.service_id))
            else {
                return Err(CatalogError::CheckServiceMissing(check.service_id.clone()));
            };
            check.service_name = svc.name.clone();
            check.service_tags = svc.tags.clone();
        } else {
            check.service_name.clear();
            check.service_tags.clear();
        }
        let checks = self.checks.entry(nkey.clone()).or_default();
        let old = checks.get(&check.check_id).cloned();
        if let Some(o) = &old {
            check.create_index = o.create_index;
            check.modify_index = o.modify_index;
            if *o == check {
                return Ok(Reply::Done);
            }
        } else {
            check.create_index = index;
        }
        check.modify_index = index;
        let critical = check.status == HealthStatus::Critical;
        let cid = check.check_id.clone();
        checks.insert(cid.clone(), check.clone());
        self.index.checks = index;
        self.touch_check(index, &nkey, &check, t);
        if critical {
            self.invalidate_sessions_for_check(index, &nkey, &cid, now_ms, t);
        }
        Ok(Reply::Done)
    }

    fn touch_check(&mut self, index: u64, nkey: &str, check: &CheckRecord, t: &mut Touched) {
        t.push(WatchKey::Checks);
        t.push(WatchKey::Node(nkey.to_string()));
        if check.service_id.is_empty() {
            // A node check changes the health of every service on the node.
            self.touch_node(index, nkey, t);
        } else {
            self.touch_service(index, &lower(&check.service_name), t);
        }
    }

    fn remove_check(
        &mut self,
        index: u64,
        nkey: &str,
        check_id: &str,
        now_ms: u64,
        t: &mut Touched,
    ) -> bool {
        let Some(c) = self.checks.get_mut(nkey).and_then(|m| m.remove(check_id)) else {
            return false;
        };
        self.index.checks = index;
        self.touch_check(index, nkey, &c, t);
        self.invalidate_sessions_for_check(index, nkey, check_id, now_ms, t);
        true
    }

    pub(super) fn deregister_node(&mut self, index: u64, node: &str, now_ms: u64, t: &mut Touched) {
        let nkey = lower(node);
        if self.nodes.remove(&nkey).is_none() {
            return;
        }
        self.index.nodes = index;
        t.push(WatchKey::Nodes);
        t.push(WatchKey::Node(nkey.clone()));
        if let Some(svcs) = self.services.remove(&nkey) {
            self.index.services = index;
            t.push(WatchKey::Services);
            for s in svcs.values() {
                let n = lower(&s.name);
                if let Some(set) = self.by_name.get_mut(&n) {
                    set.remove(&(nkey.clone(), s.id.clone()));
                }
                self.touch_service(index, &n, t);
            }
        }
        if self.checks.remove(&nkey).is_some() {
            self.index.checks = index;
            t.push(WatchKey::Checks);
        }
        self.drop_coordinate(index, &nkey, t);
        let ids: Vec<String> = self
            .sessions
            .values()
            .filter(|s| lower(&s.node) == nkey)
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            self.session_invalidate(index, &id, now_ms, t);
        }
    }

    pub(super) fn deregister_service(
        &mut self,
        index: u64,
        node: &str,
        service_id: &str,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        let nkey = lower(node);
        let Some(s) = self
            .services
            .get_mut(&nkey)
            .and_then(|m| m.remove(service_id))
        else {
            return Err(CatalogError::UnknownService(service_id.to_string()));
        };
        let n = lower(&s.name);
        if let Some(set) = self.by_name.get_mut(&n) {
            set.remove(&(nkey.clone(), s.id.clone()));
            if set.is_empty() {
                self.by_name.remove(&n);
            }
        }
        self.index.services = index;
        t.push(WatchKey::Services);
        t.push(WatchKey::Node(nkey.clone()));
        self.touch_service(index, &n, t);
        let ids: Vec<String> = self
            .checks
            .get(&nkey)
            .map(|m| {
                m.values()
                    .filter(|c| c.service_id == service_id)
                    .map(|c| c.check_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in ids {
            self.remove_check(index, &nkey, &id, now_ms, t);
        }
        Ok(Reply::Bool(true))
    }

    pub(super) fn deregister_check(
        &mut self,
        index: u64,
        node: &str,
        check_id: &str,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        if self.remove_check(index, &lower(node), check_id, now_ms, t) {
            Ok(Reply::Bool(true))
        } else {
            Err(CatalogError::UnknownCheck(check_id.to_string()))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn update_check(
        &mut self,
        index: u64,
        node: &str,
        check_id: &str,
        status: HealthStatus,
        output: &str,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        let nkey = lower(node);
        let Some(c) = self.checks.get_mut(&nkey).and_then(|m| m.get_mut(check_id)) else {
            return Err(CatalogError::UnknownCheck(check_id.to_string()));
        };
        if c.status == status && c.output == output {
            return Ok(Reply::Done);
        }
        c.status = status;
        c.output = output.to_string();
        c.modify_index = index;
        let c = c.clone();
        self.index.checks = index;
        self.touch_check(index, &nkey, &c, t);
        if status == HealthStatus::Critical {
            self.invalidate_sessions_for_check(index, &nkey, check_id, now_ms, t);
        }
        Ok(Reply::Done)
    }

    /// Replaces the state with a restored one. Every index moves to `index` so that blocking
    /// clients see the change (Consul lets indexes go backwards here; we do not).
    fn restore(&mut self, index: u64, mut new: State) {
        new.reindex();
        new.index = Indexes {
            nodes: index,
            services: index,
            checks: index,
            kv: index,
            sessions: index,
            coordinates: index,
            prepared_queries: index,
        };
        for v in new.service_index.values_mut() {
            *v = index;
        }
        for names in self.service_index.keys() {
            new.service_index.insert(names.clone(), index);
        }
        new.acl.restored_at(index);
        new.last_index = index;
        new.restore_index = index;
        *self = new;
    }

    /// Every service instance with this name, in (node, service id) order.
    pub fn instances(&self, name: &str) -> Vec<(&NodeRecord, &ServiceRecord)> {
        let Some(set) = self.by_name.get(&lower(name)) else {
            return Vec::new();
        };
        let mut out: Vec<(&NodeRecord, &ServiceRecord)> = set
            .iter()
            .filter_map(|(n, id)| Some((self.nodes.get(n)?, self.services.get(n)?.get(id)?)))
            .collect();
        out.sort_by(|a, b| a.0.node.cmp(&b.0.node).then_with(|| a.1.id.cmp(&b.1.id)));
        out
    }

    /// The index a query about service `name` reports.
    pub fn service_idx(&self, name: &str) -> u64 {
        self.service_index
            .get(&lower(name))
            .copied()
            .unwrap_or(self.index.services)
    }
}
