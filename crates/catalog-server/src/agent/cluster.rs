//! Agents finding each other and the catalog following them, as Consul does from Serf:
//! `-join`/`-retry-join` addresses are joined over gossip (retried every `retry_interval`, at
//! most `retry_max` times); a server that is not yet in a Raft cluster looks at the servers the
//! gossip pool lists (tag `role=consul`, `port`), bootstraps once `-bootstrap-expect` of them
//! are known, or asks an existing cluster to take it in. The leader reconciles the pool's
//! members into the catalog: an alive member's node and `serfHealth` (passing), a failed one's
//! `serfHealth` critical, a left one deregistered (a server removed from Raft too), a reaped
//! one deregistered.

use super::serf::{is_alive, server_addr, wire_member, STORAGE_TAG};
use super::Agent;
use crate::catalog::{CheckRecord, Command, HealthStatus, NodeRecord};
use crate::raft::ServerNode;
use api_types::Member;
use gossip::{MemberState, MemberStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(500);
/// How long a pool must have run before a node it does not list is taken for reaped: long
/// enough to have heard of every member after a restart.
const REAP_GRACE: Duration = Duration::from_secs(60);
const SERF_CHECK: &str = "serfHealth";

/// Runs for the agent's life: joining, bootstrap-expect, the storage tag, leader reconciling.
pub async fn run(agent: Arc<Agent>) {
    tokio::spawn(join(agent.clone()));
    loop {
        if let Some(raft) = agent.server() {
            agent
                .serf
                .set_storage_error(raft.storage_failure().map(|f| f.reason))
                .await;
            if !raft.info().initialized {
                discover(&agent).await;
            } else if raft.is_leader() {
                reconcile(&agent).await;
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

/// Joins the `-join`/`-retry-join` addresses until one answers.
async fn join(agent: Arc<Agent>) {
    let c = agent.config();
    if c.retry_join.is_empty() {
        return;
    }
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        tracing::info!(target: "agent", "Joining cluster...: cluster=LAN");
        tracing::info!(target: "agent", "(LAN) joining: lan_addresses=[{}]", c.retry_join.join(" "));
        match agent.serf.join(&c.retry_join).await {
            Ok(n) => {
                tracing::info!(target: "agent", "(LAN) joined: number_of_nodes={n}");
                tracing::info!(target: "agent", "Join cluster completed. Synced with initial agents: cluster=LAN num_agents={n}");
                return;
            }
            Err(e) => {
                tracing::warn!(target: "agent", "(LAN) couldn't join: number_of_nodes=0 error=\"{e}\"");
                if c.retry_max > 0 && attempt >= c.retry_max {
                    tracing::error!(target: "agent", "Join cluster failed, will not retry: cluster=LAN error=\"max join retry exhausted\"");
                    return;
                }
                tracing::warn!(target: "agent", "Join cluster failed, will retry: cluster=LAN retry_interval={} error=\"{e}\"",
                    api_types::format_go_duration(c.retry_interval.as_nanos() as i64));
            }
        }
        tokio::time::sleep(c.retry_interval).await;
    }
}

/// A server outside any Raft cluster: bootstraps with the servers gossip lists once
/// `-bootstrap-expect` of them are known, or joins the cluster one of them is in.
async fn discover(agent: &Arc<Agent>) {
    let Some(raft) = agent.server() else { return };
    let c = agent.config();
    let me = raft.info();
    let mut candidates: BTreeMap<u64, ServerNode> = BTreeMap::new();
    candidates.insert(me.id, me.node.clone());
    let mut member_of_cluster: Option<String> = None;
    for m in agent.serf.members().await {
        if m.name() == c.node_name || !is_alive(&m) {
            continue;
        }
        let Some(addr) = server_addr(&m, &c.datacenter) else {
            continue;
        };
        if let Ok(info) = raft.fetch_info(&addr).await {
            if info.initialized {
                member_of_cluster.get_or_insert(addr);
            } else {
                candidates.insert(info.id, info.node);
            }
        }
    }
    if let Some(addr) = member_of_cluster {
        match raft.request_join(&addr).await {
            Ok(()) => tracing::info!(target: "agent", "Joined cluster through {addr}"),
            Err(e) => tracing::debug!(target: "agent", "join through {addr} failed: {e}"),
        }
    } else if c.bootstrap_expect > 1
        && candidates.len() as u32 >= c.bootstrap_expect
        && candidates.keys().next() == Some(&me.id)
    {
        tracing::info!(target: "agent.server", "found expected number of peers, bootstrapping cluster: peers={}",
            candidates.values().map(|n| n.addr.clone()).collect::<Vec<_>>().join(","));
        if let Err(e) = raft.initialize(candidates).await {
            tracing::warn!(target: "agent.server", "bootstrap failed: {e}");
        }
    }
}

/// The leader brings the catalog in line with the pool (only what differs is written).
async fn reconcile(agent: &Arc<Agent>) {
    let Some(raft) = agent.server() else { return };
    let c = agent.config();
    let members = agent.serf.members().await;
    let mut listed = BTreeSet::new();
    for m in &members {
        listed.insert(m.name().to_lowercase());
        if m.name().eq_ignore_ascii_case(&c.node_name)
            || m.member().tag("dc") != Some(&c.datacenter)
        {
            continue;
        }
        let cmds = match m.status() {
            MemberStatus::Alive | MemberStatus::Suspect => alive(agent, m),
            MemberStatus::Failed => failed(agent, m),
            MemberStatus::Left => {
                left_server(agent, m).await;
                left(agent, m)
            }
        };
        for cmd in cmds {
            if let Err(e) = raft.propose(cmd).await {
                tracing::debug!(target: "agent.server", "failed to reconcile member {}: {e}", m.name());
                break;
            }
        }
    }
    prune_dead_servers(agent, &members).await;
    // Members the pool has forgotten (reaped), once it has run long enough to know them all;
    // without gossip, the servers that left Raft.
    let mut gone: Vec<String> = Vec::new();
    if agent.serf.enabled() && agent.serf.uptime() >= REAP_GRACE {
        gone = agent.catalog().read(|s| s.nodes_with_check(SERF_CHECK));
        gone.retain(|n| !listed.contains(&n.to_lowercase()));
    }
    for node in raft.departed().into_values() {
        if !listed.contains(&node.name.to_lowercase()) {
            gone.push(node.name);
        }
    }
    for node in gone {
        if node.eq_ignore_ascii_case(&c.node_name) || !agent.catalog().read(|s| s.has_node(&node)) {
            continue;
        }
        tracing::info!(target: "agent.server", "deregistering reaped member: member={node}");
        let _ = raft.propose(Command::DeregisterNode { node }).await;
    }
}

fn member_node(agent: &Agent, m: &MemberState) -> NodeRecord {
    let ip = m.member().addr().ip().to_string();
    let mut tagged = BTreeMap::new();
    for k in ["lan", "lan_ipv4", "wan", "wan_ipv4"] {
        tagged.insert(k.to_string(), ip.clone());
    }
    let mut meta = BTreeMap::new();
    meta.insert("consul-network-segment".to_string(), String::new());
    let version = m
        .member()
        .tag("build")
        .and_then(|b| b.split(':').next())
        .unwrap_or(crate::version::VERSION);
    meta.insert("consul-version".to_string(), version.to_string());
    NodeRecord {
        id: m.member().id().to_string(),
        node: m.name().to_string(),
        address: ip,
        datacenter: agent.config().datacenter.clone(),
        tagged_addresses: Some(tagged),
        meta: Some(meta),
        create_index: 0,
        modify_index: 0,
    }
}

fn serf_check(node: &str, status: HealthStatus) -> CheckRecord {
    let output = match status {
        HealthStatus::Passing => "Agent alive and reachable",
        _ => "Agent not live or unreachable",
    };
    CheckRecord {
        node: node.to_string(),
        check_id: SERF_CHECK.into(),
        name: "Serf Health Status".into(),
        status,
        output: output.into(),
        ..Default::default()
    }
}

/// An alive member: its node at its address, `serfHealth` passing; a server's `consul`
/// service, and its storage check while its tag says the disk refuses writes.
fn alive(agent: &Agent, m: &MemberState) -> Vec<Command> {
    let name = m.name();
    let ip = m.member().addr().ip().to_string();
    let server_port = server_addr(m, &agent.config().datacenter)
        .and_then(|a| a.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()));
    let storage = m.member().tag(STORAGE_TAG);
    agent.catalog().read(|s| {
        let mut cmds = Vec::new();
        if s.node(name).is_none_or(|n| n.address != ip) {
            cmds.push(Command::RegisterNode {
                node: member_node(agent, m),
                skip_node_update: false,
            });
        }
        if s.check(name, SERF_CHECK)
            .is_none_or(|c| c.status != HealthStatus::Passing)
        {
            cmds.push(Command::RegisterCheck {
                check: serf_check(name, HealthStatus::Passing),
            });
        }
        if let Some(port) = server_port {
            if s.service(name, "consul").is_none_or(|x| x.port != port) {
                cmds.push(Command::RegisterService {
                    node: name.to_string(),
                    service: super::leader::consul_service(port),
                    checks: vec![],
                    replace_existing_checks: false,
                });
            }
        }
        let present = s.check(name, super::STORAGE_CHECK_ID);
        match storage {
            Some(why) => {
                let check = super::storage_check(name, why);
                if present.is_none_or(|c| c.output != check.output) {
                    cmds.push(Command::RegisterCheck { check });
                }
            }
            None if present.is_some() => cmds.push(Command::DeregisterCheck {
                node: name.to_string(),
                check_id: super::STORAGE_CHECK_ID.into(),
            }),
            None => {}
        }
        cmds
    })
}

/// A failed member: its `serfHealth` critical (its services leave the passing lists).
fn failed(agent: &Agent, m: &MemberState) -> Vec<Command> {
    let name = m.name();
    agent.catalog().read(|s| {
        let mut cmds = Vec::new();
        let exists = s.has_node(name);
        if !exists {
            cmds.push(Command::RegisterNode {
                node: member_node(agent, m),
                skip_node_update: false,
            });
        }
        if s.check(name, SERF_CHECK)
            .is_none_or(|c| c.status != HealthStatus::Critical)
        {
            tracing::info!(target: "agent.server", "member failed, marking health critical: member={name}");
            cmds.push(Command::RegisterCheck {
                check: serf_check(name, HealthStatus::Critical),
            });
        }
        cmds
    })
}

/// A member that left: deregistered.
fn left(agent: &Agent, m: &MemberState) -> Vec<Command> {
    let name = m.name();
    if !agent.catalog().read(|s| s.has_node(name)) {
        return Vec::new();
    }
    tracing::info!(target: "agent.server", "deregistering member: member={name} reason=left");
    vec![Command::DeregisterNode {
        node: name.to_string(),
    }]
}

/// Autopilot's `CleanupDeadServers`: voters the pool declares failed leave the Raft
/// configuration, as many as [`super::autopilot::removable`] allows.
async fn prune_dead_servers(agent: &Agent, members: &[MemberState]) {
    let Some(raft) = agent.server() else { return };
    let config = agent.autopilot_config();
    if !config.cleanup_dead_servers {
        return;
    }
    let voters = raft.info().voters;
    let failed: Vec<(u64, String)> = voters
        .iter()
        .filter(|(id, _)| **id != raft.id())
        .filter_map(|(id, n)| {
            members
                .iter()
                .find(|m| m.name().eq_ignore_ascii_case(&n.name))
                .filter(|m| m.status() == MemberStatus::Failed)
                .map(|_| (*id, n.name.clone()))
        })
        .collect();
    let n = super::autopilot::removable(voters.len(), failed.len(), config.min_quorum);
    for (id, name) in failed.into_iter().take(n) {
        tracing::info!(target: "agent.server.autopilot", "Attempting removal of failed server node: id={id:016x} name={name}");
        if let Err(e) = raft.remove_via_leader(id).await {
            tracing::warn!(target: "agent.server.autopilot", "failed to remove dead server {name}: {e}");
        }
    }
}

/// A server that left the pool (gracefully or forced) leaves Raft too.
async fn left_server(agent: &Agent, m: &MemberState) {
    let Some(raft) = agent.server() else { return };
    let voters = raft.info().voters;
    let Some((id, _)) = voters
        .iter()
        .find(|(id, n)| n.name.eq_ignore_ascii_case(m.name()) && **id != raft.id())
    else {
        return;
    };
    tracing::info!(target: "agent.server", "removing server that left: server={}", m.name());
    if let Err(e) = raft.remove_via_leader(*id).await {
        tracing::warn!(target: "agent.server", "failed to remove server {}: {e}", m.name());
    }
}

impl Agent {
    /// Every member of the LAN pool, this agent included, in `/v1/agent/members`' shape, and
    /// the servers that left Raft the pool no longer lists (which Raft remembers across a
    /// restart, when a new pool has not heard of them).
    pub async fn members(&self) -> Vec<Member> {
        let members = self.serf.members().await;
        let mut out: Vec<Member> = if members.is_empty() {
            vec![self.member()]
        } else {
            members.iter().map(wire_member).collect()
        };
        if let Some(raft) = self.server() {
            let template = self.member();
            for node in raft.departed().into_values() {
                if out.iter().any(|m| m.name.eq_ignore_ascii_case(&node.name)) {
                    continue;
                }
                let mut m = template.clone();
                m.name = node.name.clone();
                if let Some((host, port)) = node.addr.rsplit_once(':') {
                    m.addr = host.trim_matches(['[', ']']).to_string();
                    m.tags.insert("port".into(), port.to_string());
                }
                m.tags.insert("id".into(), node.node_id.clone());
                m.tags.remove("bootstrap");
                m.status = 3;
                out.push(m);
            }
        }
        out
    }
}
