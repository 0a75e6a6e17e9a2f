//! Sessions: creation against a node and its checks, and invalidation (destroy, TTL expiry,
//! node removal, a bound check going critical), which releases or deletes the locks held and
//! starts their lock-delay.

use super::command::Reply;
use super::health::HealthStatus;
use super::records::SessionRecord;
use super::state::{lower, CatalogError, State, Touched, WatchKey};

impl State {
    pub(super) fn session_create(
        &mut self,
        index: u64,
        session: &SessionRecord,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        let nkey = lower(&session.node);
        let Some(node) = self.nodes.get(&nkey) else {
            return Err(CatalogError::MissingNode);
        };
        let mut s = session.clone();
        s.node = node.node.clone();
        let checks = self.checks.get(&nkey);
        let bound = s
            .node_checks
            .iter()
            .cloned()
            .chain(s.service_checks.iter().flatten().map(|c| c.id.clone()));
        for id in bound {
            match checks.and_then(|m| m.get(&id)) {
                None => return Err(CatalogError::MissingCheck(id)),
                Some(c) if c.status == HealthStatus::Critical => {
                    return Err(CatalogError::CriticalCheck(id))
                }
                Some(_) => {}
            }
        }
        s.create_index = index;
        s.modify_index = index;
        self.sessions.insert(s.id.clone(), s);
        self.index.sessions = index;
        t.push(WatchKey::Sessions);
        Ok(Reply::Done)
    }

    /// Destroys a session, releasing (or deleting, per its behavior) every lock it holds.
    pub(super) fn session_invalidate(
        &mut self,
        index: u64,
        id: &str,
        now_ms: u64,
        t: &mut Touched,
    ) {
        let Some(s) = self.sessions.remove(id) else {
            return;
        };
        self.index.sessions = index;
        t.push(WatchKey::Sessions);
        self.prepared_queries_of_session(index, id, t);
        let held: Vec<String> = self
            .kv
            .values()
            .filter(|e| e.session == id)
            .map(|e| e.key.clone())
            .collect();
        let delay_ms = (s.lock_delay.max(0) / 1_000_000) as u64;
        for key in held {
            if delay_ms > 0 {
                self.lock_delays.insert(key.clone(), now_ms + delay_ms);
            }
            if s.behavior == "delete" {
                self.delete_key(index, &key, t);
            } else if let Some(e) = self.kv.get_mut(&key) {
                e.session.clear();
                e.modify_index = index;
                self.touch_kv(index, &key, t);
            }
        }
        // Forget expired lock delays so the map stays small.
        self.lock_delays.retain(|_, until| *until > now_ms);
    }

    pub(super) fn invalidate_sessions_for_check(
        &mut self,
        index: u64,
        nkey: &str,
        check_id: &str,
        now_ms: u64,
        t: &mut Touched,
    ) {
        let ids: Vec<String> = self
            .sessions
            .values()
            .filter(|s| {
                lower(&s.node) == nkey
                    && (s.node_checks.iter().any(|c| c == check_id)
                        || s.service_checks.iter().flatten().any(|c| c.id == check_id))
            })
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            self.session_invalidate(index, &id, now_ms, t);
        }
    }
}
