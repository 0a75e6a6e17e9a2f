//! The server's life: config-file services, log compaction behind snapshots and a restart from
//! one, `consul snapshot save|restore`, hash-blocking agent reads, and `consul leave`.

use crate::common::{wait_until, TestServer};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn config_dir_services_and_compaction_survive_restart() {
    let conf = tempfile::tempdir().unwrap();
    std::fs::write(
        conf.path().join("web.hcl"),
        "service {\n  name = \"web\"\n  port = 8080\n  tags = [\"from-file\"]\n  check {\n    ttl = \"30s\"\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(
        conf.path().join("raft.json"),
        r#"{"raft_snapshot_threshold": 100, "raft_trailing_logs": 10}"#,
    )
    .unwrap();
    let dir = format!("-config-dir={}", conf.path().display());
    let mut s = TestServer::start_with(&[&dir]).await;
    assert!(
        wait_until(Duration::from_secs(10), || async {
            s.json("/v1/agent/services").await.get("web").is_some()
        })
        .await,
        "config-file service not registered"
    );
    let svc = s.json("/v1/catalog/service/web").await;
    assert_eq!(svc[0]["ServiceTags"], serde_json::json!(["from-file"]));
    assert_eq!(
        s.json("/v1/agent/checks").await["service:web"]["Type"],
        "ttl"
    );

    for i in 0..400 {
        assert_eq!(s.put(&format!("/v1/kv/c/{i}"), format!("{i}")).await.0, 200);
    }
    let snap_index = |s: &TestServer| {
        let (_, out, _) = s.cli(&["info"]);
        out.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("last_snapshot_index = ")
                    .map(|v| v.parse::<u64>().unwrap_or(0))
            })
            .unwrap_or(0)
    };
    let snapped = wait_until(Duration::from_secs(10), || async { snap_index(&s) > 0 }).await;
    assert!(
        snapped,
        "no snapshot after 400 writes with a threshold of 100"
    );
    assert!(s.terminate().is_some_and(|st| st.success()));
    s.start().await;
    let keys = s.json("/v1/kv/c/?keys").await;
    assert_eq!(
        keys.as_array().unwrap().len(),
        400,
        "state rebuilt from snapshot + log"
    );
    assert_eq!(s.json("/v1/kv/c/399").await[0]["Value"], "Mzk5");
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_save_and_restore_with_the_cli() {
    let s = TestServer::start().await;
    s.put("/v1/kv/keep", "before").await;
    let file = s.data_dir().join("backup.snap");
    let file = file.to_str().unwrap();
    let (code, out, err) = s.cli(&["snapshot", "save", file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Saved and verified snapshot to index "),
        "{out}"
    );
    s.put("/v1/kv/keep", "after").await;
    s.put("/v1/kv/extra", "x").await;
    let (_, h, _) = s.get_full("/v1/kv/keep").await;
    let idx: u64 = h["x-consul-index"].to_str().unwrap().parse().unwrap();
    // A query parked on the key wakes when the restore replaces the state.
    let url = s.url(&format!("/v1/kv/keep?index={idx}&wait=20s"));
    let client = s.http.clone();
    let waiter =
        tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, out, err) = s.cli(&["snapshot", "restore", file]);
    assert_eq!((code, out.as_str()), (0, "Restored snapshot\n"), "{err}");
    let body = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(
        body.contains("YmVmb3Jl"),
        "parked query saw the restored value: {body}"
    );
    assert_eq!(s.get("/v1/kv/extra").await.unwrap().0, 404);
    let (st, body) = s.put("/v1/snapshot", "garbage").await;
    assert_eq!(st, 500);
    assert!(body.starts_with("Restore failed"), "{body}");
    assert_eq!(
        s.json("/v1/kv/keep").await[0]["Value"],
        "YmVmb3Jl",
        "a bad archive changes nothing"
    );
}

#[tokio::test]
async fn agent_service_hash_blocking() {
    let s = TestServer::start().await;
    s.put("/v1/agent/service/register", r#"{"name":"hb","port":1}"#)
        .await;
    let (_, h, _) = s.get_full("/v1/agent/service/hb").await;
    let hash = h["x-consul-contenthash"].to_str().unwrap().to_string();
    let t = Instant::now();
    let (_, h2, _) = s
        .get_full(&format!("/v1/agent/service/hb?hash={hash}&wait=1s"))
        .await;
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "returned early with an unchanged hash"
    );
    assert_eq!(h2["x-consul-contenthash"].to_str().unwrap(), hash);
    let url = s.url(&format!("/v1/agent/service/hb?hash={hash}&wait=10s"));
    let client = s.http.clone();
    let waiter =
        tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.put("/v1/agent/service/register", r#"{"name":"hb","port":2}"#)
        .await;
    let body = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(body.contains(r#""Port":2"#), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn leave_stops_the_agent() {
    let mut s = TestServer::start().await;
    let (code, out, err) = s.cli(&["leave"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Graceful leave complete\n"),
        "{err}"
    );
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("agent still running after leave");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn systemd_readiness_after_leader_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut s = TestServer::builder()
        .node("notify-node")
        .env("NOTIFY_SOCKET", &sock_path)
        .spawn();
    let http = s.http_port();
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 within 20s");
    assert_eq!(&buf[..n], b"READY=1");
    // Ready means: the API answers and knows its leader.
    let leader = reqwest::get(format!("http://127.0.0.1:{http}/v1/status/leader"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(leader, "\"\"");
    assert!(s.signal(libc::SIGTERM));
    let n = sock.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(s
        .wait_exit(Duration::from_secs(15))
        .is_some_and(|st| st.success()));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_answers_parked_queries_and_exits_cleanly() {
    let mut s = TestServer::start().await;
    let (code, _) = s.put("/v1/kv/parked", "before").await;
    assert_eq!(code, 200);
    let (_, headers, _) = s.get_full("/v1/kv/parked").await;
    let index: u64 = headers["X-Consul-Index"].to_str().unwrap().parse().unwrap();
    // Parked for ten minutes unless something happens.
    let parked: Vec<_> = (0..20)
        .map(|_| {
            let url = s.url(&format!("/v1/kv/parked?index={index}&wait=10m"));
            let http = s.http.clone();
            tokio::spawn(async move { http.get(url).send().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = tokio::task::spawn_blocking(move || {
        let st = s.terminate();
        (st, s)
    })
    .await
    .unwrap();
    let (st, mut s) = status;
    assert!(st.is_some_and(|st| st.success()), "{st:?}\n{}", s.output());
    // Every parked query got its answer (the unchanged value), not a cut connection.
    for p in parked {
        let resp = p.await.unwrap().expect("parked query answered");
        assert_eq!(resp.status().as_u16(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body[0]["Key"], "parked");
    }
    s.start().await;
    let (code, body) = s.get("/v1/kv/parked?raw").await.unwrap();
    assert_eq!((code, body.as_str()), (200, "before"));
}
