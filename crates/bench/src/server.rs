//! The two systems under test: how each is started on loopback with durability on, how its
//! requests look on the wire, and how it is stopped and restarted.

use crate::http::{Conn, Response};
use anyhow::{bail, Context};
use base64::Engine;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Which system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Etcd,
    Consul,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Etcd => "etcd",
            Kind::Consul => "ours",
        }
    }
}

/// How a read is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Consul's default / etcd linearizable.
    Default,
    /// `?stale` / etcd serializable.
    Relaxed,
}

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A request: method, path, body.
pub type Req = (&'static str, String, Vec<u8>);

impl Kind {
    pub fn put(self, key: &str, value: &[u8]) -> Req {
        match self {
            Kind::Consul => ("PUT", format!("/v1/kv/{key}"), value.to_vec()),
            Kind::Etcd => (
                "POST",
                "/v3/kv/put".to_string(),
                format!(
                    r#"{{"key":"{}","value":"{}"}}"#,
                    b64(key.as_bytes()),
                    b64(value)
                )
                .into_bytes(),
            ),
        }
    }

    pub fn get(self, key: &str, mode: ReadMode) -> Req {
        match (self, mode) {
            (Kind::Consul, ReadMode::Default) => ("GET", format!("/v1/kv/{key}"), Vec::new()),
            (Kind::Consul, ReadMode::Relaxed) => ("GET", format!("/v1/kv/{key}?stale"), Vec::new()),
            (Kind::Etcd, m) => (
                "POST",
                "/v3/kv/range".to_string(),
                format!(
                    r#"{{"key":"{}","serializable":{}}}"#,
                    b64(key.as_bytes()),
                    m == ReadMode::Relaxed
                )
                .into_bytes(),
            ),
        }
    }

    /// Whether a PUT was acknowledged.
    pub fn put_ok(self, r: &Response) -> bool {
        r.status == 200 && (self == Kind::Etcd || r.body.starts_with(b"true"))
    }

    /// Whether a GET found the key.
    pub fn get_ok(self, r: &Response) -> bool {
        r.status == 200 && (self == Kind::Consul || find(&r.body, b"\"kvs\""))
    }

    /// The body that opens an etcd watch on `key`.
    pub fn etcd_watch_body(key: &str) -> Vec<u8> {
        format!(
            r#"{{"create_request":{{"key":"{}"}}}}"#,
            b64(key.as_bytes())
        )
        .into_bytes()
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A server process: our `consul` on sockets this process bound and hands over
/// (test-support: no other process can take its ports, and a restart binds them again), or a
/// peer such as etcd that binds the ports it is told (`test_support::free_port`, racy, the only
/// way for a program that cannot take a socket).
pub enum Proc {
    Consul(Box<test_support::Consul>),
    Command {
        program: PathBuf,
        args: Vec<String>,
        log: PathBuf,
        child: Option<Child>,
    },
}

impl Proc {
    /// `program args`, output appended to `log`; not started.
    pub fn command(program: PathBuf, args: Vec<String>, log: PathBuf) -> Proc {
        Proc::Command {
            program,
            args,
            log,
            child: None,
        }
    }

    /// Starts the process (again, on the same ports and data).
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        match self {
            Proc::Consul(c) => c.spawn(),
            Proc::Command {
                program,
                args,
                log,
                child,
            } => *child = Some(spawn(program, args, log)?),
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        match self {
            Proc::Consul(c) => c.pid(),
            Proc::Command { child, .. } => child.as_ref().map(Child::id),
        }
    }

    /// The exit status, if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        match self {
            Proc::Consul(c) => c.try_wait().or(c.last_exit()),
            Proc::Command { child, .. } => child.as_mut()?.try_wait().ok().flatten(),
        }
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) {
        match self {
            Proc::Consul(c) => {
                c.kill9();
            }
            Proc::Command { child, .. } => {
                if let Some(mut c) = child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) -> anyhow::Result<()> {
        match self {
            Proc::Consul(c) => {
                c.terminate_within(grace);
            }
            Proc::Command { child, .. } => {
                let Some(c) = child.as_mut() else {
                    return Ok(());
                };
                if c.try_wait()?.is_some() {
                    return Ok(());
                }
                let _ = Command::new("kill")
                    .args(["-TERM", &c.id().to_string()])
                    .status();
                let t0 = Instant::now();
                while t0.elapsed() < grace {
                    if c.try_wait()?.is_some() {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                c.kill()?;
                c.wait()?;
            }
        }
        Ok(())
    }
}

/// A running server.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    proc: Proc,
    log: PathBuf,
}

impl Server {
    /// Starts `kind` with a fresh data dir under `root`, and waits until it accepts a write.
    pub async fn start(kind: Kind, consul_bin: &Path, root: &Path) -> anyhow::Result<Server> {
        let data_dir = root.join(format!("{}-data", kind.name()));
        if data_dir.exists() {
            std::fs::remove_dir_all(&data_dir)?;
        }
        std::fs::create_dir_all(&data_dir)?;
        let log = root.join(format!("{}.log", kind.name()));
        let (addr, mut proc) = match kind {
            Kind::Consul => {
                let c = test_support::Consul::builder()
                    .binary(consul_bin)
                    .data_dir(&data_dir)
                    .log_file(&log)
                    .node("bench")
                    .args([
                        "-log-level=warn",
                        // Thousands of parked queries come from 127.0.0.1; Consul's default
                        // per-client cap (200) would answer most of them 429.
                        "-hcl=limits { http_max_conns_per_client = 0 }",
                    ])
                    .build();
                (c.http_addr(), Proc::Consul(Box::new(c)))
            }
            Kind::Etcd => {
                let port = test_support::free_port();
                let peer = test_support::free_port();
                let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
                let args = vec![
                    "--name=bench".to_string(),
                    format!("--data-dir={}", data_dir.display()),
                    format!("--listen-client-urls=http://{addr}"),
                    format!("--advertise-client-urls=http://{addr}"),
                    format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-cluster=bench=http://127.0.0.1:{peer}"),
                    "--log-level=warn".into(),
                ];
                (
                    addr,
                    Proc::command(PathBuf::from("etcd"), args, log.clone()),
                )
            }
        };
        proc.spawn()?;
        let mut s = Server {
            kind,
            addr,
            data_dir,
            proc,
            log,
        };
        s.wait_writable(Duration::from_secs(30))
            .await
            .with_context(|| format!("{} did not start; see {}", kind.name(), s.log.display()))?;
        Ok(s)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid().unwrap_or(0)
    }

    /// Polls with fresh connections until a write is acknowledged; returns how long it took.
    pub async fn wait_writable(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let kind = self.kind;
        let req = kind.put("bench/ready", b"1");
        self.poll(req, limit, Duration::from_millis(2), |r| kind.put_ok(r))
            .await
            .with_context(|| format!("not writable after {limit:?}"))
    }

    /// Polls until `key` reads back; returns how long it took.
    async fn wait_readable(&mut self, key: &str, limit: Duration) -> anyhow::Result<Duration> {
        let kind = self.kind;
        let req = kind.get(key, ReadMode::Default);
        self.poll(req, limit, Duration::from_millis(1), |r| kind.get_ok(r))
            .await
            .with_context(|| format!("{key} not readable after {limit:?}"))
    }

    /// Sends `req` on a fresh connection every `every` until `ok` accepts the answer, the
    /// process exits, or `limit` passes.
    async fn poll(
        &mut self,
        (m, p, b): Req,
        limit: Duration,
        every: Duration,
        ok: impl Fn(&Response) -> bool,
    ) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.proc.try_wait() {
                bail!("exited with {status}");
            }
            if let Ok(mut c) = Conn::connect(self.addr, None).await {
                if let Ok(Ok(r)) =
                    tokio::time::timeout(Duration::from_secs(2), c.request(m, &p, &b)).await
                {
                    if ok(&r) {
                        return Ok(t0.elapsed());
                    }
                }
            }
            if t0.elapsed() > limit {
                bail!("gave up");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Stops gracefully (SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        self.proc.stop(Duration::from_secs(10))
    }

    /// Stops, starts again on the same data, and measures until `key` reads back and until a
    /// write is acknowledged (both from the moment of spawning).
    pub async fn restart(&mut self, key: &str) -> anyhow::Result<(Duration, Duration)> {
        self.stop()?;
        let t0 = Instant::now();
        self.proc.spawn()?;
        self.wait_readable(key, Duration::from_secs(60)).await?;
        let read = t0.elapsed();
        self.wait_writable(Duration::from_secs(60)).await?;
        Ok((read, t0.elapsed()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn spawn(program: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("spawning {}", program.display()))
}
