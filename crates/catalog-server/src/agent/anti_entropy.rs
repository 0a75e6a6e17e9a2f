//! A client agent keeping the catalog in step with what it holds (Consul's anti-entropy): its
//! node, services and checks are sent to a server whenever they change, and in full every
//! minute, which also undoes what others wrote to its node through `/v1/catalog/register`.
//! The server writes only what differs (`catalog::node_sync`), vetted against the agent token
//! (`acl.tokens.agent`, else `acl.tokens.default`).

use super::Agent;
use crate::catalog::node_sync::NodeSync;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server-port path that takes a client's node.
pub const SYNC_PATH: &str = "/v1/internal/agent-sync";
/// How often the whole node is sent even when nothing changed here (Consul's minimum
/// anti-entropy interval).
const FULL_SYNC: Duration = Duration::from_secs(60);
/// How long a failed sync waits before the next try.
const RETRY: Duration = Duration::from_secs(1);
/// How long a burst of local changes is let settle before one sync carries them all.
const SETTLE: Duration = Duration::from_millis(20);

pub async fn run(agent: Arc<Agent>) {
    let Some((local, _)) = agent.client() else {
        return;
    };
    let mut synced: Option<NodeSync> = None;
    let mut last_full: Option<Instant> = None;
    let mut failing = false;
    loop {
        let want = agent.catalog().read(|s| s.node_sync(agent.node()));
        let due_full = last_full.is_none_or(|t| t.elapsed() >= FULL_SYNC);
        if let Some(want) = want.filter(|w| due_full || synced.as_ref() != Some(w)) {
            match push(&agent, &want).await {
                Ok(()) => {
                    if failing || synced.is_none() {
                        tracing::info!(target: "agent", "Synced node info");
                    }
                    failing = false;
                    synced = Some(want);
                    if due_full {
                        last_full = Some(Instant::now());
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(target: "agent", "Syncing node info failed. error=\"{e}\"");
                    }
                    failing = true;
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
        }
        let next_full = last_full.map_or(Duration::ZERO, |t| FULL_SYNC.saturating_sub(t.elapsed()));
        tokio::select! {
            _ = local.changed() => tokio::time::sleep(SETTLE).await,
            _ = tokio::time::sleep(next_full) => {}
        }
    }
}

/// Sends `want` to a server (the one that last answered, else any other alive one) with the
/// agent token, as Consul syncs its node (services and checks too: a registration's own
/// `Token` is not kept, so the agent token must be allowed to write them).
async fn push(agent: &Agent, want: &NodeSync) -> Result<(), String> {
    let body = serde_json::to_vec(want).map_err(|e| e.to_string())?;
    let token = agent.agent_token_for_servers();
    agent
        .call_servers(
            reqwest::Method::PUT,
            SYNC_PATH,
            Some(body),
            token.as_deref(),
        )
        .await
        .map(|_| ())
}
