//! The gossip benchmark's figures: the `docs/BENCHMARKS.md` section, the raw JSON, the
//! progress lines, and the short form's pass/fail checks.

use super::{lat_secs, Detection, FalsePositives, Figures, Params, Window};
use crate::probe;
use crate::Settings;
use std::fmt::Write as _;

/// The markers of a run's section: one section per member count, so a run with another count
/// (`--gossip-members`) leaves the others in place.
pub fn markers(members: usize) -> (String, String) {
    let command = if members == 1000 {
        "scripts/bench --gossip".to_string()
    } else {
        format!("scripts/bench --gossip --gossip-members {members}")
    };
    (
        format!(
            "<!-- bench:gossip-{members}:begin (written by `{command}`; edit the generator, not this) -->"
        ),
        format!("<!-- bench:gossip-{members}:end -->"),
    )
}

/// Serf's published bandwidth for its LAN defaults (gossip interval 200 ms, fanout 3): the
/// convergence simulator's "Estimated max bandwidth", 1,400-byte packets × fanout × rounds per
/// second × 2 (sent and received), in bytes per second per node.
pub const SERF_BYTES_PER_SEC: f64 = 1400.0 * 3.0 * 5.0 * 2.0;
const SERF_SIMULATOR: &str = "https://www.serf.io/docs/internals/simulator.html";
const SERF_SIMULATOR_SOURCE: &str =
    "https://github.com/hashicorp/serf/blob/master/website/source/assets/javascripts/_simulator.js";
const TARGET_DETECTION_SECS: f64 = 10.0;

/// memberlist's and the crate's prediction for a killed member's detection: about one probe
/// interval until someone probes it, one more until the probe is found failed, the suspicion
/// timeout (4 × max(1, log10 n) s), then ~0.5 s of gossip.
fn predicted(n: usize) -> f64 {
    2.0 + 4.0 * (n as f64).log10().max(1.0) + 0.5
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |s| format!("{s:.1} s"))
}

fn row3(lat: crate::load::Lat, n: usize) -> String {
    if n == 0 {
        return "— | — | —".to_string();
    }
    format!(
        "{:.1} s | {:.1} s | {:.1} s",
        lat.p50 / 1e3,
        lat.p99 / 1e3,
        lat.max / 1e3
    )
}

/// (p50/p99/max of the first declaration, of the last running member's, of every (kill,
/// member) pair, of the catalog), with sample counts.
struct DetectStats {
    first: (crate::load::Lat, usize),
    all: (crate::load::Lat, usize),
    pairs: (crate::load::Lat, usize),
    catalog: (crate::load::Lat, usize),
    missing: usize,
    undetected: usize,
}

fn detect_stats(d: &[Detection]) -> DetectStats {
    let first: Vec<f64> = d.iter().filter_map(|x| x.first).collect();
    let all: Vec<f64> = d.iter().filter_map(Detection::all).collect();
    let pairs: Vec<f64> = d.iter().flat_map(|x| x.observers.iter().copied()).collect();
    let catalog: Vec<f64> = d.iter().filter_map(|x| x.catalog).collect();
    DetectStats {
        first: (lat_secs(first.iter().copied()), first.len()),
        all: (lat_secs(all.iter().copied()), all.len()),
        pairs: (lat_secs(pairs.iter().copied()), pairs.len()),
        catalog: (lat_secs(catalog.iter().copied()), catalog.len()),
        missing: d.iter().map(|x| x.missing).sum(),
        undetected: d
            .iter()
            .filter(|x| x.first.is_none() || x.catalog.is_none())
            .count(),
    }
}

/// One progress line per phase of kills.
pub fn log_detections(phase: &str, d: &[Detection]) {
    let s = detect_stats(d);
    eprintln!(
        "  {phase}: {} kills; first declaration p50 {:.1} s p99 {:.1} s; every member p99 {:.1} s; \
         catalog critical p50 {:.1} s p99 {:.1} s; {} member declarations missing, {} kills not detected",
        d.len(),
        s.first.0.p50 / 1e3,
        s.first.0.p99 / 1e3,
        s.all.0.p99 / 1e3,
        s.catalog.0.p50 / 1e3,
        s.catalog.0.p99 / 1e3,
        s.missing,
        s.undetected
    );
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

fn cpu_cells(w: &Window, leader: usize) -> String {
    let leader_cpu = w.server_cpu.get(leader).copied().unwrap_or(0.0);
    let followers: Vec<String> = w
        .server_cpu
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, c)| format!("{c:.1}"))
        .collect();
    format!(
        "{leader_cpu:.1} % | {} % | {:.0} % | {:.2}",
        followers.join(" / "),
        w.self_cpu,
        w.load
    )
}

/// The first 8 names, then an ellipsis.
fn list(v: &[String]) -> String {
    let mut s = v.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > 8 {
        s.push_str(", …");
    }
    s
}

fn fp_text(fp: &FalsePositives) -> String {
    if fp.members.is_empty() && fp.catalog.is_empty() {
        return "none".to_string();
    }
    format!(
        "{} members wrongly declared failed ({} declarations: {}); catalog showed {} critical ({})",
        fp.members.len(),
        fp.declarations,
        list(&fp.members),
        fp.catalog.len(),
        list(&fp.catalog)
    )
}

fn consul_rev() -> String {
    if let Ok(r) = std::env::var("BENCH_CONSUL_REV") {
        return r;
    }
    let rev = probe::sh("git rev-parse --short HEAD");
    let dirty =
        !probe::sh("git status --porcelain -- crates/catalog-server crates/gossip").is_empty();
    if dirty {
        format!("{rev} with uncommitted changes")
    } else {
        rev
    }
}

/// The command as run: `nice -n N` in front when the benchmark ran at another niceness (it is
/// CPU-sensitive, and the figures depend on it).
fn command_as_run(command: &str) -> String {
    // /proc/self/stat: after the command in parentheses, state is field 3 and nice field 19.
    let nice = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_owned();
            rest.split_whitespace().nth(16)?.parse::<i32>().ok()
        })
        .unwrap_or(0);
    if nice == 0 || command.starts_with("nice ") {
        command.to_owned()
    } else {
        format!("nice -n {nice} {command}")
    }
}

/// The doc section.
pub fn section(set: &Settings, p: &Params, f: &Figures) -> String {
    let leader = f
        .leader
        .strip_prefix("server-")
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(0);
    let clean = detect_stats(&f.detect);
    let lossy = detect_stats(&f.loss_detect);
    let n = f.members + f.servers;
    let (begin, end) = markers(f.members);
    let mut s = String::new();
    let _ = writeln!(s, "{begin}");
    let _ = writeln!(
        s,
        "## Gossip: {} members and {} servers (issue 16)\n",
        f.members, f.servers
    );
    let _ = writeln!(
        s,
        "Produced by `{}` (crate `crates/bench`, module `gossip`) on {}, consul at {}: three release \
         `consul` servers (`-bootstrap-expect=3`) on 127.0.0.1/2/3 and {} in-process members \
         (`gossip::Pool` with `Config::lan()`, Serf's LAN defaults: probe every 1 s, probe timeout \
         500 ms, 3 indirect checks, suspicion multiplier 4, gossip every 200 ms to 3 members) \
         carrying a client agent's tags (`role=node`, `dc=dc1`, `id`), {} started per second, \
         each joining through the three servers, each socket with {}; all of them in a network \
         namespace of the benchmark's own, whose loopback alone gets the loss. Load average {:.2} before, {:.2} \
         after, on {} cores; the benchmark process (every member, the watchers, the pollers) used \
         {:.0} % of a core at rest and {:.0} MiB; the servers {} MiB RSS at the end.\n",
        command_as_run(&set.command),
        probe::sh("date -u +%Y-%m-%d"),
        consul_rev(),
        f.members,
        p.join_batch,
        match p.recv_buffer {
            Some(b) => format!(
                "a receive buffer of {} KiB asked for, as memberlist does for its own \
                 (`udpRecvBufSize`; the kernel granted {} KiB)",
                b >> 10,
                f.recv_buffer >> 10
            ),
            None => format!("the kernel's default receive buffer ({} KiB)", f.recv_buffer >> 10),
        },
        f.load_before,
        f.load_after,
        probe::sh("nproc"),
        f.steady.self_cpu,
        f.self_rss >> 20,
        f.servers_rss
            .iter()
            .map(|r| (r >> 20).to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    );

    // Whether the machine kept up: a member wrongly declared failed without loss, or a socket
    // that overflowed, means the members did not get the CPU to answer in time.
    let cores = probe::sh("nproc").parse::<f64>().unwrap_or(2.0);
    let drops =
        f.join.udp_rcvbuf_errors + f.steady.udp_rcvbuf_errors + f.detect_window.udp_rcvbuf_errors;
    if !f.fp_clean.members.is_empty() || drops > 0 || f.steady.self_cpu > 85.0 * cores {
        let _ = writeln!(
            s,
            "**This run overloaded the machine**: {} members wrongly declared failed without \
             loss, {drops} datagrams dropped for full receive buffers, the members used {:.0} % \
             of a core at rest on {cores} cores. Its figures measure the machine, not the \
             protocol.\n",
            f.fp_clean.members.len(),
            f.steady.self_cpu
        );
    }

    // Targets.
    let bw = f.steady.sent_bps + f.steady.recv_bps;
    let bw_loss = f.loss.sent_bps + f.loss.recv_bps;
    let fp_total = f.fp_loss.members.len() + f.fp_loss.catalog.len();
    let _ = writeln!(s, "| target | measured | |\n|---|---|---|");
    let _ = writeln!(
        s,
        "| a killed member detected, p99 ≤ 10 s with default settings | first member to declare it \
         failed: p99 {:.1} s; catalog `serfHealth` critical: p99 {:.1} s ({} kills) | {} |",
        clean.first.0.p99 / 1e3,
        clean.catalog.0.p99 / 1e3,
        f.detect.len(),
        met(clean.first.1 > 0
            && clean.catalog.0.p99 / 1e3 <= TARGET_DETECTION_SECS
            && clean.first.0.p99 / 1e3 <= TARGET_DETECTION_SECS
            && clean.undetected == 0)
    );
    let _ = writeln!(
        s,
        "| 0 false positives over 10 min at {}% packet loss | {:.0} s of loss ({:.0} s window, \
         then the wait for the last kills' detection): {} | {} |",
        p.loss_percent,
        f.loss_secs,
        f.loss.secs,
        fp_text(&f.fp_loss),
        met(fp_total == 0 && f.loss.secs >= 600.0)
    );
    let _ = writeln!(
        s,
        "| bytes/s per member ≤ Serf's at the same settings | {:.0} B/s sent + {:.0} B/s received = \
         {:.0} B/s ({:.0} B/s at {}% loss) vs Serf's {:.0} B/s | {} |",
        f.steady.sent_bps,
        f.steady.recv_bps,
        bw,
        bw_loss,
        p.loss_percent,
        SERF_BYTES_PER_SEC,
        met(bw <= SERF_BYTES_PER_SEC && bw_loss <= SERF_BYTES_PER_SEC)
    );

    if let Some(tool) = f.loss_tool {
        let _ = writeln!(
            s,
            "\nThe loss: {}% of every packet crossing the namespace's loopback is dropped, by {}, \
             for {:.0} s; the servers' Raft and HTTP traffic crosses it too.",
            p.loss_percent,
            tool.describe(p.loss_percent),
            f.loss_secs
        );
    }

    // Detection.
    let _ = writeln!(
        s,
        "\n**Detection**: members killed one every {:.0} s (`Pool::shutdown`: silent, no leave), \
         {} without loss and {} spread over the loss window. Times from the kill; \"every running \
         member\" is when the last of the ~{} others declared it failed; the catalog is polled \
         (`GET /v1/health/state/critical` on the leader) every 100 ms, every 250 ms under loss. \
         memberlist's formula (the crate docs) predicts ≈ {:.1} s at {} members: ~2 s until a \
         probe of it has failed, the suspicion timeout 4 × log10(n) s, ~0.5 s of gossip.\n",
        p.kill_every.as_secs_f64(),
        f.detect.len(),
        f.loss_detect.len(),
        f.members.saturating_sub(f.detect.len()),
        predicted(n),
        n
    );
    let _ = writeln!(s, "| after the kill | p50 | p99 | max |\n|---|---|---|---|");
    for (label, st) in [("no loss", &clean), ("5% loss", &lossy)] {
        if st.first.1 == 0 && st.catalog.1 == 0 {
            continue;
        }
        let _ = writeln!(
            s,
            "| {label}: the first member declares it failed ({}) | {} |",
            st.first.1,
            row3(st.first.0, st.first.1)
        );
        let _ = writeln!(
            s,
            "| {label}: every running member has ({} kills complete) | {} |",
            st.all.1,
            row3(st.all.0, st.all.1)
        );
        let _ = writeln!(
            s,
            "| {label}: one member learns it (all {} kill × member pairs) | {} |",
            st.pairs.1,
            row3(st.pairs.0, st.pairs.1)
        );
        let _ = writeln!(
            s,
            "| {label}: catalog shows `serfHealth` critical ({}) | {} |",
            st.catalog.1,
            row3(st.catalog.0, st.catalog.1)
        );
    }
    let unaware: usize = f
        .detect
        .iter()
        .chain(&f.loss_detect)
        .map(|d| d.unaware)
        .sum();
    if unaware > 0 {
        let _ = writeln!(
            s,
            "\n{unaware} times a running member did not list the killed member when it was killed \
             (it had not heard of it yet), so it had nothing to declare; those pairs are left out."
        );
    }
    if clean.missing + lossy.missing + clean.undetected + lossy.undetected > 0 {
        let _ = writeln!(
            s,
            "\nNot detected within {:.0} s of the last kill: {} kills ({} member declarations \
             missing).",
            p.detect_limit.as_secs_f64(),
            clean.undetected + lossy.undetected,
            clean.missing + lossy.missing
        );
    }

    // Bandwidth.
    let _ = writeln!(
        s,
        "\n**Bandwidth per member** (`Pool::stats`: every datagram sent and received, probes, \
         acks, gossip, meta requests; UDP payload bytes), averaged over the members running \
         through each window, side by side with Serf's published figure for the same settings:\n"
    );
    let _ = writeln!(
        s,
        "| window | sent B/s | received B/s | total B/s | packets/s sent / received | busiest member sent B/s |\n|---|---|---|---|---|---|"
    );
    for (label, w) in [
        (
            format!("steady, no loss ({:.0} s)", f.steady.secs),
            &f.steady,
        ),
        (
            format!(
                "{}% loss ({:.0} s, kills included)",
                p.loss_percent, f.loss.secs
            ),
            &f.loss,
        ),
        (
            format!(
                "join: from the first start until {:.0} s after convergence ({:.0} s)",
                p.settle.as_secs_f64(),
                f.join.secs
            ),
            &f.join,
        ),
    ] {
        if w.members == 0 {
            continue;
        }
        let _ = writeln!(
            s,
            "| {label} | {:.0} | {:.0} | {:.0} | {:.1} / {:.1} | {:.0} |",
            w.sent_bps,
            w.recv_bps,
            w.sent_bps + w.recv_bps,
            w.sent_pps,
            w.recv_pps,
            w.max_sent_bps
        );
    }
    let _ = writeln!(
        s,
        "| **Serf**, gossip interval 0.2 s, fanout 3: the convergence simulator's \"estimated max \
         bandwidth\", 328.1 kbps/node | {:.0} | {:.0} | {:.0} | 15 / 15 (gossip only) | |",
        SERF_BYTES_PER_SEC / 2.0,
        SERF_BYTES_PER_SEC / 2.0,
        SERF_BYTES_PER_SEC
    );
    let _ = writeln!(
        s,
        "\nSerf's figure is from its convergence simulator, {SERF_SIMULATOR} (the function \
         `bytesUsed` in [`_simulator.js`]({SERF_SIMULATOR_SOURCE})): 1,400-byte packets × 3 nodes × \
         5 gossip rounds per second × 2 (sent and received) = 42,000 bytes/s per node, whatever the \
         node count, shown as 328.1 \"kbps\" (42,000 × 8 / 1,024). It is a ceiling by construction \
         (every round a full packet) and leaves out probes and the TCP push/pull; ours is what \
         the members actually sent and received. At rest a member gossips only while it has \
         updates to spread, so its traffic is mostly the probe cycle.\n"
    );

    // Servers.
    let converged = match f.converged {
        Some(t) => format!(
            "every member listed every other one alive {t:.1} s after the first member started"
        ),
        None => format!(
            "{} of {} members listed every other one alive {:.0} s after the last one started, \
             when the join phase ended ({:.3} % of the member × member pairs); at the end of the \
             run ({:.0} s after the first start) {} did ({:.3} %)",
            f.converged_count,
            f.members,
            p.converge_limit.as_secs_f64(),
            f.listed_fraction * 100.0,
            f.final_secs,
            f.final_converged,
            f.final_listed_fraction * 100.0
        ),
    };
    let _ = writeln!(
        s,
        "**Join and servers** (leader {}): {converged}; `GET /v1/catalog/nodes` on the leader \
         listed all {} nodes after {} ({} seen). CPU in percent of one core, from \
         `/proc/<pid>/stat`:\n",
        f.leader,
        n,
        secs(f.catalog_all),
        f.catalog_count
    );
    let _ = writeln!(
        s,
        "| window | leader | followers | benchmark process (all members) | load average at the end |\n|---|---|---|---|---|"
    );
    for (label, w) in [
        ("join (members registered in the catalog)", &f.join),
        ("steady, no loss", &f.steady),
        (
            "kills, no loss (catalog polled every 100 ms)",
            &f.detect_window,
        ),
        ("5% loss", &f.loss),
    ] {
        if w.server_cpu.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "| {label} ({:.0} s) | {} |",
            w.secs,
            cpu_cells(w, leader)
        );
    }

    // Checks on the measurement itself.
    let dropped = f
        .loss
        .dropped
        .map(|(pk, d)| {
            format!(
                "the loss rule dropped {d} of {pk} packets on the loopback ({:.2} %)",
                d as f64 * 100.0 / pk.max(1) as f64
            )
        })
        .unwrap_or_else(|| "the loss rule's counters were unavailable".into());
    let _ = writeln!(
        s,
        "\nChecks on the measurement: {dropped} during the loss window; UDP receive-buffer drops \
         (kernel `RcvbufErrors`): {} while joining, {} at rest, {} under loss; false positives \
         without loss (join, rest, kills): {}; members the servers' logs marked critical though \
         never killed: {}; watchers that fell behind their pool: {}; joins given up: {}; \
         critical-check polls that failed: {}.",
        f.join.udp_rcvbuf_errors,
        f.steady.udp_rcvbuf_errors,
        f.loss.udp_rcvbuf_errors,
        fp_text(&f.fp_clean),
        if f.fp_logs.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({})", f.fp_logs.len(), list(&f.fp_logs))
        },
        f.lagged,
        f.joins_failed,
        f.critical_failed_polls
    );
    let _ = writeln!(s, "{end}");
    s
}

fn window_json(w: &Window) -> serde_json::Value {
    serde_json::json!({
        "secs": w.secs, "members": w.members, "load": w.load,
        "sent_bps": w.sent_bps, "recv_bps": w.recv_bps,
        "sent_pps": w.sent_pps, "recv_pps": w.recv_pps, "max_sent_bps": w.max_sent_bps,
        "server_cpu_pct": w.server_cpu, "self_cpu_pct": w.self_cpu,
        "udp_rcvbuf_errors": w.udp_rcvbuf_errors, "udp_in": w.udp_in,
        "dropped": w.dropped,
    })
}

fn detections_json(d: &[Detection]) -> serde_json::Value {
    serde_json::Value::Array(
        d.iter()
            .map(|x| {
                let o = lat_secs(x.observers.iter().copied());
                serde_json::json!({
                    "member": x.member, "first": x.first, "all": x.all(),
                    "observers": x.observers.len(), "observers_p50_ms": o.p50,
                    "observers_p99_ms": o.p99, "missing": x.missing, "unaware": x.unaware,
                    "catalog": x.catalog,
                })
            })
            .collect(),
    )
}

/// The raw figures.
pub fn json(f: &Figures) -> serde_json::Value {
    let fp = |x: &FalsePositives| serde_json::json!({"declarations": x.declarations, "members": x.members, "catalog": x.catalog});
    serde_json::json!({
        "members": f.members, "servers": f.servers, "leader": f.leader,
        "converged_secs": f.converged, "converged_count": f.converged_count,
        "listed_fraction": f.listed_fraction, "final_converged": f.final_converged,
        "final_listed_fraction": f.final_listed_fraction, "final_secs": f.final_secs,
        "catalog_all_secs": f.catalog_all, "catalog_count": f.catalog_count,
        "join": window_json(&f.join), "steady": window_json(&f.steady),
        "detect_window": window_json(&f.detect_window), "loss": window_json(&f.loss),
        "detect": detections_json(&f.detect), "loss_detect": detections_json(&f.loss_detect),
        "fp_clean": fp(&f.fp_clean), "fp_loss": fp(&f.fp_loss), "fp_logs": f.fp_logs,
        "loss_secs": f.loss_secs, "lagged": f.lagged, "joins_failed": f.joins_failed,
        "critical_failed_polls": f.critical_failed_polls,
        "servers_rss": f.servers_rss, "self_rss": f.self_rss,
        "load_before": f.load_before, "load_after": f.load_after,
    })
}

/// The short form fails when the pool or the catalog did not do its job: the catalog missing
/// members, a kill declared by no member or not shown critical within the (generous) wait, a
/// member wrongly declared failed without loss. (How long every member takes to list every
/// other one, whether every member declared every kill within the wait, and false failures
/// under loss are reported, not checked: each depends on epidemic spread or lost packets.)
/// The full form reports and never fails on figures.
pub fn check(p: &Params, f: &Figures) -> anyhow::Result<()> {
    if !p.short {
        return Ok(());
    }
    let mut problems = Vec::new();
    if f.catalog_all.is_none() {
        problems.push(format!(
            "the catalog listed {} of {} nodes",
            f.catalog_count,
            f.members + f.servers
        ));
    }
    // Every kill must be declared by some member and reach the catalog. That every member that
    // knew the killed one has declared it within the wait is likely, not certain (gossip is
    // epidemic: a member the news missed finds out when it probes the dead one itself, up to n
    // seconds later), so missing declarations are reported, not failed on.
    for (phase, d) in [("no loss", &f.detect), ("loss", &f.loss_detect)] {
        let st = detect_stats(d);
        if st.undetected > 0 {
            problems.push(format!(
                "{phase}: {} of {} kills not declared failed by any member or not shown critical",
                st.undetected,
                d.len()
            ));
        }
        if st.missing > 0 {
            eprintln!(
                "bench --gossip-short: {phase}: {} declarations by members that knew a killed \
                 member still missing when the wait ended",
                st.missing
            );
        }
    }
    // Without loss a live member declared failed is a fault. Under loss it is improbable (the
    // direct probe and all three indirect ones must lose a packet, then the refutation must be
    // lost too), not impossible: the full run counts those; the short form reports them.
    if !f.fp_clean.members.is_empty() || !f.fp_clean.catalog.is_empty() {
        problems.push(format!("no loss: {}", fp_text(&f.fp_clean)));
    }
    if !f.fp_loss.members.is_empty() || !f.fp_loss.catalog.is_empty() {
        eprintln!(
            "bench --gossip-short: loss: {} (not failed on: probabilistic)",
            fp_text(&f.fp_loss)
        );
    }
    if problems.is_empty() {
        eprintln!("bench --gossip-short: ok");
        Ok(())
    } else {
        anyhow::bail!("bench --gossip-short: {}", problems.join("; "))
    }
}
