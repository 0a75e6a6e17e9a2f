//! ACL auth methods, binding rules, login and logout on a real agent with `default_policy =
//! "deny"`: the `jwt` type's configuration checked with Consul's texts (and the types and
//! settings this agent lacks refused by name), binding rules validated and listed per method,
//! logins with JWTs signed by a key made here (ES256) turned into tokens whose identities,
//! roles and policies come from the matching rules, logout of those tokens only, and a method's
//! deletion taking its rules and tokens with it.

use crate::acl::{acl_hcl, acl_server_with, call, MGMT};
use crate::common::TestServer;
use serde_json::{json, Value};

/// py-consul's RSA test key: a `PUBLIC KEY` PEM Consul accepts in `JWTValidationPubKeys`.
const RSA_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0VPUoKqJMko3Snie9UX1
AgDQcE0W13BdhFJn9ngzjq/ce2WJiIzww/sY1NVwVUkymdGYsFhoEorvGBwsOgWI
FEOlpKgTWOjn+nXVYCH7AnyVdYkCfgDPItdv666ankphcv55QJOY16om2uSWV3iy
IoScXHFVJtBhlwho33wH+AZLmaV2LSEYqQdqHhGKT6JO20QRGYQzxfXkGSbEUtNm
f2Tgbr4nZPL/fKqhuY+rsU7LGVYKGf5Ddrm5+AjotDturj4GAc+R49MfsPXN9pZG
BXOAq+NWy3W3IPz1DQ2wU1MYPm3X94FG7Og8b2qZ/5+oB/2RXwYTtW5vvOgZ6mSK
KwIDAQAB
-----END PUBLIC KEY-----";

/// An ES256 key pair made for the test: its public PEM for the method, JWTs signed with it.
pub(crate) struct Signer {
    key: rcgen::KeyPair,
}

impl Signer {
    pub(crate) fn new() -> Signer {
        Signer {
            key: rcgen::KeyPair::generate().expect("key pair"),
        }
    }

    pub(crate) fn public_pem(&self) -> String {
        self.key.public_key_pem()
    }

    pub(crate) fn jwt(&self, claims: &Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_ec_der(&self.key.serialize_der());
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            claims,
            &key,
        )
        .expect("sign")
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn auth_methods_and_binding_rules_with_consuls_shapes_and_texts() {
    let s = acl_server_with(&acl_hcl("deny", "")).await;
    let signer = Signer::new();
    let method = json!({
        "Name": "jwt-1",
        "Type": "jwt",
        "Description": "a jwt method",
        "MaxTokenTTL": "5m",
        "Config": {
            "JWTValidationPubKeys": [signer.public_pem(), RSA_PUBLIC_KEY],
            "BoundIssuer": "issuer",
            "ClaimMappings": {"name": "name", "team": "team"},
            "ListClaimMappings": {"groups": "groups"},
        },
    });
    let (st, _, body) = call(
        &s,
        "PUT",
        "/v1/acl/auth-method",
        MGMT,
        Some(&method.to_string()),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let created = parse(&body);
    assert_eq!(created["Name"], "jwt-1");
    assert_eq!(created["Type"], "jwt");
    assert_eq!(created["MaxTokenTTL"], "5m0s");
    assert_eq!(created["Config"]["BoundIssuer"], "issuer");
    // The free-form config keeps its keys as given ("name" is not turned into "Name").
    assert_eq!(created["Config"]["ClaimMappings"]["name"], "name");
    assert!(
        body.starts_with("{\"MaxTokenTTL\":\"5m0s\",\"Name\":\"jwt-1\""),
        "{body}"
    );

    let (st, _, body) = call(&s, "GET", "/v1/acl/auth-method/jwt-1", MGMT, None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(parse(&body)["Description"], "a jwt method");
    let (st, _, body) = call(&s, "GET", "/v1/acl/auth-methods", MGMT, None).await;
    assert_eq!(st, 200, "{body}");
    let list = parse(&body);
    assert_eq!(list[0]["Name"], "jwt-1");
    assert!(list[0].get("Config").is_none(), "{body}");
    let (st, _, body) = call(&s, "GET", "/v1/acl/auth-method/nope", MGMT, None).await;
    assert_eq!(
        (st, body.as_str()),
        (404, "Requested auth method does not exist: ACL not found")
    );
    let (st, _, body) = call(&s, "GET", "/v1/acl/auth-methods", "", None).await;
    assert_eq!(st, 403, "{body}");

    // Updates keep the type; the URL's name and the body's must agree.
    let mut update = method.clone();
    update["Description"] = json!("updated");
    update["Type"] = json!("");
    let (st, _, body) = call(
        &s,
        "PUT",
        "/v1/acl/auth-method/jwt-1",
        MGMT,
        Some(&update.to_string()),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(parse(&body)["Type"], "jwt");
    assert_eq!(parse(&body)["Description"], "updated");
    let (st, _, body) = call(
        &s,
        "PUT",
        "/v1/acl/auth-method/other",
        MGMT,
        Some(&method.to_string()),
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (400, "AuthMethod Name in URL and payload do not match")
    );

    // Consul's refusals, and what this agent refuses by name.
    let refused = |patch: Value| {
        let mut m = method.clone();
        m["Name"] = json!("jwt-2");
        for (k, v) in patch.as_object().unwrap() {
            if k == "Config" {
                for (ck, cv) in v.as_object().unwrap() {
                    m["Config"][ck] = cv.clone();
                }
            } else {
                m[k] = v.clone();
            }
        }
        m.to_string()
    };
    let cases = [
        (json!({"Type": "kubernetes"}), 400, "Invalid Auth Method: Type \"kubernetes\" is not supported by this agent (only \"jwt\" is)"),
        (json!({"Type": "oidc"}), 400, "Invalid Auth Method: Type \"oidc\" is not supported by this agent (only \"jwt\" is)"),
        (json!({"Type": "testing"}), 500, "Invalid Auth Method: Type should be one of: [aws-iam jwt kubernetes]"),
        (json!({"MaxTokenTTL": "48h"}), 500, "MaxTokenTTL 48h0m0s cannot be more than 24h0m0s"),
        (json!({"TokenLocality": "nowhere"}), 500, "Invalid Auth Method: TokenLocality should be one of 'local' or 'global'"),
        (json!({"Name": "bad name!"}), 500, "Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"),
        (json!({"Config": {"JWKSURL": "https://127.0.0.1:1/jwks"}}), 500, "Invalid Auth Method: exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set for type \"jwt\""),
        (json!({"Config": {"JWTValidationPubKeys": null, "JWKSURL": "https://127.0.0.1:1/jwks"}}), 400, "Invalid Auth Method: 'JWKSURL' is not supported by this agent (keys are not fetched): give the keys in 'JWTValidationPubKeys'"),
        (json!({"Config": {"JWTValidationPubKeys": null, "OIDCDiscoveryURL": "https://127.0.0.1:1"}}), 400, "Invalid Auth Method: 'OIDCDiscoveryURL' is not supported by this agent (keys are not fetched): give the keys in 'JWTValidationPubKeys'"),
        (json!({"Config": {"Bogus": 1}}), 500, "Invalid Auth Method: error decoding config: 1 error(s) decoding:\n\n* '' has invalid keys: Bogus"),
        (json!({"Config": {"JWTValidationPubKeys": ["not a key"]}}), 500, "Invalid Auth Method: error parsing public key JWTValidationPubKeys[0]: data does not contain any valid RSA, ECDSA, or ED25519 public keys"),
    ];
    for (patch, status, text) in cases {
        let (st, _, body) = call(
            &s,
            "PUT",
            "/v1/acl/auth-method",
            MGMT,
            Some(&refused(patch.clone())),
        )
        .await;
        assert_eq!((st, body.as_str()), (status, text), "{patch}");
    }
    let mut other_type = method.clone();
    other_type["Type"] = json!("kubernetes");
    let (st, _, body) = call(
        &s,
        "PUT",
        "/v1/acl/auth-method/jwt-1",
        MGMT,
        Some(&other_type.to_string()),
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (500, "the Type field of an Auth Method is immutable")
    );

    // Binding rules.
    let rule = json!({
        "AuthMethod": "jwt-1",
        "Description": "web team",
        "Selector": "value.team == \"web\" and \"admins\" in list.groups",
        "BindType": "service",
        "BindName": "svc-${value.name}",
    });
    let (st, _, body) = call(
        &s,
        "PUT",
        "/v1/acl/binding-rule",
        MGMT,
        Some(&rule.to_string()),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let created = parse(&body);
    let id = created["ID"].as_str().unwrap().to_string();
    assert_eq!(created["BindName"], "svc-${value.name}");
    let (st, _, body) = call(&s, "GET", &format!("/v1/acl/binding-rule/{id}"), MGMT, None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(parse(&body)["Selector"], rule["Selector"]);
    for (query, n) in [("", 1), ("?authmethod=jwt-1", 1), ("?authmethod=other", 0)] {
        let (st, _, body) = call(
            &s,
            "GET",
            &format!("/v1/acl/binding-rules{query}"),
            MGMT,
            None,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(parse(&body).as_array().unwrap().len(), n, "{query}: {body}");
    }
    let mut update = rule.clone();
    update["BindType"] = json!("role");
    update["BindName"] = json!("admins");
    let (st, _, body) = call(
        &s,
        "PUT",
        &format!("/v1/acl/binding-rule/{id}"),
        MGMT,
        Some(&update.to_string()),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(parse(&body)["BindType"], "role");
    for (patch, status, text) in [
        (
            json!({"AuthMethod": "nope"}),
            500,
            "cannot find auth method with name \"nope\"".to_string(),
        ),
        (
            json!({"AuthMethod": ""}),
            500,
            "Invalid Binding Rule: no AuthMethod is set".to_string(),
        ),
        (
            json!({"BindType": "everything"}),
            500,
            "Invalid Binding Rule: unknown BindType \"everything\"".to_string(),
        ),
        (
            json!({"BindType": "templated-policy"}),
            400,
            "Invalid Binding Rule: BindType \"templated-policy\" is not supported by this agent"
                .to_string(),
        ),
        (
            json!({"BindName": ""}),
            500,
            "Invalid Binding Rule: no BindName is set".to_string(),
        ),
        (
            json!({"BindName": "${value.nope}"}),
            500,
            "Invalid Binding Rule: invalid BindName: unknown variable accessed: value.nope"
                .to_string(),
        ),
        (
            json!({"BindName": "Not_Valid!"}),
            500,
            "Invalid Binding Rule: invalid BindName".to_string(),
        ),
        (
            json!({"Selector": "value.team =="}),
            500,
            String::from("invalid Binding Rule: Selector is invalid: "),
        ),
        (
            json!({"Selector": "nope.team == \"x\""}),
            500,
            "invalid Binding Rule: Selector is invalid: Selector \"nope".to_string(),
        ),
    ] {
        let mut r = rule.clone();
        for (k, v) in patch.as_object().unwrap() {
            r[k] = v.clone();
        }
        let (st, _, body) = call(
            &s,
            "PUT",
            "/v1/acl/binding-rule",
            MGMT,
            Some(&r.to_string()),
        )
        .await;
        assert_eq!(st, status, "{patch}: {body}");
        assert!(body.starts_with(&text), "{patch}: {body}");
    }
    let (st, _, body) = call(
        &s,
        "GET",
        "/v1/acl/binding-rule/00000000-1111-2222-3333-444444444444",
        MGMT,
        None,
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (404, "Requested binding rule does not exist: ACL not found")
    );

    // Deleting the method deletes its rules; deleting what is not there answers true.
    let (st, _, body) = call(&s, "DELETE", "/v1/acl/auth-method/jwt-1", MGMT, None).await;
    assert_eq!((st, body.trim()), (200, "true"));
    let (st, _, body) = call(&s, "GET", &format!("/v1/acl/binding-rule/{id}"), MGMT, None).await;
    assert_eq!(st, 404, "{body}");
    let (st, _, body) = call(&s, "DELETE", "/v1/acl/auth-method/jwt-1", MGMT, None).await;
    assert_eq!((st, body.trim()), (200, "true"));
    let (st, _, body) = call(&s, "GET", "/v1/acl/auth-method/", MGMT, None).await;
    assert_eq!((st, body.as_str()), (400, "Missing auth method name"));
}

/// `POST /v1/acl/login` to the `jwt` method: status and body.
async fn login(s: &TestServer, bearer: String, meta: Value) -> (u16, String) {
    let body = json!({"AuthMethod": "jwt", "BearerToken": bearer, "Meta": meta});
    let (st, _, text) = call(s, "POST", "/v1/acl/login", "", Some(&body.to_string())).await;
    (st, text)
}

#[tokio::test]
async fn logins_turn_matching_rules_into_tokens_that_logout_deletes() {
    // Snapshots every few writes: the restart below reads methods and rules back from one.
    let hcl = format!(
        "{}\nraft_snapshot_threshold = 4\nraft_trailing_logs = 2",
        acl_hcl("deny", "")
    );
    let mut s = acl_server_with(&hcl).await;
    let signer = Signer::new();
    let put = |path: &'static str, body: Value| {
        let s = &s;
        async move {
            let (st, _, text) = call(s, "PUT", path, MGMT, Some(&body.to_string())).await;
            assert_eq!(st, 200, "{path}: {text}");
            parse(&text)
        }
    };
    put(
        "/v1/acl/auth-method",
        json!({
            "Name": "jwt",
            "Type": "jwt",
            "MaxTokenTTL": "10m",
            "Config": {
                "JWTValidationPubKeys": [signer.public_pem()],
                "BoundIssuer": "issuer",
                "BoundAudiences": ["consul"],
                "ClaimMappings": {"name": "name", "/org/team": "team"},
                "ListClaimMappings": {"groups": "groups"},
            },
        }),
    )
    .await;
    let role = put(
        "/v1/acl/role",
        json!({"Name": "admins", "Description": "admins"}),
    )
    .await;
    let policy = put(
        "/v1/acl/policy",
        json!({"Name": "readers", "Rules": "key_prefix \"\" { policy = \"read\" }"}),
    )
    .await;
    for rule in [
        json!({"AuthMethod": "jwt", "Selector": "value.team == \"web\"", "BindType": "service", "BindName": "${value.name}"}),
        json!({"AuthMethod": "jwt", "Selector": "\"admins\" in list.groups", "BindType": "role", "BindName": "admins"}),
        json!({"AuthMethod": "jwt", "Selector": "value.team == \"web\"", "BindType": "policy", "BindName": "readers"}),
        json!({"AuthMethod": "jwt", "Selector": "value.team == \"web\"", "BindType": "node", "BindName": "node-${value.name}"}),
        json!({"AuthMethod": "jwt", "Selector": "value.team == \"web\"", "BindType": "role", "BindName": "missing-role"}),
    ] {
        put("/v1/acl/binding-rule", rule).await;
    }
    let t = now();
    let claims = json!({
        "iss": "issuer",
        "aud": "consul",
        "iat": t,
        "exp": t + 600,
        "name": "Web-1",
        "org": {"team": "web"},
        "groups": ["admins", "devs"],
    });
    let (st, body) = login(&s, signer.jwt(&claims), json!({"pod": "p<1>"})).await;
    assert_eq!(st, 200, "{body}");
    let tok = parse(&body);
    assert_eq!(tok["AuthMethod"], "jwt");
    assert_eq!(tok["Local"], true);
    assert_eq!(
        tok["Description"],
        "token created via login: {\"pod\":\"p\\u003c1\\u003e\"}"
    );
    assert_eq!(tok["ServiceIdentities"], json!([{"ServiceName": "web-1"}]));
    assert_eq!(
        tok["NodeIdentities"],
        json!([{"NodeName": "node-web-1", "Datacenter": "dc1"}])
    );
    assert_eq!(tok["Roles"], json!([{"ID": role["ID"], "Name": "admins"}]));
    assert_eq!(
        tok["Policies"],
        json!([{"ID": policy["ID"], "Name": "readers"}])
    );
    assert!(tok["ExpirationTime"].is_string(), "{body}");
    let secret = tok["SecretID"].as_str().unwrap().to_string();
    let accessor = tok["AccessorID"].as_str().unwrap().to_string();

    // Methods, rules and login tokens survive a restart (snapshot and log replayed).
    assert!(s.terminate().is_some_and(|st| st.success()));
    s.start().await;
    let (st, _, body) = call(
        &s,
        "GET",
        "/v1/acl/binding-rules?authmethod=jwt",
        MGMT,
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(parse(&body).as_array().unwrap().len(), 5, "{body}");
    let (st, _, body) = call(&s, "GET", "/v1/acl/auth-method/jwt", MGMT, None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(parse(&body)["MaxTokenTTL"], "10m0s");

    // The token works, is listed under its method, and cannot be cloned.
    let (st, _, body) = call(&s, "GET", "/v1/acl/token/self", &secret, None).await;
    assert_eq!(st, 200, "{body}");
    let (st, _, body) = call(&s, "GET", "/v1/kv/anything?recurse", &secret, None).await;
    assert_eq!(st, 404, "key read allowed by the bound policy: {body}");
    let (st, _, body) = call(&s, "GET", "/v1/acl/tokens?authmethod=jwt", MGMT, None).await;
    assert_eq!(st, 200);
    let listed = parse(&body);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(listed[0]["AccessorID"], accessor.as_str());
    let (st, _, body) = call(
        &s,
        "PUT",
        &format!("/v1/acl/token/{accessor}/clone"),
        MGMT,
        Some("{}"),
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (500, "Cannot clone a token created from an auth method")
    );
    let (st, _, body) = call(
        &s,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(r#"{"AuthMethod":"jwt"}"#),
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (500, "AuthMethod field is disallowed outside of login")
    );
    // An update keeps the token's method and may not change it.
    let path = format!("/v1/acl/token/{accessor}");
    let (st, _, body) = call(&s, "PUT", &path, MGMT, Some(r#"{"Description":"d"}"#)).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(parse(&body)["AuthMethod"], "jwt");
    let (st, _, body) = call(&s, "PUT", &path, MGMT, Some(r#"{"AuthMethod":"x"}"#)).await;
    assert_eq!(
        (st, body),
        (500, format!("Cannot change AuthMethod of {accessor}"))
    );

    // Refusals.
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let cases = [
        (signer.jwt(&with(json!({"org": {"team": "db"}, "groups": []}))), 403, "Permission denied"),
        (signer.jwt(&with(json!({"iat": t - 7200, "exp": t - 3600}))), 500, "error validating claims: square/go-jose/jwt: validation failed, token is expired (exp)"),
        (signer.jwt(&with(json!({"iss": "someone-else"}))), 500, "error validating claims: square/go-jose/jwt: validation failed, invalid issuer claim (iss)"),
        (signer.jwt(&with(json!({"aud": "elsewhere"}))), 500, "error validating claims: aud claim does not match any bound audience"),
        (Signer::new().jwt(&claims), 500, "no known key successfully validated the token signature"),
        ("not-a-jwt".to_string(), 500, "error parsing token: "),
    ];
    for (bearer, status, text) in cases {
        let (st, body) = login(&s, bearer, json!(null)).await;
        assert_eq!(st, status, "{body}");
        assert!(body.starts_with(text), "{body}");
    }
    let body = json!({"AuthMethod": "nope", "BearerToken": signer.jwt(&claims)}).to_string();
    let (st, _, text) = call(&s, "POST", "/v1/acl/login", "", Some(&body)).await;
    assert_eq!(
        (st, text.as_str()),
        (403, "ACL not found: auth method \"nope\" not found")
    );

    // Logout: only tokens a login created, then they are gone.
    let (st, _, body) = call(&s, "POST", "/v1/acl/logout", MGMT, None).await;
    assert_eq!(
        (st, body.as_str()),
        (403, "Permission denied: token wasn't created via login")
    );
    let (st, _, body) = call(
        &s,
        "POST",
        "/v1/acl/logout",
        "6b1c2d3e-0000-4000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!((st, body.as_str()), (403, "ACL not found"));
    let (st, _, body) = call(&s, "POST", "/v1/acl/logout", &secret, None).await;
    assert_eq!((st, body.trim()), (200, "true"));
    let (st, _, _) = call(&s, "GET", "/v1/acl/token/self", &secret, None).await;
    assert_eq!(st, 403);

    // A method's deletion takes the tokens its logins created.
    let (st, body) = login(&s, signer.jwt(&claims), json!(null)).await;
    assert_eq!(st, 200, "{body}");
    let second = parse(&body)["AccessorID"].as_str().unwrap().to_string();
    let (st, _, _) = call(&s, "DELETE", "/v1/acl/auth-method/jwt", MGMT, None).await;
    assert_eq!(st, 200);
    let (st, _, body) = call(&s, "GET", &format!("/v1/acl/token/{second}"), MGMT, None).await;
    assert_eq!(st, 403, "{body}");
}
