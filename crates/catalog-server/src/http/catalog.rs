//! `/v1/catalog/*` and `/v1/health/*`: catalog writes and the node, service and health reads,
//! all blocking-capable.

use super::acl::{authz, filter, recheck, sees_check, write_vetted, Token};
use super::filter as expr;
use super::params::Params;
use super::reply::{json, ApiError};
use super::{read, read_encoded, respond_encoded, respond_filtered, AppState};
use crate::catalog::query::Answer;
use crate::catalog::{registration, CatalogError, Command};
use crate::raft::WriteError;
use ::acl::{Access, Resource};
use api_types::decode::{decode_body_as, GoNames};
use api_types::{CatalogDeregistration, CatalogRegistration, NodeServiceList};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::collections::{BTreeMap, BTreeSet};

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

pub async fn register(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_enterprise()?;
    let reg: CatalogRegistration =
        decode_body_as(&body, REGISTER_REQUEST).map_err(ApiError::decode)?;
    let cmd = registration::catalog(&reg, a.datacenter())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // One command: a registration refused for any reason writes nothing.
    write_vetted(&a, &t, cmd).await?;
    Ok(json(&true, p.pretty()))
}

pub async fn deregister(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    let d: CatalogDeregistration =
        decode_body_as(&body, DEREGISTER_REQUEST).map_err(ApiError::decode)?;
    // Consul forwards a body naming another datacenter there.
    if !d.datacenter.is_empty() && !d.datacenter.eq_ignore_ascii_case(a.datacenter()) {
        return Err(ApiError::internal("No path to datacenter"));
    }
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
    if a.acl_enabled() {
        let z = authz(&a, &t)?;
        a.catalog().read(|s| s.vet(&z, &cmd))?;
    }
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

pub async fn nodes(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::node())?;
    let meta = p.node_meta();
    let mut ans = read(&a, &p, |s| s.q_nodes(&meta)).await?;
    let z = recheck(&a, &t);
    let filtered = filter(&mut ans.value, |n| {
        z.allows(Resource::Node, &n.node, Access::Read)
    });
    near(&a, &p, &mut ans.value, |n| &n.node);
    let nodes = expr::apply(f.as_ref(), ans.value)?;
    Ok(respond_filtered(&a, &p, ans.index, &nodes, filtered))
}

pub async fn services(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    // Consul filters the service instances (structs.ServiceNode), then groups them by name.
    let f = expr::from_params(&p, expr::service_node())?;
    let meta = p.node_meta();
    let by_instance = f.is_some();
    let ans = read(&a, &p, |s| {
        let names = s.q_services(&meta);
        let instances: Vec<_> = match by_instance {
            true => names
                .value
                .keys()
                .flat_map(|n| s.q_catalog_service(n, &[], &meta).value)
                .collect(),
            false => Vec::new(),
        };
        Answer {
            value: (names.value, instances),
            index: names.index,
            watch: names.watch,
        }
    })
    .await?;
    let (mut services, instances) = ans.value;
    if by_instance {
        let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for i in expr::apply(f.as_ref(), instances)? {
            tags.entry(i.service_name)
                .or_default()
                .extend(i.service_tags);
        }
        services = tags
            .into_iter()
            .map(|(name, t)| (name, t.into_iter().collect()))
            .collect();
    }
    let z = recheck(&a, &t);
    let before = services.len();
    services.retain(|name, _| z.allows(Resource::Service, name, Access::Read));
    let filtered = services.len() != before;
    Ok(respond_filtered(&a, &p, ans.index, &services, filtered))
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
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::service_node())?;
    let tags = p.all("tag");
    let meta = p.node_meta();
    let question = p.question("catalog/service", &[&name]);
    let answer = read_encoded(
        &a,
        &p,
        question,
        |s| s.q_catalog_service(&name, &tags, &meta),
        |mut ans| {
            let z = recheck(&a, &t);
            let filtered = filter(&mut ans.value, |c| {
                z.allows(Resource::Service, &c.service_name, Access::Read)
                    && z.allows(Resource::Node, &c.node, Access::Read)
            });
            near(&a, &p, &mut ans.value, |c| &c.node);
            Ok((expr::apply(f.as_ref(), ans.value)?, filtered))
        },
    )
    .await?;
    Ok(respond_encoded(&a, &p, &headers, &answer).await)
}

/// `?near=<node>` (`_agent`: this agent's node): nearest first by the estimated round trip
/// between network coordinates, those without one last; without a coordinate for the origin
/// the order stays as it was, as Consul's does.
fn near<T>(a: &AppState, p: &Params, items: &mut [T], node_of: impl Fn(&T) -> &str) {
    let Some(origin) = p.get("near").filter(|n| !n.is_empty()) else {
        return;
    };
    let origin = if origin == "_agent" { a.node() } else { origin };
    a.catalog().read(|s| {
        let rtt = s.rtt_from(origin);
        crate::catalog::coordinate::sort_near(items, |x| rtt(node_of(x)));
    });
}

/// A node and its services as the request may see them (`None`: not the node).
fn visible_node(
    a: &AppState,
    t: &Token,
    value: Option<(api_types::Node, Vec<api_types::NodeService>)>,
) -> (Option<(api_types::Node, Vec<api_types::NodeService>)>, bool) {
    let z = recheck(a, t);
    match value {
        Some((n, _)) if !z.allows(Resource::Node, &n.node, Access::Read) => (None, true),
        Some((n, mut svcs)) => {
            let filtered = filter(&mut svcs, |s| {
                z.allows(Resource::Service, &s.service, Access::Read)
            });
            (Some((n, svcs)), filtered)
        }
        None => (None, false),
    }
}

pub async fn node(
    State(a): State<AppState>,
    t: Token,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::node_service())?;
    let ans = read(&a, &p, |s| s.q_catalog_node(&node)).await?;
    let (value, filtered) = visible_node(&a, &t, ans.value);
    let body = match value {
        Some((n, svcs)) => Some(api_types::NodeServices {
            node: n,
            services: expr::apply(f.as_ref(), svcs)?
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect::<BTreeMap<_, _>>(),
        }),
        None => None,
    };
    Ok(respond_filtered(&a, &p, ans.index, &body, filtered))
}

pub async fn node_services(
    State(a): State<AppState>,
    t: Token,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::node_service())?;
    let ans = read(&a, &p, |s| s.q_catalog_node(&node)).await?;
    let (value, filtered) = visible_node(&a, &t, ans.value);
    let body = match value {
        Some((n, services)) => Some(NodeServiceList {
            node: n,
            services: expr::apply(f.as_ref(), services)?,
        }),
        None => None,
    };
    Ok(respond_filtered(&a, &p, ans.index, &body, filtered))
}

/// Health checks as the request may see them, then as its `?filter=` keeps them.
fn checks_reply(
    a: &AppState,
    t: &Token,
    p: &Params,
    f: Option<&bexpr::Filter>,
    index: u64,
    mut checks: Vec<api_types::HealthCheck>,
) -> Res {
    let z = recheck(a, t);
    let filtered = filter(&mut checks, |c| sees_check(&z, &c.node, &c.service_name));
    near(a, p, &mut checks, |c| &c.node);
    let checks = expr::apply(f, checks)?;
    Ok(respond_filtered(a, p, index, &checks, filtered))
}

pub async fn health_node(
    State(a): State<AppState>,
    t: Token,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::health_check())?;
    let ans = read(&a, &p, |s| s.q_health_node(&node)).await?;
    checks_reply(&a, &t, &p, f.as_ref(), ans.index, ans.value)
}

pub async fn health_checks(
    State(a): State<AppState>,
    t: Token,
    Path(svc): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::health_check())?;
    let ans = read(&a, &p, |s| s.q_health_checks(&svc)).await?;
    checks_reply(&a, &t, &p, f.as_ref(), ans.index, ans.value)
}

pub async fn health_service(
    State(a): State<AppState>,
    t: Token,
    Path(svc): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::check_service_node())?;
    let passing = p
        .flag("passing")
        .ok_or_else(|| ApiError::bad_request("Invalid value for ?passing"))?;
    let tags = p.all("tag");
    let meta = p.node_meta();
    let question = p.question("health/service", &[&svc]);
    let answer = read_encoded(
        &a,
        &p,
        question,
        |s| s.q_health_service(&svc, &tags, passing, &meta),
        |mut ans| {
            let z = recheck(&a, &t);
            let filtered = filter(&mut ans.value, |e| {
                z.allows(Resource::Service, &e.service.service, Access::Read)
                    && z.allows(Resource::Node, &e.node.node, Access::Read)
            });
            for e in &mut ans.value {
                e.checks
                    .retain(|c| sees_check(&z, &c.node, &c.service_name));
            }
            near(&a, &p, &mut ans.value, |e| &e.node.node);
            Ok((expr::apply(f.as_ref(), ans.value)?, filtered))
        },
    )
    .await?;
    Ok(respond_encoded(&a, &p, &headers, &answer).await)
}

pub async fn health_state(
    State(a): State<AppState>,
    t: Token,
    Path(state): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::health_check())?;
    let ans = read(&a, &p, |s| s.q_health_state(&state)).await?;
    checks_reply(&a, &t, &p, f.as_ref(), ans.index, ans.value)
}
