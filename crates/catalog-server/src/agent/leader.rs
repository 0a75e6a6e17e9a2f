//! What the leader does on taking office: register this server's node with its `serfHealth`
//! check and the `consul` service, re-register the services from config files, and arm the TTL
//! timers of every session. Consul's leader does the same from gossip membership.

use super::Agent;
use crate::catalog::HealthStatus;
use crate::catalog::{CheckRecord, Command, NodeRecord, ServiceRecord};
use api_types::Weights;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `consul` service every server carries, on its server port.
pub fn consul_service(port: u16) -> ServiceRecord {
    let mut meta = BTreeMap::new();
    for (k, v) in [
        ("non_voter", "false"),
        ("raft_version", "3"),
        ("read_replica", "false"),
        ("serf_protocol_current", "2"),
        ("serf_protocol_max", "5"),
        ("serf_protocol_min", "1"),
        ("version", crate::version::VERSION),
    ] {
        meta.insert(k.to_string(), v.to_string());
    }
    ServiceRecord {
        id: "consul".into(),
        name: "consul".into(),
        port,
        meta,
        weights: Weights::default(),
        ..Default::default()
    }
}

/// Follows Raft metrics; each time this server becomes leader, reconciles.
pub async fn watch(agent: Arc<Agent>) {
    let Some(raft) = agent.server() else { return };
    let mut metrics = raft.watch();
    let mut was_leader = false;
    loop {
        let leader = raft.is_leader();
        if leader && !was_leader {
            tracing::info!(target: "agent.server", "cluster leadership acquired");
            if let Err(e) = reconcile(&agent).await {
                tracing::error!(target: "agent.server", "failed to reconcile: {e}");
            } else {
                tracing::info!(target: "agent", "Synced node info");
            }
        }
        was_leader = leader;
        if !metrics.changed().await {
            return;
        }
    }
}

pub(super) fn self_node(agent: &Agent) -> NodeRecord {
    let c = &agent.config;
    let addr = c.advertise_addr.to_string();
    let mut tagged = BTreeMap::new();
    tagged.insert("lan".to_string(), addr.clone());
    tagged.insert("lan_ipv4".to_string(), addr.clone());
    tagged.insert("wan".to_string(), addr.clone());
    tagged.insert("wan_ipv4".to_string(), addr.clone());
    let mut meta = c.node_meta.clone();
    meta.insert("consul-network-segment".to_string(), String::new());
    meta.insert(
        "consul-version".to_string(),
        crate::version::VERSION.to_string(),
    );
    NodeRecord {
        id: agent.node_id.clone(),
        node: c.node_name.clone(),
        address: addr,
        datacenter: c.datacenter.clone(),
        tagged_addresses: Some(tagged),
        meta: Some(meta),
        create_index: 0,
        modify_index: 0,
    }
}

async fn reconcile(agent: &Arc<Agent>) -> anyhow::Result<()> {
    let c = &agent.config;
    if let Some(acl) = &c.acl {
        let initial = acl.tokens.initial_management.as_deref();
        if agent.catalog().read(|s| s.acl().needs_init(initial)) {
            let cmd = crate::catalog::acl::builtins(crate::raft::now_ms(), initial);
            agent.write(Command::Acl(cmd)).await?;
            tracing::info!(target: "agent.server.acl", "Created ACL builtins (anonymous token, global-management policy)");
        }
    }
    agent.init_autopilot().await?;
    let node = c.node_name.clone();
    agent
        .write(Command::RegisterNode {
            node: self_node(agent),
            skip_node_update: false,
        })
        .await?;
    let serf = CheckRecord {
        node: node.clone(),
        check_id: "serfHealth".into(),
        name: "Serf Health Status".into(),
        status: HealthStatus::Passing,
        output: "Agent alive and reachable".into(),
        ..Default::default()
    };
    agent.write(Command::RegisterCheck { check: serf }).await?;
    let consul = consul_service(c.ports.server.max(0) as u16);
    agent
        .write(Command::RegisterService {
            node: node.clone(),
            service: consul,
            checks: vec![],
            replace_existing_checks: false,
        })
        .await?;
    register_definitions(agent).await?;
    agent.sessions.arm_all();
    Ok(())
}

/// A client at start: its node and its config files' services and checks, in its own state
/// (the leader gives it `serfHealth` when it sees it in the gossip pool).
pub async fn register_self(agent: &Arc<Agent>) -> anyhow::Result<()> {
    agent
        .write(Command::RegisterNode {
            node: self_node(agent),
            skip_node_update: false,
        })
        .await?;
    register_definitions(agent).await
}

/// The services and checks of the config files, registered on this agent's node.
async fn register_definitions(agent: &Arc<Agent>) -> anyhow::Result<()> {
    Ok(register_definitions_of(agent, &agent.config).await?)
}

/// The services and checks `c`'s files define, registered on this agent's node (again, on a
/// reload: a registration replaces what was there).
pub(super) async fn register_definitions_of(
    agent: &Arc<Agent>,
    c: &crate::config::Config,
) -> Result<(), crate::raft::WriteError> {
    let node = agent.config.node_name.clone();
    for reg in &c.services {
        match crate::catalog::registration::service_records(
            reg,
            &node,
            c.enable_script_checks || c.enable_local_script_checks,
        ) {
            Ok((service, checks)) => {
                agent
                    .write(Command::RegisterService {
                        node: node.clone(),
                        service,
                        checks,
                        replace_existing_checks: true,
                    })
                    .await?;
            }
            Err(e) => {
                tracing::error!(target: "agent", "failed to register service {:?}: {e}", reg.name)
            }
        }
    }
    for def in &c.checks {
        match crate::catalog::registration::check_record(
            def,
            &node,
            c.enable_script_checks || c.enable_local_script_checks,
        ) {
            Ok(check) => {
                agent.write(Command::RegisterCheck { check }).await?;
            }
            Err(e) => {
                tracing::error!(target: "agent", "failed to register check {:?}: {e}", def.name)
            }
        }
    }
    Ok(())
}

/// How long a KV tombstone is kept (Consul's `tombstone_ttl`): long enough for every blocking
/// query on a prefix to see the deletion.
const TOMBSTONE_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
const TOMBSTONE_GC_TICK: std::time::Duration = std::time::Duration::from_secs(60);

/// While leader: every minute remember the current index; reap tombstones written before the
/// index remembered one TTL ago. Tombstones are never read by time, so the state machine stays
/// deterministic: only the index crosses Raft.
pub async fn tombstone_gc(agent: Arc<Agent>) {
    let mut marks: std::collections::VecDeque<(u64, std::time::Instant)> = Default::default();
    let mut tick = tokio::time::interval(TOMBSTONE_GC_TICK);
    loop {
        tick.tick().await;
        if !agent.is_leader() {
            marks.clear();
            continue;
        }
        let (last, any) = agent
            .catalog()
            .read(|s| (s.last_index(), s.has_tombstones()));
        marks.push_back((last, std::time::Instant::now()));
        let mut upto = None;
        while let Some((idx, at)) = marks.front() {
            if at.elapsed() >= TOMBSTONE_TTL {
                upto = Some(*idx);
                marks.pop_front();
            } else {
                break;
            }
        }
        if let (Some(upto_index), true) = (upto, any) {
            if let Err(e) = agent.write(Command::ReapTombstones { upto_index }).await {
                tracing::warn!(target: "agent.server.state", "failed to reap tombstones: {e}");
            }
        }
    }
}

/// While leader: every 30 s delete the ACL tokens whose expiration time has passed (they
/// stopped resolving at that moment; this removes them from reads, as Consul's reaper does).
pub async fn reap_expired_tokens(agent: Arc<Agent>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tick.tick().await;
        if !agent.acl_enabled() || !agent.is_leader() {
            continue;
        }
        let now = crate::raft::now_ms();
        let expired = agent.catalog().read(|s| s.acl().expired(now));
        for accessor_id in expired {
            let cmd = Command::Acl(crate::catalog::acl::AclCommand::TokenDelete { accessor_id });
            if let Err(e) = agent.write(cmd).await {
                tracing::warn!(target: "agent.server.acl", "failed to reap expired tokens: {e}");
                break;
            }
        }
    }
}
