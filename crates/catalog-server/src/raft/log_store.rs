//! The Raft log in [`crate::wal`] segments; the vote, committed id and purge point in the
//! store's meta tree. Appends are acknowledged to openraft only once the WAL syncer made them
//! durable. The entries just appended stay in memory too: openraft reads each one back right
//! away (to apply it, to replicate it), and those reads then cost no I/O and no decoding.

// openraft's traits return its (large) StorageError.
#![allow(clippy::result_large_err)]

use super::TypeConfig;
use crate::store::Store;
use crate::wal::Wal;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogId, StorageError, StorageIOError, Vote};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, MutexGuard};

type NodeId = u64;

/// How many just-appended entries, and how many of their bytes, stay in memory.
const TAIL_ENTRIES: usize = 4096;
const TAIL_BYTES: usize = 32 * 1024 * 1024;

#[derive(Clone)]
pub struct LogStore {
    wal: Wal,
    store: Store,
    tail: Arc<Mutex<Tail>>,
    /// The write that failed, in words: openraft stops on it and wraps it beyond reading.
    failure: Arc<Mutex<Option<String>>>,
}

/// The newest entries, consecutive, and the id of the last one in the log.
struct Tail {
    last: Option<LogId<NodeId>>,
    entries: VecDeque<(Entry<TypeConfig>, usize)>,
    bytes: usize,
    /// Most entries kept: [`TAIL_ENTRIES`], or 0 in tests that read everything from the WAL.
    max_entries: usize,
}

impl Default for Tail {
    fn default() -> Tail {
        Tail {
            last: None,
            entries: VecDeque::new(),
            bytes: 0,
            max_entries: TAIL_ENTRIES,
        }
    }
}

impl Tail {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    fn push(&mut self, entry: Entry<TypeConfig>, size: usize) {
        self.last = Some(entry.log_id);
        self.bytes += size;
        self.entries.push_back((entry, size));
        while self.entries.len() > self.max_entries || self.bytes > TAIL_BYTES {
            let Some((_, size)) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= size;
        }
    }
}

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn read_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::read_logs(&io_err(e)).into()
}

fn write_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::write_logs(&io_err(e)).into()
}

fn decode(bytes: &[u8]) -> Result<Entry<TypeConfig>, StorageError<NodeId>> {
    serde_json::from_slice(bytes).map_err(read_err)
}

impl LogStore {
    /// Opens the log in `wal`, forgetting what was purged. A log left in sled's `logs` tree
    /// by an earlier version is moved into the WAL first. When damaged records the snapshot
    /// covers were skipped (the WAL then starts past the purge point), the log is purged up
    /// to the snapshot, so that openraft never looks for them.
    pub fn open(
        store: Store,
        wal: Wal,
        snapshot: Option<LogId<NodeId>>,
    ) -> anyhow::Result<LogStore> {
        let log = LogStore {
            wal,
            store,
            tail: Arc::default(),
            failure: Arc::default(),
        };
        log.import_sled_log()?;
        let mut last_purged: Option<LogId<NodeId>> = log.read_meta(LAST_PURGED)?;
        let next = last_purged.map_or(0, |p| p.index + 1);
        if let (Some(first), Some(snap)) = (log.wal.first_index(), snapshot) {
            if first > next && snap.index + 1 >= first && last_purged < Some(snap) {
                tracing::warn!(target: "agent.server.raft", "the raft log now starts at record {first}: purging it up to the snapshot ({})", snap.index);
                log.write_meta(LAST_PURGED, &snap)?;
                log.store.sync_now()?;
                last_purged = Some(snap);
            }
        }
        if let Some(p) = last_purged {
            if log.wal.first_index().is_some_and(|f| f <= p.index) {
                log.wal.purge_upto(p.index)?;
            }
        }
        let last = match log.wal.last_index() {
            Some(i) => match log.wal.read(i, i + 1)?.pop() {
                Some((_, bytes)) => Some(decode(&bytes)?.log_id),
                None => last_purged,
            },
            None => last_purged,
        };
        log.lock().last = last;
        Ok(log)
    }

    /// The last record the snapshot or the purge point covers: damage up to it is harmless.
    pub fn covered(store: &Store, snapshot: Option<LogId<NodeId>>) -> anyhow::Result<Option<u64>> {
        let purged = match store.get_meta(LAST_PURGED)? {
            Some(v) => serde_json::from_slice::<Option<LogId<NodeId>>>(&v)?,
            None => None,
        };
        Ok(purged.max(snapshot).map(|l| l.index))
    }

    fn import_sled_log(&self) -> anyhow::Result<()> {
        if self.wal.last_index().is_some() {
            return Ok(());
        }
        let records = self.store.legacy_log()?;
        if records.is_empty() {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.wal.append_then(&records, move |r| {
            let _ = tx.send(r);
        })?;
        rx.recv()?.map_err(anyhow::Error::msg)?;
        self.store.clear_legacy_log()?;
        self.store.sync_now()?;
        tracing::info!(target: "agent.server.raft", "moved {} log entries into the WAL", records.len());
        Ok(())
    }

    /// Keeps no entries in memory: every read decodes records from the WAL (tests).
    #[cfg(test)]
    pub(super) fn without_tail(self) -> LogStore {
        self.lock().max_entries = 0;
        self
    }

    /// The write that failed, if one did.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records a failed write and turns it into openraft's error.
    fn failed(&self, e: impl std::fmt::Display) -> StorageError<NodeId> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| e.to_string());
        write_err(e)
    }

    fn lock(&self) -> MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        k: &[u8],
    ) -> Result<Option<T>, StorageError<NodeId>> {
        let Some(v) = self
            .store
            .get_meta(k)
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
        self.store.put_meta(k, &bytes).map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Drops entries `from..` from the tail; `last` is the log's last entry after that.
    fn forget_from(&self, from: u64, last: Option<LogId<NodeId>>) {
        let mut tail = self.lock();
        while tail
            .entries
            .back()
            .is_some_and(|(e, _)| e.log_id.index >= from)
        {
            if let Some((_, size)) = tail.entries.pop_back() {
                tail.bytes -= size;
            }
        }
        tail.last = last;
    }

    /// Makes the meta tree durable.
    async fn sync_meta(&self) -> Result<(), StorageError<NodeId>> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.sync_now())
            .await
            .map_err(|e| self.failed(e))?
            .map_err(|e| self.failed(e))
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
            Bound::Included(i) => i + 1,
            Bound::Excluded(i) => *i,
            Bound::Unbounded => u64::MAX,
        };
        // Whatever the tail holds is copied under the lock; older entries are read after it.
        let (tail_first, mut from_tail) = {
            let tail = self.lock();
            let first = tail.first_index().unwrap_or(u64::MAX);
            // The tail is consecutive: positions follow from indexes.
            let skip = usize::try_from(start.saturating_sub(first)).unwrap_or(usize::MAX);
            let take = usize::try_from(end.saturating_sub(start.max(first))).unwrap_or(usize::MAX);
            let got: Vec<Entry<TypeConfig>> = tail
                .entries
                .iter()
                .skip(skip)
                .take(take)
                .map(|(e, _)| e.clone())
                .collect();
            (first, got)
        };
        let mut out = Vec::new();
        if start < tail_first {
            let wal = self.wal.clone();
            let upto = end.min(tail_first);
            let records = tokio::task::spawn_blocking(move || wal.read(start, upto))
                .await
                .map_err(read_err)?
                .map_err(read_err)?;
            for (_, bytes) in records {
                out.push(decode(&bytes)?);
            }
        }
        out.append(&mut from_tail);
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let last_purged: Option<LogId<NodeId>> = self.read_meta(LAST_PURGED)?;
        let last = self.lock().last.or(last_purged);
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
        self.sync_meta().await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.read_meta(VOTE)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Made durable by the next meta sync; losing it only means re-applying from the snapshot.
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
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let mut records = Vec::with_capacity(entries.len());
        for e in &entries {
            let bytes = serde_json::to_vec(e).map_err(write_err)?;
            records.push((e.get_log_id().index, bytes));
        }
        // The tail gets the entries first, so a reader finds each either there or in the WAL.
        let last_before = {
            let mut tail = self.lock();
            let before = tail.last;
            for (e, (_, bytes)) in entries.into_iter().zip(&records) {
                tail.push(e, bytes.len());
            }
            before
        };
        let written = self.wal.append_then(&records, move |res| {
            callback.log_io_completed(res.map_err(io_err))
        });
        if let Err(e) = written {
            let first = records.first().map_or(0, |(i, _)| *i);
            self.forget_from(first, last_before);
            return Err(self.failed(e));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || wal.truncate_from(log_id.index))
            .await
            .map_err(|e| self.failed(e))?
            .map_err(|e| self.failed(e))?;
        // The log's last entry is whatever the WAL holds last now (the purge point if none).
        let last = match self.wal.last_index() {
            Some(i) => match self.wal.read(i, i + 1).map_err(read_err)?.pop() {
                Some((_, bytes)) => Some(decode(&bytes)?.log_id),
                None => None,
            },
            None => self.read_meta(LAST_PURGED)?,
        };
        self.forget_from(log_id.index, last);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        // The purge point is durable before any segment is deleted.
        self.write_meta(LAST_PURGED, &log_id)?;
        self.sync_meta().await?;
        {
            let mut tail = self.lock();
            while tail
                .entries
                .front()
                .is_some_and(|(e, _)| e.log_id.index <= log_id.index)
            {
                if let Some((_, size)) = tail.entries.pop_front() {
                    tail.bytes -= size;
                }
            }
            if tail.last.is_none_or(|l| l.index < log_id.index) {
                tail.last = Some(log_id);
            }
        }
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || wal.purge_upto(log_id.index))
            .await
            .map_err(|e| self.failed(e))?
            .map_err(|e| self.failed(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::entry::RaftEntry;
    use openraft::CommittedLeaderId;

    fn blank(index: u64) -> Entry<TypeConfig> {
        Entry::new_blank(LogId::new(CommittedLeaderId::new(2, 1), index))
    }

    fn indexes(entries: &[Entry<TypeConfig>]) -> Vec<u64> {
        entries.iter().map(|e| e.log_id.index).collect()
    }

    #[tokio::test]
    async fn an_older_versions_sled_log_moves_into_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 5..=7u64 {
            let bytes = serde_json::to_vec(&blank(i)).unwrap();
            store.put_legacy_log(i, bytes).unwrap();
        }
        let wal = Wal::open(&dir.path().join("wal"), None).unwrap();
        let mut log = LogStore::open(store.clone(), wal, None).unwrap();
        assert!(store.legacy_log().unwrap().is_empty());
        assert_eq!(
            indexes(&log.try_get_log_entries(0..).await.unwrap()),
            [5, 6, 7]
        );
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.map(|l| l.index), Some(7));
        drop(log);
        // Opened again: read from the WAL, nothing imported twice.
        let wal = Wal::open(&dir.path().join("wal"), None).unwrap();
        let mut log = LogStore::open(store, wal, None).unwrap();
        assert_eq!(
            indexes(&log.try_get_log_entries(6..=7).await.unwrap()),
            [6, 7]
        );
    }

    #[tokio::test]
    async fn reads_span_the_wal_and_the_tail_and_purges_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let wal = Wal::open(&dir.path().join("wal"), None).unwrap();
        let mut log = LogStore::open(store.clone(), wal.clone(), None).unwrap();
        let n = TAIL_ENTRIES as u64 + 10;
        let records: Vec<(u64, Vec<u8>)> = (1..=n)
            .map(|i| (i, serde_json::to_vec(&blank(i)).unwrap()))
            .collect();
        // Written through the WAL directly: no LogFlushed callback outside openraft.
        let (tx, rx) = std::sync::mpsc::channel();
        wal.append_then(&records, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
        rx.recv().unwrap().unwrap();
        for i in 1..=n {
            log.lock().push(blank(i), 10);
        }
        assert_eq!(log.lock().first_index(), Some(11));
        let got = log.try_get_log_entries(8..14).await.unwrap();
        assert_eq!(indexes(&got), [8, 9, 10, 11, 12, 13]);
        let all = log.try_get_log_entries(..).await.unwrap();
        assert_eq!(all.len() as u64, n);
        log.purge(LogId::new(CommittedLeaderId::new(2, 1), 100))
            .await
            .unwrap();
        drop(log);
        let wal = Wal::open(&dir.path().join("wal"), None).unwrap();
        let mut log = LogStore::open(store, wal, None).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(100));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(n));
        let first = log.try_get_log_entries(0..102).await.unwrap();
        assert_eq!(indexes(&first), [101]);
    }
}
