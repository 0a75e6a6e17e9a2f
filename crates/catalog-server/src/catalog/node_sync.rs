//! Anti-entropy's unit: a client agent's node as the agent holds it (node, services, checks),
//! and the commands that make the catalog's copy equal to it. Only what differs is written;
//! what the catalog has of the node beyond it (services or checks written through
//! `/v1/catalog/register`, or removed on the agent) is deregistered, as Consul's agent does.
//! `serfHealth` belongs to the leader and is never touched.

use super::records::{CheckRecord, NodeRecord, ServiceRecord};
use super::{Command, State};
use serde::{Deserialize, Serialize};

/// The check the leader keeps for every gossip member.
const SERF_CHECK: &str = "serfHealth";

/// A client agent's node, services and checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSync {
    pub node: NodeRecord,
    pub services: Vec<ServiceRecord>,
    pub checks: Vec<CheckRecord>,
}

impl State {
    /// The agent's view of its own node `node`, to send to the servers.
    pub fn node_sync(&self, node: &str) -> Option<NodeSync> {
        let record = self.node(node)?.clone();
        let services = self.services_of(node).cloned().collect();
        let checks = self
            .checks_of(node)
            .filter(|c| c.check_id != SERF_CHECK)
            .cloned()
            .collect();
        Some(NodeSync {
            node: record,
            services,
            checks,
        })
    }

    /// The commands that bring the catalog's copy of `sync.node` in line with `sync`.
    pub fn sync_commands(&self, sync: &NodeSync) -> Vec<Command> {
        let name = sync.node.node.as_str();
        let mut cmds = Vec::new();
        let node_differs = self.node(name).is_none_or(|n| {
            n.id != sync.node.id
                || n.address != sync.node.address
                || n.tagged_addresses != sync.node.tagged_addresses
                || n.meta != sync.node.meta
        });
        if node_differs {
            cmds.push(Command::RegisterNode {
                node: sync.node.clone(),
                skip_node_update: false,
            });
        }
        for svc in &sync.services {
            if self
                .service(name, &svc.id)
                .is_none_or(|have| !same_service(have, svc))
            {
                cmds.push(Command::RegisterService {
                    node: name.to_string(),
                    service: svc.clone(),
                    checks: vec![],
                    replace_existing_checks: false,
                });
            }
        }
        for have in self.services_of(name) {
            if !sync.services.iter().any(|s| s.id == have.id) {
                cmds.push(Command::DeregisterService {
                    node: name.to_string(),
                    service_id: have.id.clone(),
                });
            }
        }
        for check in &sync.checks {
            if self
                .check(name, &check.check_id)
                .is_none_or(|have| !same_check(have, check))
            {
                let mut check = check.clone();
                check.node = name.to_string();
                cmds.push(Command::RegisterCheck { check });
            }
        }
        for have in self.checks_of(name) {
            let removed_service = !have.service_id.is_empty()
                && !sync.services.iter().any(|s| s.id == have.service_id);
            if have.check_id != SERF_CHECK
                && !removed_service
                && !sync.checks.iter().any(|c| c.check_id == have.check_id)
            {
                cmds.push(Command::DeregisterCheck {
                    node: name.to_string(),
                    check_id: have.check_id.clone(),
                });
            }
        }
        cmds
    }
}

fn same_service(a: &ServiceRecord, b: &ServiceRecord) -> bool {
    let strip = |s: &ServiceRecord| ServiceRecord {
        create_index: 0,
        modify_index: 0,
        ..s.clone()
    };
    strip(a) == strip(b)
}

fn same_check(a: &CheckRecord, b: &CheckRecord) -> bool {
    let strip = |c: &CheckRecord| CheckRecord {
        create_index: 0,
        modify_index: 0,
        ..c.clone()
    };
    strip(a) == strip(b)
}
