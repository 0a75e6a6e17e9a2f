//! `regbench`: how long a container takes to appear in, and leave, the Consul catalog under
//! registrator, beside the Docker engine's own event latency measured in the same run.
//!
//! ```text
//! cargo build --release -p registrator -p catalog-server
//! target/release/regbench [-n 100] [--consul target/release/consul] \
//!                         [--registrator target/release/registrator]
//! ```
//!
//! It starts the `consul` server (`agent -server -bootstrap`, data dir on disk, fsync on, on
//! sockets regbench bound and hands over) and the `registrator` binary (`-ip=127.0.0.1
//! consul://…`, with `registrator::timing` debug lines on), builds a FROM-scratch busybox httpd
//! image, then runs `n` containers one after another (`docker run -d -p 0:80`, each waited for
//! in the catalog) and stops them one after another (`docker stop -t 0`, each waited for).
//! Three observers run beside it:
//!
//! * a Docker event stream of its own (the floor: `docker run` returning → `start` event
//!   arriving; `docker stop` returning → `die` event arriving);
//! * a blocking query on `/v1/catalog/service/<name>` (event-driven: each answer is the catalog
//!   changing), giving the time an instance becomes visible / disappears;
//! * registrator's stderr, whose timing lines give its own step (event received → the
//!   registration or deregistration acknowledged by consul).
//!
//! Times relative to the CLI returning can be negative: the engine emits `start` before the
//! `docker run` client has read its answer. Everything it creates (containers, image, processes,
//! data dir) is removed on exit, also on failure.

use futures::StreamExt;
use registrator::docker::{ContainerEvent, Docker};
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arrival instants, keyed by `(kind, container id or service id)`.
type Seen = Arc<Mutex<HashMap<(&'static str, String), Instant>>>;

/// Registrator's own per-event times (total, waiting on Docker, waiting on consul), keyed by
/// `(kind, container id)`.
type Steps = Arc<Mutex<HashMap<(String, String), [Duration; 3]>>>;

const WAIT: Duration = Duration::from_secs(20);

struct Args {
    n: usize,
    consul: PathBuf,
    registrator: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut a = Args {
        n: 100,
        consul: dir.join("consul"),
        registrator: dir.join("registrator"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "-n" => a.n = val()?.parse().map_err(|e| format!("-n: {e}"))?,
            "--consul" => a.consul = PathBuf::from(val()?),
            "--registrator" => a.registrator = PathBuf::from(val()?),
            "-h" | "--help" => {
                return Err(
                    "usage: regbench [-n N] [--consul PATH] [--registrator PATH]".to_string(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.n == 0 {
        return Err("-n must be > 0".to_string());
    }
    for p in [&a.consul, &a.registrator] {
        if !p.exists() {
            return Err(format!(
                "{} missing (cargo build --release -p registrator -p catalog-server)",
                p.display()
            ));
        }
    }
    Ok(a)
}

/// Everything to remove at the end, whatever happens.
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    image: Option<String>,
    children: Vec<Child>,
    dirs: Vec<PathBuf>,
    /// Killed and reaped when dropped, after the rest.
    consul: Option<test_support::Consul>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for chunk in self.containers.chunks(50) {
            let mut cmd = Command::new("docker");
            cmd.args(["rm", "-f", "-v"]).args(chunk);
            let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        if let Some(i) = &self.image {
            let _ = Command::new("docker")
                .args(["rmi", "-f", i])
                .stdout(Stdio::null())
                .status();
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// `docker <args>` → trimmed stdout, or the error text.
async fn docker(args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .await
        .map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Nearest-rank percentile of sorted samples.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Option<(Instant, Instant)>) -> Option<f64> {
    d.map(|(from, to)| {
        if to >= from {
            to.duration_since(from).as_secs_f64() * 1e3
        } else {
            -(from.duration_since(to).as_secs_f64() * 1e3)
        }
    })
}

fn row(what: &str, samples: &mut [f64], n: usize) {
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "| {what:<58} | {:>4}/{n:<4} | {:>8.2} | {:>8.2} | {:>8.2} |",
        samples.len(),
        pct(samples, 50.0),
        pct(samples, 99.0),
        samples.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("regbench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut cleanup = Cleanup::default();
    match run(&args, &mut cleanup).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("regbench: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(args: &Args, cleanup: &mut Cleanup) -> Result<(), String> {
    let pid = std::process::id();
    let service = format!("rbweb{pid}");
    let image = format!("regbench-{pid}/{service}:bench");
    let hostname = registrator::hostname();
    let http = reqwest::Client::new();

    // The image.
    let ctx = std::env::temp_dir().join(format!("regbench-{pid}-ctx"));
    cleanup.dirs.push(ctx.clone());
    std::fs::create_dir_all(&ctx).map_err(|e| e.to_string())?;
    std::fs::copy("/bin/busybox", ctx.join("busybox"))
        .map_err(|e| format!("/bin/busybox (busybox-static): {e}"))?;
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nEXPOSE 80\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"80\"]\n",
    )
    .map_err(|e| e.to_string())?;
    cleanup.image = Some(image.clone());
    docker(&["build", "-q", "-t", &image, &ctx.to_string_lossy()]).await?;

    // consul, durable (data dir under the target's temp dir, on disk).
    let data = std::env::temp_dir().join(format!("regbench-{pid}-data"));
    cleanup.dirs.push(data.clone());
    // On sockets this process bound and hands over (test-support): no port race.
    let mut consul = test_support::Consul::builder()
        .binary(&args.consul)
        .data_dir(&data)
        .node("regbench")
        .spawn();
    let ready = consul.wait_ready(WAIT).await;
    let http_port = consul.http_port();
    let output = consul.output();
    cleanup.consul = Some(consul);
    if !matches!(ready, test_support::Ready::Serving(_)) {
        return Err(format!("consul did not elect itself ({ready:?}): {output}"));
    }
    let base = format!("http://127.0.0.1:{http_port}");

    // The engine's own event stream (the floor).
    let engine = Docker::connect("unix:///var/run/docker.sock", false, None)
        .await
        .map_err(|e| e.to_string())?;
    let events: Seen = Arc::default();
    {
        let events = events.clone();
        let mut stream = Box::pin(engine.events(None));
        tokio::spawn(async move {
            while let Some(Ok((ev, _))) = stream.next().await {
                let now = Instant::now();
                let key = match ev {
                    ContainerEvent::Start { id } => ("start", id),
                    ContainerEvent::Die { id, .. } => ("die", id),
                    ContainerEvent::Health { .. } => continue,
                };
                if let Ok(mut m) = events.lock() {
                    m.entry(key).or_insert(now);
                }
            }
        });
    }

    // registrator, with its timing lines.
    let mut reg = Command::new(&args.registrator)
        .args(["-ip=127.0.0.1", &format!("consul://127.0.0.1:{http_port}")])
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env(
            "REGISTRATOR_LOG",
            format!("info,{}=debug", registrator::sync::TIMING_TARGET),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", args.registrator.display()))?;
    let steps: Steps = Arc::default();
    let synced = Arc::new(AtomicBool::new(false));
    if let Some(err) = reg.stderr.take() {
        let steps = steps.clone();
        let synced = synced.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("Syncing services on") {
                    synced.store(true, Ordering::SeqCst);
                }
                let Some(rest) = line.split("event ").nth(1) else {
                    continue;
                };
                let f: Vec<&str> = rest.split_whitespace().collect();
                if let [kind, id, "handled", "in", total, "docker", dock, "registry", regy] = f[..]
                {
                    let us = |s: &str| {
                        s.trim_end_matches("us")
                            .parse::<u64>()
                            .ok()
                            .map(Duration::from_micros)
                    };
                    if let (Some(a), Some(b), Some(c)) = (us(total), us(dock), us(regy)) {
                        if let Ok(mut m) = steps.lock() {
                            m.insert((kind.to_string(), id.to_string()), [a, b, c]);
                        }
                    }
                }
            }
        });
    }
    cleanup.children.push(reg);

    // The catalog watcher: one blocking query at a time on the service.
    let catalog: Seen = Arc::default();
    {
        let catalog = catalog.clone();
        let http = http.clone();
        let url = format!("{base}/v1/catalog/service/{service}");
        tokio::spawn(async move {
            let mut index = 0u64;
            let mut present: BTreeSet<String> = BTreeSet::new();
            loop {
                let resp = http
                    .get(&url)
                    .query(&[("index", index.to_string()), ("wait", "30s".to_string())])
                    .send()
                    .await;
                let Ok(resp) = resp else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let next = resp
                    .headers()
                    .get("X-Consul-Index")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                let Ok(body) = resp.json::<Vec<serde_json::Value>>().await else {
                    continue;
                };
                let now = Instant::now();
                let ids: BTreeSet<String> = body
                    .iter()
                    .filter_map(|s| s["ServiceID"].as_str().map(str::to_string))
                    .collect();
                if let Ok(mut m) = catalog.lock() {
                    for id in ids.difference(&present) {
                        m.entry(("up", id.clone())).or_insert(now);
                    }
                    for id in present.difference(&ids) {
                        m.entry(("gone", id.clone())).or_insert(now);
                    }
                }
                present = ids;
                // An index that goes backwards resets the wait, as the API docs say.
                index = if next < index { 0 } else { next };
            }
        });
    }
    // registrator up (its first sync logged), our observers subscribed.
    let end = Instant::now() + WAIT;
    while !synced.load(Ordering::SeqCst) {
        if Instant::now() > end {
            return Err("registrator did not start".to_string());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let wait_for = |m: &Seen, key: (&'static str, String)| {
        let m = m.clone();
        async move {
            let end = Instant::now() + WAIT;
            loop {
                if let Some(t) = m.lock().ok().and_then(|m| m.get(&key).copied()) {
                    return Some(t);
                }
                if Instant::now() > end {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };

    struct Sample {
        id: String,
        run_ret: Instant,
        stop_ret: Option<Instant>,
    }
    let mut samples = Vec::new();
    let mut probe: Vec<f64> = Vec::new();
    eprintln!("regbench: starting {} containers…", args.n);
    for i in 0..args.n {
        let name = format!("regbench-{pid}-{i}");
        cleanup.containers.push(name.clone());
        let id = docker(&["run", "-d", "--name", &name, "-p", "0:80", &image]).await?;
        let run_ret = Instant::now();
        let sid = format!("{hostname}:{name}:80");
        if wait_for(&catalog, ("up", sid.clone())).await.is_none() {
            eprintln!("regbench: {name} never appeared in the catalog");
        }
        // consul alone, same request shape, same moment: the server's share of the tail.
        let body = format!(
            r#"{{"ID":"probe-{i}","Name":"rbprobe","Port":{},"Address":"127.0.0.1"}}"#,
            i + 1
        );
        let t = Instant::now();
        let ok = http
            .put(format!("{base}/v1/agent/service/register"))
            .body(body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            probe.push(t.elapsed().as_secs_f64() * 1e3);
        }
        samples.push(Sample {
            id,
            run_ret,
            stop_ret: None,
        });
    }
    eprintln!("regbench: stopping them…");
    for (i, s) in samples.iter_mut().enumerate() {
        let name = format!("regbench-{pid}-{i}");
        docker(&["stop", "-t", "0", &name]).await?;
        s.stop_ret = Some(Instant::now());
        let sid = format!("{hostname}:{name}:80");
        if wait_for(&catalog, ("gone", sid)).await.is_none() {
            eprintln!("regbench: {name} never left the catalog");
        }
    }
    // Let the last timing lines arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let ev = events.lock().map(|m| m.clone()).unwrap_or_default();
    let cat = catalog.lock().map(|m| m.clone()).unwrap_or_default();
    let st = steps.lock().map(|m| m.clone()).unwrap_or_default();
    let n = samples.len();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 14];
    for (i, s) in samples.iter().enumerate() {
        let sid = format!("{hostname}:regbench-{pid}-{i}:80");
        let start_ev = ev.get(&("start", s.id.clone())).copied();
        let die_ev = ev.get(&("die", s.id.clone())).copied();
        let up = cat.get(&("up", sid.clone())).copied();
        let gone = cat.get(&("gone", sid)).copied();
        let pairs = [
            start_ev.map(|t| (s.run_ret, t)),
            up.map(|t| (s.run_ret, t)),
            start_ev.zip(up),
            die_ev.zip(s.stop_ret).map(|(t, r)| (r, t)),
            gone.zip(s.stop_ret).map(|(t, r)| (r, t)),
            die_ev.zip(gone),
        ];
        for (col, p) in cols.iter_mut().zip(pairs) {
            col.extend(ms(p));
        }
        let step = |k: &str, part: usize| {
            st.get(&(k.to_string(), s.id.clone()))
                .map(|d| d[part].as_secs_f64() * 1e3)
        };
        for part in 0..3 {
            cols[6 + part].extend(step("start", part));
            cols[10 + part].extend(step("die", part));
        }
        let own = |k: &str| Some(step(k, 0)? - step(k, 1)? - step(k, 2)?);
        cols[9].extend(own("start"));
        cols[13].extend(own("die"));
    }
    let engine_version = docker(&[
        "version",
        "-f",
        "{{.Server.Version}} (API {{.Server.APIVersion}})",
    ])
    .await
    .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "\nregbench: {n} containers, one at a time; {cores} cores; Docker {engine_version}; \
         ms; negative = before the CLI returned\n"
    );
    println!(
        "| {:<58} | {:>9} | {:>8} | {:>8} | {:>8} |",
        "interval", "samples", "p50", "p99", "max"
    );
    println!(
        "|{}|{}|{}|{}|{}|",
        "-".repeat(60),
        "-".repeat(11),
        "-".repeat(10),
        "-".repeat(10),
        "-".repeat(10)
    );
    let names = [
        "floor: `docker run` returned → start event (own stream)",
        "`docker run` returned → visible in catalog",
        "start event (own stream) → visible in catalog",
        "floor: `docker stop` returned → die event (own stream)",
        "`docker stop` returned → gone from catalog",
        "die event (own stream) → gone from catalog",
        "registrator: start received → register acked",
        "  of which Docker inspect",
        "  of which consul PUT /v1/agent/service/register",
        "  of which registrator itself (the rest)",
        "registrator: die received → deregister acked",
        "  of which Docker",
        "  of which consul PUT /v1/agent/service/deregister",
        "  of which registrator itself (the rest)",
    ];
    for (name, col) in names.iter().zip(cols.iter_mut()) {
        row(name, col, n);
    }
    row(
        "probe: the bench's own PUT register, after each start",
        &mut probe,
        n,
    );
    Ok(())
}
