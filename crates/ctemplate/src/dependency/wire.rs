//! Consul's answers as consul-template's Go client (`github.com/hashicorp/consul/api`
//! v1.34) reads them: only the fields upstream copies into template data, with Go's nil kept
//! apart from empty (`Option`: a `null` or absent map, slice or pointer is `None`), because
//! `toJSON` prints the one as `null` and the other as `{}`/`[]`. Read with
//! [`api_types::decode::response_from_value`] (Go's key folding, `null` as the zero value,
//! Go's type errors); the `api_types` wire types serve the server side and fold nil into empty.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value as J;

/// `api.Node` (only what `dependency.Node` and `HealthService` copy).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Node")]
    pub node: String,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    #[serde(rename = "TaggedAddresses")]
    pub tagged_addresses: Option<BTreeMap<String, String>>,
    #[serde(rename = "Meta")]
    pub meta: Option<BTreeMap<String, String>>,
}

/// `api.ServiceAddress`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ServiceAddress {
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "Port")]
    pub port: i64,
}

/// `api.AgentWeights` (a value, so absent is `{0, 0}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Weights {
    #[serde(rename = "Passing")]
    pub passing: i64,
    #[serde(rename = "Warning")]
    pub warning: i64,
}

/// `api.AgentService` (the fields upstream reads).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AgentService {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Service")]
    pub service: String,
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Meta")]
    pub meta: Option<BTreeMap<String, String>>,
    #[serde(rename = "Port")]
    pub port: i64,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "TaggedAddresses")]
    pub tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    #[serde(rename = "Weights")]
    pub weights: Weights,
    #[serde(rename = "EnableTagOverride")]
    pub enable_tag_override: bool,
}

/// `api.HealthCheckDefinition`. The durations are read as its `UnmarshalJSON` reads them:
/// `*Duration` (a Go duration string or nanoseconds) when present, else the readable field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CheckDefinition {
    #[serde(rename = "HTTP")]
    pub http: String,
    #[serde(rename = "Header")]
    pub header: Option<BTreeMap<String, Option<Vec<String>>>>,
    #[serde(rename = "Method")]
    pub method: String,
    #[serde(rename = "Body")]
    pub body: String,
    #[serde(rename = "TLSServerName")]
    pub tls_server_name: String,
    #[serde(rename = "TLSSkipVerify")]
    pub tls_skip_verify: bool,
    #[serde(rename = "TCP")]
    pub tcp: String,
    #[serde(rename = "UDP")]
    pub udp: String,
    #[serde(rename = "GRPC")]
    pub grpc: String,
    #[serde(rename = "OSService")]
    pub os_service: String,
    #[serde(rename = "GRPCUseTLS")]
    pub grpc_use_tls: bool,
    #[serde(rename = "IntervalDuration")]
    pub interval_duration: J,
    #[serde(rename = "TimeoutDuration")]
    pub timeout_duration: J,
    #[serde(rename = "DeregisterCriticalServiceAfterDuration")]
    pub deregister_duration: J,
    #[serde(rename = "Interval")]
    pub interval: J,
    #[serde(rename = "Timeout")]
    pub timeout: J,
    #[serde(rename = "DeregisterCriticalServiceAfter")]
    pub deregister: J,
}

/// `api.HealthCheck`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HealthCheck {
    #[serde(rename = "Node")]
    pub node: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Notes")]
    pub notes: String,
    #[serde(rename = "Output")]
    pub output: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    #[serde(rename = "ServiceTags")]
    pub service_tags: Option<Vec<String>>,
    #[serde(rename = "Type")]
    pub check_type: String,
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "Partition")]
    pub partition: String,
    #[serde(rename = "ExposedPort")]
    pub exposed_port: i64,
    #[serde(rename = "PeerName")]
    pub peer_name: String,
    #[serde(rename = "Definition")]
    pub definition: CheckDefinition,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `api.ServiceEntry` (`/v1/health/service/:name`, `/v1/health/connect/:name`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ServiceEntry {
    #[serde(rename = "Node")]
    pub node: Node,
    #[serde(rename = "Service")]
    pub service: AgentService,
    #[serde(rename = "Checks")]
    pub checks: Option<Vec<HealthCheck>>,
}

/// `api.CatalogNode` (`/v1/catalog/node/:node`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CatalogNode {
    #[serde(rename = "Node")]
    pub node: Node,
    #[serde(rename = "Services")]
    pub services: Option<BTreeMap<String, AgentService>>,
}

/// `api.CARoot` (`RootCertPEM` is `RootCert` on the wire).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CaRoot {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "RootCert")]
    pub root_cert: String,
    #[serde(rename = "Active")]
    pub active: bool,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `api.CARootList`, of which upstream keeps `Roots`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CaRootList {
    #[serde(rename = "Roots")]
    pub roots: Option<Vec<CaRoot>>,
}

/// `api.LeafCert`. The validity times are kept as the RFC 3339 text Consul sends, which is
/// what Go's `time.Time` writes back.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LeafCert {
    #[serde(rename = "SerialNumber")]
    pub serial_number: String,
    #[serde(rename = "CertPEM")]
    pub cert_pem: String,
    #[serde(rename = "PrivateKeyPEM")]
    pub private_key_pem: String,
    #[serde(rename = "Service")]
    pub service: String,
    #[serde(rename = "ServiceURI")]
    pub service_uri: String,
    #[serde(rename = "ValidAfter")]
    pub valid_after: String,
    #[serde(rename = "ValidBefore")]
    pub valid_before: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}
