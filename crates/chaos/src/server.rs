//! One `consul agent -server -bootstrap` process on 127.0.0.1: started on a data dir of our
//! choosing, polled until it serves, killed with SIGKILL or stopped with SIGTERM, restarted on
//! the same ports. Dropping a [`Consul`] kills the process, so nothing outlives the campaign.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
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
    bin: PathBuf,
    pub data_dir: PathBuf,
    pub http_port: u16,
    server_port: u16,
    /// Extra agent flags, e.g. `-config-file=...`.
    extra: Vec<String>,
    /// The soft and hard RLIMIT_NOFILE the process gets (`prlimit`), if set.
    pub nofile: Option<u64>,
    log: PathBuf,
    child: Option<Child>,
    pub http: reqwest::Client,
}

impl Consul {
    /// A server on `data_dir` (created if missing) with fresh ports; not started. Its log goes
    /// to `log`.
    /// A server whose data dir is `<dir>/data` and log `<dir>/agent.log`.
    pub fn in_dir(bin: &Path, dir: &Path, extra: &[String]) -> anyhow::Result<Self> {
        Consul::new(bin, &dir.join("data"), &dir.join("agent.log"), extra)
    }

    pub fn new(bin: &Path, data_dir: &Path, log: &Path, extra: &[String]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let http_port = system_tests::free_port();
        let server_port = system_tests::free_port();
        if http_port == 0 || server_port == 0 {
            bail!("no free port on 127.0.0.1");
        }
        Ok(Consul {
            bin: bin.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            http_port,
            server_port,
            extra: extra.to_vec(),
            nofile: None,
            log: log.to_path_buf(),
            child: None,
            http: client(None, true)?,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.http_port, path)
    }

    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "agent".to_string(),
            "-server".into(),
            "-bootstrap".into(),
            format!("-data-dir={}", self.data_dir.display()),
            "-bind=127.0.0.1".into(),
            "-client=127.0.0.1".into(),
            format!("-http-port={}", self.http_port),
            format!("-server-port={}", self.server_port),
            "-node=n1".into(),
            "-log-level=info".into(),
        ];
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Starts the process without waiting. It runs under `setpriv --pdeathsig KILL` when
    /// available, so even a SIGKILL of the campaign takes it along.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        self.kill9();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open {}", self.log.display()))?;
        let mut argv: Vec<String> = Vec::new();
        if which("setpriv") {
            argv.extend([
                "setpriv".into(),
                "--pdeathsig".into(),
                "KILL".into(),
                "--".into(),
            ]);
        }
        if let Some(n) = self.nofile {
            argv.extend(["prlimit".into(), format!("--nofile={n}:{n}"), "--".into()]);
        }
        argv.push(self.bin.display().to_string());
        argv.extend(self.args());
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("spawn {}", self.bin.display()))?;
        self.child = Some(child);
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
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(st)) => {
                self.child = None;
                Some(st)
            }
            _ => None,
        }
    }

    pub fn running(&mut self) -> bool {
        self.try_wait();
        self.child.is_some()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after 15s.
    pub async fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Consul {
    fn drop(&mut self) {
        self.kill9();
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
