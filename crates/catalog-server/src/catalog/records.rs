//! The records the catalog stores: nodes, service instances, checks, KV entries, sessions.
//! They are the state machine's data and the snapshot format; wire shapes are built from them
//! in `query.rs`.

use super::health::{CheckKind, HealthStatus};
use api_types::{
    CheckDefinition, CheckRegistration, ServiceAddress, ServiceCheckRef, StrMap, Weights,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct NodeRecord {
    pub id: String,
    pub node: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: Option<StrMap>,
    pub meta: Option<StrMap>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceRecord {
    pub kind: String,
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub address: String,
    pub tagged_addresses: Option<BTreeMap<String, ServiceAddress>>,
    pub meta: StrMap,
    pub port: u16,
    pub weights: Weights,
    pub enable_tag_override: bool,
    /// Registered through this agent's `/v1/agent/*` API or config files (shown in agent views).
    pub agent: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CheckRecord {
    pub node: String,
    pub check_id: String,
    pub name: String,
    pub status: HealthStatus,
    pub notes: String,
    pub output: String,
    pub service_id: String,
    pub service_name: String,
    pub service_tags: Vec<String>,
    pub check_type: CheckKind,
    pub interval: i64,
    pub timeout: i64,
    pub definition: CheckDefinition,
    /// The agent's definition, from which the check runner is (re)built; `None` for checks
    /// written through `/v1/catalog/register`, which are stored and never run.
    pub spec: Option<CheckRegistration>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KvRecord {
    pub key: String,
    #[serde(with = "b64")]
    pub value: Vec<u8>,
    pub flags: u64,
    pub lock_index: u64,
    pub session: String,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SessionRecord {
    pub id: String,
    pub name: String,
    pub node: String,
    pub lock_delay: i64,
    pub behavior: String,
    pub ttl: String,
    pub node_checks: Vec<String>,
    pub service_checks: Option<Vec<ServiceCheckRef>>,
    pub create_index: u64,
    pub modify_index: u64,
}

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}
