//! Go `flag`-package argument conventions in front of clap.
//!
//! Consul parses every subcommand with Go's `flag` package: one or two dashes are the same,
//! `-flag=value` and `-flag value` both work, booleans are bare (`-server`) or `-server=false`,
//! and parsing stops at the first positional argument or at `--`. [`normalize`] rewrites such an
//! argv into what clap expects (`--flag=value`, booleans resolved, `--` before the positionals),
//! using the clap [`Command`] itself to learn which flags exist and which are booleans. [`parse`]
//! does that plus the help handling and the Go error texts, printing them and returning the
//! exit code on failure.
//!
//! Conventions for the clap types: every flag is `long`; boolean flags are either `bool`
//! (clap `SetTrue`) or `Option<bool>` with `value_parser = goflags::go_bool`; repeatable flags
//! are `Vec<String>` (clap `Append`); positionals are one `Vec<String>`.
//!
//! Every flag carries a one-line description (its doc comment), printed by `-h` under the flag
//! as Consul does. A flag Consul has but this consul does not implement is declared with
//! `help_heading = goflags::REFUSED`: `-h` lists it as such and [`parse`] refuses it when given
//! (`-near: not implemented by this consul`, exit 1) instead of accepting and ignoring it.

use clap::builder::ValueParser;
use clap::{Command, FromArgMatches};
use std::collections::BTreeMap;

/// The help heading that marks a flag this consul refuses (see the module docs).
pub const REFUSED: &str = "not implemented by this consul";

/// Why an argv could not be turned into flags; printed, then usage, then exit 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("flag provided but not defined: -{0}")]
    Undefined(String),
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("invalid boolean value {value:?} for -{name}: parse error")]
    BadBool { name: String, value: String },
    #[error("invalid value {value:?} for flag -{name}: parse error")]
    BadValue { name: String, value: String },
    #[error("-{0}: not implemented by this consul")]
    Refused(String),
    #[error("{0}")]
    Other(String),
}

/// What [`normalize`] made of an argv.
#[derive(Debug, PartialEq, Eq)]
pub enum Normalized {
    /// `-h`, `-help` or `--help` was given.
    Help,
    /// clap-ready arguments (without the program name).
    Args(Vec<String>),
}

/// Parses a Go boolean: `1 t T TRUE true True` / `0 f F FALSE false False`.
pub fn go_bool(s: &str) -> Result<bool, String> {
    api_types::parse_bool(s).ok_or_else(|| "parse error".to_string())
}

/// True for `-h`, `-help`, `--help` (mitchellh/cli looks for them anywhere before `--`).
fn is_help(arg: &str) -> bool {
    matches!(arg, "-h" | "-help" | "--help" | "--h")
}

enum Kind {
    /// clap `SetTrue`: emitted as a bare `--name` when the final value is true.
    Switch,
    /// `Option<bool>`: emitted as `--name=true|false`.
    Bool,
    /// Takes a value.
    Value,
}

fn kind_of(cmd: &Command, name: &str) -> Option<Kind> {
    let arg = cmd.get_arguments().find(|a| {
        a.get_long() == Some(name)
            || a.get_all_aliases()
                .into_iter()
                .flatten()
                .any(|al| al == name)
    })?;
    if !arg.get_action().takes_values() {
        return Some(Kind::Switch);
    }
    if arg.get_value_parser().type_id() == ValueParser::bool().type_id() {
        return Some(Kind::Bool);
    }
    Some(Kind::Value)
}

/// Rewrites a Go-style argv (program and subcommand names removed) into clap form.
pub fn normalize(cmd: &Command, args: &[String]) -> Result<Normalized, FlagError> {
    if args
        .iter()
        .take_while(|a| a.as_str() != "--")
        .any(|a| is_help(a))
    {
        return Ok(Normalized::Help);
    }
    let mut out = Vec::new();
    // Final values of switches: Go lets `-x -x=false` end false, so decide at the end.
    let mut switches: BTreeMap<String, bool> = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError::Other(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        i += 1;
        match kind_of(cmd, name) {
            None => return Err(FlagError::Undefined(name.to_string())),
            Some(Kind::Switch) | Some(Kind::Bool) if inline.is_none() => {
                push_bool(cmd, name, true, &mut out, &mut switches);
            }
            Some(Kind::Switch) | Some(Kind::Bool) => {
                let value = inline.unwrap_or_default();
                let b = go_bool(&value).map_err(|_| FlagError::BadBool {
                    name: name.to_string(),
                    value,
                })?;
                push_bool(cmd, name, b, &mut out, &mut switches);
            }
            Some(Kind::Value) => {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        let v = args
                            .get(i)
                            .ok_or_else(|| FlagError::MissingValue(name.to_string()))?;
                        i += 1;
                        v.clone()
                    }
                };
                out.push(format!("--{name}={value}"));
            }
        }
    }
    for (name, on) in switches {
        if on {
            out.push(format!("--{name}"));
        }
    }
    if i < args.len() {
        out.push("--".to_string());
        out.extend(args[i..].iter().cloned());
    }
    Ok(Normalized::Args(out))
}

fn push_bool(
    cmd: &Command,
    name: &str,
    value: bool,
    out: &mut Vec<String>,
    switches: &mut BTreeMap<String, bool>,
) {
    match kind_of(cmd, name) {
        Some(Kind::Switch) => {
            switches.insert(name.to_string(), value);
        }
        _ => out.push(format!("--{name}={value}")),
    }
}

/// Prepares a clap command for Go-style use: no clap help flag (we handle `-h` ourselves),
/// repeated scalar flags override (last wins, like Go).
pub fn prepare(cmd: Command, usage: &str) -> Command {
    cmd.disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .override_usage(usage.to_string())
}

/// Renders a command's help the way Consul does: the usage text, then each flag as
/// `  -name=<value>` with its description indented below.
pub fn help_text(cmd: &Command, usage: &str) -> String {
    let mut out = format!("{}\n", usage.trim_end());
    let flags: Vec<_> = cmd
        .get_arguments()
        .filter(|a| a.get_long().is_some())
        .collect();
    if !flags.is_empty() {
        out.push_str("\nCommand Options:\n");
    }
    for a in flags {
        let long = a.get_long().unwrap_or_default();
        let boolean = !a.get_action().takes_values()
            || a.get_value_parser().type_id() == ValueParser::bool().type_id();
        out.push_str(&format!(
            "\n  -{long}{}\n",
            if boolean { "" } else { "=<value>" }
        ));
        if let Some(help) = a.get_help() {
            out.push_str(&format!("     {help}\n"));
        }
        if is_refused(a) {
            out.push_str(&format!("     ({REFUSED}: refused)\n"));
        }
    }
    out
}

fn is_refused(a: &clap::Arg) -> bool {
    a.get_help_heading() == Some(REFUSED)
}

/// The first flag marked [`REFUSED`] that the command line gave.
fn refused_given(cmd: &Command, matches: &clap::ArgMatches) -> Option<String> {
    cmd.get_arguments()
        .filter(|a| is_refused(a))
        .find(|a| {
            matches.value_source(a.get_id().as_str())
                == Some(clap::parser::ValueSource::CommandLine)
        })
        .and_then(|a| a.get_long().map(str::to_string))
}

/// Maps a clap error back to Go's wording where there is one.
fn from_clap(err: &clap::Error) -> FlagError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let ctx = |k| match err.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    match err.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = ctx(ContextKind::InvalidArg);
            let name = arg
                .trim_start_matches('-')
                .split([' ', '=', '<'])
                .next()
                .unwrap_or("");
            FlagError::BadValue {
                name: name.to_string(),
                value: ctx(ContextKind::InvalidValue),
            }
        }
        _ => {
            let text = err.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            FlagError::Other(first.to_string())
        }
    }
}

/// Parses `args` (after the subcommand words) into `T`. On `-h` prints help to stdout and
/// returns `Err(0)`; on a flag error prints the Go message and usage to stderr, `Err(1)`.
pub fn parse<T: clap::CommandFactory + FromArgMatches>(
    name: &'static str,
    usage: &str,
    args: &[String],
) -> Result<T, i32> {
    let cmd = prepare(T::command().name(name), usage);
    let fail = |e: FlagError| {
        eprintln!("{e}");
        eprint!("{}", help_text(&cmd, usage));
        1
    };
    let normalized = match normalize(&cmd, args) {
        Ok(Normalized::Help) => {
            print!("{}", help_text(&cmd, usage));
            return Err(0);
        }
        Ok(Normalized::Args(a)) => a,
        Err(e) => return Err(fail(e)),
    };
    let argv = std::iter::once(name.to_string()).chain(normalized);
    let matches = cmd
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| fail(from_clap(&e)))?;
    if let Some(name) = refused_given(&cmd, &matches) {
        eprintln!("{}", FlagError::Refused(name));
        return Err(1);
    }
    T::from_arg_matches(&matches).map_err(|e| fail(from_clap(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    struct Demo {
        /// Detailed output.
        #[arg(long)]
        detailed: bool,
        /// Server mode.
        #[arg(long, value_parser = go_bool)]
        server: Option<bool>,
        /// Node name.
        #[arg(long)]
        node: Option<String>,
        /// Addresses to join.
        #[arg(long = "retry-join")]
        retry_join: Vec<String>,
        /// Servers to wait for.
        #[arg(long = "bootstrap-expect", allow_hyphen_values = true)]
        bootstrap_expect: Option<i64>,
        /// A flag this consul refuses.
        #[arg(long, help_heading = REFUSED)]
        filter: Option<String>,
        args: Vec<String>,
    }

    fn sv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn demo(a: &[&str]) -> Result<Demo, i32> {
        parse::<Demo>("demo", "Usage: demo [options]", &sv(a))
    }

    #[test]
    fn value_forms_are_equivalent() {
        for form in [
            &["-node=a"][..],
            &["-node", "a"],
            &["--node=a"],
            &["--node", "a"],
        ] {
            let d = demo(form).expect("parses");
            assert_eq!(d.node.as_deref(), Some("a"), "{form:?}");
        }
    }

    #[test]
    fn booleans_and_last_wins() {
        let d = demo(&[
            "-server",
            "-detailed",
            "-detailed=false",
            "-node=a",
            "-node=b",
        ])
        .expect("parses");
        assert_eq!(d.server, Some(true));
        assert!(!d.detailed);
        assert_eq!(d.node.as_deref(), Some("b"));
        let d = demo(&["-server=false", "-detailed=t"]).expect("parses");
        assert_eq!(d.server, Some(false));
        assert!(d.detailed);
        assert_eq!(demo(&[]).expect("parses").server, None);
    }

    #[test]
    fn bare_false_is_positional_and_stops_parsing() {
        let d = demo(&["-server", "false", "-detailed"]).expect("parses");
        assert_eq!(d.server, Some(true));
        assert!(!d.detailed);
        assert_eq!(d.args, sv(&["false", "-detailed"]));
    }

    #[test]
    fn double_dash_and_repeats() {
        let d = demo(&["-retry-join", "a", "-retry-join=b", "--", "-x"]).expect("parses");
        assert_eq!(d.retry_join, sv(&["a", "b"]));
        assert_eq!(d.args, sv(&["-x"]));
        let d = demo(&["-bootstrap-expect", "-1"]).expect("parses");
        assert_eq!(d.bootstrap_expect, Some(-1));
    }

    #[test]
    fn errors_have_go_wording() {
        let cmd = prepare(Demo::command(), "u");
        let n = |a: &[&str]| normalize(&cmd, &sv(a));
        assert_eq!(
            n(&["-foo"]).expect_err("fails").to_string(),
            "flag provided but not defined: -foo"
        );
        assert_eq!(
            n(&["-server=yes"]).expect_err("fails").to_string(),
            "invalid boolean value \"yes\" for -server: parse error"
        );
        assert_eq!(
            n(&["-node"]).expect_err("fails").to_string(),
            "flag needs an argument: -node"
        );
        assert_eq!(n(&["x", "-help"]).expect("ok"), Normalized::Help);
        assert_eq!(demo(&["-foo"]).expect_err("fails"), 1);
        assert_eq!(demo(&["-bootstrap-expect=x"]).expect_err("fails"), 1);
    }

    #[test]
    fn refused_flags_are_listed_and_refused() {
        assert_eq!(demo(&["-filter=x"]).expect_err("refused"), 1);
        assert!(demo(&["-node=a"]).expect("parses").filter.is_none());
        let help = help_text(&prepare(Demo::command(), "u"), "u");
        assert!(
            help.contains("  -filter=<value>\n     A flag this consul refuses\n     (not implemented by this consul: refused)\n"),
            "{help}"
        );
        assert_eq!(
            FlagError::Refused("filter".into()).to_string(),
            "-filter: not implemented by this consul"
        );
    }
}
