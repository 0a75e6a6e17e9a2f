//! The CLI against a real server: the tutorial's `consul members` and `consul info | grep leader`,
//! and `consul kv`.

use crate::common::TestServer;

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
        format!("\tleader_addr = 127.0.0.1:{}", s.server_port)
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
    let port = crate::common::free_port();
    let out = std::process::Command::new(crate::common::consul_bin())
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
    let out = std::process::Command::new(crate::common::consul_bin())
        .arg("--version")
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Consul v1.21.5\nRevision "));
    let out = std::process::Command::new(crate::common::consul_bin())
        .arg("nope")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(127));
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_client_round_trip() {
    use api_types::client::{Client, KvPutOptions, QueryOptions};
    let s = TestServer::start().await;
    let c = Client::new(&format!("127.0.0.1:{}", s.http_port)).expect("client");
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
