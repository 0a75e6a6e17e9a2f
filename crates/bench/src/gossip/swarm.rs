//! The in-process members: `gossip::Pool`s on loopback with Serf's LAN defaults and a client
//! agent's tags (`role=node`, `dc=dc1`, `id=<node ID>`), so the servers' leader takes each for
//! a client node. Each pool is followed by a watcher task that keeps what its pool sees: which
//! other members it lists alive, and when it declared which member failed.
//!
//! The members are spread over one single-threaded runtime per core ("shards"), each pool and
//! its watcher on the same shard: a thousand sockets and their timers on one multi-threaded
//! runtime pay for cross-thread wake-ups and one I/O driver, and the shards do not.

use gossip::{Config, Member, MemberEventKind, Pool, RecvError, Stats};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const DC: &str = "dc1";

/// "Member `observer` declared member `member` failed at `at`."
#[derive(Clone, Copy, Debug)]
pub struct Failure {
    pub observer: usize,
    pub member: usize,
    pub at: Instant,
}

/// What the watchers share with the benchmark.
struct Seen {
    /// Name → index: the members first, then the servers.
    index: HashMap<String, usize>,
    /// Per member: how many others its pool lists alive.
    alive: Vec<AtomicUsize>,
    /// Per member: which others its pool lists alive (by index).
    views: Vec<Mutex<Vec<bool>>>,
    failures: Mutex<Vec<Failure>>,
    /// Times a watcher fell behind its pool's events and re-read the member list.
    lagged: AtomicU64,
}

/// One single-threaded runtime on a thread of its own.
struct Shard {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Shard {
    fn start(k: usize) -> anyhow::Result<Shard> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("gossip-shard-{k}"))
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Shard {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The members and their watchers.
pub struct Swarm {
    /// Every name: members `node-0000`.., then the servers'.
    pub names: Vec<String>,
    /// How many of `names` are in-process members.
    pub members: usize,
    pools: Vec<Option<Arc<Pool>>>,
    /// When each member was killed, if it was.
    pub killed: Vec<Option<Instant>>,
    /// For each killed member, the running members that listed it alive when it was killed.
    pub knew: HashMap<usize, Vec<usize>>,
    seen: Arc<Seen>,
    joins_failed: Arc<AtomicU64>,
    shards: Vec<Shard>,
}

/// A UUID per member index (unique within a run, valid for the servers' parser).
fn node_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

impl Swarm {
    /// `members` members (none started yet) on `shards` runtimes, followed by the servers
    /// named `servers`.
    pub fn new(members: usize, servers: &[String], shards: usize) -> anyhow::Result<Swarm> {
        let names: Vec<String> = (0..members)
            .map(|i| format!("node-{i:04}"))
            .chain(servers.iter().cloned())
            .collect();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Ok(Swarm {
            shards: (0..shards.max(1))
                .map(Shard::start)
                .collect::<anyhow::Result<_>>()?,
            seen: Arc::new(Seen {
                index,
                alive: (0..members).map(|_| AtomicUsize::new(0)).collect(),
                views: (0..members)
                    .map(|_| Mutex::new(vec![false; names.len()]))
                    .collect(),
                failures: Mutex::new(Vec::new()),
                lagged: AtomicU64::new(0),
            }),
            names,
            members,
            pools: (0..members).map(|_| None).collect(),
            killed: vec![None; members],
            knew: HashMap::new(),
            joins_failed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Starts member `i` on 127.0.0.1 (a port of the kernel's choosing) and its watcher, and
    /// has it join through `seeds` in the background (as `-retry-join` does: up to 5 tries).
    /// With `recv_buffer`, the socket asks for that receive buffer first, as memberlist does
    /// for its own (2 MiB); the kernel's default otherwise. Returns the buffer the kernel gave.
    pub fn start(
        &mut self,
        i: usize,
        seeds: &[SocketAddr],
        recv_buffer: Option<usize>,
    ) -> anyhow::Result<usize> {
        let shard = self.shards[i % self.shards.len()].handle.clone();
        let id = node_id(i);
        let socket = std::net::UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        if let Some(bytes) = recv_buffer {
            rustix::net::sockopt::set_socket_recv_buffer_size(&socket, bytes)?;
        }
        let granted = rustix::net::sockopt::socket_recv_buffer_size(&socket)?;
        let me = Member::new(self.names[i].clone(), id.clone(), socket.local_addr()?)
            .with_tag("role", "node")
            .with_tag("dc", DC)
            .with_tag("id", id);
        // The socket registers with, and the driver task runs on, the shard's runtime.
        let pool = {
            let _shard = shard.enter();
            Arc::new(Pool::start_on(Config::lan(), socket, me)?)
        };
        let events = pool.member_events();
        shard.spawn(watch(i, pool.clone(), events, self.seen.clone()));
        let (joiner, seeds, failed) = (pool.clone(), seeds.to_vec(), self.joins_failed.clone());
        shard.spawn(async move {
            for _ in 0..5 {
                match joiner.join(&seeds).await {
                    Ok(_) => return,
                    Err(gossip::Error::Shutdown) => return,
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
            failed.fetch_add(1, Ordering::Relaxed);
        });
        self.pools[i] = Some(pool);
        Ok(granted)
    }

    /// Stops member `i` as a killed agent would (no leave); returns when it is silent.
    pub async fn kill(&mut self, i: usize) {
        if let Some(pool) = self.pools[i].take() {
            let knew = self
                .running()
                .filter(|o| {
                    self.seen.views[*o]
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(i)
                        .copied()
                        .unwrap_or(false)
                })
                .collect();
            self.knew.insert(i, knew);
            self.killed[i] = Some(Instant::now());
            pool.shutdown().await;
        }
    }

    /// The members running now.
    pub fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.members).filter(|i| self.pools[*i].is_some())
    }

    /// How many running members list every other running member and server alive.
    pub fn converged(&self) -> usize {
        let dead = self.killed.iter().filter(|k| k.is_some()).count();
        let want = self.names.len() - 1 - dead;
        self.running()
            .filter(|i| self.seen.alive[*i].load(Ordering::Relaxed) >= want)
            .count()
    }

    /// Up to `limit` running members that do not list every other running member and server
    /// alive, each with (up to 5 of) the names it lacks.
    pub async fn not_listing(&self, limit: usize) -> Vec<(String, Vec<String>)> {
        let dead = self.killed.iter().filter(|k| k.is_some()).count();
        let want = self.names.len() - 1 - dead;
        let mut out = Vec::new();
        for i in self.running() {
            if out.len() >= limit {
                break;
            }
            if self.seen.alive[i].load(Ordering::Relaxed) >= want {
                continue;
            }
            let Some(pool) = &self.pools[i] else { continue };
            let Ok(members) = pool.members().await else {
                continue;
            };
            let listed: std::collections::HashSet<&str> = members
                .iter()
                .filter(|m| m.status().is_alive())
                .map(|m| m.name())
                .collect();
            let lacks: Vec<String> = self
                .names
                .iter()
                .enumerate()
                .filter(|(j, n)| {
                    *j != i
                        && self.killed.get(*j).copied().flatten().is_none()
                        && !listed.contains(n.as_str())
                })
                .map(|(_, n)| n.clone())
                .take(5)
                .collect();
            out.push((self.names[i].clone(), lacks));
        }
        out
    }

    /// The share of (running member, other running member or server) pairs where the first
    /// lists the second alive.
    pub fn listed_fraction(&self) -> f64 {
        let dead = self.killed.iter().filter(|k| k.is_some()).count();
        let want = (self.names.len() - 1 - dead) as f64;
        let (mut have, mut n) = (0.0, 0.0);
        for i in self.running() {
            have += (self.seen.alive[i].load(Ordering::Relaxed) as f64).min(want);
            n += want;
        }
        if n > 0.0 {
            have / n
        } else {
            0.0
        }
    }

    /// Packet counters of every running member.
    pub fn stats(&self) -> HashMap<usize, Stats> {
        self.running()
            .filter_map(|i| self.pools[i].as_ref().map(|p| (i, p.stats())))
            .collect()
    }

    /// Every failure declared so far.
    pub fn failures(&self) -> Vec<Failure> {
        self.seen
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The failures declared of the members in `of`.
    pub fn failures_of(&self, of: &std::collections::HashSet<usize>) -> Vec<Failure> {
        self.seen
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|f| of.contains(&f.member))
            .copied()
            .collect()
    }

    /// How many failures were declared so far.
    pub fn failure_count(&self) -> usize {
        self.seen
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn lagged(&self) -> u64 {
        self.seen.lagged.load(Ordering::Relaxed)
    }

    pub fn joins_failed(&self) -> u64 {
        self.joins_failed.load(Ordering::Relaxed)
    }

    /// The index of a name (member or server).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.seen.index.get(name).copied()
    }

    /// Stops every member.
    pub async fn shutdown(&mut self) {
        for i in 0..self.members {
            if let Some(pool) = self.pools[i].take() {
                pool.shutdown().await;
            }
        }
    }
}

/// Follows member `me`'s pool until it stops: keeps its count of alive members and records
/// the failures it declares. When it falls behind, it re-reads the pool's member list (a
/// failure missed then is not timed).
async fn watch(
    me: usize,
    pool: Arc<Pool>,
    mut events: gossip::Subscription<gossip::MemberEvent>,
    seen: Arc<Seen>,
) {
    fn view(seen: &Seen, me: usize) -> std::sync::MutexGuard<'_, Vec<bool>> {
        seen.views[me]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
    loop {
        match events.recv().await {
            Ok(event) => {
                let Some(&m) = seen.index.get(event.member().name()) else {
                    continue;
                };
                if m == me {
                    continue;
                }
                let now_alive = matches!(
                    event.kind(),
                    MemberEventKind::Joined | MemberEventKind::Updated
                );
                let mut alive = view(&seen, me);
                if now_alive != alive[m] {
                    alive[m] = now_alive;
                    let count = &seen.alive[me];
                    if now_alive {
                        count.fetch_add(1, Ordering::Relaxed);
                    } else {
                        count.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                drop(alive);
                if event.kind() == MemberEventKind::Failed {
                    seen.failures
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Failure {
                            observer: me,
                            member: m,
                            at: Instant::now(),
                        });
                }
            }
            Err(RecvError::Lagged(_)) => {
                seen.lagged.fetch_add(1, Ordering::Relaxed);
                let Ok(members) = pool.members().await else {
                    break;
                };
                let mut alive = view(&seen, me);
                alive.iter_mut().for_each(|a| *a = false);
                for m in &members {
                    if let Some(&j) = seen.index.get(m.name()) {
                        alive[j] = j != me && m.status().is_alive();
                    }
                }
                let count = alive.iter().filter(|a| **a).count();
                seen.alive[me].store(count, Ordering::Relaxed);
            }
            Err(_) => break,
        }
    }
}
