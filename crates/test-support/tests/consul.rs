//! The harness against the real `consul` binary: it serves on the sockets the test bound, its
//! ports refuse connections while it is down and come back on a restart, stop and kill report
//! their status, output is captured.

#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::time::Duration;
use test_support::{http_get, Consul, ReservedPort};

#[tokio::test]
async fn serves_on_the_reserved_ports_and_restarts_on_them() {
    let http = ReservedPort::loopback();
    let port = http.port();
    // Reserved, not yet listening: refused.
    assert!(TcpStream::connect(http.addr()).is_err());
    let mut c = Consul::builder()
        .node("harness")
        .http_port(http)
        .start()
        .await;
    assert_eq!(c.http_port(), port);
    let (status, leader) =
        http_get(c.http_addr(), "/v1/status/leader", Duration::from_secs(5)).unwrap();
    assert_eq!(
        (status, leader.trim()),
        (200, format!("\"{}\"", c.server_addr()).as_str())
    );
    assert!(
        c.stdout().contains("Node name: 'harness'"),
        "{}",
        c.output()
    );
    let pid = c.pid().unwrap();
    // The agent listens on the very sockets it was handed (fds 3 and 4), not on its own.
    assert_eq!(fd_inode(pid, 3), listening_inode(c.http_port()));
    assert_eq!(fd_inode(pid, 4), listening_inode(c.server_port()));

    assert!(c.kill9().is_some());
    assert!(c.pid().is_none());
    assert!(
        TcpStream::connect(c.http_addr()).is_err(),
        "refused while down"
    );
    assert!(
        TcpStream::connect(c.server_addr()).is_err(),
        "refused while down"
    );

    c.start().await;
    assert_ne!(c.pid(), Some(pid));
    assert_eq!(c.http_port(), port);
    let st = c.terminate().unwrap();
    assert!(st.success(), "{st:?}\n{}", c.output());
    assert!(c.data_dir().join("node-id").exists());
}

/// The socket inode of `pid`'s fd `fd`.
fn fd_inode(pid: u32, fd: i32) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let link = link.to_string_lossy();
    Some(
        link.strip_prefix("socket:[")?
            .strip_suffix(']')?
            .to_string(),
    )
}

/// The inode of the socket listening on TCP `port` (IPv4).
fn listening_inode(port: u16) -> Option<String> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    tcp.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local = f.get(1)?.rsplit(':').next()?;
        (u16::from_str_radix(local, 16).ok()? == port && f.get(3) == Some(&"0A"))
            .then(|| f.get(9).map(|s| s.to_string()))?
    })
}

#[tokio::test]
async fn a_refused_start_reports_its_exit_and_output() {
    let mut c = Consul::builder().arg("-no-such-flag").build();
    c.spawn();
    let st = c.wait_exit_async(Duration::from_secs(20)).await.unwrap();
    assert!(!st.success());
    assert!(c.output().contains("no-such-flag"), "{}", c.output());
}

#[test]
fn a_dev_agent_without_a_runtime() {
    let c = Consul::builder().dev().node("dev-node").start_blocking();
    let (status, body) = http_get(
        c.http_addr(),
        "/v1/catalog/node/dev-node",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_on_three_loopback_addresses_shares_one_server_port() {
    let ips = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let ports = ReservedPort::shared(&ips);
    let port = ports[0].port();
    let mut members: Vec<Consul> = ports
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let join: Vec<String> = ips
                .iter()
                .filter(|o| **o != ips[i])
                .map(|o| o.to_string())
                .collect();
            Consul::builder()
                .ip(ips[i])
                .node(&format!("m{i}"))
                .member(3, &join)
                .server_port(p)
                .spawn()
        })
        .collect();
    for m in &members {
        assert_eq!(m.server_port(), port);
    }
    for m in members.iter_mut() {
        assert!(
            matches!(
                m.wait_ready(Duration::from_secs(60)).await,
                test_support::Ready::Serving(_)
            ),
            "{}",
            m.output()
        );
    }
}
