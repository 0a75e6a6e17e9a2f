//! What travels between pool members besides foca's own encoding: the one-byte envelope that
//! tells a SWIM packet from a direct meta exchange, and the items gossiped as foca custom
//! broadcasts (a member's meta, a leave intent, a user event). Everything is postcard-encoded;
//! the whole packet is then sealed when a keyring is set (`keyring.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A packet for foca (`Foca::handle_data`). Kinds avoid 1, the first byte of a sealed
/// packet, so a sealed packet reaching a member without encryption is plainly not ours.
const KIND_SWIM: u8 = 0x10;
/// A [`Direct`] message, answered by the driver itself.
const KIND_DIRECT: u8 = 0x11;

/// What a member says about itself beyond its identity: node ID and tags, versioned.
///
/// `version` grows when the tags change (milliseconds since the epoch, at least one more than
/// before); `generation` is the sender's identity generation when it sent the record, so a
/// receiver that knows a newer life of the member knows to ask it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MetaRecord {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) version: u64,
    pub(crate) generation: u64,
    pub(crate) tags: BTreeMap<String, String>,
}

impl MetaRecord {
    /// Whether this record supersedes `other` (same member, newer tags or life).
    pub(crate) fn supersedes(&self, other: &Self) -> bool {
        (self.version, self.generation) > (other.version, other.generation)
    }
}

/// A member announcing it is leaving, so its coming `Down` reads as `left`, not `failed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaveIntent {
    pub(crate) name: String,
    pub(crate) generation: u64,
}

/// A user event (Consul's `consul event`), with the ID copies are recognised by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventRecord {
    pub(crate) id: [u8; 16],
    pub(crate) origin: String,
    pub(crate) name: String,
    pub(crate) payload: Vec<u8>,
}

/// One foca custom broadcast item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Broadcast {
    Meta(MetaRecord),
    Leave(LeaveIntent),
    Event(EventRecord),
}

/// A message sent to one member, outside SWIM: asking a member for its meta (carrying ours),
/// and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Direct {
    MetaRequest(MetaRecord),
    MetaReply(MetaRecord),
}

/// A packet's content after the envelope byte.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    Swim(&'a [u8]),
    Direct(Direct),
}

pub(crate) fn encode<T: Serialize>(item: &T) -> Vec<u8> {
    // Encoding plain structs of strings, maps and integers into a Vec cannot fail.
    postcard::to_allocvec(item).unwrap_or_default()
}

/// Decodes one item that must take all of `bytes`.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    match postcard::take_from_bytes(bytes) {
        Ok((item, [])) => Some(item),
        _ => None,
    }
}

/// Wraps foca's bytes in the envelope.
pub(crate) fn swim_packet(data: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(data.len() + 1);
    packet.push(KIND_SWIM);
    packet.extend_from_slice(data);
    packet
}

/// Encodes a direct message in the envelope.
pub(crate) fn direct_packet(message: &Direct) -> Vec<u8> {
    let mut packet = vec![KIND_DIRECT];
    packet.extend_from_slice(&encode(message));
    packet
}

/// Reads the envelope; `None` for anything not ours.
pub(crate) fn open_packet(packet: &[u8]) -> Option<Packet<'_>> {
    let (kind, rest) = packet.split_first()?;
    match *kind {
        KIND_SWIM => Some(Packet::Swim(rest)),
        KIND_DIRECT => decode(rest).map(Packet::Direct),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(version: u64, generation: u64) -> MetaRecord {
        MetaRecord {
            name: "a".into(),
            id: "id".into(),
            version,
            generation,
            tags: BTreeMap::from([("role".into(), "consul".into())]),
        }
    }

    #[test]
    fn envelopes_round_trip() {
        let request = Direct::MetaRequest(meta(1, 1));
        let packet = direct_packet(&request);
        assert_eq!(open_packet(&packet), Some(Packet::Direct(request)));
        assert_eq!(
            open_packet(&swim_packet(b"xyz")),
            Some(Packet::Swim(b"xyz"))
        );
        assert_eq!(open_packet(&[1, 1, 2]), None);
        assert_eq!(open_packet(&[0, 1, 2]), None);
        assert_eq!(open_packet(&[]), None);
        assert_eq!(open_packet(&[KIND_DIRECT, 200]), None);
        let mut trailing = direct_packet(&Direct::MetaReply(meta(1, 1)));
        trailing.push(0);
        assert_eq!(open_packet(&trailing), None);
    }

    #[test]
    fn newer_meta_supersedes() {
        assert!(meta(2, 1).supersedes(&meta(1, 5)));
        assert!(meta(1, 2).supersedes(&meta(1, 1)));
        assert!(!meta(1, 1).supersedes(&meta(1, 1)));
    }
}
