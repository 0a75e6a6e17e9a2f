//! `consul acl bootstrap` (the first management token, optionally with a chosen secret read
//! from a file or stdin) and `consul acl set-agent-token TYPE TOKEN`.

use super::super::goflags;
use super::super::http::{client_or_exit, HttpFlags};
use super::{finish, format, helpers, quote, render};
use clap::Parser;

#[derive(Parser, Debug)]
struct BootstrapFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl bootstrap [SECRET_FILE|-]`.
pub fn run_bootstrap(args: &[String]) -> i32 {
    let usage = "Usage: consul acl bootstrap [options]";
    let flags: BootstrapFlags = match goflags::parse("bootstrap", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let secret = match flags.args.as_slice() {
        [] => String::new(),
        [source] => match helpers::load_data_source_no_raw(source) {
            Ok(s) => s.trim().to_string(),
            Err(e) => return finish(Err(format!("Error reading provided token: {e}"))),
        },
        _ => return finish(Err("This command takes up to one argument".into())),
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = match client.acl_bootstrap(Some(&secret)).await {
            Ok(t) => render(&flags.format, &format::GoToken::new(&t, false), || {
                format::token_pretty(&t, false)
            }),
            Err(e) => Err(format!("Failed ACL bootstrapping: {e}")),
        };
        finish(result)
    })
}

#[derive(Parser, Debug)]
struct AgentTokenFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

/// `TYPE TOKEN` (the token also as `@file` or `-`), or Consul's complaint.
fn type_and_token(args: &[String]) -> Result<(String, String), String> {
    match args {
        [] => Err("Missing TYPE and TOKEN arguments".into()),
        [kind] => match kind.as_str() {
            "default" | "agent" | "recovery" | "replication" => {
                Err("Missing TOKEN argument".into())
            }
            _ => Err("MISSING TYPE argument".into()),
        },
        [kind, token] => Ok((kind.clone(), helpers::load_data_source(token)?)),
        more => Err(format!("Too many arguments: expected 2 got {}", more.len())),
    }
}

/// The `/v1/agent/token/:kind` a CLI token type is stored under.
fn api_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "default" => "default",
        "agent" => "agent",
        "recovery" => "agent_recovery",
        "replication" => "replication",
        "config_file_service_registration" => "config_file_service_registration",
        "dns" => "dns",
        _ => return None,
    })
}

/// Runs `consul acl set-agent-token TYPE TOKEN`.
pub fn run_set_agent_token(args: &[String]) -> i32 {
    let usage = "Usage: consul acl set-agent-token [options] TYPE TOKEN";
    let flags: AgentTokenFlags = match goflags::parse("set-agent-token", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let (kind, token) = match type_and_token(&flags.args) {
        Ok(v) => v,
        Err(e) => return finish(Err(format!("Error! {e}"))),
    };
    let client = match flags.http.client() {
        Ok(c) => c,
        Err(e) => return finish(Err(e.replacen("Consul agent", "Consul Agent", 1))),
    };
    let Some(target) = api_kind(&kind) else {
        return finish(Err("Unknown token type".into()));
    };
    super::super::block_on(async move {
        finish(match client.agent_token_set(target, &token).await {
            Ok(()) => Ok(format!("ACL token {} set successfully", quote(&kind))),
            Err(e) => Err(format!("Failed to set ACL token {}: {e}", quote(&kind))),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn agent_token_arguments() {
        assert_eq!(
            type_and_token(&[]).expect_err("none"),
            "Missing TYPE and TOKEN arguments"
        );
        assert_eq!(
            type_and_token(&sv(&["agent"])).expect_err("one"),
            "Missing TOKEN argument"
        );
        assert_eq!(
            type_and_token(&sv(&["abcd"])).expect_err("one"),
            "MISSING TYPE argument"
        );
        assert_eq!(
            type_and_token(&sv(&["a", "b", "c"])).expect_err("three"),
            "Too many arguments: expected 2 got 3"
        );
        assert_eq!(
            type_and_token(&sv(&["dns", "t"])).expect("two"),
            ("dns".to_string(), "t".to_string())
        );
        assert_eq!(api_kind("recovery"), Some("agent_recovery"));
        assert_eq!(api_kind("master"), None);
        assert_eq!(run_set_agent_token(&sv(&["default"])), 1);
        assert_eq!(run_bootstrap(&sv(&["a", "b"])), 1);
    }
}
