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

/// One parked health query: `(index, body)`, the body gunzipped when it came compressed.
async fn parked(http: reqwest::Client, url: String, gzip: bool) -> (u64, String) {
    let mut r = http.get(url);
    if gzip {
        r = r.header("Accept-Encoding", "gzip");
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    let coded = r
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(coded.as_deref(), gzip.then_some("gzip"));
    let index = r.headers()["x-consul-index"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    let body = if gzip {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .unwrap();
        out
    } else {
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    (index, body)
}

fn web_instance(node: usize, status: &str) -> String {
    format!(
        r#"{{"Node":"n{node}","Address":"10.0.0.{node}","Service":{{"Service":"web","Port":80}},
            "Check":{{"CheckID":"web-up","Name":"web up","ServiceID":"web","Status":"{status}"}}}}"#
    )
}

#[tokio::test]
async fn watchers_of_one_service_share_its_answer_compressed_or_not() {
    let s = TestServer::start_with(&["-hcl", r#"telemetry { prometheus_retention_time = "1m" }"#])
        .await;
    // Answers built for a shared question so far (cumulative in Prometheus' format).
    let built = || async {
        let text = s.get_full("/v1/agent/metrics?format=prometheus").await.2;
        text.lines()
            .find_map(|l| l.strip_prefix("consul_blocking_answers_built "))
            .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
    };
    for n in 1..=20 {
        assert_eq!(
            s.put("/v1/catalog/register", web_instance(n, "passing"))
                .await
                .0,
            200
        );
    }
    let idx = index_of(&s, "/v1/health/service/web").await;
    // 40 watchers: two questions (all instances, passing only), each asked with and without
    // gzip, with the parameters in either order.
    let mut waiters = Vec::new();
    for i in 0..40 {
        let path = match i % 4 {
            0 | 1 => format!("/v1/health/service/web?index={idx}&wait=20s"),
            2 => format!("/v1/health/service/web?passing&index={idx}&wait=20s"),
            _ => format!("/v1/health/service/web?wait=20s&index={idx}&passing"),
        };
        let gzip = i % 2 == 1;
        waiters.push((
            i % 4 >= 2,
            tokio::spawn(parked(s.http.clone(), s.url(&path), gzip)),
        ));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        waiters.iter().all(|(_, w)| !w.is_finished()),
        "a watcher answered before the write"
    );
    let built_parked = built().await;
    assert_eq!(
        s.put("/v1/catalog/register", web_instance(3, "critical"))
            .await
            .0,
        200
    );

    let (mut all, mut passing) = (None::<(u64, String)>, None::<(u64, String)>);
    for (only_passing, w) in waiters {
        let got = tokio::time::timeout(Duration::from_secs(20), w)
            .await
            .unwrap()
            .unwrap();
        assert!(got.0 > idx, "woke without a new index");
        let seen = if only_passing { &mut passing } else { &mut all };
        match seen {
            None => *seen = Some(got),
            Some(first) => assert_eq!(
                first, &got,
                "watchers of one question got different answers"
            ),
        }
    }
    // One answer per question woke all 40 (a second only if a watcher was still parking).
    let woke = built().await - built_parked;
    assert!(
        (2..=4).contains(&woke),
        "{woke} answers built for 2 questions and 40 watchers"
    );
    let (all, passing) = (all.unwrap().1, passing.unwrap().1);
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    let passing: serde_json::Value = serde_json::from_str(&passing).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 20);
    assert_eq!(passing.as_array().unwrap().len(), 19);
    assert!(passing
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["Node"]["Node"] != "n3"));

    // The same answer again, for a plain read and for a parked one's next round.
    let (st, h, body) = s.get_full("/v1/health/service/web").await;
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        all
    );
    assert!(h.get("content-encoding").is_none());
}
