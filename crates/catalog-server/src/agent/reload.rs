//! `consul reload`, `PUT /v1/agent/reload` and SIGHUP: the config files read again, as at start,
//! and what Consul reloads applied: the services and checks they define (new and changed ones
//! registered, removed ones deregistered) and the log level. Every other setting takes effect
//! at the next start; the log says so, naming none of them as applied.

use super::Agent;
use crate::catalog::registration::{check_record, service_records};
use crate::catalog::Command;
use crate::config::{self, Config};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Why a reload did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("Failed to reload configs: {0}")]
    Config(String),
    #[error("Failed reloading services: {0}")]
    Write(#[from] crate::raft::WriteError),
}

/// The IDs of the services and checks `c`'s files define on `node`.
fn defined(c: &Config, node: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let scripts = c.enable_script_checks || c.enable_local_script_checks;
    let services = c
        .services
        .iter()
        .filter_map(|s| service_records(s, node, scripts).ok())
        .map(|(svc, _)| svc.id)
        .collect();
    let checks = c
        .checks
        .iter()
        .filter_map(|d| check_record(d, node, scripts).ok())
        .map(|c| c.check_id)
        .collect();
    (services, checks)
}

impl Agent {
    /// Reads the config files again and applies what is reloadable.
    pub async fn reload(self: &Arc<Self>) -> Result<(), ReloadError> {
        tracing::info!(target: "agent", "Reloading configuration...");
        let new =
            config::load(&self.config.sources).map_err(|e| ReloadError::Config(e.to_string()))?;
        let node = self.config.node_name.clone();
        let before = {
            let last = self.reloaded.lock().unwrap_or_else(|p| p.into_inner());
            defined(last.as_deref().unwrap_or(&self.config), &node)
        };
        let after = defined(&new, &node);
        for id in before.0.difference(&after.0) {
            tracing::info!(target: "agent", "Deregistering service removed from the config files: service={id}");
            self.write(Command::DeregisterService {
                node: node.clone(),
                service_id: id.clone(),
            })
            .await?;
        }
        for id in before.1.difference(&after.1) {
            tracing::info!(target: "agent", "Deregistering check removed from the config files: check={id}");
            match self
                .write(Command::DeregisterCheck {
                    node: node.clone(),
                    check_id: id.clone(),
                })
                .await
            {
                Ok(_)
                | Err(crate::raft::WriteError::Catalog(
                    crate::catalog::CatalogError::UnknownCheck(_),
                )) => {}
                Err(e) => return Err(e.into()),
            }
        }
        super::leader::register_definitions_of(self, &new).await?;
        crate::logging::set_level(&new.log_level);
        *self.reloaded.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(new));
        tracing::info!(target: "agent", "Reloaded services, checks and log level from the config files; other settings take effect at the next start");
        Ok(())
    }
}
