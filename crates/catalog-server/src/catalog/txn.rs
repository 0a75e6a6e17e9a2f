//! `PUT /v1/txn` with node, service and check operations (Consul's `txnNode`, `txnService`,
//! `txnCheck`): applied with the transaction's KV operations as one change, all of them or
//! none. Verbs: `set`, `cas`, `get`, `delete`, `delete-cas`; `cas` compares the record's
//! `ModifyIndex` with the stored one (0: only if absent), `delete-cas` needs it to match.

use super::command::{CatalogTxnOp, Reply, TxnError, TxnResult};
use super::records::{CheckRecord, NodeRecord, ServiceRecord};
use super::state::{State, Touched};

impl State {
    /// Applies `ops` atomically. A failed operation rolls every change back; the errors name
    /// each failed operation. The state is copied first so that a failure can restore it: a
    /// cost in proportion to the catalog, paid only by transactions with catalog operations.
    pub(super) fn catalog_txn(
        &mut self,
        index: u64,
        ops: &[CatalogTxnOp],
        now_ms: u64,
        t: &mut Touched,
    ) -> Reply {
        let before = self.clone();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        let mut local = Touched::new();
        for (i, op) in ops.iter().enumerate() {
            let r = match op {
                CatalogTxnOp::Kv(op) => self.txn_op(index, op, now_ms, &mut local),
                CatalogTxnOp::Node { verb, node } => {
                    self.txn_node(index, verb, node, now_ms, &mut local)
                }
                CatalogTxnOp::Service {
                    verb,
                    node,
                    service,
                } => self.txn_service(index, verb, node, service, now_ms, &mut local),
                CatalogTxnOp::Check { verb, check } => {
                    self.txn_check(index, verb, check, now_ms, &mut local)
                }
            };
            match r {
                Ok(r) => results.extend(r),
                Err(what) => errors.push(TxnError { op_index: i, what }),
            }
        }
        if errors.is_empty() {
            t.extend(local);
            Reply::Txn(Ok(results))
        } else {
            *self = before;
            Reply::Txn(Err(errors))
        }
    }

    fn txn_node(
        &mut self,
        index: u64,
        verb: &str,
        node: &NodeRecord,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Vec<TxnResult>, String> {
        let name = &node.node;
        // `get` finds the node by its ID when one is given, as Consul does.
        let current = |s: &State| -> Option<NodeRecord> {
            if !node.id.is_empty() && verb == "get" {
                s.nodes
                    .values()
                    .find(|n| n.id.eq_ignore_ascii_case(&node.id))
                    .cloned()
            } else {
                s.node(name).cloned()
            }
        };
        let stored = |s: &State| {
            s.node(name)
                .map(|n| TxnResult {
                    node: Some(n.clone()),
                    ..Default::default()
                })
                .into_iter()
                .collect()
        };
        match verb {
            "get" => match current(self) {
                Some(n) => Ok(vec![TxnResult {
                    node: Some(n),
                    ..Default::default()
                }]),
                None => Err(format!("node {name:?} doesn't exist")),
            },
            "set" => {
                self.register_node(index, node, false, t);
                Ok(stored(self))
            }
            "cas" => {
                if self.node(name).map_or(0, |n| n.modify_index) != node.modify_index {
                    return Err(format!("failed to set node {name:?}, index is stale"));
                }
                self.register_node(index, node, false, t);
                Ok(stored(self))
            }
            "delete" => {
                self.deregister_node(index, name, now_ms, t);
                Ok(vec![])
            }
            "delete-cas" => match self.node(name) {
                Some(n) if n.modify_index == node.modify_index => {
                    self.deregister_node(index, name, now_ms, t);
                    Ok(vec![])
                }
                _ => Err(format!("failed to delete node {name:?}, index is stale")),
            },
            other => Err(format!("unknown Node verb {other:?}")),
        }
    }

    fn txn_service(
        &mut self,
        index: u64,
        verb: &str,
        node: &str,
        service: &ServiceRecord,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Vec<TxnResult>, String> {
        let id = &service.id;
        let stored = |s: &State| -> Vec<TxnResult> {
            s.service(node, id)
                .map(|svc| TxnResult {
                    service: Some((node.to_string(), svc.clone())),
                    ..Default::default()
                })
                .into_iter()
                .collect()
        };
        let index_now = self.service(node, id).map_or(0, |s| s.modify_index);
        match verb {
            "get" => match self.service(node, id) {
                Some(_) => Ok(stored(self)),
                None => Err(format!("service {id:?} on node {node:?} doesn't exist")),
            },
            "set" => {
                self.register_service(index, node, service, &[], false, now_ms, t)
                    .map_err(|e| e.to_string())?;
                Ok(stored(self))
            }
            "cas" => {
                if index_now != service.modify_index {
                    return Err(format!(
                        "failed to set service {id:?} on node {node:?}, index is stale"
                    ));
                }
                self.register_service(index, node, service, &[], false, now_ms, t)
                    .map_err(|e| e.to_string())?;
                Ok(stored(self))
            }
            "delete" => {
                if self.service(node, id).is_some() {
                    self.deregister_service(index, node, id, now_ms, t)
                        .map_err(|e| e.to_string())?;
                }
                Ok(vec![])
            }
            "delete-cas" => {
                if self.service(node, id).is_none() || index_now != service.modify_index {
                    return Err(format!(
                        "failed to delete service {id:?} on node {node:?}, index is stale"
                    ));
                }
                self.deregister_service(index, node, id, now_ms, t)
                    .map_err(|e| e.to_string())?;
                Ok(vec![])
            }
            other => Err(format!("unknown Service verb {other:?}")),
        }
    }

    fn txn_check(
        &mut self,
        index: u64,
        verb: &str,
        check: &CheckRecord,
        now_ms: u64,
        t: &mut Touched,
    ) -> Result<Vec<TxnResult>, String> {
        let (node, id) = (&check.node, &check.check_id);
        let find = |s: &State| s.check(node, id).cloned();
        let stored = |s: &State| -> Vec<TxnResult> {
            find(s)
                .map(|c| TxnResult {
                    check: Some(c),
                    ..Default::default()
                })
                .into_iter()
                .collect()
        };
        let index_now = find(self).map_or(0, |c| c.modify_index);
        let set = |s: &mut State, t: &mut Touched| -> Result<(), String> {
            // Consul's `ensureCheckTxn`: the node, and the service when one is named, exist.
            if s.node(node).is_none() {
                return Err(super::CatalogError::MissingNode.to_string());
            }
            if !check.service_id.is_empty() && s.service(node, &check.service_id).is_none() {
                return Err("Missing service registration".to_string());
            }
            s.register_check(index, check.clone(), now_ms, t)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        match verb {
            "get" => match find(self) {
                Some(_) => Ok(stored(self)),
                None => Err(format!("check {id:?} on node {node:?} doesn't exist")),
            },
            "set" => {
                set(self, t)?;
                Ok(stored(self))
            }
            "cas" => {
                if index_now != check.modify_index {
                    return Err(format!(
                        "failed to set check {id:?} on node {node:?}, index is stale"
                    ));
                }
                set(self, t)?;
                Ok(stored(self))
            }
            "delete" => {
                if find(self).is_some() {
                    self.deregister_check(index, node, id, now_ms, t)
                        .map_err(|e| e.to_string())?;
                }
                Ok(vec![])
            }
            "delete-cas" => {
                if find(self).is_none() || index_now != check.modify_index {
                    return Err(format!(
                        "failed to delete check {id:?} on node {node:?}, index is stale"
                    ));
                }
                self.deregister_check(index, node, id, now_ms, t)
                    .map_err(|e| e.to_string())?;
                Ok(vec![])
            }
            other => Err(format!("unknown Check verb {other:?}")),
        }
    }
}
