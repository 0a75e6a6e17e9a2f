//! `consul operator raft list-peers|remove-peer`: the Raft configuration joined with autopilot
//! health into Consul's eight-column table, and peer removal.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use super::render::columnize_with;
use clap::Parser;
use serde_json::Value;
use std::collections::BTreeMap;

/// `consul operator` alone: its subcommands, exit 1.
pub fn run_parent(args: &[String]) -> i32 {
    parent(&["operator"], args)
}

/// `consul operator raft` alone: its subcommands, exit 1.
pub fn run_raft_parent(args: &[String]) -> i32 {
    parent(&["operator", "raft"], args)
}

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

#[derive(Parser, Debug)]
struct ListFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

/// Runs `consul operator raft list-peers`.
pub fn run_list_peers(args: &[String]) -> i32 {
    let usage = "Usage: consul operator raft list-peers [options]\n\n  Displays the current Raft peer configuration.";
    let flags: ListFlags = match goflags::parse("list-peers", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let q = flags.http.query();
    super::block_on(async move {
        let config = match client.operator_raft_configuration(&q).await {
            Ok((c, _)) => c,
            Err(e) => {
                eprintln!("Error getting peers: Failed to retrieve raft configuration: {e}");
                return 1;
            }
        };
        let health = match client.operator_autopilot_health(&q).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("Error getting peers: Failed to retrieve autopilot health: {e}");
                return 1;
            }
        };
        println!("{}", render_peers(&config, &health));
        0
    })
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The list-peers table from `/v1/operator/raft/configuration` and `/autopilot/health`.
pub fn render_peers(config: &Value, health: &Value) -> String {
    let empty = Vec::new();
    let servers = config
        .get("Servers")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let last_index: BTreeMap<&str, u64> = health
        .get("Servers")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .map(|h| {
            (
                s(h, "ID"),
                h.get("LastIndex").and_then(Value::as_u64).unwrap_or(0),
            )
        })
        .collect();
    let is_leader = |v: &Value| v.get("Leader").and_then(Value::as_bool).unwrap_or(false);
    let leader_index = servers
        .iter()
        .filter(|v| is_leader(v))
        .filter_map(|v| last_index.get(s(v, "ID")).copied())
        .next_back()
        .unwrap_or(0);
    let mut lines =
        vec!["Node\x1fID\x1fAddress\x1fState\x1fVoter\x1fRaftProtocol\x1fCommit Index\x1fTrails Leader By".to_string()];
    for v in servers {
        let proto = match s(v, "ProtocolVersion") {
            "" => "<=1",
            p => p,
        };
        let leader = is_leader(v);
        let state = if leader { "leader" } else { "follower" };
        let own = last_index.get(s(v, "ID")).copied();
        let trails = match own {
            None => "-".to_string(),
            Some(_) if leader => "-".to_string(),
            Some(i) => match leader_index.saturating_sub(i) {
                1 => "1 commit".to_string(),
                n => format!("{n} commits"),
            },
        };
        let voter = v.get("Voter").and_then(Value::as_bool).unwrap_or(false);
        lines.push(format!(
            "{}\x1f{}\x1f{}\x1f{state}\x1f{voter}\x1f{proto}\x1f{}\x1f{trails}",
            s(v, "Node"),
            s(v, "ID"),
            s(v, "Address"),
            own.unwrap_or(0)
        ));
    }
    columnize_with(&lines, '\x1f')
}

#[derive(Parser, Debug)]
struct RemoveFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// The address to remove from the Raft configuration.
    #[arg(long)]
    address: Option<String>,
    /// The ID to remove from the Raft configuration.
    #[arg(long)]
    id: Option<String>,
    args: Vec<String>,
}

/// Runs `consul operator raft remove-peer -address=IP:port | -id=ID`.
pub fn run_remove_peer(args: &[String]) -> i32 {
    let usage = "Usage: consul operator raft remove-peer [options]\n\n  Remove the Consul server with given -address from the Raft configuration.";
    let flags: RemoveFlags = match goflags::parse("remove-peer", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let address = flags.address.clone().filter(|a| !a.is_empty());
    let id = flags.id.clone().filter(|a| !a.is_empty());
    match (&address, &id) {
        (None, None) => {
            eprintln!("Error removing peer: an address or id is required for the peer to remove");
            return 1;
        }
        (Some(_), Some(_)) => {
            eprintln!("Error removing peer: cannot give both an address and id");
            return 1;
        }
        _ => {}
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        match client
            .operator_raft_remove_peer(address.as_deref(), id.as_deref())
            .await
        {
            Ok(()) => {
                match (address, id) {
                    (Some(a), _) => println!("Removed peer with address {a:?}"),
                    (_, Some(i)) => println!("Removed peer with id {i:?}"),
                    _ => {}
                }
                0
            }
            Err(e) => {
                eprintln!("Error removing peer: {e}");
                1
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_table() {
        let config = serde_json::json!({"Servers":[
            {"ID":"id-1","Node":"consul-server01","Address":"192.168.111.40:8300","Leader":true,"Voter":true,"ProtocolVersion":"3"},
            {"ID":"id-2","Node":"s2","Address":"10.0.0.2:8300","Leader":false,"Voter":true,"ProtocolVersion":""}],
            "Index":42});
        let health = serde_json::json!({"Healthy":true,"Servers":[
            {"ID":"id-1","LastIndex":42},{"ID":"id-2","LastIndex":41}]});
        assert_eq!(
            render_peers(&config, &health),
            "Node             ID    Address              State     Voter  RaftProtocol  Commit Index  Trails Leader By\n\
             consul-server01  id-1  192.168.111.40:8300  leader    true   3             42            -\n\
             s2               id-2  10.0.0.2:8300        follower  true   <=1           41            1 commit"
        );
    }
}
