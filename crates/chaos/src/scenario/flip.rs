//! Damage at rest: with the server stopped, one flipped bit (or a truncation) in one region of
//! the data dir, then a start. Allowed: the server refuses to start, naming the damaged file,
//! or it starts and every acknowledged write reads back with its value. Never allowed: a wrong
//! value, a missing key, a start that neither serves nor exits.

use super::{check, config, START};
use crate::guard::{copy_tree, scratch};
use crate::history::{summary, History};
use crate::kv::{self, Write};
use crate::load::value_for;
use crate::report::Outcome;
use crate::server::{is_error, last_error, Consul, Start};
use crate::Ctx;
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::Duration;

const NAME: &str = "flip";
const KEYS: usize = 300;
const THRESHOLD: u64 = 64;
/// How long a damaged server gets to either serve or exit.
const DECIDE: Duration = Duration::from_secs(12);

#[derive(Clone, Copy, Debug)]
enum Region {
    /// The 16-byte header of a WAL frame the snapshot does not cover.
    WalHeader,
    /// The payload of a WAL frame the snapshot does not cover.
    WalPayload,
    /// Anywhere in the last frame of the log.
    WalLast,
    /// Anywhere in a frame the snapshot covers.
    WalCovered,
    /// The segment cut short inside the uncovered frames.
    WalTruncate,
    /// The segment cut at the start of an uncovered frame: a clean end, committed records gone.
    WalCutClean,
    Snapshot,
    SnapshotTruncate,
    /// sled's files (vote, committed index, purge point).
    Sled,
    NodeId,
}

const REGIONS: &[Region] = &[
    Region::WalHeader,
    Region::WalPayload,
    Region::WalLast,
    Region::WalCovered,
    Region::WalTruncate,
    Region::WalCutClean,
    Region::Snapshot,
    Region::SnapshotTruncate,
    Region::Sled,
    Region::NodeId,
];

impl Region {
    fn name(self) -> &'static str {
        match self {
            Region::WalHeader => "wal-header",
            Region::WalPayload => "wal-payload",
            Region::WalLast => "wal-last",
            Region::WalCovered => "wal-covered",
            Region::WalTruncate => "wal-truncate",
            Region::WalCutClean => "wal-cut-clean",
            Region::Snapshot => "snapshot",
            Region::SnapshotTruncate => "snapshot-truncate",
            Region::Sled => "sled",
            Region::NodeId => "node-id",
        }
    }
}

/// A frame found in a segment: where it starts, its payload length, its index.
#[derive(Clone, Copy, Debug)]
struct Frame {
    off: u64,
    len: u64,
    index: u64,
}

/// The pristine data dir and what it holds.
struct Pristine {
    dir: PathBuf,
    history: History,
    /// The newest segment and its frames.
    segment: PathBuf,
    frames: Vec<Frame>,
    snapshot_index: u64,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    let dir = scratch(NAME)?;
    let extra = config(
        dir.path(),
        &format!("{{\"raft_snapshot_threshold\": {THRESHOLD}}}"),
    )?;
    let p = prepare(ctx, dir.path(), &extra).await?;
    let mut rng = StdRng::seed_from_u64(ctx.seed);
    let mut out = Vec::new();
    for &region in REGIONS {
        let name = format!("{NAME}/{}", region.name());
        let n = ctx.plan.flip_trials;
        let tried = format!("{n} trials, server stopped, {}", what(region));
        let (mut refused, mut served, mut broke) = (0, 0, 0);
        let mut bad = None;
        let mut example = String::new();
        for t in 0..n {
            let trial = dir.path().join("trial");
            if trial.exists() {
                std::fs::remove_dir_all(&trial)?;
            }
            copy_tree(&p.dir, &trial)?;
            let damage = damage(&p, &trial, region, &mut rng)
                .with_context(|| format!("damaging {}", region.name()))?;
            match judge(ctx, dir.path(), &trial, &extra, &p.history, &damage).await? {
                Ok(Verdict::Refused(msg)) => {
                    refused += 1;
                    example = msg;
                }
                Ok(Verdict::Served) => served += 1,
                Err(why) => {
                    broke += 1;
                    bad.get_or_insert(format!("trial {}: {} => {why}", t + 1, damage.what));
                }
            }
        }
        out.push(match bad {
            None => Outcome::pass(
                &name,
                tried,
                if example.is_empty() {
                    format!("{refused} refused naming the file, {served} served every acknowledged write")
                } else {
                    format!(
                        "{refused} refused naming the file, {served} served every acknowledged write; e.g. {example:?}"
                    )
                },
            ),
            Some(b) => Outcome::fail(
                &name,
                tried,
                format!("{broke} BROKE, {refused} refused naming the file, {served} served intact; first: {b}"),
            ),
        });
    }
    Ok(out)
}

fn what(r: Region) -> &'static str {
    match r {
        Region::WalHeader => "one bit flipped in an uncovered WAL frame header",
        Region::WalPayload => "one bit flipped in an uncovered WAL frame payload",
        Region::WalLast => "one bit flipped in the last WAL frame",
        Region::WalCovered => "one bit flipped in a WAL frame the snapshot covers",
        Region::WalTruncate => "WAL segment truncated inside the uncovered frames",
        Region::WalCutClean => "WAL segment cut at the start of an uncovered frame",
        Region::Snapshot => "one bit flipped in raft/snapshot.bin",
        Region::SnapshotTruncate => "raft/snapshot.bin truncated",
        Region::Sled => "one bit flipped in one of sled's files",
        Region::NodeId => "one bit flipped in node-id",
    }
}

/// Writes the keys, stops the server and keeps its data dir aside; checks that an undamaged
/// copy starts and serves everything (else the trials would prove nothing).
async fn prepare(ctx: &Ctx, root: &Path, extra: &[String]) -> anyhow::Result<Pristine> {
    let data = root.join("pristine");
    let mut s = Consul::new(&ctx.consul, &data, &root.join("setup.log"), extra)?;
    s.start(START).await?;
    let mut h = History::default();
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0xf11b);
    for i in 0..KEYS {
        let key = format!("chaos/f-{i}");
        let value = value_for(&key, rng.gen(), 100);
        match kv::put(&s.http, &s.url(""), &key, "", value.clone()).await {
            Write::Acked => h.ack(&key, value),
            other => anyhow::bail!("setup write {key}: {other:?}"),
        }
    }
    let (_, body) = s.get("/v1/agent/self").await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let snapshot_index: u64 = v["Stats"]["raft"]["last_snapshot_index"]
        .as_str()
        .and_then(|x| x.parse().ok())
        .context("no Stats.raft.last_snapshot_index in /v1/agent/self")?;
    s.stop().await;
    drop(s);
    let (segment, frames) = newest_segment(&data.join("raft/wal"))?;
    if snapshot_index == 0 || !frames.iter().any(|f| f.index <= snapshot_index) {
        anyhow::bail!("no WAL frame covered by a snapshot (snapshot index {snapshot_index})");
    }
    if !frames.iter().any(|f| f.index > snapshot_index) {
        anyhow::bail!("no WAL frame after the snapshot (snapshot index {snapshot_index})");
    }
    // An undamaged copy must serve everything.
    let probe = root.join("probe");
    copy_tree(&data, &probe)?;
    let mut s = Consul::new(&ctx.consul, &probe, &root.join("probe.log"), extra)?;
    s.start(START)
        .await
        .context("an undamaged copy of the data dir does not start")?;
    let bad = check(&s, &h).await;
    if !bad.is_empty() {
        anyhow::bail!("an undamaged copy: {}", summary(&bad));
    }
    drop(s);
    std::fs::remove_dir_all(&probe)?;
    Ok(Pristine {
        dir: data,
        history: h,
        segment,
        frames,
        snapshot_index,
    })
}

/// The newest `*.wal` segment in `wal` and its frames.
fn newest_segment(wal: &Path) -> anyhow::Result<(PathBuf, Vec<Frame>)> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(wal)
        .with_context(|| format!("read {}", wal.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    segs.sort();
    let seg = segs.pop().context("no WAL segment")?;
    let bytes = std::fs::read(&seg)?;
    let frames = frames(&bytes);
    if frames.len() < 3 {
        anyhow::bail!("could not find WAL frames in {}", seg.display());
    }
    Ok((seg, frames))
}

/// The frames of a segment: a 16-byte header (length u32, CRC u32, index u64, little endian)
/// and the payload, back to back. The first offset (of the first 4 KiB) where three frames with
/// consecutive indexes parse is taken as the start, so a segment header would be skipped.
fn frames(b: &[u8]) -> Vec<Frame> {
    let at = |o: usize| -> Option<Frame> {
        let h = b.get(o..o + 16)?;
        let len = u32::from_le_bytes(h[0..4].try_into().ok()?) as u64;
        let index = u64::from_le_bytes(h[8..16].try_into().ok()?);
        (len > 0 && index > 0 && o as u64 + 16 + len <= b.len() as u64).then_some(Frame {
            off: o as u64,
            len,
            index,
        })
    };
    for start in 0..4096.min(b.len()) {
        let mut out = Vec::new();
        let mut o = start;
        while let Some(f) = at(o) {
            if out.last().is_some_and(|p: &Frame| p.index + 1 != f.index) {
                break;
            }
            out.push(f);
            o += 16 + f.len as usize;
        }
        if out.len() >= 3 {
            return out;
        }
    }
    Vec::new()
}

/// What was done to the copy, and the names an error message may use for the damaged file.
struct Damage {
    what: String,
    names: Vec<String>,
}

fn damage(p: &Pristine, trial: &Path, region: Region, rng: &mut StdRng) -> anyhow::Result<Damage> {
    let seg_name = file_name(&p.segment);
    let seg = trial.join("raft/wal").join(&seg_name);
    let uncovered: Vec<Frame> = p
        .frames
        .iter()
        .copied()
        .filter(|f| f.index > p.snapshot_index)
        .collect();
    let covered: Vec<Frame> = p
        .frames
        .iter()
        .copied()
        .filter(|f| f.index <= p.snapshot_index)
        .collect();
    let pick = |v: &[Frame], rng: &mut StdRng| v[rng.gen_range(0..v.len())];
    let wal = |what: String| Damage {
        what,
        names: vec![seg_name.clone()],
    };
    Ok(match region {
        Region::WalHeader | Region::WalPayload | Region::WalLast | Region::WalCovered => {
            let f = match region {
                Region::WalLast => *p.frames.last().context("no frames")?,
                Region::WalCovered => pick(&covered, rng),
                _ => pick(&uncovered, rng),
            };
            let (from, to) = match region {
                Region::WalHeader => (f.off, f.off + 16),
                Region::WalPayload => (f.off + 16, f.off + 16 + f.len),
                _ => (f.off, f.off + 16 + f.len),
            };
            let at = rng.gen_range(from..to);
            let bit = flip(&seg, at, rng)?;
            wal(format!(
                "bit {bit} of byte {at} of {seg_name} (frame of index {}, snapshot at {})",
                f.index, p.snapshot_index
            ))
        }
        Region::WalTruncate | Region::WalCutClean => {
            let f = pick(&uncovered, rng);
            let at = match region {
                Region::WalCutClean => f.off,
                _ => rng.gen_range(f.off..f.off + 16 + f.len),
            };
            std::fs::OpenOptions::new()
                .write(true)
                .open(&seg)?
                .set_len(at)?;
            let place = if at == f.off {
                "at the start of"
            } else {
                "inside"
            };
            wal(format!(
                "{seg_name} cut at {at} ({place} the frame of index {}, snapshot at {})",
                f.index, p.snapshot_index
            ))
        }
        Region::Snapshot | Region::SnapshotTruncate => {
            let f = trial.join("raft/snapshot.bin");
            let len = std::fs::metadata(&f)?.len();
            let what = if matches!(region, Region::Snapshot) {
                let at = rng.gen_range(0..len);
                let bit = flip(&f, at, rng)?;
                format!("bit {bit} of byte {at} of raft/snapshot.bin ({len} bytes)")
            } else {
                let at = rng.gen_range(0..len);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&f)?
                    .set_len(at)?;
                format!("raft/snapshot.bin ({len} bytes) cut at {at}")
            };
            Damage {
                what,
                names: vec!["snapshot.bin".into()],
            }
        }
        Region::Sled => {
            let files = sled_files(&trial.join("raft"))?;
            let f = &files[rng.gen_range(0..files.len())];
            let len = std::fs::metadata(f)?.len();
            let at = rng.gen_range(0..len);
            let bit = flip(f, at, rng)?;
            let rel = f.strip_prefix(trial).unwrap_or(f).display().to_string();
            Damage {
                what: format!("bit {bit} of byte {at} of {rel} ({len} bytes)"),
                names: vec![rel, "sled".into()],
            }
        }
        Region::NodeId => {
            let f = trial.join("node-id");
            let len = std::fs::metadata(&f)?.len();
            let at = rng.gen_range(0..len);
            let bit = flip(&f, at, rng)?;
            Damage {
                what: format!("bit {bit} of byte {at} of node-id"),
                names: vec!["node-id".into()],
            }
        }
    })
}

/// sled's files: everything under `raft/` that is not the WAL, the snapshot or a leftover.
fn sled_files(raft: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![raft.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            let name = file_name(&p);
            if p.is_dir() {
                if name != "wal" {
                    stack.push(p);
                }
            } else if !name.starts_with("snapshot.bin") && std::fs::metadata(&p)?.len() > 0 {
                out.push(p);
            }
        }
    }
    if out.is_empty() {
        anyhow::bail!("no sled files in {}", raft.display());
    }
    out.sort();
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Flips one random bit of byte `at` of `file`; returns the bit.
fn flip(file: &Path, at: u64, rng: &mut StdRng) -> anyhow::Result<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)?;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at)?;
    let bit = rng.gen_range(0..8u8);
    b[0] ^= 1 << bit;
    f.write_all_at(&b, at)?;
    f.sync_all()?;
    Ok(bit)
}

enum Verdict {
    /// With the error line that named the file.
    Refused(String),
    Served,
}

/// Starts a server on the damaged copy and judges what it does; `Err(why)` is a violation.
async fn judge(
    ctx: &Ctx,
    root: &Path,
    trial: &Path,
    extra: &[String],
    h: &History,
    d: &Damage,
) -> anyhow::Result<Result<Verdict, String>> {
    let log = root.join("trial.log");
    let _ = std::fs::remove_file(&log);
    let mut s = Consul::new(&ctx.consul, trial, &log, extra)?;
    s.spawn()?;
    Ok(match s.wait(DECIDE).await {
        Start::Serving(_) => {
            let bad = check(&s, h).await;
            if bad.is_empty() {
                Ok(Verdict::Served)
            } else {
                Err(format!("started and served: {}", summary(&bad)))
            }
        }
        Start::Exited(st) if st.success() => Err(format!("exited with {st} (success)")),
        Start::Exited(st) => {
            let text = s.log_text();
            let errors: Vec<&str> = text.lines().filter(|l| is_error(l)).collect();
            let named = errors
                .iter()
                .find(|l| d.names.iter().any(|n| l.contains(n.as_str())));
            if let Some(line) = named {
                Ok(Verdict::Refused(line.trim().chars().take(200).collect()))
            } else {
                Err(format!(
                    "refused to start ({st}) without naming the damaged file ({}): {}",
                    d.names.join(" or "),
                    last_error(&text)
                ))
            }
        }
        Start::Hung => Err(format!(
            "neither served nor exited within {DECIDE:?}: {}",
            last_error(&s.log_text())
        )),
    })
}
