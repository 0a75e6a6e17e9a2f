//! The agent: this server's Raft member and catalog, its check runners and session timers,
//! behind one closed type, [`Agent`]. Starting and stopping it with its listeners is
//! [`crate::lifecycle`]'s work.

pub mod acl_client;
mod alias_source;
mod anti_entropy;
pub mod autopilot;
pub mod cluster;
pub mod coordinates;
pub mod events;
mod leader;
pub mod local;
mod members;
pub mod reload;
pub mod serf;
mod sessions;
pub mod tokens;
pub mod upstream;

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
    role: Role,
    checks: CheckRunner,
    sessions: SessionTimers,
    serf: serf::Serf,
    /// The user events this agent kept.
    events: events::EventLog,
    /// This agent's network coordinate.
    coordinates: coordinates::Coordinates,
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
    /// A client's token resolution through the servers (`None` on a server or without ACLs).
    acl_client: Option<acl_client::AclClient>,
    /// The config as last reloaded (`None`: as started).
    reloaded: std::sync::Mutex<Option<Arc<Config>>>,
}

/// What kind of agent this is: a server (a Raft member holding the catalog) or a client (its
/// own services and checks, kept in step with the servers; everything else asked of them).
pub enum Role {
    Server(RaftNode),
    Client {
        local: Box<local::LocalNode>,
        upstream: upstream::Upstream,
    },
}

impl Agent {
    /// The agent of `config` in `role` (started, not yet serving).
    pub fn new(
        config: Config,
        node_id: String,
        role: Role,
        serf: serf::Serf,
        data_dir: PathBuf,
    ) -> Arc<Agent> {
        let tokens = match &config.acl {
            Some(acl) => tokens::Tokens::load(
                acl.tokens.clone(),
                acl.enable_token_persistence
                    .then(|| data_dir.join("acl-tokens.json")),
            ),
            None => tokens::Tokens::load(Default::default(), None),
        };
        let acl_client = match (&config.acl, &role) {
            (Some(acl), Role::Client { .. }) => Some(acl_client::AclClient::new(acl)),
            _ => None,
        };
        Arc::new_cyclic(|weak: &Weak<Agent>| Agent {
            tokens,
            authz_cache: Default::default(),
            acl_client,
            config,
            node_id,
            role,
            checks: CheckRunner::new(Arc::new(Sink(weak.clone()))),
            sessions: SessionTimers::new(weak.clone()),
            serf,
            events: Default::default(),
            coordinates: Default::default(),
            data_dir,
            shutdown: Notify::new(),
            leaving: AtomicBool::new(false),
            tasks: Default::default(),
            checks_synced: Default::default(),
            reloaded: Default::default(),
        })
    }

    /// Starts the agent's background work: bootstrapping a single server, leadership duties,
    /// tombstone GC, cluster discovery, and check runners following this node's checks.
    pub async fn begin(self: &Arc<Self>) -> anyhow::Result<()> {
        let c = &self.config;
        let tasks = match &self.role {
            Role::Server(raft) => {
                if c.bootstrap || c.dev || c.bootstrap_expect == 1 {
                    raft.bootstrap().await?;
                }
                vec![
                    tokio::spawn(leader::watch(self.clone())),
                    tokio::spawn(leader::tombstone_gc(self.clone())),
                    tokio::spawn(leader::reap_expired_tokens(self.clone())),
                    tokio::spawn(cluster::run(self.clone())),
                    tokio::spawn(events::run(self.clone())),
                    tokio::spawn(coordinates::run(self.clone())),
                    tokio::spawn(follow_checks(Arc::downgrade(self))),
                ]
            }
            Role::Client { .. } => {
                leader::register_self(self).await?;
                vec![
                    tokio::spawn(cluster::run(self.clone())),
                    tokio::spawn(anti_entropy::run(self.clone())),
                    tokio::spawn(events::run(self.clone())),
                    tokio::spawn(coordinates::run(self.clone())),
                    tokio::spawn(follow_checks(Arc::downgrade(self))),
                ]
            }
        };
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
        self.serf.shutdown().await;
    }

    /// Stops Raft and makes the metadata durable: the last step of a shutdown (a client's
    /// state was persisted as it changed).
    pub async fn close(&self) {
        if let Role::Server(raft) = &self.role {
            raft.shutdown().await;
        }
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
        if self.acl_client.is_some() {
            return self.authorize(token);
        }
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

    /// What a request carrying `token` may do, from the current state. A client answers
    /// from what it last resolved through the servers ([`Agent::resolve_token`] resolves).
    pub fn authorize(&self, token: &str) -> Result<Authz, AclRefusal> {
        if !self.acl_enabled() {
            return Ok(Authz::manage_all());
        }
        if let Some(client) = &self.acl_client {
            let secret = self.effective_secret(token);
            if !secret.is_empty() && self.tokens.is_recovery(&secret) {
                return Ok(Authz::recovery(&self.config.node_name));
            }
            return client.cached(&secret).unwrap_or_else(|| {
                Err(AclRefusal::Invalid(
                    "ACL token not resolved through the servers".into(),
                ))
            });
        }
        self.catalog().read(|s| self.authorize_in(s, token))
    }

    /// What a request carrying `token` may do: on a server as [`Agent::authorize`]; a client
    /// asks the servers unless it resolved the token less than `acl.token_ttl` ago (its
    /// recovery token it resolves itself).
    pub async fn resolve_token(self: &Arc<Self>, token: &str) -> Result<Authz, AclRefusal> {
        let Some(client) = &self.acl_client else {
            return self.authorize(token);
        };
        let secret = self.effective_secret(token);
        if !secret.is_empty() && self.tokens.is_recovery(&secret) {
            return Ok(Authz::recovery(&self.config.node_name));
        }
        client.resolve(self, &secret).await
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

    /// The catalog this agent answers from: the replicated one on a server, the agent's own
    /// node on a client.
    pub fn catalog(&self) -> &Catalog {
        match &self.role {
            Role::Server(raft) => raft.catalog(),
            Role::Client { local, .. } => local.catalog(),
        }
    }

    /// Whether this agent is a server.
    pub fn is_server(&self) -> bool {
        matches!(self.role, Role::Server(_))
    }

    /// Writes `cmd` through Raft (a client: into its own state, which anti-entropy copies to
    /// the servers); once applied, the check runners follow it when it changed this agent's
    /// node.
    pub async fn write(&self, cmd: Command) -> Result<crate::catalog::Reply, WriteError> {
        let mine = cmd.touches_node(&self.config.node_name);
        let reply = match &self.role {
            Role::Server(raft) => {
                let timer = write_metric(&cmd).map(|name| (name, std::time::Instant::now()));
                let r = raft.write(cmd).await;
                if let Some((name, start)) = timer {
                    metrics::histogram!(name).record(crate::telemetry::ms_since(start));
                }
                r
            }
            Role::Client { local, .. } => local.apply(cmd),
        };
        if mine && reply.is_ok() {
            self.sync_checks();
        }
        reply
    }

    /// Makes the next read see what `consistency` promises (nothing to wait for when stale,
    /// or on a client, whose own state is all it reads).
    pub async fn read_barrier(&self, consistency: Consistency) -> Result<(), WriteError> {
        let Some(raft) = self.server() else {
            return Ok(());
        };
        match consistency {
            Consistency::Stale => Ok(()),
            Consistency::Default => raft.read_barrier(false).await,
            Consistency::Consistent => raft.read_barrier(true).await,
        }
    }

    /// The leader's server address, if one is known.
    pub fn leader_addr(&self) -> Option<String> {
        self.server().and_then(RaftNode::leader_addr)
    }

    pub fn is_leader(&self) -> bool {
        self.server().is_some_and(RaftNode::is_leader)
    }

    /// Milliseconds since the leader was last heard from (0 on the leader).
    pub fn last_contact_ms(&self) -> Option<u64> {
        self.server().and_then(RaftNode::last_contact_ms)
    }

    /// What this server's Raft member knows now (nothing on a client).
    pub fn raft_status(&self) -> crate::raft::Status {
        self.server().map(RaftNode::status).unwrap_or_default()
    }

    /// The voting servers, by Raft id.
    pub fn servers(&self) -> std::collections::BTreeMap<u64, crate::raft::ServerNode> {
        self.server()
            .map(|raft| raft.info().voters)
            .unwrap_or_default()
    }

    /// This agent's Raft member when it is a server.
    pub fn server(&self) -> Option<&RaftNode> {
        match &self.role {
            Role::Server(raft) => Some(raft),
            Role::Client { .. } => None,
        }
    }

    /// A client's own state and its way to the servers.
    pub fn client(&self) -> Option<(&local::LocalNode, &upstream::Upstream)> {
        match &self.role {
            Role::Server(_) => None,
            Role::Client { local, upstream } => Some((&**local, upstream)),
        }
    }

    /// This agent's network coordinate now.
    pub fn coordinate(&self) -> crate::catalog::coordinate::Coord {
        self.coordinates.current()
    }

    /// This agent's membership of the gossip pool.
    pub fn serf(&self) -> &serf::Serf {
        &self.serf
    }

    /// Joins the gossip pool through the agent at `addr` (`host`, `host:port`), as
    /// `consul join` does; a server outside a Raft cluster then joins the servers it finds.
    pub async fn join(&self, addr: &str) -> Result<(), serf::SerfJoinError> {
        self.serf.join(&[addr.to_string()]).await.map(|_| ())
    }

    /// Leaves gracefully, as `consul leave` does: a server leaves Raft (when it has other
    /// voters), then the agent leaves the gossip pool.
    pub async fn leave_cluster(&self) -> Result<(), WriteError> {
        if let Some(raft) = self.server() {
            let info = raft.info();
            if info.voters.len() > 1 && info.voters.contains_key(&raft.id()) {
                raft.leave_cluster().await?;
            }
        }
        if let Err(e) = self.serf.leave().await {
            tracing::warn!(target: "agent", "failed to leave the gossip pool: {e}");
        }
        Ok(())
    }

    /// Removes server `id` from the Raft membership, through the leader.
    pub async fn remove_server(&self, id: u64) -> Result<(), WriteError> {
        match self.server() {
            Some(raft) => raft.remove_via_leader(id).await,
            None => Err(WriteError::NoLeader),
        }
    }

    /// Consul's force-leave: a failed member of the pool is marked left everywhere (and
    /// deregistered by the leader); a server is removed from Raft too. `false` when no
    /// member or server has that name.
    pub async fn force_leave(&self, node: &str) -> Result<bool, WriteError> {
        let member = self
            .serf
            .members()
            .await
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(node));
        if let Some(m) = &member {
            if let Err(e) = self.serf.force_leave(m.name()).await {
                tracing::warn!(target: "agent", "force-leave of {node} failed: {e}");
            }
        }
        let server = self.server().and_then(|raft| {
            raft.info()
                .voters
                .into_iter()
                .find(|(_, n)| n.name.eq_ignore_ascii_case(node))
                .map(|(id, _)| id)
        });
        if let (Some(raft), Some(id)) = (self.server(), server) {
            raft.remove_via_leader(id).await?;
        }
        Ok(member.is_some() || server.is_some())
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
        if let Some(f) = self.server().and_then(RaftNode::storage_failure) {
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

/// The server-port path that takes a client's anti-entropy sync.
pub fn anti_entropy_path() -> &'static str {
    anti_entropy::SYNC_PATH
}

/// The server-port path a client resolves an ACL token on.
pub fn acl_resolve_path() -> &'static str {
    acl_client::RESOLVE_PATH
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

    fn node_health(
        &self,
        node: Option<String>,
        service_id: String,
        min_index: u64,
    ) -> BoxFuture<'static, Result<crate::health::NodeHealth, String>> {
        let agent = self.0.clone();
        Box::pin(async move {
            let Some(agent) = agent.upgrade() else {
                return Err("agent is shutting down".into());
            };
            agent.alias_node_health(node, &service_id, min_index).await
        })
    }
}

/// The timer Consul's server endpoint for a write records (`Catalog.Register` →
/// `consul.catalog.register`, `KVS.Apply` → `consul.kvs.apply`, ...), for the writes that
/// have one.
fn write_metric(cmd: &Command) -> Option<&'static str> {
    #[allow(clippy::wildcard_enum_match_arm)]
    Some(match cmd {
        Command::RegisterNode { .. }
        | Command::RegisterService { .. }
        | Command::RegisterCheck { .. }
        | Command::Register(_)
        | Command::UpdateCheck { .. } => "consul.catalog.register",
        Command::DeregisterNode { .. }
        | Command::DeregisterService { .. }
        | Command::DeregisterCheck { .. } => "consul.catalog.deregister",
        Command::KvSet { .. } | Command::KvDelete { .. } => "consul.kvs.apply",
        Command::SessionCreate { .. } | Command::SessionDestroy { .. } => "consul.session.apply",
        Command::Txn { .. } => "consul.txn.apply",
        Command::PreparedQuerySet { .. } | Command::PreparedQueryDelete { .. } => {
            "consul.prepared-query.apply"
        }
        _ => return None,
    })
}
