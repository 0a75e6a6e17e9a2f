//! Config files as layers: each `-config-file`/`-config-dir` path is read (a directory gives its
//! `*.json`/`*.hcl` files in lexical order), decoded from JSON or HCL into a JSON object, checked
//! for unknown top-level keys (`invalid config key foo`, like Consul) and normalised
//! (`service`/`check` become entries of `services`/`checks`). Layers then [`merge`]: objects
//! merge key by key, lists append, scalars are replaced by the later layer.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Why the configuration could not be loaded; printed after `==> `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("Error reading '{path}': {reason}")]
    Read { path: String, reason: String },
    #[error("failed to parse {source_name}: {reason}")]
    Parse { source_name: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Every top-level key Consul accepts; [`super::support`] says which this agent implements,
/// which it takes only switched off, and which it refuses.
pub(super) const KNOWN_KEYS: &[&str] = &[
    "acl",
    "acl_agent_master_token",
    "acl_agent_token",
    "acl_datacenter",
    "acl_default_policy",
    "acl_down_policy",
    "acl_enable_key_list_policy",
    "acl_master_token",
    "acl_replication_token",
    "acl_token",
    "acl_ttl",
    "addresses",
    "advertise_addr",
    "advertise_addr_ipv4",
    "advertise_addr_ipv6",
    "advertise_addr_wan",
    "advertise_addr_wan_ipv4",
    "advertise_addr_wan_ipv6",
    "advertise_reconnect_timeout",
    "alt_domain",
    "audit",
    "auto_config",
    "auto_encrypt",
    "auto_reload_config",
    "autopilot",
    "bind_addr",
    "bootstrap",
    "bootstrap_expect",
    "ca_file",
    "ca_path",
    "cert_file",
    "check",
    "check_output_max_size",
    "check_update_interval",
    "checks",
    "client_addr",
    "cloud",
    "config_entries",
    "connect",
    "data_dir",
    "datacenter",
    "default_query_time",
    "disable_anonymous_signature",
    "disable_coordinates",
    "disable_host_node_id",
    "disable_http_unprintable_char_filter",
    "disable_keyring_file",
    "disable_kv_key_validation",
    "disable_remote_exec",
    "disable_update_check",
    "discard_check_output",
    "discovery_max_stale",
    "dns_config",
    "domain",
    "enable_acl_replication",
    "enable_agent_tls_for_checks",
    "enable_central_service_config",
    "enable_debug",
    "enable_local_script_checks",
    "enable_script_checks",
    "enable_syslog",
    "encrypt",
    "encrypt_verify_incoming",
    "encrypt_verify_outgoing",
    "experiments",
    "gossip_lan",
    "gossip_wan",
    "http_config",
    "key_file",
    "leave_on_terminate",
    "license_path",
    "limits",
    "locality",
    "log_file",
    "log_json",
    "log_level",
    "log_rotate_bytes",
    "log_rotate_duration",
    "log_rotate_max_files",
    "max_query_time",
    "node_id",
    "node_meta",
    "node_name",
    "non_voting_server",
    "peering",
    "performance",
    "pid_file",
    "ports",
    "primary_datacenter",
    "primary_gateways",
    "primary_gateways_interval",
    "protocol",
    "raft_boltdb",
    "raft_logstore",
    "raft_protocol",
    "raft_snapshot_interval",
    "raft_snapshot_threshold",
    "raft_trailing_logs",
    "read_replica",
    "reconnect_timeout",
    "reconnect_timeout_wan",
    "recursor",
    "recursors",
    "rejoin_after_leave",
    "reporting",
    "retry_interval",
    "retry_interval_wan",
    "retry_join",
    "retry_join_wan",
    "retry_max",
    "retry_max_wan",
    "rpc",
    "segment",
    "segments",
    "serf_lan",
    "serf_lan_allowed_cidrs",
    "serf_wan",
    "serf_wan_allowed_cidrs",
    "server",
    "server_name",
    "service",
    "services",
    "session_ttl_min",
    "skip_leave_on_interrupt",
    "start_join",
    "start_join_wan",
    "syslog_facility",
    "telemetry",
    "tls",
    "tls_cipher_suites",
    "tls_min_version",
    "tls_prefer_server_cipher_suites",
    "translate_wan_addrs",
    "ui",
    "ui_config",
    "ui_content_path",
    "ui_dir",
    "unix_sockets",
    "verify_incoming",
    "verify_incoming_https",
    "verify_incoming_rpc",
    "verify_outgoing",
    "verify_server_hostname",
    "watches",
    "xds",
];

/// Keys whose value is one object; HCL repeated blocks arrive as a list and are folded.
const OBJECT_KEYS: &[&str] = &[
    "addresses",
    "ports",
    "limits",
    "performance",
    "ui_config",
    "node_meta",
    "dns_config",
    "telemetry",
    "acl",
    "connect",
    "autopilot",
    "tls",
];

/// The format of a config source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Hcl,
}

impl Format {
    /// `-config-format` value → format (`json`/`hcl`).
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s {
            "json" => Ok(Format::Json),
            "hcl" => Ok(Format::Hcl),
            _ => Err(ConfigError::Invalid(format!(
                "Invalid config format: {s}: -config-format must be either 'hcl' or 'json'"
            ))),
        }
    }

    fn of(path: &Path, forced: Option<Format>) -> Option<Format> {
        forced.or_else(|| match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some(Format::Json),
            Some("hcl") => Some(Format::Hcl),
            _ => None,
        })
    }
}

/// Decodes one source into a normalised layer; `name` is used in errors.
pub fn parse_layer(name: &str, text: &str, format: Format) -> Result<Value, ConfigError> {
    let err = |reason: String| ConfigError::Parse {
        source_name: name.to_string(),
        reason,
    };
    let value: Value = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| err(e.to_string()))?,
        Format::Hcl if api_types::hcl_guard::nests_too_deep(text) => {
            return Err(err(format!(
                "nesting deeper than {} levels",
                api_types::hcl_guard::MAX_HCL_NESTING
            )))
        }
        Format::Hcl => hcl::from_str(text)
            .or_else(|e| hcl::from_str(&api_types::hcl1::to_hcl2(text)).map_err(|_| e))
            .map_err(|e| err(e.to_string()))?,
    };
    let Value::Object(map) = value else {
        return Err(err("top level must be an object".to_string()));
    };
    normalize(map).map(Value::Object).map_err(err)
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        other => vec![other],
    }
}

fn normalize(map: Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (key, value) in map {
        if !KNOWN_KEYS.contains(&key.as_str()) {
            return Err(format!("invalid config key {key}"));
        }
        if let Some(why) = super::support::refusal(&key, &value) {
            return Err(why);
        }
        let (key, value) = match key.as_str() {
            "service" | "services" => ("services".to_string(), Value::Array(as_list(value))),
            "check" | "checks" => ("checks".to_string(), Value::Array(as_list(value))),
            "start_join" | "retry_join" | "recursors" | "recursor" => {
                let k = if key == "recursor" {
                    "recursors".to_string()
                } else {
                    key
                };
                (k, Value::Array(as_list(value)))
            }
            k if OBJECT_KEYS.contains(&k) => {
                let folded = as_list(value)
                    .into_iter()
                    .fold(Value::Object(Map::new()), merge);
                (key, folded)
            }
            _ => (key, value),
        };
        let merged = match out.remove(&key) {
            Some(prev) => merge(prev, value),
            None => value,
        };
        out.insert(key, merged);
    }
    Ok(out)
}

/// Merges `over` onto `base`: objects key by key, lists appended, scalars replaced.
pub fn merge(base: Value, over: Value) -> Value {
    match (base, over) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                let merged = match a.remove(&k) {
                    Some(prev) => merge(prev, v),
                    None => v,
                };
                a.insert(k, merged);
            }
            Value::Object(a)
        }
        (Value::Array(mut a), Value::Array(b)) => {
            a.extend(b);
            Value::Array(a)
        }
        (_, over) => over,
    }
}

fn read_error(path: &Path, e: &std::io::Error) -> ConfigError {
    let shown = path.display().to_string();
    ConfigError::Read {
        reason: api_types::go_io_error("open", &shown, e),
        path: shown,
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| read_error(path, &e))
}

/// The files a `-config-file`/`-config-dir` path stands for, in load order.
fn expand(
    path: &Path,
    forced: Option<Format>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(PathBuf, Format)>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
    if !meta.is_dir() {
        return match Format::of(path, forced) {
            Some(f) => Ok(vec![(path.to_path_buf(), f)]),
            None => {
                warnings.push(format!(
                    "skipping file {}, extension must be .hcl or .json, or config format must be set",
                    path.display()
                ));
                Ok(Vec::new())
            }
        };
    }
    let entries = std::fs::read_dir(path).map_err(|e| read_error(path, &e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .filter_map(|p| Format::of(&p, forced).map(|f| (p, f)))
        .collect())
}

/// Reads every path (files or directories) into layers, in order.
pub fn load_layers(
    paths: &[PathBuf],
    forced: Option<Format>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Value>, ConfigError> {
    let mut layers = Vec::new();
    for path in paths {
        for (file, format) in expand(path, forced, warnings)? {
            let text = read(&file)?;
            layers.push(parse_layer(&file.display().to_string(), &text, format)?);
        }
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deep_hcl_is_refused_not_a_stack_overflow() {
        let deep = format!("a = {}{}", "[".repeat(20_000), "]".repeat(20_000));
        let e = parse_layer("deep.hcl", &deep, Format::Hcl).unwrap_err();
        assert!(e.to_string().contains("nesting deeper than 32"), "{e}");
        let slow = format!("a = {}", "[{ a.0 ".repeat(40));
        let e = parse_layer("slow.hcl", &slow, Format::Hcl).unwrap_err();
        assert!(e.to_string().contains("nesting deeper than 32"), "{e}");
        let ok = format!("retry_join = {}{}", "[".repeat(30), "]".repeat(30));
        assert!(parse_layer("ok.hcl", &ok, Format::Hcl).is_ok());
    }

    #[test]
    fn merge_rules() {
        let a = json!({"server": false, "retry_join": ["a"], "ports": {"http": 1, "dns": 2}});
        let b = json!({"server": true, "retry_join": ["b"], "ports": {"http": 3}});
        assert_eq!(
            merge(a, b),
            json!({"server": true, "retry_join": ["a", "b"], "ports": {"http": 3, "dns": 2}})
        );
    }

    #[test]
    fn hcl_blocks_become_lists() {
        let text = r#"
            server = true
            ports { http = 8501 }
            service {
              name = "web"
              port = 80
              check { http = "http://localhost/health" interval = "10s" }
            }
            service { name = "db" }
            retry_join = "10.0.0.1"
        "#;
        let v = parse_layer("a.hcl", text, Format::Hcl).expect("parses");
        assert_eq!(v["server"], true);
        assert_eq!(v["ports"]["http"], 8501);
        assert_eq!(v["services"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["services"][0]["check"]["interval"], "10s");
        assert_eq!(v["retry_join"], json!(["10.0.0.1"]));
    }

    #[test]
    fn unknown_key_names_file() {
        let e =
            parse_layer("/etc/consul.d/x.json", r#"{"foo": 1}"#, Format::Json).expect_err("fails");
        assert_eq!(
            e.to_string(),
            "failed to parse /etc/consul.d/x.json: invalid config key foo"
        );
        let e = parse_layer("y.json", "{", Format::Json).expect_err("fails");
        assert!(e.to_string().starts_with("failed to parse y.json: "), "{e}");
    }

    #[test]
    fn directory_in_lexical_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("b.json"),
            r#"{"node_name": "b", "retry_join": ["2"]}"#,
        )
        .expect("write");
        std::fs::write(
            dir.path().join("a.hcl"),
            "node_name = \"a\"\nretry_join = [\"1\"]",
        )
        .expect("write");
        std::fs::write(dir.path().join("c.txt"), "junk").expect("write");
        let mut warnings = Vec::new();
        let layers = load_layers(&[dir.path().to_path_buf()], None, &mut warnings).expect("loads");
        let merged = layers.into_iter().fold(json!({}), merge);
        assert_eq!(merged["node_name"], "b");
        assert_eq!(merged["retry_join"], json!(["1", "2"]));
        let missing =
            load_layers(&[dir.path().join("nope.json")], None, &mut warnings).expect_err("fails");
        assert!(
            missing.to_string().starts_with("Error reading '"),
            "{missing}"
        );
    }
}
