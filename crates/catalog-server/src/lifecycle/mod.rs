//! An agent's life: open and lock the data dir, start Raft and the [`Agent`] on the listeners it
//! was handed, serve until told to stop, then stop in order: no new connections, parked queries
//! answered, requests in flight drained, Raft stopped and its metadata made durable, the data
//! dir released.

mod banner;
mod data_dir;
pub(crate) mod notify;

use crate::agent::local::LocalNode;
use crate::agent::upstream::Upstream;
use crate::agent::{Agent, Role};
use crate::config::Config;
use crate::listeners::Listeners;
use crate::raft::RaftNode;
use std::future::Future;
use std::sync::Arc;

/// Why the agent was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM: exit 0, leaving the cluster first when `leave_on_terminate` says so.
    Terminate,
    /// SIGINT: exit 1 (as Go consul does), leaving unless `skip_leave_on_interrupt`.
    Interrupt,
}

/// How long requests in flight may take to finish at shutdown.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the agent of `config` on `listeners` until `shutdown` resolves or `consul leave` asks
/// it to stop; returns the process exit code.
pub async fn run(
    mut config: Config,
    mut listeners: Listeners,
    shutdown: impl Future<Output = StopSignal>,
) -> anyhow::Result<i32> {
    // Port 0 (or an inherited socket) means whatever the listener got: advertise that.
    if let Some(port) = listeners.http_port() {
        config.ports.http = i32::from(port);
    }
    if let Some(port) = listeners.https_port() {
        config.ports.https = i32::from(port);
    }
    if let Some(port) = listeners.server_port() {
        config.ports.server = i32::from(port);
    }
    match listeners.dns_port() {
        Some(port) => config.ports.dns = i32::from(port),
        // No sockets were handed over for DNS (in-process listeners): no DNS interface.
        None => config.ports.dns = -1,
    }
    let dns_sockets = listeners.take_dns();
    match listeners.serf_lan_port() {
        Some(port) => config.ports.serf_lan = i32::from(port),
        // No gossip socket was handed over (in-process listeners): a pool of one.
        None => config.ports.serf_lan = -1,
    }
    let serf_socket = listeners.take_serf_lan();
    let telemetry = crate::telemetry::install(&config.telemetry);
    let data_dir = data_dir::DataDir::open(config.data_dir.as_deref())?;
    let node_id = data_dir.node_id(config.node_id.as_deref())?;
    for w in &config.warnings {
        tracing::warn!(target: "agent", "{w}");
    }
    banner::print(&config, &node_id);
    if let Some(pid) = &config.pid_file {
        std::fs::write(pid, std::process::id().to_string())?;
    }

    let role = if config.server {
        let me = crate::raft::ServerNode {
            addr: format!("{}:{}", config.advertise_addr, config.ports.server),
            name: config.node_name.clone(),
            node_id: node_id.clone(),
        };
        let raft = RaftNode::start(
            &data_dir.path().join("raft"),
            raft_id(&node_id),
            me,
            &config,
        )
        .await?;
        Role::Server(raft)
    } else {
        Role::Client {
            local: Box::new(LocalNode::open(
                config.data_dir.as_ref().map(|_| data_dir.path()),
            )?),
            upstream: Upstream::new(&config)?,
        }
    };
    let serf = crate::agent::serf::Serf::start(&config, &node_id, serf_socket)?;
    let agent = Agent::new(
        config.clone(),
        node_id,
        role,
        serf,
        data_dir.path().to_path_buf(),
    );
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut server = tokio::spawn(crate::http::serve(agent.clone(), listeners, closing_rx)?);
    let dns = crate::dns::DnsServer::start(agent.clone(), dns_sockets)?;
    agent.begin().await?;
    let ready = tokio::spawn(notify_when_ready(agent.clone()));
    let sampler = tokio::spawn({
        let agent = agent.clone();
        let mut raft_state = String::new();
        crate::telemetry::run_sampler(telemetry, move || {
            if let Some(raft) = agent.server() {
                raft.record_metrics(&mut raft_state);
            }
        })
    });
    let reloads = tokio::spawn({
        let agent = agent.clone();
        async move {
            loop {
                hangups().notified().await;
                if let Err(e) = agent.reload().await {
                    tracing::error!(target: "agent", "{e}");
                }
            }
        }
    });

    let leave = tokio::select! {
        // `consul leave` has left already.
        _ = agent.shutdown_requested() => Stop { code: 0, leave: false },
        signal = shutdown => match signal {
            StopSignal::Terminate => Stop { code: 0, leave: config.leave_on_terminate },
            StopSignal::Interrupt => Stop { code: 1, leave: !config.skip_leave_on_interrupt },
        },
    };
    if leave.leave {
        tracing::info!(target: "agent", "Gracefully shutting down agent...");
        if let Err(e) = agent.leave_cluster().await {
            tracing::error!(target: "agent", "Error leaving cluster: {e}");
        }
    }
    tracing::info!(target: "agent", "Requesting shutdown");
    ready.abort();
    let _ = ready.await;
    sampler.abort();
    let _ = sampler.await;
    reloads.abort();
    let _ = reloads.await;
    notify::send("STOPPING=1");
    // No new connections; parked queries answer with what they have, and the requests in
    // flight get a few seconds to finish before Raft stops under them.
    let _ = closing.send(true);
    dns.stop().await;
    let (drained, ()) = tokio::join!(
        tokio::time::timeout(DRAIN_TIMEOUT, &mut server),
        agent.stop()
    );
    if drained.is_err() {
        tracing::warn!(target: "agent", "requests still in flight after {DRAIN_TIMEOUT:?}: {} cut", crate::http::in_flight());
        server.abort();
        let _ = server.await;
    }
    agent.close().await;
    release(agent).await;
    if let Some(pid) = &config.pid_file {
        let _ = std::fs::remove_file(pid);
    }
    drop(data_dir);
    tracing::info!(target: "agent", "shutdown complete");
    Ok(leave.code)
}

/// Drops the last reference to the agent, so its Raft storage is closed (sled's lock and
/// files released) before `run` returns; what still holds it (a request's task finishing)
/// gets a few seconds.
async fn release(mut agent: Arc<Agent>) {
    for _ in 0..500 {
        match Arc::try_unwrap(agent) {
            Ok(a) => {
                drop(a);
                return;
            }
            Err(a) => agent = a,
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tracing::warn!(target: "agent", "the agent is still referenced after shutdown; its storage closes when the process exits");
}

/// Reloads asked for by SIGHUP, carried to the running agent.
fn hangups() -> &'static tokio::sync::Notify {
    static HUP: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    HUP.get_or_init(tokio::sync::Notify::new)
}

/// The process's stop signals: SIGTERM and SIGINT stop the agent; SIGHUP reloads its config
/// files (once the agent runs). The handlers are installed when this is called (inside the
/// runtime, before the agent starts), so a signal during startup is not the default action
/// (death).
pub fn signals() -> impl Future<Output = StopSignal> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    async move {
        loop {
            tokio::select! {
                Some(_) = async { term.as_mut()?.recv().await } => {
                    tracing::info!(target: "agent", "Caught signal: terminated");
                    return StopSignal::Terminate;
                }
                Some(_) = async { int.as_mut()?.recv().await } => {
                    tracing::info!(target: "agent", "Caught signal: interrupt");
                    return StopSignal::Interrupt;
                }
                Some(_) = async { hup.as_mut()?.recv().await } => {
                    tracing::info!(target: "agent", "Caught signal: hangup");
                    hangups().notify_one();
                }
            }
        }
    }
}

/// Why the agent stops: its exit code, and whether it leaves the cluster first.
struct Stop {
    code: i32,
    leave: bool,
}

fn raft_id(node_id: &str) -> u64 {
    let u = uuid::Uuid::parse_str(node_id)
        .map(|u| u.as_u128())
        .unwrap_or(1);
    ((u >> 64) as u64).max(1)
}

/// Tells systemd we are ready once a leader is known (the listeners are already bound).
async fn notify_when_ready(agent: Arc<Agent>) {
    let Some(raft) = agent.server() else {
        // A client serves its own state at once.
        notify::send("READY=1");
        return;
    };
    let mut status = raft.watch();
    loop {
        if status.current().leader.is_some() {
            notify::send("READY=1");
            return;
        }
        if !status.changed().await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, Sources};
    use std::time::Duration;

    fn config(data_dir: &std::path::Path) -> Config {
        load(&Sources {
            dev: false,
            config_paths: Vec::new(),
            config_format: None,
            hcl: Vec::new(),
            flags: serde_json::json!({
                "server": true,
                "bootstrap": true,
                "node_name": "in-process",
                "data_dir": data_dir,
                "bind_addr": "127.0.0.1",
                "client_addr": "127.0.0.1",
            }),
        })
        .expect("config")
    }

    fn listeners() -> (Listeners, u16) {
        let http = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http");
        let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind server");
        let port = http.local_addr().expect("addr").port();
        (Listeners::new(vec![http], Some(server)), port)
    }

    async fn wait_for_leader(http: &reqwest::Client, port: u16) {
        for _ in 0..400 {
            let leader = http
                .get(format!("http://127.0.0.1:{port}/v1/status/leader"))
                .send()
                .await;
            if let Ok(r) = leader {
                if r.text().await.is_ok_and(|t| t.len() > 2) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no leader on port {port}");
    }

    /// The agent runs on listeners it was handed (bound to port 0 by the caller: no race),
    /// answers a parked query and exits 0 when told to stop, and a second run on the same data
    /// dir has the data.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_on_handed_listeners_and_stops_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let http = reqwest::Client::new();
        let (ls, port) = listeners();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let agent = tokio::spawn(run(config(dir.path()), ls, async move {
            let _ = stopped.await;
            StopSignal::Terminate
        }));
        wait_for_leader(&http, port).await;
        let put = http
            .put(format!("http://127.0.0.1:{port}/v1/kv/kept"))
            .body("yes")
            .send()
            .await
            .expect("put");
        assert_eq!(put.status(), 200);
        let index = put
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let parked = tokio::spawn({
            let http = http.clone();
            async move {
                http.get(format!(
                    "http://127.0.0.1:{port}/v1/kv/kept?index=1000000&wait=60s"
                ))
                .send()
                .await
                .map(|r| r.status().as_u16())
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = stop.send(());
        let code = tokio::time::timeout(Duration::from_secs(30), agent)
            .await
            .expect("the agent stops")
            .expect("no panic")
            .expect("clean run");
        assert_eq!(code, 0);
        assert_eq!(parked.await.expect("no panic").expect("answered"), 200);
        let _ = index;
        // Everything was released when `run` returned: the Raft store opens at once.
        let reopened = crate::store::Store::open(&dir.path().join("raft"));
        assert!(reopened.is_ok(), "still held: {:?}", reopened.err());
        drop(reopened);

        let (ls, port) = listeners();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let agent = tokio::spawn(run(config(dir.path()), ls, async move {
            let _ = stopped.await;
            StopSignal::Interrupt
        }));
        wait_for_leader(&http, port).await;
        let got = http
            .get(format!("http://127.0.0.1:{port}/v1/kv/kept?raw"))
            .send()
            .await
            .expect("get");
        assert_eq!(got.text().await.expect("body"), "yes");
        let _ = stop.send(());
        let code = tokio::time::timeout(Duration::from_secs(30), agent)
            .await
            .expect("the agent stops")
            .expect("no panic")
            .expect("clean run");
        assert_eq!(code, 1, "SIGINT's exit code, as Go consul's");
    }
}
