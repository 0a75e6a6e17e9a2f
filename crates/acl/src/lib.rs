//! Consul's ACL rules language and the authorizer that answers "may this token do that?".
//!
//! A policy's rules text ([`Rules::parse`], HCL 1 or 2, or JSON) names resources (`key_prefix
//! "app/"`, `service "web"`, `operator`, ...) and grants each a [`Level`] (`deny`, `read`,
//! `list`, `write`). An [`Authorizer`] merges every policy a token carries (its own, its roles',
//! its identities') the way Consul does, most restrictive first, and answers checks for an
//! [`Access`] on a [`Resource`]; a check it has no rule for falls back to the agent's
//! [`DefaultPolicy`]. [`PermissionDenied`] words a refusal as Consul does.
//!
//! Builtin texts live beside it: the `global-management` and `builtin/global-read-only`
//! policies ([`builtin`]), service and node identities' synthetic policies ([`identity`]) and
//! the templated policies ([`templated`]).
//!
//! Invariant: pure and synchronous. No I/O, no clock, no async runtime, no HTTP: callers
//! resolve tokens to rules texts and hand them over.

mod access;
mod authorizer;
pub mod builtin;
mod errors;
pub mod identity;
mod rules;
pub mod templated;

pub use access::{Access, DefaultPolicy, Level, Resource};
pub use authorizer::Authorizer;
pub use errors::{PermissionDenied, ACL_DISABLED, ACL_NOT_FOUND, PERMISSION_DENIED};
pub use rules::{Rules, RulesError};

/// Accessor ID of the anonymous token, used when a request carries no token.
pub const ANONYMOUS_TOKEN_ID: &str = "00000000-0000-0000-0000-000000000002";

/// Secret ID of the anonymous token.
pub const ANONYMOUS_TOKEN_SECRET: &str = "anonymous";
