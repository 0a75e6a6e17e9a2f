//! The only module that names sled. Holds the vote, committed index and purge point under
//! `<data-dir>/raft`, and the latest state-machine snapshot beside them in `snapshot.bin`, and
//! makes them durable. The Raft log itself lives in [`crate::wal`]; the `logs` tree is only read
//! to move an older version's log there.
//!
//! The snapshot is its own file, written to a temporary name, fdatasync'd and renamed over the
//! previous one: sled would store a value that large as a blob file, written without any sync.
//!
//! Every byte is checked on the way back: the snapshot file is framed with a CRC
//! ([`snapshot_file`]) and every meta value carries its own CRC besides sled's.
//!
//! Durability: sled 0.34's `flush()` ends in `sync_file_range`, which neither flushes the
//! drive's cache nor file metadata (spacejam/sled#1452). After every flush we therefore call
//! `fdatasync` on sled's data file ourselves. Segments are sized so that no snapshot chunk
//! becomes a sled blob file, which sled writes without any sync.

pub mod snapshot_file;

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
    #[error("{0}")]
    Corrupt(String),
}

/// The sled database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The Raft log of versions before the WAL.
    logs: sled::Tree,
    meta: sled::Tree,
    data_file: Arc<File>,
    dir: PathBuf,
}

/// A snapshot's metadata and data, as stored.
pub type SnapshotBytes = (Vec<u8>, Vec<u8>);

const SNAPSHOT_FILE: &str = "snapshot.bin";
/// The node ID this store belongs to.
const OWNER: &[u8] = b"node_id";
const SNAPSHOT_TMP: &str = "snapshot.bin.tmp";
/// First byte of a checksummed meta value.
const META_TAG: u8 = 0xC5;

/// What an operator does about a damaged file in the Raft directory.
pub const REBUILD_ADVICE: &str = "This server's Raft data cannot be trusted. In a cluster: stop \
this server, run `consul force-leave <node>` on another server, move this data dir's `raft` \
directory aside and start it again to rejoin empty; it receives the state from the leader. A \
single server: restore the last `consul snapshot save` archive into a fresh data dir with \
`consul snapshot restore`.";

/// Removes what an interrupted snapshot left: our half-written copy and sled's unfinished
/// snapshot files (sled refuses to start with an empty one).
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let leftover =
            name == SNAPSHOT_TMP || (name.starts_with("snap.") && name.ends_with(".generating"));
        if leftover {
            match std::fs::remove_file(e.path()) {
                Ok(()) => {
                    tracing::warn!(target: "agent.server.raft", "removed {} left by an interrupted snapshot", e.path().display())
                }
                Err(err) => {
                    tracing::warn!(target: "agent.server.raft", "cannot remove {}: {err}", e.path().display())
                }
            }
        }
    }
}
/// sled's segment size for a new store. sled zeroes every segment its last snapshot does not
/// use when it opens, filling the holes of a half-written one: a small segment keeps the space
/// a restart needs small (8 MiB segments made a restart with 4 MiB free fail with ENOSPC).
const SEGMENT_SIZE: usize = 512 * 1024;

/// The segment size `dir`'s store was made with (sled refuses to open with another one), or
/// [`SEGMENT_SIZE`] for a new store. Stores made before 512 KiB use 8 MiB.
fn segment_size(dir: &Path) -> usize {
    let Ok(conf) = std::fs::read(dir.join("conf")) else {
        return SEGMENT_SIZE;
    };
    String::from_utf8_lossy(&conf)
        .lines()
        .find_map(|l| l.strip_prefix("segment_size: ")?.trim().parse().ok())
        .unwrap_or(SEGMENT_SIZE)
}

/// Where versions before `snapshot.bin` kept the snapshot, in the meta tree.
const LEGACY_SNAP_META: &[u8] = b"snapshot_meta";
const LEGACY_SNAP_DATA: &[u8] = b"snapshot_data";

impl Store {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        remove_leftovers(dir);
        let db = sled::Config::new()
            .path(dir)
            .segment_size(segment_size(dir))
            .cache_capacity(64 * 1024 * 1024)
            // Every write that matters is flushed and fdatasync'd by us; sled's own 500ms
            // flusher would only add idle disk traffic.
            .flush_every_ms(None)
            .open()
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "cannot open the raft metadata store in {}: {e}",
                    dir.display()
                ))
            })?;
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
        let tmp = self.dir.join(SNAPSHOT_TMP);
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(&snapshot_file::header(meta, data))?;
            f.write_all(meta)?;
            f.write_all(data)?;
            f.sync_data()?;
            drop(f);
            std::fs::rename(&tmp, self.dir.join(SNAPSHOT_FILE))?;
            File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            // A half-written copy only takes the space that is missing.
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(written?)
    }

    /// The current snapshot's metadata and data, if there is one; a damaged file is an error
    /// naming it. A file of an earlier version (no checksum) is rewritten with one.
    pub fn load_snapshot(&self) -> Result<Option<SnapshotBytes>, StoreError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let meta = self.meta.get(LEGACY_SNAP_META)?;
                let data = self.meta.get(LEGACY_SNAP_DATA)?;
                return Ok(meta.zip(data).map(|(m, d)| (m.to_vec(), d.to_vec())));
            }
            Err(e) => return Err(e.into()),
        };
        let decoded = snapshot_file::decode(bytes).map_err(|damage| {
            StoreError::Corrupt(format!(
                "the raft snapshot {} is damaged: {damage}. {}",
                path.display(),
                REBUILD_ADVICE
            ))
        })?;
        if decoded.legacy {
            match self.save_snapshot(&decoded.meta, &decoded.data) {
                Ok(()) => {
                    tracing::info!(target: "agent.server.raft", "rewrote {} with a checksum", path.display())
                }
                Err(e) => {
                    tracing::warn!(target: "agent.server.raft", "could not rewrite {} with a checksum: {e}", path.display())
                }
            }
        }
        Ok(Some((decoded.meta, decoded.data)))
    }

    /// Reads meta value `key`, checking its checksum; values of earlier versions carry none.
    pub fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(v) = self.meta.get(key)? else {
            return Ok(None);
        };
        match v.split_first() {
            Some((&META_TAG, rest)) if rest.len() >= 4 => {
                let mut stored = [0u8; 4];
                stored.copy_from_slice(&rest[..4]);
                let value = &rest[4..];
                if u32::from_le_bytes(stored) != crc32fast::hash(value) {
                    return Err(StoreError::Corrupt(format!(
                        "the raft metadata store in {} is damaged: value {:?} fails its checksum. {}",
                        self.dir.display(),
                        String::from_utf8_lossy(key),
                        REBUILD_ADVICE
                    )));
                }
                Ok(Some(value.to_vec()))
            }
            // Earlier versions stored bare JSON, which never starts with the tag byte.
            Some((first, _)) if first.is_ascii() => Ok(Some(v.to_vec())),
            _ => Err(StoreError::Corrupt(format!(
                "the raft metadata store in {} is damaged: value {:?} is not a record. {}",
                self.dir.display(),
                String::from_utf8_lossy(key),
                REBUILD_ADVICE
            ))),
        }
    }

    /// Writes meta value `key` with its checksum (durable at the next [`Store::sync_now`]).
    pub fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut framed = Vec::with_capacity(value.len() + 5);
        framed.push(META_TAG);
        framed.extend_from_slice(&crc32fast::hash(value).to_le_bytes());
        framed.extend_from_slice(value);
        self.meta.insert(key, framed)?;
        Ok(())
    }

    /// Checks that this store belongs to node `node_id` (recording it on first use): a
    /// damaged `node-id` file must not give the server another identity.
    pub fn check_owner(&self, node_id: &str, node_id_file: &Path) -> Result<(), StoreError> {
        match self.get_meta(OWNER)? {
            Some(owner) if owner != node_id.as_bytes() => Err(StoreError::Corrupt(format!(
                "this data dir's Raft store belongs to node ID {} but the node ID is now {node_id}: \
                 if {} was edited or damaged, write {} back into it; a node ID cannot change \
                 on an existing data dir",
                String::from_utf8_lossy(&owner),
                node_id_file.display(),
                String::from_utf8_lossy(&owner),
            ))),
            Some(_) => Ok(()),
            None => {
                self.put_meta(OWNER, node_id.as_bytes())?;
                self.sync_now()
            }
        }
    }

    /// Flushes sled and fdatasyncs its data file, now, on this thread.
    /// The Raft log an older version kept here (before the WAL), by index.
    pub fn legacy_log(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut records = Vec::new();
        for item in self.logs.iter() {
            let (k, v) = item?;
            let mut key = [0u8; 8];
            if k.len() == 8 {
                key.copy_from_slice(&k);
            }
            records.push((u64::from_be_bytes(key), v.to_vec()));
        }
        Ok(records)
    }

    /// Forgets the legacy log once the WAL holds it.
    pub fn clear_legacy_log(&self) -> Result<(), StoreError> {
        Ok(self.logs.clear()?)
    }

    /// Writes a legacy log record, as an older version did (tests).
    #[cfg(test)]
    pub fn put_legacy_log(&self, index: u64, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.logs.insert(index.to_be_bytes(), bytes)?;
        Ok(())
    }

    pub fn sync_now(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.data_file.sync_data()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_made_with_8_mib_segments_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let old = sled::Config::new()
            .path(dir.path())
            .segment_size(8 * 1024 * 1024)
            .open()
            .unwrap();
        old.open_tree("meta").unwrap().insert("k", "v").unwrap();
        old.flush().unwrap();
        drop(old);
        assert_eq!(segment_size(dir.path()), 8 * 1024 * 1024);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.meta.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn a_new_store_uses_small_segments() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        assert_eq!(segment_size(dir.path()), SEGMENT_SIZE);
    }
}
