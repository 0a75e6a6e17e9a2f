//! Autopilot: its configuration (stored in the replicated state; the leader writes the config
//! file's `autopilot` block when none is stored yet), and what this agent honours of it —
//! `CleanupDeadServers` (a server gossip declares failed leaves the Raft configuration while
//! `MinQuorum` voters remain and fewer than half the voters are failed) and the health
//! thresholds (`LastContactThreshold`, `MaxTrailingLogs`, `ServerStabilizationTime`).

use super::Agent;
use crate::catalog::autopilot::{AutopilotConfig, AutopilotWrite};
use crate::catalog::Command;
use crate::config::AutopilotSettings;

/// The configuration the config file gives (indexes 0: not stored yet).
pub fn initial(s: &AutopilotSettings) -> AutopilotConfig {
    let ns = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    AutopilotConfig {
        cleanup_dead_servers: s.cleanup_dead_servers,
        last_contact_threshold_ns: ns(s.last_contact_threshold),
        max_trailing_logs: s.max_trailing_logs,
        min_quorum: s.min_quorum,
        server_stabilization_time_ns: ns(s.server_stabilization_time),
        ..AutopilotConfig::default()
    }
}

impl Agent {
    /// Autopilot's configuration: the stored one, else the config file's.
    pub fn autopilot_config(&self) -> AutopilotConfig {
        self.catalog()
            .read(|s| s.autopilot_config().cloned())
            .unwrap_or_else(|| initial(&self.config.autopilot))
    }

    /// On taking leadership: stores the config file's values when none are stored.
    pub(super) async fn init_autopilot(&self) -> anyhow::Result<()> {
        if self.catalog().read(|s| s.autopilot_config().is_some()) {
            return Ok(());
        }
        self.write(Command::AutopilotSet {
            config: initial(&self.config.autopilot),
            how: AutopilotWrite::Init,
        })
        .await?;
        Ok(())
    }
}

/// Which of the `failed` voters autopilot may remove from `voters` voters: none when half or
/// more are failed (the cluster may be partitioned rather than the servers dead), and never
/// below `min_quorum` voters.
pub fn removable(voters: usize, failed: usize, min_quorum: u64) -> usize {
    if failed == 0 || failed * 2 >= voters {
        return 0;
    }
    let floor = usize::try_from(min_quorum).unwrap_or(usize::MAX);
    failed.min(voters.saturating_sub(floor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_respects_half_and_min_quorum() {
        assert_eq!(removable(3, 0, 0), 0);
        assert_eq!(removable(3, 1, 0), 1);
        assert_eq!(removable(3, 1, 3), 0);
        assert_eq!(removable(4, 2, 0), 0, "half failed: maybe a partition");
        assert_eq!(removable(5, 2, 4), 1);
        assert_eq!(removable(5, 2, 0), 2);
    }
}

impl Agent {
    /// Hands Raft leadership to the server with node ID `id`, or to the most up-to-date other
    /// voter (`consul operator raft transfer-leader`).
    pub async fn transfer_leader(
        &self,
        id: Option<&str>,
    ) -> Result<(), crate::raft::transfer::TransferError> {
        use crate::raft::transfer::TransferError;
        let raft = self.server().ok_or(TransferError::NotLeader)?;
        let target = match id {
            None => None,
            Some(id) => Some(
                self.servers()
                    .into_iter()
                    .find(|(_, n)| n.node_id == id)
                    .map(|(rid, _)| rid)
                    .ok_or_else(|| TransferError::UnknownId(id.to_string()))?,
            ),
        };
        raft.transfer_leadership(target).await
    }
}

/// One server as autopilot sees it.
#[derive(Debug, Clone)]
pub struct ServerState {
    pub node_id: String,
    pub name: String,
    pub address: String,
    /// The gossip pool's word for it: `alive`, `failed`, `left`, or `none` when not listed.
    pub node_status: String,
    pub leader: bool,
    /// Milliseconds since it heard from the leader; `None` when it did not answer.
    pub last_contact_ms: Option<u64>,
    pub last_term: u64,
    pub last_index: u64,
    pub healthy: bool,
    /// When this agent's pool started (ms since the epoch): the server has been known since.
    pub stable_since_ms: u64,
    pub meta: std::collections::BTreeMap<String, String>,
}

/// Autopilot's view of the servers (`/v1/operator/autopilot/state`).
#[derive(Debug, Clone)]
pub struct AutopilotState {
    pub healthy: bool,
    pub failure_tolerance: usize,
    pub leader: String,
    pub voters: Vec<String>,
    pub servers: Vec<ServerState>,
}

impl Agent {
    /// Each voter asked over the server port for its last contact, term and index, judged by
    /// the configuration's thresholds (`LastContactThreshold`, `MaxTrailingLogs`) and its
    /// gossip status.
    pub async fn autopilot_state(&self) -> AutopilotState {
        let config = self.autopilot_config();
        let Some(raft) = self.server() else {
            return AutopilotState {
                healthy: false,
                failure_tolerance: 0,
                leader: String::new(),
                voters: Vec::new(),
                servers: Vec::new(),
            };
        };
        let status = raft.status();
        let members = self.serf.members().await;
        let asks = status.voters.iter().map(|(id, n)| async move {
            let info = if *id == raft.id() {
                Some(raft.info())
            } else {
                raft.fetch_info(&n.addr).await.ok()
            };
            (*id, n.clone(), info)
        });
        let answers = futures::future::join_all(asks).await;
        let leader_index = answers
            .iter()
            .find(|(id, _, _)| status.leader == Some(*id))
            .and_then(|(_, _, i)| i.as_ref().map(|i| i.last_index))
            .unwrap_or(status.last_log_index);
        let since = crate::raft::now_ms().saturating_sub(self.serf.uptime().as_millis() as u64);
        let threshold_ms = u64::try_from(config.last_contact_threshold_ns / 1_000_000).unwrap_or(0);
        let mut servers = Vec::new();
        for (id, n, info) in answers {
            let member = members
                .iter()
                .find(|m| m.name().eq_ignore_ascii_case(&n.name));
            let node_status = match member {
                Some(m) => m.status().serf_status().to_string(),
                None if id == raft.id() => "alive".to_string(),
                None => "none".to_string(),
            };
            let leader = status.leader == Some(id);
            let healthy = info.as_ref().is_some_and(|i| {
                let contact_ok = leader || i.last_contact_ms.is_some_and(|c| c <= threshold_ms);
                let trailing = leader_index.saturating_sub(i.last_index);
                node_status == "alive" && contact_ok && trailing <= config.max_trailing_logs
            });
            let meta = self
                .catalog()
                .read(|s| s.node(&n.name).and_then(|r| r.meta.clone()))
                .unwrap_or_default();
            servers.push(ServerState {
                node_id: n.node_id.clone(),
                name: n.name.clone(),
                address: n.addr.clone(),
                node_status,
                leader,
                last_contact_ms: info.as_ref().and_then(|i| i.last_contact_ms),
                last_term: info.as_ref().map(|i| i.term).unwrap_or(0),
                last_index: info.as_ref().map(|i| i.last_index).unwrap_or(0),
                healthy,
                stable_since_ms: since,
                meta,
            });
        }
        let voters: Vec<String> = servers.iter().map(|s| s.node_id.clone()).collect();
        let healthy_voters = servers.iter().filter(|s| s.healthy).count();
        let quorum = servers.len() / 2 + 1;
        AutopilotState {
            healthy: status.leader.is_some() && healthy_voters == servers.len(),
            failure_tolerance: healthy_voters.saturating_sub(quorum),
            leader: servers
                .iter()
                .find(|s| s.leader)
                .map(|s| s.node_id.clone())
                .unwrap_or_default(),
            voters,
            servers,
        }
    }
}
