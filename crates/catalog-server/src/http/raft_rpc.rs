//! The server port: Raft RPC (`append`, `vote`, `snapshot`) and the cluster calls between
//! servers (`info`, `join`, `forward`, `read_index`, `remove`), JSON over HTTP.

use super::AppState;
use crate::catalog::Command;
use crate::raft::cluster::JoinRequest;
use crate::raft::TypeConfig;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};

pub fn router(agent: AppState) -> Router {
    Router::new()
        .route("/v1/raft/append", post(append))
        .route("/v1/raft/vote", post(vote))
        .route("/v1/raft/snapshot", post(snapshot))
        .route("/v1/raft/info", get(info))
        .route("/v1/raft/join", post(join))
        .route("/v1/raft/forward", post(forward))
        .route("/v1/raft/read_index", post(read_index))
        .route("/v1/raft/remove", post(remove))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(agent)
}

async fn append(
    State(a): State<AppState>,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> Response {
    a.raft.touch_contact();
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

async fn info(State(a): State<AppState>) -> Response {
    Json(a.raft.info()).into_response()
}

async fn join(State(a): State<AppState>, Json(req): Json<JoinRequest>) -> Response {
    Json(a.raft.serve_join(req).await).into_response()
}

async fn forward(State(a): State<AppState>, Json(cmd): Json<Command>) -> Response {
    Json(a.raft.serve_forward(cmd).await).into_response()
}

async fn read_index(State(a): State<AppState>) -> Response {
    Json(a.raft.serve_read_index().await).into_response()
}

async fn remove(State(a): State<AppState>, Json(id): Json<u64>) -> Response {
    Json(a.raft.remove_server(id).await).into_response()
}
