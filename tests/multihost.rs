//! The multi-host example end to end, through `examples/multihost/run` as a user runs it (with
//! unique names): three consul servers and three "hosts" as containers on a private Docker
//! network, each host a consul client agent with registrator pointed at it and a web container;
//! consul-template and nginx on this machine. Killing a host (its agent, registrator and web
//! container at once) must drop its web container from the render by gossip alone, since nobody
//! is left to deregister it; starting it again brings it back. `down` leaves Docker as found.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;
use system_tests::{assert_left_as_found, docker_objects, get, have, wait};
// nginx is started by examples/multihost/run, which binds its port itself.
use test_support::free_port;

struct Multihost {
    env: Vec<(String, String)>,
    prefix: String,
    nginx: u16,
    state: tempfile::TempDir,
}

impl Multihost {
    fn run(&self, args: &[&str]) -> (bool, String) {
        system_tests::run_example("multihost", &self.env, args)
    }

    /// The address of container `name` (without the prefix) on the example's network.
    fn ip(&self, name: &str) -> String {
        let format = format!(
            "{{{{(index .NetworkSettings.Networks \"{}consul-multihost\").IPAddress}}}}",
            self.prefix
        );
        let out = Command::new("docker")
            .args(["inspect", "-f", &format, &format!("{}{name}", self.prefix)])
            .output()
            .unwrap();
        assert!(out.status.success(), "docker inspect {name}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `consul <args>` against server1's HTTP API; exit code and stdout.
    fn consul(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(test_support::binary("consul"))
            .args(args)
            .env("CONSUL_HTTP_ADDR", format!("{}:8500", self.ip("server1")))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Each member's status and type, by name.
    fn members(&self) -> BTreeSet<(String, String, String)> {
        let (code, out) = self.consul(&["members"]);
        assert_eq!(code, 0, "{out}");
        out.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].to_string(), f[2].to_string(), f[3].to_string())
            })
            .collect()
    }

    /// The upstream servers in the rendered nginx config.
    fn upstream(&self) -> BTreeSet<String> {
        std::fs::read_to_string(self.state.path().join("s/nginx/conf/vhost/wt.conf"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("server ")?.strip_suffix(';'))
            .map(str::to_string)
            .collect()
    }

    fn webs(&self, hosts: &[u32]) -> BTreeSet<String> {
        hosts
            .iter()
            .map(|n| format!("{}:80", self.ip(&format!("h{n}-web"))))
            .collect()
    }
}

impl Drop for Multihost {
    fn drop(&mut self) {
        let (ok, out) = self.run(&["down"]);
        if !ok {
            eprintln!("multihost down failed:\n{out}");
        }
    }
}

fn member(name: &str, status: &str, kind: &str) -> (String, String, String) {
    (name.into(), status.into(), kind.into())
}

#[test]
fn multihost_host_death_leaves_the_render_by_gossip() {
    test_support::docker::require_docker();
    assert!(
        have("nginx") && have("curl"),
        "the multi-host system test needs nginx and curl: apt-get install nginx curl"
    );
    let id = std::process::id();
    let state = tempfile::tempdir().unwrap();
    let nginx = free_port();
    let prefix = format!("it{id}-");
    let env = vec![
        (
            "MULTIHOST_STATE".to_string(),
            state.path().join("s").display().to_string(),
        ),
        ("MULTIHOST_HOSTS".into(), "3".into()),
        ("MULTIHOST_NGINX_PORT".into(), nginx.to_string()),
        ("MULTIHOST_PREFIX".into(), prefix.clone()),
        ("MULTIHOST_IMAGES".into(), format!("it{id}/")),
        ("MULTIHOST_PROFILE".into(), "debug".into()),
    ];
    let before = docker_objects();
    let m = Multihost {
        env,
        prefix,
        nginx,
        state,
    };
    let started = Instant::now();
    let (ok, out) = m.run(&["up"]);
    assert!(ok, "multihost up failed:\n{out}");
    eprintln!("multihost up: {:.1?}\n{out}", started.elapsed());

    // Every server and client agent, alive, with its type.
    let mut all: BTreeSet<_> = (1..=3)
        .map(|n| member(&format!("server{n}"), "alive", "server"))
        .collect();
    all.extend((1..=3).map(|n| member(&format!("h{n}"), "alive", "client")));
    wait(30, "all six members alive", || m.members() == all);

    // Each web container is registered by its own host's registrator, under that host's node.
    let body = ureq(&m.ip("server1"), "/v1/catalog/service/nginx");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let mut placed: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["Node"].as_str().unwrap().to_string(),
                e["ServiceAddress"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    placed.sort();
    let expected: Vec<(String, String)> = (1..=3)
        .map(|n| (format!("h{n}"), m.ip(&format!("h{n}-web"))))
        .collect();
    assert_eq!(placed, expected, "{body}");

    // consul-template renders all three; nginx spreads requests over them.
    wait(30, "three upstream servers", || {
        m.upstream() == m.webs(&[1, 2, 3])
    });
    let seen: BTreeSet<String> = (0..9).filter_map(|_| get(m.nginx)).collect();
    assert_eq!(
        seen,
        ["h1-web", "h2-web", "h3-web"]
            .map(String::from)
            .into_iter()
            .collect(),
    );

    // A host dies: nobody deregisters its web container; gossip marks h2 failed, the leader
    // turns its serfHealth critical, and consul-template drops it.
    let h2_web = m.webs(&[2]);
    let (ok, out) = m.run(&["kill-host", "2"]);
    assert!(ok, "{out}");
    let killed = Instant::now();
    wait(60, "h2's web out of the render", || {
        m.upstream() == m.webs(&[1, 3])
    });
    eprintln!(
        "kill -9 of host h2 -> its web container out of wt.conf: {:.1?}",
        killed.elapsed()
    );
    assert!(m.upstream().is_disjoint(&h2_web));
    let health = ureq(&m.ip("server1"), "/v1/health/node/h2");
    let checks: Vec<serde_json::Value> = serde_json::from_str(&health).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["CheckID"] == "serfHealth" && c["Status"] == "critical"),
        "{health}"
    );
    wait(30, "h2 failed in members", || {
        m.members().contains(&member("h2", "failed", "client"))
    });
    let seen: BTreeSet<String> = (0..9).filter_map(|_| get(m.nginx)).collect();
    assert!(!seen.contains("h2-web"), "{seen:?}");

    // The host comes back: its agent rejoins and its services return to the render.
    let (ok, out) = m.run(&["start-host", "2"]);
    assert!(ok, "{out}");
    wait(60, "h2's web back in the render", || {
        m.upstream() == m.webs(&[1, 2, 3])
    });
    wait(30, "h2 alive again", || {
        m.members().contains(&member("h2", "alive", "client"))
    });

    drop(m);
    assert_left_as_found(&before, &docker_objects(), &format!("it{id}"));
}

/// GET on consul's API at `ip`:8500 with curl (the container's address is not loopback); body.
fn ureq(ip: &str, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://{ip}:8500{path}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {ip}{path}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
