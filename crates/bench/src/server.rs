//! The two systems under test: how each is started on loopback with durability on, how its
//! requests look on the wire, and how it is stopped and restarted.

use crate::http::{free_port, Conn, Response};
use anyhow::{bail, Context};
use base64::Engine;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

/// A running server.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    child: Child,
    args: Vec<String>,
    program: PathBuf,
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
        let port = free_port()?;
        let peer = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let (program, args) = match kind {
            Kind::Consul => (
                consul_bin.to_path_buf(),
                vec![
                    "agent".to_string(),
                    "-server".into(),
                    "-bootstrap".into(),
                    format!("-data-dir={}", data_dir.display()),
                    "-bind=127.0.0.1".into(),
                    "-client=127.0.0.1".into(),
                    format!("-http-port={port}"),
                    format!("-server-port={peer}"),
                    "-log-level=warn".into(),
                    // Thousands of parked queries come from 127.0.0.1; Consul's default
                    // per-client cap (200) would answer most of them 429.
                    "-hcl=limits { http_max_conns_per_client = 0 }".into(),
                ],
            ),
            Kind::Etcd => (
                PathBuf::from("etcd"),
                vec![
                    "--name=bench".to_string(),
                    format!("--data-dir={}", data_dir.display()),
                    format!("--listen-client-urls=http://{addr}"),
                    format!("--advertise-client-urls=http://{addr}"),
                    format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-cluster=bench=http://127.0.0.1:{peer}"),
                    "--log-level=warn".into(),
                ],
            ),
        };
        let log = root.join(format!("{}.log", kind.name()));
        let child = spawn(&program, &args, &log)?;
        let mut s = Server {
            kind,
            addr,
            data_dir,
            child,
            args,
            program,
            log,
        };
        s.wait_writable(Duration::from_secs(30))
            .await
            .with_context(|| format!("{} did not start; see {}", kind.name(), s.log.display()))?;
        Ok(s)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
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
            if let Ok(Some(status)) = self.child.try_wait() {
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
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Stops, starts again on the same data, and measures until `key` reads back and until a
    /// write is acknowledged (both from the moment of spawning).
    pub async fn restart(&mut self, key: &str) -> anyhow::Result<(Duration, Duration)> {
        self.stop()?;
        let t0 = Instant::now();
        self.child = spawn(&self.program, &self.args, &self.log)?;
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
