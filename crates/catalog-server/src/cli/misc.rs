//! The small agent-control commands: `join`, `leave`, `force-leave` and `reload`, each one
//! `PUT /v1/agent/...` call with Consul's messages.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use clap::Parser;

#[derive(Parser, Debug)]
struct JoinFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Joins a server to another server in the WAN pool.
    #[arg(long, help_heading = goflags::REFUSED)]
    wan: bool,
    args: Vec<String>,
}

const JOIN_USAGE: &str = "Usage: consul join [options] address ...\n\n  Tells a running Consul agent (with \"consul agent\") to join the cluster\n  by specifying at least one existing member.";

/// Runs `consul join ADDR...`.
pub fn run_join(args: &[String]) -> i32 {
    let flags: JoinFlags = match goflags::parse("join", JOIN_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.args.is_empty() {
        eprintln!("At least one address to join must be specified.\n");
        eprintln!("{JOIN_USAGE}");
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        let mut joins = 0;
        for addr in &flags.args {
            match client.agent_join(addr, flags.wan).await {
                Ok(()) => joins += 1,
                Err(e) => eprintln!("Error joining address '{addr}': {e}"),
            }
        }
        if joins == 0 {
            eprintln!("Failed to join any nodes.");
            return 1;
        }
        println!("Successfully joined cluster by contacting {joins} nodes.");
        0
    })
}

#[derive(Parser, Debug)]
struct PlainFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

const LEAVE_USAGE: &str = "Usage: consul leave [options]\n\n  Causes the agent to gracefully leave the Consul cluster and shutdown.";

/// Runs `consul leave`.
pub fn run_leave(args: &[String]) -> i32 {
    let flags: PlainFlags = match goflags::parse("leave", LEAVE_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Error found unexpected args: [{}]", flags.args.join(" "));
        println!("{LEAVE_USAGE}");
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        match client.agent_leave().await {
            Ok(()) => {
                println!("Graceful leave complete");
                0
            }
            Err(e) => {
                eprintln!("Error leaving: {e}");
                1
            }
        }
    })
}

#[derive(Parser, Debug)]
struct ForceLeaveFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Remove agent forcibly from list of members (refused: a force-left member stays listed as left until it is reaped).
    #[arg(long)]
    prune: bool,
    /// Exclusively leave the agent from the WAN serf pool.
    #[arg(long, help_heading = goflags::REFUSED)]
    wan: bool,
    args: Vec<String>,
}

const FORCE_LEAVE_USAGE: &str = "Usage: consul force-leave [options] name\n\n  Forces a member of a Consul cluster to enter the \"left\" state.";

/// Runs `consul force-leave NODE`.
pub fn run_force_leave(args: &[String]) -> i32 {
    let flags: ForceLeaveFlags = match goflags::parse("force-leave", FORCE_LEAVE_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.args.len() != 1 {
        eprintln!("A single node name must be specified to force leave.\n");
        eprintln!("{FORCE_LEAVE_USAGE}");
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        match client
            .agent_force_leave(&flags.args[0], flags.prune, flags.wan)
            .await
        {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("Error force leaving: {e}");
                1
            }
        }
    })
}

const RELOAD_USAGE: &str = "Usage: consul reload\n\n  Causes the agent to reload configurations.";

/// Runs `consul reload`.
pub fn run_reload(args: &[String]) -> i32 {
    let flags: PlainFlags = match goflags::parse("reload", RELOAD_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        match client.agent_reload().await {
            Ok(()) => {
                println!("Configuration reload triggered");
                0
            }
            Err(e) => {
                eprintln!("Error reloading: {e}");
                1
            }
        }
    })
}

#[derive(Parser, Debug)]
struct KeygenFlags {
    args: Vec<String>,
}

const KEYGEN_USAGE: &str = "Usage: consul keygen\n\n  Generates a new encryption key that can be used to configure the\n  agent to encrypt traffic. The output of this command is already\n  in the proper format that the agent expects.";

/// Runs `consul keygen`: a random 32-byte gossip encryption key, base64 (Consul's format).
pub fn run_keygen(args: &[String]) -> i32 {
    let flags: KeygenFlags = match goflags::parse("keygen", KEYGEN_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !flags.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", flags.args.len());
        return 1;
    }
    println!("{}", gossip::keygen());
    0
}

#[derive(Parser, Debug)]
struct MaintFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Enable maintenance mode.
    #[arg(long)]
    enable: bool,
    /// Disable maintenance mode.
    #[arg(long)]
    disable: bool,
    /// Text describing the maintenance reason.
    #[arg(long, default_value = "")]
    reason: String,
    /// Control maintenance mode for a specific service ID.
    #[arg(long, default_value = "")]
    service: String,
    args: Vec<String>,
}

const MAINT_USAGE: &str = "Usage: consul maint [options]\n\n  Places a node or service into maintenance mode. During maintenance mode,\n  the node or service will be excluded from all queries through the DNS\n  or API interfaces, effectively taking it out of the pool of available\n  nodes. This is done by registering an additional critical health check.\n\n  When enabling maintenance mode for a node or service, you may optionally\n  specify a reason string. This string will appear in the \"Notes\" field\n  of the critical health check which is registered against the node or\n  service. If no reason is provided, a default value will be used.\n\n  Maintenance mode is persistent, and will be restored in the event of an\n  agent restart. It is therefore required to disable maintenance mode on\n  a given node or service before it will be placed back into the pool.\n\n  By default, we operate on the node as a whole. By specifying the\n  \"-service\" argument, this behavior can be changed to enable or disable\n  only a specific service.\n\n  If no arguments are given, the agent's maintenance status will be shown.\n  This will return blank if nothing is currently under maintenance.";

/// Runs `consul maint`: lists, enables or disables node or service maintenance mode.
pub fn run_maint(args: &[String]) -> i32 {
    let f: MaintFlags = match goflags::parse("maint", MAINT_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !f.args.is_empty() {
        eprintln!("Too many arguments (expected 0, got {})", f.args.len());
        return 1;
    }
    if f.enable && f.disable {
        eprintln!("Only one of -enable or -disable may be provided");
        return 1;
    }
    if !f.enable && !f.reason.is_empty() {
        eprintln!("Reason may only be provided with -enable");
        return 1;
    }
    if !f.enable && !f.disable && !f.service.is_empty() {
        eprintln!("Service requires either -enable or -disable");
        return 1;
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::block_on(async move {
        let node = match client.agent_self().await {
            Ok((v, _)) => v["Config"]["NodeName"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            Err(e) => {
                eprintln!("Error querying Consul agent: {e}");
                return 1;
            }
        };
        if !f.enable && !f.disable {
            let checks = match client.agent_checks(&Default::default()).await {
                Ok((c, _)) => c,
                Err(e) => {
                    eprintln!("Error getting checks: {e}");
                    return 1;
                }
            };
            for c in checks.values() {
                if c.check_id == "_node_maintenance" {
                    println!("Node:\n  Name:   {node}\n  Reason: {}\n", c.notes);
                } else if c.check_id.starts_with("_service_maintenance:") {
                    println!(
                        "Service:\n  ID:     {}\n  Reason: {}\n",
                        c.service_id, c.notes
                    );
                }
            }
            return 0;
        }
        let (what, done) = match (f.enable, f.service.is_empty()) {
            (true, true) => (
                "enabling node",
                "Node maintenance is now enabled".to_string(),
            ),
            (false, true) => (
                "disabling node",
                "Node maintenance is now disabled".to_string(),
            ),
            (true, false) => (
                "enabling service",
                format!(
                    "Service maintenance is now enabled for {}",
                    api_types::go_quote(&f.service)
                ),
            ),
            (false, false) => (
                "disabling service",
                format!(
                    "Service maintenance is now disabled for {}",
                    api_types::go_quote(&f.service)
                ),
            ),
        };
        let r = if f.service.is_empty() {
            client.node_maintenance(f.enable, &f.reason).await
        } else {
            client
                .service_maintenance(&f.service, f.enable, &f.reason)
                .await
        };
        match r {
            Ok(()) => {
                println!("{done}");
                0
            }
            Err(e) => {
                eprintln!("Error {what} maintenance: {e}");
                1
            }
        }
    })
}

#[derive(Parser, Debug)]
struct EventFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Name of the event.
    #[arg(long, default_value = "")]
    name: String,
    /// Regular expression to filter on node names.
    #[arg(long, default_value = "")]
    node: String,
    /// Regular expression to filter on service instances.
    #[arg(long, default_value = "")]
    service: String,
    /// Regular expression to filter on service tags. Must be used with -service.
    #[arg(long, default_value = "")]
    tag: String,
    args: Vec<String>,
}

const EVENT_USAGE: &str = "Usage: consul event [options] [payload]\n\n  Dispatches a custom user event across a datacenter. An event must provide\n  a name, but a payload is optional. Events support filtering using\n  regular expressions on node name, service, and tag definitions.";

/// Runs `consul event`: fires a user event through the agent; prints its ID.
pub fn run_event(args: &[String]) -> i32 {
    let f: EventFlags = match goflags::parse("event", EVENT_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if f.name.is_empty() {
        eprintln!("Event name must be specified\n\n{EVENT_USAGE}");
        return 1;
    }
    for (what, re) in [("node", &f.node), ("service", &f.service), ("tag", &f.tag)] {
        if let Err(e) = regex::Regex::new(re) {
            eprintln!("Failed to compile {what} filter regexp: {e}");
            return 1;
        }
    }
    if !f.tag.is_empty() && f.service.is_empty() {
        eprintln!("Cannot provide tag filter without service filter.");
        return 1;
    }
    let payload = match f.args.as_slice() {
        [] => Vec::new(),
        [p] => p.clone().into_bytes(),
        _ => {
            eprintln!("Too many command line arguments.\n\n{EVENT_USAGE}");
            return 1;
        }
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::block_on(async move {
        if let Err(e) = client.agent_self().await {
            eprintln!("Error querying Consul agent: {e}");
            return 1;
        }
        let filters = [
            ("node", f.node.as_str()),
            ("service", f.service.as_str()),
            ("tag", f.tag.as_str()),
        ];
        match client.event_fire(&f.name, payload, filters).await {
            Ok(id) => {
                println!("Event ID: {id}");
                0
            }
            Err(e) => {
                eprintln!("Error firing event: {e}");
                1
            }
        }
    })
}

#[derive(Parser, Debug)]
struct RttFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Use WAN coordinates instead of LAN coordinates.
    #[arg(long)]
    wan: bool,
    args: Vec<String>,
}

const RTT_USAGE: &str = "Usage: consul rtt [options] node1 [node2]\n\n  Estimates the round trip time between two nodes using Consul's network\n  coordinate model of the cluster.\n\n  At least one node name is required. If the second node name isn't given, it\n  is set to the agent's node name. Note that these are node names as known to\n  Consul as \"consul members\" would show, not IP addresses.\n\n  By default, the two nodes are assumed to be nodes in the local datacenter\n  and the LAN coordinates are used. If the -wan option is given, then the WAN\n  coordinates are used, and the node names must be suffixed by a period and\n  the datacenter (eg. \"myserver.dc1\").";

/// Runs `consul rtt`: the estimated round trip between two nodes' LAN coordinates (the
/// second defaults to the agent's node), or between servers' with `-wan`.
pub fn run_rtt(args: &[String]) -> i32 {
    let f: RttFlags = match goflags::parse("rtt", RTT_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if f.args.is_empty() || f.args.len() > 2 {
        eprintln!("One or two node names must be specified\n\n{RTT_USAGE}");
        return 1;
    }
    let wan = f.wan;
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::block_on(async move {
        let mut nodes = f.args.clone();
        if nodes.len() < 2 {
            match client.agent_self().await {
                Ok((v, _)) => {
                    let node = v["Config"]["NodeName"].as_str().unwrap_or_default();
                    let dc = v["Config"]["Datacenter"].as_str().unwrap_or_default();
                    nodes.push(if wan {
                        format!("{node}.{dc}")
                    } else {
                        node.to_string()
                    });
                }
                Err(e) => {
                    eprintln!("Unable to look up agent info: {e}");
                    return 1;
                }
            }
        }
        let (path, source) = if wan {
            if nodes.iter().any(|n| n.split('.').count() != 2) {
                eprintln!("Node names must be specified as <node name>.<datacenter> with -wan");
                return 1;
            }
            ("/v1/coordinate/datacenters", "WAN")
        } else {
            ("/v1/coordinate/nodes", "LAN")
        };
        let listed = match client.agent_get_value(path, &Default::default()).await {
            Ok((v, _)) => v,
            Err(e) => {
                eprintln!("Error getting coordinates: {e}");
                return 1;
            }
        };
        let entries: Vec<serde_json::Value> = if wan {
            listed
                .as_array()
                .into_iter()
                .flatten()
                // The datacenters endpoint names nodes without their `.<dc>` suffix, which
                // -wan names carry.
                .flat_map(|dc| {
                    let name = dc["Datacenter"].as_str().unwrap_or_default().to_string();
                    let coords = dc["Coordinates"].as_array().cloned().unwrap_or_default();
                    coords.into_iter().map(move |mut e| {
                        let node = format!("{}.{name}", e["Node"].as_str().unwrap_or_default());
                        e["Node"] = serde_json::Value::String(node);
                        e
                    })
                })
                .collect()
        } else {
            listed.as_array().cloned().unwrap_or_default()
        };
        let find = |name: &str| {
            entries
                .iter()
                .find(|e| {
                    e["Node"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .and_then(|e| {
                    serde_json::from_value::<crate::catalog::coordinate::Coord>(e["Coord"].clone())
                        .ok()
                })
        };
        let (Some(c1), Some(c2)) = (find(&nodes[0]), find(&nodes[1])) else {
            let missing = if find(&nodes[0]).is_none() {
                &nodes[0]
            } else {
                &nodes[1]
            };
            eprintln!(
                "Could not find a coordinate for node {}",
                api_types::go_quote(missing)
            );
            return 1;
        };
        println!(
            "Estimated {} <-> {} rtt: {:.3} ms (using {source} coordinates)",
            nodes[0],
            nodes[1],
            c1.distance_to(&c2) * 1000.0
        );
        0
    })
}
