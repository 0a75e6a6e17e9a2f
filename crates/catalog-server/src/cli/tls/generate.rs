//! Consul's `tlsutil` (`generate.go`) on rcgen: the agent CA and the certificates it signs,
//! with the same contents as Go's `x509.CreateCertificate` gives them — EC P-256 keys written
//! as SEC1 `EC PRIVATE KEY`, 128-bit random serials, key IDs that are the SHA-256 of the
//! public key's DER, the CA's HashiCorp subject, critical basic constraints and key usage —
//! and Go's `Verify` of a new certificate against its CA before anything is written.
//! Every error's text is the one Consul prints.

use super::der::{self, Curve, DerError};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    NameConstraints, PublicKeyData, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};

/// A failure, displayed as Consul words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// `connect.ParseSigner`: the key file holds no PEM block.
    #[error("no PEM-encoded data found")]
    NoPem,
    /// `connect.ParseSigner`: a PEM block that is no private key.
    #[error("unknown PEM block type for signing key: {0}")]
    UnknownKeyType(String),
    /// `connect.ParseSigner`: the key's DER did not parse.
    #[error("{0}")]
    BadKey(String),
    /// `GenerateCA` failed.
    #[error("error generating CA certificate: {0}")]
    GenerateCa(String),
    /// `GenerateCert`: the CA certificate did not parse.
    #[error("failed to parse CA: {0}")]
    ParseCa(String),
    /// `GenerateCert`: the new key could not be made.
    #[error("failed to generate private key: {0}")]
    GenerateKey(String),
    /// `GenerateCert`: `x509.CreateCertificate` refused.
    #[error("failed to create certificate: {0}")]
    CreateCert(String),
    /// `tlsutil.Verify` refused the new certificate.
    #[error("{0}")]
    Verify(String),
}

/// An extended key usage Consul puts in agent certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtKeyUsage {
    ServerAuth,
    ClientAuth,
}

/// What `GenerateCA` is given (`tlsutil.CAOpts`).
#[derive(Debug, Clone, Copy)]
pub struct CaOpts<'a> {
    /// The common name; empty for `Consul Agent CA <serial>`.
    pub name: &'a str,
    /// Validity in days; 0 for 365.
    pub days: i64,
    /// The cluster's DNS domain (the SPIFFE ID's suffix).
    pub domain: &'a str,
    /// DNS name constraints; none when empty.
    pub permitted_dns_domains: &'a [String],
    /// The cluster ID; when set, the CA carries `spiffe://<id>.<domain>`.
    pub cluster_id: &'a str,
}

/// What `GenerateCert` is given (`tlsutil.CertOpts`).
pub struct CertOpts<'a> {
    /// The CA's key.
    pub signer: &'a KeyPair,
    /// The CA certificate, PEM.
    pub ca: &'a str,
    /// The subject's common name.
    pub name: &'a str,
    pub days: i64,
    pub dns_names: &'a [String],
    pub ip_addresses: &'a [IpAddr],
    pub ext_key_usage: &'a [ExtKeyUsage],
}

/// A certificate and its private key, both PEM, as written to disk.
#[derive(Debug, Clone)]
pub struct Generated {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Go's `pem.Encode`: 64-column base64, `\n` line ends.
fn pem_encode(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The key ID Consul uses for both the subject and the authority key identifier: SHA-256
/// of the public key's `SubjectPublicKeyInfo` DER (not RFC 5280's method; any unique value
/// is allowed).
fn key_id(key: &impl PublicKeyData) -> Vec<u8> {
    Sha256::digest(key.subject_public_key_info()).to_vec()
}

/// A random serial in [0, 2^128), as `GenerateSerialNumber`.
fn serial_number() -> u128 {
    use rand::Rng;
    rand::rngs::OsRng.gen()
}

/// A new EC P-256 key and its SEC1 PEM (`connect.GeneratePrivateKey`).
pub fn generate_private_key() -> Result<(KeyPair, String), TlsError> {
    let err = |e: &dyn std::fmt::Display| {
        TlsError::GenerateKey(format!("error generating ECDSA private key: {e}"))
    };
    let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| err(&e))?;
    let sec1 = der::pkcs8_to_sec1(pair.serialized_der(), pair.der_bytes()).map_err(|e| err(&e))?;
    Ok((pair, pem_encode("EC PRIVATE KEY", &sec1)))
}

/// The first PEM block of `text`, as Go's `pem.Decode` finds it.
fn first_pem(text: &str) -> Option<pem::Pem> {
    pem::parse(text).ok()
}

/// `connect.ParseSigner`: a CA key from `EC PRIVATE KEY` (SEC1), `RSA PRIVATE KEY` (PKCS#1)
/// or `PRIVATE KEY` (PKCS#8) PEM.
pub fn parse_signer(text: &str) -> Result<KeyPair, TlsError> {
    let block = first_pem(text).ok_or(TlsError::NoPem)?;
    let der_err = |what: &str, e: DerError| TlsError::BadKey(format!("x509: {what}: {e}"));
    let pkcs8 = match block.tag() {
        "EC PRIVATE KEY" => {
            let (curve, pkcs8) = der::sec1_to_pkcs8(block.contents())
                .map_err(|e| der_err("failed to parse EC private key", e))?;
            refuse_curve(curve)?;
            pkcs8
        }
        "RSA PRIVATE KEY" => der::pkcs1_to_pkcs8(block.contents())
            .map_err(|e| der_err("failed to parse private key", e))?,
        "PRIVATE KEY" => {
            if let Ok(curve) = der::pkcs8_curve(block.contents()) {
                refuse_curve(curve)?;
            }
            block.contents().to_vec()
        }
        other => return Err(TlsError::UnknownKeyType(other.to_string())),
    };
    KeyPair::try_from(pkcs8.as_slice()).map_err(|e| {
        TlsError::BadKey(format!(
            "x509: failed to parse private key ({e}; this consul signs with EC P-256 and \
             P-384, RSA of 2048 bits or more, and Ed25519 keys)"
        ))
    })
}

/// Curves Go signs with that ring does not.
fn refuse_curve(curve: Curve) -> Result<(), TlsError> {
    match curve {
        Curve::P256 | Curve::P384 => Ok(()),
        other => Err(TlsError::BadKey(format!(
            "x509: {} keys are not supported by this consul (EC P-256 and P-384 are)",
            other.name()
        ))),
    }
}

/// Go's `asn1` string choice for a name attribute: PrintableString when every character is
/// in its set (no `*`, no `&`), otherwise UTF8String.
fn dn_value(s: &str) -> DnValue {
    let printable = s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    });
    match rcgen::string::PrintableString::try_from(s) {
        Ok(p) if printable => DnValue::PrintableString(p),
        _ => DnValue::Utf8String(s.to_string()),
    }
}

/// Go's `isIA5String` check of a SAN or constraint.
fn ia5(s: &str) -> Result<rcgen::string::Ia5String, String> {
    rcgen::string::Ia5String::try_from(s)
        .map_err(|_| format!("x509: {s:?} cannot be encoded as an IA5String"))
}

const GENERALIZED_TIME_ERROR: &str =
    "asn1: structure error: cannot represent time as GeneralizedTime";

/// `time.Now()` and `time.Now().AddDate(0, 0, days)` in whole seconds (what X.509 keeps),
/// refused past what GeneralizedTime holds (years 0 to 9999) as Go's `asn1` refuses it.
/// Days are counted in UTC.
fn validity(now: i64, days: i64) -> Result<(time::OffsetDateTime, time::OffsetDateTime), String> {
    let at = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .filter(|t| (0..=9999).contains(&t.year()))
            .ok_or_else(|| GENERALIZED_TIME_ERROR.to_string())
    };
    let end = days
        .checked_mul(86_400)
        .and_then(|d| now.checked_add(d))
        .ok_or_else(|| GENERALIZED_TIME_ERROR.to_string())?;
    Ok((at(now)?, at(end)?))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `tlsutil.GenerateCA`: a self-signed CA with a new EC P-256 key; (certificate, key) PEM.
pub fn generate_ca(opts: &CaOpts<'_>) -> Result<Generated, TlsError> {
    let (signer, key_pem) = generate_private_key()?;
    let fail = TlsError::GenerateCa;
    let sn = serial_number();
    let name = if opts.name.is_empty() {
        format!("Consul Agent CA {sn}")
    } else {
        opts.name.to_string()
    };
    let days = if opts.days == 0 { 365 } else { opts.days };
    let (not_before, not_after) = validity(unix_now(), days).map_err(fail)?;

    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(&sn.to_be_bytes()));
    // pkix.Name's order: C, ST, L, street, postalCode, O, CN.
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, dn_value("US"));
    dn.push(DnType::StateOrProvinceName, dn_value("CA"));
    dn.push(DnType::LocalityName, dn_value("San Francisco"));
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 9]),
        dn_value("101 Second Street"),
    );
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 17]), dn_value("94105"));
    dn.push(DnType::OrganizationName, dn_value("HashiCorp Inc."));
    dn.push(DnType::CommonName, dn_value(&name));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    let id = key_id(&signer);
    params.key_identifier_method = KeyIdMethod::PreSpecified(id);
    params.use_authority_key_identifier_extension = true;
    if !opts.cluster_id.is_empty() {
        let uri = format!("spiffe://{}.{}", opts.cluster_id, opts.domain).to_lowercase();
        params.subject_alt_names = vec![SanType::URI(ia5(&uri).map_err(fail)?)];
    }
    if !opts.permitted_dns_domains.is_empty() {
        let permitted = opts
            .permitted_dns_domains
            .iter()
            .map(|d| ia5(d).map(|_| GeneralSubtree::DnsName(d.clone())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: Vec::new(),
        });
    }
    let cert = params
        .self_signed(&signer)
        .map_err(|e| fail(e.to_string()))?;
    Ok(Generated {
        cert_pem: cert.pem(),
        key_pem,
    })
}

/// Go's `parseCert`: the first PEM block, which must be a certificate.
fn parse_cert_der(text: &str) -> Result<Vec<u8>, String> {
    let block = first_pem(text).ok_or("no PEM-encoded data found")?;
    if block.tag() != "CERTIFICATE" {
        return Err("first PEM-block should be CERTIFICATE type".to_string());
    }
    Ok(block.into_contents())
}

fn parse_x509(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c)
        .map_err(|e| format!("x509: malformed certificate ({e})"))
}

/// The subject key identifier a certificate carries, if any.
fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
}

/// `tlsutil.GenerateCert`: a new EC P-256 key and its certificate signed by the CA;
/// (certificate, key) PEM.
pub fn generate_cert(opts: &CertOpts<'_>) -> Result<Generated, TlsError> {
    let ca_der = parse_cert_der(opts.ca).map_err(TlsError::ParseCa)?;
    let ca = parse_x509(&ca_der).map_err(TlsError::ParseCa)?;
    let ca_has_key_id = subject_key_id(&ca).is_some();
    let issuer = Issuer::from_ca_cert_der(&ca_der.as_slice().into(), opts.signer).map_err(|e| {
        TlsError::ParseCa(format!(
            "{e} (this consul signs under CA subjects of single-valued attributes, \
                 each type once)"
        ))
    })?;

    let (signee, key_pem) = generate_private_key()?;
    let fail = |e: String| TlsError::CreateCert(e);
    let (not_before, not_after) = validity(unix_now(), opts.days).map_err(fail)?;

    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(&serial_number().to_be_bytes()));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, dn_value(opts.name));
    params.distinguished_name = dn;
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = opts
        .ext_key_usage
        .iter()
        .map(|u| match u {
            ExtKeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            ExtKeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        })
        .collect();
    params.not_before = not_before;
    params.not_after = not_after;
    // Go writes the authority key ID only when the CA has a subject key ID to point at.
    params.use_authority_key_identifier_extension = ca_has_key_id;
    // Go's SAN order: DNS names, then IP addresses (an IPv4-mapped address as 4 bytes).
    let mut sans = Vec::new();
    for d in opts.dns_names {
        sans.push(SanType::DnsName(ia5(d).map_err(fail)?));
    }
    for ip in opts.ip_addresses {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(*v6), IpAddr::V4),
            v4 => *v4,
        };
        sans.push(SanType::IpAddress(ip));
    }
    params.subject_alt_names = sans;
    // Basic constraints as Go writes them for a leaf (critical, cA absent) and the subject
    // key ID Go is given.
    let mut basic = CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
    basic.set_criticality(true);
    let id = key_id(&signee);
    let mut ski = vec![0x04, id.len() as u8];
    ski.extend_from_slice(&id);
    params.custom_extensions = vec![
        basic,
        CustomExtension::from_oid_content(&[2, 5, 29, 14], ski),
    ];
    let cert = params
        .signed_by(&signee, &issuer)
        .map_err(|e| fail(e.to_string()))?;
    Ok(Generated {
        cert_pem: cert.pem(),
        key_pem,
    })
}

/// Go's RFC 3339 rendering of a UTC instant.
fn rfc3339(secs: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => secs.to_string(),
    }
}

/// `x509.CertificateInvalidError{Expired}` for `cert` at `now`, if it is out of its window.
fn check_validity(cert: &X509Certificate<'_>, now: i64) -> Result<(), TlsError> {
    let (nb, na) = (
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    );
    let expired = |rel: &str, at: i64| {
        TlsError::Verify(format!(
            "x509: certificate has expired or is not yet valid: current time {} is {rel} {}",
            rfc3339(now),
            rfc3339(at)
        ))
    };
    if now < nb {
        return Err(expired("before", nb));
    }
    if now > na {
        return Err(expired("after", na));
    }
    Ok(())
}

/// Go's `domainToReverseLabels`: labels last to first; `None` for an unparseable name.
fn reverse_labels(domain: &str) -> Option<Vec<&str>> {
    if domain.is_empty() {
        return Some(Vec::new());
    }
    let labels: Vec<&str> = domain.split('.').rev().collect();
    let ok = labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|c| (33..=126).contains(&c)));
    ok.then_some(labels)
}

/// Go's `matchDomainConstraint`.
fn domain_matches(domain: &str, constraint: &str) -> Result<bool, TlsError> {
    if constraint.is_empty() {
        return Ok(true);
    }
    let internal =
        |d: &str| TlsError::Verify(format!("x509: internal error: cannot parse domain {d:?}"));
    let domain_labels = reverse_labels(domain).ok_or_else(|| internal(domain))?;
    let (subdomains_only, constraint) = match constraint.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, constraint),
    };
    let constraint_labels = reverse_labels(constraint).ok_or_else(|| internal(constraint))?;
    if domain_labels.len() < constraint_labels.len()
        || (subdomains_only && domain_labels.len() == constraint_labels.len())
    {
        return Ok(false);
    }
    Ok(constraint_labels
        .iter()
        .zip(&domain_labels)
        .all(|(c, d)| c.eq_ignore_ascii_case(d)))
}

/// The CA's DNS name constraints checked against the leaf's DNS names, as Go's
/// `checkNameConstraints` does for a root.
fn check_name_constraints(
    ca: &X509Certificate<'_>,
    leaf: &X509Certificate<'_>,
) -> Result<(), TlsError> {
    let Ok(Some(constraints)) = ca.name_constraints() else {
        return Ok(());
    };
    let dns = |subtrees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
        subtrees
            .iter()
            .flatten()
            .filter_map(|s| match s.base {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let permitted = dns(&constraints.value.permitted_subtrees);
    let excluded = dns(&constraints.value.excluded_subtrees);
    let names: Vec<&str> = match leaf.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(*d),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let refuse = |detail: String| {
        TlsError::Verify(format!(
            "x509: a root or intermediate certificate is not authorized to sign for this name: {detail}"
        ))
    };
    for name in names {
        if reverse_labels(name).is_none() {
            return Err(TlsError::Verify(format!(
                "x509: cannot parse dnsName {name:?}"
            )));
        }
        for c in &excluded {
            if domain_matches(name, c)? {
                return Err(refuse(format!(
                    "DNS name {name:?} is excluded by constraint {c:?}"
                )));
            }
        }
        let mut ok = permitted.is_empty();
        for c in &permitted {
            if domain_matches(name, c)? {
                ok = true;
                break;
            }
        }
        if !ok {
            return Err(refuse(format!(
                "DNS name {name:?} is not permitted by any constraint"
            )));
        }
    }
    Ok(())
}

/// Go's `checkChainForKeyUsage` for `ExtKeyUsageServerAuth` on one certificate.
fn allows_server_auth(cert: &X509Certificate<'_>) -> bool {
    match cert.extended_key_usage() {
        Ok(Some(eku)) => eku.value.any || eku.value.server_auth,
        _ => true,
    }
}

/// Go's `UnknownAuthorityError` when the CA's key did not sign the certificate.
fn unknown_authority(ca: &X509Certificate<'_>) -> TlsError {
    let hint = match ca.public_key().algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => "crypto/rsa: verification error",
        "1.3.101.112" => "x509: Ed25519 verification failure",
        _ => "x509: ECDSA verification failure",
    };
    let subject = ca.subject();
    let text =
        |a: &x509_parser::x509::AttributeTypeAndValue<'_>| a.as_str().ok().map(str::to_string);
    let name = subject
        .iter_common_name()
        .find_map(text)
        .filter(|c| !c.is_empty())
        .or_else(|| subject.iter_organization().find_map(text))
        .unwrap_or_else(|| format!("serial:{}", ca.serial));
    TlsError::Verify(format!(
        "x509: certificate signed by unknown authority (possibly because of {hint:?} while \
         trying to verify candidate authority certificate {name:?})"
    ))
}

/// `tlsutil.Verify`: the certificate chains to the CA for a server (`x509.Verify` with the
/// CA as the only root and `ExtKeyUsageServerAuth`), checked in Go's order.
pub fn verify(ca_pem: &str, cert_pem: &str) -> Result<(), TlsError> {
    verify_at(ca_pem, cert_pem, unix_now())
}

fn verify_at(ca_pem: &str, cert_pem: &str, now: i64) -> Result<(), TlsError> {
    let ca_der = parse_cert_der(ca_pem)
        .map_err(|_| TlsError::Verify("failed to parse root certificate".to_string()))?;
    let ca = parse_x509(&ca_der)
        .map_err(|_| TlsError::Verify("failed to parse root certificate".to_string()))?;
    let failed = || TlsError::Verify("failed to parse certificate".to_string());
    let leaf_der = parse_cert_der(cert_pem).map_err(|_| failed())?;
    let leaf = parse_x509(&leaf_der).map_err(|_| failed())?;
    check_validity(&leaf, now)?;
    if leaf.issuer().as_raw() != ca.subject().as_raw() {
        return Err(TlsError::Verify(
            "x509: certificate signed by unknown authority".to_string(),
        ));
    }
    if leaf.verify_signature(Some(ca.public_key())).is_err() {
        return Err(unknown_authority(&ca));
    }
    check_validity(&ca, now)?;
    check_name_constraints(&ca, &leaf)?;
    if !allows_server_auth(&ca) || !allows_server_auth(&leaf) {
        return Err(TlsError::Verify(
            "x509: certificate specifies an incompatible key usage".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> (Generated, KeyPair) {
        let ca = generate_ca(&CaOpts {
            name: "",
            days: 1825,
            domain: "consul",
            permitted_dns_domains: &[],
            cluster_id: "",
        })
        .expect("ca");
        let signer = parse_signer(&ca.key_pem).expect("key parses");
        (ca, signer)
    }

    fn server(ca: &Generated, signer: &KeyPair, dns: &[&str]) -> Result<Generated, TlsError> {
        let dns: Vec<String> = dns.iter().map(|s| s.to_string()).collect();
        generate_cert(&CertOpts {
            signer,
            ca: &ca.cert_pem,
            name: "server.dc1.consul",
            days: 365,
            dns_names: &dns,
            ip_addresses: &["127.0.0.1".parse().expect("ip")],
            ext_key_usage: &[ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth],
        })
    }

    #[test]
    fn ca_looks_like_consuls() {
        let (ca, _) = ca();
        assert!(ca.key_pem.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(ca.cert_pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(ca.cert_pem.lines().all(|l| l.len() <= 64));
        let der = parse_cert_der(&ca.cert_pem).expect("pem");
        let cert = parse_x509(&der).expect("parses");
        let subject = cert.subject().to_string();
        assert!(
            subject.starts_with(
                "C=US, ST=CA, L=San Francisco, streetAddress=101 Second Street, postalCode=94105, \
                 O=HashiCorp Inc., CN=Consul Agent CA "
            ),
            "{subject}"
        );
        let cn = subject.rsplit(' ').next().expect("serial");
        assert_eq!(cn, cert.serial.to_string());
        assert!(cert.is_ca());
        let id = subject_key_id(&cert).expect("ski");
        assert_eq!(id.len(), 32);
        assert_eq!(id, Sha256::digest(cert.public_key().raw).to_vec());
        let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp())
            / 86_400;
        assert_eq!(days, 1825);
    }

    #[test]
    fn key_files_round_trip_as_go_writes_them() {
        let (pair, pem) = generate_private_key().expect("key");
        let back = parse_signer(&pem).expect("parses");
        assert_eq!(back.der_bytes(), pair.der_bytes());
        let p8 = pem_encode("PRIVATE KEY", pair.serialized_der());
        assert_eq!(
            parse_signer(&p8).expect("pkcs8").der_bytes(),
            pair.der_bytes()
        );
        assert_eq!(parse_signer("nothing").err(), Some(TlsError::NoPem));
        assert_eq!(
            parse_signer(&pem_encode("CERTIFICATE", &[1, 2])).err(),
            Some(TlsError::UnknownKeyType("CERTIFICATE".into()))
        );
    }

    #[test]
    fn server_cert_verifies_and_a_foreign_key_does_not() {
        let (ca, signer) = ca();
        let cert = server(&ca, &signer, &["server.dc1.consul", "localhost"]).expect("cert");
        verify(&ca.cert_pem, &cert.cert_pem).expect("verifies");
        let (other, _) = generate_private_key().expect("key");
        let wrong = server(&ca, &other, &["server.dc1.consul"]).expect("signs anyway");
        let err = verify(&ca.cert_pem, &wrong.cert_pem).expect_err("refused");
        assert!(
            err.to_string().starts_with(
                "x509: certificate signed by unknown authority (possibly because of \
                 \"x509: ECDSA verification failure\" while trying to verify candidate \
                 authority certificate \"Consul Agent CA "
            ),
            "{err}"
        );
        assert_eq!(
            verify_at(&ca.cert_pem, &cert.cert_pem, 0).err(),
            Some(TlsError::Verify(format!(
                "x509: certificate has expired or is not yet valid: current time \
                 1970-01-01T00:00:00Z is before {}",
                rfc3339(
                    parse_x509(&parse_cert_der(&cert.cert_pem).expect("pem"))
                        .expect("x509")
                        .validity()
                        .not_before
                        .timestamp()
                )
            )))
        );
    }

    #[test]
    fn name_constraints_bind_like_go() {
        let constraints = vec!["consul".to_string(), "localhost".to_string()];
        let ca = generate_ca(&CaOpts {
            name: "",
            days: 0,
            domain: "consul",
            permitted_dns_domains: &constraints,
            cluster_id: "ABC",
        })
        .expect("ca");
        let signer = parse_signer(&ca.key_pem).expect("key");
        let ok = server(&ca, &signer, &["server.dc1.consul", "localhost"]).expect("cert");
        verify(&ca.cert_pem, &ok.cert_pem).expect("inside the constraints");
        let out = server(&ca, &signer, &["example.com", "server.dc1.consul"]).expect("cert");
        assert_eq!(
            verify(&ca.cert_pem, &out.cert_pem).err(),
            Some(TlsError::Verify(
                "x509: a root or intermediate certificate is not authorized to sign for this \
                 name: DNS name \"example.com\" is not permitted by any constraint"
                    .into()
            ))
        );
        assert!(domain_matches("a.consul", ".consul").expect("ok"));
        assert!(!domain_matches("consul", ".consul").expect("ok"));
        assert!(domain_matches("A.CONSUL", "consul").expect("ok"));
        assert!(!domain_matches("aconsul", "consul").expect("ok"));
    }

    #[test]
    fn go_refusals() {
        let (ca, signer) = ca();
        assert_eq!(
            server(&ca, &signer, &["bad\u{e9}"]).err(),
            Some(TlsError::CreateCert(
                "x509: \"bad\u{e9}\" cannot be encoded as an IA5String".into()
            ))
        );
        let garbage = generate_cert(&CertOpts {
            signer: &signer,
            ca: "garbage",
            name: "n",
            days: 1,
            dns_names: &[],
            ip_addresses: &[],
            ext_key_usage: &[],
        });
        assert_eq!(
            garbage.err(),
            Some(TlsError::ParseCa("no PEM-encoded data found".into()))
        );
        assert_eq!(
            validity(0, 10_000 * 366).err().as_deref(),
            Some(GENERALIZED_TIME_ERROR)
        );
        assert_eq!(dn_value("a&b"), DnValue::Utf8String("a&b".into()));
        assert!(matches!(
            dn_value("Consul CA 1"),
            DnValue::PrintableString(_)
        ));
    }
}
