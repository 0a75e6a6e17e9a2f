//! A real etcd (Debian's `etcd-server`, binary `etcd`) for one test: a single member on free
//! loopback ports (`test_support::free_port`: etcd binds what it is told), its data dir in a
//! temp dir; killed and removed on drop, its output printed when the test fails.

use registrator::registry::etcd_api::{
    prefix_end, DeleteRangeRequest, EtcdApi, PutRequest, RangeRequest,
};
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
            match server.client() {
                Some(c) => c.status().await.is_ok(),
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

    /// A client of this etcd (it connects on its first call).
    pub fn client(&self) -> Option<EtcdApi> {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        EtcdApi::new(&endpoint, Duration::from_secs(10), Duration::from_secs(5)).ok()
    }

    /// `key` now; `None` when absent (or etcd did not answer).
    pub async fn get(&self, key: &str) -> Option<Entry> {
        let c = self.client()?;
        let request = RangeRequest {
            key: key.as_bytes().to_vec(),
            range_end: Vec::new(),
            keys_only: false,
        };
        let answer = c.range(request).await.ok()?;
        let kv = answer.kvs.into_iter().next()?;
        Some(Entry {
            value: String::from_utf8(kv.value).ok()?,
            lease: kv.lease,
            mod_revision: kv.mod_revision,
        })
    }

    /// Every key under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let Some(c) = self.client() else {
            return Vec::new();
        };
        let request = RangeRequest {
            key: prefix.as_bytes().to_vec(),
            range_end: prefix_end(prefix.as_bytes()),
            keys_only: true,
        };
        match c.range(request).await {
            Ok(a) => a
                .kvs
                .into_iter()
                .filter_map(|kv| String::from_utf8(kv.key).ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The TTL `lease` was granted with; `None` when etcd does not know it (expired, revoked).
    pub async fn granted_ttl(&self, lease: i64) -> Option<i64> {
        let c = self.client()?;
        let a = c.lease_time_to_live(lease).await.ok()?;
        (a.ttl > 0).then_some(a.granted_ttl)
    }

    pub async fn put(&self, key: &str, value: &str) {
        let c = self.client().expect("etcd client");
        let request = PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            lease: 0,
        };
        c.put(request)
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    pub async fn delete(&self, key: &str) {
        let c = self.client().expect("etcd client");
        let request = DeleteRangeRequest {
            key: key.as_bytes().to_vec(),
        };
        c.delete_range(request)
            .await
            .unwrap_or_else(|e| panic!("delete {key}: {e}"));
    }
}
