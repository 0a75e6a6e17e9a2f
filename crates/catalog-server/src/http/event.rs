//! `/v1/event/fire/:name` and `/v1/event/list`: user events, answered by the agent asked
//! (on a client too: it fires into the gossip pool itself, and lists what it kept).

use super::acl::{authz, filter, Token};
use super::params::Params;
use super::reply::{json, mark_filtered, ApiError};
use super::AppState;
use crate::agent::events::{list_index, Fire, FireError};
use ::acl::{Access, Resource};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

type Res = Result<Response, ApiError>;

pub async fn fire(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_dc(a.datacenter())?;
    if name.is_empty() {
        return Ok(missing_name().await);
    }
    authz(&a, &t)?.require(Resource::Event, &name, Access::Write)?;
    let text = |k: &str| p.get(k).unwrap_or_default().to_string();
    let fired = a
        .fire_event(Fire {
            name,
            payload: body.to_vec(),
            node_filter: text("node"),
            service_filter: text("service"),
            tag_filter: text("tag"),
        })
        .await
        .map_err(|e: FireError| ApiError::internal(e.to_string()))?;
    Ok(json(&fired, p.pretty()))
}

pub async fn missing_name() -> Response {
    (StatusCode::BAD_REQUEST, "Missing name").into_response()
}

pub async fn list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let name = p.get("name").filter(|n| !n.is_empty()).map(str::to_string);
    let blocking = p.blocking(a.config().default_query_time, a.config().max_query_time)?;
    let deadline = blocking.map(|b| (b.min_index, Instant::now() + b.wait));
    let mut arrivals = a.events().subscribe();
    loop {
        arrivals.borrow_and_update();
        let mut events = a.events().list();
        if let Some(n) = &name {
            events.retain(|e| e.name == *n);
        }
        let removed = filter(&mut events, |e| {
            z.allows(Resource::Event, &e.name, Access::Read)
        });
        let index = list_index(&events);
        if let Some((min, until)) = deadline {
            let now = Instant::now();
            if index == min && now < until && !a.catalog().is_closed() {
                let _ = tokio::time::timeout(until - now, arrivals.changed()).await;
                continue;
            }
        }
        let mut r = json(&events, p.pretty());
        r.headers_mut()
            .insert("X-Consul-Index", HeaderValue::from(index));
        if !t.0.is_empty() {
            mark_filtered(&mut r, removed);
        }
        return Ok(r);
    }
}
