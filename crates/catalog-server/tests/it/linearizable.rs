//! A small linearizability checker for a KV register with compare-and-set, and the history
//! test that feeds it: concurrent clients on three servers while the leader is killed.
//!
//! Model: each key is an independent register (P-compositionality). Values are unique, so a CAS
//! on the `ModifyIndex` a client read is a CAS on the value that read returned. Operations whose
//! outcome is unknown (timeouts, connection errors) may take effect at any point after their
//! invocation, or never. The search is Wing & Gong's, with memoisation of (linearized set, state).

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Write(String),
    Read,
    /// Compare the current value with `.0` and set `.1`.
    Cas(Option<String>, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Read(Option<String>),
    CasResult(bool),
    /// Unknown: may or may not have happened.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Op {
    pub call: u128,
    /// `None` for unknown outcomes (treated as returning at the end of time).
    pub ret: Option<u128>,
    pub kind: Kind,
    pub outcome: Outcome,
}

/// Applies `op` to `state`; `None` when the op's recorded outcome is impossible from `state`.
fn step(state: &Option<String>, op: &Op) -> Option<Option<String>> {
    match (&op.kind, &op.outcome) {
        (Kind::Write(v), Outcome::Ok | Outcome::Unknown) => Some(Some(v.clone())),
        (Kind::Read, Outcome::Read(v)) => (v == state).then(|| state.clone()),
        (Kind::Read, Outcome::Unknown) => Some(state.clone()),
        (Kind::Cas(expect, new), Outcome::CasResult(true)) => {
            (expect == state).then(|| Some(new.clone()))
        }
        (Kind::Cas(expect, _), Outcome::CasResult(false)) => {
            (expect != state).then(|| state.clone())
        }
        (Kind::Cas(expect, new), Outcome::Unknown) => Some(if expect == state {
            Some(new.clone())
        } else {
            state.clone()
        }),
        _ => None,
    }
}

/// Whether the history of one register is linearizable from the initial value `init`.
pub fn linearizable(ops: &[Op], init: Option<String>) -> bool {
    assert!(ops.len() <= 128, "history too long for the checker");
    let must: u128 = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.outcome != Outcome::Unknown)
        .fold(0, |m, (i, _)| m | 1 << i);
    let mut seen: HashSet<(u128, Option<String>)> = HashSet::new();
    let mut stack: Vec<(u128, Option<String>)> = vec![(0, init)];
    while let Some((done, state)) = stack.pop() {
        if done & must == must {
            return true;
        }
        if !seen.insert((done, state.clone())) {
            continue;
        }
        // The earliest return among pending determinate ops bounds what may go next.
        let horizon = ops
            .iter()
            .enumerate()
            .filter(|(i, o)| done & (1 << i) == 0 && o.ret.is_some())
            .filter_map(|(_, o)| o.ret)
            .min()
            .unwrap_or(u128::MAX);
        for (i, op) in ops.iter().enumerate() {
            if done & (1 << i) != 0 || op.call > horizon {
                continue;
            }
            if let Some(next) = step(&state, op) {
                stack.push((done | 1 << i, next));
            }
        }
    }
    false
}

#[cfg(test)]
mod checker_tests {
    use super::*;

    fn op(call: u128, ret: u128, kind: Kind, outcome: Outcome) -> Op {
        Op {
            call,
            ret: Some(ret),
            kind,
            outcome,
        }
    }

    #[test]
    fn accepts_and_rejects_textbook_histories() {
        let w = |v: &str| Kind::Write(v.into());
        let r = |v: Option<&str>| Outcome::Read(v.map(String::from));
        // Sequential: write a, read a.
        assert!(linearizable(
            &[
                op(0, 1, w("a"), Outcome::Ok),
                op(2, 3, Kind::Read, r(Some("a")))
            ],
            None
        ));
        // Stale read after a completed write: not linearizable.
        assert!(!linearizable(
            &[
                op(0, 1, w("a"), Outcome::Ok),
                op(2, 3, w("b"), Outcome::Ok),
                op(4, 5, Kind::Read, r(Some("a")))
            ],
            None
        ));
        // Concurrent write and read may see either value.
        assert!(linearizable(
            &[
                op(0, 10, w("a"), Outcome::Ok),
                op(1, 2, Kind::Read, r(None))
            ],
            None
        ));
        // A read can't see a value before its write was invoked.
        assert!(!linearizable(
            &[
                op(5, 6, w("a"), Outcome::Ok),
                op(1, 2, Kind::Read, r(Some("a")))
            ],
            None
        ));
        // CAS semantics, and an unknown write that may have happened.
        assert!(linearizable(
            &[
                op(0, 1, w("a"), Outcome::Ok),
                op(
                    2,
                    3,
                    Kind::Cas(Some("a".into()), "b".into()),
                    Outcome::CasResult(true)
                ),
                op(
                    4,
                    5,
                    Kind::Cas(Some("a".into()), "c".into()),
                    Outcome::CasResult(false)
                ),
                Op {
                    call: 6,
                    ret: None,
                    kind: w("d"),
                    outcome: Outcome::Unknown
                },
                op(7, 8, Kind::Read, r(Some("d"))),
            ],
            None
        ));
        assert!(!linearizable(
            &[
                op(0, 1, w("a"), Outcome::Ok),
                op(
                    2,
                    3,
                    Kind::Cas(Some("a".into()), "b".into()),
                    Outcome::CasResult(true)
                ),
                op(
                    4,
                    5,
                    Kind::Cas(Some("a".into()), "c".into()),
                    Outcome::CasResult(true)
                ),
            ],
            None
        ));
    }
}
