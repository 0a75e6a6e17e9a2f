//! The agent's check runners (spec §9): one tokio task per locally registered check that probes
//! its target (HTTP, TCP, UDP, gRPC, H2PING, script, script in a Docker container) every interval, follows another service's health
//! (alias), or waits for TTL updates, and reports the result to a [`CheckSink`] (which writes it
//! into the catalog).
//!
//! The behaviour follows Consul's `agent/checks` package:
//! - intervals below 1s are raised to 1s; the first probe runs after a short random stagger;
//! - results pass through the flap-damping status handler (`SuccessBeforePassing`,
//!   `FailuresBeforeWarning`, `FailuresBeforeCritical`) — except alias results, which Consul
//!   reports as they are;
//! - the sink is only called when the reported status or output differs from what the catalog
//!   last held, so a steady check costs no raft writes;
//! - a service-bound check that stays critical longer than `DeregisterCriticalServiceAfter`
//!   (at least 1m) makes the runner ask the sink to deregister the service.
//!
//! Probe output strings match Consul's (`HTTP GET <url>: 200 OK Output: …`,
//! `TCP connect <addr>: Success`, `dial tcp <addr>: connect: connection refused`, `TTL expired`,
//! `gRPC check <target>: success`, `HTTP2 ping was successful`, `All checks passing.`).
//! `grpc.rs` speaks `grpc.health.v1` through tonic, `h2ping.rs` sends an HTTP/2 PING with the
//! `h2` crate, `alias.rs` mirrors a service instance through blocking reads the sink answers
//! ([`CheckSink::node_health`]), `docker.rs` execs in a container through bollard (the Docker
//! API), `tls.rs` is the TLS of gRPC and H2PING checks.

pub mod alias;
mod docker;
mod grpc;
mod h2ping;
mod http;
mod net;
pub(crate) mod script;
mod status;
mod tls;
mod ttl;

use crate::catalog::CheckRecord;
use api_types::CheckRegistration;
use futures::future::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinHandle;

use crate::catalog::{CheckKind, HealthStatus};
pub use alias::NodeHealth;
use status::{Reporter, Shared};
pub use status::{CRITICAL, PASSING, WARNING};

/// Where check results go.
pub trait CheckSink: Send + Sync + 'static {
    /// Report a status/output change of the agent check `check_id` (write it to the catalog).
    fn update(
        &self,
        check_id: String,
        status: HealthStatus,
        output: String,
    ) -> BoxFuture<'static, ()>;
    /// Deregister a service whose check stayed critical longer than DeregisterCriticalServiceAfter.
    fn deregister_service(&self, service_id: String) -> BoxFuture<'static, ()>;
    /// For alias checks: the checks of `node` (`None`: this agent's node) and whether service
    /// `service_id` is registered there, once their index passes `min_index` (a blocking read
    /// of at most [`alias::MAX_QUERY_TIME`]; `0` answers at once).
    fn node_health(
        &self,
        node: Option<String>,
        service_id: String,
        min_index: u64,
    ) -> BoxFuture<'static, Result<NodeHealth, String>> {
        let _ = (node, service_id, min_index);
        Box::pin(async { Err("no catalog to read".to_string()) })
    }
}

/// Why a TTL update was refused; `Display` gives the HTTP error body of spec §12.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TtlError {
    /// 404.
    #[error("Unknown check ID {0:?}. Ensure that the check ID is passed, not the check name.")]
    Unknown(String),
    /// 500.
    #[error("CheckID {0:?} does not have associated TTL")]
    NotTtl(String),
}

/// Smallest probe interval (Consul's `checks.MinInterval`).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Smallest `DeregisterCriticalServiceAfter` the agent honours.
pub const MIN_DEREGISTER_AFTER: Duration = Duration::from_secs(60);
/// Default `OutputMaxSize` (Consul's `checks.DefaultBufSize`).
pub const DEFAULT_OUTPUT_MAX_SIZE: usize = 4 * 1024;
/// Longest delay before a check's first probe.
const MAX_FIRST_STAGGER: Duration = Duration::from_millis(500);

/// Runs the agent's checks. Cheap to clone.
#[derive(Clone)]
pub struct CheckRunner {
    inner: Arc<Inner>,
}

struct Inner {
    sink: Arc<dyn CheckSink>,
    checks: Mutex<HashMap<String, Entry>>,
    /// Services already handed to `deregister_service`, so several critical checks of one
    /// service reap it once.
    reaped: Arc<Mutex<HashSet<String>>>,
    runtime: Option<tokio::runtime::Handle>,
}

/// One check in the running set.
struct Entry {
    spec: CheckRegistration,
    service_id: String,
    kind: CheckKind,
    shared: Arc<Shared>,
    ttl_tx: Option<tokio::sync::mpsc::UnboundedSender<ttl::TtlMsg>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CheckRunner {
    pub fn new(sink: Arc<dyn CheckSink>) -> CheckRunner {
        CheckRunner {
            inner: Arc::new(Inner {
                sink,
                checks: Mutex::new(HashMap::new()),
                reaped: Arc::new(Mutex::new(HashSet::new())),
                runtime: tokio::runtime::Handle::try_current().ok(),
            }),
        }
    }

    /// Make the running set match `checks` (the agent's checks with `spec: Some(..)`): start new
    /// ones, stop removed ones, restart those whose spec changed. Keyed by check_id.
    pub fn sync(&self, checks: &[CheckRecord]) {
        let wanted: HashMap<&str, (&CheckRecord, &CheckRegistration)> = checks
            .iter()
            .filter_map(|c| c.spec.as_ref().map(|s| (c.check_id.as_str(), (c, s))))
            .collect();
        {
            let services: HashSet<&str> = wanted
                .values()
                .map(|(c, _)| c.service_id.as_str())
                .collect();
            lock(&self.inner.reaped).retain(|s| services.contains(s.as_str()));
        }
        let mut map = lock(&self.inner.checks);
        map.retain(|id, _| {
            let keep = wanted.contains_key(id.as_str());
            if !keep {
                tracing::debug!(target: "agent", "stopping check: check={id}");
            }
            keep
        });
        for (id, (rec, spec)) in wanted {
            if let Some(entry) = map.get(id) {
                if entry.spec == *spec && entry.service_id == rec.service_id {
                    entry.shared.observe_catalog(rec.status, &rec.output);
                    continue;
                }
            }
            let entry = self.start(rec, spec);
            map.insert(id.to_string(), entry);
        }
    }

    /// TTL check update (pass/warn/fail/update endpoints): resets the TTL timer and reports the
    /// status/output. The catalog write happens shortly after, on the check's task.
    pub fn ttl_update(
        &self,
        check_id: &str,
        status: HealthStatus,
        output: &str,
    ) -> Result<(), TtlError> {
        self.send_ttl(check_id, status, output, None)
    }

    /// Like [`CheckRunner::ttl_update`], but resolves once the result has been handed to the
    /// sink (and its write finished), so a following read sees the new status.
    pub async fn ttl_update_wait(
        &self,
        check_id: &str,
        status: HealthStatus,
        output: &str,
    ) -> Result<(), TtlError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send_ttl(check_id, status, output, Some(tx))?;
        // The task may be stopped meanwhile; then there is nothing to wait for.
        let _ = rx.await;
        Ok(())
    }

    fn send_ttl(
        &self,
        check_id: &str,
        status: HealthStatus,
        output: &str,
        done: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(), TtlError> {
        let map = lock(&self.inner.checks);
        let Some(entry) = map.get(check_id) else {
            return Err(TtlError::Unknown(check_id.to_string()));
        };
        let Some(tx) = entry
            .ttl_tx
            .as_ref()
            .filter(|_| entry.kind == CheckKind::Ttl)
        else {
            return Err(TtlError::NotTtl(check_id.to_string()));
        };
        let msg = ttl::TtlMsg {
            status,
            output: output.to_string(),
            done,
        };
        if tx.send(msg).is_err() {
            tracing::warn!(target: "agent", "TTL check task is not running: check={check_id}");
        }
        Ok(())
    }

    /// Stops every check.
    pub fn stop_all(&self) {
        lock(&self.inner.checks).clear();
    }

    /// Ids of the checks in the running set (for diagnostics and tests).
    pub fn running(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.inner.checks).keys().cloned().collect();
        ids.sort();
        ids
    }

    fn start(&self, rec: &CheckRecord, spec: &CheckRegistration) -> Entry {
        let kind = CheckKind::of(spec);
        let check_id = rec.check_id.clone();
        let shared = Arc::new(Shared::new(rec.status, &rec.output));
        let reporter = Reporter::new(
            check_id.clone(),
            rec.service_id.clone(),
            spec,
            rec.status,
            self.inner.sink.clone(),
            shared.clone(),
            self.inner.reaped.clone(),
        );
        let runtime = tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| self.inner.runtime.clone());
        let mut entry = Entry {
            spec: spec.clone(),
            service_id: rec.service_id.clone(),
            kind,
            shared,
            ttl_tx: None,
            task: None,
        };
        let Some(runtime) = runtime else {
            tracing::error!(target: "agent", "no async runtime; check will not run: check={check_id}");
            return entry;
        };
        tracing::debug!(target: "agent", "starting check: check={check_id} type={kind}");
        match kind {
            CheckKind::Ttl => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                entry.ttl_tx = Some(tx);
                entry.task = Some(runtime.spawn(ttl::run(
                    reporter,
                    spec.ttl.as_std(),
                    output_max(spec),
                    rx,
                )));
            }
            CheckKind::Http
            | CheckKind::Tcp
            | CheckKind::Udp
            | CheckKind::Script
            | CheckKind::Grpc
            | CheckKind::H2ping
            | CheckKind::Docker => {
                let probe = match kind {
                    CheckKind::Http => Probe::Http(http::HttpProbe::new(spec)),
                    CheckKind::Grpc => Probe::Grpc(grpc::GrpcProbe::new(spec)),
                    CheckKind::H2ping => Probe::H2ping(h2ping::H2PingProbe::new(spec)),
                    CheckKind::Docker => Probe::Docker(docker::DockerProbe::new(spec)),
                    CheckKind::Tcp => Probe::Tcp(net::TcpProbe::new(spec)),
                    CheckKind::Udp => Probe::Udp(net::UdpProbe::new(spec)),
                    _ => Probe::Script(script::ScriptProbe::new(spec)),
                };
                let mut interval = spec.interval.as_std();
                if interval < MIN_INTERVAL {
                    tracing::warn!(
                        target: "agent",
                        "check has interval below minimum of {}: check={check_id}",
                        api_types::format_go_duration(MIN_INTERVAL.as_nanos() as i64)
                    );
                    interval = MIN_INTERVAL;
                }
                let stagger = first_stagger(interval);
                entry.task = Some(runtime.spawn(run_interval(reporter, probe, interval, stagger)));
            }
            CheckKind::Alias => {
                entry.task = Some(runtime.spawn(alias::run(
                    reporter,
                    self.inner.sink.clone(),
                    spec.alias_node.clone(),
                    spec.alias_service.clone(),
                )));
            }
            other => {
                tracing::warn!(
                    target: "agent",
                    "check type is not run by this agent; its status only changes through the API: check={check_id} type={other}"
                );
            }
        }
        entry
    }
}

/// A random delay before the first probe, within the interval but at most 500ms.
fn first_stagger(interval: Duration) -> Duration {
    use rand::Rng;
    let max = interval.min(MAX_FIRST_STAGGER).as_millis() as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=max))
}

/// One probe of an interval check.
enum Probe {
    Http(http::HttpProbe),
    Tcp(net::TcpProbe),
    Udp(net::UdpProbe),
    Script(script::ScriptProbe),
    Grpc(grpc::GrpcProbe),
    H2ping(h2ping::H2PingProbe),
    Docker(docker::DockerProbe),
}

impl Probe {
    async fn run(&self, check_id: &str) -> (HealthStatus, String) {
        match self {
            Probe::Http(p) => p.run().await,
            Probe::Tcp(p) => p.run(check_id).await,
            Probe::Udp(p) => p.run(check_id).await,
            Probe::Script(p) => p.run(check_id).await,
            Probe::Grpc(p) => p.run(check_id).await,
            Probe::H2ping(p) => p.run(check_id).await,
            Probe::Docker(p) => p.run(check_id).await,
        }
    }
}

/// The loop of an interval check: stagger, probe, report, wait an interval (reaping the service
/// when its critical deadline passes meanwhile), repeat.
async fn run_interval(mut rep: Reporter, probe: Probe, interval: Duration, stagger: Duration) {
    let mut next = tokio::time::Instant::now() + stagger;
    loop {
        loop {
            let wake = match rep.reap_deadline() {
                Some(d) if d < next => d,
                _ => next,
            };
            tokio::time::sleep_until(wake).await;
            if wake >= next {
                break;
            }
            rep.maybe_reap().await;
        }
        let (status, output) = probe.run(rep.check_id()).await;
        rep.result(status, output).await;
        rep.maybe_reap().await;
        next = tokio::time::Instant::now() + interval;
    }
}

/// Caps `output` at `max` bytes on a char boundary.
fn floor_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The last `max` bytes of what a probe wrote, like Go's `circbuf.Buffer`.
#[derive(Debug, Default)]
struct TailBuf {
    buf: Vec<u8>,
    max: usize,
    total: usize,
}

impl TailBuf {
    fn new(max: usize) -> TailBuf {
        TailBuf {
            buf: Vec::new(),
            max,
            total: 0,
        }
    }

    fn write(&mut self, data: &[u8]) {
        self.total += data.len();
        if data.len() >= self.max {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - self.max..]);
            return;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() > self.max {
            let cut = self.buf.len() - self.max;
            self.buf.drain(..cut);
        }
    }

    fn truncated(&self) -> bool {
        self.total > self.max
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

fn output_max(spec: &CheckRegistration) -> usize {
    if spec.output_max_size == 0 {
        DEFAULT_OUTPUT_MAX_SIZE
    } else {
        spec.output_max_size
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A recording sink and polling helpers for the runner tests.
    use super::*;
    use std::time::Instant;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Event {
        Update(String, String, String),
        Deregister(String),
    }

    #[derive(Default)]
    pub struct Recorder {
        pub events: Mutex<Vec<Event>>,
    }

    impl Recorder {
        pub fn events(&self) -> Vec<Event> {
            lock(&self.events).clone()
        }

        pub fn updates(&self, check: &str) -> Vec<(String, String)> {
            self.events()
                .into_iter()
                .filter_map(|e| match e {
                    Event::Update(c, s, o) if c == check => Some((s, o)),
                    _ => None,
                })
                .collect()
        }

        /// Polls until `pred` holds on the updates of `check`, or panics after `secs`.
        pub async fn wait_for(
            &self,
            check: &str,
            secs: u64,
            pred: impl Fn(&[(String, String)]) -> bool,
        ) -> Vec<(String, String)> {
            let deadline = Instant::now() + Duration::from_secs(secs);
            loop {
                let u = self.updates(check);
                if pred(&u) {
                    return u;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting on {check}; updates: {u:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    impl CheckSink for Recorder {
        fn update(
            &self,
            check_id: String,
            status: HealthStatus,
            output: String,
        ) -> BoxFuture<'static, ()> {
            lock(&self.events).push(Event::Update(check_id, status.into(), output));
            Box::pin(async {})
        }
        fn deregister_service(&self, service_id: String) -> BoxFuture<'static, ()> {
            lock(&self.events).push(Event::Deregister(service_id));
            Box::pin(async {})
        }
    }

    /// A check record as the agent would hold it (initial status critical).
    pub fn record(id: &str, spec: CheckRegistration) -> CheckRecord {
        CheckRecord {
            check_id: id.to_string(),
            name: id.to_string(),
            status: HealthStatus::parse(&spec.status).unwrap_or(CRITICAL),
            service_id: spec.service_id.clone(),
            check_type: CheckKind::of(&spec),
            spec: Some(spec),
            ..Default::default()
        }
    }

    pub fn runner() -> (Arc<Recorder>, CheckRunner) {
        let rec = Arc::new(Recorder::default());
        let runner = CheckRunner::new(rec.clone());
        (rec, runner)
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use api_types::GoDuration;

    fn check_type(spec: &CheckRegistration) -> &'static str {
        CheckKind::of(spec).as_str()
    }

    #[test]
    fn check_type_words() {
        let i = GoDuration::from_secs(10);
        let http = CheckRegistration {
            http: "http://x".into(),
            interval: i,
            ..Default::default()
        };
        assert_eq!(check_type(&http), "http");
        assert_eq!(
            check_type(&CheckRegistration {
                interval: GoDuration(0),
                ..http.clone()
            }),
            ""
        );
        let tcp = CheckRegistration {
            tcp: "x:1".into(),
            interval: i,
            ..Default::default()
        };
        assert_eq!(check_type(&tcp), "tcp");
        let udp = CheckRegistration {
            udp: "x:1".into(),
            interval: i,
            ..Default::default()
        };
        assert_eq!(check_type(&udp), "udp");
        let ttl = CheckRegistration {
            ttl: i,
            ..Default::default()
        };
        assert_eq!(check_type(&ttl), "ttl");
        let script = CheckRegistration {
            args: Some(vec!["true".into()]),
            interval: i,
            ..Default::default()
        };
        assert_eq!(check_type(&script), "script");
        let legacy = CheckRegistration {
            script: "true".into(),
            interval: i,
            ..Default::default()
        };
        assert_eq!(check_type(&legacy), "script");
        let docker = CheckRegistration {
            docker_container_id: "abc".into(),
            ..script.clone()
        };
        assert_eq!(check_type(&docker), "docker");
        let grpc = CheckRegistration {
            grpc: "x:1".into(),
            interval: i,
            ..Default::default()
        };
        assert_eq!(check_type(&grpc), "grpc");
        let alias = CheckRegistration {
            alias_service: "web".into(),
            ..Default::default()
        };
        assert_eq!(check_type(&alias), "alias");
        assert_eq!(check_type(&CheckRegistration::default()), "");
    }

    #[test]
    fn ttl_error_texts() {
        assert_eq!(
            TtlError::Unknown("web".into()).to_string(),
            "Unknown check ID \"web\". Ensure that the check ID is passed, not the check name."
        );
        assert_eq!(
            TtlError::NotTtl("web".into()).to_string(),
            "CheckID \"web\" does not have associated TTL"
        );
    }

    #[test]
    fn tail_buffer_keeps_last_bytes() {
        let mut b = TailBuf::new(4);
        b.write(b"ab");
        b.write(b"cdef");
        assert_eq!(b.text(), "cdef");
        assert!(b.truncated());
        b.write(b"0123456");
        assert_eq!(b.text(), "3456");
        assert_eq!(b.total, 13);
    }

    #[tokio::test]
    async fn sync_starts_stops_and_restarts() {
        let (rec, runner) = runner();
        let ttl = CheckRegistration {
            ttl: GoDuration::from_secs(30),
            ..Default::default()
        };
        let grpc = CheckRegistration {
            grpc: "127.0.0.1:1".into(),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        };
        let catalog_only = CheckRecord {
            check_id: "cat".into(),
            ..Default::default()
        };
        runner.sync(&[record("a", ttl.clone()), record("g", grpc), catalog_only]);
        assert_eq!(runner.running(), vec!["a".to_string(), "g".to_string()]);
        assert_eq!(
            runner.ttl_update("g", PASSING, ""),
            Err(TtlError::NotTtl("g".into()))
        );
        assert_eq!(
            runner.ttl_update("cat", PASSING, ""),
            Err(TtlError::Unknown("cat".into()))
        );
        runner
            .ttl_update_wait("a", PASSING, "ok")
            .await
            .expect("ttl a");
        assert_eq!(
            rec.updates("a"),
            vec![(PASSING.to_string(), "ok".to_string())]
        );

        // Same spec: keeps running (no restart, no new report).
        runner.sync(&[record("a", ttl.clone())]);
        assert_eq!(runner.running(), vec!["a".to_string()]);
        runner
            .ttl_update_wait("a", PASSING, "ok")
            .await
            .expect("ttl a");
        // The catalog record passed to sync still said critical, so the runner re-reports once.
        assert_eq!(rec.updates("a").len(), 2);
        runner
            .ttl_update_wait("a", PASSING, "ok")
            .await
            .expect("ttl a");
        assert_eq!(rec.updates("a").len(), 2);

        // Changed spec: restarted from the record's status.
        let ttl2 = CheckRegistration {
            ttl: GoDuration::from_secs(60),
            ..ttl
        };
        runner.sync(&[record("a", ttl2)]);
        runner
            .ttl_update_wait("a", WARNING, "w")
            .await
            .expect("ttl a");
        assert_eq!(
            rec.updates("a").last(),
            Some(&(WARNING.to_string(), "w".to_string()))
        );

        runner.stop_all();
        assert!(runner.running().is_empty());
        assert_eq!(
            runner.ttl_update("a", PASSING, ""),
            Err(TtlError::Unknown("a".into()))
        );
    }
}
