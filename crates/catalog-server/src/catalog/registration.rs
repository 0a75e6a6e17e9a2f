//! Registrations become commands here, with all of Consul's defaults and validation: an agent's
//! service (with its checks) or check (`PUT /v1/agent/service/register`, `check/register`,
//! config-file definitions) and a catalog registration (`PUT /v1/catalog/register`: node,
//! service and checks). A registration refused for any reason produces no command; one that
//! passes is one command, applied in one Raft entry or not at all.

use super::command::{Command, Registration};
use super::health::{CheckKind, HealthStatus};
use super::records::{CheckRecord, NodeRecord, ServiceRecord};
use api_types::{
    CatalogCheckInput, CatalogRegistration, CatalogServiceInput, CheckDefinition,
    CheckRegistration, ServiceRegistration,
};

/// A registration Consul would refuse; `Display` is its 400 body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Invalid(pub String);

/// `PUT /v1/agent/service/register`: the service of `reg` and its checks on `node`.
pub fn agent_service(
    reg: &ServiceRegistration,
    node: &str,
    allow_scripts: bool,
    replace_existing_checks: bool,
) -> Result<Command, Invalid> {
    let (service, checks) = service_records(reg, node, allow_scripts)?;
    Ok(Command::RegisterService {
        node: node.to_string(),
        service,
        checks,
        replace_existing_checks,
    })
}

/// `PUT /v1/agent/check/register`: the check `def` on `node`.
pub fn agent_check(
    def: &CheckRegistration,
    node: &str,
    allow_scripts: bool,
) -> Result<Command, Invalid> {
    if def.name.is_empty() {
        return Err(Invalid("Missing check name".into()));
    }
    if !def.status.is_empty() && HealthStatus::parse(&def.status).is_none() {
        return Err(Invalid("Bad check status".into()));
    }
    let check = check_record(def, node, allow_scripts)
        .map_err(|e| Invalid(format!("Invalid check: {}", e.0)))?;
    Ok(Command::RegisterCheck { check })
}

/// A catalog registration Consul refuses; `Display` is its (500) text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogRefusal {
    #[error("Must provide node")]
    MissingNode,
    #[error("Must provide address if SkipNodeUpdate is not set")]
    MissingAddress,
    #[error("Bad node ID: {0:?} is not a valid UUID")]
    BadNodeId(String),
    #[error("No path to datacenter")]
    OtherDatacenter,
    #[error("Must provide service name with ID")]
    MissingServiceName,
    /// A service mesh registration (no mesh here).
    #[error("{0}")]
    Mesh(String),
    #[error("Invalid check status {0:?}: must be passing, warning or critical")]
    BadCheckStatus(String),
}

/// `PUT /v1/catalog/register` in datacenter `datacenter`: node, service and checks as one
/// command.
pub fn catalog(reg: &CatalogRegistration, datacenter: &str) -> Result<Command, CatalogRefusal> {
    if reg.node.is_empty() {
        return Err(CatalogRefusal::MissingNode);
    }
    if reg.address.is_empty() && !reg.skip_node_update {
        return Err(CatalogRefusal::MissingAddress);
    }
    if !reg.id.is_empty() && uuid::Uuid::parse_str(&reg.id).is_err() {
        return Err(CatalogRefusal::BadNodeId(reg.id.clone()));
    }
    if !reg.datacenter.is_empty() && !reg.datacenter.eq_ignore_ascii_case(datacenter) {
        return Err(CatalogRefusal::OtherDatacenter);
    }
    let node = NodeRecord {
        id: reg.id.clone(),
        node: reg.node.clone(),
        address: reg.address.clone(),
        datacenter: datacenter.to_string(),
        tagged_addresses: reg.tagged_addresses.clone(),
        meta: reg.node_meta.clone(),
        create_index: 0,
        modify_index: 0,
    };
    let service = reg.service.as_ref().map(catalog_service).transpose()?;
    let checks = reg
        .check
        .iter()
        .chain(reg.checks.iter().flatten())
        .map(|c| catalog_check(c, &reg.node))
        .collect::<Result<_, _>>()?;
    Ok(Command::Register(Registration {
        node,
        skip_node_update: reg.skip_node_update,
        service,
        checks,
    }))
}

/// A service of a catalog registration (or of a `/v1/txn` service operation): its ID is its
/// name when none is given.
pub fn catalog_service(s: &CatalogServiceInput) -> Result<ServiceRecord, CatalogRefusal> {
    if s.service.is_empty() {
        return Err(CatalogRefusal::MissingServiceName);
    }
    mesh_refusal(&s.kind, s.proxy.as_ref(), s.connect.as_ref()).map_err(CatalogRefusal::Mesh)?;
    Ok(ServiceRecord {
        kind: s.kind.clone(),
        id: if s.id.is_empty() {
            s.service.clone()
        } else {
            s.id.clone()
        },
        name: s.service.clone(),
        tags: s.tags.clone().unwrap_or_default(),
        address: s.address.clone(),
        tagged_addresses: s.tagged_addresses.clone(),
        meta: s.meta.clone().unwrap_or_default(),
        port: s.port,
        weights: s.weights.unwrap_or_default(),
        enable_tag_override: s.enable_tag_override,
        agent: false,
        create_index: 0,
        modify_index: 0,
    })
}

/// A check of a catalog registration (or of a `/v1/txn` check operation) on `node` unless it
/// names its own; stored, never run. Its ID is its name when none is given, its status
/// critical.
pub fn catalog_check(c: &CatalogCheckInput, node: &str) -> Result<CheckRecord, CatalogRefusal> {
    let status = match c.status.as_str() {
        "" => HealthStatus::Critical,
        s => HealthStatus::parse(s).ok_or_else(|| CatalogRefusal::BadCheckStatus(s.into()))?,
    };
    Ok(CheckRecord {
        node: if c.node.is_empty() {
            node.to_string()
        } else {
            c.node.clone()
        },
        check_id: if c.check_id.is_empty() {
            c.name.clone()
        } else {
            c.check_id.clone()
        },
        name: c.name.clone(),
        status,
        notes: c.notes.clone(),
        output: c.output.clone(),
        service_id: c.service_id.clone(),
        interval: c.definition.interval.0,
        timeout: c.definition.timeout.0,
        definition: c.definition.clone(),
        ..Default::default()
    })
}

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
    mesh_refusal(&reg.kind, reg.proxy.as_ref(), reg.connect.as_ref()).map_err(Invalid)?;
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
        if !def.status.is_empty() && HealthStatus::parse(&def.status).is_none() {
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

/// Refuses what only the service mesh gives a meaning to: a kind other than a typical service
/// (proxies and gateways), proxy settings, and Connect's `Native` or `SidecarService`. None of
/// it would work here, so none of it is stored. `null` and `{}` are absent, and so is a value
/// whose every field is off; a `SidecarService` that is not `null` asks for a sidecar, even `{}`
/// (Consul fills in the defaults).
fn mesh_refusal(
    kind: &str,
    proxy: Option<&serde_json::Value>,
    connect: Option<&serde_json::Value>,
) -> Result<(), String> {
    // A value whose every leaf is off (`null`, `false`, `""`, `0`, empty) asks for nothing:
    // clients that send `"Connect": {"Native": false}` register a plain service.
    fn on(v: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match v {
            J::Null => false,
            J::Bool(b) => *b,
            J::String(s) => !s.is_empty(),
            J::Number(n) => n.as_f64() != Some(0.0),
            J::Array(a) => a.iter().any(on),
            J::Object(o) => o.values().any(on),
        }
    }
    let sidecar_asked = |v: &serde_json::Value| {
        v.as_object().is_some_and(|o| {
            o.iter().any(|(k, v)| {
                let k = k.replace('_', "");
                k.eq_ignore_ascii_case("SidecarService") && !v.is_null()
            })
        })
    };
    let given = |v: Option<&serde_json::Value>| v.is_some_and(|v| on(v) || sidecar_asked(v));
    let what = if !kind.is_empty() && kind != "typical" {
        format!("service kind {kind:?}")
    } else if given(proxy) {
        "Proxy".to_string()
    } else if given(connect) {
        "Connect".to_string()
    } else {
        return Ok(());
    };
    Err(format!(
        "{what} is not supported: the service mesh (Connect) is not implemented by this agent"
    ))
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

/// Consul's `CheckType.Validate`: which of interval, TTL and alias a definition may combine.
fn validate_check_type(def: &CheckRegistration) -> Result<(), Invalid> {
    let script = def.args.as_ref().is_some_and(|a| !a.is_empty()) || !def.script.is_empty();
    let interval_check = script
        || !def.http.is_empty()
        || !def.tcp.is_empty()
        || !def.udp.is_empty()
        || !def.grpc.is_empty()
        || !def.h2ping.is_empty();
    let alias = !def.alias_node.is_empty() || !def.alias_service.is_empty();
    let err = |s: &str| Err(Invalid(s.to_string()));
    if !def.os_service.is_empty() {
        // Consul's OS service client exists on Windows only; elsewhere it is "not implemented".
        return err("OSService checks are not implemented on this platform (Consul runs them on Windows only)");
    }
    if def.interval.0 > 0 && def.ttl.0 > 0 {
        return err("Interval and TTL cannot both be specified");
    }
    if interval_check && def.interval.0 <= 0 {
        return err("Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks");
    }
    if interval_check && alias {
        return err("Interval cannot be set for Alias checks");
    }
    if alias && def.ttl.0 > 0 {
        return err("TTL must be not be set for Alias checks");
    }
    if !interval_check && !alias && def.ttl.0 <= 0 {
        return err("TTL must be > 0 for TTL checks");
    }
    Ok(())
}

/// Validates one check definition and builds its record (initial status critical unless given).
pub fn check_record(
    def: &CheckRegistration,
    node: &str,
    allow_scripts: bool,
) -> Result<CheckRecord, Invalid> {
    let kind = CheckKind::of(def);
    let id = if def.id.is_empty() {
        def.name.clone()
    } else {
        def.id.clone()
    };
    validate_check_type(def)?;
    if matches!(kind, CheckKind::Script | CheckKind::Docker) && !allow_scripts {
        return Err(Invalid(
            "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
                .into(),
        ));
    }
    // The HTTP check's client verifies the URL's host; a different name to verify is not
    // implemented for it (gRPC and H2PING checks honour TLSServerName).
    if kind == CheckKind::Http && !def.tls_server_name.is_empty() {
        return Err(Invalid(
            "TLSServerName on HTTP checks is not supported by this agent: the certificate is verified against the URL's host".into(),
        ));
    }
    if def.failures_before_warning > def.failures_before_critical
        && def.failures_before_critical > 0
    {
        return Err(Invalid(
            "FailuresBeforeWarning can't be higher than FailuresBeforeCritical".into(),
        ));
    }
    let status = HealthStatus::parse(&def.status).unwrap_or_default();
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
        h2ping: def.h2ping.clone(),
        h2ping_use_tls: !def.h2ping.is_empty() && def.h2ping_use_tls.unwrap_or(true),
        script_args: def.args.clone().unwrap_or_default(),
        docker_container_id: def.docker_container_id.clone(),
        shell: def.shell.clone(),
        grpc: def.grpc.clone(),
        grpc_use_tls: def.grpc_use_tls,
        alias_node: def.alias_node.clone(),
        alias_service: def.alias_service.clone(),
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
        check_type: kind,
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
        assert_eq!(c[0].status, HealthStatus::Critical);
        assert_eq!(c[1].check_type, CheckKind::Http);
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

    #[test]
    fn what_this_agent_does_not_implement_is_refused_by_name() {
        let e = service_records(
            &reg(r#"{"name":"a","check":{"http":"https://10.0.0.1/","interval":"5s","tls_server_name":"x.example"}}"#),
            "n",
            false,
        )
        .unwrap_err();
        assert!(e.0.contains("TLSServerName on HTTP checks"), "{}", e.0);
        let e = service_records(
            &reg(r#"{"name":"a","connect":{"native":true}}"#),
            "n",
            false,
        )
        .unwrap_err();
        assert!(e.0.starts_with("Connect is not supported"), "{}", e.0);
        let e = service_records(
            &reg(r#"{"name":"a","connect":{"sidecar_service":{}}}"#),
            "n",
            false,
        )
        .unwrap_err();
        assert!(e.0.starts_with("Connect is not supported"), "{}", e.0);
        assert!(service_records(
            &reg(r#"{"name":"a","connect":{"native":false},"proxy":{"mode":""}}"#),
            "n",
            false
        )
        .is_ok());
        let e = service_records(
            &reg(r#"{"name":"a","check":{"os_service":"sshd","interval":"5s"}}"#),
            "n",
            false,
        )
        .unwrap_err();
        assert!(
            e.0.contains("OSService checks are not implemented"),
            "{}",
            e.0
        );
    }

    fn catalog_reg(json: &str) -> Result<Command, CatalogRefusal> {
        let r: CatalogRegistration = api_types::decode::decode_body(json.as_bytes()).unwrap();
        catalog(&r, "dc1")
    }

    #[test]
    fn a_catalog_registration_is_one_command_or_none() {
        let ok = catalog_reg(
            r#"{"Node":"n1","Address":"10.0.0.1","Service":{"Service":"web","Port":80},
                "Checks":[{"Name":"c1","Status":"passing","ServiceID":"web"},{"Name":"c2"}]}"#,
        )
        .unwrap();
        let Command::Register(r) = ok else {
            panic!("not one Register command: {ok:?}")
        };
        assert_eq!(r.node.node, "n1");
        assert_eq!(r.service.as_ref().map(|s| s.id.as_str()), Some("web"));
        assert_eq!(r.checks.len(), 2);
        assert_eq!(r.checks[0].status, HealthStatus::Passing);
        assert_eq!(r.checks[1].status, HealthStatus::Critical);
        assert_eq!(r.checks[1].node, "n1");
        for (body, refusal) in [
            (r#"{"Address":"a"}"#, CatalogRefusal::MissingNode),
            (r#"{"Node":"n"}"#, CatalogRefusal::MissingAddress),
            (
                r#"{"Node":"n","Address":"a","ID":"nope"}"#,
                CatalogRefusal::BadNodeId("nope".into()),
            ),
            (
                r#"{"Node":"n","Address":"a","Datacenter":"dc2"}"#,
                CatalogRefusal::OtherDatacenter,
            ),
            (
                r#"{"Node":"n","Address":"a","Service":{"ID":"x"}}"#,
                CatalogRefusal::MissingServiceName,
            ),
            (
                r#"{"Node":"n","Address":"a","Check":{"Name":"c","Status":"up"}}"#,
                CatalogRefusal::BadCheckStatus("up".into()),
            ),
        ] {
            assert_eq!(catalog_reg(body), Err(refusal), "{body}");
        }
    }
}
