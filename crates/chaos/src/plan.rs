//! How often each scenario is tried: the short form (CI, a few minutes) and the long form
//! (the figures of docs/RELIABILITY.md).

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub long: bool,
    /// kill -9 cycles under concurrent writers.
    pub kill_cycles: usize,
    /// Fill-to-ENOSPC-and-free rounds on the loop filesystem.
    pub enospc_rounds: usize,
    /// Damage trials per region of the data dir.
    pub flip_trials: usize,
    /// Rounds of 500 idle/slow connections, and how long each holds them.
    pub client_rounds: usize,
    pub client_hold_secs: u64,
    /// kill -9 cycles aimed at a snapshot being written.
    pub snapshot_cycles: usize,
    /// kill -9 cycles during a snapshot restore.
    pub restore_cycles: usize,
    /// Keys in the restored archive.
    pub restore_keys: usize,
}

impl Plan {
    pub fn short() -> Plan {
        Plan {
            long: false,
            kill_cycles: 5,
            enospc_rounds: 2,
            flip_trials: 3,
            client_rounds: 1,
            client_hold_secs: 8,
            snapshot_cycles: 4,
            restore_cycles: 3,
            restore_keys: 2000,
        }
    }

    pub fn long() -> Plan {
        Plan {
            long: true,
            kill_cycles: 150,
            enospc_rounds: 8,
            flip_trials: 80,
            client_rounds: 5,
            client_hold_secs: 45,
            snapshot_cycles: 120,
            restore_cycles: 80,
            restore_keys: 8000,
        }
    }
}
