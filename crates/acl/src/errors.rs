//! A refused check in Consul's words ([`PermissionDenied`]), and the fixed texts of Consul's
//! other ACL errors, which clients match on.

use std::fmt;

use crate::access::{Access, Resource};
use crate::ANONYMOUS_TOKEN_ID;

/// Start of every permission-denied message; clients (and Consul itself) look for it.
pub const PERMISSION_DENIED: &str = "Permission denied";

/// Message for a token that does not exist.
pub const ACL_NOT_FOUND: &str = "ACL not found";

/// Message for ACL endpoints while ACLs are disabled.
pub const ACL_DISABLED: &str = "ACL support disabled";

/// A check the token failed: which token, which resource, which access, on what name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PermissionDenied {
    detail: Detail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Detail {
    /// A failed check, attributed to a token.
    Check {
        accessor_id: String,
        resource: Resource,
        access: Access,
        /// Empty for unnamed resources (and for a named one checked for the empty name).
        name: String,
    },
    /// Free text, for refusals that are not one rule's check.
    Cause(String),
}

impl PermissionDenied {
    /// The refusal of `access` on `resource` (for the segment `name`, if the resource is
    /// named) to the token with accessor ID `accessor_id`.
    pub fn new(
        accessor_id: impl Into<String>,
        resource: Resource,
        access: Access,
        name: Option<&str>,
    ) -> PermissionDenied {
        PermissionDenied {
            detail: Detail::Check {
                accessor_id: accessor_id.into(),
                resource,
                access,
                name: name.unwrap_or_default().to_string(),
            },
        }
    }

    /// A refusal explained by free text: `Permission denied: <cause>`.
    pub fn with_cause(cause: impl Into<String>) -> PermissionDenied {
        PermissionDenied {
            detail: Detail::Cause(cause.into()),
        }
    }

    /// The accessor ID of the refused token, if the refusal is a check's.
    pub fn accessor_id(&self) -> Option<&str> {
        match &self.detail {
            Detail::Check { accessor_id, .. } => Some(accessor_id),
            Detail::Cause(_) => None,
        }
    }

    /// The resource and access that were refused, if the refusal is a check's.
    pub fn permission(&self) -> Option<(Resource, Access)> {
        match &self.detail {
            Detail::Check {
                resource, access, ..
            } => Some((*resource, *access)),
            Detail::Cause(_) => None,
        }
    }

    /// The segment the check was for, if any.
    pub fn name(&self) -> Option<&str> {
        match &self.detail {
            Detail::Check { name, .. } if !name.is_empty() => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for PermissionDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMISSION_DENIED)?;
        let (accessor_id, resource, access, name) = match &self.detail {
            Detail::Cause(cause) => return write!(f, ": {cause}"),
            Detail::Check {
                accessor_id,
                resource,
                access,
                name,
            } => (accessor_id, resource, access, name),
        };
        let anonymous = accessor_id == ANONYMOUS_TOKEN_ID;
        if anonymous {
            f.write_str(": anonymous token")?;
        } else {
            write!(f, ": token with AccessorID '{accessor_id}'")?;
        }
        write!(f, " lacks permission '{resource}:{access}'")?;
        if !name.is_empty() {
            // Consul wraps the name in plain quotes, without escaping it.
            write!(f, " on \"{name}\"")?;
        }
        if anonymous {
            f.write_str(
                ". The anonymous token is used implicitly when a request does not specify a token.",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "6a1253d2-1785-24fd-91c2-f8e78c745511";

    #[test]
    fn messages_match_consul() {
        let table = [
            (
                PermissionDenied::new(TOKEN, Resource::Key, Access::Write, Some("foo")),
                "Permission denied: token with AccessorID '6a1253d2-1785-24fd-91c2-f8e78c745511' lacks permission 'key:write' on \"foo\"",
            ),
            (
                PermissionDenied::new(TOKEN, Resource::Operator, Access::Read, None),
                "Permission denied: token with AccessorID '6a1253d2-1785-24fd-91c2-f8e78c745511' lacks permission 'operator:read'",
            ),
            (
                PermissionDenied::new(TOKEN, Resource::Service, Access::Read, Some("")),
                "Permission denied: token with AccessorID '6a1253d2-1785-24fd-91c2-f8e78c745511' lacks permission 'service:read'",
            ),
            (
                PermissionDenied::new(ANONYMOUS_TOKEN_ID, Resource::Key, Access::Write, Some("foo")),
                "Permission denied: anonymous token lacks permission 'key:write' on \"foo\". The anonymous token is used implicitly when a request does not specify a token.",
            ),
            (
                PermissionDenied::new(ANONYMOUS_TOKEN_ID, Resource::Acl, Access::Read, None),
                "Permission denied: anonymous token lacks permission 'acl:read'. The anonymous token is used implicitly when a request does not specify a token.",
            ),
            (
                PermissionDenied::new(TOKEN, Resource::Key, Access::List, Some("a\"b")),
                "Permission denied: token with AccessorID '6a1253d2-1785-24fd-91c2-f8e78c745511' lacks permission 'key:list' on \"a\"b\"",
            ),
            (
                PermissionDenied::with_cause("Denied by intention default"),
                "Permission denied: Denied by intention default",
            ),
        ];
        for (err, want) in table {
            assert_eq!(err.to_string(), want);
            assert!(err.to_string().starts_with(PERMISSION_DENIED));
        }
    }

    #[test]
    fn parts_are_kept() {
        let e = PermissionDenied::new(TOKEN, Resource::Node, Access::Write, Some("n1"));
        assert_eq!(e.accessor_id(), Some(TOKEN));
        assert_eq!(e.permission(), Some((Resource::Node, Access::Write)));
        assert_eq!(e.name(), Some("n1"));
    }
}
