//! The local syslog (upstream's `syslog`, through Go's `log/syslog`): each log line, without
//! its `[LEVEL]` tag, sent to the first of `/dev/log`, `/var/run/syslog`, `/var/run/log` that
//! accepts a connection (datagram, then stream), in Go's local form
//! `<PRI>Jan _2 15:04:05 TAG[PID]: MESSAGE\n` (RFC 3164 without the host name). The severity
//! follows the level: DEBUG info, INFO notice, WARN warning, ERR err, anything else notice.
//! The socket path is not configurable upstream, so it is not here either.

use std::io::Write as _;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};

use super::Level;
use crate::config::Syslog;

/// Upstream's default facility.
pub const DEFAULT_FACILITY: &str = "LOCAL0";
/// Upstream's default tag.
pub const DEFAULT_NAME: &str = "consul-template";
/// Where Go's `log/syslog` looks for the local daemon, in order.
pub const SOCKETS: &[&str] = &["/dev/log", "/var/run/syslog", "/var/run/log"];

/// The facility code (0–23) of a name, case-insensitively, as `go-syslog` knows them.
pub fn facility_code(name: &str) -> Option<u8> {
    const NAMES: &[(&str, u8)] = &[
        ("KERN", 0),
        ("USER", 1),
        ("MAIL", 2),
        ("DAEMON", 3),
        ("AUTH", 4),
        ("SYSLOG", 5),
        ("LPR", 6),
        ("NEWS", 7),
        ("UUCP", 8),
        ("CRON", 9),
        ("AUTHPRIV", 10),
        ("FTP", 11),
        ("LOCAL0", 16),
        ("LOCAL1", 17),
        ("LOCAL2", 18),
        ("LOCAL3", 19),
        ("LOCAL4", 20),
        ("LOCAL5", 21),
        ("LOCAL6", 22),
        ("LOCAL7", 23),
    ];
    let upper = name.to_ascii_uppercase();
    NAMES.iter().find(|(n, _)| *n == upper).map(|(_, c)| *c)
}

/// The syslog severity of a level (upstream's `syslogPriorityMap`, NOTICE otherwise).
pub fn severity(level: Level) -> u8 {
    match level {
        Level::Debug => 6,
        Level::Warn => 4,
        Level::Err => 3,
        Level::Info | Level::Trace => 5,
    }
}

/// One message in Go's local syslog form.
pub fn format(
    facility: u8,
    severity: u8,
    time: chrono::DateTime<chrono::Local>,
    tag: &str,
    pid: u32,
    msg: &str,
) -> String {
    let nl = if msg.ends_with('\n') { "" } else { "\n" };
    format!(
        "<{}>{} {tag}[{pid}]: {msg}{nl}",
        u16::from(facility) * 8 + u16::from(severity),
        time.format("%b %e %H:%M:%S")
    )
}

#[derive(Debug)]
enum Conn {
    Dgram(UnixDatagram),
    Stream(UnixStream),
}

impl Conn {
    fn send(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Dgram(s) => s.send(b).map(|_| ()),
            Conn::Stream(s) => s.write_all(b),
        }
    }
}

fn connect(paths: &[PathBuf]) -> Option<Conn> {
    for p in paths {
        if let Ok(s) = UnixDatagram::unbound().and_then(|s| s.connect(p).map(|_| s)) {
            return Some(Conn::Dgram(s));
        }
        if let Ok(s) = UnixStream::connect(p) {
            return Some(Conn::Stream(s));
        }
    }
    None
}

/// A connection to the local syslog.
#[derive(Debug)]
pub struct SyslogSink {
    paths: Vec<PathBuf>,
    conn: Option<Conn>,
    facility: u8,
    tag: String,
    pid: u32,
}

impl SyslogSink {
    /// Connects to the local syslog daemon as configured.
    pub fn open(cfg: &Syslog) -> Result<SyslogSink, String> {
        let paths: Vec<PathBuf> = SOCKETS.iter().map(PathBuf::from).collect();
        SyslogSink::open_at(cfg, &paths)
    }

    /// [`SyslogSink::open`] on other socket paths (tests).
    pub fn open_at(cfg: &Syslog, paths: &[PathBuf]) -> Result<SyslogSink, String> {
        let name = cfg.facility.as_deref().unwrap_or(DEFAULT_FACILITY);
        let facility = facility_code(name)
            .ok_or_else(|| format!("invalid syslog facility: {}", name.to_ascii_uppercase()))?;
        let tag = match cfg.name.as_deref() {
            None => DEFAULT_NAME.to_string(),
            // Go's log/syslog: an empty tag is the program's name
            Some("") => std::env::args()
                .next()
                .map(|a| {
                    Path::new(&a)
                        .file_name()
                        .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_default(),
            Some(t) => t.to_string(),
        };
        let conn = connect(paths).ok_or("Unix syslog delivery error")?;
        Ok(SyslogSink {
            paths: paths.to_vec(),
            conn: Some(conn),
            facility,
            tag,
            pid: std::process::id(),
        })
    }

    /// Sends one message; on failure reconnects and tries once more, as Go does. Errors are
    /// dropped.
    pub fn write(&mut self, level: Level, msg: &str, time: chrono::DateTime<chrono::Local>) {
        let line = format(
            self.facility,
            severity(level),
            time,
            &self.tag,
            self.pid,
            msg,
        );
        if let Some(c) = self.conn.as_mut() {
            if c.send(line.as_bytes()).is_ok() {
                return;
            }
        }
        self.conn = connect(&self.paths);
        if let Some(c) = self.conn.as_mut() {
            let _ = c.send(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn go_local_form() {
        let t = chrono::Local
            .with_ymd_and_hms(2026, 3, 7, 9, 5, 1)
            .single()
            .unwrap();
        assert_eq!(
            format(16, 5, t, "consul-template", 42, "(runner) starting"),
            "<133>Mar  7 09:05:01 consul-template[42]: (runner) starting\n"
        );
        let t = chrono::Local
            .with_ymd_and_hms(2026, 12, 17, 23, 0, 0)
            .single()
            .unwrap();
        assert_eq!(
            format(21, 3, t, "ct", 1, "boom\n"),
            "<171>Dec 17 23:00:00 ct[1]: boom\n"
        );
        assert_eq!(facility_code("local5"), Some(21));
        assert_eq!(facility_code("daemon"), Some(3));
        assert_eq!(facility_code("LOCAL8"), None);
        assert_eq!(severity(Level::Info), 5);
        assert_eq!(severity(Level::Err), 3);
    }

    #[test]
    fn sends_to_a_datagram_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log");
        let server = UnixDatagram::bind(&sock).unwrap();
        let cfg = Syslog {
            enabled: Some(true),
            facility: Some("local3".into()),
            name: Some("myct".into()),
        };
        let missing = dir.path().join("missing");
        let mut sink = SyslogSink::open_at(&cfg, &[missing.clone(), sock.clone()]).unwrap();
        sink.write(Level::Warn, "(runner) hello", chrono::Local::now());
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        // LOCAL3 = 19, warning = 4
        assert!(got.starts_with("<156>"), "{got}");
        assert!(
            got.ends_with(&format!(" myct[{}]: (runner) hello\n", std::process::id())),
            "{got}"
        );
        let e = SyslogSink::open_at(&cfg, std::slice::from_ref(&missing)).unwrap_err();
        assert_eq!(e, "Unix syslog delivery error");
        let bad = Syslog {
            facility: Some("local9".into()),
            ..cfg
        };
        let e = SyslogSink::open_at(&bad, &[sock]).unwrap_err();
        assert_eq!(e, "invalid syslog facility: LOCAL9");
    }
}
