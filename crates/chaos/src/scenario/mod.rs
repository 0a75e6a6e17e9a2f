//! The scenarios, in the order they run, and what they share.

mod clients;
mod enospc;
mod flip;
mod kill;
mod snapshot;

use crate::history::History;
use crate::plan::Plan;
use crate::report::Outcome;
use crate::server::Consul;
use crate::Ctx;
use std::path::Path;
use std::time::Duration;

pub const NAMES: &[&str] = &[
    "kill9",
    "enospc",
    "flip",
    "idle-clients",
    "snapshot-kill",
    "restore-kill",
];

/// How long a scenario may take in all before it is failed (and its guards dropped).
pub fn budget(name: &str, plan: &Plan) -> Duration {
    let short = match name {
        "flip" => 150,
        "enospc" => 150,
        _ => 90,
    };
    Duration::from_secs(if plan.long { short * 12 } else { short })
}

pub async fn run(name: &str, ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    match name {
        "kill9" => kill::run(ctx).await,
        "enospc" => enospc::run(ctx).await,
        "flip" => flip::run(ctx).await,
        "idle-clients" => clients::run(ctx).await,
        "snapshot-kill" => snapshot::run_snapshot(ctx).await,
        "restore-kill" => snapshot::run_restore(ctx).await,
        other => anyhow::bail!("no scenario {other}"),
    }
}

/// How long a start may take before it counts as hung.
pub const START: Duration = Duration::from_secs(30);

/// Writes a JSON config file into `dir` and returns the flag that loads it.
pub fn config(dir: &Path, json: &str) -> anyhow::Result<Vec<String>> {
    let p = dir.join("chaos.json");
    std::fs::write(&p, json)?;
    Ok(vec![format!("-config-file={}", p.display())])
}

/// Reads every `chaos/` key from `s` and checks it against `h`; the problems found.
pub async fn check(s: &Consul, h: &History) -> Vec<String> {
    match crate::kv::all(&s.http, &s.url(""), "chaos/").await {
        Ok(state) => h.check(&state),
        Err(e) => vec![format!("could not read the state back: {e:#}")],
    }
}
