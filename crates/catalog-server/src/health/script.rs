//! Script checks (Consul's `CheckMonitor`): run `Args` (or the legacy `Script` through
//! `$SHELL -c`, default `/bin/sh`); exit 0 passing, 1 warning, anything else critical. Output is
//! the combined stdout+stderr tail, capped at `OutputMaxSize`. A run longer than the timeout
//! (default 30s) kills the whole process group and reports `Timed out (30s) running check`.
//! Whether scripts may run at all is decided before a check reaches the runner.

use super::status::{HealthStatus, CRITICAL, PASSING, WARNING};
use super::{lock, output_max, TailBuf};
use api_types::CheckRegistration;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Default script timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How Consul runs a command it was given (`agent.ExecScript` / `ExecSubprocess`): with a shell,
/// the words joined and handed to `$SHELL -c` (else `/bin/sh -c`); without, the words as argv.
pub(crate) fn command_argv(words: &[String], shell: bool) -> Vec<String> {
    if !shell {
        return words.to_vec();
    }
    let sh = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    vec![sh, "-c".into(), words.join(" ")]
}

pub(crate) struct ScriptProbe {
    argv: Vec<String>,
    timeout: Duration,
    max: usize,
}

impl ScriptProbe {
    pub(crate) fn new(spec: &CheckRegistration) -> ScriptProbe {
        let argv = match &spec.args {
            Some(args) if !args.is_empty() => args.clone(),
            _ => command_argv(std::slice::from_ref(&spec.script), true),
        };
        ScriptProbe {
            argv,
            timeout: super::net::timeout_of(spec, DEFAULT_TIMEOUT),
            max: output_max(spec),
        }
    }

    pub(crate) async fn run(&self, check_id: &str) -> (HealthStatus, String) {
        let Some((prog, rest)) = self.argv.split_first() else {
            return (CRITICAL, "exec: no command".to_string());
        };
        let mut cmd = tokio::process::Command::new(prog);
        cmd.args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let text = spawn_error_text(prog, &e);
                tracing::error!(target: "agent", "Check failed to invoke: check={check_id} error={text}");
                return (CRITICAL, text);
            }
        };
        let mut group = GroupGuard(child.id());
        let buf = Mutex::new(TailBuf::new(self.max));
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let waited = tokio::time::timeout(self.timeout, async {
            let (status, _, _) =
                tokio::join!(child.wait(), drain(stdout, &buf), drain(stderr, &buf));
            status
        })
        .await;
        let status = match waited {
            Ok(status) => {
                group.0 = None; // reaped: the pid may be reused from here on
                status
            }
            Err(_) => {
                group.kill();
                let _ = child.kill().await;
                group.0 = None;
                let timeout = api_types::format_go_duration(self.timeout.as_nanos() as i64);
                tracing::warn!(target: "agent", "Timed out running check: check={check_id} timeout={timeout}");
                let mut msg = format!("Timed out ({timeout}) running check");
                let out = output_text(&lock(&buf));
                if !out.is_empty() {
                    msg.push_str("\n\n");
                    msg.push_str(&out);
                }
                return (CRITICAL, msg);
            }
        };
        let out = output_text(&lock(&buf));
        match status {
            Ok(s) if s.success() => (PASSING, out),
            Ok(s) if s.code() == Some(1) => (WARNING, out),
            Ok(_) => (CRITICAL, out),
            Err(e) => {
                tracing::error!(target: "agent", "Check failed to wait: check={check_id} error={e}");
                (CRITICAL, out)
            }
        }
    }
}

/// The captured output as Consul words it when truncated (script and Docker checks).
pub(super) fn output_text(buf: &TailBuf) -> String {
    if buf.truncated() {
        format!(
            "Captured {} of {} bytes\n...\n{}",
            buf.max,
            buf.total,
            buf.text()
        )
    } else {
        buf.text()
    }
}

async fn drain(pipe: Option<impl AsyncRead + Unpin>, buf: &Mutex<TailBuf>) {
    let Some(mut pipe) = pipe else { return };
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => lock(buf).write(&chunk[..n]),
        }
    }
}

/// Go's `exec` error texts for a command that could not start.
fn spawn_error_text(prog: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound && !prog.contains('/') {
        format!("exec: {prog:?}: executable file not found in $PATH")
    } else {
        format!("fork/exec {prog}: {}", super::net::errno_text(e))
    }
}

/// Kills the check's process group (the script and whatever it started) when the probe is
/// abandoned — on timeout, or when the check's task is aborted mid-run.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    #[allow(unsafe_code)]
    fn kill(&mut self) {
        if let Some(pgid) = self
            .0
            .take()
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0)
        {
            // SAFETY: kill(2) takes no pointers; a negative pid addresses the process group
            // that `process_group(0)` created for our still unreaped child.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api_types::GoDuration;

    fn sh(script: &str) -> CheckRegistration {
        CheckRegistration {
            args: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn script_exit_codes() {
        assert_eq!(
            ScriptProbe::new(&sh("echo hello")).run("s").await,
            (PASSING, "hello\n".to_string())
        );
        assert_eq!(
            ScriptProbe::new(&sh("exit 1")).run("s").await,
            (WARNING, String::new())
        );
        assert_eq!(
            ScriptProbe::new(&sh("echo bad >&2; exit 2")).run("s").await,
            (CRITICAL, "bad\n".to_string())
        );
        let (status, out) = ScriptProbe::new(&sh("echo out; echo err >&2; exit 1"))
            .run("s")
            .await;
        assert_eq!(status, WARNING);
        assert!(out.contains("out\n") && out.contains("err\n"), "{out:?}");
        // Killed by a signal: critical.
        assert_eq!(
            ScriptProbe::new(&sh("kill -9 $$")).run("s").await.0,
            CRITICAL
        );
    }

    #[tokio::test]
    async fn legacy_script_field_runs_in_a_shell() {
        let spec = CheckRegistration {
            script: "echo legacy; exit 1".into(),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        };
        assert_eq!(
            ScriptProbe::new(&spec).run("s").await,
            (WARNING, "legacy\n".to_string())
        );
    }

    #[tokio::test]
    async fn script_output_is_capped() {
        let spec = CheckRegistration {
            output_max_size: 4,
            ..sh("printf 0123456789")
        };
        assert_eq!(
            ScriptProbe::new(&spec).run("s").await,
            (PASSING, "Captured 4 of 10 bytes\n...\n6789".to_string())
        );
    }

    #[tokio::test]
    async fn script_timeout_kills_the_group() {
        let spec = CheckRegistration {
            timeout: GoDuration(300_000_000),
            ..sh("echo started; sleep 30; echo never")
        };
        let start = std::time::Instant::now();
        let (status, out) = ScriptProbe::new(&spec).run("s").await;
        assert_eq!(status, CRITICAL);
        assert_eq!(out, "Timed out (300ms) running check\n\nstarted\n");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn script_that_cannot_start() {
        let spec = CheckRegistration {
            args: Some(vec!["/nonexistent/check".into()]),
            ..sh("")
        };
        assert_eq!(
            ScriptProbe::new(&spec).run("s").await,
            (
                CRITICAL,
                "fork/exec /nonexistent/check: no such file or directory".to_string()
            )
        );
        let spec = CheckRegistration {
            args: Some(vec!["no-such-check-command-xyz".into()]),
            ..sh("")
        };
        assert_eq!(
            ScriptProbe::new(&spec).run("s").await,
            (
                CRITICAL,
                "exec: \"no-such-check-command-xyz\": executable file not found in $PATH"
                    .to_string()
            )
        );
    }

    #[tokio::test]
    async fn script_check_through_runner() {
        use super::super::testutil::*;
        let (rec, runner) = runner();
        runner.sync(&[record("s", sh("echo failing; exit 1"))]);
        let u = rec.wait_for("s", 5, |u| !u.is_empty()).await;
        assert_eq!(u, vec![(WARNING.to_string(), "failing\n".to_string())]);
        runner.stop_all();
    }
}
