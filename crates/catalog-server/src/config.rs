//! The agent's configuration: command-line flags, config files (JSON and HCL, `-config-file`
//! and `-config-dir`) and defaults resolved once into one validated [`Config`] before anything
//! binds. Precedence: flag > config file (later files over earlier) > `-dev` defaults >
//! default. Loading lives in [`files`] (read, decode, merge JSON/HCL layers) and [`resolve`]
//! (merged layer → validated [`Config`], with Consul's error texts).

pub mod acl;
mod autopilot;
mod dns;
mod files;
mod gossip;
mod resolve;
mod support;
mod tls;

pub use acl::AclConfig;
pub use autopilot::AutopilotSettings;
pub use dns::{DnsConfig, Soa};
pub use files::{load_layers, merge, parse_layer, ConfigError, Format};
pub use gossip::GossipConfig;
pub use resolve::{load, resolve, Sources};
pub use tls::{ListenerTls, OutgoingTls, RpcTls};

use api_types::{CheckRegistration, ServiceRegistration};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The listening ports (`ports {}` / `-*-port`); -1 disables a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    pub http: i32,
    pub https: i32,
    pub dns: i32,
    pub server: i32,
    pub serf_lan: i32,
    pub serf_wan: i32,
    pub grpc: i32,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: 8500,
            https: -1,
            dns: 8600,
            server: 8300,
            serf_lan: 8301,
            serf_wan: 8302,
            grpc: -1,
        }
    }
}

/// Everything `consul agent` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: bool,
    pub bootstrap: bool,
    pub bootstrap_expect: u32,
    pub dev: bool,
    pub ui: bool,
    /// `None` only with `-dev` (state kept in a temporary directory removed at exit).
    pub data_dir: Option<PathBuf>,
    pub bind_addr: IpAddr,
    pub advertise_addr: IpAddr,
    pub client_addrs: Vec<IpAddr>,
    pub node_name: String,
    pub node_id: Option<String>,
    pub node_meta: BTreeMap<String, String>,
    pub datacenter: String,
    pub ports: Ports,
    /// One of `trace debug info warn error`, lower-cased.
    pub log_level: String,
    pub log_json: bool,
    pub enable_script_checks: bool,
    pub enable_local_script_checks: bool,
    pub retry_join: Vec<String>,
    pub retry_interval: Duration,
    pub retry_max: u32,
    pub pid_file: Option<PathBuf>,
    pub default_query_time: Duration,
    pub max_query_time: Duration,
    pub kv_max_value_size: usize,
    /// `limits.txn_max_req_len`: the largest `PUT /v1/txn` body.
    pub txn_max_req_len: usize,
    /// `limits.http_max_conns_per_client`: open client-API connections allowed per source IP
    /// (0: no cap); the next one is answered 429 and closed.
    pub http_max_conns_per_client: u32,
    /// `limits.https_handshake_timeout`: how long a client-API connection may take to deliver
    /// a request's line and headers (after connecting, or from the first byte of a later
    /// request). We serve the API over plain HTTP, where this is the handshake.
    pub http_handshake_timeout: Duration,
    /// `limits.rpc_handshake_timeout`: the same on the server port.
    pub rpc_handshake_timeout: Duration,
    pub session_ttl_min: Duration,
    /// The HTTPS listener's certificate and client verification (`ports.https` ≥ 0).
    pub https_tls: Option<ListenerTls>,
    /// The server port's TLS (`tls.internal_rpc`, `verify_outgoing`, ...).
    pub rpc_tls: RpcTls,
    /// ACL enforcement (`acl.enabled`), `None` when off.
    pub acl: Option<AclConfig>,
    /// The DNS interface (`ports.dns` ≥ 0): domain, addresses, `dns_config`.
    pub dns: DnsConfig,
    /// The LAN gossip pool on `ports.serf_lan`: bind address, key, tuning.
    pub gossip: GossipConfig,
    /// The `telemetry` block's implemented keys (`/v1/agent/metrics`).
    pub telemetry: crate::telemetry::Settings,
    /// The `autopilot` block: the leader's initial autopilot configuration.
    pub autopilot: AutopilotSettings,
    /// The addresses the HTTPS listener binds (`addresses.https`, else the client addresses).
    pub https_addrs: Vec<IpAddr>,
    /// `service {}` / `services []` definitions from config files.
    pub services: Vec<ServiceRegistration>,
    /// `check {}` / `checks []` definitions from config files.
    pub checks: Vec<CheckRegistration>,
    /// Where this config was read from, for `consul reload`.
    pub sources: Sources,
    pub leave_on_terminate: bool,
    pub skip_leave_on_interrupt: bool,
    /// Raft timing (`raft_multiplier` scales Consul's defaults; 1 = production).
    pub raft_multiplier: u32,
    /// Entries applied since the last snapshot that trigger a new one (`raft_snapshot_threshold`).
    pub raft_snapshot_threshold: u64,
    /// Entries kept in the log behind a snapshot, for slow followers (`raft_trailing_logs`).
    pub raft_trailing_logs: u64,
    /// Addresses the HTTP listener binds: `addresses { http }`, else the client addresses.
    pub http_addrs: Vec<IpAddr>,
    /// Where the UI is served (`ui_config.content_path`, `-ui-content-path`), with slashes.
    pub ui_content_path: String,
    /// `-rejoin` / `rejoin_after_leave`.
    pub rejoin_after_leave: bool,
    /// `-disable-host-node-id` (default true: random node IDs).
    pub disable_host_node_id: bool,
    /// `-raft-protocol` / `raft_protocol` (3).
    pub raft_protocol: u32,
    /// Warnings found while loading (`bootstrap = true: do not enable unless necessary`, ...);
    /// the agent logs them at startup.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: false,
            bootstrap: false,
            bootstrap_expect: 0,
            dev: false,
            ui: false,
            data_dir: None,
            bind_addr: IpAddr::from([127, 0, 0, 1]),
            advertise_addr: IpAddr::from([127, 0, 0, 1]),
            client_addrs: vec![IpAddr::from([127, 0, 0, 1])],
            node_name: "localhost".to_string(),
            node_id: None,
            node_meta: BTreeMap::new(),
            datacenter: "dc1".to_string(),
            ports: Ports::default(),
            log_level: "info".to_string(),
            log_json: false,
            enable_script_checks: false,
            enable_local_script_checks: false,
            retry_join: Vec::new(),
            retry_interval: Duration::from_secs(30),
            retry_max: 0,
            pid_file: None,
            default_query_time: Duration::from_secs(300),
            max_query_time: Duration::from_secs(600),
            kv_max_value_size: 512 * 1024,
            txn_max_req_len: 512 * 1024,
            http_max_conns_per_client: 200,
            http_handshake_timeout: Duration::from_secs(5),
            rpc_handshake_timeout: Duration::from_secs(5),
            session_ttl_min: Duration::from_secs(10),
            https_tls: None,
            rpc_tls: RpcTls::default(),
            acl: None,
            dns: DnsConfig::default(),
            gossip: GossipConfig {
                bind: IpAddr::from([127, 0, 0, 1]),
                pool: ::gossip::Config::lan(),
                encrypted: false,
            },
            telemetry: crate::telemetry::Settings::default(),
            autopilot: AutopilotSettings::default(),
            https_addrs: Vec::new(),
            services: Vec::new(),
            checks: Vec::new(),
            sources: Sources::default(),
            leave_on_terminate: false,
            skip_leave_on_interrupt: true,
            raft_multiplier: 1,
            raft_snapshot_threshold: 16_384,
            raft_trailing_logs: 10_240,
            http_addrs: vec![IpAddr::from([127, 0, 0, 1])],
            ui_content_path: "/ui/".to_string(),
            rejoin_after_leave: false,
            disable_host_node_id: true,
            raft_protocol: 3,
            warnings: Vec::new(),
        }
    }
}
