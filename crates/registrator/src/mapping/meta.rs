//! `SERVICE_*` metadata from a container's environment and labels, and the tag splitter.
//!
//! Rules (upstream `serviceMetaData`): env first, then labels (so labels win for the same key;
//! labels are taken in key order where upstream's Go map order is random); only keys starting
//! with `SERVICE_` and having a `=`; key lowercased without the prefix; `SERVICE_<port>_<key>`
//! applies only to that exposed port and beats the generic `SERVICE_<key>` whatever the order.

use std::collections::{BTreeMap, BTreeSet};

/// Metadata for one port: the attributes, and which of them came from `SERVICE_<port>_*` keys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub attrs: BTreeMap<String, String>,
    pub from_port: BTreeSet<String>,
}

impl Metadata {
    /// Upstream's `mapDefault`: a missing or empty value is unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Collects the metadata that applies to `exposed_port` (e.g. `"80"`).
pub fn service_metadata(
    env: &[String],
    labels: &BTreeMap<String, String>,
    exposed_port: &str,
) -> Metadata {
    let pairs = env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .chain(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut m = Metadata::default();
    for (k, v) in pairs {
        let Some(key) = k.strip_prefix("SERVICE_") else {
            continue;
        };
        let key = key.to_lowercase();
        if m.from_port.contains(&key) {
            continue;
        }
        match key.split_once('_') {
            Some((port, rest)) if port.parse::<i64>().is_ok() => {
                if port != exposed_port {
                    continue;
                }
                m.attrs.insert(rest.to_string(), v.to_string());
                m.from_port.insert(rest.to_string());
            }
            _ => {
                m.attrs.insert(key, v.to_string());
            }
        }
    }
    m
}

/// Splits a tag list on commas not preceded by a backslash; `\,` is a literal comma; empty
/// pieces are dropped; no whitespace is trimmed. Order is kept (upstream reverses it: a bug
/// documented in `docs/registrator.md`).
pub fn split_tags(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn port_keys_beat_generic_and_labels_beat_env() {
        let labels = BTreeMap::from([
            ("SERVICE_NAME".to_string(), "fromlabel".to_string()),
            ("SERVICE_80_TAGS".to_string(), "porttag".to_string()),
        ]);
        let e = env(&[
            "SERVICE_80_NAME=http",
            "SERVICE_NAME=web",
            "SERVICE_TAGS=a",
            "SERVICE_443_NAME=https",
            "PATH=/bin",
        ]);
        let m = service_metadata(&e, &labels, "80");
        assert_eq!(m.get("name"), Some("http"));
        assert_eq!(m.get("tags"), Some("porttag"));
        assert!(m.from_port.contains("name"));
        let m = service_metadata(&e, &labels, "8080");
        assert_eq!(m.get("name"), Some("fromlabel"));
        assert_eq!(m.get("tags"), Some("a"));
    }

    #[test]
    fn odd_keys() {
        let m = service_metadata(
            &env(&[
                "SERVICE_8080=x",
                "SERVICE_REGION=",
                "SERVICE_CHECK_HTTP=/h",
                "SERVICE_NOEQ",
                "service_name=lower",
            ]),
            &BTreeMap::new(),
            "80",
        );
        assert_eq!(m.get("8080"), Some("x"));
        assert_eq!(m.get("region"), None);
        assert_eq!(m.attrs.get("region").map(String::as_str), Some(""));
        assert_eq!(m.get("check_http"), Some("/h"));
        assert_eq!(m.get("name"), None);
    }

    #[test]
    fn tag_splitting() {
        assert_eq!(split_tags("master,backups"), ["master", "backups"]);
        assert_eq!(split_tags("a\\,b,,c ,"), ["a,b", "c "]);
        assert!(split_tags("").is_empty());
    }
}
