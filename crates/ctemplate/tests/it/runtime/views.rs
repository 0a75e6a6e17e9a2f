//! The view's query contract against a scripted fake Consul (no consul binary needed): the
//! first read carries `stale` and `wait=60000ms`, an answer whose `X-Consul-LastContact`
//! exceeds `max_stale` is re-read consistently at once, and only the fresh data is rendered;
//! `-consul-auth` and `consul { auth {} }` send HTTP basic authentication; connections are
//! kept between requests unless `-consul-transport-disable-keep-alives`. The fakes speak
//! HTTP/1.1 only and answer the h2c probe as a Go Consul does (an HTTP/1.1 400, closed):
//! consul-template falls back to HTTP/1.1.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::harness::{read, tpl, Ct};

/// The start of the HTTP/2 connection preface (RFC 9113 §3.4), as an HTTP/1.1 server reads it.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// What Go's `net/http` answers to the h2 preface without h2c (its `ServeMux` on `PRI *`).
const GO_PRI_ANSWER: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// Answers `GET /v1/kv/k`: stale reads get data 5 s old, consistent reads fresh data. Logs
/// each request's target, and its whole head in `heads`.
fn fake_consul(log: Arc<Mutex<Vec<String>>>) -> u16 {
    fake_consul_with_heads(log, Arc::default())
}

fn fake_consul_with_heads(log: Arc<Mutex<Vec<String>>>, heads: Arc<Mutex<Vec<String>>>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            if buf[..n].starts_with(H2_PREFACE) {
                let _ = s.write_all(GO_PRI_ANSWER);
                continue;
            }
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let target = req.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(target.clone());
            heads.lock().unwrap().push(req.to_lowercase());
            let stale = target.contains("stale");
            let (contact, index, value) = if stale {
                (5000, 5, "c3RhbGU=")
            } else {
                (0, 6, "ZnJlc2g=")
            };
            let body = format!(
                "[{{\"Key\":\"k\",\"Value\":\"{value}\",\"CreateIndex\":1,\"ModifyIndex\":{index},\"LockIndex\":0,\"Flags\":0}}]"
            );
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Consul-Index: {index}\r\n\
                 X-Consul-LastContact: {contact}\r\nX-Consul-KnownLeader: true\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    port
}

#[tokio::test]
async fn too_stale_answers_are_reread_consistently() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let port = fake_consul(log.clone());
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("k.ctmpl"), dir.path().join("k.out"));
    std::fs::write(&src, "{{key \"k\"}}").unwrap();
    let args = vec![
        format!("-consul-addr=127.0.0.1:{port}"),
        "-template".into(),
        tpl(&src, &dst, None),
        "-once".into(),
    ];
    let mut ct = Ct::start(&args);
    assert_eq!(
        ct.wait_exit(Duration::from_secs(15)).await,
        Some(0),
        "{}",
        ct.stderr()
    );
    assert_eq!(read(&dst), "fresh");
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log[0].starts_with("/v1/kv/k?")
            && log[0].contains("stale=")
            && log[0].contains("wait=60000ms"),
        "{log:?}"
    );
    assert!(!log[1].contains("stale"), "{log:?}");
}

#[tokio::test]
async fn basic_auth_from_the_flag_and_the_config_block() {
    for (how, want) in [
        // alice:s3cret
        ("flag", "authorization: basic ywxpy2u6cznjcmv0"),
        // bob:pw
        ("config", "authorization: basic ym9ionb3"),
    ] {
        let heads = Arc::new(Mutex::new(Vec::new()));
        let port = fake_consul_with_heads(Arc::default(), heads.clone());
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("k.ctmpl"), dir.path().join("k.out"));
        std::fs::write(&src, "{{key \"k\"}}").unwrap();
        let mut args = vec![
            format!("-consul-addr=127.0.0.1:{port}"),
            "-template".into(),
            tpl(&src, &dst, None),
            "-once".into(),
        ];
        if how == "flag" {
            args.push("-consul-auth=alice:s3cret".into());
        } else {
            let cfg = dir.path().join("ct.hcl");
            std::fs::write(
                &cfg,
                "consul {\n  auth {\n    username = \"bob\"\n    password = \"pw\"\n  }\n}\n",
            )
            .unwrap();
            args.push(format!("-config={}", cfg.display()));
        }
        let mut ct = Ct::start(&args);
        assert_eq!(
            ct.wait_exit(Duration::from_secs(15)).await,
            Some(0),
            "{how}: {}",
            ct.stderr()
        );
        let heads = heads.lock().unwrap().clone();
        assert!(!heads.is_empty());
        for h in &heads {
            assert!(h.contains(want), "{how}: {h}");
        }
    }
}

/// Like [`fake_consul`] but keeping each connection open for more requests; counts the
/// HTTP/1.1 connections accepted, and apart the h2c probes: answered as Go's server does
/// (`go_answer`), else closed unanswered.
fn keep_alive_consul(
    accepted: Arc<Mutex<usize>>,
    probes: Arc<Mutex<usize>>,
    go_answer: bool,
) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (accepted, probes) = (accepted.clone(), probes.clone());
            std::thread::spawn(move || {
                let mut s = s;
                let mut pending = Vec::new();
                let mut buf = [0u8; 8192];
                let mut first = true;
                loop {
                    let n = match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if std::mem::take(&mut first) {
                        if buf[..n].starts_with(H2_PREFACE) {
                            *probes.lock().unwrap() += 1;
                            if go_answer {
                                let _ = s.write_all(GO_PRI_ANSWER);
                            }
                            return;
                        }
                        *accepted.lock().unwrap() += 1;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let req = String::from_utf8_lossy(&pending[..end]).to_string();
                        pending.drain(..end + 4);
                        let stale = req
                            .split_whitespace()
                            .nth(1)
                            .unwrap_or("")
                            .contains("stale");
                        let (contact, index, value) = if stale {
                            (5000, 5, "c3RhbGU=")
                        } else {
                            (0, 6, "ZnJlc2g=")
                        };
                        let body = format!(
                            "[{{\"Key\":\"k\",\"Value\":\"{value}\",\"CreateIndex\":1,\"ModifyIndex\":{index},\"LockIndex\":0,\"Flags\":0}}]"
                        );
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Consul-Index: {index}\r\n\
                             X-Consul-LastContact: {contact}\r\nX-Consul-KnownLeader: true\r\n\
                             Content-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if s.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

/// Against an HTTP/1.1-only agent: one h2c probe, refused, then HTTP/1.1 with kept
/// connections; without kept connections no probe at all (h2c needs a shared connection).
#[tokio::test]
async fn keep_alives_unless_disabled() {
    for (extra, want, want_probes) in [
        (vec![], 1, 1),
        (vec!["-consul-transport-disable-keep-alives"], 2, 0),
        (vec!["-consul-transport-max-idle-conns-per-host=0"], 2, 0),
        (
            vec![
                "-consul-transport-dial-timeout=5s",
                "-consul-transport-dial-keep-alive=15s",
                "-consul-transport-tls-handshake-timeout=2s",
            ],
            1,
            1,
        ),
    ] {
        let accepted = Arc::new(Mutex::new(0));
        let probes = Arc::new(Mutex::new(0));
        let port = keep_alive_consul(accepted.clone(), probes.clone(), true);
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("k.ctmpl"), dir.path().join("k.out"));
        std::fs::write(&src, "{{key \"k\"}}").unwrap();
        let mut args = vec![
            format!("-consul-addr=127.0.0.1:{port}"),
            "-template".into(),
            tpl(&src, &dst, None),
            "-once".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut ct = Ct::start(&args);
        assert_eq!(
            ct.wait_exit(Duration::from_secs(15)).await,
            Some(0),
            "{extra:?}: {}",
            ct.stderr()
        );
        // The stale read, then the consistent re-read: one connection, or one each.
        assert_eq!(read(&dst), "fresh");
        assert_eq!(*accepted.lock().unwrap(), want, "{extra:?}");
        assert_eq!(*probes.lock().unwrap(), want_probes, "{extra:?}");
    }
}

/// An agent that closes on the h2 preface without a word: consul-template falls back to
/// HTTP/1.1 too, and says so at debug level.
#[tokio::test]
async fn h2c_refused_by_a_close_falls_back_to_http1() {
    let accepted = Arc::new(Mutex::new(0));
    let probes = Arc::new(Mutex::new(0));
    let port = keep_alive_consul(accepted.clone(), probes.clone(), false);
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("k.ctmpl"), dir.path().join("k.out"));
    std::fs::write(&src, "{{key \"k\"}}").unwrap();
    let args = vec![
        format!("-consul-addr=127.0.0.1:{port}"),
        "-template".into(),
        tpl(&src, &dst, None),
        "-once".into(),
        "-log-level=debug".into(),
    ];
    let mut ct = Ct::start(&args);
    assert_eq!(
        ct.wait_exit(Duration::from_secs(15)).await,
        Some(0),
        "{}",
        ct.stderr()
    );
    assert_eq!(read(&dst), "fresh");
    assert_eq!(*probes.lock().unwrap(), 1);
    assert_eq!(*accepted.lock().unwrap(), 1);
    assert!(
        ct.stderr().contains("[DEBUG] (clients) http://127.0.0.1:")
            && ct
                .stderr()
                .contains("does not speak HTTP/2 with prior knowledge"),
        "{}",
        ct.stderr()
    );
}
