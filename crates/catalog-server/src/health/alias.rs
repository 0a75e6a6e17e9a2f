//! Alias checks (Consul's `CheckAlias`): the check mirrors the health of a service instance
//! (`AliasService`, on `AliasNode` or this agent's node) — critical if any of its checks or
//! its node's checks is critical, else warning if any is warning, else passing — and is
//! critical when the service is not registered there. It follows the node's checks through
//! blocking reads (at most a minute each) of the agent's own state or, for another node, of the
//! catalog; a failed read is reported critical (`Failure checking aliased node or service: …`)
//! from the second failure on, and reads back off exponentially (up to a minute) after three.
//! Results are reported as they are, without `SuccessBeforePassing`/`FailuresBeforeCritical`
//! (Consul's alias check bypasses its status handler).

use super::status::{HealthStatus, Reporter, CRITICAL, PASSING, WARNING};
use super::CheckSink;
use api_types::HealthCheck;
use std::sync::Arc;
use std::time::Duration;

/// Failed reads before the alias check backs off.
const BACKOFF_MIN: u32 = 3;
/// Longest pause between failed reads.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Longest blocking read (Consul's `MaxQueryTime` for alias checks).
pub const MAX_QUERY_TIME: Duration = Duration::from_secs(60);

/// A node's checks and services as an alias check reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeHealth {
    /// The index to block on next.
    pub index: u64,
    /// The node's checks (node-level and of every service).
    pub checks: Vec<HealthCheck>,
    /// Whether the aliased service is registered on the node.
    pub service_exists: bool,
}

/// What the alias of `service` on `node` (empty: the agent's node) reports for `health`.
pub(crate) fn evaluate(node: &str, service: &str, health: &NodeHealth) -> (HealthStatus, String) {
    let mut status = PASSING;
    let mut msg = "No checks found.".to_string();
    let mut found = false;
    for c in &health.checks {
        if !node.is_empty() && node != c.node {
            continue;
        }
        let matches = c.service_id == service;
        if !c.service_id.is_empty() && !matches {
            continue;
        }
        found |= matches;
        match HealthStatus::parse(&c.status) {
            Some(s @ (CRITICAL | WARNING)) => {
                status = s;
                msg = format!("Aliased check {:?} failing: {}", c.name, c.output);
                if s == CRITICAL {
                    break;
                }
            }
            _ => {
                if status == PASSING {
                    msg = "All checks passing.".into();
                }
            }
        }
    }
    if !found && !health.service_exists {
        return (
            CRITICAL,
            format!("Service {service} could not be found on node {node}"),
        );
    }
    (status, msg)
}

/// The alias check's task.
pub(crate) async fn run(
    mut rep: Reporter,
    source: Arc<dyn CheckSink>,
    node: String,
    service: String,
) {
    let mut index = 0;
    let mut attempt: u32 = 0;
    loop {
        if attempt > BACKOFF_MIN {
            let shift = (attempt - BACKOFF_MIN).min(31);
            let pause = Duration::from_secs(1u64 << shift).min(BACKOFF_MAX);
            sleep_reaping(&mut rep, pause).await;
        }
        let read = source.node_health(
            (!node.is_empty()).then(|| node.clone()),
            service.clone(),
            index,
        );
        let result = {
            tokio::pin!(read);
            loop {
                let reap = rep.reap_deadline();
                tokio::select! {
                    r = &mut read => break r,
                    _ = until(reap) => rep.maybe_reap().await,
                }
            }
        };
        match result {
            Err(e) => {
                attempt = attempt.saturating_add(1);
                if attempt > 1 {
                    rep.report(
                        CRITICAL,
                        format!("Failure checking aliased node or service: {e}"),
                    )
                    .await;
                }
            }
            Ok(health) => {
                attempt = 0;
                // Never a non-blocking read after the first: no hot loop.
                index = health.index.max(1);
                let (status, output) = evaluate(&node, &service, &health);
                rep.report(status, output).await;
            }
        }
        rep.maybe_reap().await;
    }
}

async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn sleep_reaping(rep: &mut Reporter, pause: Duration) {
    let end = tokio::time::Instant::now() + pause;
    loop {
        match rep.reap_deadline() {
            Some(d) if d < end => {
                tokio::time::sleep_until(d).await;
                rep.maybe_reap().await;
            }
            _ => {
                tokio::time::sleep_until(end).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(node: &str, service: &str, name: &str, status: &str, out: &str) -> HealthCheck {
        HealthCheck {
            node: node.into(),
            service_id: service.into(),
            name: name.into(),
            status: status.into(),
            output: out.into(),
            ..Default::default()
        }
    }

    fn health(checks: Vec<HealthCheck>, exists: bool) -> NodeHealth {
        NodeHealth {
            index: 7,
            checks,
            service_exists: exists,
        }
    }

    #[test]
    fn mirrors_the_worst_status_of_the_service_and_its_node() {
        let h = health(
            vec![
                check("n1", "", "Serf Health Status", "passing", ""),
                check("n1", "web", "web ttl", "passing", "fine"),
                check("n1", "db", "db ttl", "critical", "down"),
            ],
            true,
        );
        assert_eq!(
            evaluate("", "web", &h),
            (PASSING, "All checks passing.".into())
        );
        let h = health(
            vec![
                check("n1", "web", "a", "warning", "slow"),
                check("n1", "web", "b", "passing", ""),
            ],
            true,
        );
        assert_eq!(
            evaluate("n1", "web", &h),
            (WARNING, "Aliased check \"a\" failing: slow".into())
        );
        let h = health(
            vec![
                check("n1", "web", "a", "warning", "slow"),
                check("n1", "", "node", "critical", "gone"),
                check("n1", "web", "c", "warning", "later"),
            ],
            true,
        );
        assert_eq!(
            evaluate("n1", "web", &h),
            (CRITICAL, "Aliased check \"node\" failing: gone".into())
        );
        // Another node's checks are not the alias's business.
        let h = health(vec![check("n2", "web", "x", "critical", "")], true);
        assert_eq!(
            evaluate("n1", "web", &h),
            (PASSING, "No checks found.".into())
        );
    }

    #[test]
    fn a_missing_service_is_critical() {
        let h = health(vec![check("n1", "", "node", "passing", "")], false);
        assert_eq!(
            evaluate("n1", "web", &h),
            (CRITICAL, "Service web could not be found on node n1".into())
        );
        assert_eq!(
            evaluate("", "web", &h).1,
            "Service web could not be found on node "
        );
    }
}
