//! `deploy/`: the systemd units parse (`systemd-analyze verify`) with our binaries in place of
//! the installed ones, and the config files they point at load in the real binaries.

#![allow(clippy::unwrap_used)]

use std::process::Command;
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
    // `consul validate`-like check: the agent parses the shipped config and fails only later,
    // on binding, never on the config itself. A client address this host does not have (TEST-NET-1)
    // stops it right there: binding fails with "cannot assign requested address".
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("consul.d");
    std::fs::create_dir_all(&conf).unwrap();
    let text = std::fs::read_to_string(root().join("deploy/consul/consul.hcl")).unwrap();
    let text = text.replace(
        "/var/lib/consul",
        &dir.path().join("data").display().to_string(),
    );
    std::fs::write(conf.join("consul.hcl"), text).unwrap();
    let out = Command::new(bin("consul"))
        .args([
            "agent",
            &format!("-config-dir={}", conf.display()),
            "-client=192.0.2.1",
        ])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("Node name: 'consul-server01'"),
        "config not loaded: {all}"
    );
    assert!(!out.status.success());
}
