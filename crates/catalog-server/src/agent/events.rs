//! User events (`consul event`, `/v1/event/*`): fired into the gossip pool, delivered once to
//! every agent, kept by each agent whose node, services and tags match the event's filters
//! (Go regular expressions; RE2 syntax, as the `regex` crate's) in a buffer of the last 256,
//! which `/v1/event/list` reads and blocks on.
//!
//! On the wire an event is a gossip user event whose name is the event's name and whose
//! payload is a line of JSON with the filters (`{}` without any), a newline, then the raw
//! payload; name plus that payload must fit gossip's 512 bytes (Consul's limit).

use super::Agent;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// How many events an agent keeps (Consul's `eventBuf`).
const BUFFER: usize = 256;

/// An event as `/v1/event/fire` answers and `/v1/event/list` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserEvent {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Payload", with = "payload")]
    pub payload: Option<Vec<u8>>,
    #[serde(rename = "NodeFilter")]
    pub node_filter: String,
    #[serde(rename = "ServiceFilter")]
    pub service_filter: String,
    #[serde(rename = "TagFilter")]
    pub tag_filter: String,
    #[serde(rename = "Version")]
    pub version: u32,
    #[serde(rename = "LTime")]
    pub ltime: u64,
}

mod payload {
    use base64::Engine;
    pub fn serialize<S: serde::Serializer>(p: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }
}

/// The filters, as they travel in the gossip payload.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Filters {
    #[serde(rename = "nf", default, skip_serializing_if = "String::is_empty")]
    node: String,
    #[serde(rename = "sf", default, skip_serializing_if = "String::is_empty")]
    service: String,
    #[serde(rename = "tf", default, skip_serializing_if = "String::is_empty")]
    tag: String,
}

/// What a user asks to fire.
#[derive(Debug, Default)]
pub struct Fire {
    pub name: String,
    pub payload: Vec<u8>,
    pub node_filter: String,
    pub service_filter: String,
    pub tag_filter: String,
}

/// Why an event was not fired, in Consul's words.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error("User event missing name")]
    MissingName,
    #[error("Cannot provide tag filter without service filter")]
    TagWithoutService,
    #[error("Invalid {0} filter: {1}")]
    BadFilter(&'static str, String),
    #[error("{0}")]
    Gossip(#[from] gossip::Error),
}

/// The events this agent kept, and a counter that moves when one arrives.
pub struct EventLog {
    buf: Mutex<VecDeque<UserEvent>>,
    ltime: AtomicU64,
    arrived: watch::Sender<u64>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            buf: Mutex::new(VecDeque::with_capacity(BUFFER)),
            ltime: AtomicU64::new(0),
            arrived: watch::channel(0).0,
        }
    }
}

impl EventLog {
    /// The kept events, oldest first.
    pub fn list(&self) -> Vec<UserEvent> {
        self.buf
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Resolves at the next arrival.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.arrived.subscribe()
    }

    fn keep(&self, event: UserEvent) {
        {
            let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
            if buf.len() == BUFFER {
                buf.pop_front();
            }
            buf.push_back(event);
        }
        self.arrived.send_modify(|n| *n += 1);
    }
}

/// Consul's blocking index for the event list: the last event's UUID, its two 64-bit halves
/// XORed (1 when there are none, so watchers do not spin).
pub fn list_index(events: &[UserEvent]) -> u64 {
    let Some(last) = events.last() else { return 1 };
    match uuid::Uuid::parse_str(&last.id) {
        Ok(u) => {
            let v = u.as_u128();
            ((v >> 64) as u64) ^ (v as u64)
        }
        Err(_) => 1,
    }
}

fn compile(kind: &'static str, re: &str) -> Result<Option<Regex>, FireError> {
    if re.is_empty() {
        return Ok(None);
    }
    Regex::new(re)
        .map(Some)
        .map_err(|e| FireError::BadFilter(kind, e.to_string()))
}

impl Agent {
    /// The events this agent kept.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// Fires a user event into the gossip pool; returns it as `/v1/event/fire` answers.
    pub async fn fire_event(&self, fire: Fire) -> Result<UserEvent, FireError> {
        if fire.name.is_empty() {
            return Err(FireError::MissingName);
        }
        if !fire.tag_filter.is_empty() && fire.service_filter.is_empty() {
            return Err(FireError::TagWithoutService);
        }
        compile("node", &fire.node_filter)?;
        compile("service", &fire.service_filter)?;
        compile("tag", &fire.tag_filter)?;
        let filters = Filters {
            node: fire.node_filter.clone(),
            service: fire.service_filter.clone(),
            tag: fire.tag_filter.clone(),
        };
        let mut wire = serde_json::to_vec(&filters).unwrap_or_else(|_| b"{}".to_vec());
        wire.push(b'\n');
        wire.extend_from_slice(&fire.payload);
        let id = self.serf.fire_event(&fire.name, wire).await?;
        Ok(UserEvent {
            id: id.to_string(),
            name: fire.name,
            payload: (!fire.payload.is_empty()).then_some(fire.payload),
            node_filter: fire.node_filter,
            service_filter: fire.service_filter,
            tag_filter: fire.tag_filter,
            version: 1,
            ltime: 0,
        })
    }

    /// Whether an event with these filters is for this agent: its node name, and a service
    /// of its own (with a matching tag, when asked).
    fn event_matches(&self, f: &Filters) -> Result<bool, FireError> {
        if let Some(re) = compile("node", &f.node)? {
            if !re.is_match(self.node()) {
                return Ok(false);
            }
        }
        let Some(service) = compile("service", &f.service)? else {
            return Ok(true);
        };
        let tag = compile("tag", &f.tag)?;
        Ok(self.catalog().read(|s| {
            s.agent_services(self.node()).any(|svc| {
                service.is_match(&svc.name)
                    && tag
                        .as_ref()
                        .is_none_or(|t| svc.tags.iter().any(|x| t.is_match(x)))
            })
        }))
    }
}

/// Receives the pool's user events for the agent's life, keeping those for this agent.
pub async fn run(agent: Arc<Agent>) {
    let Some(mut events) = agent.serf.user_events() else {
        return;
    };
    loop {
        let e = match events.recv().await {
            Ok(e) => e,
            Err(gossip::RecvError::Lagged(n)) => {
                tracing::warn!(target: "agent", "dropped {n} user events: the agent fell behind");
                continue;
            }
            Err(gossip::RecvError::Closed) => return,
        };
        let raw = e.payload();
        let split = raw.iter().position(|b| *b == b'\n');
        let (filters, payload) = match split {
            Some(i) => (
                serde_json::from_slice::<Filters>(&raw[..i]).ok(),
                raw[i + 1..].to_vec(),
            ),
            None => (None, Vec::new()),
        };
        let Some(filters) = filters else {
            tracing::error!(target: "agent", "Failed to decode event: event={}", e.name());
            continue;
        };
        match agent.event_matches(&filters) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                tracing::error!(target: "agent", "Failed to parse filter for event '{}': {err}", e.name());
                continue;
            }
        }
        tracing::debug!(target: "agent", "new event: event={} id={}", e.name(), e.id());
        let ltime = agent.events.ltime.fetch_add(1, Ordering::Relaxed) + 1;
        agent.events.keep(UserEvent {
            id: e.id().to_string(),
            name: e.name().to_string(),
            payload: (!payload.is_empty()).then_some(payload),
            node_filter: filters.node,
            service_filter: filters.service,
            tag_filter: filters.tag,
            version: 1,
            ltime,
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_index_is_the_last_uuids_halves_xored() {
        let e = |id: &str| super::UserEvent {
            id: id.into(),
            name: "x".into(),
            payload: None,
            node_filter: String::new(),
            service_filter: String::new(),
            tag_filter: String::new(),
            version: 1,
            ltime: 0,
        };
        assert_eq!(super::list_index(&[]), 1);
        let id = "00000000-0000-0001-0000-000000000003";
        assert_eq!(super::list_index(&[e(id)]), 1 ^ 3);
    }
}
