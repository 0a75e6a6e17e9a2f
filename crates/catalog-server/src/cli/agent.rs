//! `consul agent`: the agent's flags (spec §3.1) turned into a config layer, merged with
//! config files into one validated [`Config`](crate::config::Config), then handed to
//! [`crate::lifecycle::run`] on a multi-threaded runtime. Config errors print `==> <message>`
//! and exit 1, like Consul.

use super::goflags;
use crate::config::{self, Sources};
use clap::Parser;
use serde_json::{json, Map, Value};

const USAGE: &str = "Usage: consul agent [options]\n\n  Starts the Consul agent and runs until an interrupt is received. The\n  agent represents a single node in a cluster.";

/// The flags of `consul agent`.
#[derive(Parser, Debug, Default)]
pub struct AgentFlags {
    /// Switches agent to server mode.
    #[arg(long, value_parser = goflags::go_bool)]
    server: Option<bool>,
    /// Sets server to bootstrap mode (elects itself leader).
    #[arg(long, value_parser = goflags::go_bool)]
    bootstrap: Option<bool>,
    /// Sets server to expect bootstrap mode: waits for this many servers before electing a leader.
    #[arg(long = "bootstrap-expect")]
    bootstrap_expect: Option<i64>,
    /// Enables the built-in static web UI server.
    #[arg(long, value_parser = goflags::go_bool)]
    ui: Option<bool>,
    /// Sets the external UI path to a string. Defaults to: /ui/.
    #[arg(long = "ui-content-path")]
    ui_content_path: Option<String>,
    /// Path to directory containing the web UI resources.
    #[arg(long = "ui-dir", help_heading = goflags::REFUSED)]
    ui_dir: Option<String>,
    /// Path to a data directory to store agent state.
    #[arg(long = "data-dir")]
    data_dir: Option<String>,
    /// Sets the bind address for cluster communication (the server port, Raft over HTTP).
    #[arg(long)]
    bind: Option<String>,
    /// Sets the advertise address to use.
    #[arg(long)]
    advertise: Option<String>,
    /// Sets address to advertise on WAN instead of -advertise address.
    #[arg(long = "advertise-wan", help_heading = goflags::REFUSED)]
    advertise_wan: Option<String>,
    /// Sets the address to bind for client access (the HTTP API).
    #[arg(long)]
    client: Option<String>,
    /// Name of this node. Must be unique in the cluster.
    #[arg(long)]
    node: Option<String>,
    /// A unique ID for this node across space and time. Defaults to a randomly-generated ID persisted in the data-dir.
    #[arg(long = "node-id")]
    node_id: Option<String>,
    /// An arbitrary metadata key/value pair for this node, of the format `key:value`. Can be specified multiple times.
    #[arg(long = "node-meta")]
    node_meta: Vec<String>,
    /// Datacenter of the agent.
    #[arg(long)]
    datacenter: Option<String>,
    /// Starts the agent in development mode: a server with its state in a temporary directory.
    #[arg(long, value_parser = goflags::go_bool)]
    dev: Option<bool>,
    /// Sets the HTTP API port to listen on (-1 disables it).
    #[arg(long = "http-port")]
    http_port: Option<i32>,
    /// Sets the HTTPS API port to listen on (only -1, disabled, is accepted: no HTTPS listener here).
    #[arg(long = "https-port")]
    https_port: Option<i32>,
    /// DNS port to use (-1 disables the DNS interface).
    #[arg(long = "dns-port")]
    dns_port: Option<i32>,
    /// Sets the gRPC API port to listen on (only -1, disabled, is accepted: no gRPC listener here).
    #[arg(long = "grpc-port")]
    grpc_port: Option<i32>,
    /// Sets the gRPC-TLS API port to listen on.
    #[arg(long = "grpc-tls-port", help_heading = goflags::REFUSED)]
    grpc_tls_port: Option<i32>,
    /// Sets the server port: Raft, joins and forwarded requests, over HTTP (default 8300).
    #[arg(long = "server-port")]
    server_port: Option<i32>,
    /// Sets the Serf LAN port members report (no gossip listener here; the banner prints -1).
    #[arg(long = "serf-lan-port")]
    serf_lan_port: Option<i32>,
    /// Sets the Serf WAN port members report (no gossip listener here; the banner prints -1).
    #[arg(long = "serf-wan-port")]
    serf_wan_port: Option<i32>,
    /// Path to a JSON or HCL file, or a directory of such files, to load (-config-dir is the same). Can be specified multiple times.
    #[arg(long = "config-file", alias = "config-dir")]
    config_file: Vec<String>,
    /// Config files are in this format irrespective of their extension. Must be 'hcl' or 'json'.
    #[arg(long = "config-format")]
    config_format: Option<String>,
    /// Log level of the agent: trace, debug, info, warn or error.
    #[arg(long = "log-level")]
    log_level: Option<String>,
    /// Output logs in JSON format.
    #[arg(long = "log-json", value_parser = goflags::go_bool)]
    log_json: Option<bool>,
    /// Path to the file the logs get written to.
    #[arg(long = "log-file", help_heading = goflags::REFUSED)]
    log_file: Option<String>,
    /// Enables health check scripts.
    #[arg(long = "enable-script-checks", value_parser = goflags::go_bool)]
    enable_script_checks: Option<bool>,
    /// Enables health check scripts from configuration file.
    #[arg(long = "enable-local-script-checks", value_parser = goflags::go_bool)]
    enable_local_script_checks: Option<bool>,
    /// Address of an agent to join at start time. Can be specified multiple times.
    #[arg(long)]
    join: Vec<String>,
    /// Address of an agent to join at start time with retries enabled. Can be specified multiple times.
    #[arg(long = "retry-join")]
    retry_join: Vec<String>,
    /// Address of an agent to join -wan at start time. Can be specified multiple times.
    #[arg(long = "join-wan", help_heading = goflags::REFUSED)]
    join_wan: Vec<String>,
    /// Address of an agent to join -wan at start time with retries enabled. Can be specified multiple times.
    #[arg(long = "retry-join-wan", help_heading = goflags::REFUSED)]
    retry_join_wan: Vec<String>,
    /// Time to wait between join attempts (a Go duration, e.g. 30s).
    #[arg(long = "retry-interval")]
    retry_interval: Option<String>,
    /// Maximum number of join attempts. Defaults to 0, which will retry indefinitely.
    #[arg(long = "retry-max")]
    retry_max: Option<i64>,
    /// Path to file to store agent PID.
    #[arg(long = "pid-file")]
    pid_file: Option<String>,
    /// Provides the gossip encryption key.
    #[arg(long)]
    encrypt: Option<String>,
    /// Domain to use for DNS interface.
    #[arg(long)]
    domain: Option<String>,
    /// Alternate domain to use for DNS interface.
    #[arg(long = "alt-domain")]
    alt_domain: Option<String>,
    /// Address of an upstream DNS server. Can be specified multiple times.
    #[arg(long)]
    recursor: Vec<String>,
    /// hcl config fragment. Can be specified multiple times.
    #[arg(long)]
    hcl: Vec<String>,
    /// The amount of time a blocking query will wait before Consul will force a response.
    #[arg(long = "default-query-time")]
    default_query_time: Option<String>,
    /// The maximum amount of time a blocking query can wait before Consul will force a response.
    #[arg(long = "max-query-time")]
    max_query_time: Option<String>,
    /// Sets the Raft protocol version. Defaults to latest.
    #[arg(long = "raft-protocol")]
    raft_protocol: Option<i64>,
    /// Sets the protocol version. Defaults to latest.
    #[arg(long, help_heading = goflags::REFUSED)]
    protocol: Option<i64>,
    /// Ignores a previous leave and attempts to rejoin the cluster.
    #[arg(long, value_parser = goflags::go_bool)]
    rejoin: Option<bool>,
    /// Setting this to true will prevent Consul from using information from the host to generate a node ID.
    #[arg(long = "disable-host-node-id", value_parser = goflags::go_bool)]
    disable_host_node_id: Option<bool>,
    /// Disables the backing up of the keyring to a file (there is no keyring here; accepted as true to its meaning).
    #[arg(long = "disable-keyring-file", value_parser = goflags::go_bool)]
    disable_keyring_file: Option<bool>,
    /// Watches config files for changes and auto reloads the files when modified.
    #[arg(long = "auto-reload-config", value_parser = goflags::go_bool, help_heading = goflags::REFUSED)]
    auto_reload_config: Option<bool>,
    /// Address to bind Serf LAN listeners to.
    #[arg(long = "serf-lan-bind")]
    serf_lan_bind: Option<String>,
    /// Address to bind Serf WAN listeners to.
    #[arg(long = "serf-wan-bind", help_heading = goflags::REFUSED)]
    serf_wan_bind: Option<String>,
    /// Enables logging to syslog.
    #[arg(long, help_heading = goflags::REFUSED)]
    syslog: bool,
    args: Vec<String>,
}

impl AgentFlags {
    /// The command line as config sources: paths, snippets and the flags as a config layer.
    pub fn sources(&self) -> Result<Sources, String> {
        // Listeners this consul does not have: only "disabled" is the truth.
        if let Some(p) = self.grpc_port.filter(|p| *p >= 0) {
            return Err(format!(
                "-grpc-port={p}: not implemented by this consul (no such listener); only -grpc-port=-1 is accepted"
            ));
        }
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("server", self.server.map(Value::from));
        put("bootstrap", self.bootstrap.map(Value::from));
        put("bootstrap_expect", self.bootstrap_expect.map(Value::from));
        put("data_dir", self.data_dir.clone().map(Value::from));
        put("bind_addr", self.bind.clone().map(Value::from));
        put("advertise_addr", self.advertise.clone().map(Value::from));
        put("client_addr", self.client.clone().map(Value::from));
        put("node_name", self.node.clone().map(Value::from));
        put("node_id", self.node_id.clone().map(Value::from));
        put("datacenter", self.datacenter.clone().map(Value::from));
        put("log_level", self.log_level.clone().map(Value::from));
        put("log_json", self.log_json.map(Value::from));
        put(
            "enable_script_checks",
            self.enable_script_checks.map(Value::from),
        );
        put(
            "enable_local_script_checks",
            self.enable_local_script_checks.map(Value::from),
        );
        put(
            "retry_interval",
            self.retry_interval.clone().map(Value::from),
        );
        put("retry_max", self.retry_max.map(Value::from));
        put("pid_file", self.pid_file.clone().map(Value::from));
        put("encrypt", self.encrypt.clone().map(Value::from));
        put("serf_lan", self.serf_lan_bind.clone().map(Value::from));
        put("domain", self.domain.clone().map(Value::from));
        put("alt_domain", self.alt_domain.clone().map(Value::from));
        put(
            "default_query_time",
            self.default_query_time.clone().map(Value::from),
        );
        put(
            "max_query_time",
            self.max_query_time.clone().map(Value::from),
        );
        put("raft_protocol", self.raft_protocol.map(Value::from));
        put("rejoin_after_leave", self.rejoin.map(Value::from));
        put(
            "disable_host_node_id",
            self.disable_host_node_id.map(Value::from),
        );
        let join: Vec<Value> = self
            .join
            .iter()
            .chain(&self.retry_join)
            .cloned()
            .map(Value::from)
            .collect();
        put(
            "retry_join",
            (!join.is_empty()).then_some(Value::Array(join)),
        );
        let recursors: Vec<Value> = self.recursor.iter().cloned().map(Value::from).collect();
        put(
            "recursors",
            (!recursors.is_empty()).then_some(Value::Array(recursors)),
        );
        let mut meta = Map::new();
        for kv in &self.node_meta {
            let (k, v) = kv
                .split_once(':')
                .ok_or_else(|| format!("Error parsing node metadata: key/value pair {kv:?} must be of the form key:value"))?;
            meta.insert(k.to_string(), Value::from(v));
        }
        put(
            "node_meta",
            (!meta.is_empty()).then_some(Value::Object(meta)),
        );
        let mut ports = Map::new();
        for (k, v) in [
            ("http", self.http_port),
            ("https", self.https_port),
            ("dns", self.dns_port),
            ("grpc", self.grpc_port),
            ("server", self.server_port),
            ("serf_lan", self.serf_lan_port),
            ("serf_wan", self.serf_wan_port),
        ] {
            if let Some(p) = v {
                ports.insert(k.to_string(), json!(p));
            }
        }
        put("ports", (!ports.is_empty()).then_some(Value::Object(ports)));
        let mut ui = Map::new();
        if let Some(u) = self.ui {
            ui.insert("enabled".into(), json!(u));
        }
        if let Some(p) = &self.ui_content_path {
            ui.insert("content_path".into(), json!(p));
        }
        put("ui_config", (!ui.is_empty()).then_some(Value::Object(ui)));
        if self.ui == Some(true) && self.ui_dir.is_some() {
            return Err("Both the ui_config.enabled and ui_config.dir (or -ui and -ui-dir) were specified, please provide only one.".into());
        }
        Ok(Sources {
            dev: self.dev.unwrap_or(false),
            config_paths: self.config_file.iter().map(Into::into).collect(),
            config_format: self.config_format.clone(),
            hcl: self.hcl.clone(),
            flags: Value::Object(m),
        })
    }
}

/// Parses the agent's argv into a validated config, or the `==> ` message.
pub fn config_from_args(args: &[String]) -> Result<Result<config::Config, String>, i32> {
    let flags: AgentFlags = goflags::parse("agent", USAGE, args)?;
    if !flags.args.is_empty() {
        return Ok(Err(format!("Unexpected extra arguments: {:?}", flags.args)));
    }
    Ok(flags
        .sources()
        .and_then(|s| config::load(&s).map_err(|e| e.to_string())))
}

/// Runs `consul agent`.
pub fn run(args: &[String]) -> i32 {
    let config = match config_from_args(args) {
        Err(code) => return code,
        Ok(Err(msg)) => {
            eprintln!("==> {msg}");
            return 1;
        }
        Ok(Ok(c)) => c,
    };
    crate::logging::init(&config.log_level, config.log_json);
    // As Go's: this line, then either the agent's details or why it could not start.
    println!("==> Starting Consul agent...");
    // Before any other thread: the handed-over sockets come with environment variables.
    let listeners = match crate::listeners::Listeners::open(&config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("==> {e}");
            return 1;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("==> Error starting runtime: {e}");
            return 1;
        }
    };
    let result = rt.block_on(async {
        let shutdown = crate::lifecycle::signals();
        crate::lifecycle::run(config, listeners, shutdown).await
    });
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("==> {e:#}");
            1
        }
    };
    // `run` has awaited what it started; after a failed start, work still queued on the
    // blocking pool must not hold the exit (dropping a runtime waits for it).
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
