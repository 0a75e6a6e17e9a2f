//! `consul acl auth-method`, `consul acl binding-rule`, `consul login` and `consul logout`
//! through the real binary against an agent with ACLs: Consul's pretty layouts and messages,
//! binding rules named by an ID prefix, a login whose token lands in the sink file (mode 0600)
//! and a logout with that token, refused the second time.

use crate::acl::{acl_hcl, acl_server_with, MGMT};
use crate::acl_auth::{now, Signer};
use crate::common::TestServer;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

/// Runs `consul ARGS` against `s` with `token` (if any) in `CONSUL_HTTP_TOKEN`.
fn consul(s: &TestServer, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(test_support::binary("consul"));
    cmd.args(args)
        .env("CONSUL_HTTP_ADDR", s.addr())
        .env_remove("CONSUL_HTTP_TOKEN")
        .env_remove("CONSUL_HTTP_TOKEN_FILE")
        .stdin(Stdio::null());
    if let Some(t) = token {
        cmd.env("CONSUL_HTTP_TOKEN", t);
    }
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run consul");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(s: &TestServer, args: &[&str]) -> String {
    let (code, out, err) = consul(s, Some(MGMT), args);
    assert_eq!(code, 0, "consul {args:?}: {err}{out}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_method_binding_rule_login_and_logout_commands() {
    let s = acl_server_with(&acl_hcl("deny", "")).await;
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({
            "JWTValidationPubKeys": [signer.public_pem()],
            "BoundIssuer": "issuer",
            "ClaimMappings": {"name": "name"},
        })
        .to_string(),
    )
    .unwrap();
    let at_config = format!("@{}", config.display());

    // Auth methods.
    let (code, _, err) = consul(
        &s,
        Some(MGMT),
        &["acl", "auth-method", "create", "-name", "x"],
    );
    assert_eq!(code, 1);
    assert!(err.starts_with("Missing required '-type' flag\n"), "{err}");
    let out = ok(
        &s,
        &[
            "acl",
            "auth-method",
            "create",
            "-type",
            "jwt",
            "-name",
            "jwt-cli",
            "-description",
            "cli method",
            "-max-token-ttl",
            "5m",
            "-config",
            &at_config,
        ],
    );
    assert!(
        out.starts_with("Name:          jwt-cli\nType:          jwt\nDescription:   cli method\nMaxTokenTTL:   5m0s\nConfig:\n{\n  \"BoundIssuer\": \"issuer\",\n"),
        "{out}"
    );
    let out = ok(
        &s,
        &["acl", "auth-method", "read", "-name", "jwt-cli", "-meta"],
    );
    assert!(
        out.contains("\nCreate Index:  ") && out.contains("\nModify Index:  "),
        "{out}"
    );
    let out = ok(&s, &["acl", "auth-method", "list"]);
    assert!(
        out.starts_with("jwt-cli:\n   Type:         jwt\n   Description:  cli method\n"),
        "{out}"
    );
    let out = ok(
        &s,
        &[
            "acl",
            "auth-method",
            "update",
            "-name",
            "jwt-cli",
            "-description",
            "new",
            "-format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["Description"].as_str(), v["MaxTokenTTL"].as_str()),
        (Some("new"), Some("5m0s"))
    );
    assert_eq!(v["Config"]["BoundIssuer"], "issuer");
    let (code, _, err) = consul(
        &s,
        Some(MGMT),
        &["acl", "auth-method", "read", "-name", "nope"],
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "Auth method not found with name \"nope\"\n")
    );
    let (code, _, err) = consul(
        &s,
        Some(MGMT),
        &[
            "acl",
            "auth-method",
            "create",
            "-type",
            "kubernetes",
            "-name",
            "k",
            "-kubernetes-host",
            "https://k",
        ],
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "-kubernetes-host: not implemented by this consul\n")
    );

    // Binding rules, named by an ID prefix.
    let out = ok(
        &s,
        &[
            "acl",
            "binding-rule",
            "create",
            "-method",
            "jwt-cli",
            "-bind-name",
            "${value.name}",
            "-selector",
            "value.name != \"\"",
            "-description",
            "all",
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .map(str::trim)
        .unwrap()
        .to_string();
    assert!(
        out.ends_with("AuthMethod:   jwt-cli\nDescription:  all\nBindType:     service\nBindName:     ${value.name}\nSelector:     value.name != \"\"\n\n"),
        "{out}"
    );
    let out = ok(&s, &["acl", "binding-rule", "read", "-id", &id[..8]]);
    assert!(out.starts_with(&format!("ID:           {id}\n")), "{out}");
    let out = ok(&s, &["acl", "binding-rule", "list", "-method", "jwt-cli"]);
    assert!(
        out.starts_with(&format!("{id}:\n   AuthMethod:   jwt-cli\n")),
        "{out}"
    );
    let out = ok(
        &s,
        &[
            "acl",
            "binding-rule",
            "update",
            "-id",
            &id,
            "-description",
            "updated",
        ],
    );
    assert!(out.contains("\nDescription:  updated\n"), "{out}");

    // Login writes the token's secret to the sink; logout deletes that token once.
    let t = now();
    let jwt = signer.jwt(&json!({"iss": "issuer", "iat": t, "exp": t + 300, "name": "web"}));
    let bearer = dir.path().join("bearer");
    std::fs::write(&bearer, format!("{jwt}\n")).unwrap();
    let sink = dir.path().join("sink/token");
    let (bearer_s, sink_s) = (bearer.display().to_string(), sink.display().to_string());
    let (code, out, err) = consul(
        &s,
        None,
        &[
            "login",
            "-method",
            "jwt-cli",
            "-bearer-token-file",
            &bearer_s,
            "-token-sink-file",
            &sink_s,
            "-meta",
            "host=h1",
        ],
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let secret = std::fs::read_to_string(&sink).unwrap();
    assert_eq!(
        std::fs::metadata(&sink).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = ok(&s, &["acl", "token", "read", "-self", "-token", &secret]);
    assert!(
        out.contains("\nAuth Method:      jwt-cli (Namespace: )\n"),
        "{out}"
    );
    assert!(
        out.contains("token created via login: {\"host\":\"h1\"}"),
        "{out}"
    );
    let (code, _, err) = consul(
        &s,
        None,
        &["login", "-method", "jwt-cli", "-token-sink-file", &sink_s],
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "Missing required '-bearer-token-file' flag\n")
    );
    let (code, out, err) = consul(&s, Some(&secret), &["logout"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let (code, _, err) = consul(&s, Some(&secret), &["logout"]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "Error destroying token: Unexpected response code: 403 (ACL not found)\n"
        )
    );

    // Deletes.
    let out = ok(&s, &["acl", "binding-rule", "delete", "-id", &id]);
    assert_eq!(out, format!("Binding rule \"{id}\" deleted successfully\n"));
    let out = ok(&s, &["acl", "auth-method", "delete", "-name", "jwt-cli"]);
    assert_eq!(out, "Auth method \"jwt-cli\" deleted successfully\n");
}
