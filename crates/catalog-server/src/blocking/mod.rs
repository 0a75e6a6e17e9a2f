//! The blocking-query contract, in one place.
//!
//! A read with `?index=N` returns at once when its result's index is greater than N; otherwise
//! it parks until one of the [`WatchKey`]s its result depends on is touched by a write, re-runs,
//! and repeats until the index passes N or the wait ends. The wait is `?wait` (default
//! `default_query_time`, 5m), capped at `max_query_time` (10m), plus a random jitter of up to
//! 1/16 of it, as Consul does. `X-Consul-Index` is never 0.
//!
//! Wake-ups are scoped: a write wakes only the keys it touched (one service, one KV prefix chain,
//! one node), never every parked query. Each key has one `Notify`, created on demand by the
//! first waiter and dropped when it fires, so ten thousand parked queries cost one registration
//! each and no per-write scan.

pub mod shared;

use crate::catalog::query::Answer;
use crate::catalog::{State, WatchKey};
use rand::Rng;
use shared::{Encoded, Question, SharedAnswers};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Waits registered on watch keys, woken by the first write to any of them.
type Parked = Vec<Pin<Box<tokio::sync::futures::OwnedNotified>>>;

/// Wakes parked queries by key.
#[derive(Default)]
pub struct Notifier {
    map: Mutex<HashMap<WatchKey, Arc<Notify>>>,
}

impl Notifier {
    /// Registers a wait on every one of `keys`, before anything is re-read: a write from now on
    /// wakes it.
    fn park(&self, keys: &[WatchKey]) -> Parked {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .map(|k| {
                let mut n = Box::pin(map.entry(k.clone()).or_default().clone().notified_owned());
                n.as_mut().enable();
                n
            })
            .collect()
    }

    /// Wakes every query parked on any of `keys`.
    pub fn notify(&self, keys: Vec<WatchKey>) {
        if keys.is_empty() {
            return;
        }
        if keys.contains(&WatchKey::All) {
            return self.notify_all();
        }
        let fired: Vec<Arc<Notify>> = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for n in fired {
            n.notify_waiters();
        }
    }

    /// Wakes everything (snapshot restore replaces the whole state).
    pub fn notify_all(&self) {
        let all: Vec<Arc<Notify>> = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.drain().map(|(_, n)| n).collect()
        };
        for n in all {
            n.notify_waiters();
        }
    }

    /// Number of keys with parked queries (for `consul info`).
    pub fn watched_keys(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// The catalog state as the HTTP layer sees it: read under a short lock, never across I/O.
pub struct Catalog {
    pub(crate) state: RwLock<State>,
    pub(crate) notifier: Notifier,
    /// The answers parked queries are being given, shared by question (see [`shared`]).
    shared: SharedAnswers,
    /// Set when the agent shuts down: parked queries answer at once, as Consul's do.
    closing: std::sync::atomic::AtomicBool,
}

impl Catalog {
    /// Makes every parked query, and every later one, answer with what it has now.
    pub fn close(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.notifier.notify_all();
    }

    /// Whether the agent is shutting down (see [`Catalog::close`]).
    pub fn is_closed(&self) -> bool {
        self.closing()
    }

    fn closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn new(state: State) -> Self {
        Catalog {
            closing: Default::default(),
            state: RwLock::new(state),
            notifier: Notifier::default(),
            shared: SharedAnswers::default(),
        }
    }

    /// After the whole state was replaced (a snapshot installed): every answer shared so far
    /// is forgotten and every parked query looks again.
    pub fn replaced(&self) {
        self.shared.clear();
        self.notifier.notify_all();
    }

    /// Questions with a kept shared answer, and the bytes of their bodies.
    pub fn shared_answers(&self) -> (usize, usize) {
        self.shared.kept()
    }

    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }
}

/// `?index` and the effective wait of one request.
#[derive(Debug, Clone, Copy)]
pub struct Blocking {
    pub min_index: u64,
    pub wait: Duration,
}

impl Blocking {
    /// Resolves `?wait` against the agent's default and cap, and adds Consul's jitter.
    pub fn new(min_index: u64, wait: Option<Duration>, default: Duration, max: Duration) -> Self {
        let mut w = match wait {
            Some(w) if !w.is_zero() => w,
            _ => default,
        };
        if w > max {
            w = max;
        }
        let jitter_ns = (w.as_nanos() / 16) as u64;
        if jitter_ns > 0 {
            w += Duration::from_nanos(rand::thread_rng().gen_range(0..jitter_ns));
        }
        Blocking { min_index, wait: w }
    }
}

/// Runs `query` and, when `blocking` asks for it, parks until its index passes `min_index`
/// or the wait ends. Returns the last answer, with its index never 0.
pub async fn run<T>(
    catalog: &Catalog,
    blocking: Option<Blocking>,
    query: impl Fn(&State) -> Answer<T>,
) -> Answer<T> {
    let Some(b) = blocking.filter(|b| b.min_index > 0) else {
        let mut a = catalog.read(&query);
        a.index = a.index.max(1);
        return a;
    };
    let deadline = tokio::time::Instant::now() + b.wait;
    let _in_flight = crate::telemetry::BlockingQuery::start();
    loop {
        let first = catalog.read(&query);
        if first.index > b.min_index || tokio::time::Instant::now() >= deadline || catalog.closing()
        {
            return fix(first);
        }
        let parked = catalog.notifier.park(&first.watch);
        // Re-check after registering, so a write between the first read and now is not missed.
        let again = catalog.read(&query);
        if again.index > b.min_index || catalog.closing() {
            return fix(again);
        }
        drop(again);
        tokio::select! {
            _ = futures::future::select_all(parked) => {}
            _ = tokio::time::sleep_until(deadline) => {
                return fix(catalog.read(&query));
            }
        }
    }
}

/// [`run`] for answers sent as encoded bytes: with a `question`, every query asking it of the
/// same state gets the same [`Encoded`] answer, built once (see [`shared`]); without one (the
/// answer depends on the request's token), each query builds its own. `encode` turns the
/// read's answer into bytes outside the state's lock; its error is the request's.
pub async fn run_encoded<T, E>(
    catalog: &Catalog,
    blocking: Option<Blocking>,
    question: Option<&Question>,
    query: impl Fn(&State) -> Answer<T>,
    encode: impl Fn(Answer<T>) -> Result<Encoded, E>,
) -> Result<Arc<Encoded>, E> {
    let answer = || async {
        let build = || {
            let (a, at) = catalog.read(|s| (query(s), s.last_index()));
            let mut e = encode(a)?;
            e.set_read_at(at);
            Ok(Arc::new(e))
        };
        match question {
            Some(q) => {
                let at = catalog.read(|s| s.last_index());
                let slot = catalog.shared.slot(q, at);
                let shared = slot.answer(build).await;
                if let Ok((_, built)) = &shared {
                    crate::telemetry::shared_answer(*built);
                }
                // The slot goes with the answer: while a query holds it, later askers at the
                // same state find it (queries parking again after a wake, above all).
                shared.map(|(e, _)| (e, Some(slot)))
            }
            None => build().map(|e| (e, None)),
        }
    };
    let Some(b) = blocking.filter(|b| b.min_index > 0) else {
        return answer().await.map(|(e, _)| e);
    };
    let deadline = tokio::time::Instant::now() + b.wait;
    let _in_flight = crate::telemetry::BlockingQuery::start();
    loop {
        let (first, _held) = answer().await?;
        if first.index() > b.min_index
            || tokio::time::Instant::now() >= deadline
            || catalog.closing()
        {
            return Ok(first);
        }
        let parked = catalog.notifier.park(first.watch());
        // A write between the read and the registration would go unnoticed: when anything was
        // written since, look again (the answer is read after registering, so a later write
        // wakes this query).
        if catalog.read(|s| s.last_index()) != first.read_at() || catalog.closing() {
            let (again, _held_too) = answer().await?;
            if again.index() > b.min_index || catalog.closing() {
                return Ok(again);
            }
            if again.watch() != first.watch() {
                continue;
            }
        }
        tokio::select! {
            _ = futures::future::select_all(parked) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

fn fix<T>(mut a: Answer<T>) -> Answer<T> {
    a.index = a.index.max(1);
    a
}
