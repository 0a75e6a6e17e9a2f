//! Custom broadcasts: foca's `BroadcastHandler` for our three kinds of gossiped items (a
//! member's meta, a leave intent, a user event). For each item foca hands over, the handler
//! says whether it is news (then foca keeps disseminating it, `max_transmissions` times) or a
//! copy (then it is dropped); news is queued for the driver, which applies it to the roster or
//! hands user events to subscribers. User events are recognised by their random 128-bit ID for
//! `event_dedup_window`, so each is delivered once per node.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::instance::Instance;
use crate::wire::{self, Broadcast, EventRecord, LeaveIntent, MetaRecord};

/// Remembered user event IDs are capped at this many, whatever the window.
const MAX_REMEMBERED_EVENTS: usize = 65_536;

/// Something the pool learned by gossip for the first time.
#[derive(Debug)]
pub(crate) enum News {
    Meta(MetaRecord),
    Leave(LeaveIntent),
    Event(EventRecord),
}

/// What the local node has already heard, to tell news from copies.
#[derive(Default)]
pub(crate) struct Heard {
    /// Newest (version, generation) of each member's meta.
    metas: HashMap<String, (u64, u64)>,
    /// Highest generation each member announced leaving in.
    leaves: HashMap<String, u64>,
    events: HashMap<[u8; 16], Instant>,
    event_order: VecDeque<([u8; 16], Instant)>,
    news: Vec<News>,
}

impl Heard {
    /// Records a meta record; true if it is newer than what was known.
    pub(crate) fn learn_meta(&mut self, meta: &MetaRecord) -> bool {
        let stamp = (meta.version, meta.generation);
        let fresh = self
            .metas
            .get(&meta.name)
            .is_none_or(|known| stamp > *known);
        if fresh {
            self.metas.insert(meta.name.clone(), stamp);
            self.news.push(News::Meta(meta.clone()));
        }
        fresh
    }

    fn learn_leave(&mut self, intent: &LeaveIntent) -> bool {
        let fresh = self
            .leaves
            .get(&intent.name)
            .is_none_or(|known| intent.generation > *known);
        if fresh {
            self.leaves.insert(intent.name.clone(), intent.generation);
            self.news.push(News::Leave(intent.clone()));
        }
        fresh
    }

    fn learn_event(&mut self, event: &EventRecord) -> bool {
        if self.events.contains_key(&event.id) {
            return false;
        }
        let now = Instant::now();
        self.events.insert(event.id, now);
        self.event_order.push_back((event.id, now));
        if self.event_order.len() > MAX_REMEMBERED_EVENTS {
            self.forget_oldest_event();
        }
        self.news.push(News::Event(event.clone()));
        true
    }

    /// Forgets user event IDs older than `window`.
    pub(crate) fn expire_events(&mut self, window: Duration) {
        let now = Instant::now();
        while self
            .event_order
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > window)
        {
            self.forget_oldest_event();
        }
    }

    fn forget_oldest_event(&mut self) {
        if let Some((id, _)) = self.event_order.pop_front() {
            self.events.remove(&id);
        }
    }

    /// Hands over everything learned since the last call.
    pub(crate) fn take_news(&mut self) -> Vec<News> {
        std::mem::take(&mut self.news)
    }
}

/// The `Heard` shared between the handler (inside foca) and the driver.
#[derive(Clone, Default)]
pub(crate) struct SharedHeard(Arc<Mutex<Heard>>);

impl SharedHeard {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Heard> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Foca's key for a broadcast item: which older items a newer one replaces in the
/// dissemination queue.
pub(crate) enum Key {
    Meta { name: String, stamp: (u64, u64) },
    Leave { name: String, generation: u64 },
    Event([u8; 16]),
}

impl Key {
    fn of(item: &Broadcast) -> Self {
        match item {
            Broadcast::Meta(m) => Self::Meta {
                name: m.name.clone(),
                stamp: (m.version, m.generation),
            },
            Broadcast::Leave(l) => Self::Leave {
                name: l.name.clone(),
                generation: l.generation,
            },
            Broadcast::Event(e) => Self::Event(e.id),
        }
    }
}

impl foca::Invalidates for Key {
    fn invalidates(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Meta { name, stamp }, Self::Meta { name: n, stamp: s }) => {
                name == n && stamp >= s
            }
            (
                Self::Leave { name, generation },
                Self::Leave {
                    name: n,
                    generation: g,
                },
            ) => name == n && generation >= g,
            (Self::Event(a), Self::Event(b)) => a == b,
            _ => false,
        }
    }
}

/// A broadcast item that is not ours (or is corrupt).
#[derive(Debug, thiserror::Error)]
#[error("undecodable broadcast item")]
pub(crate) struct UndecodableBroadcast;

/// The handler foca calls for each broadcast item it receives or is given.
pub(crate) struct Handler {
    heard: SharedHeard,
}

impl Handler {
    pub(crate) fn new(heard: SharedHeard) -> Self {
        Self { heard }
    }
}

impl foca::BroadcastHandler<Instance> for Handler {
    type Key = Key;
    type Error = UndecodableBroadcast;

    fn receive_item(
        &mut self,
        data: &[u8],
        _sender: Option<&Instance>,
    ) -> Result<Option<Key>, UndecodableBroadcast> {
        let item: Broadcast = wire::decode(data).ok_or(UndecodableBroadcast)?;
        let mut heard = self.heard.lock();
        let fresh = match &item {
            Broadcast::Meta(meta) => heard.learn_meta(meta),
            Broadcast::Leave(intent) => heard.learn_leave(intent),
            Broadcast::Event(event) => heard.learn_event(event),
        };
        Ok(fresh.then(|| Key::of(&item)))
    }
}

#[cfg(test)]
mod tests {
    use foca::{BroadcastHandler, Invalidates};

    use super::*;

    #[test]
    fn copies_are_not_news() {
        let heard = SharedHeard::default();
        let mut handler = Handler::new(heard.clone());
        let event = Broadcast::Event(EventRecord {
            id: [1; 16],
            origin: "a".into(),
            name: "deploy".into(),
            payload: b"v2".to_vec(),
        });
        let bytes = wire::encode(&event);
        assert!(handler.receive_item(&bytes, None).expect("ours").is_some());
        assert!(handler.receive_item(&bytes, None).expect("ours").is_none());
        assert_eq!(heard.lock().take_news().len(), 1);
        assert!(handler.receive_item(b"\xff\xff", None).is_err());

        heard.lock().expire_events(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        heard.lock().expire_events(Duration::from_millis(1));
        assert!(handler.receive_item(&bytes, None).expect("ours").is_some());
    }

    #[test]
    fn newer_meta_replaces_older_in_flight() {
        let old = Key::Meta {
            name: "a".into(),
            stamp: (1, 1),
        };
        let new = Key::Meta {
            name: "a".into(),
            stamp: (2, 1),
        };
        assert!(new.invalidates(&old));
        assert!(!old.invalidates(&new));
        assert!(!Key::Event([0; 16]).invalidates(&old));
    }
}
