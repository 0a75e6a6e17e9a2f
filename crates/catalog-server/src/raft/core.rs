//! The openraft instance of this server, restarted in place when its storage fails.
//!
//! openraft stops its core for good on any storage error (a full disk, a failed fdatasync).
//! Here that is an outage of writes, not of the server: the failure is recorded (and shown by
//! `consul info`, `/v1/agent/self` and the node's storage check), reads go on from the
//! in-memory state, and a supervisor reopens the log from disk and starts a new core once the
//! disk takes writes again. The state machine is kept across restarts: it only ever holds
//! committed entries, and openraft skips the log up to what it has applied.

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::{HttpNetwork, RaftHandle};
use crate::store::Store;
use crate::wal::Wal;
use openraft::RaftMetrics;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// Raft metrics as this server's core reports them.
pub(super) type Metrics = RaftMetrics<u64, super::ServerNode>;

/// Why the server cannot take writes, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFailure {
    pub reason: String,
    pub since: std::time::SystemTime,
}

/// The running openraft instance and the log it writes; replaced whole on a restart.
struct Live {
    raft: RaftHandle,
    wal: Wal,
    log: LogStore,
}

pub struct Core {
    id: u64,
    config: Arc<openraft::Config>,
    store: Store,
    sm: StateMachine,
    wal_dir: PathBuf,
    /// How openraft reaches the peers (kept for restarts).
    network: HttpNetwork,
    live: RwLock<Live>,
    failure: Mutex<Option<StorageFailure>>,
    /// Bumped each time a new core starts: metrics watchers re-subscribe.
    generation: watch::Sender<u64>,
    stopping: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Core {
    /// Opens the log and starts the first core.
    pub async fn start(
        id: u64,
        config: Arc<openraft::Config>,
        store: Store,
        sm: StateMachine,
        wal_dir: PathBuf,
        network: HttpNetwork,
    ) -> anyhow::Result<Arc<Core>> {
        let covered = LogStore::covered(&store, sm.snapshot_log_id().await)?;
        let wal = Wal::open(&wal_dir, covered)?;
        let log = LogStore::open(store.clone(), wal.clone(), sm.snapshot_log_id().await)?;
        let raft =
            RaftHandle::new(id, config.clone(), network.clone(), log.clone(), sm.clone()).await?;
        let (generation, _) = watch::channel(0);
        let core = Arc::new(Core {
            id,
            config,
            store,
            sm,
            wal_dir,
            network,
            live: RwLock::new(Live { raft, wal, log }),
            failure: Mutex::new(None),
            generation,
            stopping: Default::default(),
        });
        tokio::spawn(supervise(Arc::downgrade(&core)));
        Ok(core)
    }

    /// The current openraft handle.
    pub fn raft(&self) -> RaftHandle {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .raft
            .clone()
    }

    /// The current log.
    pub fn wal(&self) -> Wal {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .wal
            .clone()
    }

    /// The storage error that stopped the current core, in words, if one did.
    pub fn stop_reason(&self) -> Option<String> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.wal.failure().or_else(|| live.log.failure())
    }

    /// Why writes are impossible now, if they are.
    pub fn failure(&self) -> Option<StorageFailure> {
        lock(&self.failure).clone()
    }

    /// Why the last snapshot could not be written, while it could not.
    pub fn snapshot_failure(&self) -> Option<String> {
        self.sm.snapshot_failure()
    }

    /// The current core's metrics.
    pub fn metrics(&self) -> Metrics {
        self.raft().metrics().borrow().clone()
    }

    /// The current core's metrics channel, to borrow from without copying.
    pub fn metrics_rx(&self) -> watch::Receiver<Metrics> {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .raft
            .metrics()
    }

    /// Follows the metrics across core restarts.
    pub fn watch(self: &Arc<Self>) -> StatusWatch {
        StatusWatch {
            rx: self.raft().metrics(),
            generation: self.generation.subscribe(),
            core: self.clone(),
        }
    }

    /// Stops the core for good (agent shutdown).
    pub async fn shutdown(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.raft().shutdown().await;
    }

    fn record_failure(&self, reason: String) {
        let mut f = lock(&self.failure);
        if f.is_none() {
            tracing::error!(target: "agent.server.raft", "raft storage failed, writes are refused until it recovers: {reason}");
            *f = Some(StorageFailure {
                reason,
                since: std::time::SystemTime::now(),
            });
        }
    }

    /// Reopens the log from disk and starts a new core in place of the stopped one.
    async fn restart(&self) -> anyhow::Result<()> {
        let old = self.wal();
        let covered = LogStore::covered(&self.store, self.sm.snapshot_log_id().await)?;
        let wal_dir = self.wal_dir.clone();
        // Opening scans the segments: blocking work.
        let wal = tokio::task::spawn_blocking(move || {
            probe_disk(&wal_dir)?;
            old.recover(covered).map_err(anyhow::Error::from)
        })
        .await??;
        let log = LogStore::open(
            self.store.clone(),
            wal.clone(),
            self.sm.snapshot_log_id().await,
        )?;
        let raft = RaftHandle::new(
            self.id,
            self.config.clone(),
            self.network.clone(),
            log.clone(),
            self.sm.clone(),
        )
        .await?;
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Live { raft, wal, log };
        self.generation.send_modify(|g| *g += 1);
        Ok(())
    }
}

/// A reason the disk cannot take writes now: a small file must be written and synced.
fn probe_disk(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let path = dir.join(".probe");
    let res = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&[0u8; 64 * 1024])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    res.map_err(|e| anyhow::anyhow!("the data dir does not take writes yet: {e}"))
}

/// The reason a core stopped, as its metrics tell.
fn stopped_reason(m: &Metrics) -> Option<String> {
    m.running_state
        .as_ref()
        .err()
        .map(|fatal| fatal.to_string())
}

/// Waits for the core to stop on a storage failure, then restarts it once the disk allows,
/// with a growing pause between attempts.
async fn supervise(core: std::sync::Weak<Core>) {
    loop {
        let Some(c) = core.upgrade() else { return };
        let mut rx = c.raft().metrics();
        drop(c);
        let reason = loop {
            if let Some(r) = stopped_reason(&rx.borrow()) {
                break r;
            }
            if rx.changed().await.is_err() {
                break "the raft core stopped".to_string();
            }
        };
        let Some(c) = core.upgrade() else { return };
        if c.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let reason = c.stop_reason().unwrap_or(reason);
        c.record_failure(reason);
        drop(c);
        let mut pause = Duration::from_millis(500);
        loop {
            tokio::time::sleep(pause).await;
            let Some(c) = core.upgrade() else { return };
            if c.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let raft = c.raft();
            if raft.metrics().borrow().running_state.is_ok() {
                let _ = raft.shutdown().await;
            }
            match c.restart().await {
                Ok(()) => {
                    tracing::info!(target: "agent.server.raft", "raft storage recovered: writes are accepted again");
                    *lock(&c.failure) = None;
                    break;
                }
                Err(e) => {
                    tracing::debug!(target: "agent.server.raft", "raft storage still failing: {e}");
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Raft status followed across core restarts.
pub struct StatusWatch {
    core: Arc<Core>,
    rx: watch::Receiver<Metrics>,
    generation: watch::Receiver<u64>,
}

impl StatusWatch {
    /// What the member knows now.
    pub fn current(&self) -> super::Status {
        super::Status::of(&self.rx.borrow())
    }

    /// Waits for the next change; false once the node stopped for good.
    pub async fn changed(&mut self) -> bool {
        tokio::select! {
            r = self.rx.changed() => {
                if r.is_ok() {
                    return true;
                }
            }
            r = self.generation.changed() => {
                if r.is_err() {
                    return false;
                }
                self.rx = self.core.raft().metrics();
                return true;
            }
        }
        // The core stopped: wait for its replacement.
        if self.core.stopping.load(std::sync::atomic::Ordering::SeqCst)
            || self.generation.changed().await.is_err()
        {
            return false;
        }
        self.rx = self.core.raft().metrics();
        true
    }
}
