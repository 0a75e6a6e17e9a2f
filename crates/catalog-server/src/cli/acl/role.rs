//! `consul acl role create|list|read|update|delete`. Roles are named by `-id` (a unique
//! prefix) or `-name`; `update` merges into the current role unless `-no-merge`.

use super::super::goflags;
use super::super::http::{client_or_exit, HttpFlags};
use super::token::policy_links;
use super::{finish, format, help_to_stderr, helpers, quote, render, Tenancy};
use api_types::acl::AclRole;
use api_types::client::{Client, QueryOptions};
use clap::Parser;

fn show(r: &AclRole, fmt: &str, meta: bool) -> Result<String, String> {
    render(fmt, &format::GoRole::new(r), || {
        format::role_pretty(r, meta)
    })
}

#[derive(Parser, Debug)]
struct CreateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the role's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// The new role's name (required).
    #[arg(long)]
    name: Option<String>,
    /// The role's description.
    #[arg(long)]
    description: Option<String>,
    /// ID (or unique prefix) of a policy to link (repeatable).
    #[arg(long = "policy-id")]
    policy_id: Vec<String>,
    /// Name of a policy to link (repeatable).
    #[arg(long = "policy-name")]
    policy_name: Vec<String>,
    /// A service identity, `NAME` or `NAME:DC1,DC2` (repeatable).
    #[arg(long = "service-identity")]
    service_identity: Vec<String>,
    /// A node identity, `NAME:DC` (repeatable).
    #[arg(long = "node-identity")]
    node_identity: Vec<String>,
    /// A templated policy variable `NAME:VALUE` for -templated-policy (repeatable).
    #[arg(long = "var")]
    var: Vec<String>,
    /// The name of a templated policy to link (its variables from -var).
    #[arg(long = "templated-policy")]
    templated_policy: Option<String>,
    /// A file of `TemplatedPolicy "NAME" { Name = "..." }` blocks to link.
    #[arg(long = "templated-policy-file")]
    templated_policy_file: Option<String>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl role create`.
pub fn run_create(args: &[String]) -> i32 {
    let usage = "Usage: consul acl role create -name NAME [options]";
    let f: CreateFlags = match goflags::parse("create", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if f.name.as_deref().unwrap_or_default().is_empty() {
        eprintln!("Missing required '-name' flag");
        help_to_stderr::<CreateFlags>("create", usage);
        return 1;
    }
    let tp = f.templated_policy.clone().unwrap_or_default();
    let tp_file = f.templated_policy_file.clone().unwrap_or_default();
    if f.policy_name.is_empty()
        && f.policy_id.is_empty()
        && f.service_identity.is_empty()
        && f.node_identity.is_empty()
        && tp.is_empty()
        && tp_file.is_empty()
    {
        return finish(Err("Cannot create a role without specifying -policy-name, -policy-id, -service-identity, -node-identity, -templated-policy-file or -templated-policy at least once".into()));
    }
    if !tp.is_empty() && !tp_file.is_empty() {
        return finish(Err("Cannot combine the use of templated-policy flag with templated-policy-file. To create a role with a single templated policy and simple use case, use -templated-policy. For multiple templated policies and more complicated use cases, use -templated-policy-file".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move { finish(create(&f, &client, &tp, &tp_file).await) })
}

async fn create(
    f: &CreateFlags,
    client: &Client,
    tp: &str,
    tp_file: &str,
) -> Result<String, String> {
    let mut role = AclRole {
        name: f.name.clone().unwrap_or_default(),
        description: f.description.clone().unwrap_or_default(),
        ..Default::default()
    };
    policy_links(client, &f.policy_name, &f.policy_id, &mut role.policies).await?;
    role.service_identities = helpers::service_identities(&f.service_identity)?;
    role.node_identities = helpers::node_identities(&f.node_identity)?;
    role.templated_policies = helpers::templated_policies(tp, tp_file, &f.var)?;
    let r = client
        .acl_role_create(&role)
        .await
        .map_err(|e| format!("Failed to create new role: {e}"))?;
    show(&r, &f.format, f.meta)
}

#[derive(Parser, Debug)]
struct ListFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show each role's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl role list`.
pub fn run_list(args: &[String]) -> i32 {
    let usage = "Usage: consul acl role list [options]";
    let f: ListFlags = match goflags::parse("list", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        finish(match client.acl_role_list(&QueryOptions::default()).await {
            Ok((roles, _)) => {
                let json: Vec<_> = roles.iter().map(format::GoRole::new).collect();
                render(&f.format, &json, || {
                    format::role_list_pretty(&roles, f.meta)
                })
            }
            Err(e) => Err(format!("Failed to retrieve the role list: {e}")),
        })
    })
}

#[derive(Parser, Debug)]
struct ReadFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the role's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// The ID (or a unique prefix) of the role to read.
    #[arg(long)]
    id: Option<String>,
    /// The name of the role to read.
    #[arg(long)]
    name: Option<String>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl role read`.
pub fn run_read(args: &[String]) -> i32 {
    let usage = "Usage: consul acl role read [options] ROLE";
    let f: ReadFlags = match goflags::parse("read", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let (id, name) = (
        f.id.clone().unwrap_or_default(),
        f.name.clone().unwrap_or_default(),
    );
    if id.is_empty() && name.is_empty() {
        return finish(Err("Must specify either the -id or -name parameters".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = async {
            let q = QueryOptions::default();
            let role = if !id.is_empty() {
                let id = helpers::role_id(&client, &id)
                    .await
                    .map_err(|e| format!("Error determining role ID: {e}"))?;
                client
                    .acl_role_read(&id, &q)
                    .await
                    .map_err(|e| format!("Error reading role {}: {e}", quote(&id)))?
                    .0
                    .ok_or_else(|| format!("Role not found with ID {}", quote(&id)))?
            } else {
                client
                    .acl_role_read_by_name(&name, &q)
                    .await
                    .map_err(|e| format!("Error reading role {}: {e}", quote(&name)))?
                    .0
                    .ok_or_else(|| format!("Role not found with name {}", quote(&name)))?
            };
            show(&role, &f.format, f.meta)
        };
        finish(result.await)
    })
}

#[derive(Parser, Debug)]
struct UpdateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the role's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// The ID (or a unique prefix) of the role to update.
    #[arg(long)]
    id: Option<String>,
    /// The role's new name.
    #[arg(long)]
    name: Option<String>,
    /// The role's new description.
    #[arg(long)]
    description: Option<String>,
    /// ID (or unique prefix) of a policy to link (repeatable).
    #[arg(long = "policy-id")]
    policy_id: Vec<String>,
    /// Name of a policy to link (repeatable).
    #[arg(long = "policy-name")]
    policy_name: Vec<String>,
    /// A service identity, `NAME` or `NAME:DC1,DC2` (repeatable).
    #[arg(long = "service-identity")]
    service_identity: Vec<String>,
    /// A node identity, `NAME:DC` (repeatable).
    #[arg(long = "node-identity")]
    node_identity: Vec<String>,
    /// Overwrite every field with the flags instead of merging them into the current role.
    #[arg(long = "no-merge")]
    no_merge: bool,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    /// A templated policy variable `NAME:VALUE` (repeatable).
    #[arg(long = "var")]
    var: Vec<String>,
    /// A templated policy to add to the role's (variables from -var).
    #[arg(long = "append-templated-policy")]
    append_templated_policy: Option<String>,
    /// A templated policy replacing the role's (variables from -var).
    #[arg(long = "replace-templated-policy")]
    replace_templated_policy: Option<String>,
    /// A file of templated policies to add to the role's.
    #[arg(long = "append-templated-policy-file")]
    append_templated_policy_file: Option<String>,
    /// A file of templated policies replacing the role's.
    #[arg(long = "replace-templated-policy-file")]
    replace_templated_policy_file: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl role update`.
pub fn run_update(args: &[String]) -> i32 {
    let usage = "Usage: consul acl role update [options]";
    let f: UpdateFlags = match goflags::parse("update", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Some(partial) = f.id.clone().filter(|i| !i.is_empty()) else {
        return finish(Err(
            "Cannot update a role without specifying the -id parameter".into(),
        ));
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move { finish(update(&f, &client, &partial).await) })
}

fn s(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or_default()
}

async fn update(f: &UpdateFlags, client: &Client, partial: &str) -> Result<String, String> {
    let id = helpers::role_id(client, partial)
        .await
        .map_err(|e| format!("Error determining role ID: {e}"))?;
    let services = helpers::service_identities(&f.service_identity)?;
    let nodes = helpers::node_identities(&f.node_identity)?;
    let append_tp =
        !s(&f.append_templated_policy).is_empty() || !s(&f.append_templated_policy_file).is_empty();
    let replace_tp = !s(&f.replace_templated_policy).is_empty()
        || !s(&f.replace_templated_policy_file).is_empty();
    if append_tp && replace_tp {
        return Err("Cannot combine the use of append-templated-policy flags with replace-templated-policy. To set or overwrite existing templated policies, use -replace-templated-policy or -replace-templated-policy-file. To append to existing templated policies, use -append-templated-policy or -append-templated-policy-file.".into());
    }
    let templated = if append_tp {
        helpers::templated_policies(
            s(&f.append_templated_policy),
            s(&f.append_templated_policy_file),
            &f.var,
        )?
    } else {
        helpers::templated_policies(
            s(&f.replace_templated_policy),
            s(&f.replace_templated_policy_file),
            &f.var,
        )?
    };
    let current = client
        .acl_role_read(&id, &QueryOptions::default())
        .await
        .map_err(|e| format!("Error when retrieving current role: {e}"))?
        .0
        .ok_or_else(|| format!("Role not found with ID {}", quote(&id)))?;
    let mut links = Vec::new();
    policy_links(client, &f.policy_name, &f.policy_id, &mut links).await?;
    let role = if f.no_merge {
        AclRole {
            id: id.clone(),
            name: f.name.clone().unwrap_or_default(),
            description: f.description.clone().unwrap_or_default(),
            policies: links,
            service_identities: services,
            node_identities: nodes,
            templated_policies: templated,
            ..Default::default()
        }
    } else {
        let mut r = current;
        if let Some(n) = f.name.as_deref().filter(|n| !n.is_empty()) {
            r.name = n.to_string();
        }
        if let Some(d) = f.description.as_deref().filter(|d| !d.is_empty()) {
            r.description = d.to_string();
        }
        for l in links {
            let found = r.policies.iter().any(|e| {
                if l.id.is_empty() {
                    e.name == l.name
                } else {
                    e.id == l.id
                }
            });
            if !found {
                r.policies.push(l);
            }
        }
        for svc in services {
            match r
                .service_identities
                .iter_mut()
                .find(|e| e.service_name == svc.service_name)
            {
                Some(e) => *e = svc,
                None => r.service_identities.push(svc),
            }
        }
        for n in nodes {
            if !r.node_identities.contains(&n) {
                r.node_identities.push(n);
            }
        }
        if replace_tp {
            r.templated_policies = templated;
        } else {
            r.templated_policies.extend(templated);
        }
        r
    };
    let r = client
        .acl_role_update(&role)
        .await
        .map_err(|e| format!("Error updating role {}: {e}", quote(&id)))?;
    show(&r, &f.format, f.meta)
}

#[derive(Parser, Debug)]
struct DeleteFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// The ID (or a unique prefix) of the role to delete.
    #[arg(long)]
    id: Option<String>,
    /// The name of the role to delete.
    #[arg(long)]
    name: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl role delete`.
pub fn run_delete(args: &[String]) -> i32 {
    let usage = "Usage: consul acl role delete [options] -id ROLE";
    let f: DeleteFlags = match goflags::parse("delete", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let (id, name) = (
        f.id.clone().unwrap_or_default(),
        f.name.clone().unwrap_or_default(),
    );
    if id.is_empty() && name.is_empty() {
        return finish(Err("Must specify the -id or -name parameters".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = async {
            let id = if !id.is_empty() {
                helpers::role_id(&client, &id).await
            } else {
                helpers::role_id_by_name(&client, &name).await
            }
            .map_err(|e| format!("Error determining role ID: {e}"))?;
            client
                .acl_role_delete(&id)
                .await
                .map_err(|e| format!("Error deleting role {}: {e}", quote(&id)))?;
            Ok(format!("Role {} deleted successfully", quote(&id)))
        };
        finish(result.await)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn checks_before_any_request() {
        assert_eq!(run_create(&sv(&["-policy-name=p"])), 1);
        assert_eq!(run_create(&sv(&["-name=r"])), 1);
        assert_eq!(run_read(&[]), 1);
        assert_eq!(run_update(&sv(&["-name=x"])), 1);
        assert_eq!(run_delete(&[]), 1);
    }
}
