//! Processes: template commands (run after a pass wrote files, bounded by `command_timeout`)
//! and the supervised exec-mode child. A command given as one string holding whitespace runs
//! as `/bin/sh -c "<string>"`, a single word or an argv list runs directly (upstream v0.29.2+).
//! Each runs in its own process group so a timeout kills everything it started.

use std::process::Stdio;
use std::time::Duration;

use crate::config::{Exec, ExecEnv};
use crate::signal::{self, Signal};

/// Why a command failed (a runner error: exit code 14).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The process could not be started.
    #[error("failed to execute command {command:?}: {source}")]
    Spawn {
        /// The command as configured.
        command: String,
        /// The error.
        source: std::io::Error,
    },
    /// It ran longer than its timeout and was killed.
    #[error("command {command:?} timed out after {timeout:?}")]
    Timeout {
        /// The command.
        command: String,
        /// The limit.
        timeout: Duration,
    },
    /// It exited non-zero.
    #[error("command {command:?} exited with a non-zero exit status: {status}")]
    Failed {
        /// The command.
        command: String,
        /// Exit status text.
        status: String,
    },
}

/// The argv to run for a configured command.
pub fn argv(command: &[String]) -> Vec<String> {
    match command {
        [one] if one.split_whitespace().count() > 1 => {
            vec!["/bin/sh".into(), "-c".into(), one.clone()]
        }
        _ => command.to_vec(),
    }
}

fn build(
    command: &[String],
    env_cfg: &ExecEnv,
    env: &[(String, String)],
) -> Option<tokio::process::Command> {
    let argv = argv(command);
    let (prog, args) = argv.split_first()?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args);
    if *env_cfg == ExecEnv::default() {
        // ours, inherited untouched (names or values that are not UTF-8 included)
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    } else {
        let ours = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        cmd.env_clear().envs(env_cfg.build(ours, env));
    }
    cmd.stdin(Stdio::null()).process_group(0).kill_on_drop(true);
    crate::info!("(child) spawning: {}", argv.join(" "));
    Some(cmd)
}

/// Runs a template command to completion within `timeout`, its environment built from
/// `env_cfg` and the runner's variables `env`.
pub async fn run(
    command: &[String],
    timeout: Duration,
    env_cfg: &ExecEnv,
    env: &[(String, String)],
) -> Result<(), CommandError> {
    let shown = command.join(" ");
    let Some(mut cmd) = build(command, env_cfg, env) else {
        return Ok(());
    };
    let mut child = cmd.spawn().map_err(|source| CommandError::Spawn {
        command: shown.clone(),
        source,
    })?;
    let pid = child.id();
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(r) => r.map_err(|source| CommandError::Spawn {
            command: shown.clone(),
            source,
        })?,
        Err(_) => {
            if let Some(pid) = pid {
                let _ = signal::send(pid, Signal::KILL, true);
            }
            let _ = child.wait().await;
            return Err(CommandError::Timeout {
                command: shown,
                timeout,
            });
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(CommandError::Failed {
            command: shown,
            status: status.to_string(),
        })
    }
}

/// The exec-mode child: started once all templates rendered, signalled or restarted on change.
#[derive(Debug)]
pub struct Child {
    proc: tokio::process::Child,
    config: Exec,
}

impl Child {
    /// Starts the child.
    pub fn spawn(config: &Exec, env: &[(String, String)]) -> Result<Child, CommandError> {
        let shown = config.command.join(" ");
        let mut cmd =
            build(&config.command, &config.env, env).ok_or_else(|| CommandError::Spawn {
                command: shown.clone(),
                source: std::io::Error::other("empty command"),
            })?;
        cmd.stdin(Stdio::inherit());
        let proc = cmd.spawn().map_err(|source| CommandError::Spawn {
            command: shown,
            source,
        })?;
        Ok(Child {
            proc,
            config: config.clone(),
        })
    }

    /// Waits for the child to exit; its exit code (128+signal when killed).
    pub async fn wait(&mut self) -> i32 {
        use std::os::unix::process::ExitStatusExt as _;
        match self.proc.wait().await {
            Ok(s) => s.code().or(s.signal().map(|s| 128 + s)).unwrap_or(1),
            Err(_) => 1,
        }
    }

    /// Sends `sig` to the child.
    pub fn signal(&self, sig: Signal) {
        if let Some(pid) = self.proc.id() {
            if let Err(e) = signal::send(pid, sig, false) {
                crate::warn!("(child) failed to send {sig}: {e}");
            }
        }
    }

    /// Reload after a template change: the reload signal, or a restart without one.
    pub async fn reload(self, env: &[(String, String)]) -> Result<Child, CommandError> {
        splay(self.config.splay).await;
        match self.config.reload_signal {
            Some(sig) => {
                self.signal(sig);
                Ok(self)
            }
            None => {
                let config = self.config.clone();
                self.stop().await;
                Child::spawn(&config, env)
            }
        }
    }

    /// Stops the child: the kill signal, then SIGKILL after `kill_timeout`.
    pub async fn stop(mut self) {
        self.signal(self.config.kill_signal);
        let timeout = self.config.kill_timeout;
        if tokio::time::timeout(timeout, self.proc.wait())
            .await
            .is_err()
        {
            let _ = self.proc.kill().await;
        }
    }
}

async fn splay(max: Duration) {
    if !max.is_zero() {
        let ms = rand::random::<u64>() % (max.as_millis() as u64).max(1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
