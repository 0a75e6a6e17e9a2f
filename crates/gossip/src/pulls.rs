//! When to ask which member for its meta directly: the members whose meta is missing or older
//! than their life, each with the moment its request is due, ordered by that moment, so the
//! driver's 200 ms housekeeping tick walks only the due ones (not every member it knows).
//!
//! Requests are spread out, for two reasons. A member's meta usually arrives by gossip (it is
//! broadcast when the member starts, rejoins or changes its tags) before anyone needs to ask,
//! so the first request waits a random time within the span that broadcast is still being
//! retransmitted. And when a member rejoins under a new life, every other member learns it
//! within a few gossip rounds: without the spread all of them would ask it in the same tick,
//! n requests and n answers at once, enough to overflow receive buffers and lose the acks the
//! pool needs to stay healthy. Each tick sends at most [`MAX_PER_TICK`] requests; the rest wait
//! their turn, so a burst of rejoins costs each member a bounded rate of requests.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::RngExt;

/// Direct meta requests one member sends per housekeeping tick, at most (50 per second at
/// the 200 ms gossip interval: a member joining a 1,000-member pool has asked for every meta
/// it did not get by gossip within 20 s).
pub(crate) const MAX_PER_TICK: usize = 10;

/// The members due a meta request, by when.
pub(crate) struct Pulls {
    by_time: BTreeSet<(Instant, String)>,
    at: HashMap<String, Instant>,
    /// The earliest first request, after a member is found to need one.
    first_after: Duration,
    /// First requests are spread uniformly over this span after `first_after`.
    spread: Duration,
    rng: StdRng,
}

impl Pulls {
    pub(crate) fn new(first_after: Duration) -> Self {
        Self {
            by_time: BTreeSet::new(),
            at: HashMap::new(),
            first_after,
            spread: Duration::ZERO,
            rng: rand::make_rng::<StdRng>(),
        }
    }

    /// Sets the span first requests are spread over (the driver keeps it at the time a
    /// broadcast takes to be retransmitted, which grows with the pool).
    pub(crate) fn set_spread(&mut self, spread: Duration) {
        self.spread = spread;
    }

    /// `name` needs its meta: schedules a first request unless one is already scheduled.
    pub(crate) fn want(&mut self, name: &str, now: Instant) {
        if self.at.contains_key(name) {
            return;
        }
        let when = now + self.first_after + self.jitter(self.spread);
        self.insert(name.to_owned(), when);
    }

    /// `name` needs no request (its meta arrived, it is no longer alive, it was forgotten).
    pub(crate) fn forget(&mut self, name: &str) {
        if let Some(when) = self.at.remove(name) {
            self.by_time.remove(&(when, name.to_owned()));
        }
    }

    /// Up to `limit` members whose request is due at `now`, the longest-waiting first; each
    /// is due again after `retry` plus a random part of another `retry`, unless forgotten
    /// meanwhile.
    pub(crate) fn take_due(&mut self, now: Instant, retry: Duration, limit: usize) -> Vec<String> {
        let mut due = Vec::new();
        while due.len() < limit {
            let Some((when, _)) = self.by_time.first() else {
                break;
            };
            if *when > now {
                break;
            }
            let Some((_, name)) = self.by_time.pop_first() else {
                break;
            };
            let again = now + retry + self.jitter(retry);
            self.insert(name.clone(), again);
            due.push(name);
        }
        due
    }

    /// How many members are waiting for a request.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    fn insert(&mut self, name: String, when: Instant) {
        self.at.insert(name.clone(), when);
        self.by_time.insert((when, name));
    }

    fn jitter(&mut self, span: Duration) -> Duration {
        let micros = u64::try_from(span.as_micros()).unwrap_or(u64::MAX);
        if micros == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.rng.random_range(0..=micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_in_order_capped_and_rescheduled() {
        let mut p = Pulls::new(Duration::ZERO);
        let t0 = Instant::now();
        for i in 0..25 {
            p.want(&format!("m{i:02}"), t0 + Duration::from_millis(i));
        }
        p.want("m00", t0 + Duration::from_secs(100)); // already scheduled: kept
        let later = t0 + Duration::from_secs(1);
        let retry = Duration::from_secs(1);
        let first = p.take_due(later, retry, MAX_PER_TICK);
        assert_eq!(first.len(), MAX_PER_TICK);
        assert_eq!(first[0], "m00");
        assert_eq!(first[9], "m09");
        let second = p.take_due(later, retry, MAX_PER_TICK);
        assert_eq!(second[0], "m10");
        assert_eq!(p.take_due(later, retry, MAX_PER_TICK).len(), 5);
        // all rescheduled a retry later, none due now
        assert!(p.take_due(later, retry, MAX_PER_TICK).is_empty());
        assert_eq!(p.len(), 25);
        p.forget("m03");
        p.forget("unknown");
        assert_eq!(p.len(), 24);
        let much_later = later + retry * 2;
        let mut all = Vec::new();
        while all.len() < 24 {
            let batch = p.take_due(much_later, retry, MAX_PER_TICK);
            assert!(!batch.is_empty());
            all.extend(batch);
        }
        assert!(!all.contains(&"m03".to_owned()));
    }

    #[test]
    fn first_requests_are_spread() {
        let mut p = Pulls::new(Duration::from_millis(200));
        p.set_spread(Duration::from_secs(3));
        let t0 = Instant::now();
        for i in 0..1000 {
            p.want(&format!("m{i}"), t0);
        }
        // none before the first delay, all by its end plus the spread (each once: the retry
        // is far off)
        let retry = Duration::from_secs(3600);
        assert!(p
            .take_due(t0 + Duration::from_millis(199), retry, usize::MAX)
            .is_empty());
        let early = p.take_due(t0 + Duration::from_millis(700), retry, usize::MAX);
        assert!(early.len() < 1000);
        let rest = p.take_due(t0 + Duration::from_millis(3200), retry, usize::MAX);
        assert_eq!(early.len() + rest.len(), 1000);
    }
}
