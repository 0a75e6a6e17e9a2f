//! [`Pool`]: the handle the agent holds on its LAN gossip pool. It starts the driver task on a
//! bound UDP socket and talks to it over a channel; subscriptions are broadcast channels the
//! driver publishes on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::driver::{Command, Driver, Outlets, Shared};
use crate::error::{Error, KeyError};
use crate::events::{MemberEvent, RttSample, Subscription, UserEvent};
use crate::keyring::SecretKey;
use crate::member::{Member, MemberState};
use crate::stats::Stats;

/// How many items a subscriber may fall behind before it is told it lagged.
const SUBSCRIPTION_CAPACITY: usize = 1024;
/// Commands queued to the driver before callers wait.
const COMMAND_QUEUE: usize = 64;

/// A running member of a LAN gossip pool.
///
/// Dropping the pool (or [`Pool::shutdown`]) stops gossiping without leaving: the others see
/// the member fail. Call [`Pool::leave`] first for a graceful exit.
pub struct Pool {
    local: Mutex<Member>,
    local_addr: SocketAddr,
    leave_propagate_delay: Duration,
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    // Weak, so subscriptions see the end once the driver (which holds the senders) stops.
    member_events: broadcast::WeakSender<MemberEvent>,
    user_events: broadcast::WeakSender<UserEvent>,
    rtts: broadcast::WeakSender<RttSample>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Pool {
    /// Binds the gossip socket at `bind` and starts gossiping as `me` (alone until
    /// [`Pool::join`]). A port of 0 in `me`'s address is replaced by the bound port, an
    /// unspecified IP by the bound IP.
    pub async fn start(config: Config, bind: SocketAddr, me: Member) -> Result<Self, Error> {
        config.validate()?;
        me.validate()?;
        let socket = UdpSocket::bind(bind)
            .await
            .map_err(|source| Error::Bind { addr: bind, source })?;
        Self::run(config, socket, bind, me)
    }

    /// [`Pool::start`] on a socket the caller bound (handed over by a supervisor, systemd's
    /// socket activation, or a test holding the port).
    pub fn start_on(
        config: Config,
        socket: std::net::UdpSocket,
        me: Member,
    ) -> Result<Self, Error> {
        config.validate()?;
        me.validate()?;
        let bind = socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let socket = socket
            .set_nonblocking(true)
            .and_then(|()| UdpSocket::from_std(socket))
            .map_err(|source| Error::Bind { addr: bind, source })?;
        Self::run(config, socket, bind, me)
    }

    fn run(config: Config, socket: UdpSocket, bind: SocketAddr, me: Member) -> Result<Self, Error> {
        let local_addr = socket
            .local_addr()
            .map_err(|source| Error::Bind { addr: bind, source })?;
        let mut me = me;
        let mut advertise = me.addr();
        if advertise.port() == 0 {
            advertise.set_port(local_addr.port());
        }
        if advertise.ip().is_unspecified() {
            advertise.set_ip(local_addr.ip());
        }
        if advertise.ip().is_unspecified() {
            return Err(Error::AdvertiseAddr(advertise));
        }
        me.set_addr(advertise);

        let shared = Arc::new(Shared {
            keyring: Mutex::new(config.keyring.clone()),
            ..Shared::default()
        });
        let (member_events, _) = broadcast::channel(SUBSCRIPTION_CAPACITY);
        let (user_events, _) = broadcast::channel(SUBSCRIPTION_CAPACITY);
        let (rtts, _) = broadcast::channel(SUBSCRIPTION_CAPACITY);
        let weak = (
            member_events.downgrade(),
            user_events.downgrade(),
            rtts.downgrade(),
        );
        let outlets = Outlets {
            member_events,
            user_events,
            rtts,
        };
        let leave_propagate_delay = config.leave_propagate_delay;
        let driver = Driver::new(config, socket, &me, shared.clone(), outlets)?;
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(driver.run(command_rx, stop_rx));
        tracing::info!(node = me.name(), addr = %advertise, "gossip pool started");
        Ok(Self {
            local: Mutex::new(me),
            local_addr,
            leave_propagate_delay,
            commands,
            shared,
            member_events: weak.0,
            user_events: weak.1,
            rtts: weak.2,
            stop: Mutex::new(Some(stop)),
            task: Mutex::new(Some(task)),
        })
    }

    /// The local member as the pool knows it (its advertised address, its current tags).
    pub fn local_member(&self) -> Member {
        self.local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The address the gossip socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Announces the local member to the members at `addrs` (any member of a pool will do)
    /// and waits until they answer; returns how many did. Fails when none did within
    /// `join_timeout` (an unreachable address, or one using another encryption key).
    pub async fn join(&self, addrs: &[SocketAddr]) -> Result<usize, Error> {
        let addrs = addrs.to_vec();
        self.ask(|reply| Command::Join { addrs, reply }).await?
    }

    /// Leaves gracefully: gossips the intent, lets it spread for `leave_propagate_delay`, then
    /// declares the local member down. The others list it as `left`. The pool stays up, inert,
    /// until shut down; joining again needs a new pool.
    pub async fn leave(&self) -> Result<(), Error> {
        self.ask(|reply| Command::AnnounceLeave { reply }).await??;
        tokio::time::sleep(self.leave_propagate_delay).await;
        self.ask(|reply| Command::LeaveNow { reply }).await?
    }

    /// Every known member, the local one included, by name. A member is listed once its node
    /// ID and tags are known; failed and left members stay listed until reaped.
    pub async fn members(&self) -> Result<Vec<MemberState>, Error> {
        self.ask(|reply| Command::Members { reply }).await
    }

    /// Membership changes from now on.
    pub fn member_events(&self) -> Subscription<MemberEvent> {
        subscribe(&self.member_events)
    }

    /// Fires a user event to every member (this one included), once each. Name plus payload
    /// may not exceed 512 bytes (Consul's limit). Returns the event's ID.
    pub async fn fire_event(
        &self,
        name: impl Into<String>,
        payload: impl Into<Vec<u8>>,
    ) -> Result<uuid::Uuid, Error> {
        let (name, payload) = (name.into(), payload.into());
        self.ask(|reply| Command::FireEvent {
            name,
            payload,
            reply,
        })
        .await?
    }

    /// User events from now on.
    pub fn user_events(&self) -> Subscription<UserEvent> {
        subscribe(&self.user_events)
    }

    /// Direct probe round trips from now on (one sample per acked ping).
    pub fn rtt_samples(&self) -> Subscription<RttSample> {
        subscribe(&self.rtts)
    }

    /// Replaces the local member's tags and gossips them.
    pub async fn set_tags(&self, tags: BTreeMap<String, String>) -> Result<(), Error> {
        let for_driver = tags.clone();
        self.ask(|reply| Command::SetTags {
            tags: for_driver,
            reply,
        })
        .await??;
        self.local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_tags(tags);
        Ok(())
    }

    /// Consul's `force-leave`: gossips a leave intent for a member's current life, so a failed
    /// member turns `left` everywhere (and is reaped after `tombstone_timeout`).
    pub async fn force_leave(&self, name: &str) -> Result<(), Error> {
        let name = name.to_owned();
        self.ask(|reply| Command::ForceLeave { name, reply })
            .await?
    }

    /// Packet counters since start.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Adds a key that opens packets (`consul keyring -install`).
    pub fn install_key(&self, key: SecretKey) -> Result<(), Error> {
        self.with_keyring(|ring| {
            ring.install(key);
            Ok(())
        })
    }

    /// Makes an installed key the one that seals (`consul keyring -use`).
    pub fn use_key(&self, key: &SecretKey) -> Result<(), Error> {
        self.with_keyring(|ring| ring.use_key(key))
    }

    /// Removes a key that is not the primary (`consul keyring -remove`).
    pub fn remove_key(&self, key: &SecretKey) -> Result<(), Error> {
        self.with_keyring(|ring| ring.remove(key))
    }

    /// The installed keys, the primary first (`consul keyring -list`).
    pub fn keys(&self) -> Result<Vec<SecretKey>, Error> {
        self.with_keyring(|ring| Ok(ring.keys().to_vec()))
    }

    /// Stops gossiping at once, without leaving (as a killed agent would); waits for the task
    /// to end and the socket to close.
    pub async fn shutdown(&self) {
        let stop = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn with_keyring<T>(
        &self,
        f: impl FnOnce(&mut crate::keyring::Keyring) -> Result<T, KeyError>,
    ) -> Result<T, Error> {
        let mut guard = self
            .shared
            .keyring
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let ring = guard.as_mut().ok_or(Error::EncryptionDisabled)?;
        Ok(f(ring)?)
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::Shutdown)?;
        answer.await.map_err(|_| Error::Shutdown)
    }
}

/// A subscription to the driver's channel; an ended one when the driver has stopped.
fn subscribe<T: Clone>(sender: &broadcast::WeakSender<T>) -> Subscription<T> {
    let receiver = match sender.upgrade() {
        Some(sender) => sender.subscribe(),
        None => broadcast::channel(1).1,
    };
    Subscription::new(receiver)
}
