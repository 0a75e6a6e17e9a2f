//! `?filter=` (go-bexpr) on the list endpoints, and `-filter` on the CLI commands that pass it.

use crate::common::TestServer;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PREFIX: &str = "Failed to create boolean expression evaluator: ";

/// `path` with `filter=expr` appended (URL-encoded).
fn with_filter(path: &str, expr: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    let enc: String = form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    format!("{path}{sep}filter={enc}")
}

async fn filtered(s: &TestServer, path: &str, expr: &str) -> Value {
    s.json(&with_filter(path, expr)).await
}

fn field<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = v
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|e| e[key].as_str().unwrap_or_default())
        .collect();
    out.sort_unstable();
    out
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// test-node: web1 (v1, env=prod, passing), web2 (v2, env=dev, critical), db1 (primary,
/// env=prod, passing); external node web-ext (rack=a) with api1 (v1).
async fn seeded() -> TestServer {
    let s = TestServer::start().await;
    for body in [
        r#"{"ID":"web1","Name":"web","Tags":["v1"],"Port":8080,"Meta":{"env":"prod"},
            "Check":{"TTL":"30s","Status":"passing"}}"#,
        r#"{"ID":"web2","Name":"web","Tags":["v2"],"Port":8081,"Meta":{"env":"dev"},
            "Check":{"TTL":"30s","Status":"critical"}}"#,
        r#"{"ID":"db1","Name":"db","Tags":["primary"],"Port":5432,"Meta":{"env":"prod"},
            "Check":{"TTL":"30s","Status":"passing"}}"#,
    ] {
        let (st, text) = s.put("/v1/agent/service/register", body).await;
        assert_eq!(st, 200, "{text}");
    }
    let (st, text) = s
        .put(
            "/v1/catalog/register",
            r#"{"Node":"web-ext","Address":"10.1.1.1","NodeMeta":{"rack":"a"},
                "Service":{"ID":"api1","Service":"api","Port":80,"Tags":["v1"]}}"#,
        )
        .await;
    assert_eq!((st, text.as_str()), (200, "true"));
    s
}

#[tokio::test]
async fn catalog_endpoints_filter() {
    let s = seeded().await;

    // Node
    let all = s.json("/v1/catalog/nodes").await;
    assert_eq!(field(&all, "Node"), ["test-node", "web-ext"]);
    let web = filtered(&s, "/v1/catalog/nodes", r#"Node matches "^web""#).await;
    assert_eq!(field(&web, "Node"), ["web-ext"]);
    let rack = filtered(&s, "/v1/catalog/nodes", "Meta.rack == a").await;
    assert_eq!(field(&rack, "Node"), ["web-ext"]);
    assert_eq!(
        filtered(&s, "/v1/catalog/nodes", "Node == nope").await,
        json!([])
    );
    assert_eq!(
        filtered(&s, "/v1/catalog/nodes", "").await,
        all,
        "empty filter"
    );

    // ServiceNode
    let path = "/v1/catalog/service/web";
    let v1 = filtered(&s, path, r#""v1" in ServiceTags"#).await;
    assert_eq!(field(&v1, "ServiceID"), ["web1"]);
    let prod = filtered(&s, path, r#"ServiceMeta["env"] == prod"#).await;
    assert_eq!(field(&prod, "ServiceID"), ["web1"]);
    let dev = filtered(
        &s,
        path,
        r#"ServiceMeta.env == "dev" and ServicePort == 8081"#,
    )
    .await;
    assert_eq!(field(&dev, "ServiceID"), ["web2"]);
    assert_eq!(
        filtered(&s, path, "ServiceMeta.env == staging").await,
        json!([])
    );

    // /v1/catalog/services filters the instances, then groups them: web keeps only v1.
    let svcs = filtered(&s, "/v1/catalog/services", "ServiceMeta.env == prod").await;
    assert_eq!(svcs, json!({"db": ["primary"], "web": ["v1"]}));
    let on_ext = filtered(&s, "/v1/catalog/services", r#"Node matches "^web""#).await;
    assert_eq!(on_ext, json!({"api": ["v1"]}));
    assert_eq!(
        filtered(&s, "/v1/catalog/services", "ServiceName == nope").await,
        json!({})
    );
    let unfiltered = s.json("/v1/catalog/services").await;
    assert_eq!(keys(&unfiltered), ["api", "consul", "db", "web"]);
    assert_eq!(unfiltered["web"], json!(["v1", "v2"]));
    assert_eq!(filtered(&s, "/v1/catalog/services", "").await, unfiltered);

    // NodeService: node-services (a list) and node (a map by ID).
    let path = "/v1/catalog/node-services/test-node";
    let db = filtered(&s, path, "Service == db").await;
    assert_eq!(db["Node"]["Node"], "test-node");
    assert_eq!(field(&db["Services"], "ID"), ["db1"]);
    let v2 = filtered(&s, path, r#"Tags contains "v2""#).await;
    assert_eq!(field(&v2["Services"], "ID"), ["web2"]);
    let none = filtered(&s, path, "Port == 1").await;
    assert_eq!(none["Services"], json!([]));

    let path = "/v1/catalog/node/test-node";
    let prod = filtered(&s, path, r#"Meta.env == "prod""#).await;
    assert_eq!(keys(&prod["Services"]), ["db1", "web1"]);
    assert_eq!(
        filtered(&s, path, "Service == nope").await["Services"],
        json!({})
    );
}

#[tokio::test]
async fn health_and_agent_endpoints_filter() {
    let s = seeded().await;

    // HealthCheck lists
    let path = "/v1/health/node/test-node";
    let crit = filtered(&s, path, "Status == critical").await;
    assert_eq!(field(&crit, "CheckID"), ["service:web2"]);
    let serf = filtered(&s, path, "CheckID == serfHealth").await;
    assert_eq!(field(&serf, "CheckID"), ["serfHealth"]);
    assert_eq!(filtered(&s, path, "Status == warning").await, json!([]));

    let path = "/v1/health/checks/web";
    let one = filtered(&s, path, "ServiceID == web1").await;
    assert_eq!(field(&one, "CheckID"), ["service:web1"]);
    assert_eq!(filtered(&s, path, "Status == warning").await, json!([]));

    let any = filtered(&s, "/v1/health/state/any", "ServiceName == web").await;
    assert_eq!(field(&any, "CheckID"), ["service:web1", "service:web2"]);
    let v1 = filtered(&s, "/v1/health/state/passing", r#""v1" in ServiceTags"#).await;
    assert_eq!(field(&v1, "CheckID"), ["service:web1"]);
    assert_eq!(
        filtered(&s, "/v1/health/state/critical", "ServiceName == db").await,
        json!([])
    );

    // CheckServiceNode
    let path = "/v1/health/service/web";
    let ids = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Service"]["ID"].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    };
    let v1 = filtered(&s, path, r#"Service.Tags contains "v1""#).await;
    assert_eq!(ids(&v1), ["web1"]);
    let prod = filtered(&s, path, r#"Service.Meta.env == "prod""#).await;
    assert_eq!(ids(&prod), ["web1"]);
    // Any check of the entry: serfHealth passes on both.
    let passing = filtered(&s, path, "Checks.Status == passing").await;
    assert_eq!(ids(&passing), ["web1", "web2"]);
    let crit = filtered(&s, path, "Checks.Status == critical").await;
    assert_eq!(ids(&crit), ["web2"]);
    let node = filtered(&s, path, r#"Node.Node matches "^test""#).await;
    assert_eq!(ids(&node), ["web1", "web2"]);
    assert_eq!(
        filtered(&s, path, "Checks.Status == warning").await,
        json!([])
    );

    // AgentService and AgentCheck map values
    let prod = filtered(&s, "/v1/agent/services", "Meta.env == prod").await;
    assert_eq!(keys(&prod), ["db1", "web1"]);
    let v2 = filtered(&s, "/v1/agent/services", r#"Tags contains "v2""#).await;
    assert_eq!(keys(&v2), ["web2"]);
    assert_eq!(
        filtered(&s, "/v1/agent/services", "Service == nope").await,
        json!({})
    );
    let crit = filtered(&s, "/v1/agent/checks", "Status == critical").await;
    assert_eq!(keys(&crit), ["service:web2"]);
    assert_eq!(
        filtered(&s, "/v1/agent/checks", "Status == warning").await,
        json!({})
    );

    // Member
    let me = filtered(&s, "/v1/agent/members", r#"Name matches "^test""#).await;
    assert_eq!(field(&me, "Name"), ["test-node"]);
    let alive = filtered(
        &s,
        "/v1/agent/members",
        r#"Status == 1 and Tags["dc"] == dc1"#,
    )
    .await;
    assert_eq!(field(&alive, "Name"), ["test-node"]);
    assert_eq!(
        filtered(&s, "/v1/agent/members", "Tags.dc == dc2").await,
        json!([])
    );
}

#[tokio::test]
async fn bad_filters_are_400_in_consuls_words() {
    let s = TestServer::start().await;
    for path in [
        "/v1/catalog/nodes",
        "/v1/catalog/services",
        "/v1/catalog/service/consul",
        "/v1/catalog/node/test-node",
        "/v1/catalog/node-services/test-node",
        "/v1/health/node/test-node",
        "/v1/health/checks/consul",
        "/v1/health/state/any",
        "/v1/health/service/consul",
        "/v1/agent/services",
        "/v1/agent/checks",
        "/v1/agent/members",
    ] {
        let (st, body) = s.get(&with_filter(path, "Nope == 1")).await.unwrap();
        assert_eq!(
            (st, body.as_str()),
            (
                400,
                r#"Failed to create boolean expression evaluator: Selector "Nope" is not valid"#
            ),
            "{path}"
        );
        let (st, body) = s.get(&with_filter(path, "(")).await.unwrap();
        assert_eq!(st, 400, "{path}: {body}");
        assert!(body.starts_with(PREFIX), "{path}: {body}");
        assert!(body.contains("1:2 (1): no match found"), "{path}: {body}");
    }
    // An operator the field's type does not take.
    let (st, body) = s
        .get(&with_filter(
            "/v1/catalog/service/consul",
            r#"ServicePort matches "8""#,
        ))
        .await
        .unwrap();
    assert_eq!(st, 400, "{body}");
    assert!(
        body.starts_with(&format!("{PREFIX}Invalid match operator")),
        "{body}"
    );

    // Refused before the blocking wait, not after it.
    let (_, headers, _) = s.get_full("/v1/catalog/nodes").await;
    let index: u64 = headers["X-Consul-Index"].to_str().unwrap().parse().unwrap();
    let started = Instant::now();
    let path = format!("/v1/catalog/nodes?index={index}&wait=20s");
    let (st, _) = s.get(&with_filter(&path, "Nope == 1")).await.unwrap();
    assert_eq!(st, 400);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn cli_passes_filter() {
    let s = seeded().await;
    let (code, out, err) = s.cli(&["catalog", "nodes", r#"-filter=Node matches "^web""#]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("web-ext") && !out.contains("test-node"),
        "{out}"
    );

    let (code, out, err) = s.cli(&["catalog", "services", "-filter=ServiceMeta.env == prod"]);
    assert_eq!((code, out.as_str()), (0, "db\nweb\n"), "{err}");
    let (code, out, err) = s.cli(&[
        "catalog",
        "services",
        "-tags",
        "-filter",
        r#""v1" in ServiceTags"#,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("api") && out.contains("web") && !out.contains("db"),
        "{out}"
    );

    let (code, _, err) = s.cli(&["catalog", "nodes", "-filter=Nope == 1"]);
    assert_eq!(code, 1);
    assert!(err.contains(r#"Selector "Nope" is not valid"#), "{err}");

    let (code, out, err) = s.cli(&["members", r#"-filter=Name == "test-node""#]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("test-node"), "{out}");
    let (code, out, _) = s.cli(&["members", "-filter=Name == nope"]);
    assert_eq!((code, out.as_str()), (2, ""));
}
