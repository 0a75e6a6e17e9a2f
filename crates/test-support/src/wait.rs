//! Polling a condition until it holds or a deadline passes: the one way tests wait (never a
//! bare sleep standing in for a condition).

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const EVERY: Duration = Duration::from_millis(25);

/// Polls `cond` every 25 ms until it holds (true) or `timeout` passes (false); it is checked
/// once more at the deadline.
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// [`wait_until`] for code without a runtime: sleeps the thread between polls.
pub fn wait_until_blocking(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(EVERY);
    }
}
