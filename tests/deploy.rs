//! `deploy/`: the systemd units parse (`systemd-analyze verify`) with our binaries in place of
//! the installed ones, and the config files they point at load in the real binaries.

#![allow(clippy::unwrap_used)]

use std::os::fd::AsFd;
use std::process::Command;
use std::time::Duration;
use test_support::{activation, http_get, wait_until_blocking};
use test_support::{binary as bin, workspace_root as root};

fn verify(unit: &str, replacements: &[(&str, String)]) {
    let src = root().join("deploy").join(unit);
    let mut text = std::fs::read_to_string(&src).unwrap();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    let dir = tempfile::tempdir().unwrap();
    let name = src.file_name().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output();
    let out = out.unwrap_or_else(|e| {
        panic!("{unit}: this test needs systemd-analyze (apt-get install systemd): {e}")
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Complaints about the host's own units are not ours; only lines naming this unit count.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(name.to_str().unwrap()))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{unit}: {stderr}");
}

#[test]
fn units_parse() {
    let consul = bin("consul").display().to_string();
    verify("consul/consul.service", &[("/usr/bin/consul", consul)]);
    let ct = bin("consul-template").display().to_string();
    verify(
        "consul-template/consul-template.service",
        &[("/usr/bin/consul-template", ct)],
    );
    verify("registrator/registrator.service", &[]);
}

#[test]
fn consul_unit_config_is_accepted_by_the_binary() {
    // The shipped config runs: the agent starts from it alone (data dir moved to a temp dir),
    // on sockets this test holds (handed over as systemd socket activation does, so the
    // config's addresses need not be free here), answers as the node the file names, serves
    // the UI the file enables, and stops cleanly on SIGTERM.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("consul.d");
    std::fs::create_dir_all(&conf).unwrap();
    let text = std::fs::read_to_string(root().join("deploy/consul/consul.hcl")).unwrap();
    let text = text.replace(
        "/var/lib/consul",
        &dir.path().join("data").display().to_string(),
    );
    std::fs::write(conf.join("consul.hcl"), text).unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let serf = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = http.local_addr().unwrap().port();
    let config_dir = format!("-config-dir={}", conf.display());
    let mut cmd = activation::command(
        bin("consul"),
        ["agent", config_dir.as_str()],
        &[
            ("http", http.as_fd()),
            ("server", server.as_fd()),
            ("serf_lan", serf.as_fd()),
        ],
    )
    .unwrap();
    let log = dir.path().join("consul.log");
    cmd.stdout(std::fs::File::create(&log).unwrap());
    cmd.stderr(std::process::Stdio::inherit());
    let mut child = Reaped(cmd.spawn().unwrap());
    drop(cmd);
    drop((http, server, serf));
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let get = |path: &str| http_get(addr, path, Duration::from_secs(5)).ok();
    let mut self_doc = String::new();
    let served = wait_until_blocking(Duration::from_secs(30), || match get("/v1/agent/self") {
        Some((200, body)) if body.contains("consul-server01") => {
            self_doc = body;
            true
        }
        _ => false,
    });
    let output = || std::fs::read_to_string(&log).unwrap_or_default();
    if !served {
        panic!("the agent did not serve its config: {}", output());
    }
    assert!(
        self_doc.contains("\"Server\": true") || self_doc.contains("\"Server\":true"),
        "{self_doc}"
    );
    assert!(
        get("/ui/dc1/services").is_some_and(|(code, b)| code == 200 && b.contains("<html")),
        "the UI the config enables is not served"
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "exit {status}: {}", output());
    assert!(
        output().contains("Node name: 'consul-server01'"),
        "{}",
        output()
    );
}

/// A child killed and reaped when the test ends, passed or not.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
