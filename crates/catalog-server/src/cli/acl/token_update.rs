//! `consul acl token update`: reads the token, applies the flags as Consul does, writes it
//! back. `-policy-*` / `-role-*` replace the links and their `-append-*` variants add to them
//! (the deprecated `-merge-policies` / `-merge-roles` make the plain flags add);
//! `-service-identity` / `-node-identity` replace the identities — also when not given, as in
//! Consul — unless `-append-*` or `-merge-*-identities`; templated policies are kept unless
//! `-replace-templated-policy*`.

use super::super::goflags;
use super::super::http::{client_or_exit, HttpFlags};
use super::token::{accessor_flag, policy_links, role_links, show};
use super::{finish, helpers, Tenancy};
use api_types::acl::{AclLink, AclToken, NodeIdentity, ServiceIdentity};
use api_types::client::{Client, QueryOptions};
use clap::Parser;

#[derive(Parser, Debug)]
struct UpdateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Also show the token's hash and Raft indexes.
    #[arg(long)]
    meta: bool,
    /// The accessor ID (or a unique prefix) of the token to update.
    #[arg(long = "accessor-id")]
    accessor_id: Option<String>,
    /// A new description (the old one is kept when not given).
    #[arg(long)]
    description: Option<String>,
    /// ID (or unique prefix) of a policy to link, replacing the token's policies (repeatable).
    #[arg(long = "policy-id")]
    policy_id: Vec<String>,
    /// ID (or unique prefix) of a policy to add to the token's policies (repeatable).
    #[arg(long = "append-policy-id")]
    append_policy_id: Vec<String>,
    /// Name of a policy to link, replacing the token's policies (repeatable).
    #[arg(long = "policy-name")]
    policy_name: Vec<String>,
    /// Name of a policy to add to the token's policies (repeatable).
    #[arg(long = "append-policy-name")]
    append_policy_name: Vec<String>,
    /// ID (or unique prefix) of a role to link, replacing the token's roles (repeatable).
    #[arg(long = "role-id")]
    role_id: Vec<String>,
    /// Name of a role to link, replacing the token's roles (repeatable).
    #[arg(long = "role-name")]
    role_name: Vec<String>,
    /// ID (or unique prefix) of a role to add to the token's roles (repeatable).
    #[arg(long = "append-role-id")]
    append_role_id: Vec<String>,
    /// Name of a role to add to the token's roles (repeatable).
    #[arg(long = "append-role-name")]
    append_role_name: Vec<String>,
    /// A service identity `NAME[:DC1,DC2]`, replacing the token's (repeatable).
    #[arg(long = "service-identity")]
    service_identity: Vec<String>,
    /// A service identity `NAME[:DC1,DC2]` to add to the token's (repeatable).
    #[arg(long = "append-service-identity")]
    append_service_identity: Vec<String>,
    /// A node identity `NAME:DC`, replacing the token's (repeatable).
    #[arg(long = "node-identity")]
    node_identity: Vec<String>,
    /// A node identity `NAME:DC` to add to the token's (repeatable).
    #[arg(long = "append-node-identity")]
    append_node_identity: Vec<String>,
    /// A templated policy variable `NAME:VALUE` (repeatable).
    #[arg(long = "var")]
    var: Vec<String>,
    /// A templated policy to add to the token's (variables from -var).
    #[arg(long = "append-templated-policy")]
    append_templated_policy: Option<String>,
    /// A templated policy replacing the token's (variables from -var).
    #[arg(long = "replace-templated-policy")]
    replace_templated_policy: Option<String>,
    /// A file of templated policies to add to the token's.
    #[arg(long = "append-templated-policy-file")]
    append_templated_policy_file: Option<String>,
    /// A file of templated policies replacing the token's.
    #[arg(long = "replace-templated-policy-file")]
    replace_templated_policy_file: Option<String>,
    /// Output format {pretty|json}.
    #[arg(long, default_value = "pretty")]
    format: String,
    /// Deprecated: use -accessor-id.
    #[arg(long)]
    id: Option<String>,
    /// Deprecated: use -append-policy-id or -append-policy-name.
    #[arg(long = "merge-policies")]
    merge_policies: bool,
    /// Deprecated: use -append-role-id or -append-role-name.
    #[arg(long = "merge-roles")]
    merge_roles: bool,
    /// Deprecated: use -append-service-identity.
    #[arg(long = "merge-service-identities")]
    merge_service_identities: bool,
    /// Deprecated: use -append-node-identity.
    #[arg(long = "merge-node-identities")]
    merge_node_identities: bool,
    args: Vec<String>,
}

fn s(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or_default()
}

/// Runs `consul acl token update`.
pub fn run_update(args: &[String]) -> i32 {
    let usage = "Usage: consul acl token update [options]";
    let f: UpdateFlags = match goflags::parse("update", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let partial = match accessor_flag(
        &f.accessor_id,
        &f.id,
        "Cannot update a token without specifying the -accessor-id parameter",
        "Use the -accessor-id parameter to specify token by Accessor ID",
    ) {
        Ok(p) => p,
        Err(e) => return finish(Err(e)),
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move { finish(update(&f, &client, &partial).await) })
}

/// Adds `links` not yet in `existing` (by name for named links, by ID for the others).
fn merge_links(existing: &mut Vec<AclLink>, links: Vec<AclLink>) {
    for l in links {
        let found = existing.iter().any(|e| {
            if l.id.is_empty() {
                e.name == l.name
            } else {
                e.id == l.id
            }
        });
        if !found {
            existing.push(l);
        }
    }
}

/// Adds service identities, replacing one of the same name.
fn merge_services(existing: &mut Vec<ServiceIdentity>, add: Vec<ServiceIdentity>) {
    for s in add {
        match existing
            .iter_mut()
            .find(|e| e.service_name == s.service_name)
        {
            Some(e) => *e = s,
            None => existing.push(s),
        }
    }
}

/// Adds node identities not already there.
fn merge_nodes(existing: &mut Vec<NodeIdentity>, add: Vec<NodeIdentity>) {
    for n in add {
        if !existing.contains(&n) {
            existing.push(n);
        }
    }
}

/// Policy or role links: `(plain names, plain IDs, append names, append IDs)` per Consul's rules.
struct LinkFlags<'a> {
    names: &'a [String],
    ids: &'a [String],
    append_names: &'a [String],
    append_ids: &'a [String],
    merge: bool,
}

async fn apply_links(
    client: &Client,
    l: LinkFlags<'_>,
    existing: &mut Vec<AclLink>,
    policies: bool,
    conflict: &str,
) -> Result<(), String> {
    let resolve = |names: &[String], ids: &[String]| {
        let (names, ids) = (names.to_vec(), ids.to_vec());
        async move {
            let mut out = Vec::new();
            if policies {
                policy_links(client, &names, &ids, &mut out).await?;
            } else {
                role_links(client, &names, &ids, &mut out).await?;
            }
            Ok::<_, String>(out)
        }
    };
    if l.merge {
        let add = resolve(l.names, l.ids).await?;
        merge_links(existing, add);
        return Ok(());
    }
    let plain = !l.names.is_empty() || !l.ids.is_empty();
    let append = !l.append_names.is_empty() || !l.append_ids.is_empty();
    if plain && append {
        return Err(conflict.to_string());
    }
    if plain {
        *existing = resolve(l.names, l.ids).await?;
    } else {
        let add = resolve(l.append_names, l.append_ids).await?;
        existing.extend(add);
    }
    Ok(())
}

async fn update(f: &UpdateFlags, client: &Client, partial: &str) -> Result<String, String> {
    let id = helpers::token_accessor(client, partial)
        .await
        .map_err(|e| format!("Error determining token ID: {e}"))?;
    let (mut t, _): (AclToken, _) = client
        .acl_token_read(&id, &QueryOptions::default())
        .await
        .map_err(|e| format!("Error when retrieving current token: {e}"))?;
    if let Some(d) = f.description.as_deref().filter(|d| !d.is_empty()) {
        t.description = d.to_string();
    }

    let append_services = !f.append_service_identity.is_empty();
    if append_services && !f.service_identity.is_empty() {
        return Err("Cannot combine the use of service-identity flag with append-service-identity. To set or overwrite existing service identities, use -service-identity. To append to existing service identities, use -append-service-identity.".into());
    }
    let services = helpers::service_identities(if append_services {
        &f.append_service_identity
    } else {
        &f.service_identity
    })?;
    let append_nodes = !f.append_node_identity.is_empty();
    if append_nodes && !f.node_identity.is_empty() {
        return Err("Cannot combine the use of node-identity flag with append-node-identity. To set or overwrite existing node identities, use -node-identity. To append to existing node identities, use -append-node-identity.".into());
    }
    let nodes = helpers::node_identities(if append_nodes {
        &f.append_node_identity
    } else {
        &f.node_identity
    })?;

    let append_tp =
        !s(&f.append_templated_policy).is_empty() || !s(&f.append_templated_policy_file).is_empty();
    let replace_tp = !s(&f.replace_templated_policy).is_empty()
        || !s(&f.replace_templated_policy_file).is_empty();
    if append_tp && replace_tp {
        return Err("Cannot combine the use of -append-templated-policy flags with replace-templated-policy. To set or overwrite existing templated policies, use -replace-templated-policy or -replace-templated-policy-file. To append to existing templated policies, use -append-templated-policy or -append-templated-policy-file.".into());
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

    if f.merge_policies {
        eprintln!("merge-policies is deprecated and will be removed in a future Consul version. Use `append-policy-name` or `append-policy-id` instead.");
    }
    let policies = LinkFlags {
        names: &f.policy_name,
        ids: &f.policy_id,
        append_names: &f.append_policy_name,
        append_ids: &f.append_policy_id,
        merge: f.merge_policies,
    };
    apply_links(client, policies, &mut t.policies, true, "Cannot combine the use of policy-id/policy-name flags with append- variants. To set or overwrite existing policies, use -policy-id or -policy-name. To append to existing policies, use -append-policy-id or -append-policy-name.").await?;
    if f.merge_roles {
        eprintln!("merge-roles is deprecated and will be removed in a future Consul version. Use `append-role-name` or `append-role-id` instead.");
    }
    let roles = LinkFlags {
        names: &f.role_name,
        ids: &f.role_id,
        append_names: &f.append_role_name,
        append_ids: &f.append_role_id,
        merge: f.merge_roles,
    };
    apply_links(client, roles, &mut t.roles, false, "Cannot combine the use of role-id/role-name flags with append- variants. To set or overwrite existing roles, use -role-id or -role-name. To append to existing roles, use -append-role-id or -append-role-name.").await?;

    if f.merge_service_identities || append_services {
        merge_services(&mut t.service_identities, services);
    } else {
        t.service_identities = services;
    }
    if f.merge_node_identities || append_nodes {
        merge_nodes(&mut t.node_identities, nodes);
    } else {
        t.node_identities = nodes;
    }
    if replace_tp {
        t.templated_policies = templated;
    } else {
        t.templated_policies.extend(templated);
    }

    let t = client
        .acl_token_update(&t)
        .await
        .map_err(|e| format!("Failed to update token {id}: {e}"))?;
    show(&t, &f.format, f.meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: &str, name: &str) -> AclLink {
        AclLink {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn merges_like_consul() {
        let mut l = vec![link("1", "a")];
        merge_links(&mut l, vec![link("", "a"), link("1", ""), link("", "b")]);
        assert_eq!(l, vec![link("1", "a"), link("", "b")]);
        let mut s = vec![ServiceIdentity {
            service_name: "web".into(),
            datacenters: vec![],
        }];
        merge_services(
            &mut s,
            vec![ServiceIdentity {
                service_name: "web".into(),
                datacenters: vec!["dc1".into()],
            }],
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].datacenters, vec!["dc1".to_string()]);
    }

    #[test]
    fn needs_an_accessor() {
        assert_eq!(run_update(&["-description=x".to_string()]), 1);
    }
}
