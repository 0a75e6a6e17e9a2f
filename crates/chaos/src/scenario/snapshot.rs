//! Interrupted snapshots and restores. `snapshot-kill`: snapshots every 64 entries under
//! constant writes, kill -9 as soon as a snapshot's temporary file appears (or at a random
//! moment); the restart must hold every acknowledged write and leave no leftover behind.
//! `restore-kill`: kill -9 during `PUT /v1/snapshot`; the restart must hold exactly the old
//! state or exactly the restored one (the restored one if the restore was acknowledged).
//! Kills land within 1.1x the measured time of an uninterrupted restore.

use super::{check, config, START};
use crate::guard::scratch;
use crate::history::summary;
use crate::kv::{self, Write};
use crate::load::{value_for, Load};
use crate::report::Outcome;
use crate::server::Consul;
use crate::Ctx;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Files an interrupted snapshot may leave in `raft/`.
fn leftovers(raft: &Path) -> Vec<String> {
    std::fs::read_dir(raft)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tmp") || n.contains("generating"))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn run_snapshot(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    const NAME: &str = "snapshot-kill";
    let dir = scratch(NAME)?;
    let extra = config(dir.path(), "{\"raft_snapshot_threshold\": 64}")?;
    let mut s = Consul::in_dir(&ctx.consul, dir.path(), &extra)?;
    let raft = dir.path().join("data/raft");
    s.start(START).await?;
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0x5a5);
    let load = Load::new();
    let n = ctx.plan.snapshot_cycles;
    let tried = format!(
        "{n} cycles: snapshot every 64 entries, 3 writers of 2 KiB values, kill -9 when a snapshot temp file appears or at random"
    );
    let mut hits = 0;
    for c in 0..n {
        let writers = load.start(&s.http, &s.url(""), 3, 0.2, 2048, rng.gen());
        let aim = rng.gen_bool(0.5);
        let until = Instant::now() + Duration::from_millis(rng.gen_range(500..3000));
        while Instant::now() < until {
            if aim && !leftovers(&raft).is_empty() {
                break;
            }
            crate::sleep(Duration::from_millis(if aim { 1 } else { 50 })).await;
        }
        s.kill9();
        load.stop(writers).await;
        let left = leftovers(&raft);
        if !left.is_empty() {
            hits += 1;
        }
        let fail = |why: String| Ok(vec![Outcome::fail(NAME, tried.clone(), why)]);
        if let Err(e) = s.start(START).await {
            return fail(format!(
                "cycle {}: restart after a kill (leftovers {left:?}) failed: {e:#}",
                c + 1
            ));
        }
        let bad = check(&s, &load.snapshot()).await;
        if !bad.is_empty() {
            return fail(format!("cycle {}: {}", c + 1, summary(&bad)));
        }
        // Leftovers of the killed snapshot must be gone once the server serves (a snapshot
        // of its own may still be running: give it a few seconds).
        let t0 = Instant::now();
        let mut now = leftovers(&raft);
        while !now.is_empty() && t0.elapsed() < Duration::from_secs(5) {
            crate::sleep(Duration::from_millis(100)).await;
            now = leftovers(&raft);
        }
        if !now.is_empty() {
            return fail(format!(
                "cycle {}: leftovers {now:?} still in raft/ 5s after the restart",
                c + 1
            ));
        }
    }
    let h = load.snapshot();
    Ok(vec![Outcome::pass(
        NAME,
        tried,
        format!(
            "{hits} kills left a snapshot temp file; {} writes + {} CAS acked, 0 lost, leftovers cleaned",
            h.acked.len(),
            h.cas_acked
        ),
    )])
}

pub async fn run_restore(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    const NAME: &str = "restore-kill";
    let dir = scratch(NAME)?;
    let mut s = Consul::in_dir(&ctx.consul, dir.path(), &[])?;
    s.start(START).await?;
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0x7e5);
    let base = s.url("");

    // State A, saved as an archive.
    let n_keys = ctx.plan.restore_keys;
    let keys: Vec<String> = (0..n_keys).map(|i| format!("chaos/r-{i}")).collect();
    write_all(&s.http, &base, &keys, "a", &mut rng).await?;
    let restored = kv::all(&s.http, &base, "chaos/").await?;
    let r = s.http.get(s.url("/v1/snapshot")).send().await?;
    if r.status().as_u16() != 200 {
        anyhow::bail!("GET /v1/snapshot: {}", r.status());
    }
    let archive = r.bytes().await?.to_vec();

    // One uninterrupted restore: it must work, and it tells how long one takes.
    write_all(&s.http, &base, &keys[..100], "b", &mut rng).await?;
    let t0 = Instant::now();
    let r = s
        .http
        .put(s.url("/v1/snapshot"))
        .body(archive.clone())
        .send()
        .await?;
    let took = t0.elapsed();
    if r.status().as_u16() != 200 {
        anyhow::bail!("PUT /v1/snapshot: {} {}", r.status(), r.text().await?);
    }
    if kv::all(&s.http, &base, "chaos/").await? != restored {
        anyhow::bail!("an uninterrupted restore did not bring back the saved state");
    }

    let n = ctx.plan.restore_cycles;
    // Most kills land before the answer: the window is the measured restore time and a bit.
    let window = took.as_millis() as u64 * 11 / 10 + 5;
    let tried = format!(
        "{n} cycles: {n_keys}-key archive ({} KiB, restore takes {}ms), kill -9 0-{window}ms into PUT /v1/snapshot",
        archive.len() / 1024,
        took.as_millis()
    );
    let (mut old_n, mut new_n, mut acked_n) = (0, 0, 0);
    for c in 0..n {
        let tag = format!("c{c}");
        let mut changed = keys.clone();
        changed.truncate(100 + rng.gen_range(0..200));
        write_all(&s.http, &base, &changed, &tag, &mut rng).await?;
        let old = kv::all(&s.http, &base, "chaos/").await?;
        let req = s.http.put(s.url("/v1/snapshot")).body(archive.clone());
        let task = tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) });
        crate::sleep(Duration::from_millis(rng.gen_range(0..window))).await;
        s.kill9();
        let acked = matches!(
            tokio::time::timeout(Duration::from_secs(5), task).await,
            Ok(Ok(Ok(200)))
        );
        let fail = |why: String| Ok(vec![Outcome::fail(NAME, tried.clone(), why)]);
        if let Err(e) = s.start(START).await {
            return fail(format!("cycle {}: restart failed: {e:#}", c + 1));
        }
        let now = kv::all(&s.http, &base, "chaos/").await?;
        if now == restored {
            new_n += 1;
            acked_n += usize::from(acked);
        } else if now == old {
            if acked {
                return fail(format!(
                    "cycle {}: the restore was acknowledged but the old state came back",
                    c + 1
                ));
            }
            old_n += 1;
        } else {
            return fail(format!(
                "cycle {}: mixed state: {} keys differ from the old state, {} from the restored one",
                c + 1,
                differ(&now, &old),
                differ(&now, &restored)
            ));
        }
    }
    Ok(vec![Outcome::pass(
        NAME,
        tried,
        format!(
            "{old_n} came back with the old state, {new_n} with the restored one ({acked_n} of them acknowledged), none mixed"
        ),
    )])
}

/// Writes every key of `keys` with a fresh value (8 at a time); all must be acknowledged.
async fn write_all(
    http: &reqwest::Client,
    base: &str,
    keys: &[String],
    tag: &str,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    for chunk in keys.chunks(8) {
        let mut tasks = Vec::new();
        for k in chunk {
            let (http, base, k) = (http.clone(), base.to_string(), k.clone());
            let v = value_for(&format!("{k}/{tag}"), rng.gen(), 512);
            tasks.push(tokio::spawn(async move {
                let w = kv::put(&http, &base, &k, "", v).await;
                (k, w)
            }));
        }
        for t in tasks {
            let (k, w) = t.await?;
            if !matches!(w, Write::Acked) {
                anyhow::bail!("write {k}: {w:?}");
            }
        }
    }
    Ok(())
}

/// How many keys differ between two states.
fn differ(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> usize {
    let mut n = a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).count();
    n += b.keys().filter(|k| !a.contains_key(*k)).count();
    n
}
