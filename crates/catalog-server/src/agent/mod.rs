//! The running agent: wires storage, Raft, the catalog, check runners, session timers and the
//! HTTP listeners together from a [`Config`], and shuts them down in order.

pub mod cluster;
mod leader;
pub mod local;
mod members;
mod notify;
mod sessions;

use crate::blocking::Catalog;
use crate::catalog::{CheckRecord, Command};
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

/// The agent shared by every handler and background task.
pub struct Agent {
    pub config: Config,
    pub node_id: String,
    pub raft: RaftNode,
    pub checks: CheckRunner,
    pub sessions: SessionTimers,
    pub peers: cluster::Peers,
    pub data_dir: PathBuf,
    shutdown: Notify,
    leaving: AtomicBool,
}

impl Agent {
    pub fn catalog(&self) -> &Catalog {
        self.raft.catalog()
    }

    pub fn node(&self) -> &str {
        &self.config.node_name
    }

    pub async fn write(&self, cmd: Command) -> Result<crate::catalog::Reply, WriteError> {
        self.raft.write(cmd).await
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

    /// The checks this agent runs, as the catalog holds them.
    fn run_checks(&self) -> Vec<CheckRecord> {
        let key = self.config.node_name.to_lowercase();
        self.catalog()
            .read(|s| {
                s.checks
                    .get(&key)
                    .map(|m| m.values().filter(|c| c.spec.is_some()).cloned().collect())
            })
            .unwrap_or_default()
    }

    /// Restarts/stops check runners to match the catalog.
    pub fn sync_checks(&self) {
        self.checks.sync(&self.run_checks());
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

    pub fn allow_scripts(&self) -> bool {
        self.config.enable_script_checks
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
        status: "critical".into(),
        output: format!("writes are refused: {why}"),
        ..Default::default()
    }
}

/// Writes check results from the runners into the catalog.
struct Sink(Weak<Agent>);

impl CheckSink for Sink {
    fn update(&self, check_id: String, status: String, output: String) -> BoxFuture<'static, ()> {
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
            agent.sync_checks();
        })
    }
}

fn load_node_id(data_dir: &std::path::Path, configured: Option<&str>) -> anyhow::Result<String> {
    if let Some(id) = configured {
        return Ok(id.to_string());
    }
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) => {
            let id = id.trim().to_string();
            uuid::Uuid::parse_str(&id).map_err(|e| {
                anyhow::anyhow!(
                    "Error starting agent: {} does not hold a node ID ({e}): it was edited or \
                     damaged. Write this node's ID back into it (`consul operator raft \
                     list-peers` on another server shows it), or remove it on a node without \
                     Raft data",
                    path.display()
                )
            })?;
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, &id)?;
            Ok(id)
        }
        Err(e) => Err(anyhow::anyhow!("Error reading {}: {e}", path.display())),
    }
}

/// Holds `<data-dir>/lock` for the life of the process: a second agent on the same data dir
/// is refused instead of corrupting it.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join("lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("Error opening {}: {e}", path.display()))?;
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        anyhow::bail!(
            "Error starting agent: the data dir {} is in use by another consul agent{}",
            data_dir.display(),
            if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            }
        );
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

fn raft_id(node_id: &str) -> u64 {
    let u = uuid::Uuid::parse_str(node_id)
        .map(|u| u.as_u128())
        .unwrap_or(1);
    ((u >> 64) as u64).max(1)
}

/// The startup banner, in Go consul's layout (scripts read its lines). It names only the
/// listeners this agent opens: HTTP on the client addresses, and for a server its server port
/// (Raft, joins and forwarding, over HTTP) on its own line. The listeners this consul does not
/// have (HTTPS, gRPC, gRPC-TLS, DNS, Serf LAN and WAN) print as Go prints a disabled port, -1,
/// whatever their configured port.
fn banner(c: &Config, node_id: &str) {
    // The addresses HTTP really binds (`addresses.http`, else the client addresses).
    let clients: Vec<String> = c.http_addrs.iter().map(|a| a.to_string()).collect();
    println!("==> Starting Consul agent...");
    println!("              Version: '{}'", crate::version::VERSION);
    println!("           Build Date: '{}'", crate::version::BUILD_DATE);
    println!("              Node ID: '{node_id}'");
    println!("            Node name: '{}'", c.node_name);
    println!(
        "           Datacenter: '{}' (Segment: '<all>')",
        c.datacenter
    );
    println!(
        "               Server: {} (Bootstrap: {})",
        c.server,
        c.bootstrap || c.dev
    );
    println!(
        "          Client Addr: [{}] (HTTP: {}, HTTPS: -1, gRPC: -1, gRPC-TLS: -1, DNS: -1)",
        clients.join(" "),
        c.ports.http.max(-1),
    );
    println!(
        "         Cluster Addr: {} (LAN: -1, WAN: -1)",
        c.advertise_addr
    );
    println!("    Gossip Encryption: false");
    println!("     Auto-Encrypt-TLS: false");
    println!("         ACLs Enabled: false");
    if c.server && c.ports.server >= 0 {
        println!(
            "          Server Addr: {}:{} (Raft over HTTP)",
            c.bind_addr, c.ports.server
        );
    }
    println!();
    println!("==> Log data will now stream in as it occurs:");
    println!();
}

/// Runs the agent until a shutdown signal or `consul leave`; returns the process exit code.
pub async fn run(config: Config) -> anyhow::Result<i32> {
    crate::logging::init(&config.log_level, config.log_json);
    let (data_dir, _dev_dir) = match &config.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let d = tempfile_dir()?;
            (d.clone(), Some(DevDir(d)))
        }
    };
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| anyhow::anyhow!("Error creating data dir {}: {e}", data_dir.display()))?;
    let _lock = lock_data_dir(&data_dir)?;
    let node_id = load_node_id(&data_dir, config.node_id.as_deref())?;
    for w in &config.warnings {
        tracing::warn!(target: "agent", "{w}");
    }
    banner(&config, &node_id);
    if let Some(pid) = &config.pid_file {
        std::fs::write(pid, std::process::id().to_string())?;
    }

    let server_addr = format!("{}:{}", config.advertise_addr, config.ports.server);
    let me = crate::raft::ServerNode {
        addr: server_addr,
        name: config.node_name.clone(),
        node_id: node_id.clone(),
    };
    let raft = RaftNode::start(&data_dir.join("raft"), raft_id(&node_id), me, &config).await?;

    let agent = Arc::new_cyclic(|weak: &Weak<Agent>| Agent {
        config: config.clone(),
        node_id: node_id.clone(),
        raft: raft.clone(),
        checks: CheckRunner::new(Arc::new(Sink(weak.clone()))),
        sessions: SessionTimers::new(weak.clone()),
        peers: cluster::Peers::default(),
        data_dir: data_dir.clone(),
        shutdown: Notify::new(),
        leaving: AtomicBool::new(false),
    });

    let listeners = crate::http::bind(&agent).await?;
    if config.bootstrap || config.dev || config.bootstrap_expect == 1 {
        raft.bootstrap().await?;
    }
    let leader_task = tokio::spawn(leader::watch(agent.clone()));
    let gc_task = tokio::spawn(leader::tombstone_gc(agent.clone()));
    let cluster_task = tokio::spawn(cluster::run(agent.clone()));
    agent.sync_checks();
    let server = tokio::spawn(crate::http::serve(agent.clone(), listeners));
    let ready = tokio::spawn(notify_when_ready(agent.clone()));

    let stop = wait_for_stop(&agent).await;
    if stop.leave {
        leave_cluster(&agent).await;
    }
    tracing::info!(target: "agent", "Requesting shutdown");
    ready.abort();
    notify::send("STOPPING=1");
    agent.checks.stop_all();
    agent.sessions.stop_all();
    leader_task.abort();
    gc_task.abort();
    cluster_task.abort();
    // No new connections; parked queries answer with what they have, and the requests in
    // flight get a few seconds to finish before Raft stops under them.
    server.abort();
    agent.catalog().close();
    let drain_until = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while crate::http::in_flight() > 0 && tokio::time::Instant::now() < drain_until {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    agent.raft.shutdown().await;
    if let Some(pid) = &config.pid_file {
        let _ = std::fs::remove_file(pid);
    }
    tracing::info!(target: "agent", "shutdown complete");
    Ok(stop.code)
}

/// How long requests in flight may take to finish at shutdown.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Leaves the cluster gracefully on a signal when `leave_on_terminate` /
/// `skip_leave_on_interrupt` say so (as `consul leave` does).
async fn leave_cluster(agent: &Agent) {
    tracing::info!(target: "agent", "Gracefully shutting down agent...");
    let info = agent.raft.info();
    if info.voters.len() > 1 && info.voters.contains_key(&agent.raft.id) {
        if let Err(e) = agent.raft.leave_cluster().await {
            tracing::error!(target: "agent", "Error leaving cluster: {e}");
        }
    }
}

/// Why the agent stops: its exit code, and whether it leaves the cluster first.
struct Stop {
    code: i32,
    leave: bool,
}

/// Tells systemd we are ready once a leader is known (the listeners are already bound).
async fn notify_when_ready(agent: Arc<Agent>) {
    let mut metrics = agent.raft.watch();
    loop {
        if metrics.current().current_leader.is_some() {
            notify::send("READY=1");
            return;
        }
        if !metrics.changed().await {
            return;
        }
    }
}

async fn wait_for_stop(agent: &Agent) -> Stop {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let c = &agent.config;
    loop {
        tokio::select! {
            // `consul leave` has left already.
            _ = agent.shutdown.notified() => return Stop { code: 0, leave: false },
            Some(_) = async { term.as_mut()?.recv().await } => {
                tracing::info!(target: "agent", "Caught signal: terminated");
                return Stop { code: 0, leave: c.leave_on_terminate };
            }
            Some(_) = async { int.as_mut()?.recv().await } => {
                tracing::info!(target: "agent", "Caught signal: interrupt");
                return Stop { code: 1, leave: !c.skip_leave_on_interrupt };
            }
            Some(_) = async { hup.as_mut()?.recv().await } => {
                tracing::info!(target: "agent", "Caught signal: hangup; reloading is not supported yet");
            }
        }
    }
}

/// `-dev` keeps its state in a temporary directory removed at exit.
struct DevDir(PathBuf);

impl Drop for DevDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "consul-dev-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
