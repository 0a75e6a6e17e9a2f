//! Log lines shaped like upstream's (`2006-01-02T15:04:05.000Z0700 [INFO] (runner) ...`, local
//! time, on stderr) with a process-wide level set once from `-log-level`. Deliberately tiny:
//! the runtime logs a handful of fixed messages whose wording users grep for. [`setup`] adds
//! upstream's other sinks: a rotated log file ([`file`]) and the local syslog ([`syslog`]).

pub mod file;
pub mod syslog;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::config::{LogFile, Syslog};

/// Severity, most verbose first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `TRACE`
    Trace = 0,
    /// `DEBUG`
    Debug = 1,
    /// `INFO`
    Info = 2,
    /// `WARN`
    Warn = 3,
    /// `ERR`
    Err = 4,
}

impl Level {
    /// Parses upstream's names, case-insensitively (`err` and `error` both mean `ERR`).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" => Some(Level::Trace),
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "err" | "error" => Some(Level::Err),
            _ => None,
        }
    }

    /// The tag in the line (`[INFO]`).
    pub fn tag(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Err => "ERR",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

/// Sets the process-wide minimum level.
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether lines at `level` are printed.
pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

struct Sinks {
    config: (LogFile, Syslog),
    file: Option<file::FileSink>,
    syslog: Option<syslog::SyslogSink>,
}

static SINKS: Mutex<Option<Sinks>> = Mutex::new(None);

/// Opens the log file and connects to syslog as configured (upstream's `logging.Setup`);
/// called at start and after a reload, where an unchanged configuration keeps the open sinks.
/// The error is upstream's (a config error, exit 15).
pub fn setup(log_file: &LogFile, syslog_cfg: &Syslog) -> Result<(), String> {
    let config = (log_file.clone(), syslog_cfg.clone());
    let mut guard = SINKS.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_some_and(|s| s.config == config) {
        return Ok(());
    }
    let file = match &log_file.path {
        Some(p) => Some(file::FileSink::open(p, log_file)?),
        None => None,
    };
    let syslog = if syslog_cfg.is_enabled() {
        Some(
            syslog::SyslogSink::open(syslog_cfg)
                .map_err(|e| format!("error setting up syslog logger: {e}"))?,
        )
    } else {
        None
    };
    let enabled = (
        file.as_ref()
            .map(|f| (f.current_path(), log_file.rotate_duration)),
        syslog.is_some(),
    );
    *guard = Some(Sinks {
        config,
        file,
        syslog,
    });
    drop(guard);
    if let (Some((p, every)), _) = &enabled {
        crate::debug!(
            "(logging) enabling log_file logging to {} with rotation every {every:?}",
            p.display()
        );
    }
    if enabled.1 {
        crate::debug!(
            "(logging) enabling syslog on {}",
            syslog_cfg
                .facility
                .as_deref()
                .unwrap_or(syslog::DEFAULT_FACILITY)
        );
    }
    Ok(())
}

/// Writes one line at `level` if enabled: to stderr, and the log file and syslog when set up.
pub fn write(level: Level, msg: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let now = chrono::Local::now();
    let mut ts = now.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
    if now.offset().local_minus_utc() == 0 {
        ts.truncate(ts.len() - 5);
        ts.push('Z');
    }
    let msg = msg.to_string();
    let line = format!("{ts} [{}] {msg}\n", level.tag());
    eprint!("{line}");
    let mut guard = SINKS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sinks) = guard.as_mut() {
        if let Some(f) = sinks.file.as_mut() {
            // upstream writes the file without timestamps (hashicorp/consul-template#1714);
            // here the file gets the same line as stderr
            f.write(line.as_bytes());
        }
        if let Some(s) = sinks.syslog.as_mut() {
            s.write(level, &msg, now);
        }
    }
}

/// `info!("(runner) starting")`
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } }
/// `warn!(...)`
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) } }
/// `error!(...)`, printed as `[ERR]`.
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Err, format_args!($($t)*)) } }
/// `debug!(...)`
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) } }
/// `trace!(...)`
#[macro_export]
macro_rules! trace { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Trace, format_args!($($t)*)) } }
