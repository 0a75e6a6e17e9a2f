//! ACL wire types: tokens, policies, roles and their links, in Consul's JSON shapes
//! (`/v1/acl/*`). Requests decode into the same types with Go's rules (`decode_body`), so a
//! create body may carry any subset of the fields.

use serde::{Deserialize, Serialize};

/// A token's or role's link to a policy or role: by `ID` or by `Name` in requests, both in
/// answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclLink {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
}

/// A service identity: the rules to register service `ServiceName` (and its sidecar) and read
/// the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ServiceIdentity {
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    #[serde(rename = "Datacenters", skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
}

/// A node identity: the rules of an agent named `NodeName` in `Datacenter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NodeIdentity {
    #[serde(rename = "NodeName")]
    pub node_name: String,
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
}

/// The variables of a templated policy (`{"name": ...}`; Consul's JSON key is lower-case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TemplateVariables {
    // Go matches `name` case-insensitively; our request decoding canonicalises it to `Name`.
    #[serde(
        rename = "name",
        alias = "Name",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
}

/// A token's or role's use of a built-in policy template (`builtin/service`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TemplatedPolicyRef {
    #[serde(rename = "TemplateName")]
    pub template_name: String,
    #[serde(rename = "TemplateVariables", skip_serializing_if = "Option::is_none")]
    pub template_variables: Option<TemplateVariables>,
    #[serde(rename = "Datacenters", skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
}

/// `structs.ACLToken`: the answer of token reads and writes, and (with `ExpirationTTL`) the
/// body of `PUT /v1/acl/token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclToken {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Policies", skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<AclLink>,
    #[serde(rename = "Roles", skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<AclLink>,
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "Vec::is_empty")]
    pub service_identities: Vec<ServiceIdentity>,
    #[serde(rename = "NodeIdentities", skip_serializing_if = "Vec::is_empty")]
    pub node_identities: Vec<NodeIdentity>,
    #[serde(rename = "TemplatedPolicies", skip_serializing_if = "Vec::is_empty")]
    pub templated_policies: Vec<TemplatedPolicyRef>,
    #[serde(rename = "Local")]
    pub local: bool,
    #[serde(rename = "AuthMethod", skip_serializing_if = "String::is_empty")]
    pub auth_method: String,
    /// RFC 3339 time after which the token no longer resolves.
    #[serde(rename = "ExpirationTime", skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
    /// Requests only: a Go duration after which the token expires.
    #[serde(rename = "ExpirationTTL", skip_serializing_if = "String::is_empty")]
    pub expiration_ttl: String,
    #[serde(rename = "CreateTime")]
    pub create_time: String,
    #[serde(rename = "Hash")]
    pub hash: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `PUT /v1/acl/token/:id/clone`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclTokenClone {
    #[serde(rename = "Description")]
    pub description: String,
}

/// `/v1/acl/bootstrap`'s answer: the token, plus its secret again as `ID` (legacy clients).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AclBootstrap {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(flatten)]
    pub token: AclToken,
}

/// `structs.ACLPolicy`: policy reads and writes (and the body of `PUT /v1/acl/policy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclPolicy {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Rules")]
    pub rules: String,
    #[serde(rename = "Datacenters", skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
    #[serde(rename = "Hash")]
    pub hash: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `structs.ACLPolicyListStub`: one entry of `/v1/acl/policies` (no rules; `Datacenters`
/// is `null` when unset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclPolicyStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Datacenters")]
    pub datacenters: Option<Vec<String>>,
    #[serde(rename = "Hash")]
    pub hash: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `structs.ACLRole`: role reads and writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclRole {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Policies", skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<AclLink>,
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "Vec::is_empty")]
    pub service_identities: Vec<ServiceIdentity>,
    #[serde(rename = "NodeIdentities", skip_serializing_if = "Vec::is_empty")]
    pub node_identities: Vec<NodeIdentity>,
    #[serde(rename = "TemplatedPolicies", skip_serializing_if = "Vec::is_empty")]
    pub templated_policies: Vec<TemplatedPolicyRef>,
    #[serde(rename = "Hash")]
    pub hash: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `PUT /v1/agent/token/:kind`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AgentTokenUpdate {
    #[serde(rename = "Token")]
    pub token: String,
}

/// `structs.ACLAuthMethod`: auth method reads and writes (and the body of
/// `PUT /v1/acl/auth-method`). `MaxTokenTTL` comes first, as Consul's `MarshalJSON` puts it: a Go
/// duration string, omitted when zero; a request may give it as a string or as nanoseconds.
/// `Config` is the method type's settings as given (`null` when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclAuthMethod {
    #[serde(
        rename = "MaxTokenTTL",
        with = "crate::duration::string_nanos",
        skip_serializing_if = "is_zero"
    )]
    pub max_token_ttl: i64,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Type")]
    pub method_type: String,
    #[serde(rename = "DisplayName", skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(rename = "Description", skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(rename = "TokenLocality", skip_serializing_if = "String::is_empty")]
    pub token_locality: String,
    #[serde(rename = "Config")]
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
    /// Enterprise only (requests): kept to refuse it by name.
    #[serde(rename = "TokenNameFormat", skip_serializing_if = "String::is_empty")]
    pub token_name_format: String,
    /// Enterprise only (requests): kept to refuse it by name.
    #[serde(rename = "NamespaceRules", skip_serializing_if = "Option::is_none")]
    pub namespace_rules: Option<serde_json::Value>,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `structs.ACLAuthMethodListStub`: one entry of `/v1/acl/auth-methods` (no `Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclAuthMethodStub {
    #[serde(
        rename = "MaxTokenTTL",
        with = "crate::duration::string_nanos",
        skip_serializing_if = "is_zero"
    )]
    pub max_token_ttl: i64,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Type")]
    pub method_type: String,
    #[serde(rename = "DisplayName", skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(rename = "Description", skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(rename = "TokenLocality", skip_serializing_if = "String::is_empty")]
    pub token_locality: String,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `structs.ACLBindingRule`: binding rule reads and writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclBindingRule {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "AuthMethod")]
    pub auth_method: String,
    #[serde(rename = "Selector")]
    pub selector: String,
    #[serde(rename = "BindType")]
    pub bind_type: String,
    #[serde(rename = "BindName")]
    pub bind_name: String,
    /// Only for the `templated-policy` bind type (refused here): kept to refuse it by name.
    #[serde(rename = "BindVars", skip_serializing_if = "Option::is_none")]
    pub bind_vars: Option<TemplateVariables>,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `POST /v1/acl/login`'s body (`structs.ACLLoginParams`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AclLoginParams {
    #[serde(rename = "AuthMethod")]
    pub auth_method: String,
    #[serde(rename = "BearerToken")]
    pub bearer_token: String,
    #[serde(rename = "Meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<std::collections::BTreeMap<String, String>>,
}
