//! The driver's side of the [`crate::Pool`] handle: the commands it sends, and what the
//! driver does with each (join and its wait for answers, leave in two steps, user events,
//! tags, force-leave, the member list).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use foca::State;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Driver;
use crate::error::Error;
use crate::events::USER_EVENT_SIZE_LIMIT;
use crate::instance::{now_millis, Instance};
use crate::member::{check_tags, MemberState};
use crate::wire::{self, Broadcast, EventRecord, LeaveIntent};

/// What the [`crate::Pool`] handle asks of the driver.
pub(crate) enum Command {
    Join {
        addrs: Vec<SocketAddr>,
        reply: oneshot::Sender<Result<usize, Error>>,
    },
    AnnounceLeave {
        reply: oneshot::Sender<Result<(), Error>>,
    },
    LeaveNow {
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Members {
        reply: oneshot::Sender<Vec<MemberState>>,
    },
    FireEvent {
        name: String,
        payload: Vec<u8>,
        reply: oneshot::Sender<Result<uuid::Uuid, Error>>,
    },
    SetTags {
        tags: BTreeMap<String, String>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    ForceLeave {
        name: String,
        reply: oneshot::Sender<Result<(), Error>>,
    },
}

pub(super) struct PendingJoin {
    pub(super) addrs: HashSet<SocketAddr>,
    pub(super) answered: HashSet<SocketAddr>,
    pub(super) deadline: Instant,
    pub(super) resend_at: Instant,
    pub(super) reply: oneshot::Sender<Result<usize, Error>>,
}

impl Driver {
    pub(super) async fn command(&mut self, command: Command) {
        match command {
            Command::Join { addrs, reply } => self.join(addrs, reply).await,
            Command::AnnounceLeave { reply } => {
                let result = self.announce_leave().await;
                let _ = reply.send(result);
            }
            Command::LeaveNow { reply } => {
                let result = self.leave_now().await;
                let _ = reply.send(result);
            }
            Command::Members { reply } => {
                let _ = reply.send(self.members());
            }
            Command::FireEvent {
                name,
                payload,
                reply,
            } => {
                let result = self.fire_event(name, payload).await;
                let _ = reply.send(result);
            }
            Command::SetTags { tags, reply } => {
                let result = self.set_tags(tags).await;
                let _ = reply.send(result);
            }
            Command::ForceLeave { name, reply } => {
                let result = self.force_leave(&name).await;
                let _ = reply.send(result);
            }
        }
    }

    async fn join(&mut self, addrs: Vec<SocketAddr>, reply: oneshot::Sender<Result<usize, Error>>) {
        if self.left {
            let _ = reply.send(Err(Error::Left));
            return;
        }
        let own = self.meta_addr();
        let addrs: HashSet<SocketAddr> = addrs.into_iter().collect();
        let mut answered = HashSet::new();
        for addr in &addrs {
            if *addr == own {
                answered.insert(*addr);
            } else {
                self.announce(*addr).await;
            }
        }
        let now = Instant::now();
        let pending = PendingJoin {
            addrs,
            answered,
            deadline: now + self.config.join_timeout,
            resend_at: now + self.config.probe_interval,
            reply,
        };
        self.joins.push(pending);
        self.settle_joins(now);
    }

    pub(super) async fn announce(&mut self, addr: SocketAddr) {
        let result = self
            .foca
            .announce(Instance::unknown_at(addr), &mut self.runtime);
        self.after_swim(result).await;
    }

    /// Answers joins whose addresses all answered, or whose time is up.
    pub(super) fn settle_joins(&mut self, now: Instant) {
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.joins)
            .into_iter()
            .partition(|j| j.answered.len() == j.addrs.len() || now >= j.deadline);
        self.joins = waiting;
        for join in done {
            let result = if join.answered.is_empty() {
                Err(Error::JoinFailed {
                    attempted: join.addrs.len(),
                })
            } else {
                Ok(join.answered.len())
            };
            let _ = join.reply.send(result);
        }
    }

    async fn announce_leave(&mut self) -> Result<(), Error> {
        if self.left {
            return Err(Error::Left);
        }
        let intent = LeaveIntent {
            name: self.meta.name.clone(),
            generation: self.foca.identity().generation(),
        };
        self.foca
            .add_broadcast(&wire::encode(&Broadcast::Leave(intent)))?;
        let result = self.foca.broadcast(&mut self.runtime);
        self.after_swim(result).await;
        Ok(())
    }

    async fn leave_now(&mut self) -> Result<(), Error> {
        if self.left {
            return Err(Error::Left);
        }
        let result = self.foca.leave_cluster(&mut self.runtime);
        self.after_swim(result).await;
        self.left = true;
        self.roster.local_left();
        Ok(())
    }

    fn members(&self) -> Vec<MemberState> {
        let suspects: HashSet<Instance> = self
            .foca
            .iter_members()
            .filter(|m| m.state() == State::Suspect)
            .map(|m| m.id().clone())
            .collect();
        self.roster.states(&suspects)
    }

    async fn fire_event(&mut self, name: String, payload: Vec<u8>) -> Result<uuid::Uuid, Error> {
        if self.left {
            return Err(Error::Left);
        }
        let size = name.len() + payload.len();
        if size > USER_EVENT_SIZE_LIMIT {
            return Err(Error::EventTooLarge {
                size,
                limit: USER_EVENT_SIZE_LIMIT,
            });
        }
        let id = uuid::Uuid::new_v4();
        let record = EventRecord {
            id: id.into_bytes(),
            origin: self.meta.name.clone(),
            name,
            payload,
        };
        self.foca
            .add_broadcast(&wire::encode(&Broadcast::Event(record)))?;
        let result = self.foca.broadcast(&mut self.runtime);
        self.after_swim(result).await;
        Ok(id)
    }

    async fn set_tags(&mut self, tags: BTreeMap<String, String>) -> Result<(), Error> {
        if self.left {
            return Err(Error::Left);
        }
        check_tags(&tags)?;
        self.meta.tags = tags;
        self.meta.version = now_millis().max(self.meta.version + 1);
        self.publish_meta().await
    }

    /// Gossips the local meta and records it as the local entry's.
    pub(super) async fn publish_meta(&mut self) -> Result<(), Error> {
        self.roster
            .set_local(self.foca.identity().clone(), self.meta.clone());
        self.foca
            .add_broadcast(&wire::encode(&Broadcast::Meta(self.meta.clone())))?;
        let result = self.foca.broadcast(&mut self.runtime);
        self.after_swim(result).await;
        Ok(())
    }

    async fn force_leave(&mut self, name: &str) -> Result<(), Error> {
        if self.left {
            return Err(Error::Left);
        }
        let instance = self
            .roster
            .instance_of(name)
            .ok_or_else(|| Error::UnknownMember(name.to_owned()))?;
        let intent = LeaveIntent {
            name: name.to_owned(),
            generation: instance.generation(),
        };
        self.foca
            .add_broadcast(&wire::encode(&Broadcast::Leave(intent)))?;
        let result = self.foca.broadcast(&mut self.runtime);
        self.after_swim(result).await;
        Ok(())
    }
}
