//! `consul services register|deregister`: services registered with (or removed from) the local
//! agent, from service definition files in the agent's own config format (read by the agent's
//! config loader, as Consul reads them) or from flags.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use crate::config::{self, Sources};
use api_types::{ServiceAddress, ServiceRegistration};
use clap::Parser;
use std::collections::BTreeMap;

/// `consul services` alone: its subcommands, exit 1.
pub fn run_parent(args: &[String]) -> i32 {
    let help = args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"));
    eprint!("{}", super::parent_usage(&["services"]));
    if help {
        0
    } else {
        1
    }
}

#[derive(Parser, Debug)]
struct RegisterFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// ID of the service to register for arg-based registration. If this isn't set, it will default to the -name value.
    #[arg(long, default_value = "")]
    id: String,
    /// Name of the service to register for arg-based registration.
    #[arg(long, default_value = "")]
    name: String,
    /// Address of the service to register for arg-based registration.
    #[arg(long, default_value = "")]
    address: String,
    /// Port of the service to register for arg-based registration.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Path to the Unix domain socket to register for arg-based registration (conflicts with address and port).
    #[arg(long, help_heading = goflags::REFUSED)]
    socket: Option<String>,
    /// Metadata to set on the service, formatted as key=value. This flag may be specified multiple times to set multiple meta fields.
    #[arg(long)]
    meta: Vec<String>,
    /// Tag to add to the service. This flag can be specified multiple times to set multiple tags.
    #[arg(long)]
    tag: Vec<String>,
    /// Tagged address to set on the service, formatted as key=value. This flag may be specified multiple times to set multiple addresses.
    #[arg(long = "tagged-address")]
    tagged_address: Vec<String>,
    /// The services 'kind'
    #[arg(long, default_value = "")]
    kind: String,
    args: Vec<String>,
}

const REGISTER_USAGE: &str = "Usage: consul services register [options] [FILE...]\n\n  Register one or more services using the local agent API. Services can\n  be registered from standard Consul configuration files (HCL or JSON) or\n  using flags. The service is registered and the command returns. The caller\n  must remember to call \"consul services deregister\" or a similar API to\n  deregister the service when complete.\n\n      $ consul services register web.json\n\n  Additional flags and more advanced use cases are detailed below.";

/// `key=value` flags into a map (Go's `FlagMapValue`).
fn pairs(values: &[String]) -> Result<BTreeMap<String, String>, String> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("Missing \"=\" value in argument: {v}")),
        })
        .collect()
}

/// `host:port` (or a bare host) as a tagged address.
fn service_addr(v: &str) -> Result<ServiceAddress, String> {
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.ends_with(':') => {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("invalid port {port:?} in {v:?}"))?;
            Ok(ServiceAddress {
                address: host.trim_matches(['[', ']']).to_string(),
                port,
            })
        }
        _ => Ok(ServiceAddress {
            address: v.to_string(),
            port: 0,
        }),
    }
}

/// The services defined in `files`, read as the agent reads config files.
fn services_from_files(files: &[String]) -> Result<Vec<ServiceRegistration>, String> {
    let sources = Sources {
        // As Consul: dev mode supplies what a bare services file lacks (data_dir, ...).
        dev: true,
        config_paths: files.iter().map(Into::into).collect(),
        config_format: None,
        hcl: Vec::new(),
        flags: serde_json::json!({}),
    };
    config::load(&sources)
        .map(|c| c.services)
        .map_err(|e| e.to_string())
}

/// Runs `consul services register`.
pub fn run_register(args: &[String]) -> i32 {
    let flags: RegisterFlags = match goflags::parse("register", REGISTER_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let (meta, tagged) = match (pairs(&flags.meta), pairs(&flags.tagged_address)) {
        (Ok(m), Ok(t)) => (m, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let mut tagged_addresses = BTreeMap::new();
    for (k, v) in tagged {
        match service_addr(&v) {
            Ok(a) => {
                tagged_addresses.insert(k, a);
            }
            Err(e) => {
                eprintln!("Invalid Tagged Address: {e}");
                return 1;
            }
        }
    }
    if flags.args.is_empty() && flags.name.is_empty() {
        eprintln!("Service registration requires at least one argument or flags.");
        return 1;
    }
    if !flags.args.is_empty() && !flags.name.is_empty() {
        eprintln!("Service registration requires arguments or -id, not both.");
        return 1;
    }
    let services = if flags.args.is_empty() {
        vec![ServiceRegistration {
            kind: flags.kind.clone(),
            id: flags.id.clone(),
            name: flags.name.clone(),
            address: flags.address.clone(),
            port: flags.port,
            tags: (!flags.tag.is_empty()).then(|| flags.tag.clone()),
            meta: (!meta.is_empty()).then_some(meta),
            tagged_addresses: (!tagged_addresses.is_empty()).then_some(tagged_addresses),
            ..Default::default()
        }]
    } else {
        let mut from_files = match services_from_files(&flags.args) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("Error: {e}");
                return 1;
            }
        };
        // Flags fill in what a file leaves out; meta, tagged addresses and tags add to it.
        for svc in &mut from_files {
            for (mine, flag) in [
                (&mut svc.id, &flags.id),
                (&mut svc.name, &flags.name),
                (&mut svc.address, &flags.address),
                (&mut svc.kind, &flags.kind),
            ] {
                if mine.is_empty() {
                    mine.clone_from(flag);
                }
            }
            if svc.port == 0 {
                svc.port = flags.port;
            }
            svc.meta
                .get_or_insert_with(BTreeMap::new)
                .extend(meta.clone());
            svc.tagged_addresses
                .get_or_insert_with(BTreeMap::new)
                .extend(tagged_addresses.clone());
            svc.tags
                .get_or_insert_with(Vec::new)
                .extend(flags.tag.iter().cloned());
        }
        from_files
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        for svc in &services {
            if let Err(e) = client.service_register(svc).await {
                eprintln!("Error registering service {:?}: {e}", svc.name);
                return 1;
            }
            println!("Registered service: {}", svc.name);
        }
        0
    })
}

#[derive(Parser, Debug)]
struct DeregisterFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// ID to delete. This must not be set if arguments are given.
    #[arg(long, default_value = "")]
    id: String,
    args: Vec<String>,
}

const DEREGISTER_USAGE: &str = "Usage: consul services deregister [options] [FILE...]\n\n  Deregister one or more services that were previously registered with\n  the local agent.\n\n      $ consul services deregister web.json db.json\n\n  The -id flag may be used to deregister a single service by ID:\n\n      $ consul services deregister -id=web\n\n  Services are deregistered from the local agent catalog. This command must\n  be run against the same agent where the service was registered.";

/// Runs `consul services deregister`.
pub fn run_deregister(args: &[String]) -> i32 {
    let flags: DeregisterFlags = match goflags::parse("deregister", DEREGISTER_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.args.is_empty() && flags.id.is_empty() {
        eprintln!("Service deregistration requires at least one argument or -id.");
        return 1;
    }
    if !flags.args.is_empty() && !flags.id.is_empty() {
        eprintln!("Service deregistration requires arguments or -id, not both.");
        return 1;
    }
    let ids: Vec<(String, String)> = if flags.args.is_empty() {
        vec![(flags.id.clone(), String::new())]
    } else {
        match services_from_files(&flags.args) {
            Ok(s) => s
                .into_iter()
                .map(|s| {
                    let id = if s.id.is_empty() {
                        s.name.clone()
                    } else {
                        s.id
                    };
                    (id, s.name)
                })
                .filter(|(id, _)| !id.is_empty())
                .collect(),
            Err(e) => {
                eprintln!("Error: {e}");
                return 1;
            }
        }
    };
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    super::block_on(async move {
        for (id, name) in &ids {
            if let Err(e) = client.service_deregister(id).await {
                // Consul's own text says "registering" here.
                eprintln!("Error registering service {name:?}: {e}");
                return 1;
            }
            println!("Deregistered service: {id}");
        }
        0
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flag_maps_and_tagged_addresses() {
        assert_eq!(
            pairs(&["a=1".into(), "b=x=y".into()]).unwrap(),
            BTreeMap::from([("a".into(), "1".into()), ("b".into(), "x=y".into())])
        );
        assert_eq!(
            pairs(&["nope".into()]).unwrap_err(),
            "Missing \"=\" value in argument: nope"
        );
        assert_eq!(
            service_addr("10.0.0.1:8080").unwrap(),
            ServiceAddress {
                address: "10.0.0.1".into(),
                port: 8080
            }
        );
        assert_eq!(service_addr("10.0.0.1").unwrap().port, 0);
        assert!(service_addr("h:port").is_err());
    }
}
