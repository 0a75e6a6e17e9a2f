//! Sessions and locks: acquire/release, LockIndex, lock-delay, TTL expiry, behaviors.

use crate::common::{wait_until, TestServer};
use serde_json::Value;
use std::time::Duration;

async fn create(s: &TestServer, body: &str) -> String {
    let (st, b) = s.put("/v1/session/create", body.to_string()).await;
    assert_eq!(st, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    v["ID"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn locks_follow_sessions() {
    let s = TestServer::start().await;
    let a = create(&s, r#"{"Name":"a","LockDelay":"1s"}"#).await;
    let b = create(&s, "").await;
    let info = s.json(&format!("/v1/session/info/{a}")).await;
    assert_eq!(info[0]["LockDelay"], 1_000_000_000i64);
    assert_eq!(info[0]["NodeChecks"], serde_json::json!(["serfHealth"]));
    assert_eq!(info[0]["Behavior"], "release");
    assert_eq!(info[0]["Node"], "test-node");

    assert_eq!(
        s.put(&format!("/v1/kv/lock?acquire={a}"), "x").await.1,
        "true"
    );
    assert_eq!(
        s.put(&format!("/v1/kv/lock?acquire={b}"), "y").await.1,
        "false"
    );
    let kv = s.json("/v1/kv/lock").await;
    assert_eq!(kv[0]["LockIndex"], 1);
    assert_eq!(kv[0]["Session"], a.as_str());
    assert_eq!(
        s.put(&format!("/v1/kv/lock?release={b}"), "").await.1,
        "false"
    );
    assert_eq!(
        s.put(&format!("/v1/kv/lock?release={a}"), "x").await.1,
        "true"
    );
    assert!(s.json("/v1/kv/lock").await[0].get("Session").is_none());
    assert_eq!(
        s.put(&format!("/v1/kv/lock?acquire={b}"), "y").await.1,
        "true"
    );
    assert_eq!(s.json("/v1/kv/lock").await[0]["LockIndex"], 2);

    // Destroying b releases its lock and starts b's lock-delay (15s default): a cannot take it.
    assert_eq!(
        s.put(&format!("/v1/session/destroy/{b}"), "").await.1,
        "true"
    );
    assert!(s.json("/v1/kv/lock").await[0].get("Session").is_none());
    assert_eq!(
        s.put(&format!("/v1/kv/lock?acquire={a}"), "z").await.1,
        "false"
    );

    let (st, body) = s
        .put(
            "/v1/kv/other?acquire=00000000-0000-0000-0000-000000000000",
            "",
        )
        .await;
    assert_eq!(
        (st, body.as_str()),
        (
            500,
            "invalid session \"00000000-0000-0000-0000-000000000000\""
        )
    );
}

#[tokio::test]
async fn ttl_expiry_deletes_with_delete_behavior() {
    let s = TestServer::start_with(&[]).await;
    let id = create(&s, r#"{"TTL":"10s","Behavior":"delete","LockDelay":0}"#).await;
    assert_eq!(
        s.put(&format!("/v1/kv/eph?acquire={id}"), "x").await.1,
        "true"
    );
    let (st, body) = s.put(&format!("/v1/session/renew/{id}"), "").await;
    assert_eq!(st, 200, "{body}");
    let renewed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(renewed[0]["TTL"], "10s");
    // Consul arms the timer at 2 x TTL.
    let gone = wait_until(Duration::from_secs(30), || async {
        s.json(&format!("/v1/session/info/{id}")).await == serde_json::json!([])
    })
    .await;
    assert!(gone, "session did not expire");
    assert_eq!(
        s.get("/v1/kv/eph").await.unwrap().0,
        404,
        "delete behavior removes the key"
    );
}
