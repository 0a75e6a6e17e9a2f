//! Consul's ACL output: the `pretty` layouts of its token, policy and role formatters, and the
//! `json` shapes of Go's `api` structs (their field order, `omitempty`s and `null`s), which
//! differ from the server's answers the CLI decoded. Times print as Go's `time.Time` does
//! (`2024-05-01 12:00:00.5 +0000 UTC` in text, RFC 3339 with nanoseconds in JSON) and hashes
//! as hex in text, base64 in JSON.

use api_types::acl::{
    AclLink, AclPolicy, AclPolicyStub, AclRole, AclToken, NodeIdentity, ServiceIdentity,
    TemplatedPolicyRef,
};
use base64::Engine;
use serde::Serialize;
use std::fmt::Write;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Go's zero `time.Time`, for an absent time.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(if s.is_empty() { ZERO_TIME } else { s }, &Rfc3339).ok()
}

/// `.123` for nanoseconds (trailing zeros dropped), empty for none.
fn fraction(t: &OffsetDateTime) -> String {
    let n = t.nanosecond();
    if n == 0 {
        return String::new();
    }
    format!(".{n:09}").trim_end_matches('0').to_string()
}

fn clock(t: &OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        fraction(t)
    )
}

/// `+hhmm`-style offset with `sep` between hours and minutes.
fn offset(o: UtcOffset, sep: &str) -> String {
    let secs = o.whole_seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let m = secs.unsigned_abs() / 60;
    format!("{sign}{:02}{sep}{:02}", m / 60, m % 60)
}

/// An RFC 3339 time as Go's `time.Time.String()` prints it: `Z` is `+0000 UTC`, another
/// offset is its own zone name (`+0200 +0200`). Unparsable text is printed as it is.
pub fn go_time(s: &str) -> String {
    let Some(t) = parse_time(s) else {
        return s.to_string();
    };
    let o = t.offset();
    let zone = if o.is_utc() {
        "+0000 UTC".to_string()
    } else {
        let z = offset(o, "");
        format!("{z} {z}")
    };
    format!("{} {zone}", clock(&t))
}

/// An RFC 3339 time as Go's JSON encoder writes a `time.Time` (RFC 3339 with nanoseconds,
/// `Z` for UTC); an absent time is Go's zero time.
pub fn go_time_json(s: &str) -> String {
    let Some(t) = parse_time(s) else {
        return s.to_string();
    };
    let o = t.offset();
    let zone = if o.is_utc() {
        "Z".to_string()
    } else {
        offset(o, ":")
    };
    format!("{}{zone}", clock(&t).replacen(' ', "T", 1))
}

/// A base64 hash as Go's `%x` prints the bytes.
fn hash_hex(b64: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
        .unwrap_or_default()
}

fn links(out: &mut String, title: &str, indent: &str, list: &[AclLink]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}");
    for l in list {
        let _ = writeln!(out, "{indent}{} - {}", l.id, l.name);
    }
}

fn service_identities(out: &mut String, title: &str, indent: &str, list: &[ServiceIdentity]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}");
    for s in list {
        let dcs = if s.datacenters.is_empty() {
            "all".to_string()
        } else {
            s.datacenters.join(", ")
        };
        let _ = writeln!(out, "{indent}{} (Datacenters: {dcs})", s.service_name);
    }
}

fn node_identities(out: &mut String, title: &str, indent: &str, list: &[NodeIdentity]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}");
    for n in list {
        let _ = writeln!(
            out,
            "{indent}{} (Datacenter: {})",
            n.node_name, n.datacenter
        );
    }
}

fn templated(out: &mut String, title: &str, indent: &str, list: &[TemplatedPolicyRef]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}");
    for t in list {
        let _ = writeln!(out, "{indent}{}", t.template_name);
        if let Some(v) = t.template_variables.as_ref().filter(|v| !v.name.is_empty()) {
            let _ = writeln!(out, "{indent}   Name: {}", v.name);
        }
        let dcs = if t.datacenters.is_empty() {
            "all".to_string()
        } else {
            t.datacenters.join(", ")
        };
        let _ = writeln!(out, "{indent}   Datacenters: {dcs}");
    }
}

/// One token in Consul's pretty layout (`token read`, `create`, ... and each `list` entry).
pub fn token_pretty(t: &AclToken, meta: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "AccessorID:       {}", t.accessor_id);
    let _ = writeln!(out, "SecretID:         {}", t.secret_id);
    let _ = writeln!(out, "Description:      {}", t.description);
    let _ = writeln!(out, "Local:            {}", t.local);
    if !t.auth_method.is_empty() {
        let _ = writeln!(out, "Auth Method:      {} (Namespace: )", t.auth_method);
    }
    let _ = writeln!(out, "Create Time:      {}", go_time(&t.create_time));
    if let Some(exp) = t.expiration_time.as_deref().filter(|e| !e.is_empty()) {
        if parse_time(exp).is_none_or(|e| e.unix_timestamp() != -62_135_596_800) {
            let _ = writeln!(out, "Expiration Time:  {}", go_time(exp));
        }
    }
    if meta {
        let _ = writeln!(out, "Hash:             {}", hash_hex(&t.hash));
        let _ = writeln!(out, "Create Index:     {}", t.create_index);
        let _ = writeln!(out, "Modify Index:     {}", t.modify_index);
    }
    links(&mut out, "Policies:", "   ", &t.policies);
    links(&mut out, "Roles:", "   ", &t.roles);
    service_identities(
        &mut out,
        "Service Identities:",
        "   ",
        &t.service_identities,
    );
    node_identities(&mut out, "Node Identities:", "   ", &t.node_identities);
    templated(
        &mut out,
        "Templated Policies:",
        "   ",
        &t.templated_policies,
    );
    out
}

/// `token list`: the entries separated by blank lines.
pub fn token_list_pretty(tokens: &[AclToken], meta: bool) -> String {
    tokens
        .iter()
        .map(|t| token_pretty(t, meta))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One policy: its fields, then `Rules:` and the rules as written.
pub fn policy_pretty(p: &AclPolicy, meta: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ID:           {}", p.id);
    let _ = writeln!(out, "Name:         {}", p.name);
    let _ = writeln!(out, "Description:  {}", p.description);
    let _ = writeln!(out, "Datacenters:  {}", p.datacenters.join(", "));
    if meta {
        let _ = writeln!(out, "Hash:         {}", hash_hex(&p.hash));
        let _ = writeln!(out, "Create Index: {}", p.create_index);
        let _ = writeln!(out, "Modify Index: {}", p.modify_index);
    }
    out.push_str("Rules:\n");
    out.push_str(&p.rules);
    out
}

/// `policy list`: `NAME:` then its fields indented by three spaces.
pub fn policy_list_pretty(policies: &[AclPolicyStub], meta: bool) -> String {
    let mut out = String::new();
    for p in policies {
        let dcs = p.datacenters.as_deref().unwrap_or_default().join(", ");
        let _ = writeln!(out, "{}:", p.name);
        let _ = writeln!(out, "   ID:           {}", p.id);
        let _ = writeln!(out, "   Description:  {}", p.description);
        let _ = writeln!(out, "   Datacenters:  {dcs}");
        if meta {
            let _ = writeln!(out, "   Hash:         {}", hash_hex(&p.hash));
            let _ = writeln!(out, "   Create Index: {}", p.create_index);
            let _ = writeln!(out, "   Modify Index: {}", p.modify_index);
        }
    }
    out
}

/// One role in the layout of `role read` (`top`) or of a `role list` entry (indented).
fn role_layout(r: &AclRole, meta: bool, list: bool) -> String {
    let mut out = String::new();
    let (pad, inner) = if list {
        let _ = writeln!(out, "{}:", r.name);
        let _ = writeln!(out, "   ID:           {}", r.id);
        ("   ", "      ")
    } else {
        let _ = writeln!(out, "ID:           {}", r.id);
        let _ = writeln!(out, "Name:         {}", r.name);
        ("", "   ")
    };
    let _ = writeln!(out, "{pad}Description:  {}", r.description);
    if meta {
        let _ = writeln!(out, "{pad}Hash:         {}", hash_hex(&r.hash));
        let _ = writeln!(out, "{pad}Create Index: {}", r.create_index);
        let _ = writeln!(out, "{pad}Modify Index: {}", r.modify_index);
    }
    links(&mut out, &format!("{pad}Policies:"), inner, &r.policies);
    let title = format!("{pad}Service Identities:");
    service_identities(&mut out, &title, inner, &r.service_identities);
    let title = format!("{pad}Node Identities:");
    node_identities(&mut out, &title, inner, &r.node_identities);
    let title = format!("{pad}Templated Policies:");
    templated(&mut out, &title, inner, &r.templated_policies);
    out
}

/// One role (`role read`, `create`, `update`).
pub fn role_pretty(r: &AclRole, meta: bool) -> String {
    role_layout(r, meta, false)
}

/// `role list`: each role as `NAME:` and its indented fields.
pub fn role_list_pretty(roles: &[AclRole], meta: bool) -> String {
    roles.iter().map(|r| role_layout(r, meta, true)).collect()
}

// ---- JSON: Go's `api` structs ----

/// `api.ACLTemplatedPolicyVariables` (Go writes `Name`, the server `name`).
#[derive(Serialize)]
struct GoTemplateVariables<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
}

/// `api.ACLTemplatedPolicy`.
#[derive(Serialize)]
struct GoTemplatedPolicy<'a> {
    #[serde(rename = "TemplateName")]
    template_name: &'a str,
    #[serde(rename = "TemplateVariables", skip_serializing_if = "Option::is_none")]
    template_variables: Option<GoTemplateVariables<'a>>,
    #[serde(rename = "Datacenters", skip_serializing_if = "<[_]>::is_empty")]
    datacenters: &'a [String],
}

fn go_templated(list: &[TemplatedPolicyRef]) -> Vec<GoTemplatedPolicy<'_>> {
    list.iter()
        .map(|t| GoTemplatedPolicy {
            template_name: &t.template_name,
            template_variables: t
                .template_variables
                .as_ref()
                .map(|v| GoTemplateVariables { name: &v.name }),
            datacenters: &t.datacenters,
        })
        .collect()
}

fn null_if_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

/// `api.ACLToken` (`list: false`) or `api.ACLTokenListEntry` (`list: true`: `CreateTime`
/// and `Hash` always present).
#[derive(Serialize)]
pub struct GoToken<'a> {
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
    #[serde(rename = "AccessorID")]
    accessor_id: &'a str,
    #[serde(rename = "SecretID")]
    secret_id: &'a str,
    #[serde(rename = "Description")]
    description: &'a str,
    #[serde(rename = "Policies", skip_serializing_if = "<[_]>::is_empty")]
    policies: &'a [AclLink],
    #[serde(rename = "Roles", skip_serializing_if = "<[_]>::is_empty")]
    roles: &'a [AclLink],
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "<[_]>::is_empty")]
    service_identities: &'a [ServiceIdentity],
    #[serde(rename = "NodeIdentities", skip_serializing_if = "<[_]>::is_empty")]
    node_identities: &'a [NodeIdentity],
    #[serde(rename = "TemplatedPolicies", skip_serializing_if = "Vec::is_empty")]
    templated_policies: Vec<GoTemplatedPolicy<'a>>,
    #[serde(rename = "Local")]
    local: bool,
    #[serde(rename = "AuthMethod", skip_serializing_if = "str::is_empty")]
    auth_method: &'a str,
    #[serde(rename = "ExpirationTime", skip_serializing_if = "Option::is_none")]
    expiration_time: Option<String>,
    #[serde(rename = "CreateTime")]
    create_time: String,
    /// `Some(None)` is the list entry's `null`.
    #[serde(rename = "Hash", skip_serializing_if = "Option::is_none")]
    hash: Option<Option<&'a str>>,
}

impl<'a> GoToken<'a> {
    pub fn new(t: &'a AclToken, list: bool) -> Self {
        let hash = match (null_if_empty(&t.hash), list) {
            (None, false) => None,
            (h, _) => Some(h),
        };
        GoToken {
            create_index: t.create_index,
            modify_index: t.modify_index,
            accessor_id: &t.accessor_id,
            secret_id: &t.secret_id,
            description: &t.description,
            policies: &t.policies,
            roles: &t.roles,
            service_identities: &t.service_identities,
            node_identities: &t.node_identities,
            templated_policies: go_templated(&t.templated_policies),
            local: t.local,
            auth_method: &t.auth_method,
            expiration_time: t
                .expiration_time
                .as_deref()
                .filter(|e| !e.is_empty())
                .map(go_time_json),
            create_time: go_time_json(&t.create_time),
            hash,
        }
    }
}

/// `api.ACLPolicy`: `Datacenters` and `Hash` are `null` when empty.
#[derive(Serialize)]
pub struct GoPolicy<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Description")]
    description: &'a str,
    #[serde(rename = "Rules")]
    rules: &'a str,
    #[serde(rename = "Datacenters")]
    datacenters: Option<&'a [String]>,
    #[serde(rename = "Hash")]
    hash: Option<&'a str>,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> GoPolicy<'a> {
    pub fn new(p: &'a AclPolicy) -> Self {
        GoPolicy {
            id: &p.id,
            name: &p.name,
            description: &p.description,
            rules: &p.rules,
            datacenters: Some(p.datacenters.as_slice()).filter(|d| !d.is_empty()),
            hash: null_if_empty(&p.hash),
            create_index: p.create_index,
            modify_index: p.modify_index,
        }
    }
}

/// `api.ACLPolicyListEntry`.
#[derive(Serialize)]
pub struct GoPolicyStub<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Description")]
    description: &'a str,
    #[serde(rename = "Datacenters")]
    datacenters: Option<&'a [String]>,
    #[serde(rename = "Hash")]
    hash: Option<&'a str>,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> GoPolicyStub<'a> {
    pub fn new(p: &'a AclPolicyStub) -> Self {
        GoPolicyStub {
            id: &p.id,
            name: &p.name,
            description: &p.description,
            datacenters: p.datacenters.as_deref(),
            hash: null_if_empty(&p.hash),
            create_index: p.create_index,
            modify_index: p.modify_index,
        }
    }
}

/// `api.ACLRole`.
#[derive(Serialize)]
pub struct GoRole<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Description")]
    description: &'a str,
    #[serde(rename = "Policies", skip_serializing_if = "<[_]>::is_empty")]
    policies: &'a [AclLink],
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "<[_]>::is_empty")]
    service_identities: &'a [ServiceIdentity],
    #[serde(rename = "NodeIdentities", skip_serializing_if = "<[_]>::is_empty")]
    node_identities: &'a [NodeIdentity],
    #[serde(rename = "TemplatedPolicies", skip_serializing_if = "Vec::is_empty")]
    templated_policies: Vec<GoTemplatedPolicy<'a>>,
    #[serde(rename = "Hash")]
    hash: Option<&'a str>,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> GoRole<'a> {
    pub fn new(r: &'a AclRole) -> Self {
        GoRole {
            id: &r.id,
            name: &r.name,
            description: &r.description,
            policies: &r.policies,
            service_identities: &r.service_identities,
            node_identities: &r.node_identities,
            templated_policies: go_templated(&r.templated_policies),
            hash: null_if_empty(&r.hash),
            create_index: r.create_index,
            modify_index: r.modify_index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api_types::acl::TemplateVariables;

    fn token() -> AclToken {
        AclToken {
            accessor_id: "6a1253d2-1785-24fd-91c2-f8e78c745511".into(),
            secret_id: "45a3bd52-07c7-47a4-52fd-0745e0cfe967".into(),
            description: "Agent token for 'node1'".into(),
            policies: vec![AclLink {
                id: "165d4317-e379-f732-ce70-86278c4558f7".into(),
                name: "node1-write".into(),
            }],
            service_identities: vec![
                ServiceIdentity {
                    service_name: "web".into(),
                    datacenters: vec![],
                },
                ServiceIdentity {
                    service_name: "db".into(),
                    datacenters: vec!["east".into(), "west".into()],
                },
            ],
            node_identities: vec![NodeIdentity {
                node_name: "n1".into(),
                datacenter: "dc1".into(),
            }],
            templated_policies: vec![TemplatedPolicyRef {
                template_name: "builtin/service".into(),
                template_variables: Some(TemplateVariables { name: "api".into() }),
                datacenters: vec![],
            }],
            create_time: "2018-10-22T15:35:28.787003Z".into(),
            hash: "3q2+7w==".into(),
            create_index: 5,
            modify_index: 7,
            ..Default::default()
        }
    }

    #[test]
    fn go_times() {
        assert_eq!(
            go_time("2018-10-22T15:35:28.787003Z"),
            "2018-10-22 15:35:28.787003 +0000 UTC"
        );
        assert_eq!(go_time(""), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            go_time("2020-01-02T03:04:05-04:30"),
            "2020-01-02 03:04:05 -0430 -0430"
        );
        assert_eq!(
            go_time_json("2018-10-22T15:35:28.787003000Z"),
            "2018-10-22T15:35:28.787003Z"
        );
        assert_eq!(go_time_json(""), ZERO_TIME);
        assert_eq!(
            go_time_json("2020-01-02T03:04:05+02:00"),
            "2020-01-02T03:04:05+02:00"
        );
    }

    #[test]
    fn token_pretty_layout() {
        let text = token_pretty(&token(), true);
        assert_eq!(
            text,
            "AccessorID:       6a1253d2-1785-24fd-91c2-f8e78c745511\n\
             SecretID:         45a3bd52-07c7-47a4-52fd-0745e0cfe967\n\
             Description:      Agent token for 'node1'\n\
             Local:            false\n\
             Create Time:      2018-10-22 15:35:28.787003 +0000 UTC\n\
             Hash:             deadbeef\n\
             Create Index:     5\n\
             Modify Index:     7\n\
             Policies:\n   165d4317-e379-f732-ce70-86278c4558f7 - node1-write\n\
             Service Identities:\n   web (Datacenters: all)\n   db (Datacenters: east, west)\n\
             Node Identities:\n   n1 (Datacenter: dc1)\n\
             Templated Policies:\n   builtin/service\n      Name: api\n      Datacenters: all\n"
        );
        let two = token_list_pretty(&[token(), token()], false);
        assert!(two.contains("Datacenters: all\n\nAccessorID:"), "{two}");
    }

    #[test]
    fn token_json_has_go_field_order() {
        let t = token();
        let v = serde_json::to_string(&GoToken::new(&t, false)).expect("json");
        assert!(
            v.starts_with(r#"{"CreateIndex":5,"ModifyIndex":7,"AccessorID":"#),
            "{v}"
        );
        assert!(
            v.contains(r#""TemplatedPolicies":[{"TemplateName":"builtin/service","TemplateVariables":{"Name":"api"}}],"Local":false,"CreateTime":"2018-10-22T15:35:28.787003Z","Hash":"3q2+7w=="}"#),
            "{v}"
        );
        let bare = AclToken::default();
        let v = serde_json::to_string(&GoToken::new(&bare, true)).expect("json");
        assert!(
            v.ends_with(r#""Local":false,"CreateTime":"0001-01-01T00:00:00Z","Hash":null}"#),
            "{v}"
        );
    }

    #[test]
    fn policy_and_role_layouts() {
        let p = AclPolicy {
            id: "id1".into(),
            name: "kv-read".into(),
            rules: "key_prefix \"\" { policy = \"read\" }".into(),
            ..Default::default()
        };
        assert_eq!(
            policy_pretty(&p, false),
            "ID:           id1\nName:         kv-read\nDescription:  \nDatacenters:  \n\
             Rules:\nkey_prefix \"\" { policy = \"read\" }"
        );
        let v = serde_json::to_string(&GoPolicy::new(&p)).expect("json");
        assert!(v.ends_with(r#""Datacenters":null,"Hash":null,"CreateIndex":0,"ModifyIndex":0}"#));
        let stub = AclPolicyStub {
            id: "id1".into(),
            name: "kv-read".into(),
            datacenters: Some(vec!["dc1".into(), "dc2".into()]),
            ..Default::default()
        };
        assert_eq!(
            policy_list_pretty(&[stub], false),
            "kv-read:\n   ID:           id1\n   Description:  \n   Datacenters:  dc1, dc2\n"
        );
        let r = AclRole {
            id: "r1".into(),
            name: "r".into(),
            policies: vec![AclLink {
                id: "id1".into(),
                name: "kv-read".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            role_pretty(&r, false),
            "ID:           r1\nName:         r\nDescription:  \nPolicies:\n   id1 - kv-read\n"
        );
        assert_eq!(
            role_list_pretty(&[r], false),
            "r:\n   ID:           r1\n   Description:  \n   Policies:\n      id1 - kv-read\n"
        );
    }
}
