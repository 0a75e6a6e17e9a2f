//! `/v1/agent/*`: this agent's own services and checks, its member entry and `self` document,
//! TTL updates, maintenance mode, join and leave.

use super::acl::{authz, filter, recheck, sees_check, write_vetted, Token};
use super::filter as expr;
use super::params::Params;
use super::reply::{json, ok_empty, ApiError};
use super::AppState;
use crate::catalog::query::{agent_service_wire, check_wire};
use crate::catalog::{registration, CheckKind, CheckRecord, Command, HealthStatus};
use crate::health::TtlError;
use ::acl::{Access, Resource};
use api_types::decode::{decode_body_as, GoNames};
use api_types::{CheckRegistration, CheckUpdate, ServiceRegistration};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::response::Response;
use std::collections::BTreeMap;

type Res = Result<Response, ApiError>;

pub async fn self_doc(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Agent, a.node(), Access::Read)?;
    Ok(json(&a.self_doc().await, p.pretty() || a.config().dev))
}

pub async fn members(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let wan = p.get("wan").is_some_and(|v| !v.is_empty());
    if wan
        && p.get("segment")
            .is_some_and(|s| !s.is_empty() && s != "_all")
    {
        return Err(ApiError::bad_request(
            "Cannot provide a segment with wan=true",
        ));
    }
    let f = expr::from_params(&p, expr::member())?;
    let mut members = a.members().await;
    let filtered = filter(&mut members, |m| {
        z.allows(Resource::Node, &m.name, Access::Read)
    });
    if wan {
        for m in members.iter_mut() {
            m.name = format!("{}.{}", m.name, a.config().datacenter);
            m.port = a.config().ports.serf_wan.max(0) as u16;
        }
    }
    let members = expr::apply(f.as_ref(), members)?;
    let mut r = json(&members, p.pretty() || a.config().dev);
    super::reply::mark_filtered(&mut r, filtered);
    Ok(r)
}

fn agent_services(a: &AppState) -> BTreeMap<String, api_types::AgentService> {
    let dc = a.datacenter();
    a.catalog().read(|s| {
        s.agent_services(a.node())
            .map(|x| (x.id.clone(), agent_service_wire(x, dc)))
            .collect()
    })
}

pub async fn services(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let f = expr::from_params(&p, expr::agent_service())?;
    let mut svcs = agent_services(&a);
    let before = svcs.len();
    svcs.retain(|_, s| z.allows(Resource::Service, &s.service, Access::Read));
    let acl_filtered = svcs.len() != before;
    let svcs = expr::apply_values(f.as_ref(), svcs)?;
    let mut r = json(&svcs, p.pretty() || a.config().dev);
    super::reply::mark_filtered(&mut r, acl_filtered);
    Ok(r)
}

pub async fn service(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    if let Some(svc) = agent_services(&a).get(&id) {
        z.require(Resource::Service, &svc.service, Access::Read)?;
    }
    let hashed = |a: &AppState| {
        agent_services(a).remove(&id).map(|svc| {
            let body = api_types::json::to_go_json(&svc, false);
            (svc, format!("{:016x}", fnv(&body)))
        })
    };
    let mut current = hashed(&a);
    // Hash-based blocking: wait while the service still hashes to the client's `?hash`.
    if let (Some(want), Some((_, have))) = (p.get("hash"), &current) {
        if want == have {
            let wait = match p.get("wait") {
                None => None,
                Some(w) => Some(
                    api_types::parse_duration(w)
                        .map_err(|_| ApiError::bad_request("Invalid wait time"))?,
                ),
            };
            let node = a.node();
            let modify = |s: &crate::catalog::State| {
                s.service(node, &id)
                    .map(|x| x.modify_index)
                    .unwrap_or(u64::MAX)
            };
            let since = a.catalog().read(modify);
            let blocking = crate::blocking::Blocking::new(
                since,
                wait,
                a.config().default_query_time,
                a.config().max_query_time,
            );
            crate::blocking::run(a.catalog(), Some(blocking), |s| {
                crate::catalog::query::Answer {
                    value: (),
                    index: modify(s),
                    watch: vec![crate::catalog::WatchKey::Node(node.to_lowercase())],
                }
            })
            .await;
            current = hashed(&a);
        }
    }
    let Some((mut svc, hash)) = current else {
        return Err(ApiError::not_found(format!("unknown service ID: {id}")));
    };
    recheck(&a, &t).require(Resource::Service, &svc.service, Access::Read)?;
    svc.content_hash = hash.clone();
    let mut r = json(&svc, p.pretty() || a.config().dev);
    if let Ok(v) = HeaderValue::from_str(&hash) {
        r.headers_mut().insert(api_types::headers::CONTENT_HASH, v);
    }
    Ok(r)
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100000001b3)
    })
}

pub async fn checks(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let f = expr::from_params(&p, expr::agent_check())?;
    let all = a.agent_checks();
    let out: BTreeMap<String, api_types::HealthCheck> = all
        .iter()
        .filter(|c| sees_check(&z, &c.node, &c.service_name))
        .map(|c| {
            let mut w = check_wire(c);
            w.create_index = 0;
            w.modify_index = 0;
            (c.check_id.clone(), w)
        })
        .collect();
    let acl_filtered = out.len() != all.len();
    let out = expr::apply_values(f.as_ref(), out)?;
    let mut r = json(&out, p.pretty() || a.config().dev);
    super::reply::mark_filtered(&mut r, acl_filtered);
    Ok(r)
}

/// Go's names in type errors (`Request decode failed: json: cannot unmarshal ...`): Consul
/// decodes service and check definitions through an anonymous alias struct (agent/structs
/// `ServiceDefinition.UnmarshalJSON`, `CheckDefinition.UnmarshalJSON`), so fields print as `.Port`.
const SERVICE_DEFINITION: GoNames = GoNames::new("", "structs.ServiceDefinition").with_nested(&[
    ("Check", "structs.CheckType"),
    ("Checks", "structs.CheckType"),
    ("Weights", "structs.Weights"),
]);
const CHECK_DEFINITION: GoNames = GoNames::new("", "structs.CheckDefinition");
/// agent/agent_endpoint.go `checkUpdate`, a plain struct.
const CHECK_UPDATE: GoNames = GoNames::new("checkUpdate", "agent.checkUpdate");

pub async fn service_register(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    let reg: ServiceRegistration =
        decode_body_as(&body, SERVICE_DEFINITION).map_err(ApiError::decode)?;
    let replace = p.flag("replace-existing-checks").unwrap_or(false);
    let cmd = registration::agent_service(&reg, a.node(), a.allow_scripts(), replace)
        .map_err(|e| ApiError::bad_request(e.0))?;
    write_vetted(&a, &t, cmd).await?;
    tracing::debug!(target: "agent", "added service: service={}", reg.name);
    Ok(ok_empty())
}

pub async fn service_deregister(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
) -> Res {
    if !agent_services(&a).contains_key(&id) {
        return Err(crate::catalog::CatalogError::UnknownService(id).into());
    }
    let cmd = Command::DeregisterService {
        node: a.node().to_string(),
        service_id: id,
    };
    write_vetted(&a, &t, cmd).await?;
    Ok(ok_empty())
}

fn maintenance_params(p: &Params) -> Result<(bool, String), ApiError> {
    let enable = match p.get("enable") {
        None | Some("") => return Err(ApiError::bad_request("Missing value for enable")),
        Some(v) => api_types::parse_bool(v)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid value for enable: {v:?}")))?,
    };
    Ok((enable, p.get("reason").unwrap_or("").to_string()))
}

async fn set_maintenance(
    a: &AppState,
    t: &Token,
    check_id: String,
    name: &str,
    service_id: String,
    enable: bool,
    reason: String,
) -> Res {
    if enable {
        let notes = if reason.is_empty() {
            "Maintenance mode is enabled for this node. No service will be discoverable through Consul.".to_string()
        } else {
            reason
        };
        let check = CheckRecord {
            node: a.node().to_string(),
            check_id,
            name: name.to_string(),
            status: HealthStatus::Critical,
            notes,
            service_id,
            check_type: CheckKind::Maintenance,
            ..Default::default()
        };
        write_vetted(a, t, Command::RegisterCheck { check }).await?;
    } else {
        let cmd = Command::DeregisterCheck {
            node: a.node().to_string(),
            check_id,
        };
        if a.acl_enabled() {
            // Needs what enabling needed, whether or not the check is there.
            let z = authz(a, t)?;
            match a
                .catalog()
                .read(|s| s.service(a.node(), &service_id).map(|x| x.name.clone()))
            {
                Some(name) => z.require(Resource::Service, &name, Access::Write)?,
                None => z.require(Resource::Node, a.node(), Access::Write)?,
            }
        }
        match a.write(cmd).await {
            Ok(_)
            | Err(crate::raft::WriteError::Catalog(crate::catalog::CatalogError::UnknownCheck(
                _,
            ))) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ok_empty())
}

pub async fn service_maintenance(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let (enable, reason) = maintenance_params(&p)?;
    if !agent_services(&a).contains_key(&id) {
        return Err(ApiError::not_found(format!("Unknown service ID {id:?}")));
    }
    set_maintenance(
        &a,
        &t,
        format!("_service_maintenance:{id}"),
        "Service Maintenance Mode",
        id,
        enable,
        reason,
    )
    .await
}

pub async fn node_maintenance(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let (enable, reason) = maintenance_params(&p)?;
    set_maintenance(
        &a,
        &t,
        "_node_maintenance".into(),
        "Node Maintenance Mode",
        String::new(),
        enable,
        reason,
    )
    .await
}

pub async fn check_register(State(a): State<AppState>, t: Token, body: Bytes) -> Res {
    let def: CheckRegistration =
        decode_body_as(&body, CHECK_DEFINITION).map_err(ApiError::decode)?;
    let cmd = registration::agent_check(&def, a.node(), a.allow_scripts())
        .map_err(|e| ApiError::bad_request(e.0))?;
    if !def.service_id.is_empty() && !agent_services(&a).contains_key(&def.service_id) {
        return Err(ApiError::not_found(format!(
            "ServiceID {:?} does not exist",
            def.service_id
        )));
    }
    write_vetted(&a, &t, cmd).await?;
    Ok(ok_empty())
}

fn unknown_check(id: &str) -> ApiError {
    crate::catalog::CatalogError::UnknownCheck(id.to_string()).into()
}

pub async fn check_deregister(State(a): State<AppState>, t: Token, Path(id): Path<String>) -> Res {
    if !a.agent_checks().iter().any(|c| c.check_id == id) {
        return Err(unknown_check(&id));
    }
    let cmd = Command::DeregisterCheck {
        node: a.node().to_string(),
        check_id: id,
    };
    write_vetted(&a, &t, cmd).await?;
    Ok(ok_empty())
}

async fn ttl(a: &AppState, t: &Token, id: String, status: HealthStatus, output: String) -> Res {
    let cmd = Command::UpdateCheck {
        node: a.node().to_string(),
        check_id: id.clone(),
        status,
        output: output.clone(),
    };
    if a.acl_enabled() {
        let z = authz(a, t)?;
        a.catalog().read(|s| s.vet(&z, &cmd))?;
    }
    match a.checks().ttl_update(&id, status, &output) {
        Ok(()) => {}
        Err(TtlError::Unknown(_)) => return Err(unknown_check(&id)),
        Err(TtlError::NotTtl(_)) => {
            return Err(ApiError::internal(format!(
                "CheckID {id:?} does not have associated TTL"
            )))
        }
    }
    a.write(cmd).await?;
    Ok(ok_empty())
}

pub async fn check_pass(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let note = Params::parse(q.as_deref())
        .get("note")
        .unwrap_or("")
        .to_string();
    ttl(&a, &t, id, HealthStatus::Passing, note).await
}

pub async fn check_warn(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let note = Params::parse(q.as_deref())
        .get("note")
        .unwrap_or("")
        .to_string();
    ttl(&a, &t, id, HealthStatus::Warning, note).await
}

pub async fn check_fail(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let note = Params::parse(q.as_deref())
        .get("note")
        .unwrap_or("")
        .to_string();
    ttl(&a, &t, id, HealthStatus::Critical, note).await
}

pub async fn check_update(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    body: Bytes,
) -> Res {
    let u: CheckUpdate = decode_body_as(&body, CHECK_UPDATE).map_err(ApiError::decode)?;
    let Some(status) = HealthStatus::parse(&u.status) else {
        return Err(ApiError::bad_request(format!(
            "Invalid check status: '{}'",
            u.status
        )));
    };
    ttl(&a, &t, id, status, u.output).await
}

pub async fn join(State(a): State<AppState>, t: Token, Path(addr): Path<String>) -> Res {
    authz(&a, &t)?.require(Resource::Agent, a.node(), Access::Write)?;
    match a.join(&addr).await {
        Ok(()) => Ok(ok_empty()),
        Err(e) => Err(ApiError::internal(format!(
            "1 error occurred:\n\t* Failed to join {addr}: {e}\n\n"
        ))),
    }
}

pub async fn leave(State(a): State<AppState>, t: Token) -> Res {
    authz(&a, &t)?.require(Resource::Agent, a.node(), Access::Write)?;
    tracing::info!(target: "agent", "Graceful leave triggered");
    a.leave_cluster()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let agent = a.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        agent.request_shutdown();
    });
    Ok(ok_empty())
}

pub async fn force_leave(
    State(a): State<AppState>,
    t: Token,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    authz(&a, &t)?.require(Resource::Operator, "", Access::Write)?;
    let p = Params::parse(q.as_deref());
    if p.has("prune") {
        return Err(ApiError::bad_request(
            "prune is not implemented by this agent: a force-left member stays listed as left until it is reaped (24h)",
        ));
    }
    if p.has("wan") {
        return Err(ApiError::bad_request(
            "wan is not implemented by this agent: it has no WAN gossip pool",
        ));
    }
    if node.eq_ignore_ascii_case(a.node()) {
        return Err(ApiError::internal("agent: cannot force leave ourself"));
    }
    if !a.force_leave(&node).await? {
        return Err(ApiError::internal(format!(
            "agent: No node found with name '{node}'"
        )));
    }
    Ok(ok_empty())
}

pub async fn reload(State(a): State<AppState>, t: Token) -> Res {
    authz(&a, &t)?.require(Resource::Agent, a.node(), Access::Write)?;
    a.reload()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(ok_empty())
}

/// `GET /v1/agent/monitor?loglevel=&logjson`: the agent's log lines from now on, streamed until
/// the client goes away (`agent:read`).
pub async fn monitor(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Agent, a.node(), Access::Read)?;
    let asked = p
        .get("loglevel")
        .filter(|l| !l.is_empty())
        .unwrap_or("INFO");
    let level = crate::logging::parse_level(asked)
        .ok_or_else(|| ApiError::bad_request(format!("Unknown log level: {asked}")))?;
    let json = p.has("logjson");
    let watch = crate::logging::monitor::watch(level);
    let lines = futures::stream::unfold(watch, move |mut w| async move {
        let line = w.next().await?;
        let mut text = if json {
            line.json.to_string()
        } else {
            line.text.to_string()
        };
        text.push('\n');
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(text)), w))
    });
    Response::builder()
        .header(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )
        .body(axum::body::Body::from_stream(lines))
        .map_err(|e| ApiError::internal(e.to_string()))
}

pub async fn version(State(a): State<AppState>, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let v = serde_json::json!({
        "SHA": crate::version::REVISION,
        "BuildDate": crate::version::BUILD_DATE,
        "HumanVersion": crate::version::VERSION,
        "FIPS": "",
    });
    Ok(json(&v, p.pretty() || a.config().dev))
}

/// `/v1/agent/health/service/...`: one instance's checks (its own and the node's) summed up.
#[derive(serde::Serialize)]
struct ServiceChecksInfo {
    #[serde(rename = "AggregatedStatus")]
    aggregated_status: String,
    #[serde(rename = "Service")]
    service: Option<api_types::AgentService>,
    #[serde(rename = "Checks")]
    checks: Option<Vec<api_types::HealthCheck>>,
}

/// Consul's `AggregatedStatus`: maintenance over critical over warning over passing; a status
/// it does not know makes the whole unknown (`""`).
fn aggregated_status(checks: &[api_types::HealthCheck]) -> String {
    let (mut maint, mut critical, mut warning) = (false, false, false);
    for c in checks {
        if c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:") {
            maint = true;
            continue;
        }
        match c.status.as_str() {
            "passing" => {}
            "warning" => warning = true,
            "critical" => critical = true,
            _ => return String::new(),
        }
    }
    match (maint, critical, warning) {
        (true, _, _) => "maintenance",
        (_, true, _) => "critical",
        (_, _, true) => "warning",
        _ => "passing",
    }
    .to_string()
}

/// The status code Consul answers for an aggregated status.
fn status_code(status: &str) -> axum::http::StatusCode {
    match status {
        "passing" => axum::http::StatusCode::OK,
        "warning" => axum::http::StatusCode::TOO_MANY_REQUESTS,
        _ => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The agent's checks of instance `id` and of its node, as Consul's agent lists them there.
fn instance_health(a: &AppState, svc: api_types::AgentService) -> ServiceChecksInfo {
    let checks: Vec<api_types::HealthCheck> = a
        .agent_checks()
        .iter()
        .filter(|c| c.service_id.is_empty() || c.service_id == svc.id)
        .map(|c| {
            let w = check_wire(c);
            api_types::HealthCheck {
                node: w.node,
                check_id: w.check_id,
                name: w.name,
                status: w.status,
                notes: w.notes,
                output: w.output,
                service_id: w.service_id,
                service_name: w.service_name,
                service_tags: w.service_tags,
                ..Default::default()
            }
        })
        .collect();
    ServiceChecksInfo {
        aggregated_status: aggregated_status(&checks),
        service: Some(svc),
        checks: Some(checks),
    }
}

/// Whether the answer is asked as text (`?format=text` or `Accept: text/plain`).
fn wants_text(p: &Params, headers: &axum::http::HeaderMap) -> bool {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    accept || p.get("format") == Some("text")
}

fn health_reply<T: serde::Serialize>(
    code: axum::http::StatusCode,
    text: Option<String>,
    body: &T,
    pretty: bool,
) -> Response {
    let mut r = match text {
        Some(t) => {
            use axum::response::IntoResponse;
            ([(axum::http::header::CONTENT_TYPE, "text/plain")], t).into_response()
        }
        None => json(body, pretty),
    };
    *r.status_mut() = code;
    r
}

pub async fn health_service_id(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let text = wants_text(&p, &headers);
    let pretty = p.pretty() || a.config().dev;
    let Some(svc) = agent_services(&a).remove(&id) else {
        let reason = format!("ServiceId {id} not found");
        let body = ServiceChecksInfo {
            aggregated_status: "critical".into(),
            service: None,
            checks: None,
        };
        return Ok(health_reply(
            axum::http::StatusCode::NOT_FOUND,
            text.then_some(reason),
            &body,
            pretty,
        ));
    };
    z.require(Resource::Service, &svc.service, Access::Read)?;
    let info = instance_health(&a, svc);
    let code = status_code(&info.aggregated_status);
    Ok(health_reply(
        code,
        text.then(|| info.aggregated_status.clone()),
        &info,
        pretty,
    ))
}

pub async fn health_service_name(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Service, &name, Access::Read)?;
    let text = wants_text(&p, &headers);
    let mut code = axum::http::StatusCode::NOT_FOUND;
    let mut status = format!("ServiceName {name} Not Found");
    let mut all = Vec::new();
    for svc in agent_services(&a)
        .into_values()
        .filter(|s| s.service == name)
    {
        let info = instance_health(&a, svc);
        let scode = status_code(&info.aggregated_status);
        // The worst of them: passing 200 < warning 429 < critical 503.
        if code == axum::http::StatusCode::NOT_FOUND || code.as_u16() < scode.as_u16() {
            code = scode;
            status = info.aggregated_status.clone();
        }
        all.push(info);
    }
    Ok(health_reply(
        code,
        text.then_some(status),
        &all,
        p.pretty() || a.config().dev,
    ))
}

pub async fn missing_service_id() -> ApiError {
    ApiError::bad_request("Missing serviceID")
}

pub async fn missing_service_name() -> ApiError {
    ApiError::bad_request("Missing service Name")
}
