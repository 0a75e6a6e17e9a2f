//! The web UI: `/` and `/ui/` routing with and without `-ui`, caching and gzip of the pages,
//! the internal endpoints' shapes and blocking, and a real headless Chromium clicking through
//! services → instances → node, following live changes, editing KV and reconnecting after a
//! restart. Screenshots land in `target/ui-screenshots/`.

mod browser;
mod cdp;

use crate::common::TestServer;
use std::time::Duration;

/// A server named `node` (the tutorial's `consul-server01`) with `extra` flags, whose client
/// does not follow redirects.
async fn start_node(node: &str, extra: &[&str]) -> TestServer {
    let mut s = TestServer::new(
        TestServer::builder()
            .node(node)
            .args(extra.iter().copied())
            .build(),
    );
    s.http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    spawn(&mut s).await;
    s
}

/// Starts (or restarts) the agent and waits until it registered itself.
async fn spawn(s: &mut TestServer) {
    s.start().await;
}

async fn register(s: &TestServer, id: &str, name: &str, port: u16) {
    let body = format!(
        r#"{{"ID":"{id}","Name":"{name}","Address":"127.0.0.1","Port":{port},"Tags":["web","v1"],
            "Meta":{{"container":"{id}"}},"Check":{{"TTL":"60s","Status":"passing"}}}}"#
    );
    let (st, b) = s.put("/v1/agent/service/register", body).await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test]
async fn ui_routes_caching_and_gzip() {
    let s = start_node("consul-server01", &["-ui"]).await;
    let (st, h, _) = s.get_full("/").await;
    assert_eq!((st, h["location"].to_str().unwrap()), (301, "/ui/"));
    let (st, h, _) = s.get_full("/ui/").await;
    assert_eq!(
        (st, h["location"].to_str().unwrap()),
        (302, "/ui/dc1/services")
    );
    for page in [
        "services",
        "services/nginx/instances",
        "nodes",
        "nodes/consul-server01",
        "kv/a/b/",
    ] {
        let (st, h, body) = s.get_full(&format!("/ui/dc1/{page}")).await;
        assert_eq!(st, 200, "{page}");
        assert!(body.contains("consul-ui-config") && body.len() < 100 * 1024);
        assert_eq!(h["cache-control"], "no-cache");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    let (_, h, _) = s.get_full("/ui/dc1/services").await;
    let etag = h["etag"].clone();
    let r = s
        .http
        .get(s.url("/ui/dc1/services"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    for asset in ["app.js", "kv.js", "style.css"] {
        let (st, h, body) = s.get_full(&format!("/ui/assets/{asset}")).await;
        assert_eq!(st, 200);
        assert!(h["cache-control"].to_str().unwrap().contains("max-age"));
        assert!(h.contains_key("etag"));
        println!("page size: {asset} {} bytes", body.len());
        assert!(body.len() < 100 * 1024);
        let r = s
            .http
            .get(s.url(&format!("/ui/assets/{asset}")))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-encoding"], "gzip", "{asset}");
    }
    let (st, _, _) = s.get_full("/ui/assets/nope.js").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn ui_disabled_answers_like_consul() {
    let s = start_node("consul-server01", &[]).await;
    let (st, body) = s.get("/").await.unwrap();
    assert_eq!(st, 200);
    assert_eq!(body, "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.");
    for p in ["/ui/", "/ui/dc1/services", "/ui/assets/app.js"] {
        assert_eq!(s.get(p).await.unwrap().0, 404, "{p}");
    }
    // The internal endpoints are part of the API and stay available.
    assert_eq!(s.get("/v1/internal/ui/services").await.unwrap().0, 200);
}

#[tokio::test]
async fn internal_ui_endpoints_shapes_and_blocking() {
    let s = start_node("consul-server01", &[]).await;
    register(&s, "test-01", "nginx", 81).await;
    register(&s, "test-02", "nginx", 82).await;
    let (st, h, body) = s.get_full("/v1/internal/ui/services?dc=dc1").await;
    assert_eq!(st, 200);
    let idx: u64 = h["x-consul-index"].to_str().unwrap().parse().unwrap();
    assert!(idx > 0 && h.contains_key("x-consul-lastcontact"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["consul", "nginx"]);
    let nginx = &v[1];
    assert_eq!(nginx["InstanceCount"], 2);
    assert_eq!(nginx["Nodes"], serde_json::json!(["consul-server01"]));
    assert_eq!(nginx["Tags"], serde_json::json!(["v1", "web"]));
    assert_eq!(
        nginx["ChecksPassing"], 3,
        "two service checks + serfHealth once"
    );
    assert_eq!(nginx["Datacenter"], "dc1");

    let nodes = s.json("/v1/internal/ui/nodes").await;
    assert_eq!(nodes[0]["Node"], "consul-server01");
    assert_eq!(nodes[0]["Services"].as_array().unwrap().len(), 3);
    assert!(nodes[0]["Meta"]["consul-version"].is_string());
    let node = s.json("/v1/internal/ui/node/CONSUL-SERVER01").await;
    assert_eq!(node["Checks"].as_array().unwrap().len(), 3);
    let (st, h, body) = s.get_full("/v1/internal/ui/node/nope").await;
    assert_eq!((st, body.as_str()), (404, ""));
    assert!(h.contains_key("x-consul-index"));

    // Blocking: a registration wakes a parked services query.
    let url = s.url(&format!("/v1/internal/ui/services?index={idx}&wait=20s"));
    let http = s.http.clone();
    let waiter =
        tokio::spawn(async move { http.get(url).send().await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    register(&s, "test-03", "httpd", 83).await;
    let body = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(body.contains("\"httpd\""));

    let r = s
        .http
        .post(s.url("/v1/internal/acl/authorize"))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.text().await.unwrap(), "ACL support disabled");
    assert_eq!(s.get("/v1/internal/acl/authorize").await.unwrap().0, 405);
}
