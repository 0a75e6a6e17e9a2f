//! The HTTPS listener's TLS, with rustls: the certificate chain and key from the config's PEM
//! files, and with `verify_incoming` a client certificate required and checked against the
//! configured CAs. Errors name the file, as Consul's do, and stop the agent at start.

use crate::config::ListenerTls;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("Failed to load cert/key pair: reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("Failed to load cert/key pair: {path} holds no {what}")]
    Empty { path: String, what: &'static str },
    #[error("Failed to parse CA certificate in {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("Failed to load cert/key pair: {0}")]
    Config(String),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn certs(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            path: path.display().to_string(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

/// The acceptor of the HTTPS listener.
pub fn acceptor(t: &ListenerTls) -> Result<TlsAcceptor, TlsError> {
    let provider = crate::tls_suites::provider(&t.cipher_suites);
    let versions: &[&rustls::SupportedProtocolVersion] = if t.min_version >= 13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12, &rustls::version::TLS13]
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = if t.verify_incoming {
        let mut roots = rustls::RootCertStore::empty();
        for f in &t.ca_files {
            for cert in certs(f)? {
                roots.add(cert).map_err(|e| TlsError::Ca {
                    path: f.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain = certs(&t.cert_file)?;
    let key_bytes = read(&t.key_file)?;
    let key = rustls_pemfile::private_key(&mut key_bytes.as_slice())
        .map_err(|source| TlsError::Read {
            path: t.key_file.display().to_string(),
            source,
        })?
        .ok_or_else(|| TlsError::Empty {
            path: t.key_file.display().to_string(),
            what: "PEM private key",
        })?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
