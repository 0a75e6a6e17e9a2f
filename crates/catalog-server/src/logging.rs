//! Log output in Consul's hclog shape (`2024-01-01T00:00:00.000Z [INFO]  agent: message: key=value`),
//! filtered by `-log-level` (`trace debug info warn error`), and the same lines for
//! `/v1/agent/monitor` ([`monitor`]) at the level each watcher asks for.

pub mod monitor;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

/// hclog's line: timestamp, `[LEVEL]` padded to 7 columns, `target: message`, then fields.
struct HcLog;

impl<S, N> FormatEvent<S, N> for HcLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        Rfc3339Millis.format_time(&mut w)?;
        let level = level_tag(*event.metadata().level());
        write!(w, " {level} {}: ", event.metadata().target())?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// hclog's `[LEVEL]`, padded to 7 columns.
fn level_tag(level: Level) -> &'static str {
    match level {
        Level::TRACE => "[TRACE]",
        Level::DEBUG => "[DEBUG]",
        Level::INFO => "[INFO] ",
        Level::WARN => "[WARN] ",
        Level::ERROR => "[ERROR]",
    }
}

/// Now, as the log's timestamps print it.
fn timestamp() -> String {
    let mut s = String::with_capacity(24);
    let _ = Rfc3339Millis.format_time(&mut Writer::new(&mut s));
    s
}

/// A log level as Consul's `-log-level` and `?loglevel=` take it (any case; `err` for error).
pub fn parse_level(s: &str) -> Option<Level> {
    match s.to_ascii_lowercase().as_str() {
        "trace" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" => Some(Level::WARN),
        "err" | "error" => Some(Level::ERROR),
        _ => None,
    }
}

struct Rfc3339Millis;

impl FormatTime for Rfc3339Millis {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs();
        let millis = now.subsec_millis();
        let (y, mo, d, h, mi, s) = civil(secs);
        write!(
            w,
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}Z"
        )
    }
}

/// Seconds since the epoch → (year, month, day, hour, minute, second) in UTC.
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(level: &str, json: bool) {
    let (stdout, handle) = tracing_subscriber::reload::Layer::new(stdout_filter(level));
    let _ = LEVEL.set(Box::new(move |level: &str| {
        if let Err(e) = handle.reload(stdout_filter(level)) {
            tracing::error!(target: "agent", "log level not changed: {e}");
        }
    }));
    let monitor = monitor::MonitorLayer.with_filter(filter_fn(monitor::wanted));
    let registry = tracing_subscriber::registry().with(monitor);
    let _ = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_timer(Rfc3339Millis)
            .with_ansi(false)
            .with_writer(std::io::stdout)
            .with_filter(stdout);
        registry.with(layer).try_init()
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .event_format(HcLog)
            .with_ansi(false)
            .with_writer(std::io::stdout)
            .with_filter(stdout);
        registry.with(layer).try_init()
    };
}

/// Changes the log's level (`consul reload`); nothing before [`init`].
pub fn set_level(level: &str) {
    if let Some(set) = LEVEL.get() {
        set(level);
    }
}

type SetLevel = Box<dyn Fn(&str) + Send + Sync>;
static LEVEL: std::sync::OnceLock<SetLevel> = std::sync::OnceLock::new();

/// The log's filter at `level`: our own crates at it, chatty dependencies one step quieter.
fn stdout_filter(level: &str) -> tracing_subscriber::EnvFilter {
    let level = match parse_level(level).unwrap_or(Level::INFO) {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    };
    tracing_subscriber::EnvFilter::new(format!(
        "{level},openraft=warn,sled=warn,hyper=warn,reqwest=warn,h2=warn,hickory_server=warn,hickory_proto=warn"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(super::civil(1_700_000_000), (2023, 11, 14, 22, 13, 20));
    }
}
