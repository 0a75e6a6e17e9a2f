//! The catalog domain: nodes, services, checks, KV, sessions, and the per-table indexes that
//! blocking queries compare against. Synchronous and deterministic: `apply` is called by the
//! Raft state machine and by unit tests alike, and reports which [`WatchKey`]s it touched.
//!
//! Architecture invariant: this module knows nothing of HTTP, Raft or sled.

pub mod acl;
pub mod autopilot;
pub mod command;
pub mod coordinate;
pub mod health;
mod kv;
pub mod node_sync;
pub mod prepared_query;
pub mod query;
pub mod records;
pub mod registration;
mod session;
mod state;
mod txn;
mod ui_query;
mod vet;
mod view;

pub use command::*;
pub use health::{CheckKind, HealthStatus};
pub use records::*;
pub use state::{CatalogError, State, WatchKey};
#[cfg(test)]
mod tests;
