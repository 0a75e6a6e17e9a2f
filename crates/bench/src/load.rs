//! The load generator: closed-loop clients on keep-alive connections, each sending its next
//! request as soon as the previous answer arrived, for a warm-up and then a measured window.

use crate::http::{Conn, Response};
use crate::server::Req;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latency percentiles over a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lat {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Lat {
    /// From samples in microseconds.
    pub fn of(mut us: Vec<u64>) -> Lat {
        if us.is_empty() {
            return Lat::default();
        }
        us.sort_unstable();
        let at = |q: f64| {
            let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
            us[i] as f64 / 1000.0
        };
        Lat {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// What one measured window produced.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub ops: u64,
    pub errors: u64,
    /// Successes including the warm-up (for per-operation CPU and writes per fsync).
    pub all_ok: u64,
    pub secs: f64,
    pub lat: Lat,
}

impl Run {
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Builds request `n` of client `c`.
pub type MakeReq = Arc<dyn Fn(usize, u64) -> Req + Send + Sync>;
/// Whether a response counts as a success.
pub type Check = Arc<dyn Fn(&Response) -> bool + Send + Sync>;

/// One load-generating client on its own connection.
pub trait Client: Send + 'static {
    /// Sends request `n`; `true` when it succeeded.
    fn call(&mut self, n: u64) -> impl std::future::Future<Output = bool> + Send;
}

/// An HTTP/1.1 keep-alive client (ours, and etcd through its gateway).
pub struct HttpClient {
    addr: SocketAddr,
    conn: Conn,
    id: usize,
    make: MakeReq,
    check: Check,
}

impl Client for HttpClient {
    async fn call(&mut self, n: u64) -> bool {
        let (m, p, b) = (self.make)(self.id, n);
        match self.conn.request(m, &p, &b).await {
            Ok(r) => (self.check)(&r),
            Err(_) => {
                // A broken connection is an error, not the end of the client.
                if let Ok(c) = Conn::connect(self.addr, None).await {
                    self.conn = c;
                }
                false
            }
        }
    }
}

/// `clients` HTTP clients, connected.
pub async fn http_clients(
    addr: SocketAddr,
    clients: usize,
    make: MakeReq,
    check: Check,
) -> anyhow::Result<Vec<HttpClient>> {
    let mut v = Vec::with_capacity(clients);
    for id in 0..clients {
        v.push(HttpClient {
            addr,
            conn: Conn::connect(addr, None).await?,
            id,
            make: make.clone(),
            check: check.clone(),
        });
    }
    Ok(v)
}

/// Runs connected `clients` closed-loop: `warmup`, then `window` measured.
pub async fn closed_loop<C: Client>(
    clients: Vec<C>,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Run> {
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + warmup;
    let end = measure_from + window;
    let mut tasks = tokio::task::JoinSet::new();
    for mut client in clients {
        tasks.spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut lat = Vec::with_capacity(4096);
            let (mut ops, mut errors, mut all_ok) = (0u64, 0u64, 0u64);
            let mut n = 0u64;
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let ok = client.call(n).await;
                n += 1;
                let done = Instant::now();
                all_ok += u64::from(ok);
                if t >= measure_from && done <= end {
                    if ok {
                        ops += 1;
                        lat.push(done.duration_since(t).as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
            (ops, errors, all_ok, lat)
        });
    }
    let mut run = Run {
        secs: window.as_secs_f64(),
        ..Run::default()
    };
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (ops, errors, all_ok, lat) = r?;
        run.ops += ops;
        run.all_ok += all_ok;
        run.errors += errors;
        all.extend(lat);
    }
    run.lat = Lat::of(all);
    Ok(run)
}
