//! TTL checks (Consul's `CheckTTL`): the status is pushed through `/v1/agent/check/pass|warn|
//! fail|update`; without an update for a whole TTL the check turns critical with `TTL expired`
//! (plus the last output, if there was one).

use super::floor_boundary;
use super::status::{HealthStatus, Reporter, CRITICAL};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A TTL update from the HTTP API.
pub(crate) struct TtlMsg {
    pub status: HealthStatus,
    pub output: String,
    /// Signalled after the result went to the sink.
    pub done: Option<oneshot::Sender<()>>,
}

/// Caps a TTL output the way Consul's `CheckTTL.SetStatus` does.
pub(crate) fn cap_output(output: String, max: usize) -> String {
    let total = output.len();
    if total <= max {
        return output;
    }
    let cut = floor_boundary(&output, max);
    format!("{} ... (captured {max} of {total} bytes)", &output[..cut])
}

fn expired_output(last: &str) -> String {
    if last.is_empty() {
        "TTL expired".to_string()
    } else {
        format!("TTL expired (last output before timeout follows): {last}")
    }
}

/// The task of one TTL check.
pub(crate) async fn run(
    mut rep: Reporter,
    ttl: Duration,
    output_max: usize,
    mut rx: mpsc::UnboundedReceiver<TtlMsg>,
) {
    let far = || Instant::now() + Duration::from_secs(86400 * 365);
    let mut expires = Some(Instant::now() + ttl);
    let mut last_output = String::new();
    loop {
        let reap = rep.reap_deadline();
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                let output = cap_output(msg.output, output_max);
                tracing::debug!(target: "agent", "Check status updated: check={} status={}", rep.check_id(), msg.status);
                last_output = output.clone();
                expires = Some(Instant::now() + ttl);
                rep.result(msg.status, output).await;
                if let Some(done) = msg.done {
                    let _ = done.send(());
                }
            }
            _ = tokio::time::sleep_until(expires.unwrap_or_else(far)), if expires.is_some() => {
                tracing::warn!(target: "agent", "Check missed TTL, is now critical: check={}", rep.check_id());
                expires = None;
                rep.result(CRITICAL, expired_output(&last_output)).await;
            }
            _ = tokio::time::sleep_until(reap.unwrap_or_else(far)), if reap.is_some() => {
                rep.maybe_reap().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::cap_output;
    use api_types::GoDuration;

    fn ttl_spec(ms: i64) -> CheckRegistration {
        CheckRegistration {
            ttl: GoDuration(ms * 1_000_000),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn ttl_expires_to_critical() {
        let (rec, runner) = runner();
        let spec = CheckRegistration {
            status: PASSING.into(),
            ..ttl_spec(200)
        };
        runner.sync(&[record("t", spec)]);
        let u = rec.wait_for("t", 5, |u| !u.is_empty()).await;
        assert_eq!(u, vec![(CRITICAL.to_string(), "TTL expired".to_string())]);
    }

    #[tokio::test]
    async fn ttl_update_resets_timer_and_keeps_last_output() {
        let (rec, runner) = runner();
        runner.sync(&[record("t", ttl_spec(300))]);
        // Keep it alive across more than one TTL.
        for _ in 0..4 {
            runner
                .ttl_update("t", PASSING, "alive")
                .expect("ttl update");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            rec.updates("t"),
            vec![(PASSING.to_string(), "alive".to_string())]
        );
        let u = rec.wait_for("t", 5, |u| u.len() == 2).await;
        assert_eq!(
            u[1],
            (
                CRITICAL.to_string(),
                "TTL expired (last output before timeout follows): alive".to_string()
            )
        );
        runner
            .ttl_update_wait("t", WARNING, "")
            .await
            .expect("ttl update");
        assert_eq!(
            rec.updates("t").last(),
            Some(&(WARNING.to_string(), String::new()))
        );
    }

    #[tokio::test]
    async fn ttl_update_on_non_ttl_check() {
        let (_rec, runner) = runner();
        let tcp = CheckRegistration {
            tcp: "127.0.0.1:1".into(),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        };
        runner.sync(&[record("tcp", tcp)]);
        assert_eq!(
            runner.ttl_update("tcp", PASSING, ""),
            Err(TtlError::NotTtl("tcp".into()))
        );
        assert_eq!(
            runner.ttl_update("nope", PASSING, ""),
            Err(TtlError::Unknown("nope".into()))
        );
        runner.stop_all();
    }

    #[test]
    fn ttl_output_is_capped() {
        assert_eq!(cap_output("abc".into(), 4), "abc");
        assert_eq!(
            cap_output("abcdef".into(), 4),
            "abcd ... (captured 4 of 6 bytes)"
        );
        assert_eq!(cap_output("ééé".into(), 3), "é ... (captured 3 of 6 bytes)");
    }
}
