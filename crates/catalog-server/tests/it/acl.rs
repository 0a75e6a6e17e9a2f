//! ACLs on a real agent with `default_policy = "deny"`: a matrix of tokens (one per rule kind
//! and precedence case) against the endpoints they guard — allowed, denied with Consul's 403
//! text, or filtered with `X-Consul-Results-Filtered-By-ACLs` — plus bootstrap (once; again
//! only through the reset file), tokens surviving a restart, a token deleted while its
//! blocking query waits, the agent's own tokens, and ACL settings refused at start.

use crate::common::TestServer;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const MGMT: &str = "5c2c6a9e-4d1b-4b8e-9f0a-3d2e1c0b9a87";

pub(crate) fn acl_hcl(default_policy: &str, extra: &str) -> String {
    format!(
        r#"acl {{
  enabled = true
  default_policy = "{default_policy}"
  tokens {{ initial_management = "{MGMT}" }}
  {extra}
}}"#
    )
}

/// A server whose readiness probe reads with the management token.
pub(crate) async fn acl_server_with(hcl: &str) -> TestServer {
    let mut s = TestServer::new(
        TestServer::builder()
            .token(MGMT)
            .args(["-hcl", hcl])
            .build(),
    );
    s.start().await;
    s
}

async fn acl_server(default_policy: &str) -> TestServer {
    acl_server_with(&acl_hcl(default_policy, "")).await
}

/// One request with a token (`""`: none): status, the filtered header, body.
pub(crate) async fn call(
    s: &TestServer,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (u16, bool, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = s.http.request(m, s.url(path));
    if !token.is_empty() {
        r = r.header("X-Consul-Token", token);
    }
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let resp = r.send().await.expect("request");
    let status = resp.status().as_u16();
    let filtered = resp
        .headers()
        .get("X-Consul-Results-Filtered-By-ACLs")
        .is_some_and(|v| v == "true");
    (status, filtered, resp.text().await.expect("body"))
}

/// Creates a policy from `rules` and a token holding it; returns the token's secret.
pub(crate) async fn token_with(s: &TestServer, name: &str, rules: &str) -> String {
    let (st, _, body) = call(
        s,
        "PUT",
        "/v1/acl/policy",
        MGMT,
        Some(&json!({"Name": name, "Rules": rules}).to_string()),
    )
    .await;
    assert_eq!(st, 200, "policy {name}: {body}");
    let (st, _, body) = call(
        s,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(&json!({"Description": name, "Policies": [{"Name": name}]}).to_string()),
    )
    .await;
    assert_eq!(st, 200, "token {name}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["SecretID"].as_str().unwrap().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// 200 and not marked filtered.
    Allow,
    /// 403 with a `Permission denied` body.
    Deny,
    /// 200 (or a 404 for an emptied KV listing) marked filtered.
    Filtered,
}

#[tokio::test]
async fn tokens_by_rule_kind_against_the_endpoints_they_guard() {
    let s = acl_server("deny").await;
    // Data to guard, written with the management token.
    for (k, v) in [
        ("app/a", "1"),
        ("app/secret/b", "2"),
        ("app/secret/open", "3"),
        ("other/c", "4"),
    ] {
        let (st, _, b) = call(&s, "PUT", &format!("/v1/kv/{k}"), MGMT, Some(v)).await;
        assert_eq!(st, 200, "{k}: {b}");
    }
    for svc in ["web", "db"] {
        let (st, _, b) = call(
            &s,
            "PUT",
            "/v1/agent/service/register",
            MGMT,
            Some(&json!({"Name": svc, "Port": 80}).to_string()),
        )
        .await;
        assert_eq!(st, 200, "{svc}: {b}");
    }

    let kv_read = token_with(&s, "kv-read", r#"key_prefix "app/" { policy = "read" }"#).await;
    let kv_precedence = token_with(
        &s,
        "kv-precedence",
        r#"
key_prefix "app/" { policy = "write" }
key_prefix "app/secret/" { policy = "deny" }
key "app/secret/open" { policy = "read" }
"#,
    )
    .await;
    let web_write = token_with(
        &s,
        "web-write",
        r#"service "web" { policy = "write" }
node_prefix "" { policy = "read" }"#,
    )
    .await;
    let registrator = token_with(
        &s,
        "registrator",
        r#"service_prefix "" { policy = "write" }"#,
    )
    .await;
    let catalog_read = token_with(
        &s,
        "catalog-read",
        r#"{"service_prefix": {"": {"policy": "read"}}, "node_prefix": {"": {"policy": "read"}}}"#,
    )
    .await;
    let agent_read = token_with(&s, "agent-read", r#"agent_prefix "" { policy = "read" }"#).await;
    let session_write = token_with(
        &s,
        "session-write",
        r#"session_prefix "" { policy = "write" }"#,
    )
    .await;
    let operator_read = token_with(&s, "operator-read", r#"operator = "read""#).await;
    let acl_read = token_with(&s, "acl-read", r#"acl = "read""#).await;
    let event_write = token_with(
        &s,
        "event-write",
        r#"event_prefix "deploy" { policy = "write" }"#,
    )
    .await;

    // Who, request, body, expected: one line a case.
    const MATRIX: &str = "
        anonymous      GET    /v1/kv/app/a                     -        deny
        anonymous      PUT    /v1/kv/app/a                     x        deny
        anonymous      GET    /v1/kv/?recurse                  -        filtered
        anonymous      GET    /v1/catalog/services             -        filtered
        anonymous      GET    /v1/catalog/nodes                -        filtered
        anonymous      GET    /v1/health/service/web           -        filtered
        anonymous      GET    /v1/agent/services               -        filtered
        anonymous      GET    /v1/agent/self                   -        deny
        anonymous      PUT    /v1/agent/service/register       web      deny
        anonymous      GET    /v1/acl/tokens                   -        deny
        anonymous      GET    /v1/snapshot                     -        deny
        kv-read        GET    /v1/kv/app/a                     -        allow
        kv-read        GET    /v1/kv/other/c                   -        deny
        kv-read        PUT    /v1/kv/app/a                     x        deny
        kv-read        GET    /v1/kv/?recurse                  -        filtered
        kv-read        GET    /v1/kv/app/?recurse              -        allow
        kv-read        GET    /v1/kv/?keys                     -        filtered
        kv-read        DELETE /v1/kv/app/?recurse              -        deny
        kv-read        PUT    /v1/session/create               session  deny
        kv-read        GET    /v1/operator/raft/configuration  -        deny
        kv-precedence  PUT    /v1/kv/app/a                     x        allow
        kv-precedence  PUT    /v1/kv/app/secret/b              x        deny
        kv-precedence  GET    /v1/kv/app/secret/b              -        deny
        kv-precedence  GET    /v1/kv/app/secret/open           -        allow
        kv-precedence  PUT    /v1/kv/app/secret/open           x        deny
        kv-precedence  DELETE /v1/kv/app/?recurse              -        deny
        kv-precedence  DELETE /v1/kv/app/a                     -        allow
        web-write      PUT    /v1/agent/service/register       web      allow
        web-write      PUT    /v1/agent/service/register       db       deny
        web-write      GET    /v1/catalog/services             -        filtered
        web-write      GET    /v1/catalog/service/web          -        allow
        web-write      GET    /v1/agent/service/web            -        allow
        web-write      GET    /v1/agent/service/db             -        deny
        web-write      PUT    /v1/agent/service/deregister/db  -        deny
        web-write      GET    /v1/kv/app/a                     -        deny
        registrator    PUT    /v1/agent/service/register       db       allow
        registrator    PUT    /v1/kv/app/a                     x        deny
        registrator    GET    /v1/agent/self                   -        deny
        registrator    PUT    /v1/agent/maintenance?enable=true -       deny
        catalog-read   GET    /v1/catalog/services             -        allow
        catalog-read   GET    /v1/catalog/nodes                -        allow
        catalog-read   GET    /v1/health/service/web           -        allow
        catalog-read   GET    /v1/catalog/node/test-node       -        allow
        catalog-read   PUT    /v1/agent/service/register       web      deny
        agent-read     GET    /v1/agent/self                   -        allow
        agent-read     PUT    /v1/agent/reload                 -        deny
        session-write  PUT    /v1/session/create               session  allow
        session-write  GET    /v1/session/list                 -        allow
        anonymous      GET    /v1/session/list                 -        filtered
        operator-read  GET    /v1/operator/raft/configuration  -        allow
        operator-read  DELETE /v1/operator/raft/peer?id=x      -        deny
        acl-read       GET    /v1/acl/policies                 -        allow
        acl-read       GET    /v1/acl/tokens                   -        allow
        acl-read       PUT    /v1/acl/policy                   policy   deny
        acl-read       GET    /v1/snapshot                     -        deny
        management     GET    /v1/snapshot                     -        allow
        anonymous      PUT    /v1/event/fire/deploy            -        deny
        event-write    PUT    /v1/event/fire/deploy            -        allow
        event-write    PUT    /v1/event/fire/other             -        deny
        anonymous      PUT    /v1/coordinate/update            coord    deny
        web-write      PUT    /v1/coordinate/update            coord    deny
        management     PUT    /v1/coordinate/update            coord    allow
    ";
    let tokens: std::collections::HashMap<&str, &str> = [
        ("anonymous", ""),
        ("kv-read", kv_read.as_str()),
        ("kv-precedence", kv_precedence.as_str()),
        ("web-write", web_write.as_str()),
        ("registrator", registrator.as_str()),
        ("catalog-read", catalog_read.as_str()),
        ("agent-read", agent_read.as_str()),
        ("session-write", session_write.as_str()),
        ("operator-read", operator_read.as_str()),
        ("acl-read", acl_read.as_str()),
        ("event-write", event_write.as_str()),
        ("management", MGMT),
    ]
    .into();
    let bodies: std::collections::HashMap<&str, String> = [
        ("x", "x".to_string()),
        ("web", json!({"Name": "web", "Port": 81}).to_string()),
        ("db", json!({"Name": "db", "Port": 82}).to_string()),
        ("session", json!({"Name": "s", "Checks": []}).to_string()),
        ("policy", json!({"Name": "nope", "Rules": ""}).to_string()),
        (
            "coord",
            json!({"Node": "test-node", "Coord": {"Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5}})
                .to_string(),
        ),
    ]
    .into();
    let mut failures = Vec::new();
    for line in MATRIX.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [who, method, path, body, want] = f[..] else {
            panic!("bad case {line:?}");
        };
        let want = match want {
            "allow" => Want::Allow,
            "deny" => Want::Deny,
            _ => Want::Filtered,
        };
        let body = (body != "-").then(|| bodies[body].as_str());
        let (st, filtered, text) = call(&s, method, path, tokens[who], body).await;
        let got = match (st, filtered) {
            (200, false) => Want::Allow,
            (200 | 404, true) => Want::Filtered,
            (403, _) if text.starts_with("Permission denied") => Want::Deny,
            _ => {
                failures.push(format!("{who} {method} {path}: {st} {text}"));
                continue;
            }
        };
        if got != want {
            failures.push(format!(
                "{who} {method} {path}: wanted {want:?}, got {got:?} ({st} {text})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Denials name the token and the permission it lacks, as Consul's do.
    let (_, _, text) = call(&s, "PUT", "/v1/kv/other/c", &kv_read, Some("x")).await;
    let accessor = call(&s, "GET", "/v1/acl/token/self", &kv_read, None)
        .await
        .2;
    let accessor: Value = serde_json::from_str(&accessor).unwrap();
    assert_eq!(
        text,
        format!(
            "Permission denied: token with AccessorID '{}' lacks permission 'key:write' on \"other/c\"",
            accessor["AccessorID"].as_str().unwrap()
        )
    );
    // A filtered listing shows what the token may read, and only that (`app/a` was deleted
    // by the kv-precedence case).
    let (_, _, body) = call(&s, "GET", "/v1/kv/?keys", &kv_read, None).await;
    let keys: Vec<String> = serde_json::from_str(&body).unwrap();
    assert_eq!(keys, ["app/secret/b", "app/secret/open"]);
    let (_, _, body) = call(&s, "GET", "/v1/catalog/services", &web_write, None).await;
    let services: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        services.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["web"]
    );
    // A secret that is no token's: 403 ACL not found, even where anonymous may read.
    let (st, _, text) = call(&s, "GET", "/v1/status/leader", "no-such-token", None).await;
    assert_eq!(st, 200, "status needs no token: {text}");
    let (st, _, text) = call(&s, "GET", "/v1/catalog/services", "no-such-token", None).await;
    assert_eq!((st, text.as_str()), (403, "ACL not found"));
    // Secrets are shown only to tokens with acl:write.
    let (_, _, body) = call(&s, "GET", "/v1/acl/tokens", &acl_read, None).await;
    assert!(
        !body.contains(MGMT) && body.contains(r"\u003chidden\u003e"),
        "{body}"
    );
    // The default policy is announced on every read.
    let (_, h, _) = s.get_full("/v1/catalog/nodes").await;
    assert_eq!(h["x-consul-default-acl-policy"], "deny");
}

#[tokio::test]
async fn token_sources_and_the_default_policy_allow() {
    let s = acl_server("allow").await;
    let deny_kv = token_with(&s, "deny-kv", r#"key_prefix "" { policy = "deny" }"#).await;
    // Under `allow`, the anonymous token may use the catalog and KV but never manage ACLs.
    assert_eq!(call(&s, "PUT", "/v1/kv/open", "", Some("1")).await.0, 200);
    assert_eq!(call(&s, "GET", "/v1/acl/policies", "", None).await.0, 403);
    // The token from each of Consul's three places.
    for how in ["header", "query", "bearer"] {
        let mut r = s.http.get(s.url("/v1/kv/open"));
        match how {
            "header" => r = r.header("X-Consul-Token", &deny_kv),
            "bearer" => r = r.header("Authorization", format!("Bearer {deny_kv}")),
            _ => r = s.http.get(s.url(&format!("/v1/kv/open?token={deny_kv}"))),
        }
        let st = r.send().await.unwrap().status().as_u16();
        assert_eq!(st, 403, "token from the {how} is used");
    }
}

#[tokio::test]
async fn bootstrap_once_then_only_through_the_reset_file() {
    // `allow`: before a bootstrap no token exists to read the catalog with.
    let mut s = TestServer::start_with(&["-hcl", "acl { enabled = true }"]).await;
    // Until the leader has stored the built-ins, bootstrap may not find them; wait for them.
    let mut first = None;
    for _ in 0..100 {
        let (st, _, body) = call(&s, "PUT", "/v1/acl/bootstrap", "", None).await;
        if st == 200 {
            first = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first: Value = serde_json::from_str(&first.expect("bootstrap succeeded")).unwrap();
    assert_eq!(first["Description"], "Bootstrap Token (Global Management)");
    assert_eq!(first["ID"], first["SecretID"]);
    assert_eq!(first["Policies"][0]["Name"], "global-management");
    let secret = first["SecretID"].as_str().unwrap().to_string();
    let (st, _, text) = call(&s, "PUT", "/v1/acl/bootstrap", "", None).await;
    assert_eq!(st, 403);
    let idx: u64 = text
        .strip_prefix("Permission denied: ACL bootstrap no longer allowed (reset index: ")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{text}"))
        .parse()
        .unwrap();
    // The bootstrap token manages everything; the anonymous token no ACLs.
    assert_eq!(
        call(&s, "GET", "/v1/acl/tokens", &secret, None).await.0,
        200
    );
    assert_eq!(call(&s, "GET", "/v1/acl/tokens", "", None).await.0, 403);
    // A wrong reset index is refused; the right one allows one more bootstrap.
    std::fs::write(s.data_dir().join("acl-bootstrap-reset"), "999999").unwrap();
    let (st, _, text) = call(&s, "PUT", "/v1/acl/bootstrap", "", None).await;
    assert_eq!(st, 403, "{text}");
    assert!(text.contains("Invalid bootstrap reset index"), "{text}");
    std::fs::write(s.data_dir().join("acl-bootstrap-reset"), idx.to_string()).unwrap();
    let (st, _, text) = call(&s, "PUT", "/v1/acl/bootstrap", "", None).await;
    assert_eq!(st, 200, "{text}");
    assert!(!s.data_dir().join("acl-bootstrap-reset").exists());
    assert_eq!(call(&s, "PUT", "/v1/acl/bootstrap", "", None).await.0, 403);

    // Tokens and policies survive a restart.
    let kv = {
        let (_, _, b) = call(
            &s,
            "PUT",
            "/v1/acl/policy",
            &secret,
            Some(r#"{"Name":"kv","Rules":"key_prefix \"\" { policy = \"write\" }"}"#),
        )
        .await;
        assert!(b.contains("\"Name\":\"kv\""), "{b}");
        let (_, _, b) = call(
            &s,
            "PUT",
            "/v1/acl/token",
            &secret,
            Some(r#"{"Policies":[{"Name":"kv"}]}"#),
        )
        .await;
        serde_json::from_str::<Value>(&b).unwrap()["SecretID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(s.terminate().is_some_and(|st| st.success()));
    s.start().await;
    assert_eq!(call(&s, "PUT", "/v1/kv/after", &kv, Some("1")).await.0, 200);
    assert_eq!(call(&s, "GET", "/v1/acl/policies", &kv, None).await.0, 403);
    assert_eq!(
        call(&s, "GET", "/v1/acl/policies", &secret, None).await.0,
        200
    );
}

#[tokio::test]
async fn a_token_deleted_while_its_blocking_query_waits_sees_nothing_more() {
    let s = acl_server("deny").await;
    let reader = token_with(&s, "reader", r#"key_prefix "watch/" { policy = "read" }"#).await;
    call(&s, "PUT", "/v1/kv/watch/a", MGMT, Some("1")).await;
    let (_, h, _) = s
        .get_full(&format!("/v1/kv/watch/?recurse&token={reader}"))
        .await;
    let index = h["x-consul-index"].to_str().unwrap().to_string();
    let url = s.url(&format!("/v1/kv/watch/?recurse&index={index}&wait=20s"));
    let http = s.http.clone();
    let tok = reader.clone();
    let parked = tokio::spawn(async move {
        let r = http
            .get(url)
            .header("X-Consul-Token", tok)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let self_doc: Value =
        serde_json::from_str(&call(&s, "GET", "/v1/acl/token/self", &reader, None).await.2)
            .unwrap();
    let accessor = self_doc["AccessorID"].as_str().unwrap();
    let (st, _, b) = call(
        &s,
        "DELETE",
        &format!("/v1/acl/token/{accessor}"),
        MGMT,
        None,
    )
    .await;
    assert_eq!((st, b.trim()), (200, "true"));
    call(&s, "PUT", "/v1/kv/watch/b", MGMT, Some("secret")).await;
    let (st, body) = parked.await.unwrap();
    assert!(
        !body.contains("watch/b") && !body.contains("c2VjcmV0"),
        "a deleted token's query returned data: {st} {body}"
    );
    assert!(!call(&s, "GET", "/v1/kv/watch/a", &reader, None).await.1);
    assert_eq!(
        call(&s, "GET", "/v1/kv/watch/a", &reader, None).await.0,
        403
    );
}

#[tokio::test]
async fn agent_tokens_set_through_the_api_and_persisted() {
    let hcl = acl_hcl("deny", "enable_token_persistence = true");
    let mut s = acl_server_with(&hcl).await;
    let kv = token_with(&s, "kv-all", r#"key_prefix "" { policy = "read" }"#).await;
    call(&s, "PUT", "/v1/kv/d", MGMT, Some("1")).await;
    assert_eq!(call(&s, "GET", "/v1/kv/d", "", None).await.0, 403);
    // The agent's default token answers for requests without one.
    let body = json!({"Token": kv}).to_string();
    assert_eq!(
        call(&s, "PUT", "/v1/agent/token/default", &kv, Some(&body))
            .await
            .0,
        403
    );
    let (st, _, b) = call(&s, "PUT", "/v1/agent/token/default", MGMT, Some(&body)).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(call(&s, "GET", "/v1/kv/d", "", None).await.0, 200);
    // The replication token (stored: one datacenter replicates nothing, as in Consul) and the
    // DNS token, under their names and Consul's older ones; the last set wins.
    for (kind, secret) in [
        ("replication", "replication-1"),
        ("acl_replication_token", "replication-2"),
        ("dns", "dns-1"),
        ("dns_token", "dns-2"),
    ] {
        let body = json!({ "Token": secret }).to_string();
        let path = format!("/v1/agent/token/{kind}");
        let (st, _, b) = call(&s, "PUT", &path, MGMT, Some(&body)).await;
        assert_eq!(st, 200, "{kind}: {b}");
    }
    // Persisted under Consul's keys in acl-tokens.json.
    let file = s.data_dir().join("acl-tokens.json");
    let saved = || -> Value {
        serde_json::from_slice(&std::fs::read(&file).expect("acl-tokens.json")).expect("json")
    };
    assert_eq!(
        saved(),
        json!({"replication": "replication-2", "default": kv, "dns": "dns-2"})
    );
    // Kept across a restart (enable_token_persistence).
    assert!(s.terminate().is_some_and(|st| st.success()));
    s.start().await;
    assert_eq!(call(&s, "GET", "/v1/kv/d", "", None).await.0, 200);
    // Loaded as set through the API: the next change writes them again beside it.
    let body = json!({"Token": "agent-1"}).to_string();
    let (st, _, b) = call(&s, "PUT", "/v1/agent/token/agent", MGMT, Some(&body)).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        saved(),
        json!({"replication": "replication-2", "default": kv, "agent": "agent-1", "dns": "dns-2"})
    );
    assert_eq!(
        call(&s, "PUT", "/v1/agent/token/nonsense", MGMT, Some(&body))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn acl_endpoints_answer_401_when_acls_are_off() {
    let s = TestServer::start().await;
    let (st, _, text) = call(&s, "GET", "/v1/acl/tokens", "", None).await;
    assert_eq!((st, text.as_str()), (401, "ACL support disabled"));
    let (st, _, _) = call(&s, "PUT", "/v1/agent/token/default", "", Some("{}")).await;
    assert_eq!(st, 401);
    // With ACLs off a token is not checked.
    assert_eq!(
        call(&s, "PUT", "/v1/kv/a", "whatever", Some("1")).await.0,
        200
    );
}

#[test]
fn acl_settings_that_would_not_take_effect_stop_the_agent() {
    for (hcl, says) in [
        (
            r#"acl { enabled = true default_policy = "bogus" }"#,
            "Invalid ACL default policy",
        ),
        (
            r#"acl { enabled = true enable_token_replication = true }"#,
            "acl.enable_token_replication = true: ACL replication between datacenters",
        ),
        (
            "acl { enabled = true }\nacl_replication_token = \"x\"",
            "set acl.tokens.replication",
        ),
        (r#"acl { enabled = true enable = true }"#, "acl.enable"),
        (
            r#"acl_master_token = "x""#,
            "acl_master_token is set but ACLs are not enabled",
        ),
        (r#"acl_datacenter = "dc1""#, "acl_datacenter"),
    ] {
        let out = std::process::Command::new(test_support::binary("consul"))
            .args(["agent", "-dev", "-http-port=0", "-hcl", hcl])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{hcl} started");
        assert!(
            stderr.contains(says) || stdout.contains(says),
            "{hcl}: {stderr}{stdout}"
        );
    }
}

/// Three servers: a policy and token written through one server are enforced by every
/// other (the ACL tables travel through Raft like the catalog).
#[tokio::test]
async fn tokens_are_replicated_to_every_server() {
    use crate::common::ReservedPort;
    const IPS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let hcl = acl_hcl("deny", "");
    let ports = ReservedPort::shared(&IPS);
    let mut servers: Vec<TestServer> = IPS
        .iter()
        .zip(ports)
        .enumerate()
        .map(|(i, (ip, port))| {
            let others: Vec<String> = IPS
                .iter()
                .filter(|o| *o != ip)
                .map(|o| o.to_string())
                .collect();
            TestServer::new(
                TestServer::builder()
                    .ip(ip)
                    .node(&format!("server{}", i + 1))
                    .member(3, &others)
                    .server_port(port)
                    .token(MGMT)
                    .args(["-hcl", &hcl])
                    .build(),
            )
        })
        .collect();
    for s in servers.iter_mut() {
        s.spawn();
    }
    for s in servers.iter_mut() {
        s.wait_ready(Duration::from_secs(60)).await;
    }
    // Written on the first server (forwarded to the leader when it is a follower).
    let kv = token_with(
        &servers[0],
        "kv-rep",
        r#"key_prefix "rep/" { policy = "write" }"#,
    )
    .await;
    for s in &servers {
        // Default reads are consistent: each server has applied the token before answering.
        let ok = crate::common::wait_until(Duration::from_secs(10), || async {
            call(s, "PUT", "/v1/kv/rep/x", &kv, Some("1")).await.0 == 200
        })
        .await;
        assert!(ok, "{} does not know the token", s.node());
        assert_eq!(call(s, "PUT", "/v1/kv/other", &kv, Some("1")).await.0, 403);
        assert_eq!(call(s, "PUT", "/v1/kv/rep/x", "", Some("1")).await.0, 403);
    }
}

/// A token with an expiration time works until then and not after: its secret is `ACL not
/// found` and it leaves the token list (the leader deletes it later).
#[tokio::test]
async fn an_expired_token_stops_resolving() {
    let s = acl_server("deny").await;
    let (_, _, b) = call(
        &s,
        "PUT",
        "/v1/acl/policy",
        MGMT,
        Some(r#"{"Name":"kv","Rules":"key_prefix \"\" { policy = \"write\" }"}"#),
    )
    .await;
    assert!(b.contains("kv"), "{b}");
    let soon = time_in(Duration::from_secs(2));
    let (st, _, b) = call(
        &s,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(&json!({"Policies": [{"Name": "kv"}], "ExpirationTime": soon}).to_string()),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let tok: Value = serde_json::from_str(&b).unwrap();
    assert!(tok["ExpirationTime"].is_string(), "{b}");
    let secret = tok["SecretID"].as_str().unwrap();
    assert_eq!(call(&s, "PUT", "/v1/kv/e", secret, Some("1")).await.0, 200);
    let gone = crate::common::wait_until(Duration::from_secs(10), || async {
        call(&s, "PUT", "/v1/kv/e", secret, Some("1")).await.2 == "ACL not found"
    })
    .await;
    assert!(gone, "the token still resolves after its expiration time");
    let (_, _, list) = call(&s, "GET", "/v1/acl/tokens", MGMT, None).await;
    assert!(!list.contains(secret), "{list}");
}

/// RFC 3339 time `d` from now.
fn time_in(d: Duration) -> String {
    let at = std::time::SystemTime::now() + d;
    let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A policy or identity restricted to other datacenters grants nothing in this one.
#[tokio::test]
async fn policies_and_identities_of_other_datacenters_grant_nothing_here() {
    let s = acl_server("deny").await;
    let mut secrets = Vec::new();
    for (name, dcs) in [("here", json!(["dc1"])), ("there", json!(["dc2"]))] {
        let body = json!({"Name": name, "Datacenters": dcs, "Rules": "key_prefix \"\" { policy = \"write\" }"});
        let (st, _, b) = call(&s, "PUT", "/v1/acl/policy", MGMT, Some(&body.to_string())).await;
        assert_eq!(st, 200, "{b}");
        let body = json!({"Policies": [{"Name": name}]});
        let (_, _, b) = call(&s, "PUT", "/v1/acl/token", MGMT, Some(&body.to_string())).await;
        let v: Value = serde_json::from_str(&b).unwrap();
        secrets.push(v["SecretID"].as_str().unwrap().to_string());
    }
    assert_eq!(
        call(&s, "PUT", "/v1/kv/dc", &secrets[0], Some("1")).await.0,
        200
    );
    assert_eq!(
        call(&s, "PUT", "/v1/kv/dc", &secrets[1], Some("1")).await.0,
        403
    );
    let web = json!({"Name": "web", "Port": 80}).to_string();
    for (dcs, want) in [(json!(["dc1"]), 200), (json!(["dc2"]), 403)] {
        let body = json!({"ServiceIdentities": [{"ServiceName": "web", "Datacenters": dcs}]});
        let (_, _, b) = call(&s, "PUT", "/v1/acl/token", MGMT, Some(&body.to_string())).await;
        let v: Value = serde_json::from_str(&b).unwrap();
        let secret = v["SecretID"].as_str().unwrap();
        let st = call(&s, "PUT", "/v1/agent/service/register", secret, Some(&web))
            .await
            .0;
        assert_eq!(st, want, "service identity in {dcs}");
    }
}

#[tokio::test]
async fn watchers_with_different_tokens_each_get_what_their_token_sees() {
    let s = acl_server("deny").await;
    for n in ["n1", "n2"] {
        let reg =
            json!({"Node": n, "Address": "10.0.0.1", "Service": {"Service": "web", "Port": 80}});
        assert_eq!(
            call(
                &s,
                "PUT",
                "/v1/catalog/register",
                MGMT,
                Some(&reg.to_string())
            )
            .await
            .0,
            200
        );
    }
    let one = token_with(
        &s,
        "one",
        r#"service "web" { policy = "read" } node "n1" { policy = "read" }"#,
    )
    .await;
    let both = token_with(
        &s,
        "both",
        r#"service "web" { policy = "read" } node_prefix "n" { policy = "read" }"#,
    )
    .await;
    let (_, h, _) = s
        .get_full(&format!("/v1/health/service/web?token={MGMT}"))
        .await;
    let index: u64 = h["x-consul-index"].to_str().unwrap().parse().unwrap();
    let mut waiters = Vec::new();
    for tok in [&one, &both, &one, &both] {
        let url = s.url(&format!("/v1/health/service/web?index={index}&wait=20s"));
        let (http, tok) = (s.http.clone(), tok.clone());
        waiters.push(tokio::spawn(async move {
            let r = http
                .get(url)
                .header("X-Consul-Token", &tok)
                .send()
                .await
                .unwrap();
            let filtered = r
                .headers()
                .contains_key("X-Consul-Results-Filtered-By-ACLs");
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            let nodes: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["Node"]["Node"].as_str().unwrap().to_string())
                .collect();
            (tok, nodes, filtered)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reg =
        json!({"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "web", "Port": 81}});
    assert_eq!(
        call(
            &s,
            "PUT",
            "/v1/catalog/register",
            MGMT,
            Some(&reg.to_string())
        )
        .await
        .0,
        200
    );
    for w in waiters {
        let (tok, nodes, filtered) = tokio::time::timeout(Duration::from_secs(20), w)
            .await
            .unwrap()
            .unwrap();
        if tok == one {
            assert_eq!((nodes, filtered), (vec!["n1".to_string()], true));
        } else {
            assert_eq!(
                (nodes, filtered),
                (vec!["n1".to_string(), "n2".to_string()], false)
            );
        }
    }
}
