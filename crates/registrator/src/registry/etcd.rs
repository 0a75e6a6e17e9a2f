//! The etcd backend (`etcd://host:port/path`), written through etcd's v3 gRPC API
//! ([`super::etcd_api`]); [`super::skydns2`] reuses it with its own key prefix and value.
//!
//! Upstream's layout (`etcd/etcd.go`, written there with the v2 API): one key per service,
//! `<path>/<service name>/<service id>` cleaned as Go's `path.Clean` does (the v2 client
//! `path.Join`s every key), value `ip:port` (`net.JoinHostPort`: IPv6 in brackets). With
//! `-ttl` the key lives on a lease of that many seconds, granted anew at every registration and
//! refresh (upstream re-`Set`s the key with its TTL on `Refresh`) with the previous lease of
//! the key revoked; without `-ttl` the key has no lease. Deregistration deletes the key.
//! Beyond upstream (whose etcd adapter cannot list): `-cleanup` also finds dangling keys,
//! because [`Registry::services`] lists `<path>/<name>/<id>` keys.

use super::etcd_api::{prefix_end, DeleteRangeRequest, EtcdApi, PutRequest, RangeRequest};
use super::uri::{scheme, UriError};
use super::{Registry, RegistryError};
use api_types::{AgentService, ServiceRegistration};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tracing::debug;

/// How long one request may take before etcd counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Upstream's default when the URI names no host.
const DEFAULT_HOST: &str = "127.0.0.1:2379";

/// What a service's value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `etcd://`: `ip:port`.
    HostPort,
    /// `skydns2://`: `{"host":"<ip>","port":<port>}`.
    Skydns2,
}

/// A parsed `etcd://` or `skydns2://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdTarget {
    /// `http://host:port`.
    pub endpoint: String,
    /// The prefix keys go under (`/services`, `/skydns/local/cluster`, or empty).
    pub base: String,
    pub layout: Layout,
}

/// Host (upstream's default when empty) and decoded path of an `etcd://`-shaped URI. User
/// info, query options and fragments are refused by name: upstream drops them silently.
pub(crate) fn host_and_path(uri: &str) -> Result<(String, String), UriError> {
    let scheme = scheme(uri);
    let refused = |what: String| UriError::Refused {
        uri: uri.to_string(),
        scheme: scheme.clone(),
        what,
    };
    let rest = uri.get(scheme.len() + 1..).unwrap_or_default();
    if let Some((_, fragment)) = rest.split_once('#') {
        return Err(refused(format!("the fragment \"#{fragment}\"")));
    }
    if let Some((_, query)) = rest.split_once('?') {
        let first = query.split('&').next().unwrap_or_default();
        let name = first.split_once('=').map(|(k, _)| k).unwrap_or(first);
        return Err(refused(format!("the option {name:?}")));
    }
    let (host, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        },
        None => ("", rest),
    };
    if host.contains('@') {
        return Err(refused("user info (credentials)".to_string()));
    }
    let host = if host.is_empty() { DEFAULT_HOST } else { host };
    let path = percent_decode(path).ok_or_else(|| UriError::Bad(uri.to_string()))?;
    Ok((host.to_string(), path))
}

/// `%XX` escapes decoded as Go's `url.Parse` does for the path; `None` on a bad escape.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `etcd://host:port/path`.
pub fn parse_etcd(uri: &str) -> Result<EtcdTarget, UriError> {
    let (host, path) = host_and_path(uri)?;
    Ok(EtcdTarget {
        endpoint: format!("http://{host}"),
        base: path,
        layout: Layout::HostPort,
    })
}

/// Go's `path.Clean` of a rooted path: empty and `.` elements dropped, `..` pops.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Go's `net.JoinHostPort`.
pub fn join_host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Services as keys in etcd.
pub struct Etcd {
    client: EtcdApi,
    target: EtcdTarget,
    /// `-ttl` in seconds; 0: keys without a lease.
    ttl: i64,
    /// The lease each key currently lives on (`-ttl` only).
    leases: Mutex<HashMap<String, i64>>,
}

/// An etcd call's error as the registry's: no answer (refused, reset, timed out) is
/// `Unreachable`; anything etcd answered is `Rpc`.
fn failed<'a>(op: &'static str, key: &'a str) -> impl FnOnce(tonic::Status) -> RegistryError + 'a {
    move |s| {
        use tonic::Code;
        match s.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => {
                RegistryError::Unreachable(format!("etcd {op} {key}: {}", s.message()))
            }
            _ => RegistryError::Rpc {
                op: format!("etcd {op} {key}"),
                reason: format!("grpc request error: {s}"),
            },
        }
    }
}

impl Etcd {
    /// A client for `target` (no request is made yet); `ttl` is `-ttl` (0: no expiry).
    pub async fn connect(target: &EtcdTarget, ttl: i64) -> Result<Self, RegistryError> {
        let client = EtcdApi::new(&target.endpoint, REQUEST_TIMEOUT, CONNECT_TIMEOUT)
            .map_err(|e| RegistryError::Config(format!("etcd {}: {e}", target.endpoint)))?;
        Ok(Etcd {
            client,
            target: target.clone(),
            ttl: ttl.max(0),
            leases: Mutex::new(HashMap::new()),
        })
    }

    /// The key of a service: `<base>/<name>/<id>`, cleaned.
    pub fn key(&self, reg: &ServiceRegistration) -> String {
        service_key(&self.target.base, reg)
    }

    /// The value of a service for this layout.
    pub fn value(&self, reg: &ServiceRegistration) -> String {
        service_value(self.target.layout, reg)
    }

    fn lease_of(&self, key: &str) -> Option<i64> {
        self.leases.lock().ok().and_then(|l| l.get(key).copied())
    }

    fn set_lease(&self, key: &str, lease: Option<i64>) -> Option<i64> {
        let mut l = self.leases.lock().ok()?;
        match lease {
            Some(id) => l.insert(key.to_string(), id),
            None => l.remove(key),
        }
    }

    /// Revokes a lease no key uses any more (best effort: it expires on its own anyway).
    async fn revoke(&self, lease: i64) {
        if let Err(e) = self.client.lease_revoke(lease).await {
            debug!("etcd: revoking lease {lease:x}: grpc request error: {e}");
        }
    }

    /// Upstream's `Set(key, value, ttl)`.
    async fn set(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        let key = self.key(reg);
        let value = self.value(reg);
        let put = |lease| PutRequest {
            key: key.clone().into_bytes(),
            value: value.clone().into_bytes(),
            lease,
        };
        if self.ttl == 0 {
            self.client.put(put(0)).await.map_err(failed("put", &key))?;
            return Ok(());
        }
        let lease = self
            .client
            .lease_grant(self.ttl)
            .await
            .map_err(failed("lease grant for", &key))?
            .id;
        let put = self
            .client
            .put(put(lease))
            .await
            .map_err(failed("put", &key));
        if let Err(e) = put {
            self.revoke(lease).await;
            return Err(e);
        }
        if let Some(old) = self
            .set_lease(&key, Some(lease))
            .filter(|old| *old != lease)
        {
            self.revoke(old).await;
        }
        Ok(())
    }
}

/// `<base>/<name>/<id>`, cleaned as upstream's v2 client did.
pub fn service_key(base: &str, reg: &ServiceRegistration) -> String {
    clean(&format!("{base}/{}/{}", reg.name, reg.id))
}

/// The value upstream writes for `layout`.
pub fn service_value(layout: Layout, reg: &ServiceRegistration) -> String {
    match layout {
        Layout::HostPort => join_host_port(&reg.address, reg.port),
        Layout::Skydns2 => super::skydns2::record(&reg.address, reg.port),
    }
}

impl Registry for Etcd {
    async fn ping(&self) -> Result<String, RegistryError> {
        let status = self
            .client
            .status()
            .await
            .map_err(failed("status of", &self.target.endpoint))?;
        Ok(status.version)
    }

    fn ping_log(&self, answer: &str) -> String {
        format!("etcd: {} answers, version {answer}", self.target.endpoint)
    }

    async fn register(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        self.set(reg).await
    }

    async fn refresh(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        self.set(reg).await
    }

    async fn deregister(&self, reg: &ServiceRegistration) -> Result<(), RegistryError> {
        let key = self.key(reg);
        let request = DeleteRangeRequest {
            key: key.clone().into_bytes(),
        };
        self.client
            .delete_range(request)
            .await
            .map_err(failed("delete", &key))?;
        if let Some(lease) = self.lease_of(&key) {
            self.set_lease(&key, None);
            self.revoke(lease).await;
        }
        Ok(())
    }

    /// The `<base>/<name>/<id>` keys, as services `id` of `name` (for `-cleanup`).
    async fn services(&self) -> Result<Option<BTreeMap<String, AgentService>>, RegistryError> {
        let prefix = match clean(&self.target.base).as_str() {
            "/" => "/".to_string(),
            b => format!("{b}/"),
        };
        let request = RangeRequest {
            key: prefix.clone().into_bytes(),
            range_end: prefix_end(prefix.as_bytes()),
            keys_only: true,
        };
        let answer = self
            .client
            .range(request)
            .await
            .map_err(failed("list", &prefix))?;
        let mut out = BTreeMap::new();
        for kv in &answer.kvs {
            let Ok(key) = std::str::from_utf8(&kv.key) else {
                continue;
            };
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let mut parts = rest.split('/');
            let (Some(name), Some(id), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let svc = AgentService {
                id: id.to_string(),
                service: name.to_string(),
                ..Default::default()
            };
            out.insert(id.to_string(), svc);
        }
        Ok(Some(out))
    }

    async fn update_check(&self, _: &str, _: bool, _: &str) -> Result<(), RegistryError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str, id: &str, ip: &str, port: u16) -> ServiceRegistration {
        ServiceRegistration {
            id: id.into(),
            name: name.into(),
            address: ip.into(),
            port,
            ..Default::default()
        }
    }

    #[test]
    fn uris() {
        let t = parse_etcd("etcd://10.0.0.1:2379/services").expect("etcd");
        assert_eq!(t.endpoint, "http://10.0.0.1:2379");
        assert_eq!(t.base, "/services");
        let t = parse_etcd("etcd://").expect("default host");
        assert_eq!(
            (t.endpoint.as_str(), t.base.as_str()),
            ("http://127.0.0.1:2379", "")
        );
        let t = parse_etcd("etcd://h:1/a%20b").expect("escaped");
        assert_eq!(t.base, "/a b");
        let refused = |uri: &str| parse_etcd(uri).err().map(|e| e.to_string());
        let e = refused("etcd://h:2379/x?timeout=3s&a=b").unwrap_or_default();
        assert!(e.contains("the option \"timeout\""), "{e}");
        let e = refused("etcd://u:p@h:2379/x").unwrap_or_default();
        assert!(e.contains("user info"), "{e}");
        let e = refused("etcd://h:2379/x#frag").unwrap_or_default();
        assert!(e.contains("fragment"), "{e}");
        assert_eq!(
            parse_etcd("etcd://h/%zz"),
            Err(UriError::Bad("etcd://h/%zz".into()))
        );
    }

    #[test]
    fn keys_and_values() {
        let r = reg("web", "host:web.1:80", "10.0.0.5", 8080);
        assert_eq!(service_key("/services", &r), "/services/web/host:web.1:80");
        assert_eq!(service_key("", &r), "/web/host:web.1:80");
        assert_eq!(service_key("/a//b/", &r), "/a/b/web/host:web.1:80");
        assert_eq!(service_value(Layout::HostPort, &r), "10.0.0.5:8080");
        let v6 = reg("web", "h:web:80", "fd00::1", 80);
        assert_eq!(service_value(Layout::HostPort, &v6), "[fd00::1]:80");
        assert_eq!(
            service_value(Layout::Skydns2, &r),
            r#"{"host":"10.0.0.5","port":8080}"#
        );
        assert_eq!(clean("/a/./b/../c"), "/a/c");
        assert_eq!(clean("/../x"), "/x");
    }
}
