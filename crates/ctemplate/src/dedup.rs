//! De-duplication mode (upstream's `-dedup` / `deduplicate {}`): many instances rendering the
//! same template share one set of watches.
//!
//! Each instance holds one Consul session (`Consul-Template de-duplication`, behavior
//! `delete`, the configured TTL, lock delay 1ms) renewed every TTL/2. For every template it
//! tries to lock `<prefix>/<template ID>/data` (Consul's lock protocol: the key carries
//! [`LOCK_FLAG_VALUE`] in its flags, acquiring writes `__NO_DATA__`). The holder — the
//! template's leader — watches the template's dependencies and, after each complete
//! execution, stores their data in that key ([`Dedup::update`]); the others block on the key
//! and render from what the leader stored ([`DedupEvent::Data`]). A leader that stops
//! destroys its session; one that dies loses it when the TTL runs out; either way Consul
//! deletes the key and another instance takes the lock.
//!
//! The stored data is this implementation's own format ([`Payload`]: JSON carrying a format
//! marker and the version, each dependency's raw Consul answer keyed by the dependency's
//! string), not upstream's gob: data in another format or from another version is ignored
//! with a warning, as upstream ignores another version's. A group must run one
//! implementation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_types::client::{Client, ClientError, KvPutOptions, QueryOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::Dedup as DedupConfig;

/// Consul's `api.LockFlagValue`: the flags of a key used as a lock.
pub const LOCK_FLAG_VALUE: u64 = 0x2ddc_cbc0_58a5_0c18;
/// What acquiring the lock writes (upstream's `templateNoData`).
pub const NO_DATA: &[u8] = b"__NO_DATA__";
/// The format marker of [`Payload`].
pub const FORMAT: &str = "ctemplate-dedup-json";
/// The version stored with the data; data from another version is ignored.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The session's name.
pub const SESSION_NAME: &str = "Consul-Template de-duplication";

const SESSION_CREATE_RETRY: Duration = Duration::from_secs(15);
const LOCK_RETRY: Duration = Duration::from_secs(10);
const LIST_RETRY: Duration = Duration::from_secs(10);
const LOCK_WAIT: Duration = Duration::from_secs(15);
/// Go client's `DefaultLockRetryTime`: wait after an acquire lost to a lock delay.
const LOCK_DELAY_RETRY: Duration = Duration::from_secs(5);
const MONITOR_RETRIES: u32 = 3;
const MONITOR_RETRY_TIME: Duration = Duration::from_secs(3);

/// The value of a data key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// Always [`FORMAT`].
    #[serde(rename = "Format")]
    pub format: String,
    /// The writer's [`VERSION`].
    #[serde(rename = "Version")]
    pub version: String,
    /// Dependency string (`kv.block(a)`, `health.service(web|passing)`) → raw Consul answer
    /// (a file's text as a string).
    #[serde(rename = "Data")]
    pub data: BTreeMap<String, J>,
}

impl Payload {
    /// This version's payload around `data`.
    pub fn new(data: BTreeMap<String, J>) -> Payload {
        Payload {
            format: FORMAT.to_string(),
            version: VERSION.to_string(),
            data,
        }
    }
}

/// Why stored data was not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// Not this implementation's format (e.g. a Go consul-template's gob).
    #[error("not in this consul-template's format ({FORMAT}); a de-duplication group must run one implementation")]
    Format,
    /// Written by another version.
    #[error("created with different version ({0} vs {VERSION})")]
    Version(String),
}

/// Reads a data key's value.
pub fn decode_payload(raw: &[u8]) -> Result<Payload, PayloadError> {
    let p: Payload = serde_json::from_slice(raw).map_err(|_| PayloadError::Format)?;
    if p.format != FORMAT {
        return Err(PayloadError::Format);
    }
    if p.version != VERSION {
        return Err(PayloadError::Version(p.version));
    }
    Ok(p)
}

/// What the manager tells the runner.
#[derive(Debug)]
pub enum DedupEvent {
    /// This instance acquired (`true`) or lost the lock of template number `template`.
    Leader {
        /// Template index.
        template: usize,
        /// Whether this instance leads it now.
        leader: bool,
    },
    /// The leader stored new data for template number `template`.
    Data {
        /// Template index.
        template: usize,
        /// Dependency string → raw answer.
        data: BTreeMap<String, J>,
    },
}

/// The running manager; [`Dedup::stop`] releases the session.
pub struct Dedup {
    keys: Vec<String>,
    stop_tx: watch::Sender<bool>,
    session_task: Option<JoinHandle<()>>,
    data_tasks: Vec<JoinHandle<()>>,
    writer: mpsc::UnboundedSender<(usize, Vec<u8>)>,
    writer_task: JoinHandle<()>,
    last_write: Arc<Mutex<Vec<Option<Vec<u8>>>>>,
}

struct Shared {
    client: Client,
    cfg: DedupConfig,
    ids: Vec<String>,
    keys: Vec<String>,
    leaders: Vec<watch::Sender<bool>>,
    events: mpsc::UnboundedSender<DedupEvent>,
}

impl Shared {
    fn set_leader(&self, i: usize, leader: bool) {
        if *self.leaders[i].borrow() == leader {
            return;
        }
        self.leaders[i].send_replace(leader);
        let _ = self.events.send(DedupEvent::Leader {
            template: i,
            leader,
        });
    }
}

/// Upstream's `Template.ID()`: `hex(sha256(source + "\0" + contents + "\0" + destination))`,
/// the source as configured (empty for inline contents).
pub fn template_id(source: &str, contents: &str, destination: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(source.as_bytes());
    h.update([0u8]);
    h.update(contents.as_bytes());
    h.update([0u8]);
    h.update(destination.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `path.Join(prefix, id, "data")`.
pub fn data_key(prefix: &str, id: &str) -> String {
    let mut parts: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    parts.push(id);
    parts.push("data");
    parts.join("/")
}

impl Dedup {
    /// Starts the manager for templates with these IDs (in template order).
    pub fn start(
        client: Client,
        cfg: DedupConfig,
        ids: Vec<String>,
    ) -> (Dedup, mpsc::UnboundedReceiver<DedupEvent>) {
        crate::info!("(dedup) starting de-duplication manager");
        let (events, rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(false);
        let keys: Vec<String> = ids.iter().map(|id| data_key(&cfg.prefix, id)).collect();
        let shared = Arc::new(Shared {
            client,
            cfg,
            ids,
            keys: keys.clone(),
            leaders: keys.iter().map(|_| watch::channel(false).0).collect(),
            events,
        });
        let session_task = tokio::spawn(session_loop(shared.clone(), stop_rx.clone()));
        let data_tasks = (0..keys.len())
            .map(|i| tokio::spawn(watch_template(shared.clone(), i, stop_rx.clone())))
            .collect();
        let last_write = Arc::new(Mutex::new(vec![None; keys.len()]));
        let (writer, writes) = mpsc::unbounded_channel();
        let writer_task = tokio::spawn(write_loop(shared, writes, last_write.clone()));
        (
            Dedup {
                keys,
                stop_tx,
                session_task: Some(session_task),
                data_tasks,
                writer,
                writer_task,
                last_write,
            },
            rx,
        )
    }

    /// Stores the data of template `i`'s dependencies (the leader's part), unless the key
    /// already holds exactly that.
    pub fn update(&self, i: usize, data: BTreeMap<String, J>) {
        let Some(key) = self.keys.get(i) else {
            return;
        };
        let bytes = match serde_json::to_vec(&Payload::new(data)) {
            Ok(b) => b,
            Err(e) => {
                crate::error!(
                    "(runner) failed to update dependency data for de-duplication: encode failed: {e}"
                );
                return;
            }
        };
        if let Ok(mut last) = self.last_write.lock() {
            if last[i].as_deref() == Some(bytes.as_slice()) {
                crate::info!("(dedup) de-duplicate data '{key}' already current");
                return;
            }
            last[i] = Some(bytes.clone());
        }
        let _ = self.writer.send((i, bytes));
    }

    /// Forgets what was written for template `i` (leadership lost).
    pub fn forget(&self, i: usize) {
        if let Ok(mut last) = self.last_write.lock() {
            if let Some(slot) = last.get_mut(i) {
                *slot = None;
            }
        }
    }

    /// Stops every task and destroys the session (Consul then deletes the keys it held).
    pub async fn stop(mut self) {
        crate::info!("(dedup) stopping de-duplication manager");
        let _ = self.stop_tx.send(true);
        if let Some(task) = self.session_task.take() {
            if tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
            {
                crate::warn!("(dedup) the session was not released in time");
            }
        }
    }
}

impl Drop for Dedup {
    fn drop(&mut self) {
        let _ = self.stop_tx.send(true);
        for t in &self.data_tasks {
            t.abort();
        }
        self.writer_task.abort();
        if let Some(t) = &self.session_task {
            t.abort();
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps `d`; `false` when stopped first.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stopped(stop) => false,
    }
}

async fn write_loop(
    shared: Arc<Shared>,
    mut writes: mpsc::UnboundedReceiver<(usize, Vec<u8>)>,
    last_write: Arc<Mutex<Vec<Option<Vec<u8>>>>>,
) {
    while let Some((i, bytes)) = writes.recv().await {
        let key = &shared.keys[i];
        let opts = KvPutOptions {
            flags: Some(LOCK_FLAG_VALUE),
            ..Default::default()
        };
        match shared.client.kv_put(key, &bytes, &opts).await {
            Ok(_) => crate::info!("(dedup) updated de-duplicate data '{key}'"),
            Err(e) => {
                crate::error!(
                    "(runner) failed to update dependency data for de-duplication: failed to write '{key}': {e}"
                );
                if let Ok(mut last) = last_write.lock() {
                    last[i] = None;
                }
            }
        }
    }
}

/// Creates the session, keeps it alive and runs the lock attempts while it lives; a lost
/// session is created again after 15s.
async fn session_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        crate::info!("(dedup) attempting to create session");
        let ttl = shared.cfg.ttl;
        let body = serde_json::json!({
            "Name": SESSION_NAME,
            "Behavior": "delete",
            "TTL": format!("{:.6}s", ttl.as_secs_f64()),
            "LockDelay": "1ms",
        });
        match shared.client.session_create(&body).await {
            Err(e) => crate::error!("(dedup) failed to create session: {e}"),
            Ok(id) => {
                crate::info!("(dedup) created session {id}");
                let mut locks = JoinSet::new();
                for i in 0..shared.keys.len() {
                    locks.spawn(lock_loop(shared.clone(), id.clone(), i));
                }
                let renewed = renew_periodic(&shared.client, &id, ttl, &mut stop).await;
                locks.shutdown().await;
                for i in 0..shared.keys.len() {
                    shared.set_leader(i, false);
                }
                let stopping = renewed.is_ok();
                if let Err(e) = &renewed {
                    crate::error!("(dedup) failed to renew session: {e}");
                }
                for key in &shared.keys {
                    if stopping {
                        crate::info!("(dedup) releasing lock '{key}'");
                    } else {
                        crate::info!("(dedup) releasing session '{key}'");
                    }
                }
                if let Err(e) = shared.client.session_destroy(&id).await {
                    crate::error!("(dedup) failed destroying session '{id}', {e}");
                }
                if stopping {
                    return;
                }
            }
        }
        if !sleep_or_stop(SESSION_CREATE_RETRY, &mut stop).await {
            return;
        }
    }
}

/// Renews the session every TTL/2 until stopped (`Ok`) or the session is gone (`Err`), as
/// the Go client's `RenewPeriodic`.
async fn renew_periodic(
    client: &Client,
    id: &str,
    ttl: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let mut wait = ttl / 2;
    let mut last = Instant::now();
    loop {
        if !sleep_or_stop(wait, stop).await {
            return Ok(());
        }
        match client.session_renew(id).await {
            Ok(Some(_)) => {
                last = Instant::now();
                wait = ttl / 2;
            }
            Ok(None) => return Err("session expired".to_string()),
            Err(e) => {
                if last.elapsed() > ttl {
                    return Err(e.to_string());
                }
                wait = Duration::from_secs(1);
            }
        }
    }
}

/// Takes template `i`'s lock whenever it is free, for as long as the session lives.
async fn lock_loop(shared: Arc<Shared>, session: String, i: usize) {
    let key = &shared.keys[i];
    loop {
        crate::info!(
            "(dedup) attempting lock for template hash {}",
            shared.ids[i]
        );
        match acquire(&shared.client, &session, key).await {
            Err(e) => {
                crate::error!("(dedup) failed to acquire lock '{key}': {e}");
                tokio::time::sleep(LOCK_RETRY).await;
            }
            Ok(()) => {
                crate::info!("(dedup) acquired lock '{key}'");
                shared.set_leader(i, true);
                monitor(&shared.client, &session, key).await;
                crate::warn!("(dedup) lost lock ownership '{key}'");
                shared.set_leader(i, false);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum LockError {
    #[error("Existing key does not match lock use")]
    Conflict,
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Consul's lock protocol (Go client's `Lock`): wait while another session holds the key,
/// then acquire it with the lock flags.
async fn acquire(client: &Client, session: &str, key: &str) -> Result<(), LockError> {
    let mut index = 0u64;
    loop {
        let q = QueryOptions {
            index: (index > 0).then_some(index),
            wait: Some(LOCK_WAIT),
            ..Default::default()
        };
        let (pair, meta) = client.kv_get(key, &q).await?;
        if let Some(p) = &pair {
            if p.flags != LOCK_FLAG_VALUE {
                return Err(LockError::Conflict);
            }
            if p.session == session {
                return Ok(());
            }
            if !p.session.is_empty() {
                index = meta.index;
                continue;
            }
        }
        let opts = KvPutOptions {
            flags: Some(LOCK_FLAG_VALUE),
            acquire: Some(session.to_string()),
            ..Default::default()
        };
        if client.kv_put(key, NO_DATA, &opts).await? {
            return Ok(());
        }
        let (pair, meta) = client.kv_get(key, &QueryOptions::default()).await?;
        if pair.is_some_and(|p| !p.session.is_empty()) {
            index = meta.index;
            continue;
        }
        // no holder but the acquire failed: a lock delay is in effect
        tokio::time::sleep(LOCK_DELAY_RETRY).await;
        index = 0;
    }
}

/// Returns when `session` no longer holds `key` (Go client's `monitorLock`).
async fn monitor(client: &Client, session: &str, key: &str) {
    let mut index = 0u64;
    let mut retries = MONITOR_RETRIES;
    loop {
        let q = QueryOptions {
            index: (index > 0).then_some(index),
            wait: Some(LOCK_WAIT),
            consistent: true,
            ..Default::default()
        };
        match client.kv_get(key, &q).await {
            Err(_) if retries > 0 => {
                retries -= 1;
                tokio::time::sleep(MONITOR_RETRY_TIME).await;
            }
            Err(_) => return,
            Ok((pair, meta)) => {
                retries = MONITOR_RETRIES;
                if !pair.is_some_and(|p| p.session == session) {
                    return;
                }
                index = meta.index;
            }
        }
    }
}

/// A follower's watch of template `i`'s data key (idle while this instance leads it).
async fn watch_template(shared: Arc<Shared>, i: usize, mut stop: watch::Receiver<bool>) {
    let id = &shared.ids[i];
    let key = &shared.keys[i];
    crate::info!("(dedup) starting watch for template hash {id}");
    let mut leader = shared.leaders[i].subscribe();
    let max_stale = shared.cfg.max_stale;
    let mut allow_stale = !max_stale.is_zero();
    let mut last_index = 0u64;
    let mut last_data: Option<Vec<u8>> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        while *leader.borrow_and_update() {
            tokio::select! {
                r = leader.changed() => if r.is_err() { return },
                _ = stopped(&mut stop) => return,
            }
        }
        crate::info!("(dedup) listing data for template hash {id}");
        let q = QueryOptions {
            index: (last_index > 0).then_some(last_index),
            wait: Some(shared.cfg.block_query_wait),
            stale: allow_stale,
            ..Default::default()
        };
        let answer = tokio::select! {
            a = shared.client.kv_get(key, &q) => a,
            _ = stopped(&mut stop) => return,
            // became the leader meanwhile: stop blocking on the key
            _ = leader.changed() => continue,
        };
        let (pair, meta) = match answer {
            Ok(a) => a,
            Err(e) => {
                crate::error!("(dedup) failed to get '{key}': {e}");
                if !sleep_or_stop(LIST_RETRY, &mut stop).await {
                    return;
                }
                continue;
            }
        };
        if allow_stale && meta.last_contact_ms > max_stale.as_millis() as u64 {
            allow_stale = false;
            crate::debug!("(dedup) {key} stale data (last contact exceeded max_stale)");
            continue;
        }
        allow_stale = !max_stale.is_zero();
        if meta.index == last_index {
            crate::trace!("(dedup) {key} no new data (index was the same)");
            continue;
        }
        if meta.index < last_index {
            crate::trace!("(dedup) {key} had a lower index, resetting");
            last_index = 0;
            continue;
        }
        last_index = meta.index;
        let data = pair.as_ref().map(|p| p.value_bytes()).unwrap_or_default();
        if last_data.as_deref() == Some(data.as_slice()) {
            crate::trace!("(dedup) {key} no new data (contents were the same)");
            continue;
        }
        last_data = Some(data);
        if *leader.borrow() {
            continue;
        }
        let Some(pair) = pair else { continue };
        if pair.flags != LOCK_FLAG_VALUE {
            continue;
        }
        let raw = pair.value_bytes();
        if raw == NO_DATA {
            continue;
        }
        match decode_payload(&raw) {
            Ok(p) => {
                crate::info!(
                    "(dedup) loading {} dependencies from '{}'",
                    p.data.len(),
                    pair.key
                );
                let _ = shared.events.send(DedupEvent::Data {
                    template: i,
                    data: p.data,
                });
            }
            Err(e) => crate::warn!("(dedup) ignoring data in '{}': {e}", pair.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_ids() {
        // upstream: hex(sha256(source + "\x00" + contents + "\x00" + destination))
        assert_eq!(
            template_id("", "", ""),
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
        );
        assert_ne!(template_id("a", "b", "c"), template_id("a", "b", "d"));
    }

    #[test]
    fn key_layout() {
        assert_eq!(
            data_key("consul-template/dedup/", "abc"),
            "consul-template/dedup/abc/data"
        );
        assert_eq!(data_key("/x//y", "abc"), "x/y/abc/data");
        assert_eq!(LOCK_FLAG_VALUE, 0x2ddccbc058a50c18);
    }

    #[test]
    fn payload_round_trip_and_foreign_data() {
        let mut data = BTreeMap::new();
        data.insert("kv.block(a)".to_string(), serde_json::json!([{"Key": "a"}]));
        let bytes = serde_json::to_vec(&Payload::new(data.clone())).unwrap();
        assert_eq!(decode_payload(&bytes).unwrap().data, data);
        // a Go consul-template's gob+LZW
        assert_eq!(
            decode_payload(&[0x0c, 0xff, 0x81, 0x03]),
            Err(PayloadError::Format)
        );
        let other = serde_json::json!({"Format": "x", "Version": VERSION, "Data": {}});
        assert_eq!(
            decode_payload(other.to_string().as_bytes()),
            Err(PayloadError::Format)
        );
        let old = serde_json::json!({"Format": FORMAT, "Version": "0.0.1", "Data": {}});
        assert_eq!(
            decode_payload(old.to_string().as_bytes()),
            Err(PayloadError::Version("0.0.1".into()))
        );
    }
}
