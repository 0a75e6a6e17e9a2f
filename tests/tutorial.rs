//! The tutorial end to end, through `examples/tutorial/run` exactly as a newcomer runs it (on
//! free ports and with unique names): consul, registrator as a container, the test containers,
//! consul-template and a real nginx, and HAProxy balancing over the same containers found by SRV
//! through consul's DNS interface. Checks what the tutorial promises, that `up`, `add 10` and
//! `down` leave Docker's images and containers as they found them, and that a tutorial container
//! stops at once on `docker stop`.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Instant;
use system_tests::{assert_left_as_found, docker_objects, get, have, wait};
// consul, nginx and the containers are started by examples/tutorial/run, which binds their
// ports itself: free_port is the only way here.
use test_support::free_port;

/// Host ports `base..base+10` all free (test-01..04, test-05 and test-010).
fn free_range() -> u16 {
    loop {
        let base = free_port();
        if base > 60000 {
            continue;
        }
        if (0..10).all(|i| TcpListener::bind(("0.0.0.0", base + i)).is_ok()) {
            return base;
        }
    }
}

struct Tutorial {
    env: Vec<(String, String)>,
    http: u16,
    nginx: u16,
    base: u16,
    state: tempfile::TempDir,
}

impl Tutorial {
    fn run(&self, args: &[&str]) -> (bool, String) {
        system_tests::run_example("tutorial", &self.env, args)
    }

    fn consul(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(test_support::binary("consul"))
            .args(args)
            .env("CONSUL_HTTP_ADDR", format!("127.0.0.1:{}", self.http))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn wt_conf(&self) -> String {
        std::fs::read_to_string(self.state.path().join("s/nginx/conf/vhost/wt.conf"))
            .unwrap_or_default()
    }
}

impl Drop for Tutorial {
    fn drop(&mut self) {
        let (ok, out) = self.run(&["down"]);
        if !ok {
            eprintln!("tutorial down failed:\n{out}");
        }
    }
}

#[test]
fn tutorial_end_to_end() {
    test_support::docker::require_docker();
    assert!(
        have("nginx"),
        "the tutorial system test needs nginx: apt-get install nginx"
    );
    let id = std::process::id();
    let state = tempfile::tempdir().unwrap();
    let (http, nginx, base) = (free_port(), free_port(), free_range());
    let (dns, haproxy_front) = (free_port(), free_port());
    let env = vec![
        (
            "TUTORIAL_STATE".to_string(),
            state.path().join("s").display().to_string(),
        ),
        ("TUTORIAL_HTTP_PORT".into(), http.to_string()),
        ("TUTORIAL_DNS_PORT".into(), dns.to_string()),
        ("TUTORIAL_SERVER_PORT".into(), free_port().to_string()),
        ("TUTORIAL_NGINX_PORT".into(), nginx.to_string()),
        ("TUTORIAL_PORT_BASE".into(), base.to_string()),
        ("TUTORIAL_PREFIX".into(), format!("it{id}-")),
        ("TUTORIAL_IMAGES".into(), format!("it{id}/")),
        (
            "TUTORIAL_REGISTRATOR_IMAGE".into(),
            format!("it{id}/registrator:latest"),
        ),
        ("TUTORIAL_PROFILE".into(), "debug".into()),
    ];
    let before = docker_objects();
    let t = Tutorial {
        env,
        http,
        nginx,
        base,
        state,
    };
    let started = Instant::now();
    let (ok, out) = t.run(&["up"]);
    assert!(ok, "tutorial up failed:\n{out}");
    eprintln!("tutorial up: {:.1?}\n{out}", started.elapsed());
    // Quiet: one line per step (a warning or two allowed), no tool output.
    let steps = out.lines().filter(|l| l.starts_with("==> ")).count();
    assert!(
        steps >= 7 && out.lines().count() <= steps + 2,
        "noisy output:\n{out}"
    );

    // Step 1: members and leader.
    let (code, members) = t.consul(&["members"]);
    assert_eq!(code, 0);
    let row: Vec<&str> = members.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[2], row[3]),
        ("consul-server01", "alive", "server"),
        "{members}"
    );
    let (_, info) = t.consul(&["info"]);
    assert!(info.lines().any(|l| l == "\tleader = true"), "{info}");

    // Step 3: nginx and httpd with two instances each at 127.0.0.1:base..base+3.
    let (_, services) = t.consul(&["catalog", "services"]);
    for s in ["consul", "httpd", "nginx"] {
        assert!(
            services.lines().any(|l| l == s),
            "{s} missing from {services}"
        );
    }
    let ports = |svc: &str| -> Vec<u16> {
        let body = ureq_get(t.http, &format!("/v1/catalog/service/{svc}"));
        let mut v: Vec<u16> = body
            .split("\"ServicePort\":")
            .skip(1)
            .map(|s| {
                s.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(ports("nginx"), vec![t.base, t.base + 1]);
    assert_eq!(ports("httpd"), vec![t.base + 2, t.base + 3]);

    // Step 5: wt.conf lists exactly the two nginx instances.
    let servers = |conf: &str| -> Vec<String> {
        conf.lines()
            .filter(|l| l.trim().starts_with("server 127.0.0.1:"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert_eq!(
        servers(&t.wt_conf()),
        vec![
            format!("server 127.0.0.1:{};", t.base),
            format!("server 127.0.0.1:{};", t.base + 1)
        ]
    );

    // Requests to nginx are spread round-robin over test01 and test02.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..8 {
        *seen
            .entry(get(t.nginx).expect("nginx answers"))
            .or_default() += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen.get("test01"), Some(&4), "{seen:?}");
    assert_eq!(seen.get("test02"), Some(&4), "{seen:?}");

    // HAProxy finds the same two instances by SRV through consul's DNS interface.
    let haproxy = test_support::haproxy::start_srv_balancer(
        t.state.path(),
        dns,
        haproxy_front,
        "_nginx._tcp.service.consul",
    );
    let balanced = |want: &[&str]| -> bool {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        (0..4).all(|_| served(haproxy_front, 8) == want)
    };
    wait(20, "HAProxy serving test01 and test02", || {
        balanced(&["test01", "test02"])
    });

    // Step 6: test-05 joins wt.conf and the rotation; requests keep succeeding meanwhile.
    let (ok, out) = t.run(&["add", "5"]);
    assert!(ok, "{out}");
    wait(10, "test-05 in wt.conf", || {
        servers(&t.wt_conf()).len() == 3
    });
    wait(10, "test05 in the rotation", || {
        (0..6).any(|_| get(t.nginx).as_deref() == Some("test05"))
    });
    let mut failures = 0;
    for _ in 0..30 {
        if get(t.nginx).is_none() {
            failures += 1;
        }
    }
    assert_eq!(failures, 0);
    wait(20, "HAProxy serving test05 too", || {
        balanced(&["test01", "test02", "test05"])
    });

    // Stopping test-02 (with Docker's default 10 s grace) takes it out of wt.conf and the
    // rotation; its PID 1 handles SIGTERM, so the stop itself is quick (printed, not asserted).
    let name = format!("it{id}-test-02");
    let stopping = Instant::now();
    assert!(Command::new("docker")
        .args(["stop", &name])
        .output()
        .unwrap()
        .status
        .success());
    eprintln!("docker stop {name}: {:.2?}", stopping.elapsed());
    let running = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", &name])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&running.stdout).trim(), "false");
    wait(15, "test-02 out of wt.conf", || {
        !t.wt_conf().contains(&format!("127.0.0.1:{};", t.base + 1))
    });
    wait(10, "test02 out of the rotation", || {
        (0..6).all(|_| get(t.nginx).as_deref() != Some("test02"))
    });
    wait(20, "test02 out of HAProxy's rotation", || {
        balanced(&["test01", "test05"])
    });
    drop(haproxy);

    // `add 10` is test-010 on base+9, labelled like the rest; `down` removes it with the rest,
    // and Docker is left as it was found.
    let (ok, out) = t.run(&["add", "10"]);
    assert!(ok, "{out}");
    let during = docker_objects();
    assert!(
        during
            .iter()
            .any(|l| l.contains(&format!(" it{id}-test-010 "))
                && l.contains("consul-tutorial.state=")),
        "{during:?}"
    );
    wait(10, "test-010 in wt.conf", || {
        t.wt_conf().contains(&format!("127.0.0.1:{};", t.base + 9))
    });
    drop(t);
    assert_left_as_found(&before, &docker_objects(), &format!("it{id}"));
}

/// GET on consul's API (plain HTTP/1.0), body only.
fn ureq_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The bodies of `n` requests to 127.0.0.1:`port` that were answered.
fn served(port: u16, n: usize) -> BTreeSet<String> {
    (0..n).filter_map(|_| get(port)).collect()
}
