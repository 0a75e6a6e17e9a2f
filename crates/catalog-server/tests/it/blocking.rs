//! Blocking queries: wake on a relevant change, not on an unrelated one; time out on schedule.

use crate::common::TestServer;
use std::time::{Duration, Instant};

async fn index_of(s: &TestServer, path: &str) -> u64 {
    let (_, h, _) = s.get_full(path).await;
    h["x-consul-index"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn kv_query_wakes_on_its_key_only() {
    let s = TestServer::start().await;
    s.put("/v1/kv/watched", "v1").await;
    let idx = index_of(&s, "/v1/kv/watched").await;
    let url = s.url(&format!("/v1/kv/watched?index={idx}&wait=5s"));
    let client = s.http.clone();
    let started = Instant::now();
    let waiter = tokio::spawn(async move {
        let r = client.get(url).send().await.unwrap();
        let i: u64 = r.headers()["x-consul-index"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        (i, r.text().await.unwrap(), started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Unrelated writes must not wake it.
    s.put("/v1/kv/other", "x").await;
    s.put("/v1/agent/service/register", r#"{"name":"noise"}"#)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "woke on an unrelated write");
    s.put("/v1/kv/watched", "v2").await;
    let (i, body, _) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(i > idx);
    assert!(body.contains(r#""Value":"djI=""#), "{body}");
}

#[tokio::test]
async fn service_query_wakes_on_registration_and_times_out() {
    let s = TestServer::start().await;
    let idx = index_of(&s, "/v1/health/service/web").await;
    // Times out on schedule (wait + at most wait/16 jitter) with the same index.
    let t = Instant::now();
    let (st, h, body) = s
        .get_full(&format!("/v1/health/service/web?index={idx}&wait=1s"))
        .await;
    let took = t.elapsed();
    assert_eq!((st, body.as_str()), (200, "[]"));
    assert_eq!(h["x-consul-index"].to_str().unwrap(), idx.to_string());
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(2500),
        "took {took:?}"
    );

    let url = s.url(&format!("/v1/health/service/web?index={idx}&wait=10s"));
    let client = s.http.clone();
    let waiter =
        tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.put("/v1/kv/unrelated", "1").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "a KV write woke a service query");
    s.put("/v1/agent/service/register", r#"{"name":"web","port":80}"#)
        .await;
    let body = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(body.contains(r#""Service":"web""#), "{body}");
}

#[tokio::test]
async fn many_parked_queries_all_wake() {
    // 200 parked queries plus the writes' connection, all from 127.0.0.1: over Consul's
    // default per-client cap of 200 connections.
    let s = TestServer::start_with(&["-hcl=limits { http_max_conns_per_client = 1000 }"]).await;
    s.put("/v1/kv/fan", "0").await;
    let idx = index_of(&s, "/v1/kv/fan").await;
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let client = s.http.clone();
        let url = s.url(&format!("/v1/kv/fan?index={idx}&wait=20s"));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.unwrap().status().as_u16()
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.put("/v1/kv/fan", "1").await;
    for t in tasks {
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .unwrap()
                .unwrap(),
            200
        );
    }
}
