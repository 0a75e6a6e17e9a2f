//! Request bodies decoded the way Go's `encoding/json` decodes them: field names match
//! case-insensitively, and Consul's snake_case aliases (`enable_tag_override`, `script_args`)
//! are accepted. Keys are canonicalised in a pre-pass, then serde decodes the canonical form.
//! Keys inside free-form maps (`Meta`, `NodeMeta`, `Header`, ...) are user data and left alone.

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Every field name of a request body we decode, in its canonical spelling.
const CANONICAL: &[&str] = &[
    "ID",
    "Name",
    "Service",
    "Services",
    "Tags",
    "Address",
    "TaggedAddresses",
    "Meta",
    "Port",
    "Kind",
    "Proxy",
    "Connect",
    "Check",
    "Checks",
    "EnableTagOverride",
    "Weights",
    "Passing",
    "Warning",
    "SocketPath",
    "Namespace",
    "Partition",
    "CheckID",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "Notes",
    "Status",
    "Output",
    "Interval",
    "Timeout",
    "TTL",
    "HTTP",
    "Method",
    "Header",
    "Body",
    "TLSServerName",
    "TLSSkipVerify",
    "TCP",
    "UDP",
    "GRPC",
    "GRPCUseTLS",
    "H2PING",
    "H2PingUseTLS",
    "Args",
    "ScriptArgs",
    "Script",
    "Shell",
    "DockerContainerID",
    "AliasNode",
    "AliasService",
    "DeregisterCriticalServiceAfter",
    "OutputMaxSize",
    "SuccessBeforePassing",
    "FailuresBeforeWarning",
    "FailuresBeforeCritical",
    "Node",
    "Datacenter",
    "NodeMeta",
    "SkipNodeUpdate",
    "Definition",
    "LockDelay",
    "NodeChecks",
    "ServiceChecks",
    "Behavior",
    "KV",
    "Verb",
    "Key",
    "Value",
    "Flags",
    "Index",
    "Session",
    "Type",
    "DisableRedirects",
    "Port",
    "Resource",
    "Access",
    "Segment",
    "Enable",
    "Reason",
    "Token",
    "ExposedPort",
];

/// Keys whose object value is user data: its keys are not field names.
const FREE_FORM: &[&str] = &["Meta", "NodeMeta", "Header", "ServiceMeta"];

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn table() -> &'static HashMap<String, &'static str> {
    static TABLE: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| CANONICAL.iter().map(|c| (fold(c), *c)).collect())
}

/// Rewrites object keys in place to their canonical spelling, recursively.
pub fn canonicalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                let canon = table().get(&fold(&k)).map(|c| c.to_string()).unwrap_or(k);
                if !FREE_FORM.contains(&canon.as_str()) {
                    canonicalize(&mut v);
                }
                // First spelling wins, like Go (later duplicates overwrite in Go; keep it simple).
                map.insert(canon, v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize),
        _ => {}
    }
}

/// Why a body could not be decoded; `Display` is the text after `Request decode failed: `.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Decodes a JSON request body with Go's case-insensitive field matching.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DecodeError("EOF".to_string()));
    }
    let mut v: Value = serde_json::from_slice(body).map_err(|e| DecodeError(e.to_string()))?;
    canonicalize(&mut v);
    serde_json::from_value(v).map_err(|e| DecodeError(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_snake_case_but_not_meta() {
        let mut v: Value = serde_json::from_str(
            r#"{"name":"web","enable_tag_override":true,"meta":{"version":"1"},"check":{"script_args":["a"],"http":"x"}}"#,
        )
        .unwrap();
        canonicalize(&mut v);
        assert_eq!(v["Name"], "web");
        assert_eq!(v["EnableTagOverride"], true);
        assert_eq!(v["Meta"]["version"], "1");
        assert_eq!(v["Check"]["ScriptArgs"][0], "a");
        assert_eq!(v["Check"]["HTTP"], "x");
    }

    #[test]
    fn empty_body_is_eof() {
        let r: Result<Value, _> = decode_body(b"  ");
        assert_eq!(r.unwrap_err().to_string(), "EOF");
    }
}
