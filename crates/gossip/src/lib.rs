//! Consul's LAN gossip pool — Serf's and memberlist's role — on [foca], a maintained SWIM
//! implementation (probes, indirect probes, suspicion, dissemination). This crate supplies
//! what foca leaves to its user: the identity, the codec, the UDP transport, the timers,
//! encryption, and Serf's layer on top (tags, left versus failed, user events, reaping).
//!
//! Start a [`Pool`] with a [`Config`] and the local [`Member`] (name, node ID, gossip address,
//! tags), [`Pool::join`] any member's address, and read [`Pool::members`] or subscribe to
//! [`Pool::member_events`] (joined, updated, failed, left, reaped), [`Pool::user_events`]
//! and [`Pool::rtt_samples`]. [`Pool::leave`] exits gracefully; [`Pool::shutdown`] (or a
//! drop) stops as a killed agent would.
//!
//! # Wire
//!
//! One UDP socket carries everything. Each datagram is `[kind][body]`, sealed with the
//! keyring's primary key when encryption is on (memberlist's version-1 layout: `[1][12-byte
//! nonce][AES-GCM ciphertext + tag]`, see [`Keyring`]). Kind 0 is a foca packet
//! (postcard-encoded, at most `max_packet_size` = 1400 bytes); kind 1 is a direct meta
//! request or answer. Packets stay below 1400 + 30 bytes, so no TCP is needed: foca has no
//! stream-based push/pull, its periodic announce (a pull of one packet of members) stands in
//! for it, and a member's meta is at most 512 bytes of tags.
//!
//! foca's identity is kept lean (address, name, generation: see `instance.rs`) because it
//! travels in every packet header. Node ID and tags are the member's *meta*: gossiped as a foca
//! custom broadcast when the member starts or changes its tags, and asked for directly by any
//! member that sees an alive member without (or with an older life than) its meta. Those
//! requests wait a random time within the span the broadcast is still being retransmitted
//! (`gossip_interval` × the retransmit limit: 3.2 s at 1,000 members), usually long enough for
//! the broadcast to make them unneeded, and each member sends at most 10 per 200 ms: a member
//! that rejoins after being wrongly declared failed is not asked by every other member in the
//! same tick (see `pulls.rs`). A member is listed once its meta is known. A graceful leave gossips a leave intent first (as Serf
//! does), so the `Down` that follows reads as `left`; without one it reads as `failed`.
//!
//! # Settings and what they give
//!
//! | [`Config`] field | default (Serf LAN) | foca |
//! |---|---|---|
//! | `probe_interval` | 1 s | `probe_period` |
//! | `probe_timeout` | 500 ms | `probe_rtt` (direct ack wait before indirect probes) |
//! | `indirect_checks` | 3 | `num_indirect_probes` |
//! | `suspicion_mult` | 4 | `suspect_to_down_after` = 4 × max(1, log10 n) × 1 s |
//! | `retransmit_mult` | 4 | `max_transmissions` = 4 × max(2, ceil(log10(n + 1))) (memberlist: no floor of 2; Serf's push/pull recovers missed events, ours has none) |
//! | `gossip_interval`, `gossip_nodes` | 200 ms, 3 | `periodic_gossip` |
//! | `push_pull_interval` | 30 s | `periodic_announce` (1 member) |
//! | `reconnect_interval` | 30 s | `periodic_announce_to_down_members` (1 member) |
//! | `reconnect_timeout` | 72 h | `remove_down_after`; failed members reaped |
//! | `tombstone_timeout` | 24 h | left members reaped |
//! | `max_packet_size` | 1400 | `max_packet_size` |
//! | — | — | `notify_down_members` on: a member declared down learns it and rejoins |
//!
//! `n` counts the alive members, the local one included; the suspicion timeout and retransmit
//! limit are recomputed as `n` changes (memberlist does the same; foca takes them fixed, so the
//! driver calls `Foca::set_config`). foca has no Lifeguard-style suspicion acceleration: the
//! timeout is memberlist's minimum, never its 6× starting maximum.
//!
//! Detection time of a killed member, with the defaults: some member probes it within about
//! one probe interval (each of the n − 1 others probes one member per second, round-robin),
//! that probe is found failed at the next probe tick (1 s: 500 ms direct, then indirect), then
//! the suspicion timeout runs, then the `down` spreads by gossip (a few 200 ms rounds): about
//! 2 s + 4 × max(1, log10 n) s + ~0.5 s, i.e. ≈ 6.5 s up to 10 members (measured: 6.6–6.9 s
//! with 5, `detection_time_with_lan_defaults`), ≈ 10.5 s for 100, ≈ 14.5 s for 1,000. False
//! positives need the direct probe and all three indirect ones to lose a packet and the member
//! to fail to refute within the suspicion timeout; a wrongly declared member learns it
//! (`notify_down_members`) and rejoins at once under a new identity generation (subscribers
//! see `failed`, then `joined`).
//!
//! foca goes idle when it sees no alive member and then runs no periodic task at all, so it
//! would never retry the failed ones; the driver does, every `reconnect_interval` (Serf's
//! reconnect), so a pool split in two heals by itself.
//!
//! [foca]: https://docs.rs/foca

mod broadcasts;
mod config;
mod driver;
mod error;
mod events;
mod instance;
mod keyring;
mod member;
mod pool;
mod pulls;
mod roster;
mod stats;
mod timers;
mod wire;

pub use config::Config;
pub use error::{Error, KeyError, RecvError};
pub use events::{
    MemberEvent, MemberEventKind, RttSample, Subscription, UserEvent, USER_EVENT_SIZE_LIMIT,
};
pub use keyring::{keygen, Keyring, SecretKey, OVERHEAD};
pub use member::{Member, MemberState, MemberStatus, NAME_MAX_LEN, TAGS_MAX_SIZE};
pub use pool::Pool;
pub use stats::Stats;
