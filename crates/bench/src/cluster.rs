//! The cluster benchmark: write throughput and latency of three `consul` servers against one,
//! and against three- and one-member etcd clusters, interleaved round by round; then the time
//! from `kill -9` of the leader until a survivor knows a new leader and until it acknowledges a
//! write, over many kills, for both three-member clusters.
//!
//! Members run on 127.0.0.1, 127.0.0.2 and 127.0.0.3 with durability on, data dirs on disk.
//! Writes go to the leader (a follower would forward them): PUT of 256-byte values through the
//! same closed-loop HTTP/1.1 clients for both, and for etcd also over native gRPC.

use crate::grpc;
use crate::http::Conn;
use crate::load::{closed_loop, http_clients, Check, Client, Lat, MakeReq, Run};
use crate::probe;
use crate::report::{median, write_section};
use crate::server::{Kind, Proc};
use crate::Settings;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::Mode;

const CLIENTS: [usize; 3] = [1, 16, 64];
const IPS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
const BEGIN: &str =
    "<!-- bench:cluster:begin (written by `scripts/bench --cluster`; edit the generator, not this) -->";
const END: &str = "<!-- bench:cluster:end -->";

type Figures = BTreeMap<String, f64>;

/// One member process.
struct Member {
    ip: &'static str,
    client: SocketAddr,
    peer_port: u16,
    proc: Proc,
}

impl Member {
    fn spawn(&mut self) -> anyhow::Result<()> {
        self.proc.spawn()
    }

    fn kill(&mut self) {
        self.proc.kill();
    }

    fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    fn alive(&self) -> bool {
        self.proc.pid().is_some()
    }
}

/// A running cluster of one kind: one or three members.
struct Cluster {
    kind: Kind,
    members: Vec<Member>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill();
        }
    }
}

/// A port free on every loopback address used, for etcd, which binds its own (racy: our
/// consul gets held sockets instead, `ReservedPort::shared`).
fn shared_port() -> anyhow::Result<u16> {
    for _ in 0..50 {
        let p = test_support::free_port();
        if IPS
            .iter()
            .all(|ip| std::net::TcpListener::bind((*ip, p)).is_ok())
        {
            return Ok(p);
        }
    }
    bail!("no port free on all of {IPS:?}")
}

impl Cluster {
    /// Starts `size` members of `kind` with fresh data under `root` and waits for a leader
    /// that acknowledges writes.
    async fn start(kind: Kind, size: usize, consul: &Path, root: &Path) -> anyhow::Result<Cluster> {
        let name = format!("{}{size}", kind.name());
        let base = root.join(format!("cluster-{name}"));
        if base.exists() {
            std::fs::remove_dir_all(&base)?;
        }
        std::fs::create_dir_all(&base)?;
        let ips = &IPS[..size];
        // Our consul: the client and server ports held on every address until handed over.
        let mut held = Vec::new();
        let (client_port, peer_port) = match kind {
            Kind::Consul => {
                let http = test_support::ReservedPort::shared(ips);
                let server = test_support::ReservedPort::shared(ips);
                let ports = (http[0].port(), server[0].port());
                held.extend(http.into_iter().zip(server));
                ports
            }
            Kind::Etcd => (shared_port()?, shared_port()?),
        };
        let mut held = held.into_iter();
        let etcd_initial = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| format!("m{i}=http://{ip}:{peer_port}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            let data = base.join(format!("m{i}"));
            std::fs::create_dir_all(&data)?;
            let client: SocketAddr = format!("{ip}:{client_port}").parse()?;
            let log = base.join(format!("m{i}.log"));
            let proc = match kind {
                Kind::Consul => {
                    let (http, server) = held.next().context("a held port pair per member")?;
                    let mode = if size == 1 {
                        Mode::Bootstrap
                    } else {
                        Mode::Expect {
                            servers: size,
                            join: ips
                                .iter()
                                .filter(|o| *o != ip)
                                .map(|o| format!("{o}:{peer_port}"))
                                .collect(),
                        }
                    };
                    let c = test_support::Consul::builder()
                        .binary(consul)
                        .mode(mode)
                        .http_port(http)
                        .server_port(server)
                        .node(&format!("m{i}"))
                        .data_dir(&data)
                        .log_file(&log)
                        .args([
                            "-log-level=warn",
                            // All load comes from one address; no per-client cap (Consul's is 200).
                            "-hcl=limits { http_max_conns_per_client = 0 }",
                        ])
                        .build();
                    Proc::Consul(Box::new(c))
                }
                Kind::Etcd => Proc::command(
                    PathBuf::from("etcd"),
                    vec![
                        format!("--name=m{i}"),
                        format!("--data-dir={}", data.display()),
                        format!("--listen-client-urls=http://{client}"),
                        format!("--advertise-client-urls=http://{client}"),
                        format!("--listen-peer-urls=http://{ip}:{peer_port}"),
                        format!("--initial-advertise-peer-urls=http://{ip}:{peer_port}"),
                        format!("--initial-cluster={etcd_initial}"),
                        "--initial-cluster-state=new".into(),
                        "--initial-cluster-token=bench".into(),
                        "--log-level=warn".into(),
                    ],
                    log,
                ),
            };
            let mut m = Member {
                ip,
                client,
                peer_port,
                proc,
            };
            m.spawn()?;
            members.push(m);
        }
        let c = Cluster { kind, members };
        c.wait_leader(None, Duration::from_secs(60))
            .await
            .with_context(|| format!("{name} elected no leader; logs in {}", base.display()))?;
        Ok(c)
    }

    /// The member that a live member names as leader, if any.
    async fn leader_seen_by(&self, i: usize) -> Option<usize> {
        let m = &self.members[i];
        let mut c = tokio::time::timeout(Duration::from_millis(500), Conn::connect(m.client, None))
            .await
            .ok()?
            .ok()?;
        match self.kind {
            Kind::Consul => {
                let r = tokio::time::timeout(
                    Duration::from_millis(500),
                    c.request("GET", "/v1/status/leader", b""),
                )
                .await
                .ok()?
                .ok()?;
                let addr: String = serde_json::from_slice(&r.body).ok()?;
                self.members
                    .iter()
                    .position(|o| addr == format!("{}:{}", o.ip, o.peer_port))
            }
            Kind::Etcd => {
                // Every member reports its own id and the leader's; ask each live one.
                let mut leader_id = None;
                let mut ids = Vec::new();
                for (j, o) in self.members.iter().enumerate() {
                    if !o.alive() {
                        continue;
                    }
                    let status = etcd_status(o.client).await;
                    if j == i {
                        leader_id = status.as_ref().map(|s| s.1.clone());
                    }
                    if let Some((id, _)) = status {
                        ids.push((j, id));
                    }
                }
                let leader_id = leader_id?;
                ids.into_iter()
                    .find(|(_, id)| *id == leader_id)
                    .map(|(j, _)| j)
            }
        }
    }

    /// Waits until a live member names a live leader other than `not`, which acknowledges a
    /// write; returns its position.
    async fn wait_leader(&self, not: Option<usize>, limit: Duration) -> anyhow::Result<usize> {
        let t0 = Instant::now();
        loop {
            for i in (0..self.members.len()).filter(|i| self.members[*i].alive()) {
                if let Some(l) = self.leader_seen_by(i).await {
                    if Some(l) != not
                        && self.members[l].alive()
                        && put_once(self.kind, self.members[l].client, Duration::from_secs(2)).await
                    {
                        return Ok(l);
                    }
                }
            }
            if t0.elapsed() > limit {
                bail!("no leader after {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn cpu(&self) -> f64 {
        self.members
            .iter()
            .filter_map(|m| m.pid())
            .map(probe::cpu_secs)
            .sum()
    }
}

/// (member id, leader id) from etcd's maintenance status.
async fn etcd_status(addr: SocketAddr) -> Option<(String, String)> {
    let mut c = tokio::time::timeout(Duration::from_millis(500), Conn::connect(addr, None))
        .await
        .ok()?
        .ok()?;
    let r = tokio::time::timeout(
        Duration::from_millis(500),
        c.request("POST", "/v3/maintenance/status", b"{}"),
    )
    .await
    .ok()?
    .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    let s = |x: &serde_json::Value| match x {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Some((s(&v["header"]["member_id"])?, s(&v["leader"])?))
}

/// One PUT on a fresh connection; true when acknowledged within `limit`.
async fn put_once(kind: Kind, addr: SocketAddr, limit: Duration) -> bool {
    let attempt = async {
        let mut c = Conn::connect(addr, None).await.ok()?;
        let (m, p, b) = kind.put("bench/failover", b"1");
        let r = c.request(m, &p, &b).await.ok()?;
        Some(kind.put_ok(&r))
    };
    matches!(tokio::time::timeout(limit, attempt).await, Ok(Some(true)))
}

fn value() -> Arc<Vec<u8>> {
    Arc::new((0..256).map(|i| b'a' + (i % 26) as u8).collect())
}

fn put_key(client: usize, n: u64) -> String {
    format!("bench/c{client}/k{}", n % 100)
}

/// PUT load at every client count against the leader of `c`; figures under `prefix`.
async fn put_load(
    f: &mut Figures,
    c: &Cluster,
    leader: usize,
    set: &Settings,
    prefix: &str,
) -> anyhow::Result<()> {
    let kind = c.kind;
    let addr = c.members[leader].client;
    for clients in CLIENTS {
        let v = value();
        let make: MakeReq = Arc::new(move |client, n| kind.put(&put_key(client, n), &v));
        let check: Check = Arc::new(move |r| kind.put_ok(r));
        let run = measured(c, set, http_clients(addr, clients, make, check).await?).await?;
        record(f, &format!("{prefix}.put.{clients}"), &run.0, run.1);
        if kind == Kind::Etcd && set.etcd_grpc {
            let v = value();
            let make: grpc::MakeMsg =
                Arc::new(move |client, n| grpc::put_request(put_key(client, n).as_bytes(), &v));
            let clients_v = grpc::clients(addr, clients, grpc::PUT, make).await?;
            let run = measured(c, set, clients_v).await?;
            record(f, &format!("{prefix}grpc.put.{clients}"), &run.0, run.1);
        }
    }
    Ok(())
}

/// Runs the load and returns it with the cluster's CPU seconds per acknowledged write.
async fn measured<C: Client>(
    c: &Cluster,
    set: &Settings,
    clients: Vec<C>,
) -> anyhow::Result<(Run, f64)> {
    let cpu0 = c.cpu();
    let run = closed_loop(clients, set.warmup, set.window).await?;
    let cpu = (c.cpu() - cpu0) / run.all_ok.max(1) as f64;
    Ok((run, cpu))
}

fn record(f: &mut Figures, key: &str, run: &Run, cpu_per_op: f64) {
    eprintln!(
        "  {key}: {:.0}/s p50 {:.2} ms p99 {:.2} ms, {} errors, {:.0} µs CPU/op",
        run.rate(),
        run.lat.p50,
        run.lat.p99,
        run.errors,
        cpu_per_op * 1e6
    );
    f.insert(format!("{key}.rate"), run.rate());
    f.insert(format!("{key}.p50"), run.lat.p50);
    f.insert(format!("{key}.p99"), run.lat.p99);
    f.insert(format!("{key}.errors"), run.errors as f64);
    f.insert(format!("{key}.cpu_us"), cpu_per_op * 1e6);
}

/// Kills the leader `kills` times; (ms until a survivor names a new leader, ms until a
/// survivor acknowledges a write) for each kill.
async fn failovers(c: &mut Cluster, kills: usize) -> anyhow::Result<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    for k in 1..=kills {
        let old = c.wait_leader(None, Duration::from_secs(60)).await?;
        // Let the restarted member of the last kill catch up and the cluster settle.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t0 = Instant::now();
        c.members[old].kill();
        let survivors: Vec<usize> = (0..c.members.len()).filter(|i| *i != old).collect();
        let elected = async {
            loop {
                for &i in &survivors {
                    if let Some(l) = c.leader_seen_by(i).await {
                        if l != old {
                            return t0.elapsed();
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let written = first_write(c, &survivors, t0);
        let (elected, written) = tokio::time::timeout(Duration::from_secs(60), async {
            tokio::join!(elected, written)
        })
        .await
        .context("no new leader within 60 s of killing the old one")?;
        let e = elected.as_secs_f64() * 1e3;
        let w = written.as_secs_f64() * 1e3;
        eprintln!(
            "  {} kill {k}/{kills} (m{old}): new leader known after {e:.0} ms, first write acknowledged after {w:.0} ms",
            c.kind.name()
        );
        out.push((e, w));
        c.members[old].spawn()?;
    }
    c.wait_leader(None, Duration::from_secs(60)).await?;
    Ok(out)
}

/// Starts a write attempt on each survivor every 20 ms (each may wait up to 3 s); returns when
/// the first is acknowledged.
async fn first_write(c: &Cluster, survivors: &[usize], t0: Instant) -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for &i in survivors {
                    let (kind, addr, tx) = (c.kind, c.members[i].client, tx.clone());
                    tasks.spawn(async move {
                        if put_once(kind, addr, Duration::from_secs(3)).await {
                            let _ = tx.send(Instant::now());
                        }
                    });
                }
            }
            Some(at) = rx.recv() => {
                tasks.abort_all();
                return at.duration_since(t0);
            }
        }
    }
}

fn lat_of(ms: &[f64]) -> Lat {
    Lat::of(ms.iter().map(|m| (m * 1000.0) as u64).collect())
}

/// Runs the cluster benchmark and writes its section of the doc.
pub async fn run(set: &Settings, kills: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(&set.dir)?;
    let fs = probe::check_not_tmpfs(&set.dir)?;
    eprintln!(
        "bench --cluster: data under {} ({fs}), {} rounds, {kills} leader kills each",
        set.dir.display(),
        set.rounds
    );
    let systems = [
        (Kind::Etcd, 3usize),
        (Kind::Consul, 3),
        (Kind::Consul, 1),
        (Kind::Etcd, 1),
    ];
    let mut rounds: Vec<Figures> = Vec::new();
    crate::settle().await;
    let load_before = probe::load1();
    for round in 1..=set.rounds {
        let mut f = Figures::new();
        for (kind, size) in systems.into_iter().filter(|(k, _)| set.system(*k)) {
            let prefix = format!("{}{size}", kind.name());
            eprintln!("round {round}: {prefix}");
            let c = Cluster::start(kind, size, &set.consul_bin, &set.dir).await?;
            let leader = c.wait_leader(None, Duration::from_secs(30)).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            put_load(&mut f, &c, leader, set, &prefix).await?;
        }
        rounds.push(f);
    }
    let mut fail: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for kind in [Kind::Etcd, Kind::Consul]
        .into_iter()
        .filter(|k| set.system(*k))
    {
        eprintln!("failover: {} x3, {kills} kills", kind.name());
        let mut c = Cluster::start(kind, 3, &set.consul_bin, &set.dir).await?;
        fail.insert(kind.name(), failovers(&mut c, kills).await?);
    }
    let load_after = probe::load1();
    let med = medians(&rounds);
    let text = section(set, &med, &fail, kills, (load_before, load_after));
    println!("{text}");
    let raw = set.dir.join("cluster-figures.json");
    std::fs::write(
        &raw,
        serde_json::to_vec_pretty(&serde_json::json!({"rounds": rounds, "failover": fail}))?,
    )?;
    eprintln!("raw figures in {}", raw.display());
    if let Some(doc) = &set.doc {
        write_section(doc, BEGIN, END, &text)?;
        eprintln!("wrote {}", doc.display());
    }
    Ok(())
}

fn medians(rounds: &[Figures]) -> Figures {
    let mut keys: Vec<&String> = rounds.iter().flat_map(|r| r.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let v: Vec<f64> = rounds.iter().filter_map(|r| r.get(k).copied()).collect();
            median(v).map(|m| (k.clone(), m))
        })
        .collect()
}

fn section(
    set: &Settings,
    m: &Figures,
    fail: &BTreeMap<&str, Vec<(f64, f64)>>,
    kills: usize,
    load: (f64, f64),
) -> String {
    let g = |k: &str| m.get(k).copied().unwrap_or(0.0);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}");
    let _ = writeln!(
        s,
        "## Cluster: three servers vs one, vs a three-member etcd\n"
    );
    let _ = writeln!(
        s,
        "Produced by `{}` (crate `crates/bench`, module `cluster`): {} interleaved rounds \
         (etcd x3, ours x3, ours x1, etcd x1, each started fresh), medians; members on 127.0.0.1/2/3, \
         durability on, data on disk; PUT of 256-byte values by closed-loop clients on keep-alive \
         HTTP/1.1 to the leader ({:.1} s measured after {:.1} s warm-up per cell), etcd also over \
         native gRPC. CPU is the sum over all members per acknowledged write. Load average {:.2} \
         before, {:.2} after, on {} cores.\n",
        set.command,
        set.rounds,
        set.window.as_secs_f64(),
        set.warmup.as_secs_f64(),
        load.0,
        load.1,
        probe::sh("nproc").trim()
    );
    let _ = writeln!(
        s,
        "| PUT | clients | ours x3 | ours x1 | etcd x3 (HTTP) | etcd x3 (gRPC) | etcd x1 (gRPC) | x3 vs etcd x3 HTTP / gRPC | x3 vs x1 |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    // The systems of the table's columns, in order.
    const COLUMNS: [&str; 5] = ["ours3", "ours1", "etcd3", "etcd3grpc", "etcd1grpc"];
    for c in CLIENTS {
        let k = |p: &str, what: &str| g(&format!("{p}.put.{c}.{what}"));
        let cells = |cell: &dyn Fn(&str) -> String| {
            COLUMNS
                .iter()
                .map(|p| cell(p))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let vs = |what: &str, other: &str| ratio(k("ours3", what), k(other, what));
        let _ = writeln!(
            s,
            "| writes/s | {c} | {} | **{:.2}x** / **{:.2}x** | {:.2}x |",
            cells(&|p| format!("{:.0}", k(p, "rate"))),
            vs("rate", "etcd3"),
            vs("rate", "etcd3grpc"),
            vs("rate", "ours1"),
        );
        let _ = writeln!(
            s,
            "| p50 / p99 ms | {c} | {} | p99 {:.2}x / {:.2}x | |",
            cells(&|p| format!("{:.2} / {:.2}", k(p, "p50"), k(p, "p99"))),
            vs("p99", "etcd3"),
            vs("p99", "etcd3grpc"),
        );
        let _ = writeln!(
            s,
            "| CPU µs/write | {c} | {} | {:.2}x / {:.2}x | |",
            cells(&|p| format!("{:.0}", k(p, "cpu_us"))),
            vs("cpu_us", "etcd3"),
            vs("cpu_us", "etcd3grpc"),
        );
    }
    let errors: f64 = m
        .iter()
        .filter(|(k, _)| k.ends_with(".errors"))
        .map(|(_, v)| v)
        .sum();
    let _ = writeln!(
        s,
        "\nErrors during the measured windows (medians summed): {errors:.0}.\n"
    );
    let _ = writeln!(
        s,
        "**Failover**: {kills} times, `kill -9` of the leader of a three-member cluster, then a \
         survivor is asked for the leader every 5 ms and a write is started on each survivor every \
         20 ms; the killed member is restarted and the cluster settles before the next kill. Ours \
         runs its production timing (`raft_multiplier` 1: heartbeat 250 ms; a follower campaigns \
         1.5–2 s after the last heartbeat: openraft's leader lease of 1 s plus a random 0.5–1 s), \
         close to Consul's (heartbeat timeout 1 s, randomized up to 2 s); etcd its defaults \
         (heartbeat 100 ms, election timeout 1 s).\n"
    );
    let _ = writeln!(
        s,
        "| after kill -9 of the leader | ours p50 / p99 / max | etcd p50 / p99 / max | ours / etcd p50 |"
    );
    let _ = writeln!(s, "|---|---|---|---|");
    let row = |name: &str, sel: fn(&(f64, f64)) -> f64| {
        let l = |k: &str| {
            lat_of(
                &fail
                    .get(k)
                    .map(|v| v.iter().map(sel).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
        };
        let (o, e) = (l("ours"), l("etcd"));
        format!(
            "| {name} | {:.0} / {:.0} / {:.0} ms | {:.0} / {:.0} / {:.0} ms | {:.2}x |",
            o.p50,
            o.p99,
            o.max,
            e.p50,
            e.p99,
            e.max,
            ratio(o.p50, e.p50)
        )
    };
    let _ = writeln!(s, "{}", row("new leader known", |x| x.0));
    let _ = writeln!(s, "{}", row("first write acknowledged", |x| x.1));
    let _ = writeln!(s, "{END}");
    s
}
