//! `GET /v1/snapshot` (save) and `PUT /v1/snapshot` (restore) of the whole catalog state.

use super::acl::{authz, Token};
use super::params::Params;
use super::reply::{ok_empty, ApiError};
use super::{meta, AppState};
use crate::catalog::Command;
use ::acl::{Access, Resource};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn save(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Acl, "", Access::Write)?;
    p.consistency()?;
    if !p.has("stale") && !a.is_leader() {
        return Err(ApiError::internal("No cluster leader"));
    }
    let state = a.catalog().read(|s| s.clone());
    let index = state.last_index();
    let term = a.raft_status().term;
    let bytes =
        tokio::task::spawn_blocking(move || crate::snapshot::write_archive(&state, index, term))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut r = ([(header::CONTENT_TYPE, "application/x-gzip")], bytes).into_response();
    r.headers_mut().extend(meta(&a, &p, index));
    Ok(r)
}

pub async fn restore(
    State(a): State<AppState>,
    t: Token,
    body: Bytes,
) -> Result<Response, ApiError> {
    authz(&a, &t)?.require(Resource::Acl, "", Access::Write)?;
    let (m, state) = tokio::task::spawn_blocking(move || crate::snapshot::read_archive(&body))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(format!("Restore failed: {e}")))?;
    tracing::info!(target: "agent.server", "restoring snapshot taken at index {}", m.index);
    a.write(Command::Restore {
        state: Box::new(state),
    })
    .await?;
    a.sessions().arm_all();
    Ok(ok_empty())
}
