//! `registrator [options] <registry URI>`: parse flags, install logging, run; exit codes are
//! decided here only (0 ok / `--version`, 1 fatal as upstream's `log.Fatal`, 2 usage).

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| "registrator".to_string());
    let args: Vec<String> = argv.collect();
    let opts = match registrator::cli::parse(&argv0, &args) {
        Ok(o) => o,
        Err(exit) if exit.code == 0 => {
            print!("{}", exit.message);
            return ExitCode::SUCCESS;
        }
        Err(exit) => {
            eprint!("{}", exit.message);
            return ExitCode::from(exit.code as u8);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REGISTRATOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(GoLogTime)
        .with_target(false)
        .with_level(false)
        .with_env_filter(filter)
        .init();
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

/// Go's `log` prefix: `2006/01/02 15:04:05` local time.
struct GoLogTime;

impl tracing_subscriber::fmt::time::FormatTime for GoLogTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Local::now().format("%Y/%m/%d %H:%M:%S"))
    }
}

fn run(opts: registrator::cli::Options) -> anyhow::Result<()> {
    // One thread: the loop handles one event at a time, and keeping the HTTP connections'
    // tasks on the loop's thread saves a cross-thread wake-up per request (measured by
    // `regbench`; DNS still goes to the blocking pool).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(registrator::run(opts, shutdown_signal()))?;
    Ok(())
}

/// SIGINT or SIGTERM (`docker stop`).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
