//! KV semantics: flags, CAS, recurse, keys with separator, raw, 404 with index, size limit.

use crate::common::TestServer;
use serde_json::json;

#[tokio::test]
async fn kv_roundtrip_like_consul() {
    let s = TestServer::start().await;
    assert_eq!(
        s.put("/v1/kv/web/config?flags=42", "hello").await,
        (200, "true".to_string())
    );
    let v = s.json("/v1/kv/web/config").await;
    assert_eq!(v[0]["Key"], "web/config");
    assert_eq!(v[0]["Flags"], 42);
    assert_eq!(v[0]["Value"], "aGVsbG8=");
    assert_eq!(v[0]["LockIndex"], 0);
    assert!(v[0].get("Session").is_none());
    let (_, raw) = s.get("/v1/kv/web/config").await.unwrap();
    assert!(
        raw.starts_with(
            r#"[{"LockIndex":0,"Key":"web/config","Flags":42,"Value":"aGVsbG8=","CreateIndex":"#
        ),
        "{raw}"
    );
    let (_, h, body) = s.get_full("/v1/kv/web/config?raw").await;
    assert_eq!(body, "hello");
    assert_eq!(h["content-type"], "text/plain");

    // Empty value reads back as null.
    s.put("/v1/kv/web/empty", "").await;
    assert_eq!(
        s.json("/v1/kv/web/empty").await[0]["Value"],
        serde_json::Value::Null
    );

    // CAS.
    let idx = v[0]["ModifyIndex"].as_u64().unwrap();
    assert_eq!(
        s.put(&format!("/v1/kv/web/config?cas={}", idx + 100), "x")
            .await
            .1,
        "false"
    );
    assert_eq!(
        s.put(&format!("/v1/kv/web/config?cas={idx}"), "y").await.1,
        "true"
    );
    assert_eq!(s.put("/v1/kv/web/config?cas=0", "z").await.1, "false");
    assert_eq!(s.put("/v1/kv/web/new?cas=0", "z").await.1, "true");

    // Keys and recurse.
    s.put("/v1/kv/web/sub/a", "1").await;
    assert_eq!(
        s.json("/v1/kv/web/?keys&separator=/").await,
        json!(["web/config", "web/empty", "web/new", "web/sub/"])
    );
    assert_eq!(
        s.json("/v1/kv/web?recurse").await.as_array().unwrap().len(),
        4
    );
    assert_eq!(s.json("/v1/kv/?keys").await.as_array().unwrap().len(), 4);

    // 404 carries the index header; empty body.
    let (st, h, body) = s.get_full("/v1/kv/missing").await;
    assert_eq!((st, body.as_str()), (404, ""));
    assert!(h.contains_key("x-consul-index"));

    // Deletes.
    assert_eq!(s.delete("/v1/kv/web?recurse").await.1, "true");
    assert_eq!(s.get("/v1/kv/web?recurse").await.unwrap().0, 404);

    // Size limit and conflicting flags.
    let big = vec![b'x'; 512 * 1024 + 1];
    let (st, body) = s.put("/v1/kv/big", big).await;
    assert_eq!(st, 413);
    assert!(
        body.starts_with("Request body(524289 bytes) too large, max size: 524288 bytes."),
        "{body}"
    );
    assert_eq!(s.get("/v1/kv/big").await.unwrap().0, 404);
    let ok = vec![b'x'; 512 * 1024];
    assert_eq!(s.put("/v1/kv/big", ok).await.0, 200);
    let (st, body) = s.put("/v1/kv/x?cas=1&acquire=abc", "v").await;
    assert_eq!(st, 400);
    assert!(body.starts_with("Conflicting flags"), "{body}");
}

#[tokio::test]
async fn txn_is_atomic() {
    let s = TestServer::start().await;
    let ok = r#"[{"KV":{"Verb":"set","Key":"t/a","Value":"MQ=="}},{"KV":{"Verb":"set","Key":"t/b","Value":"Mg=="}}]"#;
    let (st, body) = s.put("/v1/txn", ok).await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Results"].as_array().unwrap().len(), 2);
    assert_eq!(v["Errors"], serde_json::Value::Null);
    let bad = r#"[{"KV":{"Verb":"set","Key":"t/c","Value":"Mw=="}},{"KV":{"Verb":"get","Key":"t/missing"}}]"#;
    let (st, body) = s.put("/v1/txn", bad).await;
    assert_eq!(st, 409, "{body}");
    assert_eq!(
        s.get("/v1/kv/t/c").await.unwrap().0,
        404,
        "failed txn wrote nothing"
    );
}
