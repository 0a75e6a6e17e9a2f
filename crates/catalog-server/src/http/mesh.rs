//! The service mesh's read endpoints (`/v1/catalog/connect/:service`,
//! `/v1/health/connect/:service`, `/v1/health/ingress/:service`) on a catalog that cannot
//! hold a mesh: proxies, gateways and Connect-native services are refused at registration
//! (`catalog::registration`), so no instance is connect-capable and no gateway routes to any
//! service. They answer that truth as Consul answers for a service without any: an empty list,
//! with the index, blocking and `?filter=` checking of the service's own query.

use super::acl::{authz, Token};
use super::filter as expr;
use super::params::Params;
use super::reply::ApiError;
use super::{read, respond_filtered, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

type Res = Result<Response, ApiError>;

/// `GET /v1/catalog/connect/:service`.
pub async fn catalog_connect(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::service_node())?;
    let tags = p.all("tag");
    let meta = p.node_meta();
    let ans = read(&a, &p, |s| s.q_catalog_service(&name, &tags, &meta)).await?;
    let mut none = ans.value;
    none.clear();
    let none = expr::apply(f.as_ref(), none)?;
    Ok(respond_filtered(&a, &p, ans.index, &none, false))
}

/// `GET /v1/health/connect/:service` and `/v1/health/ingress/:service`.
pub async fn health_connect(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let f = expr::from_params(&p, expr::check_service_node())?;
    let passing = p
        .flag("passing")
        .ok_or_else(|| ApiError::bad_request("Invalid value for ?passing"))?;
    let tags = p.all("tag");
    let meta = p.node_meta();
    let ans = read(&a, &p, |s| s.q_health_service(&name, &tags, passing, &meta)).await?;
    let mut none = ans.value;
    none.clear();
    let none = expr::apply(f.as_ref(), none)?;
    Ok(respond_filtered(&a, &p, ans.index, &none, false))
}
