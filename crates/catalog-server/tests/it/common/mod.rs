//! Test helpers: a real `consul` agent ([`test_support::Consul`]: on sockets the test bound,
//! temp data dir, output captured) with an HTTP client for it, and `wait_until`.

#![allow(dead_code)]

use std::ops::{Deref, DerefMut};
use std::time::Duration;
pub use test_support::{wait_until, Consul, ConsulBuilder, Mode, ReservedPort};

/// A running `consul agent -server -bootstrap` (unless built otherwise) with a client; derefs
/// to the [`Consul`] harness (ports, data dir, output, stop, kill, restart, CLI).
pub struct TestServer {
    consul: Consul,
    pub http: reqwest::Client,
}

impl Deref for TestServer {
    type Target = Consul;
    fn deref(&self) -> &Consul {
        &self.consul
    }
}

impl DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut Consul {
        &mut self.consul
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

impl TestServer {
    /// What every server here starts from: node `test-node`, `-log-level=warn`.
    pub fn builder() -> ConsulBuilder {
        Consul::builder().node("test-node").arg("-log-level=warn")
    }

    /// A server from `consul` (not started) with the default client.
    pub fn new(consul: Consul) -> TestServer {
        TestServer {
            consul,
            http: client(),
        }
    }

    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[&str]) -> TestServer {
        let mut s = TestServer::new(Self::builder().args(extra.iter().copied()).build());
        s.start().await;
        s
    }

    /// A cluster member on `ip` (e.g. 127.0.0.2) with the cluster's shared `server_port`,
    /// waiting for `expect` servers at `join`. Not started: call `spawn`.
    pub fn member(
        ip: &str,
        node: &str,
        server_port: ReservedPort,
        expect: usize,
        join: &[String],
    ) -> TestServer {
        TestServer::new(
            Self::builder()
                .ip(ip)
                .node(node)
                .member(expect, join)
                .server_port(server_port)
                .build(),
        )
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
}
