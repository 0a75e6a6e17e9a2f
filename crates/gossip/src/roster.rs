//! The membership table the pool answers from: one entry per node name, fed by foca's
//! notifications (up, down, rename), by meta records and by leave intents, and turned into
//! [`MemberEvent`]s.
//!
//! foca knows instances (one life of a node at one address); Consul knows node names. The
//! roster keeps, per name, the newest instance seen and its status (alive, failed, left);
//! news about an older life of the same name is ignored, so a node restarted at another
//! address replaces its old life instead of also showing it failed. A member becomes visible
//! (listed, and announced to subscribers) once its meta (node ID and tags) is known; until
//! then, and whenever a newer life appears than the meta describes, it is due a direct meta
//! request. A `Down` of the current life reads as `left` when that life announced leaving,
//! else `failed`; an intent that arrives after the `Down` turns `failed` into `left`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::events::{MemberEvent, MemberEventKind};
use crate::instance::Instance;
use crate::member::{Member, MemberState, MemberStatus};
use crate::pulls::{Pulls, MAX_PER_TICK};
use crate::wire::{LeaveIntent, MetaRecord};

/// The settled status of an entry; `Suspect` is read from foca when listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settled {
    Alive,
    Failed,
    Left,
}

impl Settled {
    fn status(self) -> MemberStatus {
        match self {
            Self::Alive => MemberStatus::Alive,
            Self::Failed => MemberStatus::Failed,
            Self::Left => MemberStatus::Left,
        }
    }
}

struct Entry {
    instance: Instance,
    status: Settled,
    since: Instant,
    rtt: Option<Duration>,
}

/// Every member the local node knows of, itself included.
pub(crate) struct Roster {
    local: String,
    entries: BTreeMap<String, Entry>,
    metas: HashMap<String, MetaRecord>,
    leaves: HashMap<String, u64>,
    events: broadcast::Sender<MemberEvent>,
    /// Alive members whose meta is missing or older than their life.
    pulls: Pulls,
    /// Failed and left members (the ones `reap` looks at).
    inactive: HashSet<String>,
}

impl Roster {
    pub(crate) fn new(
        local: Instance,
        meta: MetaRecord,
        events: broadcast::Sender<MemberEvent>,
        first_pull_after: Duration,
    ) -> Self {
        let mut roster = Self {
            local: local.name().to_owned(),
            entries: BTreeMap::new(),
            metas: HashMap::new(),
            leaves: HashMap::new(),
            events,
            pulls: Pulls::new(first_pull_after),
            inactive: HashSet::new(),
        };
        roster.set_local(local, meta);
        roster
    }

    /// The local node's current life and meta (at start, after a rejoin, after new tags).
    pub(crate) fn set_local(&mut self, instance: Instance, meta: MetaRecord) {
        let now = Instant::now();
        self.metas.insert(self.local.clone(), meta);
        self.entries.insert(
            self.local.clone(),
            Entry {
                instance,
                status: Settled::Alive,
                since: now,
                rtt: None,
            },
        );
    }

    /// Spreads first meta requests over `spread` (see `pulls.rs`).
    pub(crate) fn set_pull_spread(&mut self, spread: Duration) {
        self.pulls.set_spread(spread);
    }

    /// The local node left.
    pub(crate) fn local_left(&mut self) {
        if let Some(entry) = self.entries.get_mut(&self.local) {
            entry.status = Settled::Left;
            entry.since = Instant::now();
        }
    }

    /// foca: `instance` is active.
    pub(crate) fn up(&mut self, instance: &Instance) {
        if instance.name() == self.local || instance.name().is_empty() {
            return;
        }
        self.apply_up(instance);
        self.reindex(instance.name());
    }

    fn apply_up(&mut self, instance: &Instance) {
        let now = Instant::now();
        let Some(entry) = self.entries.get_mut(instance.name()) else {
            self.entries.insert(
                instance.name().to_owned(),
                Entry {
                    instance: instance.clone(),
                    status: Settled::Alive,
                    since: now,
                    rtt: None,
                },
            );
            self.emit(MemberEventKind::Joined, instance.name());
            return;
        };
        if entry.instance != *instance {
            if instance.generation() < entry.instance.generation() {
                return; // an older life, still gossiped about
            }
            entry.instance = instance.clone();
            entry.rtt = None;
            if entry.status == Settled::Alive {
                self.emit(MemberEventKind::Updated, instance.name());
                return;
            }
        }
        if entry.status != Settled::Alive {
            entry.status = Settled::Alive;
            entry.since = now;
            self.emit(MemberEventKind::Joined, instance.name());
        }
    }

    /// foca: `instance` was declared down (by the pool, or by itself leaving).
    pub(crate) fn down(&mut self, instance: &Instance) {
        self.apply_down(instance);
        self.reindex(instance.name());
    }

    fn apply_down(&mut self, instance: &Instance) {
        let left = self
            .leaves
            .get(instance.name())
            .is_some_and(|generation| *generation >= instance.generation());
        let Some(entry) = self.entries.get_mut(instance.name()) else {
            return;
        };
        if entry.instance != *instance || instance.name() == self.local {
            return;
        }
        let status = if left { Settled::Left } else { Settled::Failed };
        if entry.status == status {
            return;
        }
        entry.status = status;
        entry.since = Instant::now();
        let kind = match status {
            Settled::Left => MemberEventKind::Left,
            _ => MemberEventKind::Failed,
        };
        self.emit(kind, instance.name());
    }

    /// foca: `new` took over `old`'s address (a restart, or a rejoin after a false failure).
    /// An `up` or `down` of `new` follows when its liveness differs from `old`'s.
    pub(crate) fn rename(&mut self, old: &Instance, new: &Instance) {
        let old_was_alive = self
            .entries
            .get(old.name())
            .is_some_and(|e| e.instance == *old && e.status == Settled::Alive);
        if old.name() != new.name() && old_was_alive {
            // another node now holds this address: the old one is gone
            self.down(old);
        }
        if old_was_alive {
            self.up(new);
        } else if let Some(entry) = self.entries.get_mut(new.name()) {
            if new.name() != self.local && new.generation() > entry.instance.generation() {
                entry.instance = new.clone();
                entry.rtt = None;
            }
        }
        self.reindex(old.name());
        self.reindex(new.name());
    }

    /// A meta record arrived (broadcast or direct answer).
    pub(crate) fn meta(&mut self, record: MetaRecord) {
        if record.name == self.local {
            return;
        }
        let previous = self.metas.get(&record.name);
        if previous.is_some_and(|p| !record.supersedes(p)) {
            return;
        }
        let first = previous.is_none();
        let changed = previous.is_some_and(|p| p.tags != record.tags || p.id != record.id);
        let name = record.name.clone();
        self.metas.insert(name.clone(), record);
        self.reindex(&name);
        let Some(status) = self.entries.get(&name).map(|e| e.status) else {
            return;
        };
        if first {
            let kind = match status {
                Settled::Alive => MemberEventKind::Joined,
                Settled::Failed => MemberEventKind::Failed,
                Settled::Left => MemberEventKind::Left,
            };
            self.emit(kind, &name);
        } else if changed && status == Settled::Alive {
            self.emit(MemberEventKind::Updated, &name);
        }
    }

    /// A leave intent arrived (the member's own, or a force-leave).
    pub(crate) fn leave_intent(&mut self, intent: &LeaveIntent) {
        if intent.name == self.local {
            return;
        }
        let known = self.leaves.entry(intent.name.clone()).or_insert(0);
        *known = (*known).max(intent.generation);
        if let Some(entry) = self.entries.get_mut(&intent.name) {
            if entry.status == Settled::Failed && entry.instance.generation() <= intent.generation {
                entry.status = Settled::Left;
                entry.since = Instant::now();
                self.emit(MemberEventKind::Left, &intent.name);
            }
        }
        self.reindex(&intent.name);
    }

    /// A direct probe of `instance` came back after `rtt`.
    pub(crate) fn record_rtt(&mut self, instance: &Instance, rtt: Duration) -> bool {
        match self.entries.get_mut(instance.name()) {
            Some(entry) if entry.instance == *instance => {
                entry.rtt = Some(rtt);
                true
            }
            _ => false,
        }
    }

    /// The current life of a named member.
    pub(crate) fn instance_of(&self, name: &str) -> Option<&Instance> {
        self.entries.get(name).map(|e| &e.instance)
    }

    /// Addresses of alive members whose meta is missing or older than their life, whose
    /// request is due (at most `MAX_PER_TICK`, the longest-waiting first); each is then not
    /// due again for `retry` plus a random part of another `retry`.
    pub(crate) fn pulls_due(&mut self, now: Instant, retry: Duration) -> Vec<SocketAddr> {
        self.pulls
            .take_due(now, retry, MAX_PER_TICK)
            .into_iter()
            .filter_map(|name| self.entries.get(&name).map(|e| e.instance.addr()))
            .collect()
    }

    /// Keeps the indexes of one member in step with its entry: whether it is due a meta
    /// request, whether `reap` needs to look at it.
    fn reindex(&mut self, name: &str) {
        let entry = self.entries.get(name).filter(|_| name != self.local);
        let alive = entry.is_some_and(|e| e.status == Settled::Alive);
        let stale = entry.is_some_and(|e| {
            self.metas
                .get(name)
                .is_none_or(|m| m.generation < e.instance.generation())
        });
        if alive && stale {
            self.pulls.want(name, Instant::now());
        } else {
            self.pulls.forget(name);
        }
        if entry.is_some() && !alive {
            self.inactive.insert(name.to_owned());
        } else {
            self.inactive.remove(name);
        }
    }

    /// Addresses of up to `limit` failed (not left) members.
    pub(crate) fn failed_addrs(&self, limit: usize) -> Vec<SocketAddr> {
        self.entries
            .values()
            .filter(|e| e.status == Settled::Failed)
            .map(|e| e.instance.addr())
            .take(limit)
            .collect()
    }

    /// Forgets members failed for `reconnect_timeout` or left for `tombstone_timeout`.
    pub(crate) fn reap(&mut self, now: Instant, reconnect: Duration, tombstone: Duration) {
        let expired: Vec<String> = self
            .inactive
            .iter()
            .filter(|name| {
                self.entries.get(*name).is_some_and(|e| match e.status {
                    Settled::Alive => false,
                    Settled::Failed => now.duration_since(e.since) >= reconnect,
                    Settled::Left => now.duration_since(e.since) >= tombstone,
                })
            })
            .cloned()
            .collect();
        for name in expired {
            self.emit(MemberEventKind::Reaped, &name);
            self.entries.remove(&name);
            self.metas.remove(&name);
            self.leaves.remove(&name);
            self.reindex(&name);
        }
    }

    /// Every visible member, by name; `suspects` are the instances foca holds suspect.
    pub(crate) fn states(&self, suspects: &HashSet<Instance>) -> Vec<MemberState> {
        self.entries
            .keys()
            .filter_map(|name| {
                let state = self.state(name)?;
                let entry = &self.entries[name];
                Some(
                    if entry.status == Settled::Alive && suspects.contains(&entry.instance) {
                        state.with_status(MemberStatus::Suspect)
                    } else {
                        state
                    },
                )
            })
            .collect()
    }

    fn state(&self, name: &str) -> Option<MemberState> {
        let entry = self.entries.get(name)?;
        let meta = self.metas.get(name)?;
        let member = Member::from_parts(
            name.to_owned(),
            meta.id.clone(),
            entry.instance.addr(),
            meta.tags.clone(),
        );
        Some(MemberState::new(
            member,
            entry.status.status(),
            entry.instance.generation(),
            entry.rtt,
        ))
    }

    fn emit(&self, kind: MemberEventKind, name: &str) {
        if let Some(state) = self.state(name) {
            tracing::debug!(member = name, event = ?kind, "membership change");
            // No subscriber is fine: members() is the source of truth.
            let _ = self.events.send(MemberEvent::new(kind, state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, port: u16, generation: u64) -> Instance {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        Instance::at(addr, name, generation)
    }

    fn meta(name: &str, version: u64, generation: u64) -> MetaRecord {
        MetaRecord {
            name: name.into(),
            id: "00000000-0000-0000-0000-000000000001".into(),
            version,
            generation,
            tags: BTreeMap::from([("role".into(), "node".into())]),
        }
    }

    fn roster() -> (Roster, broadcast::Receiver<MemberEvent>) {
        let (tx, rx) = broadcast::channel(64);
        let me = instance("me", 1, 1);
        (Roster::new(me, meta("me", 1, 1), tx, Duration::ZERO), rx)
    }

    fn kinds(rx: &mut broadcast::Receiver<MemberEvent>) -> Vec<(MemberEventKind, String)> {
        let mut out = Vec::new();
        while let Ok(e) = rx.try_recv() {
            out.push((e.kind(), e.member().name().to_owned()));
        }
        out
    }

    #[test]
    fn visible_once_meta_is_known() {
        let (mut r, mut rx) = roster();
        let a = instance("a", 2, 10);
        r.up(&a);
        assert!(kinds(&mut rx).is_empty());
        assert_eq!(r.pulls_due(Instant::now(), Duration::from_secs(1)).len(), 1);
        assert!(r
            .pulls_due(Instant::now(), Duration::from_secs(1))
            .is_empty());
        r.meta(meta("a", 10, 10));
        let later = Instant::now() + Duration::from_secs(60);
        assert!(r.pulls_due(later, Duration::from_secs(1)).is_empty());
        assert_eq!(kinds(&mut rx), vec![(MemberEventKind::Joined, "a".into())]);
        assert_eq!(r.states(&HashSet::new()).len(), 2);
        assert_eq!(
            r.states(&HashSet::from([a.clone()]))[0].status(),
            MemberStatus::Suspect
        );
    }

    #[test]
    fn failed_left_and_late_intent() {
        let (mut r, mut rx) = roster();
        let a = instance("a", 2, 10);
        let b = instance("b", 3, 10);
        for (i, m) in [(&a, meta("a", 10, 10)), (&b, meta("b", 10, 10))] {
            r.up(i);
            r.meta(m);
        }
        kinds(&mut rx);
        r.leave_intent(&LeaveIntent {
            name: "a".into(),
            generation: 10,
        });
        r.down(&a);
        r.down(&b);
        r.leave_intent(&LeaveIntent {
            name: "b".into(),
            generation: 10,
        });
        assert_eq!(
            kinds(&mut rx),
            vec![
                (MemberEventKind::Left, "a".into()),
                (MemberEventKind::Failed, "b".into()),
                (MemberEventKind::Left, "b".into()),
            ]
        );
    }

    #[test]
    fn restarts_replace_old_lives() {
        let (mut r, mut rx) = roster();
        let a1 = instance("a", 2, 10);
        r.up(&a1);
        r.meta(meta("a", 10, 10));
        // restart at the same address while still alive: foca renames
        let a2 = instance("a", 2, 20);
        r.rename(&a1, &a2);
        // restart at another address after failing
        r.down(&a2);
        let a3 = instance("a", 4, 30);
        r.up(&a3);
        // the old life's down is old news
        r.down(&a2);
        r.up(&a1);
        assert_eq!(
            kinds(&mut rx),
            vec![
                (MemberEventKind::Joined, "a".into()),
                (MemberEventKind::Updated, "a".into()),
                (MemberEventKind::Failed, "a".into()),
                (MemberEventKind::Joined, "a".into()),
            ]
        );
        assert_eq!(r.instance_of("a"), Some(&a3));
        // its meta is older than its life: due a pull
        assert_eq!(r.pulls_due(Instant::now(), Duration::from_secs(1)).len(), 1);
    }

    #[test]
    fn reaping() {
        let (mut r, mut rx) = roster();
        let a = instance("a", 2, 10);
        r.up(&a);
        r.meta(meta("a", 10, 10));
        r.down(&a);
        kinds(&mut rx);
        r.reap(Instant::now(), Duration::ZERO, Duration::ZERO);
        assert_eq!(kinds(&mut rx), vec![(MemberEventKind::Reaped, "a".into())]);
        assert_eq!(r.states(&HashSet::new()).len(), 1);
    }
}
