//! The tutorial loop's latency: from `docker run` returning to nginx routing requests to the new
//! container, and from `docker stop` returning to it leaving the rotation, with the breakdown
//! Docker event → catalog → rendered file → nginx. Brings the stack up with
//! `examples/tutorial/run up` (release) on free ports, measures, and takes it down.
//!
//! ```sh
//! cargo run --release -p system-tests --bin loopbench -- [runs]     # default 20
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use system_tests::get;
// consul is started by examples/tutorial/run, which binds its own ports: free_port is the only way.
use test_support::{free_port, workspace_root as root};

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Blocks on consul until the `nginx` service's index moves past `index`; returns the new one.
fn catalog_change(http: u16, index: u64) -> u64 {
    let path = format!("/v1/health/service/nginx?passing&index={index}&wait=30s");
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", http)) else {
        return index;
    };
    let _ = s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes());
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.lines()
        .find_map(|l| {
            l.strip_prefix("X-Consul-Index: ")
                .or_else(|| l.strip_prefix("x-consul-index: "))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(index)
}

fn mtime_ns(p: &Path) -> u128 {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Picks the (start, end) timestamps of one step out of a transition's marks.
type Span = fn(&Marks) -> (u128, u128);

/// Timestamps (ns since the epoch) of one transition.
#[derive(Default, Clone, Copy)]
struct Marks {
    docker: u128,
    event: u128,
    catalog: u128,
    file: u128,
    routed: u128,
}

struct Stack {
    env: Vec<(String, String)>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new(root().join("examples/tutorial/run"))
            .arg("down")
            .envs(self.env.clone())
            .status();
    }
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let id = std::process::id();
    let state = std::env::temp_dir().join(format!("loopbench-{id}"));
    let (http, nginx) = (free_port(), free_port());
    let base = loop {
        let b = free_port();
        if b < 60000
            && (0..(runs as u16 + 6)).all(|i| TcpListener::bind(("0.0.0.0", b + i)).is_ok())
        {
            break b;
        }
    };
    let env: Vec<(String, String)> = vec![
        ("TUTORIAL_STATE".into(), state.display().to_string()),
        ("TUTORIAL_HTTP_PORT".into(), http.to_string()),
        ("TUTORIAL_SERVER_PORT".into(), free_port().to_string()),
        ("TUTORIAL_NGINX_PORT".into(), nginx.to_string()),
        ("TUTORIAL_PORT_BASE".into(), base.to_string()),
        ("TUTORIAL_PREFIX".into(), format!("lb{id}-")),
        ("TUTORIAL_IMAGES".into(), format!("lb{id}/")),
        (
            "TUTORIAL_REGISTRATOR_IMAGE".into(),
            format!("lb{id}/registrator:latest"),
        ),
    ];
    eprintln!("==> bringing the tutorial stack up (release build)");
    let st = Command::new(root().join("examples/tutorial/run"))
        .arg("up")
        .envs(env.clone())
        .status();
    let stack = Stack { env };
    if !st.map(|s| s.success()).unwrap_or(false) {
        eprintln!("tutorial up failed");
        return;
    }
    let wt: PathBuf = state.join("nginx/conf/vhost/wt.conf");

    // Docker's own start/die events, with the engine's timestamps.
    let mut events: Child = match Command::new("docker")
        .args([
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}} {{.TimeNano}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("docker events: {e}");
            return;
        }
    };
    let (tx, rx) = mpsc::channel::<(String, String, u128)>();
    if let Some(out) = events.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let parts: Vec<&str> = line.split_whitespace().collect();
                if let [action, name, t] = parts[..] {
                    let _ = tx.send((action.to_string(), name.to_string(), t.parse().unwrap_or(0)));
                }
            }
        });
    }
    let wait_event = |action: &str, name: &str| -> u128 {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok((a, n, t)) = rx.recv_timeout(Duration::from_millis(100)) {
                if a == action && n == name {
                    return t;
                }
            }
        }
        0
    };

    let mut ups: Vec<Marks> = Vec::new();
    let mut downs: Vec<Marks> = Vec::new();
    let image = format!("lb{id}/nginx");
    for run in 0..runs {
        let n = 5 + run;
        let name = format!("lb{id}-test-{n:02}");
        let host = format!("test{n:02}");
        let port = base + n as u16 - 1;
        let idx = catalog_change(http, 0);
        let catalog = std::thread::spawn(move || {
            catalog_change(http, idx);
            now_ns()
        });
        let before_file = mtime_ns(&wt);
        let mut m = Marks::default();
        let out = Command::new("docker")
            .args([
                "run",
                "-d",
                "-p",
                &format!("{port}:80"),
                "--name",
                &name,
                "-h",
                &host,
                &image,
            ])
            .output();
        m.docker = now_ns();
        if !out.map(|o| o.status.success()).unwrap_or(false) {
            eprintln!("docker run {name} failed");
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if get(nginx).as_deref() == Some(host.as_str()) {
                m.routed = now_ns();
                break;
            }
        }
        m.event = wait_event("start", &name);
        m.catalog = catalog.join().unwrap_or(0);
        m.file = mtime_ns(&wt).max(before_file);
        ups.push(m);

        // And out again.
        let idx = catalog_change(http, 0);
        let catalog = std::thread::spawn(move || {
            catalog_change(http, idx);
            now_ns()
        });
        let mut d = Marks::default();
        let _ = Command::new("docker")
            .args(["stop", "-t", "0", &name])
            .output();
        d.docker = now_ns();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // Out of the rotation: 4 answers in a row without it.
            if (0..4).all(|_| get(nginx).as_deref() != Some(host.as_str())) {
                d.routed = now_ns();
                break;
            }
        }
        d.event = wait_event("die", &name);
        d.catalog = catalog.join().unwrap_or(0);
        d.file = mtime_ns(&wt);
        downs.push(d);
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        eprintln!("run {}/{runs} done", run + 1);
    }
    let _ = events.kill();
    let _ = events.wait();
    drop(stack);

    let ms = |a: u128, b: u128| {
        if a == 0 || b == 0 {
            f64::NAN
        } else {
            (b as f64 - a as f64) / 1e6
        }
    };
    println!("| transition | step | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (label, set) in [
        ("docker run → routed", &ups),
        ("docker stop → out of rotation", &downs),
    ] {
        let rows: [(&str, Span); 5] = [
            ("total (command returned → nginx)", |m| {
                (m.docker, m.routed)
            }),
            (
                "Docker event (engine timestamp) → catalog query woke",
                |m| (m.event, m.catalog),
            ),
            ("catalog query woke → wt.conf written", |m| {
                (m.catalog, m.file)
            }),
            ("wt.conf written → nginx routes", |m| (m.file, m.routed)),
            ("command returned → Docker event", |m| (m.docker, m.event)),
        ];
        for (step, f) in rows {
            let mut v: Vec<f64> = set
                .iter()
                .map(|m| {
                    let (a, b) = f(m);
                    ms(a, b)
                })
                .filter(|x| x.is_finite())
                .collect();
            let (p50, p99) = (pct(&mut v, 0.5), pct(&mut v, 0.99));
            let max = v.iter().cloned().fold(f64::NAN, f64::max);
            println!("| {label} | {step} | {p50:.1} | {p99:.1} | {max:.1} |");
        }
    }
    println!(
        "\n{} runs; machine: {} cores",
        ups.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
}
