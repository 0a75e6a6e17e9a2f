//! Log lines shaped like upstream's (`2006-01-02T15:04:05.000Z0700 [INFO] (runner) ...`, local
//! time, on stderr) with a process-wide level set once from `-log-level`. Deliberately tiny:
//! the runtime logs a handful of fixed messages whose wording users grep for.

use std::sync::atomic::{AtomicU8, Ordering};

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

    fn tag(self) -> &'static str {
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

/// Writes one line at `level` if enabled.
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
    eprintln!("{ts} [{}] {msg}", level.tag());
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
