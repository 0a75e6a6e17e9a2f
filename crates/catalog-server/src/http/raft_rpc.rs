//! The server side of Raft RPC: `POST /v1/raft/{append,vote,snapshot}` on the server port,
//! JSON bodies straight into openraft.

use super::AppState;
use crate::raft::TypeConfig;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};

pub fn router(agent: AppState) -> Router {
    Router::new()
        .route("/v1/raft/append", post(append))
        .route("/v1/raft/vote", post(vote))
        .route("/v1/raft/snapshot", post(snapshot))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(agent)
}

async fn append(
    State(a): State<AppState>,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> Response {
    Json(a.raft.raft.append_entries(req).await).into_response()
}

async fn vote(State(a): State<AppState>, Json(req): Json<VoteRequest<u64>>) -> Response {
    Json(a.raft.raft.vote(req).await).into_response()
}

async fn snapshot(
    State(a): State<AppState>,
    Json(req): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Response {
    Json(a.raft.raft.install_snapshot(req).await).into_response()
}
