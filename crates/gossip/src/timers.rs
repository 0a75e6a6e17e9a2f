//! foca's timer events, held until due. foca asks for each event "after this long" and must get
//! every one back; events due together are handed back in foca's own order (`Timer: Ord`, an
//! indirect probe before the next probe) so a lagging runtime does not break a probe cycle.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

use foca::Timer;
use tokio::time::Instant;

use crate::instance::Instance;

struct Scheduled {
    at: Instant,
    seq: u64,
    timer: Timer<Instance>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A min-heap of pending timer events.
#[derive(Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
}

impl TimerQueue {
    pub(crate) fn schedule(&mut self, now: Instant, after: Duration, timer: Timer<Instance>) {
        self.seq += 1;
        self.heap.push(Reverse(Scheduled {
            at: now + after,
            seq: self.seq,
            timer,
        }));
    }

    /// When the earliest event is due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(s)| s.at)
    }

    /// Every event due at `now`, in the order foca wants them.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Timer<Instance>> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|Reverse(s)| s.at <= now) {
            if let Some(Reverse(s)) = self.heap.pop() {
                due.push(s.timer);
            }
        }
        due.sort();
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_events_in_foca_order() {
        let mut q = TimerQueue::default();
        let now = Instant::now();
        let probed = Instance::unknown_at("127.0.0.1:1".parse().expect("addr"));
        q.schedule(now, Duration::ZERO, Timer::ProbeRandomMember(0));
        q.schedule(
            now,
            Duration::ZERO,
            Timer::SendIndirectProbe {
                probed_id: probed,
                token: 0,
            },
        );
        q.schedule(now, Duration::from_secs(60), Timer::PeriodicGossip(0));
        let due = q.take_due(now);
        assert_eq!(due.len(), 2);
        assert!(matches!(due[0], Timer::SendIndirectProbe { .. }));
        assert_eq!(q.next_deadline(), Some(now + Duration::from_secs(60)));
    }
}
