//! The accept loop behind both listeners (client API and server port), in place of
//! `axum::serve`: HTTP/1.1 on hyper — and on the client API's HTTP port also HTTP/2 with prior
//! knowledge (h2c), told apart by the connection preface (hyper-util's `auto` builder), so one
//! consul-template connection carries all its parked blocking queries as streams — with
//! - a per-source-IP connection cap (`limits.http_max_conns_per_client`): like Consul's
//!   connlimit, the connection over the cap is answered `429 Too Many Requests` at once and
//!   closed, before anything is read from it;
//! - a handshake timeout: a connection must deliver a complete request line and headers within
//!   it, counted from the accept or from the first byte of a later request;
//! - an idle timeout between keep-alive requests, longer than the usual clients' own (90s), so
//!   they close first and never race a reused connection against our close.
//!
//! No timeout runs while a request is being handled or its response written: a blocking query
//! is legitimately silent for up to `max_query_time` plus jitter. On an h2 connection every
//! open stream is such a request: the connection is busy while any stream is, idle when none
//! is (frames without a request — pings, window updates, settings — do not start the handshake
//! clock as request bytes on HTTP/1.1 do), and an idle one is closed with a GOAWAY.
//!
//! Accept errors (EMFILE, ENFILE, ...) pause the loop briefly instead of spinning, logged once
//! per burst. [`raise_nofile_limit`] lifts the soft open-files limit to the hard one at
//! startup, as Go programs do since Go 1.19.

use axum::body::Body;
use axum::response::Response;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::ServiceExt;

/// Between keep-alive requests: longer than Go's and reqwest's client pools keep an idle
/// connection (90s), so the client is the one that closes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How one listener treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Open connections per source IP; 0 for no cap.
    pub max_per_client: u32,
    /// Time to deliver a request's line and headers.
    pub handshake_timeout: Duration,
    /// Time allowed between keep-alive requests.
    pub idle_timeout: Duration,
}

/// Raises `RLIMIT_NOFILE`'s soft limit to its hard limit (systemd's default soft limit is
/// 1024, its hard limit 512K); a failure is logged and otherwise ignored.
pub fn raise_nofile_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let raise = match (lim.current, lim.maximum) {
        (Some(cur), Some(max)) => cur < max,
        (Some(_), None) => true,
        _ => false,
    };
    if !raise {
        return;
    }
    let new = Rlimit {
        current: lim.maximum,
        maximum: lim.maximum,
    };
    match setrlimit(Resource::Nofile, new) {
        Ok(()) => tracing::debug!(target: "agent",
            "raised open files limit: from={:?} to={:?}", lim.current, lim.maximum),
        Err(e) => tracing::warn!(target: "agent", "could not raise open files limit: {e}"),
    }
}

/// Open connections per source IP.
#[derive(Clone, Default)]
struct PerClient {
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One counted connection; dropping it frees the slot.
struct Slot {
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
    ip: IpAddr,
}

impl PerClient {
    fn take(&self, ip: IpAddr, max: u32) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: self.open.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// `::ffff:a.b.c.d` counts as `a.b.c.d`.
fn client_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

const TOO_MANY_BODY: &str =
    "Your IP is issuing too many concurrent connections, please rate limit your calls\n";

/// Rejected connections still being drained; above this many, a rejection closes at once.
static DRAINING: AtomicUsize = AtomicUsize::new(0);

/// Answers 429 without reading the request (as Consul's connlimit does), then half-closes and
/// reads what the client already sent for a moment, so the close does not reset the
/// connection before the client has read the answer.
async fn refuse(mut s: TcpStream) {
    let reply = format!(
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{TOO_MANY_BODY}",
        TOO_MANY_BODY.len()
    );
    let wrote = tokio::time::timeout(Duration::from_millis(100), s.write_all(reply.as_bytes()))
        .await
        .is_ok_and(|r| r.is_ok());
    if !wrote || DRAINING.fetch_add(1, Ordering::Relaxed) >= 64 {
        DRAINING.fetch_sub(usize::from(wrote), Ordering::Relaxed);
        return;
    }
    let _ = s.shutdown().await;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    DRAINING.fetch_sub(1, Ordering::Relaxed);
}

/// Looks at a request before routing; `Some` is the answer to send instead.
pub type Gate = Arc<dyn Fn(&mut hyper::Request<Incoming>) -> Option<Response> + Send + Sync>;

/// Whether the server is closing: set once, at shutdown.
pub type Closing = tokio::sync::watch::Receiver<bool>;

/// Resolves once `closing` is set (or its sender is gone).
async fn closed(closing: &mut Closing) {
    let _ = closing.wait_for(|c| *c).await;
}

/// Streams one h2 connection may have open at once. hyper's default (200) is below what one
/// consul-template holds: a parked blocking query per distinct dependency, 1,000 and more, all
/// on its one connection; the streams over the limit would wait for a parked one to answer (up
/// to `wait`, minutes) before being sent. A parked stream costs the server what a parked
/// HTTP/1.1 request costs, less the socket.
const H2_MAX_STREAMS: u32 = 10_000;

/// The largest header block an h2 request may carry: Go's `http.DefaultMaxHeaderBytes` (1 MiB),
/// as Consul allows over HTTP/1.1; hyper's h2 default (16 KiB) would refuse long `?filter=`s.
const H2_MAX_HEADER_LIST: u32 = 1 << 20;

/// What a listener speaks.
#[derive(Clone)]
pub enum Transport {
    /// HTTP/1.1.
    Plain,
    /// HTTP/1.1, or HTTP/2 with prior knowledge (h2c) when the client opens with the h2
    /// preface: the client API's HTTP port.
    PlainOrH2c,
    /// TLS only (HTTPS; the server port with `verify_incoming`).
    Tls(tokio_rustls::TlsAcceptor),
    /// TLS when the client opens with a TLS handshake, plain HTTP otherwise: the server port
    /// with a certificate but without `verify_incoming`, as Consul's RPC port.
    TlsOrPlain(tokio_rustls::TlsAcceptor),
}

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Serves `app` on `listener` until `closing` is set; then stops accepting, lets each
/// connection finish the exchange it is in (idle ones close at once) and returns when all
/// have ended.
pub async fn run(
    listener: TcpListener,
    app: Router,
    gate: Gate,
    limits: ConnLimits,
    what: &'static str,
    transport: Transport,
    mut closing: Closing,
) {
    let clients = PerClient::default();
    let mut conns = tokio::task::JoinSet::new();
    let mut failures = 0u64;
    let mut delay = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = closed(&mut closing) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(c) => c,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                if failures == 0 {
                    tracing::error!(target: "agent",
                        "{what} server: accept error: {e}; retrying");
                }
                failures += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(100));
                continue;
            }
        };
        if failures > 0 {
            tracing::warn!(target: "agent",
                "{what} server: accepting again after {failures} failed accepts");
            failures = 0;
            delay = Duration::from_millis(10);
        }
        let _ = stream.set_nodelay(true);
        let ip = client_ip(peer.ip());
        match clients.take(ip, limits.max_per_client) {
            None => {
                tracing::debug!(target: "agent",
                    "{what} server: too many connections from {ip}, answered 429");
                conns.spawn(refuse(stream));
            }
            Some(slot) => {
                let (app, gate, closing) = (app.clone(), gate.clone(), closing.clone());
                let (acceptor, plain_too) = match &transport {
                    Transport::Plain => {
                        conns.spawn(serve_conn(stream, app, gate, limits, slot, closing, false));
                        continue;
                    }
                    Transport::PlainOrH2c => {
                        conns.spawn(serve_conn(stream, app, gate, limits, slot, closing, true));
                        continue;
                    }
                    Transport::Tls(a) => (a.clone(), false),
                    Transport::TlsOrPlain(a) => (a.clone(), true),
                };
                match plain_too {
                    true => conns.spawn(async move {
                        let mut first = [0u8; 1];
                        let peeked =
                            tokio::time::timeout(limits.handshake_timeout, stream.peek(&mut first));
                        if !matches!(peeked.await, Ok(Ok(1))) {
                            return;
                        }
                        if first[0] != TLS_HANDSHAKE {
                            return serve_conn(stream, app, gate, limits, slot, closing, false)
                                .await;
                        }
                        let handshake =
                            tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream));
                        match handshake.await {
                            Ok(Ok(tls)) => {
                                serve_conn(tls, app, gate, limits, slot, closing, false).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(target: "agent", "{what} server: TLS handshake failed: {e}")
                            }
                            Err(_) => {
                                tracing::debug!(target: "agent", "{what} server: TLS handshake timed out")
                            }
                        }
                    }),
                    false => conns.spawn(async move {
                        // The handshake counts against the handshake timeout, as in Go.
                        let handshake =
                            tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream));
                        match handshake.await {
                            Ok(Ok(tls)) => {
                                serve_conn(tls, app, gate, limits, slot, closing, false).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(target: "agent", "{what} server: TLS handshake failed: {e}")
                            }
                            Err(_) => {
                                tracing::debug!(target: "agent", "{what} server: TLS handshake timed out")
                            }
                        }
                    }),
                };
            }
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Errors about one connection that died in the backlog; the listener itself is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Where a connection is in its exchange; the watchdog's deadline follows from it.
const FRESH: u8 = 0; // accepted, nothing heard yet
const HEAD: u8 = 1; // bytes of a request arriving
const BUSY: u8 = 2; // a request is being handled or answered
const IDLE: u8 = 3; // between keep-alive requests
const DRAIN: u8 = 4; // h2: GOAWAY sent to an idle connection, waiting for it to close

struct Activity {
    phase: AtomicU8,
    /// The connection speaks HTTP/2 (known from its first request).
    h2: AtomicBool,
    /// When the current phase started (for FRESH, HEAD and IDLE).
    since: Mutex<Instant>,
    /// Requests handled and not yet fully answered (pipelining can make it exceed 1).
    busy: Mutex<u32>,
    wake: Notify,
}

impl Activity {
    fn set(&self, phase: u8) {
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.phase.store(phase, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Bytes arrived from the client. On h2 they mean a request only once hyper has its
    /// headers ([`Activity::begin`]): the frames between requests are not a request's head.
    fn heard(&self) {
        let p = self.phase.load(Ordering::SeqCst);
        if p == FRESH || (p == IDLE && !self.h2.load(Ordering::SeqCst)) {
            self.set(HEAD);
        }
    }

    fn begin(self: &Arc<Self>, version: hyper::Version) -> Busy {
        if version == hyper::Version::HTTP_2 {
            self.h2.store(true, Ordering::SeqCst);
        }
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        *self.busy.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.phase.store(BUSY, Ordering::SeqCst);
        self.wake.notify_one();
        Busy(self.clone())
    }

    /// The instant the connection should be closed at, if any.
    fn deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        let since = *self.since.lock().unwrap_or_else(|p| p.into_inner());
        match self.phase.load(Ordering::SeqCst) {
            FRESH | HEAD | DRAIN => Some(since + limits.handshake_timeout),
            IDLE => Some(since + limits.idle_timeout),
            _ => None,
        }
    }

    /// Resolves when the connection has overstayed its current phase.
    async fn expired(&self, limits: ConnLimits) {
        loop {
            let woken = self.wake.notified();
            match self.deadline(&limits) {
                None => woken.await,
                Some(at) => {
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep_until(at) => {
                            if self.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A request in progress (on h2: an open stream): from its headers being parsed to its
/// response body being done.
struct Busy(Arc<Activity>);

/// Requests being handled or answered, on every listener.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How many requests are being handled or answered now (shutdown waits for them).
pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

impl Drop for Busy {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        let mut busy = self.0.busy.lock().unwrap_or_else(|p| p.into_inner());
        *busy = busy.saturating_sub(1);
        if *busy == 0 {
            drop(busy);
            self.0.set(IDLE);
        }
    }
}

/// The response body, holding the request's [`Busy`] until hyper is done with it.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, telling [`Activity`] when bytes arrive.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.heard();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves one connection: HTTP/1.1, or with `h2c` also HTTP/2 with prior knowledge.
async fn serve_conn<S>(
    stream: S,
    app: Router,
    gate: Gate,
    limits: ConnLimits,
    _slot: Slot,
    mut closing: Closing,
    h2c: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        phase: AtomicU8::new(FRESH),
        h2: AtomicBool::new(false),
        since: Mutex::new(Instant::now()),
        busy: Mutex::new(0),
        wake: Notify::new(),
    });
    let io = Watched {
        inner: stream,
        activity: activity.clone(),
    };
    let act = activity.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let busy = act.begin(req.version());
        let app = app.clone();
        let early = gate(&mut req);
        async move {
            let resp = match early {
                Some(r) => r,
                None => app.oneshot(req).await?,
            };
            Ok::<_, std::convert::Infallible>(resp.map(|inner| Tracked { inner, _busy: busy }))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true);
    if h2c {
        // h2 keep-alive pings stay off (hyper's default): a connection with parked streams is
        // busy, not idle, and is left alone as a parked HTTP/1.1 request is.
        builder
            .http2()
            .max_concurrent_streams(H2_MAX_STREAMS)
            .max_header_list_size(H2_MAX_HEADER_LIST);
    } else {
        builder = builder.http1_only();
    }
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut shutting = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!(target: "agent", "connection ended: {e}");
                }
                return;
            }
            () = activity.expired(limits) => {
                // An idle h2 connection is told with a GOAWAY (a request racing it is still
                // answered) and given the handshake timeout to close; HTTP/1.1, a connection
                // still in its handshake, or one that overstayed the GOAWAY is dropped.
                let p = activity.phase.load(Ordering::SeqCst);
                if p == IDLE && activity.h2.load(Ordering::SeqCst) {
                    tracing::trace!(target: "agent", "h2 connection idle: going away");
                    activity.set(DRAIN);
                    if !shutting {
                        shutting = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    continue;
                }
                tracing::trace!(target: "agent", "connection closed: timed out waiting for a request");
                return;
            }
            // Shutdown: finish the exchange in progress, then close.
            () = closed(&mut closing), if !shutting => {
                shutting = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_cap_and_release() {
        let c = PerClient::default();
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let s1 = c.take(a, 2).expect("first");
        let _s2 = c.take(a, 2).expect("second");
        assert!(c.take(a, 2).is_none());
        assert!(c.take(b, 2).is_some());
        drop(s1);
        assert!(c.take(a, 2).is_some());
        let _many: Vec<_> = (0..1000).map(|_| c.take(a, 0).expect("no cap")).collect();
    }

    #[test]
    fn mapped_v4_counts_as_v4() {
        let m: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        assert_eq!(client_ip(m), "127.0.0.1".parse::<IpAddr>().expect("ip"));
    }
}
