//! A client agent's API beyond `/v1/agent/*`: every request is handed as it came (method,
//! path, query, headers, body) to a server's server port, and its answer (status, headers,
//! body, streamed: blocking queries included) handed back, as Consul's client agent forwards
//! RPCs. A request without a token carries the client's default token (with ACLs on and none
//! set, the anonymous token's secret), as Consul's client agent fills it in; a request's own
//! token is passed unchanged, and the server checks it. A server that cannot be reached is left
//! for the next alive one; none known is Consul's `No known Consul servers`. The server port
//! also takes a client's anti-entropy sync and resolves a client's ACL tokens.

use super::acl::{token_of, write_vetted, Token};
use super::reply::{ok_empty, ApiError};
use super::AppState;
use crate::agent::upstream::NO_SERVERS;
use crate::catalog::node_sync::NodeSync;
use crate::catalog::Command;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

/// Headers that describe one connection, not the request: not passed along.
const HOP_BY_HOP: [HeaderName; 5] = [
    header::CONNECTION,
    header::HOST,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TE,
];

/// The largest body a forwarded request may carry (a snapshot restore's).
const BODY_MAX: usize = 256 * 1024 * 1024;

pub async fn forward(State(a): State<AppState>, req: Request) -> Response {
    let Some((_, upstream)) = a.client() else {
        return ApiError::not_found("Invalid URL path: not a recognized HTTP API endpoint")
            .into_response();
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, BODY_MAX).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::bad_request(format!("reading the request body: {e}")).into_response()
        }
    };
    let mut path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    // `?near=_agent` means this agent, not the server that answers.
    if path.contains("near=_agent") {
        let me: String = form_urlencoded::byte_serialize(a.node().as_bytes()).collect();
        path = path.replace("near=_agent", &format!("near={me}"));
    }
    let default_token = token_of(&parts)
        .is_empty()
        .then(|| a.user_token_for_servers())
        .flatten();
    let mut last = NO_SERVERS.to_string();
    for server in upstream.servers(a.serf()).await {
        let mut out = upstream
            .http()
            .http()
            .request(parts.method.clone(), upstream.http().url(&server, &path));
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(name) && name != header::CONTENT_LENGTH {
                out = out.header(name, value);
            }
        }
        if let Some(t) = &default_token {
            out = out.header(api_types::headers::TOKEN, t);
        }
        match out.body(Bytes::clone(&body)).send().await {
            Ok(answer) => {
                upstream.worked(&server);
                return pass_back(answer);
            }
            Err(e) if e.is_connect() => {
                tracing::debug!(target: "agent.client", "server {server} unreachable: {e}");
                upstream.failed(&server);
                last = format!("{NO_SERVERS} reachable: {server}: {e}");
            }
            Err(e) => {
                upstream.failed(&server);
                return ApiError::internal(format!("rpc error making call: {e}")).into_response();
            }
        }
    }
    ApiError::internal(last).into_response()
}

fn pass_back(answer: reqwest::Response) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut r = Response::builder().status(status);
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(name) && name != header::CONTENT_LENGTH {
            r = r.header(name, value);
        }
    }
    r.body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response())
}

/// `PUT /v1/internal/agent-sync` on the server port: a client's node as it holds it; what
/// differs is written (vetted against the request's token when ACLs are on).
pub async fn agent_sync(
    State(a): State<AppState>,
    t: Token,
    body: Bytes,
) -> Result<Response, ApiError> {
    let sync: NodeSync = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    let cmds = a.catalog().read(|s| s.sync_commands(&sync));
    if !cmds.is_empty() {
        write_vetted(&a, &t, Command::Batch(cmds)).await?;
    }
    Ok(ok_empty())
}

/// `GET /v1/internal/acl/resolve` on the server port: what the request's own token (a client
/// resolving it; `anonymous` for none) may do, as this server resolves it — its identity and
/// the rules that apply here — or 403 `ACL not found`; 401 `ACL support disabled` without
/// ACLs. Only the holder of a secret learns its rules, which reading its own token and policies
/// would tell it too; the server's own default and recovery tokens play no part.
pub async fn acl_resolve(State(a): State<AppState>, t: Token) -> Result<Response, ApiError> {
    let Some(policy) = a.acl_policy() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ACL support disabled",
        ));
    };
    let now = crate::raft::now_ms();
    let identity = a.catalog().read(|s| s.acl().identity(&t.0, now, &policy))?;
    Ok(super::reply::json(&identity, false))
}
