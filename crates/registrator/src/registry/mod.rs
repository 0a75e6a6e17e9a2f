//! Where services go: the [`Registry`] trait and the Consul backends behind it (agent service
//! API for `consul*://`, KV entries for `consulkv*://`), which talk to Consul through the shared
//! typed client of `api_types` (TCP, TLS or a unix socket).
//!
//! Architecture invariant: the sync loop only sees [`Registry`]; it knows nothing about HTTP.

mod consul;
pub mod uri;

pub use consul::Consul;
pub use uri::{Backend, Endpoint, UriError};

use api_types::{AgentService, ServiceRegistration};
use std::collections::BTreeMap;
use std::future::Future;

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached (connect refused, timeout, reset): worth retrying.
    #[error("registry unreachable: {0}")]
    Unreachable(String),
    /// The registry answered with a non-2xx status.
    #[error("{method} {path}: HTTP {status}: {body}")]
    Status {
        method: String,
        path: String,
        status: u16,
        body: String,
    },
    /// The answer could not be decoded.
    #[error("decoding {what}: {reason}")]
    Decode { what: String, reason: String },
    /// The client could not be configured (TLS files, a bad address).
    #[error("registry client configuration: {0}")]
    Config(String),
}

impl RegistryError {
    /// Whether the same request may succeed later unchanged (Consul down or restarting).
    pub fn is_retryable(&self) -> bool {
        matches!(self, RegistryError::Unreachable(_))
    }
}

/// A service registry, as the sync loop uses it.
pub trait Registry: Send + Sync + 'static {
    /// Checks the registry answers; returns the current leader (may be empty).
    fn ping(&self) -> impl Future<Output = Result<String, RegistryError>> + Send;
    /// Registers (or re-registers, idempotently) one service.
    fn register(
        &self,
        reg: &ServiceRegistration,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
    /// Removes one service.
    fn deregister(
        &self,
        reg: &ServiceRegistration,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
    /// Services registered on the agent, by ID; `None` when the backend cannot list (KV).
    fn services(
        &self,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, AgentService>>, RegistryError>> + Send;
    /// Sets a TTL check to passing or critical (no-op where checks do not exist).
    fn update_check(
        &self,
        check_id: &str,
        passing: bool,
        note: &str,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
}
