//! `consul operator autopilot get-config|set-config|state` and `consul operator raft
//! transfer-leader`: Consul's flags, lines and exit codes over the operator endpoints.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use api_types::{format_go_duration, parse_go_duration};
use clap::Parser;
use serde_json::Value;
use std::collections::BTreeMap;

/// `consul operator autopilot` alone: its subcommands, exit 1.
pub fn run_parent(args: &[String]) -> i32 {
    let code = i32::from(
        !args
            .iter()
            .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help")),
    );
    eprint!("{}", super::parent_usage(&["operator", "autopilot"]));
    code
}

#[derive(Parser, Debug)]
struct GetFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn b(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// A duration field as Go's `ReadableDuration.String()` prints it.
fn dur(v: &Value, k: &str) -> String {
    let ns = match v.get(k) {
        Some(Value::String(t)) => parse_go_duration(t).unwrap_or(0),
        Some(Value::Number(x)) => x.as_i64().unwrap_or(0),
        _ => 0,
    };
    format_go_duration(ns)
}

/// `get-config`'s eight lines, as scripts parse them.
pub fn render_config(c: &Value) -> String {
    format!(
        "CleanupDeadServers = {}\nLastContactThreshold = {}\nMaxTrailingLogs = {}\nMinQuorum = {}\nServerStabilizationTime = {}\nRedundancyZoneTag = {}\nDisableUpgradeMigration = {}\nUpgradeVersionTag = {}",
        b(c, "CleanupDeadServers"),
        dur(c, "LastContactThreshold"),
        n(c, "MaxTrailingLogs"),
        n(c, "MinQuorum"),
        dur(c, "ServerStabilizationTime"),
        api_types::go_quote(s(c, "RedundancyZoneTag")),
        b(c, "DisableUpgradeMigration"),
        api_types::go_quote(s(c, "UpgradeVersionTag")),
    )
}

/// Runs `consul operator autopilot get-config`.
pub fn run_get_config(args: &[String]) -> i32 {
    let usage = "Usage: consul operator autopilot get-config [options]\n\n  Displays the current Autopilot configuration.";
    let flags: GetFlags = match goflags::parse("get-config", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let q = flags.http.query();
    super::block_on(async move {
        match client.operator_autopilot_get_configuration(&q).await {
            Ok(c) => {
                println!("{}", render_config(&c));
                0
            }
            Err(e) => {
                eprintln!("Error querying Autopilot configuration: {e}");
                1
            }
        }
    })
}

fn go_duration_flag(s: &str) -> Result<i64, String> {
    parse_go_duration(s).map_err(|e| e.to_string())
}

#[derive(Parser, Debug)]
struct SetFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Controls whether Consul will automatically remove dead servers when new ones are successfully added. Must be one of `true|false`.
    #[arg(long = "cleanup-dead-servers", value_parser = goflags::go_bool)]
    cleanup_dead_servers: Option<bool>,
    /// Controls the maximum number of log entries that a server can trail the leader by before being considered unhealthy.
    #[arg(long = "max-trailing-logs")]
    max_trailing_logs: Option<u64>,
    /// Sets the minimum number of servers required in a cluster before autopilot is allowed to prune dead servers.
    #[arg(long = "min-quorum")]
    min_quorum: Option<u64>,
    /// Controls the maximum amount of time a server can go without contact from the leader before being considered unhealthy. Must be a duration value such as `200ms`.
    #[arg(long = "last-contact-threshold", value_parser = go_duration_flag)]
    last_contact_threshold: Option<i64>,
    /// Controls the minimum amount of time a server must be stable in the 'healthy' state before being added to the cluster. Must be a duration value such as `10s`.
    #[arg(long = "server-stabilization-time", value_parser = go_duration_flag)]
    server_stabilization_time: Option<i64>,
    /// (Enterprise-only) Controls the node_meta tag name used for separating servers into different redundancy zones.
    #[arg(long = "redundancy-zone-tag", help_heading = goflags::REFUSED)]
    redundancy_zone_tag: Option<String>,
    /// (Enterprise-only) Controls whether Consul will avoid promoting new servers until it can perform a migration. Must be one of `true|false`.
    #[arg(long = "disable-upgrade-migration", value_parser = goflags::go_bool, help_heading = goflags::REFUSED)]
    disable_upgrade_migration: Option<bool>,
    /// (Enterprise-only) The node_meta tag to use for version info when performing upgrade migrations. If left blank, the Consul version will be used.
    #[arg(long = "upgrade-version-tag", help_heading = goflags::REFUSED)]
    upgrade_version_tag: Option<String>,
    args: Vec<String>,
}

/// Runs `consul operator autopilot set-config`: the current configuration with the given
/// flags changed, written with check-and-set on its `ModifyIndex`.
pub fn run_set_config(args: &[String]) -> i32 {
    let usage = "Usage: consul operator autopilot set-config [options]\n\n  Modifies the current Autopilot configuration.";
    let flags: SetFlags = match goflags::parse("set-config", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        let mut conf = match client
            .operator_autopilot_get_configuration(&Default::default())
            .await
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Error querying Autopilot configuration: {e}");
                return 1;
            }
        };
        let cas = n(&conf, "ModifyIndex");
        if let Some(obj) = conf.as_object_mut() {
            if let Some(v) = flags.cleanup_dead_servers {
                obj.insert("CleanupDeadServers".into(), v.into());
            }
            if let Some(v) = flags.max_trailing_logs {
                obj.insert("MaxTrailingLogs".into(), v.into());
            }
            if let Some(v) = flags.min_quorum {
                obj.insert("MinQuorum".into(), v.into());
            }
            if let Some(v) = flags.last_contact_threshold {
                obj.insert("LastContactThreshold".into(), format_go_duration(v).into());
            }
            if let Some(v) = flags.server_stabilization_time {
                obj.insert(
                    "ServerStabilizationTime".into(),
                    format_go_duration(v).into(),
                );
            }
        }
        match client
            .operator_autopilot_set_configuration(&conf, Some(cas))
            .await
        {
            Ok(true) => {
                println!("Configuration updated!");
                0
            }
            Ok(false) => {
                println!("Configuration could not be atomically updated, please try again");
                1
            }
            Err(e) => {
                eprintln!("Error setting Autopilot configuration: {e}");
                1
            }
        }
    })
}

#[derive(Parser, Debug)]
struct StateFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul operator autopilot state [-format=pretty|json]`.
pub fn run_state(args: &[String]) -> i32 {
    let usage = "Usage: consul operator autopilot state [options]\n\n  Displays the current Autopilot state.";
    let flags: StateFlags = match goflags::parse("state", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.format != "pretty" && flags.format != "json" {
        eprintln!("Unknown format: {}", flags.format);
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let q = flags.http.query();
    super::block_on(async move {
        match client.operator_autopilot_state(&q).await {
            Ok(st) if flags.format == "json" => {
                println!(
                    "{}",
                    String::from_utf8_lossy(&api_types::json::to_go_json(&st, true))
                );
                0
            }
            Ok(st) => {
                print!("{}", render_state(&st));
                0
            }
            Err(e) => {
                eprintln!("Error querying Autopilot state: {e}");
                1
            }
        }
    })
}

/// The pretty form of `/v1/operator/autopilot/state`.
pub fn render_state(st: &Value) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Healthy:                      {}\n",
        b(st, "Healthy")
    ));
    out.push_str(&format!(
        "Failure Tolerance:            {}\n",
        n(st, "FailureTolerance")
    ));
    out.push_str(&format!(
        "Optimistic Failure Tolerance: {}\n",
        n(st, "OptimisticFailureTolerance")
    ));
    out.push_str(&format!(
        "Leader:                       {}\n",
        s(st, "Leader")
    ));
    out.push_str("Voters:\n");
    for v in st
        .get("Voters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("   {}\n", v.as_str().unwrap_or("")));
    }
    out.push_str("Servers:\n");
    let servers: BTreeMap<&String, &Value> = st
        .get("Servers")
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    for srv in servers.values() {
        out.push_str(&format!("   {}\n", s(srv, "ID")));
        for (label, value) in [
            ("Name", s(srv, "Name").to_string()),
            ("Address", s(srv, "Address").to_string()),
            ("Version", s(srv, "Version").to_string()),
            ("Status", s(srv, "Status").to_string()),
            ("Node Type", s(srv, "NodeType").to_string()),
            ("Node Status", s(srv, "NodeStatus").to_string()),
            ("Healthy", b(srv, "Healthy").to_string()),
            ("Last Contact", dur(srv, "LastContact")),
            ("Last Term", n(srv, "LastTerm").to_string()),
            ("Last Index", n(srv, "LastIndex").to_string()),
        ] {
            out.push_str(&format!("      {:<17}{value}\n", format!("{label}:")));
        }
        let meta: BTreeMap<&String, &Value> = srv
            .get("Meta")
            .and_then(Value::as_object)
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        if !meta.is_empty() {
            out.push_str("      Meta\n");
            for (k, v) in meta {
                out.push_str(&format!(
                    "         {}: {}\n",
                    api_types::go_quote(k),
                    api_types::go_quote(v.as_str().unwrap_or(""))
                ));
            }
        }
    }
    out
}

#[derive(Parser, Debug)]
struct TransferFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// The ID of the node to transfer leadership to.
    #[arg(long)]
    id: Option<String>,
    args: Vec<String>,
}

/// Runs `consul operator raft transfer-leader [-id=ID]`.
pub fn run_transfer_leader(args: &[String]) -> i32 {
    let usage = "Usage: consul operator raft transfer-leader [options]\n\n  Transfer raft leadership to another node.";
    let flags: TransferFlags = match goflags::parse("transfer-leader", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let id = flags.id.clone().filter(|i| !i.is_empty());
    super::block_on(async move {
        match client.operator_raft_transfer_leader(id.as_deref()).await {
            Ok(r) if b(&r, "Success") => {
                println!("Success");
                0
            }
            Ok(_) => {
                eprintln!("Error transfering leadership: Failed to transfer leadership");
                1
            }
            Err(e) => {
                eprintln!("Error transfering leadership: Failed to transfer leadership {e}");
                1
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines_as_consul_prints_them() {
        let c = serde_json::json!({"CleanupDeadServers": true, "LastContactThreshold": "200ms",
            "MaxTrailingLogs": 250, "MinQuorum": 0, "ServerStabilizationTime": "10s",
            "RedundancyZoneTag": "", "DisableUpgradeMigration": false, "UpgradeVersionTag": ""});
        assert_eq!(
            render_config(&c),
            "CleanupDeadServers = true\nLastContactThreshold = 200ms\nMaxTrailingLogs = 250\nMinQuorum = 0\nServerStabilizationTime = 10s\nRedundancyZoneTag = \"\"\nDisableUpgradeMigration = false\nUpgradeVersionTag = \"\""
        );
    }
}
