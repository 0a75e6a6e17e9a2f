//! What happens to a probe result: flap damping (Consul's `StatusHandler`), change detection
//! against what the catalog holds, and the `DeregisterCriticalServiceAfter` reaper.

use super::{lock, CheckSink, MIN_DEREGISTER_AFTER};
use api_types::CheckRegistration;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub use crate::catalog::HealthStatus;
pub const PASSING: HealthStatus = HealthStatus::Passing;
pub const WARNING: HealthStatus = HealthStatus::Warning;
pub const CRITICAL: HealthStatus = HealthStatus::Critical;

/// State shared between a check's task and the runner's `sync`.
pub(crate) struct Shared {
    /// The status and output the catalog holds (as far as this runner knows).
    last: Mutex<(HealthStatus, String)>,
    /// Report the next result even if it equals `last` (the catalog diverged).
    force: AtomicBool,
}

impl Shared {
    pub(crate) fn new(status: HealthStatus, output: &str) -> Shared {
        Shared {
            last: Mutex::new((status, output.to_string())),
            force: AtomicBool::new(false),
        }
    }

    /// Called by `sync` with the catalog's view of the check: when it differs from what was
    /// last reported (re-registration, or a write still in flight), the next result is written
    /// even if unchanged. A race costs at most one extra write.
    pub(crate) fn observe_catalog(&self, status: HealthStatus, output: &str) {
        let last = lock(&self.last);
        if last.0 != status || last.1 != output {
            self.force.store(true, Ordering::Relaxed);
        }
    }
}

/// Per-check result handling, owned by the check's task.
pub(crate) struct Reporter {
    check_id: String,
    service_id: String,
    sink: Arc<dyn CheckSink>,
    shared: Arc<Shared>,
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    success_count: u32,
    failure_count: u32,
    reap_after: Option<Duration>,
    critical_since: Option<Instant>,
    reaped: Arc<Mutex<HashSet<String>>>,
    reap_done: bool,
}

impl Reporter {
    pub(crate) fn new(
        check_id: String,
        service_id: String,
        spec: &CheckRegistration,
        initial_status: HealthStatus,
        sink: Arc<dyn CheckSink>,
        shared: Arc<Shared>,
        reaped: Arc<Mutex<HashSet<String>>>,
    ) -> Reporter {
        let reap_after = if service_id.is_empty() || spec.deregister_critical_service_after.0 <= 0 {
            None
        } else {
            Some(
                spec.deregister_critical_service_after
                    .as_std()
                    .max(MIN_DEREGISTER_AFTER),
            )
        };
        let failures_before_warning = if spec.failures_before_warning == 0 {
            spec.failures_before_critical
        } else {
            spec.failures_before_warning
        };
        Reporter {
            check_id,
            service_id,
            sink,
            shared,
            success_before_passing: spec.success_before_passing,
            failures_before_warning,
            failures_before_critical: spec.failures_before_critical,
            success_count: 0,
            failure_count: 0,
            reap_after,
            critical_since: (initial_status == CRITICAL).then(Instant::now),
            reaped,
            reap_done: false,
        }
    }

    pub(crate) fn check_id(&self) -> &str {
        &self.check_id
    }

    #[cfg(test)]
    pub(crate) fn set_reap_after(&mut self, d: Duration) {
        self.reap_after = Some(d);
    }

    /// A probe (or TTL) result, through flap damping (Consul's `StatusHandler.updateCheck`).
    pub(crate) async fn result(&mut self, status: HealthStatus, output: String) {
        let id = &self.check_id;
        if status == PASSING || status == WARNING {
            self.success_count = self.success_count.saturating_add(1);
            self.failure_count = 0;
            if self.success_count >= self.success_before_passing {
                tracing::debug!(target: "agent", "Check status updated: check={id} status={status}");
                self.report(status, output).await;
                return;
            }
            tracing::warn!(
                target: "agent",
                "Check passed but has not reached success threshold: check={id} status={status} success_count={} success_threshold={}",
                self.success_count,
                self.success_before_passing
            );
        } else {
            self.failure_count = self.failure_count.saturating_add(1);
            self.success_count = 0;
            if self.failure_count >= self.failures_before_critical {
                tracing::warn!(target: "agent", "Check is now critical: check={id}");
                self.report(status, output).await;
                return;
            }
            if self.failure_count >= self.failures_before_warning {
                tracing::warn!(target: "agent", "Check is now warning: check={id}");
                self.report(WARNING, output).await;
                return;
            }
            tracing::warn!(
                target: "agent",
                "Check failed but has not reached warning/failure threshold: check={id} status={status} failure_count={} warning_threshold={} failure_threshold={}",
                self.failure_count,
                self.failures_before_warning,
                self.failures_before_critical
            );
        }
    }

    /// Writes `status`/`output` to the sink unless the catalog already holds them (no flap
    /// damping: alias checks report this way).
    pub(crate) async fn report(&mut self, status: HealthStatus, output: String) {
        if status == CRITICAL {
            self.critical_since.get_or_insert_with(Instant::now);
        } else {
            self.critical_since = None;
            self.reap_done = false;
        }
        let changed = {
            let mut last = lock(&self.shared.last);
            let force = self.shared.force.swap(false, Ordering::Relaxed);
            if force || last.0 != status || last.1 != output {
                *last = (status, output.clone());
                true
            } else {
                false
            }
        };
        if changed {
            self.sink
                .update(self.check_id.clone(), status, output)
                .await;
        }
    }

    /// When the service should be reaped, if this check stays critical.
    pub(crate) fn reap_deadline(&self) -> Option<Instant> {
        if self.reap_done {
            return None;
        }
        Some(self.critical_since? + self.reap_after?)
    }

    /// Asks the sink to deregister the service once the check was critical for too long.
    pub(crate) async fn maybe_reap(&mut self) {
        let Some(deadline) = self.reap_deadline() else {
            return;
        };
        if Instant::now() < deadline {
            return;
        }
        self.reap_done = true;
        if !lock(&self.reaped).insert(self.service_id.clone()) {
            return;
        }
        tracing::info!(
            target: "agent",
            "Check for service has been critical for too long; deregistered service: service={} check={}",
            self.service_id,
            self.check_id
        );
        self.sink.deregister_service(self.service_id.clone()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Event, Recorder};
    use super::*;
    use api_types::GoDuration;

    fn reporter(spec: &CheckRegistration, rec: &Arc<Recorder>) -> Reporter {
        let shared = Arc::new(Shared::new(CRITICAL, ""));
        Reporter::new(
            "c".into(),
            spec.service_id.clone(),
            spec,
            CRITICAL,
            rec.clone(),
            shared,
            Arc::new(Mutex::new(HashSet::new())),
        )
    }

    #[tokio::test]
    async fn reports_only_changes() {
        let rec = Arc::new(Recorder::default());
        let mut r = reporter(&CheckRegistration::default(), &rec);
        r.result(CRITICAL, String::new()).await;
        assert!(
            rec.events().is_empty(),
            "initial state is already in the catalog"
        );
        r.result(PASSING, "ok".into()).await;
        r.result(PASSING, "ok".into()).await;
        r.result(PASSING, "ok2".into()).await;
        r.result(CRITICAL, "down".into()).await;
        assert_eq!(
            rec.updates("c"),
            vec![
                (PASSING.into(), "ok".into()),
                (PASSING.into(), "ok2".into()),
                (CRITICAL.into(), "down".into())
            ]
        );
    }

    #[tokio::test]
    async fn flap_damping_thresholds() {
        let rec = Arc::new(Recorder::default());
        let spec = CheckRegistration {
            success_before_passing: 2,
            failures_before_warning: 1,
            failures_before_critical: 3,
            ..Default::default()
        };
        let mut r = reporter(&spec, &rec);
        r.result(PASSING, "p".into()).await;
        assert!(
            rec.updates("c").is_empty(),
            "one success is below SuccessBeforePassing"
        );
        r.result(PASSING, "p".into()).await;
        assert_eq!(rec.updates("c"), vec![(PASSING.into(), "p".into())]);
        r.result(CRITICAL, "f".into()).await;
        assert_eq!(rec.updates("c").last(), Some(&(WARNING.into(), "f".into())));
        r.result(CRITICAL, "f".into()).await;
        assert_eq!(rec.updates("c").len(), 2, "still warning, same output");
        r.result(CRITICAL, "f".into()).await;
        assert_eq!(
            rec.updates("c").last(),
            Some(&(CRITICAL.into(), "f".into()))
        );
        // A success resets the failure count but needs two in a row to pass again.
        r.result(PASSING, "p".into()).await;
        r.result(CRITICAL, "f".into()).await;
        assert_eq!(rec.updates("c").last(), Some(&(WARNING.into(), "f".into())));
    }

    #[tokio::test]
    async fn failures_before_warning_defaults_to_critical_threshold() {
        let rec = Arc::new(Recorder::default());
        let spec = CheckRegistration {
            failures_before_critical: 2,
            status: PASSING.into(),
            ..Default::default()
        };
        let mut r = reporter(&spec, &rec);
        r.result(PASSING, String::new()).await;
        r.result(CRITICAL, "x".into()).await;
        assert_eq!(rec.updates("c"), vec![(PASSING.into(), String::new())]);
        r.result(CRITICAL, "x".into()).await;
        assert_eq!(
            rec.updates("c").last(),
            Some(&(CRITICAL.into(), "x".into()))
        );
    }

    #[tokio::test]
    async fn reaps_service_after_critical_deadline() {
        let rec = Arc::new(Recorder::default());
        let spec = CheckRegistration {
            service_id: "web".into(),
            deregister_critical_service_after: GoDuration::from_secs(1),
            ..Default::default()
        };
        let mut r = reporter(&spec, &rec);
        assert_eq!(
            r.reap_after,
            Some(MIN_DEREGISTER_AFTER),
            "minimum of 1m applies"
        );
        r.set_reap_after(Duration::from_millis(50));
        // Passing clears the critical clock.
        r.result(PASSING, String::new()).await;
        assert_eq!(r.reap_deadline(), None);
        r.result(CRITICAL, String::new()).await;
        let deadline = r.reap_deadline().expect("deadline while critical");
        r.maybe_reap().await;
        assert!(
            !rec.events().contains(&Event::Deregister("web".into())),
            "not yet"
        );
        tokio::time::sleep_until(deadline).await;
        r.maybe_reap().await;
        r.maybe_reap().await;
        let dereg: Vec<_> = rec
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::Deregister(_)))
            .collect();
        assert_eq!(dereg, vec![Event::Deregister("web".into())]);
        assert_eq!(r.reap_deadline(), None);
    }

    #[tokio::test]
    async fn node_checks_never_reap() {
        let rec = Arc::new(Recorder::default());
        let spec = CheckRegistration {
            deregister_critical_service_after: GoDuration::from_secs(60),
            ..Default::default()
        };
        let r = reporter(&spec, &rec);
        assert_eq!(r.reap_deadline(), None);
    }
}
