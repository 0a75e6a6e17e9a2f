//! `consul`: the catalog server and its command-line client. See `docs/ARCHITECTURE.md`.

pub mod agent;
pub mod blocking;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod dns;
pub mod health;
pub mod http;
pub mod lifecycle;
pub mod listeners;
pub mod logging;
pub mod raft;
pub mod snapshot;
pub mod store;
pub mod telemetry;
pub mod tls_suites;
pub mod ui;
pub mod version;
pub mod wal;
