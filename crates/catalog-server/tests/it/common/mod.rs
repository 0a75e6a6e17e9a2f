//! Test helpers: a real `consul` agent process on free loopback ports with a temporary data
//! dir, an HTTP client for it, and `wait_until`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free on `ip` (a loopback address).
pub fn free_port_on(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `cond` until it holds or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

pub fn consul_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_consul"))
}

/// A running `consul agent -server -bootstrap` on its own ports and data dir.
pub struct TestServer {
    pub child: Option<Child>,
    /// The loopback address it binds (`-bind` and `-client`).
    pub ip: String,
    /// How it forms a cluster: `["-bootstrap"]` alone, or `-bootstrap-expect`/`-retry-join`.
    pub mode: Vec<String>,
    pub http_port: u16,
    pub server_port: u16,
    pub data_dir: tempfile::TempDir,
    pub node: String,
    pub extra: Vec<String>,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[&str]) -> TestServer {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut s = TestServer {
            child: None,
            ip: "127.0.0.1".to_string(),
            mode: vec!["-bootstrap".to_string()],
            http_port: free_port(),
            server_port: free_port(),
            data_dir,
            node: "test-node".to_string(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        };
        s.spawn().await;
        s
    }

    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["agent".to_string(), "-server".into()];
        a.extend(self.mode.iter().cloned());
        a.extend([
            format!("-data-dir={}", self.data_dir.path().display()),
            format!("-bind={}", self.ip),
            format!("-client={}", self.ip),
            format!("-node={}", self.node),
            format!("-http-port={}", self.http_port),
            format!("-server-port={}", self.server_port),
            "-log-level=warn".into(),
        ]);
        a.extend(self.extra.iter().cloned());
        a
    }

    /// A cluster member on `ip` (e.g. 127.0.0.2) that waits for `expect` servers at `join`.
    /// Not started: call [`TestServer::spawn_only`].
    pub fn member(
        ip: &str,
        node: &str,
        server_port: u16,
        expect: u32,
        join: &[String],
    ) -> TestServer {
        let mut mode = vec![format!("-bootstrap-expect={expect}")];
        mode.extend(join.iter().map(|j| format!("-retry-join={j}")));
        TestServer {
            child: None,
            ip: ip.to_string(),
            mode,
            http_port: free_port_on(ip),
            server_port,
            data_dir: tempfile::tempdir().expect("tempdir"),
            node: node.to_string(),
            extra: Vec::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    /// Starts the process without waiting for anything.
    pub fn spawn_only(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.path().join("agent.log"))
            .expect("log file");
        let child = Command::new(consul_bin())
            .args(self.args())
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn consul");
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("agent.log")).unwrap_or_default()
    }

    /// Starts (or restarts) the process and waits until it is leader and registered itself.
    pub async fn spawn(&mut self) {
        self.spawn_only();
        let path = format!("/v1/catalog/node/{}", self.node);
        let ready = wait_until(Duration::from_secs(20), || async {
            match self.get(&path).await {
                Ok((200, body)) => body.contains("serfHealth") || body.contains("\"consul\""),
                _ => false,
            }
        })
        .await;
        if !ready {
            let log =
                std::fs::read_to_string(self.data_dir.path().join("agent.log")).unwrap_or_default();
            panic!("consul did not become ready; log:\n{log}");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}{}", self.ip, self.http_port, path)
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.http_port)
    }

    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }

    pub async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let r = self.http.get(self.url(path)).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.text().await?))
    }

    /// GET returning status, headers and body.
    pub async fn get_full(&self, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let r = self.http.get(self.url(path)).send().await.expect("get");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.expect("body"))
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path).await.expect("get");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub async fn put(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let r = self
            .http
            .put(self.url(path))
            .body(body)
            .send()
            .await
            .expect("put");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    pub async fn delete(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .delete(self.url(path))
            .send()
            .await
            .expect("delete");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// Waits for the process to exit on its own (a refused start); `None` if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    return Some(st);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let pid = c.id() as i32;
        // SAFETY-free: use the `kill` command rather than libc to keep tests simple.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// Runs the `consul` CLI against this server; returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(consul_bin())
            .args(args)
            .env("CONSUL_HTTP_ADDR", self.addr())
            .output()
            .expect("run consul cli");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
