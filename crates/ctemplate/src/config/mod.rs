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
    /// File holding the ACL token (`token_file`, `-consul-token-file`, `$CONSUL_TOKEN_FILE`,
    /// `$CONSUL_HTTP_TOKEN_FILE`): read when a runner starts (again on reload); its trimmed
    /// content, when not empty, wins over `token`, as in Consul's Go client.
    pub token_file: Option<PathBuf>,
    /// Retry policy.
    pub retry: Retry,
    /// `consul { ssl { … } }` / `-consul-ssl*`.
    pub ssl: Ssl,
    /// HTTP basic authentication (user, password) sent to Consul (`consul { auth { … } }`,
    /// `-consul-auth`), for a proxy in front of it; else `$CONSUL_HTTP_AUTH`.
    pub auth: Option<(String, String)>,
    /// `consul { transport { … } }` / `-consul-transport-*`.
    pub transport: Transport,
}

/// How connections to Consul are made and kept (upstream's `TransportConfig`, its defaults).
/// `max_idle_conns` and `max_conns_per_host` exist upstream too; only their default (0, no
/// limit) is taken (the HTTP client has no such limits).
///
/// Against an agent that speaks HTTP/2 with prior knowledge on a plain `http://` address (our
/// `consul`), every request is a stream of one connection (`api_types::client` negotiates it,
/// HTTP/1.1 otherwise). Then `dial_timeout` and `dial_keep_alive` apply to that connection;
/// `idle_conn_timeout` and `max_idle_conns_per_host` to HTTP/1.1 connections only (the h2 one
/// is kept while consul-template runs, and closed by the agent when idle);
/// `disable_keep_alives` (or `max_idle_conns_per_host = 0`) means no shared connection, so
/// HTTP/1.1 with a connection per request, as before; `tls_handshake_timeout` concerns HTTPS,
/// which stays HTTP/1.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transport {
    pub dial_keep_alive: Duration,
    pub dial_timeout: Duration,
    pub disable_keep_alives: bool,
    pub idle_conn_timeout: Duration,
    pub max_idle_conns_per_host: usize,
    pub tls_handshake_timeout: Duration,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            dial_keep_alive: Duration::from_secs(30),
            dial_timeout: Duration::from_secs(30),
            disable_keep_alives: false,
            idle_conn_timeout: Duration::from_secs(5),
            max_idle_conns_per_host: 100,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl Transport {
    /// The HTTP client's settings: the dial and, over TLS, the handshake share one connect
    /// deadline (the client's connect covers both); no kept connection without keep-alives.
    pub fn client(&self, tls: bool) -> api_types::client::ConnectionSettings {
        api_types::client::ConnectionSettings {
            connect_timeout: Some(
                self.dial_timeout
                    + if tls {
                        self.tls_handshake_timeout
                    } else {
                        Duration::ZERO
                    },
            ),
            tcp_keepalive: (!self.dial_keep_alive.is_zero()).then_some(self.dial_keep_alive),
            max_idle_per_host: Some(if self.disable_keep_alives {
                0
            } else {
                self.max_idle_conns_per_host
            }),
            idle_timeout: Some(self.idle_conn_timeout),
            // One HTTP/2 connection for every view when the agent speaks h2c (our consul; a Go
            // Consul does not, and keeps HTTP/1.1); not without kept connections.
            h2c: true,
        }
    }
}

/// Upstream's `ParseAuthConfig`: `user[:password]`.
pub fn parse_auth(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (s.to_string(), String::new()),
    }
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
    /// `error_fatal`: an execution or write error of this template ends the run (exit 14);
    /// `false` logs it and keeps going. Unset: the global `template_error_fatal`.
    pub error_fatal: Option<bool>,
    /// `exec { env { ... } }` of this template: the environment its command gets.
    pub env: ExecEnv,
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
    /// `exec { env { ... } }` / `-exec-env-*`: the child's environment.
    pub env: ExecEnv,
}

/// The environment of a child process (upstream's `EnvConfig`): ours, filtered by `allowlist`
/// then `denylist` (Go `filepath.Match` globs on the names) or nothing when `pristine`; then
/// `CONSUL_HTTP_ADDR` and friends; then `custom` (`KEY=value`), later entries winning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecEnv {
    /// Start from an empty environment instead of ours.
    pub pristine: bool,
    /// `KEY=value` entries added last.
    pub custom: Vec<String>,
    /// Only variables matching one of these (when any) are passed on.
    pub allowlist: Vec<String>,
    /// Variables matching one of these are not passed on.
    pub denylist: Vec<String>,
}

impl ExecEnv {
    /// The child's environment, in order (a later entry for the same name wins), from `ours`
    /// (normally `std::env::vars()`) and the runner's `CONSUL_HTTP_*` variables.
    pub fn build(
        &self,
        ours: impl IntoIterator<Item = (String, String)>,
        runner: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        if !self.pristine {
            let any = |k: &str, pats: &[String]| pats.iter().any(|p| glob_match(p, k));
            out.extend(ours.into_iter().filter(|(k, _)| {
                (self.allowlist.is_empty() || any(k, &self.allowlist)) && !any(k, &self.denylist)
            }));
        }
        out.extend(runner.iter().cloned());
        for kv in &self.custom {
            if let Some((k, v)) = kv.split_once('=') {
                out.push((k.to_string(), v.to_string()));
            }
        }
        out
    }
}

/// Go's `filepath.Match` on Unix: `*` (any run of non-`/`), `?`, `[...]` classes with ranges
/// and `^` negation, `\\` escapes. A malformed pattern matches nothing (Go returns an error,
/// which upstream treats as no match).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, chars consumed including ']')
        let mut i = 0;
        let negate = p.first() == Some(&'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let ch = *p.get(i)?;
            if ch == ']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            let lo = if ch == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                ch
            };
            i += 1;
            let mut hi = lo;
            if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
                i += 1;
                hi = if p[i] == '\\' {
                    i += 1;
                    *p.get(i)?
                } else {
                    p[i]
                };
                i += 1;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    fn go(p: &[char], n: &[char]) -> Option<bool> {
        let Some(&c) = p.first() else {
            return Some(n.is_empty());
        };
        match c {
            '*' => {
                for k in 0..=n.len() {
                    if k > 0 && n[k - 1] == '/' {
                        break;
                    }
                    if go(&p[1..], &n[k..])? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            '?' => match n.first() {
                Some(&x) if x != '/' => go(&p[1..], &n[1..]),
                _ => Some(false),
            },
            '[' => {
                let &x = n.first()?;
                let (ok, used) = class(&p[1..], x)?;
                if ok && x != '/' {
                    go(&p[1 + used..], &n[1..])
                } else {
                    Some(false)
                }
            }
            '\\' => {
                let &e = p.get(1)?;
                if n.first() == Some(&e) {
                    go(&p[2..], &n[1..])
                } else {
                    Some(false)
                }
            }
            _ => {
                if n.first() == Some(&c) {
                    go(&p[1..], &n[1..])
                } else {
                    Some(false)
                }
            }
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n).unwrap_or(false)
}

impl Default for Exec {
    fn default() -> Self {
        Exec {
            command: Vec::new(),
            reload_signal: None,
            kill_signal: Signal::INT,
            kill_timeout: Duration::from_secs(30),
            splay: Duration::ZERO,
            env: ExecEnv::default(),
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
    /// Exec mode (only with a command: `-exec-splay` alone does not enable it, as upstream).
    pub exec: Option<Exec>,
    /// `-parse-only`: load and parse every template, then exit without contacting Consul.
    pub parse_only: bool,
    /// `template_error_fatal` / `-template-error-fatal` (default true): the default of each
    /// template's `error_fatal`.
    pub template_error_fatal: bool,
    /// `default_delimiters { left right }` / `-default-left-delimiter`,
    /// `-default-right-delimiter`: for templates without their own.
    pub default_left_delimiter: Option<String>,
    /// See `default_left_delimiter`.
    pub default_right_delimiter: Option<String>,
    /// `log_file { ... }` / `-log-file`, `-log-rotate-*`.
    pub log_file: LogFile,
    /// `syslog { ... }` / `-syslog*`.
    pub syslog: Syslog,
    /// `deduplicate { ... }` / `-dedup`.
    pub dedup: Dedup,
}

/// De-duplication mode (upstream's `deduplicate` block): per template, one instance of a
/// group holds a Consul lock on `<prefix>/<template ID>/data`, watches the template's
/// dependencies and stores their data in that key; the others render from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dedup {
    /// `enabled` / `-dedup`; unset = enabled when any other key of the block was given
    /// (upstream's `Finalize`). Resolved by [`Config::finalize`].
    pub enabled: Option<bool>,
    /// `max_stale` (2s): staleness allowed when followers read the data key.
    pub max_stale: Duration,
    /// `prefix` (`consul-template/dedup/`).
    pub prefix: String,
    /// `ttl` (15s): TTL of the instance's session.
    pub ttl: Duration,
    /// `block_query_wait` (60s): blocking wait of the followers' reads of the data key.
    pub block_query_wait: Duration,
    /// Some key other than `enabled` was given.
    pub any_key: bool,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup {
            enabled: None,
            max_stale: Duration::from_secs(2),
            prefix: "consul-template/dedup/".to_string(),
            ttl: Duration::from_secs(15),
            block_query_wait: Duration::from_secs(60),
            any_key: false,
        }
    }
}

impl Dedup {
    /// Whether de-duplication is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(self.any_key)
    }
}

/// Logging to a file besides stderr (upstream's `log_file`): `<stem>-<unix nanos><ext>` in the
/// path's directory, a new file when `rotate_bytes` (> 0) were written or `rotate_duration`
/// elapsed, keeping the newest `rotate_max_files` old ones (0: all; negative: none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    /// `path`; a directory (ending in `/`) uses `consul-template.log`.
    pub path: Option<PathBuf>,
    /// `log_rotate_bytes`, 0 = no size limit.
    pub rotate_bytes: i64,
    /// `log_rotate_duration` (24h; 0 means 24h).
    pub rotate_duration: Duration,
    /// `log_rotate_max_files`.
    pub rotate_max_files: i64,
}

impl Default for LogFile {
    fn default() -> Self {
        LogFile {
            path: None,
            rotate_bytes: 0,
            rotate_duration: Duration::from_secs(24 * 3600),
            rotate_max_files: 0,
        }
    }
}

/// Logging to the local syslog as well (upstream's `syslog`): enabled explicitly, or by
/// giving a facility or a name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Syslog {
    /// `enabled` / `-syslog`; `None` = enabled when `facility` or `name` was given.
    pub enabled: Option<bool>,
    /// `facility` / `-syslog-facility` (LOCAL0).
    pub facility: Option<String>,
    /// `name` / `-syslog-name` (consul-template): the tag.
    pub name: Option<String>,
}

impl Syslog {
    /// Whether syslog logging is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or_else(|| {
            self.facility.as_deref().is_some_and(|s| !s.is_empty())
                || self.name.as_deref().is_some_and(|s| !s.is_empty())
        })
    }
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
            parse_only: false,
            template_error_fatal: true,
            default_left_delimiter: None,
            default_right_delimiter: None,
            log_file: LogFile::default(),
            syslog: Syslog::default(),
            dedup: Dedup::default(),
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
        c.consul.token_file = env("CONSUL_TOKEN_FILE")
            .or_else(|| env("CONSUL_HTTP_TOKEN_FILE"))
            .map(PathBuf::from);
        let level = env("CT_LOG")
            .or_else(|| env("CONSUL_TEMPLATE_LOG"))
            .or_else(|| env("CONSUL_TEMPLATE_LOG_LEVEL"));
        if let Some(l) = level.and_then(|l| Level::parse(&l)) {
            c.log_level = l;
        }
        c
    }

    /// Fills in what depends on other settings, as upstream's `Finalize`: each template's
    /// `error_fatal` from `template_error_fatal`, its delimiters from the default ones.
    pub fn finalize(&mut self) {
        for t in &mut self.templates {
            t.error_fatal.get_or_insert(self.template_error_fatal);
            let unset = |d: &Option<String>| d.as_deref().map_or(true, str::is_empty);
            if unset(&t.left_delimiter) {
                t.left_delimiter.clone_from(&self.default_left_delimiter);
            }
            if unset(&t.right_delimiter) {
                t.right_delimiter.clone_from(&self.default_right_delimiter);
            }
        }
        self.dedup.enabled = Some(self.dedup.is_enabled());
        if self.exec.as_ref().is_some_and(|e| e.command.is_empty()) {
            self.exec = None;
        }
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
