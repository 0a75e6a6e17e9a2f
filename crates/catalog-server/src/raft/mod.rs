//! openraft glue only: the type configuration, the log store (WAL segments) and state machine,
//! the HTTP network, and [`RaftNode`], through which every catalog write is proposed.
//!
//! Architecture invariant: the catalog never sees Raft types; Raft never interprets commands.

pub mod cluster;
#[cfg(test)]
mod conformance;
mod core;
mod log_store;
mod network;
mod peer;
mod state_machine;
pub mod transfer;

use crate::blocking::Catalog;
use crate::catalog::{CatalogError, Command, Reply, Request};
use crate::store::Store;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use self::core::Metrics;
pub use self::core::{StatusWatch, StorageFailure};
use network::HttpNetwork;
pub use peer::{PeerClient, PeerTlsError};

/// What this Raft member knows now, in the words the agent's views (`consul info`, the
/// operator endpoints) use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The leader's Raft id, if one is known.
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: u64,
    pub applied_index: u64,
    /// (index, term) of the last snapshot.
    pub snapshot: Option<(u64, u64)>,
    /// The voters of the membership, by Raft id.
    pub voters: BTreeMap<u64, ServerNode>,
    /// The log index of the membership in force (0: the one the cluster was initialised with).
    pub membership_index: u64,
    /// `Leader`, `Follower`, `Candidate`, `Learner` or `Shutdown`.
    pub state: String,
}

impl Status {
    fn of(m: &Metrics) -> Status {
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        Status {
            leader: if m.running_state.is_ok() {
                m.current_leader
            } else {
                None
            },
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            snapshot: m.snapshot.map(|l| (l.index, l.leader_id.term)),
            voters: membership
                .nodes()
                .filter(|(id, _)| voters.contains(id))
                .map(|(id, n)| (*id, n.clone()))
                .collect(),
            membership_index: m.membership_config.log_id().map_or(0, |l| l.index),
            state: format!("{:?}", m.state),
        }
    }
}

/// An AppendEntries call between servers, as it crosses the server port.
pub type AppendRequest = openraft::raft::AppendEntriesRequest<TypeConfig>;
/// The answer to [`AppendRequest`].
pub type AppendReply = Result<openraft::raft::AppendEntriesResponse<NodeId>, RaftError<NodeId>>;
/// A RequestVote call.
pub type VoteRequest = openraft::raft::VoteRequest<NodeId>;
/// The answer to [`VoteRequest`].
pub type VoteReply = Result<openraft::raft::VoteResponse<NodeId>, RaftError<NodeId>>;
/// One chunk of an InstallSnapshot call.
pub type SnapshotRequest = openraft::raft::InstallSnapshotRequest<TypeConfig>;
/// The answer to [`SnapshotRequest`].
pub type SnapshotReply = Result<
    openraft::raft::InstallSnapshotResponse<NodeId>,
    RaftError<NodeId, openraft::error::InstallSnapshotError>,
>;
type NodeId = u64;

/// A server as the Raft membership records it: where its Raft RPC and HTTP API listen, and its
/// node name and ID, so every server can name and reach every other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerNode {
    /// Raft RPC address (`-advertise`:`-server-port`).
    pub addr: String,
    /// The node name (`-node`).
    pub name: String,
    /// The node ID (UUID).
    pub node_id: String,
}

impl std::fmt::Display for ServerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.addr)
    }
}

/// What applying one entry returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response(pub Result<Reply, CatalogError>);

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = u64,
        Node = ServerNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

type RaftHandle = Raft<TypeConfig>;

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("No cluster leader")]
    NoLeader,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("raft: {0}")]
    Raft(String),
    /// The disk does not take writes (full, failing): reads go on, writes resume on their own.
    #[error("raft storage failed: {0}; writes are refused until the disk takes writes again")]
    Storage(String),
}

/// This server's Raft member.
#[derive(Clone)]
pub struct RaftNode {
    core: Arc<self::core::Core>,
    id: u64,
    me: ServerNode,
    /// Calls to peers' server ports (TLS with `verify_outgoing`).
    peers: PeerClient,
    /// Servers removed from the membership (shown as `left`).
    departed: Arc<std::sync::Mutex<BTreeMap<u64, ServerNode>>>,
    /// When the leader was last heard from (ms since the epoch; 0 = never).
    contact: Arc<std::sync::atomic::AtomicU64>,
    catalog: Arc<Catalog>,
    /// Vote, committed id and snapshot.
    store: Store,
    proposals: mpsc::Sender<Proposal>,
    /// (commands proposed, Raft entries they went out in): writes per entry = group commit.
    proposal_stats: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
    /// The proposer task (it holds the core): stopped and awaited at shutdown.
    proposer: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// Set while this leader hands leadership over (`transfer.rs`): nothing new is proposed.
    transferring: Arc<std::sync::atomic::AtomicBool>,
}

type Proposal = (Command, oneshot::Sender<Result<Reply, WriteError>>);

/// See [`RaftNode::leader_view`].
pub(crate) struct LeaderView {
    pub leader: bool,
    pub voters: usize,
    pub applied_own_term: bool,
}

/// How long a request waits for a leader to be elected (Consul's `rpc_hold_timeout`).
pub const HOLD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(7);

/// Most commands one Raft entry carries.
const MAX_BATCH: usize = 256;

/// How long the proposer waits for the writers it expects before proposing fewer: at most one
/// timer tick, and only while writes are concurrent.
const LINGER: std::time::Duration = std::time::Duration::from_micros(500);

/// Group commit: openraft appends and fsyncs one client write at a time, so concurrent writers
/// are gathered here into one `Command::Batch` entry. Whatever queued while the previous entry
/// was being made durable goes into the next one: one fdatasync for all of them.
async fn proposer(
    core: Arc<self::core::Core>,
    mut rx: mpsc::Receiver<Proposal>,
    stats: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
    transferring: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    // As many writers as the previous entry carried are expected back: closed-loop clients
    // send their next write as soon as their reply arrives, a few hundred microseconds apart.
    let mut expect = 1;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        drain(&mut rx, &mut batch);
        if batch.len() < expect {
            let deadline = tokio::time::Instant::now() + LINGER;
            while batch.len() < expect {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(p)) => {
                        batch.push(p);
                        drain(&mut rx, &mut batch);
                    }
                    _ => break,
                }
            }
        }
        expect = batch.len();
        if transferring.load(Relaxed) {
            // Leadership is being handed over: certainly not applied, retried on the new leader.
            for (_, tx) in batch {
                let _ = tx.send(Err(WriteError::NoLeader));
            }
            continue;
        }
        stats.0.fetch_add(batch.len() as u64, Relaxed);
        metrics::counter!("consul.raft.apply").increment(batch.len() as u64);
        stats.1.fetch_add(1, Relaxed);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let raft = core.raft();
        if batch.len() == 1 {
            let Some((cmd, tx)) = batch.pop() else {
                continue;
            };
            let _ = tx.send(submit(&core, &raft, Request { now_ms, cmd }).await);
            continue;
        }
        let (cmds, txs): (Vec<Command>, Vec<_>) = batch.into_iter().unzip();
        match submit(
            &core,
            &raft,
            Request {
                now_ms,
                cmd: Command::Batch(cmds),
            },
        )
        .await
        {
            Ok(Reply::Batch(replies)) => {
                for (tx, r) in txs.into_iter().zip(replies) {
                    let _ = tx.send(r.map_err(WriteError::from));
                }
            }
            Ok(_) => {
                for tx in txs {
                    let _ = tx.send(Err(WriteError::Raft("unexpected batch reply".into())));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for tx in txs {
                    let _ = tx.send(Err(match &e {
                        WriteError::NoLeader => WriteError::NoLeader,
                        WriteError::Storage(why) => WriteError::Storage(why.clone()),
                        _ => WriteError::Raft(msg.clone()),
                    }));
                }
            }
        }
    }
}

/// Moves every queued proposal into `batch`, up to [`MAX_BATCH`].
fn drain(rx: &mut mpsc::Receiver<Proposal>, batch: &mut Vec<Proposal>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
}

async fn submit(
    core: &self::core::Core,
    raft: &RaftHandle,
    req: Request,
) -> Result<Reply, WriteError> {
    if let Some(f) = core.failure() {
        return Err(WriteError::Storage(f.reason));
    }
    let start = std::time::Instant::now();
    let written = raft.client_write(req).await;
    // Proposal to applied on the leader (Consul's is to committed; ours includes the apply).
    metrics::histogram!("consul.raft.commitTime").record(crate::telemetry::ms_since(start));
    match written {
        Ok(resp) => Ok(resp.data.0?),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Err(WriteError::NoLeader),
        // The core stopped on this write's storage error: say which.
        Err(RaftError::Fatal(f)) => Err(WriteError::Storage(
            core.stop_reason().unwrap_or_else(|| f.to_string()),
        )),
        Err(e) => Err(WriteError::Raft(e.to_string())),
    }
}

/// Raft timing scaled by `performance { raft_multiplier }` like Consul's: at 1 (production) a
/// heartbeat every 250ms and an election 1.5-2s after the last one was heard, close to Consul's
/// (1s heartbeat timeout, randomized up to 2s). openraft 0.9 makes a follower that knew a leader
/// wait its leader lease (`election_timeout_max`) plus a random election timeout, hence 0.5-1s.
fn raft_config(multiplier: u32, snapshot_threshold: u64, trailing_logs: u64) -> openraft::Config {
    let m = u64::from(multiplier.max(1));
    openraft::Config {
        cluster_name: "consul".to_string(),
        heartbeat_interval: 250 * m,
        election_timeout_min: 500 * m,
        election_timeout_max: 1000 * m,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_threshold),
        max_in_snapshot_log_to_keep: trailing_logs,
        purge_batch_size: 256,
        ..Default::default()
    }
}

impl RaftNode {
    /// Opens the store under `raft_dir` and starts the Raft member `id` advertised at `addr`.
    pub async fn start(
        raft_dir: &Path,
        id: u64,
        me: ServerNode,
        cfg: &crate::config::Config,
    ) -> anyhow::Result<RaftNode> {
        let store = Store::open(raft_dir)?;
        store.check_owner(&me.node_id, &raft_dir.with_file_name("node-id"))?;
        let sm = state_machine::StateMachine::load(store.clone())?;
        let departed = sm.departed.clone();
        let catalog = sm.catalog.clone();
        let config = Arc::new(
            raft_config(
                cfg.raft_multiplier,
                cfg.raft_snapshot_threshold,
                cfg.raft_trailing_logs,
            )
            .validate()?,
        );
        let peers = PeerClient::new(
            cfg.rpc_tls.outgoing.as_ref(),
            std::time::Duration::from_secs(30),
        )
        .map_err(|e| anyhow::anyhow!("Failed to set up TLS for calls to other servers: {e}"))?;
        let core = self::core::Core::start(
            id,
            config,
            store.clone(),
            sm,
            raft_dir.join("wal"),
            HttpNetwork::new(peers.clone()),
        )
        .await?;
        let (proposals, rx) = mpsc::channel(4096);
        let proposal_stats: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)> =
            Arc::default();
        let transferring: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let proposer = tokio::spawn(proposer(
            core.clone(),
            rx,
            proposal_stats.clone(),
            transferring.clone(),
        ));
        Ok(RaftNode {
            transferring,
            proposer: Arc::new(std::sync::Mutex::new(Some(proposer))),
            me,
            peers,
            contact: Arc::default(),
            departed,
            proposal_stats,
            core,
            id,
            catalog,
            store,
            proposals,
        })
    }

    /// This member's Raft id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The catalog state this server applies.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Servers removed from the membership (shown as `left`).
    pub fn departed(&self) -> BTreeMap<u64, ServerNode> {
        self.departed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// (commands proposed, Raft entries they went out in): writes per entry = group commit.
    pub fn proposal_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.proposal_stats.0.load(Relaxed),
            self.proposal_stats.1.load(Relaxed),
        )
    }

    /// The current openraft handle (replaced when the core restarts after a storage failure).
    fn raft(&self) -> RaftHandle {
        self.core.raft()
    }

    /// What the member knows now.
    pub fn status(&self) -> Status {
        Status::of(&self.core.metrics())
    }

    /// Consul's Raft gauges (`consul.raft.last_index`, `consul.raft.applied_index`,
    /// `consul.server.isLeader`) and a `consul.raft.state.<state>` count for each change of
    /// state seen since the last call (`last`; the telemetry sampler calls this every second).
    pub fn record_metrics(&self, last: &mut String) {
        let s = self.status();
        metrics::gauge!("consul.raft.last_index").set(s.last_log_index as f64);
        metrics::gauge!("consul.raft.applied_index").set(s.applied_index as f64);
        metrics::gauge!("consul.server.isLeader").set(if self.is_leader() { 1.0 } else { 0.0 });
        if *last != s.state {
            match s.state.as_str() {
                "Leader" => metrics::counter!("consul.raft.state.leader").increment(1),
                "Candidate" => metrics::counter!("consul.raft.state.candidate").increment(1),
                "Follower" => metrics::counter!("consul.raft.state.follower").increment(1),
                _ => {}
            }
            *last = s.state;
        }
    }

    /// Follows the member's status, across core restarts.
    pub fn watch(&self) -> StatusWatch {
        self.core.watch()
    }

    /// Answers a leader's AppendEntries (and records its contact).
    pub async fn serve_append(&self, req: AppendRequest) -> AppendReply {
        self.touch_contact();
        self.raft().append_entries(req).await
    }

    /// Answers a candidate's RequestVote.
    pub async fn serve_vote(&self, req: VoteRequest) -> VoteReply {
        self.raft().vote(req).await
    }

    /// Takes one chunk of a snapshot the leader sends.
    pub async fn serve_snapshot(&self, req: SnapshotRequest) -> SnapshotReply {
        self.raft().install_snapshot(req).await
    }

    /// Forms a new cluster of `voters` (the `-bootstrap-expect` servers found).
    pub async fn initialize(
        &self,
        voters: BTreeMap<u64, ServerNode>,
    ) -> Result<(), cluster::JoinError> {
        self.raft()
            .initialize(voters)
            .await
            .map_err(|e| cluster::JoinError::Raft(e.to_string()))
    }

    /// The Raft log; its sync counters show the group commit.
    pub fn wal(&self) -> crate::wal::Wal {
        self.core.wal()
    }

    /// Why writes are refused now, if they are.
    pub fn storage_failure(&self) -> Option<StorageFailure> {
        self.core.failure()
    }

    /// Why the last snapshot could not be written, while it could not.
    pub fn snapshot_failure(&self) -> Option<String> {
        self.core.snapshot_failure()
    }

    /// Stops Raft for good and makes the metadata durable (agent shutdown).
    pub async fn shutdown(&self) {
        self.core.shutdown().await;
        let _ = self.store.sync_now();
        let proposer = self
            .proposer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(p) = proposer {
            p.abort();
            let _ = p.await;
        }
    }

    /// Makes this server the single voter of a new cluster, unless it already has one.
    pub async fn bootstrap(&self) -> anyhow::Result<()> {
        let raft = self.raft();
        if raft.is_initialized().await? {
            return Ok(());
        }
        let mut members = BTreeMap::new();
        members.insert(self.id, self.me.clone());
        raft.initialize(members).await?;
        Ok(())
    }

    /// Proposes `cmd`, waits until it is durable and applied, and returns what it produced.
    ///
    /// Like Consul (`rpc_hold_timeout`), a write that finds no leader waits up to 7s for one
    /// to be elected and tries again; it is retried only when it certainly was not applied.
    pub async fn write(&self, cmd: Command) -> Result<Reply, WriteError> {
        if let Some(f) = self.core.failure() {
            return Err(WriteError::Storage(f.reason));
        }
        let deadline = tokio::time::Instant::now() + HOLD_TIMEOUT;
        loop {
            let leader = self.leader_addr();
            let attempt = if self.is_leader() {
                self.propose(cmd.clone()).await
            } else if let Some(addr) = &leader {
                self.forward(addr, cmd.clone()).await
            } else {
                Err(WriteError::NoLeader)
            };
            match attempt {
                Err(WriteError::NoLeader) if tokio::time::Instant::now() < deadline => {
                    self.wait_for_new_leader(leader, deadline).await;
                }
                other => return other,
            }
        }
    }

    /// Waits until a leader other than `stale` is known (or this server leads), or `deadline`.
    pub async fn wait_for_new_leader(&self, stale: Option<String>, deadline: tokio::time::Instant) {
        let mut metrics = self.watch();
        loop {
            let leader = self.leader_addr();
            if leader.is_some() && (leader != stale || self.is_leader()) {
                // Give a just-elected leader a moment to commit its first entry.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                return;
            }
            if !tokio::time::timeout_at(deadline, metrics.changed())
                .await
                .unwrap_or(false)
            {
                return;
            }
        }
    }

    /// Proposes on this server (the leader).
    pub async fn propose(&self, cmd: Command) -> Result<Reply, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.proposals
            .send((cmd, tx))
            .await
            .map_err(|_| WriteError::Raft("shutting down".into()))?;
        // Without a quorum a proposal never commits; give up after the hold timeout. The
        // write may still commit later, so this is not a retryable "no leader".
        match tokio::time::timeout(HOLD_TIMEOUT, rx).await {
            Ok(r) => r.map_err(|_| WriteError::Raft("shutting down".into()))?,
            Err(_) => Err(WriteError::Raft(
                "timed out waiting for the write to commit (no quorum?)".into(),
            )),
        }
    }

    /// Confirms leadership with a quorum before a `?consistent` read.
    pub async fn barrier(&self) -> Result<(), WriteError> {
        if self.transferring.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(WriteError::NoLeader);
        }
        match tokio::time::timeout(HOLD_TIMEOUT, self.raft().ensure_linearizable()).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(WriteError::NoLeader),
        }
    }

    /// Records contact from the leader (an AppendEntries arrived).
    fn touch_contact(&self) {
        self.contact
            .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Milliseconds since this server last heard from the leader: 0 on the leader, `None` if
    /// never (`X-Consul-LastContact`, `consul info`'s `last_contact`).
    pub fn last_contact_ms(&self) -> Option<u64> {
        if self.is_leader() {
            return Some(0);
        }
        match self.contact.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            at => Some(now_ms().saturating_sub(at)),
        }
    }

    // These run on every request: they borrow openraft's metrics instead of copying them.
    // A core stopped by a storage failure leads nothing and knows no leader.
    pub fn is_leader(&self) -> bool {
        let rx = self.raft().metrics();
        let m = rx.borrow();
        m.current_leader == Some(self.id) && m.running_state.is_ok()
    }

    /// What a read on this member needs to know, from one look at the metrics: whether it
    /// leads, how many voters there are, and whether it has applied an entry of its current
    /// term (as leader, then, every entry committed before its election is applied).
    pub(crate) fn leader_view(&self) -> LeaderView {
        let rx = self.core.metrics_rx();
        let m = rx.borrow();
        LeaderView {
            leader: m.current_leader == Some(self.id) && m.running_state.is_ok(),
            voters: m.membership_config.membership().voter_ids().count(),
            applied_own_term: m
                .last_applied
                .is_some_and(|l| l.leader_id.term == m.current_term),
        }
    }

    /// The leader's advertised address, if one is known.
    pub fn leader_addr(&self) -> Option<String> {
        let rx = self.raft().metrics();
        let m = rx.borrow();
        if m.running_state.is_err() {
            return None;
        }
        let leader = m.current_leader?;
        m.membership_config
            .membership()
            .get_node(&leader)
            .map(|n| n.addr.clone())
    }

    /// How many voters the membership has.
    pub fn voter_count(&self) -> usize {
        self.raft()
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .count()
    }
}

/// Milliseconds since the epoch (the leader stamps commands with it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
