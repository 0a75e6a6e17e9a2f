//! `consul acl`: bootstrap, tokens, policies, roles, auth methods, binding rules and the
//! agent's own tokens, against `/v1/acl/*` and `/v1/agent/token/*`, printed as Consul's
//! formatters print them ([`format`]; auth methods and binding rules in their own modules).
//! Each command follows Go's order of checks and its messages; `-format` is checked after the
//! request, as Consul does. Templated-policy listings are not implemented (`cli/mod.rs`
//! `NOT_IMPLEMENTED`).

pub mod auth_method;
pub mod binding_rule;
pub mod bootstrap;
pub mod format;
pub mod helpers;
pub mod policy;
pub mod role;
pub mod token;
pub mod token_update;

use super::goflags;
use clap::Args;
use serde::Serialize;

/// Consul's Enterprise tenancy flags (`-namespace`, `-partition`), which this consul refuses.
#[derive(Args, Debug, Clone, Default)]
#[allow(dead_code)] // refused by `goflags::parse` before any use
pub struct Tenancy {
    /// (Enterprise-only) The namespace the request works in.
    #[arg(long, help_heading = goflags::REFUSED)]
    namespace: Option<String>,
    /// (Enterprise-only) The admin partition the request works in.
    #[arg(long, help_heading = goflags::REFUSED)]
    partition: Option<String>,
}

/// A parent command alone (`consul acl`, `consul acl token`): its subcommands, exit 1
/// (0 with `-h`), as mitchellh/cli's `RunResultHelp`.
fn parent(words: &[&str], args: &[String]) -> i32 {
    let code = if args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        0
    } else {
        1
    };
    eprint!("{}", super::parent_usage(words));
    code
}

/// Runs `consul acl` alone.
pub fn run_parent(args: &[String]) -> i32 {
    parent(&["acl"], args)
}

/// Runs `consul acl auth-method` alone.
pub fn run_auth_method_parent(args: &[String]) -> i32 {
    parent(&["acl", "auth-method"], args)
}

/// Runs `consul acl binding-rule` alone.
pub fn run_binding_rule_parent(args: &[String]) -> i32 {
    parent(&["acl", "binding-rule"], args)
}

/// Runs `consul acl token` alone.
pub fn run_token_parent(args: &[String]) -> i32 {
    parent(&["acl", "token"], args)
}

/// Runs `consul acl policy` alone.
pub fn run_policy_parent(args: &[String]) -> i32 {
    parent(&["acl", "policy"], args)
}

/// Runs `consul acl role` alone.
pub fn run_role_parent(args: &[String]) -> i32 {
    parent(&["acl", "role"], args)
}

/// The output of `-format=pretty|json`: the pretty text, or Go's `json.MarshalIndent` with
/// four spaces (no trailing newline: [`finish`] adds it). Any other format is Consul's
/// `Unknown format: X`.
pub fn render<T: Serialize + ?Sized>(
    format: &str,
    value: &T,
    pretty: impl FnOnce() -> String,
) -> Result<String, String> {
    match format {
        "pretty" => Ok(pretty()),
        "json" => {
            let bytes = api_types::json::to_go_json(value, true);
            Ok(String::from_utf8_lossy(&bytes).trim_end().to_string())
        }
        other => Err(format!("Unknown format: {other}")),
    }
}

/// Prints a command's result as mitchellh/cli's `Ui.Info` (text plus newline, nothing for
/// empty text) or its error as `Ui.Error` on stderr; the exit code.
pub fn finish(result: Result<String, String>) -> i32 {
    match result {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Prints a command's help to stderr, as Consul does after `Missing required '-name' flag`.
pub fn help_to_stderr<T: clap::CommandFactory>(name: &'static str, usage: &str) {
    let cmd = goflags::prepare(T::command().name(name), usage);
    eprint!("{}", goflags::help_text(&cmd, usage));
}

/// Go's `%q` for the quoted names and IDs in messages.
pub use api_types::go_quote as quote;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_checked() {
        let v = serde_json::json!({"A": 1});
        assert_eq!(
            render("json", &v, String::new).expect("json"),
            "{\n    \"A\": 1\n}"
        );
        assert_eq!(render("pretty", &v, || "x".into()).expect("pretty"), "x");
        assert_eq!(
            render("yaml", &v, String::new).expect_err("yaml"),
            "Unknown format: yaml"
        );
    }
}
