//! `chaos`: the fault campaign against `consul` (docs/RELIABILITY.md).
//!
//! ```text
//! chaos [--short] [--consul PATH] [--only NAME,...] [--seed N]
//! ```
//! Runs each scenario against real `consul` processes on 127.0.0.1, prints one line per
//! scenario and then `N passed, M failed`; exits 1 if any failed.

mod guard;
mod history;
mod kv;
mod load;
mod plan;
mod report;
mod scenario;
mod server;

use anyhow::{bail, Context};
use plan::Plan;
use report::Outcome;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What every scenario gets.
pub struct Ctx {
    pub consul: PathBuf,
    pub plan: Plan,
    pub seed: u64,
}

struct Args {
    short: bool,
    consul: Option<PathBuf>,
    only: Vec<String>,
    seed: Option<u64>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        short: false,
        consul: None,
        only: Vec::new(),
        seed: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--short" => a.short = true,
            "--consul" => a.consul = Some(it.next().context("--consul PATH")?.into()),
            "--only" => {
                let v = it.next().context("--only NAME,...")?;
                a.only = v.split(',').map(str::to_string).collect();
            }
            "--seed" => a.seed = Some(it.next().context("--seed N")?.parse()?),
            "-h" | "--help" => {
                println!("usage: chaos [--short] [--consul PATH] [--only NAME,...] [--seed N]");
                println!("scenarios: {}", scenario::NAMES.join(", "));
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(a)
}

/// The `consul` binary next to this one (same profile), unless given.
fn consul_path(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let p = match given {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("consul"),
    };
    if !p.is_file() {
        bail!("no consul binary at {}", p.display());
    }
    Ok(p)
}

/// Enough descriptors for 500 client connections of our own.
fn raise_nofile() {
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let want = lim.maximum.unwrap_or(65_536).min(65_536);
    if lim.current.unwrap_or(u64::MAX) < want {
        let _ = rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(want),
                maximum: lim.maximum,
            },
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let code = match real_main().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chaos: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

async fn real_main() -> anyhow::Result<i32> {
    let args = parse_args()?;
    raise_nofile();
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let ctx = Ctx {
        consul: consul_path(args.consul)?,
        plan: if args.short {
            Plan::short()
        } else {
            Plan::long()
        },
        seed,
    };
    let form = if args.short { "short" } else { "long" };
    println!(
        "chaos: {form} form, seed {seed}, consul {}",
        ctx.consul.display()
    );
    let t0 = Instant::now();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    for &name in scenario::NAMES {
        if !args.only.is_empty() && !args.only.iter().any(|o| name.starts_with(o.as_str())) {
            continue;
        }
        let budget = scenario::budget(name, &ctx.plan);
        let started = Instant::now();
        // Dropping the scenario's future (timeout or signal) runs its guards' Drop: the
        // consul processes are killed, the filesystems unmounted, the temp dirs removed.
        let got = tokio::select! {
            r = tokio::time::timeout(budget, scenario::run(name, &ctx)) => r,
            _ = tokio::signal::ctrl_c() => { eprintln!("chaos: interrupted"); return Ok(130) }
            _ = sigterm.recv() => { eprintln!("chaos: terminated"); return Ok(143) }
        };
        let mut these = match got {
            Ok(Ok(list)) => list,
            Ok(Err(e)) => vec![Outcome::fail(name, "setup", format!("{e:#}"))],
            Err(_) => vec![Outcome::fail(
                name,
                "whole scenario",
                format!("did not finish within its budget of {budget:?}"),
            )],
        };
        for o in &mut these {
            o.tried = format!("{} [{:.0}s]", o.tried, started.elapsed().as_secs_f64());
            println!("{o}");
        }
        outcomes.extend(these);
    }
    let passed = outcomes.iter().filter(|o| o.passed).count();
    let failed = outcomes.len() - passed;
    println!(
        "chaos: {form} form took {:.0}s, seed {seed}",
        t0.elapsed().as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 || outcomes.is_empty() {
        1
    } else {
        0
    })
}

/// Waits `d` (a small helper so scenarios read as steps).
pub async fn sleep(d: Duration) {
    tokio::time::sleep(d).await
}
