//! The HTTP server against slow, idle and malformed clients: the per-client connection cap,
//! the handshake timeout (never cutting a parked blocking query), Go's path rules, and body
//! limits on the client API and the server port. Raw sockets, since HTTP clients normalise
//! paths and would not send malformed requests.

use crate::common::{wait_until, TestServer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Bounded wait for anything the server should do promptly.
const PROMPT: Duration = Duration::from_secs(15);

fn sock(addr: &str) -> SocketAddr {
    addr.parse().expect("socket address")
}

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().expect("socket");
    s.bind(sock(&format!("{from}:0"))).expect("bind source");
    s.connect(to).await.expect("connect")
}

/// Reads until the server closes the connection (bounded); `None` if it did not close.
async fn read_to_close(s: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let r = tokio::time::timeout(PROMPT, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    r.ok().map(|()| String::from_utf8_lossy(&out).into_owned())
}

/// Sends `req` as is on a fresh connection and returns everything until the server closes.
async fn exchange(to: SocketAddr, req: &str) -> String {
    exchange_from("127.0.0.1", to, req).await
}

/// [`exchange`] from the loopback address `from`.
async fn exchange_from(from: &str, to: SocketAddr, req: &str) -> String {
    let mut s = connect_from(from, to).await;
    s.write_all(req.as_bytes()).await.expect("write");
    read_to_close(&mut s)
        .await
        .unwrap_or_else(|| panic!("server kept the connection open after {req:?}"))
}

/// One request on an open keep-alive connection; returns the status and the body.
async fn request(s: &mut TcpStream, method: &str, path: &str, body: &str) -> (u16, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let r = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed before a full response: {buf:?}");
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = &text[..end];
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    let status = head[9..12].parse().expect("status");
                    return (status, text[end + 4..end + 4 + len].to_string());
                }
            }
        }
    })
    .await;
    r.expect("response within the bound")
}

fn status_of(resp: &str) -> u16 {
    resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn connections_over_the_per_client_cap_get_429() {
    let s = TestServer::start_with(&["-hcl=limits { http_max_conns_per_client = 10 }"]).await;
    let addr = sock(&s.addr());
    // The clients of this test use their own source address: the harness's pooled client
    // holds connections from 127.0.0.1.
    let me = "127.0.0.5";
    // Ten keep-alive connections that each made a request and now sit idle.
    let mut idle = Vec::new();
    for _ in 0..10 {
        let mut c = connect_from(me, addr).await;
        let (status, _) = request(&mut c, "GET", "/v1/status/leader", "").await;
        assert_eq!(status, 200);
        idle.push(c);
    }
    let over = exchange_from(
        me,
        addr,
        "GET /v1/status/leader HTTP/1.1\r\nHost: test\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&over), 429, "{over}");
    assert!(
        over.contains("Your IP is issuing too many concurrent connections"),
        "{over}"
    );
    // Other addresses are not affected, and the idle connections still work.
    assert_eq!(s.get("/v1/status/leader").await.expect("get").0, 200);
    let (status, _) = request(&mut idle[0], "GET", "/v1/status/leader", "").await;
    assert_eq!(status, 200);
    drop(idle);
    // Once they are closed, a fresh connection is served again.
    let served = wait_until(PROMPT, || async {
        let r = exchange_from(
            me,
            addr,
            "GET /v1/status/leader HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        )
        .await;
        status_of(&r) == 200
    })
    .await;
    assert!(
        served,
        "a new connection was not served after the idle ones closed"
    );
}

#[tokio::test]
async fn stalled_request_is_cut_but_blocking_query_is_not() {
    let s = TestServer::start_with(&["-hcl=limits { https_handshake_timeout = \"1s\" }"]).await;
    let addr = sock(&s.addr());
    let (status, _) = s.put("/v1/kv/parked", "v1").await;
    assert_eq!(status, 200);
    let idx = s
        .get_full("/v1/kv/parked")
        .await
        .1
        .get("X-Consul-Index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("index");

    // A blocking query that stays parked well past the handshake timeout.
    let mut parked = TcpStream::connect(addr).await.expect("connect");
    let query = tokio::spawn(async move {
        let r = request(
            &mut parked,
            "GET",
            &format!("/v1/kv/parked?index={idx}&wait=3s"),
            "",
        )
        .await;
        (r, parked)
    });

    // Half a request line, then silence: the server hangs up.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /v1/kv/par").await.expect("write");
    let got = read_to_close(&mut slow).await;
    assert_eq!(
        got.as_deref(),
        Some(""),
        "a stalled request line was not disconnected"
    );

    // A connection that says nothing at all is hung up on too.
    let mut mute = TcpStream::connect(addr).await.expect("connect");
    assert!(read_to_close(&mut mute).await.is_some());

    let ((status, body), mut parked) = query.await.expect("query task");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"Key\":\"parked\""), "{body}");
    // Idle between keep-alive requests for longer than the handshake timeout is fine.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = request(&mut parked, "GET", "/v1/kv/parked", "").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn idle_flood_from_one_address_leaves_the_api_reachable() {
    let s = TestServer::start().await;
    let addr = sock(&s.addr());
    // 500 connections from one address (127.0.0.3 rather than .1, where the harness's pooled
    // client also holds a connection) that never send a byte; the default cap is 200.
    let flooder = "127.0.0.3";
    let mut flood = Vec::new();
    for _ in 0..500 {
        flood.push(connect_from(flooder, addr).await);
    }
    // Another client on the same host, from another address, is served meanwhile.
    let mut other = connect_from("127.0.0.2", addr).await;
    let (status, body) = request(&mut other, "GET", "/v1/status/leader", "").await;
    assert_eq!(status, 200, "{body}");
    // The server answered 429 to the connections over the cap instead of holding them.
    let reads = flood.iter_mut().map(read_to_close);
    let answers = futures::future::join_all(reads).await;
    let refused = answers
        .iter()
        .filter(|a| a.as_deref().is_some_and(|a| status_of(a) == 429))
        .count();
    let closed = answers.iter().filter(|a| a.is_some()).count();
    assert_eq!(refused, 300, "connections over the cap of 200 got 429");
    // The 200 admitted but silent connections were hung up on (handshake timeout).
    assert_eq!(closed, 500);
    drop(flood);
    // And the flooding address is served again.
    let r = exchange_from(
        flooder,
        addr,
        "GET /v1/status/leader HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&r), 200, "{r}");
}

#[tokio::test]
async fn paths_follow_go_net_http() {
    let s = TestServer::start().await;
    let addr = sock(&s.addr());
    assert_eq!(s.put("/v1/kv/a/b", "ab").await.0, 200);
    let r = exchange(
        addr,
        "GET /v1/kv/a//b?raw HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&r), 301, "{r}");
    assert_eq!(header(&r, "location"), Some("/v1/kv/a/b?raw"));
    let r = exchange(
        addr,
        "PUT /v1/kv/x/../a/b HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz",
    )
    .await;
    assert_eq!(status_of(&r), 301, "{r}");
    assert_eq!(header(&r, "location"), Some("/v1/kv/a/b"));
    let r = exchange(
        addr,
        "GET /v1/kv/a/./b/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(header(&r, "location"), Some("/v1/kv/a/b/"), "{r}");
    // Nothing was written by the redirected PUT.
    assert_eq!(
        s.get("/v1/kv/a/b?raw").await.expect("get"),
        (200, "ab".into())
    );

    for bad in ["/v1/kv/%zz", "/v1/kv/a%4", "/v1/kv/a%"] {
        let r = exchange(addr, &format!("GET {bad} HTTP/1.1\r\nHost: t\r\n\r\n")).await;
        assert_eq!(status_of(&r), 400, "{bad}: {r}");
        assert!(r.ends_with("400 Bad Request"), "{bad}: {r}");
    }

    // Keys are byte strings: two keys differing only in non-UTF-8 bytes stay apart.
    let mut c = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        request(&mut c, "PUT", "/v1/kv/bin/%ff%fe", "one").await.0,
        200
    );
    assert_eq!(
        request(&mut c, "PUT", "/v1/kv/bin/%fe%ff", "two").await.0,
        200
    );
    assert_eq!(
        request(&mut c, "GET", "/v1/kv/bin/%ff%fe?raw", "").await,
        (200, "one".to_string())
    );
    assert_eq!(
        request(&mut c, "GET", "/v1/kv/bin/%fe%ff?raw", "").await,
        (200, "two".to_string())
    );
    let (status, keys) = request(&mut c, "GET", "/v1/kv/bin/?keys", "").await;
    assert_eq!(status, 200);
    let keys: Vec<String> = serde_json::from_str(&keys).expect("json");
    assert_eq!(keys, vec!["bin/\u{fffd}\u{fffd}", "bin/\u{fffd}\u{fffd}"]);
}

#[tokio::test]
async fn malformed_bodies_get_an_answer_and_a_close() {
    let s = TestServer::start().await;
    let addr = sock(&s.addr());
    let r = exchange(
        addr,
        "PUT /v1/kv/x HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&r), 400, "{r}");
    let r = exchange(
        addr,
        "PUT /v1/kv/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    )
    .await;
    assert_eq!(status_of(&r), 400, "{r}");
    let r = exchange(
        addr,
        "PUT /v1/kv/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
    )
    .await;
    assert_eq!(status_of(&r), 400, "{r}");
    // A declared length over the limit is refused before any of the body is sent.
    let r = exchange(
        addr,
        "PUT /v1/kv/x HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999999\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&r), 413, "{r}");
    assert!(r.contains("too large, max size: 524288 bytes"), "{r}");
    let r = exchange(
        addr,
        "PUT /v1/catalog/register HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999999\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&r), 413, "{r}");
}

#[tokio::test]
async fn server_port_bounds_bodies_by_message_kind() {
    let s = TestServer::start().await;
    let rpc = sock(&format!("{}:{}", s.ip(), s.server_port()));
    // Declared sizes over the limit: refused before reading.
    for (path, len) in [
        ("/v1/raft/vote", 1024 * 1024),
        ("/v1/raft/join", 1024 * 1024),
        ("/v1/raft/snapshot", 512 * 1024 * 1024),
        ("/v1/raft/append", 1024 * 1024 * 1024),
    ] {
        let r = exchange(
            rpc,
            &format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"),
        )
        .await;
        assert_eq!(status_of(&r), 413, "{path}: {r}");
    }
    // A streamed vote body without a length stops being read at the limit.
    let c = TcpStream::connect(rpc).await.expect("connect");
    let (mut rd, mut wr) = c.into_split();
    let writer = tokio::spawn(async move {
        let head = "POST /v1/raft/vote HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, " ".repeat(16 * 1024));
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..8 {
            if wr.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(PROMPT, rd.read(&mut buf))
        .await
        .expect("an answer")
        .expect("read");
    let r = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(status_of(&r), 413, "{r}");
    let _ = writer.await;
    // The server still does its job.
    assert_eq!(s.put("/v1/kv/after", "x").await.0, 200);
}
