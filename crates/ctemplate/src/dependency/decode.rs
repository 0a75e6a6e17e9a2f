//! Consul JSON responses → template data: upstream's Go structs (`dependency.HealthService`,
//! `CatalogSnippet`, `CatalogNode`, `Node`, `KeyPair`, `api.HealthCheck`, ...) with their field
//! sets in declaration order, Go's nil kept apart from empty (see [`super::gonil`]) and
//! upstream's sort orders (services by Node then ID, tags sorted, catalog services by name,
//! nodes by Node then Address, a node's services by Service then ID).
//!
//! Answers are first read into the Go client's shapes ([`super::wire`]) with Go's decoding
//! rules ([`api_types::decode::response_from_value`]: unknown fields ignored, keys matched
//! case-insensitively, a value of the wrong type a decode error in Go's words), exactly as
//! consul-template's Go client reads them.

use std::collections::BTreeMap;

use api_types::decode::{response_from_value, DecodeError};
use api_types::{format_go_duration, parse_go_duration, KvPair};
use gotemplate::Value;
use serde::de::DeserializeOwned;
use serde_json::Value as J;

use super::gonil::{nil_list, nil_map, str_map_or_nil, strings_or_nil};
use super::wire;
use super::{Dependency, ServiceQuery};

/// A Consul answer read into the Go client's type with Go's rules.
fn typed<T: DeserializeOwned>(json: &J) -> Result<T, DecodeError> {
    response_from_value(json.clone())
}

fn strings(items: &[String]) -> Value {
    Value::list(items.iter().map(Value::str).collect())
}

/// Upstream's `deepCopyAndSortTags`: always a non-nil slice, sorted.
fn sorted(items: Option<&Vec<String>>) -> Value {
    let mut items = items.cloned().unwrap_or_default();
    items.sort();
    strings(&items)
}

impl Dependency {
    /// Turns a Consul JSON response into the template value. A non-blocking KV 404 is passed
    /// as `null`; a file's contents are passed as a JSON string.
    pub fn decode(&self, json: &J) -> Result<Value, DecodeError> {
        Ok(match self {
            Dependency::HealthService(q) => decode_health(q, typed(json)?)?,
            Dependency::CatalogServices { .. } => decode_catalog_services(typed(json)?),
            Dependency::CatalogNode { .. } => decode_catalog_node(typed(json)?),
            Dependency::CatalogNodes { .. } => decode_nodes(typed(json)?),
            Dependency::KvGet { .. } => decode_kv_get(typed(json)?),
            Dependency::KvList { prefix, .. } => decode_kv_list(prefix, typed(json)?),
            Dependency::Datacenters { .. } => {
                // `api.Catalog().Datacenters()` decodes into a nil slice; upstream sorts it.
                let dcs: Option<Vec<String>> = typed(json)?;
                match dcs {
                    None => nil_list(),
                    Some(mut dcs) => {
                        dcs.sort();
                        strings(&dcs)
                    }
                }
            }
            Dependency::CaRoots => decode_ca_roots(typed(json)?),
            Dependency::CaLeaf { .. } => decode_ca_leaf(typed(json)?),
            Dependency::File { .. } => match json {
                J::String(s) => Value::str(s),
                J::Null => Value::Nil,
                other => Value::str(other.to_string()),
            },
        })
    }
}

/// `api.HealthChecks.AggregatedStatus`: maintenance, then the worst of
/// critical > warning > passing; no checks is passing; a status it does not know makes the
/// whole answer `""` (which only the `any` filter accepts).
fn status_of(checks: &[wire::HealthCheck]) -> &'static str {
    let (mut warning, mut critical, mut maint) = (false, false, false);
    for c in checks {
        let id = c.check_id.as_str();
        if id == "_node_maintenance" || id.starts_with("_service_maintenance:") {
            maint = true;
            continue;
        }
        match c.status.as_str() {
            "passing" => {}
            "warning" => warning = true,
            "critical" => critical = true,
            _ => return "",
        }
    }
    if maint {
        "maintenance"
    } else if critical {
        "critical"
    } else if warning {
        "warning"
    } else {
        "passing"
    }
}

/// A `api.ReadableDuration` or `time.Duration` as JSON gives it: a Go duration string, or
/// nanoseconds as a number. `None` when absent or `null`.
fn duration(v: &J, field: &str) -> Result<Option<i64>, DecodeError> {
    match v {
        J::Null => Ok(None),
        J::String(s) => parse_go_duration(s)
            .map(Some)
            .map_err(|e| DecodeError(format!("time: {e}: {field}"))),
        J::Number(n) => Ok(Some(n.as_f64().unwrap_or(0.0) as i64)),
        other => Err(DecodeError(format!(
            "json: cannot unmarshal {} into Go struct field HealthCheckDefinition.{field}",
            json_kind(other)
        ))),
    }
}

fn json_kind(v: &J) -> &'static str {
    match v {
        J::Bool(_) => "bool",
        J::Array(_) => "array",
        J::Object(_) => "object",
        _ => "value",
    }
}

/// `api.HealthCheckDefinition` in declaration order. Durations are held as Go prints them
/// (`10s`); the JSON encoder writes the type as its `MarshalJSON` does.
fn decode_definition(d: &wire::CheckDefinition) -> Result<Value, DecodeError> {
    // UnmarshalJSON: `XDuration` wins when present and is copied into `X`.
    let pair = |dur: &J, dname: &str, readable: &J, rname: &str| -> Result<String, DecodeError> {
        let ns = match duration(dur, dname)? {
            Some(ns) => ns,
            None => duration(readable, rname)?.unwrap_or(0),
        };
        Ok(format_go_duration(ns))
    };
    let interval = pair(
        &d.interval_duration,
        "IntervalDuration",
        &d.interval,
        "Interval",
    )?;
    let timeout = pair(
        &d.timeout_duration,
        "TimeoutDuration",
        &d.timeout,
        "Timeout",
    )?;
    let deregister = pair(
        &d.deregister_duration,
        "DeregisterCriticalServiceAfterDuration",
        &d.deregister,
        "DeregisterCriticalServiceAfter",
    )?;
    let header = match &d.header {
        None => nil_map(),
        Some(h) => Value::map(
            h.iter()
                .map(|(k, v)| (k.clone(), strings_or_nil(v.as_ref())))
                .collect(),
        ),
    };
    Ok(Value::record(
        "api.HealthCheckDefinition",
        vec![
            ("HTTP", Value::str(&d.http)),
            ("Header", header),
            ("Method", Value::str(&d.method)),
            ("Body", Value::str(&d.body)),
            ("TLSServerName", Value::str(&d.tls_server_name)),
            ("TLSSkipVerify", Value::Bool(d.tls_skip_verify)),
            ("TCP", Value::str(&d.tcp)),
            ("UDP", Value::str(&d.udp)),
            ("GRPC", Value::str(&d.grpc)),
            ("OSService", Value::str(&d.os_service)),
            ("GRPCUseTLS", Value::Bool(d.grpc_use_tls)),
            ("IntervalDuration", Value::str(&interval)),
            ("TimeoutDuration", Value::str(&timeout)),
            (
                "DeregisterCriticalServiceAfterDuration",
                Value::str(&deregister),
            ),
            ("Interval", Value::str(interval)),
            ("Timeout", Value::str(timeout)),
            ("DeregisterCriticalServiceAfter", Value::str(deregister)),
        ],
    ))
}

fn uint(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn decode_check(c: &wire::HealthCheck) -> Result<Value, DecodeError> {
    Ok(Value::object(
        "api.HealthCheck",
        vec![
            ("Node", Value::str(&c.node)),
            ("CheckID", Value::str(&c.check_id)),
            ("Name", Value::str(&c.name)),
            ("Status", Value::str(&c.status)),
            ("Notes", Value::str(&c.notes)),
            ("Output", Value::str(&c.output)),
            ("ServiceID", Value::str(&c.service_id)),
            ("ServiceName", Value::str(&c.service_name)),
            // As Consul sent them: upstream sorts only the service's own tags.
            ("ServiceTags", strings_or_nil(c.service_tags.as_ref())),
            ("Type", Value::str(&c.check_type)),
            ("Namespace", Value::str(&c.namespace)),
            ("Partition", Value::str(&c.partition)),
            ("ExposedPort", Value::Int(c.exposed_port)),
            ("PeerName", Value::str(&c.peer_name)),
            ("Definition", decode_definition(&c.definition)?),
            ("CreateIndex", uint(c.create_index)),
            ("ModifyIndex", uint(c.modify_index)),
        ],
    ))
}

fn service_addresses(m: Option<&BTreeMap<String, wire::ServiceAddress>>) -> Value {
    let Some(m) = m else {
        return nil_map();
    };
    Value::map(
        m.iter()
            .map(|(k, a)| {
                let addr = Value::record(
                    "api.ServiceAddress",
                    vec![
                        ("Address", Value::str(&a.address)),
                        ("Port", Value::Int(a.port)),
                    ],
                );
                (k.clone(), addr)
            })
            .collect(),
    )
}

fn decode_health(
    q: &ServiceQuery,
    entries: Option<Vec<wire::ServiceEntry>>,
) -> Result<Value, DecodeError> {
    let mut out: Vec<(String, String, Value)> = Vec::new();
    for wire::ServiceEntry {
        node,
        service: svc,
        checks,
    } in entries.unwrap_or_default()
    {
        let status = status_of(checks.as_deref().unwrap_or_default());
        if !(q.filters.iter().any(|f| f == "any" || f == status)) {
            continue;
        }
        let address = if svc.address.is_empty() {
            node.address.clone()
        } else {
            svc.address.clone()
        };
        let checks = match &checks {
            None => nil_list(),
            Some(cs) => Value::list(cs.iter().map(decode_check).collect::<Result<_, _>>()?),
        };
        let value = Value::object(
            "dependency.HealthService",
            vec![
                ("Node", Value::str(&node.node)),
                ("NodeID", Value::str(&node.id)),
                ("NodeAddress", Value::str(&node.address)),
                (
                    "NodeTaggedAddresses",
                    str_map_or_nil(node.tagged_addresses.as_ref()),
                ),
                ("NodeMeta", str_map_or_nil(node.meta.as_ref())),
                ("ServiceMeta", str_map_or_nil(svc.meta.as_ref())),
                ("Address", Value::str(address)),
                (
                    "ServiceTaggedAddresses",
                    service_addresses(svc.tagged_addresses.as_ref()),
                ),
                ("ID", Value::str(&svc.id)),
                ("Name", Value::str(&svc.service)),
                ("Tags", sorted(svc.tags.as_ref())),
                ("Checks", checks),
                ("Status", Value::str(status)),
                ("Port", Value::Int(svc.port)),
                (
                    "Weights",
                    Value::record(
                        "api.AgentWeights",
                        vec![
                            ("Passing", Value::Int(svc.weights.passing)),
                            ("Warning", Value::Int(svc.weights.warning)),
                        ],
                    ),
                ),
            ],
        );
        out.push((node.node, svc.id, value));
    }
    if q.near.is_none() {
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    }
    Ok(Value::list(out.into_iter().map(|(_, _, v)| v).collect()))
}

/// Upstream appends to a nil slice: no services at all is a nil list.
fn decode_catalog_services(services: Option<BTreeMap<String, Option<Vec<String>>>>) -> Value {
    let services = services.unwrap_or_default();
    if services.is_empty() {
        return nil_list();
    }
    let items = services
        .iter()
        .map(|(name, tags)| {
            Value::object(
                "dependency.CatalogSnippet",
                vec![("Name", Value::str(name)), ("Tags", sorted(tags.as_ref()))],
            )
        })
        .collect();
    Value::list(items)
}

fn node_value(n: &wire::Node) -> Value {
    Value::object(
        "dependency.Node",
        vec![
            ("ID", Value::str(&n.id)),
            ("Node", Value::str(&n.node)),
            ("Address", Value::str(&n.address)),
            ("Datacenter", Value::str(&n.datacenter)),
            (
                "TaggedAddresses",
                str_map_or_nil(n.tagged_addresses.as_ref()),
            ),
            ("Meta", str_map_or_nil(n.meta.as_ref())),
        ],
    )
}

fn decode_nodes(nodes: Option<Vec<wire::Node>>) -> Value {
    let mut nodes = nodes.unwrap_or_default();
    nodes.sort_by(|a, b| (&a.node, &a.address).cmp(&(&b.node, &b.address)));
    Value::list(nodes.iter().map(node_value).collect())
}

fn catalog_node_service(svc: &wire::AgentService) -> Value {
    Value::object(
        "dependency.CatalogNodeService",
        vec![
            ("ID", Value::str(&svc.id)),
            ("Service", Value::str(&svc.service)),
            ("Tags", sorted(svc.tags.as_ref())),
            ("Meta", str_map_or_nil(svc.meta.as_ref())),
            ("Port", Value::Int(svc.port)),
            ("Address", Value::str(&svc.address)),
            ("EnableTagOverride", Value::Bool(svc.enable_tag_override)),
        ],
    )
}

/// `null` (an unknown node) is upstream's zero `CatalogNode`: a nil node and nil services.
fn decode_catalog_node(answer: Option<wire::CatalogNode>) -> Value {
    let Some(wire::CatalogNode { node, services }) = answer else {
        return Value::object(
            "dependency.CatalogNode",
            vec![("Node", Value::Nil), ("Services", nil_list())],
        );
    };
    let services = services.unwrap_or_default();
    let mut services: Vec<&wire::AgentService> = services.values().collect();
    services.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
    Value::object(
        "dependency.CatalogNode",
        vec![
            ("Node", node_value(&node)),
            (
                "Services",
                Value::list(services.into_iter().map(catalog_node_service).collect()),
            ),
        ],
    )
}

/// `certs.Roots` of the agent's `CARootList`: `[]*api.CARoot`, nil when there are none.
fn decode_ca_roots(list: Option<wire::CaRootList>) -> Value {
    let Some(roots) = list.and_then(|l| l.roots) else {
        return nil_list();
    };
    Value::list(
        roots
            .iter()
            .map(|r| {
                Value::object(
                    "api.CARoot",
                    vec![
                        ("ID", Value::str(&r.id)),
                        ("Name", Value::str(&r.name)),
                        ("RootCertPEM", Value::str(&r.root_cert)),
                        ("Active", Value::Bool(r.active)),
                        ("CreateIndex", uint(r.create_index)),
                        ("ModifyIndex", uint(r.modify_index)),
                    ],
                )
            })
            .collect(),
    )
}

/// `*api.LeafCert` (nil for a `null` answer).
fn decode_ca_leaf(leaf: Option<wire::LeafCert>) -> Value {
    let Some(l) = leaf else {
        return Value::Nil;
    };
    Value::object(
        "api.LeafCert",
        vec![
            ("SerialNumber", Value::str(&l.serial_number)),
            ("CertPEM", Value::str(&l.cert_pem)),
            ("PrivateKeyPEM", Value::str(&l.private_key_pem)),
            ("Service", Value::str(&l.service)),
            ("ServiceURI", Value::str(&l.service_uri)),
            ("ValidAfter", Value::str(&l.valid_after)),
            ("ValidBefore", Value::str(&l.valid_before)),
            ("CreateIndex", uint(l.create_index)),
            ("ModifyIndex", uint(l.modify_index)),
        ],
    )
}

fn kv_value(pair: &KvPair) -> String {
    String::from_utf8_lossy(&pair.value_bytes()).into_owned()
}

/// `null` (a missing key, non-blocking) and an empty list are nil.
fn decode_kv_get(pairs: Option<Vec<KvPair>>) -> Value {
    match pairs.unwrap_or_default().first() {
        Some(pair) => Value::str(kv_value(pair)),
        None => Value::Nil,
    }
}

/// `dependency.KeyPair`s; a prefix with no keys is an empty (not nil) list.
fn decode_kv_list(prefix: &str, pairs: Option<Vec<KvPair>>) -> Value {
    let items = pairs
        .unwrap_or_default()
        .iter()
        .map(|pair| {
            let path = &pair.key;
            let rel = path
                .strip_prefix(prefix)
                .unwrap_or(path)
                .trim_start_matches('/')
                .to_string();
            Value::object(
                "dependency.KeyPair",
                vec![
                    ("Path", Value::str(path)),
                    ("Key", Value::str(rel)),
                    ("Value", Value::str(kv_value(pair))),
                    ("CreateIndex", uint(pair.create_index)),
                    ("ModifyIndex", uint(pair.modify_index)),
                    ("LockIndex", uint(pair.lock_index)),
                    ("Flags", uint(pair.flags)),
                    ("Session", Value::str(&pair.session)),
                ],
            )
        })
        .collect();
    Value::list(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn health(filters: &[&str]) -> Dependency {
        Dependency::HealthService(ServiceQuery {
            name: "web".into(),
            tag: None,
            dc: None,
            near: None,
            filters: filters.iter().map(|f| f.to_string()).collect(),
            params: Vec::new(),
            connect: false,
        })
    }

    fn field<'v>(v: &'v Value, name: &str) -> &'v Value {
        match v {
            Value::Struct(s) => s.field(name).unwrap_or(&Value::Nil),
            _ => &Value::Nil,
        }
    }

    #[test]
    fn null_tags_meta_and_checks_decode_as_empty() {
        let answer = json!([{
            "Node": {"ID": "n1", "Node": "node-1", "Address": "10.0.0.1",
                "TaggedAddresses": null, "Meta": null},
            "Service": {"ID": "web-1", "Service": "web", "Tags": null, "Meta": null,
                "TaggedAddresses": null, "Port": 80, "Address": ""},
            "Checks": null
        }]);
        let v = health(&["passing"]).decode(&answer).expect("decodes");
        let Value::List(items) = &v else {
            panic!("a list: {v:?}")
        };
        let web = &items[0];
        assert_eq!(field(web, "Tags"), &Value::list(vec![]));
        assert_eq!(field(web, "ServiceMeta").to_string(), "map[]");
        assert_eq!(field(web, "NodeMeta").to_string(), "map[]");
        assert_eq!(field(web, "Checks"), &Value::list(vec![]));
        // No checks: passing, as upstream counts it.
        assert_eq!(field(web, "Status"), &Value::str("passing"));
        assert_eq!(field(web, "Address"), &Value::str("10.0.0.1"));
        assert_eq!(field(web, "Port"), &Value::Int(80));

        let node = Dependency::CatalogNode {
            name: Some("node-1".into()),
            dc: None,
        };
        let answer = json!({"Node": {"Node": "node-1", "Meta": null},
            "Services": {"web-1": {"ID": "web-1", "Service": "web", "Tags": null, "Meta": null}}});
        let v = node.decode(&answer).expect("decodes");
        let Value::List(services) = field(&v, "Services") else {
            panic!("services: {v:?}")
        };
        assert_eq!(field(&services[0], "Tags"), &Value::list(vec![]));
        let services = Dependency::CatalogServices {
            dc: None,
            params: Vec::new(),
        };
        let v = services
            .decode(&json!({"web": null, "db": ["b", "a"]}))
            .expect("decodes");
        assert_eq!(v.to_string(), "[&{db [a b]} &{web []}]");
    }

    #[test]
    fn go_rules_on_keys_and_types() {
        // Keys match case-insensitively, as Go's decoder matches struct fields.
        let v = health(&["any"])
            .decode(&json!([{"node": {"node": "n"}, "service": {"id": "w", "port": 1}}]))
            .expect("decodes");
        let Value::List(items) = &v else {
            panic!("a list: {v:?}")
        };
        assert_eq!(field(&items[0], "ID"), &Value::str("w"));
        assert_eq!(field(&items[0], "Port"), &Value::Int(1));
        // A wrong type is Go's decode error, not a silent zero.
        let err = health(&["any"])
            .decode(&json!([{"Service": {"Port": "80"}}]))
            .expect_err("a string port");
        assert!(
            err.to_string().starts_with("json: cannot unmarshal string"),
            "{err}"
        );
    }
}
