//! ACLs over HTTP: the request's token (`?token=`, `X-Consul-Token`, `Authorization: Bearer`),
//! `/v1/acl/*` (bootstrap, tokens, policies, roles, templated policies; auth methods, binding
//! rules and login are `acl_auth.rs`'s) and `/v1/agent/token/*`.

use super::params::Params;
use super::reply::{json, ApiError};
use super::{read, respond, respond_filtered, AppState};
use crate::agent::tokens::TokenKind;
use crate::agent::Agent;
use crate::catalog::acl::{self as state_acl, AclCommand, AclRefusal, Authz};
use crate::catalog::query::Answer;
use crate::catalog::{Command, WatchKey};
use ::acl::{Access, Resource};
use api_types::acl::*;
use api_types::decode::decode_body;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;

type Res = Result<Response, ApiError>;

/// The token a request carries (`""`: none): `?token=`, else `X-Consul-Token`, else
/// `Authorization: Bearer`, in Consul's order; on a client agent with ACLs, also what the
/// servers resolved it to ([`resolve_first`]).
#[derive(Debug, Clone, Default)]
pub struct Token(pub String, Option<Resolved>);

/// A request's token as a client agent resolved it before the handler ran.
#[derive(Debug, Clone)]
struct Resolved(Result<Authz, AclRefusal>);

impl<S: Send + Sync> FromRequestParts<S> for Token {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Token(
            token_of(parts),
            parts.extensions.get::<Resolved>().cloned(),
        ))
    }
}

/// On a client agent with ACLs, resolves the request's token through the servers (or the
/// client's cache, or its down policy) before the handler runs, which then checks it as a
/// server's handler does. Elsewhere nothing.
pub async fn resolve_first(
    State(a): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !a.acl_enabled() || a.is_server() {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let resolved = a.resolve_token(&token_of(&parts)).await;
    parts.extensions.insert(Resolved(resolved));
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

pub(super) fn token_of(parts: &Parts) -> String {
    if let Some(q) = parts.uri.query() {
        if let Some((_, v)) = form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token") {
            return v.into_owned();
        }
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(t) = header(api_types::headers::TOKEN) {
        return t.to_string();
    }
    if let Some(auth) = header("Authorization") {
        let mut words = auth.split_whitespace();
        if let (Some(scheme), Some(t)) = (words.next(), words.next()) {
            if scheme.eq_ignore_ascii_case("bearer") {
                return t.to_string();
            }
        }
    }
    String::new()
}

/// The request's rights, or 403 for a token that does not exist.
pub fn authz(a: &Agent, t: &Token) -> Result<Authz, ApiError> {
    Ok(rights(a, t)?)
}

fn rights(a: &Agent, t: &Token) -> Result<Authz, AclRefusal> {
    match &t.1 {
        Some(Resolved(r)) => r.clone(),
        None => a.authorize(&t.0),
    }
}

/// The request's rights after a blocking wait (the token may have gone meanwhile; a client
/// keeps what it resolved when the request came).
pub fn recheck(a: &Agent, t: &Token) -> Authz {
    rights(a, t).unwrap_or_else(|_| Authz::deny_all(state_acl::ANONYMOUS_ID))
}

/// Keeps the items `allowed`; says whether any were removed.
pub fn filter<T>(items: &mut Vec<T>, allowed: impl Fn(&T) -> bool) -> bool {
    let before = items.len();
    items.retain(|x| allowed(x));
    items.len() != before
}

pub(super) fn acl_disabled() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "ACL support disabled")
}

/// The ACL endpoints need ACLs on, and the given right.
pub(super) fn require(a: &Agent, t: &Token, need: Access) -> Result<Authz, ApiError> {
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    let z = authz(a, t)?;
    z.require(Resource::Acl, "", need)?;
    Ok(z)
}

pub(super) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(super) async fn acl_read<T>(
    a: &Agent,
    p: &Params,
    q: impl Fn(&crate::catalog::State) -> T,
) -> Result<Answer<T>, ApiError> {
    read(a, p, move |s| Answer {
        value: q(s),
        index: s.acl().index(),
        watch: vec![WatchKey::Acl],
    })
    .await
}

/// Writes an ACL change and waits until this server has applied it (a follower forwards
/// the write to the leader), so that the answer, read back here, shows it.
/// A read of one policy or role: 404 with Consul's text when there is none.
pub(super) async fn read_one<T: serde::Serialize>(
    a: &Agent,
    p: &Params,
    missing: &'static str,
    q: impl Fn(&crate::catalog::State) -> Option<T>,
) -> Res {
    let ans = acl_read(a, p, q).await?;
    match ans.value {
        Some(v) => Ok(respond(a, p, ans.index, &v)),
        None => Err(ApiError::not_found(missing)),
    }
}

const NO_POLICY: &str = "Requested policy does not exist: ACL not found";
const NO_ROLE: &str = "Requested role does not exist: ACL not found";

pub(super) async fn write(a: &Agent, cmd: AclCommand) -> Result<(), ApiError> {
    a.write(Command::Acl(cmd)).await?;
    a.read_barrier(crate::agent::Consistency::Default).await?;
    Ok(())
}

fn uuid_lookup(id: &str, what: &str) -> Result<(), ApiError> {
    if id.len() != 36 || uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::internal(format!(
            "failed acl {what} lookup: index error: UUID must be 36 characters"
        )));
    }
    Ok(())
}

// ---- bootstrap ----

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct BootstrapBody {
    #[serde(rename = "BootstrapSecret")]
    bootstrap_secret: String,
}

pub async fn bootstrap(State(a): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> Res {
    let p = Params::parse(q.as_deref());
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    let b: BootstrapBody = if body.iter().all(u8::is_ascii_whitespace) {
        BootstrapBody::default()
    } else {
        decode_body(&body).map_err(ApiError::decode)?
    };
    let reset_file = a.data_dir().join("acl-bootstrap-reset");
    let reset_index = match std::fs::read_to_string(&reset_file) {
        Ok(s) => Some(s.trim().parse::<u64>().map_err(|_| {
            ApiError::internal(format!(
                "failed to parse the bootstrap reset index file {}",
                reset_file.display()
            ))
        })?),
        Err(_) => None,
    };
    let mut token = state_acl::bootstrap_token(crate::raft::now_ms());
    if !b.bootstrap_secret.is_empty() {
        token.secret_id = b.bootstrap_secret;
    }
    let accessor = token.accessor_id.clone();
    let done = a.catalog().read(|s| s.acl().bootstrap_index());
    if let (Some(r), true) = (reset_index, done != 0) {
        if r != done {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("Permission denied: Invalid bootstrap reset index (specified {r}, reset index: {done})"),
            ));
        }
    }
    write(&a, AclCommand::Bootstrap { token, reset_index }).await?;
    if reset_index.is_some() {
        let _ = std::fs::remove_file(&reset_file);
    }
    tracing::info!(target: "agent.server.acl", "ACL bootstrap completed");
    let tok = a
        .catalog()
        .read(|s| s.acl().token(&accessor, true))
        .ok_or_else(|| ApiError::internal("bootstrap token vanished"))?;
    Ok(json(
        &AclBootstrap {
            id: tok.secret_id.clone(),
            token: tok,
        },
        p.pretty(),
    ))
}

// ---- tokens ----

pub async fn token_list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let z = require(&a, &t, Access::Read)?;
    let show = z.sees_secrets();
    let policy = p.get("policy").map(str::to_string);
    let role = p.get("role").map(str::to_string);
    let service = p.get("servicename").map(str::to_string);
    let method = p.get("authmethod").map(str::to_string);
    let now = crate::raft::now_ms();
    let ans = acl_read(&a, &p, move |s| {
        s.acl().tokens(
            now,
            show,
            policy.as_deref(),
            role.as_deref(),
            service.as_deref(),
            method.as_deref().filter(|m| !m.is_empty()),
        )
    })
    .await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn token_self(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    let secret = a.effective_secret(&t.0);
    let now = crate::raft::now_ms();
    let ans = acl_read(&a, &p, move |s| s.acl().token_by_secret(&secret, now)).await?;
    match ans.value {
        Some(tok) => Ok(respond(&a, &p, ans.index, &tok)),
        None => Err(AclRefusal::NotFound.into()),
    }
}

pub async fn token_read(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let z = require(&a, &t, Access::Read)?;
    uuid_lookup(&id, "token")?;
    let show = z.sees_secrets();
    let ans = acl_read(&a, &p, move |s| s.acl().token(&id, show)).await?;
    match ans.value {
        Some(tok) => Ok(respond(&a, &p, ans.index, &tok)),
        None => Err(AclRefusal::NotFound.into()),
    }
}

async fn token_put(a: &Agent, p: &Params, body: &[u8], existing: Option<&str>) -> Res {
    let req: AclToken = decode_body(body).map_err(ApiError::decode)?;
    let now = crate::raft::now_ms();
    let token = a
        .catalog()
        .read(|s| s.acl().prepare_token(&req, existing, now, new_uuid))?;
    let accessor = token.accessor_id.clone();
    write(
        a,
        AclCommand::TokenSet {
            token,
            create: existing.is_none(),
        },
    )
    .await?;
    let tok = a.catalog().read(|s| s.acl().token(&accessor, true));
    Ok(json(&tok, p.pretty()))
}

pub async fn token_create(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    token_put(&a, &p, &body, None).await
}

pub async fn token_update(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    token_put(&a, &p, &body, Some(&id)).await
}

pub async fn token_clone(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    let req: AclTokenClone = if body.iter().all(u8::is_ascii_whitespace) {
        AclTokenClone::default()
    } else {
        decode_body(&body).map_err(ApiError::decode)?
    };
    let now = crate::raft::now_ms();
    let token = a
        .catalog()
        .read(|s| s.acl().prepare_clone(&id, &req.description, now, new_uuid))?;
    let accessor = token.accessor_id.clone();
    write(
        &a,
        AclCommand::TokenSet {
            token,
            create: true,
        },
    )
    .await?;
    let tok = a.catalog().read(|s| s.acl().token(&accessor, true));
    Ok(json(&tok, p.pretty()))
}

pub async fn token_delete(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let z = require(&a, &t, Access::Write)?;
    if id.len() != 36 || uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::internal(
            "Accessor ID is missing or an invalid UUID",
        ));
    }
    if id == state_acl::ANONYMOUS_ID {
        return Err(ApiError::internal(
            "Delete operation not permitted on the anonymous token",
        ));
    }
    if z.accessor_id() == id {
        return Err(ApiError::internal(
            "Deletion of the request's authorization token is not permitted",
        ));
    }
    write(&a, AclCommand::TokenDelete { accessor_id: id }).await?;
    Ok(json(&true, p.pretty()))
}

// ---- policies ----

pub async fn policy_list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    let ans = acl_read(&a, &p, |s| s.acl().policies()).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn policy_read(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    uuid_lookup(&id, "policy")?;
    read_one(&a, &p, NO_POLICY, move |s| s.acl().policy(&id)).await
}

pub async fn policy_read_name(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    read_one(&a, &p, NO_POLICY, move |s| s.acl().policy_by_name(&name)).await
}

async fn policy_put(a: &Agent, p: &Params, body: &[u8], existing: Option<&str>) -> Res {
    let req: AclPolicy = decode_body(body).map_err(ApiError::decode)?;
    let policy = a
        .catalog()
        .read(|s| s.acl().prepare_policy(&req, existing, new_uuid))?;
    let id = policy.id.clone();
    write(a, AclCommand::PolicySet { policy }).await?;
    let pol = a.catalog().read(|s| s.acl().policy(&id));
    Ok(json(&pol, p.pretty()))
}

pub async fn policy_create(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    policy_put(&a, &p, &body, None).await
}

pub async fn policy_update(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    policy_put(&a, &p, &body, Some(&id)).await
}

pub async fn policy_delete(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    if let Some(builtin) = ::acl::builtin::builtin_policy(&id) {
        return Err(ApiError::internal(format!(
            "Delete operation not permitted on the builtin {} policy",
            builtin.name()
        )));
    }
    if a.catalog().read(|s| s.acl().policy(&id)).is_none() {
        return Err(ApiError::not_found("Cannot find policy to delete"));
    }
    write(&a, AclCommand::PolicyDelete { id }).await?;
    Ok(json(&true, p.pretty()))
}

// ---- roles ----

pub async fn role_list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    let policy = p.get("policy").map(str::to_string);
    let ans = acl_read(&a, &p, move |s| s.acl().roles(policy.as_deref())).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

pub async fn role_read(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    uuid_lookup(&id, "role")?;
    read_one(&a, &p, NO_ROLE, move |s| s.acl().role(&id)).await
}

pub async fn role_read_name(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    read_one(&a, &p, NO_ROLE, move |s| s.acl().role_by_name(&name)).await
}

async fn role_put(a: &Agent, p: &Params, body: &[u8], existing: Option<&str>) -> Res {
    let req: AclRole = decode_body(body).map_err(ApiError::decode)?;
    let role = a
        .catalog()
        .read(|s| s.acl().prepare_role(&req, existing, new_uuid))?;
    let id = role.id.clone();
    write(a, AclCommand::RoleSet { role }).await?;
    let r = a.catalog().read(|s| s.acl().role(&id));
    Ok(json(&r, p.pretty()))
}

pub async fn role_create(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    role_put(&a, &p, &body, None).await
}

pub async fn role_update(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    role_put(&a, &p, &body, Some(&id)).await
}

pub async fn role_delete(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    if a.catalog().read(|s| s.acl().role(&id)).is_none() {
        return Err(ApiError::not_found("Cannot find role to delete"));
    }
    write(&a, AclCommand::RoleDelete { id }).await?;
    Ok(json(&true, p.pretty()))
}

// ---- the agent's tokens ----

pub async fn agent_token(
    State(a): State<AppState>,
    t: Token,
    Path(kind): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let _ = Params::parse(q.as_deref());
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    let z = authz(&a, &t)?;
    z.require(Resource::Acl, "", Access::Write)?;
    let req: AgentTokenUpdate = decode_body(&body).map_err(ApiError::decode)?;
    // Every kind Consul knows is stored: `replication` too, which only ACL replication from
    // another datacenter would use (refused by name in the config), as on Consul's agents of
    // one datacenter.
    let Some(which) = TokenKind::parse(&kind) else {
        return Err(ApiError::not_found(format!("Token {kind:?} is unknown")));
    };
    a.tokens()
        .set(which, req.token)
        .map_err(|e| ApiError::internal(format!("Failed to persist tokens - {e}")))?;
    tracing::info!(target: "agent", "Updated agent's ACL token: token={kind}");
    Ok(super::reply::ok_empty())
}

/// Filters `items` to those the request may read, and answers them.
pub fn respond_list<T: serde::Serialize>(
    a: &Agent,
    p: &Params,
    t: &Token,
    index: u64,
    mut items: Vec<T>,
    allowed: impl Fn(&Authz, &T) -> bool,
) -> Response {
    let z = recheck(a, t);
    let filtered = filter(&mut items, |x| allowed(&z, x));
    respond_filtered(a, p, index, &items, filtered)
}

/// Writes `cmd` when the request's token may (see `State::vet`).
pub async fn write_vetted(
    a: &Agent,
    t: &Token,
    cmd: Command,
) -> Result<crate::catalog::Reply, ApiError> {
    if a.acl_enabled() {
        let z = authz(a, t)?;
        a.catalog().read(|s| s.vet(&z, &cmd))?;
    }
    Ok(a.write(cmd).await?)
}

/// Whether a health check may be seen: its node, and its service if it has one.
pub fn sees_check(z: &Authz, node: &str, service: &str) -> bool {
    z.allows(Resource::Node, node, Access::Read)
        && (service.is_empty() || z.allows(Resource::Service, service, Access::Read))
}

// ---- templated policies ----

/// One templated policy as `/v1/acl/templated-policy/name/:name` shows it.
#[derive(serde::Serialize)]
struct TemplatedPolicyWire {
    #[serde(rename = "TemplateName")]
    template_name: &'static str,
    #[serde(rename = "Schema")]
    schema: &'static str,
    #[serde(rename = "Template")]
    template: &'static str,
    #[serde(rename = "Description")]
    description: &'static str,
}

fn templated_wire(t: &::acl::templated::Template) -> TemplatedPolicyWire {
    TemplatedPolicyWire {
        template_name: t.name(),
        schema: t.schema(),
        template: t.template(),
        description: t.description(),
    }
}

pub async fn templated_list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    let all: std::collections::BTreeMap<&str, TemplatedPolicyWire> = ::acl::templated::all()
        .iter()
        .map(|t| (t.name(), templated_wire(t)))
        .collect();
    Ok(json(&all, p.pretty()))
}

pub async fn templated_read(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    match ::acl::templated::find(&name) {
        Some(tp) => Ok(json(&templated_wire(tp), p.pretty())),
        None => Err(ApiError::bad_request(format!(
            "Invalid templated policy Name: {name:?}"
        ))),
    }
}

pub async fn templated_preview(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    let vars: TemplateVariables = if body.iter().all(u8::is_ascii_whitespace) {
        TemplateVariables::default()
    } else {
        decode_body(&body).map_err(ApiError::decode)?
    };
    let Some(tp) = ::acl::templated::find(&name) else {
        return Err(ApiError::bad_request(format!(
            "Invalid templated policy Name: {name:?}"
        )));
    };
    let rules = ::acl::templated::rules(&name, &vars.name)
        .ok_or_else(|| ApiError::bad_request("Failed to validate templated policy variables"))?;
    let synthetic = ::acl::identity::SyntheticPolicy::for_templated_policy(tp.name(), rules);
    Ok(json(
        &AclPolicy {
            id: synthetic.id().to_string(),
            name: synthetic.name().to_string(),
            description: synthetic.description().to_string(),
            rules: synthetic.rules().to_string(),
            ..Default::default()
        },
        p.pretty(),
    ))
}
