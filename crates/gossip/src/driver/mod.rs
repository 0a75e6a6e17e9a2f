//! The pool's one task: it owns the UDP socket and the foca instance, and turns every input —
//! a packet, a command from the [`crate::Pool`] handle, a due foca timer, a housekeeping tick —
//! into calls on foca, then carries out what foca asked for (packets to send, timers to set,
//! notifications) and applies what the custom broadcasts taught (meta, leave intents, user
//! events) to the roster.
//!
//! Besides SWIM, the driver answers direct meta requests and sends its own to members whose
//! meta it lacks, keeps `join` waiting until a given address answers, measures ping/ack round
//! trips from foca's sent/received notifications, and rescales foca's suspicion timeout and
//! retransmit limit as the pool grows or shrinks (memberlist's formulas).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use foca::{AccumulatingRuntime, Foca, Message, OwnedNotification, PostcardCodec};
use rand::rngs::StdRng;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{sleep_until, Instant, MissedTickBehavior};

use crate::broadcasts::{Handler, News, SharedHeard};
use crate::config::Config;
use crate::error::Error;
use crate::events::{RttSample, UserEvent};
use crate::instance::Instance;
use crate::keyring::Keyring;
use crate::member::Member;
use crate::roster::Roster;
use crate::stats::Counters;
use crate::timers::TimerQueue;
use crate::wire::{self, Broadcast, Direct, MetaRecord, Packet};

mod commands;

pub(crate) use commands::Command;
use commands::PendingJoin;

type Swim = Foca<Instance, PostcardCodec, StdRng, Handler>;

/// How many failed members an idle node announces itself to per reconnect interval.
const RECONNECT_FANOUT: usize = 3;
/// The largest datagram read; foca's own limit is checked after decryption.
const RECV_BUFFER: usize = 65_536;

/// What the handle and the driver share.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    pub(crate) keyring: Mutex<Option<Keyring>>,
}

impl Shared {
    fn seal(&self, plaintext: Vec<u8>) -> Vec<u8> {
        match &*self.keyring.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(ring) => ring.seal(&plaintext),
            None => plaintext,
        }
    }

    /// `None` when encryption is on and no key opens the packet.
    fn open(&self, packet: &[u8]) -> Option<Vec<u8>> {
        match &*self.keyring.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(ring) => ring.open(packet),
            None => Some(packet.to_vec()),
        }
    }
}

/// Where the driver publishes.
pub(crate) struct Outlets {
    pub(crate) member_events: broadcast::Sender<crate::events::MemberEvent>,
    pub(crate) user_events: broadcast::Sender<UserEvent>,
    pub(crate) rtts: broadcast::Sender<RttSample>,
}

/// One input to the loop.
enum Input {
    Stop,
    Command(Command),
    Packet(usize, SocketAddr),
    RecvFailed(std::io::Error),
    Timers,
    Tick,
}

pub(crate) struct Driver {
    config: Config,
    foca: Swim,
    runtime: AccumulatingRuntime<Instance>,
    socket: UdpSocket,
    shared: Arc<Shared>,
    heard: SharedHeard,
    roster: Roster,
    meta: MetaRecord,
    timers: TimerQueue,
    joins: Vec<PendingJoin>,
    pings: HashMap<(SocketAddr, u8), Instant>,
    user_events: broadcast::Sender<UserEvent>,
    rtts: broadcast::Sender<RttSample>,
    /// (suspicion timeout, retransmit limit) foca currently runs with.
    scale: (Duration, u32),
    /// When to next try failed members while no member is alive.
    next_reconnect: Instant,
    left: bool,
}

impl Driver {
    pub(crate) fn new(
        config: Config,
        socket: UdpSocket,
        me: &Member,
        shared: Arc<Shared>,
        outlets: Outlets,
    ) -> Result<Self, Error> {
        let instance = Instance::start(me.addr(), me.name());
        let meta = MetaRecord {
            name: me.name().to_owned(),
            id: me.id().to_owned(),
            version: instance.generation(),
            generation: instance.generation(),
            tags: me.tags().clone(),
        };
        let heard = SharedHeard::default();
        let mut foca = Foca::with_custom_broadcast(
            instance.clone(),
            config.swim(1),
            rand::make_rng::<StdRng>(),
            PostcardCodec,
            Handler::new(heard.clone()),
        );
        foca.add_broadcast(&wire::encode(&Broadcast::Meta(meta.clone())))?;
        heard.lock().take_news();
        let mut roster = Roster::new(
            instance,
            meta.clone(),
            outlets.member_events,
            config.gossip_interval,
        );
        roster.set_pull_spread(pull_spread(&config, 1));
        Ok(Self {
            scale: (config.suspicion_timeout(1), config.retransmit_limit(1)),
            next_reconnect: Instant::now() + config.reconnect_interval,
            config,
            foca,
            runtime: AccumulatingRuntime::new(),
            socket,
            shared,
            heard,
            roster,
            meta,
            timers: TimerQueue::default(),
            joins: Vec::new(),
            pings: HashMap::new(),
            user_events: outlets.user_events,
            rtts: outlets.rtts,
            left: false,
        })
    }

    /// Runs until `stop` fires or the handle is dropped; the socket closes on return.
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut tick = tokio::time::interval(self.config.gossip_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.timers.next_deadline();
            let far = Instant::now() + Duration::from_secs(3600);
            let input = tokio::select! {
                _ = &mut stop => Input::Stop,
                command = commands.recv() => command.map_or(Input::Stop, Input::Command),
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => Input::Packet(len, from),
                    Err(e) => Input::RecvFailed(e),
                },
                () = sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => Input::Timers,
                _ = tick.tick() => Input::Tick,
            };
            match input {
                Input::Stop => break,
                Input::Command(command) => self.command(command).await,
                Input::Packet(len, from) => self.packet(&buf[..len], from).await,
                // e.g. an ICMP port unreachable reported on the socket: nothing to do
                Input::RecvFailed(e) => tracing::debug!(error = %e, "gossip receive failed"),
                Input::Timers => self.timers_due().await,
                Input::Tick => self.housekeeping().await,
            }
        }
        tracing::debug!(node = %self.meta.name, "gossip driver stopped");
    }
    async fn packet(&mut self, bytes: &[u8], from: SocketAddr) {
        self.shared.counters.received(bytes.len());
        if self.left {
            return;
        }
        let Some(plaintext) = self.shared.open(bytes) else {
            self.shared.counters.undecryptable();
            tracing::debug!(%from, "dropped a gossip packet no key opens");
            return;
        };
        match wire::open_packet(&plaintext) {
            None => {
                self.shared.counters.malformed();
                tracing::debug!(%from, "dropped an undecodable gossip packet");
            }
            Some(Packet::Swim(data)) => {
                let result = self.foca.handle_data(data, &mut self.runtime);
                if result.is_ok() {
                    for join in &mut self.joins {
                        if join.addrs.contains(&from) {
                            join.answered.insert(from);
                        }
                    }
                    self.settle_joins(Instant::now());
                }
                self.after_swim(result).await;
            }
            Some(Packet::Direct(message)) => self.direct(message, from).await,
        }
    }

    async fn direct(&mut self, message: Direct, from: SocketAddr) {
        let (Direct::MetaRequest(theirs) | Direct::MetaReply(theirs)) = &message;
        self.heard.lock().learn_meta(theirs);
        if matches!(message, Direct::MetaRequest(_)) {
            let reply = wire::direct_packet(&Direct::MetaReply(self.meta.clone()));
            self.send(from, reply).await;
        }
        self.apply_news();
    }

    async fn timers_due(&mut self) {
        for timer in self.timers.take_due(Instant::now()) {
            let result = self.foca.handle_timer(timer, &mut self.runtime);
            self.after_swim(result).await;
        }
    }

    async fn housekeeping(&mut self) {
        let now = Instant::now();
        if self.left {
            return;
        }
        // joins: announce again (UDP may drop), answer the settled
        let resend: Vec<SocketAddr> = self
            .joins
            .iter_mut()
            .filter(|j| j.resend_at <= now)
            .flat_map(|j| {
                j.resend_at = now + self.config.probe_interval;
                j.addrs.difference(&j.answered).copied().collect::<Vec<_>>()
            })
            .collect();
        for addr in resend {
            self.announce(addr).await;
        }
        self.settle_joins(now);

        // foca stops every periodic task once no member is alive (it goes idle), so it would
        // never retry the failed ones; Serf does, every reconnect interval
        if now >= self.next_reconnect {
            self.next_reconnect = now + self.config.reconnect_interval;
            if self.foca.num_members() == 0 {
                for addr in self.roster.failed_addrs(RECONNECT_FANOUT) {
                    self.announce(addr).await;
                }
            }
        }

        // meta requests to members whose meta is missing or stale, spread and capped per tick
        let request = wire::direct_packet(&Direct::MetaRequest(self.meta.clone()));
        for addr in self
            .roster
            .pulls_due(now.into_std(), self.config.probe_interval)
        {
            self.send(addr, request.clone()).await;
        }

        self.roster.reap(
            now.into_std(),
            self.config.reconnect_timeout,
            self.config.tombstone_timeout,
        );
        self.heard
            .lock()
            .expire_events(self.config.event_dedup_window);
        let ping_horizon = self.config.probe_interval * 10;
        self.pings
            .retain(|_, sent| now.duration_since(*sent) < ping_horizon);
    }

    /// Logs a foca error, then carries out what foca asked for.
    async fn after_swim(&mut self, result: Result<(), foca::Error>) {
        if let Err(e) = result {
            match e {
                foca::Error::Decode(_)
                | foca::Error::MalformedPacket
                | foca::Error::DataTooBig
                | foca::Error::CustomBroadcast(_) => {
                    self.shared.counters.malformed();
                    tracing::debug!(error = %e, "dropped a malformed swim packet");
                }
                other => tracing::debug!(error = %other, "swim"),
            }
        }
        while let Some((to, data)) = self.runtime.to_send() {
            self.send(to.addr(), wire::swim_packet(&data)).await;
        }
        let now = Instant::now();
        while let Some((after, timer)) = self.runtime.to_schedule() {
            self.timers.schedule(now, after, timer);
        }
        let mut republish = false;
        while let Some(notification) = self.runtime.to_notify() {
            republish |= self.notification(notification, now);
        }
        self.apply_news();
        if republish {
            // a new life (foca renewed our identity): say so with our meta
            self.meta.generation = self.foca.identity().generation();
            if let Err(e) = Box::pin(self.publish_meta()).await {
                tracing::debug!(error = %e, "could not gossip meta after rejoining");
            }
        }
        self.rescale();
    }

    /// Applies one foca notification; true when the local node rejoined under a new identity.
    fn notification(&mut self, notification: OwnedNotification<Instance>, now: Instant) -> bool {
        match notification {
            OwnedNotification::MemberUp(instance) => self.roster.up(&instance),
            OwnedNotification::MemberDown(instance) => self.roster.down(&instance),
            OwnedNotification::Rename(old, new) => self.roster.rename(&old, &new),
            OwnedNotification::Active => {
                tracing::info!(node = %self.meta.name, "joined the gossip pool");
            }
            OwnedNotification::Idle => {
                tracing::info!(node = %self.meta.name, "no other gossip pool member is alive");
            }
            OwnedNotification::Defunct => {
                tracing::debug!(node = %self.meta.name, "declared down");
            }
            OwnedNotification::Rejoin(instance) => {
                tracing::info!(node = %self.meta.name, ?instance, "rejoined the gossip pool after being declared down");
                return true;
            }
            OwnedNotification::DataSent(header) => {
                if let Message::Ping(probe) = header.message {
                    self.pings.insert((header.dst.addr(), probe), now);
                }
            }
            OwnedNotification::DataReceived(header) => {
                if let Message::Ack(probe) = header.message {
                    if let Some(sent) = self.pings.remove(&(header.src.addr(), probe)) {
                        let rtt = now.duration_since(sent);
                        if self.roster.record_rtt(&header.src, rtt) {
                            let sample = RttSample::new(header.src.name().to_owned(), rtt);
                            let _ = self.rtts.send(sample);
                        }
                    }
                }
            }
            OwnedNotification::ProbeFailed(_, instance) => {
                tracing::debug!(?instance, "probe failed");
            }
        }
        false
    }

    /// Applies what broadcasts and meta answers taught since the last call.
    fn apply_news(&mut self) {
        let news = self.heard.lock().take_news();
        for item in news {
            match item {
                News::Meta(meta) => self.roster.meta(meta),
                News::Leave(intent) => self.roster.leave_intent(&intent),
                News::Event(event) => {
                    let event = UserEvent::new(
                        uuid::Uuid::from_bytes(event.id),
                        event.origin,
                        event.name,
                        event.payload,
                    );
                    let _ = self.user_events.send(event);
                }
            }
        }
    }

    /// Keeps foca's suspicion timeout and retransmit limit in step with the pool's size.
    fn rescale(&mut self) {
        let members = self.foca.num_members() + 1;
        let scale = (
            self.config.suspicion_timeout(members),
            self.config.retransmit_limit(members),
        );
        if scale != self.scale {
            match self.foca.set_config(self.config.swim(members)) {
                Ok(()) => self.scale = scale,
                Err(e) => tracing::debug!(error = %e, "could not rescale swim config"),
            }
            self.roster
                .set_pull_spread(pull_spread(&self.config, members));
        }
    }

    async fn send(&mut self, to: SocketAddr, plaintext: Vec<u8>) {
        let packet = self.shared.seal(plaintext);
        match self.socket.send_to(&packet, to).await {
            Ok(_) => self.shared.counters.sent(packet.len()),
            Err(e) => tracing::debug!(%to, error = %e, "gossip send failed"),
        }
    }

    fn meta_addr(&self) -> SocketAddr {
        self.foca.identity().addr()
    }
}

/// How long a broadcast (a member's meta among them) keeps being retransmitted in a pool of
/// `members`: one gossip round per transmission. First meta requests are spread over it.
fn pull_spread(config: &Config, members: usize) -> Duration {
    config
        .gossip_interval
        .saturating_mul(config.retransmit_limit(members))
}
