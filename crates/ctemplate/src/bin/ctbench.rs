//! `ctbench`: catalog write → rendered file latency (p50/p99) for 1, 100 and 1,000 templates
//! over 1,000 services, plus consul-template's CPU, RSS and open connections to the server
//! while idle-watching, and the server's CPU (per change, idle) and RSS. Starts its own
//! `consul` and `consul-template` (siblings of this binary unless `--consul` / `--ct` say
//! otherwise) on loopback and prints a table; consul gets the sockets this process bound
//! (test-support). Against a `consul` that speaks h2c, consul-template holds one connection;
//! against one that does not (an older build, `--consul`), one per parked query.
//!
//! Usage: `ctbench [--services 1000] [--samples 200] [--templates 1,100,1000]`

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use api_types::client::Client;

struct Opts {
    consul: PathBuf,
    ct: PathBuf,
    services: usize,
    samples: usize,
    templates: Vec<usize>,
}

fn opts() -> Result<Opts> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("exe dir")?.to_path_buf();
    let mut o = Opts {
        consul: dir.join("consul"),
        ct: dir.join("consul-template"),
        services: 1000,
        samples: 200,
        templates: vec![1, 100, 1000],
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let v = pair.get(1).context("flag needs a value")?;
        match pair[0].trim_start_matches('-') {
            "consul" => o.consul = v.into(),
            "ct" => o.ct = v.into(),
            "services" => o.services = v.parse()?,
            "samples" => o.samples = v.parse()?,
            "templates" => {
                o.templates = v.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            f => bail!("unknown flag {f}"),
        }
    }
    Ok(o)
}

/// Kills the child on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `consul agent -server -bootstrap` on sockets this process bound and handed over; ready
/// (a leader, its node registered) when this returns.
fn start_consul(o: &Opts) -> test_support::Consul {
    test_support::Consul::builder()
        .binary(&o.consul)
        .node("bench")
        .args([
            "-log-level=warn",
            // Up to 1000 templates' parked queries from 127.0.0.1: over Consul's default
            // per-client cap of 200 connections.
            "-hcl=limits { http_max_conns_per_client = 0 }",
        ])
        .start_blocking()
}

async fn register(c: &Client, i: usize, port: u16) -> Result<()> {
    let reg = serde_json::from_value(serde_json::json!({
        "ID": format!("svc-{i}"), "Name": format!("svc-{i}"), "Port": port, "Address": "127.0.0.1"
    }))?;
    c.service_register(&reg).await?;
    Ok(())
}

/// utime+stime in clock ticks, and VmRSS in KiB.
fn cpu_rss(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let cpu = tick(11) + tick(12);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

/// Established TCP connections of `pid` whose remote port is `port`.
fn connections(pid: u32, port: u16) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let s = l.to_string_lossy().to_string();
                    s.strip_prefix("socket:[")
                        .and_then(|r| r.strip_suffix(']'))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    tcp.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let rport = f
                .get(2)
                .and_then(|r| r.split(':').nth(1))
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            f.get(3) == Some(&"01")
                && rport == Some(port)
                && f.get(9).is_some_and(|i| inodes.contains(*i))
        })
        .count()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Row {
    templates: usize,
    start_ms: f64,
    p50: f64,
    p99: f64,
    ack_p50: f64,
    ack_p99: f64,
    /// The slowest write → file samples, in order of occurrence: (sample, ms, its write's ack ms).
    worst: Vec<(usize, f64, f64)>,
    cpu_per_change_ms: f64,
    idle_cpu_pct: f64,
    rss_mib: f64,
    conns: usize,
    /// consul's CPU per change, idle CPU and RSS (while idle-watching).
    server_cpu_per_change_ms: f64,
    server_idle_cpu_pct: f64,
    server_rss_mib: f64,
}

fn wait_file(path: &Path, want: &str, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if std::fs::read_to_string(path).is_ok_and(|s| s.contains(want)) {
            return true;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    false
}

fn run_case(
    o: &Opts,
    rt: &tokio::runtime::Runtime,
    c: &Client,
    (port, server): (u16, u32),
    n: usize,
    round: &mut u16,
) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let mut hcl = format!("consul {{\n  address = \"127.0.0.1:{port}\"\n}}\n");
    for i in 0..n {
        let s = i % o.services;
        hcl.push_str(&format!(
            "template {{\n  contents = \"{{{{range service \\\"svc-{s}\\\"}}}}{{{{.ID}}}} {{{{.Address}}}}:{{{{.Port}}}}\\n{{{{end}}}}\"\n  destination = \"{}/out-{i}\"\n}}\n",
            dir.path().display()
        ));
    }
    let config = dir.path().join("ct.hcl");
    std::fs::write(&config, hcl)?;
    let t0 = Instant::now();
    let ct = Proc(
        Command::new(&o.ct)
            .args(["-config", &config.display().to_string(), "-log-level=err"])
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("spawn {}", o.ct.display()))?,
    );
    let pid = ct.0.id();
    for i in 0..n {
        if !wait_file(
            &dir.path().join(format!("out-{i}")),
            "svc-",
            Duration::from_secs(60),
        ) {
            bail!("template {i} never rendered");
        }
    }
    let start_ms = t0.elapsed().as_secs_f64() * 1e3;
    // idle: 3 s without changes
    std::thread::sleep(Duration::from_millis(500));
    let (c0, _) = cpu_rss(pid);
    let (s0, _) = cpu_rss(server);
    let ti = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let (c1, rss) = cpu_rss(pid);
    let (s1, server_rss) = cpu_rss(server);
    let tick = 100.0; // USER_HZ
    let idle_cpu_pct = (c1 - c0) as f64 / tick / ti.elapsed().as_secs_f64() * 100.0;
    let server_idle_cpu_pct =
        s1.saturating_sub(s0) as f64 / tick / ti.elapsed().as_secs_f64() * 100.0;
    let conns = connections(pid, port);
    // latency: change one service, wait for its file
    let mut lat = Vec::new();
    let mut ack = Vec::new();
    let (cpu_before, _) = cpu_rss(pid);
    let (server_before, _) = cpu_rss(server);
    for k in 0..o.samples {
        let i = k % n;
        *round = round.wrapping_add(1).max(1);
        let new_port = 10000 + *round;
        let t = Instant::now();
        rt.block_on(register(c, i % o.services, new_port))?;
        ack.push(t.elapsed().as_secs_f64() * 1e3);
        if !wait_file(
            &dir.path().join(format!("out-{i}")),
            &format!(":{new_port}\n"),
            Duration::from_secs(10),
        ) {
            bail!("change {k} never rendered");
        }
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        if n < 100 {
            // same dependency again: stay clear of the 100 ms per-view rate limit
            std::thread::sleep(Duration::from_millis(130));
        }
    }
    let (cpu_after, _) = cpu_rss(pid);
    let (server_after, _) = cpu_rss(server);
    let mut worst: Vec<(usize, f64, f64)> = lat
        .iter()
        .zip(&ack)
        .enumerate()
        .map(|(k, (l, a))| (k, *l, *a))
        .collect();
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    worst.truncate(3);
    worst.sort_by_key(|w| w.0);
    lat.sort_by(f64::total_cmp);
    ack.sort_by(f64::total_cmp);
    drop(ct);
    Ok(Row {
        templates: n,
        start_ms,
        p50: pct(&lat, 0.5),
        p99: pct(&lat, 0.99),
        ack_p50: pct(&ack, 0.5),
        ack_p99: pct(&ack, 0.99),
        worst,
        cpu_per_change_ms: (cpu_after - cpu_before) as f64 * 10.0 / o.samples as f64,
        idle_cpu_pct,
        rss_mib: rss as f64 / 1024.0,
        conns,
        server_cpu_per_change_ms: server_after.saturating_sub(server_before) as f64 * 10.0
            / o.samples as f64,
        server_idle_cpu_pct,
        server_rss_mib: server_rss as f64 / 1024.0,
    })
}

fn main() -> Result<()> {
    let o = opts()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let consul = start_consul(&o);
    let port = consul.http_port();
    let server = consul.pid().context("consul has no pid")?;
    let c = Client::new(&consul.addr())?;
    let t = Instant::now();
    for i in 0..o.services {
        rt.block_on(register(&c, i, 9000))?;
    }
    eprintln!(
        "registered {} services in {:.1}s",
        o.services,
        t.elapsed().as_secs_f64()
    );
    let mut round = 0u16;
    let mut rows = Vec::new();
    for &n in &o.templates {
        eprintln!("running {n} templates ...");
        rows.push(run_case(&o, &rt, &c, (port, server), n, &mut round)?);
    }
    println!("| templates | first render (all) | write→file p50 | p99 | (write ack p50 / p99) | ct CPU per change | idle CPU | RSS | connections to consul | consul CPU per change | consul idle CPU | consul RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.0} ms | {:.2} ms | {:.2} ms | {:.2} / {:.2} ms | {:.2} ms | {:.2} % | {:.1} MiB | {} | {:.2} ms | {:.2} % | {:.1} MiB |",
            r.templates, r.start_ms, r.p50, r.p99, r.ack_p50, r.ack_p99, r.cpu_per_change_ms, r.idle_cpu_pct, r.rss_mib, r.conns,
            r.server_cpu_per_change_ms, r.server_idle_cpu_pct, r.server_rss_mib
        );
    }
    for r in &rows {
        let worst: Vec<String> = r
            .worst
            .iter()
            .map(|(k, l, a)| format!("#{k} {l:.1} ms (ack {a:.1})"))
            .collect();
        eprintln!(
            "{} templates, slowest samples: {}",
            r.templates,
            worst.join(", ")
        );
    }
    Ok(())
}
