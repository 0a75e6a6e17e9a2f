//! JSON shapes, status codes and error texts of the HTTP API, against the spec's examples.

use crate::common::TestServer;
use serde_json::{json, Value};

fn keys(v: &Value) -> Vec<String> {
    // serde_json without preserve_order sorts keys; compare key sets, and raw bodies for order.
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn agent_service_register_shows_everywhere_in_consul_shapes() {
    let s = TestServer::start().await;
    let (st, body) = s
        .put(
            "/v1/agent/service/register",
            r#"{"id":"web1","name":"web","tags":["v1","primary"],"address":"127.0.0.1","port":8080,
                "meta":{"version":"1"},"check":{"ttl":"30s","status":"passing"}}"#,
        )
        .await;
    assert_eq!((st, body.as_str()), (200, ""));

    let services = s.json("/v1/agent/services").await;
    let web = &services["web1"];
    assert_eq!(web["Service"], "web");
    assert_eq!(web["Tags"], json!(["v1", "primary"]));
    assert_eq!(web["Meta"], json!({"version": "1"}));
    assert_eq!(web["Weights"], json!({"Passing": 1, "Warning": 1}));
    assert_eq!(web["Datacenter"], "dc1");
    assert!(
        services.get("consul").is_none(),
        "the consul service is not an agent service"
    );

    // Raw body: Go key order of api.AgentService.
    let (_, raw) = s.get("/v1/agent/services").await.unwrap();
    assert!(raw.starts_with(r#"{"web1":{"ID":"web1","Service":"web","Tags":["v1","primary"],"Meta":{"version":"1"},"Port":8080,"Address":"127.0.0.1","Weights""#), "{raw}");

    let cat = s.json("/v1/catalog/service/web").await;
    let e = &cat[0];
    assert_eq!(e["Node"], "test-node");
    assert_eq!(e["ServiceID"], "web1");
    assert_eq!(e["ServicePort"], 8080);
    assert_eq!(
        e["ServiceProxy"],
        json!({"Mode":"","MeshGateway":{},"Expose":{}})
    );
    assert_eq!(e["ServiceConnect"], json!({}));
    assert_eq!(e["ServiceLocality"], Value::Null);
    for k in [
        "ID",
        "Address",
        "Datacenter",
        "TaggedAddresses",
        "NodeMeta",
        "ServiceKind",
        "ServiceTags",
        "ServiceAddress",
        "ServiceWeights",
        "ServiceMeta",
        "ServiceSocketPath",
        "ServiceEnableTagOverride",
        "CreateIndex",
        "ModifyIndex",
    ] {
        assert!(keys(e).contains(&k.to_string()), "missing {k} in {e}");
    }

    let health = s.json("/v1/health/service/web?passing").await;
    assert_eq!(health.as_array().unwrap().len(), 1);
    let checks: Vec<&str> = health[0]["Checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CheckID"].as_str().unwrap())
        .collect();
    assert_eq!(checks, vec!["serfHealth", "service:web1"]);
    assert_eq!(health[0]["Service"]["PeerName"], "");

    let svcs = s.json("/v1/catalog/services").await;
    assert_eq!(svcs["consul"], json!([]));
    assert_eq!(svcs["web"], json!(["primary", "v1"]));

    let node = s.json("/v1/catalog/node/test-node").await;
    assert_eq!(node["Services"]["web1"]["Service"], "web");
    assert_eq!(node["Services"]["consul"]["Port"], s.server_port());

    // Deregistration removes it from every view.
    let (st, _) = s.put("/v1/agent/service/deregister/web1", "").await;
    assert_eq!(st, 200);
    assert_eq!(s.json("/v1/catalog/service/web").await, json!([]));
    assert_eq!(s.json("/v1/health/service/web").await, json!([]));
}

#[tokio::test]
async fn errors_have_consul_status_and_text() {
    let s = TestServer::start().await;
    let cases: Vec<(&str, &str, &str, u16, &str)> = vec![
        ("PUT", "/v1/agent/service/register", "", 400, "Request decode failed: EOF"),
        ("PUT", "/v1/agent/service/register", "{not json", 400, "Request decode failed"),
        ("PUT", "/v1/agent/service/register", r#"{"port":1}"#, 400, "Missing service name"),
        ("PUT", "/v1/agent/service/register", r#"{"name":"x","port":"eighty"}"#, 400, "Request decode failed"),
        ("PUT", "/v1/agent/service/register", r#"{"name":"x","address":"0.0.0.0"}"#, 400, "Invalid service address"),
        ("PUT", "/v1/agent/service/deregister/nope", "", 404, "Unknown service ID \"nope\". Ensure that the service ID is passed, not the service name."),
        ("PUT", "/v1/agent/check/pass/nope", "", 404, "Unknown check ID \"nope\". Ensure that the check ID is passed, not the check name."),
        ("PUT", "/v1/agent/check/register", r#"{"ttl":"10s"}"#, 400, "Missing check name"),
        ("PUT", "/v1/agent/check/register", r#"{"name":"c","ttl":"10s","serviceid":"ghost"}"#, 404, "ServiceID \"ghost\" does not exist"),
        ("GET", "/v1/kv/a?index=abc", "", 400, "Invalid index"),
        ("GET", "/v1/kv/a?index=1&wait=forever", "", 400, "Invalid wait time"),
        ("GET", "/v1/kv/a?stale&consistent", "", 400, "Cannot specify ?stale with ?consistent, conflicting semantics."),
        ("GET", "/v1/health/service/web?passing=maybe", "", 400, "Invalid value for ?passing"),
        ("GET", "/v1/agent/check/pass/x", "", 405, "method GET not allowed"),
        ("GET", "/v1/nope", "", 404, "Invalid URL path: not a recognized HTTP API endpoint"),
        ("PUT", "/v1/catalog/register", r#"{"Address":"1.2.3.4"}"#, 500, "Must provide node"),
        ("GET", "/v1/catalog/nodes?dc=elsewhere", "", 500, "No path to datacenter"),
        ("PUT", "/v1/session/create?dc=dc2", "", 500, "No path to datacenter"),
        ("PUT", "/v1/catalog/deregister?dc=dc2", r#"{"Node":"n"}"#, 500, "No path to datacenter"),
        ("PUT", "/v1/kv/a?dc=dc2", "v", 500, "No path to datacenter"),
        ("PUT", "/v1/catalog/deregister", r#"{"Node":"n","Datacenter":"dc2"}"#, 500, "No path to datacenter"),
        ("GET", "/v1/kv/x?ns=team", "", 400, "Invalid query parameter: \"ns\" - Namespaces are a Consul Enterprise feature"),
        ("PUT", "/v1/session/renew/00000000-0000-0000-0000-000000000000", "", 404, "Session id '00000000-0000-0000-0000-000000000000' not found"),
        ("PUT", "/v1/session/create", r#"{"TTL":"1s"}"#, 500, "Invalid Session TTL '1000000000', must be between [10s=24h0m0s]"),
        ("PUT", "/v1/session/create", r#"{"Behavior":"explode"}"#, 500, "Invalid Behavior setting 'explode'"),
    ];
    for (method, path, body, status, text) in cases {
        let r = match method {
            "GET" => s.http.get(s.url(path)).send().await.unwrap(),
            _ => s
                .http
                .put(s.url(path))
                .body(body.to_string())
                .send()
                .await
                .unwrap(),
        };
        let st = r.status().as_u16();
        let got = r.text().await.unwrap();
        assert_eq!(st, status, "{method} {path} {body}: {got}");
        assert!(
            got.starts_with(text),
            "{method} {path}: got {got:?}, want prefix {text:?}"
        );
    }
    // Nothing of the refused writes landed.
    assert_eq!(s.json("/v1/agent/services").await, json!({}));
}

#[tokio::test]
async fn catalog_register_and_deregister_external_node() {
    let s = TestServer::start().await;
    let (st, body) = s
        .put(
            "/v1/catalog/register",
            r#"{"Node":"ext1","Address":"10.1.1.1","NodeMeta":{"rack":"a"},
                "Service":{"Service":"db","Port":5432,"Tags":["primary"]},
                "Check":{"CheckID":"db-alive","Name":"db alive","Status":"passing","ServiceID":"db"}}"#,
        )
        .await;
    assert_eq!((st, body.as_str()), (200, "true"));
    let nodes = s.json("/v1/catalog/nodes").await;
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Node"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["ext1", "test-node"]);
    assert_eq!(
        s.json("/v1/catalog/nodes?node-meta=rack:a")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let h = s.json("/v1/health/service/db?passing=1").await;
    assert_eq!(h[0]["Node"]["Address"], "10.1.1.1");
    assert_eq!(
        s.json("/v1/catalog/service/db?tag=PRIMARY")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.json("/v1/catalog/service/db?tag=replica").await,
        json!([])
    );
    let (_, body) = s.get("/v1/catalog/node/ghost").await.unwrap();
    assert_eq!(body, "null");
    let (st, _) = s.put("/v1/catalog/deregister", r#"{"Node":"ext1"}"#).await;
    assert_eq!(st, 200);
    assert_eq!(s.json("/v1/catalog/service/db").await, json!([]));
    assert_eq!(
        s.json("/v1/health/state/any")
            .await
            .as_array()
            .unwrap()
            .len(),
        1,
        "only serfHealth remains"
    );
}

#[tokio::test]
async fn status_members_and_self() {
    let s = TestServer::start().await;
    let leader = s.json("/v1/status/leader").await;
    assert_eq!(leader, json!(format!("127.0.0.1:{}", s.server_port())));
    assert_eq!(
        s.json("/v1/status/peers").await,
        json!([format!("127.0.0.1:{}", s.server_port())])
    );
    let members = s.json("/v1/agent/members?segment=_all").await;
    assert_eq!(members[0]["Name"], "test-node");
    assert_eq!(members[0]["Status"], 1);
    assert_eq!(members[0]["Tags"]["role"], "consul");
    let me = s.json("/v1/agent/self").await;
    assert_eq!(me["Config"]["NodeName"], "test-node");
    assert_eq!(me["Stats"]["consul"]["leader"], "true");
    assert!(me["Stats"].as_object().unwrap().values().all(|sec| sec
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string)));
    let (st, headers, _) = s.get_full("/v1/catalog/services").await;
    assert_eq!(st, 200);
    assert_ne!(headers["x-consul-index"], "0");
    assert_eq!(headers["x-consul-knownleader"], "true");
    assert_eq!(headers["x-consul-lastcontact"], "0");
}

#[tokio::test]
async fn a_refused_catalog_registration_writes_nothing() {
    let s = TestServer::start().await;
    // The check names a service that is neither registered here nor already on the node.
    let body = r#"{"Node":"half","Address":"10.1.1.1",
        "Service":{"ID":"web1","Service":"web","Port":80},
        "Checks":[{"CheckID":"ok","Name":"ok","ServiceID":"web1"},
                  {"CheckID":"bad","Name":"bad","ServiceID":"nope"}]}"#;
    let (code, text) = s.put("/v1/catalog/register", body).await;
    assert_ne!(code, 200, "{text}");
    assert!(text.contains("nope"), "{text}");
    let (code, node) = s.get("/v1/catalog/node/half").await.unwrap();
    assert_eq!((code, node.as_str()), (200, "null"), "the node was written");
    let services: Value = s.json("/v1/catalog/services").await;
    assert!(services.get("web").is_none(), "{services}");
    // Whole, it is written whole.
    let (code, text) = s
        .put(
            "/v1/catalog/register",
            body.replace("\"nope\"", "\"web1\"")
                .replace("\"bad\"", "\"bad2\""),
        )
        .await;
    assert_eq!(code, 200, "{text}");
    let checks: Value = s.json("/v1/health/node/half").await;
    assert_eq!(checks.as_array().map(|a| a.len()), Some(2), "{checks}");
}

/// `/v1/operator/usage`: Consul's counts (the `consul` service is not billable), by datacenter.
#[tokio::test]
async fn operator_usage_counts_services_instances_and_nodes() {
    let s = TestServer::start().await;
    for (node, id) in [("n1", "web-1"), ("n1", "web-2"), ("n2", "db-1")] {
        let body = json!({
            "Node": node, "Address": "10.0.0.1",
            "Service": {"Service": id.split('-').next().unwrap(), "ID": id, "Port": 80},
        });
        let (code, text) = s.put("/v1/catalog/register", body.to_string()).await;
        assert_eq!(code, 200, "{text}");
    }
    let (code, headers, body) = s.get_full("/v1/operator/usage").await;
    assert_eq!(code, 200, "{body}");
    assert!(headers.contains_key("x-consul-index"));
    let v: Value = serde_json::from_str(&body).unwrap();
    let dc1 = &v["Usage"]["dc1"];
    assert_eq!(dc1["Services"], 3, "{v}");
    assert_eq!(dc1["ServiceInstances"], 4, "{v}");
    assert_eq!(dc1["BillableServiceInstances"], 3, "{v}");
    assert_eq!(dc1["Nodes"], 3, "{v}");
    assert_eq!(dc1["ConnectServiceInstances"]["connect-proxy"], 0, "{v}");
    assert_eq!(
        dc1["ConnectServiceInstances"].as_object().unwrap().len(),
        6,
        "{v}"
    );
}
