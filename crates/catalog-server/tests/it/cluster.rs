//! Three servers on 127.0.0.1/2/3 with `-bootstrap-expect=3 -retry-join=...`: formation,
//! writes and reads on any server, the leader's loss, a restart that catches up, leave.

use crate::common::{wait_until, Mode, ReservedPort, TestServer};
use serde_json::Value;
use std::time::Duration;

const IPS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

pub(crate) fn cluster() -> Vec<TestServer> {
    cluster_with(&[])
}

/// Three servers, each started with `extra` flags too.
fn cluster_with(extra: &[String]) -> Vec<TestServer> {
    let ports = ReservedPort::shared(&IPS);
    let mut servers: Vec<TestServer> = IPS
        .iter()
        .zip(ports)
        .enumerate()
        .map(|(i, (ip, port))| {
            let others: Vec<String> = IPS
                .iter()
                .filter(|o| *o != ip)
                .map(|o| o.to_string())
                .collect();
            TestServer::member(ip, &format!("server{}", i + 1), port, 3, &others)
        })
        .collect();
    for s in servers.iter_mut() {
        for a in extra {
            s.push_arg(a.clone());
        }
        s.spawn();
    }
    servers
}

async fn leader_of(s: &TestServer) -> Option<String> {
    let (st, body) = s.get("/v1/status/leader").await.ok()?;
    let v: Value = serde_json::from_str(&body).ok()?;
    (st == 200 && v.as_str().is_some_and(|l| !l.is_empty()))
        .then(|| v.as_str().unwrap_or_default().to_string())
}

/// Waits until every running server names the same leader; returns its index in `servers`.
pub(crate) async fn agreed_leader(servers: &[TestServer], up: &[usize]) -> usize {
    agreed_leader_not(servers, up, None).await
}

/// Like [`agreed_leader`], ignoring a stale answer naming `not`.
async fn agreed_leader_not(servers: &[TestServer], up: &[usize], not: Option<usize>) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let mut leaders = Vec::new();
        for i in up {
            leaders.push(leader_of(&servers[*i]).await);
        }
        if let Some(addr) = leaders[0].clone() {
            if leaders.iter().all(|l| l.as_deref() == Some(addr.as_str())) {
                if let Some(i) = servers
                    .iter()
                    .position(|s| addr.starts_with(&format!("{}:", s.ip())))
                {
                    if Some(i) != not {
                        return i;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for s in servers {
        eprintln!("--- {} log:\n{}", s.node(), s.output());
    }
    panic!("no agreed leader");
}

async fn put(s: &TestServer, key: &str, value: &str) -> bool {
    matches!(s.http.put(s.url(&format!("/v1/kv/{key}"))).body(value.to_string()).send().await,
        Ok(r) if r.status().is_success())
}

/// Reads `key` (default consistency), riding out an election: 200 → the value, 404 → `None`;
/// anything else (no leader yet, a timeout) is retried for up to 20s before giving up.
async fn stored(s: &TestServer, key: &str) -> Result<Option<String>, String> {
    let end = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let last = match s.get(&format!("/v1/kv/{key}?raw")).await {
            Ok((200, body)) => return Ok(Some(body)),
            Ok((404, _)) => return Ok(None),
            Ok((st, body)) => format!("{st} {body}"),
            Err(e) => e.to_string(),
        };
        if std::time::Instant::now() > end {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn value(s: &TestServer, key: &str, query: &str) -> Option<String> {
    let (st, body) = s.get(&format!("/v1/kv/{key}?raw{query}")).await.ok()?;
    (st == 200).then_some(body)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_servers_form_serve_and_survive_the_leaders_loss() {
    let mut servers = cluster();
    let leader = agreed_leader(&servers, &[0, 1, 2]).await;
    let peers: Value =
        serde_json::from_str(&servers[0].get("/v1/status/peers").await.unwrap().1).unwrap();
    assert_eq!(peers.as_array().unwrap().len(), 3, "{peers}");

    // `consul members` on any server lists three alive servers.
    assert!(
        wait_until(Duration::from_secs(15), || async {
            let (code, out, _) = servers[1].cli(&["members"]);
            code == 0
                && out
                    .lines()
                    .skip(1)
                    .filter(|l| l.contains(" alive ") && l.contains(" server "))
                    .count()
                    == 3
        })
        .await,
        "members: {:?}",
        servers[1].cli(&["members"])
    );

    // `list-peers` names every server by its node name, on every server.
    for s in &servers {
        let (code, out, _) = s.cli(&["operator", "raft", "list-peers"]);
        assert_eq!(code, 0);
        for name in ["server1", "server2", "server3"] {
            assert!(
                out.lines().any(|l| l.starts_with(name)),
                "{name} missing on {}: {out}",
                s.node()
            );
        }
    }

    // Writes on a follower are forwarded; every server reads them (default and ?stale).
    let follower = (leader + 1) % 3;
    assert!(put(&servers[follower], "cluster/a", "1").await);
    for s in &servers {
        assert_eq!(
            value(s, "cluster/a", "").await.as_deref(),
            Some("1"),
            "default read on {}",
            s.node()
        );
    }
    assert!(
        wait_until(Duration::from_secs(5), || async {
            value(&servers[(leader + 2) % 3], "cluster/a", "&stale")
                .await
                .as_deref()
                == Some("1")
        })
        .await
    );

    // A follower's stale read says how long ago it heard from the leader.
    let (_, h, _) = servers[follower].get_full("/v1/kv/cluster/a?stale").await;
    assert_eq!(h["x-consul-knownleader"], "true");
    let contact: u64 = h["x-consul-lastcontact"].to_str().unwrap().parse().unwrap();
    assert!(contact < 2000, "last contact {contact}ms");
    let (_, info, _) = servers[follower].cli(&["info"]);
    assert!(
        info.lines()
            .any(|l| l.trim_start().starts_with("last_contact = ") && !l.ends_with("never")),
        "{info}"
    );

    // The catalog knows all three servers' nodes and their consul service.
    assert!(
        wait_until(Duration::from_secs(15), || async {
            servers[leader]
                .json("/v1/health/service/consul?passing")
                .await
                .as_array()
                .map(|a| a.len())
                == Some(3)
        })
        .await
    );

    // Acknowledged writes through every server, then the leader dies.
    let mut acked = Vec::new();
    for i in 0..30 {
        let key = format!("cluster/k{i}");
        if put(&servers[i % 3], &key, &i.to_string()).await {
            acked.push(key);
        }
    }
    assert_eq!(acked.len(), 30);
    servers[leader].kill9();
    let up: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let new_leader = agreed_leader_not(&servers, &up, Some(leader)).await;
    assert_ne!(new_leader, leader);
    assert!(
        put(&servers[up[0]], "cluster/after", "yes").await,
        "writes resume under the new leader"
    );
    for i in &up {
        for key in &acked {
            let got = stored(&servers[*i], key).await;
            assert!(
                matches!(got, Ok(Some(_))),
                "{key} on {}: {got:?}",
                servers[*i].node()
            );
        }
    }

    // The old leader restarts and catches up.
    servers[leader].spawn();
    assert!(
        wait_until(Duration::from_secs(30), || async {
            value(&servers[leader], "cluster/after", "&stale")
                .await
                .as_deref()
                == Some("yes")
        })
        .await,
        "restarted server did not catch up:\n{}",
        servers[leader].output()
    );
    assert!(
        wait_until(Duration::from_secs(20), || async {
            let (code, out, _) = servers[leader].cli(&["members"]);
            code == 0
                && out
                    .lines()
                    .skip(1)
                    .filter(|l| l.contains(" alive "))
                    .count()
                    == 3
        })
        .await
    );
}

/// Whether `consul members` on `s` lists `node` as `left` within 20 s.
async fn shows_left(s: &TestServer, node: &str) -> bool {
    wait_until(Duration::from_secs(20), || async {
        let (_, out, _) = s.cli(&["members"]);
        out.lines()
            .any(|l| l.starts_with(node) && l.contains(" left "))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_leaves_gracefully() {
    let mut servers = cluster();
    let leader = agreed_leader(&servers, &[0, 1, 2]).await;
    let leaving = (leader + 1) % 3;
    let (code, out, err) = servers[leaving].cli(&["leave"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Graceful leave complete\n"),
        "{err}"
    );
    let stay = (leader + 2) % 3;
    assert!(
        wait_until(Duration::from_secs(15), || async {
            let peers: Value = match servers[stay].get("/v1/status/peers").await {
                Ok((200, b)) => serde_json::from_str(&b).unwrap_or(Value::Null),
                _ => Value::Null,
            };
            peers.as_array().map(|a| a.len()) == Some(2)
        })
        .await,
        "peers still list the server that left: {}\n--- leaving:\n{}\n--- leader:\n{}",
        servers[stay]
            .get("/v1/status/peers")
            .await
            .map(|r| r.1)
            .unwrap_or_default(),
        servers[leaving].output(),
        servers[leader].output()
    );
    assert!(
        shows_left(&servers[stay], servers[leaving].node()).await,
        "{:?}\n--- leader's view: {:?}",
        servers[stay].cli(&["members"]),
        servers[leader].cli(&["members"])
    );
    assert!(put(&servers[stay], "after/leave", "ok").await);
    servers[leaving].kill9();
    // Who left is state, not memory: it survives a crash and restart of a server that saw it.
    servers[stay].kill9();
    servers[stay].start().await;
    assert!(
        shows_left(&servers[stay], servers[leaving].node()).await,
        "after restart: {:?}",
        servers[stay].cli(&["members"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_leave_on_terminate_is_a_graceful_leave() {
    let conf = tempfile::tempdir().unwrap();
    let file = conf.path().join("leave.hcl");
    std::fs::write(&file, "leave_on_terminate = true\n").unwrap();
    let mut servers = cluster_with(&[format!("-config-file={}", file.display())]);
    let leader = agreed_leader(&servers, &[0, 1, 2]).await;
    let leaving = (leader + 1) % 3;
    let status = servers[leaving].terminate();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let stay = (leader + 2) % 3;
    assert!(
        shows_left(&servers[stay], servers[leaving].node()).await,
        "{:?}",
        servers[stay].cli(&["members"])
    );
    let peers: Value = serde_json::from_str(
        &servers[stay]
            .get("/v1/status/peers")
            .await
            .map(|r| r.1)
            .unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    assert_eq!(peers.as_array().map(|a| a.len()), Some(2), "{peers}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_server_joins_with_consul_join_and_installs_a_snapshot() {
    let conf = tempfile::tempdir().unwrap();
    let file = conf.path().join("raft.json");
    std::fs::write(
        &file,
        r#"{"raft_snapshot_threshold": 50, "raft_trailing_logs": 5}"#,
    )
    .unwrap();
    let conf_flag = format!("-config-file={}", file.display());
    let mut a = TestServer::new(
        TestServer::builder()
            .ip(IPS[0])
            .node("first")
            .arg(conf_flag.clone())
            .build(),
    );
    a.start().await;
    for i in 0..300 {
        assert!(put(&a, &format!("snap/{i}"), &i.to_string()).await);
    }
    // The log behind the snapshot is purged, so the newcomer can only catch up by snapshot.
    let mut b = TestServer::new(
        TestServer::builder()
            .ip(IPS[1])
            .node("second")
            .mode(Mode::Server)
            .arg(conf_flag)
            .build(),
    );
    b.spawn();
    let target = format!("{}:{}", b.ip(), b.server_port());
    assert!(
        wait_until(Duration::from_secs(10), || async {
            let (code, _, _) = a.cli(&["join", &target]);
            code == 0
        })
        .await,
        "consul join failed: {:?}",
        a.cli(&["join", &target])
    );
    assert!(
        wait_until(Duration::from_secs(30), || async {
            value(&b, "snap/299", "&stale").await.as_deref() == Some("299")
        })
        .await,
        "the new server did not catch up:\n{}",
        b.output()
    );
    assert_eq!(
        b.json("/v1/kv/snap/?keys&stale")
            .await
            .as_array()
            .unwrap()
            .len(),
        300
    );
    let (code, out, err) = a.cli(&["operator", "raft", "list-peers"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (code, out, err) = a.cli(&[
        "operator",
        "raft",
        "remove-peer",
        &format!("-address={target}"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let peers: Value = serde_json::from_str(&a.get("/v1/status/peers").await.unwrap().1).unwrap();
    assert_eq!(peers.as_array().unwrap().len(), 1, "{peers}");
}

/// Concurrent clients write, read (`?consistent`) and CAS three keys through all three servers
/// while the leader is killed; every key's history must be linearizable.
#[tokio::test(flavor = "multi_thread")]
async fn histories_stay_linearizable_through_a_leader_kill() {
    use crate::linearizable::{linearizable, Kind, Op, Outcome};
    use std::sync::{Arc, Mutex};
    let mut servers = cluster();
    let leader = agreed_leader(&servers, &[0, 1, 2]).await;
    let start = std::time::Instant::now();
    let history: Arc<Mutex<Vec<(usize, Op)>>> = Arc::default();
    let urls: Vec<String> = servers.iter().map(|s| s.url("/v1/kv/lin")).collect();
    let mut clients = Vec::new();
    for c in 0..6usize {
        let history = history.clone();
        let base = urls[c % 3].clone();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let now = |s: &std::time::Instant| s.elapsed().as_micros();
            for n in 0..20usize {
                let key = (c + n) % 3;
                let url = format!("{base}{key}");
                let mut call = now(&start);
                let (kind, outcome) = match n % 3 {
                    0 => {
                        let v = format!("c{c}-{n}");
                        let r = http.put(&url).body(v.clone()).send().await;
                        let ok = matches!(&r, Ok(r) if r.status().is_success());
                        (
                            Kind::Write(v),
                            if ok { Outcome::Ok } else { Outcome::Unknown },
                        )
                    }
                    1 => match http.get(format!("{url}?consistent")).send().await {
                        Ok(r) if r.status().as_u16() == 404 => (Kind::Read, Outcome::Read(None)),
                        Ok(r) if r.status().is_success() => {
                            let v: serde_json::Value = r.json().await.unwrap_or_default();
                            let val = v[0]["Value"].as_str().map(|b| {
                                use base64::Engine;
                                String::from_utf8(
                                    base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
                                )
                                .unwrap()
                            });
                            (Kind::Read, Outcome::Read(val))
                        }
                        _ => (Kind::Read, Outcome::Unknown),
                    },
                    _ => {
                        // Read the value and its index, then CAS on that index.
                        let Ok(r) = http.get(format!("{url}?consistent")).send().await else {
                            continue;
                        };
                        let (expect, idx) = if r.status().as_u16() == 404 {
                            (None, 0)
                        } else if r.status().is_success() {
                            let v: serde_json::Value = r.json().await.unwrap_or_default();
                            let val = v[0]["Value"].as_str().map(|b| {
                                use base64::Engine;
                                String::from_utf8(
                                    base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
                                )
                                .unwrap()
                            });
                            (val, v[0]["ModifyIndex"].as_u64().unwrap_or(0))
                        } else {
                            continue;
                        };
                        let v = format!("c{c}-{n}");
                        // The operation is the CAS; the read before it only chose its index.
                        call = now(&start);
                        let r = http
                            .put(format!("{url}?cas={idx}"))
                            .body(v.clone())
                            .send()
                            .await;
                        let outcome = match r {
                            Ok(r) if r.status().is_success() => {
                                Outcome::CasResult(r.text().await.unwrap_or_default() == "true")
                            }
                            _ => Outcome::Unknown,
                        };
                        (Kind::Cas(expect, v), outcome)
                    }
                };
                let ret = (outcome != Outcome::Unknown).then(|| now(&start));
                history.lock().unwrap().push((
                    key,
                    Op {
                        call,
                        ret,
                        kind,
                        outcome,
                    },
                ));
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let killed_at = start.elapsed().as_micros();
    servers[leader].kill9();
    for c in clients {
        c.await.unwrap();
    }
    let history = history.lock().unwrap().clone();
    if std::env::var("LIN_DEBUG").is_ok() {
        for (k, o) in &history {
            eprintln!(
                "{:>8} {:>8?} key{k} {:?} {:?}",
                o.call / 1000,
                o.ret.map(|r| r / 1000),
                o.kind,
                o.outcome
            );
        }
        eprintln!("killed at {}", killed_at / 1000);
    }
    let known = history
        .iter()
        .filter(|(_, o)| o.outcome != Outcome::Unknown)
        .count();
    assert!(known > 40, "too few completed operations: {known}");
    let after = history
        .iter()
        .filter(|(_, o)| o.ret.is_some() && o.call > killed_at + 500_000)
        .count();
    assert!(
        after > 5,
        "too few operations completed under the new leader: {after}"
    );
    for key in 0..3 {
        let ops: Vec<Op> = history
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, o)| o.clone())
            .collect();
        assert!(
            linearizable(&ops, None),
            "key lin{key} is not linearizable: {ops:#?}"
        );
    }
}
