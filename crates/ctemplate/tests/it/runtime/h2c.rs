//! One connection for all watches: against our `consul`, which speaks h2c on its HTTP port,
//! consul-template sends every blocking query as a stream of one HTTP/2 connection — 50
//! templates on 50 services hold one TCP connection while parked — and a change still renders.
//! (The fallback to HTTP/1.1 against an agent that refuses h2c is in `views.rs`.)

use std::collections::HashSet;
use std::time::Duration;

use super::harness::{read, wait_until, Consul, Ct};

const T: Duration = Duration::from_secs(20);

/// ESTABLISHED TCP connections of process `pid` to `port` (its sockets in `/proc/<pid>/fd`,
/// their state in `/proc/<pid>/net/tcp`).
fn connections(pid: u32, port: u16) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let s = l.to_string_lossy().to_string();
                    s.strip_prefix("socket:[")
                        .and_then(|r| r.strip_suffix(']'))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    tcp.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let rport = f
                .get(2)
                .and_then(|r| r.split(':').nth(1))
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            f.get(3) == Some(&"01")
                && rport == Some(port)
                && f.get(9).is_some_and(|i| inodes.contains(*i))
        })
        .count()
}

#[tokio::test]
async fn fifty_watches_share_one_connection() {
    const N: usize = 50;
    let consul = Consul::start().await;
    let port = consul.http_port();
    for i in 0..N {
        consul
            .register(&format!("svc-{i}"), &format!("svc-{i}"), 9000)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut hcl = format!("consul {{\n  address = \"{}\"\n}}\n", consul.addr());
    for i in 0..N {
        hcl.push_str(&format!(
            "template {{\n  contents = \"{{{{range service \\\"svc-{i}\\\"}}}}{{{{.ID}}}} {{{{.Port}}}}{{{{end}}}}\"\n  destination = \"{}/out-{i}\"\n}}\n",
            dir.path().display()
        ));
    }
    let config = dir.path().join("ct.hcl");
    std::fs::write(&config, hcl).unwrap();
    let ct = Ct::start(&[
        format!("-config={}", config.display()),
        "-log-level=debug".to_string(),
    ]);
    let out = |i: usize| dir.path().join(format!("out-{i}"));
    assert!(
        wait_until(T, || async {
            (0..N).all(|i| read(&out(i)) == format!("svc-{i} 9000"))
        })
        .await,
        "not every template rendered: {}",
        ct.stderr()
    );
    // Every view has sent its blocking query (rendering needed the first answer of each;
    // the next request parks at once): one connection, seen steadily.
    let pid = ct.pid();
    assert!(
        wait_until(T, || async { connections(pid, port) == 1 }).await,
        "{} connections to consul: {}",
        connections(pid, port),
        ct.stderr()
    );
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(connections(pid, port), 1, "{}", ct.stderr());
    }
    assert!(
        ct.stderr().contains("speaks HTTP/2 (h2c"),
        "no h2c decision logged: {}",
        ct.stderr()
    );
    // A change wakes its parked stream and renders.
    consul.register("svc-17", "svc-17", 9017).await;
    assert!(
        wait_until(T, || async { read(&out(17)) == "svc-17 9017" }).await,
        "{:?} {}",
        read(&out(17)),
        ct.stderr()
    );
    assert_eq!(read(&out(16)), "svc-16 9000");
    assert_eq!(connections(pid, port), 1, "{}", ct.stderr());
}
