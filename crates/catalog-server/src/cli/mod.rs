//! The `consul` command line: one dispatch table from subcommand words to a module's `run`,
//! in the style of mitchellh/cli. Every command returns its exit code; [`main`] is the one
//! place that turns the process arguments into that code. Flags follow Go's `flag` package
//! (see [`goflags`]); client commands share the HTTP flags in [`http`].

pub mod acl;
pub mod agent;
mod autopilot;
pub mod catalog;
pub mod goflags;
pub use api_types::go_io_error;
mod debug;
pub mod http;
pub mod info;
mod keyring;
pub mod kv;
mod kv_transfer;
mod lock;
mod login;
pub mod members;
pub mod misc;
mod monitor;
pub mod operator;
pub mod render;
mod services;
pub mod snapshot;
pub mod tls;
mod usage;
mod validate;
pub mod version;
mod watch;

/// A subcommand: its words (`["kv", "get"]`), one-line synopsis, and entry point.
struct Entry {
    words: &'static [&'static str],
    synopsis: &'static str,
    run: fn(&[String]) -> i32,
}

const COMMANDS: &[Entry] = &[
    Entry {
        words: &["acl"],
        synopsis: "Interact with Consul's ACLs",
        run: acl::run_parent,
    },
    Entry {
        words: &["acl", "auth-method"],
        synopsis: "Manage Consul's ACL auth methods",
        run: acl::run_auth_method_parent,
    },
    Entry {
        words: &["acl", "auth-method", "create"],
        synopsis: "Create an ACL auth method",
        run: acl::auth_method::run_create,
    },
    Entry {
        words: &["acl", "auth-method", "delete"],
        synopsis: "Delete an ACL auth method",
        run: acl::auth_method::run_delete,
    },
    Entry {
        words: &["acl", "auth-method", "list"],
        synopsis: "Lists ACL auth methods",
        run: acl::auth_method::run_list,
    },
    Entry {
        words: &["acl", "auth-method", "read"],
        synopsis: "Read an ACL auth method",
        run: acl::auth_method::run_read,
    },
    Entry {
        words: &["acl", "auth-method", "update"],
        synopsis: "Update an ACL auth method",
        run: acl::auth_method::run_update,
    },
    Entry {
        words: &["acl", "binding-rule"],
        synopsis: "Manage Consul's ACL binding rules",
        run: acl::run_binding_rule_parent,
    },
    Entry {
        words: &["acl", "binding-rule", "create"],
        synopsis: "Create an ACL binding rule",
        run: acl::binding_rule::run_create,
    },
    Entry {
        words: &["acl", "binding-rule", "delete"],
        synopsis: "Delete an ACL binding rule",
        run: acl::binding_rule::run_delete,
    },
    Entry {
        words: &["acl", "binding-rule", "list"],
        synopsis: "Lists ACL binding rules",
        run: acl::binding_rule::run_list,
    },
    Entry {
        words: &["acl", "binding-rule", "read"],
        synopsis: "Read an ACL binding rule",
        run: acl::binding_rule::run_read,
    },
    Entry {
        words: &["acl", "binding-rule", "update"],
        synopsis: "Update an ACL binding rule",
        run: acl::binding_rule::run_update,
    },
    Entry {
        words: &["acl", "bootstrap"],
        synopsis: "Bootstrap Consul's ACL system",
        run: acl::bootstrap::run_bootstrap,
    },
    Entry {
        words: &["acl", "policy"],
        synopsis: "Manage Consul's ACL policies",
        run: acl::run_policy_parent,
    },
    Entry {
        words: &["acl", "policy", "create"],
        synopsis: "Create an ACL policy",
        run: acl::policy::run_create,
    },
    Entry {
        words: &["acl", "policy", "delete"],
        synopsis: "Delete an ACL policy",
        run: acl::policy::run_delete,
    },
    Entry {
        words: &["acl", "policy", "list"],
        synopsis: "Lists ACL policies",
        run: acl::policy::run_list,
    },
    Entry {
        words: &["acl", "policy", "read"],
        synopsis: "Read an ACL policy",
        run: acl::policy::run_read,
    },
    Entry {
        words: &["acl", "policy", "update"],
        synopsis: "Update an ACL policy",
        run: acl::policy::run_update,
    },
    Entry {
        words: &["acl", "role"],
        synopsis: "Manage Consul's ACL roles",
        run: acl::run_role_parent,
    },
    Entry {
        words: &["acl", "role", "create"],
        synopsis: "Create an ACL role",
        run: acl::role::run_create,
    },
    Entry {
        words: &["acl", "role", "delete"],
        synopsis: "Delete an ACL role",
        run: acl::role::run_delete,
    },
    Entry {
        words: &["acl", "role", "list"],
        synopsis: "Lists ACL roles",
        run: acl::role::run_list,
    },
    Entry {
        words: &["acl", "role", "read"],
        synopsis: "Read an ACL role",
        run: acl::role::run_read,
    },
    Entry {
        words: &["acl", "role", "update"],
        synopsis: "Update an ACL role",
        run: acl::role::run_update,
    },
    Entry {
        words: &["acl", "set-agent-token"],
        synopsis: "Assign tokens for the Consul Agent's usage",
        run: acl::bootstrap::run_set_agent_token,
    },
    Entry {
        words: &["acl", "token"],
        synopsis: "Manage Consul's ACL tokens",
        run: acl::run_token_parent,
    },
    Entry {
        words: &["acl", "token", "clone"],
        synopsis: "Clone an ACL token",
        run: acl::token::run_clone,
    },
    Entry {
        words: &["acl", "token", "create"],
        synopsis: "Create an ACL token",
        run: acl::token::run_create,
    },
    Entry {
        words: &["acl", "token", "delete"],
        synopsis: "Delete an ACL token",
        run: acl::token::run_delete,
    },
    Entry {
        words: &["acl", "token", "list"],
        synopsis: "List ACL tokens",
        run: acl::token::run_list,
    },
    Entry {
        words: &["acl", "token", "read"],
        synopsis: "Read an ACL token",
        run: acl::token::run_read,
    },
    Entry {
        words: &["acl", "token", "update"],
        synopsis: "Update an ACL token",
        run: acl::token_update::run_update,
    },
    Entry {
        words: &["agent"],
        synopsis: "Runs a Consul agent",
        run: agent::run,
    },
    Entry {
        words: &["catalog"],
        synopsis: "Interact with the catalog",
        run: catalog::run_parent,
    },
    Entry {
        words: &["catalog", "datacenters"],
        synopsis: "Lists all known datacenters",
        run: catalog::run_datacenters,
    },
    Entry {
        words: &["catalog", "nodes"],
        synopsis: "Lists all nodes in the given datacenter",
        run: catalog::run_nodes,
    },
    Entry {
        words: &["catalog", "services"],
        synopsis: "Lists all registered services in a datacenter",
        run: catalog::run_services,
    },
    Entry {
        words: &["force-leave"],
        synopsis: "Forces a member of the cluster to enter the \"left\" state",
        run: misc::run_force_leave,
    },
    Entry {
        words: &["event"],
        synopsis: "Fire a new event",
        run: misc::run_event,
    },
    Entry {
        words: &["info"],
        synopsis: "Provides debugging information for operators.",
        run: info::run,
    },
    Entry {
        words: &["join"],
        synopsis: "Tell Consul agent to join cluster",
        run: misc::run_join,
    },
    Entry {
        words: &["keygen"],
        synopsis: "Generates a new encryption key",
        run: misc::run_keygen,
    },
    Entry {
        words: &["keyring"],
        synopsis: "Manages gossip layer encryption keys",
        run: keyring::run,
    },
    Entry {
        words: &["kv"],
        synopsis: "Interact with the key-value store",
        run: kv::run_parent,
    },
    Entry {
        words: &["kv", "delete"],
        synopsis: "Removes data from the KV store",
        run: kv::run_delete,
    },
    Entry {
        words: &["kv", "export"],
        synopsis: "Exports a tree from the KV store as JSON",
        run: kv_transfer::run_export,
    },
    Entry {
        words: &["kv", "get"],
        synopsis: "Retrieves or lists data from the KV store",
        run: kv::run_get,
    },
    Entry {
        words: &["kv", "import"],
        synopsis: "Imports a tree stored as JSON to the KV store",
        run: kv_transfer::run_import,
    },
    Entry {
        words: &["kv", "put"],
        synopsis: "Sets or updates data in the KV store",
        run: kv::run_put,
    },
    Entry {
        words: &["leave"],
        synopsis: "Gracefully leaves the Consul cluster and shuts down",
        run: misc::run_leave,
    },
    Entry {
        words: &["lock"],
        synopsis: "Execute a command holding a lock",
        run: lock::run,
    },
    Entry {
        words: &["login"],
        synopsis: "Login to Consul using an auth method",
        run: login::run_login,
    },
    Entry {
        words: &["logout"],
        synopsis: "Destroy a Consul token created with login",
        run: login::run_logout,
    },
    Entry {
        words: &["debug"],
        synopsis: "Records a debugging archive for operators",
        run: debug::run,
    },
    Entry {
        words: &["maint"],
        synopsis: "Controls node or service maintenance mode",
        run: misc::run_maint,
    },
    Entry {
        words: &["members"],
        synopsis: "Lists the members of a Consul cluster",
        run: members::run,
    },
    Entry {
        words: &["monitor"],
        synopsis: "Stream logs from a Consul agent",
        run: monitor::run,
    },
    Entry {
        words: &["operator"],
        synopsis: "Provides cluster-level tools for Consul operators",
        run: operator::run_parent,
    },
    Entry {
        words: &["operator", "autopilot"],
        synopsis: "Provides tools for modifying Autopilot configuration",
        run: autopilot::run_parent,
    },
    Entry {
        words: &["operator", "autopilot", "get-config"],
        synopsis: "Display the current Autopilot configuration",
        run: autopilot::run_get_config,
    },
    Entry {
        words: &["operator", "autopilot", "set-config"],
        synopsis: "Modify the current Autopilot configuration",
        run: autopilot::run_set_config,
    },
    Entry {
        words: &["operator", "autopilot", "state"],
        synopsis: "Display the current Autopilot state",
        run: autopilot::run_state,
    },
    Entry {
        words: &["operator", "usage"],
        synopsis: "Provides cluster-level usage information",
        run: usage::run_parent,
    },
    Entry {
        words: &["operator", "usage", "instances"],
        synopsis: "Display service instance usage information",
        run: usage::run_instances,
    },
    Entry {
        words: &["operator", "raft"],
        synopsis: "Provides cluster-level tools for Consul operators",
        run: operator::run_raft_parent,
    },
    Entry {
        words: &["operator", "raft", "list-peers"],
        synopsis: "Display the current Raft peer configuration",
        run: operator::run_list_peers,
    },
    Entry {
        words: &["operator", "raft", "transfer-leader"],
        synopsis: "Transfer raft leadership to another node",
        run: autopilot::run_transfer_leader,
    },
    Entry {
        words: &["operator", "raft", "remove-peer"],
        synopsis: "Remove a Consul server from the Raft configuration",
        run: operator::run_remove_peer,
    },
    Entry {
        words: &["reload"],
        synopsis: "Triggers the agent to reload configuration files",
        run: misc::run_reload,
    },
    Entry {
        words: &["rtt"],
        synopsis: "Estimates network round trip time between nodes",
        run: misc::run_rtt,
    },
    Entry {
        words: &["services"],
        synopsis: "Interact with services",
        run: services::run_parent,
    },
    Entry {
        words: &["services", "deregister"],
        synopsis: "Deregister services with the local agent",
        run: services::run_deregister,
    },
    Entry {
        words: &["services", "register"],
        synopsis: "Register services with the local agent",
        run: services::run_register,
    },
    Entry {
        words: &["snapshot"],
        synopsis: "Saves, restores and inspects snapshots of Consul server state",
        run: snapshot::run_parent,
    },
    Entry {
        words: &["snapshot", "restore"],
        synopsis: "Restores snapshot of Consul server state",
        run: snapshot::run_restore,
    },
    Entry {
        words: &["snapshot", "save"],
        synopsis: "Saves snapshot of Consul server state",
        run: snapshot::run_save,
    },
    Entry {
        words: &["tls"],
        synopsis: "Builtin helpers for creating CAs and certificates",
        run: tls::run_parent,
    },
    Entry {
        words: &["tls", "ca"],
        synopsis: "Helpers for CAs",
        run: tls::run_ca_parent,
    },
    Entry {
        words: &["tls", "ca", "create"],
        synopsis: "Create a new consul CA",
        run: tls::run_ca_create,
    },
    Entry {
        words: &["tls", "cert"],
        synopsis: "Helpers for certificates",
        run: tls::run_cert_parent,
    },
    Entry {
        words: &["tls", "cert", "create"],
        synopsis: "Create a new certificate",
        run: tls::run_cert_create,
    },
    Entry {
        words: &["validate"],
        synopsis: "Validate config files/directories",
        run: validate::run,
    },
    Entry {
        words: &["version"],
        synopsis: "Prints the Consul version",
        run: version::run,
    },
    Entry {
        words: &["watch"],
        synopsis: "Watch for changes in Consul",
        run: watch::run,
    },
];

/// Go consul's commands (and subcommands of the ones we have) that this consul does not
/// implement: they say so on stderr and exit 1, instead of the generic usage and 127.
const NOT_IMPLEMENTED: &[&[&str]] = &[
    &["acl", "templated-policy"],
    &["config"],
    &["connect"],
    &["exec"],
    &["intention"],
    &["operator", "area"],
    &["peering"],
    &["resource"],
    &["snapshot", "agent"],
    &["snapshot", "decode"],
    &["snapshot", "inspect"],
    &["troubleshoot"],
];

/// The Go command `args` start with that this consul lacks, if any.
fn not_implemented(args: &[String]) -> Option<String> {
    NOT_IMPLEMENTED
        .iter()
        .find(|w| w.len() <= args.len() && w.iter().zip(args).all(|(w, a)| w == a))
        .map(|w| w.join(" "))
}

/// The top-level usage text (mitchellh/cli's layout).
pub fn usage() -> String {
    let mut out = String::from(
        "Usage: consul [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n",
    );
    for e in COMMANDS.iter().filter(|e| e.words.len() == 1) {
        out.push_str(&format!("    {:<15}{}\n", e.words[0], e.synopsis));
    }
    out
}

/// The usage of a parent command (`consul kv`): its subcommands, their synopses aligned four
/// spaces after the longest name (mitchellh/cli's layout).
pub fn parent_usage(words: &[&str]) -> String {
    let mut out = format!(
        "Usage: consul {} <subcommand> [options] [args]\n\nSubcommands:\n",
        words.join(" ")
    );
    let subs: Vec<&Entry> = COMMANDS
        .iter()
        .filter(|e| e.words.len() == words.len() + 1 && e.words.starts_with(words))
        .collect();
    let width = subs
        .iter()
        .map(|e| e.words[words.len()].len())
        .max()
        .unwrap_or(0);
    for e in subs {
        let name = e.words[words.len()];
        out.push_str(&format!("    {name:<width$}    {}\n", e.synopsis));
    }
    out
}

/// The longest command whose words prefix `args`, and how many words it used.
fn lookup(args: &[String]) -> Option<(&'static Entry, usize)> {
    COMMANDS
        .iter()
        .filter(|e| e.words.len() <= args.len() && e.words.iter().zip(args).all(|(w, a)| w == a))
        .max_by_key(|e| e.words.len())
        .map(|e| (e, e.words.len()))
}

/// Runs `consul` with the process arguments; returns the exit code.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args)
}

/// Runs `consul` with `args` (program name excluded); returns the exit code.
pub fn run(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("-v" | "-version" | "--version") => return version::run(&[]),
        Some("-h" | "-help" | "--help") => {
            print!("{}", usage());
            return 0;
        }
        None => {
            eprint!("{}", usage());
            return 127;
        }
        _ => {}
    }
    if let Some(words) = not_implemented(args) {
        eprintln!("consul {words}: not implemented by this consul");
        return 1;
    }
    match lookup(args) {
        Some((entry, used)) => (entry.run)(&args[used..]),
        None => {
            eprint!("{}", usage());
            127
        }
    }
}

/// Builds a single-threaded runtime and runs a client command's future on it.
pub fn block_on<F: std::future::Future<Output = i32>>(fut: F) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("Error starting runtime: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lookup_prefers_longest_match() {
        let (e, used) = lookup(&sv(&["kv", "get", "foo"])).expect("found");
        assert_eq!(e.words, &["kv", "get"]);
        assert_eq!(used, 2);
        let (e, _) = lookup(&sv(&["kv", "nope"])).expect("found");
        assert_eq!(e.words, &["kv"]);
        assert!(lookup(&sv(&["bogus"])).is_none());
        assert_eq!(run(&sv(&["bogus"])), 127);
    }

    #[test]
    fn go_commands_we_lack_say_so() {
        assert_eq!(
            not_implemented(&sv(&["snapshot", "inspect"])).as_deref(),
            Some("snapshot inspect")
        );
        assert_eq!(
            not_implemented(&sv(&["operator", "area", "list"])).as_deref(),
            Some("operator area")
        );
        assert_eq!(not_implemented(&sv(&["kv", "get"])), None);
        assert_eq!(run(&sv(&["acl", "templated-policy", "list"])), 1);
        assert_eq!(
            not_implemented(&sv(&["acl", "templated-policy", "read"])).as_deref(),
            Some("acl templated-policy")
        );
        for w in NOT_IMPLEMENTED {
            let args: Vec<String> = w.iter().map(|s| s.to_string()).collect();
            assert!(
                lookup(&args).is_none_or(|(e, _)| e.words.len() < w.len()),
                "{w:?} is implemented"
            );
        }
    }

    #[test]
    fn usage_lists_top_level_commands() {
        let u = usage();
        assert!(u.contains("    members        Lists the members of a Consul cluster\n"));
        assert!(!u.contains("list-peers"));
        assert!(parent_usage(&["kv"]).contains("    put       Sets"));
        let acl = parent_usage(&["acl"]);
        assert!(
            acl.contains("\n    bootstrap          Bootstrap Consul's ACL system\n")
                && acl.contains("\n    set-agent-token    Assign tokens"),
            "{acl}"
        );
    }
}
