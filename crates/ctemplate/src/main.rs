//! `consul-template` binary: parse Go-style flags, set the log level, resolve the
//! configuration, run; every exit code is decided here (upstream's: 0 ok, 13 flag error,
//! 14 runner error, 15 config error, the exec child's code in exec mode).

use std::process::ExitCode;

use ctemplate::runner::RunError;

const VERSION: &str = concat!(
    "consul-template v",
    env!("CARGO_PKG_VERSION"),
    " (ctemplate)"
);

fn main() -> ExitCode {
    ExitCode::from(u8::try_from(real_main()).unwrap_or(1))
}

fn real_main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match ctemplate::cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}\n\n{}", ctemplate::cli::USAGE);
            return 13;
        }
    };
    if cli.help {
        print!("{}", ctemplate::cli::USAGE);
        return 0;
    }
    if cli.version {
        println!("{VERSION}");
        return 0;
    }
    let config = match ctemplate::config::resolve(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{:#}", anyhow::Error::new(e).context("(cli) config error"));
            return 15;
        }
    };
    ctemplate::log::set_level(config.log_level);
    if let Err(e) = ctemplate::log::setup(&config.log_file, &config.syslog) {
        ctemplate::error!("(cli) {e}");
        return 15;
    }
    ctemplate::info!("{VERSION}");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ctemplate::error!("(cli) {e}");
            return 11;
        }
    };
    let result = runtime.block_on(ctemplate::run(cli, config));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(e) => {
            ctemplate::error!("(cli) {e}");
            match e {
                RunError::Config(_) => 15,
                _ => 14,
            }
        }
    }
}
