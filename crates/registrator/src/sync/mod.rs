//! The event loop: Docker events, timers and shutdown become one closed [`Event`] enum in one
//! `select!`; each event is then handled to completion (a registration is never cancelled
//! half-way, only waiting is).
//!
//! Lifecycle: subscribe to events (from a timestamp taken before listing, so nothing between
//! the listing and the subscription is lost), initial sync, then events. Beyond upstream: when
//! the event stream ends the loop reconnects with backoff and resyncs instead of exiting; when
//! the registry is unreachable changes queue and are applied in order once it is back; Docker
//! `HEALTHCHECK` status drives a TTL check.

mod reconcile;

pub use reconcile::{Op, Reconciler, Spent, Tracked};

use crate::cli::DeregisterPolicy;
use crate::docker::{ContainerEvent, Docker, DockerError};
use crate::mapping::{self, Container, DOCKER_HEALTH_TTL_SECS};
use crate::registry::Registry;
use futures::stream::BoxStream;
use futures::StreamExt;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{debug, info, warn};

/// Everything the loop reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Started(String),
    Died(String),
    HealthStatus {
        id: String,
        healthy: bool,
    },
    /// The `-resync` timer fired.
    Resync,
    /// The `-ttl-refresh` timer fired.
    Refresh,
    /// The Docker event stream ended (daemon restart, socket gone).
    StreamEnded,
    /// Housekeeping second: retry queued changes, heartbeat health checks, reconnect Docker.
    Tick,
    Shutdown,
}

/// The settings the loop runs with, resolved once.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub settings: mapping::Settings,
    pub host: mapping::Host,
    pub deregister: DeregisterPolicy,
    pub cleanup: bool,
    pub resync: Option<Duration>,
    /// `-ttl-refresh`: how often every tracked service's TTL is refreshed.
    pub ttl_refresh: Option<Duration>,
}

impl SyncConfig {
    /// `-tags` for one container (Go templates are rendered against the inspect object).
    pub fn render_tags(&self, c: &Container) -> String {
        mapping::tags::render(&self.settings.tags, c).unwrap_or_else(|e| {
            warn!("-tags template: {e}");
            String::new()
        })
    }
}

/// The container engine, as the loop uses it (implemented by [`Docker`]; fakes in tests).
pub trait Engine: Send + Sync + 'static {
    fn list_running(&self) -> impl Future<Output = Result<Vec<String>, DockerError>> + Send;
    fn list_non_exited(&self) -> impl Future<Output = Result<Vec<String>, DockerError>> + Send;
    fn inspect(&self, id: &str) -> impl Future<Output = Result<Container, DockerError>> + Send;
    /// Container events since `since` (unix seconds) with their timestamps.
    fn events(&self, since: i64) -> BoxStream<'static, Result<(ContainerEvent, i64), DockerError>>;
}

impl Engine for Docker {
    async fn list_running(&self) -> Result<Vec<String>, DockerError> {
        Docker::list_running(self).await
    }
    async fn list_non_exited(&self) -> Result<Vec<String>, DockerError> {
        Docker::list_non_exited(self).await
    }
    async fn inspect(&self, id: &str) -> Result<Container, DockerError> {
        Docker::inspect(self, id).await
    }
    fn events(&self, since: i64) -> BoxStream<'static, Result<(ContainerEvent, i64), DockerError>> {
        Docker::events(self, Some(since)).boxed()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs until `shutdown` resolves. Fails only when the initial listing fails (as upstream).
pub async fn run<E: Engine, R: Registry>(
    engine: E,
    registry: R,
    cfg: SyncConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DockerError> {
    let resync = cfg.resync;
    let ttl_refresh = cfg.ttl_refresh;
    let mut r = Reconciler::new(engine, registry, cfg);
    let mut last_event = now_secs();
    let mut stream = Some(r.engine.events(last_event));
    info!("Listening for Docker events ...");
    r.sync(false, false).await?;

    let mut shutdown = std::pin::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let timer = |d: Duration| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    };
    let mut resync_timer = resync.map(timer);
    let mut refresh_timer = ttl_refresh.map(timer);
    let heartbeat_every = Duration::from_secs((DOCKER_HEALTH_TTL_SECS / 3) as u64);
    let mut next_heartbeat = Instant::now() + heartbeat_every;
    let mut docker_backoff = Duration::from_secs(1);
    let mut next_reconnect = Instant::now();
    let mut registry_backoff = Duration::from_secs(1);
    let mut next_flush = Instant::now();

    loop {
        let event = tokio::select! {
            _ = &mut shutdown => Event::Shutdown,
            item = next_item(&mut stream) => match item {
                None => Event::StreamEnded,
                Some(Err(e)) => {
                    warn!("docker event stream: {e}");
                    continue;
                }
                Some(Ok((ev, time))) => {
                    last_event = last_event.max(time);
                    match ev {
                        ContainerEvent::Start { id } => Event::Started(id),
                        ContainerEvent::Die { id, .. } => Event::Died(id),
                        ContainerEvent::Health { id, healthy } => Event::HealthStatus { id, healthy },
                    }
                }
            },
            _ = resync_tick(&mut resync_timer) => Event::Resync,
            _ = resync_tick(&mut refresh_timer) => Event::Refresh,
            _ = tick.tick() => Event::Tick,
        };
        match event {
            Event::Shutdown => {
                if !r.pending.is_empty() {
                    warn!(
                        "exiting with {} registry changes still queued",
                        r.pending.len()
                    );
                }
                return Ok(());
            }
            Event::Started(id) => {
                let t = Instant::now();
                r.spent = Spent::default();
                r.add(&id, false).await;
                log_timing("start", &id, t, r.spent);
            }
            Event::Died(id) => {
                let t = Instant::now();
                r.spent = Spent::default();
                r.remove_on_exit(&id).await;
                log_timing("die", &id, t, r.spent);
            }
            Event::HealthStatus { id, healthy } => r.health(&id, healthy).await,
            Event::Resync => {
                if let Err(e) = r.sync(true, false).await {
                    warn!("error listing containers, skipping sync: {e}");
                }
            }
            Event::Refresh => r.refresh().await,
            Event::StreamEnded => {
                warn!("Docker event stream ended; reconnecting");
                stream = None;
                next_reconnect = Instant::now() + docker_backoff;
            }
            Event::Tick => {
                let now = Instant::now();
                if stream.is_none() && now >= next_reconnect {
                    let since = last_event.min(now_secs());
                    stream = Some(r.engine.events(since));
                    match r.sync(true, true).await {
                        Ok(()) => {
                            info!("reconnected to Docker; resynced");
                            docker_backoff = Duration::from_secs(1);
                        }
                        Err(e) => {
                            warn!("docker still unreachable: {e}");
                            stream = None;
                            docker_backoff = (docker_backoff * 2).min(MAX_BACKOFF);
                            next_reconnect = now + docker_backoff;
                        }
                    }
                }
                if !r.pending.is_empty() && now >= next_flush {
                    if r.flush().await {
                        registry_backoff = Duration::from_secs(1);
                        // The agent may have restarted and lost its services: re-put them all.
                        if let Err(e) = r.sync(true, false).await {
                            warn!("error listing containers, skipping sync: {e}");
                        }
                    } else {
                        registry_backoff = (registry_backoff * 2).min(MAX_BACKOFF);
                        next_flush = now + registry_backoff;
                    }
                }
                if r.pending.is_empty() && now >= next_heartbeat {
                    next_heartbeat = now + heartbeat_every;
                    r.heartbeat().await;
                }
            }
        }
    }
}

/// Target of the per-event timing lines (`REGISTRATOR_LOG=info,registrator::timing=debug`):
/// `event <start|die> <id> handled in <µs>us docker <µs>us registry <µs>us`: from the event
/// leaving the Docker stream to the last registry call for it being acknowledged, and the parts
/// of that spent waiting on the engine (inspect) and on the registry. `regbench` reads them.
pub const TIMING_TARGET: &str = "registrator::timing";

fn log_timing(kind: &str, id: &str, since: Instant, spent: Spent) {
    debug!(
        target: TIMING_TARGET,
        "event {kind} {id} handled in {}us docker {}us registry {}us",
        since.elapsed().as_micros(),
        spent.docker.as_micros(),
        spent.registry.as_micros()
    );
}

async fn next_item<T>(stream: &mut Option<BoxStream<'static, T>>) -> Option<T> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Waits for `timer`'s next tick; forever when there is no timer.
async fn resync_tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
