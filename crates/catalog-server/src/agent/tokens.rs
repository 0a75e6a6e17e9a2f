//! The agent's own ACL tokens (`acl.tokens`, `/v1/agent/token/*`): the default token used for
//! requests that carry none, the agent token (a client's anti-entropy), the recovery token, the
//! DNS token (what DNS answers with, else the default token), the config-file registration
//! token and the replication token. With `acl.enable_token_persistence`, the tokens set through
//! the API are kept in `<data_dir>/acl-tokens.json` under Consul's keys and loaded at start
//! over the configured ones, as Consul's `agent/token` store does: only those set through the
//! API are written (a configured token is read from the config again at the next start).
//!
//! The replication token is stored and persisted, never used: in Consul only a server of a
//! secondary datacenter with `acl.enable_token_replication` uses it, to replicate the primary's
//! ACLs. A single-datacenter agent holds it unused just as Consul's does, and both switches
//! that would use it (`enable_token_replication`, `primary_datacenter` elsewhere) are refused
//! by name (`config::acl`, `config::support`).

use crate::config::acl::AgentTokens;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

/// Which of the agent's tokens (`/v1/agent/token/<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Default,
    Agent,
    AgentRecovery,
    Replication,
    ConfigFileServiceRegistration,
    Dns,
}

impl TokenKind {
    /// The path segment, with Consul's older aliases.
    pub fn parse(s: &str) -> Option<TokenKind> {
        Some(match s {
            "default" | "acl_token" => TokenKind::Default,
            "agent" | "acl_agent_token" => TokenKind::Agent,
            "agent_recovery" | "agent_master" | "acl_agent_master_token" => {
                TokenKind::AgentRecovery
            }
            "replication" | "acl_replication_token" => TokenKind::Replication,
            "config_file_service_registration" => TokenKind::ConfigFileServiceRegistration,
            "dns" | "dns_token" => TokenKind::Dns,
            _ => return None,
        })
    }

    /// Where this kind is held.
    fn slot(self, t: &mut AgentTokens) -> &mut Option<String> {
        match self {
            TokenKind::Default => &mut t.default,
            TokenKind::Agent => &mut t.agent,
            TokenKind::AgentRecovery => &mut t.agent_recovery,
            TokenKind::Replication => &mut t.replication,
            TokenKind::ConfigFileServiceRegistration => &mut t.config_file_service_registration,
            TokenKind::Dns => &mut t.dns,
        }
    }
}

/// The persisted file's shape: Consul's `persistedTokens`, its keys in its order.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Persisted {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    replication: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    agent_recovery: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    default: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    config_file_service_registration: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    dns: String,
    /// Written by Consul before 1.11 (`agent_recovery` then).
    #[serde(default, skip_serializing)]
    agent_master: String,
}

impl Persisted {
    fn from_tokens(t: &AgentTokens) -> Persisted {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Persisted {
            replication: s(&t.replication),
            agent_recovery: s(&t.agent_recovery),
            default: s(&t.default),
            agent: s(&t.agent),
            config_file_service_registration: s(&t.config_file_service_registration),
            dns: s(&t.dns),
            agent_master: String::new(),
        }
    }

    /// The persisted tokens, each under its kind and Consul's name for it in warnings.
    fn into_kinds(self) -> [(TokenKind, &'static str, String); 6] {
        let recovery = if self.agent_recovery.is_empty() {
            self.agent_master
        } else {
            self.agent_recovery
        };
        [
            (TokenKind::Default, "default", self.default),
            (TokenKind::Agent, "agent", self.agent),
            (TokenKind::AgentRecovery, "agent_recovery", recovery),
            (TokenKind::Replication, "replication", self.replication),
            (
                TokenKind::ConfigFileServiceRegistration,
                "config_file_service_registration",
                self.config_file_service_registration,
            ),
            (TokenKind::Dns, "dns", self.dns),
        ]
    }
}

/// The tokens in effect, and those of them set through the API (the ones persisted).
#[derive(Debug)]
struct Held {
    current: AgentTokens,
    from_api: AgentTokens,
}

/// The agent's tokens, changed at run time through the API.
#[derive(Debug)]
pub struct Tokens {
    held: RwLock<Held>,
    /// Held by a change until its file is written (Consul's `persistenceLock`), so the file
    /// never lags a later change; readers take only `held`, never waiting on the disk.
    persisting: Mutex<()>,
    /// Where set tokens are persisted, when `enable_token_persistence`.
    file: Option<PathBuf>,
}

impl Tokens {
    /// The configured tokens, overridden by persisted ones (which were set later).
    pub fn load(configured: AgentTokens, file: Option<PathBuf>) -> Tokens {
        let mut current = configured;
        let mut from_api = AgentTokens::default();
        if let Some(p) = &file {
            let saved = match std::fs::read(p) {
                Ok(bytes) => serde_json::from_slice::<Persisted>(&bytes).map_err(|e| {
                    format!(
                        "failed to decode tokens file {:?}: {e}",
                        p.display().to_string()
                    )
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Persisted::default()),
                Err(e) => Err(format!(
                    "failed reading tokens file {:?}: {e}",
                    p.display().to_string()
                )),
            };
            match saved {
                Ok(saved) => {
                    for (kind, name, token) in saved.into_kinds() {
                        if token.is_empty() {
                            continue;
                        }
                        let slot = kind.slot(&mut current);
                        if slot.is_some() {
                            tracing::warn!(target: "agent", "{name:?} token present in both the configuration and persisted token store, using the persisted token");
                        }
                        *slot = Some(token.clone());
                        *kind.slot(&mut from_api) = Some(token);
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "agent", "unable to load persisted tokens: error={e}")
                }
            }
        }
        Tokens {
            held: RwLock::new(Held { current, from_api }),
            persisting: Mutex::new(()),
            file,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn default_token(&self) -> Option<String> {
        self.read().current.default.clone()
    }

    /// The token the agent's own operations carry (Consul's `AgentToken`): the agent token,
    /// else the default token.
    pub fn agent_token(&self) -> Option<String> {
        let held = self.read();
        let t = &held.current;
        t.agent.clone().or_else(|| t.default.clone())
    }

    /// The token DNS answers with (Consul's `coalesceDNSToken`): the DNS token, else the
    /// default token.
    pub fn dns_token(&self) -> Option<String> {
        let held = self.read();
        let t = &held.current;
        t.dns.clone().or_else(|| t.default.clone())
    }

    /// Whether `secret` is this agent's recovery token.
    pub fn is_recovery(&self, secret: &str) -> bool {
        self.read()
            .current
            .agent_recovery
            .as_deref()
            .is_some_and(|r| crate::catalog::acl::same_secret(r, secret))
    }

    /// Sets one token (an empty one clears it, the configured one too, as in Consul); the
    /// tokens set through the API are persisted when the agent keeps tokens.
    pub fn set(&self, kind: TokenKind, token: String) -> std::io::Result<()> {
        let value = (!token.is_empty()).then_some(token);
        let _persisting = self.persisting.lock().unwrap_or_else(|p| p.into_inner());
        let persisted = {
            let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
            *kind.slot(&mut held.current) = value.clone();
            *kind.slot(&mut held.from_api) = value;
            Persisted::from_tokens(&held.from_api)
        };
        let Some(path) = &self.file else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(&persisted).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_data()?;
        }
        std::fs::rename(&tmp, path)?;
        // The rename itself survives a crash once the directory is synced.
        match path.parent() {
            Some(dir) => std::fs::File::open(dir)?.sync_all(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_file(p: &std::path::Path) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).expect("tokens file")).expect("json")
    }

    #[test]
    fn api_tokens_are_persisted_under_consuls_keys_and_win_over_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("acl-tokens.json");
        let configured = AgentTokens {
            default: Some("from-config".into()),
            replication: Some("replication-config".into()),
            dns: Some("dns-config".into()),
            ..AgentTokens::default()
        };
        let t = Tokens::load(configured.clone(), Some(file.clone()));
        assert_eq!(t.dns_token().as_deref(), Some("dns-config"));
        t.set(TokenKind::Replication, "replication-secret".into())
            .expect("set");
        t.set(
            TokenKind::parse("dns_token").expect("alias"),
            "dns-secret".into(),
        )
        .expect("set");
        t.set(TokenKind::Agent, "agent-secret".into()).expect("set");
        // Only what the API set, in Consul's key order; the configured default stays out.
        assert_eq!(
            std::fs::read_to_string(&file).expect("file"),
            r#"{"replication":"replication-secret","agent":"agent-secret","dns":"dns-secret"}"#
        );
        let again = Tokens::load(configured, Some(file.clone()));
        assert_eq!(again.dns_token().as_deref(), Some("dns-secret"));
        assert_eq!(again.default_token().as_deref(), Some("from-config"));
        assert_eq!(
            again.read().current.replication.as_deref(),
            Some("replication-secret")
        );
        // An empty token clears it: DNS falls back to the default token.
        again.set(TokenKind::Dns, String::new()).expect("set");
        assert_eq!(again.dns_token().as_deref(), Some("from-config"));
        assert_eq!(
            read_file(&file),
            serde_json::json!({"replication": "replication-secret", "agent": "agent-secret"})
        );
    }

    #[test]
    fn a_file_from_before_1_11_and_a_damaged_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("acl-tokens.json");
        std::fs::write(&file, r#"{"agent_master": "juliett"}"#).expect("write");
        let t = Tokens::load(AgentTokens::default(), Some(file.clone()));
        assert!(t.is_recovery("juliett"));
        // Damaged: the configured tokens, as Consul loads them.
        std::fs::write(&file, "[1,2,3]").expect("write");
        let configured = AgentTokens {
            dns: Some("dns-config".into()),
            ..AgentTokens::default()
        };
        let t = Tokens::load(configured, Some(file));
        assert_eq!(t.dns_token().as_deref(), Some("dns-config"));
    }
}
