//! The agent: this server's Raft member and catalog, its check runners and session timers,
//! behind one closed type, [`Agent`]. Starting and stopping it with its listeners is
//! [`crate::lifecycle`]'s work.

pub mod cluster;
mod leader;
mod members;
mod sessions;
pub mod tokens;

use crate::blocking::Catalog;
use crate::catalog::acl::{AclPolicyConfig, AclRefusal, Authz};
use crate::catalog::{CheckRecord, Command, HealthStatus};
use crate::config::Config;
use crate::health::{CheckRunner, CheckSink};
use crate::raft::{RaftNode, WriteError};
use futures::future::BoxFuture;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use tokio::sync::Notify;

pub use members::SelfDoc;
pub use sessions::SessionTimers;

/// The agent: the one type the HTTP layer and the CLI-facing lifecycle talk to. Its state
/// is private; what it offers is said in the domain's words: write a command, read at a
/// consistency, this server's Raft status, membership (join, leave, remove a server), and the
/// agent's own checks and session timers.
pub struct Agent {
    config: Config,
    node_id: String,
    raft: RaftNode,
    checks: CheckRunner,
    sessions: SessionTimers,
    peers: cluster::Peers,
    data_dir: PathBuf,
    shutdown: Notify,
    leaving: AtomicBool,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The registrations index the check runners last matched.
    checks_synced: std::sync::atomic::AtomicU64,
    /// The agent's own ACL tokens (`acl.tokens`, `/v1/agent/token/*`).
    tokens: tokens::Tokens,
    /// Tokens resolved since the last ACL change.
    authz_cache: crate::catalog::acl::AuthzCache,
}

impl Agent {
    /// The agent of `config` on the Raft member `raft` (started, not yet serving).
    pub fn new(config: Config, node_id: String, raft: RaftNode, data_dir: PathBuf) -> Arc<Agent> {
        let tokens = match &config.acl {
            Some(acl) => tokens::Tokens::load(
                acl.tokens.clone(),
                acl.enable_token_persistence
                    .then(|| data_dir.join("acl-tokens.json")),
            ),
            None => tokens::Tokens::load(Default::default(), None),
        };
        Arc::new_cyclic(|weak: &Weak<Agent>| Agent {
            tokens,
            authz_cache: Default::default(),
            config,
            node_id,
            raft,
            checks: CheckRunner::new(Arc::new(Sink(weak.clone()))),
            sessions: SessionTimers::new(weak.clone()),
            peers: cluster::Peers::default(),
            data_dir,
            shutdown: Notify::new(),
            leaving: AtomicBool::new(false),
            tasks: Default::default(),
            checks_synced: Default::default(),
        })
    }

    /// Starts the agent's background work: bootstrapping a single server, leadership duties,
    /// tombstone GC, cluster discovery, and check runners following this node's checks.
    pub async fn begin(self: &Arc<Self>) -> anyhow::Result<()> {
        let c = &self.config;
        if c.bootstrap || c.dev || c.bootstrap_expect == 1 {
            self.raft.bootstrap().await?;
        }
        let tasks = vec![
            tokio::spawn(leader::watch(self.clone())),
            tokio::spawn(leader::tombstone_gc(self.clone())),
            tokio::spawn(leader::reap_expired_tokens(self.clone())),
            tokio::spawn(cluster::run(self.clone())),
            tokio::spawn(follow_checks(Arc::downgrade(self))),
        ];
        self.sync_checks();
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(tasks);
        Ok(())
    }

    /// Stops the check runners and session timers, answers parked queries with what they
    /// have (as Consul's do at shutdown), and stops the background work, waiting until it has.
    pub async fn stop(&self) {
        self.checks.stop_all();
        self.sessions.stop_all();
        self.catalog().close();
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
    }

    /// Stops Raft and makes the metadata durable: the last step of a shutdown.
    pub async fn close(&self) {
        self.raft.shutdown().await;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether ACLs are enforced (`acl.enabled`).
    pub fn acl_enabled(&self) -> bool {
        self.config.acl.is_some()
    }

    /// The agent's own tokens.
    pub fn tokens(&self) -> &tokens::Tokens {
        &self.tokens
    }

    /// How tokens resolve on this agent, `None` when ACLs are off.
    pub fn acl_policy(&self) -> Option<AclPolicyConfig> {
        let acl = self.config.acl.as_ref()?;
        Some(AclPolicyConfig {
            default_policy: if acl.default_deny {
                ::acl::DefaultPolicy::Deny
            } else {
                ::acl::DefaultPolicy::Allow
            },
            initial_management: acl.tokens.initial_management.clone(),
            datacenter: self.config.datacenter.clone(),
        })
    }

    /// The secret a request acts with: its own, else the agent's default token, else the
    /// anonymous token (`""`).
    pub fn effective_secret(&self, token: &str) -> String {
        if token.is_empty() {
            self.tokens.default_token().unwrap_or_default()
        } else {
            token.to_string()
        }
    }

    /// What a request carrying `token` (`""`: none) may do, resolved from `state`.
    pub fn authorize_in(
        &self,
        state: &crate::catalog::State,
        token: &str,
    ) -> Result<Authz, AclRefusal> {
        let Some(policy) = self.acl_policy() else {
            return Ok(Authz::manage_all());
        };
        let secret = self.effective_secret(token);
        if !secret.is_empty() && self.tokens.is_recovery(&secret) {
            return Ok(Authz::recovery(&self.config.node_name));
        }
        let (index, now) = (state.acl().index(), crate::raft::now_ms());
        if let Some(z) = self.authz_cache.get(&secret, index, now) {
            return Ok(z);
        }
        let z = state.acl().authorize(&secret, now, &policy)?;
        self.authz_cache.put(&secret, index, &z);
        Ok(z)
    }

    /// What a request carrying `token` may do, from the current state.
    pub fn authorize(&self, token: &str) -> Result<Authz, AclRefusal> {
        if !self.acl_enabled() {
            return Ok(Authz::manage_all());
        }
        self.catalog().read(|s| self.authorize_in(s, token))
    }

    /// This agent's node name.
    pub fn node(&self) -> &str {
        &self.config.node_name
    }

    /// This agent's node ID (UUID).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn datacenter(&self) -> &str {
        &self.config.datacenter
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn catalog(&self) -> &Catalog {
        self.raft.catalog()
    }

    /// The Raft member, for the server port's RPC endpoints.
    pub fn raft(&self) -> &RaftNode {
        &self.raft
    }

    /// Writes `cmd` through Raft; once applied, the check runners follow it when it changed
    /// this agent's node.
    pub async fn write(&self, cmd: Command) -> Result<crate::catalog::Reply, WriteError> {
        let mine = cmd.touches_node(&self.config.node_name);
        let reply = self.raft.write(cmd).await;
        if mine && reply.is_ok() {
            self.sync_checks();
        }
        reply
    }

    /// Makes the next read see what `consistency` promises (nothing to wait for when stale).
    pub async fn read_barrier(&self, consistency: Consistency) -> Result<(), WriteError> {
        match consistency {
            Consistency::Stale => Ok(()),
            Consistency::Default => self.raft.read_barrier(false).await,
            Consistency::Consistent => self.raft.read_barrier(true).await,
        }
    }

    /// The leader's server address, if one is known.
    pub fn leader_addr(&self) -> Option<String> {
        self.raft.leader_addr()
    }

    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// Milliseconds since the leader was last heard from (0 on the leader).
    pub fn last_contact_ms(&self) -> Option<u64> {
        self.raft.last_contact_ms()
    }

    /// What this server's Raft member knows now.
    pub fn raft_status(&self) -> crate::raft::Status {
        self.raft.status()
    }

    /// The voting servers, by Raft id.
    pub fn servers(&self) -> std::collections::BTreeMap<u64, crate::raft::ServerNode> {
        self.raft.info().voters
    }

    /// Joins the cluster a server at `addr` (as `-join` takes it) belongs to.
    pub async fn join(&self, addr: &str) -> Result<(), crate::raft::cluster::JoinError> {
        let target = cluster::server_addr(addr, self.config.ports.server);
        self.raft.join_addr(&target).await
    }

    /// Leaves the cluster gracefully (when it has other voters), as `consul leave` does.
    pub async fn leave_cluster(&self) -> Result<(), WriteError> {
        let info = self.raft.info();
        if info.voters.len() > 1 && info.voters.contains_key(&self.raft.id()) {
            self.raft.leave_cluster().await?;
        }
        Ok(())
    }

    /// Removes server `id` from the Raft membership, through the leader.
    pub async fn remove_server(&self, id: u64) -> Result<(), WriteError> {
        self.raft.remove_via_leader(id).await
    }

    /// The check runners (TTL updates).
    pub fn checks(&self) -> &CheckRunner {
        &self.checks
    }

    /// Session expiry timers.
    pub fn sessions(&self) -> &SessionTimers {
        &self.sessions
    }

    /// The agent's own checks (those it runs), and the storage check while the disk
    /// refuses writes.
    pub fn agent_checks(&self) -> Vec<CheckRecord> {
        let mut checks = self.run_checks();
        if let Some(f) = self.raft.storage_failure() {
            checks.push(storage_check(&self.config.node_name, &f.reason));
        }
        checks
    }

    /// The checks this agent runs, and its maintenance checks, as the catalog holds them.
    fn run_checks(&self) -> Vec<CheckRecord> {
        self.catalog().read(|s| {
            s.agent_listed_checks(&self.config.node_name)
                .cloned()
                .collect()
        })
    }

    /// Restarts/stops check runners to match the catalog, and notes the registrations index
    /// they match.
    fn sync_checks(&self) {
        let (index, checks): (u64, Vec<CheckRecord>) = self.catalog().read(|s| {
            let checks = s.agent_checks(&self.config.node_name).cloned().collect();
            (s.registrations_index(), checks)
        });
        self.checks.sync(&checks);
        self.checks_synced.fetch_max(index, Ordering::SeqCst);
    }

    pub fn leaving(&self) -> bool {
        self.leaving.load(Ordering::Relaxed)
    }

    /// Asks the agent to stop (after `consul leave`).
    pub fn request_shutdown(&self) {
        self.leaving.store(true, Ordering::Relaxed);
        self.shutdown.notify_waiters();
        self.shutdown.notify_one();
    }

    /// Resolves when `consul leave` asked the agent to stop.
    pub async fn shutdown_requested(&self) {
        self.shutdown.notified().await
    }

    pub fn allow_scripts(&self) -> bool {
        self.config.enable_script_checks
    }
}

/// How fresh a read must be: Consul's `?stale`, default, and `?consistent` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Any server answers from what it has applied.
    Stale,
    /// The leader answers (a follower first catches up with the leader's commit index).
    Default,
    /// As `Default`, and the leader confirms its leadership with a quorum first.
    Consistent,
}

impl Consistency {
    /// The word `X-Consul-Effective-Consistency` carries.
    pub fn word(self) -> &'static str {
        match self {
            Consistency::Stale => "stale",
            Consistency::Default => "leader",
            Consistency::Consistent => "consistent",
        }
    }
}

/// Follows the applied state of this agent's node: whatever writes it (this agent, a
/// registration through another server, a snapshot restore), the check runners match it.
async fn follow_checks(agent: Weak<Agent>) {
    let mut seen = 0;
    loop {
        let Some(a) = agent.upgrade() else { return };
        let key = a.config.node_name.to_lowercase();
        let answer = crate::blocking::run(
            a.catalog(),
            Some(crate::blocking::Blocking {
                min_index: seen.max(1),
                wait: std::time::Duration::from_secs(600),
            }),
            |s| crate::catalog::query::Answer {
                index: s.registrations_index(),
                value: (),
                watch: vec![crate::catalog::WatchKey::Node(key.clone())],
            },
        )
        .await;
        if a.catalog().is_closed() {
            return;
        }
        // The agent's own writes sync as they return; only what came from elsewhere is left.
        if answer.index != seen {
            seen = answer.index;
            if answer.index > a.checks_synced.load(Ordering::SeqCst) {
                a.sync_checks();
            }
        }
        drop(a);
    }
}

/// The check a server whose storage refuses writes carries.
pub const STORAGE_CHECK_ID: &str = "raftStorage";

/// The critical storage check of `node`, saying why.
pub fn storage_check(node: &str, why: &str) -> CheckRecord {
    CheckRecord {
        node: node.to_string(),
        check_id: STORAGE_CHECK_ID.into(),
        name: "Raft Storage".into(),
        status: HealthStatus::Critical,
        output: format!("writes are refused: {why}"),
        ..Default::default()
    }
}

/// Writes check results from the runners into the catalog.
struct Sink(Weak<Agent>);

impl CheckSink for Sink {
    fn update(
        &self,
        check_id: String,
        status: HealthStatus,
        output: String,
    ) -> BoxFuture<'static, ()> {
        let agent = self.0.clone();
        Box::pin(async move {
            let Some(agent) = agent.upgrade() else { return };
            let node = agent.config.node_name.clone();
            if let Err(e) = agent
                .write(Command::UpdateCheck {
                    node,
                    check_id: check_id.clone(),
                    status,
                    output,
                })
                .await
            {
                tracing::warn!(target: "agent", "failed to update check: check={check_id} error={e}");
            }
        })
    }

    fn deregister_service(&self, service_id: String) -> BoxFuture<'static, ()> {
        let agent = self.0.clone();
        Box::pin(async move {
            let Some(agent) = agent.upgrade() else { return };
            let node = agent.config.node_name.clone();
            tracing::info!(target: "agent", "removed service due to critical check: service={service_id}");
            let _ = agent
                .write(Command::DeregisterService { node, service_id })
                .await;
        })
    }
}
