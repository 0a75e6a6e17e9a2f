//! `consul acl` against a real agent with `default_policy = "deny"` and an initial management
//! token: bootstrap refused with the reset index, policies, tokens and roles created, read,
//! listed, updated and deleted through the real binary, the token taken from
//! `CONSUL_HTTP_TOKEN`, `-token` or `-token-file`, and a request without one refused.

use crate::common::TestServer;
use serde_json::Value;
use std::process::{Command, Stdio};

const MGMT: &str = "3f1c2b7e-9d4a-4c5e-8b6f-0a1d2e3c4b5a";

async fn acl_server() -> TestServer {
    let hcl = format!(
        r#"acl {{
  enabled = true
  default_policy = "deny"
  tokens {{ initial_management = "{MGMT}" }}
}}"#
    );
    let mut s = TestServer::new(
        TestServer::builder()
            .token(MGMT)
            .args(["-hcl", &hcl])
            .build(),
    );
    s.start().await;
    s
}

/// Runs `consul ARGS` against `s`, with `CONSUL_HTTP_TOKEN=token` when given (and no other
/// token from the environment): exit code, stdout, stderr.
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

/// `consul ARGS` with the management token, which must succeed; its stdout.
fn ok(s: &TestServer, args: &[&str]) -> String {
    let (code, out, err) = consul(s, Some(MGMT), args);
    assert_eq!(code, 0, "consul {args:?}: {err}{out}");
    out
}

/// The value after `Label:` in pretty output.
fn field<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} in {out}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_commands_against_a_deny_agent() {
    let s = acl_server().await;

    // initial_management counts as a bootstrap: the reset index is in the refusal.
    let (code, out, err) = consul(&s, None, &["acl", "bootstrap"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.starts_with(
            "Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL bootstrap no longer allowed (reset index: "
        ) && err.ends_with("))\n"),
        "{err}"
    );

    // Policies.
    let out = ok(
        &s,
        &[
            "acl",
            "policy",
            "create",
            "-name",
            "kv-read",
            "-description",
            "read the KV",
            "-rules",
            r#"key_prefix "" { policy = "read" }"#,
        ],
    );
    let policy_id = field(&out, "ID:").to_string();
    assert_eq!(policy_id.len(), 36, "{out}");
    assert!(out.contains("\nName:         kv-read\nDescription:  read the KV\nDatacenters:  \nRules:\nkey_prefix \"\" { policy = \"read\" }\n"), "{out}");
    let out = ok(&s, &["acl", "policy", "list"]);
    assert!(
        out.contains(&format!(
            "kv-read:\n   ID:           {policy_id}\n   Description:  read the KV\n"
        )),
        "{out}"
    );
    assert!(out.contains("global-management:\n"), "{out}");
    let out = ok(
        &s,
        &["acl", "policy", "read", "-name", "kv-read", "-format=json"],
    );
    let v: Value = serde_json::from_str(&out).expect("policy json");
    assert_eq!(v["ID"], policy_id.as_str());
    assert!(out.starts_with("{\n    \"ID\": "), "{out}");
    let prefix = &policy_id[..8];
    let out = ok(
        &s,
        &[
            "acl",
            "policy",
            "update",
            "-id",
            prefix,
            "-description",
            "reads",
        ],
    );
    assert_eq!(field(&out, "Description:"), "reads");
    assert!(out.contains("key_prefix"), "rules kept: {out}");

    // Tokens.
    let out = ok(
        &s,
        &[
            "acl",
            "token",
            "create",
            "-description",
            "x",
            "-policy-name",
            "kv-read",
            "-format=json",
        ],
    );
    let tok: Value = serde_json::from_str(&out).expect("token json");
    let accessor = tok["AccessorID"].as_str().expect("accessor").to_string();
    let secret = tok["SecretID"].as_str().expect("secret").to_string();
    assert!(out.starts_with("{\n    \"CreateIndex\": "), "{out}");
    assert_eq!(tok["Policies"][0]["Name"], "kv-read");

    let out = ok(&s, &["acl", "token", "read", "-id", &accessor]);
    assert_eq!(field(&out, "AccessorID:"), accessor);
    assert_eq!(field(&out, "SecretID:"), secret);
    assert!(
        out.contains("\nDescription:      x\nLocal:            false\nCreate Time:      "),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("Policies:\n   {policy_id} - kv-read\n\n")),
        "{out}"
    );
    let out = ok(
        &s,
        &["acl", "token", "read", "-accessor-id", &accessor[..8]],
    );
    assert_eq!(field(&out, "AccessorID:"), accessor);
    let (code, out, _) = consul(&s, Some(&secret), &["acl", "token", "read", "-self"]);
    assert_eq!((code, field(&out, "AccessorID:")), (0, accessor.as_str()));

    let out = ok(&s, &["acl", "token", "list"]);
    assert!(
        out.contains(&format!("AccessorID:       {accessor}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("AccessorID:       {MGMT}")) || out.contains("Initial Management"),
        "{out}"
    );

    // Roles.
    let out = ok(
        &s,
        &[
            "acl",
            "role",
            "create",
            "-name",
            "r",
            "-policy-name",
            "kv-read",
        ],
    );
    let role_id = field(&out, "ID:").to_string();
    assert!(
        out.ends_with(&format!(
            "Name:         r\nDescription:  \nPolicies:\n   {policy_id} - kv-read\n\n"
        )),
        "{out}"
    );
    let out = ok(&s, &["acl", "role", "list"]);
    assert!(
        out.starts_with(&format!("r:\n   ID:           {role_id}\n")),
        "{out}"
    );
    let out = ok(&s, &["acl", "role", "read", "-name", "r"]);
    assert_eq!(field(&out, "ID:"), role_id);

    // Update: a new description, the role added, the policies kept.
    let out = ok(
        &s,
        &[
            "acl",
            "token",
            "update",
            "-accessor-id",
            &accessor,
            "-description",
            "y",
            "-append-role-name",
            "r",
        ],
    );
    assert_eq!(field(&out, "Description:"), "y");
    assert!(
        out.contains(&format!("Roles:\n   {role_id} - r\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Policies:\n   {policy_id} - kv-read\n")),
        "{out}"
    );

    // The token from -token and from -token-file; the token itself can read the KV only.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{MGMT}\n")).expect("token file");
    let file_flag = format!("-token-file={}", file.display());
    let (code, out, err) = consul(&s, None, &["acl", "policy", "list", &file_flag]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kv-read:"), "{out}");
    let token_flag = format!("-token={MGMT}");
    let (code, _, err) = consul(&s, None, &["acl", "role", "list", &token_flag]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = consul(&s, Some(&secret), &["acl", "policy", "list"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Failed to retrieve the policy list: Unexpected response code: 403 (Permission denied: "),
        "{err}"
    );

    // Without a token: Consul's 403 on stderr, exit 1.
    let (code, out, err) = consul(&s, None, &["acl", "token", "list"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with(
            "Failed to retrieve the token list: Unexpected response code: 403 (Permission denied: "
        ),
        "{err}"
    );

    // Clone, then deletes.
    let out = ok(
        &s,
        &[
            "acl",
            "token",
            "clone",
            "-accessor-id",
            &accessor,
            "-description",
            "copy",
        ],
    );
    let copy = field(&out, "AccessorID:").to_string();
    assert_ne!(copy, accessor);
    assert_eq!(field(&out, "Description:"), "copy");
    for id in [&accessor, &copy] {
        let out = ok(&s, &["acl", "token", "delete", "-accessor-id", id]);
        assert_eq!(out, format!("Token \"{id}\" deleted successfully\n"));
    }
    let (code, _, err) = consul(
        &s,
        Some(MGMT),
        &["acl", "token", "read", "-accessor-id", &accessor],
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!(
            "Error reading token \"{accessor}\": Unexpected response code: "
        )),
        "{err}"
    );
    let out = ok(&s, &["acl", "role", "delete", "-name", "r"]);
    assert_eq!(out, format!("Role \"{role_id}\" deleted successfully\n"));
    let out = ok(&s, &["acl", "policy", "delete", "-name", "kv-read"]);
    assert_eq!(
        out,
        format!("Policy \"{policy_id}\" deleted successfully\n")
    );

    // The agent's own tokens.
    let (code, out, err) = consul(&s, Some(MGMT), &["acl", "set-agent-token", "agent", MGMT]);
    assert_eq!(
        (code, out.as_str()),
        (0, "ACL token \"agent\" set successfully\n"),
        "{err}"
    );
    let (code, _, err) = consul(&s, Some(MGMT), &["acl", "set-agent-token", "bogus", "x"]);
    assert_eq!((code, err.as_str()), (1, "Unknown token type\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_parent_usage_and_refused_flags() {
    let s = acl_server().await;
    let (code, _, err) = consul(&s, None, &["acl"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("\n    bootstrap          Bootstrap Consul's ACL system\n"),
        "{err}"
    );
    assert!(
        err.contains("\n    token              Manage Consul's ACL tokens\n"),
        "{err}"
    );
    let (code, _, err) = consul(
        &s,
        Some(MGMT),
        &["acl", "token", "read", "-self", "-expanded"],
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "-expanded: not implemented by this consul\n")
    );
    let (code, _, err) = consul(&s, Some(MGMT), &["acl", "policy", "list", "-namespace=ns"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "-namespace: not implemented by this consul\n")
    );
    let (code, out, _) = consul(
        &s,
        Some(MGMT),
        &["acl", "token", "read", "-self", "-format=yaml"],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    let (code, _, err) = consul(&s, Some(MGMT), &["acl", "policy", "create", "-rules=x"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Missing required '-name' flag\nUsage: consul acl policy create"),
        "{err}"
    );
}
