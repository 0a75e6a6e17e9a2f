//! Session wire types.

use serde::{Deserialize, Serialize};

/// A service check a session is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceCheckRef {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(
        rename = "Namespace",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
}

/// `structs.Session` as returned by `/v1/session/info|list|node`. `LockDelay` is nanoseconds,
/// `TTL` the string given at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SessionEntry {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Node")]
    pub node: String,
    #[serde(rename = "LockDelay")]
    pub lock_delay: i64,
    #[serde(rename = "Behavior")]
    pub behavior: String,
    #[serde(rename = "TTL")]
    pub ttl: String,
    #[serde(rename = "NodeChecks")]
    pub node_checks: Option<Vec<String>>,
    #[serde(rename = "ServiceChecks")]
    pub service_checks: Option<Vec<ServiceCheckRef>>,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `{"ID": "..."}`, the answer of `PUT /v1/session/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionId {
    #[serde(rename = "ID")]
    pub id: String,
}
