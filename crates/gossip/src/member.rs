//! Who is in the pool: a [`Member`] as its node describes itself (name, node ID, gossip address,
//! Serf tags), and a [`MemberState`], what the local node knows of it (status, last round trip).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Error;

/// memberlist's `MetaMaxSize`: the most bytes a node's encoded tags may take.
pub const TAGS_MAX_SIZE: usize = 512;
/// The longest node name accepted (names travel in every SWIM packet header).
pub const NAME_MAX_LEN: usize = 128;

/// A node of the pool as it describes itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    name: String,
    id: String,
    addr: SocketAddr,
    tags: BTreeMap<String, String>,
}

impl Member {
    /// A member without tags. `id` is the node ID (a UUID string); `addr` is the gossip address
    /// other members reach it at (a port of 0 is replaced by the bound port at start).
    pub fn new(name: impl Into<String>, id: impl Into<String>, addr: SocketAddr) -> Self {
        Self {
            name: name.into(),
            id: id.into(),
            addr,
            tags: BTreeMap::new(),
        }
    }

    /// The same member with these tags (Serf's: `role`, `dc`, `port`, `build`, `vsn`, ...).
    pub fn with_tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags = tags;
        self
    }

    /// The same member with one more tag.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// The node name, unique in the pool.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node ID (a UUID string).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The gossip address (Consul's serf LAN bind or advertise address and port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// All tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// One tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    pub(crate) fn set_addr(&mut self, addr: SocketAddr) {
        self.addr = addr;
    }

    pub(crate) fn set_tags(&mut self, tags: BTreeMap<String, String>) {
        self.tags = tags;
    }

    pub(crate) fn from_parts(
        name: String,
        id: String,
        addr: SocketAddr,
        tags: BTreeMap<String, String>,
    ) -> Self {
        Self {
            name,
            id,
            addr,
            tags,
        }
    }

    /// Checks what the pool relies on: a non-empty name of bounded length, a UUID node ID, and
    /// tags within [`TAGS_MAX_SIZE`].
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.name.is_empty() || self.name.len() > NAME_MAX_LEN {
            return Err(Error::Member(format!(
                "node name must be 1 to {NAME_MAX_LEN} bytes"
            )));
        }
        if uuid::Uuid::parse_str(&self.id).is_err() {
            return Err(Error::Member(format!(
                "node ID {:?} is not a UUID",
                self.id
            )));
        }
        check_tags(&self.tags)
    }
}

/// Rejects tags whose encoding exceeds [`TAGS_MAX_SIZE`].
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), Error> {
    let size = postcard::to_allocvec(tags).map_or(usize::MAX, |v| v.len());
    if size > TAGS_MAX_SIZE {
        return Err(Error::TagsTooLarge {
            size,
            limit: TAGS_MAX_SIZE,
        });
    }
    Ok(())
}

/// A member's status as the local node sees it.
///
/// Serf knows alive, failed and left (and leaving); `Suspect` is SWIM's in-between (a probe
/// failed and the member has not refuted it yet) and counts as alive: Consul shows it as
/// `alive`, see [`MemberStatus::serf_status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// Answering probes.
    Alive,
    /// A probe failed; declared failed unless it refutes in time.
    Suspect,
    /// Declared down without having said goodbye.
    Failed,
    /// Left gracefully.
    Left,
}

impl MemberStatus {
    /// Our word for it: `alive`, `suspect`, `failed`, `left`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Suspect => "suspect",
            Self::Failed => "failed",
            Self::Left => "left",
        }
    }

    /// Serf's word for it, as `consul members` prints it (a suspect member is `alive`).
    pub fn serf_status(self) -> &'static str {
        match self {
            Self::Alive | Self::Suspect => "alive",
            Self::Failed => "failed",
            Self::Left => "left",
        }
    }

    /// Serf's `MemberStatus` number, as `/v1/agent/members` shows it (1 alive, 3 left,
    /// 4 failed).
    pub fn serf_code(self) -> u8 {
        match self {
            Self::Alive | Self::Suspect => 1,
            Self::Left => 3,
            Self::Failed => 4,
        }
    }

    /// Alive or suspect: still taking part.
    pub fn is_alive(self) -> bool {
        matches!(self, Self::Alive | Self::Suspect)
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the local node knows of one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberState {
    member: Member,
    status: MemberStatus,
    incarnation: u64,
    rtt: Option<Duration>,
}

impl MemberState {
    pub(crate) fn new(
        member: Member,
        status: MemberStatus,
        incarnation: u64,
        rtt: Option<Duration>,
    ) -> Self {
        Self {
            member,
            status,
            incarnation,
            rtt,
        }
    }

    /// The member as it describes itself.
    pub fn member(&self) -> &Member {
        &self.member
    }

    /// Shortcut for `member().name()`.
    pub fn name(&self) -> &str {
        self.member.name()
    }

    /// Its status.
    pub fn status(&self) -> MemberStatus {
        self.status
    }

    /// Which life of the member this is: it grows when the member restarts or rejoins after
    /// being declared failed (milliseconds since the epoch at its start, plus one per rejoin).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The last direct probe round trip to it, if the local node has probed it.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    pub(crate) fn with_status(mut self, status: MemberStatus) -> Self {
        self.status = status;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Member {
        Member::new(
            "node-1",
            "6f0c2c4e-8a8b-4c39-9a2e-8b7f3c1d2e4f",
            "127.0.0.1:8301".parse().expect("addr"),
        )
    }

    #[test]
    fn validation() {
        assert!(member().validate().is_ok());
        assert!(Member::new("", "x", member().addr()).validate().is_err());
        assert!(Member::new("a", "not-a-uuid", member().addr())
            .validate()
            .is_err());
        let big = member().with_tag("build", "x".repeat(600));
        assert!(matches!(big.validate(), Err(Error::TagsTooLarge { .. })));
    }

    #[test]
    fn serf_words() {
        assert_eq!(MemberStatus::Suspect.serf_status(), "alive");
        assert_eq!(MemberStatus::Failed.serf_code(), 4);
        assert_eq!(MemberStatus::Left.to_string(), "left");
    }
}
