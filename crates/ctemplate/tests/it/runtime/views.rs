//! The view's query contract against a scripted fake Consul (no consul binary needed): the
//! first read carries `stale` and `wait=60000ms`, an answer whose `X-Consul-LastContact`
//! exceeds `max_stale` is re-read consistently at once, and only the fresh data is rendered;
//! `-consul-auth` and `consul { auth {} }` send HTTP basic authentication.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::harness::{read, tpl, Ct};

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
