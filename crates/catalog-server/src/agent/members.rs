//! This agent as a serf member, and `/v1/agent/self`: the documents `consul members` and
//! `consul info` render. A single server has a one-member LAN pool: itself, alive.

use super::Agent;
use crate::catalog::CheckKind;
use crate::version::{BUILD_DATE, REVISION, VERSION};
use api_types::Member;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

impl Agent {
    /// This agent's serf member entry.
    pub fn member(&self) -> Member {
        let c = &self.config;
        Member {
            name: c.node_name.clone(),
            addr: c.advertise_addr.to_string(),
            port: c.ports.serf_lan.max(0) as u16,
            tags: super::serf::tags(c, &self.node_id),
            status: if self.leaving() { 3 } else { 1 },
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }

    /// `Stats` of `/v1/agent/self`: sections of string values, as `consul info` prints them.
    pub async fn stats(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let c = &self.config;
        let pool = self.members().await;
        let count = |status: u8| pool.iter().filter(|m| m.status == status).count();
        let (alive, left, failed) = (count(1), count(3), count(4));
        let m = self.raft_status();
        let raft = self.server();
        let (services, checks, ttls, monitors) = self.catalog().read(|s| {
            let services = s.agent_services(&c.node_name).count();
            let cs: Vec<_> = s.agent_checks(&c.node_name).collect();
            let ttls = cs.iter().filter(|x| x.check_type == CheckKind::Ttl).count();
            let monitors = cs
                .iter()
                .filter(|x| x.check_type == CheckKind::Script)
                .count();
            (services, cs.len(), ttls, monitors)
        });
        let leader_addr = self.leader_addr().unwrap_or_default();
        let is_leader = self.is_leader();
        let last_log = m.last_log_index;
        let applied = m.applied_index;
        let snap = m.snapshot;
        let voters: Vec<String> = m
            .voters
            .iter()
            .map(|(id, n)| {
                format!(
                    "{{Suffrage:Voter ID:{} Address:{}}}",
                    self.peer_node_id(*id),
                    n.addr
                )
            })
            .collect();
        let num_peers = voters.len().saturating_sub(1);
        let s = |v: &str| v.to_string();
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut section = |name: &str, kv: Vec<(&str, String)>| {
            out.insert(
                name.to_string(),
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            );
        };
        section(
            "agent",
            vec![
                ("check_monitors", monitors.to_string()),
                ("check_ttls", ttls.to_string()),
                ("checks", checks.to_string()),
                ("services", services.to_string()),
            ],
        );
        if let Some(raft) = raft {
            let failure = raft.storage_failure();
            section(
                "storage",
                vec![
                    (
                        "status",
                        s(if failure.is_some() { "failing" } else { "ok" }),
                    ),
                    ("error", failure.map(|f| f.reason).unwrap_or_default()),
                    (
                        "snapshot_error",
                        raft.snapshot_failure().unwrap_or_default(),
                    ),
                ],
            );
        }
        section(
            "build",
            vec![
                ("prerelease", s("")),
                ("revision", s(REVISION)),
                ("version", s(VERSION)),
                ("version_metadata", s("")),
            ],
        );
        section(
            "consul",
            vec![
                (
                    "acl",
                    s(if c.acl.is_some() {
                        "enabled"
                    } else {
                        "disabled"
                    }),
                ),
                ("bootstrap", (c.bootstrap || c.dev).to_string()),
                ("known_datacenters", s("1")),
                ("leader", is_leader.to_string()),
                ("leader_addr", leader_addr),
                ("server", c.server.to_string()),
            ],
        );
        let state = m.state.clone();
        section(
            "raft",
            vec![
                ("applied_index", applied.to_string()),
                ("commit_index", applied.to_string()),
                ("fsm_pending", s("0")),
                (
                    "last_contact",
                    match self.last_contact_ms() {
                        Some(0) if is_leader => s("0"),
                        Some(ms) => api_types::format_go_duration(ms as i64 * 1_000_000),
                        None => s("never"),
                    },
                ),
                ("last_log_index", last_log.to_string()),
                ("last_log_term", m.term.to_string()),
                (
                    "last_snapshot_index",
                    snap.map(|(index, _)| index).unwrap_or(0).to_string(),
                ),
                (
                    "last_snapshot_term",
                    snap.map(|(_, term)| term).unwrap_or(0).to_string(),
                ),
                ("latest_configuration", format!("[{}]", voters.join(" "))),
                ("latest_configuration_index", s("0")),
                ("num_peers", num_peers.to_string()),
                // Ours, beyond Consul's keys: durability and group-commit counters.
                (
                    "fsyncs",
                    raft.map_or(0, |r| r.wal().sync_stats().0).to_string(),
                ),
                (
                    "synced_appends",
                    raft.map_or(0, |r| r.wal().sync_stats().1).to_string(),
                ),
                (
                    "proposals",
                    raft.map_or(0, |r| r.proposal_stats().0).to_string(),
                ),
                (
                    "proposal_batches",
                    raft.map_or(0, |r| r.proposal_stats().1).to_string(),
                ),
                ("protocol_version", s("3")),
                ("protocol_version_max", s("3")),
                ("protocol_version_min", s("0")),
                ("snapshot_version_max", s("1")),
                ("snapshot_version_min", s("0")),
                ("state", state),
                ("term", m.term.to_string()),
            ],
        );
        section(
            "runtime",
            vec![
                ("arch", s(std::env::consts::ARCH)),
                (
                    "cpu_count",
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                        .to_string(),
                ),
                ("goroutines", s("0")),
                (
                    "max_procs",
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                        .to_string(),
                ),
                ("os", s(std::env::consts::OS)),
                ("version", s("rust")),
            ],
        );
        let serf = vec![
            ("coordinate_resets", s("0")),
            ("encrypted", c.gossip.encrypted.to_string()),
            ("event_queue", s("0")),
            ("event_time", s("1")),
            ("failed", failed.to_string()),
            ("health_score", s("0")),
            ("intent_queue", s("0")),
            ("left", left.to_string()),
            ("member_time", s("1")),
            ("members", (alive + left + failed).to_string()),
            ("query_queue", s("0")),
            ("query_time", s("1")),
        ];
        section("serf_lan", serf.clone());
        if raft.is_some() {
            section("serf_wan", serf);
        } else {
            // A client: no Raft; Consul's `consul` section says how many servers it knows.
            out.remove("raft");
            let servers = pool
                .iter()
                .filter(|m| m.status == 1 && m.tags.get("role").is_some_and(|r| r == "consul"))
                .count();
            let consul = out.entry("consul".into()).or_default();
            consul.retain(|k, _| k == "acl" || k == "server");
            consul.insert("known_servers".into(), servers.to_string());
        }
        out
    }

    fn peer_node_id(&self, raft_id: u64) -> String {
        match self.servers().get(&raft_id) {
            Some(n) => n.node_id.clone(),
            None => format!("{raft_id:016x}"),
        }
    }

    /// `/v1/agent/self`.
    pub async fn self_doc(&self) -> SelfDoc {
        let c = &self.config;
        SelfDoc {
            config: json!({
                "Datacenter": c.datacenter,
                "PrimaryDatacenter": c.datacenter,
                "NodeName": c.node_name,
                "NodeID": self.node_id,
                "Revision": REVISION,
                "Server": c.server,
                "Version": VERSION,
                "BuildDate": BUILD_DATE,
            }),
            debug_config: json!({
                "Bootstrap": c.bootstrap,
                "BootstrapExpect": c.bootstrap_expect,
                "ClientAddrs": c.client_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "ConnectEnabled": false,
                "DataDir": c.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
                "Datacenter": c.datacenter,
                "DevMode": c.dev,
                "EnableScriptChecks": c.enable_script_checks,
                // No Go runtime profiles here (`enable_debug` is refused), which `consul
                // debug` reads to leave pprof out.
                "EnableDebug": false,
                "ACLsEnabled": c.acl.is_some(),
                "GRPCPort": c.ports.grpc,
                "HTTPPort": c.ports.http,
                "NodeName": c.node_name,
                "ServerMode": c.server,
                "ServerPort": c.ports.server,
                "SessionTTLMin": "10s",
                "UIConfig": {"Enabled": c.ui},
            }),
            coord: serde_json::to_value(self.coordinate()).unwrap_or_default(),
            member: self.member(),
            stats: self.stats().await,
            meta: {
                let mut m = self.config.node_meta.clone();
                m.insert("consul-network-segment".into(), String::new());
                m.insert("consul-version".into(), VERSION.into());
                m
            },
        }
    }
}

#[derive(Serialize)]
pub struct SelfDoc {
    #[serde(rename = "Config")]
    config: Value,
    #[serde(rename = "DebugConfig")]
    debug_config: Value,
    #[serde(rename = "Coord")]
    coord: Value,
    #[serde(rename = "Member")]
    member: Member,
    #[serde(rename = "Stats")]
    stats: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(rename = "Meta")]
    meta: BTreeMap<String, String>,
}
