//! The agent's own ACL tokens (`acl.tokens`, `/v1/agent/token/*`): the default token used for
//! requests that carry none, the agent token (a client's anti-entropy), the recovery token. With
//! `acl.enable_token_persistence`, tokens set through the API are kept in
//! `<data_dir>/acl-tokens.json` and loaded at start, as Consul does.

use crate::config::acl::AgentTokens;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::RwLock;

/// Which of the agent's tokens (`/v1/agent/token/<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Default,
    Agent,
    AgentRecovery,
    ConfigFileServiceRegistration,
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
            "config_file_service_registration" => TokenKind::ConfigFileServiceRegistration,
            _ => return None,
        })
    }
}

/// The persisted file's shape (Consul's `acl-tokens.json` keys).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Persisted {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    agent_recovery: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    default: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    config_file_service_registration: String,
}

/// The agent's tokens, changed at run time through the API.
#[derive(Debug)]
pub struct Tokens {
    current: RwLock<AgentTokens>,
    /// Where set tokens are persisted, when `enable_token_persistence`.
    file: Option<PathBuf>,
}

impl Tokens {
    /// The configured tokens, overridden by persisted ones (which were set later).
    pub fn load(configured: AgentTokens, file: Option<PathBuf>) -> Tokens {
        let mut t = configured;
        if let Some(p) = &file {
            match std::fs::read(p) {
                Ok(bytes) => match serde_json::from_slice::<Persisted>(&bytes) {
                    Ok(saved) => {
                        let pick = |s: String, old: &mut Option<String>| {
                            if !s.is_empty() {
                                *old = Some(s);
                            }
                        };
                        pick(saved.agent, &mut t.agent);
                        pick(saved.agent_recovery, &mut t.agent_recovery);
                        pick(saved.default, &mut t.default);
                        pick(
                            saved.config_file_service_registration,
                            &mut t.config_file_service_registration,
                        );
                    }
                    Err(e) => {
                        tracing::warn!(target: "agent", "unable to load persisted tokens: {}: {e}", p.display())
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(target: "agent", "unable to load persisted tokens: {}: {e}", p.display())
                }
            }
        }
        Tokens {
            current: RwLock::new(t),
            file,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, AgentTokens> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn default_token(&self) -> Option<String> {
        self.read().default.clone()
    }

    /// The token the agent's own operations carry (Consul's `AgentToken`): the agent token,
    /// else the default token.
    pub fn agent_token(&self) -> Option<String> {
        let t = self.read();
        t.agent.clone().or_else(|| t.default.clone())
    }

    /// Whether `secret` is this agent's recovery token.
    pub fn is_recovery(&self, secret: &str) -> bool {
        self.read()
            .agent_recovery
            .as_deref()
            .is_some_and(|r| crate::catalog::acl::same_secret(r, secret))
    }

    /// Sets one token; persisted when the agent keeps tokens.
    pub fn set(&self, kind: TokenKind, token: String) -> std::io::Result<()> {
        let value = (!token.is_empty()).then_some(token);
        let snapshot = {
            let mut t = self.current.write().unwrap_or_else(|p| p.into_inner());
            match kind {
                TokenKind::Default => t.default = value,
                TokenKind::Agent => t.agent = value,
                TokenKind::AgentRecovery => t.agent_recovery = value,
                TokenKind::ConfigFileServiceRegistration => {
                    t.config_file_service_registration = value
                }
            }
            t.clone()
        };
        let Some(path) = &self.file else {
            return Ok(());
        };
        let p = Persisted {
            agent: snapshot.agent.unwrap_or_default(),
            agent_recovery: snapshot.agent_recovery.unwrap_or_default(),
            default: snapshot.default.unwrap_or_default(),
            config_file_service_registration: snapshot
                .config_file_service_registration
                .unwrap_or_default(),
        };
        let bytes = serde_json::to_vec(&p).map_err(std::io::Error::other)?;
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
        std::fs::rename(&tmp, path)
    }
}
