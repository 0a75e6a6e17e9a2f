//! A client agent's own state: its node, services and checks, kept in a catalog of its own
//! (the same `State` and commands a server applies through Raft, applied here directly) and
//! persisted in the data dir, so a restart keeps what was registered through the API. The
//! anti-entropy loop (`anti_entropy.rs`) copies it to the servers.
//!
//! The file is `local-state.json`: a CRC-32 line, then the state as JSON; written to a
//! temporary file, synced, and renamed over the old one. A file whose checksum does not match
//! is refused at start (the agent does not silently forget its registrations).

use crate::blocking::Catalog;
use crate::catalog::{Command, Reply, Request, State};
use crate::raft::WriteError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::Notify;

const FILE: &str = "local-state.json";

/// Why the persisted state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LocalStateError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({why}); move it away to start with no local services and checks")]
    Damaged { path: String, why: String },
}

/// The client's own catalog.
pub struct LocalNode {
    catalog: Catalog,
    /// The index of the last local change (the local catalog's own counter).
    index: Mutex<u64>,
    /// The index of the state last written to `file` (saves are serialised by this lock).
    saved: Mutex<u64>,
    file: Option<PathBuf>,
    changed: Notify,
}

impl LocalNode {
    /// The state persisted in `data_dir` (none for `-dev`), or an empty one.
    pub fn open(data_dir: Option<&Path>) -> Result<LocalNode, LocalStateError> {
        let file = data_dir.map(|d| d.join(FILE));
        let state = match &file {
            Some(path) => load(path)?,
            None => State::default(),
        };
        let index = state.last_index();
        Ok(LocalNode {
            catalog: Catalog::new(state),
            index: Mutex::new(index),
            saved: Mutex::new(index),
            file,
            changed: Notify::new(),
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Applies `cmd` to the local state, persists it, and wakes anti-entropy.
    pub fn apply(&self, cmd: Command) -> Result<Reply, WriteError> {
        let (reply, touched, bytes) = {
            let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            let mut state = self
                .catalog
                .state
                .write()
                .unwrap_or_else(|p| p.into_inner());
            *index += 1;
            let req = Request {
                now_ms: crate::raft::now_ms(),
                cmd,
            };
            let (reply, touched) = state.apply(*index, &req);
            let bytes = match (&reply, &self.file) {
                (Ok(_), Some(_)) => serde_json::to_vec(&*state).ok().map(|b| (*index, b)),
                _ => None,
            };
            (reply, touched, bytes)
        };
        self.catalog.notifier.notify(touched);
        if reply.is_ok() {
            self.changed.notify_one();
        }
        if let (Some((at, bytes)), Some(path)) = (bytes, &self.file) {
            // One save at a time, never an older state over a newer one (which holds this
            // change too). Not acknowledged unless it would survive a restart (it is held in
            // memory and synced to the servers meanwhile; the next successful write persists it).
            let mut saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
            if *saved >= at {
                return Ok(reply?);
            }
            if let Err(e) = save(path, &bytes) {
                tracing::error!(target: "agent", "failed to persist local services and checks: {}: {e}", path.display());
                return Err(WriteError::Storage(format!("{}: {e}", path.display())));
            }
            *saved = at;
        }
        Ok(reply?)
    }

    /// Resolves at the next local change (or at once if one happened since the last call).
    pub async fn changed(&self) {
        self.changed.notified().await
    }
}

fn load(path: &Path) -> Result<State, LocalStateError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(source) => {
            return Err(LocalStateError::Read {
                path: path.display().to_string(),
                source,
            })
        }
    };
    let damaged = |why: String| LocalStateError::Damaged {
        path: path.display().to_string(),
        why,
    };
    let split = text
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| damaged("no checksum line".into()))?;
    let (head, body) = (&text[..split], &text[split + 1..]);
    let want = std::str::from_utf8(head)
        .ok()
        .and_then(|h| h.strip_prefix("crc32 "))
        .and_then(|h| u32::from_str_radix(h.trim(), 16).ok())
        .ok_or_else(|| damaged("no checksum line".into()))?;
    let have = crc32fast::hash(body);
    if have != want {
        return Err(damaged(format!("checksum {have:08x}, expected {want:08x}")));
    }
    let mut state: State = serde_json::from_slice(body).map_err(|e| damaged(e.to_string()))?;
    state.reindex();
    Ok(state)
}

fn save(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "crc32 {:08x}", crc32fast::hash(body))?;
        f.write_all(body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::NodeRecord;

    fn node(name: &str) -> Command {
        Command::RegisterNode {
            node: NodeRecord {
                node: name.into(),
                address: "127.0.0.9".into(),
                ..Default::default()
            },
            skip_node_update: false,
        }
    }

    #[test]
    fn state_survives_a_reopen_and_damage_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = LocalNode::open(Some(dir.path())).expect("open");
        local.apply(node("client-1")).expect("apply");
        drop(local);
        let again = LocalNode::open(Some(dir.path())).expect("reopen");
        assert!(again.catalog().read(|s| s.has_node("client-1")));
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).expect("write");
        let err = LocalNode::open(Some(dir.path())).err().expect("refused");
        assert!(err.to_string().contains("is damaged"), "{err}");
    }

    /// Writes from several threads at once (an API call beside a check runner) are all
    /// acknowledged, and the file holds every one of them.
    #[test]
    fn concurrent_writes_all_persist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = std::sync::Arc::new(LocalNode::open(Some(dir.path())).expect("open"));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let local = local.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        local
                            .apply(node(&format!("n-{t}-{i}")))
                            .expect("acknowledged");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        drop(local);
        let again = LocalNode::open(Some(dir.path())).expect("reopen");
        for t in 0..8 {
            for i in 0..25 {
                let name = format!("n-{t}-{i}");
                assert!(again.catalog().read(|s| s.has_node(&name)), "{name}");
            }
        }
    }
}
