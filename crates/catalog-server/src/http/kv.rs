//! `/v1/kv/*`: reads (exact, `?recurse`, `?keys`, `?raw`), writes with `flags`, `cas`,
//! `acquire`, `release`, and deletes.

use super::acl::{authz, filter, recheck, Token};
use super::params::Params;
use super::reply::{json, mark_filtered, ApiError};
use super::{meta, read, respond, respond_filtered, AppState};
use crate::catalog::acl::Authz;
use crate::catalog::{Command, KvOp, KvRecord, Reply};
use ::acl::{Access, Resource};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

type Res = Result<Response, ApiError>;

pub async fn get_root(s: State<AppState>, t: Token, q: RawQuery) -> Res {
    get_key(s, t, String::new(), q).await
}
pub async fn put_root(s: State<AppState>, t: Token, q: RawQuery, body: Bytes) -> Res {
    put_key(s, t, String::new(), q, body).await
}
pub async fn delete_root(s: State<AppState>, t: Token, q: RawQuery) -> Res {
    delete_key(s, t, String::new(), q).await
}
pub async fn get(s: State<AppState>, t: Token, Path(key): Path<String>, q: RawQuery) -> Res {
    get_key(s, t, key, q).await
}
pub async fn put(
    s: State<AppState>,
    t: Token,
    Path(key): Path<String>,
    q: RawQuery,
    body: Bytes,
) -> Res {
    put_key(s, t, key, q, body).await
}
pub async fn delete(s: State<AppState>, t: Token, Path(key): Path<String>, q: RawQuery) -> Res {
    delete_key(s, t, key, q).await
}

/// Listing keys under `prefix` needs `key:list` there when `acl.enable_key_list_policy`.
fn check_list(a: &AppState, z: &Authz, prefix: &str) -> Result<(), ApiError> {
    if a.config()
        .acl
        .as_ref()
        .is_some_and(|c| c.enable_key_list_policy)
    {
        z.require(Resource::Key, prefix, Access::List)?;
    }
    Ok(())
}

/// A key as Go prints it (bytes that were not UTF-8 in the path as U+FFFD).
fn shown(key: &mut String) {
    if let std::borrow::Cow::Owned(k) = super::gopath::display(key) {
        *key = k;
    }
}

fn not_found(a: &AppState, p: &Params, index: u64) -> Response {
    let mut r = StatusCode::NOT_FOUND.into_response();
    r.headers_mut().extend(meta(a, p, index));
    r
}

async fn get_key(State(a): State<AppState>, t: Token, key: String, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    if p.has("keys") {
        check_list(&a, &z, &key)?;
        let sep = p
            .get("separator")
            .or(p.get("seperator"))
            .unwrap_or("")
            .to_string();
        let mut ans = read(&a, &p, |s| s.q_kv_keys(&key, &sep)).await?;
        let z = recheck(&a, &t);
        let filtered = filter(&mut ans.value, |k| z.allows(Resource::Key, k, Access::Read));
        if ans.value.is_empty() && !key.is_empty() {
            let mut r = not_found(&a, &p, ans.index);
            mark_filtered(&mut r, filtered);
            return Ok(r);
        }
        for k in &mut ans.value {
            shown(k);
        }
        return Ok(respond_filtered(&a, &p, ans.index, &ans.value, filtered));
    }
    if p.has("recurse") {
        check_list(&a, &z, &key)?;
        let mut ans = read(&a, &p, |s| s.q_kv_list(&key)).await?;
        let z = recheck(&a, &t);
        let filtered = filter(&mut ans.value, |kv| {
            z.allows(Resource::Key, &kv.key, Access::Read)
        });
        if ans.value.is_empty() {
            let mut r = not_found(&a, &p, ans.index);
            mark_filtered(&mut r, filtered);
            return Ok(r);
        }
        for pair in &mut ans.value {
            shown(&mut pair.key);
        }
        return Ok(respond_filtered(&a, &p, ans.index, &ans.value, filtered));
    }
    if key.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    z.require(Resource::Key, &key, Access::Read)?;
    let ans = read(&a, &p, |s| s.q_kv_get(&key)).await?;
    let Some(mut pair) = ans.value else {
        return Ok(not_found(&a, &p, ans.index));
    };
    shown(&mut pair.key);
    if p.has("raw") {
        let mut r = (
            [
                (header::CONTENT_TYPE, "text/plain"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, "sandbox"),
            ],
            pair.value_bytes(),
        )
            .into_response();
        r.headers_mut().extend(meta(&a, &p, ans.index));
        return Ok(r);
    }
    Ok(respond(&a, &p, ans.index, &vec![pair]))
}

fn parse_u64(p: &Params, name: &str) -> Result<Option<u64>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|e| {
            ApiError::internal(format!(
                "strconv.ParseUint: parsing {v:?}: {}",
                go_num_err(&e)
            ))
        }),
    }
}

fn go_num_err(e: &std::num::ParseIntError) -> &'static str {
    match e.kind() {
        std::num::IntErrorKind::PosOverflow => "value out of range",
        _ => "invalid syntax",
    }
}

async fn put_key(
    State(a): State<AppState>,
    t: Token,
    key: String,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_enterprise()?;
    if key.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    authz(&a, &t)?.require(Resource::Key, &key, Access::Write)?;
    let exclusive = ["cas", "acquire", "release"]
        .iter()
        .filter(|k| p.has(k))
        .count();
    if exclusive > 1 {
        return Err(ApiError::bad_request(format!(
            "Conflicting flags: {}\n",
            q.unwrap_or_default()
        )));
    }
    let max = a.config().kv_max_value_size;
    if body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body({} bytes) too large, max size: {max} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.",
                body.len()
            ),
        ));
    }
    let flags = parse_u64(&p, "flags")?.unwrap_or(0);
    let op = if let Some(idx) = parse_u64(&p, "cas")? {
        KvOp::Cas(idx)
    } else if let Some(s) = p.get("acquire") {
        KvOp::Acquire(s.to_string())
    } else if let Some(s) = p.get("release") {
        KvOp::Release(s.to_string())
    } else {
        KvOp::Set
    };
    let entry = KvRecord {
        key,
        value: body.to_vec(),
        flags,
        ..Default::default()
    };
    let ok = match a.write(Command::KvSet { entry, op }).await? {
        Reply::Bool(b) => b,
        _ => true,
    };
    Ok(json(&ok, p.pretty()))
}

async fn delete_key(
    State(a): State<AppState>,
    t: Token,
    key: String,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_enterprise()?;
    let recurse = p.has("recurse");
    let cas = parse_u64(&p, "cas")?;
    if recurse && cas.is_some() {
        return Err(ApiError::bad_request(format!(
            "Conflicting flags: {}\n",
            q.unwrap_or_default()
        )));
    }
    if key.is_empty() && !recurse {
        return Err(ApiError::bad_request("Missing key name"));
    }
    let z = authz(&a, &t)?;
    if recurse {
        z.require_key_write_prefix(&key)?;
    } else {
        z.require(Resource::Key, &key, Access::Write)?;
    }
    let ok = match a.write(Command::KvDelete { key, recurse, cas }).await? {
        Reply::Bool(b) => b,
        _ => true,
    };
    Ok(json(&ok, p.pretty()))
}
