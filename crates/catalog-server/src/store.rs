//! The only module that names sled. Holds the vote, committed index and purge point under
//! `<data-dir>/raft`, and the latest state-machine snapshot beside them in `snapshot.bin`, and
//! makes them durable. The Raft log itself lives in [`crate::wal`]; the `logs` tree is only read
//! to move an older version's log there.
//!
//! The snapshot is its own file, written to a temporary name, fdatasync'd and renamed over the
//! previous one: sled would store a value that large as a blob file, written without any sync.
//!
//! Durability: sled 0.34's `flush()` ends in `sync_file_range`, which neither flushes the
//! drive's cache nor file metadata (spacejam/sled#1452). After every flush we therefore call
//! `fdatasync` on sled's data file ourselves. Segments are sized so that no snapshot chunk
//! becomes a sled blob file, which sled writes without any sync.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// The sled database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The Raft log of versions before the WAL.
    pub logs: sled::Tree,
    pub meta: sled::Tree,
    data_file: Arc<File>,
    dir: PathBuf,
}

/// A snapshot's metadata and data, as stored.
pub type SnapshotBytes = (Vec<u8>, Vec<u8>);

const SNAPSHOT_FILE: &str = "snapshot.bin";
/// Where versions before `snapshot.bin` kept the snapshot, in the meta tree.
const LEGACY_SNAP_META: &[u8] = b"snapshot_meta";
const LEGACY_SNAP_DATA: &[u8] = b"snapshot_data";

impl Store {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .segment_size(8 * 1024 * 1024)
            .cache_capacity(64 * 1024 * 1024)
            // Every write that matters is flushed and fdatasync'd by us; sled's own 500ms
            // flusher would only add idle disk traffic.
            .flush_every_ms(None)
            .open()?;
        let logs = db.open_tree("logs")?;
        let meta = db.open_tree("meta")?;
        let data_file = Arc::new(File::open(dir.join("db"))?);
        Ok(Store {
            db,
            logs,
            meta,
            data_file,
            dir: dir.to_path_buf(),
        })
    }

    /// Replaces the current snapshot (its metadata and its data) durably.
    pub fn save_snapshot(&self, meta: &[u8], data: &[u8]) -> Result<(), StoreError> {
        let tmp = self.dir.join("snapshot.bin.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&(meta.len() as u64).to_le_bytes())?;
        f.write_all(meta)?;
        f.write_all(data)?;
        f.sync_data()?;
        drop(f);
        std::fs::rename(&tmp, self.dir.join(SNAPSHOT_FILE))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// The current snapshot's metadata and data, if there is one.
    pub fn load_snapshot(&self) -> Result<Option<SnapshotBytes>, StoreError> {
        let mut bytes = match std::fs::read(self.dir.join(SNAPSHOT_FILE)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let meta = self.meta.get(LEGACY_SNAP_META)?;
                let data = self.meta.get(LEGACY_SNAP_DATA)?;
                return Ok(meta.zip(data).map(|(m, d)| (m.to_vec(), d.to_vec())));
            }
            Err(e) => return Err(e.into()),
        };
        let corrupt = || StoreError::Corrupt(format!("{SNAPSHOT_FILE} is truncated"));
        let mut len = [0u8; 8];
        len.copy_from_slice(bytes.get(..8).ok_or_else(corrupt)?);
        let meta_end = usize::try_from(u64::from_le_bytes(len))
            .ok()
            .and_then(|n| n.checked_add(8))
            .filter(|end| *end <= bytes.len())
            .ok_or_else(corrupt)?;
        let data = bytes.split_off(meta_end);
        Ok(Some((bytes.split_off(8), data)))
    }

    /// Flushes sled and fdatasyncs its data file, now, on this thread.
    pub fn sync_now(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.data_file.sync_data()?;
        Ok(())
    }
}
