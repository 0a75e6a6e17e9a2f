//! The in-memory sink behind `/v1/agent/metrics` and `/v1/agent/metrics/stream`: what go-metrics'
//! `InmemSink` keeps, in ten-second intervals retained for a minute.
//!
//! Each series (a name with its labels) holds its own aggregates for the last [`RETAIN`]
//! intervals behind its own small lock: recording touches only that series, never a lock
//! shared by every request. The summary of one interval is assembled when it is asked for.

use metrics::{CounterFn, GaugeFn, HistogramFn, Key};
use metrics_util::registry::{Registry, Storage};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// go-metrics' interval as Consul configures it.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Intervals kept: Consul retains one minute of them.
const RETAIN: usize = 6;

/// The interval `t` falls in, as a count of intervals since the epoch.
pub fn interval_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / INTERVAL.as_secs()
}

/// go-metrics' `AggregateSample`: what one interval saw of a counter or a sample.
#[derive(Debug, Clone, Copy, Default)]
struct Aggregate {
    count: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
}

impl Aggregate {
    fn ingest(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.sum_sq += v * v;
        if self.count == 1 || v < self.min {
            self.min = v;
        }
        if self.count == 1 || v > self.max {
            self.max = v;
        }
    }

    fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The sample standard deviation, as go-metrics computes it.
    fn stddev(&self) -> f64 {
        let n = self.count as f64;
        let num = n * self.sum_sq - self.sum * self.sum;
        let div = n * (n - 1.0);
        if div == 0.0 {
            0.0
        } else {
            (num / div).max(0.0).sqrt()
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The interval this slot holds (`interval_of`); a slot of an older one is stale.
    interval: u64,
    agg: Aggregate,
    /// A gauge's value set during the interval.
    gauge: Option<f64>,
}

#[derive(Debug, Default)]
struct Slots {
    ring: [Slot; RETAIN],
    /// A gauge's current value (for increments and decrements).
    current: f64,
}

impl Slots {
    fn slot(&mut self, interval: u64) -> &mut Slot {
        let s = &mut self.ring[(interval % RETAIN as u64) as usize];
        if s.interval != interval {
            *s = Slot {
                interval,
                ..Slot::default()
            };
        }
        s
    }

    fn at(&self, interval: u64) -> Option<&Slot> {
        let s = &self.ring[(interval % RETAIN as u64) as usize];
        (s.interval == interval).then_some(s)
    }
}

/// One series' handle, shared by every caller recording into it.
#[derive(Debug, Clone, Default)]
pub struct Series(Arc<Mutex<Slots>>);

impl Series {
    fn with<R>(&self, f: impl FnOnce(&mut Slots) -> R) -> R {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    fn ingest(&self, v: f64) {
        let i = interval_of(SystemTime::now());
        self.with(|s| s.slot(i).agg.ingest(v));
    }

    fn set(&self, f: impl FnOnce(f64) -> f64) {
        let i = interval_of(SystemTime::now());
        self.with(|s| {
            s.current = f(s.current);
            let v = s.current;
            s.slot(i).gauge = Some(v);
        });
    }
}

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        self.ingest(value as f64);
    }
    fn absolute(&self, value: u64) {
        self.ingest(value as f64);
    }
}

impl GaugeFn for Series {
    fn increment(&self, value: f64) {
        self.set(|c| c + value);
    }
    fn decrement(&self, value: f64) {
        self.set(|c| c - value);
    }
    fn set(&self, value: f64) {
        Series::set(self, |_| value);
    }
}

impl HistogramFn for Series {
    fn record(&self, value: f64) {
        self.ingest(value);
    }
}

#[derive(Debug, Default)]
pub struct SeriesStorage;

impl Storage<Key> for SeriesStorage {
    type Counter = Arc<Series>;
    type Gauge = Arc<Series>;
    type Histogram = Arc<Series>;
    fn counter(&self, _: &Key) -> Arc<Series> {
        Arc::default()
    }
    fn gauge(&self, _: &Key) -> Arc<Series> {
        Arc::default()
    }
    fn histogram(&self, _: &Key) -> Arc<Series> {
        Arc::default()
    }
}

/// Every series this process recorded into.
pub struct Inmem {
    pub registry: Registry<Key, SeriesStorage>,
    /// The interval the sink was created in: before the first one ends, it is the one shown.
    first: u64,
}

impl Default for Inmem {
    fn default() -> Self {
        Inmem::new()
    }
}

impl Inmem {
    pub fn new() -> Inmem {
        Inmem {
            registry: Registry::new(SeriesStorage),
            first: interval_of(SystemTime::now()),
        }
    }

    /// The interval `/v1/agent/metrics` shows at `now`: the last finished one, or the current
    /// one while none has finished (go-metrics' `DisplayMetrics`).
    pub fn display_interval(&self, now: SystemTime) -> u64 {
        let cur = interval_of(now);
        if cur > self.first {
            cur - 1
        } else {
            cur
        }
    }

    /// go-metrics' summary of `interval`.
    pub fn summary(&self, interval: u64) -> Summary {
        let mut gauges = Vec::new();
        self.registry.visit_gauges(|key, s| {
            if let Some(v) = s.with(|s| s.at(interval).and_then(|slot| slot.gauge)) {
                gauges.push((
                    hash(key),
                    GaugeValue {
                        name: key.name().to_string(),
                        value: GoFloat32(v as f32),
                        labels: labels(key),
                    },
                ));
            }
        });
        gauges.sort_by(|a, b| a.0.cmp(&b.0));
        let sampled = |out: &mut Vec<(String, SampledValue)>, key: &Key, s: &Arc<Series>| {
            if let Some(agg) = s.with(|s| s.at(interval).map(|slot| slot.agg)) {
                if agg.count == 0 {
                    return;
                }
                out.push((
                    hash(key),
                    SampledValue {
                        name: key.name().to_string(),
                        count: agg.count,
                        rate: GoFloat(agg.sum / INTERVAL.as_secs_f64()),
                        sum: GoFloat(agg.sum),
                        min: GoFloat(agg.min),
                        max: GoFloat(agg.max),
                        mean: GoFloat(agg.mean()),
                        stddev: GoFloat(agg.stddev()),
                        labels: labels(key),
                    },
                ));
            }
        };
        let mut counters = Vec::new();
        self.registry
            .visit_counters(|key, s| sampled(&mut counters, key, s));
        counters.sort_by(|a, b| a.0.cmp(&b.0));
        let mut samples = Vec::new();
        self.registry
            .visit_histograms(|key, s| sampled(&mut samples, key, s));
        samples.sort_by(|a, b| a.0.cmp(&b.0));
        Summary {
            timestamp: go_time_string(interval * INTERVAL.as_secs()),
            gauges: gauges.into_iter().map(|g| g.1).collect(),
            points: Vec::new(),
            counters: counters.into_iter().map(|c| c.1).collect(),
            samples: samples.into_iter().map(|c| c.1).collect(),
        }
    }
}

/// go-metrics' series hash: the name, then `;label=value` for each label; summaries are
/// sorted by it.
fn hash(key: &Key) -> String {
    let mut h = key.name().to_string();
    for l in key.labels() {
        h.push(';');
        h.push_str(l.key());
        h.push('=');
        h.push_str(l.value());
    }
    h
}

fn labels(key: &Key) -> BTreeMap<String, String> {
    key.labels()
        .map(|l| (l.key().to_string(), l.value().to_string()))
        .collect()
}

/// Go's `time.Time.String()` of a UTC instant: `2006-01-02 15:04:05 +0000 UTC`.
fn go_time_string(unix_secs: u64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix_secs as i64) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::new(),
    }
}

/// go-metrics' `MetricsSummary`, field for field.
#[derive(Debug, Serialize)]
pub struct Summary {
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "Gauges")]
    pub gauges: Vec<GaugeValue>,
    #[serde(rename = "Points")]
    pub points: Vec<PointValue>,
    #[serde(rename = "Counters")]
    pub counters: Vec<SampledValue>,
    #[serde(rename = "Samples")]
    pub samples: Vec<SampledValue>,
}

#[derive(Debug, Serialize)]
pub struct GaugeValue {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value")]
    pub value: GoFloat32,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
}

/// go-metrics' `PointValue` (`EmitKey`); nothing here emits points, so the list is empty.
#[derive(Debug, Serialize)]
pub struct PointValue {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Points")]
    pub points: Vec<GoFloat32>,
}

#[derive(Debug, Serialize)]
pub struct SampledValue {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Count")]
    pub count: u64,
    #[serde(rename = "Rate")]
    pub rate: GoFloat,
    #[serde(rename = "Sum")]
    pub sum: GoFloat,
    #[serde(rename = "Min")]
    pub min: GoFloat,
    #[serde(rename = "Max")]
    pub max: GoFloat,
    #[serde(rename = "Mean")]
    pub mean: GoFloat,
    #[serde(rename = "Stddev")]
    pub stddev: GoFloat,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
}

/// A float64 as Go's encoder writes it: a whole number without `.0`.
#[derive(Debug, Clone, Copy)]
pub struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

/// A float32 (a gauge's value in go-metrics) as Go writes it: its shortest float32 digits.
#[derive(Debug, Clone, Copy)]
pub struct GoFloat32(pub f32);

impl Serialize for GoFloat32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The shortest decimal that reads back as this float32, widened without new digits.
        let widened: f64 = self.0.to_string().parse().unwrap_or(f64::from(self.0));
        GoFloat(widened).serialize(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_like_go_metrics() {
        let mut a = Aggregate::default();
        for v in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            a.ingest(v);
        }
        assert_eq!(a.count, 8);
        assert_eq!(a.min, 2.0);
        assert_eq!(a.max, 9.0);
        assert_eq!(a.mean(), 5.0);
        // Sample (n-1) standard deviation.
        assert!((a.stddev() - 2.138089935299395).abs() < 1e-12);
        assert_eq!(Aggregate::default().stddev(), 0.0);
    }

    #[test]
    fn floats_and_time_are_written_as_go_writes_them() {
        let j = serde_json::to_string(&(GoFloat(3.0), GoFloat(0.25), GoFloat32(0.1))).unwrap();
        assert_eq!(j, "[3,0.25,0.1]");
        assert_eq!(go_time_string(0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn summary_shows_one_interval_sorted_by_hash() {
        // Retried when an interval boundary falls between recording and reading.
        for _ in 0..3 {
            let m = Inmem::new();
            let before = interval_of(SystemTime::now());
            let k = |n: &'static str| Key::from_name(n);
            let c = m.registry.get_or_create_counter(&k("b.count"), Arc::clone);
            CounterFn::increment(&*c, 2);
            CounterFn::increment(&*c, 4);
            let g = m.registry.get_or_create_gauge(&k("a.gauge"), Arc::clone);
            GaugeFn::set(&*g, 7.0);
            let h = m
                .registry
                .get_or_create_histogram(&k("a.timer"), Arc::clone);
            h.record(1.5);
            let now = interval_of(SystemTime::now());
            if now != before {
                continue;
            }
            let s = m.summary(now);
            assert_eq!(s.gauges.len(), 1);
            assert_eq!(s.counters[0].count, 2);
            assert_eq!(s.counters[0].sum.0, 6.0);
            assert_eq!(s.counters[0].rate.0, 0.6);
            assert_eq!(s.samples[0].name, "a.timer");
            // An interval nothing was recorded in is empty, not the latest values.
            let old = m.summary(now - 1);
            assert!(old.gauges.is_empty() && old.counters.is_empty());
            return;
        }
        panic!("no interval held still");
    }
}
