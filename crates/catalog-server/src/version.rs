//! The version this build reports: the Consul release whose API and CLI it matches, and our own
//! revision, as `consul version`, `/v1/agent/self` and the member tags print them.

/// The Consul version whose behaviour we match.
pub const VERSION: &str = "1.21.5";
/// Our build's revision (8 characters of the git SHA, like Consul's), stamped by `build.rs`.
pub const REVISION: &str = env!("CONSUL_REVISION");
/// The commit date of the build, RFC 3339, stamped by `build.rs`.
pub const BUILD_DATE: &str = env!("CONSUL_BUILD_DATE");
