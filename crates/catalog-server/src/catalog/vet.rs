//! What a write needs of the writer's token: the rights Consul checks before a registration,
//! a deregistration, a check update or a session change reaches the state. One place, so the
//! agent, catalog and session endpoints ask the same questions.

use super::acl::{AclRefusal, Authz};
use super::command::{CatalogTxnOp, Command};
use super::records::CheckRecord;
use super::state::{lower, State};
use acl::{Access, Resource};

impl State {
    /// `Ok` when `z` may apply `cmd`, else the denial naming the right it lacks.
    pub fn vet(&self, z: &Authz, cmd: &Command) -> Result<(), AclRefusal> {
        match cmd {
            Command::RegisterNode {
                node,
                skip_node_update,
            } => {
                if !skip_node_update {
                    z.require(Resource::Node, &node.node, Access::Write)?;
                }
                Ok(())
            }
            Command::RegisterService {
                node,
                service,
                checks,
                ..
            } => {
                z.require(Resource::Service, &service.name, Access::Write)?;
                for c in checks {
                    self.vet_check(z, node, c, Some((&service.id, &service.name)))?;
                }
                Ok(())
            }
            Command::RegisterCheck { check } => self.vet_check(z, &check.node, check, None),
            Command::Register(reg) => {
                if !reg.skip_node_update {
                    z.require(Resource::Node, &reg.node.node, Access::Write)?;
                }
                let own = reg
                    .service
                    .as_ref()
                    .map(|s| (s.id.as_str(), s.name.as_str()));
                if let Some((_, name)) = own {
                    z.require(Resource::Service, name, Access::Write)?;
                }
                for c in &reg.checks {
                    self.vet_check(z, &reg.node.node, c, own)?;
                }
                Ok(())
            }
            Command::DeregisterNode { node } => z.require(Resource::Node, node, Access::Write),
            Command::DeregisterService { node, service_id } => {
                match self.service(node, service_id) {
                    Some(s) => z.require(Resource::Service, &s.name, Access::Write),
                    None => z.require(Resource::Node, node, Access::Write),
                }
            }
            Command::DeregisterCheck { node, check_id }
            | Command::UpdateCheck { node, check_id, .. } => {
                let existing = self
                    .checks
                    .get(&lower(node))
                    .and_then(|m| m.get(check_id.as_str()));
                match existing {
                    Some(c) if !c.service_id.is_empty() => {
                        let name = self
                            .service(node, &c.service_id)
                            .map_or(c.service_name.as_str(), |s| s.name.as_str());
                        z.require(Resource::Service, name, Access::Write)
                    }
                    _ => z.require(Resource::Node, node, Access::Write),
                }
            }
            Command::SessionCreate { session } => {
                z.require(Resource::Session, &session.node, Access::Write)
            }
            Command::SessionDestroy { id } => match self.sessions.get(id.as_str()) {
                Some(s) => z.require(Resource::Session, &s.node, Access::Write),
                None => Ok(()),
            },
            Command::KvSet { entry, .. } => z.require(Resource::Key, &entry.key, Access::Write),
            Command::KvDelete { key, recurse, .. } => {
                if *recurse {
                    z.require_key_write_prefix(key)
                } else {
                    z.require(Resource::Key, key, Access::Write)
                }
            }
            Command::Txn { ops } => {
                for op in ops {
                    z.require(Resource::Key, &op.key, Access::Write)?;
                }
                Ok(())
            }
            Command::CatalogTxn { ops } => ops.iter().try_for_each(|op| match op {
                CatalogTxnOp::Kv(op) => z.require(Resource::Key, &op.key, Access::Write),
                CatalogTxnOp::Node { node, .. } => {
                    z.require(Resource::Node, &node.node, Access::Write)
                }
                CatalogTxnOp::Service { service, .. } => {
                    z.require(Resource::Service, &service.name, Access::Write)
                }
                CatalogTxnOp::Check { check, .. } => self.vet_check(z, &check.node, check, None),
            }),
            Command::Batch(cmds) => cmds.iter().try_for_each(|c| self.vet(z, c)),
            Command::Acl(_) | Command::Restore { .. } => {
                z.require(Resource::Acl, "", Access::Write)
            }
            Command::UpdateCoordinates { updates } => updates
                .iter()
                .try_for_each(|(node, _)| z.require(Resource::Node, node, Access::Write)),
            // `query:write` on the new definition's name and on the one it replaces, when
            // prefix rules apply to them (Consul's `GetACLPrefix`).
            Command::PreparedQuerySet { query } => {
                if let Some(p) = query.acl_prefix() {
                    z.require(Resource::Query, p, Access::Write)?;
                }
                self.vet_existing_query(z, &query.id)
            }
            Command::PreparedQueryDelete { id } => self.vet_existing_query(z, id),
            Command::AutopilotSet { .. } => z.require(Resource::Operator, "", Access::Write),
            Command::Noop | Command::ReapTombstones { .. } => Ok(()),
        }
    }

    fn vet_existing_query(&self, z: &Authz, id: &str) -> Result<(), AclRefusal> {
        match self.prepared_query(id).and_then(|q| q.acl_prefix()) {
            Some(p) => z.require(Resource::Query, p, Access::Write),
            None => Ok(()),
        }
    }

    /// A check's right: `service:write` on its service, else `node:write` on its node.
    /// `own` is the service registered in the same request (id, name).
    fn vet_check(
        &self,
        z: &Authz,
        node: &str,
        c: &CheckRecord,
        own: Option<(&str, &str)>,
    ) -> Result<(), AclRefusal> {
        if c.service_id.is_empty() {
            return z.require(Resource::Node, node, Access::Write);
        }
        let name = match own {
            Some((id, name)) if id == c.service_id => name.to_string(),
            _ => self
                .service(node, &c.service_id)
                .map_or_else(|| c.service_name.clone(), |s| s.name.clone()),
        };
        z.require(Resource::Service, &name, Access::Write)
    }
}
