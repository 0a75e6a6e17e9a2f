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
