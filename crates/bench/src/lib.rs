//! `bench`: the catalog server against etcd 3.4, side by side on loopback, as
//! `/work/shared/PERFORMANCE.md` asks: the same load generator for both, durability on for
//! both, interleaved etcd / ours rounds with an fsync probe beside each pair, medians and ratios,
//! one table, the `docs/BENCHMARKS.md` section and a plot.
//!
//! Both systems are driven over HTTP/1.1 + JSON with keep-alive connections: ours through the
//! Consul API, etcd through its gRPC gateway (`/v3/kv/put`, `/v3/kv/range`, `/v3/watch` with
//! base64 keys), so wire format and client cost are alike.

pub mod big;
pub mod cluster;
pub mod fanout;
pub mod gossip;
pub mod grpc;
pub mod http;
pub mod load;
pub mod plot;
pub mod probe;
pub mod report;
pub mod server;
pub mod suite;
pub mod watch;

use server::Kind;
use std::path::PathBuf;
use std::time::Duration;
use suite::Figures;

/// Everything a run needs, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub consul_bin: PathBuf,
    /// Where data dirs, logs and probe files go (on disk, never tmpfs).
    pub dir: PathBuf,
    pub rounds: usize,
    pub warmup: Duration,
    pub window: Duration,
    pub watchers: Vec<usize>,
    pub probe: Duration,
    /// `docs/BENCHMARKS.md` to update, and the plot to draw, if any.
    pub doc: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    /// The command line, quoted in the doc.
    pub command: String,
    /// Which phases to run (`put`, `get`, `reg`, `wake`; all by default).
    pub phases: Vec<String>,
    /// Which systems to run (`etcd`, `ours`; both by default).
    pub systems: Vec<String>,
    /// Also drive etcd's PUT and GET over native gRPC.
    pub etcd_grpc: bool,
    /// Rebuild the report from a previous run's `figures.json` instead of measuring.
    pub report_from: Option<PathBuf>,
}

impl Settings {
    pub fn phase(&self, p: &str) -> bool {
        self.phases.is_empty() || self.phases.iter().any(|x| x == p)
    }
    pub fn system(&self, k: Kind) -> bool {
        self.systems.is_empty() || self.systems.iter().any(|x| x == k.name())
    }
}

/// One etcd / ours pair and the fsync probes around it.
#[derive(Debug, Clone)]
pub struct Pair {
    pub etcd: Figures,
    pub ours: Figures,
    pub probe_before: f64,
    pub probe_after: f64,
    pub load_before: f64,
    pub load_after: f64,
}

impl Pair {
    /// The disk changed phase during the pair (probes differ by more than 1.5x).
    pub fn disk_shifted(&self) -> bool {
        let (a, b) = (self.probe_before, self.probe_after);
        a.max(b) > 1.5 * a.min(b).max(1.0)
    }
}

/// Runs every round and writes the report.
pub async fn run(set: Settings) -> anyhow::Result<()> {
    if let Some(file) = &set.report_from {
        let pairs = pairs_from_json(&serde_json::from_slice(&std::fs::read(file)?)?)?;
        return report(&set, pairs);
    }
    std::fs::create_dir_all(&set.dir)?;
    let fs = probe::check_not_tmpfs(&set.dir)?;
    anyhow::ensure!(
        set.consul_bin.exists(),
        "{} not found; build it with cargo build --release -p catalog-server",
        set.consul_bin.display()
    );
    eprintln!(
        "bench: data under {} ({fs}), {} rounds",
        set.dir.display(),
        set.rounds
    );
    settle().await;
    let mut pairs = Vec::new();
    for round in 1..=set.rounds {
        let load_before = probe::load1();
        let probe_before = probe::fsync_probe(&set.dir, set.probe)?;
        eprintln!("round {round}: fsync probe {probe_before:.0}/s, load {load_before:.2}");
        let (etcd, ours) = suite::round(&set).await?;
        let probe_after = probe::fsync_probe(&set.dir, set.probe)?;
        let load_after = probe::load1();
        eprintln!("round {round}: fsync probe after {probe_after:.0}/s, load {load_after:.2}");
        pairs.push(Pair {
            etcd,
            ours,
            probe_before,
            probe_after,
            load_before,
            load_after,
        });
    }
    let raw = set.dir.join("figures.json");
    std::fs::write(&raw, serde_json::to_vec_pretty(&pairs_json(&pairs))?)?;
    eprintln!("raw figures in {}", raw.display());
    report(&set, pairs)
}

/// Waits (at most 90 s) for the 1-minute load average to fall below 1, so that the build that
/// usually precedes a run is not measured with it.
pub async fn settle() {
    let t0 = std::time::Instant::now();
    while probe::load1() >= 1.0 && t0.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Writes the table, the doc section and the plot from finished rounds.
pub fn report(set: &Settings, pairs: Vec<Pair>) -> anyhow::Result<()> {
    let rep = report::Report::new(set, pairs);
    println!("{}", rep.text_table());
    if let Some(doc) = &set.doc {
        rep.write_doc(doc)?;
        eprintln!("wrote {}", doc.display());
    }
    if let Some(plot) = &set.plot {
        match rep.plot(plot) {
            Ok(()) => eprintln!("wrote {}", plot.display()),
            Err(e) => eprintln!("plot not drawn: {e:#}"),
        }
    }
    Ok(())
}

fn pairs_json(pairs: &[Pair]) -> serde_json::Value {
    serde_json::Value::Array(
        pairs
            .iter()
            .map(|p| {
                serde_json::json!({
                    "etcd": p.etcd, "ours": p.ours,
                    "probe_before": p.probe_before, "probe_after": p.probe_after,
                    "load_before": p.load_before, "load_after": p.load_after,
                })
            })
            .collect(),
    )
}

fn pairs_from_json(v: &serde_json::Value) -> anyhow::Result<Vec<Pair>> {
    let figs = |v: &serde_json::Value| -> Figures {
        v.as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let num = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
    let arr = v
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("figures file is not a list"))?;
    Ok(arr
        .iter()
        .map(|p| Pair {
            etcd: figs(&p["etcd"]),
            ours: figs(&p["ours"]),
            probe_before: num(p, "probe_before"),
            probe_after: num(p, "probe_after"),
            load_before: num(p, "load_before"),
            load_after: num(p, "load_after"),
        })
        .collect())
}
