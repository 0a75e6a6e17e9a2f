//! Servers finding each other: `-retry-join`/`-join` addresses are polled on their server port;
//! with `-bootstrap-expect=N` the server with the lowest ID bootstraps Raft once N servers know
//! each other; a server that meets an existing cluster asks to join it. The same loop keeps a
//! last-seen time per server, which `consul members` reports as `alive`/`failed`/`left`, and the
//! leader mirrors into each server's catalog node (`serfHealth`) the way Consul's leader mirrors
//! gossip membership.

use super::Agent;
use crate::catalog::{CheckRecord, Command, HealthStatus, NodeRecord};
use crate::raft::ServerNode;
use api_types::Member;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server is `failed` when not heard from for this long.
const FAILED_AFTER: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(500);

/// What this server knows of the others.
#[derive(Default)]
pub struct Peers {
    seen: Mutex<HashMap<u64, (ServerNode, Instant)>>,
    /// Servers whose storage refuses writes, and why.
    storage: Mutex<HashMap<u64, String>>,
}

impl Peers {
    fn saw(&self, id: u64, node: ServerNode, storage_error: Option<String>) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (node, Instant::now()));
        let mut storage = self.storage.lock().unwrap_or_else(|p| p.into_inner());
        match storage_error {
            Some(e) => storage.insert(id, e),
            None => storage.remove(&id),
        };
    }

    fn storage_error(&self, id: u64) -> Option<String> {
        self.storage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    fn alive(&self, id: u64) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .is_some_and(|(_, at)| at.elapsed() < FAILED_AFTER)
    }
}

/// `host`, `host:port` or `[v6]:port` → the server-port address to poll.
pub fn server_addr(join: &str, default_port: i32) -> String {
    if join.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{join}]:{default_port}");
    }
    let has_port = if join.starts_with('[') {
        join.contains("]:")
    } else {
        join.matches(':').count() == 1
    };
    if has_port {
        join.to_string()
    } else {
        format!("{join}:{default_port}")
    }
}

/// Runs for the agent's life: joining, bootstrap-expect, liveness, leader mirroring.
pub async fn run(agent: Arc<Agent>) {
    let c = &agent.config;
    let targets: Vec<String> = c
        .retry_join
        .iter()
        .map(|j| server_addr(j, c.ports.server))
        .collect();
    let mut last_mirror = Instant::now() - Duration::from_secs(60);
    loop {
        let me = agent.raft.info();
        let mut candidates: BTreeMap<u64, ServerNode> = BTreeMap::new();
        candidates.insert(me.id, me.node.clone());
        let mut member_of_cluster: Option<String> = None;
        let mut addrs: Vec<String> = targets.clone();
        addrs.extend(
            me.voters
                .iter()
                .filter(|(id, _)| **id != me.id)
                .map(|(_, n)| n.addr.clone()),
        );
        addrs.sort();
        addrs.dedup();
        for addr in addrs.iter().filter(|a| **a != me.node.addr) {
            if let Ok(info) = agent.raft.fetch_info(addr).await {
                agent
                    .peers
                    .saw(info.id, info.node.clone(), info.storage_error.clone());
                if info.initialized {
                    member_of_cluster.get_or_insert(addr.clone());
                } else {
                    candidates.insert(info.id, info.node);
                }
            }
        }
        if !me.initialized {
            if let Some(addr) = member_of_cluster {
                match agent.raft.request_join(&addr).await {
                    Ok(()) => tracing::info!(target: "agent", "Joined cluster through {addr}"),
                    Err(e) => tracing::debug!(target: "agent", "join through {addr} failed: {e}"),
                }
            } else if c.bootstrap_expect > 1
                && candidates.len() as u32 >= c.bootstrap_expect
                && candidates.keys().next() == Some(&me.id)
            {
                tracing::info!(target: "agent.server", "found expected number of peers, bootstrapping cluster: peers={}",
                    candidates.values().map(|n| n.addr.clone()).collect::<Vec<_>>().join(","));
                if let Err(e) = agent.raft.initialize(candidates).await {
                    tracing::warn!(target: "agent.server", "bootstrap failed: {e}");
                }
            }
        }
        if agent.raft.is_leader() && last_mirror.elapsed() >= Duration::from_secs(2) {
            mirror(&agent).await;
            last_mirror = Instant::now();
        }
        tokio::time::sleep(TICK).await;
    }
}

/// The leader registers every other server's node, `serfHealth` and `consul` service, and
/// marks a server that stopped answering critical, as Consul's leader does from gossip.
async fn mirror(agent: &Arc<Agent>) {
    let me = agent.raft.info();
    for (id, node) in me.voters.iter().filter(|(id, _)| **id != me.id) {
        let alive = agent.peers.alive(*id);
        let addr = node
            .addr
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']))
            .unwrap_or(&node.addr);
        let port = node
            .addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .unwrap_or(8300);
        let mut tagged = BTreeMap::new();
        for k in ["lan", "lan_ipv4", "wan", "wan_ipv4"] {
            tagged.insert(k.to_string(), addr.to_string());
        }
        let mut meta = BTreeMap::new();
        meta.insert("consul-network-segment".to_string(), String::new());
        meta.insert(
            "consul-version".to_string(),
            crate::version::VERSION.to_string(),
        );
        let record = NodeRecord {
            id: node.node_id.clone(),
            node: node.name.clone(),
            address: addr.to_string(),
            datacenter: agent.config.datacenter.clone(),
            tagged_addresses: Some(tagged),
            meta: Some(meta),
            create_index: 0,
            modify_index: 0,
        };
        let (status, output) = if alive {
            (HealthStatus::Passing, "Agent alive and reachable")
        } else {
            (HealthStatus::Critical, "Agent not live or unreachable")
        };
        let exists = agent.catalog().read(|s| s.has_node(&node.name));
        let mut cmds = vec![Command::RegisterNode {
            node: record,
            skip_node_update: exists && !alive,
        }];
        cmds.push(Command::RegisterCheck {
            check: CheckRecord {
                node: node.name.clone(),
                check_id: "serfHealth".into(),
                name: "Serf Health Status".into(),
                status,
                output: output.into(),
                ..Default::default()
            },
        });
        cmds.push(Command::RegisterService {
            node: node.name.clone(),
            service: super::leader::consul_service(port),
            checks: vec![],
            replace_existing_checks: false,
        });
        // A server whose disk refuses writes gets a critical check of its own until it heals.
        let storage_check = agent
            .catalog()
            .read(|s| s.has_check(&node.name, super::STORAGE_CHECK_ID));
        match agent.peers.storage_error(*id) {
            Some(why) if alive => cmds.push(Command::RegisterCheck {
                check: super::storage_check(&node.name, &why),
            }),
            _ if storage_check => cmds.push(Command::DeregisterCheck {
                node: node.name.clone(),
                check_id: super::STORAGE_CHECK_ID.into(),
            }),
            _ => {}
        }
        for cmd in cmds {
            if let Err(e) = agent.raft.propose(cmd).await {
                tracing::debug!(target: "agent.server", "failed to reconcile member {}: {e}", node.name);
                break;
            }
        }
    }
    // Servers that left are removed from the catalog.
    let left: Vec<ServerNode> = agent.raft.departed().into_values().collect();
    for node in left {
        let present = agent.catalog().read(|s| s.has_node(&node.name));
        if present {
            let _ = agent
                .raft
                .propose(Command::DeregisterNode {
                    node: node.name.clone(),
                })
                .await;
        }
    }
}

impl Agent {
    /// Every server this agent knows: itself, the voters, and those that left.
    pub fn members(&self) -> Vec<Member> {
        let me = self.raft.info();
        let template = self.member();
        let mut out = vec![template.clone()];
        let as_member = |id: u64, node: &ServerNode, status: u8| {
            let mut m = template.clone();
            m.name = node.name.clone();
            m.addr = node
                .addr
                .rsplit_once(':')
                .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
                .unwrap_or_default();
            m.tags.insert("id".into(), node.node_id.clone());
            if let Some((_, p)) = node.addr.rsplit_once(':') {
                m.tags.insert("port".into(), p.to_string());
            }
            m.tags.remove("bootstrap");
            m.status = status;
            let _ = id;
            m
        };
        for (id, node) in me.voters.iter().filter(|(id, _)| **id != me.id) {
            out.push(as_member(
                *id,
                node,
                if self.peers.alive(*id) { 1 } else { 4 },
            ));
        }
        for (id, node) in self.raft.departed().iter() {
            if *id != me.id && !me.voters.contains_key(id) {
                out.push(as_member(*id, node, 3));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn join_addresses_default_to_the_server_port() {
        assert_eq!(super::server_addr("127.0.0.2", 8300), "127.0.0.2:8300");
        assert_eq!(super::server_addr("127.0.0.2:9300", 8300), "127.0.0.2:9300");
        assert_eq!(super::server_addr("[::1]:9300", 8300), "[::1]:9300");
        assert_eq!(super::server_addr("::1", 8300), "[::1]:8300");
    }
}
