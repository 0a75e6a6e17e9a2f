//! The few DER shapes Go's key files come in, turned into what ring signs with and back:
//! SEC1 `EC PRIVATE KEY` and PKCS#1 `RSA PRIVATE KEY` wrapped into PKCS#8, and a PKCS#8 EC key
//! written out as Go's `x509.MarshalECPrivateKey` does (version 1, the private scalar, the
//! curve's OID in `[0]`, the public point in `[1]`).

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_1: u8 = 0xa1;

/// `id-ecPublicKey` (1.2.840.10045.2.1), the value bytes of the OID.
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `rsaEncryption` (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A named curve Go's `x509` knows, by its OID's value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P224,
    P256,
    P384,
    P521,
}

impl Curve {
    fn from_oid(oid: &[u8]) -> Option<Curve> {
        match oid {
            [0x2b, 0x81, 0x04, 0x00, 0x21] => Some(Curve::P224),
            [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07] => Some(Curve::P256),
            [0x2b, 0x81, 0x04, 0x00, 0x22] => Some(Curve::P384),
            [0x2b, 0x81, 0x04, 0x00, 0x23] => Some(Curve::P521),
            _ => None,
        }
    }

    fn oid(self) -> &'static [u8] {
        match self {
            Curve::P224 => &[0x2b, 0x81, 0x04, 0x00, 0x21],
            Curve::P256 => &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            Curve::P384 => &[0x2b, 0x81, 0x04, 0x00, 0x22],
            Curve::P521 => &[0x2b, 0x81, 0x04, 0x00, 0x23],
        }
    }

    /// Go's name for the curve (`elliptic.Curve.Params().Name`).
    pub fn name(self) -> &'static str {
        match self {
            Curve::P224 => "P-224",
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// Length of the private scalar in bytes.
    fn scalar_len(self) -> usize {
        match self {
            Curve::P224 => 28,
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// Why a key's DER was not one of the shapes above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("malformed DER")]
    Malformed,
    #[error("unknown EC private key version {0}")]
    EcVersion(u8),
    #[error("unknown elliptic curve")]
    UnknownCurve,
    #[error("EC private key without its curve")]
    NoCurve,
    #[error("EC private key without its public key")]
    NoPublicKey,
    #[error("not an EC key")]
    NotEc,
}

/// One TLV: its tag, its value, and what follows it.
fn read(input: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError::Malformed)?;
    let (&first, rest) = rest.split_first().ok_or(DerError::Malformed)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError::Malformed);
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(DerError::Malformed);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Reads one TLV that must carry `tag`.
fn expect(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), DerError> {
    match read(input)? {
        (t, value, rest) if t == tag => Ok((value, rest)),
        _ => Err(DerError::Malformed),
    }
}

/// One TLV, definite length in the shortest form.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The parts of an RFC 5915 `ECPrivateKey`.
struct EcKey<'a> {
    scalar: &'a [u8],
    curve: Option<Curve>,
    public: Option<&'a [u8]>,
}

fn parse_ec_private_key(der: &[u8]) -> Result<EcKey<'_>, DerError> {
    let (body, _) = expect(der, SEQUENCE)?;
    let (version, body) = expect(body, INTEGER)?;
    if version != [1] {
        return Err(DerError::EcVersion(version.last().copied().unwrap_or(0)));
    }
    let (scalar, mut body) = expect(body, OCTET_STRING)?;
    let mut curve = None;
    let mut public = None;
    while !body.is_empty() {
        let (tag, value, rest) = read(body)?;
        match tag {
            CONTEXT_0 => {
                let (oid, _) = expect(value, OID)?;
                curve = Some(Curve::from_oid(oid).ok_or(DerError::UnknownCurve)?);
            }
            CONTEXT_1 => {
                let (bits, _) = expect(value, BIT_STRING)?;
                match bits.split_first() {
                    Some((0, point)) => public = Some(point),
                    _ => return Err(DerError::Malformed),
                }
            }
            _ => return Err(DerError::Malformed),
        }
        body = rest;
    }
    Ok(EcKey {
        scalar,
        curve,
        public,
    })
}

/// An `ECPrivateKey` in ring's PKCS#8 form: version 1, scalar, public point (no `[0]`).
fn ec_private_key_for_pkcs8(scalar: &[u8], public: &[u8]) -> Vec<u8> {
    let point = concat(&[&[0], public]);
    tlv(
        SEQUENCE,
        &concat(&[
            &tlv(INTEGER, &[1]),
            &tlv(OCTET_STRING, scalar),
            &tlv(CONTEXT_1, &tlv(BIT_STRING, &point)),
        ]),
    )
}

fn pkcs8(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    tlv(
        SEQUENCE,
        &concat(&[
            &tlv(INTEGER, &[0]),
            &tlv(SEQUENCE, algorithm),
            &tlv(OCTET_STRING, key),
        ]),
    )
}

/// A SEC1 `EC PRIVATE KEY` as PKCS#8, with its curve.
pub fn sec1_to_pkcs8(der: &[u8]) -> Result<(Curve, Vec<u8>), DerError> {
    let key = parse_ec_private_key(der)?;
    let curve = key.curve.ok_or(DerError::NoCurve)?;
    let public = key.public.ok_or(DerError::NoPublicKey)?;
    // Go pads the scalar to the curve's size; so does ring's parser expect it.
    let mut scalar = vec![0u8; curve.scalar_len().saturating_sub(key.scalar.len())];
    scalar.extend_from_slice(key.scalar);
    let algorithm = concat(&[&tlv(OID, EC_PUBLIC_KEY), &tlv(OID, curve.oid())]);
    Ok((
        curve,
        pkcs8(&algorithm, &ec_private_key_for_pkcs8(&scalar, public)),
    ))
}

/// A PKCS#1 `RSA PRIVATE KEY` as PKCS#8.
pub fn pkcs1_to_pkcs8(der: &[u8]) -> Result<Vec<u8>, DerError> {
    // Only checked to be one SEQUENCE; ring parses the rest.
    let (_, rest) = expect(der, SEQUENCE)?;
    if !rest.is_empty() {
        return Err(DerError::Malformed);
    }
    let algorithm = concat(&[&tlv(OID, RSA_ENCRYPTION), &tlv(NULL, &[])]);
    Ok(pkcs8(&algorithm, der))
}

/// The curve of a PKCS#8 EC key, or `NotEc` for another algorithm.
pub fn pkcs8_curve(der: &[u8]) -> Result<Curve, DerError> {
    let (body, _) = expect(der, SEQUENCE)?;
    let (_, body) = expect(body, INTEGER)?;
    let (algorithm, _) = expect(body, SEQUENCE)?;
    let (oid, rest) = expect(algorithm, OID)?;
    if oid != EC_PUBLIC_KEY {
        return Err(DerError::NotEc);
    }
    let (curve, _) = expect(rest, OID)?;
    Curve::from_oid(curve).ok_or(DerError::UnknownCurve)
}

/// A PKCS#8 EC key written as Go's `x509.MarshalECPrivateKey` (SEC1, with the curve).
pub fn pkcs8_to_sec1(der: &[u8], public: &[u8]) -> Result<Vec<u8>, DerError> {
    let curve = pkcs8_curve(der)?;
    let (body, _) = expect(der, SEQUENCE)?;
    let (_, body) = expect(body, INTEGER)?;
    let (_, body) = expect(body, SEQUENCE)?;
    let (inner, _) = expect(body, OCTET_STRING)?;
    let key = parse_ec_private_key(inner)?;
    let mut scalar = vec![0u8; curve.scalar_len().saturating_sub(key.scalar.len())];
    scalar.extend_from_slice(key.scalar);
    let point = concat(&[&[0], public]);
    Ok(tlv(
        SEQUENCE,
        &concat(&[
            &tlv(INTEGER, &[1]),
            &tlv(OCTET_STRING, &scalar),
            &tlv(CONTEXT_0, &tlv(OID, curve.oid())),
            &tlv(CONTEXT_1, &tlv(BIT_STRING, &point)),
        ]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let value = vec![7u8; len];
            let encoded = tlv(OCTET_STRING, &value);
            let (tag, got, rest) = read(&encoded).expect("reads");
            assert_eq!((tag, got.len(), rest.len()), (OCTET_STRING, len, 0));
        }
        assert_eq!(read(&[0x04, 0x05, 1]), Err(DerError::Malformed));
        assert_eq!(read(&[0x04, 0x80]), Err(DerError::Malformed));
    }

    #[test]
    fn sec1_and_pkcs8_convert_both_ways() {
        let scalar = [9u8; 32];
        let public = [4u8; 65];
        let sec1 = tlv(
            SEQUENCE,
            &concat(&[
                &tlv(INTEGER, &[1]),
                &tlv(OCTET_STRING, &scalar),
                &tlv(CONTEXT_0, &tlv(OID, Curve::P256.oid())),
                &tlv(CONTEXT_1, &tlv(BIT_STRING, &concat(&[&[0], &public]))),
            ]),
        );
        let (curve, p8) = sec1_to_pkcs8(&sec1).expect("converts");
        assert_eq!(curve, Curve::P256);
        assert_eq!(pkcs8_curve(&p8), Ok(Curve::P256));
        assert_eq!(pkcs8_to_sec1(&p8, &public).expect("back"), sec1);
        // Go's layout: 0x79 bytes for P-256.
        assert_eq!(sec1.len(), 0x79);
    }

    #[test]
    fn refusals() {
        let v2 = tlv(
            SEQUENCE,
            &concat(&[&tlv(INTEGER, &[2]), &tlv(OCTET_STRING, &[1])]),
        );
        assert_eq!(sec1_to_pkcs8(&v2).err(), Some(DerError::EcVersion(2)));
        let no_curve = tlv(
            SEQUENCE,
            &concat(&[&tlv(INTEGER, &[1]), &tlv(OCTET_STRING, &[1])]),
        );
        assert_eq!(sec1_to_pkcs8(&no_curve).err(), Some(DerError::NoCurve));
        assert_eq!(pkcs1_to_pkcs8(b"junk").err(), Some(DerError::Malformed));
    }
}
