//! `consul acl auth-method create|read|update|delete|list`, with Consul's messages and its
//! formatter (`command/acl/authmethod`): the pretty layout ends with the `Config` as
//! two-space-indented JSON, `-format=json` prints the API's shapes. The Kubernetes flags are
//! declared and refused (this agent implements only the `jwt` type).

use super::super::goflags;
use super::super::http::{client_or_exit, HttpFlags};
use super::{finish, help_to_stderr, helpers, quote, render, Tenancy};
use api_types::acl::{AclAuthMethod, AclAuthMethodStub};
use api_types::client::{Client, QueryOptions};
use clap::Parser;
use serde_json::{Map, Value};

/// Consul's pretty layout of one method.
pub fn method_pretty(m: &AclAuthMethod, meta: bool) -> String {
    let mut out = format!(
        "Name:          {}\nType:          {}\n",
        m.name, m.method_type
    );
    if !m.display_name.is_empty() {
        out.push_str(&format!("DisplayName:   {}\n", m.display_name));
    }
    out.push_str(&format!("Description:   {}\n", m.description));
    if m.max_token_ttl > 0 {
        out.push_str(&format!(
            "MaxTokenTTL:   {}\n",
            api_types::format_go_duration(m.max_token_ttl)
        ));
    }
    if !m.token_locality.is_empty() {
        out.push_str(&format!("TokenLocality: {}\n", m.token_locality));
    }
    if meta {
        out.push_str(&format!(
            "Create Index:  {}\nModify Index:  {}\n",
            m.create_index, m.modify_index
        ));
    }
    out.push_str("Config:\n");
    let json = api_types::json::to_go_json_indent(&m.config, b"  ");
    out.push_str(&String::from_utf8_lossy(&json));
    out
}

/// Consul's pretty layout of the list.
pub fn list_pretty(methods: &[AclAuthMethodStub], meta: bool) -> String {
    let mut out = String::new();
    for m in methods {
        out.push_str(&format!(
            "{}:\n   Type:         {}\n",
            m.name, m.method_type
        ));
        if !m.display_name.is_empty() {
            out.push_str(&format!("   DisplayName:  {}\n", m.display_name));
        }
        out.push_str(&format!("   Description:  {}\n", m.description));
        if meta {
            out.push_str(&format!(
                "   Create Index: {}\n   Modify Index: {}\n",
                m.create_index, m.modify_index
            ));
        }
    }
    out
}

fn show(m: &AclAuthMethod, fmt: &str, meta: bool) -> Result<String, String> {
    render(fmt, m, || method_pretty(m, meta))
}

/// The Kubernetes type's flags, which this consul refuses.
#[derive(clap::Args, Debug, Clone, Default)]
#[allow(dead_code)] // refused by `goflags::parse` before any use
struct KubernetesFlags {
    /// Address of the Kubernetes API server. This flag is required for type=kubernetes.
    #[arg(long = "kubernetes-host", help_heading = goflags::REFUSED)]
    host: Option<String>,
    /// PEM encoded CA cert for use by the TLS client used to talk with the Kubernetes API.
    #[arg(long = "kubernetes-ca-cert", help_heading = goflags::REFUSED)]
    ca_cert: Option<String>,
    /// A Kubernetes service account JWT used to access the TokenReview API.
    #[arg(long = "kubernetes-service-account-jwt", help_heading = goflags::REFUSED)]
    service_account_jwt: Option<String>,
}

/// `-config`: JSON, literally, `@file` or `-` (stdin).
fn load_config(raw: &str, parse_error: &str) -> Result<Option<Map<String, Value>>, String> {
    let data = helpers::load_data_source(raw)
        .map_err(|e| format!("Error loading configuration file: {e}"))?;
    serde_json::from_str::<Option<Map<String, Value>>>(&data)
        .map_err(|e| format!("{parse_error}: {e}"))
}

#[derive(Parser, Debug)]
struct CreateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    #[command(flatten)]
    kubernetes: KubernetesFlags,
    /// Indicates that auth method metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// The new auth method's type. This flag is required.
    #[arg(long = "type")]
    method_type: Option<String>,
    /// The new auth method's name. This flag is required.
    #[arg(long)]
    name: Option<String>,
    /// An optional name to use instead of the name when displaying this auth method in a UI.
    #[arg(long = "display-name")]
    display_name: Option<String>,
    /// A description of the auth method.
    #[arg(long)]
    description: Option<String>,
    /// Duration of time all tokens created by this auth method should be valid for
    #[arg(long = "max-token-ttl", value_parser = super::token::go_duration)]
    max_token_ttl: Option<i64>,
    /// Defines the kind of token that this auth method should produce. This can be either 'local' or 'global'. If empty the value of 'local' is assumed.
    #[arg(long = "token-locality")]
    token_locality: Option<String>,
    /// The configuration for the auth method. Must be JSON. May be prefixed with '@' to indicate that the value is a file path to load the config from. '-' may also be given to indicate that the config is available on stdin
    #[arg(long)]
    config: Option<String>,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

const CREATE_USAGE: &str = "Usage: consul acl auth-method create -name NAME -type TYPE [options]";

/// Runs `consul acl auth-method create`.
pub fn run_create(args: &[String]) -> i32 {
    let f: CreateFlags = match goflags::parse("create", CREATE_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    if text(&f.method_type).is_empty() {
        eprintln!("Missing required '-type' flag");
        help_to_stderr::<CreateFlags>("create", CREATE_USAGE);
        return 1;
    }
    if text(&f.name).is_empty() {
        eprintln!("Missing required '-name' flag");
        help_to_stderr::<CreateFlags>("create", CREATE_USAGE);
        return 1;
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    let mut method = AclAuthMethod {
        method_type: text(&f.method_type),
        name: text(&f.name),
        display_name: text(&f.display_name),
        description: text(&f.description),
        token_locality: text(&f.token_locality),
        max_token_ttl: f.max_token_ttl.filter(|t| *t > 0).unwrap_or_default(),
        ..Default::default()
    };
    if let Some(raw) = f.config.as_deref().filter(|c| !c.is_empty()) {
        match load_config(raw, "Error parsing JSON configuration file") {
            Ok(c) => method.config = c,
            Err(e) => return finish(Err(e)),
        }
    }
    super::super::block_on(async move {
        finish(match client.acl_auth_method_create(&method).await {
            Ok(m) => show(&m, &f.format, f.meta),
            Err(e) => Err(format!("Failed to create new auth method: {e}")),
        })
    })
}

#[derive(Parser, Debug)]
struct UpdateFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    #[command(flatten)]
    kubernetes: KubernetesFlags,
    /// Indicates that auth method metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// The auth method name.
    #[arg(long)]
    name: Option<String>,
    /// An optional name to use instead of the name when displaying this auth method in a UI.
    #[arg(long = "display-name")]
    display_name: Option<String>,
    /// A description of the auth method.
    #[arg(long)]
    description: Option<String>,
    /// Duration of time all tokens created by this auth method should be valid for
    #[arg(long = "max-token-ttl", value_parser = super::token::go_duration)]
    max_token_ttl: Option<i64>,
    /// Defines the kind of token that this auth method should produce. This can be either 'local' or 'global'. If empty the value of 'local' is assumed.
    #[arg(long = "token-locality")]
    token_locality: Option<String>,
    /// The configuration for the auth method. Must be JSON. The config is updated as one fieldMay be prefixed with '@' to indicate that the value is a file path to load the config from. '-' may also be given to indicate that the config are available on stdin.
    #[arg(long)]
    config: Option<String>,
    /// Do not merge the current auth method information with what is provided to the command. Instead overwrite all fields with the exception of the name which is immutable.
    #[arg(long = "no-merge")]
    no_merge: bool,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl auth-method update`.
pub fn run_update(args: &[String]) -> i32 {
    let usage = "Usage: consul acl auth-method update -name NAME [options]";
    let f: UpdateFlags = match goflags::parse("update", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let name = f.name.clone().unwrap_or_default();
    if name.is_empty() {
        return finish(Err(
            "Cannot update an auth method without specifying the -name parameter".into(),
        ));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move { finish(update(&f, &client, &name).await) })
}

async fn update(f: &UpdateFlags, client: &Client, name: &str) -> Result<String, String> {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let current = match client
        .acl_auth_method_read(name, &QueryOptions::default())
        .await
    {
        Err(e) => return Err(format!("Error when retrieving current auth method: {e}")),
        Ok((None, _)) => return Err(format!("Auth method not found with name {}", quote(name))),
        Ok((Some(m), _)) => m,
    };
    let ttl = f.max_token_ttl.filter(|t| *t > 0);
    let method = if f.no_merge {
        let mut m = AclAuthMethod {
            name: current.name.clone(),
            method_type: current.method_type.clone(),
            display_name: text(&f.display_name),
            description: text(&f.description),
            token_locality: text(&f.token_locality),
            max_token_ttl: ttl.unwrap_or_default(),
            ..Default::default()
        };
        if let Some(raw) = f.config.as_deref().filter(|c| !c.is_empty()) {
            m.config = load_config(raw, "Error parsing JSON for auth method config")?;
        }
        m
    } else {
        let mut m = current;
        for (flag, field) in [
            (&f.description, &mut m.description),
            (&f.display_name, &mut m.display_name),
            (&f.token_locality, &mut m.token_locality),
        ] {
            if let Some(v) = flag.as_deref().filter(|v| !v.is_empty()) {
                *field = v.to_string();
            }
        }
        if let Some(t) = ttl {
            m.max_token_ttl = t;
        }
        if let Some(raw) = f.config.as_deref().filter(|c| !c.is_empty()) {
            m.config = Some(
                load_config(raw, "Error parsing JSON for auth method config")?.unwrap_or_default(),
            );
        }
        if m.config.is_none() {
            m.config = Some(Map::new());
        }
        m
    };
    let updated = client
        .acl_auth_method_update(&method)
        .await
        .map_err(|e| format!("Error updating auth method {}: {e}", quote(name)))?;
    show(&updated, &f.format, f.meta)
}

#[derive(Parser, Debug)]
struct ReadFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Indicates that auth method metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// The name of the auth method to read.
    #[arg(long)]
    name: Option<String>,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl auth-method read`.
pub fn run_read(args: &[String]) -> i32 {
    let usage = "Usage: consul acl auth-method read -name NAME [options]";
    let f: ReadFlags = match goflags::parse("read", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let name = f.name.clone().unwrap_or_default();
    if name.is_empty() {
        return finish(Err("Must specify the -name parameter".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        finish(
            match client.acl_auth_method_read(&name, &f.http.query()).await {
                Err(e) => Err(format!("Error reading auth method {}: {e}", quote(&name))),
                Ok((None, _)) => Err(format!("Auth method not found with name {}", quote(&name))),
                Ok((Some(m), _)) => show(&m, &f.format, f.meta),
            },
        )
    })
}

#[derive(Parser, Debug)]
struct DeleteFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// The name of the auth method to delete.
    #[arg(long)]
    name: Option<String>,
    args: Vec<String>,
}

/// Runs `consul acl auth-method delete`.
pub fn run_delete(args: &[String]) -> i32 {
    let usage = "Usage: consul acl auth-method delete -name NAME [options]";
    let f: DeleteFlags = match goflags::parse("delete", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let name = f.name.clone().unwrap_or_default();
    if name.is_empty() {
        return finish(Err("Must specify the -name parameter".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        finish(match client.acl_auth_method_delete(&name).await {
            Ok(()) => Ok(format!("Auth method {} deleted successfully", quote(&name))),
            Err(e) => Err(format!("Error deleting auth method {}: {e}", quote(&name))),
        })
    })
}

#[derive(Parser, Debug)]
struct ListFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    /// Indicates that auth method metadata such as the raft indices should be shown for each entry.
    #[arg(long)]
    meta: bool,
    /// Output format {pretty|json}
    #[arg(long, default_value = "pretty")]
    format: String,
    args: Vec<String>,
}

/// Runs `consul acl auth-method list`.
pub fn run_list(args: &[String]) -> i32 {
    let usage = "Usage: consul acl auth-method list [options]";
    let f: ListFlags = match goflags::parse("list", usage, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::super::block_on(async move {
        finish(match client.acl_auth_method_list(&f.http.query()).await {
            Ok((methods, _)) => render(&f.format, &methods, || list_pretty(&methods, f.meta)),
            Err(e) => Err(format!("Failed to retrieve the auth method list: {e}")),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_layouts_follow_consul() {
        let m = AclAuthMethod {
            name: "jwt-1".into(),
            method_type: "jwt".into(),
            description: "d".into(),
            max_token_ttl: 300_000_000_000,
            config: serde_json::json!({"BoundIssuer": "me"})
                .as_object()
                .cloned(),
            create_index: 5,
            modify_index: 6,
            ..Default::default()
        };
        assert_eq!(
            method_pretty(&m, true),
            "Name:          jwt-1\nType:          jwt\nDescription:   d\nMaxTokenTTL:   5m0s\nCreate Index:  5\nModify Index:  6\nConfig:\n{\n  \"BoundIssuer\": \"me\"\n}"
        );
        let stub = AclAuthMethodStub {
            name: "jwt-1".into(),
            method_type: "jwt".into(),
            ..Default::default()
        };
        assert_eq!(
            list_pretty(&[stub], false),
            "jwt-1:\n   Type:         jwt\n   Description:  \n"
        );
    }
}
