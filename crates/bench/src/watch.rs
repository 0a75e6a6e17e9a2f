//! Wake-up latency: park N blocking queries (ours) or N watch streams (etcd) on one key, write
//! the key once, and time every waiter's answer from the moment the write was sent.

use crate::http::Conn;
use crate::load::Lat;
use crate::probe;
use crate::server::{find, Kind, ReadMode, Server};
use anyhow::Context;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

const KEY: &str = "bench/watch";

/// What one wake-up round produced.
#[derive(Debug, Clone, Default)]
pub struct Wake {
    pub parked: usize,
    pub woken: usize,
    pub lat: Lat,
    /// Server RSS growth while the waiters were parked, per waiter, in bytes.
    pub rss_per_waiter: f64,
    /// Server RSS with everyone parked.
    pub rss_parked: u64,
}

/// Parks `n` waiters on one key of `s`, writes it, and measures.
pub async fn wake(s: &Server, n: usize) -> anyhow::Result<Wake> {
    let kind = s.kind;
    let addr = s.addr;
    let mut ctl = Conn::connect(addr, None).await?;
    let (m, p, b) = kind.put(KEY, b"before");
    let r = ctl.request(m, &p, &b).await?;
    anyhow::ensure!(kind.put_ok(&r), "{} setup write failed", kind.name());
    // Our blocking queries need the key's current index.
    let (m, p, b) = kind.get(KEY, ReadMode::Default);
    let index = ctl.request(m, &p, &b).await?.consul_index.unwrap_or(0);

    probe::wait_idle(s.pid(), Duration::from_secs(10)).await;
    let rss_before = probe::rss(s.pid()).0;

    let ready = Arc::new(AtomicUsize::new(0));
    let (go_tx, go_rx) = watch::channel::<Option<Instant>>(None);
    let connect_gate = Arc::new(Semaphore::new(128));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let ready = ready.clone();
        let mut go_rx = go_rx.clone();
        let gate = connect_gate.clone();
        tasks.spawn(async move {
            let permit = gate.acquire_owned().await;
            let mut c = Conn::connect(addr, None).await?;
            match kind {
                Kind::Consul => {
                    c.send("GET", &format!("/v1/kv/{KEY}?index={index}&wait=60s"), b"")
                        .await?;
                    drop(permit);
                    ready.fetch_add(1, Ordering::SeqCst);
                    let r = c.read_response().await?;
                    let at = Instant::now();
                    anyhow::ensure!(
                        r.status == 200 && r.consul_index.unwrap_or(0) > index,
                        "woke without a new index"
                    );
                    let t0 = go_rx.wait_for(|v| v.is_some()).await?.unwrap_or(at);
                    Ok::<_, anyhow::Error>((at.saturating_duration_since(t0), c))
                }
                Kind::Etcd => {
                    let status = c
                        .open_stream("/v3/watch", &Kind::etcd_watch_body(KEY))
                        .await?;
                    anyhow::ensure!(status == 200, "watch status {status}");
                    let created = c.next_line().await?;
                    anyhow::ensure!(find(&created, b"\"created\":true"), "watch not created");
                    drop(permit);
                    ready.fetch_add(1, Ordering::SeqCst);
                    loop {
                        let l = c.next_line().await?;
                        if find(&l, b"\"events\"") {
                            let at = Instant::now();
                            let t0 = go_rx.wait_for(|v| v.is_some()).await?.unwrap_or(at);
                            return Ok((at.saturating_duration_since(t0), c));
                        }
                    }
                }
            }
        });
    }
    // Everyone connected and asked; then let the server finish parking them.
    let t_setup = Instant::now();
    while ready.load(Ordering::SeqCst) < n {
        anyhow::ensure!(
            t_setup.elapsed() < Duration::from_secs(120),
            "only {} of {n} waiters parked",
            ready.load(Ordering::SeqCst)
        );
        if tasks.try_join_next().is_some() {
            anyhow::bail!("a waiter failed while parking");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    probe::wait_idle(s.pid(), Duration::from_secs(30)).await;
    let rss_parked = probe::rss(s.pid()).0;

    let (m, p, b) = kind.put(KEY, b"after");
    let t0 = Instant::now();
    let _ = go_tx.send(Some(t0));
    let r = ctl.request(m, &p, &b).await.context("the waking write")?;
    anyhow::ensure!(kind.put_ok(&r), "{} waking write failed", kind.name());

    // Connections stay open until every waiter has answered, so that closing them (server-side
    // teardown) is not part of the measured wake-up.
    let mut lat = Vec::with_capacity(n);
    let mut open = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(50);
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(Ok(Ok((d, c))))) => {
                lat.push(d.as_micros() as u64);
                open.push(c);
            }
            Ok(Some(_)) => {} // a waiter failed: not woken
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                break;
            }
        }
    }
    drop(open);
    Ok(Wake {
        parked: n,
        woken: lat.len(),
        lat: Lat::of(lat),
        rss_per_waiter: rss_parked.saturating_sub(rss_before) as f64 / n as f64,
        rss_parked,
    })
}
