//! `PUT /v1/txn`: up to 128 KV, node, service and check operations applied as one atomic
//! change (Consul's `agent/txn_endpoint.go`). A transaction that fails answers 409 with the
//! failed operations' errors; each operation needs its write right up front, and what `get`
//! operations return is filtered by the token's read rights, as Consul's `FilterTxnResults`.

use super::acl::{authz, Token};
use super::params::Params;
use super::reply::{json, ApiError};
use super::AppState;
use crate::catalog::acl::Authz;
use crate::catalog::query::{check_wire, kv_wire, node_service_wire, node_wire};
use crate::catalog::registration::{catalog_check, catalog_service};
use crate::catalog::{CatalogTxnOp, Command, NodeRecord, Reply, TxnOp, TxnResult};
use ::acl::{Access, Resource};
use api_types::decode::{first_value, from_value, GoNames};
use api_types::{CatalogCheckInput, CatalogServiceInput, StrMap};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde::{Deserialize, Serialize};

type Res = Result<Response, ApiError>;

/// The most operations one transaction may hold.
const MAX_OPS: usize = 128;

#[derive(Deserialize)]
struct KvIn {
    #[serde(rename = "Verb", default)]
    verb: String,
    #[serde(rename = "Key", default)]
    key: String,
    #[serde(rename = "Value", default)]
    value: Option<String>,
    #[serde(rename = "Flags", default)]
    flags: u64,
    #[serde(rename = "Index", default)]
    index: u64,
    #[serde(rename = "Session", default)]
    session: String,
}

/// `api.Node` as a node operation carries it.
#[derive(Deserialize, Default)]
struct NodeIn {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Node", default)]
    node: String,
    #[serde(rename = "Address", default)]
    address: String,
    #[serde(rename = "Datacenter", default)]
    datacenter: String,
    #[serde(rename = "TaggedAddresses", default)]
    tagged_addresses: Option<StrMap>,
    #[serde(rename = "Meta", default)]
    meta: Option<StrMap>,
    #[serde(rename = "ModifyIndex", default)]
    modify_index: u64,
}

#[derive(Deserialize)]
struct NodeOpIn {
    #[serde(rename = "Verb", default)]
    verb: String,
    #[serde(rename = "Node", default)]
    node: NodeIn,
}

#[derive(Deserialize)]
struct ServiceOpIn {
    #[serde(rename = "Verb", default)]
    verb: String,
    #[serde(rename = "Node", default)]
    node: String,
    #[serde(rename = "Service", default)]
    service: CatalogServiceInput,
}

#[derive(Deserialize)]
struct CheckOpIn {
    #[serde(rename = "Verb", default)]
    verb: String,
    #[serde(rename = "Check", default)]
    check: CatalogCheckInput,
}

#[derive(Deserialize)]
struct OpIn {
    #[serde(rename = "KV", default)]
    kv: Option<KvIn>,
    #[serde(rename = "Node", default)]
    node: Option<NodeOpIn>,
    #[serde(rename = "Service", default)]
    service: Option<ServiceOpIn>,
    #[serde(rename = "Check", default)]
    check: Option<CheckOpIn>,
}

/// The `ModifyIndex` of a service or check operation's record (which the registration types
/// those operations share with `/v1/catalog/register` do not read).
#[derive(Deserialize, Default)]
struct Indexed {
    #[serde(rename = "ModifyIndex", default)]
    modify_index: u64,
}

#[derive(Deserialize, Default)]
struct IndexesIn {
    #[serde(rename = "Service", default)]
    service: Option<ServiceIndexIn>,
    #[serde(rename = "Check", default)]
    check: Option<CheckIndexIn>,
}

#[derive(Deserialize, Default)]
struct ServiceIndexIn {
    #[serde(rename = "Service", default)]
    service: Indexed,
}

#[derive(Deserialize, Default)]
struct CheckIndexIn {
    #[serde(rename = "Check", default)]
    check: Indexed,
}

/// Go's names in type errors: Consul decodes the body into `api.TxnOps`.
const TXN_OPS: GoNames = GoNames::new("TxnOp", "api.TxnOps").with_nested(&[
    ("KV", "api.KVTxnOp"),
    ("Service", "api.ServiceTxnOp"),
    ("Check", "api.CheckTxnOp"),
]);

#[derive(Serialize, Default)]
struct ResultWire {
    #[serde(rename = "KV", skip_serializing_if = "Option::is_none")]
    kv: Option<api_types::KvPair>,
    #[serde(rename = "Node", skip_serializing_if = "Option::is_none")]
    node: Option<api_types::Node>,
    #[serde(rename = "Service", skip_serializing_if = "Option::is_none")]
    service: Option<api_types::NodeService>,
    #[serde(rename = "Check", skip_serializing_if = "Option::is_none")]
    check: Option<api_types::HealthCheck>,
}

#[derive(Serialize)]
struct ErrorWire {
    #[serde(rename = "OpIndex")]
    op_index: usize,
    #[serde(rename = "What")]
    what: String,
}

#[derive(Serialize)]
struct TxnResponse {
    #[serde(rename = "Results")]
    results: Option<Vec<ResultWire>>,
    #[serde(rename = "Errors")]
    errors: Option<Vec<ErrorWire>>,
}

/// One decoded operation, or what Consul would answer for it before applying anything
/// (`servicePreApply` and the like), as that operation's error.
type Decoded = Result<CatalogTxnOp, String>;

/// The body of `/v1/txn` decoded into operations: 400 with Consul's `Failed to parse body`
/// when it does not decode, 413 past [`MAX_OPS`]. `datacenter` fills a node's empty one.
fn decode(body: &[u8], datacenter: &str) -> Result<Vec<Decoded>, ApiError> {
    let parse = |e| ApiError::bad_request(format!("Failed to parse body: {e}"));
    let value = first_value(body).map_err(parse)?;
    let items: Vec<OpIn> = from_value(value.clone(), TXN_OPS).map_err(parse)?;
    if items.len() > MAX_OPS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Transaction contains too many operations ({} > {MAX_OPS})",
                items.len()
            ),
        ));
    }
    let indexes: Vec<IndexesIn> = from_value(value, TXN_OPS).map_err(parse)?;
    let mut ops = Vec::with_capacity(items.len());
    for (item, idx) in items.into_iter().zip(indexes) {
        let op = if let Some(kv) = item.kv {
            let value = match kv.value {
                Some(v) => base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|e| ApiError::bad_request(format!("Failed to decode value: {e}")))?,
                None => Vec::new(),
            };
            Ok(CatalogTxnOp::Kv(TxnOp {
                verb: kv.verb,
                key: kv.key,
                value,
                flags: kv.flags,
                index: kv.index,
                session: kv.session,
            }))
        } else if let Some(n) = item.node {
            node_op(n, datacenter)
        } else if let Some(s) = item.service {
            service_op(s, idx.service.unwrap_or_default().service.modify_index)
        } else if let Some(c) = item.check {
            check_op(c, idx.check.unwrap_or_default().check.modify_index)
        } else {
            // An operation with nothing Consul converts (every field null or absent, or only
            // a Session): `convertOps` skips it.
            continue;
        };
        ops.push(op);
    }
    Ok(ops)
}

fn node_op(n: NodeOpIn, datacenter: &str) -> Decoded {
    let NodeOpIn { verb, node: n } = n;
    if !n.id.is_empty() && uuid::Uuid::parse_str(&n.id).is_err() {
        return Err(format!("node ID {:?} is not a valid UUID", n.id));
    }
    Ok(CatalogTxnOp::Node {
        verb,
        node: NodeRecord {
            id: n.id,
            node: n.node,
            address: n.address,
            datacenter: if n.datacenter.is_empty() {
                datacenter.to_string()
            } else {
                n.datacenter
            },
            tagged_addresses: n.tagged_addresses,
            meta: n.meta,
            create_index: 0,
            modify_index: n.modify_index,
        },
    })
}

fn service_op(s: ServiceOpIn, modify_index: u64) -> Decoded {
    if s.verb == "get" || s.verb.starts_with("delete") {
        // Only the ID matters to these; Consul checks nothing else of the service.
        let mut service = crate::catalog::ServiceRecord {
            id: s.service.id,
            name: s.service.service,
            ..Default::default()
        };
        service.modify_index = modify_index;
        return Ok(CatalogTxnOp::Service {
            verb: s.verb,
            node: s.node,
            service,
        });
    }
    if is_any_address(&s.service.address) {
        return Err("Invalid service address".to_string());
    }
    let mut service = catalog_service(&s.service).map_err(|e| e.to_string())?;
    // Consul's `convertOps` copies the weights as given: zero when absent.
    service.weights = s.service.weights.unwrap_or(api_types::Weights {
        passing: 0,
        warning: 0,
    });
    service.modify_index = modify_index;
    Ok(CatalogTxnOp::Service {
        verb: s.verb,
        node: s.node,
        service,
    })
}

fn check_op(c: CheckOpIn, modify_index: u64) -> Decoded {
    let node = c.check.node.clone();
    let mut check = catalog_check(&c.check, &node).map_err(|e| e.to_string())?;
    check.modify_index = modify_index;
    Ok(CatalogTxnOp::Check {
        verb: c.verb,
        check,
    })
}

/// `0.0.0.0`, `::` and the like: not an address a service can be reached at.
fn is_any_address(a: &str) -> bool {
    a.trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
}

/// The right each operation needs up front: KV reads `key:read`, KV writes `key:write`
/// (`delete-tree` on the whole subtree); node, service and check writes what a registration
/// of them needs. Catalog `get`s need nothing here: their results are filtered instead.
fn denial(a: &AppState, z: &Authz, op: &CatalogTxnOp) -> Option<String> {
    let r = match op {
        CatalogTxnOp::Kv(op) => match op.verb.as_str() {
            "get" | "get-tree" | "get-or-empty" | "check-index" | "check-session"
            | "check-not-exists" => z.require(Resource::Key, &op.key, Access::Read),
            "delete-tree" => z.require_key_write_prefix(&op.key),
            _ => z.require(Resource::Key, &op.key, Access::Write),
        },
        CatalogTxnOp::Node { verb, .. }
        | CatalogTxnOp::Service { verb, .. }
        | CatalogTxnOp::Check { verb, .. }
            if verb == "get" =>
        {
            Ok(())
        }
        _ => a.catalog().read(|s| {
            s.vet(
                z,
                &Command::CatalogTxn {
                    ops: vec![op.clone()],
                },
            )
        }),
    };
    r.err().map(|e| e.to_string())
}

/// A result the token may read, in Consul's JSON.
fn readable(z: &Authz, r: TxnResult) -> Option<ResultWire> {
    let can = |res, name: &str| z.require(res, name, Access::Read).is_ok();
    if let Some(e) = r.entry {
        return can(Resource::Key, &e.key).then(|| ResultWire {
            kv: Some(kv_wire(&e)),
            ..Default::default()
        });
    }
    if let Some(n) = r.node {
        return can(Resource::Node, &n.node).then(|| ResultWire {
            node: Some(node_wire(&n)),
            ..Default::default()
        });
    }
    if let Some((_, s)) = r.service {
        return can(Resource::Service, &s.name).then(|| ResultWire {
            service: Some(node_service_wire(&s)),
            ..Default::default()
        });
    }
    let c = r.check?;
    let ok = if c.service_id.is_empty() {
        can(Resource::Node, &c.node)
    } else {
        can(Resource::Service, &c.service_name)
    };
    ok.then(|| ResultWire {
        check: Some(check_wire(&c)),
        ..Default::default()
    })
}

fn conflict(errors: Vec<ErrorWire>, pretty: bool) -> Response {
    let mut r = json(
        &TxnResponse {
            results: None,
            errors: Some(errors),
        },
        pretty,
    );
    *r.status_mut() = StatusCode::CONFLICT;
    r
}

pub async fn txn(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery, body: Bytes) -> Res {
    let p = Params::parse(q.as_deref());
    if body.len() > a.config().txn_max_req_len {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large",
        ));
    }
    let decoded = decode(&body, &a.config().datacenter)?;
    let z = authz(&a, &t)?;
    let mut errors = Vec::new();
    let mut ops = Vec::with_capacity(decoded.len());
    for (i, op) in decoded.into_iter().enumerate() {
        match op {
            Ok(op) => {
                if let Some(what) = denial(&a, &z, &op) {
                    errors.push(ErrorWire { op_index: i, what });
                }
                ops.push(op);
            }
            Err(what) => errors.push(ErrorWire { op_index: i, what }),
        }
    }
    if !errors.is_empty() {
        return Ok(conflict(errors, p.pretty()));
    }
    // A KV-only transaction stays the command servers of earlier versions know.
    let cmd = if ops.iter().all(|op| matches!(op, CatalogTxnOp::Kv(_))) {
        Command::Txn {
            ops: ops
                .into_iter()
                .filter_map(|op| match op {
                    CatalogTxnOp::Kv(op) => Some(op),
                    _ => None,
                })
                .collect(),
        }
    } else {
        Command::CatalogTxn { ops }
    };
    match a.write(cmd).await? {
        Reply::Txn(Ok(results)) => {
            let results = results
                .into_iter()
                .filter_map(|r| readable(&z, r))
                .collect();
            Ok(json(
                &TxnResponse {
                    results: Some(results),
                    errors: None,
                },
                p.pretty(),
            ))
        }
        Reply::Txn(Err(errs)) => Ok(conflict(
            errs.into_iter()
                .map(|e| ErrorWire {
                    op_index: e.op_index,
                    what: e.what,
                })
                .collect(),
            p.pretty(),
        )),
        _ => Err(ApiError::internal("unexpected transaction reply")),
    }
}

/// For the fuzz target: how many operations a body decodes into.
pub fn decoded_ops(body: &[u8]) -> Result<usize, ApiError> {
    decode(body, "dc1").map(|ops| ops.len())
}
