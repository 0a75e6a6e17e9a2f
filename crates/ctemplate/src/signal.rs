//! Signal names and delivery. Names are Go's (`SIGHUP`, `SIGINT`, ...; the `SIG` prefix is
//! optional); delivery is the one place this crate calls `kill(2)`, for the exec child and
//! for command process groups that outlive their timeout.

use std::fmt;

/// A POSIX signal number with its conventional name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal(pub i32);

const NAMES: &[(&str, i32)] = &[
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGKILL", libc::SIGKILL),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGUSR2", libc::SIGUSR2),
    ("SIGTERM", libc::SIGTERM),
    ("SIGCHLD", libc::SIGCHLD),
    ("SIGCONT", libc::SIGCONT),
    ("SIGSTOP", libc::SIGSTOP),
    ("SIGWINCH", libc::SIGWINCH),
    ("SIGALRM", libc::SIGALRM),
];

impl Signal {
    /// `SIGHUP`
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// `SIGINT`
    pub const INT: Signal = Signal(libc::SIGINT);
    /// `SIGTERM`
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// `SIGKILL`
    pub const KILL: Signal = Signal(libc::SIGKILL);

    /// Parses `SIGHUP`, `hup`, `HUP`; `Ok(None)` for the empty string (= disabled).
    pub fn parse(s: &str) -> Result<Option<Signal>, String> {
        let t = s.trim().to_ascii_uppercase();
        if t.is_empty() {
            return Ok(None);
        }
        let full = if t.starts_with("SIG") {
            t
        } else {
            format!("SIG{t}")
        };
        NAMES
            .iter()
            .find(|(n, _)| *n == full)
            .map(|(_, v)| Some(Signal(*v)))
            .ok_or_else(|| format!("unknown signal {s:?}"))
    }

    /// The conventional name (`SIGHUP`), or the number.
    pub fn name(self) -> String {
        NAMES
            .iter()
            .find(|(_, v)| *v == self.0)
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Sends `sig` to process `pid` (or to process group `-pid` when `group`).
#[allow(unsafe_code)]
pub fn send(pid: u32, sig: Signal, group: bool) -> std::io::Result<()> {
    let Ok(pid) = i32::try_from(pid) else {
        return Err(std::io::Error::other("pid out of range"));
    };
    if pid <= 0 {
        return Err(std::io::Error::other("invalid pid"));
    }
    let target = if group { -pid } else { pid };
    // SAFETY: kill(2) takes no pointers; the target is a child we spawned and have not reaped
    // (or its process group), so the pid cannot have been recycled.
    let rc = unsafe { libc::kill(target, sig.0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Signal::parse("SIGHUP"), Ok(Some(Signal::HUP)));
        assert_eq!(Signal::parse("term"), Ok(Some(Signal::TERM)));
        assert_eq!(Signal::parse(""), Ok(None));
        assert!(Signal::parse("SIGBOGUS").is_err());
        assert_eq!(Signal::INT.to_string(), "SIGINT");
    }
}
