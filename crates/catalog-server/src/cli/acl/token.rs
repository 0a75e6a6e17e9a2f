//! `consul acl token create|list|read|delete|clone` (`update` is in [`super::token_update`]).
//! Tokens are named by accessor ID or a unique prefix of it (`-accessor-id`, or the deprecated
//! `-id` with a warning).

use super::super::goflags;
use super::super::http::{client_or_exit, HttpFlags};
use super::{finish, format, helpers, quote, render, Tenancy};
use api_types::acl::{AclLink, AclToken};
use api_types::client::{Client, QueryOptions};
use clap::Parser;

/// Parses a Go duration flag value (`-expires-ttl=1h`).
pub fn go_duration(s: &str) -> Result<i64, String> {
    api_types::parse_go_duration(s).map_err(|e| e.to_string())
}

/// Prints `token` (or the `-format` error) the way every token command does.
pub fn show(token: &AclToken, fmt: &str, meta: bool) -> Result<String, String> {
    render(fmt, &format::GoToken::new(token, false), || {
        format::token_pretty(token, meta)
    })
}

/// Policy links for `-policy-name`s (resolved by the server) then `-policy-id`s (prefixes
/// resolved here), appended to `out`.
pub async fn policy_links(
    client: &Client,
    names: &[String],
    ids: &[String],
    out: &mut Vec<AclLink>,
) -> Result<(), String> {
    for name in names {
        out.push(AclLink {
            id: String::new(),
            name: name.clone(),
        });
    }
    for partial in ids {
        let id = helpers::policy_id(client, partial)
            .await
            .map_err(|e| format!("Error resolving policy ID {partial}: {e}"))?;
        out.push(AclLink {
            id,
            name: String::new(),
        });
    }
    Ok(())
}

/// Role links for `-role-name`s then `-role-id`s, appended to `out`.
pub async fn role_links(
    client: &Client,
    names: &[String],
    ids: &[String],
    out: &mut Vec<AclLink>,
) -> Result<(), String> {
    for name in names {
        out.push(AclLink {
            id: String::new(),
            name: name.clone(),
        });
    }
    for partial in ids {
        let id = helpers::role_id(client, partial)
            .await
            .map_err(|e| format!("Error resolving role ID {partial}: {e}"))?;
        out.push(AclLink {
            id,
            name: String::new(),
        });
    }
    Ok(())
}

#[derive(Parser, Debug)]
struct CreateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// The new token's accessor ID (a UUID); generated when not given.
    #[arg(long)]
    accessor: Option<String>,
    /// The new token's secret ID (a UUID); generated when not given.
    #[arg(long)]
    secret: Option<String>,
    /// Also show the token's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// Make the token local to this datacenter.
    #[arg(long)]
    local: bool,
    /// The token's description.
    #[arg(long)]
    description: Option<String>,
    /// ID (or unique prefix) of a policy to link (repeatable).
    #[arg(long = "policy-id")]
    policy_id: Vec<String>,
    /// Name of a policy to link (repeatable).
    #[arg(long = "policy-name")]
    policy_name: Vec<String>,
    /// ID (or unique prefix) of a role to link (repeatable).
    #[arg(long = "role-id")]
    role_id: Vec<String>,
    /// Name of a role to link (repeatable).
    #[arg(long = "role-name")]
    role_name: Vec<String>,
    /// A service identity, `NAME` or `NAME:DC1,DC2` (repeatable).
    #[arg(long = "service-identity")]
    service_identity: Vec<String>,
    /// A node identity, `NAME:DC` (repeatable).
    #[arg(long = "node-identity")]
    node_identity: Vec<String>,
    /// How long the token stays valid (a Go duration such as `1h`).
    #[arg(long = "expires-ttl", value_parser = go_duration)]
    expires_ttl: Option<i64>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    /// A templated policy variable `NAME:VALUE` for -templated-policy (repeatable).
    #[arg(long = "var")]
    var: Vec<String>,
    /// The name of a templated policy to link (its variables from -var).
    #[arg(long = "templated-policy")]
    templated_policy: Option<String>,
    /// A file of `TemplatedPolicy "NAME" { Name = "..." }` blocks to link.
    #[arg(long = "templated-policy-file")]
    templated_policy_file: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl token create`.
pub fn run_create(args: &[String]) -> i32 {
    let usage = "Usage: consul acl token create [options]";
    let f: CreateFlags = match goflags::parse("create", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let tp = f.templated_policy.clone().unwrap_or_default();
    let tp_file = f.templated_policy_file.clone().unwrap_or_default();
    if f.policy_name.is_empty()
        && f.policy_id.is_empty()
        && f.role_name.is_empty()
        && f.role_id.is_empty()
        && f.service_identity.is_empty()
        && f.node_identity.is_empty()
        && tp.is_empty()
        && tp_file.is_empty()
    {
        return finish(Err("Cannot create a token without specifying -policy-name, -policy-id, -role-name, -role-id, -service-identity, -node-identity, -templated-policy, or -templated-policy-file at least once".into()));
    }
    if !tp.is_empty() && !tp_file.is_empty() {
        return finish(Err("Cannot combine the use of templated-policy flag with templated-policy-file. To create a token with a single templated policy and simple use case, use -templated-policy. For multiple templated policies and more complicated use cases, use -templated-policy-file".into()));
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
    let mut token = AclToken {
        description: f.description.clone().unwrap_or_default(),
        local: f.local,
        accessor_id: f.accessor.clone().unwrap_or_default(),
        secret_id: f.secret.clone().unwrap_or_default(),
        ..Default::default()
    };
    if let Some(ns) = f.expires_ttl.filter(|ns| *ns > 0) {
        token.expiration_ttl = api_types::format_go_duration(ns);
    }
    token.service_identities = helpers::service_identities(&f.service_identity)?;
    token.node_identities = helpers::node_identities(&f.node_identity)?;
    token.templated_policies = helpers::templated_policies(tp, tp_file, &f.var)?;
    policy_links(client, &f.policy_name, &f.policy_id, &mut token.policies).await?;
    role_links(client, &f.role_name, &f.role_id, &mut token.roles).await?;
    let t = client
        .acl_token_create(&token)
        .await
        .map_err(|e| format!("Failed to create new token: {e}"))?;
    show(&t, &f.format, f.meta)
}

#[derive(Parser, Debug)]
struct ListFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show each token's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl token list`.
pub fn run_list(args: &[String]) -> i32 {
    let usage = "Usage: consul acl token list [options]";
    let f: ListFlags = match goflags::parse("list", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = match client.acl_token_list(&QueryOptions::default()).await {
            Ok((tokens, _)) => {
                let json: Vec<_> = tokens
                    .iter()
                    .map(|t| format::GoToken::new(t, true))
                    .collect();
                render(&f.format, &json, || {
                    format::token_list_pretty(&tokens, f.meta)
                })
            }
            Err(e) => Err(format!("Failed to retrieve the token list: {e}")),
        };
        finish(result)
    })
}

/// `-accessor-id`, else the deprecated `-id` (with `warning` on stderr), else `missing`.
pub fn accessor_flag(
    accessor_id: &Option<String>,
    id: &Option<String>,
    missing: &str,
    warning: &str,
) -> Result<String, String> {
    if let Some(a) = accessor_id.as_deref().filter(|a| !a.is_empty()) {
        return Ok(a.to_string());
    }
    match id.as_deref().filter(|i| !i.is_empty()) {
        Some(i) => {
            eprintln!("{warning}");
            Ok(i.to_string())
        }
        None => Err(missing.to_string()),
    }
}

#[derive(Parser, Debug)]
struct ReadFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the token's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// Read the token the request is made with (by its secret) instead of -accessor-id.
    #[arg(long = "self")]
    self_: bool,
    /// Also show the policies and roles that affect the token.
    #[arg(long, help_heading = goflags::REFUSED)]
    expanded: bool,
    /// The accessor ID (or a unique prefix) of the token to read.
    #[arg(long = "accessor-id")]
    accessor_id: Option<String>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    /// Deprecated: use -accessor-id.
    #[arg(long)]
    id: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl token read`.
pub fn run_read(args: &[String]) -> i32 {
    let usage = "Usage: consul acl token read [options] -accessor-id TOKENID";
    let f: ReadFlags = match goflags::parse("read", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move { finish(read(&f, &client).await) })
}

async fn read(f: &ReadFlags, client: &Client) -> Result<String, String> {
    let q = QueryOptions::default();
    let token = if f.self_ {
        client
            .acl_token_read_self(&q)
            .await
            .map_err(|e| format!("Error reading token: {e}"))?
            .0
    } else {
        let partial = accessor_flag(
            &f.accessor_id,
            &f.id,
            "Must specify the -accessor-id parameter",
            "Use the -accessor-id parameter to specify token by Accessor ID",
        )?;
        let id = helpers::token_accessor(client, &partial)
            .await
            .map_err(|e| format!("Error determining token ID: {e}"))?;
        client
            .acl_token_read(&id, &q)
            .await
            .map_err(|e| format!("Error reading token {}: {e}", quote(&id)))?
            .0
    };
    show(&token, &f.format, f.meta)
}

#[derive(Parser, Debug)]
struct DeleteFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// The accessor ID (or a unique prefix) of the token to delete.
    #[arg(long = "accessor-id")]
    accessor_id: Option<String>,
    /// Deprecated: use -accessor-id.
    #[arg(long)]
    id: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl token delete`.
pub fn run_delete(args: &[String]) -> i32 {
    let usage = "Usage: consul acl token delete [options] -accessor-id TOKEN";
    let f: DeleteFlags = match goflags::parse("delete", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let partial = match accessor_flag(
        &f.accessor_id,
        &f.id,
        "Must specify the -accessor-id parameter",
        "Use the -accessor-id parameter to specify token by Accessor ID.",
    ) {
        Ok(p) => p,
        Err(e) => return finish(Err(e)),
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = async {
            let id = helpers::token_accessor(&client, &partial)
                .await
                .map_err(|e| format!("Error determining token ID: {e}"))?;
            client
                .acl_token_delete(&id)
                .await
                .map_err(|e| format!("Error deleting token {}: {e}", quote(&id)))?;
            Ok(format!("Token {} deleted successfully", quote(&id)))
        };
        finish(result.await)
    })
}

#[derive(Parser, Debug)]
struct CloneFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// The accessor ID (or a unique prefix, or `anonymous`) of the token to clone.
    #[arg(long = "accessor-id")]
    accessor_id: Option<String>,
    /// The description of the new token.
    #[arg(long)]
    description: Option<String>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    /// Deprecated: use -accessor-id.
    #[arg(long)]
    id: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl token clone`.
pub fn run_clone(args: &[String]) -> i32 {
    let usage = "Usage: consul acl token clone [options]";
    let f: CloneFlags = match goflags::parse("clone", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let partial = match accessor_flag(
        &f.accessor_id,
        &f.id,
        "Cannot update a token without specifying the -accessor-id parameter",
        "The -id parameter is deprecated. Use the -accessor-id parameter instead.",
    ) {
        Ok(p) => p,
        Err(e) => return finish(Err(e)),
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = async {
            let id = helpers::token_accessor(&client, &partial)
                .await
                .map_err(|e| format!("Error determining token Accessor ID: {e}"))?;
            let description = f.description.clone().unwrap_or_default();
            let t = client
                .acl_token_clone(&id, &description)
                .await
                .map_err(|e| format!("Error cloning token: {e}"))?;
            show(&t, &f.format, false)
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
        assert_eq!(run_create(&sv(&["-description=x"])), 1);
        assert_eq!(
            run_create(&sv(&["-templated-policy=a", "-templated-policy-file=b"])),
            1
        );
        assert_eq!(run_delete(&[]), 1);
        assert_eq!(run_clone(&[]), 1);
        assert_eq!(run_read(&sv(&["-expanded"])), 1);
        assert_eq!(run_list(&sv(&["-namespace=ns"])), 1);
        assert_eq!(run_create(&sv(&["-expires-ttl=soon"])), 1);
    }

    #[test]
    fn deprecated_id_still_names_the_token() {
        assert_eq!(
            accessor_flag(&None, &Some("abc".into()), "missing", "warn").expect("id"),
            "abc"
        );
        assert_eq!(
            accessor_flag(&Some("x".into()), &Some("abc".into()), "m", "w").expect("a"),
            "x"
        );
        assert_eq!(
            accessor_flag(&None, &None, "missing", "w").expect_err("none"),
            "missing"
        );
    }
}
