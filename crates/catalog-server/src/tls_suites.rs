//! `tls_cipher_suites`: Consul's (Go's) names of the TLS 1.2 cipher suites, checked when the
//! config is loaded and turned into a rustls crypto provider offering only those (TLS 1.3's
//! suites are not configurable, as in Go).

use std::sync::Arc;
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::{CipherSuite, SupportedCipherSuite};

/// Go's names of the suites rustls offers, and their IANA codes.
const SUITES: &[(&str, CipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// Suites Consul accepts that rustls does not implement (CBC modes).
const CBC: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// Checks a `tls_cipher_suites` value (comma-separated Go names); the names, trimmed.
pub fn parse(value: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if CBC.contains(&name) {
            return Err(format!(
                "tls_cipher_suites: {name:?} (a CBC suite) is not supported by this agent: use GCM or CHACHA20_POLY1305 suites"
            ));
        }
        if !SUITES.iter().any(|(n, _)| *n == name) {
            return Err(format!("unsupported cipher {name:?}"));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// The crypto provider offering `names` (all of ring's when empty) for TLS 1.2, and every
/// TLS 1.3 suite.
pub fn provider(names: &[String]) -> Arc<CryptoProvider> {
    let mut p = ring::default_provider();
    if !names.is_empty() {
        let wanted: Vec<CipherSuite> = names
            .iter()
            .filter_map(|n| SUITES.iter().find(|(g, _)| g == n).map(|(_, s)| *s))
            .collect();
        p.cipher_suites.retain(|s: &SupportedCipherSuite| {
            matches!(s, SupportedCipherSuite::Tls13(_)) || wanted.contains(&s.suite())
        });
    }
    Arc::new(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names_checked_and_offered() {
        let names =
            parse("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305")
                .unwrap();
        let p = provider(&names);
        let tls12: Vec<CipherSuite> = p
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .map(|s| s.suite())
            .collect();
        assert_eq!(tls12.len(), 2, "{tls12:?}");
        assert!(p
            .cipher_suites
            .iter()
            .any(|s| matches!(s, SupportedCipherSuite::Tls13(_))));
        assert!(parse("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
            .unwrap_err()
            .contains("CBC"));
        assert_eq!(
            parse("TLS_BOGUS").unwrap_err(),
            "unsupported cipher \"TLS_BOGUS\""
        );
        assert_eq!(
            provider(&[]).cipher_suites.len(),
            ring::default_provider().cipher_suites.len()
        );
    }
}
