//! Auth methods and binding rules: their records, Consul's checks of their request bodies
//! (`ACL.AuthMethodSet`, `ACL.BindingRuleSet`, in its order and words), their read shapes, and
//! login: a bearer token validated by its method, the identity matched against the method's
//! binding rules (selectors in go-bexpr over `value.*` and `list.*`, bind names interpolated
//! from `${value.*}`), and the token those rules grant.
//!
//! Only the `jwt` type is implemented; `kubernetes`, `aws-iam` and `oidc` are refused by name,
//! and so is the `templated-policy` bind type.

use super::jwt::{Claims, ConfigError, JwtConfig};
use super::{AclRefusal, AclTables, TokenRecord};
use api_types::acl::{
    AclAuthMethod, AclAuthMethodStub, AclBindingRule, AclLoginParams, NodeIdentity, ServiceIdentity,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Shortest and longest `MaxTokenTTL` (Consul's `acl_token_min|max_expiration_ttl`).
const MIN_TTL_NS: i64 = 60_000_000_000;
const MAX_TTL_NS: i64 = 86_400_000_000_000;

/// The types Consul (Community Edition) registers, for its refusal text.
const CONSUL_TYPES: &str = "[aws-iam jwt kubernetes]";

/// A stored auth method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AuthMethodRecord {
    pub name: String,
    pub method_type: String,
    pub display_name: String,
    pub description: String,
    pub max_token_ttl_ns: i64,
    pub token_locality: String,
    pub config: Option<Map<String, Value>>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A stored binding rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BindingRuleRecord {
    pub id: String,
    pub description: String,
    pub auth_method: String,
    pub selector: String,
    pub bind_type: String,
    pub bind_name: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AuthMethodRecord {
    pub fn wire(&self) -> AclAuthMethod {
        AclAuthMethod {
            max_token_ttl: self.max_token_ttl_ns,
            name: self.name.clone(),
            method_type: self.method_type.clone(),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            token_locality: self.token_locality.clone(),
            config: self.config.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            ..Default::default()
        }
    }

    fn stub(&self) -> AclAuthMethodStub {
        AclAuthMethodStub {
            max_token_ttl: self.max_token_ttl_ns,
            name: self.name.clone(),
            method_type: self.method_type.clone(),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            token_locality: self.token_locality.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }

    /// The method's validator (its type's checked `Config`).
    fn validator(&self) -> Result<JwtConfig, AclRefusal> {
        JwtConfig::parse(self.config.as_ref()).map_err(refusal)
    }
}

impl BindingRuleRecord {
    pub fn wire(&self) -> AclBindingRule {
        AclBindingRule {
            id: self.id.clone(),
            description: self.description.clone(),
            auth_method: self.auth_method.clone(),
            selector: self.selector.clone(),
            bind_type: self.bind_type.clone(),
            bind_name: self.bind_name.clone(),
            bind_vars: None,
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

fn refusal(e: ConfigError) -> AclRefusal {
    match e {
        ConfigError::Invalid(m) => AclRefusal::Invalid(m),
        ConfigError::Unsupported(m) => AclRefusal::BadRequest(m),
    }
}

/// Consul's `^[A-Za-z0-9\-_]{1,max}$`.
fn plain_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Service and node identity names: `^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$`, at most 256.
fn identity_name(s: &str) -> bool {
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            s.len() <= 256
                && edge(first)
                && edge(last)
                && bytes.iter().all(|&b| edge(b) || b == b'-' || b == b'_')
        }
        _ => false,
    }
}

/// The bind types and the check each computed name must pass.
fn bind_name_valid(bind_type: &str, name: &str) -> bool {
    match bind_type {
        "service" | "node" => identity_name(name),
        "role" => plain_name(name, 256),
        _ => plain_name(name, 128),
    }
}

/// HIL's `${var}` interpolation as Consul's `InterpolateHIL` does it for bind names: only
/// variables of `vars` (their values lower-cased), `$${` for a literal `${`.
pub(super) fn interpolate(s: &str, vars: &[(String, String)]) -> Result<String, String> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("parse error: unterminated interpolation in {s:?}"))?;
        let name = after[..end].trim();
        let simple = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !simple {
            return Err(format!(
                "expression ${{{name}}} is not supported by this agent: only ${{variable}}"
            ));
        }
        let value = vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_lowercase())
            .ok_or_else(|| format!("unknown variable accessed: {name}"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A binding rule selector's fields: go-bexpr over `value` (`map[string]string`) and `list`
/// (`map[string][]string`).
fn selector_fields() -> bexpr::FieldSet {
    use bexpr::FieldKind;
    bexpr::FieldSet::new()
        .field("value", FieldKind::map(FieldKind::String))
        .field("list", FieldKind::map(FieldKind::list(FieldKind::String)))
}

/// The identity as selectors see it.
fn selectable(c: &Claims) -> Value {
    let values: Map<String, Value> = c
        .values
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let lists: Map<String, Value> = c
        .lists
        .iter()
        .map(|(k, l)| {
            let items = l.iter().cloned().map(Value::String).collect();
            (k.clone(), Value::Array(items))
        })
        .collect();
    Value::Object(Map::from_iter([
        ("value".to_string(), Value::Object(values)),
        ("list".to_string(), Value::Object(lists)),
    ]))
}

/// The identity as bind names see it: `value.<name>`.
fn projected(c: &Claims) -> Vec<(String, String)> {
    c.values
        .iter()
        .map(|(k, v)| (format!("value.{k}"), v.clone()))
        .collect()
}

/// What a login's binding rules grant.
#[derive(Debug, Default)]
struct Bindings {
    services: Vec<ServiceIdentity>,
    nodes: Vec<NodeIdentity>,
    roles: Vec<String>,
    policies: Vec<String>,
}

impl AclTables {
    pub fn auth_method(&self, name: &str) -> Option<AclAuthMethod> {
        self.auth_methods.get(name).map(AuthMethodRecord::wire)
    }

    /// `/v1/acl/auth-methods`, by name.
    pub fn auth_methods(&self) -> Vec<AclAuthMethodStub> {
        self.auth_methods
            .values()
            .map(AuthMethodRecord::stub)
            .collect()
    }

    pub fn binding_rule(&self, id: &str) -> Option<AclBindingRule> {
        self.binding_rules.get(id).map(BindingRuleRecord::wire)
    }

    /// `/v1/acl/binding-rules`, by ID; of one method when `method` is not empty.
    pub fn binding_rules(&self, method: &str) -> Vec<AclBindingRule> {
        self.binding_rules
            .values()
            .filter(|r| method.is_empty() || r.auth_method == method)
            .map(BindingRuleRecord::wire)
            .collect()
    }

    /// An auth method create or update from its request body (the URL's name already in
    /// `req.name`).
    pub fn prepare_auth_method(&self, req: &AclAuthMethod) -> Result<AuthMethodRecord, AclRefusal> {
        if req.name.is_empty() {
            return Err(AclRefusal::Invalid(
                "Invalid Auth Method: no Name is set".into(),
            ));
        }
        if !plain_name(&req.name, 128) {
            return Err(AclRefusal::Invalid(
                "Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are allowed".into(),
            ));
        }
        if !req.token_name_format.is_empty() {
            return Err(AclRefusal::BadRequest(
                "Invalid Auth Method: TokenNameFormat (Consul Enterprise) is not supported by this agent".into(),
            ));
        }
        if req
            .namespace_rules
            .as_ref()
            .is_some_and(|r| r.as_array().is_none_or(|a| !a.is_empty()))
        {
            return Err(AclRefusal::BadRequest(
                "Invalid Auth Method: NamespaceRules (Consul Enterprise) is not supported by this agent".into(),
            ));
        }
        let existing = self.auth_methods.get(&req.name);
        let mut method_type = req.method_type.clone();
        if let Some(old) = existing {
            if method_type.is_empty() {
                method_type = old.method_type.clone();
            } else if old.method_type != method_type {
                return Err(AclRefusal::Invalid(
                    "the Type field of an Auth Method is immutable".into(),
                ));
            }
        }
        match method_type.as_str() {
            "jwt" => {}
            "kubernetes" | "aws-iam" | "oidc" => {
                return Err(AclRefusal::BadRequest(format!(
                    "Invalid Auth Method: Type {} is not supported by this agent (only \"jwt\" is)",
                    api_types::go_quote(&method_type)
                )))
            }
            _ => {
                return Err(AclRefusal::Invalid(format!(
                    "Invalid Auth Method: Type should be one of: {CONSUL_TYPES}"
                )))
            }
        }
        let ttl = req.max_token_ttl;
        if ttl != 0 {
            let fmt = api_types::format_go_duration;
            if ttl > MAX_TTL_NS {
                return Err(AclRefusal::Invalid(format!(
                    "MaxTokenTTL {} cannot be more than {}",
                    fmt(ttl),
                    fmt(MAX_TTL_NS)
                )));
            }
            if ttl < MIN_TTL_NS {
                return Err(AclRefusal::Invalid(format!(
                    "MaxTokenTTL {} cannot be less than {}",
                    fmt(ttl),
                    fmt(MIN_TTL_NS)
                )));
            }
        }
        if !matches!(req.token_locality.as_str(), "" | "local" | "global") {
            return Err(AclRefusal::Invalid(
                "Invalid Auth Method: TokenLocality should be one of 'local' or 'global'".into(),
            ));
        }
        JwtConfig::parse(req.config.as_ref()).map_err(|e| match e {
            ConfigError::Invalid(m) => AclRefusal::Invalid(format!("Invalid Auth Method: {m}")),
            ConfigError::Unsupported(m) => {
                AclRefusal::BadRequest(format!("Invalid Auth Method: {m}"))
            }
        })?;
        Ok(AuthMethodRecord {
            name: req.name.clone(),
            method_type,
            display_name: req.display_name.clone(),
            description: req.description.clone(),
            max_token_ttl_ns: ttl,
            token_locality: req.token_locality.clone(),
            config: req.config.clone(),
            create_index: 0,
            modify_index: 0,
        })
    }

    /// A binding rule create or update from its request body (the URL's ID already in
    /// `req.id`).
    pub fn prepare_binding_rule(
        &self,
        req: &AclBindingRule,
        new_uuid: impl FnOnce() -> String,
    ) -> Result<BindingRuleRecord, AclRefusal> {
        let mut auth_method = req.auth_method.clone();
        let id = if req.id.is_empty() {
            new_uuid()
        } else {
            if uuid::Uuid::parse_str(&req.id).is_err() || req.id.len() != 36 {
                return Err(AclRefusal::Invalid("Binding Rule ID invalid UUID".into()));
            }
            let old = self.binding_rules.get(&req.id).ok_or_else(|| {
                AclRefusal::Invalid(format!("cannot find binding rule {}", req.id))
            })?;
            if auth_method.is_empty() {
                auth_method = old.auth_method.clone();
            } else if old.auth_method != auth_method {
                return Err(AclRefusal::Invalid(
                    "the AuthMethod field of an Binding Rule is immutable".into(),
                ));
            }
            req.id.clone()
        };
        if auth_method.is_empty() {
            return Err(AclRefusal::Invalid(
                "Invalid Binding Rule: no AuthMethod is set".into(),
            ));
        }
        let method = self.auth_methods.get(&auth_method).ok_or_else(|| {
            AclRefusal::Invalid(format!(
                "cannot find auth method with name {}",
                api_types::go_quote(&auth_method)
            ))
        })?;
        let blank = method.validator()?.blank_claims();
        if !req.selector.is_empty() {
            bexpr::Filter::new(&req.selector, &selector_fields()).map_err(|e| {
                AclRefusal::Invalid(format!("invalid Binding Rule: Selector is invalid: {e}"))
            })?;
        }
        if req.bind_type.is_empty() {
            return Err(AclRefusal::Invalid(
                "Invalid Binding Rule: no BindType is set".into(),
            ));
        }
        if req.bind_name.is_empty() {
            return Err(AclRefusal::Invalid(
                "Invalid Binding Rule: no BindName is set".into(),
            ));
        }
        match req.bind_type.as_str() {
            "service" | "node" | "role" | "policy" => {}
            "templated-policy" => {
                return Err(AclRefusal::BadRequest(
                    "Invalid Binding Rule: BindType \"templated-policy\" is not supported by this agent".into(),
                ))
            }
            other => {
                return Err(AclRefusal::Invalid(format!(
                    "Invalid Binding Rule: unknown BindType {}",
                    api_types::go_quote(other)
                )))
            }
        }
        if req.bind_vars.as_ref().is_some_and(|v| !v.name.is_empty()) {
            return Err(AclRefusal::BadRequest(
                "Invalid Binding Rule: BindVars is only read by the templated-policy bind type, which this agent does not implement".into(),
            ));
        }
        let fake: Vec<(String, String)> = projected(&blank)
            .into_iter()
            .map(|(k, _)| (k, "fake".to_string()))
            .collect();
        let computed = interpolate(&req.bind_name, &fake).map_err(|e| {
            AclRefusal::Invalid(format!("Invalid Binding Rule: invalid BindName: {e}"))
        })?;
        if !bind_name_valid(&req.bind_type, &computed) {
            return Err(AclRefusal::Invalid(
                "Invalid Binding Rule: invalid BindName".into(),
            ));
        }
        Ok(BindingRuleRecord {
            id,
            description: req.description.clone(),
            auth_method,
            selector: req.selector.clone(),
            bind_type: req.bind_type.clone(),
            bind_name: req.bind_name.clone(),
            create_index: 0,
            modify_index: 0,
        })
    }

    /// `POST /v1/acl/login`: the token the method's binding rules grant the bearer token's
    /// identity, in datacenter `dc` at `now_ms`.
    pub fn prepare_login(
        &self,
        req: &AclLoginParams,
        dc: &str,
        now_ms: u64,
        mut new_uuid: impl FnMut() -> String,
    ) -> Result<TokenRecord, AclRefusal> {
        let method = self.auth_methods.get(&req.auth_method).ok_or_else(|| {
            AclRefusal::Denied(format!(
                "ACL not found: auth method {} not found",
                api_types::go_quote(&req.auth_method)
            ))
        })?;
        let validator = method.validator()?;
        let now_secs = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
        let claims = validator
            .validate(&req.bearer_token, now_secs)
            .map_err(AclRefusal::Invalid)?;
        let b = self.bind(method, &claims, dc)?;
        if b.services.is_empty()
            && b.nodes.is_empty()
            && b.roles.is_empty()
            && b.policies.is_empty()
        {
            return Err(AclRefusal::Denied("Permission denied".into()));
        }
        let mut description = "token created via login".to_string();
        if let Some(meta) = req.meta.as_ref().filter(|m| !m.is_empty()) {
            let json = api_types::json::to_go_json(meta, false);
            description.push_str(": ");
            description.push_str(&String::from_utf8_lossy(&json));
        }
        let expiration_ms = (method.max_token_ttl_ns > 0)
            .then(|| now_ms + (method.max_token_ttl_ns / 1_000_000) as u64);
        Ok(TokenRecord {
            accessor_id: new_uuid(),
            secret_id: new_uuid(),
            description,
            policies: b.policies,
            roles: b.roles,
            service_identities: b.services,
            node_identities: b.nodes,
            local: method.token_locality != "global",
            expiration_ms,
            create_ms: now_ms,
            auth_method: method.name.clone(),
            ..Default::default()
        })
    }

    /// `POST /v1/acl/logout` with `secret`: the accessor of the token to delete, which a login
    /// must have created.
    pub fn prepare_logout(&self, secret: &str) -> Result<String, AclRefusal> {
        let tok = self
            .by_secret
            .get(secret)
            .and_then(|accessor| self.tokens.get(accessor))
            .ok_or(AclRefusal::NotFound)?;
        if tok.auth_method.is_empty() {
            return Err(AclRefusal::Denied(
                "Permission denied: token wasn't created via login".into(),
            ));
        }
        Ok(tok.accessor_id.clone())
    }

    /// Consul's `Binder.Bind`: the matching rules, in ID order, turned into links.
    fn bind(
        &self,
        method: &AuthMethodRecord,
        claims: &Claims,
        dc: &str,
    ) -> Result<Bindings, AclRefusal> {
        let fields = selector_fields();
        let item = selectable(claims);
        let vars = projected(claims);
        let mut b = Bindings::default();
        for rule in self
            .binding_rules
            .values()
            .filter(|r| r.auth_method == method.name)
        {
            let matched = rule.selector.is_empty()
                || bexpr::Filter::new(&rule.selector, &fields)
                    .ok()
                    .and_then(|f| f.matches(&item).ok())
                    .unwrap_or(false);
            if !matched {
                continue;
            }
            let name = interpolate(&rule.bind_name, &vars)
                .map_err(|e| AclRefusal::Invalid(format!("error interpreting template: {e}")))?;
            let check_type = if rule.bind_type == "policy" {
                "role"
            } else {
                rule.bind_type.as_str()
            };
            if !bind_name_valid(check_type, &name) {
                return Err(AclRefusal::Invalid(format!(
                    "invalid bind name: {}",
                    api_types::go_quote(&name)
                )));
            }
            match rule.bind_type.as_str() {
                "service" if !b.services.iter().any(|s| s.service_name == name) => {
                    b.services.push(ServiceIdentity {
                        service_name: name,
                        datacenters: Vec::new(),
                    });
                }
                "node" if !b.nodes.iter().any(|n| n.node_name == name) => {
                    b.nodes.push(NodeIdentity {
                        node_name: name,
                        datacenter: dc.to_string(),
                    });
                }
                "role" => {
                    if let Some(r) = self.roles.values().find(|r| r.name == name) {
                        if !b.roles.contains(&r.id) {
                            b.roles.push(r.id.clone());
                        }
                    }
                }
                "policy" => {
                    if let Some(p) = self.policies.values().find(|p| p.name == name) {
                        if !b.policies.contains(&p.id) {
                            b.policies.push(p.id.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bind_names_interpolate_value_variables_lower_cased() {
        let v = vars(&[("value.name", "Web"), ("value.ns", "default")]);
        assert_eq!(
            interpolate("svc-${value.name}", &v).as_deref(),
            Ok("svc-web")
        );
        assert_eq!(
            interpolate("${ value.ns }-${value.name}", &v).as_deref(),
            Ok("default-web")
        );
        assert_eq!(interpolate("plain", &v).as_deref(), Ok("plain"));
        assert_eq!(interpolate("a$${x}", &v).as_deref(), Ok("a${x}"));
        assert_eq!(
            interpolate("${value.nope}", &v),
            Err("unknown variable accessed: value.nope".to_string())
        );
        assert!(interpolate("${value.name", &v).is_err());
        assert!(interpolate("${upper(value.name)}", &v).is_err());
    }

    #[test]
    fn identity_names_follow_consul() {
        assert!(identity_name("web-1"));
        assert!(identity_name("a"));
        assert!(!identity_name("Web"));
        assert!(!identity_name("-web"));
        assert!(!identity_name("web_"));
        assert!(!identity_name(""));
        assert!(bind_name_valid("role", "Admins_1"));
        assert!(!bind_name_valid("policy", &"x".repeat(129)));
    }
}
