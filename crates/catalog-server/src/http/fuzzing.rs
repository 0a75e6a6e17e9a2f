//! Entry points for the fuzz targets in `fuzz/` (not an API): the request path's pure parts,
//! without a socket or an agent.

use super::reply::ApiError;
use std::time::Duration;

pub use super::gopath::{bytes_to_string, check, clean_path, display, unescape};

/// `/v1/txn`'s body → the number of operations, or the handler's error.
pub fn txn_body(body: &[u8]) -> Result<usize, ApiError> {
    super::txn::decoded_ops(body)
}

/// `/v1/session/create`'s body, checked with `ttl_min` → the lock delay in nanoseconds, or
/// the handler's error.
pub fn session_create_body(body: &[u8], ttl_min: Duration) -> Result<i64, ApiError> {
    super::session::create_body(body, ttl_min).map(|c| c.lock_delay)
}
