//! The LAN gossip pool's settings: where it binds (`serf_lan`, `-serf-lan-bind`, else
//! `bind_addr`), its key (`encrypt`, `-encrypt`), how long failed members are kept
//! (`reconnect_timeout`, at least 8h as in Consul) and the `gossip_lan` tuning block, with
//! memberlist's LAN defaults. The port is `ports.serf_lan` (8301).

use super::files::ConfigError;
use super::resolve::{at, get_bool, get_duration, get_int, get_str, invalid, parse_ip};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

/// How this agent gossips.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// The address the gossip socket binds (`serf_lan`, else `bind_addr`).
    pub bind: IpAddr,
    /// The pool's tuning and key.
    pub pool: gossip::Config,
    /// Whether `encrypt` was set (`consul info`'s `encrypted`).
    pub encrypted: bool,
}

/// Consul's floor for `reconnect_timeout`.
const RECONNECT_TIMEOUT_MIN: Duration = Duration::from_secs(8 * 3600);

/// The `gossip_lan` keys this agent reads.
const TUNING_KEYS: [&str; 6] = [
    "gossip_nodes",
    "gossip_interval",
    "probe_interval",
    "probe_timeout",
    "retransmit_mult",
    "suspicion_mult",
];

pub(super) fn gossip(v: &Value, bind_addr: IpAddr) -> Result<GossipConfig, ConfigError> {
    let bind = match get_str(v, &["serf_lan"])?.filter(|s| !s.is_empty()) {
        Some(a) => parse_ip("serf_lan", &a)?,
        None => bind_addr,
    };
    let mut pool = gossip::Config::lan();
    if let Some(t) = get_duration(v, &["reconnect_timeout"])? {
        if t < RECONNECT_TIMEOUT_MIN {
            return Err(invalid("reconnect_timeout must be >= 8h"));
        }
        pool.reconnect_timeout = t;
    }
    if let Some(block) = at(v, &["gossip_lan"]).and_then(Value::as_object) {
        if let Some(k) = block.keys().find(|k| !TUNING_KEYS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "gossip_lan.{k} is not a gossip_lan setting (it takes {})",
                TUNING_KEYS.join(", ")
            )));
        }
    }
    let count = |k: &str| -> Result<Option<usize>, ConfigError> {
        match get_int(v, &["gossip_lan", k])? {
            Some(n) if n <= 0 => Err(invalid(format!("gossip_lan.{k} must be positive"))),
            Some(n) => Ok(Some(n as usize)),
            None => Ok(None),
        }
    };
    let every = |k: &str| -> Result<Option<Duration>, ConfigError> {
        match get_duration(v, &["gossip_lan", k])? {
            Some(d) if d.is_zero() => Err(invalid(format!("gossip_lan.{k} must be positive"))),
            d => Ok(d),
        }
    };
    if let Some(n) = count("gossip_nodes")? {
        pool.gossip_nodes = n;
    }
    if let Some(d) = every("gossip_interval")? {
        pool.gossip_interval = d;
    }
    if let Some(d) = every("probe_interval")? {
        pool.probe_interval = d;
    }
    if let Some(d) = every("probe_timeout")? {
        pool.probe_timeout = d;
    }
    if let Some(n) = count("retransmit_mult")? {
        pool.retransmit_mult = n.min(u32::MAX as usize) as u32;
    }
    if let Some(n) = count("suspicion_mult")? {
        pool.suspicion_mult = n.min(u32::MAX as usize) as u32;
    }
    if pool.probe_timeout >= pool.probe_interval {
        return Err(invalid(
            "gossip_lan.probe_timeout must be shorter than gossip_lan.probe_interval",
        ));
    }
    let key = get_str(v, &["encrypt"])?.filter(|s| !s.is_empty());
    let encrypted = key.is_some();
    if let Some(key) = key {
        let ring = gossip::Keyring::from_base64(&key, [])
            .map_err(|e| invalid(format!("encrypt has invalid key: {e}")))?;
        for k in ["encrypt_verify_incoming", "encrypt_verify_outgoing"] {
            if get_bool(v, &[k])? == Some(false) {
                return Err(invalid(format!(
                    "{k} = false is refused: this agent's gossip is encrypted both ways once `encrypt` is set (a rolling upgrade to encryption is not supported)"
                )));
            }
        }
        pool = pool.with_keyring(ring);
    }
    Ok(GossipConfig {
        bind,
        pool,
        encrypted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(v: Value) -> Result<GossipConfig, String> {
        gossip(&v, IpAddr::from([10, 0, 0, 1])).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_memberlists_lan_settings() {
        let g = load(json!({})).expect("loads");
        assert_eq!(g.bind, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(g.pool.probe_interval, Duration::from_secs(1));
        assert_eq!(g.pool.reconnect_timeout, Duration::from_secs(72 * 3600));
        assert!(!g.encrypted);
    }

    #[test]
    fn tuning_key_and_bind_are_read_and_bad_values_refused() {
        let g = load(json!({
            "serf_lan": "10.0.0.9",
            "reconnect_timeout": "9h",
            "encrypt": gossip::keygen(),
            "gossip_lan": {"probe_interval": "2s", "suspicion_mult": 6, "gossip_nodes": 4}
        }))
        .expect("loads");
        assert_eq!(g.bind, IpAddr::from([10, 0, 0, 9]));
        assert_eq!(g.pool.probe_interval, Duration::from_secs(2));
        assert_eq!(g.pool.suspicion_mult, 6);
        assert_eq!(g.pool.gossip_nodes, 4);
        assert!(g.encrypted && g.pool.keyring.is_some());
        for (bad, why) in [
            (
                json!({"reconnect_timeout": "1h"}),
                "reconnect_timeout must be >= 8h",
            ),
            (
                json!({"encrypt": "bm90IGEga2V5"}),
                "encrypt has invalid key",
            ),
            (
                json!({"gossip_lan": {"probe_timeout": "3s"}}),
                "probe_timeout must be shorter",
            ),
            (
                json!({"gossip_lan": {"push_pull": "3s"}}),
                "gossip_lan.push_pull is not",
            ),
            (
                json!({"encrypt": gossip::keygen(), "encrypt_verify_incoming": false}),
                "encrypt_verify_incoming = false is refused",
            ),
        ] {
            let e = load(bad.clone()).expect_err(&bad.to_string());
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
