//! Consul JSON responses → template data, with upstream's Go field names, field order and sort
//! orders (services by Node then ID, tags sorted, catalog services by name, nodes by Node then
//! Address, a node's services by Service then ID).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value as J;

use super::{Dependency, ServiceQuery};
use gotemplate::Value;

fn s(j: &J, k: &str) -> Value {
    Value::str(j.get(k).and_then(J::as_str).unwrap_or(""))
}

fn string_of(j: &J, k: &str) -> String {
    j.get(k).and_then(J::as_str).unwrap_or("").to_string()
}

fn int(j: &J, k: &str) -> Value {
    Value::Int(j.get(k).and_then(J::as_i64).unwrap_or(0))
}

fn str_map(j: &J, k: &str) -> Value {
    let entries = j
        .get(k)
        .and_then(J::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), Value::str(v.as_str().unwrap_or(""))))
                .collect()
        })
        .unwrap_or_default();
    Value::str_map(entries)
}

fn sorted_tags(j: &J, k: &str) -> Value {
    let mut tags: Vec<String> = j
        .get(k)
        .and_then(J::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    tags.sort();
    Value::list(tags.into_iter().map(Value::from).collect())
}

fn array(j: &J) -> &[J] {
    j.as_array().map_or(&[], Vec::as_slice)
}

impl Dependency {
    /// Turns a Consul JSON response into the template value. A non-blocking KV 404 is passed
    /// as `null`; a file's contents are passed as a JSON string.
    pub fn decode(&self, json: &J) -> Value {
        match self {
            Dependency::HealthService(q) => decode_health(q, json),
            Dependency::CatalogServices { .. } => decode_catalog_services(json),
            Dependency::CatalogNode { .. } => decode_catalog_node(json),
            Dependency::CatalogNodes { .. } => decode_nodes(json),
            Dependency::KvGet { .. } => decode_kv_get(json),
            Dependency::KvList { prefix, .. } => decode_kv_list(prefix, json),
            Dependency::Datacenters { .. } => {
                let mut dcs: Vec<String> = array(json)
                    .iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect();
                dcs.sort();
                Value::list(dcs.into_iter().map(Value::from).collect())
            }
            Dependency::File { .. } => match json {
                J::String(s) => Value::str(s),
                J::Null => Value::Nil,
                other => Value::str(other.to_string()),
            },
        }
    }
}

/// Aggregate status of a service's checks: maintenance, then the worst of
/// critical > warning > passing; no checks is passing.
fn status_of(checks: &[J]) -> &'static str {
    let (mut warning, mut critical, mut maint) = (false, false, false);
    for c in checks {
        let id = c.get("CheckID").and_then(J::as_str).unwrap_or("");
        if id == "_node_maintenance" || id.starts_with("_service_maintenance:") {
            maint = true;
            continue;
        }
        match c.get("Status").and_then(J::as_str).unwrap_or("") {
            "warning" => warning = true,
            "critical" => critical = true,
            _ => {}
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

fn decode_check(c: &J) -> Value {
    Value::object(
        "api.HealthCheck",
        vec![
            ("Node", s(c, "Node")),
            ("CheckID", s(c, "CheckID")),
            ("Name", s(c, "Name")),
            ("Status", s(c, "Status")),
            ("Notes", s(c, "Notes")),
            ("Output", s(c, "Output")),
            ("ServiceID", s(c, "ServiceID")),
            ("ServiceName", s(c, "ServiceName")),
            ("ServiceTags", sorted_or_raw_tags(c)),
            ("Type", s(c, "Type")),
        ],
    )
}

fn sorted_or_raw_tags(c: &J) -> Value {
    let tags = c.get("ServiceTags").and_then(J::as_array).map(|a| {
        a.iter()
            .filter_map(|t| t.as_str().map(Value::from))
            .collect::<Vec<_>>()
    });
    Value::list(tags.unwrap_or_default())
}

fn decode_health(q: &ServiceQuery, json: &J) -> Value {
    let mut out: Vec<(String, String, Value)> = Vec::new();
    for entry in array(json) {
        let node = entry.get("Node").unwrap_or(&J::Null);
        let svc = entry.get("Service").unwrap_or(&J::Null);
        let checks = entry.get("Checks").map(array).unwrap_or(&[]);
        let status = status_of(checks);
        if !(q.filters.iter().any(|f| f == "any" || f == status)) {
            continue;
        }
        let address = match svc.get("Address").and_then(J::as_str) {
            Some(a) if !a.is_empty() => a.to_string(),
            _ => string_of(node, "Address"),
        };
        let tagged = svc
            .get("TaggedAddresses")
            .and_then(J::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        let addr = Value::record(
                            "api.ServiceAddress",
                            vec![("Address", s(v, "Address")), ("Port", int(v, "Port"))],
                        );
                        (k.clone(), addr)
                    })
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default();
        let weights = svc.get("Weights").unwrap_or(&J::Null);
        let node_name = string_of(node, "Node");
        let id = string_of(svc, "ID");
        let value = Value::object(
            "dependency.HealthService",
            vec![
                ("Node", Value::str(&node_name)),
                ("NodeID", s(node, "ID")),
                ("NodeAddress", s(node, "Address")),
                ("NodeDatacenter", s(node, "Datacenter")),
                ("NodeTaggedAddresses", str_map(node, "TaggedAddresses")),
                ("NodeMeta", str_map(node, "Meta")),
                ("ServiceMeta", str_map(svc, "Meta")),
                ("Address", Value::str(address)),
                ("ServiceTaggedAddresses", Value::map(tagged)),
                ("ID", Value::str(&id)),
                ("Name", s(svc, "Service")),
                ("Kind", s(svc, "Kind")),
                ("Tags", sorted_tags(svc, "Tags")),
                (
                    "Checks",
                    Value::list(checks.iter().map(decode_check).collect()),
                ),
                ("Status", Value::str(status)),
                ("Port", int(svc, "Port")),
                (
                    "Weights",
                    Value::record(
                        "api.AgentWeights",
                        vec![
                            ("Passing", int(weights, "Passing")),
                            ("Warning", int(weights, "Warning")),
                        ],
                    ),
                ),
                ("Namespace", s(svc, "Namespace")),
                ("Partition", s(svc, "Partition")),
            ],
        );
        out.push((node_name, id, value));
    }
    if q.near.is_none() {
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    }
    Value::list(out.into_iter().map(|(_, _, v)| v).collect())
}

fn decode_catalog_services(json: &J) -> Value {
    let Some(obj) = json.as_object() else {
        return Value::list(vec![]);
    };
    let mut names: Vec<&String> = obj.keys().collect();
    names.sort();
    let items = names
        .into_iter()
        .map(|name| {
            let mut tags: Vec<String> = array(&obj[name.as_str()])
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
            tags.sort();
            Value::object(
                "dependency.CatalogSnippet",
                vec![
                    ("Name", Value::str(name)),
                    (
                        "Tags",
                        Value::list(tags.into_iter().map(Value::from).collect()),
                    ),
                ],
            )
        })
        .collect();
    Value::list(items)
}

fn node_value(n: &J) -> Value {
    Value::object(
        "dependency.Node",
        vec![
            ("ID", s(n, "ID")),
            ("Node", s(n, "Node")),
            ("Address", s(n, "Address")),
            ("Datacenter", s(n, "Datacenter")),
            ("TaggedAddresses", str_map(n, "TaggedAddresses")),
            ("Meta", str_map(n, "Meta")),
        ],
    )
}

fn decode_nodes(json: &J) -> Value {
    let mut nodes: Vec<&J> = array(json).iter().collect();
    nodes.sort_by(|a, b| {
        (string_of(a, "Node"), string_of(a, "Address"))
            .cmp(&(string_of(b, "Node"), string_of(b, "Address")))
    });
    Value::list(nodes.into_iter().map(node_value).collect())
}

fn decode_catalog_node(json: &J) -> Value {
    let Some(node) = json.get("Node").filter(|n| !n.is_null()) else {
        return Value::object(
            "dependency.CatalogNode",
            vec![("Node", Value::Nil), ("Services", Value::list(vec![]))],
        );
    };
    let mut services: Vec<(String, String, Value)> = json
        .get("Services")
        .and_then(J::as_object)
        .map(|o| {
            o.values()
                .map(|svc| {
                    let v = Value::object(
                        "dependency.CatalogNodeService",
                        vec![
                            ("ID", s(svc, "ID")),
                            ("Service", s(svc, "Service")),
                            ("Tags", sorted_tags(svc, "Tags")),
                            ("Meta", str_map(svc, "Meta")),
                            ("Port", int(svc, "Port")),
                            ("Address", s(svc, "Address")),
                            (
                                "EnableTagOverride",
                                Value::Bool(
                                    svc.get("EnableTagOverride")
                                        .and_then(J::as_bool)
                                        .unwrap_or(false),
                                ),
                            ),
                        ],
                    );
                    (string_of(svc, "Service"), string_of(svc, "ID"), v)
                })
                .collect()
        })
        .unwrap_or_default();
    services.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Value::object(
        "dependency.CatalogNode",
        vec![
            ("Node", node_value(node)),
            (
                "Services",
                Value::list(services.into_iter().map(|(_, _, v)| v).collect()),
            ),
        ],
    )
}

fn kv_value(pair: &J) -> String {
    let raw = pair.get("Value").and_then(J::as_str).unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn decode_kv_get(json: &J) -> Value {
    match json {
        J::Null => Value::Nil,
        J::Array(a) => match a.first() {
            Some(pair) => Value::str(kv_value(pair)),
            None => Value::Nil,
        },
        J::String(s) => Value::str(s),
        other => Value::str(kv_value(other)),
    }
}

fn decode_kv_list(prefix: &str, json: &J) -> Value {
    let items = array(json)
        .iter()
        .map(|pair| {
            let path = string_of(pair, "Key");
            let rel = path
                .strip_prefix(prefix)
                .unwrap_or(&path)
                .trim_start_matches('/')
                .to_string();
            Value::object(
                "dependency.KeyPair",
                vec![
                    ("Path", Value::str(&path)),
                    ("Key", Value::str(rel)),
                    ("Value", Value::str(kv_value(pair))),
                    ("Exists", Value::Bool(true)),
                    ("CreateIndex", int(pair, "CreateIndex")),
                    ("ModifyIndex", int(pair, "ModifyIndex")),
                    ("LockIndex", int(pair, "LockIndex")),
                    ("Flags", int(pair, "Flags")),
                    ("Session", s(pair, "Session")),
                ],
            )
        })
        .collect();
    Value::list(items)
}
