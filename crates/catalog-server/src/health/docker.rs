//! Docker checks (Consul's `CheckDocker`): every interval, `Args` (or `Shell -c Script` for the
//! old single-string form; `Shell` defaults to `$SHELL`, else `/bin/sh`) is executed inside
//! container `DockerContainerID` through the Docker API (`DOCKER_HOST`, else the local socket),
//! with a TTY. Exit code 0 is passing, 1 warning, anything else critical; the output is the
//! last `OutputMaxSize` bytes (4 KiB by default) with Consul's `Captured N of M bytes` note when
//! cut. Failures of the API calls are critical with Consul's texts (`create exec failed for
//! unknown container <id>`, `… is paused or stopped`). Like Consul's, the check has no timeout.

use super::status::{HealthStatus, CRITICAL, PASSING, WARNING};
use super::{output_max, TailBuf};
use api_types::CheckRegistration;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use futures::StreamExt;

pub(crate) struct DockerProbe {
    client: Result<Docker, String>,
    container: String,
    cmd: Vec<String>,
    max: usize,
}

/// The command a Docker check runs: `Args`, else `[shell, "-c", script]`.
pub(crate) fn command(spec: &CheckRegistration, env_shell: Option<String>) -> Vec<String> {
    match &spec.args {
        Some(args) if !args.is_empty() => args.clone(),
        _ => {
            let shell = if spec.shell.is_empty() {
                env_shell
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "/bin/sh".to_string())
            } else {
                spec.shell.clone()
            };
            vec![shell, "-c".to_string(), spec.script.clone()]
        }
    }
}

/// The health of an exec's exit code.
pub(crate) fn status_of(exit_code: i64) -> HealthStatus {
    match exit_code {
        0 => PASSING,
        1 => WARNING,
        _ => CRITICAL,
    }
}

impl DockerProbe {
    pub(crate) fn new(spec: &CheckRegistration) -> DockerProbe {
        DockerProbe {
            client: Docker::connect_with_defaults().map_err(|e| e.to_string()),
            container: spec.docker_container_id.clone(),
            cmd: command(spec, std::env::var("SHELL").ok()),
            max: output_max(spec),
        }
    }

    pub(crate) async fn run(&self, check_id: &str) -> (HealthStatus, String) {
        match self.exec().await {
            Ok((code, out)) => {
                let output = super::script::output_text(&out);
                tracing::trace!(target: "agent", "Check output: check={check_id} output={output}");
                (status_of(code), output)
            }
            Err(e) => {
                tracing::debug!(target: "agent", "Check failed: check={check_id} error={e}");
                (CRITICAL, e)
            }
        }
    }

    /// Runs the command in the container: its exit code and output.
    async fn exec(&self) -> Result<(i64, TailBuf), String> {
        let docker = self.client.as_ref().map_err(|e| e.clone())?;
        let id = &self.container;
        let created = docker
            .create_exec(
                id,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(self.cmd.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match status(&e) {
                Some(404) => format!("create exec failed for unknown container {id}"),
                Some(409) => {
                    format!("create exec failed since container {id} is paused or stopped")
                }
                Some(code) => format!(
                    "create exec failed for container {id} with status {code}: {}",
                    message(&e)
                ),
                None => format!("create exec failed for container {id}: {e}"),
            })?;
        let exec_id = created.id;
        let started = docker
            .start_exec(
                &exec_id,
                Some(StartExecOptions {
                    detach: false,
                    tty: true,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| start_error(id, &exec_id, &e))?;
        let mut out = TailBuf::new(self.max);
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                match chunk {
                    Ok(c) => out.write(&c.into_bytes()),
                    Err(e) => return Err(start_error(id, &exec_id, &e)),
                }
            }
        }
        let inspected = docker
            .inspect_exec(&exec_id)
            .await
            .map_err(|e| match status(&e) {
                Some(404) => {
                    format!("inspect exec failed for container {id}: invalid exec id {exec_id}")
                }
                Some(code) => format!(
                    "inspect exec failed for container {id} with status {code}: {}",
                    message(&e)
                ),
                None => format!("inspect exec failed for container {id}: {e}"),
            })?;
        Ok((inspected.exit_code.unwrap_or(0), out))
    }
}

fn start_error(id: &str, exec_id: &str, e: &DockerError) -> String {
    match status(e) {
        Some(404) => format!("start exec failed for container {id}: invalid exec id {exec_id}"),
        Some(409) => format!("start exec failed since container {id} is paused or stopped"),
        Some(code) => format!(
            "start exec failed for container {id} with status {code}: body: {} err: <nil>",
            message(e)
        ),
        None => format!("start exec failed for container {id}: {e}"),
    }
}

/// The HTTP status of a Docker API error answer.
fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The message of a Docker API error answer.
fn message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_args_or_shell_script() {
        let args = CheckRegistration {
            args: Some(vec!["/bin/check".into(), "-v".into()]),
            script: "ignored".into(),
            ..Default::default()
        };
        assert_eq!(command(&args, None), vec!["/bin/check", "-v"]);
        let script = CheckRegistration {
            script: "test -f /ok".into(),
            ..Default::default()
        };
        assert_eq!(command(&script, None), vec!["/bin/sh", "-c", "test -f /ok"]);
        assert_eq!(
            command(&script, Some("/bin/bash".into())),
            vec!["/bin/bash", "-c", "test -f /ok"]
        );
        let shell = CheckRegistration {
            shell: "/bin/ash".into(),
            ..script
        };
        assert_eq!(
            command(&shell, Some("/bin/bash".into())),
            vec!["/bin/ash", "-c", "test -f /ok"]
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(status_of(0), PASSING);
        assert_eq!(status_of(1), WARNING);
        assert_eq!(status_of(2), CRITICAL);
        assert_eq!(status_of(127), CRITICAL);
    }
}
