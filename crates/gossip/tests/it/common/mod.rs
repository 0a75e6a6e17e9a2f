//! Starting pool members on loopback and waiting for what they see.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use gossip::{Config, Member, MemberState, MemberStatus, Pool};

/// Probing every 250 ms (memberlist's LAN values divided by four, gossip faster still).
pub fn fast_config() -> Config {
    Config {
        probe_interval: Duration::from_millis(250),
        probe_timeout: Duration::from_millis(125),
        gossip_interval: Duration::from_millis(50),
        push_pull_interval: Duration::from_secs(2),
        reconnect_interval: Duration::from_secs(2),
        leave_propagate_delay: Duration::from_millis(300),
        join_timeout: Duration::from_secs(2),
        ..Config::default()
    }
}

pub fn member(name: &str, addr: SocketAddr) -> Member {
    Member::new(name, uuid::Uuid::new_v4().to_string(), addr)
        .with_tag("role", "node")
        .with_tag("dc", "dc1")
        .with_tag("id", name)
}

/// A member on an OS-assigned loopback port.
pub async fn start(name: &str, config: Config) -> Pool {
    start_at(name, config, loopback(0)).await
}

pub async fn start_at(name: &str, config: Config, addr: SocketAddr) -> Pool {
    Pool::start(config, addr, member(name, addr))
        .await
        .expect("pool starts")
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `count` members named `node-0`.., all joined through `node-0`.
pub async fn start_pool(count: usize, config: Config) -> Vec<Pool> {
    let mut pools = Vec::new();
    for i in 0..count {
        pools.push(start(&format!("node-{i}"), config.clone()).await);
    }
    let seed = pools[0].local_addr();
    for pool in &pools[1..] {
        assert_eq!(pool.join(&[seed]).await.expect("joins the seed"), 1);
    }
    for pool in &pools {
        wait_for_status(pool, count, MemberStatus::Alive).await;
    }
    pools
}

/// Waits until `pool` lists `count` members, all with `status`.
pub async fn wait_for_status(pool: &Pool, count: usize, status: MemberStatus) {
    wait_until(
        Duration::from_secs(20),
        "every member listed with the status",
        || async {
            let members = pool.members().await.expect("pool runs");
            members.len() == count && members.iter().all(|m| m.status() == status)
        },
    )
    .await;
}

/// What `pool` knows of `name`.
pub async fn state_of(pool: &Pool, name: &str) -> Option<MemberState> {
    pool.members()
        .await
        .expect("pool runs")
        .into_iter()
        .find(|m| m.name() == name)
}

/// Waits until every pool in `pools` sees `name` with `status`.
pub async fn wait_all_see(pools: &[&Pool], name: &str, status: MemberStatus, within: Duration) {
    wait_until(within, &format!("{name} seen {status} by all"), || async {
        for pool in pools {
            if state_of(pool, name).await.map(|m| m.status()) != Some(status) {
                return false;
            }
        }
        true
    })
    .await;
}

/// Polls `condition` every 25 ms until it holds; panics after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
