//! Config loading through the real `consul agent` parser: flags, files, merging, validation.

use super::config_from_args;
use crate::config::Config;
use std::net::IpAddr;
use std::path::PathBuf;

fn load(args: &[&str]) -> Result<Config, String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match config_from_args(&args) {
        Ok(r) => r,
        Err(code) => Err(format!("exit {code}")),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn tutorial_command_line() {
    let c = load(&[
        "-server",
        "-bootstrap",
        "-ui",
        "-data-dir=/var/lib/consul-data",
        "-bind=192.168.111.40",
        "-client=0.0.0.0",
        "-node=consul-server01",
    ])
    .expect("valid");
    assert!(c.server && c.bootstrap && c.ui && !c.dev);
    assert_eq!(c.data_dir, Some(PathBuf::from("/var/lib/consul-data")));
    assert_eq!(c.bind_addr, ip("192.168.111.40"));
    assert_eq!(c.advertise_addr, ip("192.168.111.40"));
    assert_eq!(c.client_addrs, vec![ip("0.0.0.0")]);
    assert_eq!(c.http_addrs, vec![ip("0.0.0.0")]);
    assert_eq!(c.node_name, "consul-server01");
    assert_eq!(c.datacenter, "dc1");
    assert_eq!(c.ports.http, 8500);
    assert!(c
        .warnings
        .iter()
        .any(|w| w == "bootstrap = true: do not enable unless necessary"));
}

#[test]
fn dev_mode_defaults() {
    let c = load(&["-dev"]).expect("valid");
    assert!(c.dev && c.server && c.bootstrap && c.ui);
    assert_eq!(c.data_dir, None);
    assert_eq!(c.log_level, "debug");
    assert_eq!(c.bind_addr, ip("127.0.0.1"));
    assert_eq!(c.client_addrs, vec![ip("127.0.0.1")]);
    // Go's -dev opens gRPC on 8502; this agent has no gRPC listener, so none is asked for.
    assert_eq!(c.ports.grpc, -1);
    let c = load(&["-dev", "-log-level=WARN", "-client", "127.0.0.1 10.0.0.1"]).expect("valid");
    assert_eq!(c.log_level, "warn");
    assert_eq!(c.client_addrs, vec![ip("127.0.0.1"), ip("10.0.0.1")]);
}

#[test]
fn validation_messages() {
    let err = |args: &[&str]| load(args).expect_err("invalid");
    assert_eq!(err(&["-server"]), "data_dir cannot be empty");
    assert_eq!(
        err(&["-bootstrap", "-data-dir=/tmp/x"]),
        "'bootstrap = true' requires 'server = true'"
    );
    assert_eq!(
        err(&["-bootstrap-expect=3", "-data-dir=/tmp/x"]),
        "'bootstrap_expect > 0' requires 'server = true'"
    );
    assert_eq!(
        err(&[
            "-server",
            "-bootstrap",
            "-bootstrap-expect=3",
            "-data-dir=/tmp/x"
        ]),
        "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive"
    );
    assert_eq!(
        err(&["-dev", "-bootstrap-expect=3"]),
        "'bootstrap_expect > 0' not allowed in dev mode"
    );
    assert_eq!(
        err(&["-server", "-bootstrap-expect=-1", "-data-dir=/tmp/x"]),
        "bootstrap_expect cannot be -1. Must be greater than or equal to zero"
    );
    assert_eq!(
        err(&["-dev", "-advertise=0.0.0.0"]),
        "Advertise address cannot be 0.0.0.0, :: or [::]"
    );
    assert_eq!(
        err(&["-dev", "-datacenter=dc.1"]),
        "datacenter can only contain lowercase alphanumeric, - or _ characters."
    );
    assert!(err(&["-dev", "-log-level=loud"]).starts_with("Invalid log level: \"LOUD\""));
    assert!(err(&["-dev", "-node=a b"]).contains("cannot contain whitespace"));
    assert_eq!(
        err(&["-dev", "-retry-join=a b"]),
        "retry_join: invalid address \"a b\""
    );
    assert_eq!(err(&["-dev", "-bogus"]), "exit 1");
}

#[test]
fn datacenter_lowercased_and_expect_one() {
    let c = load(&[
        "-server",
        "-bootstrap-expect=1",
        "-data-dir=/tmp/x",
        "-datacenter=DC2",
    ])
    .expect("valid");
    assert_eq!(c.datacenter, "dc2");
    assert!(c.bootstrap);
    assert_eq!(c.bootstrap_expect, 0);
}

#[test]
fn joins_and_meta() {
    let c = load(&[
        "-dev",
        "-join=10.0.0.1",
        "-retry-join",
        "[::1]:8301",
        "-retry-join=consul.local:8301",
        "-node-meta",
        "rack:r1",
        "-node-meta=zone:a:b",
    ])
    .expect("valid");
    assert_eq!(
        c.retry_join,
        vec!["10.0.0.1", "[::1]:8301", "consul.local:8301"]
    );
    assert_eq!(c.node_meta.get("rack").map(String::as_str), Some("r1"));
    assert_eq!(c.node_meta.get("zone").map(String::as_str), Some("a:b"));
    assert!(load(&["-dev", "-node-meta=nocolon"]).is_err());
}

#[test]
fn bind_any_advertises_a_real_address() {
    let c = load(&["-dev", "-bind=0.0.0.0"]).expect("valid");
    assert!(!c.advertise_addr.is_unspecified());
}

#[test]
fn files_merge_and_flags_win() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("10-base.json"),
        r#"{"datacenter":"east","data_dir":"/data","server":true,"retry_join":["a"],
            "ports":{"http":8501},"node_meta":{"k":"v"},"ui_config":{"enabled":true,"content_path":"dash"},
            "limits":{"kv_max_value_size":1024},"performance":{"raft_multiplier":5},
            "service":{"name":"web","port":80,"tags":["v1"],"check":{"http":"http://localhost/h","interval":"10s"}}}"#,
    )
    .expect("write");
    std::fs::write(
        d.join("20-more.hcl"),
        r#"
        retry_join = ["b"]
        log_level = "WARN"
        services = [{ name = "db", id = "db1", port = 5432 }]
        check { id = "mem", name = "Memory", ttl = "30s" }
        "#,
    )
    .expect("write");
    let dir_arg = format!("-config-dir={}", d.display());
    let c = load(&[
        &dir_arg,
        "-retry-join=c",
        "-datacenter=west",
        "-http-port",
        "9500",
    ])
    .expect("valid");
    assert_eq!(c.datacenter, "west");
    assert_eq!(c.retry_join, vec!["a", "b", "c"]);
    assert_eq!(c.ports.http, 9500);
    assert_eq!(c.log_level, "warn");
    assert!(c.ui);
    assert_eq!(c.ui_content_path, "/dash/");
    assert_eq!(c.kv_max_value_size, 1024);
    assert_eq!(c.raft_multiplier, 5);
    assert_eq!(c.node_meta.get("k").map(String::as_str), Some("v"));
    assert_eq!(c.services.len(), 2);
    assert_eq!(c.services[0].name, "web");
    assert_eq!(c.services[0].port, 80);
    let check = c.services[0].check.as_ref().expect("check");
    assert_eq!(check.http, "http://localhost/h");
    assert_eq!(check.interval.as_std(), std::time::Duration::from_secs(10));
    assert_eq!(c.services[1].id, "db1");
    assert_eq!(c.checks.len(), 1);
    assert_eq!(c.checks[0].ttl.as_std(), std::time::Duration::from_secs(30));
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("bad.json");
    std::fs::write(&f, r#"{"server": true, "foo": 1}"#).expect("write");
    let arg = format!("-config-file={}", f.display());
    assert_eq!(
        load(&["-dev", &arg]).expect_err("invalid"),
        format!("failed to parse {}: invalid config key foo", f.display())
    );
    let g = dir.path().join("conf");
    std::fs::write(&g, r#"server = true"#).expect("write");
    let c = load(&[
        "-dev",
        &format!("-config-file={}", g.display()),
        "-config-format=hcl",
    ])
    .expect("valid");
    assert!(c.server);
    assert!(load(&["-dev", "-hcl", "node_name = \"hcl-node\""])
        .map(|c| c.node_name == "hcl-node")
        .unwrap_or(false));
}

#[test]
fn protections_this_agent_lacks_are_refused_never_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("secure.hcl");
    std::fs::write(
        &f,
        "acl {\n  enabled = true\n  default_policy = \"deny\"\n  enable_token_replication = true\n}\n",
    )
    .expect("write");
    let err = load(&["-dev", &format!("-config-file={}", f.display())]).expect_err("refused");
    assert!(
        err.starts_with(&format!(
            "failed to parse {}: acl.enable_token_replication = ",
            f.display()
        )) && err.contains("ACL replication between datacenters is not implemented"),
        "{err}"
    );
    // ACLs themselves load, and are enforced (tests/it/acl.rs).
    let c = load(&[
        "-dev",
        "-hcl",
        "acl { enabled = true default_policy = \"deny\" }",
    ])
    .expect("acl block");
    assert!(c.acl.is_some_and(|a| a.default_deny));
    let err = load(&["-dev", "-hcl", "auto_encrypt { tls = true }"]).expect_err("refused");
    assert!(
        err.starts_with("failed to parse -hcl[0]: auto_encrypt = ")
            && err.contains("is not implemented by this agent"),
        "{err}"
    );
    let c = load(&[
        "-dev",
        "-encrypt=pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
        "-serf-lan-bind=127.0.0.9",
        "-serf-lan-port=9301",
    ])
    .expect("gossip flags");
    assert!(c.gossip.encrypted && c.gossip.pool.keyring.is_some());
    assert_eq!(c.gossip.bind.to_string(), "127.0.0.9");
    assert_eq!(c.ports.serf_lan, 9301);
    let err = load(&["-dev", "-encrypt=c2hvcnQ="]).expect_err("refused");
    assert!(err.contains("encrypt has invalid key"), "{err}");
    // Switched off, the same blocks load: configs written for Consul keep working.
    assert!(load(&["-dev", "-hcl", "acl { enabled = false }"]).is_ok());
    assert!(load(&["-dev", "-hcl", "disable_update_check = true"]).is_ok());
}

#[test]
fn limits_keys_used_or_refused() {
    let c = load(&["-dev"]).expect("valid");
    assert_eq!(c.http_max_conns_per_client, 200);
    assert_eq!(c.http_handshake_timeout, std::time::Duration::from_secs(5));
    assert_eq!(c.rpc_handshake_timeout, std::time::Duration::from_secs(5));
    assert_eq!(c.txn_max_req_len, 512 * 1024);
    let c = load(&[
        "-dev",
        "-hcl",
        r#"limits { http_max_conns_per_client = 10 https_handshake_timeout = "750ms" }"#,
        "-hcl",
        r#"limits { rpc_handshake_timeout = "2s" txn_max_req_len = 1024 }"#,
    ])
    .expect("valid");
    assert_eq!(c.http_max_conns_per_client, 10);
    assert_eq!(
        c.http_handshake_timeout,
        std::time::Duration::from_millis(750)
    );
    assert_eq!(c.rpc_handshake_timeout, std::time::Duration::from_secs(2));
    assert_eq!(c.txn_max_req_len, 1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("limits.json");
    std::fs::write(&f, r#"{"limits": {"http_max_conns_per_client": 0}}"#).expect("write");
    let c = load(&["-dev", &format!("-config-file={}", f.display())]).expect("valid");
    assert_eq!(c.http_max_conns_per_client, 0);

    for (snippet, want) in [
        (
            "limits { rpc_rate = 10 }",
            "limits.rpc_rate is not supported by this agent",
        ),
        (
            "limits { rpc_max_conns_per_client = 10 }",
            "limits.rpc_max_conns_per_client is not supported by this agent",
        ),
        (
            r#"limits { request_limits { mode = "enforcing" } }"#,
            "limits.request_limits is not supported by this agent",
        ),
        (
            "limits { http_handshake_timeout = \"5s\" }",
            "invalid config key limits.http_handshake_timeout",
        ),
        (
            "limits { http_max_conns_per_client = -1 }",
            "limits.http_max_conns_per_client cannot be negative: -1",
        ),
        (
            "limits { https_handshake_timeout = \"0s\" }",
            "limits.https_handshake_timeout must be greater than zero",
        ),
    ] {
        let e = load(&["-dev", "-hcl", snippet]).expect_err(snippet);
        assert!(e.contains(want), "{snippet}: {e}");
    }
}
