//! The DNS interface's settings: `domain`, `alt_domain`, `addresses.dns` and the `dns_config`
//! block, with Consul's defaults (TTL 0, three answers per UDP reply, the SOA timers). What the
//! DNS server does not implement (recursors, prepared-query TTLs, consistent reads) is refused
//! by name, never accepted and ignored.

use super::files::ConfigError;
use super::resolve::{at, get_bool, get_duration, get_int, get_list, get_str, invalid, parse_ip};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How the DNS interface answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// `domain`, lower-cased, with its trailing dot (`consul.`).
    pub domain: String,
    /// `alt_domain`, lower-cased, with its trailing dot; answered like `domain`.
    pub alt_domain: Option<String>,
    /// The addresses it binds: `addresses.dns`, else the client addresses.
    pub addrs: Vec<IpAddr>,
    /// `dns_config.node_ttl`: the TTL of node records (0).
    pub node_ttl: Duration,
    /// `dns_config.service_ttl`: per service name, exact names and `prefix*` wildcards.
    pub service_ttl: Vec<(String, Duration)>,
    /// `dns_config.only_passing`: warning instances are left out too.
    pub only_passing: bool,
    /// `dns_config.udp_answer_limit`: answers in a UDP reply without EDNS (3).
    pub udp_answer_limit: usize,
    /// `dns_config.a_record_limit`: A/AAAA answers in any reply (0: no limit).
    pub a_record_limit: usize,
    /// `dns_config.enable_truncate`: set TC when a UDP reply was cut.
    pub enable_truncate: bool,
    /// `dns_config.enable_additional_node_meta_txt`: node meta as TXT in SRV replies (true).
    pub node_meta_txt: bool,
    /// `dns_config.soa`: the timers of the SOA record.
    pub soa: Soa,
    /// `recursors` (`-recursor`): where names outside the domain are asked, port 53 unless
    /// given.
    pub recursors: Vec<SocketAddr>,
    /// `dns_config.recursor_timeout`: how long each recursor gets (2s).
    pub recursor_timeout: Duration,
    /// `dns_config.recursor_strategy = "random"`: recursors asked in a random order, not in
    /// the order given.
    pub recursor_random: bool,
}

/// The SOA record's timers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Soa {
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub min_ttl: u32,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            domain: "consul.".into(),
            alt_domain: None,
            addrs: vec![IpAddr::from([127, 0, 0, 1])],
            node_ttl: Duration::ZERO,
            service_ttl: Vec::new(),
            only_passing: false,
            udp_answer_limit: 3,
            a_record_limit: 0,
            enable_truncate: false,
            node_meta_txt: true,
            soa: Soa {
                refresh: 3600,
                retry: 600,
                expire: 86400,
                min_ttl: 0,
            },
            recursors: Vec::new(),
            recursor_timeout: Duration::from_secs(2),
            recursor_random: false,
        }
    }
}

impl DnsConfig {
    /// The TTL of service `name`'s records: an exact `service_ttl` entry, else the longest
    /// matching `prefix*`, else 0.
    pub fn service_ttl(&self, name: &str) -> Duration {
        if let Some((_, ttl)) = self.service_ttl.iter().find(|(k, _)| k == name) {
            return *ttl;
        }
        self.service_ttl
            .iter()
            .filter_map(|(k, ttl)| Some((k.strip_suffix('*')?, ttl)))
            .filter(|(prefix, _)| name.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, ttl)| *ttl)
            .unwrap_or(Duration::ZERO)
    }
}

/// The `dns_config` keys this agent reads; `allow_stale` only at its default (`true`).
const KEYS: &[&str] = &[
    "allow_stale",
    "max_stale",
    "node_ttl",
    "service_ttl",
    "only_passing",
    "udp_answer_limit",
    "a_record_limit",
    "enable_truncate",
    "enable_additional_node_meta_txt",
    "recursor_timeout",
    "recursor_strategy",
    "soa",
];

/// Why a `dns_config` block is refused, `None` when every key in it is implemented as given.
pub(super) fn refusal(value: &Value) -> Option<String> {
    let block = value.as_object()?;
    for (k, v) in block {
        let off = matches!(v, Value::Null | Value::Bool(false))
            || v.as_str().is_some_and(|s| s.is_empty() || s == "false")
            || v.as_i64() == Some(0);
        // Consul's default, 87600h, never sends a question to the leader; a shorter bound
        // would, and answers here always come from the agent's own copy of the catalog.
        if k == "max_stale" {
            let bound = v.as_str().map(api_types::parse_go_duration);
            if !matches!(bound, Some(Ok(ns)) if ns >= 87_600 * 3_600 * 1_000_000_000) {
                return Some(format!(
                    "dns_config.max_stale = {v} is not implemented by this agent: DNS answers from the agent's own copy of the catalog without a bound on its staleness (only the default, 87600h, is accepted)"
                ));
            }
        }
        if k == "allow_stale" && matches!(v, Value::Bool(false)) {
            return Some(
                "dns_config.allow_stale = false is not implemented by this agent: DNS answers from the agent's own copy of the catalog (allow_stale = true)"
                    .to_string(),
            );
        }
        if !KEYS.contains(&k.as_str()) && !off {
            return Some(format!(
                "dns_config.{k} = {v} is not implemented by this agent's DNS interface"
            ));
        }
    }
    None
}

/// The DNS settings of the merged config layer `v`, `client` the client addresses.
pub fn dns(v: &Value, client: &[IpAddr]) -> Result<DnsConfig, ConfigError> {
    let d = DnsConfig::default();
    let fqdn = |s: String| {
        let s = s.trim().trim_matches('.').to_lowercase();
        format!("{s}.")
    };
    let domain = get_str(v, &["domain"])?
        .filter(|s| !s.trim_matches('.').is_empty())
        .map(fqdn)
        .unwrap_or(d.domain);
    let alt_domain = get_str(v, &["alt_domain"])?
        .filter(|s| !s.trim_matches('.').is_empty())
        .map(fqdn);
    if alt_domain.as_deref() == Some(domain.as_str()) {
        return Err(invalid(format!(
            "alt_domain cannot be the same as domain: {domain}"
        )));
    }
    let addrs = match get_str(v, &["addresses", "dns"])? {
        Some(h) => h
            .split_whitespace()
            .map(|a| parse_ip("addresses.dns", a))
            .collect::<Result<_, _>>()?,
        None => client.to_vec(),
    };
    let mut service_ttl = Vec::new();
    if let Some(map) = at(v, &["dns_config", "service_ttl"]).and_then(Value::as_object) {
        for k in map.keys() {
            let ttl = get_duration(v, &["dns_config", "service_ttl", k])?.unwrap_or_default();
            service_ttl.push((k.clone(), ttl));
        }
    }
    let count = |k: &str, dflt: usize| -> Result<usize, ConfigError> {
        match get_int(v, &["dns_config", k])? {
            None => Ok(dflt),
            Some(n) if n < 0 => Err(invalid(format!("dns_config.{k}: cannot be negative"))),
            Some(n) => Ok(n as usize),
        }
    };
    let soa = |k: &str, dflt: u32| -> Result<u32, ConfigError> {
        Ok(get_int(v, &["dns_config", "soa", k])?
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
            .unwrap_or(dflt))
    };
    Ok(DnsConfig {
        domain,
        alt_domain,
        addrs,
        node_ttl: get_duration(v, &["dns_config", "node_ttl"])?.unwrap_or(d.node_ttl),
        service_ttl,
        only_passing: get_bool(v, &["dns_config", "only_passing"])?.unwrap_or(false),
        udp_answer_limit: count("udp_answer_limit", d.udp_answer_limit)?,
        a_record_limit: count("a_record_limit", d.a_record_limit)?,
        enable_truncate: get_bool(v, &["dns_config", "enable_truncate"])?.unwrap_or(false),
        node_meta_txt: get_bool(v, &["dns_config", "enable_additional_node_meta_txt"])?
            .unwrap_or(true),
        soa: Soa {
            refresh: soa("refresh", d.soa.refresh)?,
            retry: soa("retry", d.soa.retry)?,
            expire: soa("expire", d.soa.expire)?,
            min_ttl: soa("min_ttl", d.soa.min_ttl)?,
        },
        recursors: get_list(v, &["recursors"])?
            .iter()
            .map(|r| recursor(r))
            .collect::<Result<_, _>>()?,
        recursor_timeout: match get_duration(v, &["dns_config", "recursor_timeout"])? {
            Some(t) if t.is_zero() => {
                return Err(invalid("dns_config.recursor_timeout must be positive"))
            }
            Some(t) => t,
            None => d.recursor_timeout,
        },
        recursor_random: match get_str(v, &["dns_config", "recursor_strategy"])?.as_deref() {
            None | Some("") | Some("sequential") => false,
            Some("random") => true,
            Some(other) => {
                return Err(invalid(format!(
                "dns_config.recursor_strategy: {other:?} is not one of \"sequential\", \"random\""
            )))
            }
        },
    })
}

/// `ip`, `ip:port`, `[v6]:port`: a recursor's address, port 53 by default.
fn recursor(text: &str) -> Result<SocketAddr, ConfigError> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    t.parse::<SocketAddr>().map_err(|_| {
        invalid(format!(
            "Invalid recursor address: {text:?}: an IP address, with an optional port"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_consuls() {
        let c = dns(&json!({}), &[IpAddr::from([127, 0, 0, 1])]).unwrap();
        assert_eq!(c, DnsConfig::default());
    }

    #[test]
    fn settings_are_read() {
        let v = json!({
            "domain": "Example.", "alt_domain": "alt",
            "addresses": {"dns": "127.0.0.2"},
            "dns_config": {
                "node_ttl": "10s", "only_passing": true, "udp_answer_limit": 5,
                "enable_truncate": true, "service_ttl": {"*": "5s", "web*": "7s", "web": "9s"},
                "soa": {"min_ttl": 30}
            }
        });
        let c = dns(&v, &[]).unwrap();
        assert_eq!(c.domain, "example.");
        assert_eq!(c.alt_domain.as_deref(), Some("alt."));
        assert_eq!(c.addrs, vec![IpAddr::from([127, 0, 0, 2])]);
        assert_eq!(c.node_ttl, Duration::from_secs(10));
        assert!(c.only_passing && c.enable_truncate);
        assert_eq!(c.udp_answer_limit, 5);
        assert_eq!(c.soa.min_ttl, 30);
        assert_eq!(c.soa.refresh, 3600);
        assert_eq!(c.service_ttl("web"), Duration::from_secs(9));
        assert_eq!(c.service_ttl("webapp"), Duration::from_secs(7));
        assert_eq!(c.service_ttl("db"), Duration::from_secs(5));
    }

    #[test]
    fn unimplemented_settings_are_refused_by_name() {
        assert_eq!(
            refusal(&json!({"only_passing": true, "node_ttl": "1s"})),
            None
        );
        assert_eq!(
            refusal(&json!({"allow_stale": true, "use_cache": false})),
            None
        );
        assert_eq!(refusal(&json!({"max_stale": "87600h"})), None);
        let bound = refusal(&json!({"max_stale": "5s"})).unwrap();
        assert!(
            bound.starts_with("dns_config.max_stale = \"5s\""),
            "{bound}"
        );
        assert!(refusal(&json!({"max_stale": 5})).is_some());
        let stale = refusal(&json!({"allow_stale": false})).unwrap();
        assert!(
            stale.starts_with("dns_config.allow_stale = false"),
            "{stale}"
        );
        let cache = refusal(&json!({"use_cache": true})).unwrap();
        assert!(cache.starts_with("dns_config.use_cache = true"), "{cache}");
    }
}
