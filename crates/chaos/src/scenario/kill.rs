//! kill -9 cycles: four writers (unique keys and CAS increments of one counter), SIGKILL of the
//! server at a random moment, restart, and every acknowledged write must be there.

use super::{check, START};
use crate::guard::scratch;
use crate::history::summary;
use crate::load::Load;
use crate::report::Outcome;
use crate::server::Consul;
use crate::Ctx;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const NAME: &str = "kill9";
const WRITERS: usize = 4;

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    let dir = scratch(NAME)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(ctx.seed);
    let mut s = Consul::in_dir(&ctx.consul, dir.path(), &[])?;
    s.start(START).await?;
    let load = Load::new();
    let cycles = ctx.plan.kill_cycles;
    let tried = format!("{cycles} cycles of {WRITERS} writers (PUT + CAS), kill -9 at 0.3-2.5s");
    for c in 0..cycles {
        let writers = load.start(&s.http, &s.url(""), WRITERS, 0.3, 64, rng.gen());
        crate::sleep(Duration::from_millis(rng.gen_range(300..2500))).await;
        s.kill9();
        load.stop(writers).await;
        if let Err(e) = s.start(START).await {
            return Ok(vec![Outcome::fail(
                NAME,
                tried,
                format!("restart after kill {} failed: {e:#}", c + 1),
            )]);
        }
        let h = load.snapshot();
        let bad = check(&s, &h).await;
        if !bad.is_empty() {
            return Ok(vec![Outcome::fail(
                NAME,
                tried,
                format!("after kill {}: {}", c + 1, summary(&bad)),
            )]);
        }
    }
    let h = load.snapshot();
    let result = format!(
        "{} writes acked ({} unknown), {} CAS acked ({} unknown, {} lost races), 0 lost",
        h.acked.len(),
        h.unknown.len(),
        h.cas_acked,
        h.cas_unknown,
        h.cas_lost_race
    );
    if h.acked.len() < cycles * 10 {
        return Ok(vec![Outcome::fail(
            NAME,
            tried,
            format!("too little load to prove anything: {result}"),
        )]);
    }
    Ok(vec![Outcome::pass(NAME, tried, result)])
}
