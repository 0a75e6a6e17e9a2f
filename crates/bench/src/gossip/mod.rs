//! The gossip benchmark (issue 16, part 7): 1,000 LAN gossip members and 3 real servers.
//!
//! Three `consul` servers (release build, `-bootstrap-expect=3`) run on 127.0.0.1/2/3; 1,000
//! in-process members (`gossip::Pool` with `Config::lan()`, Serf's LAN defaults, and a client
//! agent's tags) join through them, so the servers' leader registers each as a client node with
//! its `serfHealth` check. Everything runs inside a network namespace of its own
//! ([`netns`]), so the 5% loss of the last phase is put on a loopback nobody else uses.
//!
//! Phases, in order:
//! 1. **join**: members started in batches, each joining through the three servers; time until
//!    every member lists every other one alive, and until `GET /v1/catalog/nodes` lists them all.
//! 2. **steady**: after a settling pause, bytes and packets per member per second (from
//!    `Pool::stats`), server CPU, the members' own CPU.
//! 3. **detect**: members killed one after another (`Pool::shutdown`, no leave); for each, the
//!    time until the first member declares it failed, until every running member has, and until
//!    the catalog shows its `serfHealth` critical (`GET /v1/health/state/critical`, every 100 ms).
//! 4. **loss**: 5% of the packets on the namespace's loopback dropped (`tc netem loss 5%`, or an
//!    nftables rule where the kernel has no netem) for the window (10 minutes):
//!    false positives (members declared failed that were never killed, from every member's
//!    events, the catalog and the servers' logs), bandwidth under loss, and a few more kills
//!    timed under loss.

mod netns;
mod report;
mod servers;
mod swarm;

pub use netns::run_inside;

use crate::load::Lat;
use crate::probe;
use crate::Settings;
use anyhow::Context;
use servers::{CriticalPoller, Servers};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use swarm::Swarm;

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Params {
    pub members: usize,
    /// Members started per `join_every`.
    pub join_batch: usize,
    pub join_every: Duration,
    /// How long after the last member started every member is waited for to list every other.
    pub converge_limit: Duration,
    /// Pause between convergence and the steady window (joins' broadcasts die out).
    pub settle: Duration,
    pub steady: Duration,
    /// Kills without loss, one per `kill_every`.
    pub kills: usize,
    pub kill_every: Duration,
    /// How long after the last kill of a phase detections are waited for.
    pub detect_limit: Duration,
    pub loss_percent: f64,
    pub loss_window: Duration,
    /// Kills spread over the loss window.
    pub loss_kills: usize,
    /// The receive buffer each member's socket asks for (memberlist asks for 2 MiB); `None`
    /// leaves the kernel's default.
    pub recv_buffer: Option<usize>,
    /// The short form: no doc section.
    pub short: bool,
}

/// memberlist's `udpRecvBufSize`: the receive buffer it asks for on its UDP socket.
pub const MEMBERLIST_RECV_BUFFER: usize = 2 * 1024 * 1024;

impl Params {
    /// The document's run: 1,000 members, 10 minutes at 5% loss.
    pub fn full() -> Params {
        Params {
            members: 1000,
            join_batch: 10,
            join_every: Duration::from_secs(1),
            converge_limit: Duration::from_secs(120),
            settle: Duration::from_secs(30),
            steady: Duration::from_secs(60),
            kills: 30,
            kill_every: Duration::from_secs(3),
            detect_limit: Duration::from_secs(60),
            loss_percent: 5.0,
            loss_window: Duration::from_secs(600),
            loss_kills: 10,
            recv_buffer: Some(MEMBERLIST_RECV_BUFFER),
            short: false,
        }
    }

    /// The CI form: 50 members, about a minute.
    pub fn short() -> Params {
        Params {
            members: 50,
            join_batch: 50,
            join_every: Duration::from_secs(1),
            converge_limit: Duration::from_secs(40),
            settle: Duration::from_secs(2),
            steady: Duration::from_secs(5),
            kills: 4,
            kill_every: Duration::from_secs(1),
            // Generous: detection takes ~10 s at this size (the crate docs' formula); the wait
            // ends as soon as every kill is declared and in the catalog.
            detect_limit: Duration::from_secs(60),
            loss_percent: 5.0,
            loss_window: Duration::from_secs(20),
            loss_kills: 1,
            recv_buffer: Some(MEMBERLIST_RECV_BUFFER),
            short: true,
        }
    }
}

/// Counters at one moment, to subtract.
struct Mark {
    at: Instant,
    servers_cpu: Vec<f64>,
    self_cpu: f64,
    stats: HashMap<usize, gossip::Stats>,
    udp: BTreeMap<String, u64>,
    loss: Option<(u64, u64)>,
    load: f64,
}

fn mark(sw: &Swarm, servers: &Servers, loss: Option<netns::Loss>) -> Mark {
    Mark {
        at: Instant::now(),
        servers_cpu: servers.cpu(),
        self_cpu: probe::cpu_secs(std::process::id()),
        stats: sw.stats(),
        udp: netns::udp_counters(),
        loss: loss.and_then(netns::loss_counters),
        load: probe::load1(),
    }
}

/// What happened between two marks.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub secs: f64,
    /// Members counted (running at both marks).
    pub members: usize,
    /// Per member per second.
    pub sent_bps: f64,
    pub recv_bps: f64,
    pub sent_pps: f64,
    pub recv_pps: f64,
    /// The busiest member's bytes sent per second.
    pub max_sent_bps: f64,
    /// Percent of one core, per server.
    pub server_cpu: Vec<f64>,
    /// Percent of one core for the benchmark process (all members, the watchers, the pollers).
    pub self_cpu: f64,
    pub udp_rcvbuf_errors: u64,
    pub udp_in: u64,
    /// The loss rule's (packets, dropped) over the window.
    pub dropped: Option<(u64, u64)>,
    /// The 1-minute load average at the window's end.
    pub load: f64,
}

fn window(a: &Mark, b: &Mark) -> Window {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-3);
    let mut w = Window {
        secs,
        load: b.load,
        ..Window::default()
    };
    let (mut sent, mut recv, mut sp, mut rp) = (0u64, 0u64, 0u64, 0u64);
    let zero = gossip::Stats::default();
    for (i, sb) in &b.stats {
        // A member started during the window counts from zero.
        let sa = a.stats.get(i).unwrap_or(&zero);
        w.members += 1;
        let s = sb.bytes_sent - sa.bytes_sent;
        sent += s;
        recv += sb.bytes_received - sa.bytes_received;
        sp += sb.packets_sent - sa.packets_sent;
        rp += sb.packets_received - sa.packets_received;
        w.max_sent_bps = w.max_sent_bps.max(s as f64 / secs);
    }
    let per = |x: u64| x as f64 / secs / w.members.max(1) as f64;
    w.sent_bps = per(sent);
    w.recv_bps = per(recv);
    w.sent_pps = per(sp);
    w.recv_pps = per(rp);
    w.server_cpu = a
        .servers_cpu
        .iter()
        .zip(&b.servers_cpu)
        .map(|(x, y)| (y - x) / secs * 100.0)
        .collect();
    w.self_cpu = (b.self_cpu - a.self_cpu) / secs * 100.0;
    let udp = |k: &str| {
        b.udp
            .get(k)
            .unwrap_or(&0)
            .saturating_sub(*a.udp.get(k).unwrap_or(&0))
    };
    w.udp_rcvbuf_errors = udp("RcvbufErrors");
    w.udp_in = udp("InDatagrams");
    w.dropped = match (a.loss, b.loss) {
        (Some((p0, d0)), Some((p1, d1))) => Some((p1.saturating_sub(p0), d1.saturating_sub(d0))),
        _ => None,
    };
    w
}

/// Nodes whose `serfHealth` the catalog showed critical, as the poller saw them appear.
#[derive(Default)]
struct CriticalLog {
    current: HashSet<String>,
    /// (node, when it appeared among the critical ones).
    appeared: Vec<(String, Instant)>,
    failed_polls: u64,
}

/// Polls `/v1/health/state/critical` on the leader every `interval_ms` (0: paused).
struct Critical {
    log: Arc<Mutex<CriticalLog>>,
    interval_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Critical {
    fn start(servers: &Servers, leader: usize) -> Critical {
        let log = Arc::new(Mutex::new(CriticalLog::default()));
        let interval_ms = Arc::new(AtomicU64::new(0));
        let mut addrs: Vec<_> = servers.list.iter().map(|s| s.http).collect();
        addrs.rotate_left(leader);
        let (l, iv) = (log.clone(), interval_ms.clone());
        let task = tokio::spawn(async move {
            let mut pollers: Vec<CriticalPoller> =
                addrs.into_iter().map(CriticalPoller::new).collect();
            let mut which = 0;
            loop {
                let ms = iv.load(Ordering::Relaxed);
                if ms == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let next = tokio::time::Instant::now() + Duration::from_millis(ms);
                match pollers[which].nodes().await {
                    Some(nodes) => {
                        let now = Instant::now();
                        let mut g = l.lock().unwrap_or_else(PoisonError::into_inner);
                        let nodes: HashSet<String> = nodes.into_iter().collect();
                        for n in nodes.difference(&g.current.clone()) {
                            g.appeared.push((n.clone(), now));
                        }
                        g.current = nodes;
                    }
                    None => {
                        l.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .failed_polls += 1;
                        which = (which + 1) % pollers.len();
                    }
                }
                tokio::time::sleep_until(next).await;
            }
        });
        Critical {
            log,
            interval_ms,
            task,
        }
    }

    fn every(&self, ms: u64) {
        self.interval_ms.store(ms, Ordering::Relaxed);
    }

    fn appeared(&self) -> Vec<(String, Instant)> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .appeared
            .clone()
    }

    fn failed_polls(&self) -> u64 {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .failed_polls
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One killed member and how its failure was learnt (seconds after the kill).
#[derive(Debug, Clone)]
pub struct Detection {
    pub member: String,
    /// The first member to declare it failed.
    pub first: Option<f64>,
    /// Each running member that declared it failed.
    pub observers: Vec<f64>,
    /// Running members that listed it alive when it was killed but had not declared it failed
    /// when the wait ended.
    pub missing: usize,
    /// Running members that did not list it when it was killed (never heard of it).
    pub unaware: usize,
    /// The catalog showing its `serfHealth` critical.
    pub catalog: Option<f64>,
}

impl Detection {
    /// When the last running member declared it failed (all did).
    pub fn all(&self) -> Option<f64> {
        (self.missing == 0)
            .then(|| self.observers.iter().copied().fold(0.0, f64::max))
            .filter(|_| !self.observers.is_empty())
    }
}

fn detections(sw: &Swarm, critical: &Critical, killed: &[usize]) -> Vec<Detection> {
    let failures = sw.failures_of(&killed.iter().copied().collect());
    let appeared = critical.appeared();
    let running: Vec<usize> = sw.running().collect();
    killed
        .iter()
        .filter_map(|&k| {
            let at = sw.killed[k]?;
            let after = |t: Instant| t.checked_duration_since(at).map(|d| d.as_secs_f64());
            let mut per_observer: HashMap<usize, f64> = HashMap::new();
            let mut first: Option<f64> = None;
            for f in failures.iter().filter(|f| f.member == k) {
                let Some(s) = after(f.at) else { continue };
                first = Some(first.map_or(s, |x: f64| x.min(s)));
                let e = per_observer.entry(f.observer).or_insert(s);
                *e = e.min(s);
            }
            let knew: HashSet<usize> = sw.knew.get(&k).into_iter().flatten().copied().collect();
            let expected: Vec<usize> = running
                .iter()
                .copied()
                .filter(|o| knew.contains(o))
                .collect();
            let observers: Vec<f64> = running
                .iter()
                .filter_map(|o| per_observer.get(o).copied())
                .collect();
            let missing = expected
                .iter()
                .filter(|o| !per_observer.contains_key(o))
                .count();
            let catalog = appeared
                .iter()
                .filter(|(n, _)| *n == sw.names[k])
                .filter_map(|(_, t)| after(*t))
                .reduce(f64::min);
            Some(Detection {
                member: sw.names[k].clone(),
                first,
                missing,
                unaware: running.len() - expected.len(),
                observers,
                catalog,
            })
        })
        .collect()
}

/// Waits until every killed member is declared failed by every running member and shown
/// critical by the catalog, or `limit` passes.
async fn wait_detected(sw: &Swarm, critical: &Critical, killed: &[usize], limit: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        let d = detections(sw, critical, killed);
        if d.iter().all(|d| d.missing == 0 && d.catalog.is_some()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Failures declared in `[from, to)` of members not killed at that moment.
#[derive(Debug, Clone, Default)]
pub struct FalsePositives {
    /// (observer, member) declarations.
    pub declarations: usize,
    /// Distinct members wrongly declared failed by at least one member.
    pub members: Vec<String>,
    /// Distinct members the catalog wrongly showed critical.
    pub catalog: Vec<String>,
}

fn false_positives(sw: &Swarm, critical: &Critical, from: Instant, to: Instant) -> FalsePositives {
    let wrong = |m: usize, t: Instant| {
        t >= from && t < to && sw.killed.get(m).copied().flatten().is_none_or(|k| t < k)
    };
    let mut fp = FalsePositives::default();
    let mut members = HashSet::new();
    for f in sw.failures() {
        if wrong(f.member, f.at) {
            fp.declarations += 1;
            members.insert(sw.names[f.member].clone());
        }
    }
    let mut catalog = HashSet::new();
    for (n, t) in critical.appeared() {
        if sw.index_of(&n).is_some_and(|m| wrong(m, t)) {
            catalog.insert(n);
        }
    }
    fp.members = members.into_iter().collect();
    fp.members.sort();
    fp.catalog = catalog.into_iter().collect();
    fp.catalog.sort();
    fp
}

/// Kills `which` one per `every`, starting now.
async fn kill_each(sw: &mut Swarm, which: &[usize], every: Duration) {
    for (n, &k) in which.iter().enumerate() {
        if n > 0 {
            tokio::time::sleep(every).await;
        }
        sw.kill(k).await;
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub members: usize,
    pub servers: usize,
    /// Seconds from the first member's start until every member listed all others alive.
    pub converged: Option<f64>,
    pub converged_count: usize,
    /// The share of (member, other) pairs listed alive when the join phase ended.
    pub listed_fraction: f64,
    /// The same at the end of the run, and how long after the first start that was.
    pub final_converged: usize,
    pub final_listed_fraction: f64,
    pub final_secs: f64,
    /// Seconds until the catalog listed every node (members + servers).
    pub catalog_all: Option<f64>,
    pub catalog_count: usize,
    pub join: Window,
    pub steady: Window,
    pub detect: Vec<Detection>,
    pub detect_window: Window,
    pub loss: Window,
    pub loss_detect: Vec<Detection>,
    /// False positives while no loss was applied (join, steady, detect), and under loss.
    pub fp_clean: FalsePositives,
    pub fp_loss: FalsePositives,
    /// Members the servers' logs say were marked critical though never killed.
    pub fp_logs: Vec<String>,
    pub loss_secs: f64,
    pub lagged: u64,
    pub joins_failed: u64,
    pub critical_failed_polls: u64,
    pub servers_rss: Vec<u64>,
    pub self_rss: u64,
    pub load_before: f64,
    pub load_after: f64,
    pub leader: String,
    /// How the loss was made, once it was.
    pub loss_tool: Option<netns::Loss>,
    /// The receive buffer the kernel gave each member's socket (bytes).
    pub recv_buffer: usize,
}

/// Runs the benchmark inside the namespace and writes the doc section (full form).
pub async fn run(set: &Settings, p: &Params) -> anyhow::Result<()> {
    std::fs::create_dir_all(&set.dir)?;
    let fs = probe::check_not_tmpfs(&set.dir)?;
    anyhow::ensure!(
        set.consul_bin.exists(),
        "{} not found; build it with cargo build --release -p catalog-server",
        set.consul_bin.display()
    );
    let private = netns::in_private_netns();
    eprintln!(
        "bench --gossip: {} members + 3 servers, data under {} ({fs}){}",
        p.members,
        set.dir.display(),
        if private {
            ""
        } else {
            "; not in a namespace of our own: the loss phase is skipped"
        }
    );
    if !p.short {
        crate::settle().await;
    }
    let mut f = Figures {
        members: p.members,
        servers: 3,
        load_before: probe::load1(),
        ..Figures::default()
    };
    let mut servers = Servers::start(&set.consul_bin, &set.dir).await?;
    let leader = servers.wait_leader(Duration::from_secs(60)).await?;
    f.leader = servers.list[leader].name.clone();
    let server_names: Vec<String> = servers.list.iter().map(|s| s.name.clone()).collect();
    let seeds: Vec<_> = servers.list.iter().map(|s| s.gossip).collect();
    eprintln!("servers up, leader {}", f.leader);
    let shards = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut sw = Swarm::new(p.members, &server_names, shards)?;
    let started = Instant::now();
    let critical = Critical::start(&servers, leader);
    let result = phases(set, p, &mut f, &mut sw, &mut servers, &critical, &seeds).await;
    if let Some(tool) = f.loss_tool {
        netns::loss_off(tool);
    }
    tally(&mut f, &sw, &servers, &critical, started);
    f.servers_rss = servers.rss();
    f.self_rss = probe::rss(std::process::id()).0;
    sw.shutdown().await;
    drop(critical);
    drop(servers);
    result?;
    f.load_after = probe::load1();
    let raw = set.dir.join(if p.short {
        "gossip-short-figures.json"
    } else {
        "gossip-figures.json"
    });
    std::fs::write(&raw, serde_json::to_vec_pretty(&report::json(&f))?)?;
    eprintln!("raw figures in {}", raw.display());
    let text = report::section(set, p, &f);
    println!("{text}");
    if let (Some(doc), false) = (&set.doc, p.short) {
        let (begin, end) = report::markers(f.members);
        crate::report::write_section(doc, &begin, &end, &text)?;
        eprintln!("wrote {}", doc.display());
    }
    report::check(p, &f)
}

async fn phases(
    _set: &Settings,
    p: &Params,
    f: &mut Figures,
    sw: &mut Swarm,
    servers: &mut Servers,
    critical: &Critical,
    seeds: &[std::net::SocketAddr],
) -> anyhow::Result<()> {
    let total = sw.names.len();
    let leader_http = servers
        .list
        .iter()
        .find(|s| s.name == f.leader)
        .map(|s| s.http)
        .context("the leader")?;

    // 1. join
    let t0 = Instant::now();
    let m0 = mark(sw, servers, None);
    // The ramp, then `converge_limit`.
    let ramp = p
        .join_every
        .mul_f64(p.members.div_ceil(p.join_batch.max(1)) as f64);
    let limit = ramp + p.converge_limit;
    let catalog = tokio::spawn(async move {
        let mut last = 0;
        while t0.elapsed() < limit {
            if let Some(n) = servers::catalog_nodes(leader_http).await {
                last = n;
                if n >= total {
                    return (Some(t0.elapsed().as_secs_f64()), n);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (None, last)
    });
    let mut started = 0;
    let mut last_ramp_report = Instant::now();
    let mut cpu = CpuMeter::new();
    while started < p.members {
        let tick = Instant::now();
        let upto = (started + p.join_batch).min(p.members);
        for i in started..upto {
            f.recv_buffer = sw.start(i, seeds, p.recv_buffer)?;
        }
        started = upto;
        if started == p.members || last_ramp_report.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "  join: {started} members started, {:.2} % of pairs listed ({:.0} s); members at \
                 {:.0} % of a core; {} failure declarations, {} UDP receive-buffer drops so far",
                sw.listed_fraction() * 100.0,
                t0.elapsed().as_secs_f64(),
                cpu.percent(),
                sw.failure_count(),
                netns::udp_counters()
                    .get("RcvbufErrors")
                    .copied()
                    .unwrap_or(0),
            );
            last_ramp_report = Instant::now();
        }
        if started < p.members {
            tokio::time::sleep(p.join_every.saturating_sub(tick.elapsed())).await;
        }
    }
    let mut last_report = Instant::now();
    loop {
        let c = sw.converged();
        f.converged_count = c;
        if c == p.members {
            f.converged = Some(t0.elapsed().as_secs_f64());
            break;
        }
        if t0.elapsed() > limit {
            eprintln!("  join: {c}/{} converged within the limit", p.members);
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  join: {c}/{} list everyone, {:.2} % of pairs ({:.0} s); members at {:.0} % of a \
                 core; {} failure declarations, {} UDP receive-buffer drops so far; e.g. {:?}",
                p.members,
                sw.listed_fraction() * 100.0,
                t0.elapsed().as_secs_f64(),
                cpu.percent(),
                sw.failure_count(),
                netns::udp_counters()
                    .get("RcvbufErrors")
                    .copied()
                    .unwrap_or(0),
                sw.not_listing(2).await
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    f.listed_fraction = sw.listed_fraction();
    let (catalog_all, catalog_count) = catalog.await.unwrap_or((None, 0));
    f.catalog_all = catalog_all;
    f.catalog_count = catalog_count;
    eprintln!(
        "  join: gossip converged after {:?} s, catalog listed {catalog_count}/{total} nodes after {:?} s",
        f.converged.map(|s| s.round()),
        f.catalog_all.map(|s| s.round())
    );
    servers::ensure_running(servers)?;
    tokio::time::sleep(p.settle).await;
    let m1 = mark(sw, servers, None);
    f.join = window(&m0, &m1);

    // 2. steady
    tokio::time::sleep(p.steady).await;
    let m2 = mark(sw, servers, None);
    f.steady = window(&m1, &m2);
    eprintln!(
        "  steady: {:.0} B/s sent, {:.0} B/s received per member; servers {:?} % CPU; members {:.0} % CPU",
        f.steady.sent_bps,
        f.steady.recv_bps,
        f.steady
            .server_cpu
            .iter()
            .map(|c| c.round())
            .collect::<Vec<_>>(),
        f.steady.self_cpu
    );

    // 3. detect (no loss)
    let all = p.kills + p.loss_kills;
    let mut picks: Vec<usize> = (0..all)
        .map(|k| (k * p.members / all.max(1) + p.members / (2 * all.max(1))) % p.members)
        .collect();
    picks.dedup();
    let (clean_kills, loss_kills) = picks.split_at(p.kills.min(picks.len()));
    critical.every(100);
    kill_each(sw, clean_kills, p.kill_every).await;
    wait_detected(sw, critical, clean_kills, p.detect_limit).await;
    let m3 = mark(sw, servers, None);
    f.detect_window = window(&m2, &m3);
    f.detect = detections(sw, critical, clean_kills);
    report::log_detections("detect", &f.detect);
    f.fp_clean = false_positives(sw, critical, t0, m3.at);
    servers::ensure_running(servers)?;

    // 4. loss
    if !netns::in_private_netns() {
        return Ok(());
    }
    let tool = netns::loss_on(p.loss_percent)?;
    f.loss_tool = Some(tool);
    let l0 = mark(sw, servers, Some(tool));
    eprintln!(
        "  loss: {}% on the namespace's loopback ({tool:?}) for {:.0} s",
        p.loss_percent,
        p.loss_window.as_secs_f64()
    );
    critical.every(250);
    let n = loss_kills.len();
    let mut next_kill = 0;
    let mut last_report = Instant::now();
    while l0.at.elapsed() < p.loss_window {
        if next_kill < n {
            let due = p
                .loss_window
                .mul_f64((next_kill + 1) as f64 / (n + 1) as f64);
            if l0.at.elapsed() >= due {
                sw.kill(loss_kills[next_kill]).await;
                next_kill += 1;
            }
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            let fp = false_positives(sw, critical, l0.at, Instant::now());
            eprintln!(
                "  loss: {:.0} s, {} false failure declarations ({} members), {} kills",
                l0.at.elapsed().as_secs_f64(),
                fp.declarations,
                fp.members.len(),
                next_kill
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let l1 = mark(sw, servers, Some(tool));
    f.loss = window(&l0, &l1);
    // The last kills' detections, still under loss.
    wait_detected(sw, critical, loss_kills, p.detect_limit).await;
    let l2 = mark(sw, servers, Some(tool));
    netns::loss_off(tool);
    f.loss_secs = l2.at.duration_since(l0.at).as_secs_f64();
    f.loss_detect = detections(sw, critical, loss_kills);
    report::log_detections("loss", &f.loss_detect);
    f.fp_loss = false_positives(sw, critical, l0.at, l2.at);
    servers::ensure_running(servers)?;
    Ok(())
}

/// What the whole run left behind: members the servers' logs marked critical though never
/// killed, watcher lag, failed joins and polls.
fn tally(f: &mut Figures, sw: &Swarm, servers: &Servers, critical: &Critical, t0: Instant) {
    f.final_secs = t0.elapsed().as_secs_f64();
    let killed: HashSet<&str> = sw
        .killed
        .iter()
        .enumerate()
        .filter(|(_, k)| k.is_some())
        .map(|(i, _)| sw.names[i].as_str())
        .collect();
    let mut logs: Vec<String> = servers
        .marked_critical()
        .into_iter()
        .filter(|n| !killed.contains(n.as_str()))
        .collect();
    logs.sort();
    logs.dedup();
    f.fp_logs = logs;
    f.final_converged = sw.converged();
    f.final_listed_fraction = sw.listed_fraction();
    f.lagged = sw.lagged();
    f.joins_failed = sw.joins_failed();
    f.critical_failed_polls = critical.failed_polls();
}

/// The benchmark process's CPU since the last reading, for progress lines.
struct CpuMeter {
    at: Instant,
    secs: f64,
}

impl CpuMeter {
    fn new() -> CpuMeter {
        CpuMeter {
            at: Instant::now(),
            secs: probe::cpu_secs(std::process::id()),
        }
    }

    /// Percent of one core since the last call.
    fn percent(&mut self) -> f64 {
        let now = CpuMeter::new();
        let wall = now.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let used = (now.secs - self.secs) / wall * 100.0;
        *self = now;
        used
    }
}

/// Percentiles of seconds, in milliseconds.
pub fn lat_secs(v: impl IntoIterator<Item = f64>) -> Lat {
    Lat::of(v.into_iter().map(|s| (s * 1e6) as u64).collect())
}
