//! What Consul's ACL commands share: IDs from unique prefixes (and names), the
//! `-service-identity` / `-node-identity` / `-templated-policy` arguments, and `-rules`-style
//! values (`@file`, `-` for stdin, or the text itself). Errors are Consul's texts.

use api_types::acl::{
    AclPolicy, NodeIdentity, ServiceIdentity, TemplateVariables, TemplatedPolicyRef,
};
use api_types::client::{Client, QueryOptions};
use std::io::Read;

/// The anonymous token's accessor ID (`-accessor-id anonymous`).
pub const ANONYMOUS_TOKEN_ID: &str = "00000000-0000-0000-0000-000000000002";

/// The builtin policies, which `-policy-id` also takes by name.
const BUILTIN_POLICIES: &[(&str, &str)] = &[
    (
        acl::builtin::GLOBAL_MANAGEMENT_NAME,
        acl::builtin::GLOBAL_MANAGEMENT_ID,
    ),
    (
        acl::builtin::GLOBAL_READ_ONLY_NAME,
        acl::builtin::GLOBAL_READ_ONLY_ID,
    ),
];

/// The one ID among `ids` that starts with `partial`.
fn unique_prefix<'a>(
    ids: impl Iterator<Item = &'a str>,
    partial: &str,
    what: &str,
) -> Result<String, String> {
    let mut found: Option<&str> = None;
    for id in ids.filter(|id| id.starts_with(partial)) {
        if found.is_some() {
            return Err(format!("Partial {what} ID is not unique"));
        }
        found = Some(id);
    }
    found
        .map(str::to_string)
        .ok_or_else(|| format!("No such {what} ID with prefix: {partial}"))
}

/// A token's accessor ID from a unique prefix (or `anonymous`, or a whole ID).
pub async fn token_accessor(client: &Client, partial: &str) -> Result<String, String> {
    if partial == "anonymous" {
        return Ok(ANONYMOUS_TOKEN_ID.to_string());
    }
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let (tokens, _) = client
        .acl_token_list(&QueryOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    unique_prefix(
        tokens.iter().map(|t| t.accessor_id.as_str()),
        partial,
        "token",
    )
}

/// A policy's ID from a builtin policy's name, a unique prefix, or a whole ID.
pub async fn policy_id(client: &Client, partial: &str) -> Result<String, String> {
    if let Some((_, id)) = BUILTIN_POLICIES
        .iter()
        .find(|(name, id)| *name == partial || *id == partial)
    {
        return Ok(id.to_string());
    }
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let (policies, _) = client
        .acl_policy_list(&QueryOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    unique_prefix(policies.iter().map(|p| p.id.as_str()), partial, "policy")
}

/// A policy by name; `None` when there is none.
pub async fn policy_by_name(client: &Client, name: &str) -> Result<Option<AclPolicy>, String> {
    if name.is_empty() {
        return Err("No name specified".into());
    }
    client
        .acl_policy_read_by_name(name, &QueryOptions::default())
        .await
        .map(|(p, _)| p)
        .map_err(|e| format!("Failed to find policy with name {name}: {e}"))
}

/// A policy's ID from its name.
pub async fn policy_id_by_name(client: &Client, name: &str) -> Result<String, String> {
    policy_by_name(client, name)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| format!("No such policy with name: {name}"))
}

/// A role's ID from a unique prefix or a whole ID.
pub async fn role_id(client: &Client, partial: &str) -> Result<String, String> {
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let (roles, _) = client
        .acl_role_list(&QueryOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    unique_prefix(roles.iter().map(|r| r.id.as_str()), partial, "role")
}

/// A role's ID from its name.
pub async fn role_id_by_name(client: &Client, name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("No name specified".into());
    }
    let (roles, _) = client
        .acl_role_list(&QueryOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    roles
        .into_iter()
        .find(|r| r.name == name)
        .map(|r| r.id)
        .ok_or_else(|| format!("No such role with name {name}"))
}

/// `-service-identity NAME[:DC1,DC2]` values.
pub fn service_identities(raw: &[String]) -> Result<Vec<ServiceIdentity>, String> {
    raw.iter()
        .map(|s| {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [name] => Ok(ServiceIdentity {
                    service_name: name.to_string(),
                    datacenters: Vec::new(),
                }),
                [name, dcs] => Ok(ServiceIdentity {
                    service_name: name.to_string(),
                    datacenters: dcs.split(',').map(str::to_string).collect(),
                }),
                _ => Err(format!(
                    "Malformed -service-identity argument: {}",
                    super::quote(s)
                )),
            }
        })
        .collect()
}

/// `-node-identity NAME:DC` values.
pub fn node_identities(raw: &[String]) -> Result<Vec<NodeIdentity>, String> {
    raw.iter()
        .map(|s| match s.split(':').collect::<Vec<_>>().as_slice() {
            [name, dc] => Ok(NodeIdentity {
                node_name: name.to_string(),
                datacenter: dc.to_string(),
            }),
            _ => Err(format!(
                "Malformed -node-identity argument: {}",
                super::quote(s)
            )),
        })
        .collect()
}

/// `-var NAME:VALUE` values as a template's variables (only `name` is known, in any case).
fn template_variables(vars: &[String]) -> Result<Option<TemplateVariables>, String> {
    if vars.is_empty() {
        return Ok(None);
    }
    let mut out = TemplateVariables::default();
    for v in vars {
        match v.split(':').collect::<Vec<_>>().as_slice() {
            [key, value] => {
                if key.eq_ignore_ascii_case("name") {
                    out.name = value.to_string();
                }
            }
            _ => {
                return Err(format!(
                    "malformed -var argument: {}, expecting VariableName:Value",
                    super::quote(v)
                ))
            }
        }
    }
    Ok(Some(out))
}

/// The templated policies of `-templated-policy NAME` (with `-var`s) and of a
/// `-templated-policy-file` (`TemplatedPolicy "builtin/service" { Name = "api" }` blocks).
pub fn templated_policies(
    name: &str,
    file: &str,
    vars: &[String],
) -> Result<Vec<TemplatedPolicyRef>, String> {
    let mut out = Vec::new();
    if !name.is_empty() {
        out.push(TemplatedPolicyRef {
            template_name: name.to_string(),
            template_variables: template_variables(vars)?,
            datacenters: Vec::new(),
        });
    }
    if !file.is_empty() {
        let text = read_file(file)?;
        out.extend(templated_policy_file(&text)?);
    }
    Ok(out)
}

/// The `TemplatedPolicy "NAME" { Name = "..." }` blocks of a templated-policy file.
fn templated_policy_file(text: &str) -> Result<Vec<TemplatedPolicyRef>, String> {
    let body: hcl::Body = hcl::from_str(text)
        .or_else(|_| hcl::from_str(&api_types::hcl1::to_hcl2(text)))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for block in body.blocks() {
        if block.identifier() != "TemplatedPolicy" {
            continue;
        }
        let Some(label) = block.labels().first() else {
            continue;
        };
        let name = block
            .body()
            .attributes()
            .find(|a| a.key().eq_ignore_ascii_case("name"))
            .and_then(|a| match a.expr() {
                hcl::Expression::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        out.push(TemplatedPolicyRef {
            template_name: label.as_str().to_string(),
            template_variables: Some(TemplateVariables { name }),
            datacenters: Vec::new(),
        });
    }
    Ok(out)
}

/// A file's text, or Consul's `Failed to read file: open PATH: reason`.
fn read_file(path: &str) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| {
            format!(
                "Failed to read file: {}",
                super::super::go_io_error("open", path, &e)
            )
        })
}

fn read_stdin() -> Result<String, String> {
    let mut b = Vec::new();
    std::io::stdin()
        .read_to_end(&mut b)
        .map_err(|e| format!("Failed to read stdin: {e}"))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// A value given as `@file`, `-` (stdin) or literally (Go's `helpers.LoadDataSource`).
pub fn load_data_source(data: &str) -> Result<String, String> {
    if let Some(path) = data.strip_prefix('@') {
        return read_file(path);
    }
    if data == "-" {
        return read_stdin();
    }
    Ok(data.to_string())
}

/// A value given as a file path or `-` for stdin, never literally
/// (Go's `helpers.LoadDataSourceNoRaw`).
pub fn load_data_source_no_raw(data: &str) -> Result<String, String> {
    match data {
        "" => Err("Failed to load data: must specify a file path or '-' for stdin".into()),
        "-" => read_stdin(),
        path => read_file(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn identities_parse_like_consul() {
        let s = service_identities(&sv(&["web", "db:east,west"])).expect("parses");
        assert_eq!(s[0].service_name, "web");
        assert!(s[0].datacenters.is_empty());
        assert_eq!(s[1].datacenters, sv(&["east", "west"]));
        assert_eq!(
            service_identities(&sv(&["a:b:c"])).expect_err("bad"),
            "Malformed -service-identity argument: \"a:b:c\""
        );
        let n = node_identities(&sv(&["n1:dc1"])).expect("parses");
        assert_eq!(
            (n[0].node_name.as_str(), n[0].datacenter.as_str()),
            ("n1", "dc1")
        );
        assert_eq!(
            node_identities(&sv(&["n1"])).expect_err("bad"),
            "Malformed -node-identity argument: \"n1\""
        );
    }

    #[test]
    fn templated_policies_from_flags_and_files() {
        let t = templated_policies("builtin/service", "", &sv(&["name:api"])).expect("ok");
        assert_eq!(t[0].template_name, "builtin/service");
        assert_eq!(
            t[0].template_variables.as_ref().map(|v| v.name.as_str()),
            Some("api")
        );
        assert!(templated_policies("builtin/dns", "", &[]).expect("ok")[0]
            .template_variables
            .is_none());
        assert_eq!(
            templated_policies("x", "", &sv(&["name"])).expect_err("bad"),
            "malformed -var argument: \"name\", expecting VariableName:Value"
        );
        let f = templated_policy_file(
            "TemplatedPolicy \"builtin/service\" {\n  Name = \"web\"\n}\n\
             TemplatedPolicy \"builtin/node\" { Name = \"n1\" }\n",
        )
        .expect("file");
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].template_name, "builtin/node");
        assert_eq!(
            f[1].template_variables.as_ref().map(|v| v.name.as_str()),
            Some("n1")
        );
    }

    #[test]
    fn data_sources() {
        assert_eq!(load_data_source("").expect("empty"), "");
        assert_eq!(load_data_source("-x").expect("raw"), "-x");
        assert_eq!(load_data_source("rules").expect("raw"), "rules");
        assert_eq!(
            load_data_source("@/nonexistent/r.hcl").expect_err("missing"),
            "Failed to read file: open /nonexistent/r.hcl: no such file or directory"
        );
        assert!(load_data_source_no_raw("").is_err());
    }

    #[test]
    fn prefixes() {
        let ids = ["abc-1", "abd-2"];
        assert_eq!(
            unique_prefix(ids.iter().copied(), "abc", "policy").expect("one"),
            "abc-1"
        );
        assert_eq!(
            unique_prefix(ids.iter().copied(), "ab", "policy").expect_err("two"),
            "Partial policy ID is not unique"
        );
        assert_eq!(
            unique_prefix(ids.iter().copied(), "z", "role").expect_err("none"),
            "No such role ID with prefix: z"
        );
    }
}
