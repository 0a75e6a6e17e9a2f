//! One container as the mapping sees it: the facts of Docker's inspect document that
//! registrations are built from, in plain types, plus the whole document for `-tags`
//! templates.
//!
//! It is read from Docker's inspect JSON (`GET /containers/{id}/json`) by its `Deserialize`:
//! recorded fixtures are read that way, and `docker.rs` turns the engine's answer into the
//! same JSON first, so a live container and a fixture go through one conversion. Absent and
//! `null` values read as empty, as Go's zero values would.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// One host binding of a published port (`NetworkSettings.Ports["80/tcp"][i]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortBinding {
    /// `HostIp`: `0.0.0.0`, `::`, a specific address, or empty.
    pub host_ip: String,
    /// `HostPort`, as Docker writes it (a decimal string).
    pub host_port: String,
}

/// A container, reduced to what the mapping reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Container {
    /// `Id`: the full container ID.
    pub id: String,
    /// `Name`, with Docker's leading `/`.
    pub name: String,
    /// `Config.Image`, as the container was started with it (`reg:5000/team/web:1.2`).
    pub image: String,
    /// `Config.Env`, `KEY=value` entries in order.
    pub env: Vec<String>,
    /// `Config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// `Config.ExposedPorts` keys (`80/tcp`), sorted.
    pub exposed_ports: Vec<String>,
    /// `Config.Healthcheck.Test` (`["CMD", ...]`, `["NONE"]`, or empty for none).
    pub healthcheck: Vec<String>,
    /// `State.Running`.
    pub running: bool,
    /// `State.ExitCode`.
    pub exit_code: i64,
    /// `State.Health.Status` (`starting`, `healthy`, `unhealthy`), empty without a check.
    pub health_status: String,
    /// `HostConfig.NetworkMode` (`default`, `bridge`, `host`, `container:<id>`, a network).
    pub network_mode: String,
    /// `NetworkSettings.IPAddress`; `None` where the engine leaves it out (API 1.52 and on).
    pub ip_address: Option<String>,
    /// `NetworkSettings.Networks`: each network's `IPAddress`, by network name.
    pub networks: BTreeMap<String, String>,
    /// `NetworkSettings.Ports`: the host bindings of each container port (`80/tcp`); an
    /// exposed port that is not published has none.
    pub ports: BTreeMap<String, Vec<PortBinding>>,
    /// The whole inspect document, which `-tags` templates are evaluated against.
    pub inspect: serde_json::Value,
}

/// Deserializes `null` as the type's default (Go's zero value).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The parts of Docker's inspect JSON the mapping reads; everything else is ignored.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Inspect {
    #[serde(rename = "Id", deserialize_with = "null_default")]
    id: String,
    #[serde(rename = "Name", deserialize_with = "null_default")]
    name: String,
    #[serde(rename = "Config", deserialize_with = "null_default")]
    config: Config,
    #[serde(rename = "State", deserialize_with = "null_default")]
    state: State,
    #[serde(rename = "HostConfig", deserialize_with = "null_default")]
    host_config: HostConfig,
    #[serde(rename = "NetworkSettings", deserialize_with = "null_default")]
    network_settings: NetworkSettings,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    #[serde(rename = "Image", deserialize_with = "null_default")]
    image: String,
    #[serde(rename = "Env", deserialize_with = "null_default")]
    env: Vec<String>,
    #[serde(rename = "Labels", deserialize_with = "null_default")]
    labels: BTreeMap<String, String>,
    #[serde(rename = "ExposedPorts", deserialize_with = "null_default")]
    exposed_ports: BTreeMap<String, serde::de::IgnoredAny>,
    #[serde(rename = "Healthcheck", deserialize_with = "null_default")]
    healthcheck: Healthcheck,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Healthcheck {
    #[serde(rename = "Test", deserialize_with = "null_default")]
    test: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct State {
    #[serde(rename = "Running", deserialize_with = "null_default")]
    running: bool,
    #[serde(rename = "ExitCode", deserialize_with = "null_default")]
    exit_code: i64,
    #[serde(rename = "Health", deserialize_with = "null_default")]
    health: Health,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Health {
    #[serde(rename = "Status", deserialize_with = "null_default")]
    status: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HostConfig {
    #[serde(rename = "NetworkMode", deserialize_with = "null_default")]
    network_mode: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NetworkSettings {
    #[serde(rename = "IPAddress")]
    ip_address: Option<String>,
    #[serde(rename = "Networks", deserialize_with = "null_default")]
    networks: BTreeMap<String, Endpoint>,
    #[serde(rename = "Ports", deserialize_with = "null_default")]
    ports: BTreeMap<String, Option<Vec<Binding>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Endpoint {
    #[serde(rename = "IPAddress", deserialize_with = "null_default")]
    ip_address: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Binding {
    #[serde(rename = "HostIp", deserialize_with = "null_default")]
    host_ip: String,
    #[serde(rename = "HostPort", deserialize_with = "null_default")]
    host_port: String,
}

impl Container {
    /// Reads Docker's inspect document.
    pub fn from_inspect(inspect: serde_json::Value) -> Result<Container, serde_json::Error> {
        let raw = Inspect::deserialize(&inspect)?;
        let ns = raw.network_settings;
        Ok(Container {
            id: raw.id,
            name: raw.name,
            image: raw.config.image,
            env: raw.config.env,
            labels: raw.config.labels,
            exposed_ports: raw.config.exposed_ports.into_keys().collect(),
            healthcheck: raw.config.healthcheck.test,
            running: raw.state.running,
            exit_code: raw.state.exit_code,
            health_status: raw.state.health.status,
            network_mode: raw.host_config.network_mode,
            ip_address: ns.ip_address,
            networks: ns
                .networks
                .into_iter()
                .map(|(name, e)| (name, e.ip_address))
                .collect(),
            ports: ns
                .ports
                .into_iter()
                .map(|(port, bindings)| {
                    let bindings = bindings
                        .unwrap_or_default()
                        .into_iter()
                        .map(|b| PortBinding {
                            host_ip: b.host_ip,
                            host_port: b.host_port,
                        })
                        .collect();
                    (port, bindings)
                })
                .collect(),
            inspect,
        })
    }

    /// The name without Docker's leading `/`.
    pub fn short_name(&self) -> &str {
        self.name.strip_prefix('/').unwrap_or(&self.name)
    }
}

impl<'de> Deserialize<'de> for Container {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let inspect = serde_json::Value::deserialize(d)?;
        Container::from_inspect(inspect).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_inspect_json() {
        let c: Container = serde_json::from_value(serde_json::json!({
            "Id": "abc", "Name": "/web.1",
            "Config": {"Image": "nginx", "Env": ["A=1"], "Labels": null,
                "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
                "Healthcheck": {"Test": ["CMD", "true"]}},
            "State": {"Running": true, "ExitCode": 0, "Health": {"Status": "healthy"}},
            "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"IPAddress": "172.17.0.2",
                "Networks": {"bridge": {"IPAddress": "172.17.0.2"}},
                "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}},
            "Unknown": {"x": 1}
        }))
        .unwrap();
        assert_eq!((c.id.as_str(), c.short_name()), ("abc", "web.1"));
        assert!(c.labels.is_empty());
        assert_eq!(c.exposed_ports, ["443/tcp", "80/tcp"]);
        assert_eq!(c.health_status, "healthy");
        assert_eq!(c.ip_address.as_deref(), Some("172.17.0.2"));
        assert_eq!(c.ports["443/tcp"], []);
        assert_eq!(c.ports["80/tcp"][0].host_port, "8080");
        assert_eq!(c.inspect["Unknown"]["x"], 1);
        // Nothing at all is an empty container.
        let empty: Container = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.ip_address, None);
        assert!(empty.ports.is_empty());
    }
}
