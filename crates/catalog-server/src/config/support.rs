//! What this agent does with each of Consul's config keys: every key of [`super::files`]'s
//! known list is implemented, or harmless at the value given (the value this agent behaves as,
//! or a feature switched off), or refused with a message naming it. Nothing is accepted and
//! then ignored: a user who sets `acl { enabled = true }` or a TLS certificate must not believe
//! they are protected while the agent runs open.

use serde_json::Value;

/// How a key is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Support {
    /// Read by the resolver and acted on.
    Implemented,
    /// The behaviour this agent has when the value is off (false, empty, 0, -1, or a block whose
    /// values all are); any other value is refused, saying why.
    WhenOff(&'static str),
    /// The value cannot change what this agent does: it has no such feature to turn on or off
    /// (update checks, anonymous usage signatures, a keyring file, remote exec).
    NoEffect,
}

const NO_ACL_REPLICATION: &str = "ACL replication between datacenters (and the pre-1.4 ACL system) is not implemented by this agent: use acl { enabled = true tokens { ... } }";
/// Consul's `acl_replication_token` also sets `acl.enable_token_replication` (its
/// `applyDeprecatedConfig`); the token alone is `acl.tokens.replication`.
const NO_LEGACY_REPLICATION_TOKEN: &str = "in Consul it also switches on ACL token replication between datacenters (acl.enable_token_replication), which is not implemented by this agent (one datacenter): set acl.tokens.replication to store the token";
const NO_TLS: &str = "is not implemented by this agent: its TLS covers the HTTPS listener and the server port (certificate and CA files, verify_incoming, verify_outgoing, verify_server_hostname, tls_min_version; rustls' cipher suites). Remove it";
const NO_GOSSIP: &str = "is not implemented by this agent: its gossip is one LAN pool (serf_lan, gossip_lan, encrypt, reconnect_timeout)";
const NO_WAN: &str = "WAN federation (several datacenters) is not implemented by this agent";
const NO_CONNECT: &str = "Connect (service mesh) is not implemented by this agent";
const NO_TELEMETRY: &str = "is not implemented by this agent: its telemetry is /v1/agent/metrics (JSON, and Prometheus with prometheus_retention_time), with disable_hostname and metrics_prefix; no sinks or filters";
const NO_LOG_FILE: &str = "logging to a file or syslog is not implemented by this agent: it logs to stderr (use the service manager's log capture)";
const NO_ENTERPRISE: &str = "is a Consul Enterprise or HCP feature";
const NOT_YET: &str = "is not implemented by this agent";

/// What the agent does with top-level key `key`.
pub(super) fn support(key: &str) -> Support {
    use Support::*;
    match key {
        "addresses"
        | "advertise_addr"
        | "bind_addr"
        | "bootstrap"
        | "bootstrap_expect"
        | "check"
        | "checks"
        | "client_addr"
        | "data_dir"
        | "datacenter"
        | "default_query_time"
        | "disable_host_node_id"
        | "enable_local_script_checks"
        | "enable_script_checks"
        | "leave_on_terminate"
        | "limits"
        | "log_json"
        | "log_level"
        | "max_query_time"
        | "node_id"
        | "node_meta"
        | "node_name"
        | "performance"
        | "pid_file"
        | "ports"
        | "raft_protocol"
        | "raft_snapshot_threshold"
        | "raft_trailing_logs"
        | "rejoin_after_leave"
        | "retry_interval"
        | "retry_join"
        | "retry_max"
        | "server"
        | "service"
        | "services"
        | "session_ttl_min"
        | "skip_leave_on_interrupt"
        | "start_join"
        | "ui"
        | "ui_config"
        | "ui_content_path" => Implemented,

        // The HTTPS listener's TLS (`config::tls`); what would cover the server port is refused.
        "tls"
        | "ca_file"
        | "ca_path"
        | "cert_file"
        | "key_file"
        | "verify_incoming_https"
        | "tls_min_version" => Implemented,
        "tls_prefer_server_cipher_suites" => NoEffect,

        "disable_update_check"
        | "disable_anonymous_signature"
        | "disable_keyring_file"
        | "reporting" => NoEffect,
        // Remote exec does not exist here: Consul's default (`true`) is what this agent does.
        "disable_remote_exec" => NoEffect,

        // ACLs (`config::acl`); the older top-level names are read when `acl.enabled`.
        "acl"
        | "acl_agent_master_token"
        | "acl_agent_token"
        | "acl_default_policy"
        | "acl_down_policy"
        | "acl_enable_key_list_policy"
        | "acl_master_token"
        | "acl_token" => Implemented,
        "acl_datacenter" | "acl_ttl" | "enable_acl_replication" => WhenOff(NO_ACL_REPLICATION),
        "acl_replication_token" => WhenOff(NO_LEGACY_REPLICATION_TOKEN),

        // The server port's TLS (`config::tls::internal_rpc`).
        "verify_incoming"
        | "verify_incoming_rpc"
        | "verify_outgoing"
        | "verify_server_hostname" => Implemented,
        "tls_cipher_suites" => Implemented,
        "auto_encrypt" | "enable_agent_tls_for_checks" => WhenOff(NO_TLS),

        // The LAN gossip pool (`config::gossip`).
        "encrypt"
        | "encrypt_verify_incoming"
        | "encrypt_verify_outgoing"
        | "serf_lan"
        | "gossip_lan"
        | "reconnect_timeout" => Implemented,
        "serf_lan_allowed_cidrs"
        | "serf_wan"
        | "serf_wan_allowed_cidrs"
        | "gossip_wan"
        | "advertise_reconnect_timeout"
        | "segment"
        | "segments" => WhenOff(NO_GOSSIP),

        // Autopilot's initial configuration (`config::autopilot`).
        "autopilot" => Implemented,

        // The DNS interface (`config::dns`, served by `dns/`).
        "domain" | "alt_domain" | "dns_config" => Implemented,
        "recursor" | "recursors" => Implemented,

        "advertise_addr_wan"
        | "advertise_addr_wan_ipv4"
        | "advertise_addr_wan_ipv6"
        | "retry_interval_wan"
        | "retry_join_wan"
        | "retry_max_wan"
        | "start_join_wan"
        | "reconnect_timeout_wan"
        | "translate_wan_addrs"
        | "primary_gateways"
        | "primary_gateways_interval"
        | "peering"
        | "primary_datacenter" => WhenOff(NO_WAN),

        "connect" | "config_entries" | "xds" | "enable_central_service_config" => {
            WhenOff(NO_CONNECT)
        }
        // `/v1/agent/metrics` (`telemetry/`); sinks and filters are refused by name.
        "telemetry" => Implemented,
        "log_file"
        | "log_rotate_bytes"
        | "log_rotate_duration"
        | "log_rotate_max_files"
        | "enable_syslog"
        | "syslog_facility" => WhenOff(NO_LOG_FILE),

        "audit" | "license_path" | "non_voting_server" | "read_replica" | "cloud" | "locality" => {
            WhenOff(NO_ENTERPRISE)
        }

        _ => WhenOff(NOT_YET),
    }
}

/// Whether `v` is "off": null, false, empty, zero, -1, or a block or list of such values.
fn is_off(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty() || s == "false" || s == "0",
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0 || f == -1.0),
        Value::Array(items) => items.iter().all(is_off),
        Value::Object(map) => map.values().all(is_off),
    }
}

/// The keys of a block that this agent reads; the rest of the block follows `WhenOff`.
fn implemented_subkeys(key: &str) -> &'static [&'static str] {
    match key {
        "addresses" => &["http", "https", "dns"],
        "ports" => &["http", "https", "server", "dns", "serf_lan"],
        "performance" => &["raft_multiplier"],
        "ui_config" => &["enabled", "content_path"],
        "telemetry" => &[
            "prometheus_retention_time",
            "disable_hostname",
            "metrics_prefix",
        ],
        _ => &[],
    }
}

/// Why this agent refuses `key = value`, or `None` when it implements it as given.
pub(super) fn refusal(key: &str, value: &Value) -> Option<String> {
    let why = match support(key) {
        Support::Implemented if key == "tls" => return tls_refusal(value),
        Support::Implemented if key == "acl" => return super::acl::refusal(value),
        Support::Implemented if key == "dns_config" => return super::dns::refusal(value),
        Support::Implemented if key == "autopilot" => return super::autopilot::refusal(value),
        Support::Implemented => {
            let block = value.as_object()?;
            let known = implemented_subkeys(key);
            if known.is_empty() {
                return None;
            }
            // A block this agent reads part of: the other parts must be off.
            return block
                .iter()
                .find(|(k, v)| !known.contains(&k.as_str()) && !sub_is_default(key, k, v))
                .map(|(k, v)| {
                    format!(
                        "{key}.{k} = {v} {}",
                        sub_reason(key, k).unwrap_or("is not implemented by this agent")
                    )
                });
        }
        Support::NoEffect => return None,
        Support::WhenOff(_) if is_off(value) => return None,
        Support::WhenOff(why) => why,
    };
    let shown = match value {
        Value::Object(_) => "{ ... }".to_string(),
        v => v.to_string(),
    };
    Some(if why.starts_with("is ") {
        format!("{key} = {shown} {why}")
    } else {
        format!("{key} = {shown}: {why}")
    })
}

/// The parts of a `tls` block this agent does not implement, switched on.
fn tls_refusal(value: &Value) -> Option<String> {
    let block = value.as_object()?;
    for (section, settings) in block {
        let implemented: &[&str] = match section.as_str() {
            "defaults" | "internal_rpc" => &[
                "ca_file",
                "ca_path",
                "cert_file",
                "key_file",
                "verify_incoming",
                "verify_outgoing",
                "verify_server_hostname",
                "tls_min_version",
                "tls_cipher_suites",
            ],
            "https" => &[
                "ca_file",
                "ca_path",
                "cert_file",
                "key_file",
                "verify_incoming",
                "tls_min_version",
                "tls_cipher_suites",
            ],
            _ => &[],
        };
        let Some(settings) = settings.as_object() else {
            if is_off(settings) {
                continue;
            }
            return Some(format!("tls.{section} = {settings} {NO_TLS}"));
        };
        for (k, v) in settings {
            if !implemented.contains(&k.as_str()) && !is_off(v) {
                return Some(format!("tls.{section}.{k} = {v} {NO_TLS}"));
            }
        }
    }
    None
}

/// A sub-key of a partly implemented block left at the value this agent behaves as.
fn sub_is_default(key: &str, sub: &str, v: &Value) -> bool {
    match (key, sub) {
        // The listeners this agent does not open: -1 (off) is what it does.
        ("ports", "https" | "grpc" | "grpc_tls" | "serf_wan") => {
            v.as_i64() == Some(-1) || v.as_str() == Some("-1")
        }
        // Consul's defaults, which are what this agent does: no pre-1.9 metric names, every
        // metric allowed; retrying a sink's connection means nothing without sinks.
        ("telemetry", "disable_compat_1.9" | "filter_default") => {
            v.as_bool() == Some(true) || v.as_str() == Some("true")
        }
        ("telemetry", "retry_failed_connection") => true,
        _ => is_off(v),
    }
}

fn sub_reason(key: &str, sub: &str) -> Option<&'static str> {
    Some(match (key, sub) {
        ("ports", "https") | ("addresses", "https") => {
            "is refused: HTTPS is not implemented by this agent yet (set it to -1)"
        }
        ("ports", "grpc" | "grpc_tls") | ("addresses", "grpc" | "grpc_tls") => {
            "is refused: gRPC is not implemented by this agent (set it to -1)"
        }
        ("telemetry", _) => NO_TELEMETRY,
        ("ports", "serf_wan") => {
            "is refused: WAN gossip (several datacenters) is not implemented by this agent (set it to -1)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn switched_off_features_load_and_switched_on_ones_are_refused() {
        assert_eq!(refusal("acl", &json!({"enabled": false})), None);
        assert_eq!(
            refusal("acl", &json!({"enabled": true, "default_policy": "deny"})),
            None
        );
        // The replication token is stored; replication itself is refused.
        assert_eq!(
            refusal(
                "acl",
                &json!({"enabled": true, "tokens": {"replication": "x", "dns": "y"}}),
            ),
            None
        );
        let acl = refusal(
            "acl",
            &json!({"enabled": true, "enable_token_replication": true}),
        );
        assert!(
            acl.is_some_and(
                |m| m.starts_with("acl.enable_token_replication = true: ACL replication")
            )
        );
        assert!(refusal("acl", &json!({"enable": true})).is_some());
        assert!(refusal("acl_replication_token", &json!("x"))
            .is_some_and(|m| m.contains("set acl.tokens.replication")));
        assert_eq!(
            refusal("tls", &json!({"defaults": {"verify_incoming": false}})),
            None
        );
        assert_eq!(
            refusal("tls", &json!({"defaults": {"cert_file": "/x.pem"}})),
            None
        );
        let https = json!({"https": {"cert_file": "/x.pem", "verify_incoming": true}});
        assert_eq!(refusal("tls", &https), None);
        let rpc = json!({"defaults": {"verify_incoming": true}, "internal_rpc": {"verify_outgoing": true, "verify_server_hostname": true}});
        assert_eq!(refusal("tls", &rpc), None);
        let auto = refusal(
            "tls",
            &json!({"defaults": {"verify_outgoing": true, "use_auto_cert": true}}),
        );
        assert!(auto.is_some_and(|m| m.starts_with("tls.defaults.use_auto_cert = ")));
        assert!(refusal("tls", &json!({"grpc": {"use_auto_cert": true}})).is_some());
        assert_eq!(
            refusal("encrypt", &json!("c2VjcmV0c2VjcmV0c2VjcmV0MQ==")),
            None
        );
        assert!(refusal("serf_lan_allowed_cidrs", &json!(["10.0.0.0/8"])).is_some());
        assert!(refusal("ports", &json!({"serf_wan": 8302})).is_some());
        assert_eq!(refusal("ports", &json!({"serf_lan": 8301})), None);
        assert_eq!(refusal("disable_update_check", &json!(true)), None);
        assert_eq!(refusal("ports", &json!({"http": 8500, "dns": -1})), None);
        assert_eq!(refusal("ports", &json!({"http": 8500, "dns": 8600})), None);
        assert_eq!(refusal("domain", &json!("example.")), None);
        assert_eq!(refusal("dns_config", &json!({"only_passing": true})), None);
        let cache = refusal("dns_config", &json!({"use_cache": true}));
        assert!(cache.is_some_and(|m| m.starts_with("dns_config.use_cache = true")));
        assert_eq!(refusal("recursors", &json!(["1.1.1.1"])), None);
        let grpc = refusal("ports", &json!({"http": 8500, "grpc": 8502}));
        assert!(grpc.is_some_and(|m| m.starts_with("ports.grpc = 8502 is refused")));
        let watch = refusal("watches", &json!([{"type": "key", "key": "x"}]));
        assert!(watch.is_some_and(|m| m.contains("watches") && m.contains("not implemented")));
        assert_eq!(refusal("performance", &json!({"raft_multiplier": 5})), None);
        assert!(refusal("performance", &json!({"rpc_hold_timeout": "7s"})).is_some());
    }

    /// Every key Consul documents is implemented, without effect here, or refused by name when
    /// turned on: none is dropped.
    #[test]
    fn every_known_key_is_implemented_or_refused_by_name() {
        let mut dropped = Vec::new();
        for key in super::super::files::KNOWN_KEYS {
            match support(key) {
                Support::Implemented | Support::NoEffect => continue,
                Support::WhenOff(_) => {}
            }
            for on in [json!(true), json!("on"), json!(1), json!({"enabled": true})] {
                match refusal(key, &on) {
                    Some(m) if m.starts_with(&format!("{key} = ")) => {}
                    other => dropped.push(format!("{key} = {on}: {other:?}")),
                }
            }
        }
        assert!(
            dropped.is_empty(),
            "accepted and ignored:\n{}",
            dropped.join("\n")
        );
    }
}
