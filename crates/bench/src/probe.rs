//! What is measured around the load: a server's CPU time and memory from `/proc`, its fsyncs
//! (counted by `perf stat` on the syscall tracepoints, which costs the server nothing), its data
//! directory's size, the disk's own fdatasync rate, and the machine.

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Clock ticks per second for `/proc/<pid>/stat` (`CLK_TCK`, 100 on Linux).
const TICKS: f64 = 100.0;

/// utime + stime of `pid`, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    // Fields after the command: state(3) ... utime(14) stime(15) → indices 11, 12 here.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / TICKS
}

/// (VmRSS, VmHWM) of `pid`, in bytes.
pub fn rss(pid: u32) -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (0, 0);
    };
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Waits until `pid` used no CPU for 300 ms (at most `limit`): parked work has settled.
pub async fn wait_idle(pid: u32, limit: Duration) {
    let t0 = Instant::now();
    let mut last = cpu_secs(pid);
    let mut quiet = 0;
    while t0.elapsed() < limit && quiet < 3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = cpu_secs(pid);
        if now - last < 0.015 {
            quiet += 1;
        } else {
            quiet = 0;
        }
        last = now;
    }
}

/// Bytes allocated on disk under `dir` (like `du`).
pub fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

/// Counts `fdatasync` + `fsync` syscalls of one process (and its threads) while alive.
pub struct SyncCounter {
    child: Option<Child>,
    out: PathBuf,
}

impl SyncCounter {
    /// Attaches `perf stat` to `pid`; `None` when perf is not usable here.
    pub async fn attach(pid: u32, out: PathBuf) -> Option<SyncCounter> {
        let child = Command::new("perf")
            .args([
                "stat",
                "-x,",
                "-e",
                "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync",
                "-o",
            ])
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // perf needs a moment to open its counters.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some(SyncCounter {
            child: Some(child),
            out,
        })
    }

    /// Detaches and returns the number of syncs counted.
    pub fn finish(mut self) -> Option<u64> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let text = std::fs::read_to_string(&self.out).ok()?;
        let mut n = 0;
        let mut seen = false;
        for l in text.lines() {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() > 2 && f[2].starts_with("syscalls:") {
                n += f[0].parse::<u64>().ok()?;
                seen = true;
            }
        }
        seen.then_some(n)
    }
}

impl Drop for SyncCounter {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// PERFORMANCE.md method step 2: single writer, 4 KiB write + fdatasync, for `dur`, in `dir`.
/// Returns syncs per second.
pub fn fsync_probe(dir: &Path, dur: Duration) -> anyhow::Result<f64> {
    let path = dir.join("fsync-probe.dat");
    let mut f = std::fs::File::create(&path).context("fsync probe")?;
    let block = [0x5au8; 4096];
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < dur {
        f.write_all(&block)?;
        f.sync_data()?;
        n += 1;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(rate)
}

/// Refuses a data root on tmpfs (durability would be a lie).
pub fn check_not_tmpfs(dir: &Path) -> anyhow::Result<String> {
    let out = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .context("stat -f")?;
    let fs = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if fs == "tmpfs" || fs == "ramfs" {
        anyhow::bail!(
            "{} is on {fs}; pick a directory on disk with --dir",
            dir.display()
        );
    }
    Ok(fs)
}

/// Output of a shell command, trimmed (for the machine description).
pub fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// 1-minute load average.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}
