//! `bench`: flags in, [`bench::run`] out; exit code decided here.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// The catalog server against etcd 3.4, side by side (docs/BENCHMARKS.md).
#[derive(Parser, Debug)]
#[command(name = "bench")]
struct Cli {
    /// The release `consul` binary to measure.
    #[arg(long, default_value = "target/release/consul")]
    consul: PathBuf,
    /// Directory on disk (not tmpfs) for data dirs, logs and probe files.
    #[arg(long, default_value = "/var/tmp/catalog-bench")]
    dir: PathBuf,
    /// Interleaved etcd/ours rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measured seconds per load window.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Warm-up seconds before each window.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Parked waiter counts for the wake-up test.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    watchers: Vec<usize>,
    /// Seconds of fsync probe before and after each pair.
    #[arg(long, default_value_t = 1.0)]
    probe_secs: f64,
    /// Markdown file whose "catalog server vs etcd" section is rewritten.
    #[arg(long)]
    doc: Option<PathBuf>,
    /// PNG plot to draw.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Only these phases (put, get, reg, wake); for profiling one of them.
    #[arg(long, value_delimiter = ',')]
    phases: Vec<String>,
    /// Only these systems (etcd, ours).
    #[arg(long, value_delimiter = ',')]
    systems: Vec<String>,
    /// Drive etcd's PUT and GET over its HTTP gateway only (no native gRPC rows).
    #[arg(long)]
    no_etcd_grpc: bool,
    /// Rebuild the table, doc section and plot from a previous run's figures.json.
    #[arg(long)]
    report_from: Option<PathBuf>,
    /// Run the cluster benchmark instead: three servers vs one vs three etcd members, and
    /// leader failover times.
    #[arg(long)]
    cluster: bool,
    /// Leader kills per system in the cluster benchmark.
    #[arg(long, default_value_t = 10)]
    kills: usize,
}

fn main() {
    let cli = Cli::parse();
    let command = std::env::var("BENCH_COMMAND")
        .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
    let set = bench::Settings {
        consul_bin: cli.consul,
        dir: cli.dir,
        rounds: cli.rounds.max(1),
        warmup: Duration::from_secs_f64(cli.warmup),
        window: Duration::from_secs_f64(cli.secs),
        watchers: cli.watchers,
        probe: Duration::from_secs_f64(cli.probe_secs),
        doc: cli.doc,
        plot: cli.plot,
        command,
        phases: cli.phases,
        systems: cli.systems,
        etcd_grpc: !cli.no_etcd_grpc,
        report_from: cli.report_from,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    };
    let result = if cli.cluster {
        rt.block_on(bench::cluster::run(&set, cli.kills))
    } else {
        rt.block_on(bench::run(set))
    };
    if let Err(e) = result {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}
