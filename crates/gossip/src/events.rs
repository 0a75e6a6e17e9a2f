//! What subscribers are told: membership changes (for the leader's reconciliation into the
//! catalog), user events (Consul's `consul event`) and probe round trips (for network
//! coordinates), each through a [`Subscription`].

use std::time::Duration;

use tokio::sync::broadcast;

use crate::error::RecvError;
use crate::member::MemberState;

/// Consul's `UserEventSizeLimit`: the most bytes a user event's name plus payload may take.
pub const USER_EVENT_SIZE_LIMIT: usize = 512;

/// How a member changed, in Serf's event words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberEventKind {
    /// It joined (or came back after failing or leaving): Serf's `member-join`.
    Joined,
    /// Its tags or address changed, or it restarted while still alive: `member-update`.
    Updated,
    /// It was declared down without leaving: `member-failed`.
    Failed,
    /// It left gracefully (or was force-left): `member-leave`.
    Left,
    /// It was forgotten after `reconnect_timeout` (failed) or `tombstone_timeout` (left):
    /// `member-reap`.
    Reaped,
}

/// One membership change, with the member's state after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEvent {
    kind: MemberEventKind,
    member: MemberState,
}

impl MemberEvent {
    pub(crate) fn new(kind: MemberEventKind, member: MemberState) -> Self {
        Self { kind, member }
    }

    /// What happened.
    pub fn kind(&self) -> MemberEventKind {
        self.kind
    }

    /// The member it happened to, as it is now.
    pub fn member(&self) -> &MemberState {
        &self.member
    }
}

/// A user event, delivered once to every member (the one that fired it included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEvent {
    id: uuid::Uuid,
    origin: String,
    name: String,
    payload: Vec<u8>,
}

impl UserEvent {
    pub(crate) fn new(id: uuid::Uuid, origin: String, name: String, payload: Vec<u8>) -> Self {
        Self {
            id,
            origin,
            name,
            payload,
        }
    }

    /// The ID copies of this event are recognised by.
    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// The node name that fired it.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The event's payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// One direct probe's round trip: the local node pinged `member` and its ack came back after
/// `rtt` (measured in the driver, so it includes decryption and scheduling).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttSample {
    member: String,
    rtt: Duration,
}

impl RttSample {
    pub(crate) fn new(member: String, rtt: Duration) -> Self {
        Self { member, rtt }
    }

    /// The probed member's name.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// The round trip.
    pub fn rtt(&self) -> Duration {
        self.rtt
    }
}

/// A stream of items from the pool. A subscriber that falls more than the channel's capacity
/// behind is told how many items it missed ([`RecvError::Lagged`]) and goes on from the oldest
/// kept one.
#[derive(Debug)]
pub struct Subscription<T> {
    receiver: broadcast::Receiver<T>,
}

impl<T: Clone> Subscription<T> {
    pub(crate) fn new(receiver: broadcast::Receiver<T>) -> Self {
        Self { receiver }
    }

    /// The next item; waits for one.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        self.receiver.recv().await.map_err(|e| match e {
            broadcast::error::RecvError::Lagged(n) => RecvError::Lagged(n),
            broadcast::error::RecvError::Closed => RecvError::Closed,
        })
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<Result<T, RecvError>> {
        match self.receiver.try_recv() {
            Ok(item) => Some(Ok(item)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
            Err(broadcast::error::TryRecvError::Closed) => Some(Err(RecvError::Closed)),
        }
    }
}
