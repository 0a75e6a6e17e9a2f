//! One `consul agent -server -bootstrap` process on 127.0.0.1 (test-support's harness: on
//! sockets this process bound and hands over, so no other process can take its ports): started
//! on a data dir of our choosing, polled until it serves, killed with SIGKILL or stopped with
//! SIGTERM, restarted on the same ports. Dropping a [`Consul`] kills the process, so nothing
//! outlives the campaign.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// What became of a start.
#[derive(Debug)]
pub enum Start {
    /// It elected itself and answers KV reads.
    Serving(Duration),
    /// The process exited with this status.
    Exited(ExitStatus),
    /// Neither within the limit (the process is still running).
    Hung,
}

pub struct Consul {
    inner: test_support::Consul,
    pub http_port: u16,
    /// The soft and hard RLIMIT_NOFILE the process gets (`prlimit`), if set.
    pub nofile: Option<u64>,
    log: PathBuf,
    pub http: reqwest::Client,
}

impl Consul {
    /// A server whose data dir is `<dir>/data` and log `<dir>/agent.log`.
    pub fn in_dir(bin: &Path, dir: &Path, extra: &[String]) -> anyhow::Result<Self> {
        Consul::new(bin, &dir.join("data"), &dir.join("agent.log"), extra)
    }

    /// A server on `data_dir` (created if missing) with ports of its own; not started. Its
    /// stdout and stderr go to `log`. Extra agent flags, e.g. `-config-file=...`, come last.
    pub fn new(bin: &Path, data_dir: &Path, log: &Path, extra: &[String]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("create {}", data_dir.display()))?;
        let inner = test_support::Consul::builder()
            .binary(bin)
            .data_dir(data_dir)
            .log_file(log)
            .node("n1")
            .arg("-log-level=info")
            .args(extra.iter().cloned())
            .build();
        Ok(Consul {
            http_port: inner.http_port(),
            inner,
            nofile: None,
            log: log.to_path_buf(),
            http: client(None, true)?,
        })
    }

    pub fn url(&self, path: &str) -> String {
        self.inner.url(path)
    }

    /// Starts the process without waiting (killing a running one first). It runs under
    /// `setpriv --pdeathsig KILL` when available, so even a SIGKILL of the campaign takes it
    /// along, and under `prlimit` when [`Consul::nofile`] is set.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        self.kill9();
        let mut prefix: Vec<String> = Vec::new();
        if which("setpriv") {
            prefix.extend([
                "setpriv".into(),
                "--pdeathsig".into(),
                "KILL".into(),
                "--".into(),
            ]);
        }
        if let Some(n) = self.nofile {
            prefix.extend(["prlimit".into(), format!("--nofile={n}:{n}"), "--".into()]);
        }
        self.inner.set_prefix(prefix);
        self.inner.spawn();
        Ok(())
    }

    /// Starts the process and waits until it serves, or fails with its log.
    pub async fn start(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        self.spawn()?;
        match self.wait(limit).await {
            Start::Serving(d) => Ok(d),
            Start::Exited(st) => bail!(
                "consul exited ({st}) while starting: {}",
                last_error(&self.log_text())
            ),
            Start::Hung => bail!(
                "consul did not serve within {limit:?}: {}",
                last_error(&self.log_text())
            ),
        }
    }

    /// Waits until the process serves KV reads, exits, or `limit` passes.
    pub async fn wait(&mut self, limit: Duration) -> Start {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Some(st) = self.try_wait() {
                return Start::Exited(st);
            }
            if self.serving().await {
                return Start::Serving(t0.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Start::Hung
    }

    /// A leader is known and a KV read is answered (200 or 404).
    pub async fn serving(&self) -> bool {
        let leader = match self.get("/v1/status/leader").await {
            Ok((200, b)) => String::from_utf8_lossy(&b).trim().len() > 2,
            _ => false,
        };
        leader && matches!(self.get("/v1/kv/chaos/?keys").await, Ok((200 | 404, _)))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let r = self
            .http
            .get(self.url(path))
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let st = r.status().as_u16();
        Ok((st, r.bytes().await?.to_vec()))
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.inner.try_wait()
    }

    pub fn running(&mut self) -> bool {
        self.inner.running()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        self.inner.kill9();
    }

    /// SIGTERM, then SIGKILL after 15s.
    pub async fn stop(&mut self) {
        self.inner.terminate_async().await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The HTTP client the campaign uses: 127.0.0.1 only, bounded timeouts, optionally bound to
/// a given loopback source address; `pooled: false` opens a new connection per request.
pub fn client(local: Option<std::net::IpAddr>, pooled: bool) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(if pooled { 8 } else { 0 })
        .local_address(local)
        .no_proxy()
        .build()?)
}

fn which(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// Whether a log line reports an error.
pub fn is_error(l: &str) -> bool {
    let l = l.to_lowercase();
    [
        "error", "fail", "corrupt", "refus", "cannot", "invalid", "damaged",
    ]
    .iter()
    .any(|w| l.contains(w))
}

/// The log's last line that looks like an error, or its last line.
pub fn last_error(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rev()
        .find(|l| is_error(l))
        .or(lines.last())
        .map(|l| l.trim().chars().take(300).collect())
        .unwrap_or_else(|| "(empty log)".into())
}
