//! A real etcd (Debian's `etcd-server`, binary `etcd`) for one test: a single member on free
//! loopback ports (`test_support::free_port`: etcd binds what it is told), its data dir in a
//! temp dir; killed and removed on drop, its output printed when the test fails.

use etcd_client::{Client, GetOptions, LeaseTimeToLiveOptions, PutOptions};
use std::process::Command;
use std::time::Duration;

/// One key as etcd holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    /// 0: no lease.
    pub lease: i64,
    pub mod_revision: i64,
}

pub struct EtcdServer {
    // Killed before the data dir is removed (fields drop in order).
    process: test_support::Process,
    pub port: u16,
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

fn command(args: &[String]) -> Command {
    let mut cmd = Command::new("etcd");
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

impl EtcdServer {
    /// Starts etcd and waits until it answers. Fails saying what to install when `etcd` is
    /// not on PATH.
    pub async fn start() -> EtcdServer {
        let found = Command::new("etcd").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "this test needs etcd on PATH: apt-get install etcd-server"
        );
        let dir = test_support::temp_dir("regit-etcd-");
        let port = test_support::free_port();
        let mut peer = test_support::free_port();
        while peer == port {
            peer = test_support::free_port();
        }
        let client_url = format!("http://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let args = vec![
            "--name=regit".to_string(),
            format!("--data-dir={}", dir.path().join("data").display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=regit={peer_url}"),
        ];
        let server = EtcdServer {
            process: test_support::Process::spawn(command(&args)),
            port,
            args,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }

    /// SIGKILL; the data dir stays for [`EtcdServer::restart`].
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts it again on the same ports and data dir, and waits until it answers.
    pub async fn restart(&mut self) {
        self.process.kill();
        self.process = test_support::Process::spawn(command(&self.args));
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let server = self;
        let up = test_support::wait_until(Duration::from_secs(30), || async {
            match server.client().await {
                Some(mut c) => c.status().await.is_ok(),
                None => false,
            }
        })
        .await;
        assert!(up, "etcd did not answer:\n{}", server.process.output());
    }

    /// `<scheme>://127.0.0.1:<port><path>`.
    pub fn uri(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    pub async fn client(&self) -> Option<Client> {
        Client::connect([format!("http://127.0.0.1:{}", self.port)], None)
            .await
            .ok()
    }

    /// `key` now; `None` when absent (or etcd did not answer).
    pub async fn get(&self, key: &str) -> Option<Entry> {
        let mut c = self.client().await?;
        let answer = c.get(key, None).await.ok()?;
        let kv = answer.kvs().first()?;
        Some(Entry {
            value: kv.value_str().ok()?.to_string(),
            lease: kv.lease(),
            mod_revision: kv.mod_revision(),
        })
    }

    /// Every key under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let Some(mut c) = self.client().await else {
            return Vec::new();
        };
        let opts = GetOptions::new().with_prefix().with_keys_only();
        match c.get(prefix, Some(opts)).await {
            Ok(a) => a
                .kvs()
                .iter()
                .filter_map(|kv| kv.key_str().ok().map(str::to_string))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The TTL `lease` was granted with; `None` when etcd does not know it (expired, revoked).
    pub async fn granted_ttl(&self, lease: i64) -> Option<i64> {
        let mut c = self.client().await?;
        let a = c
            .lease_time_to_live(lease, Some(LeaseTimeToLiveOptions::new()))
            .await
            .ok()?;
        (a.ttl() > 0).then_some(a.granted_ttl())
    }

    pub async fn put(&self, key: &str, value: &str) {
        let mut c = self.client().await.expect("etcd client");
        c.put(key, value, None::<PutOptions>)
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    pub async fn delete(&self, key: &str) {
        let mut c = self.client().await.expect("etcd client");
        c.delete(key, None)
            .await
            .unwrap_or_else(|e| panic!("delete {key}: {e}"));
    }
}
