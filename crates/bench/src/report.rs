//! Turns the rounds into medians, ratios and verdicts against PERFORMANCE.md's targets; prints
//! the table, rewrites this benchmark's section of `docs/BENCHMARKS.md` (between its markers,
//! leaving other sections alone) and draws the plot.

use crate::probe;
use crate::suite::{Figures, PUT_CLIENTS};
use crate::{Pair, Settings};
use std::fmt::Write as _;
use std::path::Path;

const BEGIN: &str =
    "<!-- bench:vs-etcd:begin (written by `scripts/bench`; edit the generator, not this) -->";
const END: &str = "<!-- bench:vs-etcd:end -->";

/// How a row's ratio is judged.
#[derive(Clone, Copy)]
enum Target {
    /// ours / etcd must be at least this.
    AtLeast(f64),
    /// ours / etcd must be at most this.
    AtMost(f64),
    /// ours alone must be at most this (in the row's display unit).
    OursAtMost(f64),
}

struct Row {
    label: String,
    key: String,
    /// etcd's figure under another key (its native-gRPC runs), when not `key`.
    etcd_key: Option<String>,
    unit: &'static str,
    /// Display value = raw * scale.
    scale: f64,
    digits: usize,
    target: Option<Target>,
    /// Also require every waiter woken in every round (wake rows).
    wake_n: Option<usize>,
}

fn row(label: &str, key: &str, unit: &'static str, scale: f64, digits: usize) -> Row {
    Row {
        label: label.to_string(),
        key: key.to_string(),
        etcd_key: None,
        unit,
        scale,
        digits,
        target: None,
        wake_n: None,
    }
}

impl Row {
    fn target(mut self, t: Target) -> Row {
        self.target = Some(t);
        self
    }

    /// The same figure of ours against etcd over native gRPC.
    fn grpc(&self, label: &str) -> Row {
        Row {
            label: label.to_string(),
            key: self.key.clone(),
            etcd_key: Some(format!("grpc.{}", self.key)),
            unit: self.unit,
            scale: self.scale,
            digits: self.digits,
            target: self.target,
            wake_n: None,
        }
    }
}

/// One line of the table, computed.
pub struct Line {
    pub label: String,
    pub unit: &'static str,
    pub etcd: Option<f64>,
    pub ours: Option<f64>,
    pub ratio: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
    digits: usize,
}

pub struct Report {
    pub pairs: Vec<Pair>,
    pub used: Vec<usize>,
    pub lines: Vec<Line>,
    set: Settings,
    etcd: Figures,
    ours: Figures,
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn medians(figs: &[&Figures]) -> Figures {
    let mut keys: Vec<&String> = figs.iter().flat_map(|f| f.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            median(figs.iter().filter_map(|f| f.get(k).copied()).collect()).map(|m| (k.clone(), m))
        })
        .collect()
}

fn rows(watchers: &[usize]) -> Vec<Row> {
    use Target::*;
    let mut r = Vec::new();
    for c in PUT_CLIENTS {
        let t = if c == 1 { AtLeast(1.0) } else { AtLeast(1.5) };
        let rate = row(
            &format!("KV PUT, {c} client(s)"),
            &format!("put.{c}.rate"),
            "ops/s",
            1.0,
            0,
        );
        let rate = rate.target(t);
        let alt = rate.grpc("  … vs etcd over gRPC");
        r.push(rate);
        r.push(alt);
        r.push(row("  p50", &format!("put.{c}.p50"), "ms", 1.0, 2));
        let p99 = row("  p99", &format!("put.{c}.p99"), "ms", 1.0, 2);
        let p99 = if c == 1 { p99 } else { p99.target(AtMost(1.0)) };
        let alt = p99.grpc("  p99 vs etcd over gRPC");
        r.push(p99);
        r.push(alt);
        let cpu = row(
            "  server CPU per PUT",
            &format!("put.{c}.cpu_us"),
            "µs",
            1.0,
            0,
        );
        let cpu = if c == 16 {
            cpu.target(AtMost(0.5))
        } else {
            cpu
        };
        let alt = cpu.grpc("  CPU per PUT vs etcd over gRPC");
        r.push(cpu);
        r.push(alt);
        r.push(row(
            "  writes per fsync (perf)",
            &format!("put.{c}.wps"),
            "",
            1.0,
            1,
        ));
        r.push(row(
            "  writes per WAL fsync (etcd /metrics)",
            &format!("put.{c}.wal_wps"),
            "",
            1.0,
            1,
        ));
    }
    for (mode, label, target) in [
        ("default", "KV GET x16: default vs linearizable", 2.0),
        ("relaxed", "KV GET x16: ?stale vs serializable", 3.0),
    ] {
        let g = row(label, &format!("get.{mode}.rate"), "ops/s", 1.0, 0).target(AtLeast(target));
        let alt = g.grpc("  … vs etcd over gRPC");
        r.push(g);
        r.push(alt);
        r.push(row("  p99", &format!("get.{mode}.p99"), "ms", 1.0, 2));
        r.push(row(
            "  server CPU per GET",
            &format!("get.{mode}.cpu_us"),
            "µs",
            1.0,
            0,
        ));
    }
    r.push(row(
        "register x16: /v1/agent/service/register",
        "reg.agent.rate",
        "ops/s",
        1.0,
        0,
    ));
    r.push(row("  p99", "reg.agent.p99", "ms", 1.0, 2));
    r.push(row(
        "register x16: /v1/catalog/register",
        "reg.catalog.rate",
        "ops/s",
        1.0,
        0,
    ));
    r.push(row("  p99", "reg.catalog.p99", "ms", 1.0, 2));
    for &n in watchers {
        r.push(row(
            &format!("wake-up, {n} parked: p50"),
            &format!("wake.{n}.p50"),
            "ms",
            1.0,
            1,
        ));
        let mut p99 = row(
            "  p99 (every waiter woken)",
            &format!("wake.{n}.p99"),
            "ms",
            1.0,
            1,
        )
        .target(AtMost(0.5));
        p99.wake_n = Some(n);
        r.push(p99);
        r.push(row("  max", &format!("wake.{n}.max"), "ms", 1.0, 1));
        r.push(row(
            "  woken (median of rounds)",
            &format!("wake.{n}.woken"),
            "",
            1.0,
            0,
        ));
        let mem = row(
            "  server memory per parked waiter",
            &format!("wake.{n}.rss_per"),
            "KiB",
            1.0 / 1024.0,
            1,
        );
        r.push(if n >= 10_000 {
            mem.target(OursAtMost(23.0))
        } else {
            mem
        });
    }
    r.push(row("idle RSS", "rss.idle", "MiB", 1.0 / 1048576.0, 1).target(AtMost(1.0)));
    r.push(row(
        "peak RSS (whole run)",
        "rss.peak",
        "MiB",
        1.0 / 1048576.0,
        0,
    ));
    r.push(row(
        "data dir after the run",
        "disk",
        "MiB",
        1.0 / 1048576.0,
        1,
    ));
    r.push(row(
        "restart → first read of the data",
        "restart.read",
        "ms",
        1.0,
        0,
    ));
    r.push(row(
        "restart → first write acked",
        "restart.write",
        "ms",
        1.0,
        0,
    ));
    r
}

impl Report {
    pub fn new(set: &Settings, pairs: Vec<Pair>) -> Report {
        let steady: Vec<usize> = (0..pairs.len())
            .filter(|&i| !pairs[i].disk_shifted())
            .collect();
        // Drop pairs taken while the disk changed phase, as long as at least two steady ones are
        // left; otherwise the median of all rounds is more robust than a single pair.
        let used = if steady.len() >= 2 {
            steady
        } else {
            (0..pairs.len()).collect()
        };
        let etcd = medians(&used.iter().map(|&i| &pairs[i].etcd).collect::<Vec<_>>());
        let ours = medians(&used.iter().map(|&i| &pairs[i].ours).collect::<Vec<_>>());
        let lines = rows(&set.watchers)
            .into_iter()
            .map(|r| {
                let e = etcd
                    .get(r.etcd_key.as_ref().unwrap_or(&r.key))
                    .map(|v| v * r.scale);
                let o = ours.get(&r.key).map(|v| v * r.scale);
                let ratio = match (e, o) {
                    (Some(e), Some(o)) if e > 0.0 => Some(o / e),
                    _ => None,
                };
                let all_woken = r.wake_n.is_none_or(|n| {
                    used.iter().all(|&i| {
                        pairs[i].ours.get(&format!("wake.{n}.woken")).copied() == Some(n as f64)
                    })
                });
                let (target, met) = match r.target {
                    None => (String::new(), None),
                    Some(Target::AtLeast(x)) => (format!("≥ {x}x"), ratio.map(|q| q >= x)),
                    Some(Target::AtMost(x)) => {
                        (format!("≤ {x}x"), ratio.map(|q| q <= x && all_woken))
                    }
                    Some(Target::OursAtMost(x)) => {
                        (format!("≤ {x} {}", r.unit), o.map(|v| v <= x && all_woken))
                    }
                };
                Line {
                    label: r.label,
                    unit: r.unit,
                    etcd: e,
                    ours: o,
                    ratio,
                    target,
                    met,
                    digits: r.digits,
                }
            })
            .collect();
        Report {
            pairs,
            used,
            lines,
            set: set.clone(),
            etcd,
            ours,
        }
    }

    fn cells(l: &Line) -> [String; 6] {
        let num = |v: Option<f64>| match v {
            Some(v) => format!("{:.*}", l.digits, v),
            None => "–".to_string(),
        };
        let label = if l.unit.is_empty() {
            l.label.clone()
        } else {
            format!("{} ({})", l.label, l.unit)
        };
        [
            label,
            num(l.etcd),
            num(l.ours),
            l.ratio
                .map(|r| format!("{r:.2}x"))
                .unwrap_or_else(|| "–".into()),
            l.target.clone(),
            match l.met {
                Some(true) => "met".into(),
                Some(false) => "NOT met".into(),
                None => String::new(),
            },
        ]
    }

    /// The plain-text table for the terminal.
    pub fn text_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<52} {:>10} {:>10} {:>8}  target",
            "figure (medians)", "etcd", "ours", "ratio"
        );
        for l in &self.lines {
            let c = Self::cells(l);
            let _ = writeln!(
                out,
                "{:<52} {:>10} {:>10} {:>8}  {:<10} {}",
                c[0], c[1], c[2], c[3], c[4], c[5]
            );
        }
        out
    }

    fn markdown_table(&self) -> String {
        let mut out = String::from(
            "| figure (median of the rounds used) | etcd 3.4 | ours | ours / etcd | target | |\n|---|---:|---:|---:|---|---|\n",
        );
        for l in &self.lines {
            let c = Self::cells(l);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                c[0].replace('|', "\\|"),
                c[1],
                c[2],
                c[3],
                c[4],
                c[5]
            );
        }
        out
    }

    fn section(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{BEGIN}");
        let _ = writeln!(s, "## Catalog server vs etcd\n");
        let _ = writeln!(
            s,
            "Produced by `{}` (crate `crates/bench`). Both servers run on loopback with durability on \
             (ours: group-committed fdatasync of the Raft log; etcd 3.4 from Debian, default fsync), data \
             dirs on disk (`{}`), fresh for every run. One load generator for both: closed-loop Rust \
             clients on keep-alive HTTP/1.1 connections; ours through the Consul HTTP API, etcd through \
             its HTTP/1.1 gRPC gateway (`/v3/kv/put`, `/v3/kv/range`, `/v3/watch`, JSON with base64 keys: \
             the same wire shape as ours) and, for PUT and GET, also over its native gRPC (HTTP/2, one \
             connection per client; rows \"… vs etcd over gRPC\"), the stronger peer, since the gateway \
             adds an in-process HTTP → gRPC hop to each request. Values \
             are 256 bytes over 1,000 keys; each window is {:.0} s after a {:.0} s warm-up. In each round \
             both servers are started fresh and run side by side, and every measurement is taken back \
             to back, etcd then ours (so a disk phase change hits both alike), with an fsync probe \
             before and after the round; medians of the rounds, ratio = ours / etcd.\n",
            self.set.command,
            self.set.dir.display(),
            self.set.window.as_secs_f64(),
            self.set.warmup.as_secs_f64()
        );
        let _ = writeln!(s, "### Machine\n");
        let _ = writeln!(s, "- `nproc`: {}", probe::sh("nproc"));
        let _ = writeln!(s, "- `free -h`:\n\n```\n{}\n```", probe::sh("free -h"));
        let _ = writeln!(
            s,
            "- disk: `{}`",
            probe::sh(&format!(
                "df -h --output=source,fstype,size {} | tail -1",
                self.set.dir.display()
            ))
        );
        let _ = writeln!(s, "- {}", probe::sh("etcd --version | head -1"));
        let _ = writeln!(s, "\n### Rounds\n");
        let _ = writeln!(s, "| round | fsync probe before / after (4 KiB + fdatasync, /s) | load avg before / after | used |\n|---|---|---|---|");
        for (i, p) in self.pairs.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {} | {:.0} / {:.0}{} | {:.2} / {:.2} | {} |",
                i + 1,
                p.probe_before,
                p.probe_after,
                if p.disk_shifted() {
                    " (disk changed phase)"
                } else {
                    ""
                },
                p.load_before,
                p.load_after,
                if self.used.contains(&i) { "yes" } else { "no" }
            );
        }
        let _ = writeln!(
            s,
            "\nLoad averages are 1-minute figures and include this benchmark's own client and \
             servers, which keep both cores busy during the load windows; only the figure before \
             round 1 speaks of other work ({:.2} here{}).",
            self.pairs.first().map_or(0.0, |p| p.load_before),
            if self.pairs.first().is_some_and(|p| p.load_before > 1.0) {
                ": other work was running, or had just stopped, when the run began"
            } else {
                ""
            }
        );
        if self.pairs.iter().any(Pair::disk_shifted) && self.used.len() == self.pairs.len() {
            let _ = writeln!(
                s,
                "\nThe disk changed phase during some rounds (fsync probe before and after differ by more \
                 than 1.5x) and fewer than two rounds were steady, so the medians are over all rounds. \
                 Figures bound by fsync latency (PUT at 1 client, every p99 that includes a write) carry \
                 the disk's stalls; CPU, memory and read figures do not depend on it."
            );
        }
        let errors: f64 = self
            .pairs
            .iter()
            .flat_map(|p| p.etcd.iter().chain(p.ours.iter()))
            .filter(|(k, _)| k.ends_with(".errors"))
            .map(|(_, v)| v)
            .sum();
        let _ = writeln!(s, "\nErrors across all runs: {errors:.0}.\n");
        let _ = writeln!(s, "### Results\n");
        s.push_str(&self.markdown_table());
        let _ = writeln!(s);
        let met: Vec<&Line> = self.lines.iter().filter(|l| l.met == Some(true)).collect();
        let unmet: Vec<&Line> = self.lines.iter().filter(|l| l.met == Some(false)).collect();
        let name = |l: &Line| format!("{} {}", l.label.trim(), l.target);
        let _ = writeln!(
            s,
            "**Targets met ({}):** {}\n",
            met.len(),
            met.iter().map(|l| name(l)).collect::<Vec<_>>().join("; ")
        );
        let _ = writeln!(
            s,
            "**Targets not met ({}):** {}\n",
            unmet.len(),
            unmet.iter().map(|l| name(l)).collect::<Vec<_>>().join("; ")
        );
        let _ = writeln!(
            s,
            "How the figures are taken: server CPU = utime+stime of the server process over the \
             window (incl. warm-up) / acknowledged operations; writes per fsync = acknowledged PUTs / \
             `fdatasync`+`fsync` syscalls of the server process counted by `perf stat -e \
             syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p PID` (etcd also from \
             `etcd_disk_wal_fsync_duration_seconds_count`); wake-up = time from sending the one write \
             to each waiter receiving its answer (ours: `GET /v1/kv/bench/watch?index=N&wait=60s`; \
             etcd: one `/v3/watch` stream each), every waiter on its own connection, all connections \
             kept open until the last answer so that teardown is not measured; the wake-ups run first \
             in each server's life, largest N first, and memory per waiter = server RSS growth once \
             all are parked / N; restart = SIGTERM after the run, then spawn → first successful read of a key \
             written before, and → first acknowledged write. The fd limit here is {} per process, so \
             10,000 waiters fit without extra source addresses.\n",
            probe::sh("ulimit -n")
        );
        if let Some(p) = &self.set.plot {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "![throughput vs clients; wake-up latency vs watchers]({name})\n"
            );
        }
        let _ = writeln!(s, "{END}");
        s
    }

    /// Replaces (or appends) this benchmark's section of `doc`.
    pub fn write_doc(&self, doc: &Path) -> anyhow::Result<()> {
        write_section(doc, BEGIN, END, &self.section())
    }

    /// Draws throughput vs clients and wake-up latency vs watchers, both systems.
    pub fn plot(&self, path: &Path) -> anyhow::Result<()> {
        crate::plot::draw(path, &self.etcd, &self.ours, &self.set.watchers)
    }
}

/// Replaces the part of `doc` between `begin` and `end` (markers included) with `section`,
/// which carries the markers itself; appends it when the markers are not there yet.
pub fn write_section(doc: &Path, begin: &str, end: &str, section: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(doc).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let new = match (old.find(begin), old.find(end)) {
        (Some(a), Some(b)) if b > a => {
            format!(
                "{}{}{}",
                &old[..a],
                section.trim_end(),
                &old[b + end.len()..]
            )
        }
        _ => format!(
            "{}\n{}",
            old.trim_end_matches('\n').to_string() + "\n",
            section
        ),
    };
    std::fs::write(doc, new)?;
    Ok(())
}
