//! Pure: one [`Container`] (read from Docker's inspect JSON) + settings → the Consul service
//! registrations upstream registrator (master, v7.4) produces for it. No I/O: the host name,
//! its resolved IP and the IP of a `container:<id>` network peer are looked up by the caller
//! and passed in.
//!
//! Architecture invariant: the mapping names neither bollard nor any transport; `docker.rs`
//! converts the engine's answer into a [`Container`].
//!
//! Deliberate differences from upstream (see `docs/registrator.md`): tags keep their written
//! order; ports are processed in sorted order (upstream: random map order); an IPv4 port binding
//! is preferred over an IPv6 one; a Docker `HEALTHCHECK` becomes a TTL check when no
//! `SERVICE_CHECK_*` asks for another check; the container IP of a container on several
//! networks is chosen by a fixed rule ([`container_ip`]; upstream: random map order), and
//! with `-internal` `SERVICE_[<port>_]NETWORK` names the network (an extension: upstream's
//! open pull request #529).

mod check;
mod container;
pub mod meta;
pub mod tags;

pub use check::{docker_health_check, DOCKER_HEALTH_TTL_SECS};
pub use container::{Container, PortBinding};

use api_types::ServiceRegistration;
use meta::{service_metadata, split_tags};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The flags that shape registrations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `-ip`
    pub ip: String,
    /// `-internal`
    pub internal: bool,
    /// `-explicit`
    pub explicit: bool,
    /// `-tags`, already rendered for this container.
    pub tags: String,
    /// `-useIpFromLabel`
    pub use_ip_from_label: String,
}

/// Facts about the registrator host, looked up once by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Host {
    /// `os.Hostname()`: the first part of every service ID.
    pub hostname: String,
    /// The hostname resolved via DNS (IPv4 preferred); replaces a `0.0.0.0` host IP.
    pub resolved_ip: Option<String>,
}

/// What one container maps to: its services and the log lines upstream prints while mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapped {
    pub services: Vec<ServiceRegistration>,
    pub notes: Vec<String>,
}

/// One candidate port (upstream's `ServicePort`).
#[derive(Debug, Clone)]
struct Port {
    host_ip: String,
    host_port: String,
    exposed_port: String,
    proto: String,
}

/// `container:<id>` network mode: the peer whose IP the services must use.
pub fn network_container(c: &Container) -> Option<String> {
    c.network_mode
        .strip_prefix("container:")
        .map(str::to_string)
}

/// Whether the container has a Docker `HEALTHCHECK` (not disabled with `NONE`).
pub fn has_healthcheck(c: &Container) -> bool {
    c.healthcheck.first().is_some_and(|t| t != "NONE")
}

/// Whether Docker currently reports the container healthy.
pub fn is_healthy(c: &Container) -> bool {
    c.health_status == "healthy"
}

/// The container's IP when no network is named (upstream `ExposedIP`, and the IP of a
/// `container:<id>` network peer): `NetworkSettings.IPAddress` when the engine sets it (the
/// default bridge's address, before API 1.52); else the address on the network
/// `HostConfig.NetworkMode` names (the one the container was created on; `default` is
/// `bridge`); else the first network, by name, that has an address; else empty.
///
/// Upstream takes `IPAddress`, else whichever network Go's random map iteration visits last,
/// so a container on several user-defined networks got a different address from run to run.
pub fn container_ip(c: &Container) -> String {
    if let Some(ip) = c.ip_address.as_deref().filter(|ip| !ip.is_empty()) {
        return ip.to_string();
    }
    let primary = match c.network_mode.as_str() {
        "default" => "bridge",
        mode => mode,
    };
    let has_ip = |ip: &&String| !ip.is_empty();
    c.networks
        .get(primary)
        .filter(has_ip)
        .or_else(|| c.networks.values().find(has_ip))
        .cloned()
        .unwrap_or_default()
}

/// `SERVICE_[<port>_]NETWORK=host` with `-internal`: the service is registered as without
/// `-internal` (the host's address and the published port), as upstream's open pull request
/// #529 does.
const HOST_NETWORK: &str = "host";

/// Candidate ports: exposed ports, overwritten by runtime port mappings (upstream `servicePort`).
fn ports(c: &Container) -> Vec<Port> {
    let mode = c.network_mode.as_str();
    let net_ip = c.networks.get(mode).cloned().unwrap_or_default();
    let mut by_key: BTreeMap<(u32, String), (String, String, String)> = BTreeMap::new();
    let mut put = |key: &str, ip: String, port: String| {
        let (num, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let sort = num.parse::<u32>().unwrap_or(u32::MAX);
        by_key.insert(
            (sort, key.to_string()),
            (ip, port, format!("{num}/{proto}")),
        );
    };
    for key in &c.exposed_ports {
        let num = key.split('/').next().unwrap_or_default().to_string();
        put(key, "0.0.0.0".to_string(), num);
    }
    for (key, list) in &c.ports {
        let is_v6 = |b: &&PortBinding| b.host_ip.contains(':');
        let first = list.iter().find(|b| !is_v6(b)).or_else(|| list.first());
        let ip = first.map(|b| b.host_ip.clone()).unwrap_or_default();
        let port = first.map(|b| b.host_port.clone()).unwrap_or_default();
        put(key, ip, port);
    }
    by_key
        .into_values()
        .map(|(mut host_ip, host_port, key)| {
            if host_ip.is_empty() {
                host_ip = "0.0.0.0".to_string();
            }
            if !matches!(mode, "bridge" | "default" | "host") {
                host_ip = net_ip.clone();
            }
            let (num, proto) = key.split_once('/').unwrap_or((&key, "tcp"));
            Port {
                host_ip,
                host_port,
                exposed_port: num.to_string(),
                proto: proto.to_string(),
            }
        })
        .collect()
}

/// Maps one container. `linked_ip` is the IP of the `container:<id>` network peer, if any.
pub fn services(c: &Container, s: &Settings, host: &Host, linked_ip: Option<&str>) -> Mapped {
    let mut out = Mapped::default();
    let id12: String = c.id.chars().take(12).collect();
    let candidates = ports(c);
    if candidates.is_empty() {
        out.notes
            .push(format!("ignored: {id12} no published ports"));
        return out;
    }
    let mut kept = Vec::new();
    for p in candidates {
        if !s.internal && p.host_port.is_empty() {
            out.notes.push(format!(
                "ignored: {id12} port {} not published on host",
                p.exposed_port
            ));
        } else {
            kept.push(p);
        }
    }
    let is_group = kept.len() > 1;
    for p in kept {
        match service(c, s, host, linked_ip, &p, is_group, &mut out.notes) {
            Ok(Some(reg)) => out.services.push(reg),
            Ok(None) => out.notes.push(format!(
                "ignored: {id12} service on port {}",
                p.exposed_port
            )),
            Err(e) => out.notes.push(format!(
                "ignored: {id12} service on port {}: {e}",
                p.exposed_port
            )),
        }
    }
    out
}

/// Upstream `newService` for one port; informational log lines go to `notes`.
fn service(
    c: &Container,
    s: &Settings,
    host: &Host,
    linked_ip: Option<&str>,
    p: &Port,
    is_group: bool,
    notes: &mut Vec<String>,
) -> Result<Option<ServiceRegistration>, String> {
    let base = c.image.rsplit('/').next().unwrap_or_default();
    let default_name = base.split(':').next().unwrap_or_default().to_string();
    let hostname = if host.hostname.is_empty() {
        p.host_ip.clone()
    } else {
        host.hostname.clone()
    };
    let mut host_ip = p.host_ip.clone();
    if host_ip == "0.0.0.0" {
        if let Some(ip) = &host.resolved_ip {
            host_ip = ip.clone();
        }
    }
    if !s.ip.is_empty() {
        host_ip = s.ip.clone();
    }
    let labels = &c.labels;
    let meta = service_metadata(&c.env, labels, &p.exposed_port);
    if meta.get("ignore").is_some() {
        return Ok(None);
    }
    let mut name = match meta.get("name") {
        Some(n) => n.to_string(),
        None if s.explicit => return Ok(None),
        None => default_name,
    };
    if is_group && !meta.from_port.contains("name") {
        name = format!("{name}-{}", p.exposed_port);
    }
    let mut sid = format!("{hostname}:{}:{}", c.short_name(), p.exposed_port);
    let id12: String = c.id.chars().take(12).collect();
    let published = (host_ip, p.host_port.parse().unwrap_or(0));
    let exposed_port = p.exposed_port.parse().unwrap_or(0);
    let (mut ip, port) = match (s.internal, meta.get("network")) {
        (false, None) => published,
        (false, Some(net)) => {
            notes.push(format!(
                "{id12} port {}: network {net:?} (SERVICE_NETWORK) is used with -internal only",
                p.exposed_port
            ));
            published
        }
        (true, None) => (container_ip(c), exposed_port),
        (true, Some(net)) if net.eq_ignore_ascii_case(HOST_NETWORK) => {
            if p.host_port.is_empty() {
                return Err(format!(
                    "network {net:?} (SERVICE_NETWORK) asks for the published port, and port {} is not published on host",
                    p.exposed_port
                ));
            }
            published
        }
        (true, Some(net)) => match c.networks.get(net).filter(|ip| !ip.is_empty()) {
            Some(ip) => (ip.clone(), exposed_port),
            None => {
                let ip = container_ip(c);
                notes.push(format!(
                    "{id12} port {}: no address on network {net:?} (SERVICE_NETWORK), using {ip:?}",
                    p.exposed_port
                ));
                (ip, exposed_port)
            }
        },
    };
    if !s.use_ip_from_label.is_empty() {
        let label = &s.use_ip_from_label;
        match labels.get(label).filter(|v| !v.is_empty()) {
            Some(v) => {
                ip = v
                    .rsplit_once('/')
                    .map_or(v.as_str(), |(a, _)| a)
                    .to_string();
                notes.push(format!("using container IP {ip} from label '{label}'"));
            }
            None => notes.push(format!(
                "Label '{label}' not found in container configuration"
            )),
        }
    }
    if let Some(linked) = linked_ip {
        ip = linked.to_string();
    }
    let mut tags = split_tags(meta.get("tags").unwrap_or_default());
    tags.extend(split_tags(&s.tags));
    if p.proto == "udp" {
        tags.push("udp".to_string());
        sid.push_str(":udp");
    }
    if let Some(custom) = meta.get("id") {
        sid = custom.to_string();
    }
    let target = check::Target {
        ip: &ip,
        port,
        container_id: &c.id,
        exposed_port: &p.exposed_port,
    };
    let mut chk = check::build_check(&meta, &target)?;
    if chk.is_none() && has_healthcheck(c) {
        chk = Some(docker_health_check(is_healthy(c)));
    }
    let mut attrs = meta.attrs;
    for k in ["id", "tags", "name"] {
        attrs.remove(k);
    }
    Ok(Some(ServiceRegistration {
        id: sid,
        name,
        tags: (!tags.is_empty()).then_some(tags),
        port,
        address: ip,
        meta: (!attrs.is_empty()).then_some(attrs),
        check: chk,
        ..Default::default()
    }))
}
