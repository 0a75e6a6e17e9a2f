//! HTTP/2 with prior knowledge (h2c) on the client API's HTTP port, beside HTTP/1.1 on the same
//! port: the same answers either way (status, body, Consul's headers, Go's path rules), the
//! stream limit a consul-template with 1,000 watches needs, blocking queries parked as streams
//! of one connection and woken by a write, and HTTP/1.1 clients served as before.

use crate::common::{wait_until, TestServer};
use reqwest::Version;
use std::time::Duration;

fn h2c() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn http1() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// What an answer says, minus the date, the protocol and `Connection` (HTTP/1.1's own: h2 has
/// no connection-specific headers, RFC 9113 §8.2.2).
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

async fn ask(c: &reqwest::Client, method: reqwest::Method, url: &str, want: Version) -> Answer {
    let r = c.request(method, url).send().await.unwrap();
    assert_eq!(r.version(), want, "{url}");
    let status = r.status().as_u16();
    let mut headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter(|(n, _)| *n != "date" && *n != "connection")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_string()))
        .collect();
    headers.sort();
    let body = r.text().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn h2c_gets_the_answers_http1_gets() {
    let s = TestServer::start().await;
    let (h2, h1) = (h2c(), http1());
    // A write over h2c, read back over both.
    let put = h2
        .put(s.url("/v1/agent/service/register"))
        .body(r#"{"ID":"web-1","Name":"web","Port":8080,"Tags":["a"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.version(), Version::HTTP_2);
    assert_eq!(put.status().as_u16(), 200, "{}", put.text().await.unwrap());
    let put = h2.put(s.url("/v1/kv/k")).body("v").send().await.unwrap();
    assert_eq!(put.text().await.unwrap(), "true");
    for path in [
        "/v1/status/leader",
        "/v1/kv/k",
        "/v1/kv/k?raw",
        "/v1/kv/missing",
        "/v1/catalog/services",
        "/v1/catalog/service/web",
        "/v1/health/service/web?pretty",
        "/v1/health/service/web?filter=Service.Port%20%3D%3D%208080",
        "/v1/health/service/web?filter=bad%20%3D%3D",
        "/v1/agent/services",
        "/v1/kv//k",
        "/v1/kv/a%zz",
        "/v1/nope",
    ] {
        let url = s.url(path);
        let over_h2 = ask(&h2, reqwest::Method::GET, &url, Version::HTTP_2).await;
        let over_h1 = ask(&h1, reqwest::Method::GET, &url, Version::HTTP_11).await;
        assert_eq!(over_h2, over_h1, "{path}");
    }
    // HTTP/1.1 keeps its keep-alive connection across those requests and after h2c use.
    let again = ask(
        &h1,
        reqwest::Method::GET,
        &s.url("/v1/kv/k?raw"),
        Version::HTTP_11,
    )
    .await;
    assert_eq!(again.body, "v");
}

/// The server's SETTINGS allow 10,000 concurrent streams (hyper's default of 200 would hold
/// back the 201st watch of a consul-template until a parked one answered).
#[tokio::test]
async fn h2c_allows_thousands_of_streams() {
    let s = TestServer::start().await;
    let tcp = tokio::net::TcpStream::connect(s.http_addr()).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    let mut conn = Box::pin(conn);
    let req = http::Request::get(s.url("/v1/status/leader"))
        .body(())
        .unwrap();
    let mut send = send.ready().await.unwrap();
    let (resp, _) = send.send_request(req, true).unwrap();
    let resp = tokio::select! {
        r = resp => r.unwrap(),
        r = conn.as_mut() => panic!("connection ended first: {r:?}"),
    };
    assert_eq!(resp.status(), 200);
    assert_eq!(conn.max_concurrent_send_streams(), 10_000);
}

/// ESTABLISHED TCP connections of this process to `port` on loopback.
fn connections_to(port: u16) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let s = l.to_string_lossy().to_string();
            s.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let tcp = std::fs::read_to_string("/proc/self/net/tcp").unwrap();
    tcp.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let rport = f
                .get(2)
                .and_then(|r| r.split(':').nth(1))
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            f.get(3) == Some(&"01")
                && rport == Some(port)
                && f.get(9).is_some_and(|i| inodes.contains(*i))
        })
        .count()
}

/// Sets `w/<i>` to `value` for every `i` in `keys`, 64 to a transaction, over `c`.
async fn set_keys(s: &TestServer, c: &reqwest::Client, keys: &[usize], value: &str) {
    for chunk in keys.chunks(64) {
        let ops: Vec<serde_json::Value> = chunk
            .iter()
            .map(|i| serde_json::json!({"KV": {"Verb": "set", "Key": format!("w/{i}"), "Value": value}}))
            .collect();
        let r = c.put(s.url("/v1/txn")).json(&ops).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }
}

/// 1,000 blocking queries on distinct keys parked as streams of one h2c connection; a write
/// to one key answers its query alone, and a write to the rest answers them all.
#[tokio::test]
async fn blocking_queries_park_as_streams_of_one_connection() {
    const N: usize = 1000;
    let s = TestServer::start().await;
    let port = s.http_port();
    let h2 = h2c();
    let all: Vec<usize> = (0..N).collect();
    set_keys(&s, &h2, &all, "MA==").await;
    let index: u64 = h2
        .get(s.url("/v1/kv/w/?recurse"))
        .send()
        .await
        .unwrap()
        .headers()["x-consul-index"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let before = connections_to(port);
    let mut waiters = Vec::new();
    for i in 0..N {
        let (c, url) = (
            h2.clone(),
            s.url(&format!("/v1/kv/w/{i}?index={index}&wait=50s")),
        );
        waiters.push(tokio::spawn(async move {
            let r = c.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    // Parked: none answers, and no connection was added for them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(waiters.iter().all(|w| !w.is_finished()), "a query answered");
    assert_eq!(
        connections_to(port),
        before,
        "h2c reused its one connection"
    );
    // One key written: its query answers, the others stay parked.
    set_keys(&s, &h2, &[7], "c2V2ZW4=").await;
    let woken = waiters.remove(7);
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"Value\":\"c2V2ZW4=\""), "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(waiters.iter().all(|w| !w.is_finished()), "woke too many");
    // The rest written: all answer.
    let rest: Vec<usize> = (0..N).filter(|i| *i != 7).collect();
    set_keys(&s, &h2, &rest, "eA==").await;
    assert!(
        wait_until(Duration::from_secs(20), || {
            let done = waiters.iter().all(|w| w.is_finished());
            async move { done }
        })
        .await,
        "not every parked query answered"
    );
    for w in waiters {
        let (status, body) = w.await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("\"Value\":\"eA==\""), "{body}");
    }
    assert_eq!(connections_to(port), before, "still one connection");
}
