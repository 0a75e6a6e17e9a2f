//! The pool's errors: what a caller of [`crate::Pool`] or [`crate::Keyring`] can be told.

use std::net::SocketAddr;

/// What went wrong with a gossip pool operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is not usable (a zero or inconsistent interval, ...).
    #[error("invalid gossip config: {0}")]
    Config(&'static str),
    /// The local member's description is not usable.
    #[error("invalid member: {0}")]
    Member(String),
    /// The gossip socket could not be bound.
    #[error("failed to bind gossip socket {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why the bind failed.
        source: std::io::Error,
    },
    /// The advertised address is missing an IP or a port.
    #[error("cannot advertise {0}: an advertise address needs an IP and a port")]
    AdvertiseAddr(SocketAddr),
    /// The tags, encoded, exceed memberlist's node meta limit.
    #[error("node tags exceed the limit of {limit} bytes ({size} bytes)")]
    TagsTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A user event's name plus payload exceeds Consul's limit.
    #[error("user event exceeds the limit of {limit} bytes ({size} bytes)")]
    EventTooLarge {
        /// Name plus payload size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No address given to `join` answered in time.
    #[error("failed to join any of {attempted} addresses")]
    JoinFailed {
        /// How many addresses were tried.
        attempted: usize,
    },
    /// No member by that name is known.
    #[error("no member named {0:?}")]
    UnknownMember(String),
    /// The local member has left the pool; a new pool is needed to rejoin.
    #[error("the local member has left the gossip pool")]
    Left,
    /// The pool's task has stopped.
    #[error("the gossip pool is shut down")]
    Shutdown,
    /// Encryption is not enabled on this pool, so there is no keyring.
    #[error("encryption is not enabled")]
    EncryptionDisabled,
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The SWIM implementation refused an operation.
    #[error("swim: {0}")]
    Swim(#[from] foca::Error),
}

/// What is wrong with an encryption key or a keyring operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is not valid base64.
    #[error("invalid key: not base64")]
    Base64,
    /// The key has the wrong length.
    #[error("invalid key: must be 16, 24 or 32 bytes, got {0}")]
    Length(usize),
    /// The key is not in the keyring.
    #[error("key is not in the keyring")]
    NotInstalled,
    /// The primary key cannot be removed.
    #[error("removing the primary key is not allowed")]
    RemovePrimary,
}

/// Why a subscription could not hand out its next item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The subscriber fell behind and this many items were dropped; read
    /// [`crate::Pool::members`] to catch up.
    #[error("subscriber lagged behind by {0} items")]
    Lagged(u64),
    /// The pool has shut down.
    #[error("the gossip pool is shut down")]
    Closed,
}
