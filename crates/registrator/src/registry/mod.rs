//! Where services go: the [`Registry`] trait and one module per backend behind it, chosen by
//! the registry URI's scheme ([`open`]): `consul` (agent service API for `consul*://`, KV
//! entries for `consulkv*://`, through the shared typed client of `api_types`: TCP, TLS or a
//! unix socket), `etcd` (`etcd://`, keys through etcd's v3 API) and `skydns2` (`skydns2://`,
//! SkyDNS records in etcd, on the etcd backend). `zookeeper://` and unknown schemes are refused.
//!
//! Architecture invariant: the sync loop only sees [`Registry`]; it knows nothing about HTTP
//! or gRPC.

mod consul;
pub mod etcd;
pub mod etcd_api;
pub mod skydns2;
pub mod uri;

pub use consul::Consul;
pub use etcd::Etcd;
pub use uri::{Backend, Endpoint, Target, UriError};

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
    /// An RPC the registry answered with an error (etcd).
    #[error("{op}: {reason}")]
    Rpc { op: String, reason: String },
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
    /// The line logged once [`Registry::ping`] answered `answer` (upstream's Consul line).
    fn ping_log(&self, answer: &str) -> String {
        format!("consul: current leader  {answer}")
    }
    /// Registers (or re-registers, idempotently) one service.
    fn register(
        &self,
        reg: &ServiceRegistration,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
    /// `-ttl-refresh`: keeps one registered service's TTL from running out (upstream's
    /// `Refresh`; a no-op where services carry no TTL, as with Consul).
    fn refresh(
        &self,
        _reg: &ServiceRegistration,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send {
        async { Ok(()) }
    }
    /// Removes one service.
    fn deregister(
        &self,
        reg: &ServiceRegistration,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
    /// Services registered on the agent (Consul) or keyed `<prefix>/<name>/<id>` (etcd,
    /// SkyDNS), by ID, for `-cleanup`; `None` when the backend cannot list (Consul KV).
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

/// The backend a registry URI chose.
pub enum AnyRegistry {
    Consul(Consul),
    /// Boxed: the etcd client is large.
    Etcd(Box<Etcd>),
}

/// Builds the backend `target` names; `ttl` is `-ttl` (used by the etcd backends only, as
/// upstream's Consul adapter ignores it).
pub async fn open(target: &Target, ttl: i64) -> Result<AnyRegistry, RegistryError> {
    Ok(match target {
        Target::Consul(endpoint) => AnyRegistry::Consul(Consul::new(endpoint)?),
        Target::Etcd(t) => AnyRegistry::Etcd(Box::new(Etcd::connect(t, ttl).await?)),
    })
}

impl Registry for AnyRegistry {
    async fn ping(&self) -> Result<String, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.ping().await,
            AnyRegistry::Etcd(r) => r.ping().await,
        }
    }
    fn ping_log(&self, answer: &str) -> String {
        match self {
            AnyRegistry::Consul(r) => r.ping_log(answer),
            AnyRegistry::Etcd(r) => r.ping_log(answer),
        }
    }
    async fn register(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.register(reg).await,
            AnyRegistry::Etcd(r) => r.register(reg).await,
        }
    }
    async fn refresh(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.refresh(reg).await,
            AnyRegistry::Etcd(r) => r.refresh(reg).await,
        }
    }
    async fn deregister(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.deregister(reg).await,
            AnyRegistry::Etcd(r) => r.deregister(reg).await,
        }
    }
    async fn services(&self) -> Result<Option<BTreeMap<String, AgentService>>, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.services().await,
            AnyRegistry::Etcd(r) => r.services().await,
        }
    }
    async fn update_check(
        &self,
        check_id: &str,
        passing: bool,
        note: &str,
    ) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.update_check(check_id, passing, note).await,
            AnyRegistry::Etcd(r) => r.update_check(check_id, passing, note).await,
        }
    }
}
