//! `consul info`: `GET /v1/agent/self`, then the `Stats` object printed section by section in
//! sorted order, one `\tkey = value` line per entry (values are strings; anything else prints
//! the way Go's `%s` would, e.g. `%!s(float64=1)`).

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use clap::Parser;
use serde_json::Value;

const USAGE: &str =
    "Usage: consul info [options]\n\n  Provides debugging information for operators";

#[derive(Parser, Debug)]
struct Flags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

/// Runs `consul info`.
pub fn run(args: &[String]) -> i32 {
    let flags: Flags = match goflags::parse("info", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    let client = match client_or_exit(&flags.http) {
        Ok(c) => c,
        Err(code) => return code,
    };
    super::block_on(async move {
        match client.agent_self().await {
            Ok((me, _)) => match render(&me) {
                Ok(text) => {
                    print!("{text}");
                    0
                }
                Err(e) => {
                    eprintln!("{e}");
                    1
                }
            },
            Err(e) => {
                eprintln!("Error querying agent: {e}");
                1
            }
        }
    })
}

/// Go's `%s` of a decoded JSON value.
fn go_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => format!("%!s(float64={n})"),
        Value::Bool(b) => format!("%!s(bool={b})"),
        Value::Null => "%!s(<nil>)".to_string(),
        other => format!("%!s({other})"),
    }
}

/// The text `consul info` prints for an `/v1/agent/self` answer.
pub fn render(me: &Value) -> Result<String, String> {
    let stats = me
        .get("Stats")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("Agent response did not contain 'Stats' key: {me}"))?;
    let mut sections: Vec<&String> = stats.keys().collect();
    sections.sort();
    let mut out = String::new();
    for name in sections {
        out.push_str(&format!("{name}:\n"));
        let sub = stats[name]
            .as_object()
            .ok_or_else(|| format!("Got invalid subkey in stats: {}", stats[name]))?;
        let mut keys: Vec<&String> = sub.keys().collect();
        keys.sort();
        for k in keys {
            out.push_str(&format!("\t{k} = {}\n", go_s(&sub[k])));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_keys_sorted() {
        let me: Value = serde_json::from_str(
            r#"{"Config":{"Datacenter":"dc1"},"Stats":{
                "consul":{"server":"true","leader_addr":"192.168.111.40:8300","leader":"true",
                          "bootstrap":"true","acl":"disabled","known_datacenters":"1"},
                "build":{"version":"1.21.5","revision":"3261d11a","prerelease":"","version_metadata":""},
                "agent":{"checks":"0","check_ttls":"0","check_monitors":"0","services":"0"}}}"#,
        )
        .expect("sample");
        assert_eq!(
            render(&me).expect("renders"),
            "agent:\n\tcheck_monitors = 0\n\tcheck_ttls = 0\n\tchecks = 0\n\tservices = 0\n\
             build:\n\tprerelease = \n\trevision = 3261d11a\n\tversion = 1.21.5\n\tversion_metadata = \n\
             consul:\n\tacl = disabled\n\tbootstrap = true\n\tknown_datacenters = 1\n\tleader = true\n\
             \tleader_addr = 192.168.111.40:8300\n\tserver = true\n"
        );
    }

    #[test]
    fn missing_stats_and_non_strings() {
        assert!(render(&serde_json::json!({"Config":{}}))
            .expect_err("fails")
            .starts_with("Agent response did not contain 'Stats' key: "));
        let me = serde_json::json!({"Stats":{"raft":{"num_peers":0,"x":true}}});
        assert_eq!(
            render(&me).expect("renders"),
            "raft:\n\tnum_peers = %!s(float64=0)\n\tx = %!s(bool=true)\n"
        );
    }
}
