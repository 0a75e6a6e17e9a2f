//! One round: both systems fresh and side by side; wake-ups at each watcher count, PUT at
//! 1/16/256 clients, GET both consistencies, registrations (ours), then memory, disk and restart,
//! each measurement taken for etcd and then ours back to back. Every figure lands in a flat map
//! keyed by metric name.

use crate::grpc;
use crate::http::Conn;
use crate::load::{closed_loop, http_clients, Check, Client, MakeReq, Run};
use crate::probe::{self, SyncCounter};
use crate::server::{Kind, ReadMode, Server};
use crate::watch;
use crate::Settings;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub type Figures = BTreeMap<String, f64>;

pub const PUT_CLIENTS: [usize; 3] = [1, 16, 256];
const GET_CLIENTS: usize = 16;
const REG_CLIENTS: usize = 16;
/// Distinct keys written by the PUT load.
const KEYS: u64 = 1000;
const GET_KEY: &str = "bench/get";

fn value() -> Vec<u8> {
    (0..256).map(|i| b'a' + (i % 26) as u8).collect()
}

/// One round: both systems started fresh and kept running side by side, every measurement taken
/// back to back (etcd, then ours) so that the disk's slow and fast phases hit both alike.
/// Returns (etcd, ours); a system not selected comes back empty.
pub async fn round(set: &Settings) -> anyhow::Result<(Figures, Figures)> {
    let mut sys: Vec<(Server, Figures)> = Vec::new();
    for kind in [Kind::Etcd, Kind::Consul] {
        if set.system(kind) {
            sys.push((
                Server::start(kind, &set.consul_bin, &set.dir).await?,
                Figures::new(),
            ));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (s, f) in sys.iter_mut() {
        probe::wait_idle(s.pid(), Duration::from_secs(5)).await;
        f.insert("rss.idle".into(), probe::rss(s.pid()).0 as f64);
    }
    let val = Arc::new(value());

    // Wake-ups first and largest first: the memory each parked waiter costs is read as RSS
    // growth, which heap freed by earlier phases would hide.
    let mut sizes = set.watchers.clone();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    for &n in sizes.iter().filter(|_| set.phase("wake")) {
        for (s, f) in sys.iter_mut() {
            wake_size(f, s, n).await;
        }
    }
    for &c in PUT_CLIENTS.iter().filter(|_| set.phase("put")) {
        for (s, f) in sys.iter_mut() {
            put_phase(f, s, set, c, &val).await?;
        }
    }
    for (s, _) in sys.iter_mut() {
        let mut c = Conn::connect(s.addr, None).await?;
        let (m, p, b) = s.kind.put(GET_KEY, &val);
        c.request(m, &p, &b).await?;
    }
    let modes = [
        (ReadMode::Default, "default"),
        (ReadMode::Relaxed, "relaxed"),
    ];
    for (mode, name) in modes.into_iter().filter(|_| set.phase("get")) {
        for (s, f) in sys.iter_mut() {
            get_phase(f, s, set, mode, name).await?;
        }
    }
    for (s, f) in sys.iter_mut().filter(|(s, _)| s.kind == Kind::Consul) {
        if set.phase("reg") {
            for api in ["agent", "catalog"] {
                let make: MakeReq = Arc::new(move |client, n| registration(api, client, n));
                let check: Check = Arc::new(|r| r.status == 200);
                let clients = http_clients(s.addr, REG_CLIENTS, make, check).await?;
                measure(f, s, set, &format!("reg.{api}"), clients).await?;
            }
        }
    }
    let mut etcd = Figures::new();
    let mut ours = Figures::new();
    for (mut s, mut f) in sys {
        finish(&mut f, &mut s).await?;
        match s.kind {
            Kind::Etcd => etcd = f,
            Kind::Consul => ours = f,
        }
    }
    Ok((etcd, ours))
}

/// Parks `n` waiters and wakes them, repeated for small `n`.
async fn wake_size(f: &mut Figures, s: &Server, n: usize) {
    let kind = s.kind;
    // Small sizes are repeated and the median repetition kept, so that one slow fsync of the
    // waking write does not stand for the whole size.
    let reps = if n <= 1000 { 5 } else { 1 };
    let mut got = Vec::new();
    for _ in 0..reps {
        match watch::wake(s, n).await {
            Ok(w) => got.push(w),
            Err(e) => eprintln!("  {} wake x{n}: failed: {e:#}", kind.name()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let k = format!("wake.{n}");
    let woken = if got.len() == reps {
        got.iter().map(|w| w.woken).min().unwrap_or(0)
    } else {
        0
    };
    f.insert(format!("{k}.woken"), woken as f64);
    f.insert(format!("{k}.parked"), n as f64);
    if let Some(first) = got.first() {
        f.insert(format!("{k}.rss_per"), first.rss_per_waiter);
        f.insert(format!("{k}.rss"), first.rss_parked as f64);
        let med = |sel: fn(&watch::Wake) -> f64| {
            let mut v: Vec<f64> = got.iter().map(sel).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        f.insert(format!("{k}.p50"), med(|w| w.lat.p50));
        f.insert(format!("{k}.p99"), med(|w| w.lat.p99));
        f.insert(format!("{k}.max"), med(|w| w.lat.max));
        eprintln!(
            "  {} wake x{n} ({} reps): {woken}/{n} woken in every rep, p50 {:.1} ms p99 {:.1} ms max {:.1} ms (median rep); {:.1} KiB/waiter",
            kind.name(),
            got.len(),
            f[&format!("{k}.p50")],
            f[&format!("{k}.p99")],
            f[&format!("{k}.max")],
            first.rss_per_waiter / 1024.0
        );
    }
    // Let closed sockets drain before the next size.
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// PUT at `c` clients (etcd also over gRPC).
async fn put_phase(
    f: &mut Figures,
    s: &Server,
    set: &Settings,
    c: usize,
    val: &Arc<Vec<u8>>,
) -> anyhow::Result<()> {
    let kind = s.kind;
    let v = val.clone();
    let make: MakeReq = Arc::new(move |client, n| kind.put(&put_key(client, n), &v));
    let check: Check = Arc::new(move |r| kind.put_ok(r));
    let clients = http_clients(s.addr, c, make, check).await?;
    measure_put(f, s, set, &format!("put.{c}"), clients).await?;
    if kind == Kind::Etcd && set.etcd_grpc {
        let v = val.clone();
        let make: grpc::MakeMsg =
            Arc::new(move |client, n| grpc::put_request(put_key(client, n).as_bytes(), &v));
        let clients = grpc::clients(s.addr, c, grpc::PUT, make).await?;
        measure_put(f, s, set, &format!("grpc.put.{c}"), clients).await?;
    }
    Ok(())
}

/// GET of one key at 16 clients (etcd also over gRPC).
async fn get_phase(
    f: &mut Figures,
    s: &Server,
    set: &Settings,
    mode: ReadMode,
    name: &str,
) -> anyhow::Result<()> {
    let kind = s.kind;
    let req = kind.get(GET_KEY, mode);
    let make: MakeReq = Arc::new(move |_, _| req.clone());
    let check: Check = Arc::new(move |r| kind.get_ok(r));
    let clients = http_clients(s.addr, GET_CLIENTS, make, check).await?;
    measure(f, s, set, &format!("get.{name}"), clients).await?;
    if kind == Kind::Etcd && set.etcd_grpc {
        let msg = grpc::range_request(GET_KEY.as_bytes(), mode == ReadMode::Relaxed);
        let make: grpc::MakeMsg = Arc::new(move |_, _| msg.clone());
        let clients = grpc::clients(s.addr, GET_CLIENTS, grpc::RANGE, make).await?;
        measure(f, s, set, &format!("grpc.get.{name}"), clients).await?;
    }
    Ok(())
}

/// Peak memory, data size, restart time; then stops and removes the data.
async fn finish(f: &mut Figures, s: &mut Server) -> anyhow::Result<()> {
    f.insert("rss.peak".into(), probe::rss(s.pid()).1 as f64);
    f.insert("disk".into(), probe::du(&s.data_dir) as f64);
    let (read, write) = s.restart(GET_KEY).await?;
    f.insert("restart.read".into(), read.as_secs_f64() * 1000.0);
    f.insert("restart.write".into(), write.as_secs_f64() * 1000.0);
    eprintln!(
        "  {} restart: reads after {:.0} ms, writes after {:.0} ms; data dir {:.1} MiB",
        s.kind.name(),
        read.as_secs_f64() * 1000.0,
        write.as_secs_f64() * 1000.0,
        f["disk"] / 1048576.0
    );
    s.stop()?;
    let _ = std::fs::remove_dir_all(&s.data_dir);
    Ok(())
}

fn put_key(client: usize, n: u64) -> String {
    format!("bench/k{}", (client as u64 * 7919 + n) % KEYS)
}

/// One load window with the server's CPU per operation; figures under `k`.
async fn measure<C: Client>(
    f: &mut Figures,
    s: &Server,
    set: &Settings,
    k: &str,
    clients: Vec<C>,
) -> anyhow::Result<Run> {
    let cpu0 = probe::cpu_secs(s.pid());
    let run = closed_loop(clients, set.warmup, set.window).await?;
    let cpu = probe::cpu_secs(s.pid()) - cpu0;
    record(f, k, &run, cpu);
    eprintln!(
        "  {} {k}: {:.0}/s p50 {:.2} ms p99 {:.2} ms, {} errors",
        s.kind.name(),
        run.rate(),
        run.lat.p50,
        run.lat.p99,
        run.errors
    );
    Ok(run)
}

/// A write window: also counts the server's fsyncs (perf, and etcd's own metric).
async fn measure_put<C: Client>(
    f: &mut Figures,
    s: &Server,
    set: &Settings,
    k: &str,
    clients: Vec<C>,
) -> anyhow::Result<()> {
    let wal0 = etcd_wal_fsyncs(s).await;
    let counter = SyncCounter::attach(s.pid(), set.dir.join(format!("perf-{k}.txt"))).await;
    let run = measure(f, s, set, k, clients).await?;
    let syncs = counter.and_then(SyncCounter::finish);
    let wal1 = etcd_wal_fsyncs(s).await;
    if let Some(n) = syncs.filter(|&n| n > 0) {
        f.insert(format!("{k}.wps"), run.all_ok as f64 / n as f64);
    }
    if let (Some(a), Some(b)) = (wal0, wal1) {
        if b > a {
            f.insert(format!("{k}.wal_wps"), run.all_ok as f64 / (b - a) as f64);
        }
    }
    Ok(())
}

fn record(f: &mut Figures, k: &str, run: &Run, cpu: f64) {
    f.insert(format!("{k}.rate"), run.rate());
    f.insert(format!("{k}.p50"), run.lat.p50);
    f.insert(format!("{k}.p99"), run.lat.p99);
    f.insert(format!("{k}.errors"), run.errors as f64);
    if run.all_ok > 0 {
        f.insert(format!("{k}.cpu_us"), cpu * 1e6 / run.all_ok as f64);
    }
}

/// Registration `n` of client `client` through `api`: 1,000 distinct services per client, so
/// the load is mostly re-registration, as a registrator resync is.
fn registration(api: &str, client: usize, n: u64) -> crate::server::Req {
    let id = n % 1000;
    match api {
        "agent" => (
            "PUT",
            "/v1/agent/service/register".to_string(),
            format!(
                r#"{{"ID":"web-{client}-{id}","Name":"web-{client}","Tags":["bench","v1"],"Address":"10.0.{client}.{}","Port":{}}}"#,
                id % 250,
                8000 + id
            )
            .into_bytes(),
        ),
        _ => (
            "PUT",
            "/v1/catalog/register".to_string(),
            format!(
                r#"{{"Node":"bench-node-{client}","Address":"10.1.0.{client}","Service":{{"ID":"api-{id}","Service":"api","Tags":["bench"],"Port":{}}}}}"#,
                9000 + id
            )
            .into_bytes(),
        ),
    }
}

/// etcd's `etcd_disk_wal_fsync_duration_seconds_count`, or `None` for ours.
async fn etcd_wal_fsyncs(s: &Server) -> Option<u64> {
    if s.kind != Kind::Etcd {
        return None;
    }
    let mut c = Conn::connect(s.addr, None).await.ok()?;
    let r = c.request("GET", "/metrics", b"").await.ok()?;
    let text = String::from_utf8_lossy(&r.body);
    text.lines()
        .find(|l| l.starts_with("etcd_disk_wal_fsync_duration_seconds_count"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}
