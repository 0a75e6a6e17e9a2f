//! Agent registrations: turning `PUT /v1/agent/service/register` and `check/register` bodies
//! (and config-file definitions) into catalog records of this agent's node, with Consul's
//! defaults and validation messages.

use crate::catalog::{CheckRecord, ServiceRecord};
use api_types::{CheckDefinition, CheckRegistration, ServiceRegistration};

/// A registration Consul would refuse; `Display` is its 400 body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Invalid(pub String);

const STATUSES: [&str; 3] = ["passing", "warning", "critical"];

/// Validates a service registration and builds its record and checks for `node`.
pub fn service_records(
    reg: &ServiceRegistration,
    node: &str,
    allow_scripts: bool,
) -> Result<(ServiceRecord, Vec<CheckRecord>), Invalid> {
    if reg.name.is_empty() {
        return Err(Invalid("Missing service name".into()));
    }
    if reg.address == "0.0.0.0" || reg.address == "::" || reg.address == "[::]" {
        return Err(Invalid("Invalid service address".into()));
    }
    if let Some(w) = reg.weights {
        if w.passing < 1 {
            return Err(Invalid(
                "Invalid Weights: Passing must be greater than 0".into(),
            ));
        }
        if w.warning < 0 {
            return Err(Invalid(
                "Invalid Weights: Warning must be greater or equal than 0".into(),
            ));
        }
    }
    if let Some(meta) = &reg.meta {
        validate_meta(meta).map_err(|e| Invalid(format!("Invalid Service Meta: {e}")))?;
    }
    let id = if reg.id.is_empty() {
        reg.name.clone()
    } else {
        reg.id.clone()
    };
    let service = ServiceRecord {
        kind: reg.kind.clone(),
        id: id.clone(),
        name: reg.name.clone(),
        tags: reg.tags.clone().unwrap_or_default(),
        address: reg.address.clone(),
        tagged_addresses: reg.tagged_addresses.clone(),
        meta: reg.meta.clone().unwrap_or_default(),
        port: reg.port,
        weights: reg.weights.unwrap_or_default(),
        enable_tag_override: reg.enable_tag_override,
        agent: true,
        create_index: 0,
        modify_index: 0,
    };
    let mut defs: Vec<CheckRegistration> = Vec::new();
    defs.extend(reg.check.clone().filter(|c| !is_empty_check(c)));
    defs.extend(reg.checks.clone().unwrap_or_default());
    let many = defs.len() > 1;
    let mut checks = Vec::new();
    for (i, mut def) in defs.into_iter().enumerate() {
        if def.id.is_empty() {
            def.id = if many {
                format!("service:{id}:{}", i + 1)
            } else {
                format!("service:{id}")
            };
        }
        if def.name.is_empty() {
            def.name = format!("Service '{}' check", reg.name);
        }
        def.service_id = id.clone();
        if !def.status.is_empty() && !STATUSES.contains(&def.status.as_str()) {
            return Err(Invalid(
                "Status for checks must 'passing', 'warning', 'critical'".into(),
            ));
        }
        checks.push(
            check_record(&def, node, allow_scripts)
                .map_err(|e| Invalid(format!("Invalid check: {}", e.0)))?,
        );
    }
    Ok((service, checks))
}

fn is_empty_check(c: &CheckRegistration) -> bool {
    *c == CheckRegistration::default()
}

fn validate_meta(meta: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    if meta.len() > 64 {
        return Err(format!(
            "Node metadata cannot contain more than {} key/value pairs",
            64
        ));
    }
    for (k, v) in meta {
        if k.is_empty() {
            return Err("Key cannot be blank".into());
        }
        if k.len() > 128 {
            return Err(format!("Key is too long (limit: {} characters)", 128));
        }
        if !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("Key contains invalid characters: {k}"));
        }
        if k.starts_with("consul-") {
            return Err(format!(
                "Key prefix 'consul-' is reserved for internal use: {k}"
            ));
        }
        if v.len() > 512 {
            return Err(format!("Value is too long (limit: {} characters)", 512));
        }
    }
    Ok(())
}

/// Validates one check definition and builds its record (initial status critical unless given).
pub fn check_record(
    def: &CheckRegistration,
    node: &str,
    allow_scripts: bool,
) -> Result<CheckRecord, Invalid> {
    let kind = crate::health::check_type(def);
    let id = if def.id.is_empty() {
        def.name.clone()
    } else {
        def.id.clone()
    };
    if !def.interval.is_zero() && !def.ttl.is_zero() {
        return Err(Invalid("Interval and TTL cannot both be specified".into()));
    }
    match kind {
        "ttl" if def.ttl.0 <= 0 => return Err(Invalid("TTL must be > 0 for TTL checks".into())),
        "http" | "tcp" | "script" | "udp" | "grpc" | "docker" if def.interval.0 <= 0 => {
            return Err(Invalid(
                "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
                    .into(),
            ))
        }
        "alias" if !def.interval.is_zero() => {
            return Err(Invalid("Interval cannot be set for Alias checks".into()))
        }
        "" => return Err(Invalid("TTL must be > 0 for TTL checks".into())),
        _ => {}
    }
    if (kind == "script" || kind == "docker") && !allow_scripts {
        return Err(Invalid(
            "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
                .into(),
        ));
    }
    if def.failures_before_warning > def.failures_before_critical
        && def.failures_before_critical > 0
    {
        return Err(Invalid(
            "FailuresBeforeWarning can't be higher than FailuresBeforeCritical".into(),
        ));
    }
    let status = if def.status.is_empty() {
        "critical".to_string()
    } else {
        def.status.clone()
    };
    let definition = CheckDefinition {
        interval: def.interval,
        timeout: def.timeout,
        deregister_critical_service_after: def.deregister_critical_service_after,
        http: def.http.clone(),
        header: def.header.clone(),
        method: def.method.clone(),
        body: def.body.clone(),
        tls_server_name: def.tls_server_name.clone(),
        tls_skip_verify: def.tls_skip_verify,
        tcp: def.tcp.clone(),
    };
    Ok(CheckRecord {
        node: node.to_string(),
        check_id: id,
        name: def.name.clone(),
        status,
        notes: def.notes.clone(),
        output: String::new(),
        service_id: def.service_id.clone(),
        service_name: String::new(),
        service_tags: Vec::new(),
        check_type: kind.to_string(),
        interval: def.interval.0,
        timeout: def.timeout.0,
        definition,
        spec: Some(def.clone()),
        create_index: 0,
        modify_index: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(json: &str) -> ServiceRegistration {
        api_types::decode::decode_body(json.as_bytes()).unwrap()
    }

    #[test]
    fn defaults_ids_and_names_like_consul() {
        let r = reg(
            r#"{"name":"web","port":80,"checks":[{"ttl":"10s"},{"http":"http://x","interval":"5s"}]}"#,
        );
        let (s, c) = service_records(&r, "n1", false).unwrap();
        assert_eq!(s.id, "web");
        assert_eq!(c[0].check_id, "service:web:1");
        assert_eq!(c[1].check_id, "service:web:2");
        assert_eq!(c[0].name, "Service 'web' check");
        assert_eq!(c[0].status, "critical");
        assert_eq!(c[1].check_type, "http");
    }

    #[test]
    fn refuses_what_consul_refuses() {
        let e = service_records(&reg(r#"{"port":80}"#), "n", false).unwrap_err();
        assert_eq!(e.0, "Missing service name");
        let e =
            service_records(&reg(r#"{"name":"a","address":"0.0.0.0"}"#), "n", false).unwrap_err();
        assert_eq!(e.0, "Invalid service address");
        let e = service_records(
            &reg(r#"{"name":"a","check":{"interval":"10s","ttl":"5s"}}"#),
            "n",
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "Invalid check: Interval and TTL cannot both be specified"
        );
        let e = service_records(
            &reg(r#"{"name":"a","check":{"args":["true"],"interval":"5s"}}"#),
            "n",
            false,
        )
        .unwrap_err();
        assert!(e.0.starts_with("Invalid check: Scripts are disabled"));
    }
}
