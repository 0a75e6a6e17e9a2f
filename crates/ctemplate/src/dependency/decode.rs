//! Consul JSON responses → template data, with upstream's Go field names, field order and sort
//! orders (services by Node then ID, tags sorted, catalog services by name, nodes by Node then
//! Address, a node's services by Service then ID).
//!
//! Answers are first read into the wire types of `api_types` with Go's decoding rules
//! ([`api_types::decode::response_from_value`]: `null` is the zero value, so `"Tags": null`,
//! `"Meta": null` or `"Checks": null` read as empty; unknown fields are ignored; keys match
//! case-insensitively), exactly as consul-template's Go client reads them; a value of the
//! wrong type is a decode error in Go's words.

use std::collections::BTreeMap;

use api_types::decode::{response_from_value, DecodeError};
use api_types::{HealthCheck, KvPair, Node, NodeService, NodeServices, ServiceEntry, StrMap};
use gotemplate::Value;
use serde::de::DeserializeOwned;
use serde_json::Value as J;

use super::{Dependency, ServiceQuery};

/// A Consul answer read into its wire type with Go's rules.
fn typed<T: DeserializeOwned>(json: &J) -> Result<T, DecodeError> {
    response_from_value(json.clone())
}

fn str_map(m: Option<&StrMap>) -> Value {
    let entries = m
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Value::str(v)))
        .collect();
    Value::str_map(entries)
}

fn strings(items: &[String]) -> Value {
    Value::list(items.iter().map(Value::str).collect())
}

fn sorted(items: &[String]) -> Value {
    let mut items = items.to_vec();
    items.sort();
    strings(&items)
}

impl Dependency {
    /// Turns a Consul JSON response into the template value. A non-blocking KV 404 is passed
    /// as `null`; a file's contents are passed as a JSON string.
    pub fn decode(&self, json: &J) -> Result<Value, DecodeError> {
        Ok(match self {
            Dependency::HealthService(q) => decode_health(q, typed(json)?),
            Dependency::CatalogServices { .. } => decode_catalog_services(typed(json)?),
            Dependency::CatalogNode { .. } => decode_catalog_node(typed(json)?),
            Dependency::CatalogNodes { .. } => decode_nodes(typed(json)?),
            Dependency::KvGet { .. } => decode_kv_get(typed(json)?),
            Dependency::KvList { prefix, .. } => decode_kv_list(prefix, typed(json)?),
            Dependency::Datacenters { .. } => {
                let dcs: Vec<String> = typed(json)?;
                sorted(&dcs)
            }
            Dependency::File { .. } => match json {
                J::String(s) => Value::str(s),
                J::Null => Value::Nil,
                other => Value::str(other.to_string()),
            },
        })
    }
}

/// Aggregate status of a service's checks: maintenance, then the worst of
/// critical > warning > passing; no checks is passing.
fn status_of(checks: &[HealthCheck]) -> &'static str {
    let (mut warning, mut critical, mut maint) = (false, false, false);
    for c in checks {
        let id = c.check_id.as_str();
        if id == "_node_maintenance" || id.starts_with("_service_maintenance:") {
            maint = true;
            continue;
        }
        match c.status.as_str() {
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

fn decode_check(c: &HealthCheck) -> Value {
    Value::object(
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
            // In the order Consul sent them.
            ("ServiceTags", strings(&c.service_tags)),
            ("Type", Value::str(&c.check_type)),
        ],
    )
}

fn decode_health(q: &ServiceQuery, entries: Vec<ServiceEntry>) -> Value {
    let mut out: Vec<(String, String, Value)> = Vec::new();
    for ServiceEntry {
        node,
        service: svc,
        checks,
    } in entries
    {
        let status = status_of(&checks);
        if !(q.filters.iter().any(|f| f == "any" || f == status)) {
            continue;
        }
        let address = if svc.address.is_empty() {
            node.address.clone()
        } else {
            svc.address.clone()
        };
        let tagged = svc
            .tagged_addresses
            .iter()
            .flatten()
            .map(|(k, a)| {
                let addr = Value::record(
                    "api.ServiceAddress",
                    vec![
                        ("Address", Value::str(&a.address)),
                        ("Port", Value::Int(a.port.into())),
                    ],
                );
                (k.clone(), addr)
            })
            .collect::<BTreeMap<_, _>>();
        let value = Value::object(
            "dependency.HealthService",
            vec![
                ("Node", Value::str(&node.node)),
                ("NodeID", Value::str(&node.id)),
                ("NodeAddress", Value::str(&node.address)),
                ("NodeDatacenter", Value::str(&node.datacenter)),
                (
                    "NodeTaggedAddresses",
                    str_map(node.tagged_addresses.as_ref()),
                ),
                ("NodeMeta", str_map(node.meta.as_ref())),
                ("ServiceMeta", str_map(svc.meta.as_ref())),
                ("Address", Value::str(address)),
                ("ServiceTaggedAddresses", Value::map(tagged)),
                ("ID", Value::str(&svc.id)),
                ("Name", Value::str(&svc.service)),
                ("Kind", Value::str(&svc.kind)),
                ("Tags", sorted(&svc.tags)),
                (
                    "Checks",
                    Value::list(checks.iter().map(decode_check).collect()),
                ),
                ("Status", Value::str(status)),
                ("Port", Value::Int(svc.port.into())),
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
                // Consul Enterprise fields: Consul CE (and our consul) never sends them.
                ("Namespace", Value::str("")),
                ("Partition", Value::str("")),
            ],
        );
        out.push((node.node, svc.id, value));
    }
    if q.near.is_none() {
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    }
    Value::list(out.into_iter().map(|(_, _, v)| v).collect())
}

fn decode_catalog_services(services: BTreeMap<String, Vec<String>>) -> Value {
    let items = services
        .iter()
        .map(|(name, tags)| {
            Value::object(
                "dependency.CatalogSnippet",
                vec![("Name", Value::str(name)), ("Tags", sorted(tags))],
            )
        })
        .collect();
    Value::list(items)
}

fn node_value(n: &Node) -> Value {
    Value::object(
        "dependency.Node",
        vec![
            ("ID", Value::str(&n.id)),
            ("Node", Value::str(&n.node)),
            ("Address", Value::str(&n.address)),
            ("Datacenter", Value::str(&n.datacenter)),
            ("TaggedAddresses", str_map(n.tagged_addresses.as_ref())),
            ("Meta", str_map(n.meta.as_ref())),
        ],
    )
}

fn decode_nodes(mut nodes: Vec<Node>) -> Value {
    nodes.sort_by(|a, b| (&a.node, &a.address).cmp(&(&b.node, &b.address)));
    Value::list(nodes.iter().map(node_value).collect())
}

fn catalog_node_service(svc: &NodeService) -> Value {
    Value::object(
        "dependency.CatalogNodeService",
        vec![
            ("ID", Value::str(&svc.id)),
            ("Service", Value::str(&svc.service)),
            ("Tags", sorted(&svc.tags)),
            ("Meta", str_map(svc.meta.as_ref())),
            ("Port", Value::Int(svc.port.into())),
            ("Address", Value::str(&svc.address)),
            ("EnableTagOverride", Value::Bool(svc.enable_tag_override)),
        ],
    )
}

/// `null` (an unknown node) is a node-less value with no services.
fn decode_catalog_node(answer: Option<NodeServices>) -> Value {
    let Some(NodeServices { node, services }) = answer else {
        return Value::object(
            "dependency.CatalogNode",
            vec![("Node", Value::Nil), ("Services", Value::list(vec![]))],
        );
    };
    let mut services: Vec<&NodeService> = services.values().collect();
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

fn decode_kv_list(prefix: &str, pairs: Vec<KvPair>) -> Value {
    let items = pairs
        .iter()
        .map(|pair| {
            let path = &pair.key;
            let rel = path
                .strip_prefix(prefix)
                .unwrap_or(path)
                .trim_start_matches('/')
                .to_string();
            let int = |v: u64| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
            Value::object(
                "dependency.KeyPair",
                vec![
                    ("Path", Value::str(path)),
                    ("Key", Value::str(rel)),
                    ("Value", Value::str(kv_value(pair))),
                    ("Exists", Value::Bool(true)),
                    ("CreateIndex", int(pair.create_index)),
                    ("ModifyIndex", int(pair.modify_index)),
                    ("LockIndex", int(pair.lock_index)),
                    ("Flags", int(pair.flags)),
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
