//! A client agent's way to the servers: the alive servers the gossip pool lists (tags
//! `role=consul`, `dc`, `port`), the one that last answered tried first, and the HTTP client for
//! their server ports (HTTPS with the CA checked when `verify_outgoing`), which carries
//! forwarded API requests and anti-entropy.

use super::serf::{is_alive, server_addr, Serf};
use crate::config::Config;
use crate::raft::{PeerClient, PeerTlsError};
use std::sync::Mutex;

/// Consul's text when a client knows no server.
pub const NO_SERVERS: &str = "No known Consul servers";

pub struct Upstream {
    http: PeerClient,
    datacenter: String,
    current: Mutex<Option<String>>,
}

impl Upstream {
    /// The client for `config`'s servers; forwarded requests may take as long as the longest
    /// blocking query (`max_query_time` plus its jitter).
    pub fn new(config: &Config) -> Result<Upstream, PeerTlsError> {
        let longest =
            config.max_query_time + config.max_query_time / 16 + std::time::Duration::from_secs(30);
        Ok(Upstream {
            http: PeerClient::new(config.rpc_tls.outgoing.as_ref(), longest)?,
            datacenter: config.datacenter.clone(),
            current: Mutex::new(None),
        })
    }

    pub fn http(&self) -> &PeerClient {
        &self.http
    }

    /// The servers to try, in order: the one that last answered, then the other alive ones
    /// (rotated by a random start, so clients spread over the servers).
    pub async fn servers(&self, serf: &Serf) -> Vec<String> {
        let mut all: Vec<String> = serf
            .members()
            .await
            .iter()
            .filter(|m| is_alive(m))
            .filter_map(|m| server_addr(m, &self.datacenter))
            .collect();
        if !all.is_empty() {
            let start = rand::random::<usize>() % all.len();
            all.rotate_left(start);
        }
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(c) = current {
            if let Some(i) = all.iter().position(|a| *a == c) {
                let c = all.remove(i);
                all.insert(0, c);
            }
        }
        all
    }

    /// `addr` answered: try it first next time.
    pub fn worked(&self, addr: &str) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr.to_string());
    }

    /// `addr` could not be reached: stop preferring it.
    pub fn failed(&self, addr: &str) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_deref() == Some(addr) {
            *current = None;
        }
    }
}

impl super::Agent {
    /// A request to a server's server port (a client's own calls: anti-entropy, coordinates),
    /// carrying `token` (`None`: none): the last good server first, the next one when a server
    /// cannot be reached; the body of a 2xx answer, else what went wrong.
    pub async fn call_servers(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> Result<Vec<u8>, String> {
        match self.ask_servers(method, path, body, token).await? {
            (_, status, bytes) if (200..300).contains(&status) => Ok(bytes),
            (server, status, bytes) => Err(format!(
                "{server}: {}: {}",
                reqwest::StatusCode::from_u16(status)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|_| status.to_string()),
                String::from_utf8_lossy(&bytes).trim()
            )),
        }
    }

    /// `method path` with `token` on the first server that answers: which server, its status
    /// and body; `Err` when none answered.
    pub async fn ask_servers(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> Result<(String, u16, Vec<u8>), String> {
        let Some((_, upstream)) = self.client() else {
            return Err("not a client agent".into());
        };
        let mut last = NO_SERVERS.to_string();
        for server in upstream.servers(self.serf()).await {
            let mut req = upstream
                .http()
                .http()
                .request(method.clone(), upstream.http().url(&server, path))
                .timeout(std::time::Duration::from_secs(30));
            if let Some(t) = token.filter(|t| !t.is_empty()) {
                req = req.header(api_types::headers::TOKEN, t);
            }
            if let Some(b) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }
            match req.send().await {
                Ok(r) => {
                    upstream.worked(&server);
                    let status = r.status().as_u16();
                    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
                    return Ok((server.to_string(), status, bytes.to_vec()));
                }
                Err(e) => {
                    upstream.failed(&server);
                    last = format!("{server}: {e}");
                }
            }
        }
        Err(last)
    }
}
