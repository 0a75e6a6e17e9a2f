//! The SkyDNS 2 backend (`skydns2://host:port/domain`): the etcd backend of [`super::etcd`]
//! with SkyDNS's key prefix and record, as upstream's `skydns2/skydns2.go` writes them:
//! `/skydns/<domain labels reversed>/<service name>/<service id>` =
//! `{"host":"<ip>","port":<port>}`, on a lease of `-ttl` seconds when given. The domain is
//! required (upstream exits with the same message).

use super::etcd::{host_and_path, EtcdTarget, Layout};
use super::uri::UriError;

/// `skydns2://host:port/domain`.
pub fn parse(uri: &str) -> Result<EtcdTarget, UriError> {
    let (host, path) = host_and_path(uri)?;
    // Upstream: `len(uri.Path) < 2` is fatal, else the domain is `uri.Path[1:]`.
    let domain = path
        .get(1..)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| UriError::SkydnsDomain(uri.to_string()))?;
    Ok(EtcdTarget {
        endpoint: format!("http://{host}"),
        base: domain_path(domain),
        layout: Layout::Skydns2,
    })
}

/// `/skydns/` + the domain's labels in reverse order: `cluster.local` → `/skydns/local/cluster`.
pub fn domain_path(domain: &str) -> String {
    let labels: Vec<&str> = domain.split('.').rev().collect();
    format!("/skydns/{}", labels.join("/"))
}

/// SkyDNS's service record, byte for byte as upstream builds it.
pub fn record(ip: &str, port: u16) -> String {
    let host = serde_json::to_string(ip).unwrap_or_else(|_| format!("\"{ip}\""));
    format!("{{\"host\":{host},\"port\":{port}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_records() {
        let t = parse("skydns2://10.0.0.1:2379/cluster.local").expect("skydns2");
        assert_eq!(t.endpoint, "http://10.0.0.1:2379");
        assert_eq!(t.base, "/skydns/local/cluster");
        assert_eq!(t.layout, Layout::Skydns2);
        let t = parse("skydns2:///skydns.local").expect("default host");
        assert_eq!(t.endpoint, "http://127.0.0.1:2379");
        for bad in ["skydns2://h:2379", "skydns2://h:2379/"] {
            assert_eq!(parse(bad), Err(UriError::SkydnsDomain(bad.into())));
        }
        assert!(parse("skydns2://h/d?ttl=5")
            .err()
            .is_some_and(|e| e.to_string().contains("\"ttl\"")));
        assert_eq!(domain_path("a.b.example.com"), "/skydns/com/example/b/a");
        assert_eq!(record("10.0.0.5", 53), r#"{"host":"10.0.0.5","port":53}"#);
    }
}
