//! Command line: `registrator [options] <registry URI>`, parsed with Go's `flag` package rules
//! (registrator is a Go program and users' scripts depend on its exact grammar), then validated
//! into one [`Options`] value.
//!
//! Grammar: `-f=v`, `-f v`, `--f=v`, `--f v`; booleans bare or `-f=true`; flag parsing stops at
//! the first non-flag argument or `--`; exactly one positional (the registry URI) must follow.
//! `--version` is recognised only as the sole argument. Errors that Go's `flag` reports exit 2
//! with usage; semantic validation errors (upstream `log.Fatal`) exit 1.

use std::fmt::Write as _;

/// The version string printed by `--version` and logged at start.
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// What `-deregister` says to do when a container dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeregisterPolicy {
    /// Deregister on every `die`.
    Always,
    /// Deregister only on exit code 0, a signal exit (bit 128), or a removed container.
    OnSuccess,
}

/// Every flag, after parsing and validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub ip: String,
    pub internal: bool,
    pub explicit: bool,
    pub tags: String,
    pub resync_secs: u64,
    pub ttl: i64,
    pub ttl_refresh: i64,
    /// Raw `-deregister` value; see [`Options::deregister_policy`].
    pub deregister: String,
    pub cleanup: bool,
    pub retry_attempts: i64,
    pub retry_interval_ms: i64,
    pub use_ip_from_label: String,
    pub registry_uri: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ip: String::new(),
            internal: false,
            explicit: false,
            tags: String::new(),
            resync_secs: 0,
            ttl: 0,
            ttl_refresh: 0,
            deregister: "always".to_string(),
            cleanup: false,
            retry_attempts: 0,
            retry_interval_ms: 2000,
            use_ip_from_label: String::new(),
            registry_uri: String::new(),
        }
    }
}

/// The command line asked to stop: print `message` (to stdout when `code` is 0) and exit `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CliExit {
    pub code: i32,
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Str,
}

/// The flag table: name, kind, default as Go prints it, usage. Sorted by name (Go prints it so).
const FLAGS: &[(&str, Kind, &str, &str)] = &[
    ("cleanup", Kind::Bool, "", "Remove dangling services"),
    ("deregister", Kind::Str, "\"always\"", "Deregister exited services \"always\" or \"on-success\""),
    ("explicit", Kind::Bool, "", "Only register containers which have SERVICE_NAME label set"),
    ("internal", Kind::Bool, "", "Use internal ports instead of published ones"),
    ("ip", Kind::Str, "", "IP for ports mapped to the host"),
    ("resync", Kind::Int, "", "Frequency with which services are resynchronized"),
    ("retry-attempts", Kind::Int, "", "Max retry attempts to establish a connection with the backend. Use -1 for infinite retries"),
    ("retry-interval", Kind::Int, "2000", "Interval (in millisecond) between retry-attempts."),
    ("tags", Kind::Str, "", "Append tags for all registered services (supports Go template)"),
    ("ttl", Kind::Int, "", "TTL for services (default is no expiry)"),
    ("ttl-refresh", Kind::Int, "", "Frequency with which service TTLs are refreshed"),
    ("useIpFromLabel", Kind::Str, "", "Use IP which is stored in a label assigned to the container"),
];

/// The usage text, as upstream prints it (`flag.PrintDefaults` format).
pub fn usage(argv0: &str) -> String {
    let mut s = format!("Usage of {argv0}:\n  {argv0} [options] <registry URI>\n\n");
    for (name, kind, default, help) in FLAGS {
        let ty = match kind {
            Kind::Bool => "",
            Kind::Int => " int",
            Kind::Str => " string",
        };
        let _ = write!(s, "  -{name}{ty}\n    \t{help}");
        if !default.is_empty() {
            let _ = write!(s, " (default {default})");
        }
        s.push('\n');
    }
    s
}

fn exit2(argv0: &str, msg: &str) -> CliExit {
    CliExit {
        code: 2,
        message: format!("{msg}\n{}", usage(argv0)),
    }
}

/// Go's `strconv.ParseInt(v, 0, 64)`: optional sign, `0x`/`0o`/`0b`/leading-`0` prefixes, `_`.
fn parse_go_int(v: &str) -> Option<i64> {
    let (neg, rest) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let lower = rest.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    let n = i64::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -n } else { n })
}

/// Parses `args` (without argv0) into validated [`Options`].
pub fn parse(argv0: &str, args: &[String]) -> Result<Options, CliExit> {
    if args.len() == 1 && args[0] == "--version" {
        return Err(CliExit {
            code: 0,
            message: format!("{VERSION}\n"),
        });
    }
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        i += 1;
        let mut body = &arg[1..];
        if let Some(b) = body.strip_prefix('-') {
            if b.is_empty() {
                break; // "--" ends the flags
            }
            body = b;
        }
        if body.starts_with('-') || body.starts_with('=') {
            return Err(exit2(argv0, &format!("bad flag syntax: {arg}")));
        }
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Err(CliExit {
                code: 0,
                message: usage(argv0),
            });
        }
        let Some((_, kind, _, _)) = FLAGS.iter().find(|f| f.0 == name) else {
            return Err(exit2(
                argv0,
                &format!("flag provided but not defined: -{name}"),
            ));
        };
        let value = match (kind, value) {
            (Kind::Bool, None) => "true".to_string(),
            (_, Some(v)) => v,
            (_, None) => match args.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => return Err(exit2(argv0, &format!("flag needs an argument: -{name}"))),
            },
        };
        set(&mut o, name, *kind, &value).map_err(|reason| {
            exit2(
                argv0,
                &format!("invalid value {value:?} for flag -{name}: {reason}"),
            )
        })?;
    }
    let rest = &args[i..];
    match rest.len() {
        0 => Err(exit2(argv0, "Missing required argument for registry URI.\n")),
        1 => {
            o.registry_uri = rest[0].clone();
            Ok(o)
        }
        _ => Err(exit2(
            argv0,
            &format!(
                "Extra unparsed arguments:\n  {}\nOptions should come before the registry URI argument.\n",
                rest[1..].join(" ")
            ),
        )),
    }
}

fn set(o: &mut Options, name: &str, kind: Kind, value: &str) -> Result<(), &'static str> {
    match kind {
        Kind::Bool => {
            let b = api_types::parse_bool(value).ok_or("parse error")?;
            match name {
                "cleanup" => o.cleanup = b,
                "explicit" => o.explicit = b,
                _ => o.internal = b,
            }
        }
        Kind::Int => {
            let n = parse_go_int(value).ok_or("parse error")?;
            match name {
                "resync" => o.resync_secs = n.max(0) as u64,
                "retry-attempts" => o.retry_attempts = n,
                "retry-interval" => o.retry_interval_ms = n,
                "ttl" => o.ttl = n,
                _ => o.ttl_refresh = n,
            }
        }
        Kind::Str => match name {
            "deregister" => o.deregister = value.to_string(),
            "ip" => o.ip = value.to_string(),
            "tags" => o.tags = value.to_string(),
            _ => o.use_ip_from_label = value.to_string(),
        },
    }
    Ok(())
}

/// A flag combination upstream refuses with `log.Fatal` (exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOptions {
    #[error("-ttl and -ttl-refresh must be specified together or not at all")]
    TtlPair,
    #[error("-ttl must be greater than -ttl-refresh")]
    TtlOrder,
    #[error("-retry-interval must be greater than 0")]
    RetryInterval,
    #[error("-deregister must be \"always\" or \"on-success\"")]
    Deregister,
}

impl Options {
    /// Upstream's post-parse checks, in its order.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        if (self.ttl_refresh > 0 && self.ttl == 0) || (self.ttl_refresh == 0 && self.ttl > 0) {
            return Err(InvalidOptions::TtlPair);
        }
        if self.ttl_refresh > 0 && self.ttl <= self.ttl_refresh {
            return Err(InvalidOptions::TtlOrder);
        }
        if self.retry_interval_ms <= 0 {
            return Err(InvalidOptions::RetryInterval);
        }
        if self.deregister != "always" && self.deregister != "on-success" {
            return Err(InvalidOptions::Deregister);
        }
        Ok(())
    }

    /// The `-deregister` policy (call after [`Options::validate`]).
    pub fn deregister_policy(&self) -> DeregisterPolicy {
        if self.deregister == "on-success" {
            DeregisterPolicy::OnSuccess
        } else {
            DeregisterPolicy::Always
        }
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
