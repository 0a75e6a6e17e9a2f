//! A child process of a test with its stdout and stderr captured to files: read them for
//! assertions; they are printed when the test fails; the child is killed and reaped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How many lines of a child's output a failing test prints.
pub(crate) const DUMP_LINES: usize = 200;

pub struct Process {
    child: Child,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
    exit: Option<ExitStatus>,
    _dir: tempfile::TempDir,
}

impl Process {
    /// Spawns `cmd` with stdin closed and stdout/stderr going to files of a temp dir.
    pub fn spawn(mut cmd: Command) -> Process {
        let name = Path::new(cmd.get_program())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = crate::temp_dir(&format!("{name}-out-"));
        let stdout = dir.path().join("stdout");
        let stderr = dir.path().join("stderr");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(create(&stdout))
            .stderr(create(&stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        Process {
            child,
            name,
            stdout,
            stderr,
            exit: None,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        read(&self.stdout)
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        read(&self.stderr)
    }

    /// stdout, then stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Sends `sig` (e.g. `libc::SIGHUP`); false when the process is gone.
    pub fn signal(&self, sig: i32) -> bool {
        self.exit.is_none() && send_signal(self.child.id(), sig)
    }

    /// Its exit status, once it has exited (reaped then).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits up to `timeout` for it to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`Process::wait_exit`] without a runtime.
    pub fn wait_exit_blocking(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
        self.exit
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            dump(&self.name, &self.stdout, &self.stderr);
        }
    }
}

pub(crate) fn create(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `kill(pid, sig)`; false when it failed (no such process).
pub(crate) fn send_signal(pid: u32, sig: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    let Some(sig) = rustix::process::Signal::from_named_raw(sig) else {
        return false;
    };
    rustix::process::kill_process(pid, sig).is_ok()
}

/// Prints the tail of a child's output to stderr (a failing test's log).
pub(crate) fn dump(name: &str, stdout: &Path, stderr: &Path) {
    if stdout == stderr {
        eprintln!(
            "--- {name} output ({}):\n{}",
            stdout.display(),
            crate::tail(&read(stdout), DUMP_LINES)
        );
        return;
    }
    for (what, path) in [("stdout", stdout), ("stderr", stderr)] {
        eprintln!(
            "--- {name} {what} ({}):\n{}",
            path.display(),
            crate::tail(&read(path), DUMP_LINES)
        );
    }
}
