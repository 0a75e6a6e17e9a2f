//! The fan-out case (issue 20): one service with many instances, many watchers parked on it,
//! one instance's check flipping. Every watcher must be answered; what it costs is the wake-up
//! latency, the server's CPU per answer and the bytes sent.
//!
//! Ours: `N` instances of `web` (one node each, one check each) registered through
//! `/v1/catalog/register`, `W` watchers parked on `/v1/health/service/web` — half of them with
//! `?passing` — each asking with `Accept-Encoding: gzip`, as Go's HTTP client (consul-template's)
//! does. The flip re-registers one instance with its check critical.
//!
//! etcd: `N` keys under one prefix, each value the size of one of our instances, `W` watch
//! streams on the prefix through the gateway; the flip writes one key. etcd sends watchers the
//! changed key only, ours the service's whole list: the figures say what each model costs.

use crate::http::Conn;
use crate::load::Lat;
use crate::probe;
use crate::server::{Kind, Server};
use anyhow::Context;
use base64::Engine;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// One fan-out case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub instances: usize,
    pub watchers: usize,
}

/// What one case measured for one system.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub parked: usize,
    pub answered: usize,
    /// From the flip's write being sent to each watcher's whole answer received.
    pub lat: Lat,
    /// Server CPU seconds from the flip until the last answer, per answered watcher.
    pub cpu_per_answer_us: f64,
    /// Bytes of answer bodies received, in all.
    pub bytes: u64,
    pub rss_parked: u64,
}

/// How long the answers may take before the rest count as unanswered.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);
const PREFIX: &str = "svc/web/";

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// One instance of ours, with its check at `status`.
fn registration(i: usize, status: &str) -> Vec<u8> {
    format!(
        r#"{{"Node":"node-{i}","Address":"10.{}.{}.{}","Service":{{"ID":"web","Service":"web","Port":8080,"Tags":["v1"]}},"Check":{{"CheckID":"web-alive","Name":"web alive","ServiceID":"web","Status":"{status}","Output":"HTTP GET http://10.0.0.1:8080/health: 200 OK"}}}}"#,
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255
    )
    .into_bytes()
}

/// An etcd value the size of one of our instances in a health answer.
fn etcd_value(i: usize, status: &str) -> String {
    let mut v = format!(r#"{{"node":"node-{i}","status":"{status}","pad":""#);
    while v.len() < 1_000 {
        v.push('x');
    }
    v.push_str("\"}");
    v
}

fn etcd_put(i: usize, status: &str) -> Vec<u8> {
    let key = format!("{PREFIX}{i:06}");
    format!(
        r#"{{"key":"{}","value":"{}"}}"#,
        b64(key.as_bytes()),
        b64(etcd_value(i, status).as_bytes())
    )
    .into_bytes()
}

/// Writes the `n` instances (or keys) over 16 connections.
async fn populate(s: &Server, n: usize) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (next, addr, kind) = (next.clone(), s.addr, s.kind);
        tasks.spawn(async move {
            let mut c = Conn::connect(addr, None).await?;
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                let r = match kind {
                    Kind::Consul => {
                        c.request("PUT", "/v1/catalog/register", &registration(i, "passing"))
                            .await?
                    }
                    Kind::Etcd => c.request("POST", "/v3/kv/put", &etcd_put(i, "up")).await?,
                };
                anyhow::ensure!(r.status == 200, "populating: status {}", r.status);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

/// Runs one case against `s`.
pub async fn run_case(s: &Server, case: Case) -> anyhow::Result<Outcome> {
    populate(s, case.instances).await?;
    let (kind, addr) = (s.kind, s.addr);
    let mut ctl = Conn::connect(addr, None).await?;
    let index = match kind {
        Kind::Consul => ctl
            .request("GET", "/v1/health/service/web", b"")
            .await?
            .consul_index
            .unwrap_or(0),
        Kind::Etcd => 0,
    };
    probe::wait_idle(s.pid(), Duration::from_secs(10)).await;

    let ready = Arc::new(AtomicUsize::new(0));
    let (go_tx, go_rx) = watch::channel::<Option<Instant>>(None);
    let gate = Arc::new(Semaphore::new(128));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..case.watchers {
        let (ready, gate, mut go_rx) = (ready.clone(), gate.clone(), go_rx.clone());
        tasks.spawn(async move {
            let permit = gate.acquire_owned().await;
            let mut c = Conn::connect(addr, None).await?;
            let bytes = match kind {
                Kind::Consul => {
                    let passing = if w % 2 == 1 { "&passing" } else { "" };
                    let path = format!("/v1/health/service/web?index={index}&wait=300s{passing}");
                    c.send_with("GET", &path, &[("Accept-Encoding", "gzip")], b"")
                        .await?;
                    drop(permit);
                    ready.fetch_add(1, Ordering::SeqCst);
                    let r = c.read_response().await?;
                    anyhow::ensure!(
                        r.status == 200 && r.consul_index.unwrap_or(0) > index,
                        "woke without a new index"
                    );
                    r.body.len()
                }
                Kind::Etcd => {
                    let prefix_end = {
                        let mut e = PREFIX.as_bytes().to_vec();
                        if let Some(last) = e.last_mut() {
                            *last += 1;
                        }
                        e
                    };
                    let body = format!(
                        r#"{{"create_request":{{"key":"{}","range_end":"{}"}}}}"#,
                        b64(PREFIX.as_bytes()),
                        b64(&prefix_end)
                    );
                    let status = c.open_stream("/v3/watch", body.as_bytes()).await?;
                    anyhow::ensure!(status == 200, "watch status {status}");
                    let created = c.next_line().await?;
                    anyhow::ensure!(
                        crate::server::find(&created, b"\"created\":true"),
                        "watch not created"
                    );
                    drop(permit);
                    ready.fetch_add(1, Ordering::SeqCst);
                    loop {
                        let l = c.next_line().await?;
                        if crate::server::find(&l, b"\"events\"") {
                            break l.len();
                        }
                    }
                }
            };
            let at = Instant::now();
            let t0 = go_rx.wait_for(|v| v.is_some()).await?.unwrap_or(at);
            Ok::<_, anyhow::Error>((at.saturating_duration_since(t0), bytes, c))
        });
    }
    let t_setup = Instant::now();
    while ready.load(Ordering::SeqCst) < case.watchers {
        anyhow::ensure!(
            t_setup.elapsed() < Duration::from_secs(180),
            "only {} of {} watchers parked",
            ready.load(Ordering::SeqCst),
            case.watchers
        );
        if tasks.try_join_next().is_some() {
            anyhow::bail!("a watcher failed while parking");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    probe::wait_idle(s.pid(), Duration::from_secs(60)).await;
    let rss_parked = probe::rss(s.pid()).0;

    let cpu0 = probe::cpu_secs(s.pid());
    let t0 = Instant::now();
    let _ = go_tx.send(Some(t0));
    let r = match kind {
        Kind::Consul => {
            ctl.request("PUT", "/v1/catalog/register", &registration(0, "critical"))
                .await?
        }
        Kind::Etcd => {
            ctl.request("POST", "/v3/kv/put", &etcd_put(0, "down"))
                .await?
        }
    };
    anyhow::ensure!(
        r.status == 200,
        "the flip failed: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );

    let mut lat = Vec::with_capacity(case.watchers);
    let mut open = Vec::with_capacity(case.watchers);
    let mut bytes = 0u64;
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(Ok(Ok((d, n, c))))) => {
                lat.push(d.as_micros() as u64);
                bytes += n as u64;
                open.push(c);
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                tasks.abort_all();
                break;
            }
        }
    }
    let cpu = probe::cpu_secs(s.pid()) - cpu0;
    drop(open);
    let answered = lat.len();
    Ok(Outcome {
        parked: case.watchers,
        answered,
        lat: Lat::of(lat),
        cpu_per_answer_us: cpu * 1e6 / answered.max(1) as f64,
        bytes,
        rss_parked,
    })
}

/// Every case on a fresh server of each system; the table and the doc section.
pub async fn run(set: &crate::Settings, cases: &[Case]) -> anyhow::Result<()> {
    std::fs::create_dir_all(&set.dir)?;
    let mut rows = Vec::new();
    for &case in cases {
        for kind in [Kind::Etcd, Kind::Consul] {
            if !set.system(kind) {
                continue;
            }
            eprintln!(
                "fanout: {} with {} instances and {} watchers",
                kind.name(),
                case.instances,
                case.watchers
            );
            let mut s = Server::start(kind, &set.consul_bin, &set.dir)
                .await
                .with_context(|| format!("starting {}", kind.name()))?;
            let out = run_case(&s, case).await;
            s.stop()?;
            let out = out.with_context(|| format!("{} {case:?}", kind.name()))?;
            eprintln!("fanout: {}", row(kind, case, &out));
            rows.push((kind, case, out));
        }
    }
    let table = table(&rows);
    println!("{table}");
    if let Some(doc) = &set.doc {
        let section = format!(
            "{BEGIN}\n## Fan-out: one service, many watchers, one check flip\n\n\
             Measured with `{}` on {} (load average {:.2} before the run).\n\n{table}\n{END}\n",
            set.command,
            probe::sh("uname -srm").trim(),
            probe::load1(),
        );
        crate::report::write_section(doc, BEGIN, END, &section)?;
    }
    Ok(())
}

const BEGIN: &str = "<!-- fanout:begin -->";
const END: &str = "<!-- fanout:end -->";

fn row(kind: Kind, case: Case, o: &Outcome) -> String {
    format!(
        "| {} | {} | {} | {}/{} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} |",
        kind.name(),
        case.instances,
        case.watchers,
        o.answered,
        o.parked,
        o.lat.p50,
        o.lat.p99,
        o.lat.max,
        o.cpu_per_answer_us,
        o.bytes as f64 / 1e6,
        o.rss_parked as f64 / 1e6,
    )
}

fn table(rows: &[(Kind, Case, Outcome)]) -> String {
    let mut t = String::from(
        "| system | instances | watchers | answered | wake p50 ms | p99 ms | max ms | server CPU µs per answer | MB sent | server RSS parked MB |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (kind, case, o) in rows {
        t.push_str(&row(*kind, *case, o));
        t.push('\n');
    }
    t
}
