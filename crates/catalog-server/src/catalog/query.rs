//! Reads: wire shapes built from the state, each with the index a blocking query compares
//! against and the watch keys it depends on. Sort orders and `[]`/`null` follow Consul.

use super::health::HealthStatus;
use super::records::*;
use super::state::{lower, State, WatchKey};
use api_types::*;
use base64::Engine;
use std::collections::{BTreeMap, BTreeSet};

/// A query's result: the value, its index, and what to wait on.
pub struct Answer<T> {
    pub value: T,
    pub index: u64,
    pub watch: Vec<WatchKey>,
}

impl<T> Answer<T> {
    fn new(value: T, index: u64, watch: Vec<WatchKey>) -> Self {
        Answer {
            value,
            index,
            watch,
        }
    }
}

pub fn node_wire(n: &NodeRecord) -> Node {
    Node {
        id: n.id.clone(),
        node: n.node.clone(),
        address: n.address.clone(),
        datacenter: n.datacenter.clone(),
        tagged_addresses: n.tagged_addresses.clone(),
        meta: n.meta.clone(),
        create_index: n.create_index,
        modify_index: n.modify_index,
    }
}

pub fn node_service_wire(s: &ServiceRecord) -> NodeService {
    NodeService {
        kind: s.kind.clone(),
        id: s.id.clone(),
        service: s.name.clone(),
        tags: s.tags.clone(),
        address: s.address.clone(),
        tagged_addresses: s.tagged_addresses.clone(),
        meta: Some(s.meta.clone()),
        port: s.port,
        socket_path: String::new(),
        weights: s.weights,
        enable_tag_override: s.enable_tag_override,
        proxy: ServiceProxy::default(),
        connect: Default::default(),
        peer_name: String::new(),
        create_index: s.create_index,
        modify_index: s.modify_index,
    }
}

pub fn agent_service_wire(s: &ServiceRecord, dc: &str) -> AgentService {
    AgentService {
        kind: s.kind.clone(),
        id: s.id.clone(),
        service: s.name.clone(),
        tags: s.tags.clone(),
        meta: s.meta.clone(),
        port: s.port,
        address: s.address.clone(),
        tagged_addresses: s.tagged_addresses.clone(),
        weights: s.weights,
        enable_tag_override: s.enable_tag_override,
        content_hash: String::new(),
        datacenter: dc.to_string(),
    }
}

pub fn check_wire(c: &CheckRecord) -> HealthCheck {
    HealthCheck {
        node: c.node.clone(),
        check_id: c.check_id.clone(),
        name: c.name.clone(),
        status: c.status.to_string(),
        notes: c.notes.clone(),
        output: c.output.clone(),
        service_id: c.service_id.clone(),
        service_name: c.service_name.clone(),
        service_tags: c.service_tags.clone(),
        check_type: c.check_type.to_string(),
        interval: GoDuration(c.interval).to_string_or_empty(),
        timeout: GoDuration(c.timeout).to_string_or_empty(),
        exposed_port: 0,
        definition: c.definition.clone(),
        create_index: c.create_index,
        modify_index: c.modify_index,
    }
}

pub fn kv_wire(e: &KvRecord) -> KvPair {
    KvPair {
        lock_index: e.lock_index,
        key: e.key.clone(),
        flags: e.flags,
        value: if e.value.is_empty() {
            None
        } else {
            Some(base64::engine::general_purpose::STANDARD.encode(&e.value))
        },
        session: e.session.clone(),
        create_index: e.create_index,
        modify_index: e.modify_index,
    }
}

pub fn session_wire(s: &SessionRecord) -> SessionEntry {
    SessionEntry {
        id: s.id.clone(),
        name: s.name.clone(),
        node: s.node.clone(),
        lock_delay: s.lock_delay,
        behavior: s.behavior.clone(),
        ttl: s.ttl.clone(),
        node_checks: Some(s.node_checks.clone()),
        service_checks: s.service_checks.clone(),
        create_index: s.create_index,
        modify_index: s.modify_index,
    }
}

fn has_tags(s: &ServiceRecord, tags: &[String]) -> bool {
    tags.iter()
        .all(|t| s.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
}

fn meta_match(n: &NodeRecord, node_meta: &[(String, String)]) -> bool {
    node_meta
        .iter()
        .all(|(k, v)| n.meta.as_ref().and_then(|m| m.get(k)) == Some(v))
}

impl State {
    pub fn q_nodes(&self, node_meta: &[(String, String)]) -> Answer<Vec<Node>> {
        let mut v: Vec<Node> = self
            .nodes
            .values()
            .filter(|n| meta_match(n, node_meta))
            .map(node_wire)
            .collect();
        v.sort_by(|a, b| a.node.cmp(&b.node));
        Answer::new(v, self.index.nodes, vec![WatchKey::Nodes])
    }

    /// `/v1/operator/usage`'s counts: service names, instances, instances by Connect kind,
    /// billable instances (all but the `consul` service's and Connect proxies' and gateways'),
    /// nodes.
    pub fn q_usage(&self) -> Answer<Usage> {
        let mut u = Usage::default();
        for kind in CONNECT_KINDS {
            u.connect.insert(kind.to_string(), 0);
        }
        let mut names = BTreeSet::new();
        for svcs in self.services.values() {
            for s in svcs.values() {
                names.insert(s.name.as_str());
                u.instances += 1;
                match u.connect.get_mut(s.kind.as_str()) {
                    Some(n) => *n += 1,
                    None if s.name == "consul" => {}
                    None => u.billable += 1,
                }
            }
        }
        u.services = names.len();
        u.nodes = self.nodes.len();
        Answer::new(
            u,
            self.index.services.max(self.index.nodes),
            vec![WatchKey::Services, WatchKey::Nodes],
        )
    }

    pub fn q_services(
        &self,
        node_meta: &[(String, String)],
    ) -> Answer<BTreeMap<String, Vec<String>>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (nkey, svcs) in &self.services {
            if let Some(n) = self.nodes.get(nkey) {
                if !meta_match(n, node_meta) {
                    continue;
                }
            }
            for s in svcs.values() {
                out.entry(s.name.clone())
                    .or_default()
                    .extend(s.tags.iter().cloned());
            }
        }
        let v = out
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        Answer::new(
            v,
            self.index.services.max(self.index.nodes),
            vec![WatchKey::Services, WatchKey::Nodes],
        )
    }

    pub fn q_catalog_service(
        &self,
        name: &str,
        tags: &[String],
        node_meta: &[(String, String)],
    ) -> Answer<Vec<CatalogService>> {
        let v = self
            .instances(name)
            .into_iter()
            .filter(|(n, s)| has_tags(s, tags) && meta_match(n, node_meta))
            .map(|(n, s)| CatalogService {
                id: n.id.clone(),
                node: n.node.clone(),
                address: n.address.clone(),
                datacenter: n.datacenter.clone(),
                tagged_addresses: n.tagged_addresses.clone(),
                node_meta: n.meta.clone(),
                service_kind: s.kind.clone(),
                service_id: s.id.clone(),
                service_name: s.name.clone(),
                service_tags: s.tags.clone(),
                service_address: s.address.clone(),
                service_tagged_addresses: s.tagged_addresses.clone(),
                service_weights: s.weights,
                service_meta: s.meta.clone(),
                service_port: s.port,
                service_socket_path: String::new(),
                service_enable_tag_override: s.enable_tag_override,
                service_proxy: ServiceProxy::default(),
                service_connect: Default::default(),
                service_locality: None,
                create_index: s.create_index,
                modify_index: s.modify_index,
            })
            .collect();
        Answer::new(
            v,
            self.service_idx(name),
            vec![WatchKey::Service(lower(name))],
        )
    }

    /// The checks that decide an instance's health: its node's and its own.
    pub(super) fn instance_checks<'a>(
        &'a self,
        nkey: &str,
        service_id: &'a str,
    ) -> impl Iterator<Item = &'a CheckRecord> + 'a {
        self.checks
            .get(nkey)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(move |c| c.service_id.is_empty() || c.service_id == service_id)
    }

    fn node_checks_and(&self, nkey: &str, service_id: &str) -> Vec<HealthCheck> {
        self.instance_checks(nkey, service_id)
            .map(check_wire)
            .collect()
    }

    pub fn q_health_service(
        &self,
        name: &str,
        tags: &[String],
        passing: bool,
        node_meta: &[(String, String)],
    ) -> Answer<Vec<ServiceEntry>> {
        let v = self
            .instances(name)
            .into_iter()
            .filter(|(n, s)| has_tags(s, tags) && meta_match(n, node_meta))
            .map(|(n, s)| ServiceEntry {
                node: node_wire(n),
                service: node_service_wire(s),
                checks: self.node_checks_and(&lower(&n.node), &s.id),
            })
            .filter(|e| !passing || e.checks.iter().all(|c| c.status == "passing"))
            .collect();
        Answer::new(
            v,
            self.service_idx(name),
            vec![WatchKey::Service(lower(name))],
        )
    }

    pub fn q_catalog_node(&self, node: &str) -> Answer<Option<(Node, Vec<NodeService>)>> {
        let nkey = lower(node);
        let v = self.nodes.get(&nkey).map(|n| {
            let svcs = self
                .services
                .get(&nkey)
                .map(|m| m.values().map(node_service_wire).collect())
                .unwrap_or_default();
            (node_wire(n), svcs)
        });
        let idx = self.index.nodes.max(self.index.services);
        Answer::new(v, idx, vec![WatchKey::Node(nkey)])
    }

    pub fn q_health_node(&self, node: &str) -> Answer<Vec<HealthCheck>> {
        let nkey = lower(node);
        let v = self
            .checks
            .get(&nkey)
            .map(|m| m.values().map(check_wire).collect())
            .unwrap_or_default();
        Answer::new(v, self.index.checks, vec![WatchKey::Node(nkey)])
    }

    pub fn q_health_checks(&self, service: &str) -> Answer<Vec<HealthCheck>> {
        let mut v = Vec::new();
        for (n, s) in self.instances(service) {
            if let Some(m) = self.checks.get(&lower(&n.node)) {
                v.extend(m.values().filter(|c| c.service_id == s.id).map(check_wire));
            }
        }
        Answer::new(
            v,
            self.service_idx(service),
            vec![WatchKey::Service(lower(service))],
        )
    }

    /// Checks in `state` (a status, or `any`); a word that is neither matches nothing.
    pub fn q_health_state(&self, state: &str) -> Answer<Vec<HealthCheck>> {
        let state = match state {
            "any" => None,
            s => match HealthStatus::parse(s) {
                Some(s) => Some(s),
                None => return Answer::new(Vec::new(), self.index.checks, vec![WatchKey::Checks]),
            },
        };
        let v = self
            .checks
            .values()
            .flat_map(|m| m.values())
            .filter(|c| state.is_none_or(|s| c.status == s))
            .map(check_wire)
            .collect();
        Answer::new(v, self.index.checks, vec![WatchKey::Checks])
    }

    pub fn q_kv_get(&self, key: &str) -> Answer<Option<KvPair>> {
        let (v, idx) = match self.kv.get(key) {
            Some(e) => (Some(kv_wire(e)), e.modify_index.max(self.restore_index)),
            None => (None, self.index.kv),
        };
        Answer::new(v, idx, vec![WatchKey::KvPrefix(key.to_string())])
    }

    pub fn q_kv_list(&self, prefix: &str) -> Answer<Vec<KvPair>> {
        let v = self
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| kv_wire(e))
            .collect();
        Answer::new(
            v,
            self.kv_prefix_index(prefix),
            vec![WatchKey::KvPrefix(prefix.to_string())],
        )
    }

    pub fn q_kv_keys(&self, prefix: &str, separator: &str) -> Answer<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for k in self
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k)
        {
            let cut = if separator.is_empty() {
                None
            } else {
                k[prefix.len()..]
                    .find(separator)
                    .map(|i| &k[..prefix.len() + i + separator.len()])
            };
            let item = cut.unwrap_or(k);
            if out.last().map(String::as_str) != Some(item) {
                out.push(item.to_string());
            }
        }
        Answer::new(
            out,
            self.kv_prefix_index(prefix),
            vec![WatchKey::KvPrefix(prefix.to_string())],
        )
    }

    pub fn q_sessions(&self, filter: impl Fn(&SessionRecord) -> bool) -> Answer<Vec<SessionEntry>> {
        let mut v: Vec<SessionEntry> = self
            .sessions
            .values()
            .filter(|s| filter(s))
            .map(session_wire)
            .collect();
        v.sort_by_key(|s| s.create_index);
        Answer::new(v, self.index.sessions, vec![WatchKey::Sessions])
    }
}

/// The Connect kinds `/v1/operator/usage` counts instances of.
const CONNECT_KINDS: [&str; 6] = [
    "api-gateway",
    "connect-native",
    "connect-proxy",
    "ingress-gateway",
    "mesh-gateway",
    "terminating-gateway",
];

/// One datacenter's usage, in Consul's `ServiceUsage` shape.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Usage {
    #[serde(rename = "Services")]
    pub services: usize,
    #[serde(rename = "ServiceInstances")]
    pub instances: usize,
    #[serde(rename = "ConnectServiceInstances")]
    pub connect: BTreeMap<String, usize>,
    #[serde(rename = "BillableServiceInstances")]
    pub billable: usize,
    #[serde(rename = "Nodes")]
    pub nodes: usize,
}
