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
    /// Run the gossip benchmark instead: 1,000 in-process gossip members and three servers in
    /// a network namespace of its own; detection times, false positives over 10 minutes at 5%
    /// loss, bandwidth per member, server CPU (needs root, iproute2).
    #[arg(long)]
    gossip: bool,
    /// The gossip benchmark's short form (50 members, about a minute; no doc section): fails
    /// when a kill goes undetected or a live member is declared failed.
    #[arg(long)]
    gossip_short: bool,
    /// Gossip members instead of the form's count.
    #[arg(long)]
    gossip_members: Option<usize>,
    /// Gossip members started per second instead of the form's rate.
    #[arg(long)]
    gossip_join_rate: Option<usize>,
    /// The receive buffer each gossip member's socket asks for, in bytes (default: 2 MiB, as
    /// memberlist asks for its own); 0 leaves the kernel's default.
    #[arg(long)]
    gossip_recv_buffer: Option<usize>,
    /// Seconds of packet loss instead of the form's window.
    #[arg(long)]
    gossip_loss_secs: Option<u64>,
    /// Run the gossip benchmark on the host's loopback, without a namespace (and so without
    /// the loss phase).
    #[arg(long)]
    no_netns: bool,
    /// Run the fan-out benchmark instead (issue 20): one service with many instances, many
    /// watchers parked on its health, one check flip; ours and etcd watching a prefix of as
    /// many keys.
    #[arg(long)]
    fanout: bool,
    /// Instance counts for the fan-out benchmark.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    fanout_instances: Vec<usize>,
    /// Watcher counts for the fan-out benchmark.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    fanout_watchers: Vec<usize>,
    /// Run the big-catalog benchmark instead (issue 20): 10,000 nodes × 10 services and
    /// 1,000,000 keys; memory, snapshot, restart and latency beside etcd with the same keys.
    #[arg(long)]
    big: bool,
    /// Nodes for the big-catalog benchmark (10 services each).
    #[arg(long, default_value_t = 10_000)]
    big_nodes: usize,
    /// KV keys for the big-catalog benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    big_keys: usize,
    /// The scale benchmarks one after the other: `--fanout`, then `--big`.
    #[arg(long)]
    scale: bool,
    /// Set by `bench --gossip` for its own run inside the namespace.
    #[arg(long, hide = true)]
    gossip_inner: bool,
}

fn main() {
    let cli = Cli::parse();
    if (cli.gossip || cli.gossip_short) && !cli.gossip_inner && !cli.no_netns {
        let args = std::env::args_os().skip(1).collect();
        match bench::gossip::run_inside(args) {
            Ok(code) => std::process::exit(code),
            Err(e) => {
                eprintln!("bench: {e:#}");
                std::process::exit(1);
            }
        }
    }
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
    let result = if cli.gossip || cli.gossip_short {
        let mut params = if cli.gossip_short {
            bench::gossip::Params::short()
        } else {
            bench::gossip::Params::full()
        };
        if let Some(n) = cli.gossip_members {
            params.members = n.max(1);
        }
        if let Some(r) = cli.gossip_join_rate {
            params.join_batch = r.max(1);
        }
        if let Some(b) = cli.gossip_recv_buffer {
            params.recv_buffer = (b > 0).then_some(b);
        }
        if let Some(s) = cli.gossip_loss_secs {
            params.loss_window = Duration::from_secs(s);
        }
        rt.block_on(bench::gossip::run(&set, &params))
    } else if cli.fanout || cli.big || cli.scale {
        let size = bench::big::Size {
            nodes: cli.big_nodes,
            services_per_node: 10,
            keys: cli.big_keys,
        };
        let cases: Vec<bench::fanout::Case> = cli
            .fanout_instances
            .iter()
            .flat_map(|&instances| {
                cli.fanout_watchers
                    .iter()
                    .map(move |&watchers| bench::fanout::Case {
                        instances,
                        watchers,
                    })
            })
            .collect();
        rt.block_on(async {
            if cli.fanout || cli.scale {
                bench::fanout::run(&set, &cases).await?;
            }
            if cli.big || cli.scale {
                bench::big::run(&set, size).await?;
            }
            Ok(())
        })
    } else if cli.cluster {
        rt.block_on(bench::cluster::run(&set, cli.kills))
    } else {
        rt.block_on(bench::run(set))
    };
    if let Err(e) = result {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}
