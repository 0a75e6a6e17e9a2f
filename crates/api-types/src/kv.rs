//! KV wire types.

use serde::{Deserialize, Serialize};

/// `structs.DirEntry`, as in `GET /v1/kv/:key`. `Value` is base64, or `null` when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct KvPair {
    #[serde(rename = "LockIndex", default)]
    pub lock_index: u64,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Flags", default)]
    pub flags: u64,
    #[serde(rename = "Value", default)]
    pub value: Option<String>,
    #[serde(rename = "Session", default, skip_serializing_if = "String::is_empty")]
    pub session: String,
    #[serde(rename = "CreateIndex", default)]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex", default)]
    pub modify_index: u64,
}

impl KvPair {
    /// The decoded value bytes (empty for `null` or undecodable base64).
    pub fn value_bytes(&self) -> Vec<u8> {
        use base64::Engine;
        self.value
            .as_deref()
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .unwrap_or_default()
    }
}
