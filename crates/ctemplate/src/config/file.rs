//! Configuration files: HCL or JSON (a file, or a directory read recursively in lexical order
//! without following symlinks), decoded strictly like upstream's mapstructure `ErrorUnused`:
//! a key we do not know is an error naming the key and the file. Keys upstream knows but this
//! drop-in does not implement (vault, syslog, ssl, ...) load only switched off; otherwise they
//! are refused by name, never accepted and ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value as J};

use super::{Config, ConfigError, Exec, ExecEnv, Template, Wait};
use crate::log::Level;
use crate::signal::Signal;

/// Reads `path` (file or directory) and merges it into `config`.
pub fn load_path(path: &Path, config: &mut Config) -> Result<(), ConfigError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let is_link = std::fs::symlink_metadata(&e).is_ok_and(|m| m.file_type().is_symlink());
            if !is_link {
                load_path(&e, config)?;
            }
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_text(path, &text, config)
}

/// Parses one file's `text` (named `path` in errors) and merges it into `config`.
pub fn load_text(path: &Path, text: &str, config: &mut Config) -> Result<(), ConfigError> {
    let (value, hcl) = parse(path, text)?;
    Ctx { path, hcl }.apply(config, &value)
}

/// Parses JSON when the text is a JSON object, HCL otherwise.
pub fn parse(path: &Path, text: &str) -> Result<(J, bool), ConfigError> {
    let err = |message: String| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text)
            .map(|v| (v, false))
            .map_err(|e| err(e.to_string()));
    }
    if api_types::hcl_guard::nests_too_deep(text) {
        return Err(err(format!(
            "nesting deeper than {} levels",
            api_types::hcl_guard::MAX_HCL_NESTING
        )));
    }
    hcl::from_str::<J>(text)
        .map(|v| (v, true))
        .map_err(|e| err(e.to_string()))
}

const IGNORED_TOP: &[&str] = &["vault", "nomad", "err_on_failed_lookup"];

struct Ctx<'a> {
    path: &'a Path,
    hcl: bool,
}

impl Ctx<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.path.display().to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// A key upstream knows and this consul-template does not act on: loaded when switched off
    /// (false, empty, zero, or a block of such values), so existing files keep working;
    /// refused by name otherwise, never accepted and ignored.
    fn only_off(&self, key: &str, v: &J) -> Result<(), ConfigError> {
        fn off(v: &J) -> bool {
            match v {
                J::Null => true,
                J::Bool(b) => !b,
                J::String(s) => s.is_empty(),
                J::Number(n) => n.as_f64() == Some(0.0),
                J::Array(items) => items.iter().all(off),
                J::Object(m) => m.values().all(off),
            }
        }
        if off(v) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            "is not supported by this consul-template; remove it (or switch it off)",
        ))
    }

    fn unknown(&self, key: String) -> ConfigError {
        ConfigError::UnknownKey {
            path: self.path.to_path_buf(),
            key,
        }
    }

    fn object<'v>(&self, key: &str, v: &'v J) -> Result<&'v Map<String, J>, ConfigError> {
        match v {
            J::Object(m) => Ok(m),
            // a block given once in HCL may still arrive as a one-element list
            J::Array(a) if a.len() == 1 => self.object(key, &a[0]),
            _ => Err(self.invalid(key, "expected a block")),
        }
    }

    /// Blocks given several times: the list, or the single object.
    fn blocks<'v>(&self, key: &str, v: &'v J) -> Result<Vec<&'v Map<String, J>>, ConfigError> {
        match v {
            J::Array(a) => a.iter().map(|x| self.object(key, x)).collect(),
            _ => Ok(vec![self.object(key, v)?]),
        }
    }

    fn string(&self, key: &str, v: &J) -> Result<String, ConfigError> {
        match v {
            J::String(s) => Ok(s.clone()),
            J::Number(n) => Ok(n.to_string()),
            J::Bool(b) => Ok(b.to_string()),
            _ => Err(self.invalid(key, "expected a string")),
        }
    }

    fn boolean(&self, key: &str, v: &J) -> Result<bool, ConfigError> {
        match v {
            J::Bool(b) => Ok(*b),
            J::String(s) => match s.as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(self.invalid(key, "expected a boolean")),
            },
            _ => Err(self.invalid(key, "expected a boolean")),
        }
    }

    fn duration(&self, key: &str, v: &J) -> Result<Duration, ConfigError> {
        match v {
            J::Number(n) => Ok(Duration::from_nanos(n.as_u64().unwrap_or(0))),
            J::String(s) => {
                api_types::duration::parse_duration(s).map_err(|e| self.invalid(key, e.to_string()))
            }
            _ => Err(self.invalid(key, "expected a duration")),
        }
    }

    fn int(&self, key: &str, v: &J) -> Result<i64, ConfigError> {
        match v {
            J::Number(n) => n.as_i64(),
            J::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| self.invalid(key, "expected an integer"))
    }

    /// `env { pristine custom allowlist denylist }` (and the deprecated `whitelist`,
    /// `blacklist`, merged into the lists as upstream does).
    fn env(&self, key: &str, env: &mut ExecEnv, v: &J) -> Result<(), ConfigError> {
        for (k, v) in self.object(key, v)? {
            let key = format!("{key}.{k}");
            match k.as_str() {
                "pristine" => env.pristine = self.boolean(&key, v)?,
                "custom" => {
                    for kv in self.strings(&key, v)? {
                        if !kv.contains('=') {
                            return Err(self.invalid(&key, format!("{kv:?} is not KEY=value")));
                        }
                        env.custom.push(kv);
                    }
                }
                "allowlist" | "whitelist" => {
                    for p in self.strings(&key, v)? {
                        if !env.allowlist.contains(&p) {
                            env.allowlist.push(p);
                        }
                    }
                }
                "denylist" | "blacklist" => {
                    for p in self.strings(&key, v)? {
                        if !env.denylist.contains(&p) {
                            env.denylist.push(p);
                        }
                    }
                }
                _ => return Err(self.unknown(key)),
            }
        }
        Ok(())
    }

    fn signal(&self, key: &str, v: &J) -> Result<Option<Signal>, ConfigError> {
        Signal::parse(&self.string(key, v)?).map_err(|e| self.invalid(key, e))
    }

    fn strings(&self, key: &str, v: &J) -> Result<Vec<String>, ConfigError> {
        match v {
            J::Array(a) => a.iter().map(|x| self.string(key, x)).collect(),
            J::Null => Ok(Vec::new()),
            _ => Ok(vec![self.string(key, v)?]),
        }
    }

    fn wait(&self, key: &str, v: &J) -> Result<Option<Wait>, ConfigError> {
        if let J::String(s) = v {
            return Wait::parse(s).map_err(|e| self.invalid(key, e));
        }
        let m = self.object(key, v)?;
        let mut min = Duration::ZERO;
        let mut max = None;
        for (k, v) in m {
            match k.as_str() {
                "min" => min = self.duration(key, v)?,
                "max" => max = Some(self.duration(key, v)?),
                "enabled" => {}
                _ => return Err(self.unknown(format!("{key}.{k}"))),
            }
        }
        let max = max.unwrap_or(min * 4);
        if max < min {
            return Err(self.invalid(key, "max must be larger than min"));
        }
        Ok((!min.is_zero()).then_some(Wait { min, max }))
    }

    /// `perms = 0644`: octal digits in HCL (upstream's HCL1 reads a leading 0 as octal), a
    /// decimal mode in JSON, or an octal string.
    fn perms(&self, key: &str, v: &J) -> Result<u32, ConfigError> {
        let digits = match v {
            J::String(s) => s.trim().to_string(),
            J::Number(n) if !self.hcl => {
                return n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| self.invalid(key, "invalid file mode"));
            }
            J::Number(n) => n.to_string(),
            _ => return Err(self.invalid(key, "expected a file mode")),
        };
        u32::from_str_radix(&digits, 8).map_err(|_| self.invalid(key, "invalid file mode"))
    }

    fn apply(&self, c: &mut Config, v: &J) -> Result<(), ConfigError> {
        let top = self.object("(top level)", v)?;
        for (k, v) in top {
            match k.as_str() {
                "consul" => self.consul(c, v)?,
                "template" => {
                    for t in self.blocks(k, v)? {
                        c.templates.push(self.template(t)?);
                    }
                }
                "wait" => c.wait = self.wait(k, v)?,
                "max_stale" => c.max_stale = self.duration(k, v)?,
                "block_query_wait" => c.block_query_wait = self.duration(k, v)?,
                "log_level" => {
                    let s = self.string(k, v)?;
                    c.log_level = Level::parse(&s)
                        .ok_or_else(|| self.invalid(k, format!("invalid log level {s:?}")))?;
                }
                "pid_file" => c.pid_file = Some(PathBuf::from(self.string(k, v)?)),
                "kill_signal" => c.kill_signal = self.signal(k, v)?,
                "reload_signal" => c.reload_signal = self.signal(k, v)?,
                "once" => c.once = self.boolean(k, v)?,
                "exec" => c.exec = Some(self.exec(self.object(k, v)?)?),
                "template_error_fatal" => c.template_error_fatal = self.boolean(k, v)?,
                "default_delimiters" => {
                    for (dk, dv) in self.object(k, v)? {
                        let key = format!("{k}.{dk}");
                        match dk.as_str() {
                            "left" => c.default_left_delimiter = Some(self.string(&key, dv)?),
                            "right" => c.default_right_delimiter = Some(self.string(&key, dv)?),
                            _ => return Err(self.unknown(key)),
                        }
                    }
                }
                "log_file" => {
                    for (lk, lv) in self.object(k, v)? {
                        let key = format!("{k}.{lk}");
                        let f = &mut c.log_file;
                        match lk.as_str() {
                            "path" => f.path = Some(PathBuf::from(self.string(&key, lv)?)),
                            "log_rotate_bytes" => f.rotate_bytes = self.int(&key, lv)?,
                            "log_rotate_duration" => f.rotate_duration = self.duration(&key, lv)?,
                            "log_rotate_max_files" => f.rotate_max_files = self.int(&key, lv)?,
                            _ => return Err(self.unknown(key)),
                        }
                    }
                }
                "syslog" => {
                    for (sk, sv) in self.object(k, v)? {
                        let key = format!("{k}.{sk}");
                        match sk.as_str() {
                            "enabled" => c.syslog.enabled = Some(self.boolean(&key, sv)?),
                            "facility" => c.syslog.facility = Some(self.string(&key, sv)?),
                            "name" => c.syslog.name = Some(self.string(&key, sv)?),
                            _ => return Err(self.unknown(key)),
                        }
                    }
                }
                "deduplicate" => {
                    for (dk, dv) in self.object(k, v)? {
                        let key = format!("{k}.{dk}");
                        let d = &mut c.dedup;
                        match dk.as_str() {
                            "enabled" => d.enabled = Some(self.boolean(&key, dv)?),
                            "max_stale" => d.max_stale = self.duration(&key, dv)?,
                            "prefix" => d.prefix = self.string(&key, dv)?,
                            "ttl" => d.ttl = self.duration(&key, dv)?,
                            "block_query_wait" => d.block_query_wait = self.duration(&key, dv)?,
                            _ => return Err(self.unknown(key)),
                        }
                        if dk != "enabled" {
                            d.any_key = true;
                        }
                    }
                }
                _ if IGNORED_TOP.contains(&k.as_str()) => self.only_off(k, v)?,
                _ => return Err(self.unknown(k.clone())),
            }
        }
        Ok(())
    }

    fn consul(&self, c: &mut Config, v: &J) -> Result<(), ConfigError> {
        if let J::String(s) = v {
            crate::warn!("consul = \"addr\" is deprecated, use consul {{ address = \"addr\" }}");
            c.consul.address = Some(s.clone());
            return Ok(());
        }
        for (k, v) in self.object("consul", v)? {
            let key = format!("consul.{k}");
            match k.as_str() {
                "address" => c.consul.address = Some(self.string(&key, v)?),
                "token" => c.consul.token = Some(self.string(&key, v)?),
                "token_file" => {
                    let p = self.string(&key, v)?;
                    c.consul.token_file = (!p.is_empty()).then(|| PathBuf::from(p));
                }
                "retry" => {
                    for (rk, rv) in self.object(&key, v)? {
                        let rkey = format!("{key}.{rk}");
                        let r = &mut c.consul.retry;
                        match rk.as_str() {
                            "enabled" => r.enabled = self.boolean(&rkey, rv)?,
                            "attempts" => {
                                r.attempts = rv
                                    .as_u64()
                                    .and_then(|n| u32::try_from(n).ok())
                                    .ok_or_else(|| self.invalid(&rkey, "expected a count"))?
                            }
                            "backoff" => r.backoff = self.duration(&rkey, rv)?,
                            "max_backoff" => r.max_backoff = self.duration(&rkey, rv)?,
                            _ => return Err(self.unknown(rkey)),
                        }
                    }
                }
                "ssl" => self.ssl(&mut c.consul.ssl, v)?,
                "auth" => {
                    // Upstream's AuthConfig: on when `enabled`, or when a username or password
                    // is given and `enabled` is not.
                    let (mut enabled, mut user, mut pass) = (None, String::new(), String::new());
                    for (ak, av) in self.object(&key, v)? {
                        let akey = format!("{key}.{ak}");
                        match ak.as_str() {
                            "enabled" => enabled = Some(self.boolean(&akey, av)?),
                            "username" => user = self.string(&akey, av)?,
                            "password" => pass = self.string(&akey, av)?,
                            _ => return Err(self.unknown(akey)),
                        }
                    }
                    let on = enabled.unwrap_or(!user.is_empty() || !pass.is_empty());
                    c.consul.auth = on.then_some((user, pass));
                }
                "transport" => {
                    let t = &mut c.consul.transport;
                    for (tk, tv) in self.object(&key, v)? {
                        let tkey = format!("{key}.{tk}");
                        match tk.as_str() {
                            "dial_keep_alive" => t.dial_keep_alive = self.duration(&tkey, tv)?,
                            "dial_timeout" => t.dial_timeout = self.duration(&tkey, tv)?,
                            "disable_keep_alives" => {
                                t.disable_keep_alives = self.boolean(&tkey, tv)?
                            }
                            "idle_conn_timeout" => {
                                t.idle_conn_timeout = self.duration(&tkey, tv)?
                            }
                            "max_idle_conns_per_host" => {
                                t.max_idle_conns_per_host = usize::try_from(self.int(&tkey, tv)?)
                                    .map_err(|_| self.invalid(&tkey, "expected a count"))?
                            }
                            "tls_handshake_timeout" => {
                                t.tls_handshake_timeout = self.duration(&tkey, tv)?
                            }
                            // No limit (0, upstream's default) is all the HTTP client offers.
                            "max_idle_conns" | "max_conns_per_host" => self.only_off(&tkey, tv)?,
                            _ => return Err(self.unknown(tkey)),
                        }
                    }
                }
                "namespace" => self.only_off(&key, v)?,
                _ => return Err(self.unknown(key)),
            }
        }
        Ok(())
    }

    fn ssl(&self, ssl: &mut super::Ssl, v: &J) -> Result<(), ConfigError> {
        for (k, v) in self.object("consul.ssl", v)? {
            let key = format!("consul.ssl.{k}");
            let path = |s: String| (!s.is_empty()).then(|| PathBuf::from(s));
            match k.as_str() {
                "enabled" => ssl.enabled = self.boolean(&key, v)?,
                "verify" => ssl.verify = self.boolean(&key, v)?,
                "ca_cert" => ssl.ca_cert = path(self.string(&key, v)?),
                "cert" => ssl.cert = path(self.string(&key, v)?),
                "key" => ssl.key = path(self.string(&key, v)?),
                "ca_path" | "server_name" => self.only_off(&key, v)?,
                _ => return Err(self.unknown(key)),
            }
        }
        Ok(())
    }

    fn template(&self, m: &Map<String, J>) -> Result<Template, ConfigError> {
        let mut t = Template::new();
        let mut exec_command = None;
        for (k, v) in m {
            let key = format!("template.{k}");
            match k.as_str() {
                "source" => t.source = Some(PathBuf::from(self.string(&key, v)?)),
                "contents" => t.contents = Some(self.string(&key, v)?),
                "destination" => t.destination = PathBuf::from(self.string(&key, v)?),
                "command" => t.command = self.strings(&key, v)?,
                "command_timeout" => t.command_timeout = self.duration(&key, v)?,
                "perms" => t.perms = Some(self.perms(&key, v)?),
                "backup" => t.backup = self.boolean(&key, v)?,
                "wait" => t.wait = self.wait(&key, v)?,
                "left_delimiter" => t.left_delimiter = Some(self.string(&key, v)?),
                "right_delimiter" => t.right_delimiter = Some(self.string(&key, v)?),
                "error_on_missing_key" => t.error_on_missing_key = self.boolean(&key, v)?,
                "create_dest_dirs" => t.create_dest_dirs = self.boolean(&key, v)?,
                "function_denylist" | "function_blacklist" => {
                    t.function_denylist = self.strings(&key, v)?
                }
                "sandbox_path" => t.sandbox_path = Some(PathBuf::from(self.string(&key, v)?)),
                "exec" => {
                    for (ek, ev) in self.object(&key, v)? {
                        match ek.as_str() {
                            "command" => exec_command = Some(self.strings(&key, ev)?),
                            "timeout" => t.command_timeout = self.duration(&key, ev)?,
                            "env" => self.env(&format!("{key}.env"), &mut t.env, ev)?,
                            _ => return Err(self.unknown(format!("{key}.{ek}"))),
                        }
                    }
                }
                "error_fatal" => t.error_fatal = Some(self.boolean(&key, v)?),
                "user" | "group" | "uid" | "gid" => self.only_off(&key, v)?,
                _ => return Err(self.unknown(key)),
            }
        }
        if let Some(cmd) = exec_command {
            t.command = cmd;
        }
        Ok(t)
    }

    fn exec(&self, m: &Map<String, J>) -> Result<Exec, ConfigError> {
        let mut e = Exec::default();
        for (k, v) in m {
            let key = format!("exec.{k}");
            match k.as_str() {
                "command" => e.command = self.strings(&key, v)?,
                "reload_signal" => e.reload_signal = self.signal(&key, v)?,
                "kill_signal" => {
                    e.kill_signal = self.signal(&key, v)?.unwrap_or(Signal::INT);
                }
                "kill_timeout" => e.kill_timeout = self.duration(&key, v)?,
                "splay" => e.splay = self.duration(&key, v)?,
                // The block's presence is what enables exec mode.
                "enabled" => {
                    self.boolean(&key, v)?;
                }
                "env" => self.env(&key, &mut e.env, v)?,
                "timeout" => self.only_off(&key, v)?,
                _ => return Err(self.unknown(key)),
            }
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let path = Path::new("t.hcl");
        let (v, hcl) = parse(path, text)?;
        Ctx { path, hcl }.apply(&mut c, &v)?;
        Ok(c)
    }

    #[test]
    fn deep_hcl_is_refused_not_a_stack_overflow() {
        let deep = format!(
            "consul {{ address = {}{} }}",
            "[".repeat(20_000),
            "]".repeat(20_000)
        );
        let e = load(&deep).unwrap_err();
        assert!(e.to_string().contains("nesting deeper than 32"), "{e}");
    }

    #[test]
    fn hcl_blocks() {
        let c = load(
            r#"
consul {
  address = "127.0.0.1:1"
  retry {
    attempts = 3
    backoff = "10ms"
  }
}
wait { min = "1s" }
max_stale = "0s"
template {
  source = "a.ctmpl"
  destination = "a.out"
  command = ["echo", "hi"]
  perms = 0600
}
template {
  contents = "x"
  destination = "b.out"
  wait = "2s:3s"
}
"#,
        )
        .unwrap();
        assert_eq!(c.consul.address.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(c.consul.retry.attempts, 3);
        assert_eq!(c.consul.retry.backoff, Duration::from_millis(10));
        assert_eq!(c.wait.unwrap().max, Duration::from_secs(4));
        assert_eq!(c.max_stale, Duration::ZERO);
        assert_eq!(c.templates.len(), 2);
        assert_eq!(c.templates[0].perms, Some(0o600));
        assert_eq!(c.templates[0].command, vec!["echo", "hi"]);
        assert_eq!(c.templates[1].wait.unwrap().min, Duration::from_secs(2));
    }

    #[test]
    fn json_and_unknown_keys() {
        let c = load(r#"{"template": {"source": "a", "destination": "b", "perms": 420}}"#).unwrap();
        assert_eq!(c.templates[0].perms, Some(0o644));
        let e = load("template {\n  sourc = \"a\"\n}\n").unwrap_err();
        assert_eq!(e.to_string(), "t.hcl: unknown key \"template.sourc\"");
        let e = load("bogus = 1\n").unwrap_err();
        assert_eq!(e.to_string(), "t.hcl: unknown key \"bogus\"");
    }

    #[test]
    fn what_is_not_implemented_loads_only_switched_off() {
        load("vault {\n}\n").unwrap();
        let c = load("deduplicate {\n  enabled = false\n}\n").unwrap();
        assert!(!c.dedup.is_enabled());
        load("consul {\n  ssl {\n    enabled = false\n  }\n}\n").unwrap();
        let e =
            load("consul {\n  ssl {\n    server_name = \"consul.example\"\n  }\n}\n").unwrap_err();
        assert!(e.to_string().contains("consul.ssl.server_name"), "{e}");
        let e = load("vault {\n  address = \"https://vault:8200\"\n}\n").unwrap_err();
        assert!(
            e.to_string().contains("vault") && e.to_string().contains("not supported"),
            "{e}"
        );
        let e = load("template {\n  source = \"a\"\n  user = \"www-data\"\n}\n").unwrap_err();
        assert!(e.to_string().contains("template.user"), "{e}");
    }

    #[test]
    fn issue_19_keys() {
        let c = load(
            r#"
template_error_fatal = false
default_delimiters {
  left = "[["
  right = "]]"
}
consul {
  token_file = "/run/token"
}
log_file {
  path = "/var/log/ct/ct.log"
  log_rotate_bytes = 1024
  log_rotate_duration = "1h"
  log_rotate_max_files = 3
}
syslog {
  facility = "LOCAL5"
}
exec {
  command = "app"
  env {
    pristine = true
    custom = ["A=1"]
    allowlist = ["PATH"]
    whitelist = ["PATH", "HOME"]
    blacklist = ["SECRET_*"]
  }
}
template {
  contents = "x"
  destination = "y"
  error_fatal = true
  exec {
    command = "true"
    env {
      denylist = ["X"]
    }
  }
}
"#,
        )
        .unwrap();
        assert!(!c.template_error_fatal);
        assert_eq!(c.default_left_delimiter.as_deref(), Some("[["));
        assert_eq!(c.consul.token_file, Some(PathBuf::from("/run/token")));
        assert_eq!(c.log_file.rotate_bytes, 1024);
        assert_eq!(c.log_file.rotate_duration, Duration::from_secs(3600));
        assert_eq!(c.log_file.rotate_max_files, 3);
        assert!(c.syslog.is_enabled());
        let env = &c.exec.as_ref().unwrap().env;
        assert!(env.pristine);
        assert_eq!(env.allowlist, vec!["PATH", "HOME"]);
        assert_eq!(env.denylist, vec!["SECRET_*"]);
        assert_eq!(c.templates[0].error_fatal, Some(true));
        assert_eq!(c.templates[0].env.denylist, vec!["X"]);
        let e = load("exec {\n  env {\n    custom = [\"NOEQ\"]\n  }\n}\n").unwrap_err();
        assert!(e.to_string().contains("exec.env.custom"), "{e}");
        let e = load("syslog {\n  bogus = 1\n}\n").unwrap_err();
        assert!(e.to_string().contains("syslog.bogus"), "{e}");
    }

    #[test]
    fn deduplicate_block() {
        let c = load("deduplicate {\n  enabled = true\n}\n").unwrap();
        assert!(c.dedup.is_enabled());
        assert_eq!(c.dedup.prefix, "consul-template/dedup/");
        assert_eq!(c.dedup.ttl, Duration::from_secs(15));
        assert_eq!(c.dedup.max_stale, Duration::from_secs(2));
        assert_eq!(c.dedup.block_query_wait, Duration::from_secs(60));
        // upstream's Finalize: any other key enables it
        let c = load("deduplicate {\n  prefix = \"ct/\"\n  ttl = \"20s\"\n  max_stale = \"0s\"\n  block_query_wait = \"30s\"\n}\n").unwrap();
        assert!(c.dedup.is_enabled());
        assert_eq!(c.dedup.prefix, "ct/");
        assert_eq!(c.dedup.ttl, Duration::from_secs(20));
        assert_eq!(c.dedup.max_stale, Duration::ZERO);
        assert_eq!(c.dedup.block_query_wait, Duration::from_secs(30));
        let c = load("deduplicate {\n  enabled = false\n  prefix = \"ct/\"\n}\n").unwrap();
        assert!(!c.dedup.is_enabled());
        let e = load("deduplicate {\n  bogus = 1\n}\n").unwrap_err();
        assert_eq!(e.to_string(), "t.hcl: unknown key \"deduplicate.bogus\"");
    }

    #[test]
    fn go_glob() {
        use crate::config::glob_match as m;
        assert!(m("CT_*", "CT_A1"));
        assert!(m("*", "ANY"));
        assert!(!m("CT_*", "XCT_A"));
        assert!(m("CT_?1", "CT_A1"));
        assert!(m("[A-C]X", "BX") && !m("[A-C]X", "DX"));
        assert!(m("[^A-C]X", "DX") && !m("[^A-C]X", "AX"));
        assert!(m("A\\*", "A*") && !m("A\\*", "AB"));
        assert!(!m("[", "["), "malformed: no match");
        assert!(!m("*", "a/b"), "* stops at /");
    }

    #[test]
    fn exec_env_build_order() {
        let env = ExecEnv {
            pristine: false,
            custom: vec!["B=custom".into()],
            allowlist: vec!["A*".into(), "B".into()],
            denylist: vec!["AX".into()],
        };
        let ours = [("A1", "1"), ("AX", "x"), ("B", "b"), ("C", "c")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let got = env.build(ours.clone(), &[("CONSUL_HTTP_ADDR".into(), "h".into())]);
        let got: Vec<String> = got.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(got, ["A1=1", "B=b", "CONSUL_HTTP_ADDR=h", "B=custom"]);
        let pristine = ExecEnv {
            pristine: true,
            ..env
        };
        assert_eq!(pristine.build(ours, &[]).len(), 1);
    }
}
