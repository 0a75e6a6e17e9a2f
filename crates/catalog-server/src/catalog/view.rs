//! What the agent asks of the catalog state besides the HTTP queries: its own node's
//! registrations, whether a node or check exists, the sessions to arm, the indexes that
//! tell it something changed, and what the DNS interface answers from (nodes, and service
//! instances with their health).

use super::health::HealthStatus;
use super::records::{CheckRecord, NodeRecord, ServiceRecord, SessionRecord};
use super::state::{lower, State};

impl State {
    /// Whether node `node` is registered.
    pub fn has_node(&self, node: &str) -> bool {
        self.nodes.contains_key(&lower(node))
    }

    /// Whether node `node` carries check `check_id`.
    pub fn has_check(&self, node: &str, check_id: &str) -> bool {
        self.checks
            .get(&lower(node))
            .is_some_and(|m| m.contains_key(check_id))
    }

    /// Check `check_id` of node `node`.
    pub fn check(&self, node: &str, check_id: &str) -> Option<&CheckRecord> {
        self.checks.get(&lower(node)).and_then(|m| m.get(check_id))
    }

    /// The names of the nodes carrying check `check_id` (`serfHealth`: the gossip members the
    /// leader registered).
    pub fn nodes_with_check(&self, check_id: &str) -> Vec<String> {
        self.checks
            .iter()
            .filter(|(_, m)| m.contains_key(check_id))
            .filter_map(|(key, _)| self.nodes.get(key).map(|n| n.node.clone()))
            .collect()
    }

    /// Every service instance of node `node`.
    pub fn services_of(&self, node: &str) -> impl Iterator<Item = &ServiceRecord> {
        self.services
            .get(&lower(node))
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Every check of node `node`.
    pub fn checks_of(&self, node: &str) -> impl Iterator<Item = &CheckRecord> {
        self.checks
            .get(&lower(node))
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// The services registered through node `node`'s agent (its API and config files).
    pub fn agent_services(&self, node: &str) -> impl Iterator<Item = &ServiceRecord> {
        self.services
            .get(&lower(node))
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|s| s.agent)
    }

    /// The checks node `node`'s agent runs (those with a definition).
    pub fn agent_checks(&self, node: &str) -> impl Iterator<Item = &CheckRecord> {
        self.checks
            .get(&lower(node))
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|c| c.spec.is_some())
    }

    /// What `/v1/agent/checks` lists for node `node`: the checks the agent runs and its
    /// maintenance-mode checks.
    pub fn agent_listed_checks(&self, node: &str) -> impl Iterator<Item = &CheckRecord> {
        self.checks
            .get(&lower(node))
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|c| c.spec.is_some() || c.check_type == super::CheckKind::Maintenance)
    }

    /// Node `node` (case-insensitive).
    pub fn node(&self, node: &str) -> Option<&NodeRecord> {
        self.nodes.get(&lower(node))
    }

    /// The instances of service `name` (case-insensitive) with their health: the worst status
    /// of the checks `/v1/health/service` shows with them (the node's and the instance's own;
    /// passing when there are none).
    pub fn instances_with_health(
        &self,
        name: &str,
    ) -> Vec<(&NodeRecord, &ServiceRecord, HealthStatus)> {
        self.instances(name)
            .into_iter()
            .map(|(n, s)| {
                let worst = self
                    .instance_checks(&lower(&n.node), &s.id)
                    .map(|c| c.status)
                    .fold(HealthStatus::Passing, |worst, st| match (worst, st) {
                        (HealthStatus::Critical, _) | (_, HealthStatus::Critical) => {
                            HealthStatus::Critical
                        }
                        (HealthStatus::Warning, _) | (_, HealthStatus::Warning) => {
                            HealthStatus::Warning
                        }
                        _ => HealthStatus::Passing,
                    });
                (n, s, worst)
            })
            .collect()
    }

    /// Service instance `id` of node `node`.
    pub fn service(&self, node: &str, id: &str) -> Option<&ServiceRecord> {
        self.services.get(&lower(node)).and_then(|m| m.get(id))
    }

    pub fn sessions(&self) -> impl Iterator<Item = &SessionRecord> {
        self.sessions.values()
    }

    /// The index of the last applied command.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    /// Whether deleted KV keys still have tombstones to reap.
    pub fn has_tombstones(&self) -> bool {
        !self.tombstones.is_empty()
    }

    /// The last index at which any node, service or check changed.
    pub fn registrations_index(&self) -> u64 {
        self.index
            .nodes
            .max(self.index.services)
            .max(self.index.checks)
    }

    /// Records that the Raft entry at `index` was applied (entries that carry no command).
    pub fn applied(&mut self, index: u64) {
        self.last_index = self.last_index.max(index);
    }
}
