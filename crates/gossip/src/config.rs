//! The pool's tuning, in Serf's and memberlist's words, with their LAN defaults, and how each
//! setting lands on foca's `Config` (see the crate docs for the table and detection times).

use std::num::{NonZeroU8, NonZeroUsize};
use std::time::Duration;

use crate::error::Error;
use crate::keyring::{Keyring, OVERHEAD};

/// How a pool gossips. `Config::default()` is memberlist's `DefaultLANConfig` as Serf and
/// Consul use it.
#[derive(Clone, Debug)]
pub struct Config {
    /// How often a random member is probed (memberlist `ProbeInterval`, 1 s).
    pub probe_interval: Duration,
    /// How long a direct probe waits for its ack before asking others to probe indirectly
    /// (memberlist `ProbeTimeout`, 500 ms).
    pub probe_timeout: Duration,
    /// How many members are asked to probe indirectly (memberlist `IndirectChecks`, 3).
    pub indirect_checks: usize,
    /// Suspicion timeout = `suspicion_mult` × max(1, log10(n)) × `probe_interval`
    /// (memberlist `SuspicionMult`, 4).
    pub suspicion_mult: u32,
    /// Each update is sent `retransmit_mult` × ceil(log10(n + 1)) times
    /// (memberlist `RetransmitMult`, 4).
    pub retransmit_mult: u32,
    /// How often pending updates are gossiped (memberlist `GossipInterval`, 200 ms).
    pub gossip_interval: Duration,
    /// To how many random members each gossip round goes (memberlist `GossipNodes`, 3).
    pub gossip_nodes: usize,
    /// How often one random member is asked for its view of the pool (memberlist
    /// `PushPullInterval`, 30 s; foca's periodic announce, answered with a feed of members).
    pub push_pull_interval: Duration,
    /// How often one failed member is contacted in case it is back (Serf
    /// `ReconnectInterval`, 30 s).
    pub reconnect_interval: Duration,
    /// How long a failed member is kept before it is reaped (Serf `ReconnectTimeout`,
    /// Consul's `reconnect_timeout`, 72 h).
    pub reconnect_timeout: Duration,
    /// How long a left member is kept before it is reaped (Serf `TombstoneTimeout`, 24 h).
    pub tombstone_timeout: Duration,
    /// How long `leave` lets its intent spread before the node stops answering (Serf
    /// `LeavePropagateDelay`, 1 s).
    pub leave_propagate_delay: Duration,
    /// How long `join` waits for an answer from the addresses it was given (memberlist
    /// `TCPTimeout`, 10 s).
    pub join_timeout: Duration,
    /// How long a user event's ID is remembered to drop copies of it (10 min).
    pub event_dedup_window: Duration,
    /// The largest SWIM packet before encryption (memberlist `UDPBufferSize`, 1400 bytes).
    pub max_packet_size: usize,
    /// Gossip encryption (Consul's `encrypt`); `None` sends plaintext.
    pub keyring: Option<Keyring>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_checks: 3,
            suspicion_mult: 4,
            retransmit_mult: 4,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            push_pull_interval: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(72 * 3600),
            tombstone_timeout: Duration::from_secs(24 * 3600),
            leave_propagate_delay: Duration::from_secs(1),
            join_timeout: Duration::from_secs(10),
            event_dedup_window: Duration::from_secs(600),
            max_packet_size: 1400,
            keyring: None,
        }
    }
}

impl Config {
    /// Serf's LAN defaults (the same as `Config::default()`).
    pub fn lan() -> Self {
        Self::default()
    }

    /// The same config with gossip encryption.
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Checks the settings foca needs consistent.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.probe_interval.is_zero() || self.probe_timeout.is_zero() {
            return Err(Error::Config("probe interval and timeout must not be zero"));
        }
        if self.probe_timeout >= self.probe_interval {
            return Err(Error::Config(
                "probe timeout must be shorter than the probe interval",
            ));
        }
        if self.gossip_interval.is_zero()
            || self.push_pull_interval.is_zero()
            || self.reconnect_interval.is_zero()
        {
            return Err(Error::Config("gossip intervals must not be zero"));
        }
        if self.indirect_checks == 0 || self.gossip_nodes == 0 {
            return Err(Error::Config(
                "indirect checks and gossip nodes must not be zero",
            ));
        }
        if self.suspicion_mult == 0 || self.retransmit_mult == 0 {
            return Err(Error::Config("multipliers must not be zero"));
        }
        if self.max_packet_size < 512 || self.max_packet_size + OVERHEAD + 1 > 65_507 {
            return Err(Error::Config(
                "max packet size must be between 512 bytes and a UDP datagram",
            ));
        }
        Ok(())
    }

    /// memberlist's suspicion timeout for a pool of `members` (the local node included).
    pub fn suspicion_timeout(&self, members: usize) -> Duration {
        let scale = (members.max(1) as f64).log10().max(1.0);
        let micros =
            self.probe_interval.as_micros() as f64 * f64::from(self.suspicion_mult) * scale;
        Duration::from_micros(micros.round() as u64)
    }

    /// memberlist's retransmit limit for a pool of `members`, but never under two rounds of
    /// `retransmit_mult`: Serf recovers a user event a member missed through its push/pull
    /// exchange of recent events, which this pool does not have, so pools under 100 members
    /// (where memberlist's formula gives a single round) send each broadcast twice as often.
    pub fn retransmit_limit(&self, members: usize) -> u32 {
        let scale = ((members as f64) + 1.0).log10().ceil() as u32;
        self.retransmit_mult.saturating_mul(scale.max(2))
    }

    /// foca's config for a pool of `members`; the suspicion timeout and retransmit limit are
    /// recomputed as the pool grows and shrinks, as memberlist does.
    pub(crate) fn swim(&self, members: usize) -> foca::Config {
        let limit = u8::try_from(self.retransmit_limit(members)).unwrap_or(u8::MAX);
        foca::Config {
            probe_period: self.probe_interval,
            probe_rtt: self.probe_timeout,
            num_indirect_probes: nonzero(self.indirect_checks),
            max_transmissions: NonZeroU8::new(limit).unwrap_or(NonZeroU8::MIN),
            suspect_to_down_after: self.suspicion_timeout(members),
            remove_down_after: Some(self.reconnect_timeout),
            max_packet_size: nonzero(self.max_packet_size),
            notify_down_members: true,
            periodic_announce: Some(foca::PeriodicParams {
                frequency: self.push_pull_interval,
                num_members: NonZeroUsize::MIN,
            }),
            periodic_announce_to_down_members: Some(foca::PeriodicParams {
                frequency: self.reconnect_interval,
                num_members: NonZeroUsize::MIN,
            }),
            periodic_gossip: Some(foca::PeriodicParams {
                frequency: self.gossip_interval,
                num_members: nonzero(self.gossip_nodes),
            }),
        }
    }
}

fn nonzero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberlist_scaling() {
        let c = Config::default();
        assert_eq!(c.suspicion_timeout(1), Duration::from_secs(4));
        assert_eq!(c.suspicion_timeout(5), Duration::from_secs(4));
        assert_eq!(c.suspicion_timeout(100), Duration::from_secs(8));
        assert_eq!(c.suspicion_timeout(1000), Duration::from_secs(12));
        assert_eq!(c.retransmit_limit(5), 8);
        assert_eq!(c.retransmit_limit(100), 12);
        assert_eq!(c.retransmit_limit(1000), 16);
        let swim = c.swim(5);
        assert_eq!(swim.probe_period, Duration::from_secs(1));
        assert_eq!(swim.probe_rtt, Duration::from_millis(500));
        assert_eq!(swim.max_transmissions.get(), 8);
    }

    #[test]
    fn validation() {
        assert!(Config::default().validate().is_ok());
        let bad = Config {
            probe_timeout: Duration::from_secs(2),
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }
}
