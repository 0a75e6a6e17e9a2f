//! The gossip pool on real UDP sockets on 127.0.0.1 (OS-assigned ports), with shortened
//! probe intervals.

mod common;
mod encryption;
mod events;
mod membership;
