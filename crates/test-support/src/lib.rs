//! What the workspace's tests and bench binaries start things with, in one place.
//!
//! - [`Consul`]: our `consul` binary as a child process on listeners the test bound itself
//!   ([`ReservedPort`]) and handed over with systemd's socket-activation protocol, so there is
//!   no window in which another process can take its ports. A builder for `-dev`,
//!   `-server -bootstrap` and cluster members, readiness, stop, kill, restart on the same
//!   ports and data dir, captured output, and a `Drop` that leaves nothing behind.
//! - [`binary`]: where `cargo build --workspace --bins` put `consul`, `registrator` and
//!   `consul-template`; a missing binary panics with the command that builds it.
//! - [`wait_until`] / [`wait_until_blocking`], [`temp_dir`], [`http_get`].
//! - [`docker`]: the Docker CLI, unique names, and guards removing the images, containers and
//!   networks a test created. [`docker::require_docker`] fails the test when there is no engine.
//! - [`Process`]: any other child with its output captured, killed and reaped on drop.
//! - [`haproxy`]: Debian's HAProxy balancing over a service found by SRV through our DNS.
//! - [`tls`]: a CA, server and client certificates (openssl) and the HTTPS port an agent got.
//! - [`free_port`]: only for peers that cannot take an inherited socket (see its doc).
//!
//! Nothing here skips a test: what a test needs and cannot find is a failure that says what to
//! install or build.

pub mod activation;
mod bins;
pub mod consul;
pub mod docker;
pub mod haproxy;
mod http;
mod ports;
mod process;
pub mod tls;
mod wait;

pub use bins::{binary, target_dir, workspace_root};
pub use consul::{Consul, ConsulBuilder, Mode, Ready};
pub use http::http_get;
pub use ports::{free_port, free_port_on, ReservedPort};
pub use process::Process;
pub use wait::{wait_until, wait_until_blocking};

/// A temporary directory, removed when dropped; its name starts with `prefix`.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| {
            panic!(
                "cannot create a temp dir in {:?}: {e}",
                std::env::temp_dir()
            )
        })
}

/// The last `n` lines of `text` (all of it when shorter), for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
