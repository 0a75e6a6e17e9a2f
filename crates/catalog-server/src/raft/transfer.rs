//! Leadership transfer (`consul operator raft transfer-leader`), the Raft thesis' way over
//! openraft 0.9, which has no transfer call: the leader picks the target (the one asked for,
//! else the most up-to-date voter), waits until it holds the whole log, then stops its own
//! heartbeats and elections, asks the other voters to hold their elections, and tells the
//! target to campaign at once (the thesis' TimeoutNow). Openraft's voters refuse votes while
//! their leader lease runs, so the target campaigns until the silent leader's lease has
//! expired; the window ends with everyone's heartbeats and elections switched back on.

use super::RaftNode;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why a transfer did not happen; `Display` is hashicorp/raft's and Consul's text.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum TransferError {
    #[error("cannot find peer")]
    NoPeer,
    #[error("Could not find address for server id {0}")]
    UnknownId(String),
    #[error("cannot transfer leadership to itself")]
    ToItself,
    #[error("node is not the leader")]
    NotLeader,
    #[error("leadership transfer timeout")]
    Timeout,
    #[error("{0}")]
    Other(String),
}

/// What the leader asks of a voter during a transfer, over the server port.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum TransferRole {
    /// Campaign now, and again until leader or the window ends.
    Campaign,
    /// Do not campaign until the window ends.
    Hold,
}

/// A transfer message: the role and the window in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TransferRequest {
    pub role: TransferRole,
    pub window_ms: u64,
}

impl RaftNode {
    fn timeouts(&self) -> (Duration, Duration) {
        let c = self.raft().config().clone();
        (
            Duration::from_millis(c.heartbeat_interval),
            Duration::from_millis(c.election_timeout_max),
        )
    }

    /// Transfers leadership to voter `target` (a Raft id), or to the most up-to-date other
    /// voter; runs on the leader, a follower passes it to the leader.
    pub async fn transfer_leadership(&self, target: Option<u64>) -> Result<(), TransferError> {
        if !self.is_leader() {
            let leader = self.leader_addr().ok_or(TransferError::NotLeader)?;
            let r: Result<(), TransferError> = self
                .call(&leader, "transfer", &target)
                .await
                .map_err(|e| TransferError::Other(e.message))?;
            return r;
        }
        let status = self.status();
        if target == Some(self.id) {
            return Err(TransferError::ToItself);
        }
        let matched = |id: u64| -> u64 {
            let rx = self.raft().metrics();
            let m = rx.borrow();
            m.replication
                .as_ref()
                .and_then(|r| r.get(&id).cloned().flatten())
                .map(|l| l.index)
                .unwrap_or(0)
        };
        let target = match target {
            Some(t) => t,
            None => status
                .voters
                .keys()
                .copied()
                .filter(|v| *v != self.id)
                .max_by_key(|v| matched(*v))
                .ok_or(TransferError::NoPeer)?,
        };
        let Some(node) = status.voters.get(&target).cloned() else {
            return Err(TransferError::NoPeer);
        };
        use std::sync::atomic::Ordering::SeqCst;
        if self.transferring.swap(true, SeqCst) {
            return Err(TransferError::Other(
                "leadership transfer in progress".to_string(),
            ));
        }
        let result = self.hand_over(target, &node, matched).await;
        self.transferring.store(false, SeqCst);
        result
    }

    /// The transfer once proposals are stopped: the target catches up on the frozen log, the
    /// others hold their elections, the target campaigns.
    async fn hand_over(
        &self,
        target: u64,
        node: &super::ServerNode,
        matched: impl Fn(u64) -> u64,
    ) -> Result<(), TransferError> {
        let status = self.status();
        let (heartbeat, lease) = self.timeouts();
        // The target must hold the whole log before it may win (catch-up within a lease).
        let deadline = tokio::time::Instant::now() + lease;
        loop {
            let last = self.status().last_log_index;
            if matched(target) >= last {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TransferError::Timeout);
            }
            tokio::time::sleep(heartbeat / 5).await;
        }
        tracing::info!(target: "agent.server.raft", "starting leadership transfer: id={} address={}", node.node_id, node.addr);
        let window = lease * 4 + Duration::from_secs(1);
        let window_ms = window.as_millis() as u64;
        let raft = self.raft();
        raft.runtime_config().heartbeat(false);
        raft.runtime_config().elect(false);
        let others = status
            .voters
            .iter()
            .filter(|(id, _)| **id != self.id && **id != target);
        for (_, other) in others {
            let req = TransferRequest {
                role: TransferRole::Hold,
                window_ms,
            };
            if let Err(e) = self
                .call::<_, Result<(), TransferError>>(&other.addr, "timeout_now", &req)
                .await
            {
                tracing::warn!(target: "agent.server.raft", "leadership transfer: {} did not hold its elections: {}", other.name, e.message);
            }
        }
        let req = TransferRequest {
            role: TransferRole::Campaign,
            window_ms,
        };
        let told = self
            .call::<_, Result<(), TransferError>>(&node.addr, "timeout_now", &req)
            .await;
        let result = match told {
            Err(e) => Err(TransferError::Other(e.message)),
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => {
                let deadline = tokio::time::Instant::now() + window;
                loop {
                    let leader = self.status().leader;
                    if leader.is_some() && leader != Some(self.id) {
                        break Ok(());
                    }
                    if tokio::time::Instant::now() >= deadline {
                        break Err(TransferError::Timeout);
                    }
                    tokio::time::sleep(heartbeat / 5).await;
                }
            }
        };
        raft.runtime_config().heartbeat(true);
        raft.runtime_config().elect(true);
        if let Err(e) = &result {
            tracing::warn!(target: "agent.server.raft", "leadership transfer to {} failed: {e}", node.name);
        }
        result
    }

    /// A voter's part in a transfer: campaign at once (and again until leader), or hold its
    /// elections; either for the window only.
    pub async fn serve_timeout_now(&self, req: TransferRequest) -> Result<(), TransferError> {
        let raft = self.raft();
        let window = Duration::from_millis(req.window_ms.min(60_000));
        match req.role {
            TransferRole::Hold => {
                raft.runtime_config().elect(false);
                tokio::spawn(async move {
                    tokio::time::sleep(window).await;
                    raft.runtime_config().elect(true);
                });
            }
            TransferRole::Campaign => {
                let (heartbeat, _) = self.timeouts();
                raft.trigger()
                    .elect()
                    .await
                    .map_err(|e| TransferError::Other(e.to_string()))?;
                // Until this server leads or another leader than the old one is known.
                let old = self.status().leader;
                let me = self.clone();
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + window;
                    while tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(heartbeat).await;
                        let leader = me.status().leader;
                        if leader == Some(me.id) || (leader.is_some() && leader != old) {
                            break;
                        }
                        let _ = me.raft().trigger().elect().await;
                    }
                });
            }
        }
        Ok(())
    }
}
