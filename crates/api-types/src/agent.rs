//! Agent wire types: local services and checks, their registration bodies, and serf members.

use crate::catalog::{is_false, ServiceAddress, StrMap, Weights};
use crate::duration::GoDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `api.AgentService`: values of `/v1/agent/services` and `/v1/agent/service/:id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AgentService {
    #[serde(rename = "Kind", skip_serializing_if = "String::is_empty", default)]
    pub kind: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Service")]
    pub service: String,
    #[serde(rename = "Tags", default)]
    pub tags: Vec<String>,
    #[serde(rename = "Meta", default)]
    pub meta: StrMap,
    #[serde(rename = "Port", default)]
    pub port: u16,
    #[serde(rename = "Address", default)]
    pub address: String,
    #[serde(
        rename = "TaggedAddresses",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    #[serde(rename = "Weights", default)]
    pub weights: Weights,
    #[serde(rename = "EnableTagOverride", default)]
    pub enable_tag_override: bool,
    #[serde(
        rename = "ContentHash",
        skip_serializing_if = "String::is_empty",
        default
    )]
    pub content_hash: String,
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
}

/// A check definition as sent in a service registration or `PUT /v1/agent/check/register`
/// (`api.AgentServiceCheck` / `api.AgentCheckRegistration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CheckRegistration {
    #[serde(
        rename = "ID",
        alias = "CheckID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub id: String,
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(
        rename = "ServiceID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub service_id: String,
    #[serde(rename = "Notes", default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(rename = "Status", default, skip_serializing_if = "String::is_empty")]
    pub status: String,
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
    #[serde(rename = "TTL", default, skip_serializing_if = "GoDuration::is_zero")]
    pub ttl: GoDuration,
    #[serde(rename = "HTTP", default, skip_serializing_if = "String::is_empty")]
    pub http: String,
    #[serde(rename = "Method", default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    #[serde(rename = "Header", default, skip_serializing_if = "Option::is_none")]
    pub header: Option<BTreeMap<String, Vec<String>>>,
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
    #[serde(rename = "UDP", default, skip_serializing_if = "String::is_empty")]
    pub udp: String,
    #[serde(rename = "GRPC", default, skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    #[serde(rename = "GRPCUseTLS", default, skip_serializing_if = "is_false")]
    pub grpc_use_tls: bool,
    #[serde(rename = "H2PING", default, skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// A Windows service to watch (Consul runs these on Windows only): read to be refused.
    #[serde(
        rename = "OSService",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_service: String,
    /// `None`: not given (TLS when `H2PING` is set, Consul's default).
    #[serde(
        rename = "H2PingUseTLS",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub h2ping_use_tls: Option<bool>,
    #[serde(
        rename = "Args",
        alias = "ScriptArgs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub args: Option<Vec<String>>,
    /// The pre-1.1 single-string script, still sent by old registrator builds.
    #[serde(rename = "Script", default, skip_serializing_if = "String::is_empty")]
    pub script: String,
    #[serde(rename = "Shell", default, skip_serializing_if = "String::is_empty")]
    pub shell: String,
    #[serde(
        rename = "DockerContainerID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub docker_container_id: String,
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
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        default,
        skip_serializing_if = "GoDuration::is_zero"
    )]
    pub deregister_critical_service_after: GoDuration,
    #[serde(
        rename = "OutputMaxSize",
        default,
        skip_serializing_if = "is_zero_usize"
    )]
    pub output_max_size: usize,
    #[serde(
        rename = "SuccessBeforePassing",
        default,
        skip_serializing_if = "is_zero_u32"
    )]
    pub success_before_passing: u32,
    #[serde(
        rename = "FailuresBeforeWarning",
        default,
        skip_serializing_if = "is_zero_u32"
    )]
    pub failures_before_warning: u32,
    #[serde(
        rename = "FailuresBeforeCritical",
        default,
        skip_serializing_if = "is_zero_u32"
    )]
    pub failures_before_critical: u32,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

/// `PUT /v1/agent/service/register` (`api.AgentServiceRegistration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceRegistration {
    #[serde(rename = "Kind", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The service mesh's proxy settings: read only to be refused (no mesh here).
    #[serde(rename = "Proxy", default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<serde_json::Value>,
    /// The service mesh's `Native` / `SidecarService`: read only to be refused.
    #[serde(rename = "Connect", default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<serde_json::Value>,
    #[serde(rename = "ID", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Port", default, skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    #[serde(rename = "Address", default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(
        rename = "TaggedAddresses",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    #[serde(
        rename = "EnableTagOverride",
        default,
        skip_serializing_if = "is_false"
    )]
    pub enable_tag_override: bool,
    #[serde(rename = "Meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<StrMap>,
    #[serde(rename = "Weights", default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    #[serde(rename = "Check", default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckRegistration>,
    #[serde(rename = "Checks", default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckRegistration>>,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

/// `PUT /v1/agent/check/update/:id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CheckUpdate {
    #[serde(rename = "Status", default)]
    pub status: String,
    #[serde(rename = "Output", default)]
    pub output: String,
}

/// A serf member, as in `/v1/agent/members`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Member {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Addr")]
    pub addr: String,
    #[serde(rename = "Port")]
    pub port: u16,
    #[serde(rename = "Tags")]
    pub tags: BTreeMap<String, String>,
    #[serde(rename = "Status")]
    pub status: u8,
    #[serde(rename = "ProtocolMin")]
    pub protocol_min: u8,
    #[serde(rename = "ProtocolMax")]
    pub protocol_max: u8,
    #[serde(rename = "ProtocolCur")]
    pub protocol_cur: u8,
    #[serde(rename = "DelegateMin")]
    pub delegate_min: u8,
    #[serde(rename = "DelegateMax")]
    pub delegate_max: u8,
    #[serde(rename = "DelegateCur")]
    pub delegate_cur: u8,
}

impl Member {
    /// The status word `consul members` prints for the numeric `Status`.
    pub fn status_word(&self) -> &'static str {
        match self.status {
            1 => "alive",
            2 => "leaving",
            3 => "left",
            4 => "failed",
            _ => "none",
        }
    }
}
