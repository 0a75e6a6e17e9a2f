//! The HTTP API flags every client command shares (`-http-addr`, `-token`, TLS files,
//! `-datacenter`, `-stale`) and how they and the `CONSUL_*` environment become a [`Client`].
//! Precedence: flag > environment > default (`http://127.0.0.1:8500`).

use api_types::client::{Client, ClientConfig, QueryOptions};
use clap::Args;
use std::path::PathBuf;

/// Shared client flags, flattened into each client command's clap type.
#[derive(Args, Debug, Clone, Default)]
pub struct HttpFlags {
    /// The `address` and port of the Consul HTTP agent (`CONSUL_HTTP_ADDR`; default 127.0.0.1:8500).
    #[arg(long = "http-addr")]
    pub http_addr: Option<String>,
    /// ACL token to use in the request (`CONSUL_HTTP_TOKEN`).
    #[arg(long)]
    pub token: Option<String>,
    /// File containing the ACL token (`CONSUL_HTTP_TOKEN_FILE`).
    #[arg(long = "token-file")]
    pub token_file: Option<PathBuf>,
    /// CA file for TLS verification (`CONSUL_CACERT`).
    #[arg(long = "ca-file")]
    pub ca_file: Option<PathBuf>,
    /// Path to a directory of CA certificates to use for TLS when communicating with Consul.
    #[arg(long = "ca-path", help_heading = super::goflags::REFUSED)]
    pub ca_path: Option<PathBuf>,
    /// Client certificate for TLS (`CONSUL_CLIENT_CERT`).
    #[arg(long = "client-cert")]
    pub client_cert: Option<PathBuf>,
    /// Client key for TLS (`CONSUL_CLIENT_KEY`).
    #[arg(long = "client-key")]
    pub client_key: Option<PathBuf>,
    /// The server name to use as the SNI host when connecting via TLS.
    #[arg(long = "tls-server-name", help_heading = super::goflags::REFUSED)]
    pub tls_server_name: Option<String>,
    /// Datacenter to query (defaults to the agent's).
    #[arg(long)]
    pub datacenter: Option<String>,
    /// Allow any server to answer, not only the leader.
    #[arg(long)]
    pub stale: bool,
}

impl HttpFlags {
    /// The client these flags and the environment describe.
    pub fn client(&self) -> Result<Client, String> {
        let mut cfg = ClientConfig::from_env();
        if let Some(a) = self.http_addr.as_deref().filter(|a| !a.is_empty()) {
            cfg.address = Some(a.to_string());
        }
        if let Some(t) = self.token.as_deref().filter(|t| !t.is_empty()) {
            cfg.token = Some(t.to_string());
        }
        // As Go's client: a token file (`-token-file`, else `CONSUL_HTTP_TOKEN_FILE`) wins over
        // a token given directly, and one that cannot be read is an error.
        let file = self.token_file.clone().or_else(|| {
            std::env::var_os("CONSUL_HTTP_TOKEN_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        if let Some(path) = file {
            let t = std::fs::read_to_string(&path)
                .map_err(|e| format!("Error loading token file: {}: {e}", path.display()))?;
            cfg.token = Some(t.trim().to_string());
        }
        if self.ca_file.is_some() {
            cfg.ca_file.clone_from(&self.ca_file);
        }
        if self.client_cert.is_some() {
            cfg.client_cert.clone_from(&self.client_cert);
        }
        if self.client_key.is_some() {
            cfg.client_key.clone_from(&self.client_key);
        }
        if let Some(dc) = self.datacenter.as_deref().filter(|d| !d.is_empty()) {
            cfg.datacenter = Some(dc.to_string());
        }
        Client::from_config(cfg).map_err(|e| format!("Error connecting to Consul agent: {e}"))
    }

    /// Query options for reads (`-stale`).
    pub fn query(&self) -> QueryOptions {
        QueryOptions {
            stale: self.stale,
            ..Default::default()
        }
    }
}

/// Builds the client or prints the error; `Err(1)` is the exit code.
pub fn client_or_exit(flags: &HttpFlags) -> Result<Client, i32> {
    flags.client().map_err(|e| {
        eprintln!("{e}");
        1
    })
}
