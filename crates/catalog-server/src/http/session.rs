//! `/v1/session/*`: create (with Consul's defaults and TTL/lock-delay rules), destroy, renew and
//! the blocking session reads.

use super::acl::{authz, respond_list, write_vetted, Token};
use super::params::Params;
use super::reply::{json, ApiError};
use super::{read, respond, AppState};
use crate::catalog::{Command, SessionRecord};
use ::acl::{Access, Resource};
use api_types::{parse_go_duration, ServiceCheckRef, SessionId};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

type Res = Result<Response, ApiError>;

#[derive(Deserialize, Default)]
struct CreateBody {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Node", default)]
    node: String,
    #[serde(rename = "LockDelay", default)]
    lock_delay: Option<Value>,
    // Consul fills both with `serfHealth` before decoding; a `null` one replaces that default
    // with nil, which its `fixupEmptySessionChecks` reads as "no node checks".
    #[serde(
        rename = "Checks",
        default,
        deserialize_with = "api_types::decode::null_is_empty"
    )]
    checks: Option<Vec<String>>,
    #[serde(
        rename = "NodeChecks",
        default,
        deserialize_with = "api_types::decode::null_is_empty"
    )]
    node_checks: Option<Vec<String>>,
    #[serde(rename = "ServiceChecks", default)]
    service_checks: Option<Vec<ServiceCheckRef>>,
    #[serde(rename = "Behavior", default)]
    behavior: String,
    #[serde(rename = "TTL", default)]
    ttl: String,
}

/// LockDelay: a Go duration string, or a number (< 1000 means seconds, else nanoseconds).
fn lock_delay(v: &Option<Value>) -> Result<i64, ApiError> {
    const DEFAULT: i64 = 15_000_000_000;
    let ns = match v {
        None | Some(Value::Null) => DEFAULT,
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(0.0);
            if x < 1000.0 {
                (x * 1e9) as i64
            } else {
                x as i64
            }
        }
        Some(Value::String(s)) => parse_go_duration(s)
            .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Request decode failed: invalid LockDelay {other}"
            )))
        }
    };
    Ok(ns.clamp(0, 60_000_000_000))
}

/// A session-create body, decoded and checked.
pub(super) struct Checked {
    body: CreateBody,
    behavior: String,
    pub(super) lock_delay: i64,
}

/// Decodes and checks the body of `/v1/session/create` in Consul's order: decoding, behavior,
/// TTL (against `ttl_min`), lock delay.
pub(super) fn create_body(body: &[u8], ttl_min: Duration) -> Result<Checked, ApiError> {
    let b: CreateBody = if body.iter().all(|c| c.is_ascii_whitespace()) {
        CreateBody::default()
    } else {
        api_types::decode::decode_body(body).map_err(ApiError::decode)?
    };
    let behavior = if b.behavior.is_empty() {
        "release".to_string()
    } else {
        b.behavior.clone()
    };
    if behavior != "release" && behavior != "delete" {
        return Err(ApiError::internal(format!(
            "Invalid Behavior setting '{behavior}'"
        )));
    }
    if !b.ttl.is_empty() {
        let ns = parse_go_duration(&b.ttl)
            .map_err(|e| ApiError::internal(format!("Session TTL '{}' invalid: {e}", b.ttl)))?;
        let min = ttl_min.as_nanos() as i64;
        if ns != 0 && (ns < min || ns > 86_400_000_000_000) {
            return Err(ApiError::internal(format!(
                "Invalid Session TTL '{ns}', must be between [{}={}]",
                api_types::format_go_duration(min),
                "24h0m0s"
            )));
        }
    }
    let lock_delay = lock_delay(&b.lock_delay)?;
    Ok(Checked {
        body: b,
        behavior,
        lock_delay,
    })
}

pub async fn create(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    let Checked {
        body: b,
        behavior,
        lock_delay,
    } = create_body(&body, a.config().session_ttl_min)?;
    let node_checks = match (&b.checks, &b.node_checks) {
        (None, None) => vec!["serfHealth".to_string()],
        (c, n) => c
            .iter()
            .flatten()
            .chain(n.iter().flatten())
            .cloned()
            .collect(),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let session = SessionRecord {
        id: id.clone(),
        name: b.name.clone(),
        node: if b.node.is_empty() {
            a.node().to_string()
        } else {
            b.node.clone()
        },
        lock_delay,
        behavior,
        ttl: b.ttl.clone(),
        node_checks,
        service_checks: b.service_checks.clone().filter(|v| !v.is_empty()),
        create_index: 0,
        modify_index: 0,
    };
    write_vetted(&a, &t, Command::SessionCreate { session }).await?;
    if let Ok(d) = api_types::parse_duration(&b.ttl) {
        a.sessions().arm(&id, d);
    }
    Ok(json(&SessionId { id }, p.pretty()))
}

pub async fn destroy(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    write_vetted(&a, &t, Command::SessionDestroy { id: id.clone() }).await?;
    a.sessions().cancel(&id);
    Ok(json(&true, p.pretty()))
}

pub async fn renew(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let ans = read(&a, &p, |s| s.q_sessions(|x| x.id == id)).await?;
    let Some(s) = ans.value.first() else {
        return Err(ApiError::not_found(format!("Session id '{id}' not found")));
    };
    z.require(Resource::Session, &s.node, Access::Write)?;
    if let Ok(d) = api_types::parse_duration(&s.ttl) {
        a.sessions().arm(&id, d);
    }
    Ok(respond(&a, &p, ans.index, &ans.value))
}

/// Sessions as the request may see them (`session:read` on their node).
fn sessions_reply(
    a: &AppState,
    t: &Token,
    p: &Params,
    index: u64,
    sessions: Vec<api_types::SessionEntry>,
) -> Response {
    respond_list(a, p, t, index, sessions, |z, s| {
        z.allows(Resource::Session, &s.node, Access::Read)
    })
}

pub async fn info(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let ans = read(&a, &p, |s| s.q_sessions(|x| x.id == id)).await?;
    Ok(sessions_reply(&a, &t, &p, ans.index, ans.value))
}

pub async fn node(
    State(a): State<AppState>,
    t: Token,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let ans = read(&a, &p, |s| {
        s.q_sessions(|x| x.node.eq_ignore_ascii_case(&node))
    })
    .await?;
    Ok(sessions_reply(&a, &t, &p, ans.index, ans.value))
}

pub async fn list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let ans = read(&a, &p, |s| s.q_sessions(|_| true)).await?;
    Ok(sessions_reply(&a, &t, &p, ans.index, ans.value))
}
