//! The resolved configuration: defaults, then the environment, then every `-config` file in
//! order, then command-line flags, merged into one [`Config`] and validated before anything
//! runs. Precedence: flag > file > environment > default; `template` blocks accumulate
//! (files first, then `-template` flags). SIGHUP re-runs the same resolution.

mod file;
mod resolve;

use std::path::PathBuf;
use std::time::Duration;

use crate::log::Level;
use crate::signal::Signal;

pub use file::{load_path, load_text};
pub use resolve::{parse_template_flag, resolve, Cli};

/// Why a configuration was refused (exit code 15, upstream's config error).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid HCL or JSON.
    #[error("{path}: parse error: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A key the configuration does not know (upstream's strict decoding).
    #[error("{path}: unknown key {key:?}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// Dotted key, e.g. `template.sourc`.
        key: String,
    },
    /// A value of the wrong type or out of range.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// File path or `flag`.
        origin: String,
        /// Dotted key or flag name.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Quiescence: render after `min` without changes, at the latest `max` after the first one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// Quiet period.
    pub min: Duration,
    /// Upper bound on the delay.
    pub max: Duration,
}

impl Wait {
    /// Parses `min[:max]` (max defaults to 4×min); `0` disables (`None`).
    pub fn parse(s: &str) -> Result<Option<Wait>, String> {
        let (a, b) = match s.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let dur =
            |x: &str| api_types::duration::parse_duration(x.trim()).map_err(|e| e.to_string());
        let min = dur(a)?;
        let max = match b {
            Some(b) => dur(b)?,
            None => min * 4,
        };
        if max < min {
            return Err(format!(
                "wait: max ({max:?}) must be larger than min ({min:?})"
            ));
        }
        Ok((!min.is_zero() || !max.is_zero()).then_some(Wait { min, max }))
    }
}

/// Retry policy for Consul calls: sleep `backoff·2^n` capped at `max_backoff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// `false` fails on the first error.
    pub enabled: bool,
    /// 0 = unlimited.
    pub attempts: u32,
    /// Base sleep.
    pub backoff: Duration,
    /// Cap; zero = no cap.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            enabled: true,
            attempts: 12,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// Sleep before retry number `attempt` (1-based), or `None` when retries are exhausted.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        if !self.enabled || (self.attempts > 0 && attempt > self.attempts) {
            return None;
        }
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let d = self.backoff.saturating_mul(factor);
        Some(if self.max_backoff.is_zero() {
            d
        } else {
            d.min(self.max_backoff)
        })
    }
}

/// The `consul {}` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consul {
    /// `host:port` or URL; `None` = `127.0.0.1:8500`.
    pub address: Option<String>,
    /// ACL token.
    pub token: Option<String>,
    /// Retry policy.
    pub retry: Retry,
    /// `consul { ssl { … } }` / `-consul-ssl*`.
    pub ssl: Ssl,
}

/// How consul-template reaches Consul over HTTPS (upstream's `SSLConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ssl {
    /// Use https for an address without a scheme.
    pub enabled: bool,
    /// Verify the server's certificate (default true).
    pub verify: bool,
    /// CA certificate that signs the server's (PEM).
    pub ca_cert: Option<PathBuf>,
    /// Client certificate and key (PEM), for agents with `verify_incoming`.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Default for Ssl {
    fn default() -> Self {
        Ssl {
            enabled: false,
            verify: true,
            ca_cert: None,
            cert: None,
            key: None,
        }
    }
}

/// One `template {}` block or `-template` flag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    /// Template file (XOR `contents`).
    pub source: Option<PathBuf>,
    /// Inline template text.
    pub contents: Option<String>,
    /// Output file.
    pub destination: PathBuf,
    /// Command run after the file changed: one string (`sh -c` when it holds whitespace) or argv.
    pub command: Vec<String>,
    /// Command time limit (default 30s).
    pub command_timeout: Duration,
    /// File mode; `None` keeps the existing mode (new files 0644).
    pub perms: Option<u32>,
    /// Keep `<dest>.bak`.
    pub backup: bool,
    /// Per-template quiescence, overriding the global one.
    pub wait: Option<Wait>,
    /// Delimiters.
    pub left_delimiter: Option<String>,
    /// Delimiters.
    pub right_delimiter: Option<String>,
    /// Go `missingkey=error`.
    pub error_on_missing_key: bool,
    /// `mkdir -p` the destination's parent (default true).
    pub create_dest_dirs: bool,
    /// Functions that error when called.
    pub function_denylist: Vec<String>,
    /// Restricts `file`.
    pub sandbox_path: Option<PathBuf>,
}

impl Template {
    /// A template with upstream's defaults.
    pub fn new() -> Template {
        Template {
            command_timeout: Duration::from_secs(30),
            create_dest_dirs: true,
            ..Default::default()
        }
    }

    /// The name shown in logs: the source path or `(dynamic)`.
    pub fn display_source(&self) -> String {
        match &self.source {
            Some(p) => p.display().to_string(),
            None => "(dynamic)".to_string(),
        }
    }
}

/// The `exec {}` block / `-exec` flags: one supervised child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exec {
    /// The child's command (string → `sh -c` when it holds whitespace, or argv).
    pub command: Vec<String>,
    /// Sent on template change; `None` restarts the child.
    pub reload_signal: Option<Signal>,
    /// Sent to stop the child.
    pub kill_signal: Signal,
    /// Wait after the kill signal before SIGKILL.
    pub kill_timeout: Duration,
    /// Random delay up to this before reloading or restarting.
    pub splay: Duration,
}

impl Default for Exec {
    fn default() -> Self {
        Exec {
            command: Vec::new(),
            reload_signal: None,
            kill_signal: Signal::INT,
            kill_timeout: Duration::from_secs(30),
            splay: Duration::ZERO,
        }
    }
}

/// Everything the runtime needs, resolved and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Consul connection.
    pub consul: Consul,
    /// Templates in order.
    pub templates: Vec<Template>,
    /// Global quiescence.
    pub wait: Option<Wait>,
    /// Allowed staleness; zero disables `?stale`.
    pub max_stale: Duration,
    /// Blocking-query wait (`wait=60000ms`).
    pub block_query_wait: Duration,
    /// Log level.
    pub log_level: Level,
    /// PID file.
    pub pid_file: Option<PathBuf>,
    /// Reload signal (default SIGHUP).
    pub reload_signal: Option<Signal>,
    /// Graceful stop signal (default SIGINT; SIGTERM always stops too).
    pub kill_signal: Option<Signal>,
    /// Render once and exit.
    pub once: bool,
    /// Print instead of writing.
    pub dry: bool,
    /// Exec mode.
    pub exec: Option<Exec>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            consul: Consul::default(),
            templates: Vec::new(),
            wait: None,
            max_stale: Duration::from_secs(2),
            block_query_wait: Duration::from_secs(60),
            log_level: Level::Warn,
            pid_file: None,
            reload_signal: Some(Signal::HUP),
            kill_signal: Some(Signal::INT),
            once: false,
            dry: false,
            exec: None,
        }
    }
}

impl Config {
    /// Defaults overlaid with the environment (`CONSUL_HTTP_ADDR`, tokens, log level).
    pub fn from_env() -> Config {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut c = Config::default();
        c.consul.address = env("CONSUL_HTTP_ADDR");
        c.consul.token = env("CONSUL_TOKEN").or_else(|| env("CONSUL_HTTP_TOKEN"));
        let level = env("CT_LOG")
            .or_else(|| env("CONSUL_TEMPLATE_LOG"))
            .or_else(|| env("CONSUL_TEMPLATE_LOG_LEVEL"));
        if let Some(l) = level.and_then(|l| Level::parse(&l)) {
            c.log_level = l;
        }
        c
    }

    /// Checks what can only be checked on the whole: sources exist and are exclusive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            origin: "config".to_string(),
            key: key.to_string(),
            message,
        };
        if self.templates.is_empty() && self.exec.is_none() {
            return Err(bad("template", "no templates given".to_string()));
        }
        for t in &self.templates {
            match (&t.source, &t.contents) {
                (Some(_), Some(_)) => {
                    return Err(bad(
                        "template",
                        "source and contents are mutually exclusive".to_string(),
                    ))
                }
                (None, None) => {
                    return Err(bad("template", "must specify source or contents".into()))
                }
                _ => {}
            }
            if t.destination.as_os_str().is_empty() && !self.dry {
                return Err(bad(
                    "template",
                    format!("{}: missing destination", t.display_source()),
                ));
            }
        }
        Ok(())
    }
}
