//! The operator endpoints and commands: autopilot configuration (defaults, the config file's
//! block, check-and-set, survival across a restart), autopilot state and leadership transfer
//! on three servers, and the keyring.

use crate::common::TestServer;
use serde_json::Value;
use std::time::Duration;

fn run(s: &TestServer, args: &[&str]) -> (i32, String, String) {
    tokio::task::block_in_place(|| s.cli(args))
}

#[tokio::test(flavor = "multi_thread")]
async fn autopilot_configuration_defaults_cas_cli_and_restart() {
    let mut s = TestServer::start().await;
    let c = s.json("/v1/operator/autopilot/configuration").await;
    assert_eq!(c["CleanupDeadServers"], true);
    assert_eq!(c["LastContactThreshold"], "200ms");
    assert_eq!(c["MaxTrailingLogs"], 250);
    assert_eq!(c["MinQuorum"], 0);
    assert_eq!(c["ServerStabilizationTime"], "10s");
    assert_eq!(c["RedundancyZoneTag"], "");
    assert_eq!(c["DisableUpgradeMigration"], false);
    assert_eq!(c["UpgradeVersionTag"], "");
    let index = c["ModifyIndex"].as_u64().unwrap();
    assert!(
        index > 0,
        "the leader stores the initial configuration: {c}"
    );
    assert_eq!(c["CreateIndex"].as_u64(), Some(index));

    let (out_code, out, err) = run(&s, &["operator", "autopilot", "get-config"]);
    assert_eq!(out_code, 0, "{err}");
    assert_eq!(
        out,
        "CleanupDeadServers = true\nLastContactThreshold = 200ms\nMaxTrailingLogs = 250\nMinQuorum = 0\nServerStabilizationTime = 10s\nRedundancyZoneTag = \"\"\nDisableUpgradeMigration = false\nUpgradeVersionTag = \"\"\n"
    );

    // Check-and-set: a stale index is refused, the current one stored.
    let mut new = c.clone();
    new["MinQuorum"] = 3.into();
    new["LastContactThreshold"] = "1s".into();
    let path = |cas: u64| format!("/v1/operator/autopilot/configuration?cas={cas}");
    let (code, body) = s.put(&path(index - 1), new.to_string()).await;
    assert_eq!((code, body.as_str()), (200, "false"));
    let (code, body) = s.put(&path(index), new.to_string()).await;
    assert_eq!((code, body.as_str()), (200, "true"));
    let c = s.json("/v1/operator/autopilot/configuration").await;
    assert_eq!(
        (c["MinQuorum"].as_u64(), c["LastContactThreshold"].as_str()),
        (Some(3), Some("1s"))
    );
    assert_eq!(c["CreateIndex"].as_u64(), Some(index));
    assert!(c["ModifyIndex"].as_u64().unwrap() > index);

    // Without cas: `true`; bad input: Consul's 400s.
    let (code, body) = s
        .put("/v1/operator/autopilot/configuration", c.to_string())
        .await;
    assert_eq!((code, body.as_str()), (200, "true"));
    let (code, body) = s.put(&format!("{}x", path(1)), c.to_string()).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.starts_with("Error parsing cas value"), "{body}");
    let (code, body) = s
        .put(
            "/v1/operator/autopilot/configuration",
            r#"{"LastContactThreshold": "soon"}"#,
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.starts_with("Error parsing autopilot config: "),
        "{body}"
    );
    let (code, body) = s
        .put(
            "/v1/operator/autopilot/configuration",
            r#"{"RedundancyZoneTag": "zone"}"#,
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("Consul Enterprise"), "{body}");

    // The CLI: set-config changes what it is given, keeps the rest.
    let (code, out, err) = run(
        &s,
        &[
            "operator",
            "autopilot",
            "set-config",
            "-cleanup-dead-servers=false",
            "-max-trailing-logs=40",
        ],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "Configuration updated!\n"),
        "{err}"
    );
    // A stabilization time times a non-voter's promotion; servers here join as voters.
    let (code, _, err) = run(
        &s,
        &[
            "operator",
            "autopilot",
            "set-config",
            "-server-stabilization-time=3s",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("ServerStabilizationTime other than 0s or 10s"),
        "{err}"
    );
    let (code, _, err) = run(
        &s,
        &[
            "operator",
            "autopilot",
            "set-config",
            "-redundancy-zone-tag=az",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("-redundancy-zone-tag: not implemented"),
        "{err}"
    );

    // Stored through Raft: the same after a restart.
    s.terminate();
    s.start().await;
    let (code, out, err) = run(&s, &["operator", "autopilot", "get-config"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "CleanupDeadServers = false\nLastContactThreshold = 1s\nMaxTrailingLogs = 40\nMinQuorum = 3\nServerStabilizationTime = 10s\nRedundancyZoneTag = \"\"\nDisableUpgradeMigration = false\nUpgradeVersionTag = \"\"\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn autopilot_block_of_the_config_file_gives_the_initial_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("autopilot.hcl");
    std::fs::write(
        &file,
        "autopilot {\n  cleanup_dead_servers = false\n  last_contact_threshold = \"450ms\"\n  min_quorum = 5\n}\n",
    )
    .unwrap();
    let flag = format!("-config-file={}", file.display());
    let s = TestServer::start_with(&[flag.as_str()]).await;
    let c = s.json("/v1/operator/autopilot/configuration").await;
    assert_eq!(c["CleanupDeadServers"], false);
    assert_eq!(c["LastContactThreshold"], "450ms");
    assert_eq!(c["MinQuorum"], 5);
    assert_eq!(c["MaxTrailingLogs"], 250);

    std::fs::write(&file, "autopilot {\n  redundancy_zone_tag = \"az\"\n}\n").unwrap();
    let (code, out, err) = run(&s, &["validate", file.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("autopilot.redundancy_zone_tag") && err.contains("Enterprise"),
        "{err}"
    );
}

/// The node ID of server `i`, from the Raft configuration.
async fn node_ids(s: &TestServer) -> Vec<(String, String)> {
    let c = s.json("/v1/operator/raft/configuration").await;
    c["Servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["Node"].as_str().unwrap().to_string(),
                v["ID"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_servers_transfer_leadership_and_show_autopilot_state() {
    let servers = crate::cluster::cluster();
    let all = [0, 1, 2];
    let leader = crate::cluster::agreed_leader(&servers, &all).await;
    let ids = node_ids(&servers[leader]).await;
    let id_of = |i: usize| {
        ids.iter()
            .find(|(n, _)| n == servers[i].node())
            .map(|(_, id)| id.clone())
            .unwrap()
    };

    // Autopilot state: every server healthy once the followers have heard from the leader.
    let mut state = Value::Null;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        state = servers[leader].json("/v1/operator/autopilot/state").await;
        if state["Healthy"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let healthy = state["Healthy"] == true;
    assert!(healthy, "{state:#}");
    assert_eq!(state["FailureTolerance"], 1);
    assert_eq!(state["OptimisticFailureTolerance"], 1);
    assert_eq!(state["Leader"].as_str(), Some(id_of(leader).as_str()));
    let mut voters: Vec<String> = state["Voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    voters.sort();
    let mut want: Vec<String> = all.iter().map(|i| id_of(*i)).collect();
    want.sort();
    assert_eq!(voters, want);
    for i in all {
        let srv = &state["Servers"][id_of(i).as_str()];
        assert_eq!(srv["Name"].as_str(), Some(servers[i].node()), "{srv}");
        assert_eq!(srv["Status"], if i == leader { "leader" } else { "voter" });
        assert_eq!(srv["NodeStatus"], "alive");
        assert_eq!(srv["NodeType"], "voter");
        assert_eq!(srv["Healthy"], true);
        assert!(srv["LastIndex"].as_u64().unwrap() > 0, "{srv}");
        assert!(srv["LastContact"].is_string(), "{srv}");
    }
    let health = servers[(leader + 1) % 3]
        .json("/v1/operator/autopilot/health")
        .await;
    assert_eq!(
        (
            health["Healthy"].as_bool(),
            health["FailureTolerance"].as_u64()
        ),
        (Some(true), Some(1)),
        "{health}"
    );
    for srv in health["Servers"].as_array().unwrap() {
        assert_eq!(
            (srv["SerfStatus"].as_str(), srv["Healthy"].as_bool()),
            (Some("alive"), Some(true)),
            "{srv}"
        );
        assert!(srv["LastContact"].is_string(), "{srv}");
    }
    let (code, out, err) = run(&servers[leader], &["operator", "autopilot", "state"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Healthy:                      true\nFailure Tolerance:            1\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "      Name:            {}\n",
            servers[leader].node()
        )),
        "{out}"
    );

    // Transfer to a named follower, asked through the other follower.
    let target = (leader + 1) % 3;
    let via = (leader + 2) % 3;
    let (code, out, err) = run(
        &servers[via],
        &[
            "operator",
            "raft",
            "transfer-leader",
            &format!("-id={}", id_of(target)),
        ],
    );
    assert_eq!((code, out.as_str()), (0, "Success\n"), "{err}");
    assert_eq!(crate::cluster::agreed_leader(&servers, &all).await, target);
    let (code, body) = servers[target].put("/v1/kv/after-transfer", "yes").await;
    assert_eq!((code, body.as_str()), (200, "true"));

    // Without an id: the most up-to-date other voter.
    let r = servers[via]
        .http
        .post(servers[via].url("/v1/operator/raft/transfer-leader"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"Success":true}"#);
    let now = crate::cluster::agreed_leader(&servers, &all).await;
    assert_ne!(now, target);

    // Refusals in Consul's words.
    let post = |i: usize, q: String| {
        let s = &servers[i];
        async move {
            let r = s
                .http
                .post(s.url(&format!("/v1/operator/raft/transfer-leader{q}")))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (code, body) = post(now, "?id=no-such-id".into()).await;
    assert_eq!(
        (code, body.as_str()),
        (
            500,
            "rpc error: code = Unknown desc = Could not find address for server id no-such-id"
        )
    );
    let (code, body) = post(now, format!("?id={}", id_of(now))).await;
    assert_eq!(
        (code, body.as_str()),
        (
            500,
            "rpc error: code = Unknown desc = cannot transfer leadership to itself"
        )
    );
    let (code, _, err) = run(
        &servers[now],
        &["operator", "raft", "transfer-leader", "-id=nope"],
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error transfering leadership: Failed to transfer leadership"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transfer_leader_on_a_single_server_finds_no_peer() {
    let s = TestServer::start().await;
    let r = s
        .http
        .post(s.url("/v1/operator/raft/transfer-leader"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    assert_eq!(
        r.text().await.unwrap(),
        "rpc error: code = Unknown desc = cannot find peer"
    );
    let st = s.json("/v1/operator/autopilot/state").await;
    assert_eq!(
        (st["Healthy"].as_bool(), st["FailureTolerance"].as_u64()),
        (Some(true), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keyring_without_encryption_fails_as_consul_does() {
    let s = TestServer::start().await;
    let (code, body) = s.get("/v1/operator/keyring").await.unwrap();
    assert_eq!(code, 500);
    let node = s.node().to_string();
    assert_eq!(
        body,
        format!("2 errors occurred:\n\t* dc1 (LAN) error: 1/1 nodes reported failure\n\t* {node}: Keyring is empty (encryption not enabled)\n\n")
    );
    let (code, out, err) = run(&s, &["keyring", "-list"]);
    assert_eq!(
        (code, out.as_str()),
        (1, "==> Gathering installed encryption keys...\n")
    );
    assert!(
        err.starts_with("error: Unexpected response code: 500 (2 errors occurred:"),
        "{err}"
    );
    let (code, body) = s
        .put("/v1/operator/keyring?local-only=true", r#"{"Key":"x"}"#)
        .await;
    assert_eq!(
        (code, body.as_str()),
        (
            400,
            "Invalid use of local-only: local-only can only be set for list requests"
        )
    );
    let (code, _, err) = run(&s, &["keyring", "-list", "-install=abc"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Only a single action is allowed\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keyring_with_encryption_lists_local_keys_and_refuses_pool_changes() {
    let key = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
    let s = TestServer::start_with(&[&format!("-encrypt={key}")]).await;
    let v = s.json("/v1/operator/keyring?local-only=true").await;
    assert_eq!(v[0]["Keys"][key], 1, "{v}");
    assert_eq!(v[0]["PrimaryKeys"][key], 1, "{v}");
    assert_eq!(
        (v[0]["NumNodes"].as_u64(), v[0]["WAN"].as_bool()),
        (Some(1), Some(false))
    );
    let (code, out, err) = run(&s, &["keyring", "-list", "-local-only"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("==> Gathering installed encryption keys...\n\ndc1 (LAN):\n  {key} [1/1]\n")
    );
    // Pool-wide changes: refused, naming what is missing — never a fake success.
    let new = "HkIuJ0nS3zV1lS1S8sQmJQ1h9p3YwG5Qm3m0y2gk0Zo=";
    let (code, out, err) = run(&s, &["keyring", &format!("-install={new}")]);
    assert_eq!(
        (code, out.as_str()),
        (1, "==> Installing new gossip encryption key...\n")
    );
    assert!(
        err.contains("not implemented by this agent") && err.contains("internal key queries"),
        "{err}"
    );
    let (code, body) = s.get("/v1/operator/keyring").await.unwrap();
    assert_eq!(code, 500, "{body}");
    let v = s.json("/v1/operator/keyring?local-only=true").await;
    assert_eq!(
        v[0]["Keys"].as_object().map(|k| k.len()),
        Some(1),
        "nothing was installed: {v}"
    );
}

/// Voters in `s`'s Raft configuration.
async fn voter_count(s: &TestServer) -> usize {
    let c = s.json("/v1/operator/raft/configuration").await;
    c["Servers"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_dead_servers_respects_min_quorum() {
    let mut servers = crate::cluster::cluster();
    let all = [0, 1, 2];
    let leader = crate::cluster::agreed_leader(&servers, &all).await;
    let dead = (leader + 1) % 3;
    let (code, _, err) = run(
        &servers[leader],
        &["operator", "autopilot", "set-config", "-min-quorum=3"],
    );
    assert_eq!(code, 0, "{err}");
    servers[dead].kill9();
    let ids = node_ids(&servers[leader]).await;
    let dead_id = ids
        .iter()
        .find(|(n, _)| n == servers[dead].node())
        .map(|(_, id)| id.clone())
        .unwrap();
    // Gossip declares it failed; with MinQuorum 3 it stays a voter.
    let mut failed = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let st = servers[leader].json("/v1/operator/autopilot/state").await;
        if st["Servers"][dead_id.as_str()]["NodeStatus"] == "failed" {
            assert_eq!(st["Healthy"], false);
            assert_eq!(st["FailureTolerance"], 0);
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(failed, "the killed server was never declared failed");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        voter_count(&servers[leader]).await,
        3,
        "MinQuorum 3 keeps the dead voter"
    );
    // Without the floor, autopilot removes it.
    let (code, _, err) = run(
        &servers[leader],
        &["operator", "autopilot", "set-config", "-min-quorum=0"],
    );
    assert_eq!(code, 0, "{err}");
    let mut removed = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if voter_count(&servers[leader]).await == 2 {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(removed, "the dead server was not removed");
}
