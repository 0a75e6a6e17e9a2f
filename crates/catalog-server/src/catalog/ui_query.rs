//! Reads behind the web UI's internal endpoints (`/v1/internal/ui/services`, `.../nodes`,
//! `.../node/:node`), in Consul's shapes: per-service summaries with instance and check counts,
//! and nodes with their service instances and checks. Like every query they return an
//! [`Answer`] whose watch keys wake a blocked UI page only when the data it shows changed.

use super::health::HealthStatus;
use super::query::{check_wire, node_service_wire, Answer};
use super::records::NodeRecord;
use super::state::{lower, State, WatchKey};
use api_types::{HealthCheck, NodeService, StrMap};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One element of `/v1/internal/ui/services`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UiService {
    #[serde(rename = "Kind", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    /// Deduplicated and sorted; `null` when no instance has tags.
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
    /// Sorted, deduplicated node names.
    #[serde(rename = "Nodes")]
    pub nodes: Vec<String>,
    #[serde(rename = "ExternalSources")]
    pub external_sources: Option<Vec<String>>,
    #[serde(rename = "InstanceCount")]
    pub instance_count: usize,
    #[serde(rename = "ChecksPassing")]
    pub checks_passing: usize,
    #[serde(rename = "ChecksWarning")]
    pub checks_warning: usize,
    #[serde(rename = "ChecksCritical")]
    pub checks_critical: usize,
    #[serde(rename = "GatewayConfig")]
    pub gateway_config: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "TransparentProxy")]
    pub transparent_proxy: bool,
    #[serde(rename = "ConnectNative")]
    pub connect_native: bool,
    #[serde(rename = "ConnectedWithProxy")]
    pub connected_with_proxy: bool,
    #[serde(rename = "ConnectedWithGateway")]
    pub connected_with_gateway: bool,
}

/// One element of `/v1/internal/ui/nodes`, and the body of `/v1/internal/ui/node/:node`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UiNode {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Node")]
    pub node: String,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "TaggedAddresses")]
    pub tagged_addresses: StrMap,
    #[serde(rename = "Meta")]
    pub meta: StrMap,
    #[serde(rename = "Services")]
    pub services: Vec<NodeService>,
    #[serde(rename = "Checks")]
    pub checks: Vec<HealthCheck>,
}

/// Accumulates one service's summary across its instances.
#[derive(Default)]
struct Summary {
    kind: String,
    tags: BTreeSet<String>,
    nodes: BTreeSet<String>,
    sources: BTreeSet<String>,
    instances: usize,
    /// (node key, check id) → status: a node check counts once however many instances share it.
    checks: BTreeMap<(String, String), HealthStatus>,
}

impl State {
    /// The index and watch keys of a view spanning nodes, services and checks.
    fn ui_all_index(&self) -> u64 {
        self.index
            .nodes
            .max(self.index.services)
            .max(self.index.checks)
    }

    /// `/v1/internal/ui/services`: one summary per service name, sorted by name.
    pub fn q_ui_services(&self, dc: &str) -> Answer<Vec<UiService>> {
        let mut by_name: BTreeMap<String, Summary> = BTreeMap::new();
        for (nkey, svcs) in &self.services {
            let Some(node) = self.nodes.get(nkey) else {
                continue;
            };
            let node_checks = self.checks.get(nkey);
            for s in svcs.values() {
                let sum = by_name.entry(s.name.clone()).or_default();
                sum.kind.clone_from(&s.kind);
                sum.instances += 1;
                sum.tags.extend(s.tags.iter().cloned());
                sum.nodes.insert(node.node.clone());
                if let Some(src) = s.meta.get("external-source") {
                    sum.sources.insert(src.clone());
                }
                for c in node_checks.into_iter().flat_map(|m| m.values()) {
                    if c.service_id.is_empty() || c.service_id == s.id {
                        sum.checks
                            .insert((nkey.clone(), c.check_id.clone()), c.status);
                    }
                }
            }
        }
        let value = by_name
            .into_iter()
            .map(|(name, s)| {
                let count = |st: HealthStatus| s.checks.values().filter(|v| **v == st).count();
                UiService {
                    kind: s.kind,
                    name,
                    datacenter: dc.to_string(),
                    tags: (!s.tags.is_empty()).then(|| s.tags.into_iter().collect()),
                    nodes: s.nodes.into_iter().collect(),
                    external_sources: (!s.sources.is_empty())
                        .then(|| s.sources.into_iter().collect()),
                    instance_count: s.instances,
                    checks_passing: count(HealthStatus::Passing),
                    checks_warning: count(HealthStatus::Warning),
                    checks_critical: count(HealthStatus::Critical),
                    gateway_config: Default::default(),
                    transparent_proxy: false,
                    connect_native: false,
                    connected_with_proxy: false,
                    connected_with_gateway: false,
                }
            })
            .collect();
        Answer {
            value,
            index: self.ui_all_index(),
            watch: vec![WatchKey::Nodes, WatchKey::Services, WatchKey::Checks],
        }
    }

    fn ui_node(&self, nkey: &str, n: &NodeRecord) -> UiNode {
        let services = self
            .services
            .get(nkey)
            .map(|m| m.values().map(node_service_wire).collect())
            .unwrap_or_default();
        let checks = self
            .checks
            .get(nkey)
            .map(|m| m.values().map(check_wire).collect())
            .unwrap_or_default();
        UiNode {
            id: n.id.clone(),
            node: n.node.clone(),
            address: n.address.clone(),
            tagged_addresses: n.tagged_addresses.clone().unwrap_or_default(),
            meta: n.meta.clone().unwrap_or_default(),
            services,
            checks,
        }
    }

    /// `/v1/internal/ui/nodes`: every node with its services and checks, sorted by name.
    pub fn q_ui_nodes(&self) -> Answer<Vec<UiNode>> {
        let mut value: Vec<UiNode> = self.nodes.iter().map(|(k, n)| self.ui_node(k, n)).collect();
        value.sort_by(|a, b| a.node.cmp(&b.node));
        Answer {
            value,
            index: self.ui_all_index(),
            watch: vec![WatchKey::Nodes, WatchKey::Services, WatchKey::Checks],
        }
    }

    /// `/v1/internal/ui/node/:node`: one node (matched case-insensitively), `None` if unknown.
    pub fn q_ui_node(&self, node: &str) -> Answer<Option<UiNode>> {
        let nkey = lower(node);
        let value = self.nodes.get(&nkey).map(|n| self.ui_node(&nkey, n));
        Answer {
            value,
            index: self.ui_all_index(),
            watch: vec![WatchKey::Node(nkey)],
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::{CheckRecord, Command, Request, ServiceRecord};

    fn apply(s: &mut State, index: u64, cmd: Command) {
        let (r, _) = s.apply(index, &Request { now_ms: 0, cmd });
        r.unwrap();
    }

    fn node(s: &mut State, index: u64, name: &str) {
        let node = NodeRecord {
            node: name.into(),
            address: "10.0.0.1".into(),
            datacenter: "dc1".into(),
            ..Default::default()
        };
        apply(
            s,
            index,
            Command::RegisterNode {
                node,
                skip_node_update: false,
            },
        );
    }

    fn svc(s: &mut State, index: u64, node: &str, id: &str, name: &str, tags: &[&str]) {
        let service = ServiceRecord {
            id: id.into(),
            name: name.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            port: 80,
            ..Default::default()
        };
        let cmd = Command::RegisterService {
            node: node.into(),
            service,
            checks: vec![],
            replace_existing_checks: false,
        };
        apply(s, index, cmd);
    }

    fn check(s: &mut State, index: u64, node: &str, id: &str, service_id: &str, status: &str) {
        let check = CheckRecord {
            node: node.into(),
            check_id: id.into(),
            name: id.into(),
            status: HealthStatus::parse(status).unwrap_or_default(),
            service_id: service_id.into(),
            ..Default::default()
        };
        apply(s, index, Command::RegisterCheck { check });
    }

    /// Two web instances on one node share `serfHealth`, which counts once.
    fn sample() -> State {
        let mut s = State::default();
        node(&mut s, 1, "n1");
        node(&mut s, 2, "n2");
        check(&mut s, 3, "n1", "serfHealth", "", "passing");
        svc(&mut s, 4, "n1", "web1", "web", &["b", "a"]);
        svc(&mut s, 5, "n1", "web2", "web", &["a"]);
        svc(&mut s, 6, "n2", "db", "db", &[]);
        check(&mut s, 7, "n1", "web1-http", "web1", "critical");
        check(&mut s, 8, "n1", "web2-http", "web2", "warning");
        s
    }

    #[test]
    fn services_summaries_in_consul_shape() {
        let a = sample().q_ui_services("dc1");
        assert_eq!(a.index, 8);
        let v = serde_json::to_value(&a.value).unwrap();
        assert_eq!(v[0]["Name"], "db");
        assert_eq!(v[0]["Tags"], serde_json::Value::Null);
        assert_eq!(v[0]["ChecksPassing"], 0);
        let web = &v[1];
        let keys: Vec<&str> = web
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert!(!keys.contains(&"Kind"), "Kind is omitted when empty");
        assert_eq!(web["Name"], "web");
        assert_eq!(web["Datacenter"], "dc1");
        assert_eq!(web["Tags"], serde_json::json!(["a", "b"]));
        assert_eq!(web["Nodes"], serde_json::json!(["n1"]));
        assert_eq!(web["InstanceCount"], 2);
        assert_eq!(web["ChecksPassing"], 1);
        assert_eq!(web["ChecksWarning"], 1);
        assert_eq!(web["ChecksCritical"], 1);
        assert_eq!(web["GatewayConfig"], serde_json::json!({}));
        assert_eq!(web["ConnectedWithProxy"], false);
    }

    #[test]
    fn nodes_carry_services_and_checks() {
        let s = sample();
        let a = s.q_ui_nodes();
        let v = serde_json::to_value(&a.value).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[0]["Node"], "n1");
        assert_eq!(v[0]["Services"].as_array().unwrap().len(), 2);
        assert_eq!(v[0]["Checks"].as_array().unwrap().len(), 3);
        assert_eq!(v[1]["Checks"], serde_json::json!([]));
        assert_eq!(v[1]["Meta"], serde_json::json!({}));
        assert_eq!(v[1]["TaggedAddresses"], serde_json::json!({}));
        let one = s.q_ui_node("N1");
        assert_eq!(one.value.as_ref().map(|n| n.node.as_str()), Some("n1"));
        assert_eq!(one.watch, vec![WatchKey::Node("n1".into())]);
        assert!(s.q_ui_node("nope").value.is_none());
    }
}
