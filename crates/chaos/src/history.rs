//! What the clients were told, and the check of a server's state against it: every
//! acknowledged write present with its value, writes whose answer was lost present or absent
//! (with their value if present), nothing else, and the CAS counter within its bounds.

use std::collections::BTreeMap;

/// The shared counter the CAS writers increment.
pub const COUNTER: &str = "chaos/counter";

#[derive(Default, Debug, Clone)]
pub struct History {
    /// Keys whose last write was acknowledged, with that value.
    pub acked: BTreeMap<String, Vec<u8>>,
    /// Keys written only without a known answer, with the value sent.
    pub unknown: BTreeMap<String, Vec<u8>>,
    /// CAS increments answered `true`.
    pub cas_acked: u64,
    /// CAS increments whose answer was lost.
    pub cas_unknown: u64,
    /// CAS attempts answered `false` (lost the race).
    pub cas_lost_race: u64,
}

impl History {
    pub fn ack(&mut self, key: &str, value: Vec<u8>) {
        self.unknown.remove(key);
        self.acked.insert(key.to_string(), value);
    }

    pub fn unknown(&mut self, key: &str, value: Vec<u8>) {
        if !self.acked.contains_key(key) {
            self.unknown.insert(key.to_string(), value);
        }
    }

    /// Checks `state` (every key under `chaos/`); returns the problems found, at most a few
    /// named and the rest counted.
    pub fn check(&self, state: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
        let mut bad = Vec::new();
        for (k, v) in &self.acked {
            match state.get(k) {
                None => bad.push(format!("acknowledged key {k} missing")),
                Some(got) if got != v => bad.push(format!(
                    "acknowledged key {k} has a wrong value ({} bytes, expected {})",
                    got.len(),
                    v.len()
                )),
                _ => {}
            }
        }
        for (k, got) in state {
            if k == COUNTER || self.acked.contains_key(k) {
                continue;
            }
            match self.unknown.get(k) {
                Some(v) if v == got => {}
                Some(_) => bad.push(format!("key {k} (unacknowledged write) has a wrong value")),
                None => bad.push(format!("key {k} was never written")),
            }
        }
        if self.cas_acked + self.cas_unknown > 0 {
            let c = state
                .get(COUNTER)
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
                .unwrap_or(0);
            let (lo, hi) = (self.cas_acked, self.cas_acked + self.cas_unknown);
            if c < lo || c > hi {
                bad.push(format!("CAS counter is {c}, expected {lo}..={hi}"));
            }
        }
        bad
    }
}

/// The problems as one line: the first three and a count.
pub fn summary(bad: &[String]) -> String {
    let mut s = bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if bad.len() > 3 {
        s.push_str(&format!("; and {} more", bad.len() - 3));
    }
    s
}
