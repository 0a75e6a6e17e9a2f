//! systemd readiness (`Type=notify`): `READY=1` on `$NOTIFY_SOCKET` once the HTTP API serves and
//! a leader is known, `STOPPING=1` on shutdown. A no-op when not started by systemd.

use std::os::unix::net::UnixDatagram;

/// Sends one sd_notify message; errors are logged, never fatal.
pub fn send(msg: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    if path.starts_with('@') {
        // Abstract sockets need a platform API std does not expose on stable; systemd uses a
        // filesystem path for services by default.
        tracing::debug!(target: "agent", "abstract NOTIFY_SOCKET not supported: {path}");
        return;
    }
    let res = UnixDatagram::unbound().and_then(|s| s.send_to(msg.as_bytes(), &path));
    if let Err(e) = res {
        tracing::warn!(target: "agent", "failed to notify systemd: {e}");
    }
}
