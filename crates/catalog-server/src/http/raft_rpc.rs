//! The server port: Raft RPC (`append`, `vote`, `snapshot`) and the cluster calls between
//! servers (`info`, `join`, `forward`, `read_index`, `remove`; `transfer` and `timeout_now` for
//! leadership transfer), JSON over HTTP.

use crate::catalog::Command;
use crate::raft::cluster::JoinRequest;
use crate::raft::transfer::TransferRequest;
use crate::raft::RaftNode;
use crate::raft::{AppendRequest, SnapshotRequest, VoteRequest};
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};

/// The largest body each endpoint takes, by message kind:
/// - `append` and `forward` carry client commands, up to a whole-state `Restore` (from a
///   `PUT /v1/snapshot` archive of up to 256 MiB), so they keep the client API's snapshot bound;
/// - `snapshot` is one chunk of an install (openraft's `snapshot_max_chunk_size`, 3 MiB,
///   JSON-encoded as numbers: up to ~4 bytes per byte);
/// - votes, joins, removals, read-index and info requests are a few hundred bytes.
pub fn body_limit(path: &str) -> usize {
    const MIB: usize = 1024 * 1024;
    match path {
        "/v1/raft/append" | "/v1/raft/forward" => 256 * MIB,
        "/v1/raft/snapshot" => 32 * MIB,
        _ => 64 * 1024,
    }
}

fn limited(path: &'static str, mr: MethodRouter<RaftNode>) -> MethodRouter<RaftNode> {
    mr.layer(DefaultBodyLimit::max(body_limit(path)))
}

pub fn router(raft: RaftNode) -> Router {
    let r = |path: &'static str, mr| (path, limited(path, mr));
    [
        r("/v1/raft/append", post(append)),
        r("/v1/raft/vote", post(vote)),
        r("/v1/raft/snapshot", post(snapshot)),
        r("/v1/raft/info", get(info)),
        r("/v1/raft/join", post(join)),
        r("/v1/raft/forward", post(forward)),
        r("/v1/raft/read_index", post(read_index)),
        r("/v1/raft/remove", post(remove)),
        r("/v1/raft/transfer", post(transfer)),
        r("/v1/raft/timeout_now", post(timeout_now)),
    ]
    .into_iter()
    .fold(Router::new(), |router, (path, mr)| router.route(path, mr))
    .layer(DefaultBodyLimit::max(body_limit("")))
    .with_state(raft)
}

/// Refuses a declared body over the endpoint's limit before reading any of it.
pub fn gate() -> super::listen::Gate {
    std::sync::Arc::new(|req| {
        let len = super::gopath::content_length(req)?;
        let max = body_limit(req.uri().path()) as u64;
        (len > max).then(|| {
            super::gopath::too_large(format!(
                "request body of {len} bytes is over this endpoint's limit of {max} bytes"
            ))
        })
    })
}

async fn append(State(raft): State<RaftNode>, Json(req): Json<AppendRequest>) -> Response {
    Json(raft.serve_append(req).await).into_response()
}

async fn vote(State(raft): State<RaftNode>, Json(req): Json<VoteRequest>) -> Response {
    Json(raft.serve_vote(req).await).into_response()
}

async fn snapshot(State(raft): State<RaftNode>, Json(req): Json<SnapshotRequest>) -> Response {
    Json(raft.serve_snapshot(req).await).into_response()
}

async fn info(State(raft): State<RaftNode>) -> Response {
    Json(raft.info()).into_response()
}

async fn join(State(raft): State<RaftNode>, Json(req): Json<JoinRequest>) -> Response {
    Json(raft.serve_join(req).await).into_response()
}

async fn forward(State(raft): State<RaftNode>, Json(cmd): Json<Command>) -> Response {
    Json(raft.serve_forward(cmd).await).into_response()
}

async fn read_index(State(raft): State<RaftNode>) -> Response {
    Json(raft.serve_read_index().await).into_response()
}

async fn remove(State(raft): State<RaftNode>, Json(id): Json<u64>) -> Response {
    Json(raft.remove_server(id).await).into_response()
}

async fn transfer(State(raft): State<RaftNode>, Json(target): Json<Option<u64>>) -> Response {
    Json(raft.transfer_leadership(target).await).into_response()
}

async fn timeout_now(State(raft): State<RaftNode>, Json(req): Json<TransferRequest>) -> Response {
    Json(raft.serve_timeout_now(req).await).into_response()
}
