//! TLS for the gRPC (`GRPCUseTLS`) and H2PING (`H2PingUseTLS`) checks, as Consul's
//! `OutgoingTLSConfigForCheck` builds it without `enable_agent_tls_for_checks`: the system's
//! root certificates, `TLSSkipVerify` to accept any certificate, and `TLSServerName` (else the
//! host of the address) as the name the certificate must carry and the SNI sent.

use super::net::split_host_port;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// How a check dials TLS: the client config and the name the server must prove.
#[derive(Clone)]
pub(crate) struct CheckTls {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl std::fmt::Debug for CheckTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckTls")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The system's trust anchors, read once (an unreadable store leaves them empty: every
/// verified handshake then fails with rustls' `UnknownIssuer`, as Go's does without roots).
fn system_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(target: "agent", "reading the system's root certificates: {e}");
            }
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            tracing::debug!(target: "agent", "system root certificates for checks: added={added} ignored={ignored}");
            Arc::new(roots)
        })
        .clone()
}

impl CheckTls {
    /// The TLS settings of a check dialling `addr` (`host:port`), offering `alpn`.
    pub(crate) fn new(
        addr: &str,
        server_name: &str,
        skip_verify: bool,
        alpn: &[&[u8]],
    ) -> Result<CheckTls, String> {
        let host = if server_name.is_empty() {
            split_host_port(addr)
                .map(|(h, _)| h)
                .unwrap_or_else(|_| addr.to_string())
        } else {
            server_name.to_string()
        };
        let name = ServerName::try_from(host.clone())
            .map_err(|e| format!("tls: invalid server name {host:?}: {e}"))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls: {e}"))?;
        let mut config = if skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(system_roots())
                .with_no_client_auth()
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(CheckTls {
            config: Arc::new(config),
            name,
        })
    }

    /// A TLS handshake over `tcp`; the error in Go's `tls:` words.
    pub(crate) async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(self.name.clone(), tcp)
            .await
            .map_err(|e| match e.get_ref() {
                Some(inner) => format!("tls: {inner}"),
                None => format!("tls: {e}"),
            })
    }
}

/// `TLSSkipVerify`: any certificate is taken (Go's `InsecureSkipVerify`); the handshake's
/// signatures are still checked against it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_defaults_to_the_host() {
        let t = CheckTls::new("127.0.0.1:443", "", false, &[b"h2"]).expect("tls");
        assert_eq!(
            format!("{:?}", t.name),
            format!("{:?}", ServerName::try_from("127.0.0.1").expect("ip"))
        );
        let t = CheckTls::new("127.0.0.1:443", "api.example", true, &[]).expect("tls");
        assert_eq!(t.name, ServerName::try_from("api.example").expect("dns"));
        assert!(CheckTls::new("x:1", "bad name!", false, &[]).is_err());
    }
}
