//! `consul acl binding-rule create|read|update|delete|list`, with Consul's messages and its
//! formatter (`command/acl/bindingrule`). Rules are named by `-id`, a full ID or a unique
//! prefix of one.

use super::super::goflags;
use super::super::http::{client_or_exit, HttpFlags};
use super::{finish, help_to_stderr, quote, render, Tenancy};
use api_types::acl::AclBindingRule;
use api_types::client::{Client, QueryOptions};
use clap::Parser;

/// Consul's pretty layout of one rule; `indent` for list entries (under `ID:`).
fn layout(r: &AclBindingRule, meta: bool, list: bool) -> String {
    let (pad, mut out) = if list {
        ("   ", format!("{}:\n", r.id))
    } else {
        ("", format!("ID:           {}\n", r.id))
    };
    for (label, value) in [
        ("AuthMethod:   ", &r.auth_method),
        ("Description:  ", &r.description),
        ("BindType:     ", &r.bind_type),
        ("BindName:     ", &r.bind_name),
        ("Selector:     ", &r.selector),
    ] {
        out.push_str(&format!("{pad}{label}{value}\n"));
    }
    if meta {
        out.push_str(&format!(
            "{pad}Create Index: {}\n{pad}Modify Index: {}\n",
            r.create_index, r.modify_index
        ));
    }
    out
}

pub fn rule_pretty(r: &AclBindingRule, meta: bool) -> String {
    layout(r, meta, false)
}

pub fn list_pretty(rules: &[AclBindingRule], meta: bool) -> String {
    rules.iter().map(|r| layout(r, meta, true)).collect()
}

fn show(r: &AclBindingRule, fmt: &str, meta: bool) -> Result<String, String> {
    render(fmt, r, || rule_pretty(r, meta))
}

/// Go's `GetBindingRuleIDFromPartial`: a full ID as it is, else the one rule it prefixes.
async fn rule_id(client: &Client, partial: &str) -> Result<String, String> {
    if partial.len() == 36 {
        return Ok(partial.to_string());
    }
    let (rules, _) = client
        .acl_binding_rule_list("", &QueryOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut found: Option<String> = None;
    for r in rules.iter().filter(|r| r.id.starts_with(partial)) {
        if found.is_some() {
            return Err("Partial rule ID is not unique".into());
        }
        found = Some(r.id.clone());
    }
    found.ok_or_else(|| format!("no such rule ID with prefix: {partial}: ACL not found"))
}

#[derive(Parser, Debug)]
struct CreateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Indicates that binding rule metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// The auth method's name for which this binding rule applies. This flag is required.
    #[arg(long)]
    method: Option<String>,
    /// A description of the binding rule.
    #[arg(long)]
    description: Option<String>,
    /// Selector is an expression that matches against verified identity attributes returned from the auth method during login.
    #[arg(long)]
    selector: Option<String>,
    /// Type of binding to perform ("service" or "role").
    #[arg(long = "bind-type", default_value = "service")]
    bind_type: String,
    /// Name to bind on match. Can use ${var} interpolation. This flag is required.
    #[arg(long = "bind-name")]
    bind_name: Option<String>,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

const CREATE_USAGE: &str = "Usage: consul acl binding-rule create [options]";

/// Runs `consul acl binding-rule create`.
pub fn run_create(args: &[String]) -> i32 {
    let f: CreateFlags = match goflags::parse("create", CREATE_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let missing = if text(&f.method).is_empty() {
        Some("-method")
    } else if f.bind_type.is_empty() {
        Some("-bind-type")
    } else if text(&f.bind_name).is_empty() {
        Some("-bind-name")
    } else {
        None
    };
    if let Some(flag) = missing {
        eprintln!("Missing required '{flag}' flag");
        help_to_stderr::<CreateFlags>("create", CREATE_USAGE);
        return 1;
    }
    let rule = AclBindingRule {
        description: text(&f.description),
        auth_method: text(&f.method),
        bind_type: f.bind_type.clone(),
        bind_name: text(&f.bind_name),
        selector: text(&f.selector),
        ..Default::default()
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        finish(match client.acl_binding_rule_create(&rule).await {
            Ok(r) => show(&r, &f.format, f.meta),
            Err(e) => Err(format!("Failed to create new binding rule: {e}")),
        })
    })
}

#[derive(Parser, Debug)]
struct UpdateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Indicates that binding rule metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// The ID of the binding rule to update. It may be specified as a unique ID prefix but will error if the prefix matches multiple binding rule IDs
    #[arg(long)]
    id: Option<String>,
    /// A description of the binding rule.
    #[arg(long)]
    description: Option<String>,
    /// Selector is an expression that matches against verified identity attributes returned from the auth method during login.
    #[arg(long)]
    selector: Option<String>,
    /// Type of binding to perform ("service" or "role").
    #[arg(long = "bind-type", default_value = "service")]
    bind_type: String,
    /// Name to bind on match. Can use ${var} interpolation. This flag is required.
    #[arg(long = "bind-name")]
    bind_name: Option<String>,
    /// Do not merge the current binding rule information with what is provided to the command. Instead overwrite all fields with the exception of the binding rule ID which is immutable.
    #[arg(long = "no-merge")]
    no_merge: bool,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

const UPDATE_USAGE: &str = "Usage: consul acl binding-rule update -id ID [options]";

/// Runs `consul acl binding-rule update`.
pub fn run_update(args: &[String]) -> i32 {
    let f: UpdateFlags = match goflags::parse("update", UPDATE_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let id = f.id.clone().unwrap_or_default();
    if id.is_empty() {
        return finish(Err(
            "Cannot update a binding rule without specifying the -id parameter".into(),
        ));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move { update(&f, &client, &id).await })
}

async fn update(f: &UpdateFlags, client: &Client, partial: &str) -> i32 {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let id = match rule_id(client, partial).await {
        Ok(id) => id,
        Err(e) => return finish(Err(format!("Error determining binding rule ID: {e}"))),
    };
    let current = match client
        .acl_binding_rule_read(&id, &QueryOptions::default())
        .await
    {
        Err(e) => {
            return finish(Err(format!(
                "Error when retrieving current binding rule: {e}"
            )))
        }
        Ok((None, _)) => {
            return finish(Err(format!(
                "Binding rule not found with ID {}",
                quote(&id)
            )))
        }
        Ok((Some(r), _)) => r,
    };
    let rule = if f.no_merge {
        let missing = if f.bind_type.is_empty() {
            Some("-bind-type")
        } else if text(&f.bind_name).is_empty() {
            Some("-bind-name")
        } else {
            None
        };
        if let Some(flag) = missing {
            eprintln!("Missing required '{flag}' flag");
            help_to_stderr::<UpdateFlags>("update", UPDATE_USAGE);
            return 1;
        }
        AclBindingRule {
            id: id.clone(),
            auth_method: current.auth_method,
            description: text(&f.description),
            bind_type: f.bind_type.clone(),
            bind_name: text(&f.bind_name),
            selector: text(&f.selector),
            ..Default::default()
        }
    } else {
        let mut r = current;
        if let Some(d) = f.description.as_deref().filter(|d| !d.is_empty()) {
            r.description = d.to_string();
        }
        // As in Go, `-bind-type` defaults to "service" and so always applies.
        if !f.bind_type.is_empty() {
            r.bind_type = f.bind_type.clone();
        }
        if let Some(n) = f.bind_name.as_deref().filter(|n| !n.is_empty()) {
            r.bind_name = n.to_string();
        }
        if let Some(s) = &f.selector {
            r.selector = s.clone();
        }
        r
    };
    finish(match client.acl_binding_rule_update(&rule).await {
        Ok(r) => show(&r, &f.format, f.meta),
        Err(e) => Err(format!("Error updating binding rule {}: {e}", quote(&id))),
    })
}

#[derive(Parser, Debug)]
struct ReadFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Indicates that binding rule metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// The ID of the binding rule to read. It may be specified as a unique ID prefix but will error if the prefix matches multiple binding rule IDs
    #[arg(long)]
    id: Option<String>,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl binding-rule read`.
pub fn run_read(args: &[String]) -> i32 {
    let usage = "Usage: consul acl binding-rule read -id ID [options]";
    let f: ReadFlags = match goflags::parse("read", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let partial = f.id.clone().unwrap_or_default();
    if partial.is_empty() {
        return finish(Err("Must specify the -id parameter.".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = async {
            let id = rule_id(&client, &partial)
                .await
                .map_err(|e| format!("Error determining binding rule ID: {e}"))?;
            match client.acl_binding_rule_read(&id, &f.http.query()).await {
                Err(e) => Err(format!("Error reading binding rule {}: {e}", quote(&id))),
                Ok((None, _)) => Err(format!("Binding rule not found with ID {}", quote(&id))),
                Ok((Some(r), _)) => show(&r, &f.format, f.meta),
            }
        };
        finish(result.await)
    })
}

#[derive(Parser, Debug)]
struct DeleteFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// The ID of the binding rule to delete. It may be specified as a unique ID prefix but will error if the prefix matches multiple binding rule IDs
    #[arg(long)]
    id: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl binding-rule delete`.
pub fn run_delete(args: &[String]) -> i32 {
    let usage = "Usage: consul acl binding-rule delete -id ID [options]";
    let f: DeleteFlags = match goflags::parse("delete", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let partial = f.id.clone().unwrap_or_default();
    if partial.is_empty() {
        return finish(Err("Must specify the -id parameter".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        let result = async {
            let id = rule_id(&client, &partial)
                .await
                .map_err(|e| format!("Error determining binding rule ID: {e}"))?;
            client
                .acl_binding_rule_delete(&id)
                .await
                .map_err(|e| format!("Error deleting binding rule {}: {e}", quote(&id)))?;
            Ok(format!("Binding rule {} deleted successfully", quote(&id)))
        };
        finish(result.await)
    })
}

#[derive(Parser, Debug)]
struct ListFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Indicates that binding rule metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// Only show rules linked to the auth method with the given name.
    #[arg(long)]
    method: Option<String>,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl binding-rule list`.
pub fn run_list(args: &[String]) -> i32 {
    let usage = "Usage: consul acl binding-rule list [options]";
    let f: ListFlags = match goflags::parse("list", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    let method = f.method.clone().unwrap_or_default();
    super::super::block_on(async move {
        finish(
            match client.acl_binding_rule_list(&method, &f.http.query()).await {
                Ok((rules, _)) => render(&f.format, &rules, || list_pretty(&rules, f.meta)),
                Err(e) => Err(format!("Failed to retrieve the binding rule list: {e}")),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_layouts_follow_consul() {
        let r = AclBindingRule {
            id: "0d5d2f4f-aaaa-bbbb-cccc-000000000001".into(),
            auth_method: "jwt".into(),
            bind_type: "service".into(),
            bind_name: "svc-${value.name}".into(),
            selector: "value.team==web".into(),
            create_index: 7,
            modify_index: 8,
            ..Default::default()
        };
        assert_eq!(
            rule_pretty(&r, true),
            "ID:           0d5d2f4f-aaaa-bbbb-cccc-000000000001\nAuthMethod:   jwt\nDescription:  \nBindType:     service\nBindName:     svc-${value.name}\nSelector:     value.team==web\nCreate Index: 7\nModify Index: 8\n"
        );
        assert!(list_pretty(&[r], false).starts_with(
            "0d5d2f4f-aaaa-bbbb-cccc-000000000001:\n   AuthMethod:   jwt\n   Description:  \n"
        ));
    }
}
