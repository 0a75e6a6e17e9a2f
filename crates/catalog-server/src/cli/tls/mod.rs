//! `consul tls ca create` and `consul tls cert create`: Consul's built-in CA and agent
//! certificates, written to the current directory under Consul's file names
//! (`consul-agent-ca.pem`, `dc1-server-consul-0.pem`, ...) with its messages, exit codes and
//! permissions (keys 0600). The certificates themselves are made in [`generate`].

pub mod der;
pub mod generate;

use super::goflags;
use clap::Parser;
use generate::{CaOpts, CertOpts, ExtKeyUsage};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

fn parent(words: &[&str], args: &[String]) -> i32 {
    let code = if args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        0
    } else {
        1
    };
    eprint!("{}", super::parent_usage(words));
    code
}

/// `consul tls` alone: its subcommands, exit 1.
pub fn run_parent(args: &[String]) -> i32 {
    parent(&["tls"], args)
}

/// `consul tls ca` alone: its subcommands, exit 1.
pub fn run_ca_parent(args: &[String]) -> i32 {
    parent(&["tls", "ca"], args)
}

/// `consul tls cert` alone: its subcommands, exit 1.
pub fn run_cert_parent(args: &[String]) -> i32 {
    parent(&["tls", "cert"], args)
}

/// Go's `tls.FileDoesNotExist`: only "no such file" counts as absent.
fn file_does_not_exist(path: &str) -> bool {
    matches!(std::fs::metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// Consul's `file.WriteAtomicWithPerms`: the directory made with `dir_mode`, the contents
/// written to `<path>-<uuid>.tmp` created with `file_mode` (less the umask), synced, and
/// renamed over `path`; the temporary file removed on failure. Errors in Go's words.
pub(crate) fn write_atomic_with_perms(
    path: &str,
    contents: &[u8],
    dir_mode: u32,
    file_mode: u32,
) -> Result<(), String> {
    let tmp = format!("{path}-{}.tmp", uuid::Uuid::new_v4());
    let dir = match Path::new(path).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(&dir)
        .map_err(|e| super::go_io_error("mkdir", &dir.to_string_lossy(), &e))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(file_mode)
        .open(&tmp)
        .map_err(|e| super::go_io_error("open", &tmp, &e))?;
    let written = file
        .write_all(contents)
        .map_err(|e| super::go_io_error("write", &tmp, &e))
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| super::go_io_error("sync", &tmp, &e))
        })
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
                .map_err(|e| super::go_io_error("rename", &format!("{tmp} {path}"), &e))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `os.ReadFile` with Go's error texts.
fn read_file(path: &str) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| super::go_io_error("open", path, &e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| super::go_io_error("read", path, &e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes a certificate (0666 less the umask) and then its key (0600), each followed by
/// `==> Saved NAME`, as both commands end.
fn save(cert_file: &str, cert: &str, key_file: &str, key: &str) -> i32 {
    for (file, contents, mode) in [(cert_file, cert, 0o666), (key_file, key, 0o600)] {
        if let Err(e) = write_atomic_with_perms(file, contents.as_bytes(), 0o755, mode) {
            eprintln!("{e}");
            return 1;
        }
        println!("==> Saved {file}");
    }
    0
}

#[derive(Parser, Debug)]
struct CaCreateFlags {
    /// Add name constraints for the CA. Results in rejecting certificates for other DNS than specified. Can be used multiple times. Only used in combination with -name-constraint.
    #[arg(long = "additional-name-constraint")]
    additional_name_constraint: Vec<String>,
    /// ID of the Consul cluster. Sets the CA's URI with the SPIFFEID composed of the cluster ID and domain  (specified by -domain or 'consul' by default).
    #[arg(long = "cluster-id", default_value = "")]
    cluster_id: String,
    /// Common Name of CA. Defaults to Consul Agent CA.
    #[arg(long = "common-name", default_value = "")]
    common_name: String,
    /// Number of days the CA is valid for. Defaults to 1825 days (approximately 5 years).
    #[arg(long, default_value_t = 1825, allow_hyphen_values = true)]
    days: i64,
    /// The DNS domain of the Consul cluster that agents are configured with. Defaults to consul. Only used when -name-constraint is set. Additional domains can be passed with -additional-name-constraint.
    #[arg(long, default_value = "consul")]
    domain: String,
    /// Enables X.509 name constraints for the CA. If used, the CA only signs certificates for localhost and the domains specified by -domain and -additional-name-constraint. If Consul's UI is served over HTTPS in your deployment, add its DNS name with -additional-constraint. Defaults to false.
    #[arg(long = "name-constraint")]
    name_constraint: bool,
    args: Vec<String>,
}

const CA_CREATE_USAGE: &str = "Usage: consul tls ca create [options]

  Create a new consul CA:

  $ consul tls ca create
  ==> saved consul-agent-ca.pem
  ==> saved consul-agent-ca-key.pem";

/// Runs `consul tls ca create`.
pub fn run_ca_create(args: &[String]) -> i32 {
    let flags: CaCreateFlags = match goflags::parse("create", CA_CREATE_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let cert_file = format!("{}-agent-ca.pem", flags.domain);
    let key_file = format!("{}-agent-ca-key.pem", flags.domain);
    for file in [&cert_file, &key_file] {
        if !file_does_not_exist(file) {
            eprintln!("{file} already exists.");
            return 1;
        }
    }
    let mut constraints = Vec::new();
    if flags.name_constraint {
        constraints = flags.additional_name_constraint.clone();
        constraints.push(flags.domain.clone());
        constraints.push("localhost".to_string());
    }
    let ca = match generate::generate_ca(&CaOpts {
        name: &flags.common_name,
        days: flags.days,
        domain: &flags.domain,
        permitted_dns_domains: &constraints,
        cluster_id: &flags.cluster_id,
    }) {
        Ok(ca) => ca,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    save(&cert_file, &ca.cert_pem, &key_file, &ca.key_pem)
}

#[derive(Parser, Debug)]
struct CertCreateFlags {
    /// Provide an additional dnsname for Subject Alternative Names. localhost is always included. This flag may be provided multiple times.
    #[arg(long = "additional-dnsname")]
    additional_dnsname: Vec<String>,
    /// Provide an additional ipaddress for Subject Alternative Names. 127.0.0.1 is always included. This flag may be provided multiple times.
    #[arg(long = "additional-ipaddress")]
    additional_ipaddress: Vec<String>,
    /// Provide path to the ca. Defaults to #DOMAIN#-agent-ca.pem.
    #[arg(long, default_value = "#DOMAIN#-agent-ca.pem")]
    ca: String,
    /// Generate cli certificate.
    #[arg(long)]
    cli: bool,
    /// Generate client certificate.
    #[arg(long)]
    client: bool,
    /// Provide number of days the certificate is valid for from now on. Defaults to 1 year.
    #[arg(long, default_value_t = 365, allow_hyphen_values = true)]
    days: i64,
    /// Provide the datacenter. Matters only for -server certificates. Defaults to dc1.
    #[arg(long, default_value = "dc1")]
    dc: String,
    /// Provide the domain. Matters only for -server certificates.
    #[arg(long, default_value = "consul")]
    domain: String,
    /// Provide path to the key. Defaults to #DOMAIN#-agent-ca-key.pem.
    #[arg(long, default_value = "#DOMAIN#-agent-ca-key.pem")]
    key: String,
    /// When generating a server cert and this is set an additional dns name is included of the form <node>.server.<datacenter>.<domain>.
    #[arg(long, default_value = "")]
    node: String,
    /// Generate server certificate.
    #[arg(long)]
    server: bool,
    args: Vec<String>,
}

const CERT_CREATE_USAGE: &str = "Usage: consul tls cert create [options]

  Create a new certificate

  $ consul tls cert create -server
  ==> WARNING: Server Certificates grants authority to become a
      server and access all state in the cluster including root keys
      and all ACL tokens. Do not distribute them to production hosts
      that are not server nodes. Store them as securely as CA keys.
  ==> Using consul-agent-ca.pem and consul-agent-ca-key.pem
  ==> Saved dc1-server-consul-0.pem
  ==> Saved dc1-server-consul-0-key.pem
  $ consul tls cert create -client
  ==> Using consul-agent-ca.pem and consul-agent-ca-key.pem
  ==> Saved dc1-client-consul-0.pem
  ==> Saved dc1-client-consul-0-key.pem";

const SERVER_WARNING: &str = "==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.";

/// What a certificate is for, its names and where it goes: Consul's rules per kind.
struct Plan {
    name: String,
    prefix: String,
    dns_names: Vec<String>,
    /// Parsed addresses; `None` for one Go's `net.ParseIP` rejects.
    ip_addresses: Vec<Option<IpAddr>>,
    ext_key_usage: Vec<ExtKeyUsage>,
}

fn plan(flags: &CertCreateFlags) -> Plan {
    // Go keeps a non-empty value trimmed (so " " becomes an empty name).
    let mut dns_names: Vec<String> = flags
        .additional_dnsname
        .iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect();
    let mut ip_addresses: Vec<Option<IpAddr>> = flags
        .additional_ipaddress
        .iter()
        .filter(|i| !i.is_empty())
        .map(|i| i.trim().parse().ok())
        .collect();
    let localhost = Some(IpAddr::from([127, 0, 0, 1]));
    let (dc, domain) = (&flags.dc, &flags.domain);
    if flags.server {
        let name = format!("server.{dc}.{domain}");
        if !flags.node.is_empty() {
            dns_names.push(format!("{}.server.{dc}.{domain}", flags.node));
        }
        dns_names.push(name.clone());
        dns_names.push("localhost".to_string());
        ip_addresses.push(localhost);
        Plan {
            name,
            prefix: format!("{dc}-server-{domain}"),
            dns_names,
            ip_addresses,
            ext_key_usage: vec![ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth],
        }
    } else if flags.client {
        let name = format!("client.{dc}.{domain}");
        dns_names.push(name.clone());
        dns_names.push("localhost".to_string());
        ip_addresses.push(localhost);
        Plan {
            name,
            prefix: format!("{dc}-client-{domain}"),
            dns_names,
            ip_addresses,
            ext_key_usage: vec![ExtKeyUsage::ClientAuth, ExtKeyUsage::ServerAuth],
        }
    } else {
        // -cli: Consul replaces the DNS names (the additional ones are dropped) but keeps
        // the additional addresses, without 127.0.0.1.
        let name = format!("cli.{dc}.{domain}");
        Plan {
            dns_names: vec![name.clone(), "localhost".to_string()],
            name,
            prefix: format!("{dc}-cli-{domain}"),
            ip_addresses,
            ext_key_usage: Vec::new(),
        }
    }
}

/// The first `<prefix>-<n>.pem` / `<prefix>-<n>-key.pem` pair of which neither exists.
fn free_file_names(prefix: &str) -> Option<(String, String)> {
    (0..=10_000).find_map(|i| {
        let cert = format!("{prefix}-{i}.pem");
        let key = format!("{prefix}-{i}-key.pem");
        (file_does_not_exist(&cert) && file_does_not_exist(&key)).then_some((cert, key))
    })
}

/// Runs `consul tls cert create`.
pub fn run_cert_create(args: &[String]) -> i32 {
    let flags: CertCreateFlags = match goflags::parse("create", CERT_CREATE_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.ca.is_empty() {
        eprintln!("Please provide the ca");
        return 1;
    }
    if flags.key.is_empty() {
        eprintln!("Please provide the key");
        return 1;
    }
    if [flags.server, flags.client, flags.cli]
        .iter()
        .filter(|&&b| b)
        .count()
        != 1
    {
        eprintln!("Please provide either -server, -client, or -cli");
        return 1;
    }
    if !flags.node.is_empty() && !flags.server {
        eprintln!("-node requires -server");
        return 1;
    }
    let plan = plan(&flags);
    let Some((cert_file, key_file)) = free_file_names(&plan.prefix) else {
        eprintln!("Could not find a filename that doesn't already exist");
        return 1;
    };
    let ca_file = flags.ca.replacen("#DOMAIN#", &flags.domain, 1);
    let ca_key_file = flags.key.replacen("#DOMAIN#", &flags.domain, 1);
    let ca = match read_file(&ca_file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error reading CA: {e}");
            return 1;
        }
    };
    let ca_key = match read_file(&ca_key_file) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("Error reading CA key: {e}");
            return 1;
        }
    };
    if flags.server {
        println!("{SERVER_WARNING}");
    }
    println!("==> Using {ca_file} and {ca_key_file}");

    let signer = match generate::parse_signer(&ca_key) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let ip_addresses: Vec<IpAddr> = plan.ip_addresses.iter().flatten().copied().collect();
    let cert = match generate::generate_cert(&CertOpts {
        signer: &signer,
        ca: &ca,
        name: &plan.name,
        days: flags.days,
        dns_names: &plan.dns_names,
        ip_addresses: &ip_addresses,
        ext_key_usage: &plan.ext_key_usage,
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    // Go encodes an address it could not parse as an empty one, which its own `Verify`
    // then cannot parse back.
    if ip_addresses.len() != plan.ip_addresses.len() {
        eprintln!("failed to parse certificate");
        return 1;
    }
    if let Err(e) = generate::verify(&ca, &cert.cert_pem) {
        eprintln!("{e}");
        return 1;
    }
    save(&cert_file, &cert.cert_pem, &key_file, &cert.key_pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> CertCreateFlags {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        goflags::parse("create", CERT_CREATE_USAGE, &args).expect("parses")
    }

    #[test]
    fn names_per_kind_in_consuls_order() {
        let p = plan(&flags(&[
            "-server",
            "-node=n1",
            "-additional-dnsname= extra ",
            "-additional-dnsname=",
            "-additional-ipaddress=10.0.0.1",
            "-additional-ipaddress=nope",
        ]));
        assert_eq!(p.name, "server.dc1.consul");
        assert_eq!(p.prefix, "dc1-server-consul");
        assert_eq!(
            p.dns_names,
            [
                "extra",
                "n1.server.dc1.consul",
                "server.dc1.consul",
                "localhost"
            ]
        );
        assert_eq!(
            p.ip_addresses,
            [
                Some(IpAddr::from([10, 0, 0, 1])),
                None,
                Some(IpAddr::from([127, 0, 0, 1]))
            ]
        );
        let p = plan(&flags(&[
            "-cli",
            "-dc=eu",
            "-domain=x",
            "-additional-dnsname=a",
        ]));
        assert_eq!(
            (p.name.as_str(), p.prefix.as_str()),
            ("cli.eu.x", "eu-cli-x")
        );
        assert_eq!(p.dns_names, ["cli.eu.x", "localhost"]);
        assert!(p.ip_addresses.is_empty() && p.ext_key_usage.is_empty());
        let p = plan(&flags(&["-client"]));
        assert_eq!(
            p.ext_key_usage,
            [ExtKeyUsage::ClientAuth, ExtKeyUsage::ServerAuth]
        );
    }

    /// The generated server certificate and key load into rustls, and a TLS handshake with
    /// a client that trusts only the CA and presents the client certificate completes in
    /// both directions.
    #[test]
    fn rustls_accepts_the_generated_files() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
        use std::sync::Arc;

        let ca = generate::generate_ca(&CaOpts {
            name: "",
            days: 1825,
            domain: "consul",
            permitted_dns_domains: &[],
            cluster_id: "",
        })
        .expect("ca");
        let signer = generate::parse_signer(&ca.key_pem).expect("ca key");
        let make = |name: &str, usage: &[ExtKeyUsage]| {
            generate::generate_cert(&CertOpts {
                signer: &signer,
                ca: &ca.cert_pem,
                name,
                days: 365,
                dns_names: &[name.to_string(), "localhost".to_string()],
                ip_addresses: &[IpAddr::from([127, 0, 0, 1])],
                ext_key_usage: usage,
            })
            .expect("cert")
        };
        let server = make(
            "server.dc1.consul",
            &[ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth],
        );
        let client = make(
            "client.dc1.consul",
            &[ExtKeyUsage::ClientAuth, ExtKeyUsage::ServerAuth],
        );
        let cert = |pem: &str| CertificateDer::from_pem_slice(pem.as_bytes()).expect("cert pem");
        let key = |pem: &str| PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("key pem");
        assert!(matches!(key(&server.key_pem), PrivateKeyDer::Sec1(_)));

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert(&ca.cert_pem)).expect("root");
        let roots = Arc::new(roots);
        let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .expect("client verifier");
        let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(vec![cert(&server.cert_pem)], key(&server.key_pem))
            .expect("rustls takes the server cert and key");
        let client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![cert(&client.cert_pem)], key(&client.key_pem))
            .expect("rustls takes the client cert and key");

        let name = ServerName::try_from("server.dc1.consul").expect("name");
        let mut c = rustls::ClientConnection::new(Arc::new(client_config), name).expect("client");
        let mut s = rustls::ServerConnection::new(Arc::new(server_config)).expect("server");
        for _ in 0..10 {
            if !c.is_handshaking() && !s.is_handshaking() {
                break;
            }
            let mut buf = Vec::new();
            c.write_tls(&mut buf).expect("client writes");
            s.read_tls(&mut buf.as_slice()).expect("server reads");
            s.process_new_packets().expect("server accepts the client");
            let mut buf = Vec::new();
            s.write_tls(&mut buf).expect("server writes");
            c.read_tls(&mut buf.as_slice()).expect("client reads");
            c.process_new_packets().expect("client accepts the server");
        }
        assert!(!c.is_handshaking() && !s.is_handshaking());
        assert!(s.peer_certificates().is_some_and(|p| p.len() == 1));
    }
}
