//! The Raft state machine: applies committed entries to the in-memory [`State`], wakes the
//! blocking queries each entry touched, and builds/installs snapshots persisted in the store.
//! On start it restores the latest snapshot; openraft replays the log after it.

// openraft's traits return its (large) StorageError.
#![allow(clippy::result_large_err)]

use super::{Response, TypeConfig};
use crate::blocking::Catalog;
use crate::catalog::State;
use crate::store::Store;
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::sync::Arc;

type NodeId = u64;
type Meta = SnapshotMeta<NodeId, super::ServerNode>;

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Stores a snapshot as the current one and makes it durable before returning. Writers take
/// turns, and an older snapshot never replaces a newer one (a build retried through a full
/// disk may finish after a later one).
async fn write_snapshot(
    store: &Store,
    persisted: &tokio::sync::Mutex<Option<LogId<NodeId>>>,
    meta: &Meta,
    data: Vec<u8>,
) -> Result<(), String> {
    let mut current = persisted.lock().await;
    if meta.last_log_id < *current {
        return Ok(());
    }
    let meta_bytes = serde_json::to_vec(meta).map_err(|e| e.to_string())?;
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.save_snapshot(&meta_bytes, &data))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    *current = meta.last_log_id;
    Ok(())
}

/// What a snapshot holds besides the state.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, super::ServerNode>,
    state: State,
    /// Servers removed from the cluster, shown as `left`.
    #[serde(default)]
    departed: Departed,
}

type Departed = std::collections::BTreeMap<NodeId, super::ServerNode>;

/// The last applied log id and membership.
type Applied = (
    Option<LogId<NodeId>>,
    StoredMembership<NodeId, super::ServerNode>,
);

#[derive(Clone)]
pub struct StateMachine {
    pub catalog: Arc<Catalog>,
    store: Store,
    applied: Arc<std::sync::Mutex<Applied>>,
    /// The last entry the persisted snapshot covers; held while one is written.
    persisted: Arc<tokio::sync::Mutex<Option<LogId<NodeId>>>>,
    /// Why the last snapshot could not be written, while it could not.
    snapshot_failure: Arc<std::sync::Mutex<Option<String>>>,
    /// Servers that a membership change removed, as every server applies it (`left`).
    pub departed: Arc<std::sync::Mutex<Departed>>,
}

impl StateMachine {
    /// Restores the latest persisted snapshot, if any.
    pub fn load(store: Store) -> Result<StateMachine, crate::store::StoreError> {
        let mut state = State::default();
        let mut applied = (None, StoredMembership::default());
        let mut departed = Departed::new();
        if let Some((_, data)) = store.load_snapshot()? {
            let body: SnapshotBody = serde_json::from_slice(&data).map_err(|e| {
                crate::store::StoreError::Corrupt(format!(
                    "the raft snapshot passed its checksum but does not decode: {e}"
                ))
            })?;
            state = body.state;
            state.reindex();
            applied = (body.last_applied, body.membership);
            departed = body.departed;
        }
        Ok(StateMachine {
            catalog: Arc::new(Catalog::new(state)),
            store,
            persisted: Arc::new(tokio::sync::Mutex::new(applied.0)),
            snapshot_failure: Arc::default(),
            applied: Arc::new(std::sync::Mutex::new(applied)),
            departed: Arc::new(std::sync::Mutex::new(departed)),
        })
    }

    /// The last entry the persisted snapshot covers.
    pub async fn snapshot_log_id(&self) -> Option<LogId<NodeId>> {
        *self.persisted.lock().await
    }

    /// Why the last snapshot could not be written, while it could not.
    pub fn snapshot_failure(&self) -> Option<String> {
        self.snapshot_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Persists a snapshot this server built. openraft stops for good on a failed snapshot,
    /// so a failure (a full disk) is retried until it succeeds; applies go on meanwhile (the
    /// build runs in its own task) and the log is kept until then.
    async fn persist_built(&self, meta: &Meta, data: &[u8]) {
        let mut pause = std::time::Duration::from_millis(500);
        loop {
            let written = write_snapshot(&self.store, &self.persisted, meta, data.to_vec()).await;
            let Err(e) = written else { break };
            {
                let mut failure = self
                    .snapshot_failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if failure.is_none() {
                    tracing::error!(target: "agent.server.raft", "failed to write the raft snapshot, retrying; the log is kept until it succeeds: {e}");
                }
                *failure = Some(e);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(10));
        }
        let was = self
            .snapshot_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if was.is_some() {
            tracing::info!(target: "agent.server.raft", "raft snapshot written");
        }
    }

    fn applied(
        &self,
    ) -> (
        Option<LogId<NodeId>>,
        StoredMembership<NodeId, super::ServerNode>,
    ) {
        self.applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        // Hold the state lock while reading `applied` so the two agree.
        let (data, last_applied, membership) = {
            let guard = self.catalog.state.read().unwrap_or_else(|p| p.into_inner());
            let (last_applied, membership) = self.applied();
            let body = SnapshotBody {
                last_applied,
                membership: membership.clone(),
                state: guard.clone(),
                departed: self
                    .departed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            };
            drop(guard);
            let data = serde_json::to_vec(&body)
                .map_err(|e| StorageIOError::read_state_machine(&io_err(e)))?;
            (data, last_applied, membership)
        };
        let snapshot_id = format!(
            "{}-{}",
            last_applied.map(|l| l.leader_id.term).unwrap_or(0),
            last_applied.map(|l| l.index).unwrap_or(0)
        );
        let meta = Meta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        self.persist_built(&meta, &data).await;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<NodeId>>,
            StoredMembership<NodeId, super::ServerNode>,
        ),
        StorageError<NodeId>,
    > {
        Ok(self.applied())
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        let mut touched = Vec::new();
        {
            let mut state = self
                .catalog
                .state
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
            for entry in entries {
                applied.0 = Some(entry.log_id);
                state.applied(entry.log_id.index);
                match entry.payload {
                    EntryPayload::Blank => replies.push(Response(Ok(crate::catalog::Reply::Done))),
                    EntryPayload::Normal(req) => {
                        let start = std::time::Instant::now();
                        let (r, t) = state.apply(entry.log_id.index, &req);
                        metrics::histogram!("consul.raft.fsm.apply")
                            .record(crate::telemetry::ms_since(start));
                        touched.extend(t);
                        replies.push(Response(r));
                    }
                    EntryPayload::Membership(m) => {
                        let mut departed = self.departed.lock().unwrap_or_else(|p| p.into_inner());
                        for (id, node) in applied.1.membership().nodes() {
                            if m.get_node(id).is_none() {
                                departed.insert(*id, node.clone());
                            }
                        }
                        for (id, _) in m.nodes() {
                            departed.remove(id);
                        }
                        applied.1 = StoredMembership::new(Some(entry.log_id), m);
                        replies.push(Response(Ok(crate::catalog::Reply::Done)));
                    }
                }
            }
        }
        touched.sort();
        touched.dedup();
        self.catalog.notifier.notify(touched);
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let body: SnapshotBody = serde_json::from_slice(&data)
            .map_err(|e| StorageIOError::read_snapshot(None, &io_err(e)))?;
        {
            let mut state = self
                .catalog
                .state
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
            *state = body.state;
            state.reindex();
            *applied = (meta.last_log_id, meta.last_membership.clone());
            *self.departed.lock().unwrap_or_else(|p| p.into_inner()) = body.departed;
        }
        self.catalog.replaced();
        write_snapshot(&self.store, &self.persisted, meta, data)
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &io_err(e)).into())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || store.load_snapshot())
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &io_err(e)))?
            .map_err(|e| StorageIOError::read_snapshot(None, &io_err(e)))?;
        let Some((meta, data)) = loaded else {
            return Ok(None);
        };
        let meta: Meta = serde_json::from_slice(&meta)
            .map_err(|e| StorageIOError::read_snapshot(None, &io_err(e)))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
