//! The tutorial end to end, through `examples/tutorial/run` exactly as a newcomer runs it (on
//! free ports and with unique names): consul, registrator as a container, the test containers,
//! consul-template and a real nginx. Checks what the tutorial promises and cleans up.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};
use system_tests::{free_port, get, root};

/// Host ports `base..base+8` all free.
fn free_range() -> u16 {
    loop {
        let base = free_port();
        if base > 60000 {
            continue;
        }
        if (0..8).all(|i| TcpListener::bind(("0.0.0.0", base + i)).is_ok()) {
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
        let out = Command::new(root().join("examples/tutorial/run"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn consul(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(system_tests::bin("consul"))
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

fn wait(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn tutorial_end_to_end() {
    if !std::path::Path::new("/var/run/docker.sock").exists() || !have("nginx") {
        eprintln!("note: needs a Docker engine and nginx; skipping the tutorial system test");
        return;
    }
    let id = std::process::id();
    let state = tempfile::tempdir().unwrap();
    let (http, nginx, base) = (free_port(), free_port(), free_range());
    let env = vec![
        (
            "TUTORIAL_STATE".to_string(),
            state.path().join("s").display().to_string(),
        ),
        ("TUTORIAL_HTTP_PORT".into(), http.to_string()),
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
    let t = Tutorial {
        env,
        http,
        nginx,
        base,
        state,
    };
    let (ok, out) = t.run(&["up"]);
    assert!(ok, "tutorial up failed:\n{out}");

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

    // Stopping test-02 takes it out of wt.conf and the rotation.
    let name = format!("it{id}-test-02");
    assert!(Command::new("docker")
        .args(["stop", "-t", "1", &name])
        .output()
        .unwrap()
        .status
        .success());
    wait(15, "test-02 out of wt.conf", || {
        !t.wt_conf().contains(&format!("127.0.0.1:{};", t.base + 1))
    });
    wait(10, "test02 out of the rotation", || {
        (0..6).all(|_| get(t.nginx).as_deref() != Some("test02"))
    });
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
