//! This agent as a member of the LAN gossip pool (Serf's role in Consul): its tags, joining
//! `-join`/`-retry-join` addresses, leaving, force-leave, and the member list in Consul's shape.
//! Without a gossip socket (`ports.serf_lan = -1`, an in-process agent) the pool is this agent
//! alone.

use crate::config::Config;
use crate::version::{REVISION, VERSION};
use gossip::{MemberState, MemberStatus, Pool};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tag a server's storage failure travels in, so the leader can mark it critical.
pub const STORAGE_TAG: &str = "storage_error";
/// How much of the reason the tag carries (tags share 512 bytes).
const STORAGE_TAG_MAX: usize = 120;

/// Why a join failed, as `consul join` and the join loop report it.
#[derive(Debug, thiserror::Error)]
pub enum SerfJoinError {
    #[error("no gossip port: this agent runs with ports.serf_lan = -1")]
    NoPool,
    #[error("lookup {addr}: {why}")]
    Resolve { addr: String, why: String },
    #[error("{0}")]
    Gossip(#[from] gossip::Error),
}

/// The agent's membership of the LAN pool.
pub struct Serf {
    pool: Option<Pool>,
    default_port: u16,
    started: Instant,
    storage_tag: Mutex<Option<String>>,
}

impl Serf {
    /// Starts gossiping on `socket` as this agent (alone until it joins); without a socket,
    /// a pool of one.
    pub fn start(
        config: &Config,
        node_id: &str,
        socket: Option<UdpSocket>,
    ) -> Result<Serf, gossip::Error> {
        let default_port = config.ports.serf_lan.max(0) as u16;
        let pool = match socket {
            Some(socket) => {
                let port = socket
                    .local_addr()
                    .map(|a| a.port())
                    .unwrap_or(default_port);
                let me = gossip::Member::new(
                    config.node_name.clone(),
                    node_id.to_string(),
                    SocketAddr::new(config.advertise_addr, port),
                )
                .with_tags(tags(config, node_id));
                Some(Pool::start_on(config.gossip.pool.clone(), socket, me)?)
            }
            None => None,
        };
        Ok(Serf {
            pool,
            default_port,
            started: Instant::now(),
            storage_tag: Mutex::new(None),
        })
    }

    /// Whether this agent gossips at all.
    pub fn enabled(&self) -> bool {
        self.pool.is_some()
    }

    /// How long the pool has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The pool's members, this agent included (empty without a pool).
    pub async fn members(&self) -> Vec<MemberState> {
        match &self.pool {
            Some(p) => p.members().await.unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Joins the pool through the agents at `addrs` (`host`, `host:port`, `[v6]:port`; the
    /// port defaults to this agent's gossip port, as memberlist's does); returns how many
    /// answered.
    pub async fn join(&self, addrs: &[String]) -> Result<usize, SerfJoinError> {
        let pool = self.pool.as_ref().ok_or(SerfJoinError::NoPool)?;
        let mut resolved = Vec::new();
        let mut last_error = None;
        for a in addrs {
            match resolve(a, self.default_port).await {
                Ok(found) => resolved.extend(found),
                Err(e) => last_error = Some(e),
            }
        }
        if resolved.is_empty() {
            return Err(
                last_error.unwrap_or(SerfJoinError::Gossip(gossip::Error::JoinFailed {
                    attempted: 0,
                })),
            );
        }
        Ok(pool.join(&resolved).await?)
    }

    /// Leaves the pool gracefully: the others list this agent as `left`.
    pub async fn leave(&self) -> Result<(), gossip::Error> {
        match &self.pool {
            Some(p) => p.leave().await,
            None => Ok(()),
        }
    }

    /// Consul's force-leave: a failed member turns `left` everywhere.
    pub async fn force_leave(&self, name: &str) -> Result<(), gossip::Error> {
        match &self.pool {
            Some(p) => p.force_leave(name).await,
            None => Err(gossip::Error::UnknownMember(name.to_string())),
        }
    }

    /// Fires a user event to every member.
    pub async fn fire_event(
        &self,
        name: &str,
        payload: Vec<u8>,
    ) -> Result<uuid::Uuid, gossip::Error> {
        match &self.pool {
            Some(p) => p.fire_event(name, payload).await,
            None => Err(gossip::Error::Shutdown),
        }
    }

    /// User events as they arrive (an ended subscription without a pool).
    pub fn user_events(&self) -> Option<gossip::Subscription<gossip::UserEvent>> {
        self.pool.as_ref().map(Pool::user_events)
    }

    /// Probe round trips as they are measured (none without a pool).
    pub fn rtt_samples(&self) -> Option<gossip::Subscription<gossip::RttSample>> {
        self.pool.as_ref().map(Pool::rtt_samples)
    }

    /// Whether encryption is on, and the installed keys.
    pub fn keys(&self) -> Option<Vec<gossip::SecretKey>> {
        self.pool.as_ref().and_then(|p| p.keys().ok())
    }

    /// Publishes (or clears) this server's storage failure in its tags.
    pub async fn set_storage_error(&self, why: Option<String>) {
        let Some(pool) = &self.pool else { return };
        let why = why.map(|w| w.chars().take(STORAGE_TAG_MAX).collect::<String>());
        {
            let mut current = self.storage_tag.lock().unwrap_or_else(|p| p.into_inner());
            if *current == why {
                return;
            }
            current.clone_from(&why);
        }
        let mut tags = pool.local_member().tags().clone();
        match why {
            Some(w) => tags.insert(STORAGE_TAG.into(), w),
            None => tags.remove(STORAGE_TAG),
        };
        if let Err(e) = pool.set_tags(tags).await {
            tracing::warn!(target: "agent", "failed to update gossip tags: {e}");
        }
    }

    /// Stops gossiping without leaving (as a killed agent would).
    pub async fn shutdown(&self) {
        if let Some(p) = &self.pool {
            p.shutdown().await;
        }
    }
}

/// Serf's tags for this agent, as Consul sets them (a client has no server port, no
/// bootstrap or expect tags).
pub fn tags(c: &Config, node_id: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut tag = |k: &str, v: String| {
        tags.insert(k.to_string(), v);
    };
    tag("build", format!("{VERSION}:{REVISION}"));
    tag("dc", c.datacenter.clone());
    tag("id", node_id.to_string());
    tag("role", if c.server { "consul" } else { "node" }.into());
    tag("segment", String::new());
    tag("vsn", "2".into());
    tag("vsn_max", "3".into());
    tag("vsn_min", "2".into());
    if c.server {
        tag("acls", if c.acl.is_some() { "1" } else { "0" }.into());
        if c.bootstrap || c.dev {
            tag("bootstrap", "1".into());
        }
        if c.bootstrap_expect > 0 {
            tag("expect", c.bootstrap_expect.to_string());
        }
        tag("ft_fs", "1".into());
        tag("ft_si", "1".into());
        tag("port", c.ports.server.to_string());
        tag("raft_vsn", "3".into());
        tag("wan_join_port", c.ports.serf_wan.to_string());
    }
    tags
}

/// A pool member in `/v1/agent/members`' shape.
pub fn wire_member(m: &MemberState) -> api_types::Member {
    let mut tags = m.member().tags().clone();
    tags.remove(STORAGE_TAG);
    api_types::Member {
        name: m.name().to_string(),
        addr: m.member().addr().ip().to_string(),
        port: m.member().addr().port(),
        tags,
        status: m.status().serf_code(),
        protocol_min: 1,
        protocol_max: 5,
        protocol_cur: 2,
        delegate_min: 2,
        delegate_max: 5,
        delegate_cur: 4,
    }
}

/// Whether `m` is a server of datacenter `dc`, and its server-port address.
pub fn server_addr(m: &MemberState, dc: &str) -> Option<String> {
    let member = m.member();
    if member.tag("role") != Some("consul") || member.tag("dc") != Some(dc) {
        return None;
    }
    let port: u16 = member.tag("port")?.parse().ok()?;
    Some(SocketAddr::new(member.addr().ip(), port).to_string())
}

/// Whether the member counts as alive (suspect included, as Serf shows it).
pub fn is_alive(m: &MemberState) -> bool {
    m.status() != MemberStatus::Failed && m.status() != MemberStatus::Left
}

/// `host`, `host:port` or `[v6]:port` → socket addresses, the port defaulting to `port`.
async fn resolve(addr: &str, port: u16) -> Result<Vec<SocketAddr>, SerfJoinError> {
    let target = if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{addr}]:{port}")
    } else {
        let has_port = if addr.starts_with('[') {
            addr.contains("]:")
        } else {
            addr.matches(':').count() == 1
        };
        if has_port {
            addr.to_string()
        } else {
            format!("{addr}:{port}")
        }
    };
    let found = tokio::net::lookup_host(&target)
        .await
        .map_err(|e| SerfJoinError::Resolve {
            addr: addr.to_string(),
            why: e.to_string(),
        })?;
    Ok(found.collect())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn join_addresses_default_to_the_gossip_port() {
        let r = |a: &'static str| async move {
            super::resolve(a, 8301)
                .await
                .expect("resolves")
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(r("127.0.0.2").await, ["127.0.0.2:8301"]);
        assert_eq!(r("127.0.0.2:9301").await, ["127.0.0.2:9301"]);
        assert_eq!(r("[::1]:9301").await, ["[::1]:9301"]);
        assert_eq!(r("::1").await, ["[::1]:8301"]);
    }
}
