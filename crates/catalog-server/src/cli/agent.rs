//! `consul agent`: the agent's flags (spec §3.1) turned into a config layer, merged with
//! config files into one validated [`Config`](crate::config::Config), then handed to
//! [`crate::agent::run`] on a multi-threaded runtime. Config errors print `==> <message>`
//! and exit 1, like Consul.

use super::goflags;
use crate::config::{self, Sources};
use clap::Parser;
use serde_json::{json, Map, Value};

const USAGE: &str = "Usage: consul agent [options]\n\n  Starts the Consul agent and runs until an interrupt is received. The\n  agent represents a single node in a cluster.";

/// The flags of `consul agent`.
#[derive(Parser, Debug, Default)]
pub struct AgentFlags {
    #[arg(long, value_parser = goflags::go_bool)]
    server: Option<bool>,
    #[arg(long, value_parser = goflags::go_bool)]
    bootstrap: Option<bool>,
    #[arg(long = "bootstrap-expect")]
    bootstrap_expect: Option<i64>,
    #[arg(long, value_parser = goflags::go_bool)]
    ui: Option<bool>,
    #[arg(long = "ui-content-path")]
    ui_content_path: Option<String>,
    #[arg(long = "ui-dir")]
    ui_dir: Option<String>,
    #[arg(long = "data-dir")]
    data_dir: Option<String>,
    #[arg(long)]
    bind: Option<String>,
    #[arg(long)]
    advertise: Option<String>,
    #[arg(long = "advertise-wan")]
    advertise_wan: Option<String>,
    #[arg(long)]
    client: Option<String>,
    #[arg(long)]
    node: Option<String>,
    #[arg(long = "node-id")]
    node_id: Option<String>,
    #[arg(long = "node-meta")]
    node_meta: Vec<String>,
    #[arg(long)]
    datacenter: Option<String>,
    #[arg(long, value_parser = goflags::go_bool)]
    dev: Option<bool>,
    #[arg(long = "http-port")]
    http_port: Option<i32>,
    #[arg(long = "https-port")]
    https_port: Option<i32>,
    #[arg(long = "dns-port")]
    dns_port: Option<i32>,
    #[arg(long = "grpc-port")]
    grpc_port: Option<i32>,
    #[arg(long = "grpc-tls-port")]
    grpc_tls_port: Option<i32>,
    #[arg(long = "server-port")]
    server_port: Option<i32>,
    #[arg(long = "serf-lan-port")]
    serf_lan_port: Option<i32>,
    #[arg(long = "serf-wan-port")]
    serf_wan_port: Option<i32>,
    #[arg(long = "config-file", alias = "config-dir")]
    config_file: Vec<String>,
    #[arg(long = "config-format")]
    config_format: Option<String>,
    #[arg(long = "log-level")]
    log_level: Option<String>,
    #[arg(long = "log-json", value_parser = goflags::go_bool)]
    log_json: Option<bool>,
    #[arg(long = "log-file")]
    log_file: Option<String>,
    #[arg(long = "enable-script-checks", value_parser = goflags::go_bool)]
    enable_script_checks: Option<bool>,
    #[arg(long = "enable-local-script-checks", value_parser = goflags::go_bool)]
    enable_local_script_checks: Option<bool>,
    #[arg(long)]
    join: Vec<String>,
    #[arg(long = "retry-join")]
    retry_join: Vec<String>,
    #[arg(long = "join-wan")]
    join_wan: Vec<String>,
    #[arg(long = "retry-join-wan")]
    retry_join_wan: Vec<String>,
    #[arg(long = "retry-interval")]
    retry_interval: Option<String>,
    #[arg(long = "retry-max")]
    retry_max: Option<i64>,
    #[arg(long = "pid-file")]
    pid_file: Option<String>,
    #[arg(long)]
    encrypt: Option<String>,
    #[arg(long)]
    domain: Option<String>,
    #[arg(long = "alt-domain")]
    alt_domain: Option<String>,
    #[arg(long)]
    recursor: Vec<String>,
    #[arg(long)]
    hcl: Vec<String>,
    #[arg(long = "default-query-time")]
    default_query_time: Option<String>,
    #[arg(long = "max-query-time")]
    max_query_time: Option<String>,
    #[arg(long = "raft-protocol")]
    raft_protocol: Option<i64>,
    #[arg(long)]
    protocol: Option<i64>,
    #[arg(long, value_parser = goflags::go_bool)]
    rejoin: Option<bool>,
    #[arg(long = "disable-host-node-id", value_parser = goflags::go_bool)]
    disable_host_node_id: Option<bool>,
    #[arg(long = "disable-keyring-file", value_parser = goflags::go_bool)]
    disable_keyring_file: Option<bool>,
    #[arg(long = "auto-reload-config", value_parser = goflags::go_bool)]
    auto_reload_config: Option<bool>,
    #[arg(long = "serf-lan-bind")]
    serf_lan_bind: Option<String>,
    #[arg(long = "serf-wan-bind")]
    serf_wan_bind: Option<String>,
    #[arg(long)]
    syslog: bool,
    args: Vec<String>,
}

impl AgentFlags {
    /// The command line as config sources: paths, snippets and the flags as a config layer.
    pub fn sources(&self) -> Result<Sources, String> {
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
        put("domain", self.domain.clone().map(Value::from));
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
    match rt.block_on(crate::agent::run(config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("==> {e:#}");
            1
        }
    }
}
