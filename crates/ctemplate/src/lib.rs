//! `ctemplate`: a drop-in replacement for HashiCorp consul-template.
//!
//! The template language: Go's `text/template` (the `gotemplate` crate, re-exported as
//! [`template`]), the consul-template function set ([`funcs`]), the dependency model the query functions record
//! ([`dependency`]) and the front ends that tie them together ([`engine`]: Go syntax and
//! handlebars). The runtime: flags and files resolved into one [`config::Config`] ([`cli`],
//! [`config`]), one blocking-query view per distinct dependency ([`watch`]), the event loop
//! that executes templates whose data changed ([`runner`]), atomic writes ([`render`]) and
//! commands / the exec child ([`command`]). [`run`] ties them together for the binary.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cli;
pub mod command;
pub mod config;
pub mod dedup;
pub mod dependency;
pub mod engine;
pub mod funcs;
mod hbs;
pub mod log;
pub mod render;
pub mod runner;
pub mod signal;
pub mod watch;

/// The Go `text/template` engine, under the path it had before it became its own crate.
pub use gotemplate as template;

use crate::config::{Cli, Config};
use crate::runner::{Outcome, RunError};
use crate::signal::Signal;

/// Runs consul-template until `-once` completes, the kill signal arrives, or an error; returns
/// the process exit code for the non-error endings (0, or the exec child's code). Reload
/// signals restart the runner with the configuration resolved again from `cli`.
pub async fn run(cli: Cli, config: Config) -> Result<i32, RunError> {
    let mut signals = listen_signals();
    if let Some(p) = &config.pid_file {
        info!("creating pid file at {:?}", p.display().to_string());
        if let Err(e) = std::fs::write(p, std::process::id().to_string()) {
            warn!("(cli) could not write pid file {}: {e}", p.display());
        }
    }
    let pid_file = config.pid_file.clone();
    let mut config = config;
    let result = loop {
        match runner::run(&config, &cli, &mut signals).await {
            Ok(Outcome::Reload(new)) => {
                config = *new;
                log::set_level(config.log_level);
                if let Err(e) = log::setup(&config.log_file, &config.syslog) {
                    error!("(cli) reload: logging kept as it was: {e}");
                }
            }
            Ok(Outcome::Stop) => break Ok(0),
            Ok(Outcome::ChildExited(code)) => break Ok(code),
            Err(e) => break Err(e),
        }
    };
    if let Some(p) = pid_file {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// Forwards the signals the runner cares about into one channel.
fn listen_signals() -> runner::Signals {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for sig in [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        match signal(SignalKind::from_raw(sig)) {
            Ok(mut stream) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while stream.recv().await.is_some() {
                        if tx.send(Signal(sig)).is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => warn!("(cli) cannot listen for signal {}: {e}", Signal(sig)),
        }
    }
    rx
}
