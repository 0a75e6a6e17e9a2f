//! Handing listening sockets to a child with systemd's socket-activation protocol: the
//! sockets become fds 3, 4, ... in the child, `LISTEN_FDS` counts them, `LISTEN_FDNAMES`
//! names them in fd order (`http:server`), and `LISTEN_PID` is the child's pid.
//!
//! The pid is only known once the child exists, so the program runs through
//! `/bin/sh -c 'export LISTEN_PID=$$; exec "$0" "$@"' program args...`: `$$` is the shell's
//! pid, which `exec` keeps. The fds are put in place between fork and exec by a `pre_exec`
//! hook, the only unsafe code of the workspace's tests: it calls only `fcntl` and `dup2`,
//! which are async-signal-safe, and allocates nothing.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The most sockets one child can be handed.
pub const MAX_SOCKETS: usize = 8;

/// The fd of the first handed-over socket (`SD_LISTEN_FDS_START`).
pub const FIRST_FD: RawFd = 3;

/// `program args...` with `sockets` handed over, names in order. The command owns duplicates
/// of the sockets until it is dropped, so the caller may drop its listeners right away; after
/// `spawn`, drop the command too, and the child alone holds them.
pub fn command<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = S>,
    sockets: &[(&str, BorrowedFd<'_>)],
) -> io::Result<Command> {
    command_with_prefix::<&OsStr, S>(&[], program, args, sockets)
}

/// As [`command`], run under `prefix` (e.g. `setpriv --pdeathsig KILL --`): every program of
/// the prefix must `exec` the next one, keeping the pid.
pub fn command_with_prefix<P: AsRef<OsStr>, S: AsRef<OsStr>>(
    prefix: &[P],
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = S>,
    sockets: &[(&str, BorrowedFd<'_>)],
) -> io::Result<Command> {
    if sockets.len() > MAX_SOCKETS {
        return Err(io::Error::other(format!(
            "{} sockets; at most {MAX_SOCKETS}",
            sockets.len()
        )));
    }
    if let Some((name, _)) = sockets
        .iter()
        .find(|(n, _)| n.is_empty() || n.contains(':'))
    {
        return Err(io::Error::other(format!(
            "socket name {name:?}: names are non-empty and have no ':'"
        )));
    }
    let owned: Vec<OwnedFd> = sockets
        .iter()
        .map(|(_, fd)| fd.try_clone_to_owned())
        .collect::<io::Result<_>>()?;
    let names: Vec<&str> = sockets.iter().map(|(n, _)| *n).collect();

    let mut argv: Vec<&OsStr> = prefix.iter().map(AsRef::as_ref).collect();
    argv.extend([
        OsStr::new("/bin/sh"),
        OsStr::new("-c"),
        OsStr::new(r#"export LISTEN_PID=$$; exec "$0" "$@""#),
        program.as_ref(),
    ]);
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]).args(args);
    cmd.env_remove("LISTEN_PID")
        .env("LISTEN_FDS", sockets.len().to_string())
        .env("LISTEN_FDNAMES", names.join(":"));
    install(&mut cmd, owned);
    Ok(cmd)
}

/// Puts `fds` at 3, 4, ... in the child, without close-on-exec.
#[allow(unsafe_code)]
fn install(cmd: &mut Command, fds: Vec<OwnedFd>) {
    let n = fds.len();
    let mut raw: [RawFd; MAX_SOCKETS] = [-1; MAX_SOCKETS];
    for (slot, fd) in raw.iter_mut().zip(&fds) {
        *slot = fd.as_raw_fd();
    }
    // Above the target range, so no dup2 below overwrites a source not yet moved.
    let above = FIRST_FD + n as RawFd;
    // SAFETY: the closure runs in the forked child before exec; it calls only fcntl(2) and
    // dup2(2), async-signal-safe both, on fds `fds` keeps open (the closure owns them), and
    // builds its error from errno without allocating.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &fds;
            let mut high: [RawFd; MAX_SOCKETS] = [-1; MAX_SOCKETS];
            for i in 0..n {
                let fd = libc::fcntl(raw[i], libc::F_DUPFD_CLOEXEC, above);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                high[i] = fd;
            }
            for (i, fd) in high.iter().enumerate().take(n) {
                // dup2 leaves close-on-exec off on the new fd: the program inherits it.
                if libc::dup2(*fd, FIRST_FD + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReservedPort;
    use std::os::fd::AsFd;

    fn link(fd: RawFd) -> String {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn the_child_gets_the_sockets_at_3_and_4_with_names_and_its_pid() {
        let a = ReservedPort::loopback().listen().expect("listen");
        let b = ReservedPort::loopback().listen().expect("listen");
        let script = r#"echo "$LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$"; readlink /proc/$$/fd/3 /proc/$$/fd/4; [ -e /proc/$$/fd/5 ] && echo leaked; true"#;
        let out = command(
            "/bin/sh",
            ["-c", script],
            &[("http", a.as_fd()), ("server", b.as_fd())],
        )
        .expect("command")
        .output()
        .expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        let first: Vec<&str> = lines[0].split(' ').collect();
        assert_eq!(&first[..2], &["2", "http:server"], "{text}");
        assert_eq!(first[2], first[3], "LISTEN_PID is the child's pid: {text}");
        assert_eq!(lines[1], link(a.as_raw_fd()), "{text}");
        assert_eq!(lines[2], link(b.as_raw_fd()), "{text}");
        assert_eq!(lines.len(), 3, "{text}");
    }
}
