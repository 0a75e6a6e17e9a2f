//! `/v1/query` and `/v1/query/:id[/execute|/explain]`: prepared queries as Consul serves them
//! — create, list and read (blocking, filtered by `query:read`, the stored token shown only to
//! `acl:write`), update, delete (`query:write` on the old and new names), execute (by ID or
//! name, templates rendered; healthy instances filtered, shuffled, sorted by `Near`/`?near=`,
//! cut to `?limit=`) and explain. Failover to other datacenters answers as a one-datacenter
//! Consul does (nothing to fail over to: `Failovers` 0); Connect, peers and sameness groups are
//! refused by name.

use super::acl::{authz, recheck, Token};
use super::params::Params;
use super::reply::{json, ok_empty, ApiError};
use super::{read, respond, respond_filtered, AppState};
use crate::agent::Agent;
use crate::catalog::acl::Authz;
use crate::catalog::prepared_query::{Executed, PreparedQuery, Run, RunError, REDACTED};
use crate::catalog::query::Answer;
use crate::catalog::{Command, WatchKey};
use ::acl::{Access, Resource};
use api_types::decode::{decode_body_as, GoNames};
use api_types::ServiceEntry;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

type Res = Result<Response, ApiError>;

const PREPARED_QUERY: GoNames =
    GoNames::new("PreparedQuery", "structs.PreparedQuery").with_nested(&[
        ("Template", "structs.QueryTemplateOptions"),
        ("Service", "structs.ServiceQuery"),
        ("Failover", "structs.QueryFailoverOptions"),
        ("DNS", "structs.QueryDNSOptions"),
    ]);

fn not_found() -> ApiError {
    ApiError::not_found("Query not found")
}

fn denied() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "Permission denied")
}

fn decode(body: &[u8]) -> Result<PreparedQuery, ApiError> {
    decode_body_as(body, PREPARED_QUERY).map_err(ApiError::decode)
}

/// Consul's `parseQuery` (500 `Invalid prepared query: ...`), then what this server refuses
/// rather than ignore (400, naming the field).
fn validate(q: &PreparedQuery) -> Result<(), ApiError> {
    let invalid = |m: String| Err(ApiError::internal(format!("Invalid prepared query: {m}")));
    let s = &q.service;
    if s.service.is_empty() {
        return invalid("Must provide a Service name to query".into());
    }
    if s.failover.nearest_n < 0 {
        return invalid(format!(
            "Bad NearestN '{}', must be >= 0",
            s.failover.nearest_n
        ));
    }
    let targets = s.failover.targets.as_deref().unwrap_or_default();
    let dcs = s.failover.datacenters.as_deref().unwrap_or_default();
    if (s.failover.nearest_n != 0 || !dcs.is_empty()) && !targets.is_empty() {
        return invalid("Targets cannot be populated with NearestN or Datacenters".into());
    }
    if !s.sameness_group.is_empty()
        && (s.failover.nearest_n != 0 || !dcs.is_empty() || !targets.is_empty())
    {
        return invalid(
            "Service.Failover and Service.SamenessGroup cannot be set at the same time".into(),
        );
    }
    if !q.dns.ttl.is_empty() {
        match api_types::parse_go_duration(&q.dns.ttl) {
            Err(e) => return invalid(format!("Bad DNS TTL '{}': {e}", q.dns.ttl)),
            Ok(ns) if ns < 0 => return invalid(format!("DNS TTL '{ns}', must be >=0")),
            Ok(_) => {}
        }
    }
    let refuse = |field: &str, why: &str| {
        Err(ApiError::bad_request(format!(
            "Invalid prepared query: {field} is not supported by this server ({why})"
        )))
    };
    if s.connect {
        return refuse("Service.Connect", "no Connect service mesh");
    }
    if !s.peer.is_empty() {
        return refuse("Service.Peer", "no cluster peering");
    }
    if !s.sameness_group.is_empty() {
        return refuse("Service.SamenessGroup", "an Enterprise feature");
    }
    if targets.iter().any(|t| !t.peer.is_empty()) {
        return refuse("Service.Failover.Targets.Peer", "no cluster peering");
    }
    Ok(())
}

/// Applies a write after Consul's checks, in its order: `query:write` on the new name and the
/// old one, the query exists (updates and deletes), the definition is valid.
async fn apply(
    a: &Agent,
    t: &Token,
    cmd: Command,
    must_exist: Option<&str>,
) -> Result<(), ApiError> {
    if a.acl_enabled() {
        let z = authz(a, t)?;
        a.catalog().read(|s| s.vet(&z, &cmd))?;
    }
    if let Some(id) = must_exist {
        if a.catalog().read(|s| s.prepared_query(id).is_none()) {
            return Err(ApiError::internal(format!(
                "Cannot modify non-existent prepared query: '{id}'"
            )));
        }
    }
    if let Command::PreparedQuerySet { query } = &cmd {
        validate(query)?;
    }
    a.write(cmd).await?;
    Ok(())
}

#[derive(Serialize)]
struct Created {
    #[serde(rename = "ID")]
    id: String,
}

pub async fn create(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_dc(a.datacenter())?;
    let mut query = decode(&body)?;
    if !query.id.is_empty() {
        return Err(ApiError::internal(
            "ID must be empty when creating a new prepared query",
        ));
    }
    query.id = uuid::Uuid::new_v4().to_string();
    let id = query.id.clone();
    apply(&a, &t, Command::PreparedQuerySet { query }, None).await?;
    Ok(json(&Created { id }, p.pretty()))
}

/// The `/execute` or `/explain` suffix of a path under `/v1/query/`.
fn split(rest: &str) -> (&str, Option<&str>) {
    for verb in ["execute", "explain"] {
        if let Some(id) = rest.strip_suffix(&format!("/{verb}")) {
            return (id, Some(verb));
        }
    }
    (rest, None)
}

/// Consul's 405 (and the answer to OPTIONS) for a path under `/v1/query/`: `/execute` and
/// `/explain` take GET only.
fn other_method(m: &Method, rest: &str) -> Response {
    let allow = match split(rest).1 {
        Some(_) => "OPTIONS,GET",
        None => "OPTIONS,GET,PUT,DELETE",
    };
    let (status, body) = if *m == Method::OPTIONS {
        (StatusCode::OK, String::new())
    } else {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {m} not allowed"),
        )
    };
    (status, [(axum::http::header::ALLOW, allow)], body).into_response()
}

/// Methods the route does not take.
pub async fn fallback(m: Method, Path(rest): Path<String>) -> Response {
    other_method(&m, &rest)
}

pub async fn update(
    State(a): State<AppState>,
    t: Token,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let (id, verb) = split(&rest);
    if verb.is_some() {
        return Ok(other_method(&Method::PUT, &rest));
    }
    let p = Params::parse(q.as_deref());
    p.check_dc(a.datacenter())?;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(body.len() as u64);
    let mut query = if declared > 0 {
        decode(&body)?
    } else {
        PreparedQuery::default()
    };
    query.id = id.to_string();
    apply(&a, &t, Command::PreparedQuerySet { query }, Some(id)).await?;
    Ok(ok_empty())
}

pub async fn delete(
    State(a): State<AppState>,
    t: Token,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let (id, verb) = split(&rest);
    if verb.is_some() {
        return Ok(other_method(&Method::DELETE, &rest));
    }
    let p = Params::parse(q.as_deref());
    p.check_dc(a.datacenter())?;
    let cmd = Command::PreparedQueryDelete { id: id.to_string() };
    apply(&a, &t, cmd, Some(id)).await?;
    Ok(ok_empty())
}

/// The query as `z` may see it: the token redacted without `acl:write`.
fn redact(z: &Authz, mut q: PreparedQuery) -> PreparedQuery {
    if !z.sees_secrets() && !q.token.is_empty() {
        q.token = REDACTED.to_string();
    }
    q
}

/// Whether a list shows the query to `z` (Consul's `filterPreparedQueries`): management
/// tokens see all; others need `query:read` on its name, and never see unnamed ones.
fn listed(z: &Authz, q: &PreparedQuery) -> bool {
    z.sees_secrets()
        || q.acl_prefix()
            .is_some_and(|p| z.allows(Resource::Query, p, Access::Read))
}

pub async fn list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let ans = read(&a, &p, |s| Answer {
        value: s.prepared_queries().cloned().collect::<Vec<_>>(),
        index: s.prepared_queries_index(),
        watch: vec![WatchKey::PreparedQueries],
    })
    .await?;
    let z = recheck(&a, &t);
    let before = ans.value.len();
    let shown: Vec<PreparedQuery> = ans
        .value
        .into_iter()
        .filter(|q| listed(&z, q))
        .map(|q| redact(&z, q))
        .collect();
    let filtered = shown.len() != before;
    Ok(respond_filtered(&a, &p, ans.index, &shown, filtered))
}

pub async fn get_specific(
    State(a): State<AppState>,
    t: Token,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let (id, verb) = split(&rest);
    match verb {
        Some("execute") => execute(a, t, id, q).await,
        Some(_) => explain(a, t, id, q).await,
        None => get_one(a, t, id, q).await,
    }
}

async fn get_one(a: AppState, t: Token, id: &str, q: Option<String>) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?;
    let ans = read(&a, &p, |s| Answer {
        value: s.prepared_query(id).cloned(),
        index: s.prepared_queries_index(),
        watch: vec![WatchKey::PreparedQueries],
    })
    .await?;
    let Some(query) = ans.value else {
        return Err(not_found());
    };
    let z = recheck(&a, &t);
    // No prefix rule applies to an unnamed query: whoever has its ID may read it.
    if query.acl_prefix().is_some() && !listed(&z, &query) {
        return Err(denied());
    }
    Ok(respond(&a, &p, ans.index, &vec![redact(&z, query)]))
}

/// Consul's `QueryMeta`, embedded in the execute and explain answers.
#[derive(Serialize)]
struct QueryMeta {
    #[serde(rename = "Index")]
    index: u64,
    #[serde(rename = "LastContact")]
    last_contact: u64,
    #[serde(rename = "KnownLeader")]
    known_leader: bool,
    #[serde(rename = "ConsistencyLevel")]
    consistency_level: &'static str,
    #[serde(rename = "NotModified")]
    not_modified: bool,
    #[serde(rename = "Backend")]
    backend: u8,
    #[serde(rename = "ResultsFilteredByACLs")]
    results_filtered_by_acls: bool,
}

fn query_meta(a: &Agent, p: &Params, filtered: bool) -> QueryMeta {
    QueryMeta {
        index: 0,
        last_contact: a.last_contact_ms().unwrap_or(0) * 1_000_000,
        known_leader: a.leader_addr().is_some(),
        consistency_level: p.consistency_mode().word(),
        not_modified: false,
        backend: 0,
        results_filtered_by_acls: filtered,
    }
}

#[derive(Serialize)]
struct ExecuteResponse {
    #[serde(rename = "Service")]
    service: String,
    #[serde(rename = "Nodes")]
    nodes: Vec<ServiceEntry>,
    #[serde(rename = "DNS")]
    dns: crate::catalog::prepared_query::DnsOptions,
    #[serde(rename = "Datacenter")]
    datacenter: String,
    #[serde(rename = "PeerName")]
    peer_name: String,
    #[serde(rename = "Failovers")]
    failovers: u32,
    #[serde(flatten)]
    meta: QueryMeta,
}

#[derive(Serialize)]
struct ExplainResponse {
    #[serde(rename = "Query")]
    query: PreparedQuery,
    #[serde(flatten)]
    meta: QueryMeta,
}

/// `?limit=` as Go's `strconv.Atoi` reads it.
fn limit(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit").filter(|l| !l.is_empty()) {
        None => Ok(0),
        Some(l) => l.parse::<i64>().map(|n| n.max(0) as usize).map_err(|_| {
            ApiError::internal(format!(
                "Bad limit: strconv.Atoi: parsing {l:?}: invalid syntax"
            ))
        }),
    }
}

/// The request's checks before a non-blocking read (Consul's `parse`), then the barrier.
async fn prepare(a: &Agent, p: &Params) -> Result<(), ApiError> {
    p.check_enterprise()?;
    p.check_dc(a.datacenter())?;
    let consistency = p.consistency()?;
    a.read_barrier(consistency).await?;
    Ok(())
}

/// Resolves and runs query `id_or_name` for the request's `token`, sorted near `near` (the
/// request's origin node; `_agent`: this agent). `Ok(None)`: no such query.
pub fn run(
    a: &Agent,
    id_or_name: &str,
    token: &str,
    near: Option<&str>,
    limit: usize,
) -> Result<Option<Executed>, ApiError> {
    let run = Run {
        id_or_name,
        token,
        near,
        agent_node: a.node(),
        limit,
    };
    a.catalog()
        .read(|s| s.run_prepared_query(&run, |t| a.authorize_in(s, t)))
        .map_err(|e| match e {
            RunError::Query(m) => ApiError::internal(m),
            RunError::Acl(r) => r.into(),
        })
}

async fn execute(a: AppState, t: Token, id: &str, q: Option<String>) -> Res {
    let p = Params::parse(q.as_deref());
    prepare(&a, &p).await?;
    let limit = limit(&p)?;
    let Some(ex) = run(&a, id, &t.0, p.get("near"), limit)? else {
        return Err(not_found());
    };
    let body = ExecuteResponse {
        service: ex.query.service.service.clone(),
        nodes: ex.nodes,
        dns: ex.query.dns.clone(),
        datacenter: a.datacenter().to_string(),
        peer_name: String::new(),
        failovers: 0,
        meta: query_meta(&a, &p, ex.filtered),
    };
    Ok(respond_filtered(&a, &p, 0, &body, ex.filtered))
}

async fn explain(a: AppState, t: Token, id: &str, q: Option<String>) -> Res {
    let p = Params::parse(q.as_deref());
    prepare(&a, &p).await?;
    limit(&p)?;
    let z = authz(&a, &t)?;
    let found = a
        .catalog()
        .read(|s| s.resolve_prepared_query(id, ""))
        .map_err(ApiError::internal)?;
    let Some(query) = found else {
        return Err(not_found());
    };
    if !listed(&z, &query) {
        return Err(denied());
    }
    let body = ExplainResponse {
        query: redact(&z, query),
        meta: query_meta(&a, &p, false),
    };
    Ok(respond(&a, &p, 0, &body))
}
