//! The `acl { … }` block (and the older top-level `acl_*` keys it replaced): whether ACLs are
//! enforced, the default policy, and the agent's tokens.

use super::files::ConfigError;
use serde_json::Value;

/// ACL settings of an agent with `acl.enabled = true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclConfig {
    /// `default_policy`: what a token may do where no rule says (`allow` by default).
    pub default_deny: bool,
    /// `down_policy` (`extend-cache` by default): what a client agent grants when no server
    /// can resolve a token (a server resolves from its own replicated copy of the ACL
    /// tables, so it never applies there).
    pub down_policy: DownPolicy,
    /// How long a client agent keeps a token it resolved through the servers: the shortest
    /// of `token_ttl`, `policy_ttl` and `role_ttl` (30s each by default), as the client
    /// resolves a token with its policies and roles in one request.
    pub cache_ttl: std::time::Duration,
    /// `enable_token_persistence`: tokens set with `/v1/agent/token/*` are written to
    /// `<data_dir>/acl-tokens.json` and loaded at start.
    pub enable_token_persistence: bool,
    /// `enable_key_list_policy`: listing keys (`?keys`, `?recurse`) needs `list` on the prefix.
    pub enable_key_list_policy: bool,
    pub tokens: AgentTokens,
}

/// `acl.tokens`: the agent's own tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentTokens {
    /// `initial_management` (formerly `master`): a management token created by the leader.
    pub initial_management: Option<String>,
    /// `default`: used for requests that carry no token.
    pub default: Option<String>,
    /// `agent`: the agent's own operations: a client agent's anti-entropy and coordinate
    /// updates carry it to the servers (the default token when unset). A server's own writes
    /// do not go through the HTTP API, so there it restricts nothing.
    pub agent: Option<String>,
    /// `agent_recovery` (formerly `agent_master`): `agent:write` on this agent when the
    /// servers are unreachable.
    pub agent_recovery: Option<String>,
    /// `config_file_service_registration`: registers the services of config files.
    pub config_file_service_registration: Option<String>,
    /// `replication`: stored (and persisted), never used — as on a Consul agent of a single
    /// datacenter, where only a secondary datacenter's servers with `enable_token_replication`
    /// use it; both are refused by name here, so holding it is what Consul does, not a setting
    /// accepted and ignored.
    pub replication: Option<String>,
    /// `dns`: what DNS answers with (Consul 1.19+), else the default token.
    pub dns: Option<String>,
}

/// `acl.down_policy`: Consul's four, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownPolicy {
    /// Everything the default policy `allow` grants.
    Allow,
    /// Nothing.
    Deny,
    /// A cached answer kept past its TTL; without one, the default policy.
    ExtendCache,
    /// As `ExtendCache`, and an expired answer is used at once while it is refreshed in the
    /// background.
    AsyncCache,
}

impl DownPolicy {
    pub fn parse(s: &str) -> Option<DownPolicy> {
        Some(match s {
            "allow" => DownPolicy::Allow,
            "deny" => DownPolicy::Deny,
            "extend-cache" => DownPolicy::ExtendCache,
            "async-cache" => DownPolicy::AsyncCache,
            _ => return None,
        })
    }
}

/// Consul's default for `token_ttl`, `policy_ttl` and `role_ttl`.
const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(30);

const KEYS: &[&str] = &[
    "enabled",
    "default_policy",
    "down_policy",
    "enable_token_persistence",
    "enable_key_list_policy",
    "policy_ttl",
    "role_ttl",
    "token_ttl",
    "tokens",
];
const TOKEN_KEYS: &[&str] = &[
    "initial_management",
    "master",
    "default",
    "agent",
    "agent_recovery",
    "agent_master",
    "config_file_service_registration",
    "replication",
    "dns",
];

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

fn string(v: &Value, path: &[&str]) -> Result<Option<String>, ConfigError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as string",
            path.join(".")
        ))),
    }
}

fn boolean(v: &Value, path: &[&str]) -> Result<Option<bool>, ConfigError> {
    match at(v, path) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => api_types::parse_bool(s)
            .map(Some)
            .ok_or_else(|| invalid(format!("{}: cannot parse '{s}' as bool", path.join(".")))),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as bool",
            path.join(".")
        ))),
    }
}

/// The first set of `acl.<path>` and the legacy top-level key.
fn first(v: &Value, paths: &[&[&str]]) -> Result<Option<String>, ConfigError> {
    for p in paths {
        if let Some(s) = string(v, p)? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// Keys of the `acl` block this agent does not know or implement, as a refusal text.
pub(super) fn refusal(value: &Value) -> Option<String> {
    let block = value.as_object()?;
    for (k, v) in block {
        if !KEYS.contains(&k.as_str()) {
            return Some(match k.as_str() {
                "enable_token_replication" | "msp_disable_bootstrap" | "replication" => {
                    format!("acl.{k} = {v}: ACL replication between datacenters is not implemented by this agent (one datacenter)")
                }
                _ => format!("acl.{k} is not a known ACL setting"),
            });
        }
    }
    if let Some(tokens) = block.get("tokens").and_then(Value::as_object) {
        if let Some(k) = tokens.keys().find(|k| !TOKEN_KEYS.contains(&k.as_str())) {
            return Some(format!("acl.tokens.{k} is not a known ACL token"));
        }
    }
    None
}

/// The ACL settings, `None` when ACLs are off.
pub fn acl(v: &Value) -> Result<Option<AclConfig>, ConfigError> {
    if !boolean(v, &["acl", "enabled"])?.unwrap_or(false) {
        return Ok(None);
    }
    let default_policy =
        first(v, &[&["acl", "default_policy"], &["acl_default_policy"]])?.unwrap_or("allow".into());
    let default_deny = match default_policy.as_str() {
        "allow" => false,
        "deny" => true,
        other => {
            return Err(invalid(format!(
                "Invalid ACL default policy: {other:?}. Valid options are: allow, deny"
            )))
        }
    };
    let down_policy = first(v, &[&["acl", "down_policy"], &["acl_down_policy"]])?
        .unwrap_or("extend-cache".into());
    let Some(down_policy) = DownPolicy::parse(&down_policy) else {
        return Err(invalid(format!(
            "Invalid ACL down policy: {down_policy:?}. Valid options are: allow, deny, async-cache, extend-cache"
        )));
    };
    let mut cache_ttl = DEFAULT_TTL;
    for ttl in ["policy_ttl", "role_ttl", "token_ttl"] {
        if let Some(s) = string(v, &["acl", ttl])? {
            let nanos =
                api_types::parse_go_duration(&s).map_err(|e| invalid(format!("acl.{ttl}: {e}")))?;
            cache_ttl = cache_ttl.min(std::time::Duration::from_nanos(nanos.max(0) as u64));
        }
    }
    let tokens = AgentTokens {
        initial_management: first(
            v,
            &[
                &["acl", "tokens", "initial_management"],
                &["acl", "tokens", "master"],
                &["acl_master_token"],
            ],
        )?,
        default: first(v, &[&["acl", "tokens", "default"], &["acl_token"]])?,
        agent: first(v, &[&["acl", "tokens", "agent"], &["acl_agent_token"]])?,
        agent_recovery: first(
            v,
            &[
                &["acl", "tokens", "agent_recovery"],
                &["acl", "tokens", "agent_master"],
                &["acl_agent_master_token"],
            ],
        )?,
        config_file_service_registration: string(
            v,
            &["acl", "tokens", "config_file_service_registration"],
        )?,
        // The older top-level `acl_replication_token` also switches token replication on in
        // Consul, so it stays refused (`config::support`).
        replication: string(v, &["acl", "tokens", "replication"])?,
        dns: string(v, &["acl", "tokens", "dns"])?,
    };
    Ok(Some(AclConfig {
        default_deny,
        down_policy,
        cache_ttl,
        enable_token_persistence: boolean(v, &["acl", "enable_token_persistence"])?
            .unwrap_or(false),
        enable_key_list_policy: boolean(v, &["acl", "enable_key_list_policy"])?
            .or(boolean(v, &["acl_enable_key_list_policy"])?)
            .unwrap_or(false),
        tokens,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn the_replication_and_dns_tokens_load_and_replication_itself_is_refused() {
        let block = json!({"enabled": true, "tokens": {"replication": "r", "dns": "d"}});
        assert_eq!(refusal(&block), None);
        let c = acl(&json!({ "acl": block })).unwrap().unwrap();
        assert_eq!(c.tokens.replication.as_deref(), Some("r"));
        assert_eq!(c.tokens.dns.as_deref(), Some("d"));
        let on = refusal(&json!({"enabled": true, "enable_token_replication": true}));
        assert!(
            on.as_deref().is_some_and(|m| m.starts_with(
                "acl.enable_token_replication = true: ACL replication between datacenters"
            )),
            "{on:?}"
        );
        let unknown = refusal(&json!({"enabled": true, "tokens": {"dsn": "d"}}));
        assert_eq!(
            unknown.as_deref(),
            Some("acl.tokens.dsn is not a known ACL token")
        );
    }

    #[test]
    fn down_policy_and_the_cache_ttl() {
        let c = acl(&json!({"acl": {"enabled": true}})).unwrap().unwrap();
        assert_eq!(c.down_policy, DownPolicy::ExtendCache);
        assert_eq!(c.cache_ttl, Duration::from_secs(30));
        let c = acl(&json!({"acl": {
            "enabled": true, "down_policy": "async-cache", "token_ttl": "10s", "role_ttl": "1m"
        }}))
        .unwrap()
        .unwrap();
        assert_eq!(c.down_policy, DownPolicy::AsyncCache);
        assert_eq!(c.cache_ttl, Duration::from_secs(10));
        let c = acl(&json!({"acl": {"enabled": true, "token_ttl": "0s"}}))
            .unwrap()
            .unwrap();
        assert_eq!(c.cache_ttl, Duration::ZERO);
        let c = acl(&json!({"acl_down_policy": "deny", "acl": {"enabled": true}}))
            .unwrap()
            .unwrap();
        assert_eq!(c.down_policy, DownPolicy::Deny);
        let e = acl(&json!({"acl": {"enabled": true, "down_policy": "sometimes"}})).unwrap_err();
        assert!(
            e.to_string()
                .contains("Invalid ACL down policy: \"sometimes\""),
            "{e}"
        );
    }
}
