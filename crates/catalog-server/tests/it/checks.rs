//! Health checks run by the agent against real targets, and `?passing` following them.

use crate::common::{wait_until, TestServer};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A tiny HTTP server answering with a status that the test can change.
async fn http_target(status: Arc<AtomicU16>) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let code = status.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = c.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = c.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

async fn status_of(s: &TestServer, check: &str) -> String {
    let checks = s.json("/v1/health/state/any").await;
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["CheckID"] == check)
        .map(|c| c["Status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn http_check_transitions_and_passing_filter() {
    let s = TestServer::start().await;
    let code = Arc::new(AtomicU16::new(200));
    let port = http_target(code.clone()).await;
    let reg = format!(
        r#"{{"name":"api","port":{port},"check":{{"http":"http://127.0.0.1:{port}/health","interval":"1s"}}}}"#
    );
    assert_eq!(s.put("/v1/agent/service/register", reg).await.0, 200);
    // Initial status is critical until the first probe passes.
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&s, "service:api").await == "passing"
        })
        .await
    );
    assert_eq!(
        s.json("/v1/health/service/api?passing")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let out = s.json("/v1/agent/checks").await["service:api"]["Output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        out.starts_with(&format!("HTTP GET http://127.0.0.1:{port}/health: 200")),
        "{out}"
    );

    code.store(429, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&s, "service:api").await == "warning"
        })
        .await
    );
    assert_eq!(
        s.json("/v1/health/service/api?passing")
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );

    code.store(500, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&s, "service:api").await == "critical"
        })
        .await
    );
    code.store(200, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&s, "service:api").await == "passing"
        })
        .await
    );
}

#[tokio::test]
async fn tcp_check_follows_listener() {
    let s = TestServer::start().await;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let reg = format!(
        r#"{{"name":"tcpsvc","port":{port},"check":{{"tcp":"127.0.0.1:{port}","interval":"1s"}}}}"#
    );
    assert_eq!(s.put("/v1/agent/service/register", reg).await.0, 200);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&s, "service:tcpsvc").await == "passing"
        })
        .await
    );
    drop(l);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&s, "service:tcpsvc").await == "critical"
        })
        .await
    );
}

#[tokio::test]
async fn ttl_check_updates_and_expires() {
    let s = TestServer::start().await;
    let (st, b) = s
        .put(
            "/v1/agent/check/register",
            r#"{"Name":"heartbeat","TTL":"2s"}"#,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(status_of(&s, "heartbeat").await, "critical");
    assert_eq!(
        s.put("/v1/agent/check/pass/heartbeat?note=alive", "")
            .await
            .0,
        200
    );
    let c = s.json("/v1/agent/checks").await;
    assert_eq!(c["heartbeat"]["Status"], "passing");
    assert_eq!(c["heartbeat"]["Output"], "alive");
    assert_eq!(c["heartbeat"]["Type"], "ttl");
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&s, "heartbeat").await == "critical"
        })
        .await
    );
    let c = s.json("/v1/agent/checks").await;
    // Consul keeps the last output after the expiry notice.
    assert_eq!(
        c["heartbeat"]["Output"],
        "TTL expired (last output before timeout follows): alive"
    );
    let (st, _) = s
        .put(
            "/v1/agent/check/update/heartbeat",
            r#"{"Status":"warning","Output":"slow"}"#,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(status_of(&s, "heartbeat").await, "warning");
    let (st, body) = s
        .put("/v1/agent/check/update/heartbeat", r#"{"Status":"bogus"}"#)
        .await;
    assert_eq!((st, body.as_str()), (400, "Invalid check status: 'bogus'"));
}

/// `/v1/agent/health/service/id/:id` and `/name/:name`: the aggregated status of an instance's
/// checks and the node's, as 200/429/503 (404 when unknown), JSON or `?format=text`.
#[tokio::test]
async fn agent_health_by_service_id_and_name() {
    let s = TestServer::start().await;
    for (id, status) in [("web-1", "passing"), ("web-2", "warning")] {
        let body = format!(
            r#"{{"ID":"{id}","Name":"web","Port":80,"Check":{{"TTL":"60s","Status":"{status}"}}}}"#
        );
        let (st, b) = s.put("/v1/agent/service/register", body).await;
        assert_eq!(st, 200, "{b}");
    }
    let (st, _, body) = s.get_full("/v1/agent/health/service/id/web-1").await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["AggregatedStatus"], "passing");
    assert_eq!(v["Service"]["ID"], "web-1");
    assert_eq!(v["Checks"][0]["CheckID"], "service:web-1");
    assert_eq!(
        s.get("/v1/agent/health/service/id/web-2?format=text")
            .await
            .unwrap(),
        (429, "warning".to_string())
    );
    let (st, _, body) = s.get_full("/v1/agent/health/service/name/web").await;
    assert_eq!(st, 429, "the worst of the two: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{body}");
    s.put("/v1/agent/check/fail/service:web-1", "").await;
    assert_eq!(
        s.get("/v1/agent/health/service/name/web?format=text")
            .await
            .unwrap(),
        (503, "critical".to_string())
    );
    s.put("/v1/agent/maintenance?enable=true", "").await;
    assert_eq!(
        s.get("/v1/agent/health/service/id/web-2?format=text")
            .await
            .unwrap(),
        (503, "maintenance".to_string())
    );
    assert_eq!(
        s.get("/v1/agent/health/service/id/nope?format=text")
            .await
            .unwrap(),
        (404, "ServiceId nope not found".to_string())
    );
    let (st, body) = s.get("/v1/agent/health/service/id/nope").await.unwrap();
    assert_eq!(st, 404);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["AggregatedStatus"], "critical");
    assert!(v["Service"].is_null() && v["Checks"].is_null(), "{body}");
    assert_eq!(
        s.get("/v1/agent/health/service/name/nope?format=text")
            .await
            .unwrap(),
        (404, "ServiceName nope Not Found".to_string())
    );
}
