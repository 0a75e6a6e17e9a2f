//! Three `consul` servers as containers of the FROM-scratch image (`deploy/consul/build.sh`) on
//! a private Docker network: a partition that isolates the leader (`docker network disconnect`)
//! and `docker kill`. Slow (it builds the static binary and image when missing), so it is
//! ignored by default; run it with
//!
//! ```sh
//! cargo test -p catalog-server --test docker_cluster -- --ignored --nocapture
//! ```
//!
//! Set `CONSUL_IMAGE` to reuse an image already built with `deploy/consul/build.sh <tag>`.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};
use test_support::docker::{Container, Image, Network};

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim().to_string())
}

fn wait(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

/// `consul <args>` inside container `c` (talks to its own agent on 127.0.0.1:8500).
fn consul(c: &str, args: &[&str]) -> (bool, String) {
    let mut a = vec!["exec", c, "/bin/consul"];
    a.extend_from_slice(args);
    docker(&a)
}

fn leader_name(c: &str) -> Option<String> {
    let (ok, out) = consul(c, &["operator", "raft", "list-peers"]);
    if !ok {
        return None;
    }
    out.lines()
        .skip(1)
        .find(|l| l.split_whitespace().nth(3) == Some("leader"))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
}

#[test]
#[ignore = "slow: builds a static binary and an image; run with --ignored"]
fn partition_and_kill_in_docker() {
    test_support::docker::require_docker();
    let id = std::process::id();
    // Guards, dropped in reverse: the containers, then the network, then the image we built.
    let (image, _built) = match std::env::var("CONSUL_IMAGE") {
        Ok(i) => (i, None),
        Err(_) => {
            let tag = format!("consul-it-{id}:latest");
            let guard = Image::adopt(&tag);
            let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
            let st = Command::new(format!("{root}/deploy/consul/build.sh"))
                .arg(&tag)
                .status()
                .unwrap();
            assert!(st.success(), "image build failed");
            (tag, Some(guard))
        }
    };
    let subnet_n = 100 + id % 100;
    let subnet = format!("10.213.{subnet_n}.0/24");
    let network = Network::create(&format!("consul-it-{id}"), &["--subnet", &subnet]);
    let ips: Vec<String> = (0..3)
        .map(|i| format!("10.213.{subnet_n}.{}", 10 + i))
        .collect();
    let names: Vec<String> = (0..3)
        .map(|i| format!("consul-it-{id}-s{}", i + 1))
        .collect();
    let mut containers = Vec::new();
    for i in 0..3 {
        let mut args = vec![
            "--network".to_string(),
            network.name.clone(),
            "--ip".into(),
            ips[i].clone(),
            image.clone(),
            "agent".into(),
            "-server".into(),
            "-bootstrap-expect=3".into(),
            format!("-bind={}", ips[i]),
            "-client=0.0.0.0".into(),
            "-data-dir=/consul/data".into(),
            format!("-node=server{}", i + 1),
        ];
        for (j, ip) in ips.iter().enumerate() {
            if j != i {
                args.push(format!("-retry-join={ip}"));
            }
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        containers.push(Container::run(&names[i], &a));
    }
    wait(60, "a leader", || leader_name(&names[0]).is_some());
    assert!(consul(&names[1], &["kv", "put", "k", "v1"]).0);
    // Node `serverN` runs in container `names[N-1]`.
    let container_of = |node: &str| {
        names[node
            .trim_start_matches("server")
            .parse::<usize>()
            .unwrap_or(1)
            - 1]
        .clone()
    };
    let leader = leader_name(&names[0]).unwrap();
    let old = container_of(&leader);
    let majority: Vec<String> = names.iter().filter(|n| **n != old).cloned().collect();

    // Isolate the leader.
    let (ok, out) = docker(&["network", "disconnect", &network.name, &old]);
    assert!(ok, "{out}");
    wait(60, "a new leader in the majority", || {
        leader_name(&majority[0]).is_some_and(|l| container_of(&l) != old)
    });
    assert!(
        consul(&majority[0], &["kv", "put", "k", "v2"]).0,
        "the majority accepts writes"
    );
    // The isolated old leader neither accepts writes nor serves its stale value as a default read.
    let (ok, out) = consul(&old, &["kv", "put", "k", "stale"]);
    assert!(!ok, "minority accepted a write: {out}");
    let (ok, out) = consul(&old, &["kv", "get", "k"]);
    assert!(
        !ok && !out.contains("v1"),
        "minority served a default read: {out}"
    );

    // Heal: the old leader rejoins and catches up.
    let ip_old = &ips[names.iter().position(|n| *n == old).unwrap()];
    let (ok, out) = docker(&["network", "connect", "--ip", ip_old, &network.name, &old]);
    assert!(ok, "{out}");
    wait(60, "the healed server to catch up", || {
        consul(&old, &["kv", "get", "k"]).1 == "v2"
    });

    // Kill a follower: the other two keep serving writes.
    let leader = container_of(&leader_name(&names[0]).unwrap());
    let follower = names.iter().find(|n| **n != leader).unwrap().clone();
    docker(&["kill", &follower]);
    let alive: Vec<&String> = names.iter().filter(|n| **n != follower).collect();
    wait(30, "a write after killing a follower", || {
        consul(alive[0], &["kv", "put", "k", "v3"]).0
    });
    assert_eq!(consul(alive[1], &["kv", "get", "k"]).1, "v3");
}
