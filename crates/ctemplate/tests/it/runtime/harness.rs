//! Runtime-test harness: the real `consul` binary (`<workspace>/target/debug/consul`, built by
//! the README's test command; tests skip with a note when it is missing) on free ports with a
//! temp data dir, the `consul-template` binary under test with its output captured to files,
//! and `wait_until`. Every child is killed in `Drop`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api_types::client::{Client, KvPutOptions};
use ctemplate::signal::{self, Signal};

/// `<workspace>/target/debug/consul`, if built.
pub fn consul_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/consul");
    p.exists().then_some(p)
}

/// Returns early from a test (with a note) when the consul binary is missing.
macro_rules! require_consul {
    () => {
        match $crate::runtime::harness::consul_bin() {
            Some(p) => p,
            None => {
                eprintln!("skipping: target/debug/consul is not built (cargo build --bins)");
                return;
            }
        }
    };
}
pub(crate) use require_consul;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls `f` every 20 ms until it holds or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads a file, empty when missing.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A consul agent (server, bootstrap) on free ports.
pub struct Consul {
    child: Option<Child>,
    bin: PathBuf,
    /// HTTP port.
    pub port: u16,
    server_port: u16,
    dir: tempfile::TempDir,
}

impl Consul {
    /// Starts on a free port and waits until it serves.
    pub async fn start(bin: &Path) -> Consul {
        Self::start_on(bin, free_port()).await
    }

    /// Starts with HTTP on `port`.
    pub async fn start_on(bin: &Path, port: u16) -> Consul {
        let mut c = Consul {
            child: None,
            bin: bin.to_path_buf(),
            port,
            server_port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        c.spawn().await;
        c
    }

    async fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("agent.log")).expect("log");
        let child = Command::new(&self.bin)
            .args([
                "agent".to_string(),
                "-server".into(),
                "-bootstrap".into(),
                format!("-data-dir={}", self.dir.path().join("data").display()),
                "-bind=127.0.0.1".into(),
                "-client=127.0.0.1".into(),
                "-node=ct-node".into(),
                format!("-http-port={}", self.port),
                format!("-server-port={}", self.server_port),
                "-log-level=warn".into(),
            ])
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn consul");
        self.child = Some(child);
        let client = self.client();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((v, _)) = client.agent_self().await {
                let q = api_types::client::QueryOptions::default();
                let ok = client
                    .get_json::<serde_json::Value>("/v1/catalog/node/ct-node", &q, &[])
                    .await
                    .is_ok_and(|(n, _)| !n.is_null());
                if ok && v.get("Config").is_some() {
                    return;
                }
            }
            assert!(
                Instant::now() < end,
                "consul did not start: {}",
                read(&self.dir.path().join("agent.log"))
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A client for this agent.
    pub fn client(&self) -> Client {
        Client::new(&self.addr()).expect("client")
    }

    /// Registers service `id` named `name` at 127.0.0.1:`port`.
    pub async fn register(&self, id: &str, name: &str, port: u16) {
        let reg = serde_json::from_value(serde_json::json!({
            "ID": id, "Name": name, "Port": port, "Address": "127.0.0.1"
        }))
        .expect("registration");
        self.client()
            .service_register(&reg)
            .await
            .expect("register");
    }

    /// Deregisters service `id`.
    pub async fn deregister(&self, id: &str) {
        self.client()
            .service_deregister(id)
            .await
            .expect("deregister");
    }

    /// `PUT /v1/kv/<key>`.
    pub async fn put(&self, key: &str, value: &str) {
        self.client()
            .kv_put(key, value.as_bytes(), &KvPutOptions::default())
            .await
            .expect("kv put");
    }

    /// Kills the agent (data dir kept).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Consul {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `consul-template` with stdout/stderr captured.
pub struct Ct {
    child: Child,
    dir: PathBuf,
    /// Exit code once known.
    pub code: Option<i32>,
}

impl Ct {
    /// Starts `consul-template args...`; output goes to files in `dir`.
    pub fn start(args: &[String], dir: &Path) -> Ct {
        let out = std::fs::File::create(dir.join("ct.out")).expect("out");
        let err = std::fs::File::create(dir.join("ct.err")).expect("err");
        let child = Command::new(env!("CARGO_BIN_EXE_consul-template"))
            .args(args)
            .env_remove("CONSUL_HTTP_ADDR")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn consul-template");
        Ct {
            child,
            dir: dir.to_path_buf(),
            code: None,
        }
    }

    /// Captured stdout.
    pub fn stdout(&self) -> String {
        read(&self.dir.join("ct.out"))
    }

    /// Captured stderr (the log).
    pub fn stderr(&self) -> String {
        read(&self.dir.join("ct.err"))
    }

    /// Sends a signal.
    pub fn signal(&self, sig: Signal) {
        signal::send(self.child.id(), sig, false).expect("signal");
    }

    /// Waits for the process to exit; its code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.code = s.code();
                return self.code;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Ct {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `-template` value for src:dst(:cmd).
pub fn tpl(src: &Path, dst: &Path, cmd: Option<&str>) -> String {
    match cmd {
        Some(c) => format!("{}:{}:{c}", src.display(), dst.display()),
        None => format!("{}:{}", src.display(), dst.display()),
    }
}
