//! The CLI against a real server: the tutorial's `consul members` and `consul info | grep leader`,
//! `consul kv` (export and import included) and `consul watch`.

use crate::common::{wait_until, TestServer};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn members_and_info_like_the_tutorial() {
    let s = TestServer::start().await;
    let (code, out, err) = tokio::task::block_in_place(|| s.cli(&["members"]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Node "), "{out}");
    assert!(
        lines[0].contains("Address") && lines[0].contains("Status") && lines[0].contains("Segment")
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "test-node");
    assert_eq!(row[2], "alive");
    assert_eq!(row[3], "server");

    let (code, out, err) = tokio::task::block_in_place(|| s.cli(&["info"]));
    assert_eq!(code, 0, "{err}");
    let leader: Vec<&str> = out.lines().filter(|l| l.contains("leader")).collect();
    assert_eq!(leader[0], "\tleader = true", "{out}");
    assert_eq!(
        leader[1],
        format!("\tleader_addr = 127.0.0.1:{}", s.server_port())
    );

    let (code, _, _) = tokio::task::block_in_place(|| s.cli(&["members", "-status=failed"]));
    assert_eq!(code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_commands() {
    let s = TestServer::start().await;
    let (code, out, err) =
        tokio::task::block_in_place(|| s.cli(&["kv", "put", "app/name", "demo"]));
    assert_eq!(
        (code, out.as_str()),
        (0, "Success! Data written to: app/name\n"),
        "{err}"
    );
    let (code, out, _) = tokio::task::block_in_place(|| s.cli(&["kv", "get", "app/name"]));
    assert_eq!((code, out.as_str()), (0, "demo\n"));
    let (code, _, err) = tokio::task::block_in_place(|| s.cli(&["kv", "get", "app/missing"]));
    assert_eq!(code, 1);
    assert_eq!(err, "Error! No key exists at: app/missing\n");
    let (code, out, _) = tokio::task::block_in_place(|| s.cli(&["kv", "delete", "app/name"]));
    assert_eq!(
        (code, out.as_str()),
        (0, "Success! Deleted key: app/name\n")
    );
}

fn run(s: &TestServer, args: &[&str]) -> (i32, String, String) {
    tokio::task::block_in_place(|| s.cli(args))
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_flags_cas_and_detailed() {
    let s = TestServer::start().await;
    assert_eq!(run(&s, &["kv", "put", "-flags=42", "k", "v1"]).0, 0);
    let (code, out, _) = run(&s, &["kv", "get", "-detailed", "k"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Flags            42\n") && out.ends_with("Value            v1\n"),
        "{out}"
    );
    let (code, _, err) = run(&s, &["kv", "put", "-cas", "-modify-index=1", "k", "v2"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error! Did not write to k: CAS failed\n")
    );
    let (code, _, err) = run(&s, &["kv", "put", "k", "v", "-flags=1"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error! Too many arguments (expected 1 or 2, got 3)\n")
    );
    let (code, _, err) = run(
        &s,
        &["kv", "delete", "-cas", "-recurse", "-modify-index=3", "k"],
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "Cannot specify both -cas and -recurse!\n")
    );
    assert_eq!(run(&s, &["kv", "put", "dir/a", "1"]).0, 0);
    let (_, out, _) = run(&s, &["kv", "get", "-recurse", "dir"]);
    assert_eq!(out, "dir/a:1\n");
    let (_, out, _) = run(&s, &["kv", "get", "-keys"]);
    assert_eq!(out, "dir/\nk\n");
    let (_, out, _) = run(&s, &["kv", "get", "-base64", "k"]);
    assert_eq!(out, "djE=\n");
}

/// `kv export` writes Go's interchange (tab-indented, base64 values, flags); `kv import` of that
/// file into a fresh server gives the same tree back, binary values and flags included.
#[tokio::test(flavor = "multi_thread")]
async fn kv_export_then_import_round_trips() {
    let a = TestServer::start().await;
    assert_eq!(run(&a, &["kv", "put", "-flags=9", "app/a", "one"]).0, 0);
    assert_eq!(run(&a, &["kv", "put", "-base64", "app/bin", "AP8="]).0, 0);
    assert_eq!(run(&a, &["kv", "put", "other", "x"]).0, 0);
    let (code, exported, err) = run(&a, &["kv", "export", "/app"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        exported,
        "[\n\t{\n\t\t\"key\": \"app/a\",\n\t\t\"flags\": 9,\n\t\t\"value\": \"b25l\"\n\t},\n\t{\n\t\t\"key\": \"app/bin\",\n\t\t\"flags\": 0,\n\t\t\"value\": \"AP8=\"\n\t}\n]\n"
    );
    let (code, out, _) = run(&a, &["kv", "export", "nothing/"]);
    assert_eq!((code, out.as_str()), (0, "[]\n"));

    let b = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tree.json");
    std::fs::write(&file, &exported).unwrap();
    let (code, out, err) = run(&b, &["kv", "import", &format!("@{}", file.display())]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Imported: app/a\nImported: app/bin\n"),
        "{err}"
    );
    let (_, again, _) = run(&b, &["kv", "export", "app"]);
    assert_eq!(again, exported);

    let (code, _, err) = run(&b, &["kv", "import", r#"[{"key":"k","value":"!!"}]"#]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error base 64 decoding value for key k: "),
        "{err}"
    );
    let (code, _, err) = run(&b, &["kv", "import", "{}"]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "Cannot unmarshal data: json: cannot unmarshal object into Go value of type []*impexp.Entry\n"
        )
    );
    let (code, _, err) = run(&b, &["kv", "import"]);
    assert_eq!((code, err.as_str()), (1, "Error! Missing DATA argument\n"));
}

/// `consul watch` without a child prints the current value and exits; with one, the child
/// runs on every change with the data on stdin and CONSUL_INDEX set; a failing child ends the
/// watch with exit 1; bad parameters are refused with Consul's texts.
#[tokio::test(flavor = "multi_thread")]
async fn watch_prints_or_runs_its_handler_on_each_change() {
    let s = TestServer::start().await;
    let (code, out, err) = run(&s, &["watch", "-type=key", "-key=app/x"]);
    assert_eq!((code, out.as_str()), (0, "null\n"), "{err}");
    assert_eq!(run(&s, &["kv", "put", "app/x", "one"]).0, 0);
    let (code, out, _) = run(&s, &["watch", "-type=key", "-key=app/x"]);
    assert_eq!(code, 0);
    let pair: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (pair["Key"].as_str(), pair["Value"].as_str()),
        (Some("app/x"), Some("b25l"))
    );
    assert!(
        out.starts_with("{\n    \"") && out.ends_with("}\n"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("changes");
    let mut cmd = std::process::Command::new(test_support::binary("consul"));
    cmd.env("CONSUL_HTTP_ADDR", s.addr()).args([
        "watch",
        "-type=keyprefix",
        "-prefix=app/",
        &format!("(echo \"$CONSUL_INDEX\"; cat) >> {}", log.display()),
    ]);
    let mut watcher = test_support::Process::spawn(cmd);
    let lines = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(10), || async { lines().len() == 2 }).await,
        "{:?}\n{}",
        lines(),
        watcher.output()
    );
    assert_eq!(run(&s, &["kv", "put", "app/y", "two"]).0, 0);
    assert!(
        wait_until(Duration::from_secs(10), || async { lines().len() == 4 }).await,
        "{:?}\n{}",
        lines(),
        watcher.output()
    );
    let seen = lines();
    let first: u64 = seen[0].parse().unwrap();
    let second: u64 = seen[2].parse().unwrap();
    assert!(second > first, "{seen:?}");
    let keys: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&seen[3])
        .unwrap()
        .iter()
        .map(|p| p["Key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["app/x", "app/y"]);
    assert!(watcher.signal(libc::SIGTERM));
    let status = watcher.wait_exit_blocking(Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(0));

    let (code, _, err) = run(&s, &["watch", "-type=nodes", "-shell=false", "false"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error executing handler: exit status 1\n")
    );
    let (code, _, err) = run(&s, &["watch"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Watch type must be specified\n"), "{err}");
    let (code, _, err) = run(&s, &["watch", "-type=services", "-key=a"]);
    assert_eq!((code, err.as_str()), (1, "Invalid parameters: [key]\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_and_flag_errors() {
    let s = TestServer::start().await;
    let (code, out, _) = run(&s, &["catalog", "services"]);
    assert_eq!((code, out.as_str()), (0, "consul\n"));
    let (code, out, _) = run(&s, &["catalog", "nodes"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Node       ID        Address    DC\ntest-node  "),
        "{out}"
    );
    let (code, out, _) = run(&s, &["catalog", "datacenters"]);
    assert_eq!((code, out.as_str()), (0, "dc1\n"));
    let (code, _, err) = run(&s, &["members", "-bogus"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("flag provided but not defined: -bogus\n"),
        "{err}"
    );
    let (code, out, _) = run(&s, &["members", "--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Usage: consul members"), "{out}");
    let (code, out, _) = run(&s, &["operator", "raft", "list-peers"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("test-node") && out.contains("leader"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_agent_and_version() {
    // Held, not listening: connections to it are refused.
    let held = crate::common::ReservedPort::loopback();
    let port = held.port();
    let out = std::process::Command::new(test_support::binary("consul"))
        .args(["members", &format!("-http-addr=127.0.0.1:{port}")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error retrieving members: Get \"http://127.0.0.1:{port}/v1/agent/members?segment=_all\": \
             dial tcp 127.0.0.1:{port}: connect: connection refused\n"
        )
    );
    let out = std::process::Command::new(test_support::binary("consul"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Consul v1.21.5\nRevision "));
    let out = std::process::Command::new(test_support::binary("consul"))
        .arg("nope")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(127));
}

/// Runs `consul ARGS` without a server; exit code, stdout, stderr.
fn consul(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(test_support::binary("consul"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command names a usage text lists under `heading` (`    name   synopsis`).
fn listed(usage: &str, heading: &str) -> Vec<String> {
    usage
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Every subcommand's `-h`, found from `consul -h` down through the parents' subcommand
/// lists: each flag it lists (`  -name`) has a description line under it.
#[test]
fn every_flag_of_every_command_has_a_description() {
    let (code, top, _) = consul(&["-h"]);
    assert_eq!(code, 0);
    let mut todo: Vec<Vec<String>> = listed(&top, "Available commands are:")
        .into_iter()
        .map(|c| vec![c])
        .collect();
    assert!(todo.len() >= 10, "{top}");
    let mut leaves = 0;
    let mut flags = 0;
    while let Some(words) = todo.pop() {
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("-h");
        let (code, out, err) = consul(&args);
        assert_eq!(code, 0, "consul {words:?} -h: {err}");
        // Parents print their subcommands on stderr (mitchellh/cli), commands their flags on
        // stdout.
        let subs = listed(&err, "Subcommands:");
        assert!(words.len() <= 3, "{words:?}");
        if !subs.is_empty() {
            for s in subs {
                let mut w = words.clone();
                w.push(s);
                todo.push(w);
            }
            continue;
        }
        leaves += 1;
        assert!(out.starts_with("Usage: consul "), "{words:?}: {out}");
        let lines: Vec<&str> = out.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if let Some(flag) = l.strip_prefix("  -") {
                flags += 1;
                let desc = lines.get(i + 1).copied().unwrap_or("");
                assert!(
                    desc.starts_with("     ") && desc.trim().len() > 3,
                    "consul {} -{flag} has no description:\n{out}",
                    words.join(" ")
                );
            }
        }
    }
    assert!(
        leaves >= 15 && flags > 200,
        "{leaves} commands, {flags} flags"
    );
    let (_, out, _) = consul(&["agent", "-h"]);
    assert!(
        out.contains("\n  -data-dir=<value>\n     Path to a data directory"),
        "{out}"
    );
}

/// Go commands we lack say so (exit 1); a flag we do not implement is refused by name;
/// `consul version` keeps Go's first line and names this implementation.
#[test]
fn unsupported_is_said_not_ignored() {
    for cmd in [
        &["snapshot", "inspect"][..],
        &["acl", "templated-policy", "list"],
        &["operator", "area"],
    ] {
        let (code, out, err) = consul(cmd);
        assert_eq!(code, 1, "{cmd:?}");
        assert!(out.is_empty());
        assert_eq!(
            err,
            format!(
                "consul {}: not implemented by this consul\n",
                cmd[..cmd.len().min(2)].join(" ")
            ),
        );
    }
    let (code, _, err) = consul(&["catalog", "nodes", "-near=_agent"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "-near: not implemented by this consul\n")
    );
    let (code, _, err) = consul(&["agent", "-dev", "-grpc-port=8502"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("-grpc-port=8502: not implemented by this consul"),
        "{err}"
    );
    let (code, out, _) = consul(&["version"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Consul v1.21.5");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Implementation: ") && l.contains("git revision ")),
        "{out}"
    );
}

/// Every port the banner prints (not -1) is a listening socket.
#[tokio::test(flavor = "multi_thread")]
async fn banner_names_only_open_listeners() {
    let s = TestServer::start().await;
    let log = s.output();
    let line = |label: &str| {
        log.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in:\n{log}"))
            .to_string()
    };
    // "Client Addr: [127.0.0.1] (HTTP: 8500, HTTPS: -1, ...)" -> (addrs, [(name, port)]).
    let ports = |l: &str| -> Vec<(String, i64)> {
        let inner = l
            .rsplit_once('(')
            .map(|(_, r)| r.trim_end_matches(')'))
            .unwrap_or("");
        inner
            .split(", ")
            .filter_map(|kv| kv.split_once(": "))
            .filter_map(|(k, v)| v.parse().ok().map(|p| (k.to_string(), p)))
            .collect()
    };
    let client = line("Client Addr:");
    let addrs: Vec<String> = client
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(a, _)| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    assert_eq!(addrs, vec![s.ip().to_string()], "{client}");
    let cluster = line("Cluster Addr:");
    let cluster_addr = cluster
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let mut named = Vec::new();
    for (name, port) in ports(&client) {
        for a in &addrs {
            named.push((name.clone(), format!("{a}:{port}"), port));
        }
    }
    for (name, port) in ports(&cluster) {
        named.push((name, format!("{cluster_addr}:{port}"), port));
    }
    let server = line("Server Addr:");
    let server_addr = server
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string();
    named.push(("Server".into(), server_addr.clone(), 0));
    let mut open = 0;
    for (name, addr, port) in &named {
        if *port == -1 {
            continue;
        }
        if name == "LAN" {
            // Gossip is UDP: a closed port answers ICMP (refused), an open one says nothing
            // to a stray datagram.
            let probe = std::net::UdpSocket::bind((s.ip(), 0)).unwrap();
            probe.connect(addr.as_str()).unwrap();
            probe.send(b"?").unwrap();
            probe
                .set_read_timeout(Some(std::time::Duration::from_millis(300)))
                .unwrap();
            let refused = matches!(probe.recv(&mut [0u8; 64]), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused);
            assert!(
                !refused,
                "the banner names LAN at {addr}, but nothing listens there\n{log}"
            );
        } else {
            std::net::TcpStream::connect(addr.as_str())
                .unwrap_or_else(|e| panic!("the banner names {name} at {addr}, but: {e}\n{log}"));
        }
        open += 1;
    }
    assert_eq!(open, 3, "HTTP, the server port and gossip: {named:?}");
    assert_eq!(server_addr, format!("{}:{}", s.ip(), s.server_port()));
    assert!(
        client.contains(&format!("(HTTP: {}, ", s.http_port())),
        "{client}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_client_round_trip() {
    use api_types::client::{Client, KvPutOptions, QueryOptions};
    let s = TestServer::start().await;
    let c = Client::new(&format!("127.0.0.1:{}", s.http_port())).expect("client");
    let q = QueryOptions::default();
    assert!(c
        .kv_put("t/x", b"1", &KvPutOptions::default())
        .await
        .expect("put"));
    let (pair, meta) = c.kv_get("t/x", &q).await.expect("get");
    assert_eq!(pair.map(|p| p.value_bytes()), Some(b"1".to_vec()));
    assert!(meta.index > 0);
    assert_eq!(c.kv_get("t/none", &q).await.expect("get").0, None);
    assert_eq!(
        c.kv_keys("t/", None, &q).await.expect("keys").0,
        vec!["t/x"]
    );
    let reg = api_types::ServiceRegistration {
        name: "web".into(),
        port: 80,
        ..Default::default()
    };
    c.service_register(&reg).await.expect("register");
    let (services, _) = c.agent_services(&q).await.expect("services");
    assert!(services.contains_key("web"));
    assert!(!c.status_leader().await.expect("leader").is_empty());
    let (members, _) = c.agent_members(false).await.expect("members");
    assert_eq!(members[0].name, "test-node");
    let err = c.service_deregister("nope").await.expect_err("unknown");
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string()
            .starts_with("Unexpected response code: 404 ("),
        "{err}"
    );
}

/// `consul keygen` prints a fresh 32-byte key in base64, as the `encrypt` setting takes it.
#[test]
fn keygen_prints_a_32_byte_base64_key() {
    use base64::Engine;
    let run = || {
        let out = std::process::Command::new(test_support::binary("consul"))
            .arg("keygen")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let (a, b) = (run(), run());
    let key = base64::engine::general_purpose::STANDARD
        .decode(a.trim_end())
        .unwrap();
    assert_eq!(key.len(), 32);
    assert_ne!(a, b, "two keys alike");
}

/// `consul maint`: node and service maintenance on and off, listed with Consul's layout, and
/// its argument errors.
#[tokio::test(flavor = "multi_thread")]
async fn maint_enables_lists_and_disables() {
    let s = TestServer::start().await;
    let (st, b) = s
        .put(
            "/v1/agent/service/register",
            r#"{"ID":"web-1","Name":"web","Port":80}"#,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let cli = |args: &[&str]| tokio::task::block_in_place(|| s.cli(args));
    assert_eq!(cli(&["maint"]), (0, String::new(), String::new()));
    assert_eq!(
        cli(&["maint", "-enable", "-reason", "kernel upgrade"]),
        (0, "Node maintenance is now enabled\n".into(), String::new())
    );
    assert_eq!(
        cli(&["maint", "-enable", "-service", "web-1"]),
        (
            0,
            "Service maintenance is now enabled for \"web-1\"\n".into(),
            String::new()
        )
    );
    let (code, out, _) = cli(&["maint"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Node:\n  Name:   test-node\n  Reason: kernel upgrade\n\n"),
        "{out}"
    );
    assert!(
        out.contains("Service:\n  ID:     web-1\n  Reason: "),
        "{out}"
    );
    let health = s.json("/v1/health/service/web?passing").await;
    assert_eq!(health, serde_json::json!([]), "in maintenance, not passing");
    assert_eq!(
        cli(&["maint", "-disable"]).1,
        "Node maintenance is now disabled\n"
    );
    assert_eq!(
        cli(&["maint", "-disable", "-service=web-1"]).1,
        "Service maintenance is now disabled for \"web-1\"\n"
    );
    assert_eq!(cli(&["maint"]).1, "");
    for (args, err) in [
        (
            &["maint", "-enable", "-disable"][..],
            "Only one of -enable or -disable may be provided\n",
        ),
        (
            &["maint", "-reason=x"],
            "Reason may only be provided with -enable\n",
        ),
        (
            &["maint", "-service=web-1"],
            "Service requires either -enable or -disable\n",
        ),
    ] {
        assert_eq!(cli(args), (1, String::new(), err.to_string()), "{args:?}");
    }
}

/// `consul validate` loads files and directories as the agent does, without starting it.
#[test]
fn validate_checks_config_files_like_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::create_dir(&good).unwrap();
    std::fs::write(
        good.join("server.hcl"),
        "data_dir = \"/tmp/consul\"\nserver = true\nbootstrap_expect = 3\n",
    )
    .unwrap();
    std::fs::write(
        good.join("web.json"),
        r#"{"service": {"name": "web", "port": 80}}"#,
    )
    .unwrap();
    let (code, out, err) = consul(&["validate", good.to_str().unwrap()]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Configuration is valid!\n"),
        "{err}"
    );
    let (code, out, _) = consul(&["validate", "-quiet", good.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, ""));

    let no_data_dir = dir.path().join("bare.hcl");
    std::fs::write(&no_data_dir, "server = true\n").unwrap();
    let (code, _, err) = consul(&["validate", no_data_dir.to_str().unwrap()]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Config validation failed: data_dir cannot be empty\n")
    );
    let bad = dir.path().join("bad.hcl");
    std::fs::write(&bad, "data_dir = \"/tmp/c\"\nbogus_key = 1\n").unwrap();
    let (code, _, err) = consul(&["validate", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Config validation failed: ") && err.contains("bogus_key"),
        "{err}"
    );
    let (code, _, err) = consul(&["validate"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Must specify at least one config file or directory\n")
    );
}

/// `consul services register|deregister` from a definition file (flags adding to it) and from
/// flags alone, seen through the agent's API.
#[tokio::test(flavor = "multi_thread")]
async fn services_register_and_deregister_from_files_and_flags() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.hcl");
    std::fs::write(
        &file,
        "service {\n  name = \"web\"\n  port = 8080\n  tags = [\"v1\"]\n}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let (code, out, err) = run(
        &s,
        &["services", "register", "-tag=extra", "-meta=team=a", file],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "Registered service: web\n"),
        "{err}"
    );
    let (code, out, err) = run(
        &s,
        &[
            "services",
            "register",
            "-name=db",
            "-id=db-1",
            "-port=5432",
            "-tag=primary",
        ],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "Registered service: db\n"),
        "{err}"
    );
    let (_, body) = s.get("/v1/agent/services").await.unwrap();
    let services: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(services["web"]["Port"], 8080);
    assert_eq!(services["web"]["Tags"], serde_json::json!(["v1", "extra"]));
    assert_eq!(services["web"]["Meta"], serde_json::json!({"team": "a"}));
    assert_eq!(services["db-1"]["Service"], "db");
    assert_eq!(services["db-1"]["Tags"], serde_json::json!(["primary"]));

    let (code, out, _) = run(&s, &["services", "deregister", file]);
    assert_eq!((code, out.as_str()), (0, "Deregistered service: web\n"));
    let (code, out, _) = run(&s, &["services", "deregister", "-id=db-1"]);
    assert_eq!((code, out.as_str()), (0, "Deregistered service: db-1\n"));
    let (_, body) = s.get("/v1/agent/services").await.unwrap();
    assert_eq!(body.trim(), "{}");

    let (code, _, err) = run(&s, &["services", "register"]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "Service registration requires at least one argument or flags.\n"
        )
    );
    let (code, _, err) = run(&s, &["services", "deregister", "-id=x", file]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "Service deregistration requires arguments or -id, not both.\n"
        )
    );
    let (code, _, err) = run(&s, &["services", "register", "-socket=/tmp/s", "-name=x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("-socket: not implemented by this consul"),
        "{err}"
    );
}

/// `consul monitor` streams the agent's log lines as they happen, as text or hclog JSON; an
/// unknown level is refused by the agent.
#[tokio::test(flavor = "multi_thread")]
async fn monitor_streams_the_agents_log() {
    let s = TestServer::start().await;
    let watch = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(test_support::binary("consul"));
        cmd.env("CONSUL_HTTP_ADDR", s.addr())
            .arg("monitor")
            .args(extra);
        test_support::Process::spawn(cmd)
    };
    let text = watch(&[]);
    let json = watch(&["-log-json", "-log-level=debug"]);
    // Both attached before the line is logged.
    assert!(
        wait_until(Duration::from_secs(10), || async {
            let (_, body) = s.get("/v1/agent/self").await.unwrap();
            !body.is_empty()
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let check = serde_json::json!({"ID": "beat", "Name": "beat", "TTL": "1s"});
    let (code, body) = s.put("/v1/agent/check/register", check.to_string()).await;
    assert_eq!(code, 200, "{body}");
    let line = "[WARN]  agent: Check missed TTL, is now critical: check=beat";
    assert!(
        wait_until(Duration::from_secs(15), || async {
            text.stdout().contains(line)
        })
        .await,
        "{}",
        text.output()
    );
    assert!(
        wait_until(Duration::from_secs(15), || async {
            json.stdout().lines().any(|l| {
                serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
                    v["@level"] == "warn"
                        && v["@module"] == "agent"
                        && v["@message"]
                            .as_str()
                            .is_some_and(|m| m.contains("check=beat"))
                })
            })
        })
        .await,
        "{}",
        json.output()
    );
    let (code, _, err) = run(&s, &["monitor", "-log-level=loud"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error starting monitor: ") && err.contains("Unknown log level: loud"),
        "{err}"
    );
}

/// `consul reload` and SIGHUP read the config files again: services and checks added there are
/// registered, removed ones deregistered; a broken file fails the reload and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn reload_applies_the_config_files_services_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).unwrap();
    let write = |name: &str, text: &str| std::fs::write(conf.join(name), text).unwrap();
    write("web.hcl", "service {\n  name = \"web\"\n  port = 80\n}\n");
    // No -log-level flag: it would override the files' log_level, as Consul's flags do.
    let mut s = TestServer::new(
        test_support::Consul::builder()
            .node("test-node")
            .arg(format!("-config-dir={}", conf.display()))
            .build(),
    );
    s.start().await;
    let services = || async {
        let (_, body) = s.get("/v1/agent/services").await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v.as_object().unwrap().keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(services().await, ["web"]);

    std::fs::remove_file(conf.join("web.hcl")).unwrap();
    write(
        "db.hcl",
        "service {\n  name = \"db\"\n  port = 5432\n}\ncheck {\n  id = \"disk\"\n  name = \"disk\"\n  ttl = \"30s\"\n}\nlog_level = \"debug\"\n",
    );
    let (code, out, err) = run(&s, &["reload"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Configuration reload triggered\n"),
        "{err}"
    );
    assert_eq!(services().await, ["db"]);
    let (_, checks) = s.get("/v1/agent/checks").await.unwrap();
    assert!(checks.contains("\"disk\""), "{checks}");

    write("broken.hcl", "service {\n");
    let (code, _, err) = run(&s, &["reload"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error reloading: ") && err.contains("Failed to reload configs"),
        "{err}"
    );
    assert_eq!(services().await, ["db"]);

    std::fs::remove_file(conf.join("broken.hcl")).unwrap();
    // The reloaded log level (debug) shows the new check's runner starting.
    write(
        "web.hcl",
        "service {\n  name = \"web\"\n  port = 80\n}\ncheck {\n  id = \"cpu\"\n  name = \"cpu\"\n  ttl = \"30s\"\n}\n",
    );
    assert!(s.signal(libc::SIGHUP));
    assert!(
        wait_until(Duration::from_secs(10), || async {
            services().await == ["db", "web"]
        })
        .await,
        "{:?}\n{}",
        services().await,
        s.output()
    );
    assert!(
        wait_until(Duration::from_secs(10), || async {
            s.output()
                .contains("[DEBUG] agent: starting check: check=cpu")
        })
        .await,
        "{}",
        s.output()
    );
}

/// `consul lock PREFIX CHILD` on the server `s`, running in the background.
fn spawn_lock(s: &TestServer, args: &[&str]) -> test_support::Process {
    let mut cmd = std::process::Command::new(test_support::binary("consul"));
    cmd.env("CONSUL_HTTP_ADDR", s.addr()).arg("lock").args(args);
    test_support::Process::spawn(cmd)
}

fn file_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_runs_its_child_holding_the_lock() {
    let s = TestServer::start().await;
    let (code, _, err) = run(&s, &["lock", "-child-exit-code", "app/l", "exit 3"]);
    assert_eq!(
        (code, err.as_str()),
        (2, "Error running handler: exit status 3\n")
    );
    assert_eq!(run(&s, &["lock", "app/l", "exit 3"]).0, 0);
    let (code, out, err) = run(
        &s,
        &[
            "lock",
            "-child-exit-code",
            "-shell=false",
            "app/l",
            "sh",
            "-c",
            "echo $CONSUL_LOCK_HELD",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "true\n"), "{err}");
    // The lock key is gone once its holder is done.
    assert_eq!(s.get("/v1/kv/app/l/.lock").await.unwrap().0, 404);
    let (code, _, err) = run(&s, &["lock", "app/l"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Key prefix and child command must be specified\n")
    );
    let (code, _, err) = run(&s, &["lock", "-n=0", "app/l", "true"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Lock holder limit must be positive\n")
    );

    // Two holders of one lock never overlap; the second runs once the first is done.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let child = format!("echo start >> {0}; sleep 1; echo end >> {0}", log.display());
    let mut a = spawn_lock(&s, &["app/m", &child]);
    let mut b = spawn_lock(&s, &["app/m", &child]);
    let sa = tokio::task::block_in_place(|| a.wait_exit_blocking(Duration::from_secs(60)));
    let sb = tokio::task::block_in_place(|| b.wait_exit_blocking(Duration::from_secs(60)));
    assert_eq!(
        (sa.and_then(|s| s.code()), sb.and_then(|s| s.code())),
        (Some(0), Some(0)),
        "{}\n{}",
        a.output(),
        b.output()
    );
    assert_eq!(file_lines(&log), ["start", "end", "start", "end"]);

    // -n=2: two run together, the third once one of them is gone.
    let started = dir.path().join("started");
    let child = format!("echo $PPID >> {}; exec sleep 120", started.display());
    let mut holders: Vec<_> = (0..3)
        .map(|_| spawn_lock(&s, &["-n=2", "app/sem", &child]))
        .collect();
    assert!(
        wait_until(Duration::from_secs(30), || async {
            file_lines(&started).len() == 2
        })
        .await,
        "{:?}",
        file_lines(&started)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(file_lines(&started).len(), 2);
    let sem: serde_json::Value = s.json("/v1/kv/app/sem/.lock?raw").await;
    assert_eq!(sem["Limit"], 2);
    assert_eq!(sem["Holders"].as_object().map(|h| h.len()), Some(2));
    // Stop one that runs its child: the waiting one gets its turn.
    let running = file_lines(&started);
    let (first, rest): (Vec<_>, Vec<_>) = holders
        .drain(..)
        .partition(|h| running[0] == h.pid().to_string());
    let (mut first, mut holders) = (first, rest);
    assert!(first[0].signal(libc::SIGTERM));
    let st = tokio::task::block_in_place(|| first[0].wait_exit_blocking(Duration::from_secs(30)));
    assert_eq!(st.and_then(|s| s.code()), Some(0), "{}", first[0].output());
    assert!(
        wait_until(Duration::from_secs(30), || async {
            file_lines(&started).len() == 3
        })
        .await,
        "{}",
        holders[0].output()
    );
    // SIGINT goes on to the child, which ends; the lock is released.
    for h in &mut holders {
        assert!(h.signal(libc::SIGINT));
        let st = tokio::task::block_in_place(|| h.wait_exit_blocking(Duration::from_secs(30)));
        assert_eq!(st.and_then(|s| s.code()), Some(0), "{}", h.output());
        assert!(
            h.output()
                .contains("Error running handler: signal: interrupt"),
            "{}",
            h.output()
        );
    }
    assert_eq!(s.get("/v1/kv/app/sem/?recurse").await.unwrap().0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_gives_up_on_timeout_and_kills_the_child_when_lost() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let child = format!("echo x >> {}; exec sleep 120", started.display());
    let mut holder = spawn_lock(&s, &["app/t", &child]);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            file_lines(&started).len() == 1
        })
        .await,
        "{}",
        holder.output()
    );
    let (code, _, err) = run(&s, &["lock", "-timeout=1s", "app/t", "true"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Shutdown triggered or timeout during lock acquisition\n")
    );
    // Deleting the lock key takes the lock away: the child is terminated.
    assert_eq!(s.delete("/v1/kv/app/t/.lock").await.0, 200);
    let st = tokio::task::block_in_place(|| holder.wait_exit_blocking(Duration::from_secs(60)));
    assert_eq!(st.and_then(|s| s.code()), Some(0), "{}", holder.output());
    assert!(holder
        .output()
        .contains("Error running handler: signal: terminated"));

    // So does destroying the session.
    let mut holder = spawn_lock(&s, &["-verbose", "app/u", &child]);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            file_lines(&started).len() == 2
        })
        .await,
        "{}",
        holder.output()
    );
    let pair = s.json("/v1/kv/app/u/.lock").await;
    let session = pair[0]["Session"].as_str().unwrap().to_string();
    assert_eq!(
        s.put(&format!("/v1/session/destroy/{session}"), "").await.0,
        200
    );
    let st = tokio::task::block_in_place(|| holder.wait_exit_blocking(Duration::from_secs(60)));
    assert_eq!(st.and_then(|s| s.code()), Some(0), "{}", holder.output());
    assert!(
        holder.output().contains("Lock lost, killing child"),
        "{}",
        holder.output()
    );
}
