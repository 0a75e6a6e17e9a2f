//! Servers talking to servers over the server port: writes forwarded to the leader, the
//! read-index barrier of follower reads, joining a cluster, and the `info` every server answers
//! (who it is, whether it belongs to a cluster, who leads).

use super::{RaftNode, ServerNode, WriteError};
use crate::catalog::{CatalogError, Command, Reply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A failed call to another server; `not_sent` when the request never reached it.
#[derive(Debug)]
pub(super) struct CallError {
    pub(super) not_sent: bool,
    pub(super) message: String,
}

/// A forwarded write's failure, as it crosses the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RemoteError {
    NoLeader,
    Catalog(CatalogError),
    Raft(String),
}

impl From<WriteError> for RemoteError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::NoLeader => RemoteError::NoLeader,
            WriteError::Catalog(c) => RemoteError::Catalog(c),
            WriteError::Raft(m) => RemoteError::Raft(m),
            e @ WriteError::Storage(_) => RemoteError::Raft(e.to_string()),
        }
    }
}

impl From<RemoteError> for WriteError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::NoLeader => WriteError::NoLeader,
            RemoteError::Catalog(c) => WriteError::Catalog(c),
            RemoteError::Raft(m) => WriteError::Raft(m),
        }
    }
}

/// Why servers could not be brought into one cluster; `Display` is what `consul join` prints.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The other server did not answer (its address, a refused connection, a timeout).
    #[error("{0}")]
    Unreachable(String),
    /// The cluster refused or failed the change.
    #[error("{0:?}")]
    Refused(RemoteError),
    #[error("both servers already belong to different clusters")]
    DifferentClusters,
    #[error(
        "neither server belongs to a cluster yet; start one with -bootstrap or -bootstrap-expect"
    )]
    NoCluster,
    /// Raft refused to form the cluster.
    #[error("{0}")]
    Raft(String),
}

impl From<CallError> for JoinError {
    fn from(e: CallError) -> JoinError {
        JoinError::Unreachable(e.message)
    }
}

/// What `GET /v1/raft/info` tells about a server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    pub id: u64,
    pub node: ServerNode,
    /// Whether this server belongs to a cluster (has a membership).
    pub initialized: bool,
    pub leader: Option<u64>,
    pub voters: BTreeMap<u64, ServerNode>,
    /// Why this server's storage refuses writes, while it does.
    #[serde(default)]
    pub storage_error: Option<String>,
    /// Milliseconds since it last heard from the leader (0 on the leader; `None`: never).
    #[serde(default)]
    pub last_contact_ms: Option<u64>,
    /// Its current term and last log index (autopilot's `LastTerm`, `LastIndex`).
    #[serde(default)]
    pub term: u64,
    #[serde(default)]
    pub last_index: u64,
}

/// A request to join: the joining server's id and node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub id: u64,
    pub node: ServerNode,
}

impl RaftNode {
    pub(super) async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        req: &Req,
    ) -> Result<Resp, CallError> {
        let resp = self
            .peers
            .http()
            .post(self.peers.url(addr, &format!("/v1/raft/{path}")))
            .json(req)
            .send()
            .await
            .map_err(|e| CallError {
                not_sent: e.is_connect(),
                message: e.to_string(),
            })?;
        if !resp.status().is_success() {
            return Err(CallError {
                not_sent: false,
                message: format!("{} from {addr}", resp.status()),
            });
        }
        resp.json().await.map_err(|e| CallError {
            not_sent: false,
            message: e.to_string(),
        })
    }

    /// Sends a write to the leader at `leader` (its Raft RPC address). `NoLeader` means it
    /// certainly was not applied (refused connection, or the peer is not the leader).
    pub async fn forward(&self, leader: &str, cmd: Command) -> Result<Reply, WriteError> {
        match self
            .call::<_, Result<Reply, RemoteError>>(leader, "forward", &cmd)
            .await
        {
            Ok(res) => res.map_err(WriteError::from),
            Err(e) if e.not_sent => Err(WriteError::NoLeader),
            Err(e) => {
                tracing::warn!(target: "agent.server.rpc", "failed to forward write to leader {leader}: {}", e.message);
                Err(WriteError::Raft(format!(
                    "rpc error making call: {}",
                    e.message
                )))
            }
        }
    }

    /// Leader side of a forwarded write.
    pub async fn serve_forward(&self, cmd: Command) -> Result<Reply, RemoteError> {
        if !self.is_leader() {
            return Err(RemoteError::NoLeader);
        }
        self.propose(cmd).await.map_err(RemoteError::from)
    }

    /// Makes the next local read see every write acknowledged before it started: the leader
    /// confirms its leadership with a quorum (always in a cluster; for `?consistent` alone on
    /// a single server); a follower asks the leader for its commit index (read-index) and waits
    /// until it has applied that far. Stricter than Consul's default mode, which may serve
    /// stale data from a deposed leader.
    pub async fn read_barrier(&self, linearizable: bool) -> Result<(), WriteError> {
        if let Some(f) = self.storage_failure() {
            // A single server's state cannot change while its storage refuses writes: reads
            // from it stay exact. In a cluster this server has stopped following.
            if self.voter_count() <= 1 {
                return Ok(());
            }
            return Err(WriteError::Storage(f.reason));
        }
        let deadline = tokio::time::Instant::now() + super::HOLD_TIMEOUT;
        loop {
            let leader = self.leader_addr();
            match self.try_read_barrier(linearizable, leader.as_deref()).await {
                Err(WriteError::NoLeader) if tokio::time::Instant::now() < deadline => {
                    self.wait_for_new_leader(leader, deadline).await;
                }
                other => return other,
            }
        }
    }

    async fn try_read_barrier(
        &self,
        linearizable: bool,
        leader: Option<&str>,
    ) -> Result<(), WriteError> {
        let view = self.leader_view();
        if view.leader {
            // A leader cut off in a minority must not answer from stale state: with other
            // voters, every read confirms leadership first. A single voter is its own quorum,
            // but a just-elected one (a restart) may not have applied its log yet: until it has
            // applied an entry of its own term, it reads through the barrier too.
            if linearizable || view.voters > 1 || !view.applied_own_term {
                self.barrier().await?;
            }
            return Ok(());
        }
        let leader = leader.ok_or(WriteError::NoLeader)?;
        let index: Result<u64, RemoteError> = self
            .call(leader, "read_index", &())
            .await
            .map_err(|_| WriteError::NoLeader)?;
        let index = index.map_err(WriteError::from)?;
        self.raft()
            .wait(Some(Duration::from_secs(10)))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map_err(|_| WriteError::NoLeader)?;
        Ok(())
    }

    /// Leader side of the read-index barrier: confirms leadership, answers the index to reach.
    pub async fn serve_read_index(&self) -> Result<u64, RemoteError> {
        match self.raft().ensure_linearizable().await {
            Ok(Some(log_id)) => Ok(log_id.index),
            Ok(None) => Ok(0),
            Err(_) => Err(RemoteError::NoLeader),
        }
    }

    pub fn info(&self) -> Info {
        let m = self.raft().metrics().borrow().clone();
        let voters: BTreeMap<u64, ServerNode> = m
            .membership_config
            .membership()
            .nodes()
            .map(|(id, n)| (*id, n.clone()))
            .collect();
        Info {
            id: self.id,
            node: self.me.clone(),
            initialized: !voters.is_empty(),
            leader: m.current_leader,
            voters,
            storage_error: self.storage_failure().map(|f| f.reason),
            last_contact_ms: self.last_contact_ms(),
            term: m.current_term,
            last_index: m.last_log_index.unwrap_or(0),
        }
    }

    /// Asks the server at `addr` (server port) who it is.
    pub async fn fetch_info(&self, addr: &str) -> Result<Info, JoinError> {
        let unreachable = |e: reqwest::Error| JoinError::Unreachable(e.to_string());
        let resp = self
            .peers
            .http()
            .get(self.peers.url(addr, "/v1/raft/info"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map_err(unreachable)?;
        resp.json().await.map_err(unreachable)
    }

    /// Asks a cluster member at `addr` to add this server as a voter.
    pub async fn request_join(&self, addr: &str) -> Result<(), JoinError> {
        let req = JoinRequest {
            id: self.id,
            node: self.me.clone(),
        };
        let r: Result<(), RemoteError> = self.call(addr, "join", &req).await?;
        r.map_err(JoinError::Refused)
    }

    /// Adds a server as a voter (on the leader; elsewhere forwarded to it).
    pub async fn serve_join(&self, req: JoinRequest) -> Result<(), RemoteError> {
        if !self.is_leader() {
            let leader = self.leader_addr().ok_or(RemoteError::NoLeader)?;
            let r: Result<(), RemoteError> = self
                .call(&leader, "join", &req)
                .await
                .map_err(|e| RemoteError::Raft(e.message))?;
            return r;
        }
        let info = self.info();
        if info.voters.get(&req.id) == Some(&req.node) {
            return Ok(());
        }
        tracing::info!(target: "agent.server", "adding server: {}", req.node);
        self.raft()
            .add_learner(req.id, req.node.clone(), true)
            .await
            .map_err(|e| RemoteError::Raft(e.to_string()))?;
        let mut voters: BTreeSet<u64> = info.voters.keys().copied().collect();
        voters.insert(req.id);
        self.raft()
            .change_membership(voters, false)
            .await
            .map_err(|e| RemoteError::Raft(e.to_string()))?;
        Ok(())
    }

    /// Graceful leave: asks the leader to take this server out of the voters (handing
    /// leadership over first when it is this server).
    pub async fn leave_cluster(&self) -> Result<(), WriteError> {
        self.remove_via_leader(self.id).await
    }

    /// Removes server `id` from the voters, through the leader wherever this runs.
    pub async fn remove_via_leader(&self, id: u64) -> Result<(), WriteError> {
        if self.is_leader() {
            return self.remove_server(id).await.map_err(WriteError::from);
        }
        let leader = self.leader_addr().ok_or(WriteError::NoLeader)?;
        let r: Result<(), RemoteError> = self.call(&leader, "remove", &id).await.map_err(|e| {
            if e.not_sent {
                WriteError::NoLeader
            } else {
                WriteError::Raft(e.message)
            }
        })?;
        r.map_err(WriteError::from)
    }

    /// `consul join <addr>`: joins the cluster at `addr`, or adds the server at `addr` to ours.
    pub async fn join_addr(&self, addr: &str) -> Result<(), JoinError> {
        let other = self.fetch_info(addr).await?;
        let me = self.info();
        match (me.initialized, other.initialized) {
            (false, true) => self.request_join(addr).await,
            (true, false) => {
                let req = JoinRequest {
                    id: other.id,
                    node: other.node,
                };
                self.serve_join(req).await.map_err(JoinError::Refused)
            }
            (true, true) if me.voters.contains_key(&other.id) => Ok(()),
            (true, true) => Err(JoinError::DifferentClusters),
            (false, false) => Err(JoinError::NoCluster),
        }
    }

    /// Removes a server from the voters (graceful leave, `remove-peer`, `force-leave`).
    pub async fn remove_server(&self, id: u64) -> Result<(), RemoteError> {
        if !self.is_leader() {
            return Err(RemoteError::NoLeader);
        }
        let info = self.info();
        if !info.voters.contains_key(&id) {
            return Ok(());
        }
        let voters: BTreeSet<u64> = info.voters.keys().copied().filter(|v| *v != id).collect();
        self.raft()
            .change_membership(voters, false)
            .await
            .map_err(|e| RemoteError::Raft(e.to_string()))?;
        Ok(())
    }
}
