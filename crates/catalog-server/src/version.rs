//! The version this build reports: the Consul release whose API and CLI it matches, and our own
//! revision, as `consul version`, `/v1/agent/self` and the member tags print them.

/// The Consul version whose behaviour we match.
pub const VERSION: &str = "1.21.5";
/// Our build's revision (8 characters, like Consul's short git SHA).
pub const REVISION: &str = "0c0a7a1b";
/// The build date, RFC 3339.
pub const BUILD_DATE: &str = "2026-11-27T00:00:00Z";
