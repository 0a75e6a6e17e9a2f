//! TLS settings: the HTTPS listener's (`tls { https { … } }` over `tls.defaults` over the older
//! top-level keys `cert_file`, `key_file`, `ca_file`, `ca_path`, `verify_incoming_https` /
//! `verify_incoming`, `tls_min_version`) and the server port's (`tls { internal_rpc { … } }`
//! over `tls.defaults` over `verify_incoming_rpc` / `verify_incoming`, `verify_outgoing`,
//! `verify_server_hostname` and the same file keys): what this server accepts on its server
//! port and how it calls its peers there.

use super::files::ConfigError;
use serde_json::Value;
use std::path::PathBuf;

/// Certificates and client verification of a TLS listener (HTTPS, or the server port).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// CA certificates that sign the client certificates accepted (`ca_file`, `ca_path`).
    pub ca_files: Vec<PathBuf>,
    /// Clients must present a certificate signed by one of `ca_files`.
    pub verify_incoming: bool,
    /// The lowest TLS version accepted: 12 or 13 (`TLSv1_2`, `TLSv1_3`).
    pub min_version: u8,
    /// `tls_cipher_suites`: the TLS 1.2 suites offered (Go's names; empty: rustls' defaults).
    pub cipher_suites: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

/// The string at `path` (`None` when absent or empty).
fn string(v: &Value, path: &[&str]) -> Result<Option<String>, ConfigError> {
    match path.iter().try_fold(v, |v, k| v.get(k)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as string",
            path.join(".")
        ))),
    }
}

fn boolean(v: &Value, path: &[&str]) -> Result<Option<bool>, ConfigError> {
    match path.iter().try_fold(v, |v, k| v.get(k)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => api_types::parse_bool(s)
            .map(Some)
            .ok_or_else(|| invalid(format!("{}: cannot parse '{s}' as bool", path.join(".")))),
        Some(other) => Err(invalid(format!(
            "{}: cannot parse {other} as bool",
            path.join(".")
        ))),
    }
}

/// The server port's TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpcTls {
    /// With a certificate, the server port accepts TLS (and, without `verify_incoming`,
    /// plain connections too, as Consul's RPC port does).
    pub listener: Option<ListenerTls>,
    /// `verify_outgoing`: calls to peers use TLS, their certificates checked against the CA.
    pub outgoing: Option<OutgoingTls>,
}

/// How this server calls its peers over TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingTls {
    pub ca_files: Vec<PathBuf>,
    /// This server's certificate and key, presented to peers that verify incoming calls.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// `verify_server_hostname`: a peer's certificate must name `server.<datacenter>.consul`;
    /// otherwise only its chain to the CA is checked.
    pub server_name: Option<String>,
    pub min_version: u8,
    pub cipher_suites: Vec<String>,
}

/// One setting: `tls.<section>.<key>`, else `tls.defaults.<key>`, else the top-level `legacy`
/// key.
fn setting_in<T>(
    v: &Value,
    section: &str,
    key: &str,
    legacy: &[&str],
    get: impl Fn(&Value, &[&str]) -> Result<Option<T>, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    if let Some(x) = get(v, &["tls", section, key])? {
        return Ok(Some(x));
    }
    if let Some(x) = get(v, &["tls", "defaults", key])? {
        return Ok(Some(x));
    }
    for l in legacy {
        if let Some(x) = get(v, &[l])? {
            return Ok(Some(x));
        }
    }
    Ok(None)
}

/// One setting of the HTTPS listener.
fn setting<T>(
    v: &Value,
    key: &str,
    legacy: &[&str],
    get: impl Fn(&Value, &[&str]) -> Result<Option<T>, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    setting_in(v, "https", key, legacy, get)
}

/// CA files from `ca_file` and the `.pem`/`.crt` files of `ca_path`.
fn ca_files(ca_file: Option<String>, ca_path: Option<String>) -> Result<Vec<PathBuf>, ConfigError> {
    let mut ca_files: Vec<PathBuf> = ca_file.into_iter().map(PathBuf::from).collect();
    if let Some(dir) = ca_path {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| invalid(format!("Error reading ca_path {dir}: {e}")))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "crt"))
            .collect();
        found.sort();
        ca_files.extend(found);
    }
    Ok(ca_files)
}

fn suites(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    match value {
        None => Ok(Vec::new()),
        Some(v) => crate::tls_suites::parse(&v).map_err(invalid),
    }
}

fn min_version(min: Option<&str>) -> Result<u8, ConfigError> {
    match min {
        None | Some("TLSv1_2") | Some("tls12") => Ok(12),
        Some("TLSv1_3") | Some("tls13") => Ok(13),
        Some(other @ ("TLSv1_0" | "TLSv1_1" | "tls10" | "tls11")) => Err(invalid(format!(
            "tls_min_version {other:?} is not supported by this agent (TLS 1.2 and 1.3 only)"
        ))),
        Some(other) => Err(invalid(format!(
            "tls_min_version: invalid value {other:?}; use TLSv1_2 or TLSv1_3"
        ))),
    }
}

/// The server port's TLS: what it accepts, and how this server calls its peers.
pub fn internal_rpc(v: &Value, datacenter: &str) -> Result<RpcTls, ConfigError> {
    let get = |key: &str, legacy: &[&str]| setting_in(v, "internal_rpc", key, legacy, string);
    let flag = |key: &str, legacy: &[&str]| setting_in(v, "internal_rpc", key, legacy, boolean);
    let cert = get("cert_file", &["cert_file"])?;
    let key = get("key_file", &["key_file"])?;
    let cas = ca_files(get("ca_file", &["ca_file"])?, get("ca_path", &["ca_path"])?)?;
    let verify_incoming = flag(
        "verify_incoming",
        &["verify_incoming_rpc", "verify_incoming"],
    )?
    .unwrap_or(false);
    let verify_hostname =
        flag("verify_server_hostname", &["verify_server_hostname"])?.unwrap_or(false);
    // As in Consul, checking the server's name implies checking its certificate.
    let verify_outgoing =
        flag("verify_outgoing", &["verify_outgoing"])?.unwrap_or(false) || verify_hostname;
    let min = min_version(get("tls_min_version", &["tls_min_version"])?.as_deref())?;
    let suites = suites(get("tls_cipher_suites", &["tls_cipher_suites"])?)?;
    let pair = match (cert, key) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "tls.internal_rpc: cert_file and key_file must be set together",
            ))
        }
    };
    if verify_incoming && (pair.is_none() || cas.is_empty()) {
        return Err(invalid(
            "VerifyIncoming set for the server port, but no certificate or no CA: set tls { internal_rpc { ca_file cert_file key_file } } (or tls.defaults)",
        ));
    }
    if verify_outgoing && cas.is_empty() {
        return Err(invalid(
            "VerifyOutgoing set, but no CA: set tls { internal_rpc { ca_file } } (or tls.defaults) to the CA that signs the servers' certificates",
        ));
    }
    let listener = pair.clone().map(|(cert_file, key_file)| ListenerTls {
        cert_file,
        key_file,
        ca_files: cas.clone(),
        verify_incoming,
        min_version: min,
        cipher_suites: suites.clone(),
    });
    let outgoing = verify_outgoing.then(|| OutgoingTls {
        ca_files: cas,
        client_cert: pair,
        server_name: verify_hostname.then(|| format!("server.{datacenter}.consul")),
        min_version: min,
        cipher_suites: suites,
    });
    Ok(RpcTls { listener, outgoing })
}

/// The HTTPS listener's TLS settings, when `https_port` asks for the listener.
pub fn https(v: &Value, https_port: i32) -> Result<Option<ListenerTls>, ConfigError> {
    let cert = setting(v, "cert_file", &["cert_file"], string)?;
    let key = setting(v, "key_file", &["key_file"], string)?;
    let ca_file = setting(v, "ca_file", &["ca_file"], string)?;
    let ca_path = setting(v, "ca_path", &["ca_path"], string)?;
    let verify_incoming = setting(
        v,
        "verify_incoming",
        &["verify_incoming_https", "verify_incoming"],
        boolean,
    )?
    .unwrap_or(false);
    let min = setting(v, "tls_min_version", &["tls_min_version"], string)?;
    let cipher_suites = suites(setting(
        v,
        "tls_cipher_suites",
        &["tls_cipher_suites"],
        string,
    )?)?;
    if https_port < 0 {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(invalid(
            "the HTTPS port is set (ports.https, -https-port) but no certificate is: set tls { https { cert_file key_file } } (or tls.defaults)",
        ));
    };
    let ca_files = ca_files(ca_file, ca_path)?;
    if verify_incoming && ca_files.is_empty() {
        return Err(invalid(
            "VerifyIncoming set but no CA: set tls.https.ca_file (or ca_path) to the CA that signs client certificates",
        ));
    }
    let min_version = min_version(min.as_deref())?;
    Ok(Some(ListenerTls {
        cert_file: PathBuf::from(cert),
        key_file: PathBuf::from(key),
        ca_files,
        verify_incoming,
        min_version,
        cipher_suites,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn https_block_over_defaults_over_legacy() {
        let v = json!({
            "cert_file": "/legacy.pem", "key_file": "/legacy-key.pem",
            "tls": {"defaults": {"ca_file": "/ca.pem", "key_file": "/d-key.pem"},
                    "https": {"cert_file": "/h.pem", "verify_incoming": true}},
        });
        let t = https(&v, 8501).unwrap().unwrap();
        assert_eq!(t.cert_file, PathBuf::from("/h.pem"));
        assert_eq!(t.key_file, PathBuf::from("/d-key.pem"));
        assert_eq!(t.ca_files, vec![PathBuf::from("/ca.pem")]);
        assert!(t.verify_incoming);
        assert_eq!(t.min_version, 12);
        assert_eq!(https(&v, -1).unwrap(), None);
        assert!(https(&json!({}), 8501).is_err());
        let no_ca = json!({"tls": {"https": {"cert_file": "/c", "key_file": "/k", "verify_incoming": true}}});
        assert!(https(&no_ca, 8501)
            .unwrap_err()
            .to_string()
            .contains("no CA"));
    }
}
