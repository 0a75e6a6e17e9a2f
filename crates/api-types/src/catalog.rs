//! Catalog and health wire types: nodes, service instances, health checks, in the exact key
//! order and null-versus-empty conventions of Consul's `structs` package.

use crate::duration::GoDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A string map that Consul may send as `null` (nil map) rather than `{}`.
pub type StrMap = BTreeMap<String, String>;

/// `structs.Node`, as in `/v1/catalog/nodes` and the `Node` of health entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Node {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Node", default)]
    pub node: String,
    #[serde(rename = "Address", default)]
    pub address: String,
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
    #[serde(rename = "TaggedAddresses", default)]
    pub tagged_addresses: Option<StrMap>,
    #[serde(rename = "Meta", default)]
    pub meta: Option<StrMap>,
    #[serde(rename = "CreateIndex", default)]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex", default)]
    pub modify_index: u64,
}

/// `{"Address": ..., "Port": ...}` of a service's tagged address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceAddress {
    #[serde(rename = "Address", default)]
    pub address: String,
    #[serde(rename = "Port", default)]
    pub port: u16,
}

/// DNS SRV weights of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    #[serde(rename = "Passing", default)]
    pub passing: i64,
    #[serde(rename = "Warning", default)]
    pub warning: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// The always-present, always-empty mesh proxy block of a plain service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceProxy {
    #[serde(rename = "Mode", default)]
    pub mode: String,
    #[serde(rename = "MeshGateway", default)]
    pub mesh_gateway: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "Expose", default)]
    pub expose: serde_json::Map<String, serde_json::Value>,
}

/// `structs.ServiceNode`: one element of `/v1/catalog/service/:name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CatalogService {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Node")]
    pub node: String,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    #[serde(rename = "TaggedAddresses")]
    pub tagged_addresses: Option<StrMap>,
    #[serde(rename = "NodeMeta")]
    pub node_meta: Option<StrMap>,
    #[serde(rename = "ServiceKind")]
    pub service_kind: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    #[serde(rename = "ServiceTags")]
    pub service_tags: Vec<String>,
    #[serde(rename = "ServiceAddress")]
    pub service_address: String,
    #[serde(
        rename = "ServiceTaggedAddresses",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub service_tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    #[serde(rename = "ServiceWeights")]
    pub service_weights: Weights,
    #[serde(rename = "ServiceMeta")]
    pub service_meta: StrMap,
    #[serde(rename = "ServicePort")]
    pub service_port: u16,
    #[serde(rename = "ServiceSocketPath")]
    pub service_socket_path: String,
    #[serde(rename = "ServiceEnableTagOverride")]
    pub service_enable_tag_override: bool,
    #[serde(rename = "ServiceProxy")]
    pub service_proxy: ServiceProxy,
    #[serde(rename = "ServiceConnect")]
    pub service_connect: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "ServiceLocality", default)]
    pub service_locality: Option<serde_json::Value>,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `structs.NodeService`: the `Service` of a health entry and the values of `/v1/catalog/node/:node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NodeService {
    #[serde(rename = "Kind", skip_serializing_if = "String::is_empty", default)]
    pub kind: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Service")]
    pub service: String,
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(
        rename = "TaggedAddresses",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    #[serde(rename = "Meta")]
    pub meta: Option<StrMap>,
    #[serde(rename = "Port", skip_serializing_if = "is_zero_u16", default)]
    pub port: u16,
    #[serde(
        rename = "SocketPath",
        skip_serializing_if = "String::is_empty",
        default
    )]
    pub socket_path: String,
    #[serde(rename = "Weights")]
    pub weights: Weights,
    #[serde(rename = "EnableTagOverride")]
    pub enable_tag_override: bool,
    #[serde(rename = "Proxy")]
    pub proxy: ServiceProxy,
    #[serde(rename = "Connect")]
    pub connect: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "PeerName", default)]
    pub peer_name: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

/// `structs.HealthCheckDefinition`: every field omitted when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CheckDefinition {
    #[serde(
        rename = "Interval",
        default,
        skip_serializing_if = "GoDuration::is_zero"
    )]
    pub interval: GoDuration,
    #[serde(
        rename = "Timeout",
        default,
        skip_serializing_if = "GoDuration::is_zero"
    )]
    pub timeout: GoDuration,
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        default,
        skip_serializing_if = "GoDuration::is_zero"
    )]
    pub deregister_critical_service_after: GoDuration,
    #[serde(rename = "HTTP", default, skip_serializing_if = "String::is_empty")]
    pub http: String,
    #[serde(rename = "Header", default, skip_serializing_if = "Option::is_none")]
    pub header: Option<BTreeMap<String, Vec<String>>>,
    #[serde(rename = "Method", default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    #[serde(rename = "Body", default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    #[serde(
        rename = "TLSServerName",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub tls_server_name: String,
    #[serde(rename = "TLSSkipVerify", default, skip_serializing_if = "is_false")]
    pub tls_skip_verify: bool,
    #[serde(rename = "TCP", default, skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    #[serde(rename = "H2PING", default, skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    #[serde(rename = "H2PingUseTLS", default, skip_serializing_if = "is_false")]
    pub h2ping_use_tls: bool,
    #[serde(rename = "ScriptArgs", default, skip_serializing_if = "Vec::is_empty")]
    pub script_args: Vec<String>,
    #[serde(
        rename = "DockerContainerID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub docker_container_id: String,
    #[serde(rename = "Shell", default, skip_serializing_if = "String::is_empty")]
    pub shell: String,
    #[serde(rename = "GRPC", default, skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    #[serde(rename = "GRPCUseTLS", default, skip_serializing_if = "is_false")]
    pub grpc_use_tls: bool,
    #[serde(
        rename = "AliasNode",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub alias_node: String,
    #[serde(
        rename = "AliasService",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub alias_service: String,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// `structs.HealthCheck`, as in `/v1/health/*` and `/v1/agent/checks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct HealthCheck {
    #[serde(rename = "Node", default)]
    pub node: String,
    #[serde(rename = "CheckID", default)]
    pub check_id: String,
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Status", default)]
    pub status: String,
    #[serde(rename = "Notes", default)]
    pub notes: String,
    #[serde(rename = "Output", default)]
    pub output: String,
    #[serde(rename = "ServiceID", default)]
    pub service_id: String,
    #[serde(rename = "ServiceName", default)]
    pub service_name: String,
    #[serde(rename = "ServiceTags", default)]
    pub service_tags: Vec<String>,
    #[serde(rename = "Type", default)]
    pub check_type: String,
    #[serde(rename = "Interval", default)]
    pub interval: String,
    #[serde(rename = "Timeout", default)]
    pub timeout: String,
    #[serde(rename = "ExposedPort", default)]
    pub exposed_port: u16,
    #[serde(rename = "Definition", default)]
    pub definition: CheckDefinition,
    #[serde(rename = "CreateIndex", default)]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex", default)]
    pub modify_index: u64,
}

/// One element of `/v1/health/service/:name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ServiceEntry {
    #[serde(rename = "Node")]
    pub node: Node,
    #[serde(rename = "Service")]
    pub service: NodeService,
    #[serde(rename = "Checks")]
    pub checks: Vec<HealthCheck>,
}

/// `/v1/catalog/node/:node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NodeServices {
    #[serde(rename = "Node")]
    pub node: Node,
    #[serde(rename = "Services")]
    pub services: BTreeMap<String, NodeService>,
}

/// `/v1/catalog/node-services/:node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NodeServiceList {
    #[serde(rename = "Node")]
    pub node: Node,
    #[serde(rename = "Services")]
    pub services: Vec<NodeService>,
}

/// The `Service` of a `PUT /v1/catalog/register` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CatalogServiceInput {
    #[serde(rename = "Kind", default)]
    pub kind: String,
    /// The service mesh's proxy settings: read only to be refused (no mesh here).
    #[serde(rename = "Proxy", default)]
    pub proxy: Option<serde_json::Value>,
    /// The service mesh's `Native` / `SidecarService`: read only to be refused.
    #[serde(rename = "Connect", default)]
    pub connect: Option<serde_json::Value>,
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Service", default)]
    pub service: String,
    #[serde(rename = "Tags", default)]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Address", default)]
    pub address: String,
    #[serde(rename = "TaggedAddresses", default)]
    pub tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    #[serde(rename = "Meta", default)]
    pub meta: Option<StrMap>,
    #[serde(rename = "Port", default)]
    pub port: u16,
    #[serde(rename = "Weights", default)]
    pub weights: Option<Weights>,
    #[serde(rename = "EnableTagOverride", default)]
    pub enable_tag_override: bool,
}

/// A check of a `PUT /v1/catalog/register` body (stored, never run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CatalogCheckInput {
    #[serde(rename = "Node", default)]
    pub node: String,
    #[serde(rename = "CheckID", alias = "ID", default)]
    pub check_id: String,
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Notes", default)]
    pub notes: String,
    #[serde(rename = "Status", default)]
    pub status: String,
    #[serde(rename = "Output", default)]
    pub output: String,
    #[serde(rename = "ServiceID", default)]
    pub service_id: String,
    #[serde(rename = "Definition", default)]
    pub definition: CheckDefinition,
}

/// `PUT /v1/catalog/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CatalogRegistration {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Node", default)]
    pub node: String,
    #[serde(rename = "Address", default)]
    pub address: String,
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
    #[serde(rename = "TaggedAddresses", default)]
    pub tagged_addresses: Option<StrMap>,
    #[serde(rename = "NodeMeta", default)]
    pub node_meta: Option<StrMap>,
    #[serde(rename = "Service", default)]
    pub service: Option<CatalogServiceInput>,
    #[serde(rename = "Check", default)]
    pub check: Option<CatalogCheckInput>,
    #[serde(rename = "Checks", default)]
    pub checks: Option<Vec<CatalogCheckInput>>,
    #[serde(rename = "SkipNodeUpdate", default)]
    pub skip_node_update: bool,
}

/// `PUT /v1/catalog/deregister`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CatalogDeregistration {
    #[serde(rename = "Node", default)]
    pub node: String,
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
    #[serde(rename = "ServiceID", default)]
    pub service_id: String,
    #[serde(rename = "CheckID", default)]
    pub check_id: String,
}
