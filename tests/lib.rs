//! Helpers shared by the system tests and `loopbench` (the rest comes from `test-support`).

use std::net::SocketAddr;
use std::time::Duration;

/// One plain `GET /` to 127.0.0.1:`port` (nginx); the body of a 200, trimmed.
pub fn get(port: u16) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match test_support::http_get(addr, "/", Duration::from_secs(5)) {
        Ok((200, body)) => Some(body.trim().to_string()),
        _ => None,
    }
}
