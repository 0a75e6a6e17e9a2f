//! The identity foca gossips about: one life of a member, kept lean because it travels in every
//! SWIM packet header (twice) and in every membership update.
//!
//! An [`Instance`] is the gossip address (foca's `Identity::Addr`, unique in the pool), the node
//! name, and a generation: milliseconds since the epoch when the node started, plus one each
//! time foca renews it. Two instances at the same address are two lives of one endpoint and
//! the higher generation wins (`win_addr_conflict`), so a restarted node replaces its old
//! identity everywhere (foca reports `Rename(old, new)`), and a node wrongly declared down
//! rejoins at once under `generation + 1` (`renew`). Node ID and tags are not in here: they are
//! the member's meta, carried by broadcasts (`wire::MetaRecord`).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One life of a member, as foca's identity.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Instance {
    addr: SocketAddr,
    name: String,
    generation: u64,
}

impl Instance {
    /// A new life starting now.
    pub(crate) fn start(addr: SocketAddr, name: &str) -> Self {
        Self {
            addr,
            name: name.to_owned(),
            generation: now_millis(),
        }
    }

    /// The stand-in for a node known only by address: foca accepts an announce addressed to
    /// any identity with the receiver's address, so this is what `join` announces to.
    pub(crate) fn unknown_at(addr: SocketAddr) -> Self {
        Self {
            addr,
            name: String::new(),
            generation: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn at(addr: SocketAddr, name: &str, generation: u64) -> Self {
        Self {
            addr,
            name: name.to_owned(),
            generation,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}#{}", self.name, self.addr, self.generation)
    }
}

impl foca::Identity for Instance {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(Self {
            addr: self.addr,
            name: self.name.clone(),
            generation: self.generation.saturating_add(1),
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use foca::Identity;

    use super::*;

    #[test]
    fn renewed_and_restarted_lives_win() {
        let addr = "127.0.0.1:8301".parse().expect("addr");
        let first = Instance::start(addr, "a");
        let renewed = first.renew().expect("renews");
        assert_eq!(renewed.addr(), first.addr());
        assert!(renewed.win_addr_conflict(&first));
        assert!(!first.win_addr_conflict(&renewed));
        let stand_in = Instance::unknown_at(addr);
        assert!(first.win_addr_conflict(&stand_in));
    }
}
