//! The only module that names sled. Holds the Raft log, vote, committed index and the latest
//! state-machine snapshot under `<data-dir>/raft`, and makes writes durable.
//!
//! Durability: sled 0.34's `flush()` ends in `sync_file_range`, which neither flushes the
//! drive's cache nor file metadata (spacejam/sled#1452). After every flush we therefore call
//! `fdatasync` on sled's data file ourselves. Concurrent writers share one sync: a syncer
//! thread takes every request queued while the previous sync ran and covers them all with one
//! flush + fdatasync (group commit). Segments are sized so that no Raft entry (values are capped
//! at 512 KiB) becomes a sled blob file, which sled writes without any sync.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage: corrupt record: {0}")]
    Corrupt(String),
}

type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The sled database and its syncer.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    pub logs: sled::Tree,
    pub meta: sled::Tree,
    sync_tx: mpsc::Sender<Done>,
    inner: Arc<Inner>,
}

struct Inner {
    data_file: File,
    syncs: AtomicU64,
    synced_requests: AtomicU64,
}

impl Store {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .segment_size(8 * 1024 * 1024)
            .cache_capacity(64 * 1024 * 1024)
            // Every write is flushed and fdatasync'd by us; sled's own 500ms flusher would only
            // add idle disk traffic.
            .flush_every_ms(None)
            .open()?;
        let logs = db.open_tree("logs")?;
        let meta = db.open_tree("meta")?;
        let data_file = File::open(data_file_path(dir))?;
        let inner = Arc::new(Inner {
            data_file,
            syncs: AtomicU64::new(0),
            synced_requests: AtomicU64::new(0),
        });
        let (sync_tx, rx) = mpsc::channel::<Done>();
        let syncer_db = db.clone();
        let syncer_inner = inner.clone();
        std::thread::Builder::new()
            .name("store-sync".into())
            .spawn(move || syncer(syncer_db, syncer_inner, rx))?;
        Ok(Store {
            db,
            logs,
            meta,
            sync_tx,
            inner,
        })
    }

    /// Flushes sled and fdatasyncs its data file, now, on this thread.
    pub fn sync_now(&self) -> Result<(), StoreError> {
        durable(&self.db, &self.inner)?;
        Ok(())
    }

    /// Queues `done` to run once everything written so far is durable; one sync covers every
    /// request queued while the previous one ran.
    pub fn sync_then(&self, done: impl FnOnce(Result<(), String>) + Send + 'static) {
        if let Err(mpsc::SendError(done)) = self.sync_tx.send(Box::new(done)) {
            done(Err("store syncer stopped".to_string()));
        }
    }

    /// (number of fdatasyncs, number of write batches they covered).
    pub fn sync_stats(&self) -> (u64, u64) {
        (
            self.inner.syncs.load(Ordering::Relaxed),
            self.inner.synced_requests.load(Ordering::Relaxed),
        )
    }

    /// Size on disk of the store, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

fn data_file_path(dir: &Path) -> PathBuf {
    dir.join("db")
}

fn durable(db: &sled::Db, inner: &Inner) -> Result<(), StoreError> {
    db.flush()?;
    inner.data_file.sync_data()?;
    inner.syncs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn syncer(db: sled::Db, inner: Arc<Inner>, rx: mpsc::Receiver<Done>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let res = durable(&db, &inner).map_err(|e| e.to_string());
        if let Err(e) = &res {
            tracing::error!(target: "agent.server.raft", "failed to sync raft log: {e}");
        }
        inner
            .synced_requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for done in batch {
            done(res.clone());
        }
    }
}
