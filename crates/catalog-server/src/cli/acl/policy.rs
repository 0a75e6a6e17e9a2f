//! `consul acl policy create|list|read|update|delete`. Policies are named by `-id` (a unique
//! prefix, or a builtin policy's name) or `-name`; `-rules` takes `@file`, `-` or the text.

use super::super::goflags;
use super::super::http::{client_or_exit, HttpFlags};
use super::{finish, format, help_to_stderr, helpers, quote, render, Tenancy};
use api_types::acl::AclPolicy;
use api_types::client::{Client, QueryOptions};
use clap::Parser;

fn show(p: &AclPolicy, fmt: &str, meta: bool) -> Result<String, String> {
    render(fmt, &format::GoPolicy::new(p), || {
        format::policy_pretty(p, meta)
    })
}

#[derive(Parser, Debug)]
struct CreateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the policy's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// The new policy's name (required).
    #[arg(long)]
    name: Option<String>,
    /// The policy's description.
    #[arg(long)]
    description: Option<String>,
    /// A datacenter the policy is valid in (repeatable; all when not given).
    #[arg(long = "valid-datacenter")]
    valid_datacenter: Vec<String>,
    /// The policy's rules: the text, `@file` to read them from a file, or `-` for stdin.
    #[arg(long)]
    rules: Option<String>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl policy create`.
pub fn run_create(args: &[String]) -> i32 {
    let usage = "Usage: consul acl policy create -name NAME [options]";
    let f: CreateFlags = match goflags::parse("create", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let name = f.name.clone().unwrap_or_default();
    if name.is_empty() {
        eprintln!("Missing required '-name' flag");
        help_to_stderr::<CreateFlags>("create", usage);
        return 1;
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    let rules = match helpers::load_data_source(f.rules.as_deref().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => return finish(Err(format!("Error loading rules: {e}"))),
    };
    let policy = AclPolicy {
        name,
        description: f.description.clone().unwrap_or_default(),
        datacenters: f.valid_datacenter.clone(),
        rules,
        ..Default::default()
    };
    super::super::block_on(async move {
        finish(match client.acl_policy_create(&policy).await {
            Ok(p) => show(&p, &f.format, f.meta),
            Err(e) => Err(format!("Failed to create new policy: {e}")),
        })
    })
}

#[derive(Parser, Debug)]
struct ListFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show each policy's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl policy list`.
pub fn run_list(args: &[String]) -> i32 {
    let usage = "Usage: consul acl policy list [options]";
    let f: ListFlags = match goflags::parse("list", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        finish(
            match client.acl_policy_list(&QueryOptions::default()).await {
                Ok((list, _)) => {
                    let json: Vec<_> = list.iter().map(format::GoPolicyStub::new).collect();
                    render(&f.format, &json, || {
                        format::policy_list_pretty(&list, f.meta)
                    })
                }
                Err(e) => Err(format!("Failed to retrieve the policy list: {e}")),
            },
        )
    })
}

#[derive(Parser, Debug)]
struct ReadFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the policy's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// The ID (or a unique prefix) of the policy to read.
    #[arg(long)]
    id: Option<String>,
    /// The name of the policy to read.
    #[arg(long)]
    name: Option<String>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl policy read`.
pub fn run_read(args: &[String]) -> i32 {
    let usage = "Usage: consul acl policy read [options] POLICY";
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
    super::super::block_on(async move { finish(read(&f, &client, &id, &name).await) })
}

async fn read(f: &ReadFlags, client: &Client, id: &str, name: &str) -> Result<String, String> {
    let policy = if !id.is_empty() {
        let id = helpers::policy_id(client, id)
            .await
            .map_err(|e| format!("Error determining policy ID: {e}"))?;
        client
            .acl_policy_read(&id, &QueryOptions::default())
            .await
            .map(|(p, _)| Some(p))
            .map_err(|e| format!("Error reading policy {}: {e}", quote(&format!("id:{id}"))))?
    } else {
        helpers::policy_by_name(client, name).await.map_err(|e| {
            format!(
                "Error reading policy {}: {e}",
                quote(&format!("name:{name}"))
            )
        })?
    };
    let Some(policy) = policy else {
        return Err(format!("Error policy not found: {name}"));
    };
    show(&policy, &f.format, f.meta)
}

#[derive(Parser, Debug)]
struct UpdateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the policy's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// The ID (or a unique prefix) of the policy to update.
    #[arg(long)]
    id: Option<String>,
    /// The policy's name (names the policy to update when -id is not given).
    #[arg(long)]
    name: Option<String>,
    /// The policy's description.
    #[arg(long)]
    description: Option<String>,
    /// A datacenter the policy is valid in (repeatable).
    #[arg(long = "valid-datacenter")]
    valid_datacenter: Vec<String>,
    /// The policy's rules: the text, `@file`, or `-` for stdin.
    #[arg(long)]
    rules: Option<String>,
    /// Overwrite every field with the flags instead of merging them into the current policy.
    #[arg(long = "no-merge")]
    no_merge: bool,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl policy update`.
pub fn run_update(args: &[String]) -> i32 {
    let usage = "Usage: consul acl policy update [options]";
    let f: UpdateFlags = match goflags::parse("update", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if f.id.as_deref().unwrap_or_default().is_empty()
        && f.name.as_deref().unwrap_or_default().is_empty()
    {
        return finish(Err("Must specify either the -id or -name parameters".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move { finish(update(&f, &client).await) })
}

async fn update(f: &UpdateFlags, client: &Client) -> Result<String, String> {
    let name = f.name.clone().unwrap_or_default();
    let id = match f.id.as_deref().filter(|i| !i.is_empty()) {
        Some(partial) => helpers::policy_id(client, partial).await,
        None => helpers::policy_id_by_name(client, &name).await,
    }
    .map_err(|e| format!("Error determining policy ID: {e}"))?;
    let rules = helpers::load_data_source(f.rules.as_deref().unwrap_or_default())
        .map_err(|e| format!("Error loading data source: {e}"))?;
    let updated = if f.no_merge {
        AclPolicy {
            id: id.clone(),
            name,
            description: f.description.clone().unwrap_or_default(),
            datacenters: f.valid_datacenter.clone(),
            rules,
            ..Default::default()
        }
    } else {
        let (p, _) = client
            .acl_policy_read(&id, &QueryOptions::default())
            .await
            .map_err(|e| format!("Error reading policy {}: {e}", quote(&id)))?;
        AclPolicy {
            id: id.clone(),
            name: f.name.clone().unwrap_or(p.name),
            description: f.description.clone().unwrap_or(p.description),
            datacenters: if f.valid_datacenter.is_empty() {
                p.datacenters
            } else {
                f.valid_datacenter.clone()
            },
            rules: if f.rules.is_some() { rules } else { p.rules },
            ..Default::default()
        }
    };
    let p = client
        .acl_policy_update(&updated)
        .await
        .map_err(|e| format!("Error updating policy {}: {e}", quote(&id)))?;
    show(&p, &f.format, f.meta)
}

#[derive(Parser, Debug)]
struct DeleteFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// The ID (or a unique prefix) of the policy to delete.
    #[arg(long)]
    id: Option<String>,
    /// The name of the policy to delete.
    #[arg(long)]
    name: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl policy delete`.
pub fn run_delete(args: &[String]) -> i32 {
    let usage = "Usage: consul acl policy delete [options] -id POLICY";
    let f: DeleteFlags = match goflags::parse("delete", usage, args) {
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
            let id = if !id.is_empty() {
                helpers::policy_id(&client, &id).await
            } else {
                helpers::policy_id_by_name(&client, &name).await
            }
            .map_err(|e| format!("Error determining policy ID: {e}"))?;
            client
                .acl_policy_delete(&id)
                .await
                .map_err(|e| format!("Error deleting policy {}: {e}", quote(&id)))?;
            Ok(format!("Policy {} deleted successfully", quote(&id)))
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
        assert_eq!(run_create(&sv(&["-rules=x"])), 1);
        assert_eq!(run_read(&[]), 1);
        assert_eq!(run_update(&[]), 1);
        assert_eq!(run_delete(&[]), 1);
        assert_eq!(run_list(&sv(&["-partition=p"])), 1);
    }
}
