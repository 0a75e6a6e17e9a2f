//! `consul keyring -list|-list-primary|-install|-use|-remove`: Consul's flags, `==> ` progress
//! lines, pools and key counts, exit 1 when any member failed.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use clap::Parser;
use serde_json::Value;

const USAGE: &str = "Usage: consul keyring [options]\n\n  Manages encryption keys used for gossip messages. Gossip encryption is\n  optional. When enabled, this command may be used to examine active encryption\n  keys in the cluster, add new keys, and remove old ones. When combined, this\n  functionality provides the ability to perform key rotation cluster-wide,\n  without disrupting the cluster.\n\n  All operations performed by this command can only be run against server nodes,\n  and affect both the LAN and WAN keyrings in lock-step.\n\n  All variations of the keyring command return 0 if all nodes reply and there\n  are no errors. If any node fails to reply or reports failure, the exit code\n  will be 1.";

#[derive(Parser, Debug)]
struct KeyringFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Install a new encryption key. This will broadcast the new key to all members in the cluster.
    #[arg(long, default_value = "")]
    install: String,
    /// Change the primary encryption key, which is used to encrypt messages. The key must already be installed before this operation can succeed.
    #[arg(long = "use", default_value = "")]
    use_key: String,
    /// Remove the given key from the cluster. This operation may only be performed on keys which are not currently the primary key.
    #[arg(long, default_value = "")]
    remove: String,
    /// List all keys currently in use within the cluster.
    #[arg(long)]
    list: bool,
    /// List all primary keys currently in use within the cluster.
    #[arg(long = "list-primary")]
    list_primary: bool,
    /// Setting this to a non-zero value will cause nodes to relay their response to the operation through this many randomly-chosen other nodes in the cluster. The maximum allowed value is 5.
    #[arg(long = "relay-factor", default_value_t = 0)]
    relay_factor: i64,
    /// Setting this to true will force the keyring query to only hit local servers (no WAN traffic). This flag can only be set for list queries.
    #[arg(long = "local-only")]
    local_only: bool,
    args: Vec<String>,
}

/// Runs `consul keyring`.
pub fn run(args: &[String]) -> i32 {
    let flags: KeyringFlags = match goflags::parse("keyring", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let list = flags.list || flags.list_primary;
    let mut found = list;
    for arg in [&flags.install, &flags.use_key, &flags.remove] {
        if found && !arg.is_empty() {
            eprintln!("Only a single action is allowed");
            return 1;
        }
        found = found || !arg.is_empty();
    }
    if !found {
        use clap::CommandFactory;
        let cmd = goflags::prepare(KeyringFlags::command().name("keyring"), USAGE);
        eprint!("{}", goflags::help_text(&cmd, USAGE));
        return 1;
    }
    if !(0..=5).contains(&flags.relay_factor) {
        eprintln!("Error parsing relay factor: Relay factor must be in range: [0, 5]");
        return 1;
    }
    if flags.local_only && !list {
        eprintln!("Error validating local-only: local-only can only be set for list requests");
        return 1;
    }
    let relay = flags.relay_factor as u8;
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        if list {
            println!("==> Gathering installed encryption keys...");
            return match client.operator_keyring_list(flags.local_only, relay).await {
                Ok(responses) => {
                    print!("{}", render_list(&responses, flags.list_primary));
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            };
        }
        let (what, key) = if !flags.install.is_empty() {
            ("Installing new gossip encryption key...", &flags.install)
        } else if !flags.use_key.is_empty() {
            ("Changing primary gossip encryption key...", &flags.use_key)
        } else {
            ("Removing gossip encryption key...", &flags.remove)
        };
        println!("==> {what}");
        let result = if !flags.install.is_empty() {
            client.operator_keyring_install(key, relay).await
        } else if !flags.use_key.is_empty() {
            client.operator_keyring_use(key, relay).await
        } else {
            client.operator_keyring_remove(key, relay).await
        };
        match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        }
    })
}

/// The pools and their keys, `  key [n/total]` (Consul's list output).
fn render_list(responses: &Value, primary: bool) -> String {
    let mut out = String::new();
    for r in responses.as_array().into_iter().flatten() {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut pool = if r.get("WAN").and_then(Value::as_bool) == Some(true) {
            "WAN".to_string()
        } else {
            format!("{} (LAN)", s("Datacenter"))
        };
        if !s("Segment").is_empty() {
            pool.push_str(&format!(" [{}]", s("Segment")));
        }
        out.push_str(&format!("\n{pool}:\n"));
        let total = r.get("NumNodes").and_then(Value::as_u64).unwrap_or(0);
        let field = if primary { "PrimaryKeys" } else { "Keys" };
        for (key, n) in r
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            out.push_str(&format!("  {key} [{}/{total}]\n", n.as_u64().unwrap_or(0)));
        }
    }
    out
}
