//! Command-line flags with Go `flag` semantics: `-x v`, `-x=v`, `--x=v` are equivalent, bool
//! flags take no separate value (`-once`, `-once=false`), parsing stops at `--` or the first
//! non-flag and positionals are an error. [`parse`] keeps what was given as a [`Cli`];
//! [`crate::config::resolve`] merges defaults, environment, `-config` files and flags
//! into one validated [`crate::config::Config`].

use std::path::PathBuf;

pub use crate::config::Cli;

/// A flag-parsing error (exit code 13).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(pub String);

const BOOL_FLAGS: &[&str] = &[
    "once",
    "dry",
    "consul-retry",
    "consul-ssl",
    "consul-ssl-verify",
    "consul-transport-disable-keep-alives",
    "exec-env-pristine",
    "parse-only",
    "dedup",
    "syslog",
    "template-error-fatal",
    "version",
    "v",
    "h",
    "help",
];
const VALUE_FLAGS: &[&str] = &[
    "config",
    "consul-addr",
    "consul-token",
    "consul-auth",
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
    "consul-ssl-ca-cert",
    "consul-ssl-ca-path",
    "consul-ssl-cert",
    "consul-ssl-key",
    "consul-ssl-server-name",
    "retry",
    "exec",
    "exec-reload-signal",
    "exec-kill-signal",
    "exec-kill-timeout",
    "exec-splay",
    "exec-env-custom",
    "exec-env-allowlist",
    "exec-env-denylist",
    "consul-token-file",
    "consul-transport-dial-keep-alive",
    "consul-transport-dial-timeout",
    "consul-transport-max-idle-conns-per-host",
    "consul-transport-tls-handshake-timeout",
    "default-left-delimiter",
    "default-right-delimiter",
    "log-file",
    "log-rotate-bytes",
    "log-rotate-duration",
    "log-rotate-max-files",
    "syslog-facility",
    "syslog-name",
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
  -consul-token-file=<path> file holding the ACL token (read at start and on reload)
  -consul-auth=<user[:pass]> HTTP basic authentication sent to Consul
  -consul-retry, -consul-retry-attempts=12, -consul-retry-backoff=250ms,
  -consul-retry-max-backoff=1m
  -consul-ssl, -consul-ssl-verify=true, -consul-ssl-ca-cert=<pem>, -consul-ssl-cert=<pem>,
  -consul-ssl-key=<pem>     reach Consul over HTTPS (client certificate for verify_incoming)
  -consul-transport-dial-keep-alive=30s, -consul-transport-dial-timeout=30s,
  -consul-transport-disable-keep-alives, -consul-transport-max-idle-conns-per-host=100,
  -consul-transport-tls-handshake-timeout=10s
                            connections to Consul (dial and TLS handshake share one deadline)
  -template=<in:out(:cmd)>  template to render, repeatable
  -default-left-delimiter=<s>, -default-right-delimiter=<s>
                            delimiters of templates without their own (default {{ }})
  -template-error-fatal     a template error ends the run (default true); false logs it
  -parse-only               parse every template and exit (nothing rendered, Consul not contacted)
  -wait=<min(:max)>         quiescence timers
  -max-stale=<duration>     allowed staleness of reads (default 2s)
  -dedup                    de-duplication mode: one instance of a group watches each
                            template's data and shares it through Consul's KV (see
                            the deduplicate block)
  -once                     render once and exit
  -dry                      print rendered templates to stdout instead of writing
  -log-level=<level>        trace, debug, info, warn, err
  -log-file=<path>          also log to <stem>-<unixnano><ext> next to this path;
                            -log-rotate-bytes=0, -log-rotate-duration=24h, -log-rotate-max-files=0
  -syslog                   also log to the local syslog; -syslog-facility=LOCAL0,
                            -syslog-name=consul-template
  -pid-file=<path>          write the PID here
  -reload-signal=<signal>   default SIGHUP
  -kill-signal=<signal>     default SIGINT
  -exec=<command>           supervise a child; -exec-reload-signal, -exec-kill-signal,
                            -exec-kill-timeout, -exec-splay, -exec-env-pristine,
                            -exec-env-custom=K=V, -exec-env-allowlist=<glob>,
                            -exec-env-denylist=<glob> (the last three repeatable)
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
            let on = match inline.as_deref().map(api_types::parse_bool) {
                None => true,
                Some(Some(on)) => on,
                Some(None) => {
                    let v = inline.as_deref().unwrap_or_default();
                    return Err(UsageError(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    )));
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

#[cfg(test)]
mod tests {
    use super::*;

    // Flags through to the resolved configuration (the config module may not name cli).
    #[test]
    fn transport_flags_and_block() {
        let cli = |args: &[&str]| {
            let args: Vec<String> = std::iter::once("-template=in.tpl:out.txt")
                .chain(args.iter().copied())
                .map(String::from)
                .collect();
            crate::config::resolve(&parse(&args).unwrap())
        };
        let c = cli(&[]).unwrap();
        assert_eq!(c.consul.transport, crate::config::Transport::default());
        let c = cli(&[
            "-consul-transport-dial-timeout=5s",
            "-consul-transport-tls-handshake-timeout=2s",
            "-consul-transport-disable-keep-alives",
            "-consul-transport-dial-keep-alive=0s",
        ])
        .unwrap();
        let t = c.consul.transport.client(true);
        assert_eq!(t.connect_timeout, Some(std::time::Duration::from_secs(7)));
        assert_eq!(
            c.consul.transport.client(false).connect_timeout,
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(t.max_idle_per_host, Some(0));
        assert_eq!(t.tcp_keepalive, None);
        assert!(cli(&["-consul-transport-max-idle-conns-per-host=-1"]).is_err());

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.hcl");
        std::fs::write(
            &f,
            "consul {\n  transport {\n    dial_timeout = \"3s\"\n    max_idle_conns_per_host = 7\n    idle_conn_timeout = \"9s\"\n  }\n}\n",
        )
        .unwrap();
        let c = cli(&[&format!("-config={}", f.display())]).unwrap();
        let t = c.consul.transport.client(false);
        assert_eq!(t.connect_timeout, Some(std::time::Duration::from_secs(3)));
        assert_eq!(t.max_idle_per_host, Some(7));
        assert_eq!(t.idle_timeout, Some(std::time::Duration::from_secs(9)));
        std::fs::write(
            &f,
            "consul {\n  transport {\n    max_conns_per_host = 4\n  }\n}\n",
        )
        .unwrap();
        let e = cli(&[&format!("-config={}", f.display())]).unwrap_err();
        assert!(e.to_string().contains("max_conns_per_host"), "{e}");
    }

    #[test]
    fn dedup_flag() {
        let cli = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            crate::config::resolve(&parse(&args).unwrap()).unwrap()
        };
        assert!(!cli(&["-template=in.tpl:out.txt"]).dedup.is_enabled());
        let c = cli(&["-template=in.tpl:out.txt", "-dedup"]);
        assert!(c.dedup.is_enabled());
        assert_eq!(c.dedup.prefix, "consul-template/dedup/");
        assert!(!cli(&["-template=in.tpl:out.txt", "-dedup=false"])
            .dedup
            .is_enabled());
    }

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
}
