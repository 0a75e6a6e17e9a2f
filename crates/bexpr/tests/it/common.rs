//! Shared fixtures: Consul-shaped items and the field sets of their Go types.

use bexpr::{FieldKind, FieldSet, Filter};
use serde_json::{json, Value};

/// Renders a tree compactly: `(and (in foo "x") (not (== str "y")))`.
pub fn sexpr(expr: &bexpr::ast::Expr) -> String {
    use bexpr::ast::{Expr, MatchOp};
    match expr {
        Expr::Not(e) => format!("(not {})", sexpr(e)),
        Expr::And(l, r) => format!("(and {} {})", sexpr(l), sexpr(r)),
        Expr::Or(l, r) => format!("(or {} {})", sexpr(l), sexpr(r)),
        Expr::Match(m) => {
            let op = match m.op {
                MatchOp::Equal => "==",
                MatchOp::NotEqual => "!=",
                MatchOp::In => "in",
                MatchOp::NotIn => "not-in",
                MatchOp::IsEmpty => "empty",
                MatchOp::IsNotEmpty => "not-empty",
                MatchOp::Matches => "matches",
                MatchOp::NotMatches => "not-matches",
            };
            let sel = m.selector.0.join("/");
            match &m.value {
                Some(v) => format!("({op} {sel} {v:?})"),
                None => format!("({op} {sel})"),
            }
        }
    }
}

fn service_address() -> FieldKind {
    FieldKind::Struct(FieldSet::new().string("Address").int("Port"))
}

fn weights() -> FieldSet {
    FieldSet::new().int("Passing").int("Warning")
}

/// structs.ServiceNode, the element of /v1/catalog/service/:service.
pub fn service_node_fields() -> FieldSet {
    FieldSet::new()
        .string("ID")
        .string("Node")
        .string("Address")
        .string("Datacenter")
        .string_map("TaggedAddresses")
        .string_map("NodeMeta")
        .string("ServiceKind")
        .string("ServiceID")
        .string("ServiceName")
        .strings("ServiceTags")
        .string("ServiceAddress")
        .field("ServiceTaggedAddresses", FieldKind::map(service_address()))
        .nested("ServiceWeights", weights())
        .string_map("ServiceMeta")
        .int("ServicePort")
        .bool("ServiceEnableTagOverride")
        .nested(
            "ServiceProxy",
            FieldSet::new()
                .string("DestinationServiceName")
                .int("LocalServicePort")
                .field("Config", FieldKind::map(FieldKind::Opaque)),
        )
        .nested("ServiceConnect", FieldSet::new().bool("Native"))
        .uint("CreateIndex")
        .uint("ModifyIndex")
}

pub fn service_node() -> Value {
    json!({
        "ID": "40e4a748-2192-161a-0510-9bf59fe950b5",
        "Node": "node-1",
        "Address": "192.168.10.10",
        "Datacenter": "dc1",
        "TaggedAddresses": {"lan": "192.168.10.10", "wan": "10.0.10.10"},
        "NodeMeta": {"somekey": "somevalue", "rack-id": "r12"},
        "ServiceKind": "",
        "ServiceID": "redis-1",
        "ServiceName": "redis",
        "ServiceTags": ["primary", "v1"],
        "ServiceAddress": "",
        "ServiceTaggedAddresses": {
            "lan_ipv4": {"Address": "192.168.10.10", "Port": 6379}
        },
        "ServiceWeights": {"Passing": 10, "Warning": 1},
        "ServiceMeta": {"redis_version": "4.0"},
        "ServicePort": 6379,
        "ServiceEnableTagOverride": false,
        "ServiceProxy": {"MeshGateway": {}, "Expose": {}},
        "ServiceConnect": {},
        "CreateIndex": 10,
        "ModifyIndex": 10
    })
}

/// structs.HealthCheck, the element of /v1/health/checks/:service and friends.
pub fn health_check_fields() -> FieldSet {
    FieldSet::new()
        .string("Node")
        .string("CheckID")
        .string("Name")
        .string("Status")
        .string("Notes")
        .string("Output")
        .string("ServiceID")
        .string("ServiceName")
        .strings("ServiceTags")
        .string("Type")
        .uint("CreateIndex")
        .uint("ModifyIndex")
}

pub fn health_check() -> Value {
    json!({
        "Node": "node-1",
        "CheckID": "service:redis-1",
        "Name": "Service 'redis' check",
        "Status": "passing",
        "Notes": "",
        "Output": "TCP connect 127.0.0.1:6379: Success",
        "ServiceID": "redis-1",
        "ServiceName": "redis",
        "ServiceTags": ["primary"],
        "Type": "tcp",
        "CreateIndex": 12,
        "ModifyIndex": 14
    })
}

/// structs.AgentService (api.AgentService), the values of /v1/agent/services.
pub fn agent_service_fields() -> FieldSet {
    FieldSet::new()
        .string("Kind")
        .string("ID")
        .string("Service")
        .strings("Tags")
        .string_map("Meta")
        .int("Port")
        .string("Address")
        .field("TaggedAddresses", FieldKind::map(service_address()))
        .nested("Weights", weights())
        .bool("EnableTagOverride")
        .string("Datacenter")
}

pub fn agent_service() -> Value {
    json!({
        "ID": "web-1",
        "Service": "web",
        "Tags": ["rails", "v2"],
        "Meta": {"env": "prod", "some-key": "dashed", "empty": ""},
        "Port": 8080,
        "Address": "10.1.2.3",
        "TaggedAddresses": {
            "lan_ipv4": {"Address": "10.1.2.3", "Port": 8080},
            "wan_ipv4": {"Address": "198.18.0.1", "Port": 80}
        },
        "Weights": {"Passing": 3, "Warning": 1},
        "EnableTagOverride": true,
        "Datacenter": "dc1"
    })
}

/// structs.CheckServiceNode, the element of /v1/health/service/:service.
pub fn check_service_node_fields() -> FieldSet {
    FieldSet::new()
        .nested(
            "Node",
            FieldSet::new()
                .string("Node")
                .string("Address")
                .string_map("Meta"),
        )
        .nested("Service", agent_service_fields())
        .field(
            "Checks",
            FieldKind::list(FieldKind::Struct(health_check_fields())),
        )
}

pub fn check_service_node() -> Value {
    let mut warning = health_check();
    warning["CheckID"] = json!("serfHealth");
    warning["Status"] = json!("warning");
    warning["ServiceID"] = json!("");
    warning["ServiceTags"] = json!([]);
    json!({
        "Node": {"Node": "node-1", "Address": "10.1.2.3", "Meta": {"os": "linux"}},
        "Service": agent_service(),
        "Checks": [health_check(), warning]
    })
}

/// Creates `expr` against `fields` and evaluates it on `item`, panicking on errors.
pub fn eval(expr: &str, fields: &FieldSet, item: &Value) -> bool {
    let filter = Filter::new(expr, fields).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
    filter
        .matches(item)
        .unwrap_or_else(|e| panic!("{expr:?}: {e}"))
}
