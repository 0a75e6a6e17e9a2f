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
    /// Remove agent forcibly from list of members (force-leave always does here: it removes the server from the Raft configuration).
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
