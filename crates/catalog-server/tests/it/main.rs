//! Integration tests: each starts the real `consul` binary on free loopback ports.

mod api;
mod blocking;
mod checks;
mod cli;
mod common;
mod durability;
mod kv;
mod sessions;
