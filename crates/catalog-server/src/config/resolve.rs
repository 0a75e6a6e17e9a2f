//! The merged layer → one validated [`Config`]. Values are read weakly typed like Consul's
//! mapstructure decoding (`"3"` is a number, `"true"` a bool); validation uses Consul's texts
//! (`'bootstrap = true' requires 'server = true'`, `data_dir cannot be empty`, ...).
//! Layer order: `-dev` defaults, config files in order, `-hcl` snippets, command-line flags.

use super::files::{load_layers, merge, parse_layer, ConfigError, Format};
use super::{Config, Ports};
use api_types::decode::canonicalize;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

/// Everything `consul agent` was told on its command line.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub dev: bool,
    /// `-config-file` and `-config-dir` paths in command-line order.
    pub config_paths: Vec<PathBuf>,
    /// `-config-format`.
    pub config_format: Option<String>,
    /// `-hcl` snippets.
    pub hcl: Vec<String>,
    /// The flags as a config layer (config-file keys), applied last.
    pub flags: Value,
}

/// Loads files and flags from `sources` into a validated [`Config`].
pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
    let forced = sources
        .config_format
        .as_deref()
        .map(Format::parse)
        .transpose()?;
    let mut warnings = Vec::new();
    let mut merged = if sources.dev { dev_layer() } else { json!({}) };
    for layer in load_layers(&sources.config_paths, forced, &mut warnings)? {
        merged = merge(merged, layer);
    }
    for (i, snippet) in sources.hcl.iter().enumerate() {
        merged = merge(
            merged,
            parse_layer(&format!("-hcl[{i}]"), snippet, Format::Hcl)?,
        );
    }
    if let Value::Object(flags) = &sources.flags {
        for (key, value) in flags {
            if let Some(why) = super::support::refusal(key, value) {
                return Err(invalid(why));
            }
        }
        merged = merge(merged, sources.flags.clone());
    }
    let mut config = resolve(&merged, sources.dev)?;
    warnings.append(&mut config.warnings);
    config.warnings = warnings;
    config.sources = sources.clone();
    Ok(config)
}

fn dev_layer() -> Value {
    json!({
        "server": true, "bootstrap": true, "bind_addr": "127.0.0.1", "client_addr": "127.0.0.1",
        "ui_config": {"enabled": true}, "log_level": "DEBUG",
    })
}

pub(super) fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

pub(super) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

fn name(path: &[&str]) -> String {
    path.join(".")
}

pub(super) fn get_str(v: &Value, path: &[&str]) -> Result<Option<String>, ConfigError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as string",
            name(path)
        ))),
    }
}

pub(super) fn get_bool(v: &Value, path: &[&str]) -> Result<Option<bool>, ConfigError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => api_types::parse_bool(s)
            .map(Some)
            .ok_or_else(|| invalid(format!("{}: cannot parse '{s}' as bool", name(path)))),
        Some(Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as bool",
            name(path)
        ))),
    }
}

pub(super) fn get_int(v: &Value, path: &[&str]) -> Result<Option<i64>, ConfigError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{}: cannot parse {n} as int", name(path)))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{}: cannot parse '{s}' as int", name(path)))),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as int",
            name(path)
        ))),
    }
}

pub(super) fn get_duration(v: &Value, path: &[&str]) -> Result<Option<Duration>, ConfigError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_u64().map(Duration::from_nanos)),
        Some(Value::String(s)) => api_types::parse_duration(s)
            .map(Some)
            .map_err(|e| invalid(format!("{}: invalid duration: {e}", name(path)))),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as duration",
            name(path)
        ))),
    }
}

pub(super) fn get_list(v: &Value, path: &[&str]) -> Result<Vec<String>, ConfigError> {
    match at(v, path) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(invalid(format!(
                    "{}: cannot parse {other} as string",
                    name(path)
                ))),
            })
            .collect(),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as list",
            name(path)
        ))),
    }
}

/// The `telemetry` keys this agent implements (the others are refused by `support`).
fn telemetry(v: &Value) -> Result<crate::telemetry::Settings, ConfigError> {
    let d = crate::telemetry::Settings::default();
    Ok(crate::telemetry::Settings {
        prefix: get_str(v, &["telemetry", "metrics_prefix"])?.unwrap_or(d.prefix),
        disable_hostname: get_bool(v, &["telemetry", "disable_hostname"])?
            .unwrap_or(d.disable_hostname),
        prometheus_retention: get_duration(v, &["telemetry", "prometheus_retention_time"])?
            .unwrap_or(d.prometheus_retention),
    })
}

pub(super) fn parse_ip(what: &str, s: &str) -> Result<IpAddr, ConfigError> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    t.parse()
        .map_err(|_| invalid(format!("{what}: invalid ip address: {s}")))
}

/// The address to advertise for an unspecified bind address: the source address of the
/// default route (no packet is sent), else loopback.
fn private_ip(v6: bool) -> IpAddr {
    let probe = if v6 {
        UdpSocket::bind("[::]:0").and_then(|s| s.connect("[2001:4860:4860::8888]:53").map(|()| s))
    } else {
        UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:53").map(|()| s))
    };
    match probe.and_then(|s| s.local_addr()).map(|a| a.ip()) {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ if v6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn validate_join(addr: &str) -> Result<(), ConfigError> {
    let bad = || invalid(format!("retry_join: invalid address {addr:?}"));
    let a = addr.trim();
    if a.is_empty() || a.contains(char::is_whitespace) {
        return Err(bad());
    }
    if a.contains("provider=") {
        return Err(invalid(format!(
            "retry_join: cloud auto-join is not supported: {addr:?}"
        )));
    }
    if let Some(rest) = a.strip_prefix('[') {
        let (ip, tail) = rest.split_once(']').ok_or_else(bad)?;
        ip.parse::<Ipv6Addr>().map_err(|_| bad())?;
        return match tail {
            "" => Ok(()),
            t => t
                .strip_prefix(':')
                .and_then(|p| p.parse::<u16>().ok())
                .map(|_| ())
                .ok_or_else(bad),
        };
    }
    if a.parse::<Ipv6Addr>().is_ok() {
        return Ok(());
    }
    let host = match a.rsplit_once(':') {
        Some((h, p)) => {
            p.parse::<u16>().map_err(|_| bad())?;
            h
        }
        None => a,
    };
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    ok.then_some(()).ok_or_else(bad)
}

fn definitions<T: serde::de::DeserializeOwned>(
    v: &Value,
    key: &str,
    what: &str,
) -> Result<Vec<T>, ConfigError> {
    let Some(items) = at(v, &[key]).and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| {
            let mut item = item.clone();
            canonicalize(&mut item);
            serde_json::from_value(item)
                .map_err(|e| invalid(format!("failed to parse {what} definition: {e}")))
        })
        .collect()
}

/// Turns a merged layer into a validated [`Config`].
pub fn resolve(v: &Value, dev: bool) -> Result<Config, ConfigError> {
    let mut c = Config {
        dev,
        ..Config::default()
    };
    let d = Config::default();
    c.server = get_bool(v, &["server"])?.unwrap_or(false);
    c.bootstrap = get_bool(v, &["bootstrap"])?.unwrap_or(false);
    let expect = get_int(v, &["bootstrap_expect"])?.unwrap_or(0);
    c.data_dir = if dev {
        None
    } else {
        get_str(v, &["data_dir"])?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    c.ui = get_bool(v, &["ui_config", "enabled"])?
        .or(get_bool(v, &["ui"])?)
        .unwrap_or(false);
    let content_path =
        get_str(v, &["ui_config", "content_path"])?.or(get_str(v, &["ui_content_path"])?);
    if let Some(p) = content_path.filter(|p| !p.is_empty()) {
        c.ui_content_path = format!("/{}/", p.trim_matches('/')).replace("//", "/");
    }
    c.node_name = get_str(v, &["node_name"])?
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    c.node_id = get_str(v, &["node_id"])?.filter(|s| !s.is_empty());
    if let Some(meta) = at(v, &["node_meta"]).and_then(Value::as_object) {
        for k in meta.keys() {
            c.node_meta.insert(
                k.clone(),
                get_str(v, &["node_meta", k])?.unwrap_or_default(),
            );
        }
    }
    c.datacenter = get_str(v, &["datacenter"])?
        .unwrap_or(d.datacenter)
        .to_lowercase();
    let port = |k: &str, dflt: i32| -> Result<i32, ConfigError> {
        Ok(get_int(v, &["ports", k])?.map(|p| p as i32).unwrap_or(dflt))
    };
    let dp = Ports::default();
    c.ports = Ports {
        http: port("http", dp.http)?,
        https: port("https", dp.https)?,
        dns: port("dns", dp.dns)?,
        server: port("server", dp.server)?,
        serf_lan: port("serf_lan", dp.serf_lan)?,
        serf_wan: port("serf_wan", dp.serf_wan)?,
        grpc: port("grpc", dp.grpc)?,
    };
    c.log_level = get_str(v, &["log_level"])?
        .unwrap_or(d.log_level)
        .to_lowercase();
    c.log_json = get_bool(v, &["log_json"])?.unwrap_or(false);
    c.enable_script_checks = get_bool(v, &["enable_script_checks"])?.unwrap_or(false);
    c.enable_local_script_checks =
        get_bool(v, &["enable_local_script_checks"])?.unwrap_or(false) || c.enable_script_checks;
    c.retry_join = get_list(v, &["start_join"])?;
    c.retry_join.extend(get_list(v, &["retry_join"])?);
    c.retry_interval = get_duration(v, &["retry_interval"])?.unwrap_or(d.retry_interval);
    c.retry_max = get_int(v, &["retry_max"])?.unwrap_or(0).max(0) as u32;
    c.pid_file = get_str(v, &["pid_file"])?
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    c.default_query_time =
        get_duration(v, &["default_query_time"])?.unwrap_or(d.default_query_time);
    c.max_query_time = get_duration(v, &["max_query_time"])?.unwrap_or(d.max_query_time);
    limits(v, &mut c)?;
    c.session_ttl_min = get_duration(v, &["session_ttl_min"])?.unwrap_or(d.session_ttl_min);
    c.raft_snapshot_threshold = get_int(v, &["raft_snapshot_threshold"])?
        .map(|n| n.max(1) as u64)
        .unwrap_or(d.raft_snapshot_threshold);
    c.raft_trailing_logs = get_int(v, &["raft_trailing_logs"])?
        .map(|n| n.max(0) as u64)
        .unwrap_or(d.raft_trailing_logs);
    c.raft_multiplier = get_int(v, &["performance", "raft_multiplier"])?
        .unwrap_or(1)
        .clamp(1, 10) as u32;
    c.leave_on_terminate = get_bool(v, &["leave_on_terminate"])?.unwrap_or(!c.server);
    c.skip_leave_on_interrupt = get_bool(v, &["skip_leave_on_interrupt"])?.unwrap_or(c.server);
    c.rejoin_after_leave = get_bool(v, &["rejoin_after_leave"])?.unwrap_or(false);
    c.disable_host_node_id = get_bool(v, &["disable_host_node_id"])?.unwrap_or(true);
    c.raft_protocol = get_int(v, &["raft_protocol"])?.unwrap_or(3) as u32;
    c.services = definitions(v, "services", "service")?;
    c.checks = definitions(v, "checks", "check")?;
    addresses(v, &mut c)?;
    c.dns = super::dns::dns(v, &c.client_addrs)?;
    c.gossip = super::gossip::gossip(v, c.bind_addr)?;
    c.telemetry = telemetry(v)?;
    c.autopilot = super::autopilot::autopilot(v)?;
    c.https_tls = super::tls::https(v, c.ports.https)?;
    c.rpc_tls = super::tls::internal_rpc(v, &c.datacenter)?;
    c.acl = super::acl::acl(v)?;
    if c.acl.is_none() {
        let legacy = [
            "acl_agent_master_token",
            "acl_agent_token",
            "acl_default_policy",
            "acl_down_policy",
            "acl_enable_key_list_policy",
            "acl_master_token",
            "acl_token",
        ];
        if let Some(k) = legacy
            .iter()
            .find(|k| v.get(**k).is_some_and(|x| !x.is_null()))
        {
            return Err(ConfigError::Invalid(format!(
                "{k} is set but ACLs are not enabled: set acl {{ enabled = true }} (and prefer the acl block's keys)"
            )));
        }
    }
    validate(&mut c, expect)?;
    Ok(c)
}

/// The `limits` keys we implement; the others are refused by name rather than ignored.
const LIMITS: &[&str] = &[
    "http_max_conns_per_client",
    "https_handshake_timeout",
    "kv_max_value_size",
    "rpc_handshake_timeout",
    "txn_max_req_len",
];

/// Consul's other `limits` keys: client-agent RPC pacing and server rate limiting, which this
/// agent does not have.
const LIMITS_UNSUPPORTED: &[&str] = &[
    "request_limits",
    "rpc_client_timeout",
    "rpc_max_burst",
    "rpc_max_conns_per_client",
    "rpc_rate",
];

fn limits(v: &Value, c: &mut Config) -> Result<(), ConfigError> {
    let d = Config::default();
    match at(v, &["limits"]) {
        None | Some(Value::Object(_)) => {}
        Some(other) => return Err(invalid(format!("limits: cannot parse {other} as object"))),
    }
    if let Some(map) = at(v, &["limits"]).and_then(Value::as_object) {
        for key in map.keys() {
            if LIMITS_UNSUPPORTED.contains(&key.as_str()) {
                return Err(invalid(format!(
                    "limits.{key} is not supported by this agent; remove it from the configuration"
                )));
            }
            if !LIMITS.contains(&key.as_str()) {
                return Err(invalid(format!("invalid config key limits.{key}")));
            }
        }
    }
    let size = |key: &str, dflt: usize| -> Result<usize, ConfigError> {
        match get_int(v, &["limits", key])? {
            None => Ok(dflt),
            Some(n) if n < 0 => Err(invalid(format!("limits.{key} cannot be negative: {n}"))),
            Some(n) => Ok(n as usize),
        }
    };
    c.kv_max_value_size = size("kv_max_value_size", d.kv_max_value_size)?;
    c.txn_max_req_len = size("txn_max_req_len", d.txn_max_req_len)?;
    c.http_max_conns_per_client = size(
        "http_max_conns_per_client",
        d.http_max_conns_per_client as usize,
    )?
    .min(u32::MAX as usize) as u32;
    let timeout = |key: &str, dflt: Duration| -> Result<Duration, ConfigError> {
        match get_duration(v, &["limits", key])? {
            None => Ok(dflt),
            Some(t) if t.is_zero() => {
                Err(invalid(format!("limits.{key} must be greater than zero")))
            }
            Some(t) => Ok(t),
        }
    };
    c.http_handshake_timeout = timeout("https_handshake_timeout", d.http_handshake_timeout)?;
    c.rpc_handshake_timeout = timeout("rpc_handshake_timeout", d.rpc_handshake_timeout)?;
    Ok(())
}

fn addresses(v: &Value, c: &mut Config) -> Result<(), ConfigError> {
    let bind = get_str(v, &["bind_addr"])?.unwrap_or_else(|| "0.0.0.0".to_string());
    c.bind_addr = parse_ip("bind_addr", &bind)?;
    let advertise = match get_str(v, &["advertise_addr"])?.filter(|s| !s.is_empty()) {
        Some(a) => parse_ip("advertise_addr", &a)?,
        None if c.bind_addr.is_unspecified() => private_ip(c.bind_addr.is_ipv6()),
        None => c.bind_addr,
    };
    if advertise.is_unspecified() {
        return Err(invalid("Advertise address cannot be 0.0.0.0, :: or [::]"));
    }
    c.advertise_addr = advertise;
    let client = get_str(v, &["client_addr"])?.unwrap_or_else(|| "127.0.0.1".to_string());
    c.client_addrs = client
        .split_whitespace()
        .map(|a| parse_ip("client_addr", a))
        .collect::<Result<_, _>>()?;
    if c.client_addrs.is_empty() {
        c.client_addrs = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    }
    c.http_addrs = match get_str(v, &["addresses", "http"])? {
        Some(h) => h
            .split_whitespace()
            .map(|a| parse_ip("addresses.http", a))
            .collect::<Result<_, _>>()?,
        None => c.client_addrs.clone(),
    };
    c.https_addrs = match get_str(v, &["addresses", "https"])? {
        Some(h) => h
            .split_whitespace()
            .map(|a| parse_ip("addresses.https", a))
            .collect::<Result<_, _>>()?,
        None => c.client_addrs.clone(),
    };
    Ok(())
}

fn validate(c: &mut Config, expect: i64) -> Result<(), ConfigError> {
    if c.data_dir.is_none() && !c.dev {
        return Err(invalid("data_dir cannot be empty"));
    }
    if let Some(dir) = &c.data_dir {
        if dir.exists() && !dir.is_dir() {
            return Err(invalid(format!(
                "data_dir {:?} is not a directory",
                dir.display().to_string()
            )));
        }
    }
    if c.datacenter.is_empty() {
        return Err(invalid("datacenter cannot be empty"));
    }
    if !c
        .datacenter
        .chars()
        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
    {
        return Err(invalid(
            "datacenter can only contain lowercase alphanumeric, - or _ characters.",
        ));
    }
    if c.node_name.is_empty() {
        return Err(invalid("node_name cannot be empty"));
    }
    if c.node_name
        .chars()
        .any(|ch| ch.is_whitespace() || ch == '"' || ch == '\'')
    {
        return Err(invalid(format!(
            "node_name {:?} cannot contain whitespace or quotes",
            c.node_name
        )));
    }
    if let Some(id) = &c.node_id {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(invalid(format!("node_id: invalid UUID {id:?}")));
        }
    }
    c.log_level = match c.log_level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => c.log_level.clone(),
        "err" => "error".to_string(),
        "warning" => "warn".to_string(),
        other => {
            return Err(invalid(format!(
                "Invalid log level: {:?}. Valid log levels are: [TRACE DEBUG INFO WARN ERR]",
                other.to_uppercase()
            )))
        }
    };
    if c.bootstrap && !c.server {
        return Err(invalid("'bootstrap = true' requires 'server = true'"));
    }
    if expect < 0 {
        return Err(invalid(format!(
            "bootstrap_expect cannot be {expect}. Must be greater than or equal to zero"
        )));
    }
    if expect > 0 {
        if !c.server {
            return Err(invalid("'bootstrap_expect > 0' requires 'server = true'"));
        }
        if c.dev {
            return Err(invalid("'bootstrap_expect > 0' not allowed in dev mode"));
        }
        if c.bootstrap {
            return Err(invalid(
                "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive",
            ));
        }
    }
    c.bootstrap_expect = expect as u32;
    if expect == 1 {
        c.warnings
            .push("BootstrapExpect is set to 1; this is the same as Bootstrap mode.".into());
        c.bootstrap = true;
        c.bootstrap_expect = 0;
    } else if expect > 1 && expect % 2 == 0 {
        c.warnings.push(format!(
            "BootstrapExpect is set to an even number of servers ({expect}); this is not recommended for fault tolerance."
        ));
    }
    if c.bootstrap && !c.dev {
        c.warnings
            .push("bootstrap = true: do not enable unless necessary".into());
    }
    for addr in &c.retry_join {
        validate_join(addr)?;
    }
    for (port, what) in [
        (c.ports.http, "http"),
        (c.ports.dns, "dns"),
        (c.ports.server, "server"),
    ] {
        if !(-1..=65535).contains(&port) {
            return Err(invalid(format!("ports.{what}: invalid port {port}")));
        }
    }
    Ok(())
}
