//! How this server calls its peers on their server ports: plain HTTP, or with
//! `verify_outgoing` HTTPS whose peer certificates are checked against the configured CA —
//! and, with `verify_server_hostname`, must name `server.<datacenter>.consul` (Consul's rule:
//! peers are dialled by IP, so the name checked is the role, not the address). This server's
//! own certificate is presented to peers that verify incoming calls.

use crate::config::OutgoingTls;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// The HTTP client for peers' server ports, and the scheme they speak.
#[derive(Clone, Debug)]
pub struct PeerClient {
    http: reqwest::Client,
    scheme: &'static str,
}

impl Default for PeerClient {
    fn default() -> Self {
        PeerClient {
            http: reqwest::Client::new(),
            scheme: "http",
        }
    }
}

/// Why the outgoing TLS settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PeerTlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no {what}")]
    Empty { path: String, what: &'static str },
    #[error("{0}")]
    Config(String),
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PeerTlsError> {
    let read_err = |source| PeerTlsError::Read {
        path: path.display().to_string(),
        source,
    };
    let bytes = std::fs::read(path).map_err(read_err)?;
    let certs = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    if certs.is_empty() {
        return Err(PeerTlsError::Empty {
            path: path.display().to_string(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

impl PeerClient {
    /// A client with a request timeout of `timeout`, speaking TLS when `tls` is set.
    pub fn new(
        tls: Option<&OutgoingTls>,
        timeout: std::time::Duration,
    ) -> Result<PeerClient, PeerTlsError> {
        let builder = reqwest::Client::builder().timeout(timeout);
        let Some(t) = tls else {
            let http = builder
                .build()
                .map_err(|e| PeerTlsError::Config(e.to_string()))?;
            return Ok(PeerClient {
                http,
                scheme: "http",
            });
        };
        let http = builder
            .use_preconfigured_tls(client_config(t)?)
            .build()
            .map_err(|e| PeerTlsError::Config(e.to_string()))?;
        Ok(PeerClient {
            http,
            scheme: "https",
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL of `path` (e.g. `/v1/raft/append`) on the peer at `addr` (`ip:port`).
    pub fn url(&self, addr: &str, path: &str) -> String {
        format!("{}://{addr}{path}", self.scheme)
    }
}

fn client_config(t: &OutgoingTls) -> Result<rustls::ClientConfig, PeerTlsError> {
    let provider = crate::tls_suites::provider(&t.cipher_suites);
    let mut roots = rustls::RootCertStore::empty();
    for f in &t.ca_files {
        for c in pem_certs(f)? {
            roots
                .add(c)
                .map_err(|e| PeerTlsError::Config(format!("CA {}: {e}", f.display())))?;
        }
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| PeerTlsError::Config(e.to_string()))?;
    let name = match &t.server_name {
        Some(n) => Some(
            ServerName::try_from(n.clone())
                .map_err(|e| PeerTlsError::Config(format!("server name {n:?}: {e}")))?,
        ),
        None => None,
    };
    let versions: &[&rustls::SupportedProtocolVersion] = if t.min_version >= 13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12, &rustls::version::TLS13]
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| PeerTlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier { webpki, name }));
    let mut config = match &t.client_cert {
        Some((cert, key)) => {
            let chain = pem_certs(cert)?;
            let bytes = std::fs::read(key).map_err(|source| PeerTlsError::Read {
                path: key.display().to_string(),
                source,
            })?;
            let key_der = rustls_pemfile::private_key(&mut bytes.as_slice())
                .map_err(|source| PeerTlsError::Read {
                    path: key.display().to_string(),
                    source,
                })?
                .ok_or_else(|| PeerTlsError::Empty {
                    path: key.display().to_string(),
                    what: "PEM private key",
                })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| PeerTlsError::Config(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Checks a peer's certificate chain against the CA (rustls' WebPKI verifier), for the name
/// `server.<dc>.consul` when `verify_server_hostname`, else for a name the certificate itself
/// carries (the chain and validity are checked, the name is not: Consul's `verify_outgoing`
/// without `verify_server_hostname`).
#[derive(Debug)]
struct PeerVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    name: Option<ServerName<'static>>,
}

/// A name `cert` is issued for: its first DNS or IP subject alternative name.
fn own_name(cert: &CertificateDer<'_>) -> Option<ServerName<'static>> {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let san = parsed.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|g| match g {
        GeneralName::DNSName(d) => ServerName::try_from(d.to_string()).ok(),
        GeneralName::IPAddress(b) => match b.len() {
            4 => {
                let ip: [u8; 4] = (*b).try_into().ok()?;
                Some(ServerName::IpAddress(std::net::IpAddr::from(ip).into()))
            }
            16 => {
                let ip: [u8; 16] = (*b).try_into().ok()?;
                Some(ServerName::IpAddress(std::net::IpAddr::from(ip).into()))
            }
            _ => None,
        },
        _ => None,
    })
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _dialled: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = match &self.name {
            Some(n) => n.clone(),
            None => own_name(end_entity).ok_or_else(|| {
                rustls::Error::General("the peer's certificate names no DNS name or IP".into())
            })?,
        };
        self.webpki
            .verify_server_cert(end_entity, intermediates, &name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
