//! The service mesh is not implemented: what only it gives a meaning to is refused by name at
//! registration (nothing is stored without the part that made it a proxy or a gateway), and
//! its read endpoints answer the resulting truth, an empty list, as Consul does for a service
//! without connect-capable instances.

use crate::common::TestServer;
use serde_json::{json, Value};

#[tokio::test]
async fn mesh_registrations_are_refused_by_name() {
    let s = TestServer::start().await;
    for (body, what) in [
        (
            json!({"Name": "p", "Kind": "connect-proxy", "Proxy": {"DestinationServiceName": "web"}}),
            "service kind \"connect-proxy\"",
        ),
        (
            json!({"Name": "gw", "Kind": "mesh-gateway"}),
            "service kind \"mesh-gateway\"",
        ),
        (
            json!({"Name": "web", "Proxy": {"DestinationServiceName": "x"}}),
            "Proxy",
        ),
        (
            json!({"Name": "web", "Connect": {"Native": true}}),
            "Connect",
        ),
        (
            json!({"Name": "web", "Connect": {"SidecarService": {}}}),
            "Connect",
        ),
    ] {
        let (st, b) = s.put("/v1/agent/service/register", body.to_string()).await;
        assert_eq!(st, 400, "{body}: {b}");
        assert!(
            b.contains(what) && b.contains("service mesh"),
            "{body}: {b}"
        );
    }
    let (st, b) = s
        .put(
            "/v1/catalog/register",
            json!({"Node": "n", "Address": "10.0.0.1", "Service": {"Service": "gw", "Kind": "terminating-gateway"}}).to_string(),
        )
        .await;
    assert_eq!(st, 500, "{b}");
    assert!(b.contains("service kind \"terminating-gateway\""), "{b}");
    assert_eq!(s.json("/v1/catalog/services").await, json!({"consul": []}));
    // Empty or null mesh fields are absent ones.
    let (st, b) = s
        .put(
            "/v1/agent/service/register",
            json!({"Name": "web", "Kind": "", "Proxy": null, "Connect": {}}).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test]
async fn the_mesh_read_endpoints_answer_an_empty_list_with_the_service_index() {
    let s = TestServer::start().await;
    let (st, b) = s
        .put(
            "/v1/agent/service/register",
            json!({"Name": "web", "Port": 80}).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    for path in [
        "/v1/catalog/connect/web",
        "/v1/health/connect/web?passing",
        "/v1/health/ingress/web",
    ] {
        let (st, headers, body) = s.get_full(path).await;
        assert_eq!(st, 200, "{path}: {body}");
        assert!(headers.contains_key("x-consul-index"), "{path}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v, json!([]), "{path}");
    }
    let (st, _, body) = s
        .get_full("/v1/catalog/connect/web?filter=not%20valid((")
        .await;
    assert_eq!(
        st, 400,
        "a bad filter is refused as on the service's own query: {body}"
    );
}
