//! The registry URI, its scheme choosing the backend ([`target`]): the Consul ones
//! (`consul://`, `consul-unix://`, `consul-tls://`, `consulkv://`, `consulkv-unix://`) resolved
//! here with the Consul client environment (`CONSUL_HTTP_ADDR`,
//! `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_AUTH`, `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`,
//! `CONSUL_CACERT`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`, `CONSUL_TLS_SERVER_NAME`) resolved
//! into one [`Endpoint`]. Precedence: a host in the URI beats `CONSUL_HTTP_ADDR`, which beats
//! the default `127.0.0.1:8500`. `etcd://` and `skydns2://` are parsed by their own modules
//! ([`super::etcd`], [`super::skydns2`]); `zookeeper://` and any other scheme are refused.

use std::path::PathBuf;

/// The backend a registry URI selects, with what it needs to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `consul://`, `consul-unix://`, `consul-tls://`, `consulkv://`, `consulkv-unix://`.
    Consul(Endpoint),
    /// `etcd://` and `skydns2://`: keys in etcd (v3 API).
    Etcd(super::etcd::EtcdTarget),
}

/// The URI's scheme, lowercased (`consul`, `etcd`, ...), for upstream's
/// `Using <scheme> adapter: <uri>` line.
pub fn scheme(uri: &str) -> String {
    uri.split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Parses `uri` into the backend its scheme names (the environment read through `env` only
/// matters to the Consul schemes).
pub fn target(uri: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Target, UriError> {
    let (scheme, _, _) = split(uri)?;
    match scheme.as_str() {
        "etcd" => super::etcd::parse_etcd(uri).map(Target::Etcd),
        "skydns2" => super::skydns2::parse(uri).map(Target::Etcd),
        _ => resolve(uri, env).map(Target::Consul),
    }
}

/// Which Consul API the services are written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The agent service API (`/v1/agent/service/...`).
    Agent,
    /// KV entries `<prefix>/<service name>/<service id>` = `ip:port`.
    Kv { prefix: String },
}

/// Where and how to reach Consul's HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `http://host:port` or `https://host:port`.
    Tcp { https: bool, host_port: String },
    /// HTTP over a unix socket.
    Unix(PathBuf),
}

/// TLS material for `https` (all optional: the system roots are used without a CA file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub skip_verify: bool,
    pub server_name: Option<String>,
}

/// A resolved registry endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub backend: Backend,
    pub address: Address,
    pub token: Option<String>,
    /// `CONSUL_HTTP_AUTH` as `(user, password)`.
    pub basic_auth: Option<(String, String)>,
    pub tls: Tls,
}

/// Why the registry URI cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("bad adapter uri: {0}")]
    Bad(String),
    #[error("unrecognized adapter: {0}")]
    Unrecognized(String),
    #[error(
        "adapter not supported by this registrator: {0} (supported: consul, consul-unix, \
         consul-tls, consulkv, consulkv-unix, etcd, skydns2)"
    )]
    Unsupported(String),
    /// A part of the URI the backend has no use for (query option, user info, fragment):
    /// refused rather than silently ignored.
    #[error("registry URI {uri}: {what} is not supported by the {scheme} adapter")]
    Refused {
        uri: String,
        scheme: String,
        what: String,
    },
    #[error("skydns2: dns domain required e.g.: skydns2://<host>/<domain> (got {0})")]
    SkydnsDomain(String),
}

/// `scheme`, `host`, `path` as Go's `url.Parse` would split them for our schemes.
pub(crate) fn split(uri: &str) -> Result<(String, String, String), UriError> {
    let bad = || UriError::Bad(uri.to_string());
    let (scheme, rest) = uri.split_once(':').ok_or_else(bad)?;
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid {
        return Err(bad());
    }
    let (host, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (r[..i].to_string(), r[i..].to_string()),
            None => (r.to_string(), String::new()),
        },
        None => (String::new(), rest.to_string()),
    };
    Ok((scheme.to_ascii_lowercase(), host, path))
}

/// Address from `CONSUL_HTTP_ADDR` syntax: `host:port`, `http://…`, `https://…`, `unix://…`.
fn parse_addr(addr: &str, https: bool) -> Address {
    if let Some(p) = addr.strip_prefix("unix://") {
        Address::Unix(PathBuf::from(p))
    } else if let Some(h) = addr.strip_prefix("https://") {
        Address::Tcp {
            https: true,
            host_port: h.trim_end_matches('/').to_string(),
        }
    } else if let Some(h) = addr.strip_prefix("http://") {
        Address::Tcp {
            https,
            host_port: h.trim_end_matches('/').to_string(),
        }
    } else {
        Address::Tcp {
            https,
            host_port: addr.to_string(),
        }
    }
}

/// Resolves a Consul `uri` with the environment read through `env` (other schemes: see
/// [`target`]).
pub fn resolve(uri: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, UriError> {
    let (scheme, host, path) = split(uri)?;
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    let ssl = get("CONSUL_HTTP_SSL")
        .and_then(|v| api_types::parse_bool(&v))
        .unwrap_or(false);
    let default_addr = get("CONSUL_HTTP_ADDR").unwrap_or_else(|| "127.0.0.1:8500".to_string());
    let mut address = parse_addr(&default_addr, ssl);
    let backend = match scheme.as_str() {
        "consul" => {
            if !host.is_empty() {
                address = parse_addr(&host, ssl);
            }
            Backend::Agent
        }
        "consul-tls" => {
            address = Address::Tcp {
                https: true,
                host_port: host.clone(),
            };
            Backend::Agent
        }
        "consul-unix" => {
            // Upstream strips "consul-" from the whole URI: consul-unix:///p → unix:///p.
            address = Address::Unix(PathBuf::from(format!("{host}{path}")));
            Backend::Agent
        }
        "consulkv" => {
            if !host.is_empty() {
                address = parse_addr(&host, ssl);
            }
            Backend::Kv {
                prefix: path.trim_start_matches('/').to_string(),
            }
        }
        "consulkv-unix" => {
            let (sock, prefix) = path
                .split_once(':')
                .ok_or_else(|| UriError::Bad(uri.to_string()))?;
            address = Address::Unix(PathBuf::from(sock));
            Backend::Kv {
                prefix: prefix.trim_start_matches('/').to_string(),
            }
        }
        "zookeeper" => return Err(UriError::Unsupported(uri.to_string())),
        _ => return Err(UriError::Unrecognized(uri.to_string())),
    };
    let basic_auth = get("CONSUL_HTTP_AUTH").map(|a| match a.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (a.clone(), String::new()),
    });
    let tls = Tls {
        ca_file: get("CONSUL_CACERT").map(PathBuf::from),
        cert_file: get("CONSUL_CLIENT_CERT").map(PathBuf::from),
        key_file: get("CONSUL_CLIENT_KEY").map(PathBuf::from),
        // consul-tls always verifies (upstream hard-codes InsecureSkipVerify: false).
        skip_verify: scheme != "consul-tls"
            && get("CONSUL_HTTP_SSL_VERIFY").and_then(|v| api_types::parse_bool(&v)) == Some(false),
        server_name: get("CONSUL_TLS_SERVER_NAME"),
    };
    Ok(Endpoint {
        backend,
        address,
        token: get("CONSUL_HTTP_TOKEN"),
        basic_auth,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn tcp(https: bool, h: &str) -> Address {
        Address::Tcp {
            https,
            host_port: h.to_string(),
        }
    }

    #[test]
    fn schemes() {
        let none = env_of(&[]);
        let e = resolve("consul://10.0.0.1:8500", &none).expect("consul");
        assert_eq!(
            (e.backend, e.address),
            (Backend::Agent, tcp(false, "10.0.0.1:8500"))
        );
        let e = resolve("consul://", &none).expect("empty host");
        assert_eq!(e.address, tcp(false, "127.0.0.1:8500"));
        let e = resolve("consul-unix:///var/run/consul.sock", &none).expect("unix");
        assert_eq!(e.address, Address::Unix("/var/run/consul.sock".into()));
        let e = resolve("consul-tls://c.example:8501", &none).expect("tls");
        assert_eq!(e.address, tcp(true, "c.example:8501"));
        let e = resolve("consulkv://h:8500/services/web", &none).expect("kv");
        assert_eq!(
            e.backend,
            Backend::Kv {
                prefix: "services/web".into()
            }
        );
        let e = resolve("consulkv-unix:///tmp/c.sock:/pre", &none).expect("kv-unix");
        assert_eq!(e.address, Address::Unix("/tmp/c.sock".into()));
        assert_eq!(
            e.backend,
            Backend::Kv {
                prefix: "pre".into()
            }
        );
        assert_eq!(
            resolve("zookeeper://h:2181/x", &none),
            Err(UriError::Unsupported("zookeeper://h:2181/x".into()))
        );
        assert!(matches!(
            target("etcd://h:2379/x", &none),
            Ok(Target::Etcd(_))
        ));
        assert!(matches!(
            target("consul://h:8500", &none),
            Ok(Target::Consul(_))
        ));
        assert_eq!(
            target("zookeeper://h:2181/x", &none),
            Err(UriError::Unsupported("zookeeper://h:2181/x".into()))
        );
        assert_eq!(
            target("foo://x", &none),
            Err(UriError::Unrecognized("foo://x".into()))
        );
        assert_eq!(
            resolve("foo://x", &none),
            Err(UriError::Unrecognized("foo://x".into()))
        );
        assert_eq!(
            resolve("noscheme", &none),
            Err(UriError::Bad("noscheme".into()))
        );
    }

    #[test]
    fn environment() {
        let env = env_of(&[
            ("CONSUL_HTTP_ADDR", "https://c:8501"),
            ("CONSUL_HTTP_TOKEN", "tok"),
            ("CONSUL_HTTP_AUTH", "u:p"),
            ("CONSUL_HTTP_SSL_VERIFY", "false"),
            ("CONSUL_CACERT", "/ca.pem"),
        ]);
        let e = resolve("consul://", &env).expect("env");
        assert_eq!(e.address, tcp(true, "c:8501"));
        assert_eq!(e.token.as_deref(), Some("tok"));
        assert_eq!(e.basic_auth, Some(("u".into(), "p".into())));
        assert!(e.tls.skip_verify);
        assert_eq!(e.tls.ca_file, Some(PathBuf::from("/ca.pem")));
        // A host in the URI beats CONSUL_HTTP_ADDR.
        let e = resolve("consul://other:8500", &env).expect("override");
        assert_eq!(e.address, tcp(false, "other:8500"));
        let ssl = env_of(&[("CONSUL_HTTP_SSL", "true")]);
        assert_eq!(
            resolve("consul://h:1", &ssl).expect("ssl").address,
            tcp(true, "h:1")
        );
    }
}
