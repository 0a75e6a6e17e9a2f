//! The Docker engine, as registrator sees it: connect (from `DOCKER_HOST`, with API version
//! negotiation), list containers, inspect one, and a stream of container lifecycle events.
//!
//! Architecture invariant: this is the only module that names bollard. Others see the
//! mapping's plain [`Container`] (converted here) and [`ContainerEvent`].

use crate::mapping::Container;
use bollard::container::{InspectContainerOptions, ListContainersOptions};
use bollard::system::EventsOptions;
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Seconds a non-streaming Docker request may take.
const TIMEOUT_SECS: u64 = 60;

/// A Docker engine call that failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot connect to docker at {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("docker: {0}")]
    Api(String),
}

impl From<bollard::errors::Error> for DockerError {
    fn from(e: bollard::errors::Error) -> Self {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            } => DockerError::NotFound(message),
            other => DockerError::Api(other.to_string()),
        }
    }
}

/// A container lifecycle event registrator acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerEvent {
    Start { id: String },
    Die { id: String, exit_code: Option<i64> },
    Health { id: String, healthy: bool },
}

/// The fields of one `/events` message that matter, in either shape: current (`Type`, `Action`,
/// `Actor.ID`) or legacy (`status`, `id`; dropped in API 1.52).
#[derive(Debug, Clone, Default)]
pub struct RawEvent {
    pub typ: String,
    pub action: String,
    pub status: String,
    pub id: String,
    pub actor_id: String,
    pub attributes: HashMap<String, String>,
    pub time: i64,
}

/// Turns a raw event into a [`ContainerEvent`], or `None` for events registrator ignores.
pub fn classify(ev: &RawEvent) -> Option<ContainerEvent> {
    if !ev.typ.is_empty() && ev.typ != "container" {
        return None;
    }
    let action = if ev.action.is_empty() {
        &ev.status
    } else {
        &ev.action
    };
    let id = if ev.actor_id.is_empty() {
        ev.id.clone()
    } else {
        ev.actor_id.clone()
    };
    if id.is_empty() {
        return None;
    }
    match action.as_str() {
        "start" => Some(ContainerEvent::Start { id }),
        "die" => {
            let exit_code = ev.attributes.get("exitCode").and_then(|c| c.parse().ok());
            Some(ContainerEvent::Die { id, exit_code })
        }
        a => match a.strip_prefix("health_status:").map(str::trim) {
            Some("healthy") => Some(ContainerEvent::Health { id, healthy: true }),
            Some("unhealthy") => Some(ContainerEvent::Health { id, healthy: false }),
            _ => None,
        },
    }
}

/// The engine's inspect answer as the mapping's [`Container`]: through the inspect JSON, the
/// one conversion recorded fixtures go through as well.
fn container(
    inspect: &bollard::models::ContainerInspectResponse,
) -> Result<Container, DockerError> {
    let bad = |e: serde_json::Error| DockerError::Api(format!("inspect: {e}"));
    Container::from_inspect(serde_json::to_value(inspect).map_err(bad)?).map_err(bad)
}

/// `DOCKER_HOST`, or upstream's default `unix:///tmp/docker.sock` (the path the tutorial mounts
/// the socket at), falling back to `/var/run/docker.sock` when `/tmp/docker.sock` is absent.
pub fn resolve_host(env: Option<&str>, exists: &dyn Fn(&Path) -> bool) -> String {
    match env {
        Some(h) if !h.is_empty() => h.to_string(),
        _ if exists(Path::new("/tmp/docker.sock")) => "unix:///tmp/docker.sock".to_string(),
        _ => "unix:///var/run/docker.sock".to_string(),
    }
}

/// A connected Docker engine.
#[derive(Clone)]
pub struct Docker {
    client: bollard::Docker,
    host: String,
}

impl Docker {
    /// Connects as the environment says (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`).
    pub async fn from_env() -> Result<Self, DockerError> {
        let env = std::env::var("DOCKER_HOST").ok();
        let host = resolve_host(env.as_deref(), &|p| p.exists());
        let tls = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
        let cert_path = std::env::var("DOCKER_CERT_PATH").ok().map(PathBuf::from);
        Self::connect(&host, tls, cert_path).await
    }

    /// Connects to `host` (`unix://…`, `tcp://…`, `http://…`) and negotiates the API version:
    /// the engine's own version when it is older than bollard's default, so both old engines
    /// (which refuse newer versions) and new ones (which drop very old versions) work.
    pub async fn connect(
        host: &str,
        tls: bool,
        cert_path: Option<PathBuf>,
    ) -> Result<Self, DockerError> {
        let err = |e: bollard::errors::Error| DockerError::Connect {
            host: host.to_string(),
            reason: e.to_string(),
        };
        let v = bollard::API_DEFAULT_VERSION;
        let client = if let Some(path) = host.strip_prefix("unix://") {
            bollard::Docker::connect_with_unix(path, TIMEOUT_SECS, v).map_err(err)?
        } else if host.starts_with("tcp://")
            || host.starts_with("http://")
            || host.starts_with("https://")
        {
            if tls || host.starts_with("https://") {
                let dir = cert_path.unwrap_or_else(|| PathBuf::from(".docker"));
                bollard::Docker::connect_with_ssl(
                    host,
                    &dir.join("key.pem"),
                    &dir.join("cert.pem"),
                    &dir.join("ca.pem"),
                    TIMEOUT_SECS,
                    v,
                )
                .map_err(err)?
            } else {
                bollard::Docker::connect_with_http(host, TIMEOUT_SECS, v).map_err(err)?
            }
        } else {
            return Err(DockerError::Connect {
                host: host.to_string(),
                reason: "unsupported scheme".to_string(),
            });
        };
        let client = client.negotiate_version().await.map_err(err)?;
        Ok(Docker {
            client,
            host: host.to_string(),
        })
    }

    /// The address this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The negotiated API version, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        let v = self.client.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    /// IDs of running containers (`GET /containers/json`).
    pub async fn list_running(&self) -> Result<Vec<String>, DockerError> {
        self.list(ListContainersOptions::<String>::default()).await
    }

    /// IDs of containers that have not exited (created, restarting, running, paused).
    pub async fn list_non_exited(&self) -> Result<Vec<String>, DockerError> {
        let status = ["created", "restarting", "running", "paused"]
            .map(String::from)
            .to_vec();
        let filters = HashMap::from([("status".to_string(), status)]);
        self.list(ListContainersOptions {
            all: true,
            filters,
            ..Default::default()
        })
        .await
    }

    async fn list(&self, opts: ListContainersOptions<String>) -> Result<Vec<String>, DockerError> {
        let list = self.client.list_containers(Some(opts)).await?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }

    /// `GET /containers/{id}/json`, as the mapping's [`Container`].
    pub async fn inspect(&self, id: &str) -> Result<Container, DockerError> {
        let inspect = self
            .client
            .inspect_container(id, None::<InspectContainerOptions>)
            .await?;
        container(&inspect)
    }

    /// Container events from `since` (unix seconds; events since then are replayed, so nothing
    /// between a listing and the subscription is lost). The stream ends when the engine closes
    /// it; undecodable messages are skipped.
    pub fn events(
        &self,
        since: Option<i64>,
    ) -> impl Stream<Item = Result<(ContainerEvent, i64), DockerError>> + Send + 'static {
        let filters = HashMap::from([("type".to_string(), vec!["container".to_string()])]);
        let opts = EventsOptions::<String> {
            since: since.map(|s| s.to_string()),
            until: None,
            filters,
        };
        self.client
            .events(Some(opts))
            .filter_map(|item| async move {
                match item {
                    Ok(m) => {
                        let actor = m.actor.unwrap_or_default();
                        let raw = RawEvent {
                            typ: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                            action: m.action.unwrap_or_default(),
                            actor_id: actor.id.unwrap_or_default(),
                            attributes: actor.attributes.unwrap_or_default(),
                            time: m.time.unwrap_or_default(),
                            ..Default::default()
                        };
                        classify(&raw).map(|e| Ok((e, raw.time)))
                    }
                    Err(
                        bollard::errors::Error::JsonDataError { .. }
                        | bollard::errors::Error::JsonSerdeError { .. },
                    ) => None,
                    Err(e) => Some(Err(DockerError::Api(e.to_string()))),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(typ: &str, action: &str, status: &str, id: &str, actor: &str) -> RawEvent {
        RawEvent {
            typ: typ.into(),
            action: action.into(),
            status: status.into(),
            id: id.into(),
            actor_id: actor.into(),
            ..Default::default()
        }
    }

    #[test]
    fn event_shapes() {
        let start = Some(ContainerEvent::Start { id: "abc".into() });
        assert_eq!(classify(&raw("container", "start", "", "", "abc")), start);
        // Legacy shape: only `status` and `id`.
        assert_eq!(classify(&raw("", "", "start", "abc", "")), start);
        assert_eq!(classify(&raw("network", "start", "", "", "abc")), None);
        assert_eq!(classify(&raw("container", "stop", "", "", "abc")), None);
        assert_eq!(
            classify(&raw("container", "health_status: unhealthy", "", "", "abc")),
            Some(ContainerEvent::Health {
                id: "abc".into(),
                healthy: false
            })
        );
        assert_eq!(
            classify(&raw("container", "health_status: healthy", "", "", "abc")),
            Some(ContainerEvent::Health {
                id: "abc".into(),
                healthy: true
            })
        );
        let mut die = raw("container", "die", "", "", "abc");
        die.attributes.insert("exitCode".into(), "137".into());
        assert_eq!(
            classify(&die),
            Some(ContainerEvent::Die {
                id: "abc".into(),
                exit_code: Some(137)
            })
        );
    }

    #[test]
    fn inspect_answers_convert_like_their_json() {
        let json = serde_json::json!({
            "Id": "abc", "Name": "/web.1",
            "Config": {"Image": "nginx", "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}},
            "State": {"Running": true, "Health": {"Status": "healthy"}},
            "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "81"}]}}
        });
        let typed: bollard::models::ContainerInspectResponse =
            serde_json::from_value(json.clone()).expect("bollard reads it");
        let via_bollard = container(&typed).expect("converts");
        let direct: Container = serde_json::from_value(json).expect("reads");
        assert_eq!(
            Container {
                inspect: serde_json::Value::Null,
                ..via_bollard
            },
            Container {
                inspect: serde_json::Value::Null,
                ..direct
            }
        );
    }

    #[test]
    fn default_host() {
        assert_eq!(
            resolve_host(Some("tcp://h:2375"), &|_| false),
            "tcp://h:2375"
        );
        assert_eq!(resolve_host(None, &|_| true), "unix:///tmp/docker.sock");
        assert_eq!(
            resolve_host(Some(""), &|_| false),
            "unix:///var/run/docker.sock"
        );
    }
}
