//! `SERVICE_[<port>_]CHECK_*` metadata → the one Consul check upstream's `buildCheck`
//! (consul/consul.go) produces, plus our Docker `HEALTHCHECK` → TTL check extension.
//!
//! Upstream's rules, kept: the first of `check_http`, `check_https`, `check_cmd`,
//! `check_script`, `check_ttl`, `check_tcp`, `check_grpc` with a non-empty value wins (an empty
//! value is unset); `check_timeout` applies to HTTP, HTTPS, TCP and gRPC; `check_http_method`
//! to HTTP and `check_https_method` to HTTPS only; `check_interval` (default `10s`) to every
//! kind but TTL; `check_initial_status` and `check_deregister_after` to every kind;
//! `check_grpc_use_tls` sets `GRPCUseTLS` and only then `check_tls_skip_verify` sets
//! `TLSSkipVerify`. Keys upstream does not read (`check_docker`, `check_shell`,
//! `check_header`, ...) build nothing: like every `SERVICE_*` key they land in `Meta`.
//! Durations are Go durations, checked here (upstream passes the text on and Consul refuses
//! the registration: here the service is skipped with a note naming the key).

use super::meta::Metadata;
use api_types::{parse_go_duration, CheckRegistration, GoDuration};

/// Interval for HTTP/HTTPS/TCP/gRPC/script checks without `SERVICE_CHECK_INTERVAL`.
const DEFAULT_INTERVAL: &str = "10s";

/// TTL of the check that mirrors a Docker `HEALTHCHECK`; the sync loop re-asserts the current
/// status well within it, so the check only expires when registrator itself is gone.
pub const DOCKER_HEALTH_TTL_SECS: i64 = 90;

/// Where the service is reachable, as the check sees it.
pub struct Target<'a> {
    pub ip: &'a str,
    pub port: u16,
    pub container_id: &'a str,
    pub exposed_port: &'a str,
}

fn duration(meta: &Metadata, key: &str) -> Result<GoDuration, String> {
    match meta.get(key) {
        None => Ok(GoDuration::default()),
        Some(v) => parse_go_duration(v)
            .map(GoDuration)
            .map_err(|_| format!("invalid SERVICE_{}={v:?}", key.to_uppercase())),
    }
}

/// The check for `meta`, `Ok(None)` when no `check_*` key asks for one, `Err` when a
/// duration value is not a Go duration (Consul would refuse the whole registration).
pub fn build_check(meta: &Metadata, t: &Target<'_>) -> Result<Option<CheckRegistration>, String> {
    let mut c = CheckRegistration::default();
    let host_port = format!("{}:{}", t.ip, t.port);
    if let Some(path) = meta.get("check_http") {
        c.http = format!("http://{host_port}{path}");
        c.timeout = duration(meta, "check_timeout")?;
        c.method = meta
            .get("check_http_method")
            .unwrap_or_default()
            .to_string();
    } else if let Some(path) = meta.get("check_https") {
        c.http = format!("https://{host_port}{path}");
        c.timeout = duration(meta, "check_timeout")?;
        c.method = meta
            .get("check_https_method")
            .unwrap_or_default()
            .to_string();
    } else if let Some(cmd) = meta.get("check_cmd") {
        let short: String = t.container_id.chars().take(12).collect();
        c.args = Some(vec![
            "check-cmd".into(),
            short,
            t.exposed_port.to_string(),
            cmd.to_string(),
        ]);
    } else if let Some(script) = meta.get("check_script") {
        let s = script
            .replace("$SERVICE_IP", t.ip)
            .replace("$SERVICE_PORT", &t.port.to_string());
        c.args = Some(vec![s]);
    } else if meta.get("check_ttl").is_some() {
        c.ttl = duration(meta, "check_ttl")?;
    } else if meta.get("check_tcp").is_some() {
        c.tcp = host_port;
        c.timeout = duration(meta, "check_timeout")?;
    } else if meta.get("check_grpc").is_some() {
        c.grpc = host_port;
        c.timeout = duration(meta, "check_timeout")?;
        // Upstream reads `check_tls_skip_verify` only inside `check_grpc_use_tls`: an
        // HTTPS check or a plaintext gRPC check never skips verification.
        if meta.get("check_grpc_use_tls").is_some() {
            c.grpc_use_tls = true;
            c.tls_skip_verify = meta.get("check_tls_skip_verify").is_some();
        }
    } else {
        return Ok(None);
    }
    if c.args.is_some() || !c.http.is_empty() || !c.tcp.is_empty() || !c.grpc.is_empty() {
        c.interval = match meta.get("check_interval") {
            Some(_) => duration(meta, "check_interval")?,
            None => GoDuration(parse_go_duration(DEFAULT_INTERVAL).unwrap_or(10_000_000_000)),
        };
    }
    c.status = meta
        .get("check_initial_status")
        .unwrap_or_default()
        .to_string();
    c.deregister_critical_service_after = duration(meta, "check_deregister_after")?;
    Ok(Some(c))
}

/// The TTL check mirroring a Docker `HEALTHCHECK`, starting at the container's current health.
pub fn docker_health_check(healthy: bool) -> CheckRegistration {
    CheckRegistration {
        name: "Docker health".to_string(),
        notes: "mirrors the container's HEALTHCHECK (set by registrator)".to_string(),
        ttl: GoDuration::from_secs(DOCKER_HEALTH_TTL_SECS),
        status: if healthy { "passing" } else { "critical" }.to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn meta(pairs: &[(&str, &str)]) -> Metadata {
        Metadata {
            attrs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            from_port: Default::default(),
        }
    }

    const T: Target<'static> = Target {
        ip: "10.0.0.1",
        port: 8080,
        container_id: "0123456789abcdef",
        exposed_port: "80",
    };

    fn json(c: Option<CheckRegistration>) -> String {
        serde_json::to_string(&c).unwrap_or_default()
    }

    #[test]
    fn priorities_and_fields() {
        let m = meta(&[
            ("check_http", "/h"),
            ("check_tcp", "x"),
            ("check_timeout", "1s"),
            ("check_http_method", "HEAD"),
        ]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"10s","Timeout":"1s","HTTP":"http://10.0.0.1:8080/h","Method":"HEAD"}"#
        );
        let m = meta(&[
            ("check_script", "nc $SERVICE_IP $SERVICE_PORT"),
            ("check_interval", "5s"),
        ]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"5s","Args":["nc 10.0.0.1 8080"]}"#
        );
        let m = meta(&[("check_cmd", "/bin/health")]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"10s","Args":["check-cmd","0123456789ab","80","/bin/health"]}"#
        );
        let m = meta(&[
            ("check_ttl", "30s"),
            ("check_initial_status", "passing"),
            ("check_deregister_after", "10m"),
        ]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Status":"passing","TTL":"30s","DeregisterCriticalServiceAfter":"10m0s"}"#
        );
        assert_eq!(build_check(&meta(&[("region", "x")]), &T), Ok(None));
        assert!(build_check(&meta(&[("check_ttl", "soon")]), &T).is_err());
    }

    #[test]
    fn grpc_tls_and_skip_verify() {
        let m = meta(&[
            ("check_grpc", "x"),
            ("check_grpc_use_tls", "true"),
            ("check_tls_skip_verify", "true"),
            ("check_timeout", "3s"),
        ]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"10s","Timeout":"3s","TLSSkipVerify":true,"GRPC":"10.0.0.1:8080","GRPCUseTLS":true}"#
        );
        // Skip-verify without TLS, or on an HTTPS check, is not read (upstream).
        let m = meta(&[("check_grpc", "x"), ("check_tls_skip_verify", "true")]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"10s","GRPC":"10.0.0.1:8080"}"#
        );
        let m = meta(&[
            ("check_https", "/s"),
            ("check_tls_skip_verify", "true"),
            ("check_http_method", "GET"),
            ("check_https_method", "POST"),
        ]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"10s","HTTP":"https://10.0.0.1:8080/s","Method":"POST"}"#
        );
    }

    #[test]
    fn first_non_empty_key_wins_and_unread_keys_build_nothing() {
        // An empty value is unset: the next kind in upstream's order is taken.
        let m = meta(&[("check_http", ""), ("check_tcp", "1"), ("check_grpc", "1")]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"10s","TCP":"10.0.0.1:8080"}"#
        );
        // script before ttl before tcp; TTL checks take no interval or timeout.
        let m = meta(&[
            ("check_ttl", "30s"),
            ("check_tcp", "1"),
            ("check_script", "true"),
        ]);
        assert_eq!(
            json(build_check(&m, &T).ok().flatten()),
            r#"{"Interval":"10s","Args":["true"]}"#
        );
        let m = meta(&[
            ("check_ttl", "30s"),
            ("check_tcp", "1"),
            ("check_interval", "5s"),
            ("check_timeout", "1s"),
        ]);
        assert_eq!(json(build_check(&m, &T).ok().flatten()), r#"{"TTL":"30s"}"#);
        // Keys upstream never reads: no check (they stay metadata).
        let m = meta(&[
            ("check_docker", "/bin/check"),
            ("check_shell", "/bin/sh"),
            ("check_header", "X-A: b"),
            ("check_initial_status", "passing"),
            ("check_deregister_after", "1m"),
        ]);
        assert_eq!(build_check(&m, &T), Ok(None));
    }
}
