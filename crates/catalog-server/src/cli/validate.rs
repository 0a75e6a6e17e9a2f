//! `consul validate FILE_OR_DIRECTORY...`: the agent's own config loading (files and
//! directories as `-config-file`/`-config-dir` read them, merged and validated) without starting
//! anything; `Configuration is valid!`, or `Config validation failed: <why>` and exit 1.

use super::goflags;
use crate::config::{self, Sources};
use clap::Parser;

const USAGE: &str = "Usage: consul validate [options] FILE_OR_DIRECTORY...\n\n  Performs a basic sanity test on Consul configuration files. For each file\n  or directory given, the validate command will attempt to parse the\n  contents just as the \"consul agent\" command would, and catch any errors.\n  This is useful to do a test of the configuration only, without actually\n  starting the agent.\n\n  Returns 0 if the configuration is valid, or 1 if there are problems.";

#[derive(Parser, Debug)]
struct ValidateFlags {
    /// When given, a successful run will produce no output.
    #[arg(long)]
    quiet: bool,
    args: Vec<String>,
}

/// Runs `consul validate`.
pub fn run(args: &[String]) -> i32 {
    let flags: ValidateFlags = match goflags::parse("validate", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.args.is_empty() {
        eprintln!("Must specify at least one config file or directory");
        return 1;
    }
    let sources = Sources {
        dev: false,
        config_paths: flags.args.iter().map(Into::into).collect(),
        config_format: None,
        hcl: Vec::new(),
        flags: serde_json::json!({}),
    };
    if let Err(e) = config::load(&sources) {
        eprintln!("Config validation failed: {e}");
        return 1;
    }
    if !flags.quiet {
        println!("Configuration is valid!");
    }
    0
}
