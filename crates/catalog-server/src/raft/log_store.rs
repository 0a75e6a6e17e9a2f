//! The Raft log and vote in sled (through [`crate::store::Store`]). Appends are acknowledged to
//! openraft only after the group-commit syncer has made them durable.

// openraft's traits return its (large) StorageError.
#![allow(clippy::result_large_err)]

use super::TypeConfig;
use crate::store::Store;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogId, StorageError, StorageIOError, Vote};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

type NodeId = u64;

#[derive(Clone)]
pub struct LogStore {
    store: Store,
}

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl LogStore {
    pub fn new(store: Store) -> Self {
        LogStore { store }
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        k: &[u8],
    ) -> Result<Option<T>, StorageError<NodeId>> {
        let Some(v) = self
            .store
            .meta
            .get(k)
            .map_err(|e| StorageIOError::read(&io_err(e)))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| StorageIOError::read(&io_err(e)).into())
    }

    fn write_meta<T: serde::Serialize>(&self, k: &[u8], v: &T) -> Result<(), StorageError<NodeId>> {
        let bytes = serde_json::to_vec(v).map_err(|e| StorageIOError::write(&io_err(e)))?;
        self.store
            .meta
            .insert(k, bytes)
            .map_err(|e| StorageIOError::write(&io_err(e)))?;
        Ok(())
    }

    /// Removes the log entries whose keys fall in `range`, in one sled batch.
    fn remove_range<R: RangeBounds<[u8; 8]>>(&self, range: R) -> Result<(), StorageError<NodeId>> {
        let mut batch = sled::Batch::default();
        for k in self.store.logs.range(range).keys() {
            batch.remove(k.map_err(|e| StorageIOError::write_logs(&io_err(e)))?);
        }
        self.store
            .logs
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&io_err(e)).into())
    }

    async fn sync(&self) -> Result<(), StorageError<NodeId>> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.sync_now())
            .await
            .map_err(|e| StorageIOError::write(&io_err(e)))?
            .map_err(|e| StorageIOError::write(&io_err(e)).into())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => Bound::Included(key(*i)),
            Bound::Excluded(i) => Bound::Excluded(key(*i)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for item in self.store.logs.range((Bound::Included(key(start)), end)) {
            let (_, v) = item.map_err(|e| StorageIOError::read_logs(&io_err(e)))?;
            let entry: Entry<TypeConfig> =
                serde_json::from_slice(&v).map_err(|e| StorageIOError::read_logs(&io_err(e)))?;
            out.push(entry);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let last_purged: Option<LogId<NodeId>> = self.read_meta(LAST_PURGED)?;
        let last = match self
            .store
            .logs
            .last()
            .map_err(|e| StorageIOError::read_logs(&io_err(e)))?
        {
            Some((_, v)) => {
                let e: Entry<TypeConfig> = serde_json::from_slice(&v)
                    .map_err(|e| StorageIOError::read_logs(&io_err(e)))?;
                Some(*e.get_log_id())
            }
            None => last_purged,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.write_meta(VOTE, vote)?;
        self.sync().await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.read_meta(VOTE)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Made durable by the next log sync; losing it only means re-applying from the snapshot.
        self.write_meta(COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .read_meta::<Option<LogId<NodeId>>>(COMMITTED)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for e in entries {
            let bytes =
                serde_json::to_vec(&e).map_err(|err| StorageIOError::write_logs(&io_err(err)))?;
            batch.insert(&key(e.get_log_id().index), bytes);
        }
        self.store
            .logs
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&io_err(e)))?;
        self.store
            .sync_then(move |res| callback.log_io_completed(res.map_err(io_err)));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.remove_range(key(log_id.index)..)?;
        self.sync().await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.write_meta(LAST_PURGED, &log_id)?;
        self.remove_range(..=key(log_id.index))
    }
}
