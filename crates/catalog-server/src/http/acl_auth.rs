//! `/v1/acl/auth-method*`, `/v1/acl/binding-rule*`, `/v1/acl/login` and `/v1/acl/logout`:
//! Consul's handlers (`agent/acl_endpoint.go`) over the catalog's auth method and binding rule
//! tables. Reads need `acl:read`, writes `acl:write`; login needs no token (the bearer token
//! is the credential) and logout deletes the request's own token, which a login must have
//! created.

use super::acl::{acl_disabled, acl_read, new_uuid, read_one, require, write, Token};
use super::params::Params;
use super::reply::{json, ApiError};
use super::{respond, AppState};
use crate::agent::Agent;
use crate::catalog::acl::AclCommand;
use ::acl::Access;
use api_types::acl::{AclAuthMethod, AclBindingRule, AclLoginParams};
use api_types::decode::decode_body;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

type Res = Result<Response, ApiError>;

const NO_METHOD: &str = "Requested auth method does not exist: ACL not found";
const NO_RULE: &str = "Requested binding rule does not exist: ACL not found";

fn decode<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    decode_body(body).map_err(|e| ApiError::bad_request(format!("{what} decoding failed: {e}")))
}

// ---- auth methods ----

pub async fn auth_method_list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    let ans = acl_read(&a, &p, |s| s.acl().auth_methods()).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

async fn auth_method_put(a: &Agent, p: &Params, body: &[u8], url_name: &str) -> Res {
    let mut req: AclAuthMethod = decode(body, "AuthMethod")?;
    if !url_name.is_empty() {
        if !req.name.is_empty() && req.name != url_name {
            return Err(ApiError::bad_request(
                "AuthMethod Name in URL and payload do not match",
            ));
        }
        req.name = url_name.to_string();
    }
    let method = a.catalog().read(|s| s.acl().prepare_auth_method(&req))?;
    let name = method.name.clone();
    write(a, AclCommand::AuthMethodSet { method }).await?;
    let stored = a.catalog().read(|s| s.acl().auth_method(&name));
    Ok(json(&stored, p.pretty()))
}

pub async fn auth_method_create(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    auth_method_put(&a, &p, &body, "").await
}

pub async fn auth_method_read(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    read_one(&a, &p, NO_METHOD, move |s| s.acl().auth_method(&name)).await
}

pub async fn auth_method_update(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    auth_method_put(&a, &p, &body, &name).await
}

/// Deletes the method, its binding rules and the tokens its logins created; `true` also when
/// there was no such method, as Consul answers.
pub async fn auth_method_delete(
    State(a): State<AppState>,
    t: Token,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    if a.catalog().read(|s| s.acl().auth_method(&name)).is_some() {
        write(&a, AclCommand::AuthMethodDelete { name }).await?;
    }
    Ok(json(&true, p.pretty()))
}

/// `/v1/acl/auth-method/` without a name: a `PUT` creates, anything else lacks the name.
pub async fn auth_method_unnamed(
    State(a): State<AppState>,
    t: Token,
    method: axum::http::Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    if method == axum::http::Method::PUT {
        let p = Params::parse(q.as_deref());
        require(&a, &t, Access::Write)?;
        return auth_method_put(&a, &p, &body, "").await;
    }
    Err(ApiError::bad_request("Missing auth method name"))
}

// ---- binding rules ----

pub async fn binding_rule_list(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    let method = p.get("authmethod").unwrap_or_default().to_string();
    let ans = acl_read(&a, &p, move |s| s.acl().binding_rules(&method)).await?;
    Ok(respond(&a, &p, ans.index, &ans.value))
}

async fn binding_rule_put(a: &Agent, p: &Params, body: &[u8], url_id: &str) -> Res {
    let mut req: AclBindingRule = decode(body, "BindingRule")?;
    if !req.id.is_empty() && req.id != url_id {
        return Err(ApiError::bad_request(
            "BindingRule ID in URL and payload do not match",
        ));
    }
    req.id = url_id.to_string();
    let rule = a
        .catalog()
        .read(|s| s.acl().prepare_binding_rule(&req, new_uuid))?;
    let id = rule.id.clone();
    write(a, AclCommand::BindingRuleSet { rule }).await?;
    let stored = a.catalog().read(|s| s.acl().binding_rule(&id));
    Ok(json(&stored, p.pretty()))
}

pub async fn binding_rule_create(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    binding_rule_put(&a, &p, &body, "").await
}

pub async fn binding_rule_read(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Read)?;
    read_one(&a, &p, NO_RULE, move |s| s.acl().binding_rule(&id)).await
}

pub async fn binding_rule_update(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    binding_rule_put(&a, &p, &body, &id).await
}

pub async fn binding_rule_delete(
    State(a): State<AppState>,
    t: Token,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    require(&a, &t, Access::Write)?;
    if a.catalog().read(|s| s.acl().binding_rule(&id)).is_some() {
        write(&a, AclCommand::BindingRuleDelete { id }).await?;
    }
    Ok(json(&true, p.pretty()))
}

/// `/v1/acl/binding-rule/` without an ID: a `PUT` creates, anything else lacks the ID.
pub async fn binding_rule_unnamed(
    State(a): State<AppState>,
    t: Token,
    method: axum::http::Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    if method == axum::http::Method::PUT {
        let p = Params::parse(q.as_deref());
        require(&a, &t, Access::Write)?;
        return binding_rule_put(&a, &p, &body, "").await;
    }
    Err(ApiError::bad_request("Missing binding rule ID"))
}

// ---- login and logout ----

/// Validates the bearer token with its auth method and answers the token its binding rules
/// grant (403 `Permission denied` when none matches).
pub async fn login(State(a): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> Res {
    let p = Params::parse(q.as_deref());
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    let req: AclLoginParams = decode_body(&body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    let now = crate::raft::now_ms();
    let dc = a.datacenter().to_string();
    let token = a
        .catalog()
        .read(|s| s.acl().prepare_login(&req, &dc, now, new_uuid))?;
    let accessor = token.accessor_id.clone();
    write(
        &a,
        AclCommand::TokenSet {
            token,
            create: true,
        },
    )
    .await?;
    tracing::debug!(target: "agent.server.acl", method = %req.auth_method, "login created a token");
    let tok = a.catalog().read(|s| s.acl().token(&accessor, true));
    Ok(json(&tok, p.pretty()))
}

/// Deletes the request's token, which a login must have created.
pub async fn logout(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    if !a.acl_enabled() {
        return Err(acl_disabled());
    }
    let secret = a.effective_secret(&t.0);
    if secret.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Supplied token does not exist",
        ));
    }
    let accessor_id = a
        .catalog()
        .read(|s| s.acl().prepare_logout(&secret))
        .map_err(ApiError::from)?;
    write(&a, AclCommand::TokenDelete { accessor_id }).await?;
    Ok(json(&true, p.pretty()))
}
