//! `consul version` (also `consul -v` / `--version`): the Consul version we are compatible
//! with, our build's revision and date (from [`crate::version`]), and the protocol line;
//! `-format=json` prints the same as Consul's `VersionInfo` with a three-space indent. The pretty
//! form ends with a line naming this implementation and its git revision.

use super::goflags;
use clap::Parser;
use serde::Serialize;

use crate::version::{BUILD_DATE, REVISION, VERSION};

const USAGE: &str = "Usage: consul version [options]\n\n  Shows the version of this Consul agent.";

#[derive(Parser, Debug)]
struct Flags {
    /// Output format: pretty or json.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

#[derive(Serialize)]
struct Rpc {
    #[serde(rename = "Default")]
    default: u8,
    #[serde(rename = "Min")]
    min: u8,
    #[serde(rename = "Max")]
    max: u8,
}

#[derive(Serialize)]
struct Info {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Revision")]
    revision: &'static str,
    #[serde(rename = "Prerelease")]
    prerelease: &'static str,
    #[serde(rename = "BuildDate")]
    build_date: &'static str,
    #[serde(rename = "RPC")]
    rpc: Rpc,
}

fn info() -> Info {
    Info {
        version: VERSION,
        revision: REVISION,
        prerelease: "",
        build_date: BUILD_DATE,
        rpc: Rpc {
            default: 2,
            min: 2,
            max: 3,
        },
    }
}

/// The line `consul version` adds after Go's: which consul this is.
pub const IMPLEMENTATION: &str = "Implementation: the Rust drop-in replacement for Consul";

/// The `pretty` output: Go's four lines (scripts read the first), then [`IMPLEMENTATION`].
pub fn pretty() -> String {
    format!(
        "Consul v{VERSION}\nRevision {REVISION}\nBuild Date {BUILD_DATE}\n\
         Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)\n\
         {IMPLEMENTATION}, git revision {REVISION} (catalog-server {})\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The `json` output (three-space indent, like Go's `json.MarshalIndent(v, "", "   ")`).
pub fn json() -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if info().serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs `consul version`.
pub fn run(args: &[String]) -> i32 {
    let flags: Flags = match goflags::parse("version", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    match flags.format.as_str() {
        "pretty" => print!("{}", pretty()),
        "json" => println!("{}", json()),
        other => {
            eprintln!("Unknown format: {other}");
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_lines() {
        let p = pretty();
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "Consul v1.21.5");
        assert_eq!(lines[1], format!("Revision {REVISION}"));
        assert!(lines[3].starts_with("Protocol 2 spoken by default, understands 2 to 3"));
        assert!(lines[4].starts_with(IMPLEMENTATION), "{p}");
        assert!(
            lines[4].contains(&format!("git revision {REVISION}")),
            "{p}"
        );
    }

    #[test]
    fn json_shape() {
        let j = json();
        assert!(
            j.starts_with("{\n   \"Version\": \"1.21.5\",\n   \"Revision\": "),
            "{j}"
        );
        assert!(j.contains("\"RPC\": {\n      \"Default\": 2,"));
    }
}
