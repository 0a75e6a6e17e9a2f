//! The wire contract shared by `consul`, `registrator` and `consul-template`: serde types in
//! Consul's exact JSON shapes, Go durations, Go-style JSON encoding and case-insensitive
//! decoding, header names, and (feature `client`) the one typed HTTP client.
//!
//! Architecture invariant: nothing here knows axum, openraft or sled.

pub mod acl;
pub mod agent;
pub mod catalog;
#[cfg(feature = "client")]
pub mod client;
pub mod decode;
pub mod duration;
pub mod gobool;
pub mod goerror;
pub mod goquote;
pub mod hcl1;
pub mod hcl_guard;
pub mod headers;
pub mod json;
pub mod kv;
pub mod session;

pub use agent::*;
pub use catalog::*;
pub use duration::{format_go_duration, parse_duration, parse_go_duration, GoDuration};
pub use gobool::parse_bool;
pub use goerror::go_io_error;
pub use goquote::quote as go_quote;
pub use kv::KvPair;
pub use session::*;
