//! Client agents: three servers on 127.0.0.1-3 and two clients on 127.0.0.4-5, each a real
//! process joining over gossip. `consul members` on any agent lists all five; a service
//! registered on a client is in the catalog under the client's node, with the check the client
//! runs; a killed client turns critical within the failure-detection window and recovers when
//! restarted (its registrations kept in its data dir); reads, writes and blocking queries go
//! through a client, also across a leader change; `consul leave` on a client makes it `left`.
//! A client with ACLs (127.0.0.11, its server on 127.0.0.10) resolves tokens through the
//! server, before and after the server is killed.

use crate::common::{wait_until, Mode, ReservedPort, TestServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SERVERS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
const CLIENTS: [&str; 2] = ["127.0.0.4", "127.0.0.5"];

/// Three servers and two clients sharing one port number (TCP server port, UDP gossip), so
/// each joins the others at `<ip>`.
async fn cluster() -> (Vec<TestServer>, Vec<TestServer>) {
    let all: Vec<&str> = SERVERS.iter().chain(CLIENTS.iter()).copied().collect();
    let mut ports = ReservedPort::shared(&all).into_iter();
    let mut servers = Vec::new();
    for (i, ip) in SERVERS.iter().enumerate() {
        let others: Vec<String> = SERVERS
            .iter()
            .filter(|o| *o != ip)
            .map(|o| o.to_string())
            .collect();
        let mut s = TestServer::member(
            ip,
            &format!("server{}", i + 1),
            ports.next().expect("port"),
            3,
            &others,
        );
        s.spawn();
        servers.push(s);
    }
    for s in servers.iter_mut() {
        let ready = s.wait_ready(Duration::from_secs(60)).await;
        assert!(
            matches!(ready, test_support::Ready::Serving(_)),
            "{} {ready:?}: {}",
            s.node(),
            s.output()
        );
    }
    let mut clients = Vec::new();
    for (i, ip) in CLIENTS.iter().enumerate() {
        // Each client knows one server; gossip tells it the rest.
        let join = vec![SERVERS[i].to_string()];
        let mut c = TestServer::new(
            TestServer::builder()
                .ip(ip)
                .node(&format!("client{}", i + 1))
                .mode(Mode::Client { join })
                .server_port(ports.next().expect("port"))
                .arg("-dns-port=0")
                .build(),
        );
        c.start().await;
        clients.push(c);
    }
    (servers, clients)
}

/// `consul members` as (name, status, type) rows.
fn members(agent: &TestServer) -> Vec<(String, String, String)> {
    let (code, out, err) = agent.cli(&["members"]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[2].to_string(), f[3].to_string())
        })
        .collect()
}

async fn passing_nodes(agent: &TestServer, service: &str) -> Vec<String> {
    match agent
        .get(&format!("/v1/health/service/{service}?passing"))
        .await
    {
        Ok((200, body)) => serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e["Node"]["Node"].as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_join_register_fail_recover_and_leave() {
    let (mut servers, mut clients) = cluster().await;

    // Every agent lists all five, with their type.
    for agent in servers.iter().chain(clients.iter()) {
        let ok = wait_until(Duration::from_secs(20), || async {
            let m = members(agent);
            m.len() == 5 && m.iter().all(|(_, status, _)| status == "alive")
        })
        .await;
        assert!(ok, "{}: {:?}", agent.node(), members(agent));
        let m = members(agent);
        for (name, _, kind) in &m {
            let want = if name.starts_with("server") {
                "server"
            } else {
                "client"
            };
            assert_eq!(kind, want, "{m:?}");
        }
    }

    // Every agent publishes its network coordinate; `consul rtt` and `?near=` use them.
    let all_coords = wait_until(Duration::from_secs(40), || async {
        servers[0]
            .json("/v1/coordinate/nodes")
            .await
            .as_array()
            .is_some_and(|l| l.len() == 5)
    })
    .await;
    assert!(
        all_coords,
        "{}",
        servers[0].json("/v1/coordinate/nodes").await
    );
    let c = clients[1].json("/v1/coordinate/node/client1").await;
    assert_eq!(c[0]["Node"], "client1", "{c}");
    assert_eq!(
        c[0]["Coord"]["Vec"].as_array().map(Vec::len),
        Some(8),
        "{c}"
    );
    assert_eq!(
        clients[1].get("/v1/coordinate/node/nope").await.unwrap().0,
        404
    );
    let (code, out, err) = clients[0].cli(&["rtt", "server1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Estimated server1 <-> client1 rtt: ")
            && out.trim_end().ends_with(" ms (using LAN coordinates)"),
        "{out}"
    );
    let (code, _, err) = clients[0].cli(&["rtt", "nope"]);
    assert_eq!(
        (code, err.trim()),
        (1, "Could not find a coordinate for node \"nope\"")
    );
    let near: Value = clients[0].json("/v1/catalog/nodes?near=_agent").await;
    assert_eq!(near.as_array().map(Vec::len), Some(5), "{near}");
    // External nodes: `alpha` far, `omega` close, `mid` without a coordinate. By name the
    // catalog lists alpha, mid, omega; near client1: omega, alpha, then mid.
    const EXTERNAL: [&str; 3] = ["alpha", "mid", "omega"];
    for (name, x) in [("alpha", Some(0.5)), ("omega", Some(0.001)), ("mid", None)] {
        let reg = json!({"Node": name, "Address": "10.9.9.9"});
        assert_eq!(
            servers[0]
                .put("/v1/catalog/register", reg.to_string())
                .await
                .0,
            200
        );
        if let Some(x) = x {
            let mut v = vec![0.0; 8];
            v[0] = x;
            let upd = json!({"Node": name, "Coord": {"Vec": v, "Error": 0.1, "Adjustment": 0.0, "Height": 1e-5}});
            let (code, body) = clients[1]
                .put("/v1/coordinate/update", upd.to_string())
                .await;
            assert_eq!(code, 200, "{body}");
        }
    }
    let order = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n["Node"].as_str().unwrap().to_string())
            .filter(|n| EXTERNAL.contains(&n.as_str()))
            .collect()
    };
    let sorted = wait_until(Duration::from_secs(10), || async {
        order(servers[2].json("/v1/catalog/nodes?near=client1").await) == ["omega", "alpha", "mid"]
    })
    .await;
    assert!(
        sorted,
        "{:?}",
        order(servers[2].json("/v1/catalog/nodes?near=client1").await)
    );
    assert_eq!(order(servers[2].json("/v1/catalog/nodes").await), EXTERNAL);
    for name in EXTERNAL {
        let dereg = json!({"Node": name});
        assert_eq!(
            servers[0]
                .put("/v1/catalog/deregister", dereg.to_string())
                .await
                .0,
            200
        );
    }

    // A service with a TTL check registered on client1 lands under client1's node.
    let svc = json!({
        "Name": "web", "ID": "web-1", "Port": 8080, "Tags": ["v1"],
        "Check": {"CheckID": "web-ttl", "TTL": "600s"}
    });
    let (code, body) = clients[0]
        .put("/v1/agent/service/register", svc.to_string())
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = clients[0].put("/v1/agent/check/pass/web-ttl", "").await;
    assert_eq!(code, 200, "{body}");
    let listed = wait_until(Duration::from_secs(10), || async {
        passing_nodes(&servers[1], "web").await == ["client1"]
    })
    .await;
    assert!(
        listed,
        "web on client1 not passing on a server: {:?}\n{}",
        servers[1].get("/v1/health/service/web").await,
        clients[0].output()
    );
    // consul-template, talking to client2, renders the passing `web` instances.
    let ct_dir = tempfile::tempdir().unwrap();
    let (tmpl, out) = (
        ct_dir.path().join("in.ctmpl"),
        ct_dir.path().join("out.txt"),
    );
    std::fs::write(
        &tmpl,
        "{{range service \"web\"}}{{.Node}}:{{.Port}}\n{{end}}",
    )
    .unwrap();
    let mut ct = {
        let mut cmd = std::process::Command::new(test_support::binary("consul-template"));
        cmd.arg(format!("-consul-addr={}", clients[1].http_addr()))
            .arg(format!("-template={}:{}", tmpl.display(), out.display()));
        test_support::Process::spawn(cmd)
    };
    let rendered = || std::fs::read_to_string(&out).unwrap_or_default();
    let has_web = wait_until(Duration::from_secs(15), || async {
        rendered() == "client1:8080\n"
    })
    .await;
    assert!(has_web, "rendered {:?}\n{}", rendered(), ct.output());
    // A client's DNS interface answers from the servers' catalog.
    let out = clients[1].output();
    let at = out.find("DNS: ").expect("the banner names the DNS port");
    let dns: String = out[at + 5..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let dig = |name: &str, rtype: &str| {
        let o = std::process::Command::new("dig")
            .args([
                "@127.0.0.5",
                &format!("-p{dns}"),
                "+short",
                "+time=3",
                "+tries=2",
                name,
                rtype,
            ])
            .output()
            .expect("dig: install Debian's bind9-dnsutils");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(dig("web.service.consul", "A"), "127.0.0.4");
    assert_eq!(
        dig("web.service.consul", "SRV"),
        "1 1 8080 client1.node.dc1.consul."
    );
    assert_eq!(dig("server2.node.consul", "A"), "127.0.0.2");
    assert_eq!(
        dig("4.0.0.127.in-addr.arpa", "PTR"),
        "client1.node.dc1.consul."
    );
    // A prepared query, run on a server for the client's DNS; an unknown one is NXDOMAIN.
    let query = json!({"Name": "web-query", "Service": {"Service": "web"}});
    let created = servers[0]
        .http
        .post(servers[0].url("/v1/query"))
        .body(query.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(created.status().as_u16(), 200);
    assert_eq!(dig("web-query.query.consul", "A"), "127.0.0.4");
    assert_eq!(
        dig("web-query.query.consul", "SRV"),
        "1 1 8080 client1.node.dc1.consul."
    );
    let none = std::process::Command::new("dig")
        .args(["@127.0.0.5", &format!("-p{dns}"), "nope.query.consul", "A"])
        .output()
        .expect("dig");
    assert!(
        String::from_utf8_lossy(&none.stdout).contains("status: NXDOMAIN"),
        "{}",
        String::from_utf8_lossy(&none.stdout)
    );
    let local = clients[0].json("/v1/agent/services").await;
    assert_eq!(local["web-1"]["Port"], 8080, "{local}");
    assert_eq!(clients[1].json("/v1/agent/services").await, json!({}));

    // The catalog is read and written through a client; a blocking query through it wakes.
    let (code, _) = clients[1].put("/v1/kv/through/client", "yes").await;
    assert_eq!(code, 200);
    let (_, headers, body) = clients[0].get_full("/v1/kv/through/client").await;
    assert!(body.contains("\"Key\":\"through/client\""), "{body}");
    let index: u64 = headers["X-Consul-Index"].to_str().unwrap().parse().unwrap();
    let waiting = {
        let http = clients[0].http.clone();
        let url = clients[0].url(&format!("/v1/kv/through/client?index={index}&wait=20s"));
        tokio::spawn(async move { http.get(url).send().await.unwrap().text().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        servers[2].put("/v1/kv/through/client", "changed").await.0,
        200
    );
    let woke = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the blocking query through the client wakes")
        .unwrap();
    assert!(woke.contains("Y2hhbmdlZA=="), "{woke}");

    // A user event fired through client2 reaches every agent; filters pick who keeps it.
    let (code, out, err) = clients[1].cli(&["event", "-name=deploy", "v2"]);
    assert_eq!(code, 0, "{err}");
    let id = out
        .trim()
        .strip_prefix("Event ID: ")
        .expect(&out)
        .to_string();
    for agent in servers.iter().chain(clients.iter()) {
        let got = wait_until(Duration::from_secs(10), || async {
            agent
                .json("/v1/event/list?name=deploy")
                .await
                .as_array()
                .is_some_and(|l| {
                    l.iter()
                        .any(|e| e["ID"] == id.as_str() && e["Payload"] == "djI=")
                })
        })
        .await;
        assert!(
            got,
            "{} did not get the event: {}",
            agent.node(),
            agent.json("/v1/event/list").await
        );
    }
    // A blocking list on client1 wakes when an event for it arrives.
    let (_, headers, _) = clients[0].get_full("/v1/event/list?name=web-only").await;
    let index = headers["X-Consul-Index"].to_str().unwrap().to_string();
    assert_eq!(index, "1", "no event yet: index 1");
    let waiting = {
        let http = clients[0].http.clone();
        let url = clients[0].url(&format!(
            "/v1/event/list?name=web-only&index={index}&wait=20s"
        ));
        tokio::spawn(async move { http.get(url).send().await.unwrap().text().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, body) = servers[2]
        .put("/v1/event/fire/web-only?service=^web$&tag=v1", "")
        .await;
    assert_eq!(code, 200, "{body}");
    let fired: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(fired["ServiceFilter"], "^web$");
    assert_eq!(fired["Payload"], Value::Null);
    let woke = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the blocking event list wakes")
        .unwrap();
    let woke: Value = serde_json::from_str(&woke).unwrap();
    assert_eq!(woke[0]["ID"], fired["ID"], "{woke}");
    // Only client1 runs a `web` tagged v1: the others do not keep it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for agent in [&servers[0], &servers[2], &clients[1]] {
        assert_eq!(
            agent.json("/v1/event/list?name=web-only").await,
            json!([]),
            "{}",
            agent.node()
        );
    }
    let (code, body) = servers[0].put("/v1/event/fire/x?tag=v1", "").await;
    assert_eq!(
        (code, body.as_str()),
        (500, "Cannot provide tag filter without service filter")
    );
    let (code, body) = servers[0].put("/v1/event/fire/", "").await;
    assert_eq!((code, body.as_str()), (400, "Missing name"));

    // kill -9 client1: its service turns critical within the detection window.
    clients[0].kill9();
    let t0 = Instant::now();
    let dropped = wait_until(Duration::from_secs(30), || async {
        passing_nodes(&servers[0], "web").await.is_empty()
    })
    .await;
    assert!(dropped, "client1's service still passing after its death");
    let detected = t0.elapsed();
    let dropped_from_render =
        wait_until(Duration::from_secs(10), || async { rendered().is_empty() }).await;
    assert!(
        dropped_from_render,
        "consul-template still renders {:?}\n{}",
        rendered(),
        ct.output()
    );
    let rerendered = t0.elapsed();
    let serf: Value = servers[0].json("/v1/health/node/client1").await;
    let serf_health = serf
        .as_array()
        .and_then(|a| a.iter().find(|c| c["CheckID"] == "serfHealth").cloned())
        .unwrap_or_default();
    assert_eq!(serf_health["Status"], "critical", "{serf}");
    let failed = wait_until(Duration::from_secs(10), || async {
        members(&servers[2])
            .iter()
            .any(|(n, s, _)| n == "client1" && s == "failed")
    })
    .await;
    assert!(failed, "{:?}", members(&servers[2]));
    eprintln!("client1's service left the passing list {detected:?} after kill -9, consul-template's render {rerendered:?}");

    // force-leave turns the failed client `left` everywhere; -prune is refused by name.
    let (code, _, err) = servers[0].cli(&["force-leave", "client1"]);
    assert_eq!(code, 0, "{err}");
    let forced = wait_until(Duration::from_secs(10), || async {
        members(&servers[1])
            .iter()
            .any(|(n, s, _)| n == "client1" && s == "left")
    })
    .await;
    assert!(forced, "{:?}", members(&servers[1]));
    let (code, _, err) = servers[0].cli(&["force-leave", "-prune", "client1"]);
    assert_ne!(code, 0);
    assert!(err.contains("prune is not implemented"), "{err}");

    // Restarted on its data dir, client1 comes back with the service it had.
    clients[0].start().await;
    let back = wait_until(Duration::from_secs(30), || async {
        passing_nodes(&servers[0], "web").await == ["client1"]
    })
    .await;
    assert!(
        back,
        "web did not recover: {:?}\n{}",
        servers[0].get("/v1/health/service/web").await,
        clients[0].output()
    );
    let rendered_again = wait_until(Duration::from_secs(10), || async {
        rendered() == "client1:8080\n"
    })
    .await;
    assert!(rendered_again, "rendered {:?}\n{}", rendered(), ct.output());
    ct.kill();

    // The leader dies: clients keep answering through the other servers.
    let leader_addr = servers[0].json("/v1/status/leader").await;
    let leader = SERVERS
        .iter()
        .position(|ip| {
            leader_addr
                .as_str()
                .is_some_and(|a| a.starts_with(&format!("{ip}:")))
        })
        .expect("leader is one of the servers");
    servers[leader].kill9();
    let survived = wait_until(Duration::from_secs(30), || async {
        clients[1].put("/v1/kv/after/leader", "ok").await.0 == 200
    })
    .await;
    assert!(
        survived,
        "writes through a client fail after the leader's death"
    );
    let (code, body) = clients[0].get("/v1/kv/after/leader?raw").await.unwrap();
    assert_eq!((code, body.as_str()), (200, "ok"));

    // `consul leave` on client2: it is `left` for the others, and out of the catalog.
    let (code, out, err) = clients[1].cli(&["leave"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Graceful leave complete\n"),
        "{err}"
    );
    let alive = (leader + 1) % 3;
    let left = wait_until(Duration::from_secs(15), || async {
        members(&servers[alive])
            .iter()
            .any(|(n, s, _)| n == "client2" && s == "left")
    })
    .await;
    assert!(left, "{:?}", members(&servers[alive]));
    let gone = wait_until(Duration::from_secs(15), || async {
        servers[alive]
            .get("/v1/catalog/node/client2")
            .await
            .is_ok_and(|r| r.1 == "null")
    })
    .await;
    assert!(
        gone,
        "{:?}",
        servers[alive].get("/v1/catalog/node/client2").await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_without_servers_says_so_and_refuses_what_it_cannot_do() {
    let mut lone = TestServer::new(
        TestServer::builder()
            .ip("127.0.0.6")
            .node("lonely")
            .mode(Mode::Client { join: vec![] })
            .build(),
    );
    lone.spawn();
    let ok = wait_until(Duration::from_secs(20), || async {
        lone.get("/v1/agent/self")
            .await
            .is_ok_and(|(c, _)| c == 200)
    })
    .await;
    assert!(ok, "{}", lone.output());
    let (code, body) = lone.get("/v1/catalog/services").await.unwrap();
    assert_eq!((code, body.as_str()), (500, "No known Consul servers"));
    let me = lone.json("/v1/agent/self").await;
    assert_eq!(me["Config"]["Server"], false);
    assert_eq!(
        me["Stats"]["consul"]["known_servers"], "0",
        "{}",
        me["Stats"]
    );
    assert!(me["Stats"].get("raft").is_none());
    // Its own registrations work without servers, and wait for them.
    let (code, _) = lone
        .put("/v1/agent/service/register", r#"{"Name":"solo"}"#)
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        lone.json("/v1/agent/services").await["solo"]["Service"],
        "solo"
    );
}

/// `encrypt`: agents sharing the key gossip; one with another key is not let in (and its join
/// fails), so it never shows in `consul members`.
#[tokio::test(flavor = "multi_thread")]
async fn gossip_encryption_keeps_out_an_agent_with_another_key() {
    let key = gossip::keygen();
    let other = gossip::keygen();
    let server = TestServer::new(
        TestServer::builder()
            .ip("127.0.0.7")
            .node("enc-server")
            .arg(format!("-encrypt={key}"))
            .build(),
    );
    let mut server = server;
    server.start().await;
    let join = vec![format!("127.0.0.7:{}", server.server_port())];
    let mut friend = TestServer::new(
        TestServer::builder()
            .ip("127.0.0.8")
            .node("friend")
            .mode(Mode::Client { join: join.clone() })
            .arg(format!("-encrypt={key}"))
            .build(),
    );
    friend.start().await;
    let mut stranger = TestServer::new(
        TestServer::builder()
            .ip("127.0.0.9")
            .node("stranger")
            .mode(Mode::Client { join })
            .arg(format!("-encrypt={other}"))
            .build(),
    );
    stranger.spawn();
    let refused = wait_until(Duration::from_secs(30), || async {
        stranger.output().contains("(LAN) couldn't join")
    })
    .await;
    assert!(refused, "{}", stranger.output());
    let names: Vec<String> = members(&server).into_iter().map(|m| m.0).collect();
    assert_eq!(names, ["enc-server", "friend"], "{names:?}");
    let info = server.json("/v1/agent/self").await;
    assert_eq!(info["Stats"]["serf_lan"]["encrypted"], "true");
}

/// ACLs on a client agent (`default_policy = "deny"` on both): the client resolves tokens
/// through the server, its own endpoints check them as a server's do (403 `Permission denied`,
/// 403 `ACL not found` for a token nobody has), its anti-entropy carries the agent token, what
/// it forwards carries the caller's token (or its default token) to the server, which checks
/// it, and DNS reads with the default token. With the server gone, `down_policy =
/// "extend-cache"` keeps tokens it resolved working (`token_ttl = "0s"`: every request asks the
/// servers first, so each of these is answered from the extended cache) and grants a token it
/// never saw what the default policy grants: nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_with_acls_resolves_tokens_through_the_servers() {
    use crate::acl::{acl_hcl, call, token_with, MGMT};
    let mut server = TestServer::new(
        TestServer::builder()
            .ip("127.0.0.10")
            .node("acl-server")
            .token(MGMT)
            .args(["-hcl", &acl_hcl("deny", "")])
            .build(),
    );
    server.start().await;
    let agent_token = token_with(
        &server,
        "client-agent",
        r#"node "acl-client" { policy = "write" } service_prefix "" { policy = "write" }"#,
    )
    .await;
    let web = token_with(
        &server,
        "web-writer",
        r#"service "web" { policy = "write" }"#,
    )
    .await;
    let reader = token_with(
        &server,
        "reader",
        r#"key_prefix "" { policy = "read" } service "web" { policy = "read" } node_prefix "" { policy = "read" }"#,
    )
    .await;
    let unseen = token_with(&server, "unseen", r#"agent_prefix "" { policy = "read" }"#).await;

    let hcl = format!(
        r#"acl {{
  enabled = true
  default_policy = "deny"
  down_policy = "extend-cache"
  token_ttl = "0s"
  tokens {{ agent = "{agent_token}" }}
}}"#
    );
    let mut client = TestServer::new(
        TestServer::builder()
            .ip("127.0.0.11")
            .node("acl-client")
            .mode(Mode::Client {
                join: vec![format!("127.0.0.10:{}", server.server_port())],
            })
            .token(MGMT)
            .args(["-hcl", &hcl, "-dns-port=0"])
            .build(),
    );
    // Ready means its node is in the catalog: anti-entropy got through with the agent token.
    client.start().await;

    // Its own endpoints: a token allowed to, none, one nobody has.
    let web_service = r#"{"Name":"web","Port":80}"#;
    let (st, _, body) = call(
        &client,
        "PUT",
        "/v1/agent/service/register",
        &web,
        Some(web_service),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, _, body) = call(
        &client,
        "PUT",
        "/v1/agent/service/register",
        "",
        Some(r#"{"Name":"db"}"#),
    )
    .await;
    assert_eq!(st, 403, "{body}");
    assert!(body.starts_with("Permission denied"), "{body}");
    let (st, _, body) = call(
        &client,
        "PUT",
        "/v1/agent/service/register",
        "6f0c4f43-1f0a-4f4e-8b55-3a1d2c9e7b10",
        Some(web_service),
    )
    .await;
    assert_eq!((st, body.as_str()), (403, "ACL not found"));
    let (st, _, body) = call(&client, "GET", "/v1/agent/self", "", None).await;
    assert_eq!(st, 403, "{body}");
    assert!(body.starts_with("Permission denied"), "{body}");
    assert_eq!(
        call(&client, "GET", "/v1/agent/self", MGMT, None).await.0,
        200
    );
    let (st, filtered, body) = call(&client, "GET", "/v1/agent/members", "", None).await;
    assert_eq!((st, filtered), (200, true), "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([]));
    let (st, _, body) = call(&client, "GET", "/v1/agent/members", &reader, None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .map(Vec::len),
        Some(2),
        "{body}"
    );
    assert_eq!(
        call(&client, "PUT", "/v1/event/fire/deploy", "", None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&client, "PUT", "/v1/event/fire/deploy", MGMT, None)
            .await
            .0,
        200
    );

    // The service reaches the catalog under the client's node (the agent token syncs it).
    let synced = wait_until(Duration::from_secs(20), || async {
        let (st, _, body) = call(&server, "GET", "/v1/catalog/service/web", MGMT, None).await;
        st == 200 && body.contains(r#""Node":"acl-client""#)
    })
    .await;
    assert!(synced, "{}", client.output());

    // Forwarded requests carry the caller's token; the server checks it.
    let (st, _, body) = call(&client, "PUT", "/v1/kv/app", MGMT, Some("1")).await;
    assert_eq!((st, body.as_str()), (200, "true"));
    assert_eq!(call(&client, "GET", "/v1/kv/app", "", None).await.0, 403);
    assert_eq!(
        call(&client, "GET", "/v1/kv/app", &reader, None).await.0,
        200
    );

    // DNS reads through the server with the default token: none yet, so the anonymous token.
    let dns = crate::dns::dns_port(&client);
    let d = crate::dns::dig_at("127.0.0.11", dns, &["web.service.consul", "A"]);
    assert_eq!(d.status, "NXDOMAIN", "{}", d.text);

    // The client's DNS token (Consul 1.19+) is what its DNS reads carry, and only those;
    // cleared, DNS is back to the default token.
    for (token, answers) in [(reader.as_str(), true), ("", false)] {
        let (st, _, body) = call(
            &client,
            "PUT",
            "/v1/agent/token/dns",
            MGMT,
            Some(&json!({ "Token": token }).to_string()),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        let d = crate::dns::dig_at("127.0.0.11", dns, &["web.service.consul", "A"]);
        if answers {
            assert_eq!(
                d.data("A"),
                vec![vec!["127.0.0.11".to_string()]],
                "{}",
                d.text
            );
        } else {
            assert_eq!(d.status, "NXDOMAIN", "{}", d.text);
        }
        assert_eq!(call(&client, "GET", "/v1/kv/app", "", None).await.0, 403);
    }

    // `PUT /v1/agent/token/default` on the client: requests without a token use it, here and
    // when forwarded, and so does DNS.
    let (st, _, body) = call(
        &client,
        "PUT",
        "/v1/agent/token/default",
        &web,
        Some(&json!({ "Token": reader }).to_string()),
    )
    .await;
    assert_eq!(st, 403, "{body}");
    let (st, _, body) = call(
        &client,
        "PUT",
        "/v1/agent/token/default",
        MGMT,
        Some(&json!({ "Token": reader }).to_string()),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(call(&client, "GET", "/v1/kv/app", "", None).await.0, 200);
    assert_eq!(
        call(&client, "GET", "/v1/agent/members", "", None).await.0,
        200
    );
    let d = crate::dns::dig_at("127.0.0.11", dns, &["web.service.consul", "A"]);
    assert_eq!(
        d.data("A"),
        vec![vec!["127.0.0.11".to_string()]],
        "{}",
        d.text
    );

    // The server gone: tokens resolved before still work (extend-cache), one never seen here
    // gets the default policy (deny), named as Consul names it.
    server.kill9();
    let (st, _, body) = call(&client, "GET", "/v1/agent/self", MGMT, None).await;
    assert_eq!(st, 200, "{body}");
    let (st, _, body) = call(
        &client,
        "PUT",
        "/v1/agent/service/register",
        &web,
        Some(r#"{"Name":"web","ID":"web-2","Port":81}"#),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, _, body) = call(&client, "GET", "/v1/agent/self", &unseen, None).await;
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("primary-dc-down"), "{body}");
}
