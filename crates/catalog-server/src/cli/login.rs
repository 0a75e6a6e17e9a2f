//! `consul login` (a bearer token from `-bearer-token-file` exchanged through an auth method for
//! a token, whose SecretID is written to `-token-sink-file` as Consul writes it: atomically,
//! mode 0600) and `consul logout` (the request's token deleted, if a login created it). The
//! AWS IAM flags are declared and refused: this agent implements only `jwt` methods.

use super::acl::{finish, Tenancy};
use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use api_types::acl::AclLoginParams;
use clap::Parser;
use std::collections::BTreeMap;

/// `-aws-*`: how Consul builds an `aws-iam` bearer token, which this consul refuses.
#[derive(clap::Args, Debug, Clone, Default)]
#[allow(dead_code)] // refused by `goflags::parse` before any use
struct AwsFlags {
    /// Construct a bearer token and login to the AWS IAM auth method. [aws-iam only]
    #[arg(long = "aws-auto-bearer-token", help_heading = goflags::REFUSED)]
    auto_bearer_token: bool,
    /// Include a signed request to get the IAM role or IAM user in the bearer token. [aws-iam only]
    #[arg(long = "aws-include-entity", help_heading = goflags::REFUSED)]
    include_entity: bool,
    /// URL for AWS STS API calls. [aws-iam only]
    #[arg(long = "aws-sts-endpoint", help_heading = goflags::REFUSED)]
    sts_endpoint: Option<String>,
    /// Region for AWS API calls. [aws-iam only]
    #[arg(long = "aws-region", help_heading = goflags::REFUSED)]
    region: Option<String>,
    /// If set, an X-Consul-IAM-ServerID header is included in signed AWS API request(s). [aws-iam only]
    #[arg(long = "aws-server-id-header-value", help_heading = goflags::REFUSED)]
    server_id_header_value: Option<String>,
    /// AWS access key id to use. [aws-iam only]
    #[arg(long = "aws-access-key-id", help_heading = goflags::REFUSED)]
    access_key_id: Option<String>,
    /// AWS secret access key to use. [aws-iam only]
    #[arg(long = "aws-secret-access-key", help_heading = goflags::REFUSED)]
    secret_access_key: Option<String>,
    /// AWS session token to use. [aws-iam only]
    #[arg(long = "aws-session-token", help_heading = goflags::REFUSED)]
    session_token: Option<String>,
}

#[derive(Parser, Debug)]
struct LoginFlags {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    tenancy: Tenancy,
    #[command(flatten)]
    aws: AwsFlags,
    /// Name of the auth method to login to.
    #[arg(long)]
    method: Option<String>,
    /// Type of the auth method to login to. This field is optional and defaults to no type.
    #[arg(long = "type", help_heading = goflags::REFUSED)]
    method_type: Option<String>,
    /// Path to a file containing a secret bearer token to use with this auth method.
    #[arg(long = "bearer-token-file")]
    bearer_token_file: Option<String>,
    /// The most recent token's SecretID is kept up to date in this file.
    #[arg(long = "token-sink-file")]
    token_sink_file: Option<String>,
    /// Metadata to set on the token, formatted as key=value. This flag may be specified multiple times to set multiple meta fields.
    #[arg(long)]
    meta: Vec<String>,
    args: Vec<String>,
}

const LOGIN_USAGE: &str = "Usage: consul login [options]\n\n  The login command will exchange the provided third party credentials with the\n  requested auth method for a newly minted Consul ACL token. The companion\n  command 'consul logout' should be used to destroy any tokens created this way\n  to avoid a resource leak.";

/// Go's `FlagMapValue`: `key=value` pairs into a map.
fn meta_pairs(values: &[String]) -> Result<BTreeMap<String, String>, String> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("missing \"=\" value in argument: {v}")),
        })
        .collect()
}

/// Runs `consul login`.
pub fn run_login(args: &[String]) -> i32 {
    let f: LoginFlags = match goflags::parse("login", LOGIN_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !f.args.is_empty() {
        return finish(Err("Should have no non-flag arguments.".into()));
    }
    let method = f.method.clone().unwrap_or_default();
    if method.is_empty() {
        return finish(Err("Missing required '-method' flag".into()));
    }
    let sink = f.token_sink_file.clone().unwrap_or_default();
    if sink.is_empty() {
        return finish(Err("Missing required '-token-sink-file' flag".into()));
    }
    let bearer_file = f.bearer_token_file.clone().unwrap_or_default();
    if bearer_file.is_empty() {
        return finish(Err("Missing required '-bearer-token-file' flag".into()));
    }
    let bearer = match std::fs::read(&bearer_file) {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(e) => return finish(Err(api_types::go_io_error("open", &bearer_file, &e))),
    };
    if bearer.is_empty() {
        return finish(Err(format!("No bearer token found in {bearer_file}")));
    }
    let meta = match meta_pairs(&f.meta) {
        Ok(m) => (!m.is_empty()).then_some(m),
        Err(e) => return finish(Err(e)),
    };
    // As Consul: no token is sent with a login.
    let mut http = f.http.clone();
    http.token = None;
    http.token_file = None;
    let Ok(client) = client_or_exit(&http) else {
        return 1;
    };
    let params = AclLoginParams {
        auth_method: method,
        bearer_token: bearer,
        meta,
    };
    super::block_on(async move {
        let tok = match client.acl_login(&params).await {
            Ok(t) => t,
            Err(e) => return finish(Err(format!("Error logging in: {e}"))),
        };
        match super::tls::write_atomic_with_perms(&sink, tok.secret_id.as_bytes(), 0o755, 0o600) {
            Ok(()) => 0,
            Err(e) => finish(Err(format!("Error writing token to file sink: {e}"))),
        }
    })
}

#[derive(Parser, Debug)]
struct LogoutFlags {
    #[command(flatten)]
    http: HttpFlags,
    args: Vec<String>,
}

const LOGOUT_USAGE: &str = "Usage: consul logout [options]\n\n  The logout command will destroy the provided token if it was created from\n  'consul login'.";

/// Runs `consul logout`.
pub fn run_logout(args: &[String]) -> i32 {
    let f: LogoutFlags = match goflags::parse("logout", LOGOUT_USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !f.args.is_empty() {
        return finish(Err("Should have no non-flag arguments.".into()));
    }
    let Ok(client) = client_or_exit(&f.http) else {
        return 1;
    };
    super::block_on(async move {
        match client.acl_logout().await {
            Ok(()) => 0,
            Err(e) => finish(Err(format!("Error destroying token: {e}"))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_is_key_value_pairs() {
        let m = meta_pairs(&["pod=web-1".into(), "a=b=c".into()]).expect("pairs");
        assert_eq!(m["pod"], "web-1");
        assert_eq!(m["a"], "b=c");
        assert_eq!(
            meta_pairs(&["nope".into()]).expect_err("no ="),
            "missing \"=\" value in argument: nope"
        );
    }
}
