//! A full disk: the data dir on a small loop-mounted ext4, filled with 256 KiB values until
//! writes fail. Failing writes must say why (500 naming the lack of space), reads and
//! `/v1/agent/self` must keep answering, writes must come back without a restart once a filler
//! file is deleted, and a restart must find every acknowledged write. Then starts on a nearly
//! full disk: the same data dir, and an empty one.

use super::{config, START};
use crate::guard::{scratch, LoopFs};
use crate::history::{summary, History};
use crate::kv::{self, Write};
use crate::load::value_for;
use crate::report::Outcome;
use crate::server::Consul;
use crate::Ctx;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const NAME: &str = "enospc";
const FS_MIB: u64 = 128;
/// Free space left for the server at the start of a round.
const ROOM: u64 = 80 << 20;
/// Free space left for the nearly-full starts.
const TIGHT: u64 = 4 << 20;
const VALUE: usize = 256 * 1024;
/// How long writes may take to come back once space is freed.
const RECOVER: Duration = Duration::from_secs(30);

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    let rounds = ctx.plan.enospc_rounds;
    let mut notes = Vec::new();
    let mut failure = None;
    for r in 0..rounds {
        // Alternate: snapshots every 64 entries (ENOSPC hits a snapshot first), and the
        // default threshold (ENOSPC hits the log).
        let threshold = if r % 2 == 0 { 64 } else { 16_384 };
        match round(ctx, r, threshold).await {
            Ok(note) => notes.push(note),
            Err(e) => {
                failure = Some(format!(
                    "round {} (snapshot threshold {threshold}): {e:#}",
                    r + 1
                ));
                break;
            }
        }
    }
    let tried = format!(
        "{rounds} rounds: {FS_MIB} MiB ext4 on loop, 256 KiB writes until ENOSPC, reads during, free a filler, restart; restart with 4 MiB free"
    );
    out.push(match failure {
        None => Outcome::pass(NAME, tried, notes.join("; ")),
        Some(f) => Outcome::fail(NAME, tried, f),
    });
    out.push(match small_disk(ctx).await {
        Ok(note) => Outcome::pass("enospc-empty-start", "fresh data dir, 4 MiB free", note),
        Err(e) => Outcome::fail(
            "enospc-empty-start",
            "fresh data dir, 4 MiB free",
            format!("{e:#}"),
        ),
    });
    Ok(out)
}

/// One fill-free-restart round; a short note of what happened, or what broke.
async fn round(ctx: &Ctx, r: usize, threshold: u64) -> anyhow::Result<String> {
    let dir = scratch(NAME)?;
    let fs = LoopFs::create(dir.path(), FS_MIB)?;
    let filler = fs.fill("filler", fs.free()?.saturating_sub(ROOM))?;
    let extra = config(
        dir.path(),
        &format!("{{\"raft_snapshot_threshold\": {threshold}}}"),
    )?;
    let mut s = Consul::new(
        &ctx.consul,
        &fs.mnt.join("data"),
        &dir.path().join("agent.log"),
        &extra,
    )?;
    s.start(START).await?;
    let base = s.url("");
    let mut rng = rand::rngs::StdRng::seed_from_u64(ctx.seed ^ r as u64);
    let mut h = History::default();

    // Fill until a write fails.
    let t0 = Instant::now();
    let mut failed = None;
    for i in 0..2000 {
        if t0.elapsed() > Duration::from_secs(120) {
            break;
        }
        let key = format!("chaos/big-{i}");
        let value = value_for(&key, rng.gen(), VALUE);
        match kv::put(&s.http, &base, &key, "", value.clone()).await {
            Write::Acked => h.ack(&key, value),
            Write::Refused(st, body) => anyhow::bail!("write {key} refused with {st}: {body}"),
            Write::Unknown(why) => {
                h.unknown(&key, value);
                failed = Some(why);
                break;
            }
        }
    }
    let Some(why) = failed else {
        anyhow::bail!(
            "the disk never filled: {} writes of 256 KiB acknowledged in {:.0}s",
            h.acked.len(),
            t0.elapsed().as_secs_f64()
        );
    };
    let acked = h.acked.len();
    let lower = why.to_lowercase();
    if !lower.starts_with("500") {
        anyhow::bail!("after {acked} acked writes, a write failed without a 500: {why}");
    }
    if !["no space", "enospc", "disk full", "space left"]
        .iter()
        .any(|w| lower.contains(w))
    {
        anyhow::bail!("after {acked} acked writes, the 500 does not name the cause: {why}");
    }

    // During the outage: reads and the agent keep answering.
    let bad = verify_sample(&s, &h, 10).await;
    if !bad.is_empty() {
        anyhow::bail!("reads during the outage: {}", summary(&bad));
    }
    match s.get("/v1/agent/self").await {
        Ok((200, _)) => {}
        other => anyhow::bail!("/v1/agent/self during the outage: {other:?}"),
    }
    if !s.running() {
        anyhow::bail!(
            "the server exited during the outage: {}",
            crate::server::last_error(&s.log_text())
        );
    }

    // Space returns: writes must come back without a restart.
    std::fs::remove_file(&filler)?;
    let t1 = Instant::now();
    let mut last = String::new();
    let mut back = None;
    let mut n = 0;
    while t1.elapsed() < RECOVER {
        let key = format!("chaos/after-{n}");
        n += 1;
        let value = value_for(&key, rng.gen(), 64);
        match kv::put(&s.http, &base, &key, "", value.clone()).await {
            Write::Acked => {
                h.ack(&key, value);
                back = Some(t1.elapsed());
                break;
            }
            Write::Refused(st, b) => last = format!("{st} {b}"),
            Write::Unknown(w) => {
                h.unknown(&key, value);
                last = w;
            }
        }
        crate::sleep(Duration::from_millis(500)).await;
    }
    let Some(back) = back else {
        anyhow::bail!(
            "writes did not come back within {RECOVER:?} of freeing space (no restart); last answer: {}",
            last.trim()
        );
    };

    // A restart finds every acknowledged write.
    s.stop().await;
    s.start(START).await?;
    let bad = verify_all(&s, &h).await;
    if !bad.is_empty() {
        anyhow::bail!("after a restart: {}", summary(&bad));
    }

    // A restart of the same data dir on a nearly full disk serves its data.
    s.stop().await;
    let _tight = fs.fill("filler2", fs.free()?.saturating_sub(TIGHT))?;
    s.start(START)
        .await
        .map_err(|e| e.context("restart of the data dir with 4 MiB free"))?;
    let bad = verify_sample(&s, &h, 10).await;
    if !bad.is_empty() {
        anyhow::bail!("restart with 4 MiB free: {}", summary(&bad));
    }
    s.kill9();
    drop(s);
    Ok(format!(
        "threshold {threshold}: {acked} acked then {:?}, reads held, writes back {:.1}s after freeing, all present after restart and on a 4 MiB-free restart",
        why.trim().chars().take(90).collect::<String>(),
        back.as_secs_f64()
    ))
}

/// A fresh server on a disk with 4 MiB free starts, serves reads and takes a small write.
async fn small_disk(ctx: &Ctx) -> anyhow::Result<String> {
    let dir = scratch("enospc-empty")?;
    let fs = LoopFs::create(dir.path(), 64)?;
    let _filler = fs.fill("filler", fs.free()?.saturating_sub(TIGHT))?;
    let mut s = Consul::new(
        &ctx.consul,
        &fs.mnt.join("data"),
        &dir.path().join("agent.log"),
        &[],
    )?;
    let took = s.start(START).await?;
    match kv::put(&s.http, &s.url(""), "chaos/small", "", b"1".to_vec()).await {
        Write::Acked => {}
        other => anyhow::bail!("started, but a 1-byte write got {other:?}"),
    }
    s.kill9();
    Ok(format!(
        "served after {:.1}s, took a write",
        took.as_secs_f64()
    ))
}

/// GETs up to `n` acknowledged keys (and the newest) one by one.
async fn verify_sample(s: &Consul, h: &History, n: usize) -> Vec<String> {
    let step = (h.acked.len() / n.max(1)).max(1);
    let mut keys: Vec<&String> = h.acked.keys().step_by(step).collect();
    keys.extend(h.acked.keys().last());
    verify_keys(s, h, keys).await
}

/// GETs every acknowledged key one by one (the values are too big for one `?recurse`).
async fn verify_all(s: &Consul, h: &History) -> Vec<String> {
    verify_keys(s, h, h.acked.keys().collect()).await
}

async fn verify_keys(s: &Consul, h: &History, keys: Vec<&String>) -> Vec<String> {
    let mut bad = Vec::new();
    for k in keys {
        match kv::get(&s.http, &s.url(""), k).await {
            Ok(Some((v, _))) if Some(&v) == h.acked.get(k) => {}
            Ok(Some(_)) => bad.push(format!("{k}: wrong value")),
            Ok(None) => bad.push(format!("acknowledged key {k} missing")),
            Err(e) => bad.push(format!("{k}: {e:#}")),
        }
    }
    bad
}
