//! The workspace's own `consul` binary ([`test_support::Consul`]: on sockets the test bound; a
//! missing binary fails the test) for the tests that need a real agent: as
//! `consul agent -dev`, or as the tutorial's step-1 server (`-server -bootstrap -ui` with a
//! temp data dir). Killed on drop; the data dir goes with it.

use test_support::Consul;

pub struct ConsulAgent {
    pub consul: Consul,
}

impl ConsulAgent {
    /// Starts `consul agent -dev` and waits until it reports a leader.
    pub async fn start() -> ConsulAgent {
        let consul = Consul::builder()
            .dev()
            .node(&super::unique("node"))
            .start()
            .await;
        ConsulAgent { consul }
    }

    /// Starts the tutorial's server (`agent -server -bootstrap -ui -data-dir=<temp>`) and waits
    /// until it reports a leader.
    pub async fn start_server() -> ConsulAgent {
        let consul = Consul::builder()
            .node(&super::unique("node"))
            .arg("-ui")
            .start()
            .await;
        ConsulAgent { consul }
    }

    pub fn url(&self, path: &str) -> String {
        self.consul.url(path)
    }

    pub fn uri(&self) -> String {
        format!("consul://{}", self.consul.addr())
    }

    /// `GET <path>` as JSON (Null on any failure).
    pub async fn get(&self, path: &str) -> serde_json::Value {
        match reqwest::get(self.url(path)).await {
            Ok(r) => r.json().await.unwrap_or(serde_json::Value::Null),
            Err(_) => serde_json::Value::Null,
        }
    }
}
