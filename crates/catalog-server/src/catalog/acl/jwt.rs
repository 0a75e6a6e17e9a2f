//! The `jwt` auth method: its `Config`, decoded as Consul decodes it (mapstructure: keys
//! matched case-insensitively, unknown keys refused, scalars converted weakly) and checked as
//! go-sso's `Config.Validate` checks it; and a bearer token validated as go-sso's
//! `ClaimsFromJWT` validates one against `JWTValidationPubKeys`: the signature (jsonwebtoken),
//! then `exp`/`nbf`/`iat` with the configured leeways, `iss`, `aud`, and the claims mapped
//! to the identity's values and lists.
//!
//! `JWKSURL` and `OIDCDiscoveryURL` (keys fetched over the network) are refused by name, and
//! so are keys and algorithms the verifier cannot check (P-521 curves and `ES512`, RSA keys
//! under 2048 bits). Unlike Consul, which ignores `JWTSupportedAlgs` for static keys, a
//! non-empty `JWTSupportedAlgs` is enforced.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a `Config` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Consul's own refusal (its RPC error: 500).
    #[error("{0}")]
    Invalid(String),
    /// Something Consul takes that this agent does not implement (400).
    #[error("{0}")]
    Unsupported(String),
}

/// A public key of `JWTValidationPubKeys`, as the verifier takes it.
#[derive(Debug, Clone)]
enum PubKey {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// An uncompressed EC point, and the one algorithm its curve verifies.
    Ec(Vec<u8>, Algorithm),
    /// A raw Ed25519 key.
    Ed(Vec<u8>),
}

impl PubKey {
    fn decoding_key(&self, alg: Algorithm) -> Option<DecodingKey> {
        use Algorithm::*;
        match (self, alg) {
            (PubKey::Rsa(der), RS256 | RS384 | RS512 | PS256 | PS384 | PS512) => {
                Some(DecodingKey::from_rsa_der(der))
            }
            (PubKey::Ec(point, a), _) if *a == alg => Some(DecodingKey::from_ec_der(point)),
            (PubKey::Ed(raw), EdDSA) => Some(DecodingKey::from_ed_der(raw)),
            _ => None,
        }
    }
}

/// A checked `jwt` method configuration.
#[derive(Debug, Clone, Default)]
pub struct JwtConfig {
    bound_issuer: String,
    bound_audiences: Vec<String>,
    claim_mappings: BTreeMap<String, String>,
    list_claim_mappings: BTreeMap<String, String>,
    supported_algs: Vec<String>,
    expiration_leeway_ns: i64,
    not_before_leeway_ns: i64,
    clock_skew_leeway_ns: i64,
    keys: Vec<PubKey>,
}

/// The identity a validated token stands for: mapped claim values and lists (every mapped
/// name present, empty when the token lacks the claim, as Consul's blank identity has them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    pub values: BTreeMap<String, String>,
    pub lists: BTreeMap<String, Vec<String>>,
}

/// The `Config` fields of Consul's `ssoauth.Config` (Community Edition).
const FIELDS: &[&str] = &[
    "JWTSupportedAlgs",
    "BoundAudiences",
    "ClaimMappings",
    "ListClaimMappings",
    "OIDCDiscoveryURL",
    "OIDCDiscoveryCACert",
    "JWKSURL",
    "JWKSCACert",
    "JWTValidationPubKeys",
    "BoundIssuer",
    "ExpirationLeeway",
    "NotBeforeLeeway",
    "ClockSkewLeeway",
];

/// Algorithms go-sso accepts in `JWTSupportedAlgs`.
const ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
];

const ED25519_OID: &str = "1.3.101.112";

/// Go's `%T` of a decoded JSON value.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// mapstructure's weak conversion of a scalar to a string.
fn weak_string(name: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "'{name}' expected type 'string', got unconvertible type '{}', value: '{other}'",
            go_type(other)
        )),
    }
}

fn weak_strings(name: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| weak_string(&format!("{name}[{i}]"), x))
            .collect(),
        scalar => Ok(vec![weak_string(name, scalar)?]),
    }
}

fn weak_map(name: &str, v: &Value) -> Result<BTreeMap<String, String>, String> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| Ok((k.clone(), weak_string(&format!("{name}[{k}]"), x)?)))
            .collect(),
        other => Err(format!(
            "'{name}' expected a map, got '{}'",
            match other {
                Value::Array(_) => "slice",
                Value::String(_) => "string",
                Value::Number(_) => "float64",
                Value::Bool(_) => "bool",
                _ => "interface",
            }
        )),
    }
}

/// A duration: nanoseconds as a number (what Consul reads), or a Go duration string.
fn weak_duration(name: &str, v: &Value) -> Result<i64, String> {
    match v {
        Value::Null => Ok(0),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => Ok(n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or_default() as i64)),
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => s
            .parse::<i64>()
            .or_else(|_| api_types::parse_go_duration(s).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot parse '{name}' as a duration: {e}")),
        other => Err(format!(
            "'{name}' expected type 'time.Duration', got unconvertible type '{}', value: '{other}'",
            go_type(other)
        )),
    }
}

/// The raw fields, by their canonical names.
#[derive(Default)]
struct Raw {
    fields: BTreeMap<&'static str, Value>,
}

impl Raw {
    fn decode(config: Option<&Map<String, Value>>) -> Result<Raw, ConfigError> {
        let mut raw = Raw::default();
        let mut unused: Vec<String> = Vec::new();
        for (k, v) in config.into_iter().flatten() {
            let field = FIELDS
                .iter()
                .find(|f| **f == k.as_str())
                .or_else(|| FIELDS.iter().find(|f| f.eq_ignore_ascii_case(k)));
            match field {
                Some(f) => {
                    raw.fields.insert(*f, v.clone());
                }
                None => unused.push(k.clone()),
            }
        }
        if !unused.is_empty() {
            unused.sort();
            return Err(mapstructure_errors(&[format!(
                "'' has invalid keys: {}",
                unused.join(", ")
            )]));
        }
        Ok(raw)
    }

    fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.fields.get(name).unwrap_or(&NULL)
    }
}

fn mapstructure_errors(errors: &[String]) -> ConfigError {
    let list: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    ConfigError::Invalid(format!(
        "error decoding config: {} error(s) decoding:\n\n{}",
        errors.len(),
        list.join("\n")
    ))
}

impl JwtConfig {
    /// Decodes and checks a method's `Config` (Consul's texts, in its order).
    pub fn parse(config: Option<&Map<String, Value>>) -> Result<JwtConfig, ConfigError> {
        let raw = Raw::decode(config)?;
        let mut errors = Vec::new();
        let mut string = |name: &str| {
            weak_string(name, raw.get(name)).unwrap_or_else(|e| {
                errors.push(e);
                String::new()
            })
        };
        let jwks_url = string("JWKSURL");
        let jwks_ca = string("JWKSCACert");
        let discovery_url = string("OIDCDiscoveryURL");
        let discovery_ca = string("OIDCDiscoveryCACert");
        let bound_issuer = string("BoundIssuer");
        let mut strings = |name: &str| {
            weak_strings(name, raw.get(name)).unwrap_or_else(|e| {
                errors.push(e);
                Vec::new()
            })
        };
        let pub_keys = strings("JWTValidationPubKeys");
        let bound_audiences = strings("BoundAudiences");
        let supported_algs = strings("JWTSupportedAlgs");
        let mut maps = |name: &str| {
            weak_map(name, raw.get(name)).unwrap_or_else(|e| {
                errors.push(e);
                BTreeMap::new()
            })
        };
        let claim_mappings = maps("ClaimMappings");
        let list_claim_mappings = maps("ListClaimMappings");
        let mut durations = |name: &str| {
            weak_duration(name, raw.get(name)).unwrap_or_else(|e| {
                errors.push(e);
                0
            })
        };
        let expiration_leeway_ns = durations("ExpirationLeeway");
        let not_before_leeway_ns = durations("NotBeforeLeeway");
        let clock_skew_leeway_ns = durations("ClockSkewLeeway");
        if !errors.is_empty() {
            return Err(mapstructure_errors(&errors));
        }

        let sources = [
            !discovery_url.is_empty(),
            !pub_keys.is_empty(),
            !jwks_url.is_empty(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError::Invalid(
                "exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set for type \"jwt\"".into(),
            ));
        }
        if !jwks_url.is_empty() {
            return Err(ConfigError::Unsupported(
                "'JWKSURL' is not supported by this agent (keys are not fetched): give the keys in 'JWTValidationPubKeys'".into(),
            ));
        }
        if !jwks_ca.is_empty() {
            return Err(ConfigError::Invalid(
                "'JWKSCACert' should not be set unless 'JWKSURL' is set".into(),
            ));
        }
        let mut keys = Vec::with_capacity(pub_keys.len());
        for (i, pem) in pub_keys.iter().enumerate() {
            keys.push(parse_public_key(pem).map_err(|e| match e {
                ConfigError::Invalid(m) => ConfigError::Invalid(format!(
                    "error parsing public key JWTValidationPubKeys[{i}]: {m}"
                )),
                ConfigError::Unsupported(m) => {
                    ConfigError::Unsupported(format!("public key JWTValidationPubKeys[{i}]: {m}"))
                }
            })?);
        }
        if !discovery_url.is_empty() {
            return Err(ConfigError::Unsupported(
                "'OIDCDiscoveryURL' is not supported by this agent (keys are not fetched): give the keys in 'JWTValidationPubKeys'".into(),
            ));
        }
        if !discovery_ca.is_empty() {
            return Err(ConfigError::Invalid(
                "'OIDCDiscoveryCACert' should not be set unless 'OIDCDiscoveryURL' is set".into(),
            ));
        }
        for a in &supported_algs {
            if !ALGS.contains(&a.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "Invalid supported algorithm: {a}"
                )));
            }
            if a == "ES512" {
                return Err(ConfigError::Unsupported(
                    "JWTSupportedAlgs \"ES512\" is not supported by this agent (P-521 signatures cannot be verified)".into(),
                ));
            }
        }
        for (what, mappings) in [
            ("ClaimMappings", &claim_mappings),
            ("ListClaimMappings", &list_claim_mappings),
        ] {
            let mut seen = std::collections::BTreeSet::new();
            for target in mappings.values() {
                if !seen.insert(target) {
                    return Err(ConfigError::Invalid(format!(
                        "{what} contains multiple mappings for key {}",
                        api_types::go_quote(target)
                    )));
                }
            }
        }
        Ok(JwtConfig {
            bound_issuer,
            bound_audiences,
            claim_mappings,
            list_claim_mappings,
            supported_algs,
            expiration_leeway_ns,
            not_before_leeway_ns,
            clock_skew_leeway_ns,
            keys,
        })
    }

    /// The identity of a token with no claims: every mapped name, empty.
    pub fn blank_claims(&self) -> Claims {
        Claims {
            values: self
                .claim_mappings
                .values()
                .map(|k| (k.clone(), String::new()))
                .collect(),
            lists: self
                .list_claim_mappings
                .values()
                .map(|k| (k.clone(), Vec::new()))
                .collect(),
        }
    }

    /// Validates `token` at `now_secs` (Unix seconds): Consul's texts for every refusal.
    pub fn validate(&self, token: &str, now_secs: i64) -> Result<Claims, String> {
        if token.is_empty() {
            return Err("missing jwt".into());
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("error parsing token: {e}"))?;
        let alg = header.alg;
        let allowed = self.supported_algs.is_empty()
            || self.supported_algs.iter().any(|a| format!("{alg:?}") == *a);
        let mut claims: Option<Map<String, Value>> = None;
        if allowed {
            let mut validation = Validation::new(alg);
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.validate_aud = false;
            for key in &self.keys {
                let Some(dk) = key.decoding_key(alg) else {
                    continue;
                };
                if let Ok(data) =
                    jsonwebtoken::decode::<Map<String, Value>>(token, &dk, &validation)
                {
                    claims = Some(data.claims);
                    break;
                }
            }
        }
        let all = claims.ok_or("no known key successfully validated the token signature")?;
        self.check_claims(&all, now_secs)?;
        self.extract(&all)
    }

    /// go-sso's defaults for missing times, then go-jose's `ValidateWithLeeway`, then the
    /// audience.
    fn check_claims(&self, all: &Map<String, Value>, now: i64) -> Result<(), String> {
        let date = |name: &str| -> Result<i64, String> {
            match all.get(name) {
                None | Some(Value::Null) => Ok(0),
                Some(Value::Number(n)) => Ok(n
                    .as_i64()
                    .unwrap_or_else(|| n.as_f64().unwrap_or_default() as i64)),
                Some(_) => Err(format!(
                    "error validating claims: square/go-jose/jwt: expected number timestamp in {name}"
                )),
            }
        };
        let iat = date("iat")?;
        let mut exp = date("exp")?;
        let mut nbf = date("nbf")?;
        if iat == 0 && exp == 0 && nbf == 0 {
            return Err("no issue time, notbefore, or expiration time encoded in token".into());
        }
        let leeway = |ns: i64, default: i64| match ns {
            n if n < 0 => 0,
            0 => default,
            n => n / 1_000_000_000,
        };
        if exp == 0 {
            let latest_start = iat.max(nbf);
            exp = latest_start.saturating_add(leeway(self.expiration_leeway_ns, 150));
        }
        if nbf == 0 {
            nbf = if iat != 0 {
                iat
            } else {
                exp.saturating_sub(leeway(self.not_before_leeway_ns, 150))
            };
        }
        let skew = leeway(self.clock_skew_leeway_ns, 60);
        let issuer = match all.get("iss") {
            Some(Value::String(s)) => s.as_str(),
            _ => "",
        };
        if !self.bound_issuer.is_empty() && self.bound_issuer != issuer {
            return Err(
                "error validating claims: square/go-jose/jwt: validation failed, invalid issuer claim (iss)".into(),
            );
        }
        if now.saturating_add(skew) < nbf {
            return Err(
                "error validating claims: square/go-jose/jwt: validation failed, token not valid yet (nbf)".into(),
            );
        }
        if now.saturating_sub(skew) > exp {
            return Err(
                "error validating claims: square/go-jose/jwt: validation failed, token is expired (exp)".into(),
            );
        }
        if iat != 0 && now.saturating_add(skew) < iat {
            return Err(
                "error validating claims: square/go-jose/jwt: validation field, token issued in the future (iat)".into(),
            );
        }
        let audience: Vec<String> = match all.get("aud") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
                .ok_or("error validating claims: square/go-jose/jwt: expected string or array value to unmarshal to Audience")?,
            Some(_) => {
                return Err(
                    "error validating claims: square/go-jose/jwt: expected string or array value to unmarshal to Audience".into(),
                )
            }
        };
        if self.bound_audiences.is_empty() {
            if !audience.is_empty() {
                return Err(
                    "error validating claims: audience claim found in JWT but no audiences are bound".into(),
                );
            }
        } else if !self.bound_audiences.iter().any(|b| audience.contains(b)) {
            return Err(
                "error validating claims: aud claim does not match any bound audience".into(),
            );
        }
        Ok(())
    }

    /// The mapped claims (go-sso's `extractClaims`).
    fn extract(&self, all: &Map<String, Value>) -> Result<Claims, String> {
        let mut out = self.blank_claims();
        let root = Value::Object(all.clone());
        for (source, target) in &self.claim_mappings {
            let Some(raw) = claim(&root, source) else {
                continue;
            };
            let s = stringify(raw).ok_or_else(|| {
                format!(
                    "error converting claim '{source}' to string from unknown type {}",
                    go_type(raw)
                )
            })?;
            out.values.insert(target.clone(), s);
        }
        for (source, target) in &self.list_claim_mappings {
            let Some(raw) = claim(&root, source) else {
                continue;
            };
            let items: Vec<&Value> = match raw {
                Value::Array(items) => items.iter().collect(),
                Value::Object(_) => {
                    return Err(format!(
                        "{} list claim could not be converted to string list",
                        api_types::go_quote(source)
                    ))
                }
                scalar => vec![scalar],
            };
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                let s = stringify(item).ok_or_else(|| {
                    format!(
                        "value {item} in {} list claim could not be parsed as string",
                        api_types::go_quote(source)
                    )
                })?;
                if !s.is_empty() {
                    list.push(s);
                }
            }
            out.lists.insert(target.clone(), list);
        }
        Ok(out)
    }
}

/// A claim by name, or by JSON pointer when it starts with `/`; `None` when absent or null.
fn claim<'a>(root: &'a Value, source: &str) -> Option<&'a Value> {
    let v = if source.starts_with('/') {
        root.pointer(source)
    } else {
        root.get(source)
    }?;
    (!v.is_null()).then_some(v)
}

/// go-sso's `stringifyMetadataValue`: numbers truncated to integers.
fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => (n.as_f64().unwrap_or_default() as i64).to_string(),
        }),
        _ => None,
    }
}

/// One PEM public key (`PUBLIC KEY`, or a `CERTIFICATE`'s key), as Go's `parsePublicKeyPEM`
/// reads it.
fn parse_public_key(text: &str) -> Result<PubKey, ConfigError> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    use x509_parser::x509::SubjectPublicKeyInfo;
    let none = || {
        ConfigError::Invalid(
            "data does not contain any valid RSA, ECDSA, or ED25519 public keys".into(),
        )
    };
    let block = pem::parse(text.trim()).map_err(|_| none())?;
    let spki = match SubjectPublicKeyInfo::from_der(block.contents()) {
        Ok((_, spki)) => spki,
        Err(_) => {
            x509_parser::parse_x509_certificate(block.contents())
                .map_err(|e| ConfigError::Invalid(format!("x509: {e}")))?
                .1
                .tbs_certificate
                .subject_pki
        }
    };
    if spki.algorithm.algorithm.to_id_string() == ED25519_OID {
        return Ok(PubKey::Ed(spki.subject_public_key.data.to_vec()));
    }
    match spki.parsed().map_err(|_| none())? {
        PublicKey::RSA(rsa) => {
            let modulus = rsa.modulus.iter().skip_while(|b| **b == 0).count();
            if modulus * 8 < 2048 {
                return Err(ConfigError::Unsupported(
                    "RSA keys of fewer than 2048 bits are not supported by this agent".into(),
                ));
            }
            Ok(PubKey::Rsa(spki.subject_public_key.data.to_vec()))
        }
        PublicKey::EC(point) => {
            let data = point.data().to_vec();
            let alg = match data.len() {
                65 => Algorithm::ES256,
                97 => Algorithm::ES384,
                _ => {
                    return Err(ConfigError::Unsupported(
                        "ECDSA keys other than uncompressed P-256 and P-384 ones are not supported by this agent".into(),
                    ))
                }
            };
            Ok(PubKey::Ec(data, alg))
        }
        _ => Err(none()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> Result<JwtConfig, ConfigError> {
        JwtConfig::parse(v.as_object())
    }

    fn sign(kp: &rcgen::KeyPair, claims: &Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_ec_der(&kp.serialize_der());
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::ES256), claims, &key)
            .expect("sign")
    }

    #[test]
    fn tokens_are_validated_with_consuls_leeways_and_mapped() {
        let kp = rcgen::KeyPair::generate().expect("key");
        let c = cfg(json!({
            "JWTValidationPubKeys": [kp.public_key_pem()],
            "BoundAudiences": ["consul"],
            "ClaimMappings": {"sub": "subject", "/a/n": "n"},
            "ListClaimMappings": {"groups": "groups"},
        }))
        .expect("config");
        let now = 1_700_000_000;
        let claims = c
            .validate(
                &sign(&kp, &json!({"aud": ["x", "consul"], "iat": now, "sub": "Me", "a": {"n": 3.9}, "groups": ["g1", "", 2]})),
                now,
            )
            .expect("valid");
        assert_eq!(claims.values["subject"], "Me");
        assert_eq!(claims.values["n"], "3");
        assert_eq!(
            claims.lists["groups"],
            vec!["g1".to_string(), "2".to_string()]
        );
        // Only `iat`: valid for 150s (ExpirationLeeway's default) plus 60s of clock skew.
        let t = sign(&kp, &json!({"aud": "consul", "iat": now}));
        assert!(c.validate(&t, now + 209).is_ok());
        assert_eq!(
            c.validate(&t, now + 211).expect_err("expired"),
            "error validating claims: square/go-jose/jwt: validation failed, token is expired (exp)"
        );
        assert_eq!(
            c.validate(&sign(&kp, &json!({"aud": "consul"})), now)
                .expect_err("no times"),
            "no issue time, notbefore, or expiration time encoded in token"
        );
        assert_eq!(
            c.validate(&sign(&kp, &json!({"iat": now})), now)
                .expect_err("no aud"),
            "error validating claims: aud claim does not match any bound audience"
        );
        let other = rcgen::KeyPair::generate().expect("key");
        assert_eq!(
            c.validate(&sign(&other, &json!({"aud": "consul", "iat": now})), now)
                .expect_err("other key"),
            "no known key successfully validated the token signature"
        );
        let strict = cfg(json!({
            "JWTValidationPubKeys": [kp.public_key_pem()],
            "JWTSupportedAlgs": ["RS256"],
        }))
        .expect("config");
        assert!(strict
            .validate(&sign(&kp, &json!({"iat": now})), now)
            .is_err());
    }

    #[test]
    fn config_is_decoded_and_checked_as_consul_does() {
        let kp = rcgen::KeyPair::generate().expect("key");
        let pem = kp.public_key_pem();
        assert!(cfg(json!({"jwtvalidationpubkeys": [pem], "BoundIssuer": "x"})).is_ok());
        assert_eq!(
            cfg(json!({"JWTValidationPubKeys": [pem], "Foo": 1, "Bar": 2}))
                .expect_err("unknown")
                .to_string(),
            "error decoding config: 1 error(s) decoding:\n\n* '' has invalid keys: Bar, Foo"
        );
        assert_eq!(
            cfg(json!({})).expect_err("no keys").to_string(),
            "exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set for type \"jwt\""
        );
        assert!(matches!(
            cfg(json!({"JWKSURL": "https://example.test/jwks"})),
            Err(ConfigError::Unsupported(m)) if m.contains("'JWKSURL'")
        ));
        assert!(matches!(
            cfg(json!({"OIDCDiscoveryURL": "https://example.test"})),
            Err(ConfigError::Unsupported(m)) if m.contains("'OIDCDiscoveryURL'")
        ));
        assert_eq!(
            cfg(json!({"JWTValidationPubKeys": ["nope"]}))
                .expect_err("bad key")
                .to_string(),
            "error parsing public key JWTValidationPubKeys[0]: data does not contain any valid RSA, ECDSA, or ED25519 public keys"
        );
        assert_eq!(
            cfg(json!({"JWTValidationPubKeys": [pem], "JWTSupportedAlgs": ["HS256"]}))
                .expect_err("alg")
                .to_string(),
            "Invalid supported algorithm: HS256"
        );
        assert_eq!(
            cfg(json!({"JWTValidationPubKeys": [pem], "ClaimMappings": {"a": "x", "b": "x"}}))
                .expect_err("dup")
                .to_string(),
            "ClaimMappings contains multiple mappings for key \"x\""
        );
    }
}
