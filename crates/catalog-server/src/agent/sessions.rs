//! Session TTL timers. Consul's leader arms each session's timer at twice its TTL; a renew
//! re-arms it; expiry destroys the session through Raft (releasing or deleting its locks).

use super::Agent;
use crate::catalog::Command;
use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;

pub struct SessionTimers {
    agent: Weak<Agent>,
    timers: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl SessionTimers {
    pub fn new(agent: Weak<Agent>) -> Self {
        SessionTimers {
            agent,
            timers: Mutex::new(HashMap::new()),
        }
    }

    /// (Re)arms the expiry timer of session `id` at 2 × `ttl`.
    pub fn arm(&self, id: &str, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let agent = self.agent.clone();
        let sid = id.to_string();
        let handle = tokio::spawn(async move {
            tokio::time::sleep(ttl * 2).await;
            let Some(agent) = agent.upgrade() else { return };
            tracing::info!(target: "agent.server.session", "session expired: session={sid}");
            let _ = agent
                .write(Command::SessionDestroy { id: sid.clone() })
                .await;
            agent.sessions.forget(&sid);
        });
        let mut timers = self.timers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = timers.insert(id.to_string(), handle) {
            old.abort();
        }
    }

    fn forget(&self, id: &str) {
        self.timers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Stops the timer of a destroyed session.
    pub fn cancel(&self, id: &str) {
        if let Some(h) = self
            .timers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
        {
            h.abort();
        }
    }

    /// Arms every session with a TTL (on becoming leader).
    pub fn arm_all(&self) {
        let Some(agent) = self.agent.upgrade() else {
            return;
        };
        let sessions: Vec<(String, String)> = agent.catalog().read(|s| {
            s.sessions()
                .map(|x| (x.id.clone(), x.ttl.clone()))
                .collect()
        });
        for (id, ttl) in sessions {
            if let Ok(d) = api_types::parse_duration(&ttl) {
                self.arm(&id, d);
            }
        }
    }

    pub fn stop_all(&self) {
        for (_, h) in self
            .timers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            h.abort();
        }
    }
}
