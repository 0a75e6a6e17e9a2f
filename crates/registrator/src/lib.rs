//! registrator: registers Docker containers' ports as services (Consul, etcd, SkyDNS 2), a
//! drop-in for gliderlabs/registrator.
//!
//! Code map: [`cli`] (Go-style flags → [`cli::Options`]), [`docker`] (the only module naming
//! bollard), [`mapping`] (pure: inspect + settings → registrations), [`registry`] (the
//! [`registry::Registry`] trait and the backends: Consul, etcd, SkyDNS 2), [`sync`] (the event
//! loop).
//! [`run`] wires them in upstream's startup order.

pub mod cli;
pub mod docker;
pub mod mapping;
pub mod registry;
pub mod sync;

use registry::Registry;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;
use tracing::info;

/// Why registrator stopped (each is an upstream `log.Fatal`: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Options(#[from] cli::InvalidOptions),
    #[error(transparent)]
    Uri(#[from] registry::UriError),
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
}

/// The host's name (`os.Hostname()`), the first part of every service ID.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Resolves `host` like Go's `net.ResolveIPAddr("ip", host)`: the first IPv4 address, else the
/// first address. Falls back to reading `/etc/hosts` (a static binary in a `FROM scratch` image
/// has no NSS modules, where Go's own resolver still reads the file).
pub async fn resolve_ip(host: &str) -> Option<String> {
    if host.is_empty() {
        return None;
    }
    let addrs: Vec<IpAddr> = match tokio::net::lookup_host((host, 0)).await {
        Ok(a) => a.map(|a| a.ip()).collect(),
        Err(_) => std::fs::read_to_string("/etc/hosts")
            .map(|t| hosts_lookup(&t, host))
            .unwrap_or_default(),
    };
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(IpAddr::to_string)
}

/// Addresses for `host` in `/etc/hosts` text, in file order.
pub fn hosts_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let ip: IpAddr = f.next()?.parse().ok()?;
            f.any(|n| n.eq_ignore_ascii_case(host)).then_some(ip)
        })
        .collect()
}

/// Pings the registry per `-retry-attempts` / `-retry-interval`.
pub async fn connect_registry<R: Registry>(reg: &R, opts: &cli::Options) -> Result<(), RunError> {
    let mut attempt: i64 = 0;
    loop {
        info!("Connecting to backend ({attempt}/{})", opts.retry_attempts);
        match reg.ping().await {
            Ok(answer) => {
                info!("{}", reg.ping_log(&answer));
                return Ok(());
            }
            Err(e) if opts.retry_attempts != -1 && attempt >= opts.retry_attempts => {
                return Err(e.into())
            }
            Err(e) => info!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(opts.retry_interval_ms.max(1) as u64)).await;
        attempt += 1;
    }
}

/// Runs registrator with parsed options until `shutdown` resolves.
pub async fn run(opts: cli::Options, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    info!("Starting registrator {} ...", cli::VERSION);
    if !opts.ip.is_empty() {
        info!("Forcing host IP to {}", opts.ip);
    }
    opts.validate()?;
    let target = registry::uri::target(&opts.registry_uri, &|k| std::env::var(k).ok())?;
    let backend = registry::open(&target, opts.ttl).await?;
    info!(
        "Using {} adapter: {}",
        registry::uri::scheme(&opts.registry_uri),
        opts.registry_uri
    );
    connect_registry(&backend, &opts).await?;
    let engine = docker::Docker::from_env().await?;
    info!(
        "Connected to Docker at {} (API {})",
        engine.host(),
        engine.api_version()
    );
    let hostname = hostname();
    let resolved_ip = resolve_ip(&hostname).await;
    let cfg = sync::SyncConfig {
        settings: mapping::Settings {
            ip: opts.ip.clone(),
            internal: opts.internal,
            explicit: opts.explicit,
            tags: opts.tags.clone(),
            use_ip_from_label: opts.use_ip_from_label.clone(),
        },
        host: mapping::Host {
            hostname,
            resolved_ip,
        },
        deregister: opts.deregister_policy(),
        cleanup: opts.cleanup,
        resync: (opts.resync_secs > 0).then(|| Duration::from_secs(opts.resync_secs)),
        ttl_refresh: (opts.ttl_refresh > 0).then(|| Duration::from_secs(opts.ttl_refresh as u64)),
    };
    sync::run(engine, backend, cfg, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn etc_hosts() {
        let t = "127.0.0.1 localhost\n# c\n::1 web-node\n10.0.0.5  web-node  web # x\n";
        let got: Vec<String> = super::hosts_lookup(t, "web-node")
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(got, ["::1", "10.0.0.5"]);
    }
}
