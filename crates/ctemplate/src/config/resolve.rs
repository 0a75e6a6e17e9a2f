//! Resolution: defaults, the environment, `CT_LOCAL_CONFIG`, every `-config` file in order,
//! then the command line's flags, into one validated [`Config`]. The runner calls [`resolve`]
//! again with the same [`Cli`] on the reload signal, so this lives here rather than in
//! [`crate::cli`] (which only parses arguments).

use std::path::PathBuf;
use std::sync::OnceLock;

use super::{load_path, Config, ConfigError, Template, Wait};
use crate::log::Level;
use crate::signal::Signal;

/// What was given on the command line, kept so SIGHUP can resolve it again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cli {
    /// `-config` paths in order.
    pub configs: Vec<PathBuf>,
    /// Every other value flag, in order: (name, value).
    pub flags: Vec<(String, String)>,
    /// `-v` / `-version`.
    pub version: bool,
    /// `-h` / `-help`.
    pub help: bool,
}

/// Splits `-template "in:out(:command)"` like upstream: tokens are `([a-zA-Z]:)?([^:]+)`; one
/// token is the source, two add the destination, more re-join the rest with `:` as the command.
pub fn parse_template_flag(s: &str) -> Template {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let tokens: Vec<&str> = RE
        .get_or_init(|| regex::Regex::new(r"([a-zA-Z]:)?([^:]+)").ok())
        .as_ref()
        .map(|re| re.find_iter(s).map(|m| m.as_str()).collect())
        .unwrap_or_default();
    let mut t = Template::new();
    if let Some(src) = tokens.first() {
        t.source = Some(PathBuf::from(src));
    }
    if let Some(dst) = tokens.get(1) {
        t.destination = PathBuf::from(dst);
    }
    if tokens.len() > 2 {
        t.command = vec![tokens[2..].join(":")];
    }
    t
}

/// Defaults, environment, files, then flags: the one validated [`Config`].
pub fn resolve(cli: &Cli) -> Result<Config, ConfigError> {
    let mut c = Config::from_env();
    if let Ok(snippet) = std::env::var("CT_LOCAL_CONFIG") {
        if !snippet.trim().is_empty() {
            let tmp = std::env::temp_dir().join(format!("ct-local-{}.hcl", std::process::id()));
            let wrote = std::fs::write(&tmp, snippet).map(|_| load_path(&tmp, &mut c));
            let _ = std::fs::remove_file(&tmp);
            if let Ok(r) = wrote {
                r?;
            }
        }
    }
    for p in &cli.configs {
        load_path(p, &mut c)?;
    }
    for (name, value) in &cli.flags {
        apply_flag(&mut c, name, value)?;
    }
    c.finalize();
    c.validate()?;
    Ok(c)
}

fn apply_flag(c: &mut Config, name: &str, v: &str) -> Result<(), ConfigError> {
    let bad = |m: String| ConfigError::Invalid {
        origin: "flag".to_string(),
        key: format!("-{name}"),
        message: m,
    };
    let dur = |v: &str| api_types::duration::parse_duration(v).map_err(|e| bad(e.to_string()));
    let sig = |v: &str| Signal::parse(v).map_err(&bad);
    let int = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| bad(format!("invalid integer {v:?}")))
    };
    let on = v == "true";
    match name {
        "consul-addr" => c.consul.address = Some(v.to_string()),
        "consul-token" => c.consul.token = Some(v.to_string()),
        "template" => c.templates.push(parse_template_flag(v)),
        "wait" => c.wait = Wait::parse(v).map_err(bad)?,
        "max-stale" => c.max_stale = dur(v)?,
        "log-level" => {
            c.log_level = Level::parse(v).ok_or_else(|| bad(format!("invalid log level {v:?}")))?
        }
        "pid-file" => c.pid_file = Some(PathBuf::from(v)),
        "reload-signal" => c.reload_signal = sig(v)?,
        "kill-signal" => c.kill_signal = sig(v)?,
        "consul-retry" => c.consul.retry.enabled = on,
        "consul-ssl" => c.consul.ssl.enabled = on,
        "consul-ssl-verify" => c.consul.ssl.verify = on,
        "consul-ssl-ca-cert" => c.consul.ssl.ca_cert = Some(PathBuf::from(v)),
        "consul-ssl-cert" => c.consul.ssl.cert = Some(PathBuf::from(v)),
        "consul-ssl-key" => c.consul.ssl.key = Some(PathBuf::from(v)),
        "consul-ssl-ca-path" | "consul-ssl-server-name" => {
            return Err(bad(
                "is not supported by this consul-template (use -consul-ssl-ca-cert; the certificate is checked against the address's host)".to_string(),
            ))
        }
        "consul-retry-attempts" => {
            c.consul.retry.attempts = v.parse().map_err(|_| bad(format!("invalid count {v:?}")))?
        }
        "consul-retry-backoff" | "retry" => c.consul.retry.backoff = dur(v)?,
        "consul-retry-max-backoff" => c.consul.retry.max_backoff = dur(v)?,
        "once" => c.once = on,
        "dry" => c.dry = on,
        "exec" => c.exec.get_or_insert_with(Default::default).command = vec![v.to_string()],
        "exec-reload-signal" => c.exec.get_or_insert_with(Default::default).reload_signal = sig(v)?,
        "exec-kill-signal" => {
            c.exec.get_or_insert_with(Default::default).kill_signal = sig(v)?.unwrap_or(Signal::INT)
        }
        "exec-kill-timeout" => c.exec.get_or_insert_with(Default::default).kill_timeout = dur(v)?,
        "exec-splay" => c.exec.get_or_insert_with(Default::default).splay = dur(v)?,
        "exec-env-pristine" => c.exec.get_or_insert_with(Default::default).env.pristine = on,
        "exec-env-custom" => {
            if !v.contains('=') {
                return Err(bad(format!("{v:?} is not KEY=value")));
            }
            c.exec.get_or_insert_with(Default::default).env.custom.push(v.to_string())
        }
        "exec-env-allowlist" => {
            let l = &mut c.exec.get_or_insert_with(Default::default).env.allowlist;
            l.push(v.to_string());
        }
        "exec-env-denylist" => {
            let l = &mut c.exec.get_or_insert_with(Default::default).env.denylist;
            l.push(v.to_string());
        }
        "parse-only" => c.parse_only = on,
        "dedup" => c.dedup.enabled = Some(on),
        "template-error-fatal" => {
            // upstream: the flag overrides every template's own `error_fatal`
            c.template_error_fatal = on;
            for t in &mut c.templates {
                t.error_fatal = Some(on);
            }
        }
        "consul-auth" => c.consul.auth = Some(super::parse_auth(v)),
        "consul-token-file" => c.consul.token_file = (!v.is_empty()).then(|| PathBuf::from(v)),
        "default-left-delimiter" => c.default_left_delimiter = Some(v.to_string()),
        "default-right-delimiter" => c.default_right_delimiter = Some(v.to_string()),
        "log-file" => c.log_file.path = (!v.is_empty()).then(|| PathBuf::from(v)),
        "log-rotate-bytes" => c.log_file.rotate_bytes = int(v)?,
        "log-rotate-duration" => c.log_file.rotate_duration = dur(v)?,
        "log-rotate-max-files" => c.log_file.rotate_max_files = int(v)?,
        "syslog" => c.syslog.enabled = Some(on),
        "syslog-facility" => c.syslog.facility = Some(v.to_string()),
        "syslog-name" => c.syslog.name = Some(v.to_string()),
        "consul-transport-dial-keep-alive" => c.consul.transport.dial_keep_alive = dur(v)?,
        "consul-transport-dial-timeout" => c.consul.transport.dial_timeout = dur(v)?,
        "consul-transport-disable-keep-alives" => c.consul.transport.disable_keep_alives = on,
        "consul-transport-max-idle-conns-per-host" => {
            c.consul.transport.max_idle_conns_per_host =
                usize::try_from(int(v)?).map_err(|_| bad(format!("invalid count {v:?}")))?
        }
        "consul-transport-tls-handshake-timeout" => {
            c.consul.transport.tls_handshake_timeout = dur(v)?
        }
        _ => return Err(bad("unknown flag".to_string())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_splitting() {
        let t = parse_template_flag("/a/in.ctmpl:/b/out.conf:/usr/sbin/nginx -s reload");
        assert_eq!(t.source, Some(PathBuf::from("/a/in.ctmpl")));
        assert_eq!(t.destination, PathBuf::from("/b/out.conf"));
        assert_eq!(t.command, vec!["/usr/sbin/nginx -s reload"]);
        let t = parse_template_flag("in:out:sh -c 'a:b'");
        assert_eq!(t.command, vec!["sh -c 'a:b'"]);
        let t = parse_template_flag("a::b");
        assert_eq!(t.destination, PathBuf::from("b"));
        assert!(t.command.is_empty());
        let t = parse_template_flag("in.tpl:d:cmd");
        assert_eq!(t.destination, PathBuf::from("d:cmd"));
        assert!(t.command.is_empty());
        let t = parse_template_flag(r"C:\in.tpl:D:\out");
        assert_eq!(t.source, Some(PathBuf::from(r"C:\in.tpl")));
        assert_eq!(t.destination, PathBuf::from(r"D:\out"));
    }
}
