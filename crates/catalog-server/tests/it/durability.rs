//! Acknowledged writes survive `kill -9` in the middle of a write loop; indexes keep growing.

use crate::common::TestServer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut s = TestServer::start().await;
    let acked: Arc<Mutex<Vec<u32>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8u32 {
        let client = s.http.clone();
        let base = s.url("/v1/kv/dur/");
        let acked = acked.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) && i < 100_000 {
                let n = w * 100_000 + i;
                match client
                    .put(format!("{base}{n}"))
                    .body(n.to_string())
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        if r.text().await.map(|t| t == "true").unwrap_or(false) {
                            acked.lock().unwrap().push(n);
                        }
                    }
                    _ => return,
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too few writes acknowledged before the kill: {}",
        acked.len()
    );

    s.start().await;
    let keys = s.json("/v1/kv/dur/?keys").await;
    let present: std::collections::HashSet<String> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let missing: Vec<u32> = acked
        .iter()
        .copied()
        .filter(|n| !present.contains(&format!("dur/{n}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test]
async fn restart_keeps_data_and_indexes_grow() {
    let mut s = TestServer::start().await;
    s.put("/v1/kv/keep", "me").await;
    s.put(
        "/v1/agent/service/register",
        r#"{"name":"persisted","port":1}"#,
    )
    .await;
    let (_, h, _) = s.get_full("/v1/kv/keep").await;
    let before: u64 = h["x-consul-index"].to_str().unwrap().parse().unwrap();
    assert!(
        s.terminate().is_some_and(|st| st.success()),
        "clean exit on SIGTERM"
    );
    s.start().await;
    assert_eq!(s.json("/v1/kv/keep").await[0]["Value"], "bWU=");
    assert_eq!(s.json("/v1/agent/services").await["persisted"]["Port"], 1);
    s.put("/v1/kv/keep", "again").await;
    let (_, h, _) = s.get_full("/v1/kv/keep").await;
    let after: u64 = h["x-consul-index"].to_str().unwrap().parse().unwrap();
    assert!(after > before, "index went from {before} to {after}");
}
