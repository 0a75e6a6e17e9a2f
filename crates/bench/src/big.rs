//! The big catalog (issue 20): 10,000 nodes × 10 services (100,000 instances, one check each)
//! and 1,000,000 KV keys in one server; etcd with the same 1,000,000 keys beside it. Memory per
//! instance and per key, the data directory, a snapshot's time and size, the restart until
//! serving, and GET/PUT latency against the same server empty.

use crate::load::{closed_loop, http_clients, Check, Lat, MakeReq};
use crate::probe;
use crate::server::{Kind, ReadMode, Server};
use anyhow::Context;
use base64::Engine;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sizes of one run.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub nodes: usize,
    pub services_per_node: usize,
    pub keys: usize,
}

/// What one system measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub rss_empty: u64,
    pub rss_catalog: u64,
    pub rss_full: u64,
    pub catalog_secs: f64,
    pub kv_secs: f64,
    pub data_bytes: u64,
    pub snapshot_secs: f64,
    pub snapshot_bytes: u64,
    pub restart_read: Duration,
    pub restart_write: Duration,
    pub get_empty: Lat,
    pub get_full: Lat,
    pub put_empty: Lat,
    pub put_full: Lat,
}

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Request `i` of a fill.
type MakeOne = Arc<dyn Fn(usize) -> crate::server::Req + Send + Sync>;

const VALUE: &[u8] = b"value-of-a-key-in-the-big-catalog-benchmark-64-bytes-long-000000";

/// Sends `total` requests made by `make(i)` over `conns` connections; every answer must be 200.
async fn fill(s: &Server, total: usize, conns: usize, make: MakeOne) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..conns {
        let (next, make, addr) = (next.clone(), make.clone(), s.addr);
        tasks.spawn(async move {
            let mut c = crate::http::Conn::connect(addr, None).await?;
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                let (m, p, b) = make(i);
                let r = c.request(m, &p, &b).await?;
                anyhow::ensure!(
                    r.status == 200,
                    "{p}: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                );
            }
        });
    }
    let mut last_report = Instant::now();
    while !tasks.is_empty() {
        match tokio::time::timeout(Duration::from_secs(1), tasks.join_next()).await {
            Ok(Some(r)) => r??,
            Ok(None) => break,
            Err(_) => {}
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "big: {} of {total} requests",
                next.load(Ordering::SeqCst).min(total)
            );
            last_report = Instant::now();
        }
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// Our catalog: one `/v1/catalog/register` per instance, its check with it.
fn register(size: Size) -> MakeOne {
    Arc::new(move |i| {
        let (node, svc) = (i / size.services_per_node, i % size.services_per_node);
        let body = format!(
            r#"{{"Node":"node-{node}","Address":"10.{}.{}.{}","Service":{{"ID":"svc-{svc}","Service":"svc-{svc}","Port":{},"Tags":["v1"]}},"Checks":[{{"CheckID":"svc-{svc}-alive","Name":"alive","ServiceID":"svc-{svc}","Status":"passing"}}]}}"#,
            (node >> 16) & 255,
            (node >> 8) & 255,
            node & 255,
            8000 + svc
        );
        ("PUT", "/v1/catalog/register".to_string(), body.into_bytes())
    })
}

/// Keys: ours one `PUT /v1/kv/<key>` each (a `/v1/txn` copies the whole KV map to roll back,
/// so filling 1,000,000 keys through it crawls: see docs/BENCHMARKS.md), etcd 128 per txn (its
/// default `--max-txn-ops`).
fn keys(kind: Kind, keys: usize) -> (usize, MakeOne) {
    let per = match kind {
        Kind::Consul => 1,
        Kind::Etcd => 128,
    };
    let batches = keys.div_ceil(per);
    let value = b64(VALUE);
    let make = Arc::new(move |b: usize| {
        let range = b * per..((b + 1) * per).min(keys);
        match kind {
            Kind::Consul => ("PUT", format!("/v1/kv/big/{b:07}"), VALUE.to_vec()),
            Kind::Etcd => {
                let ops: Vec<String> = range
                    .map(|i| {
                        format!(
                            r#"{{"requestPut":{{"key":"{}","value":"{value}"}}}}"#,
                            b64(format!("big/{i:07}").as_bytes())
                        )
                    })
                    .collect();
                (
                    "POST",
                    "/v3/kv/txn".to_string(),
                    format!(r#"{{"success":[{}]}}"#, ops.join(",")).into_bytes(),
                )
            }
        }
    });
    (batches, make)
}

/// GET and PUT latency with 16 clients for `secs` each.
async fn latency(s: &Server, secs: f64) -> anyhow::Result<(Lat, Lat)> {
    let kind = s.kind;
    let put: MakeReq =
        Arc::new(move |c, n| kind.put(&format!("lat/{c}"), format!("{n}").as_bytes()));
    let ok: Check = Arc::new(move |r| kind.put_ok(r));
    let window = Duration::from_secs_f64(secs);
    let p = closed_loop(
        http_clients(s.addr, 16, put, ok).await?,
        Duration::from_millis(500),
        window,
    )
    .await?;
    let get: MakeReq = Arc::new(move |c, _| kind.get(&format!("lat/{c}"), ReadMode::Default));
    let ok: Check = Arc::new(move |r| kind.get_ok(r));
    let g = closed_loop(
        http_clients(s.addr, 16, get, ok).await?,
        Duration::from_millis(500),
        window,
    )
    .await?;
    Ok((g.lat, p.lat))
}

/// A snapshot: ours through `/v1/snapshot`, etcd through `etcdctl snapshot save`.
async fn snapshot(s: &Server, dir: &std::path::Path) -> anyhow::Result<(f64, u64)> {
    let t0 = Instant::now();
    match s.kind {
        Kind::Consul => {
            let mut c = crate::http::Conn::connect(s.addr, None).await?;
            let r = c.request("GET", "/v1/snapshot", b"").await?;
            anyhow::ensure!(r.status == 200, "snapshot: {}", r.status);
            Ok((t0.elapsed().as_secs_f64(), r.body.len() as u64))
        }
        Kind::Etcd => {
            let file = dir.join("etcd.snapshot");
            let _ = std::fs::remove_file(&file);
            let out = tokio::process::Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .arg(format!("--endpoints=http://{}", s.addr))
                .arg("snapshot")
                .arg("save")
                .arg(&file)
                .output()
                .await
                .context("etcdctl (Debian's etcd-client)")?;
            anyhow::ensure!(
                out.status.success(),
                "etcdctl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let secs = t0.elapsed().as_secs_f64();
            let bytes = std::fs::metadata(&file)?.len();
            let _ = std::fs::remove_file(&file);
            Ok((secs, bytes))
        }
    }
}

/// One system through every step.
pub async fn run_one(
    set: &crate::Settings,
    kind: Kind,
    size: Size,
    secs: f64,
) -> anyhow::Result<Outcome> {
    let mut s = Server::start(kind, &set.consul_bin, &set.dir).await?;
    let mut o = Outcome::default();
    probe::wait_idle(s.pid(), Duration::from_secs(10)).await;
    (o.get_empty, o.put_empty) = latency(&s, secs).await?;
    probe::wait_idle(s.pid(), Duration::from_secs(10)).await;
    o.rss_empty = probe::rss(s.pid()).0;
    if kind == Kind::Consul {
        let n = size.nodes * size.services_per_node;
        eprintln!("big: {} registering {n} instances", kind.name());
        o.catalog_secs = fill(&s, n, 32, register(size)).await?;
        probe::wait_idle(s.pid(), Duration::from_secs(30)).await;
    }
    o.rss_catalog = probe::rss(s.pid()).0;
    eprintln!("big: {} writing {} keys", kind.name(), size.keys);
    let (batches, make) = keys(kind, size.keys);
    o.kv_secs = fill(&s, batches, 16, make).await?;
    probe::wait_idle(s.pid(), Duration::from_secs(60)).await;
    o.rss_full = probe::rss(s.pid()).0;
    (o.get_full, o.put_full) = latency(&s, secs).await?;
    (o.snapshot_secs, o.snapshot_bytes) = snapshot(&s, &set.dir).await?;
    o.data_bytes = probe::du(&s.data_dir);
    eprintln!("big: {} restarting", kind.name());
    (o.restart_read, o.restart_write) = s
        .restart(&format!("big/{:07}", size.keys.saturating_sub(1)))
        .await?;
    s.stop()?;
    Ok(o)
}

/// Both systems, the table, and the doc section.
pub async fn run(set: &crate::Settings, size: Size) -> anyhow::Result<()> {
    std::fs::create_dir_all(&set.dir)?;
    let secs = set.window.as_secs_f64().min(5.0);
    let mut rows = Vec::new();
    for kind in [Kind::Etcd, Kind::Consul] {
        if set.system(kind) {
            let o = run_one(set, kind, size, secs)
                .await
                .with_context(|| kind.name())?;
            eprintln!("big: {} {o:?}", kind.name());
            rows.push((kind, o));
        }
    }
    let table = table(size, &rows);
    println!("{table}");
    if let Some(doc) = &set.doc {
        let section = format!(
            "{BEGIN}\n## Big catalog: {} instances and {} keys\n\nMeasured with `{}` (load average {:.2} at the end).\n\n{table}\n{END}\n",
            size.nodes * size.services_per_node,
            size.keys,
            set.command,
            probe::load1(),
        );
        crate::report::write_section(doc, BEGIN, END, &section)?;
    }
    Ok(())
}

const BEGIN: &str = "<!-- big:begin -->";
const END: &str = "<!-- big:end -->";

fn table(size: Size, rows: &[(Kind, Outcome)]) -> String {
    let instances = (size.nodes * size.services_per_node).max(1) as f64;
    let mb = |b: u64| b as f64 / 1e6;
    let mut t = String::from(
        "| system | RSS empty MB | RSS per instance B | RSS per key B | RSS full MB | catalog fill s | keys fill s | data dir MB | snapshot s | snapshot MB | restart: read s | restart: write s | GET p50/p99 ms empty → full | PUT p50/p99 ms empty → full |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (kind, o) in rows {
        let per_instance = if *kind == Kind::Consul {
            format!(
                "{:.0}",
                o.rss_catalog.saturating_sub(o.rss_empty) as f64 / instances
            )
        } else {
            "—".into()
        };
        t.push_str(&format!(
            "| {} | {:.0} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2}/{:.2} → {:.2}/{:.2} | {:.2}/{:.2} → {:.2}/{:.2} |\n",
            kind.name(),
            mb(o.rss_empty),
            per_instance,
            o.rss_full.saturating_sub(o.rss_catalog) as f64 / size.keys.max(1) as f64,
            mb(o.rss_full),
            o.catalog_secs,
            o.kv_secs,
            mb(o.data_bytes),
            o.snapshot_secs,
            mb(o.snapshot_bytes),
            o.restart_read.as_secs_f64(),
            o.restart_write.as_secs_f64(),
            o.get_empty.p50,
            o.get_empty.p99,
            o.get_full.p50,
            o.get_full.p99,
            o.put_empty.p50,
            o.put_empty.p99,
            o.put_full.p50,
            o.put_full.p99,
        ));
    }
    t
}
