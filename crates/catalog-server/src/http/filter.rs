//! `?filter=`: Consul's boolean filter expressions (go-bexpr) on list reads. One field set per
//! element type, named after Consul's Go type and built from the selector tables of the API
//! docs' "Filtering" sections; and the helpers the list handlers call: compile the expression
//! before any blocking wait (a bad one is a 400 in Consul's words), apply it to the wire items
//! after the read and after ACL filtering.
//!
//! Kinds follow the docs' operations: `Equal, Not Equal` only is a number or a bool, the
//! `Matches` family a string, `Is Empty, In` a map (`<any>` keys) or a list.

use super::params::Params;
use super::reply::ApiError;
use bexpr::{EvalError, FieldKind, FieldSet, Filter};
use serde::Serialize;
use std::collections::BTreeMap;

/// The request's `?filter=` compiled against `fields`; `None` when absent or empty (no filter).
pub fn from_params(p: &Params, fields: FieldSet) -> Result<Option<Filter>, ApiError> {
    match p.get("filter") {
        None | Some("") => Ok(None),
        Some(expr) => Filter::new(expr, &fields)
            .map(Some)
            .map_err(|e| ApiError::bad_request(e.consul_message())),
    }
}

/// Keeps the items whose JSON form passes `filter`.
pub fn apply<T: Serialize>(filter: Option<&Filter>, items: Vec<T>) -> Result<Vec<T>, ApiError> {
    match filter {
        None => Ok(items),
        Some(f) => f.apply(items).map_err(eval_error),
    }
}

/// Keeps the map entries whose value passes `filter` (`/v1/agent/services`, `/v1/agent/checks`).
pub fn apply_values<T: Serialize>(
    filter: Option<&Filter>,
    items: BTreeMap<String, T>,
) -> Result<BTreeMap<String, T>, ApiError> {
    let Some(f) = filter else {
        return Ok(items);
    };
    let mut kept = BTreeMap::new();
    for (k, v) in items {
        let json = serde_json::to_value(&v).map_err(|e| ApiError::internal(e.to_string()))?;
        if f.matches(&json).map_err(eval_error)? {
            kept.insert(k, v);
        }
    }
    Ok(kept)
}

/// Consul answers a failed evaluation with a 500 (the RPC's error).
fn eval_error(e: EvalError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// structs.Node: the elements of `/v1/catalog/nodes`.
pub fn node() -> FieldSet {
    FieldSet::new()
        .string("Address")
        .string("Datacenter")
        .string("ID")
        .string_map("Meta")
        .string("Node")
        .string_map("TaggedAddresses")
}

/// structs.ServiceNode: the elements of `/v1/catalog/service/:service`, and what
/// `/v1/catalog/services` filters before it groups the instances by name.
pub fn service_node() -> FieldSet {
    FieldSet::new()
        .string("Address")
        .string("Datacenter")
        .string("ID")
        .string("Node")
        .string_map("NodeMeta")
        .string("ServiceAddress")
        .nested("ServiceConnect", connect())
        .bool("ServiceEnableTagOverride")
        .string("ServiceID")
        .string("ServiceKind")
        .string_map("ServiceMeta")
        .string("ServiceName")
        .int("ServicePort")
        .nested("ServiceProxy", connect_proxy_config())
        .field("ServiceTaggedAddresses", tagged_addresses())
        .strings("ServiceTags")
        .nested("ServiceWeights", weights())
        .string_map("TaggedAddresses")
}

/// structs.NodeService: the services of `/v1/catalog/node-services/:node` and
/// `/v1/catalog/node/:node`, and `Service` in `/v1/health/service/:service`.
pub fn node_service() -> FieldSet {
    FieldSet::new()
        .string("Address")
        .nested("Connect", connect())
        .bool("EnableTagOverride")
        .string("ID")
        .string("Kind")
        .string_map("Meta")
        .int("Port")
        .nested("Proxy", connect_proxy_config())
        .string("Service")
        .field("TaggedAddresses", tagged_addresses())
        .strings("Tags")
        .nested("Weights", weights())
}

/// api.AgentService: the values of `/v1/agent/services` (the docs list the same selectors as
/// for structs.NodeService; `Datacenter` and the indexes are hidden from filters).
pub fn agent_service() -> FieldSet {
    node_service()
}

/// structs.HealthCheck: the elements of `/v1/health/node/:node`, `/v1/health/checks/:service`,
/// `/v1/health/state/:state`, and `Checks` in `/v1/health/service/:service`.
pub fn health_check() -> FieldSet {
    FieldSet::new()
        .string("CheckID")
        .string("Name")
        .string("Node")
        .string("Notes")
        .string("Output")
        .string("ServiceID")
        .string("ServiceName")
        .strings("ServiceTags")
        .string("Status")
}

/// The values of `/v1/agent/checks` (structs.HealthCheck, the same selectors).
pub fn agent_check() -> FieldSet {
    health_check()
}

/// structs.CheckServiceNode: the elements of `/v1/health/service/:service`.
pub fn check_service_node() -> FieldSet {
    FieldSet::new()
        .field("Checks", FieldKind::list(FieldKind::Struct(health_check())))
        .nested("Node", node())
        .nested("Service", node_service())
}

/// serf.Member: the elements of `/v1/agent/members` (no docs table; the Go struct's fields,
/// with `Addr` compared as its text form).
pub fn member() -> FieldSet {
    FieldSet::new()
        .string("Name")
        .string("Addr")
        .uint("Port")
        .string_map("Tags")
        .int("Status")
        .uint("ProtocolMin")
        .uint("ProtocolMax")
        .uint("ProtocolCur")
        .uint("DelegateMin")
        .uint("DelegateMax")
        .uint("DelegateCur")
}

/// structs.ServiceConnect (`Connect.Native`).
fn connect() -> FieldSet {
    FieldSet::new().bool("Native")
}

/// structs.Weights.
fn weights() -> FieldSet {
    FieldSet::new().int("Passing").int("Warning")
}

/// `map[string]structs.ServiceAddress` (`TaggedAddresses.<any>.Address`, `.Port`).
fn tagged_addresses() -> FieldKind {
    FieldKind::map(FieldKind::Struct(
        FieldSet::new().string("Address").int("Port"),
    ))
}

/// structs.MeshGatewayConfig (`MeshGateway.Mode`).
fn mesh_gateway() -> FieldSet {
    FieldSet::new().string("Mode")
}

/// structs.ConnectProxyConfig (`Proxy.*`, `ServiceProxy.*`).
fn connect_proxy_config() -> FieldSet {
    let upstream = FieldSet::new()
        .string("Datacenter")
        .string("DestinationName")
        .string("DestinationNamespace")
        .string("DestinationType")
        .string("LocalBindAddress")
        .int("LocalBindPort")
        .nested("MeshGateway", mesh_gateway());
    FieldSet::new()
        .string("DestinationServiceID")
        .string("DestinationServiceName")
        .string("LocalServiceAddress")
        .int("LocalServicePort")
        .string("Mode")
        .nested(
            "TransparentProxy",
            FieldSet::new().int("OutboundListenerPort"),
        )
        .nested("MeshGateway", mesh_gateway())
        .field("Upstreams", FieldKind::list(FieldKind::Struct(upstream)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(expr: &str, fields: FieldSet, item: serde_json::Value) -> bool {
        Filter::new(expr, &fields).unwrap().matches(&item).unwrap()
    }

    #[test]
    fn docs_selectors_compile() {
        for (fields, expr) in [
            (
                node(),
                r#"Meta.env == prod and TaggedAddresses.lan matches "^10""#,
            ),
            (
                service_node(),
                "ServiceProxy.Upstreams.LocalBindPort == 9191",
            ),
            (service_node(), "ServiceTaggedAddresses.lan.Port == 80"),
            (
                node_service(),
                "Proxy.TransparentProxy.OutboundListenerPort == 1",
            ),
            (
                node_service(),
                "Connect.Native == true and Weights.Passing == 1",
            ),
            (
                check_service_node(),
                "Checks.Status == passing and Node.Meta is empty",
            ),
            (member(), r#"Tags["dc"] == dc1 and Status == 1"#),
        ] {
            Filter::new(expr, &fields).unwrap_or_else(|e| panic!("{expr}: {e}"));
        }
    }

    #[test]
    fn refuses_what_consul_refuses() {
        let e = from_params(&Params::parse(Some("filter=Nope%20%3D%3D%201")), node()).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            r#"Failed to create boolean expression evaluator: Selector "Nope" is not valid"#
        );
        assert!(Filter::new("Port matches x", &node_service()).is_err());
        assert!(from_params(&Params::parse(Some("filter=")), node())
            .unwrap()
            .is_none());
    }

    #[test]
    fn absent_fields_are_zero_values() {
        // Our NodeService wire form has no `Upstreams` or `Native`: Go's zero values.
        let svc = json!({"ID": "web", "Service": "web", "Tags": ["v1"], "Meta": null,
                         "Proxy": {"Mode": ""}, "Connect": {}});
        assert!(matches(
            "Proxy.Upstreams is empty",
            node_service(),
            svc.clone()
        ));
        assert!(matches(
            "Connect.Native == false",
            node_service(),
            svc.clone()
        ));
        assert!(matches("Meta is empty", node_service(), svc.clone()));
        assert!(matches(r#""v1" in Tags"#, node_service(), svc));
    }
}
