//! The agent's metrics, named as Consul's go-metrics names them (`consul.raft.apply`,
//! `consul.kvs.apply`, `consul.api.http`, ...). Code records through the `metrics` crate's
//! macros; the one recorder installed here hands every value to two sinks, as Consul's
//! fan-out does:
//! - the in-memory sink (`inmem`): ten-second intervals kept for a minute, the JSON summary of
//!   `/v1/agent/metrics` and its stream;
//! - with `telemetry { prometheus_retention_time }` positive, `metrics-exporter-prometheus`'
//!   recorder, rendered for `?format=prometheus` (series not updated within the retention
//!   time dropped, samples as summaries with Consul's quantiles).
//!
//! Names are rewritten once per registration as go-metrics rewrites keys: the `consul` prefix
//! replaced by `telemetry.metrics_prefix`, and gauges carrying the host name after it unless
//! `telemetry.disable_hostname`. `runtime` samples the process (Go's runtime gauges have no
//! Rust counterpart: see there), `host` reads `/v1/agent/host`'s facts.
//!
//! The recorder is process-wide (as go-metrics' global is): the first agent started in a
//! process installs it with its settings.

pub mod host;
pub mod inmem;
pub mod runtime;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use metrics_util::MetricKindMask;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// The `telemetry` block's keys this agent implements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `metrics_prefix` (`consul`).
    pub prefix: String,
    /// `disable_hostname`: gauges without the host name.
    pub disable_hostname: bool,
    /// `prometheus_retention_time`: zero leaves Prometheus off.
    pub prometheus_retention: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prefix: "consul".to_string(),
            disable_hostname: false,
            prometheus_retention: Duration::ZERO,
        }
    }
}

/// The installed sinks.
pub struct Telemetry {
    inmem: Arc<inmem::Inmem>,
    prometheus: Option<PrometheusHandle>,
}

static GLOBAL: OnceLock<Telemetry> = OnceLock::new();

/// Installs the process's recorder with `settings` (the first call does; later ones find it).
pub fn install(settings: &Settings) -> &'static Telemetry {
    GLOBAL.get_or_init(|| {
        let inmem = Arc::new(inmem::Inmem::new());
        let prom = (!settings.prometheus_retention.is_zero()).then(|| prometheus(settings));
        let prometheus = prom.as_ref().map(PrometheusRecorder::handle);
        let host = (!settings.disable_hostname)
            .then(|| gethostname::gethostname().to_string_lossy().into_owned())
            .filter(|h| !h.is_empty());
        let fan = Fan {
            inmem: inmem.clone(),
            prom,
            prefix: settings.prefix.clone(),
            host,
        };
        if metrics::set_global_recorder(fan).is_err() {
            tracing::warn!(target: "agent", "a metrics recorder was already installed");
        }
        Telemetry { inmem, prometheus }
    })
}

/// The installed sinks, if an agent installed them.
pub fn get() -> Option<&'static Telemetry> {
    GLOBAL.get()
}

fn prometheus(settings: &Settings) -> PrometheusRecorder {
    let b = PrometheusBuilder::new()
        .idle_timeout(MetricKindMask::ALL, Some(settings.prometheus_retention));
    // go-metrics' Prometheus summaries: these quantiles over a ten-second window.
    let b = match b.set_quantiles(&[0.5, 0.9, 0.99]) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(target: "agent", "prometheus quantiles: {e}");
            PrometheusBuilder::new()
        }
    };
    let b = match b.set_bucket_duration(inmem::INTERVAL) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(target: "agent", "prometheus summary window: {e}");
            PrometheusBuilder::new()
        }
    };
    b.build_recorder()
}

impl Telemetry {
    /// go-metrics' `DisplayMetrics`: the last finished interval (the current one while none
    /// has finished).
    pub fn summary(&self) -> inmem::Summary {
        self.inmem
            .summary(self.inmem.display_interval(SystemTime::now()))
    }

    /// The summary of the interval `interval_of(now)` once it has ended (the stream's).
    pub fn summary_of(&self, interval: u64) -> inmem::Summary {
        self.inmem.summary(interval)
    }

    /// The Prometheus exposition text, or `None` when Prometheus is off.
    pub fn prometheus_text(&self) -> Option<String> {
        self.prometheus.as_ref().map(PrometheusHandle::render)
    }

    /// Whether `?format=prometheus` is answered.
    pub fn prometheus_enabled(&self) -> bool {
        self.prometheus.is_some()
    }

    /// Periodic housekeeping of the Prometheus summaries' windows.
    pub fn upkeep(&self) {
        if let Some(p) = &self.prometheus {
            p.run_upkeep();
        }
    }
}

/// Samples the process and runs housekeeping every second until aborted (go-metrics'
/// runtime collector runs at this period).
pub async fn run_sampler(t: &'static Telemetry, mut also: impl FnMut() + Send) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        runtime::sample();
        also();
        t.upkeep();
    }
}

/// The recorder: each series registered once per call site in both sinks under its final name.
struct Fan {
    inmem: Arc<inmem::Inmem>,
    prom: Option<PrometheusRecorder>,
    prefix: String,
    host: Option<String>,
}

impl Fan {
    /// go-metrics' key rewriting: `metrics_prefix` for `consul`, the host name in gauges.
    fn rename(&self, key: &Key, gauge: bool) -> Key {
        let host = self.host.as_deref().filter(|_| gauge);
        let Some(rest) = key.name().strip_prefix("consul.") else {
            return key.clone();
        };
        if self.prefix == "consul" && host.is_none() {
            return key.clone();
        }
        let mut name = String::with_capacity(key.name().len() + 32);
        if !self.prefix.is_empty() {
            name.push_str(&self.prefix);
            name.push('.');
        }
        if let Some(h) = host {
            name.push_str(h);
            name.push('.');
        }
        name.push_str(rest);
        Key::from_parts(name, key.labels().cloned().collect::<Vec<_>>())
    }
}

impl Recorder for Fan {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, meta: &Metadata<'_>) -> Counter {
        let key = self.rename(key, false);
        let mine = self.inmem.registry.get_or_create_counter(&key, Arc::clone);
        match &self.prom {
            None => Counter::from_arc(mine),
            Some(p) => Counter::from_arc(Arc::new(Both(mine, p.register_counter(&key, meta)))),
        }
    }

    fn register_gauge(&self, key: &Key, meta: &Metadata<'_>) -> Gauge {
        let key = self.rename(key, true);
        let mine = self.inmem.registry.get_or_create_gauge(&key, Arc::clone);
        match &self.prom {
            None => Gauge::from_arc(mine),
            Some(p) => Gauge::from_arc(Arc::new(Both(mine, p.register_gauge(&key, meta)))),
        }
    }

    fn register_histogram(&self, key: &Key, meta: &Metadata<'_>) -> Histogram {
        let key = self.rename(key, false);
        let mine = self
            .inmem
            .registry
            .get_or_create_histogram(&key, Arc::clone);
        match &self.prom {
            None => Histogram::from_arc(mine),
            Some(p) => Histogram::from_arc(Arc::new(Both(mine, p.register_histogram(&key, meta)))),
        }
    }
}

/// One series in both sinks.
struct Both<P>(Arc<inmem::Series>, P);

impl CounterFn for Both<Counter> {
    fn increment(&self, value: u64) {
        CounterFn::increment(&*self.0, value);
        self.1.increment(value);
    }
    fn absolute(&self, value: u64) {
        CounterFn::absolute(&*self.0, value);
        self.1.absolute(value);
    }
}

impl GaugeFn for Both<Gauge> {
    fn increment(&self, value: f64) {
        GaugeFn::increment(&*self.0, value);
        self.1.increment(value);
    }
    fn decrement(&self, value: f64) {
        GaugeFn::decrement(&*self.0, value);
        self.1.decrement(value);
    }
    fn set(&self, value: f64) {
        GaugeFn::set(&*self.0, value);
        self.1.set(value);
    }
}

impl HistogramFn for Both<Histogram> {
    fn record(&self, value: f64) {
        self.0.record(value);
        self.1.record(value);
    }
}

/// Milliseconds since `start`, as go-metrics' `MeasureSince` records a timer.
pub fn ms_since(start: std::time::Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Counts a blocking query's answer to a shared question: built by this query, or taken from
/// the one another query built (`blocking::shared`).
pub fn shared_answer(built: bool) {
    if built {
        metrics::counter!("consul.blocking.answers_built").increment(1);
    } else {
        metrics::counter!("consul.blocking.answers_shared").increment(1);
    }
}

/// Counts one blocking query parked for as long as it lives (`consul.rpc.queries_blocking`).
pub struct BlockingQuery(());

impl BlockingQuery {
    pub fn start() -> BlockingQuery {
        metrics::gauge!("consul.rpc.queries_blocking").increment(1.0);
        BlockingQuery(())
    }
}

impl Drop for BlockingQuery {
    fn drop(&mut self) {
        metrics::gauge!("consul.rpc.queries_blocking").decrement(1.0);
    }
}
