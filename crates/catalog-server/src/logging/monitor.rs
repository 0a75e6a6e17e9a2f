//! The agent's log lines for `/v1/agent/monitor`: a tracing layer that, while someone is
//! watching, formats each event (as the log prints it, or as hclog's JSON) and broadcasts it.
//! Each watcher asks for its own level, which may be more verbose than the agent's `-log-level`
//! (as Consul's intercept logger allows); nothing is formatted while no one watches.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Lines a slow watcher may fall behind by before it misses some.
const BACKLOG: usize = 1024;

/// One log line in both forms.
#[derive(Clone, Debug)]
pub struct Line {
    pub level: Level,
    pub text: Arc<str>,
    pub json: Arc<str>,
}

struct Hub {
    lines: broadcast::Sender<Line>,
    /// Watchers per level, TRACE first.
    watching: [AtomicUsize; 5],
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| Hub {
        lines: broadcast::channel(BACKLOG).0,
        watching: Default::default(),
    })
}

fn slot(level: Level) -> usize {
    match level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

/// One watcher: receives the lines at its level or above until dropped.
pub struct Watch {
    level: Level,
    rx: broadcast::Receiver<Line>,
}

/// Starts watching the log at `level`.
pub fn watch(level: Level) -> Watch {
    let hub = hub();
    hub.watching[slot(level)].fetch_add(1, Ordering::SeqCst);
    Watch {
        level,
        rx: hub.lines.subscribe(),
    }
}

impl Watch {
    /// The next line at this watcher's level; lines it fell behind on are skipped.
    pub async fn next(&mut self) -> Option<Line> {
        loop {
            match self.rx.recv().await {
                Ok(line) if line.level <= self.level => return Some(line),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(target: "agent", "Dropped logs during monitor request: dropped_count={n}");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        hub().watching[slot(self.level)].fetch_sub(1, Ordering::SeqCst);
    }
}

/// Dependencies that log a lot: at most their warnings, as on stdout.
const QUIET: &[&str] = &[
    "openraft",
    "sled",
    "hyper",
    "reqwest",
    "h2",
    "hickory_server",
    "hickory_proto",
];

/// Whether anyone watching wants an event of `meta`.
pub fn wanted(meta: &Metadata<'_>) -> bool {
    let level = *meta.level();
    let target = meta.target();
    if level > Level::WARN && QUIET.iter().any(|q| target.starts_with(q)) {
        return false;
    }
    let hub = hub();
    // Watchers at this level or a more verbose one (lower slots).
    (0..=slot(level)).any(|i| hub.watching[i].load(Ordering::Relaxed) > 0)
}

/// The layer that feeds the watchers.
pub struct MonitorLayer;

impl<S: Subscriber> Layer<S> for MonitorLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let now = super::timestamp();
        let level = *meta.level();
        let text = format!(
            "{now} {} {}: {}{}",
            super::level_tag(level),
            meta.target(),
            fields.message,
            fields.rest
        );
        let mut json = serde_json::Map::new();
        json.insert("@level".into(), level.as_str().to_ascii_lowercase().into());
        json.insert("@message".into(), fields.message.into());
        json.insert("@module".into(), meta.target().into());
        json.insert("@timestamp".into(), now.into());
        for (k, v) in fields.pairs {
            json.insert(k, v.into());
        }
        let json = serde_json::Value::Object(json).to_string();
        let _ = hub().lines.send(Line {
            level,
            text: text.into(),
            json: json.into(),
        });
    }
}

/// An event's message and its other fields, as the log's text and as JSON pairs.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    pairs: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
            self.pairs
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
            self.pairs
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}
