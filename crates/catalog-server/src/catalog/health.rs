//! The words of health checking: a check's status and its kind. Stored and sent as Consul's
//! strings (`"passing"`, `"http"`, …); compared as values.

use api_types::CheckRegistration;
use serde::{Deserialize, Serialize};

/// A check's status. A new check is critical until it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Passing,
    Warning,
    #[default]
    Critical,
}

impl HealthStatus {
    /// The status Consul spells `s`; `None` for anything else (`""` included).
    pub fn parse(s: &str) -> Option<HealthStatus> {
        match s {
            "passing" => Some(HealthStatus::Passing),
            "warning" => Some(HealthStatus::Warning),
            "critical" => Some(HealthStatus::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Passing => "passing",
            HealthStatus::Warning => "warning",
            HealthStatus::Critical => "critical",
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<HealthStatus> for String {
    fn from(s: HealthStatus) -> String {
        s.as_str().to_string()
    }
}

/// What kind of check runs a definition: Consul's `Type` field of a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// No runner: checks written through `/v1/catalog/register`, `serfHealth`.
    #[default]
    #[serde(rename = "")]
    None,
    Http,
    Tcp,
    Udp,
    Grpc,
    Ttl,
    Script,
    Docker,
    Alias,
    H2ping,
    /// Node or service maintenance mode.
    Maintenance,
}

impl CheckKind {
    /// The kind a definition describes, as Consul's `CheckType` decides it: the first of gRPC,
    /// HTTP, TTL, script, TCP, UDP, Docker, H2PING, alias whose fields are set; `None` when
    /// none is.
    pub fn of(spec: &CheckRegistration) -> CheckKind {
        let interval = spec.interval.0 > 0;
        let script = spec.args.as_ref().is_some_and(|a| !a.is_empty()) || !spec.script.is_empty();
        if !spec.grpc.is_empty() && interval {
            CheckKind::Grpc
        } else if !spec.http.is_empty() && interval {
            CheckKind::Http
        } else if spec.ttl.0 > 0 {
            CheckKind::Ttl
        } else if script && spec.docker_container_id.is_empty() && interval {
            CheckKind::Script
        } else if !spec.tcp.is_empty() && interval {
            CheckKind::Tcp
        } else if !spec.udp.is_empty() && interval {
            CheckKind::Udp
        } else if script && !spec.docker_container_id.is_empty() && interval {
            CheckKind::Docker
        } else if !spec.h2ping.is_empty() && interval {
            CheckKind::H2ping
        } else if !spec.alias_node.is_empty() || !spec.alias_service.is_empty() {
            CheckKind::Alias
        } else {
            CheckKind::None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::None => "",
            CheckKind::Http => "http",
            CheckKind::Tcp => "tcp",
            CheckKind::Udp => "udp",
            CheckKind::Grpc => "grpc",
            CheckKind::Ttl => "ttl",
            CheckKind::Script => "script",
            CheckKind::Docker => "docker",
            CheckKind::Alias => "alias",
            CheckKind::H2ping => "h2ping",
            CheckKind::Maintenance => "maintenance",
        }
    }

    /// Whether the kind needs an `Interval`.
    pub fn needs_interval(self) -> bool {
        matches!(
            self,
            CheckKind::Http
                | CheckKind::Tcp
                | CheckKind::Script
                | CheckKind::Udp
                | CheckKind::Grpc
                | CheckKind::Docker
                | CheckKind::H2ping
        )
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kinds_keep_consuls_strings() {
        for s in [
            HealthStatus::Passing,
            HealthStatus::Warning,
            HealthStatus::Critical,
        ] {
            assert_eq!(HealthStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(HealthStatus::parse("maintenance"), None);
        assert_eq!(HealthStatus::parse(""), None);
        for k in [CheckKind::None, CheckKind::Http, CheckKind::Maintenance] {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<CheckKind>(&json).unwrap(), k);
        }
    }
}
