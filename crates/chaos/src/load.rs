//! Concurrent writers: unique keys `chaos/w<N>-<i>` and CAS increments of the shared counter,
//! every answer recorded in the [`History`].

use crate::history::{History, COUNTER};
use crate::kv::{self, Write};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

pub struct Load {
    pub history: Arc<Mutex<History>>,
    /// Next key number, shared by all writers and kept across restarts.
    next: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
}

impl Load {
    pub fn new() -> Self {
        Load {
            history: Arc::default(),
            next: Arc::default(),
            stop: Arc::default(),
        }
    }

    /// Starts `n` writers against `base`; a `cas_share` of their operations are CAS increments,
    /// the others PUTs of `value_size`-byte values. They run until [`Load::stop`] is set.
    pub fn start(
        &self,
        http: &reqwest::Client,
        base: &str,
        n: usize,
        cas_share: f64,
        value_size: usize,
        seed: u64,
    ) -> Vec<JoinHandle<()>> {
        self.stop.store(false, Ordering::SeqCst);
        (0..n)
            .map(|w| {
                let (http, base) = (http.clone(), base.to_string());
                let (history, next, stop) =
                    (self.history.clone(), self.next.clone(), self.stop.clone());
                tokio::spawn(async move {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (w as u64) << 32);
                    // Bounded: a writer never issues more than this many requests per start.
                    for _ in 0..1_000_000 {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        if rng.gen_bool(cas_share) {
                            if !cas_increment(&http, &base, &history).await {
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            }
                        } else {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            let key = format!("chaos/w{w}-{i}");
                            let value = value_for(&key, rng.gen(), value_size);
                            match kv::put(&http, &base, &key, "", value.clone()).await {
                                Write::Acked => history
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .ack(&key, value),
                                Write::Refused(..) => {}
                                Write::Unknown(_) => {
                                    history
                                        .lock()
                                        .unwrap_or_else(|p| p.into_inner())
                                        .unknown(&key, value);
                                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                                }
                            }
                        }
                    }
                })
            })
            .collect()
    }

    /// A copy of the history so far.
    pub fn snapshot(&self) -> History {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops the writers and waits for them (each request is bounded by the client timeout).
    pub async fn stop(&self, writers: Vec<JoinHandle<()>>) {
        self.stop.store(true, Ordering::SeqCst);
        for w in writers {
            let _ = w.await;
        }
    }
}

/// A value naming its key, `size` bytes at least.
pub fn value_for(key: &str, nonce: u64, size: usize) -> Vec<u8> {
    let mut v = format!("{key}={nonce:016x};").into_bytes();
    let mut x = nonce | 1;
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(b'a' + (x % 26) as u8);
    }
    v
}

/// One CAS increment of the counter; false when it could not be tried or was refused.
async fn cas_increment(http: &reqwest::Client, base: &str, history: &Mutex<History>) -> bool {
    let (cur, index) = match kv::get(http, base, COUNTER).await {
        Ok(Some((v, i))) => (String::from_utf8_lossy(&v).parse::<u64>().unwrap_or(0), i),
        Ok(None) => (0, 0),
        Err(_) => return false,
    };
    let next = (cur + 1).to_string().into_bytes();
    let r = kv::put(http, base, COUNTER, &format!("?cas={index}"), next).await;
    let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
    match r {
        Write::Acked => h.cas_acked += 1,
        Write::Refused(..) => h.cas_lost_race += 1,
        Write::Unknown(_) => h.cas_unknown += 1,
    }
    matches!(r, Write::Acked)
}
