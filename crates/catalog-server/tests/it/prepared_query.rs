//! Prepared queries on a real agent: `/v1/query` create, read, list, update, delete with
//! Consul's JSON shapes and error texts; execute and explain by ID and by name (health,
//! `OnlyPassing`, `IgnoreCheckIDs`, `Tags` with `!`, `?limit=`, `Near` over network
//! coordinates); templates by name prefix and regexp; `query:write` refused without the
//! right and the stored token hidden from readers without `acl:write`; and
//! `<name>.query.consul` asked with `dig`.

use crate::acl::{acl_hcl, acl_server_with, call, token_with, MGMT};
use crate::common::{wait_until, TestServer};
use crate::dns::{dig, dns_server};
use serde_json::{json, Value};
use std::time::Duration;

async fn send(s: &TestServer, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let body = body.map(Value::to_string);
    let (st, _, text) = call(s, method, path, "", body.as_deref()).await;
    (st, text)
}

/// Creates a query; returns its ID.
async fn create(s: &TestServer, q: Value) -> String {
    let (st, body) = send(s, "POST", "/v1/query", Some(&q)).await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{body}");
    v["ID"].as_str().unwrap().to_string()
}

/// Registers `node` with one `web` instance (`id`, tags) and, when given, a check on it.
async fn web(s: &TestServer, node: &str, id: &str, tags: &[&str], status: Option<&str>) {
    let n = node.trim_start_matches("node-");
    let mut body = json!({
        "Node": node, "Address": format!("10.2.0.{n}"),
        "Service": {"Service": "web", "ID": id, "Port": 8000, "Tags": tags},
    });
    if let Some(st) = status {
        body["Check"] =
            json!({"CheckID": format!("{id}-check"), "Name": "c", "Status": st, "ServiceID": id});
    }
    let (st, text) = s.put("/v1/catalog/register", body.to_string()).await;
    assert_eq!(st, 200, "{text}");
}

/// node-1 passing [v1 primary], node-2 no check [v2], node-3 critical [v1], node-4 warning
/// [v1 experimental].
async fn four_webs(s: &TestServer) {
    web(s, "node-1", "web-1", &["v1", "primary"], Some("passing")).await;
    web(s, "node-2", "web-2", &["v2"], None).await;
    web(s, "node-3", "web-3", &["v1"], Some("critical")).await;
    web(
        s,
        "node-4",
        "web-4",
        &["v1", "experimental"],
        Some("warning"),
    )
    .await;
}

/// The node names of an execute answer, sorted unless `keep_order`.
fn nodes(v: &Value, keep_order: bool) -> Vec<String> {
    let mut n: Vec<String> = v["Nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Node"]["Node"].as_str().unwrap().to_string())
        .collect();
    if !keep_order {
        n.sort();
    }
    n
}

#[tokio::test]
async fn crud_with_consuls_shapes_and_errors() {
    let s = TestServer::start().await;
    let id = create(
        &s,
        json!({
            "Name": "my-query",
            "Service": {
                "Service": "redis",
                "Failover": {"NearestN": 3, "Datacenters": ["dc1", "dc2"]},
                "Tags": ["primary", "!experimental"],
                "NodeMeta": {"rack": "a"},
            },
            "DNS": {"TTL": "10s"},
        }),
    )
    .await;
    assert_eq!(id.len(), 36, "{id}");
    let got = s.json(&format!("/v1/query/{id}")).await;
    let idx = got[0]["CreateIndex"].clone();
    assert!(idx.as_u64().unwrap() > 0);
    let expected = json!([{
        "ID": id,
        "Name": "my-query",
        "Session": "",
        "Token": "",
        "Template": {"Type": "", "Regexp": "", "RemoveEmptyTags": false},
        "Service": {
            "Service": "redis",
            "SamenessGroup": "",
            "Failover": {"NearestN": 3, "Datacenters": ["dc1", "dc2"], "Targets": null},
            "OnlyPassing": false,
            "IgnoreCheckIDs": null,
            "Near": "",
            "Tags": ["primary", "!experimental"],
            "NodeMeta": {"rack": "a"},
            "ServiceMeta": null,
            "Peer": "",
            "Connect": false,
        },
        "DNS": {"TTL": "10s"},
        "CreateIndex": idx,
        "ModifyIndex": idx,
    }]);
    assert_eq!(got, expected);
    // The list, with its index header; keys in Consul's order.
    let (st, headers, body) = s.get_full("/v1/query").await;
    assert_eq!(st, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected);
    assert_eq!(headers["x-consul-index"].to_str().unwrap(), idx.to_string());
    assert!(
        body.starts_with(&format!(
            "[{{\"ID\":\"{id}\",\"Name\":\"my-query\",\"Session\""
        )),
        "{body}"
    );

    // Update: the whole definition replaced; the ID comes from the URL.
    let (st, body) = send(
        &s,
        "PUT",
        &format!("/v1/query/{id}"),
        Some(&json!({"ID": "ignored", "Name": "my-query", "Service": {"Service": "web", "OnlyPassing": true}})),
    )
    .await;
    assert_eq!((st, body.as_str()), (200, ""));
    let got = s.json(&format!("/v1/query/{id}")).await;
    assert_eq!(got[0]["Service"]["Service"], "web");
    assert_eq!(got[0]["Service"]["OnlyPassing"], true);
    assert_eq!(got[0]["Service"]["Tags"], Value::Null);
    assert_eq!(got[0]["DNS"]["TTL"], "");
    assert_eq!(got[0]["CreateIndex"], idx);
    assert!(got[0]["ModifyIndex"].as_u64() > idx.as_u64());

    // Consul's refusals.
    let alias_id = format!("name '{id}' aliases an existing query ID");
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("POST", "/v1/query", json!({"Name": "x"}), 500,
            "Invalid prepared query: Must provide a Service name to query"),
        ("POST", "/v1/query", json!({"Service": {"Service": "a"}, "DNS": {"TTL": "soon"}}), 500,
            "Invalid prepared query: Bad DNS TTL 'soon': time: invalid duration \"soon\""),
        ("POST", "/v1/query", json!({"Service": {"Service": "a", "Failover": {"NearestN": -1}}}), 500,
            "Invalid prepared query: Bad NearestN '-1', must be >= 0"),
        ("POST", "/v1/query", json!({"Name": "MY-QUERY", "Service": {"Service": "a"}}), 500,
            "name 'MY-QUERY' aliases an existing query name"),
        ("POST", "/v1/query", json!({"Name": id, "Service": {"Service": "a"}}), 500,
            &alias_id),
        ("POST", "/v1/query", json!({"ID": "x", "Service": {"Service": "a"}}), 500,
            "ID must be empty when creating a new prepared query"),
        ("POST", "/v1/query", json!({"Service": {"Service": "a"}, "Session": "nope"}), 500,
            "invalid session \"nope\""),
        ("POST", "/v1/query", json!({"Name": "t", "Template": {"Type": "bogus"}, "Service": {"Service": "a"}}), 500,
            "failed compiling template: Bad Template.Type 'bogus'"),
        ("POST", "/v1/query", json!({"Service": {"Service": "a", "Connect": true}}), 400,
            "Invalid prepared query: Service.Connect is not supported by this server (no Connect service mesh)"),
        ("POST", "/v1/query", json!({"Service": {"Service": "a", "Peer": "p"}}), 400,
            "Invalid prepared query: Service.Peer is not supported by this server (no cluster peering)"),
        ("PUT", "/v1/query/00000000-0000-0000-0000-000000000000", json!({"Service": {"Service": "a"}}), 500,
            "Cannot modify non-existent prepared query: '00000000-0000-0000-0000-000000000000'"),
    ];
    for (method, path, body, status, text) in cases {
        let (st, got) = send(&s, method, path, Some(&body)).await;
        assert_eq!((st, got.as_str()), (status, text), "{method} {path} {body}");
    }
    let (st, _, text) = call(&s, "POST", "/v1/query", "", Some("{")).await;
    assert_eq!(st, 400);
    assert!(text.starts_with("Request decode failed: "), "{text}");
    let (st, _, text) = call(&s, "POST", "/v1/query", "", Some(r#"{"Service": "web"}"#)).await;
    assert_eq!((st, text.as_str()), (400, "Request decode failed: json: cannot unmarshal string into Go struct field PreparedQuery.Service of type structs.ServiceQuery"));
    let (st, _, text) = call(
        &s,
        "POST",
        "/v1/query",
        "",
        Some(r#"{"Service": {"OnlyPassing": "yes"}}"#),
    )
    .await;
    // Go names the innermost struct and the whole field path.
    assert_eq!((st, text.as_str()), (400, "Request decode failed: json: cannot unmarshal string into Go struct field ServiceQuery.Service.OnlyPassing of type bool"));

    // Methods: /execute and /explain take GET only.
    for (method, path, allow) in [
        ("OPTIONS", format!("/v1/query/{id}/execute"), "OPTIONS,GET"),
        ("PUT", format!("/v1/query/{id}/explain"), "OPTIONS,GET"),
        ("POST", format!("/v1/query/{id}"), "OPTIONS,GET,PUT,DELETE"),
        ("DELETE", "/v1/query".to_string(), "OPTIONS,GET,POST"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = s.http.request(m, s.url(&path)).send().await.unwrap();
        let want = if method == "OPTIONS" { 200 } else { 405 };
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let body = r.text().await.unwrap();
        if want == 405 {
            assert_eq!(body, format!("method {method} not allowed"));
        }
    }

    // Delete, then nothing is found.
    let (st, body) = send(&s, "DELETE", &format!("/v1/query/{id}"), None).await;
    assert_eq!((st, body.as_str()), (200, ""));
    for path in [
        format!("/v1/query/{id}"),
        format!("/v1/query/{id}/execute"),
        format!("/v1/query/{id}/explain"),
        "/v1/query/my-query/execute".to_string(),
    ] {
        let (st, body) = s.get(&path).await.unwrap();
        assert_eq!((st, body.as_str()), (404, "Query not found"), "{path}");
    }
    assert_eq!(s.json("/v1/query").await, json!([]));

    // A query tied to a session goes with it.
    let (st, body) = s.put("/v1/session/create", "{}").await;
    assert_eq!(st, 200, "{body}");
    let session = serde_json::from_str::<Value>(&body).unwrap()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let id = create(
        &s,
        json!({"Name": "tied", "Session": session, "Service": {"Service": "a"}}),
    )
    .await;
    assert_eq!(
        s.json(&format!("/v1/query/{id}")).await[0]["Session"],
        session
    );
    let (st, _) = s.put(&format!("/v1/session/destroy/{session}"), "").await;
    assert_eq!(st, 200);
    assert_eq!(s.get(&format!("/v1/query/{id}")).await.unwrap().0, 404);
}

#[tokio::test]
async fn execute_filters_healthy_tagged_instances() {
    let s = TestServer::start().await;
    four_webs(&s).await;
    let all = create(
        &s,
        json!({"Name": "all", "Service": {"Service": "web"}, "DNS": {"TTL": "5s"}}),
    )
    .await;
    let (st, body) = s.get(&format!("/v1/query/{all}/execute")).await.unwrap();
    assert_eq!(st, 200, "{body}");
    assert!(
        body.starts_with("{\"Service\":\"web\",\"Nodes\":[{\"Node\":{"),
        "{body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    // Critical left out; the warning one kept.
    assert_eq!(nodes(&v, false), ["node-1", "node-2", "node-4"]);
    assert_eq!(v["DNS"], json!({"TTL": "5s"}));
    assert_eq!(v["Datacenter"], "dc1");
    assert_eq!(v["Failovers"], 0);
    assert_eq!(v["PeerName"], "");
    let entry = v["Nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Node"]["Node"] == "node-1")
        .unwrap();
    assert_eq!(entry["Service"]["ID"], "web-1");
    assert_eq!(entry["Checks"][0]["CheckID"], "web-1-check");
    // By name too, with ?limit.
    let v = s.json("/v1/query/all/execute?limit=1").await;
    assert_eq!(nodes(&v, false).len(), 1);
    let (st, body) = s.get("/v1/query/all/execute?limit=x").await.unwrap();
    assert_eq!(
        (st, body.as_str()),
        (
            500,
            "Bad limit: strconv.Atoi: parsing \"x\": invalid syntax"
        )
    );

    for (q, want) in [
        (
            json!({"Service": "web", "OnlyPassing": true}),
            vec!["node-1", "node-2"],
        ),
        (
            json!({"Service": "web", "Tags": ["V1"]}),
            vec!["node-1", "node-4"],
        ),
        (
            json!({"Service": "web", "Tags": ["v1", "!Experimental"]}),
            vec!["node-1"],
        ),
        (json!({"Service": "web", "Tags": ["!v1"]}), vec!["node-2"]),
        (
            json!({"Service": "web", "IgnoreCheckIDs": ["web-3-check"]}),
            vec!["node-1", "node-2", "node-3", "node-4"],
        ),
        (
            json!({"Service": "web", "OnlyPassing": true, "IgnoreCheckIDs": ["web-4-check"]}),
            vec!["node-1", "node-2", "node-4"],
        ),
        (json!({"Service": "nothing"}), vec![]),
    ] {
        let id = create(&s, json!({"Service": q})).await;
        let v = s.json(&format!("/v1/query/{id}/execute")).await;
        assert_eq!(nodes(&v, false), want, "{q}");
    }

    // Explain: the query as it would run.
    let v = s.json("/v1/query/all/explain").await;
    assert_eq!(v["Query"]["ID"], all);
    assert_eq!(v["Query"]["Service"]["Service"], "web");
}

#[tokio::test]
async fn templates_by_prefix_and_regexp() {
    let s = TestServer::start().await;
    four_webs(&s).await;
    let prefix = create(
        &s,
        json!({"Name": "geo-", "Template": {"Type": "name_prefix_match"},
               "Service": {"Service": "${name.suffix}"}}),
    )
    .await;
    let re = create(
        &s,
        json!({"Name": "geo-re-", "Template": {"Type": "name_prefix_match", "Regexp": "^geo-re-(.+?)-(v[0-9])$"},
               "Service": {"Service": "${match(1)}", "Tags": ["${match(2)}"]}}),
    )
    .await;
    // The longest prefix wins: `geo-web` is the first template, `geo-re-web-v2` the second.
    let v = s.json("/v1/query/geo-web/execute").await;
    assert_eq!(v["Service"], "web");
    assert_eq!(nodes(&v, false), ["node-1", "node-2", "node-4"]);
    let v = s.json("/v1/query/geo-re-web-v2/execute").await;
    assert_eq!(v["Service"], "web");
    assert_eq!(nodes(&v, false), ["node-2"]);
    let v = s.json("/v1/query/GEO-RE-web-v1/explain").await;
    assert_eq!(v["Query"]["ID"], re);
    assert_eq!(v["Query"]["Service"]["Service"], "");
    let v = s.json("/v1/query/geo-re-web-v1/explain").await;
    assert_eq!(v["Query"]["Service"]["Service"], "web");
    assert_eq!(v["Query"]["Service"]["Tags"], json!(["v1"]));
    // The stored template is unrendered; by ID it is refused.
    let got = s.json(&format!("/v1/query/{prefix}")).await;
    assert_eq!(got[0]["Service"]["Service"], "${name.suffix}");
    let (st, body) = s.get(&format!("/v1/query/{prefix}/execute")).await.unwrap();
    assert_eq!(
        (st, body.as_str()),
        (
            500,
            "prepared query templates can only be resolved up by name, not by ID"
        )
    );
    // A bad expression or regexp is refused at write.
    let (st, body) = send(
        &s,
        "POST",
        "/v1/query",
        Some(&json!({"Name": "x-", "Template": {"Type": "name_prefix_match"}, "Service": {"Service": "${nope}"}})),
    )
    .await;
    assert_eq!(st, 500);
    assert!(body.contains("unknown variable accessed: nope"), "{body}");
    let (st, body) = send(
        &s,
        "POST",
        "/v1/query",
        Some(&json!({"Name": "y-", "Template": {"Type": "name_prefix_match", "Regexp": "("}, "Service": {"Service": "a"}})),
    )
    .await;
    assert_eq!(st, 500);
    assert!(
        body.starts_with("failed compiling template: Bad Regexp"),
        "{body}"
    );
}

#[tokio::test]
async fn near_sorts_by_network_coordinates() {
    let s = TestServer::start().await;
    four_webs(&s).await;
    // node-2 at the origin, node-1 close, node-4 far.
    for (node, x) in [("node-2", 0.0), ("node-1", 0.001), ("node-4", 0.5)] {
        let mut v = vec![0.0; 8];
        v[0] = x;
        let upd = json!({"Node": node, "Coord": {"Vec": v, "Error": 0.1, "Adjustment": 0.0, "Height": 1e-5}});
        let (st, body) = s.put("/v1/coordinate/update", upd.to_string()).await;
        assert_eq!(st, 200, "{body}");
    }
    let ok = wait_until(Duration::from_secs(10), || async {
        let v = s.json("/v1/coordinate/nodes").await;
        ["node-1", "node-2", "node-4"]
            .iter()
            .all(|n| v.as_array().unwrap().iter().any(|c| c["Node"] == *n))
    })
    .await;
    assert!(ok, "the coordinates were not stored");
    let id = create(&s, json!({"Service": {"Service": "web", "Near": "node-2"}})).await;
    for _ in 0..5 {
        let v = s.json(&format!("/v1/query/{id}/execute")).await;
        assert_eq!(nodes(&v, true), ["node-2", "node-1", "node-4"]);
        // ?near= before the query's Near.
        let v = s.json(&format!("/v1/query/{id}/execute?near=node-4")).await;
        assert_eq!(nodes(&v, true), ["node-4", "node-1", "node-2"]);
    }
}

#[tokio::test]
async fn query_writes_need_query_write_and_tokens_are_hidden() {
    let s = acl_server_with(&acl_hcl("deny", "")).await;
    let team = token_with(
        &s,
        "team",
        r#"query_prefix "team-" { policy = "write" }
service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }"#,
    )
    .await;
    let reader = token_with(&s, "reader", r#"query_prefix "" { policy = "read" }"#).await;
    let body = |name: &str| {
        json!({"Name": name, "Token": "stored-secret", "Service": {"Service": "web"}}).to_string()
    };
    let (st, _, text) = call(&s, "POST", "/v1/query", &reader, Some(&body("team-a"))).await;
    assert_eq!(st, 403, "{text}");
    assert!(text.starts_with("Permission denied"), "{text}");
    let (st, _, text) = call(&s, "POST", "/v1/query", &team, Some(&body("other"))).await;
    assert_eq!(st, 403, "{text}");
    let (st, _, text) = call(&s, "POST", "/v1/query", &team, Some(&body("team-a"))).await;
    assert_eq!(st, 200, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    // Renaming out of the prefix, or deleting without the right: refused.
    let (st, _, _) = call(
        &s,
        "PUT",
        &format!("/v1/query/{id}"),
        &team,
        Some(&body("other")),
    )
    .await;
    assert_eq!(st, 403);
    let (st, _, _) = call(&s, "DELETE", &format!("/v1/query/{id}"), &reader, None).await;
    assert_eq!(st, 403);

    // Readers see the query with its token hidden; management sees the token.
    let (st, _, text) = call(&s, "GET", &format!("/v1/query/{id}"), &reader, None).await;
    assert_eq!(st, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()[0]["Token"],
        "<hidden>"
    );
    let (_, _, text) = call(&s, "GET", &format!("/v1/query/{id}"), MGMT, None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()[0]["Token"],
        "stored-secret"
    );
    // Anonymous: denied the query, the list filtered.
    let (st, _, _) = call(&s, "GET", &format!("/v1/query/{id}"), "", None).await;
    assert_eq!(st, 403);
    let (st, filtered, text) = call(&s, "GET", "/v1/query", "", None).await;
    assert_eq!((st, filtered, text.as_str()), (200, true, "[]"));
    let (st, _, _) = call(&s, "DELETE", &format!("/v1/query/{id}"), &team, None).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn dns_answers_query_names() {
    let (s, port) = dns_server(&[]).await;
    four_webs(&s).await;
    create(
        &s,
        json!({"Name": "webq", "Service": {"Service": "web", "OnlyPassing": true}, "DNS": {"TTL": "7s"}}),
    )
    .await;
    create(
        &s,
        json!({"Name": "empty", "Service": {"Service": "nothing"}}),
    )
    .await;
    create(
        &s,
        json!({"Name": "tpl-", "Template": {"Type": "name_prefix_match"}, "Service": {"Service": "${name.suffix}"}}),
    )
    .await;

    let srv = dig(port, &["webq.query.consul", "SRV"]);
    assert_eq!(srv.status, "NOERROR", "{}", srv.text);
    let mut targets: Vec<String> = srv.data("SRV").into_iter().map(|d| d[3].clone()).collect();
    targets.sort();
    assert_eq!(
        targets,
        ["node-1.node.dc1.consul.", "node-2.node.dc1.consul."],
        "{}",
        srv.text
    );
    assert!(srv.answer.iter().all(|r| r[1] == "7"), "{}", srv.text);
    let a = dig(port, &["webq.query.dc1.consul", "A"]);
    let mut ips: Vec<String> = a.data("A").into_iter().map(|d| d[0].clone()).collect();
    ips.sort();
    assert_eq!(ips, ["10.2.0.1", "10.2.0.2"], "{}", a.text);
    // A template by name.
    let a = dig(port, &["tpl-web.query.consul", "A"]);
    assert_eq!(a.data("A").len(), 3, "{}", a.text);
    for name in ["nope.query.consul", "empty.query.consul"] {
        let d = dig(port, &[name, "A"]);
        assert_eq!(d.status, "NXDOMAIN", "{name}: {}", d.text);
    }
}

#[tokio::test]
async fn the_list_blocks_until_a_query_changes() {
    let s = TestServer::start().await;
    let (_, headers, _) = s.get_full("/v1/query").await;
    let idx: u64 = headers["x-consul-index"].to_str().unwrap().parse().unwrap();
    let url = s.url(&format!("/v1/query?index={idx}&wait=20s"));
    let http = s.http.clone();
    let parked = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let r = http.get(url).send().await.unwrap();
        let index = r.headers()["x-consul-index"].to_str().unwrap().to_string();
        (started.elapsed(), index, r.text().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!parked.is_finished(), "the list did not block");
    let id = create(&s, json!({"Name": "late", "Service": {"Service": "a"}})).await;
    let (took, index, body) = parked.await.unwrap();
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(index.parse::<u64>().unwrap() > idx);
    assert!(body.contains(&id), "{body}");
}
