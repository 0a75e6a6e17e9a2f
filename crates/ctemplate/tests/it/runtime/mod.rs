//! Runtime tests: the `consul-template` binary against the real `consul` binary on sockets
//! the test holds (and nginx for the tutorial's scenario).

pub mod harness;

mod basic;
mod dedup;
mod exact_json;
mod flags;
mod h2c;
mod lifecycle;
mod nginx;
mod views;
