//! Watching: one task ("view") per DISTINCT [`Dependency`] across all templates — identical
//! calls in many templates share one blocking query — each sending the latest decoded value
//! to the runner. A view follows upstream's loop: `index`/`wait=60000ms` long polls, `?stale`
//! while the answer is fresher than `max_stale` (else an immediate consistent retry), index
//! regressions reset to 0, same-index and deep-equal answers are dropped, fast answers are
//! spaced 100 ms apart, errors retried with exponential backoff (the last good data stays in
//! the runner; nothing is delivered while Consul is down). Files are polled every 2 s.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api_types::client::{Client, QueryOptions};
use serde_json::Value as J;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::config::Retry;
use crate::dependency::Dependency;
use gotemplate::Value;

/// How views query.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Allowed staleness; zero = always consistent.
    pub max_stale: Duration,
    /// Blocking wait.
    pub wait: Duration,
    /// Retry policy.
    pub retry: Retry,
    /// Stop each view after its first delivery (`-once`).
    pub once: bool,
    /// Deliver the raw answer with the decoded value (de-duplication leaders store it).
    pub keep_raw: bool,
}

/// What a view reports.
#[derive(Debug)]
pub enum Update {
    /// New data for a dependency: the decoded value, and the raw answer (Consul's JSON, a
    /// file's text as a string) when [`WatchOptions::keep_raw`].
    Data(Dependency, Value, Option<J>),
    /// Retries exhausted (or a file could not be read): a runner error.
    Failed(Dependency, String),
}

struct Shared {
    client: Client,
    opts: WatchOptions,
    node_name: tokio::sync::OnceCell<String>,
    tx: UnboundedSender<Update>,
    /// Bounds the non-parking fetches (first fetch of a view, index resets): at startup N
    /// views would otherwise open N connections at once (upstream #1840).
    unparked: tokio::sync::Semaphore,
}

/// Concurrent non-blocking fetches across all views.
const UNPARKED_FETCHES: usize = 32;

/// The set of running views.
pub struct Watcher {
    shared: Arc<Shared>,
    views: HashMap<Dependency, JoinHandle<()>>,
}

impl Watcher {
    /// A watcher and the receiving end of its updates.
    pub fn new(client: Client, opts: WatchOptions) -> (Watcher, UnboundedReceiver<Update>) {
        let (tx, rx) = unbounded_channel();
        let shared = Arc::new(Shared {
            client,
            opts,
            node_name: tokio::sync::OnceCell::new(),
            tx,
            unparked: tokio::sync::Semaphore::new(UNPARKED_FETCHES),
        });
        (
            Watcher {
                shared,
                views: HashMap::new(),
            },
            rx,
        )
    }

    /// Starts a view for `dep` unless one runs already; returns whether it was new.
    pub fn watch(&mut self, dep: &Dependency) -> bool {
        if self.views.contains_key(dep) {
            return false;
        }
        crate::debug!("(watcher) adding {dep}");
        let shared = self.shared.clone();
        let d = dep.clone();
        self.views
            .insert(dep.clone(), tokio::spawn(view(shared, d)));
        true
    }

    /// Stops every view whose dependency is not in `wanted`.
    pub fn retain(&mut self, wanted: &HashSet<Dependency>) {
        self.views.retain(|dep, task| {
            let keep = wanted.contains(dep);
            if !keep {
                crate::debug!("(watcher) removing {dep}");
                task.abort();
            }
            keep
        });
    }

    /// Number of running views.
    pub fn len(&self) -> usize {
        self.views.len()
    }

    /// Whether no view runs.
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        for task in self.views.values() {
            task.abort();
        }
    }
}

async fn view(shared: Arc<Shared>, dep: Dependency) {
    let result = match &dep {
        Dependency::File { path } => file_view(&shared, &dep, path).await,
        _ => consul_view(&shared, &dep).await,
    };
    if let Err(e) = result {
        let _ = shared.tx.send(Update::Failed(dep, e));
    }
}

async fn node_name(shared: &Shared) -> Result<String, String> {
    shared
        .node_name
        .get_or_try_init(|| async {
            let (me, _) = shared
                .client
                .agent_self()
                .await
                .map_err(|e| e.to_string())?;
            me.pointer("/Config/NodeName")
                .and_then(J::as_str)
                .map(str::to_string)
                .ok_or_else(|| "agent/self: no Config.NodeName".to_string())
        })
        .await
        .cloned()
}

async fn consul_view(shared: &Shared, dep: &Dependency) -> Result<(), String> {
    let Some(req) = dep.to_query() else {
        return Ok(());
    };
    let opts = &shared.opts;
    let mut last_index = 0u64;
    let mut last_data: Option<J> = None;
    let mut attempt = 0u32;
    let mut allow_stale = !opts.max_stale.is_zero();
    let mut first = true;
    let mut warned_filtered = false;
    loop {
        let start = Instant::now();
        let mut path = req.path.clone();
        if matches!(dep, Dependency::CatalogNode { name: None, .. }) {
            match node_name(shared).await {
                Ok(n) => path.push_str(&n),
                Err(e) => {
                    attempt += 1;
                    backoff(opts, dep, &e, attempt).await?;
                    continue;
                }
            }
        }
        let q = QueryOptions {
            index: (req.blocking && last_index > 0).then_some(last_index),
            wait: req.blocking.then_some(opts.wait),
            stale: allow_stale,
            ..Default::default()
        };
        let extra: Vec<(&str, &str)> = req
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let permit = match q.index {
            None => shared.unparked.acquire().await.ok(),
            Some(_) => None,
        };
        let answer = shared.client.get_json_opt::<J>(&path, &q, &extra).await;
        drop(permit);
        let (body, meta) = match answer {
            Ok(a) => a,
            Err(e) => {
                attempt += 1;
                backoff(opts, dep, &e.to_string(), attempt).await?;
                continue;
            }
        };
        if allow_stale && meta.last_contact_ms > opts.max_stale.as_millis() as u64 {
            crate::debug!(
                "(view) {dep}: stale data (last contact {}ms), retrying consistent",
                meta.last_contact_ms
            );
            allow_stale = false;
            continue;
        }
        allow_stale = !opts.max_stale.is_zero();
        if meta.results_filtered_by_acls && !warned_filtered {
            // Consul hides what the token may not read; say so once rather than render
            // a silently shorter list.
            crate::warn!(
                "(view) {dep}: results were filtered by ACLs: the token lacks read permission on part of the data"
            );
            warned_filtered = true;
        }
        let mut delivered = false;
        if req.blocking && meta.index < last_index {
            last_index = 0;
        } else if !req.blocking || first || meta.index != last_index {
            let data = match body {
                Some(b) => Some(b),
                None if dep.blocks_on_missing() => None,
                None => Some(J::Null),
            };
            if let Some(data) = data.filter(|d| last_data.as_ref() != Some(d)) {
                // An answer Go's client could not decode is a failed fetch: retried at the
                // same index, within the retry budget.
                let value = match dep.decode(&data) {
                    Ok(v) => v,
                    Err(e) => {
                        attempt += 1;
                        backoff(opts, dep, &e.to_string(), attempt).await?;
                        continue;
                    }
                };
                let raw = opts.keep_raw.then(|| data.clone());
                last_data = Some(data);
                if shared
                    .tx
                    .send(Update::Data(dep.clone(), value, raw))
                    .is_err()
                {
                    return Ok(());
                }
                delivered = true;
            }
            last_index = meta.index;
        }
        attempt = 0;
        first = false;
        if opts.once && delivered {
            return Ok(());
        }
        if !req.blocking {
            tokio::time::sleep(Duration::from_secs(15)).await;
            continue;
        }
        // upstream's rate limit: no more than one fetch per 100ms (+0-20ms jitter)
        let elapsed = start.elapsed();
        if elapsed < Duration::from_millis(100) {
            let jitter = Duration::from_millis(rand::random::<u64>() % 20);
            tokio::time::sleep(Duration::from_millis(100) - elapsed + jitter).await;
        }
    }
}

async fn backoff(
    opts: &WatchOptions,
    dep: &Dependency,
    err: &str,
    attempt: u32,
) -> Result<(), String> {
    match opts.retry.delay(attempt) {
        Some(d) => {
            let shown = api_types::duration::format_go_duration(d.as_nanos() as i64);
            crate::warn!("(view) {dep}: {err} (retry attempt {attempt} after \"{shown}\")");
            tokio::time::sleep(d).await;
            Ok(())
        }
        None => {
            crate::error!("(view) {dep}: {err} (exceeded maximum retries)");
            Err(format!("{dep}: {err}"))
        }
    }
}

async fn file_view(shared: &Shared, dep: &Dependency, path: &str) -> Result<(), String> {
    let mut last: Option<(u64, Option<std::time::SystemTime>)> = None;
    loop {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| format!("{dep}: {e}"))?;
        let stamp = (meta.len(), meta.modified().ok());
        if last != Some(stamp) {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("{dep}: {e}"))?;
            last = Some(stamp);
            let raw = J::String(text);
            let value = dep.decode(&raw).map_err(|e| format!("{dep}: {e}"))?;
            let raw = shared.opts.keep_raw.then_some(raw);
            if shared
                .tx
                .send(Update::Data(dep.clone(), value, raw))
                .is_err()
                || shared.opts.once
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
