//! registrator's one integration-test binary.
//!
//! `mapping`: fixture-driven checks of the pure mapping (no Docker). `cli`: the binary's exit
//! codes. `docker`: the `docker` module against the real engine. `loop_fake`: the real binary
//! against the real engine and a recording fake Consul agent. `consul`: the same against the
//! real `consul agent -dev` (ignored until that binary serves). Docker tests print a note and
//! pass when `/var/run/docker.sock` is absent.

mod cli;
mod common;
mod consul;
mod docker;
mod loop_fake;
mod mapping;
