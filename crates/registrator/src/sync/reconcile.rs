//! The state the event loop keeps and the units of work it performs: which containers are
//! tracked with which services, and the ordered queue of registry operations that wait while
//! the registry is unreachable.
//!
//! Invariant: registry operations are applied in the order they were decided; once one is
//! queued, every later one queues behind it until the queue drains.

use super::{Engine, SyncConfig};
use crate::cli::DeregisterPolicy;
use crate::docker::DockerError;
use crate::mapping::{self, Container};
use crate::registry::{Registry, RegistryError};
use api_types::ServiceRegistration;
use regex::Regex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// One registry operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Register(ServiceRegistration),
    Deregister(ServiceRegistration),
    /// Set the TTL check mirroring a Docker health check.
    Check {
        check_id: String,
        passing: bool,
    },
}

/// A container registrator registered services for.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Container name without the leading `/`.
    pub name: String,
    pub services: Vec<ServiceRegistration>,
    /// `Some(healthy)` when the services carry the Docker-health TTL check.
    pub health: Option<bool>,
}

/// Tracked containers and pending operations.
pub struct Reconciler<E, R> {
    pub engine: E,
    pub registry: R,
    pub cfg: SyncConfig,
    pub tracked: HashMap<String, Tracked>,
    pub pending: VecDeque<Op>,
    /// Time spent in Docker and in the registry since the loop last reset it (the loop's
    /// per-event timing lines report it).
    pub spent: Spent,
}

/// Time spent waiting on the engine and on the registry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spent {
    pub docker: Duration,
    pub registry: Duration,
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl<E: Engine, R: Registry> Reconciler<E, R> {
    pub fn new(engine: E, registry: R, cfg: SyncConfig) -> Self {
        Reconciler {
            engine,
            registry,
            cfg,
            tracked: HashMap::new(),
            pending: VecDeque::new(),
            spent: Spent::default(),
        }
    }

    async fn attempt(&mut self, op: &Op) -> Result<(), RegistryError> {
        let t = Instant::now();
        let r = self.attempt_untimed(op).await;
        self.spent.registry += t.elapsed();
        r
    }

    async fn attempt_untimed(&self, op: &Op) -> Result<(), RegistryError> {
        match op {
            Op::Register(r) => self.registry.register(r).await,
            Op::Deregister(r) => self.registry.deregister(r).await,
            Op::Check { check_id, passing } => {
                let note = if *passing {
                    "docker: healthy"
                } else {
                    "docker: unhealthy"
                };
                self.registry.update_check(check_id, *passing, note).await
            }
        }
    }

    /// Applies `op` now, or queues it behind earlier ones / when the registry is unreachable.
    pub async fn apply(&mut self, op: Op) {
        if !self.pending.is_empty() {
            self.pending.push_back(op);
            return;
        }
        match self.attempt(&op).await {
            Ok(()) => log_done(&op),
            Err(e) if e.is_retryable() => {
                warn!("{e}; queueing changes until it is back");
                self.pending.push_back(op);
            }
            Err(e) => log_failed(&op, &e),
        }
    }

    /// Applies queued operations in order; stops at the first retryable failure.
    /// Returns true when the queue went from non-empty to empty.
    pub async fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        while let Some(op) = self.pending.front().cloned() {
            match self.attempt(&op).await {
                Ok(()) => log_done(&op),
                Err(e) if e.is_retryable() => return false,
                Err(e) => log_failed(&op, &e),
            }
            self.pending.pop_front();
        }
        info!("registry reachable again; queued changes applied");
        true
    }

    /// Inspects `id` and maps it to registrations (the `container:` peer's IP looked up: its
    /// `NetworkSettings.IPAddress` as upstream, else its address by [`mapping::container_ip`]'s
    /// rule, where upstream registers an empty address).
    async fn map(&self, c: &Container) -> mapping::Mapped {
        let mut linked_ip = None;
        if let Some(peer) = mapping::network_container(c) {
            match self.engine.inspect(&peer).await {
                Ok(p) => linked_ip = Some(mapping::container_ip(&p)),
                Err(e) => warn!("unable to inspect network container: {} {e}", short(&peer)),
            }
        }
        let mut settings = self.cfg.settings.clone();
        settings.tags = self.cfg.render_tags(c);
        mapping::services(c, &settings, &self.cfg.host, linked_ip.as_deref())
    }

    /// Upstream `Add`: register a container's services unless it is already tracked.
    pub async fn add(&mut self, id: &str, quiet: bool) {
        if self.tracked.contains_key(id) {
            info!("container, {}, already exists, ignoring", short(id));
            return;
        }
        let t = Instant::now();
        let inspected = self.engine.inspect(id).await;
        self.spent.docker += t.elapsed();
        let c = match inspected {
            Ok(c) => c,
            Err(e) => {
                warn!("unable to inspect container: {} {e}", short(id));
                return;
            }
        };
        let mapped = self.map(&c).await;
        if !quiet {
            mapped.notes.iter().for_each(|n| info!("{n}"));
        }
        let health = mapping::has_healthcheck(&c).then(|| mapping::is_healthy(&c));
        let name = c.name.trim_start_matches('/').to_string();
        for s in &mapped.services {
            self.apply(Op::Register(s.clone())).await;
        }
        if !mapped.services.is_empty() {
            self.tracked.insert(
                id.to_string(),
                Tracked {
                    name,
                    services: mapped.services,
                    health,
                },
            );
        }
    }

    /// Upstream `RemoveOnExit`: stop tracking; deregister when `-deregister` says so.
    pub async fn remove_on_exit(&mut self, id: &str) {
        if !self.tracked.contains_key(id) {
            return;
        }
        let deregister = match self.cfg.deregister {
            DeregisterPolicy::Always => true,
            DeregisterPolicy::OnSuccess => match self.engine.inspect(id).await {
                Err(DockerError::NotFound(_)) => true,
                Err(_) => false,
                Ok(c) => !c.running && (c.exit_code == 0 || c.exit_code & 128 != 0),
            },
        };
        let Some(t) = self.tracked.remove(id) else {
            return;
        };
        if deregister {
            for s in t.services {
                self.apply(Op::Deregister(s)).await;
            }
        }
    }

    /// A `health_status` event: move the Docker-health check of the container's services.
    pub async fn health(&mut self, id: &str, healthy: bool) {
        let Some(t) = self.tracked.get_mut(id) else {
            return;
        };
        if t.health.is_none() {
            return;
        }
        t.health = Some(healthy);
        let ids: Vec<String> = t
            .services
            .iter()
            .map(|s| format!("service:{}", s.id))
            .collect();
        for check_id in ids {
            self.apply(Op::Check {
                check_id,
                passing: healthy,
            })
            .await;
        }
    }

    /// Re-asserts every Docker-health check (keeps their TTL from expiring).
    pub async fn heartbeat(&mut self) {
        let ops: Vec<Op> = self
            .tracked
            .values()
            .filter_map(|t| t.health.map(|h| (t, h)))
            .flat_map(|(t, h)| {
                t.services.iter().map(move |s| Op::Check {
                    check_id: format!("service:{}", s.id),
                    passing: h,
                })
            })
            .collect();
        for op in ops {
            self.apply(op).await;
        }
    }

    /// Upstream's `-ttl-refresh` pass: every tracked service's TTL refreshed in the registry
    /// (`refreshed: <container> <service id>`). Skipped while changes are queued: the registry
    /// is unreachable, and once it is back every service is registered again anyway.
    pub async fn refresh(&mut self) {
        if !self.pending.is_empty() {
            return;
        }
        let mut all: Vec<(String, ServiceRegistration)> = self
            .tracked
            .iter()
            .flat_map(|(id, t)| t.services.iter().map(move |s| (id.clone(), s.clone())))
            .collect();
        all.sort_by(|a, b| a.1.id.cmp(&b.1.id));
        for (container, s) in all {
            match self.registry.refresh(&s).await {
                Ok(()) => info!("refreshed: {} {}", short(&container), s.id),
                Err(e) => warn!("refresh failed: {} {e}", s.id),
            }
        }
    }

    /// Upstream `Sync`: add untracked running containers, re-register tracked ones; with
    /// `prune` (set by `-cleanup`, and always after a Docker reconnect) tracked containers
    /// that are gone are removed as on exit; with `-cleanup` dangling services go too.
    pub async fn sync(&mut self, quiet: bool, prune: bool) -> Result<(), DockerError> {
        let running = self.engine.list_running().await?;
        if !quiet {
            info!("Syncing services on {} containers", running.len());
        }
        for id in &running {
            if let Some(t) = self.tracked.get(id) {
                let regs: Vec<ServiceRegistration> = t
                    .services
                    .iter()
                    .map(|s| with_health(s, t.health))
                    .collect();
                for r in regs {
                    self.apply(Op::Register(r)).await;
                }
            } else {
                self.add(id, quiet).await;
            }
        }
        if prune || self.cfg.cleanup {
            info!("Listing non-exited containers");
            let alive: HashSet<String> = self.engine.list_non_exited().await?.into_iter().collect();
            let stale: Vec<String> = self
                .tracked
                .keys()
                .filter(|id| !alive.contains(*id))
                .cloned()
                .collect();
            for id in stale {
                info!("stale: Removing service {id} because it does not exist");
                self.remove_on_exit(&id).await;
            }
        }
        if self.cfg.cleanup {
            self.cleanup_dangling().await;
        }
        Ok(())
    }

    /// Deregisters agent services with IDs shaped like ours for this host that we do not track.
    async fn cleanup_dangling(&mut self) {
        info!("Cleaning up dangling services");
        let services = match self.registry.services().await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                warn!("cleanup failed: {e}");
                return;
            }
        };
        let Ok(pattern) = Regex::new(r"^(.+?):([a-zA-Z0-9][a-zA-Z0-9_.-]+):[0-9]+(?::udp)?$")
        else {
            return;
        };
        for (id, svc) in services {
            let Some(caps) = pattern.captures(&id) else {
                continue;
            };
            if caps[1] != *self.cfg.host.hostname {
                continue;
            }
            let cname = &caps[2];
            let ours = self
                .tracked
                .values()
                .any(|t| t.name == cname && t.services.iter().any(|s| s.name == svc.service));
            if !ours {
                info!("dangling: {id}");
                let reg = ServiceRegistration {
                    id,
                    name: svc.service,
                    ..Default::default()
                };
                self.apply(Op::Deregister(reg)).await;
            }
        }
    }
}

/// `s` with its Docker-health check status set to the container's current health.
fn with_health(s: &ServiceRegistration, health: Option<bool>) -> ServiceRegistration {
    let mut r = s.clone();
    if let (Some(h), Some(c)) = (health, r.check.as_mut()) {
        c.status = if h { "passing" } else { "critical" }.to_string();
    }
    r
}

fn log_done(op: &Op) {
    match op {
        Op::Register(r) => info!("added: {} {}", r.name, r.id),
        Op::Deregister(r) => info!("removed: {} {}", r.name, r.id),
        Op::Check { check_id, passing } => info!(
            "check {check_id}: {}",
            if *passing { "passing" } else { "critical" }
        ),
    }
}

fn log_failed(op: &Op, e: &RegistryError) {
    match op {
        Op::Register(r) => warn!("register failed: {} {e}", r.id),
        Op::Deregister(r) => warn!("deregister failed: {} {e}", r.id),
        Op::Check { check_id, .. } => warn!("check update failed: {check_id} {e}"),
    }
}
