//! `consul monitor`: the agent's log lines streamed from `/v1/agent/monitor` until interrupted
//! (exit 0) or until the agent ends the stream (exit 1, with Consul's message).

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use clap::Parser;

const USAGE: &str = "Usage: consul monitor [options]\n\n  Shows recent log messages of a Consul agent, and attaches to the agent,\n  outputting log messages as they occur in real time. The monitor lets you\n  listen for log levels that may be filtered out of the Consul agent. For\n  example your agent may only be logging at INFO level, but with the monitor\n  you can see the DEBUG level logs.";

#[derive(Parser, Debug)]
struct MonitorFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Log level of the agent.
    #[arg(long = "log-level", default_value = "INFO")]
    log_level: String,
    /// Output logs in JSON format.
    #[arg(long = "log-json")]
    log_json: bool,
    args: Vec<String>,
}

/// Runs `consul monitor`.
pub fn run(args: &[String]) -> i32 {
    let flags: MonitorFlags = match goflags::parse("monitor", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let mut params = vec![("loglevel", flags.log_level.as_str())];
    if flags.log_json {
        params.push(("logjson", ""));
    }
    super::block_on(async move {
        let mut lines = match client.get_lines("/v1/agent/monitor", &params).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("Error starting monitor: {e}");
                return 1;
            }
        };
        let follow = async {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("{line}");
            }
        };
        tokio::select! {
            _ = follow => {
                println!();
                println!("Remote side ended the monitor! This usually means that the\nremote side has exited or crashed.");
                1
            }
            _ = tokio::signal::ctrl_c() => 0,
        }
    })
}
