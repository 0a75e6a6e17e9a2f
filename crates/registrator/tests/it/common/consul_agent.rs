//! Starts the workspace's own `consul` binary (`target/debug/consul`, built from
//! crates/catalog-server) on free ports, for the tests that need a real agent: as
//! `consul agent -dev`, or as the tutorial's step-1 server (`-server -bootstrap -ui -data-dir`
//! with a temp data dir). Killed on drop; the data dir goes with it.

use super::{free_port, wait_until, Proc};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct ConsulAgent {
    pub http_port: u16,
    pub proc: Proc,
    _data_dir: Option<tempfile::TempDir>,
}

/// `target/debug/consul` of this workspace.
pub fn consul_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/consul")
}

impl ConsulAgent {
    /// Starts `consul agent -dev` and waits until it reports a leader.
    pub async fn start() -> ConsulAgent {
        Self::launch(&["-dev"], None).await
    }

    /// Starts the tutorial's server (`agent -server -bootstrap -ui -data-dir=<temp>`) and waits
    /// until it reports a leader.
    pub async fn start_server() -> ConsulAgent {
        let dir = tempfile::tempdir().expect("data dir");
        let data_dir = format!("-data-dir={}", dir.path().display());
        Self::launch(&["-server", "-bootstrap", "-ui", &data_dir], Some(dir)).await
    }

    async fn launch(mode: &[&str], data_dir: Option<tempfile::TempDir>) -> ConsulAgent {
        let bin = consul_binary();
        assert!(
            bin.exists(),
            "{} not built (cargo build -p catalog-server)",
            bin.display()
        );
        let http_port = free_port();
        let mut cmd = Command::new(bin);
        cmd.arg("agent")
            .args(mode)
            .args(["-bind=127.0.0.1", "-client=127.0.0.1"])
            .arg(format!("-http-port={http_port}"))
            .arg(format!("-serf-lan-port={}", free_port()))
            .arg(format!("-serf-wan-port={}", free_port()))
            .arg(format!("-server-port={}", free_port()))
            .arg(format!("-node={}", super::unique("node")));
        let agent = ConsulAgent {
            http_port,
            proc: Proc::spawn(cmd),
            _data_dir: data_dir,
        };
        let url = agent.url("/v1/status/leader");
        let up = wait_until(Duration::from_secs(20), || async {
            match reqwest::get(&url).await {
                Ok(r) => r.text().await.is_ok_and(|t| t.len() > 2),
                Err(_) => false,
            }
        })
        .await;
        assert!(
            up,
            "consul agent did not elect itself: {}",
            agent.proc.log()
        );
        agent
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    pub fn uri(&self) -> String {
        format!("consul://127.0.0.1:{}", self.http_port)
    }

    /// `GET <path>` as JSON (Null on any failure).
    pub async fn get(&self, path: &str) -> serde_json::Value {
        match reqwest::get(self.url(path)).await {
            Ok(r) => r.json().await.unwrap_or(serde_json::Value::Null),
            Err(_) => serde_json::Value::Null,
        }
    }
}
