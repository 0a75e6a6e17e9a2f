//! `/v1/catalog/*` and `/v1/health/*`: catalog writes and the node, service and health reads,
//! all blocking-capable.

use super::params::Params;
use super::reply::{json, ApiError};
use super::{read, respond, AppState};
use crate::catalog::{registration, CatalogError, Command};
use crate::raft::WriteError;
use api_types::decode::{decode_body_as, GoNames};
use api_types::{CatalogDeregistration, CatalogRegistration, NodeServiceList};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use std::collections::BTreeMap;

type Res = Result<Response, ApiError>;

/// Go's names in type errors: Consul decodes these bodies straight into agent/structs
/// `RegisterRequest` and `DeregisterRequest`.
const REGISTER_REQUEST: GoNames = GoNames::new("RegisterRequest", "structs.RegisterRequest")
    .with_nested(&[
        ("Service", "structs.NodeService"),
        ("Check", "structs.HealthCheck"),
        ("Checks", "structs.HealthCheck"),
        ("Definition", "structs.HealthCheckDefinition"),
        ("Weights", "structs.Weights"),
    ]);
const DEREGISTER_REQUEST: GoNames = GoNames::new("DeregisterRequest", "structs.DeregisterRequest");

pub async fn register(State(a): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_enterprise()?;
    let reg: CatalogRegistration =
        decode_body_as(&body, REGISTER_REQUEST).map_err(ApiError::decode)?;
    let cmd = registration::catalog(&reg, a.datacenter())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // One command: a registration refused for any reason writes nothing.
    a.write(cmd).await?;
    Ok(json(&true, p.pretty()))
}

pub async fn deregister(State(a): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> Res {
    let p = Params::parse(q.as_deref());
    let d: CatalogDeregistration =
        decode_body_as(&body, DEREGISTER_REQUEST).map_err(ApiError::decode)?;
    if d.node.is_empty() {
        return Err(ApiError::internal("Must provide node"));
    }
    let cmd = if !d.service_id.is_empty() {
        Command::DeregisterService {
            node: d.node,
            service_id: d.service_id,
        }
    } else if !d.check_id.is_empty() {
        Command::DeregisterCheck {
            node: d.node,
            check_id: d.check_id,
        }
    } else {
        Command::DeregisterNode { node: d.node }
    };
    match a.write(cmd).await {
        Ok(_) => {}
        Err(WriteError::Catalog(
            CatalogError::UnknownService(_) | CatalogError::UnknownCheck(_),
        )) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(json(&true, p.pretty()))
}

pub async fn datacenters(State(a): State<AppState>, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    Ok(json(
        &vec![a.config().datacenter.clone()],
        p.pretty() || a.config().dev,
    ))
}

pub async fn nodes(State(a): State<AppState>, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let meta = p.node_meta();
    let ans = read(&a, &p, |s| s.q_nodes(&meta)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn services(State(a): State<AppState>, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let meta = p.node_meta();
    let ans = read(&a, &p, |s| s.q_services(&meta)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn missing_service() -> ApiError {
    ApiError::bad_request("Missing service name")
}

pub async fn missing_node() -> ApiError {
    ApiError::bad_request("Missing node name")
}

pub async fn missing_state() -> ApiError {
    ApiError::bad_request("Missing check state")
}

pub async fn service(
    State(a): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let tags = p.all("tag");
    let meta = p.node_meta();
    let ans = read(&a, &p, |s| s.q_catalog_service(&name, &tags, &meta)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn node(
    State(a): State<AppState>,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let ans = read(&a, &p, |s| s.q_catalog_node(&node)).await?;
    let body = ans.value.map(|(n, svcs)| api_types::NodeServices {
        node: n,
        services: svcs
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect::<BTreeMap<_, _>>(),
    });
    Ok(respond(&a, &p, ans.index, &body))
}

pub async fn node_services(
    State(a): State<AppState>,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let ans = read(&a, &p, |s| s.q_catalog_node(&node)).await?;
    let body = ans
        .value
        .map(|(n, services)| NodeServiceList { node: n, services });
    Ok(respond(&a, &p, ans.index, &body))
}

pub async fn health_node(
    State(a): State<AppState>,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let ans = read(&a, &p, |s| s.q_health_node(&node)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn health_checks(
    State(a): State<AppState>,
    Path(svc): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let ans = read(&a, &p, |s| s.q_health_checks(&svc)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn health_service(
    State(a): State<AppState>,
    Path(svc): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let passing = p
        .flag("passing")
        .ok_or_else(|| ApiError::bad_request("Invalid value for ?passing"))?;
    let tags = p.all("tag");
    let meta = p.node_meta();
    let ans = read(&a, &p, |s| s.q_health_service(&svc, &tags, passing, &meta)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn health_state(
    State(a): State<AppState>,
    Path(state): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let ans = read(&a, &p, |s| s.q_health_state(&state)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}
