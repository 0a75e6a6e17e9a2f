//! Command-line flags with Go `flag` semantics: `-x v`, `-x=v`, `--x=v` are equivalent, bool
//! flags take no separate value (`-once`, `-once=false`), parsing stops at `--` or the first
//! non-flag and positionals are an error. [`resolve`] merges defaults, environment, `-config`
//! files and flags into one validated [`Config`].

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::config::{self, Config, ConfigError, Template, Wait};
use crate::log::Level;
use crate::signal::Signal;

/// A flag-parsing error (exit code 13).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(pub String);

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

const BOOL_FLAGS: &[&str] = &["once", "dry", "consul-retry", "version", "v", "h", "help"];
const VALUE_FLAGS: &[&str] = &[
    "config",
    "consul-addr",
    "consul-token",
    "template",
    "wait",
    "max-stale",
    "log-level",
    "pid-file",
    "reload-signal",
    "kill-signal",
    "consul-retry-attempts",
    "consul-retry-backoff",
    "consul-retry-max-backoff",
    "retry",
    "exec",
    "exec-reload-signal",
    "exec-kill-signal",
    "exec-kill-timeout",
    "exec-splay",
];

/// Usage text printed by `-h`.
pub const USAGE: &str = "Usage: consul-template [options]

  Watches a series of templates on the file system, writing new changes when
  Consul is updated. It runs until an interrupt is received unless the -once
  flag is specified.

Options:
  -config=<path>            config file or directory (HCL or JSON), repeatable
  -consul-addr=<address>    Consul agent address (default $CONSUL_HTTP_ADDR or 127.0.0.1:8500)
  -consul-token=<token>     ACL token
  -consul-retry, -consul-retry-attempts=12, -consul-retry-backoff=250ms,
  -consul-retry-max-backoff=1m
  -template=<in:out(:cmd)>  template to render, repeatable
  -wait=<min(:max)>         quiescence timers
  -max-stale=<duration>     allowed staleness of reads (default 2s)
  -once                     render once and exit
  -dry                      print rendered templates to stdout instead of writing
  -log-level=<level>        trace, debug, info, warn, err
  -pid-file=<path>          write the PID here
  -reload-signal=<signal>   default SIGHUP
  -kill-signal=<signal>     default SIGINT
  -exec=<command>           supervise a child; -exec-reload-signal, -exec-kill-signal,
                            -exec-kill-timeout, -exec-splay
  -v, -version              print the version and exit
";

/// Parses arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Cli, UsageError> {
    let mut cli = Cli::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            i -= 1;
            break;
        };
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(UsageError(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if BOOL_FLAGS.contains(&name) {
            let on = match inline.as_deref() {
                None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => true,
                Some("false" | "0" | "f" | "F" | "FALSE" | "False") => false,
                Some(v) => {
                    return Err(UsageError(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    )))
                }
            };
            match name {
                "version" | "v" => cli.version = on,
                "h" | "help" => cli.help = on,
                _ => cli.flags.push((name.to_string(), on.to_string())),
            }
            continue;
        }
        if !VALUE_FLAGS.contains(&name) {
            return Err(UsageError(format!(
                "flag provided but not defined: -{name}"
            )));
        }
        let value = match inline {
            Some(v) => v,
            None => {
                let Some(v) = args.get(i) else {
                    return Err(UsageError(format!("flag needs an argument: -{name}")));
                };
                i += 1;
                v.clone()
            }
        };
        if name == "config" {
            cli.configs.push(PathBuf::from(value));
        } else {
            cli.flags.push((name.to_string(), value));
        }
    }
    if i < args.len() {
        return Err(UsageError(format!("cli: extra args: {:?}", &args[i..])));
    }
    Ok(cli)
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
            let wrote = std::fs::write(&tmp, snippet).map(|_| config::load_path(&tmp, &mut c));
            let _ = std::fs::remove_file(&tmp);
            if let Ok(r) = wrote {
                r?;
            }
        }
    }
    for p in &cli.configs {
        config::load_path(p, &mut c)?;
    }
    for (name, value) in &cli.flags {
        apply_flag(&mut c, name, value)?;
    }
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
        _ => return Err(bad("unknown flag".to_string())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn go_flag_forms() {
        let cli = parse(&args(&[
            "-consul-addr",
            "a:1",
            "--log-level=info",
            "-once",
            "-dry=false",
        ]))
        .unwrap();
        assert_eq!(
            cli.flags,
            vec![
                ("consul-addr".into(), "a:1".into()),
                ("log-level".into(), "info".into()),
                ("once".into(), "true".into()),
                ("dry".into(), "false".into()),
            ]
        );
        assert!(parse(&args(&["-bogus"])).is_err());
        assert_eq!(
            parse(&args(&["-once", "extra"])).unwrap_err().0,
            "cli: extra args: [\"extra\"]"
        );
    }

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
