//! The `autopilot { ... }` block: the values the leader stores as autopilot's configuration
//! when the replicated state has none yet (afterwards `consul operator autopilot set-config`
//! changes it). Consul's defaults. The Enterprise settings (redundancy zones, upgrade
//! migrations) are refused when set: this agent has no such feature.

use super::files::ConfigError;
use super::resolve::{at, get_bool, get_duration, get_int, invalid};
use serde_json::Value;
use std::time::Duration;

/// Autopilot's initial settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutopilotSettings {
    pub cleanup_dead_servers: bool,
    pub last_contact_threshold: Duration,
    pub max_trailing_logs: u64,
    pub min_quorum: u64,
    pub server_stabilization_time: Duration,
}

impl Default for AutopilotSettings {
    fn default() -> Self {
        AutopilotSettings {
            cleanup_dead_servers: true,
            last_contact_threshold: Duration::from_millis(200),
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time: Duration::from_secs(10),
        }
    }
}

const KEYS: [&str; 5] = [
    "cleanup_dead_servers",
    "last_contact_threshold",
    "max_trailing_logs",
    "min_quorum",
    "server_stabilization_time",
];
const ENTERPRISE_KEYS: [&str; 3] = [
    "redundancy_zone_tag",
    "disable_upgrade_migration",
    "upgrade_version_tag",
];

/// Why an `autopilot` block is refused at the parse of its file, or `None`.
pub(super) fn refusal(value: &Value) -> Option<String> {
    let block = value.as_object()?;
    for (k, v) in block {
        if ENTERPRISE_KEYS.contains(&k.as_str()) {
            let off = matches!(v, Value::Null | Value::Bool(false))
                || v.as_str().is_some_and(|s| s.is_empty() || s == "false");
            if !off {
                return Some(format!(
                    "autopilot.{k} = {v} is a Consul Enterprise feature (redundancy zones, upgrade migrations) and is not implemented by this agent"
                ));
            }
        } else if !KEYS.contains(&k.as_str()) {
            return Some(format!("invalid config key autopilot.{k}"));
        }
    }
    None
}

pub(super) fn autopilot(v: &Value) -> Result<AutopilotSettings, ConfigError> {
    let mut a = AutopilotSettings::default();
    if at(v, &["autopilot"]).is_none() {
        return Ok(a);
    }
    if let Some(why) = at(v, &["autopilot"]).and_then(refusal) {
        return Err(invalid(why));
    }
    let path = |k: &'static str| ["autopilot", k];
    if let Some(b) = get_bool(v, &path("cleanup_dead_servers"))? {
        a.cleanup_dead_servers = b;
    }
    if let Some(d) = get_duration(v, &path("last_contact_threshold"))? {
        a.last_contact_threshold = d;
    }
    if let Some(d) = get_duration(v, &path("server_stabilization_time"))? {
        // It times the promotion of a new non-voter; servers here join as voters at once.
        if !d.is_zero() && d != Duration::from_secs(10) {
            return Err(invalid(format!(
                "autopilot.server_stabilization_time = {d:?} is not implemented by this agent (only 0s or Consul's default 10s): servers join as voters at once, so there is no non-voter to promote after it"
            )));
        }
        a.server_stabilization_time = d;
    }
    for (k, slot) in [
        ("max_trailing_logs", &mut a.max_trailing_logs),
        ("min_quorum", &mut a.min_quorum),
    ] {
        if let Some(n) = get_int(v, &path(k))? {
            *slot = u64::try_from(n)
                .map_err(|_| invalid(format!("autopilot.{k} cannot be negative: {n}")))?;
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_values_defaults_and_refusals() {
        assert_eq!(autopilot(&json!({})), Ok(AutopilotSettings::default()));
        let a = autopilot(&json!({"autopilot": {
            "cleanup_dead_servers": false, "last_contact_threshold": "1s",
            "max_trailing_logs": 10, "min_quorum": 3, "server_stabilization_time": "10s",
            "redundancy_zone_tag": ""}}))
        .expect("loads");
        assert!(!a.cleanup_dead_servers);
        assert_eq!(a.last_contact_threshold, Duration::from_secs(1));
        assert_eq!((a.max_trailing_logs, a.min_quorum), (10, 3));
        assert_eq!(a.server_stabilization_time, Duration::from_secs(10));
        for (bad, why) in [
            (json!({"redundancy_zone_tag": "zone"}), "Consul Enterprise"),
            (
                json!({"disable_upgrade_migration": true}),
                "Consul Enterprise",
            ),
            (json!({"bogus": 1}), "invalid config key autopilot.bogus"),
            (
                json!({"server_stabilization_time": "3s"}),
                "server_stabilization_time = 3s is not implemented",
            ),
            (json!({"min_quorum": -1}), "cannot be negative"),
            (
                json!({"last_contact_threshold": "soon"}),
                "invalid duration",
            ),
        ] {
            let e = autopilot(&json!({ "autopilot": bad })).expect_err("refused");
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
