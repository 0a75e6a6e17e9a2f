//! The three real `consul` servers of the gossip benchmark, on 127.0.0.1/2/3 (inside the
//! benchmark's namespace), and what is asked of them: the leader, the catalog's nodes, the
//! `serfHealth` checks that are critical, CPU and memory, and the members their logs say were
//! marked critical.

use crate::http::Conn;
use crate::probe;
use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use test_support::{Consul, Mode, Ready};

const IPS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
/// What the leader's log says when it marks a failed member's `serfHealth` critical.
const MARKED_CRITICAL: &str = "marking health critical: member=";

pub struct Server {
    pub name: String,
    pub http: SocketAddr,
    /// The UDP gossip address (the server port's number, as the harness hands it).
    pub gossip: SocketAddr,
    log: PathBuf,
    consul: Consul,
}

pub struct Servers {
    pub list: Vec<Server>,
}

impl Servers {
    /// Starts three servers with fresh data under `root` (`-bootstrap-expect=3`, each
    /// retry-joining the other two) and waits until each is ready.
    pub async fn start(consul_bin: &Path, root: &Path) -> anyhow::Result<Servers> {
        let base = root.join("gossip-servers");
        if base.exists() {
            std::fs::remove_dir_all(&base)?;
        }
        std::fs::create_dir_all(&base)?;
        let http = test_support::ReservedPort::shared(&IPS);
        let server = test_support::ReservedPort::shared(&IPS);
        let server_port = server[0].port();
        let mut list = Vec::new();
        for (i, (h, s)) in http.into_iter().zip(server).enumerate() {
            let ip = IPS[i];
            let name = format!("server-{i}");
            let log = base.join(format!("{name}.log"));
            let join = IPS
                .iter()
                .filter(|o| **o != ip)
                .map(|o| format!("{o}:{server_port}"))
                .collect();
            let http_addr = h.addr();
            let gossip = s.addr();
            let mut consul = Consul::builder()
                .binary(consul_bin)
                .mode(Mode::Expect { servers: 3, join })
                .http_port(h)
                .server_port(s)
                .node(&name)
                .data_dir(base.join(&name))
                .log_file(&log)
                // Killed with this process, however it ends.
                .prefix(["setpriv", "--pdeathsig", "KILL", "--"])
                .args([
                    "-log-level=info",
                    "-hcl=limits { http_max_conns_per_client = 0 }",
                ])
                .ready_timeout(Duration::from_secs(90))
                .build();
            consul.spawn();
            list.push(Server {
                name,
                http: http_addr,
                gossip,
                log,
                consul,
            });
        }
        for s in &mut list {
            match s.consul.wait_ready(Duration::from_secs(90)).await {
                Ready::Serving(_) => {}
                other => bail!(
                    "{} not ready ({other:?}); its log: {}",
                    s.name,
                    s.log.display()
                ),
            }
        }
        Ok(Servers { list })
    }

    /// The position of the server the first answering one names as leader.
    pub async fn leader(&self) -> Option<usize> {
        for s in &self.list {
            let Some((200, body)) = get(s.http, "/v1/status/leader").await else {
                continue;
            };
            let addr: String = serde_json::from_slice(&body).ok()?;
            let ip = addr.rsplit_once(':').map(|(ip, _)| ip)?;
            if let Some(i) = self.list.iter().position(|o| o.http.ip().to_string() == ip) {
                return Some(i);
            }
        }
        None
    }

    /// Waits up to `limit` for a leader.
    pub async fn wait_leader(&self, limit: Duration) -> anyhow::Result<usize> {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.leader().await {
                return Ok(l);
            }
            if t0.elapsed() > limit {
                bail!("no leader within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// CPU seconds used so far by each server.
    pub fn cpu(&self) -> Vec<f64> {
        self.list
            .iter()
            .map(|s| s.consul.pid().map_or(0.0, probe::cpu_secs))
            .collect()
    }

    /// RSS of each server, in bytes.
    pub fn rss(&self) -> Vec<u64> {
        self.list
            .iter()
            .map(|s| s.consul.pid().map_or(0, |p| probe::rss(p).0))
            .collect()
    }

    /// Whether every server still runs.
    pub fn all_running(&mut self) -> bool {
        self.list.iter_mut().all(|s| s.consul.running())
    }

    /// Every `member=` name the servers' logs report marked critical, with how many times.
    pub fn marked_critical(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.list {
            let text = std::fs::read_to_string(&s.log).unwrap_or_default();
            for line in text.lines() {
                if let Some((_, rest)) = line.split_once(MARKED_CRITICAL) {
                    let name = rest
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or_default();
                    out.push(name.to_string());
                }
            }
        }
        out
    }

    /// Where the logs are.
    pub fn logs(&self) -> Vec<PathBuf> {
        self.list.iter().map(|s| s.log.clone()).collect()
    }
}

/// One GET on a fresh connection (2 s limit): status and body.
pub async fn get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let attempt = async {
        let mut c = Conn::connect(addr, None).await.ok()?;
        let r = c.request("GET", path, b"").await.ok()?;
        Some((r.status, r.body))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

/// How many nodes `GET /v1/catalog/nodes` lists.
pub async fn catalog_nodes(addr: SocketAddr) -> Option<usize> {
    let (status, body) = get(addr, "/v1/catalog/nodes").await?;
    if status != 200 {
        return None;
    }
    let v: Vec<serde_json::Value> = serde_json::from_slice(&body).ok()?;
    Some(v.len())
}

/// A kept-alive connection that asks for the critical checks again and again.
pub struct CriticalPoller {
    addr: SocketAddr,
    conn: Option<Conn>,
}

impl CriticalPoller {
    pub fn new(addr: SocketAddr) -> CriticalPoller {
        CriticalPoller { addr, conn: None }
    }

    /// The nodes whose `serfHealth` is critical (`GET /v1/health/state/critical`); `None` when
    /// the server did not answer within 2 s.
    pub async fn nodes(&mut self) -> Option<Vec<String>> {
        let addr = self.addr;
        let conn = &mut self.conn;
        let attempt = async {
            if conn.is_none() {
                *conn = Some(Conn::connect(addr, None).await.ok()?);
            }
            let c = conn.as_mut()?;
            c.request("GET", "/v1/health/state/critical", b"")
                .await
                .ok()
        };
        let r = match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Some(r)) if r.status == 200 => r,
            _ => {
                self.conn = None;
                return None;
            }
        };
        let v: Vec<serde_json::Value> = serde_json::from_slice(&r.body).ok()?;
        Some(
            v.iter()
                .filter(|c| c["CheckID"] == "serfHealth")
                .filter_map(|c| c["Node"].as_str().map(str::to_string))
                .collect(),
        )
    }
}

/// The servers' log directory, for error messages.
pub fn describe_logs(s: &Servers) -> String {
    s.logs()
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fails unless all three still run.
pub fn ensure_running(s: &mut Servers) -> anyhow::Result<()> {
    if !s.all_running() {
        return Err(anyhow::anyhow!("a server exited")).context(describe_logs(s));
    }
    Ok(())
}
