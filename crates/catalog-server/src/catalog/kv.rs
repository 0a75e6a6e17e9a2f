//! KV writes: set, check-and-set, lock acquire/release, delete (single, prefix, CAS), and the
//! KV operations of transactions. Deleted keys leave tombstones so prefix indexes never miss a
//! deletion.

use super::command::*;
use super::records::KvRecord;
use super::state::{CatalogError, State, Touched, WatchKey};

impl State {
    pub(super) fn touch_kv(&mut self, index: u64, key: &str, t: &mut Touched) {
        self.index.kv = index;
        // Wake every prefix of the key (at char boundaries), the empty prefix included.
        for (i, _) in key.char_indices() {
            t.push(WatchKey::KvPrefix(key[..i].to_string()));
        }
        t.push(WatchKey::KvPrefix(key.to_string()));
    }

    pub(super) fn kv_set(
        &mut self,
        index: u64,
        entry: &KvRecord,
        op: &KvOp,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Reply, CatalogError> {
        let existing = self.kv.get(&entry.key);
        let mut e = entry.clone();
        match op {
            KvOp::Set => {
                if let Some(x) = existing {
                    e.lock_index = x.lock_index;
                    e.session = x.session.clone();
                }
            }
            KvOp::Cas(idx) => {
                let ok = match existing {
                    None => *idx == 0,
                    Some(x) => x.modify_index == *idx,
                };
                if !ok {
                    return Ok(Reply::Bool(false));
                }
                if let Some(x) = existing {
                    e.lock_index = x.lock_index;
                    e.session = x.session.clone();
                }
            }
            KvOp::Acquire(session) => {
                if !self.sessions.contains_key(session) {
                    return Err(CatalogError::InvalidSession(session.clone()));
                }
                if let Some(until) = self.lock_delays.get(&entry.key) {
                    if *until > now_ms {
                        return Ok(Reply::Bool(false));
                    }
                }
                match existing {
                    Some(x) if !x.session.is_empty() && x.session != *session => {
                        return Ok(Reply::Bool(false))
                    }
                    Some(x) if x.session == *session => {
                        e.lock_index = x.lock_index;
                    }
                    Some(x) => e.lock_index = x.lock_index + 1,
                    None => e.lock_index = 1,
                }
                e.session = session.clone();
            }
            KvOp::Release(session) => {
                match existing {
                    Some(x) if x.session == *session => {
                        e.lock_index = x.lock_index;
                    }
                    _ => return Ok(Reply::Bool(false)),
                }
                e.session = String::new();
            }
        }
        self.write_entry(index, e, t);
        Ok(Reply::Bool(true))
    }

    fn write_entry(&mut self, index: u64, mut e: KvRecord, t: &mut Touched) {
        e.create_index = self.kv.get(&e.key).map(|x| x.create_index).unwrap_or(index);
        e.modify_index = index;
        self.tombstones.remove(&e.key);
        let key = e.key.clone();
        self.kv.insert(key.clone(), e);
        self.touch_kv(index, &key, t);
    }

    pub(super) fn delete_key(&mut self, index: u64, key: &str, t: &mut Touched) -> bool {
        if self.kv.remove(key).is_none() {
            return false;
        }
        self.tombstones.insert(key.to_string(), index);
        self.touch_kv(index, key, t);
        true
    }

    pub(super) fn kv_delete(
        &mut self,
        index: u64,
        key: &str,
        recurse: bool,
        cas: Option<u64>,
        t: &mut Touched,
    ) -> Reply {
        if recurse {
            let keys: Vec<String> = self
                .kv
                .range(key.to_string()..)
                .take_while(|(k, _)| k.starts_with(key))
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                self.delete_key(index, &k, t);
            }
            return Reply::Bool(true);
        }
        if let Some(idx) = cas {
            match self.kv.get(key) {
                Some(x) if x.modify_index == idx => {}
                None if idx == 0 => return Reply::Bool(true),
                _ => return Reply::Bool(false),
            }
        }
        self.delete_key(index, key, t);
        Reply::Bool(true)
    }

    /// Applies a KV transaction atomically: all operations, or none when any fails.
    pub(super) fn txn(&mut self, index: u64, ops: &[TxnOp], now_ms: u64, t: &mut Touched) -> Reply {
        let backup_kv = self.kv.clone();
        let backup_tomb = self.tombstones.clone();
        let backup_idx = self.index.kv;
        let mut results = Vec::new();
        let mut errors = Vec::new();
        let mut local = Touched::new();
        for (i, op) in ops.iter().enumerate() {
            match self.txn_op(index, op, now_ms, &mut local) {
                Ok(r) => results.extend(r),
                Err(what) => errors.push(TxnError { op_index: i, what }),
            }
        }
        if errors.is_empty() {
            t.extend(local);
            Reply::Txn(Ok(results))
        } else {
            self.kv = backup_kv;
            self.tombstones = backup_tomb;
            self.index.kv = backup_idx;
            Reply::Txn(Err(errors))
        }
    }

    pub(super) fn txn_op(
        &mut self,
        index: u64,
        op: &TxnOp,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Vec<TxnResult>, String> {
        let entry = KvRecord {
            key: op.key.clone(),
            value: op.value.clone(),
            flags: op.flags,
            ..Default::default()
        };
        let current = |s: &State| s.kv.get(&op.key).cloned();
        let one = |s: &State| {
            current(s)
                .map(strip_value)
                .map(TxnResult::kv)
                .into_iter()
                .collect()
        };
        match op.verb.as_str() {
            "set" => {
                self.kv_set(index, &entry, &KvOp::Set, now_ms, t)
                    .map_err(|e| e.to_string())?;
                Ok(one(self))
            }
            "cas" => match self.kv_set(index, &entry, &KvOp::Cas(op.index), now_ms, t) {
                Ok(Reply::Bool(true)) => Ok(one(self)),
                Ok(_) => Err(format!("failed to set key {:?}, index is stale", op.key)),
                Err(e) => Err(e.to_string()),
            },
            "lock" => {
                match self.kv_set(index, &entry, &KvOp::Acquire(op.session.clone()), now_ms, t) {
                    Ok(Reply::Bool(true)) => Ok(one(self)),
                    Ok(_) => Err(format!(
                        "failed to lock key {:?}, lock is already held",
                        op.key
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
            "unlock" => {
                match self.kv_set(index, &entry, &KvOp::Release(op.session.clone()), now_ms, t) {
                    Ok(Reply::Bool(true)) => Ok(one(self)),
                    Ok(_) => Err(format!(
                        "failed to unlock key {:?}, lock isn't held, or is held by another session",
                        op.key
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
            "get" => match current(self) {
                Some(e) => Ok(vec![TxnResult::kv(e)]),
                None => Err(format!("key {:?} doesn't exist", op.key)),
            },
            // A missing key answers with the operation's own entry, valueless (Consul's
            // `KVGetOrEmpty`).
            "get-or-empty" => Ok(vec![TxnResult::kv(current(self).unwrap_or_else(|| {
                KvRecord {
                    value: Vec::new(),
                    session: op.session.clone(),
                    modify_index: op.index,
                    ..entry.clone()
                }
            }))]),
            "get-tree" => Ok(self
                .kv
                .range(op.key.clone()..)
                .take_while(|(k, _)| k.starts_with(&op.key))
                .map(|(_, e)| TxnResult::kv(e.clone()))
                .collect()),
            "check-index" => match current(self) {
                Some(e) if e.modify_index == op.index => Ok(vec![TxnResult::kv(strip_value(e))]),
                Some(_) => Err(format!(
                    "current modify index for key {:?} does not match",
                    op.key
                )),
                None => Err(format!("key {:?} doesn't exist", op.key)),
            },
            "check-session" => match current(self) {
                Some(e) if e.session == op.session => Ok(vec![TxnResult::kv(strip_value(e))]),
                Some(_) => Err(format!(
                    "key {:?} is not locked by session {:?}",
                    op.key, op.session
                )),
                None => Err(format!("key {:?} doesn't exist", op.key)),
            },
            "check-not-exists" => match current(self) {
                Some(_) => Err(format!("key {:?} exists", op.key)),
                None => Ok(vec![]),
            },
            "delete" => {
                self.delete_key(index, &op.key, t);
                Ok(vec![])
            }
            "delete-tree" => {
                self.kv_delete(index, &op.key, true, None, t);
                Ok(vec![])
            }
            "delete-cas" => match self.kv_delete(index, &op.key, false, Some(op.index), t) {
                Reply::Bool(true) => Ok(vec![]),
                _ => Err(format!("failed to delete key {:?}, index is stale", op.key)),
            },
            other => Err(format!("unknown KV verb {other:?}")),
        }
    }

    /// The index of a KV read under `prefix`: the highest modify index of its entries and
    /// tombstones, or the KV table index when nothing is there.
    pub fn kv_prefix_index(&self, prefix: &str) -> u64 {
        let live = self
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e.modify_index)
            .max();
        let dead = self
            .tombstones
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max();
        match live.max(dead) {
            Some(i) => i.max(self.restore_index),
            None => self.index.kv,
        }
    }
}

fn strip_value(mut e: KvRecord) -> KvRecord {
    e.value.clear();
    e
}
