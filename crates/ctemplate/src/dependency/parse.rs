//! Parsing of the query strings template functions take (`[tag.]name[?query][@dc][~near][|filter]`,
//! `[/]key[@dc]`, ...), with upstream's per-function grammars and error messages.

use std::sync::OnceLock;

use regex::Regex;

use super::{Dependency, ServiceQuery};

/// A malformed query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

const DC: &str = r"(@(?P<dc>[\w.\-]+))?";
const QUERY: &str = r"(\?(?P<query>[\w\-=&]+))?";
const NEAR: &str = r"(~(?P<near>[\w.\-]+))?";
const FILTER: &str = r"(\|(?P<filter>[\w,]+))?";

fn service_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let src =
            format!(r"\A((?P<tag>[\w=:.\-]+)\.)?(?P<name>[\w\-]+){QUERY}{DC}{NEAR}{FILTER}\z");
        Regex::new(&src).unwrap_or_else(|_| unreachable_regex())
    })
}

fn dc_only_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let src = format!(r"\A{QUERY}{DC}{NEAR}\z");
        Regex::new(&src).unwrap_or_else(|_| unreachable_regex())
    })
}

fn node_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let src = format!(r"\A(?P<name>[\w.\-]+)?{QUERY}{DC}\z");
        Regex::new(&src).unwrap_or_else(|_| unreachable_regex())
    })
}

fn key_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let src = format!(r"\A/?(?P<key>[^@?]*){QUERY}{DC}\z");
        Regex::new(&src).unwrap_or_else(|_| unreachable_regex())
    })
}

/// The patterns above are constants; a failure to compile them is a programming error caught
/// by the unit tests, so fall back to a regex that matches nothing.
fn unreachable_regex() -> Regex {
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| std::process::abort())
}

fn opt(caps: &regex::Captures<'_>, name: &str) -> Option<String> {
    caps.name(name)
        .map(|m| m.as_str().to_string())
        .filter(|s| !s.is_empty())
}

fn query_params(raw: Option<String>) -> Result<Vec<(String, String)>, ParseError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "ns" | "partition" | "peer" | "sameness-group" => out.push((k.to_string(), v.to_string())),
            other => {
                return Err(ParseError(format!(
                    "unsupported query parameter {other:?}; supported parameters are ns, partition, peer, sameness-group"
                )))
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Dependency {
    /// `service`/`connect` arguments; several are joined with `|` (`service "web" "any"`).
    pub fn service(args: &[String], connect: bool) -> Result<Dependency, ParseError> {
        let joined = args.join("|");
        let what = if connect {
            "health.connect"
        } else {
            "health.service"
        };
        let caps = service_re()
            .captures(&joined)
            .ok_or_else(|| ParseError(format!("{what}: invalid format: {joined:?}")))?;
        let mut filters: Vec<String> = Vec::new();
        if let Some(raw) = opt(&caps, "filter") {
            for f in raw.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                match f {
                    "any" | "passing" | "warning" | "critical" | "maintenance" => {
                        filters.push(f.to_string())
                    }
                    other => {
                        return Err(ParseError(format!(
                            "{what}: invalid filter: {other:?} in {joined:?}"
                        )))
                    }
                }
            }
        }
        if filters.iter().any(|f| f == "any") && filters.len() > 1 {
            return Err(ParseError(format!(
                "{what}: cannot specify extra filters with \"any\""
            )));
        }
        if filters.is_empty() {
            filters.push("passing".into());
        }
        filters.sort();
        filters.dedup();
        Ok(Dependency::HealthService(ServiceQuery {
            name: opt(&caps, "name").unwrap_or_default(),
            tag: opt(&caps, "tag"),
            dc: opt(&caps, "dc"),
            near: opt(&caps, "near"),
            filters,
            params: query_params(opt(&caps, "query"))?,
            connect,
        }))
    }

    /// `services ["?query@dc"]`.
    pub fn catalog_services(arg: &str) -> Result<Dependency, ParseError> {
        let caps = dc_only_re()
            .captures(arg)
            .filter(|c| c.name("near").is_none())
            .ok_or_else(|| ParseError(format!("catalog.services: invalid format: {arg:?}")))?;
        Ok(Dependency::CatalogServices {
            dc: opt(&caps, "dc"),
            params: query_params(opt(&caps, "query"))?,
        })
    }

    /// `nodes ["@dc~near"]`.
    pub fn catalog_nodes(arg: &str) -> Result<Dependency, ParseError> {
        let caps = dc_only_re()
            .captures(arg)
            .ok_or_else(|| ParseError(format!("catalog.nodes: invalid format: {arg:?}")))?;
        Ok(Dependency::CatalogNodes {
            dc: opt(&caps, "dc"),
            near: opt(&caps, "near"),
        })
    }

    /// `node ["name@dc"]`.
    pub fn catalog_node(arg: &str) -> Result<Dependency, ParseError> {
        let caps = node_re()
            .captures(arg)
            .ok_or_else(|| ParseError(format!("catalog.node: invalid format: {arg:?}")))?;
        Ok(Dependency::CatalogNode {
            name: opt(&caps, "name"),
            dc: opt(&caps, "dc"),
        })
    }

    /// `key` (`block = true`), `keyExists`/`keyOrDefault` (`block = false`).
    pub fn kv_get(arg: &str, block: bool) -> Result<Dependency, ParseError> {
        let what = if block { "kv.block" } else { "kv.get" };
        let caps = key_re()
            .captures(arg)
            .ok_or_else(|| ParseError(format!("{what}: invalid format: {arg:?}")))?;
        Ok(Dependency::KvGet {
            key: opt(&caps, "key").unwrap_or_default(),
            dc: opt(&caps, "dc"),
            block,
        })
    }

    /// `ls`, `safeLs`, `tree`, `safeTree`.
    pub fn kv_list(arg: &str) -> Result<Dependency, ParseError> {
        let caps = key_re()
            .captures(arg)
            .ok_or_else(|| ParseError(format!("kv.list: invalid format: {arg:?}")))?;
        Ok(Dependency::KvList {
            prefix: opt(&caps, "key").unwrap_or_default(),
            dc: opt(&caps, "dc"),
        })
    }
}
