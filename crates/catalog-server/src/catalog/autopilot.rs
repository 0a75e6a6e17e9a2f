//! Autopilot's configuration as the replicated state holds it (`/v1/operator/autopilot/
//! configuration`): one record with Consul's defaults, its create/modify indexes, and the
//! check-and-set rules of Consul's state store.

use super::state::State;
use serde::{Deserialize, Serialize};

/// Autopilot's settings. Durations are nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotConfig {
    pub cleanup_dead_servers: bool,
    pub last_contact_threshold_ns: i64,
    pub max_trailing_logs: u64,
    pub min_quorum: u64,
    pub server_stabilization_time_ns: i64,
    pub redundancy_zone_tag: String,
    pub disable_upgrade_migration: bool,
    pub upgrade_version_tag: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Default for AutopilotConfig {
    /// Consul's defaults: dead servers cleaned up, 200ms, 250 entries, no quorum floor, 10s.
    fn default() -> Self {
        AutopilotConfig {
            cleanup_dead_servers: true,
            last_contact_threshold_ns: 200_000_000,
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time_ns: 10_000_000_000,
            redundancy_zone_tag: String::new(),
            disable_upgrade_migration: false,
            upgrade_version_tag: String::new(),
            create_index: 0,
            modify_index: 0,
        }
    }
}

/// How an autopilot configuration write applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutopilotWrite {
    /// Replace whatever is there.
    Set,
    /// Replace only if the stored one's `ModifyIndex` is this (none stored: refused).
    Cas(u64),
    /// Store only when none is stored yet (the leader's initial values from its config file).
    Init,
}

impl State {
    /// The stored autopilot configuration, if one was written.
    pub fn autopilot_config(&self) -> Option<&AutopilotConfig> {
        self.autopilot.as_ref()
    }

    /// Applies an autopilot configuration write; whether it was stored.
    pub(super) fn autopilot_set(
        &mut self,
        index: u64,
        config: &AutopilotConfig,
        how: AutopilotWrite,
    ) -> bool {
        let existing = self.autopilot.as_ref();
        match (how, existing) {
            (AutopilotWrite::Cas(want), Some(e)) if e.modify_index != want => return false,
            (AutopilotWrite::Cas(_), None) | (AutopilotWrite::Init, Some(_)) => return false,
            _ => {}
        }
        let mut new = config.clone();
        new.create_index = existing.map(|e| e.create_index).unwrap_or(index);
        new.modify_index = index;
        self.autopilot = Some(new);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_init_and_set_follow_consuls_rules() {
        let mut s = State::default();
        let c = AutopilotConfig::default();
        assert!(
            !s.autopilot_set(5, &c, AutopilotWrite::Cas(0)),
            "nothing stored"
        );
        assert!(s.autopilot_set(6, &c, AutopilotWrite::Init));
        assert!(
            !s.autopilot_set(7, &c, AutopilotWrite::Init),
            "already stored"
        );
        let stored = s.autopilot_config().cloned().expect("stored");
        assert_eq!((stored.create_index, stored.modify_index), (6, 6));
        let changed = AutopilotConfig {
            min_quorum: 3,
            ..c.clone()
        };
        assert!(!s.autopilot_set(8, &changed, AutopilotWrite::Cas(5)));
        assert!(s.autopilot_set(9, &changed, AutopilotWrite::Cas(6)));
        assert!(s.autopilot_set(10, &c, AutopilotWrite::Set));
        let stored = s.autopilot_config().cloned().expect("stored");
        assert_eq!((stored.create_index, stored.modify_index), (6, 10));
        assert_eq!(stored.min_quorum, 0);
    }
}
