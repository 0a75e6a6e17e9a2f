//! The agent's gRPC, alias, H2PING and Docker checks against real targets: a tonic gRPC health
//! server, a TTL check it mirrors, an HTTP/2 server, a container.

use crate::common::{wait_until, TestServer};
use std::time::Duration;
use tonic_health::ServingStatus;

/// The status and output of agent check `id`.
async fn check_of(s: &TestServer, id: &str) -> (String, String) {
    let checks = s.json("/v1/agent/checks").await;
    let c = &checks[id];
    (
        c["Status"].as_str().unwrap_or_default().to_string(),
        c["Output"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits until check `id` has `status`; its output then.
async fn wait_status(s: &TestServer, id: &str, status: &str) -> String {
    let ok = wait_until(Duration::from_secs(20), || async {
        check_of(s, id).await.0 == status
    })
    .await;
    let (now, out) = check_of(s, id).await;
    assert!(ok, "{id} never became {status}: {now} {out:?}");
    out
}

#[tokio::test]
async fn grpc_check_follows_the_serving_status() {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("shop.Cart", ServingStatus::Serving)
        .await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l)),
    );

    let s = TestServer::start().await;
    let target = format!("127.0.0.1:{port}/shop.Cart");
    let reg =
        format!(r#"{{"name":"cart","port":{port},"check":{{"grpc":"{target}","interval":"1s"}}}}"#);
    assert_eq!(s.put("/v1/agent/service/register", reg).await.0, 200);
    let out = wait_status(&s, "service:cart", "passing").await;
    assert_eq!(out, format!("gRPC check {target}: success"));
    let checks = s.json("/v1/health/checks/cart").await;
    assert_eq!(checks[0]["Type"], "grpc", "{checks}");

    reporter
        .set_service_status("shop.Cart", ServingStatus::NotServing)
        .await;
    let out = wait_status(&s, "service:cart", "critical").await;
    assert_eq!(out, format!("gRPC {target} serving status: NOT_SERVING"));

    reporter
        .set_service_status("shop.Cart", ServingStatus::Serving)
        .await;
    wait_status(&s, "service:cart", "passing").await;

    // A service the server does not know: the server's NotFound, in grpc-go's words.
    let body =
        format!(r#"{{"name":"unknown-svc","grpc":"127.0.0.1:{port}/no.Such","interval":"1s"}}"#);
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    let found = wait_until(Duration::from_secs(20), || async {
        check_of(&s, "unknown-svc").await.1.starts_with("rpc error")
    })
    .await;
    let (status, out) = check_of(&s, "unknown-svc").await;
    assert!(found, "{status} {out:?}");
    assert_eq!(status, "critical");
    assert!(
        out.starts_with("rpc error: code = NotFound desc = "),
        "{out}"
    );
    server.abort();
}

#[tokio::test]
async fn check_definitions_are_validated_as_consul_does() {
    let s = TestServer::start().await;
    for (body, why) in [
        (
            r#"{"name":"g","grpc":"127.0.0.1:1"}"#,
            "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
        ),
        (
            r#"{"name":"a","alias_service":"web","ttl":"10s"}"#,
            "Invalid check: TTL must be not be set for Alias checks",
        ),
        (
            r#"{"name":"a","alias_service":"web","tcp":"127.0.0.1:1","interval":"10s"}"#,
            "Invalid check: Interval cannot be set for Alias checks",
        ),
        (
            r#"{"name":"g","grpc":"127.0.0.1:1","interval":"10s","ttl":"10s"}"#,
            "Invalid check: Interval and TTL cannot both be specified",
        ),
    ] {
        let (status, text) = s.put("/v1/agent/check/register", body).await;
        assert_eq!((status, text.trim()), (400, why), "{body}");
    }
}

#[tokio::test]
async fn alias_check_mirrors_a_local_service_and_a_catalog_node() {
    let s = TestServer::start().await;
    let web = r#"{"name":"web","port":80,"check":{"ttl":"10m"}}"#;
    assert_eq!(s.put("/v1/agent/service/register", web).await.0, 200);
    let proxy = r#"{"name":"web-proxy","port":81,"check":{"alias_service":"web"}}"#;
    assert_eq!(s.put("/v1/agent/service/register", proxy).await.0, 200);
    let out = wait_status(&s, "service:web-proxy", "critical").await;
    let _ = out;
    assert!(
        wait_until(Duration::from_secs(20), || async {
            check_of(&s, "service:web-proxy").await.1
                == "Aliased check \"Service 'web' check\" failing: "
        })
        .await,
        "{:?}",
        check_of(&s, "service:web-proxy").await
    );
    let checks = s.json("/v1/health/checks/web-proxy").await;
    assert_eq!(checks[0]["Type"], "alias", "{checks}");

    for (verb, status, output) in [
        ("pass", "passing", "All checks passing.".to_string()),
        (
            "warn",
            "warning",
            "Aliased check \"Service 'web' check\" failing: slow".to_string(),
        ),
        (
            "fail",
            "critical",
            "Aliased check \"Service 'web' check\" failing: down".to_string(),
        ),
        ("pass", "passing", "All checks passing.".to_string()),
    ] {
        let note = match verb {
            "warn" => "slow",
            "fail" => "down",
            _ => "",
        };
        let (code, body) = s
            .put(
                &format!("/v1/agent/check/{verb}/service:web?note={note}"),
                "",
            )
            .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(wait_status(&s, "service:web-proxy", status).await, output);
    }

    // A service that is not there.
    let body = r#"{"name":"ghost","alias_service":"nope"}"#;
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            check_of(&s, "ghost").await.1 == "Service nope could not be found on node "
        })
        .await,
        "{:?}",
        check_of(&s, "ghost").await
    );
    assert_eq!(check_of(&s, "ghost").await.0, "critical");

    // Another node's service, read from the catalog.
    let ext = r#"{"Node":"ext","Address":"10.0.0.9","Service":{"Service":"db"},
        "Check":{"Name":"db-check","ServiceID":"db","Status":"passing"}}"#;
    assert_eq!(s.put("/v1/catalog/register", ext).await.0, 200);
    let body = r#"{"name":"db-alias","alias_node":"ext","alias_service":"db"}"#;
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert_eq!(
        wait_status(&s, "db-alias", "passing").await,
        "All checks passing."
    );
    let ext = r#"{"Node":"ext","Address":"10.0.0.9","Service":{"Service":"db"},
        "Check":{"Name":"db-check","ServiceID":"db","Status":"critical","Output":"disk full"}}"#;
    assert_eq!(s.put("/v1/catalog/register", ext).await.0, 200);
    assert_eq!(
        wait_status(&s, "db-alias", "critical").await,
        "Aliased check \"db-check\" failing: disk full"
    );
}
