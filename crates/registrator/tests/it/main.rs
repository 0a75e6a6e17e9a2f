//! registrator's one integration-test binary.
//!
//! `mapping`: fixture-driven checks of the pure mapping (no Docker). `cli`: the binary's exit
//! codes. `docker`: the `docker` module against the real engine. `loop_fake`: the real binary
//! against the real engine and a recording fake Consul agent. `consul`: the same against the
//! real `consul agent -dev`. `image`: the tutorial's done-when check — our image (built by
//! `deploy/registrator/build.sh`) run as step 2 against the real `consul` server, four app
//! containers as step 3. `etcd`: `etcd://` and `skydns2://` against a real etcd started per
//! test. `service_model`: every `SERVICE_CHECK_*` key, `-useIpFromLabel`, `-internal` and the
//! network choice with real containers (fake Consul for exact bodies, the real agent for the
//! checks it runs). Docker tests fail when `/var/run/docker.sock` is absent, the `consul`
//! ones when `target/debug/consul` is not built: nothing skips itself.

mod cli;
mod common;
mod consul;
mod docker;
mod etcd;
mod image;
mod loop_fake;
mod mapping;
mod service_model;
