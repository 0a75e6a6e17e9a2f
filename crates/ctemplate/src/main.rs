//! `consul-template` binary: for now only prints usage; the runtime lands in a later step.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("Usage: consul-template [options]");
    eprintln!();
    eprintln!(
        "  the runtime is not implemented yet; see the ctemplate library for the template engine"
    );
    ExitCode::from(2)
}
