//! `PUT /v1/txn` with node, service and check operations beside KV ones: one atomic change
//! (a failed operation leaves nothing of the others), Consul's verbs and error texts, results
//! in Consul's shapes, and ACL rights per operation.

use crate::acl::{acl_hcl, acl_server_with, call, token_with, MGMT};
use crate::common::TestServer;
use serde_json::{json, Value};

async fn txn(s: &TestServer, ops: Value) -> (u16, Value) {
    let (st, body) = s.put("/v1/txn", ops.to_string()).await;
    let v = serde_json::from_str(&body).unwrap_or_else(|_| Value::String(body.clone()));
    (st, v)
}

fn errors(v: &Value) -> Vec<(u64, String)> {
    v["Errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no Errors in {v}"))
        .iter()
        .map(|e| {
            (
                e["OpIndex"].as_u64().unwrap(),
                e["What"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn nodes_services_checks_and_keys_in_one_transaction() {
    let s = TestServer::start().await;
    let (st, v) = txn(
        &s,
        json!([
            {"Node": {"Verb": "set", "Node": {"Node": "db1", "Address": "10.0.0.7", "Meta": {"rack": "r1"}}}},
            {"Service": {"Verb": "set", "Node": "db1", "Service": {"Service": "pg", "Port": 5432, "Tags": ["primary"]}}},
            {"Check": {"Verb": "set", "Check": {"Node": "db1", "Name": "pg alive", "ServiceID": "pg", "Status": "passing"}}},
            {"KV": {"Verb": "set", "Key": "db/leader", "Value": "ZGIx"}}
        ]),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let r = v["Results"].as_array().unwrap();
    assert_eq!(r.len(), 4, "{v}");
    // Each result holds one kind, in Consul's shapes.
    assert_eq!(r[0]["Node"]["Node"], "db1");
    assert_eq!(
        r[0]["Node"]["Datacenter"], "dc1",
        "the agent's datacenter fills an empty one"
    );
    assert_eq!(r[0]["Node"]["Meta"]["rack"], "r1");
    assert!(r[0].get("KV").is_none(), "{}", r[0]);
    assert_eq!(r[1]["Service"]["ID"], "pg", "the ID defaults to the name");
    assert_eq!(r[1]["Service"]["Port"], 5432);
    assert_eq!(r[2]["Check"]["CheckID"], "pg alive");
    assert_eq!(r[2]["Check"]["ServiceName"], "pg");
    assert_eq!(r[2]["Check"]["Status"], "passing");
    assert_eq!(r[3]["KV"]["Key"], "db/leader");
    assert_eq!(
        r[3]["KV"]["Value"],
        Value::Null,
        "a set's result carries no value"
    );

    // The catalog and health views show what the transaction wrote.
    let h = s.json("/v1/health/service/pg?passing").await;
    assert_eq!(h.as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h[0]["Node"]["Address"], "10.0.0.7");

    // get of each kind.
    let node_index = r[0]["Node"]["ModifyIndex"].as_u64().unwrap();
    let (st, v) = txn(
        &s,
        json!([
            {"Node": {"Verb": "get", "Node": {"Node": "DB1"}}},
            {"Service": {"Verb": "get", "Node": "db1", "Service": {"ID": "pg"}}},
            {"Check": {"Verb": "get", "Check": {"Node": "db1", "CheckID": "pg alive"}}}
        ]),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["Results"][0]["Node"]["ModifyIndex"], node_index);
    assert_eq!(v["Results"][1]["Service"]["Tags"], json!(["primary"]));
    assert_eq!(v["Results"][2]["Check"]["Node"], "db1");

    // Deleting the node takes its service and checks with it.
    let (st, v) = txn(
        &s,
        json!([{"Node": {"Verb": "delete-cas", "Node": {"Node": "db1", "ModifyIndex": node_index}}}]),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["Results"], json!([]));
    assert_eq!(s.json("/v1/catalog/service/pg").await, json!([]));
}

#[tokio::test]
async fn a_failed_operation_leaves_nothing_of_the_others() {
    let s = TestServer::start().await;
    let (st, v) = txn(
        &s,
        json!([
            {"Node": {"Verb": "set", "Node": {"Node": "web1", "Address": "10.0.0.8"}}},
            {"KV": {"Verb": "set", "Key": "k", "Value": "MQ=="}},
            {"Service": {"Verb": "set", "Node": "nowhere", "Service": {"Service": "web"}}},
            {"Check": {"Verb": "set", "Check": {"Node": "web1", "Name": "c", "ServiceID": "missing"}}},
            {"Node": {"Verb": "get", "Node": {"Node": "ghost"}}}
        ]),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(
        errors(&v),
        vec![
            (2, "Missing node registration".to_string()),
            (3, "Missing service registration".to_string()),
            (4, "node \"ghost\" doesn't exist".to_string()),
        ]
    );
    assert_eq!(v["Results"], Value::Null);
    assert_eq!(s.get("/v1/catalog/node/web1").await.unwrap().1, "null");
    assert_eq!(s.get("/v1/kv/k").await.unwrap().0, 404);
}

#[tokio::test]
async fn cas_verbs_compare_modify_indexes_like_consul() {
    let s = TestServer::start().await;
    let set = |verb: &str, index: u64| json!([{"Node": {"Verb": verb, "Node": {"Node": "n1", "Address": "10.1.1.1", "ModifyIndex": index}}}]);
    // cas with 0: only when absent.
    let (st, v) = txn(&s, set("cas", 0)).await;
    assert_eq!(st, 200, "{v}");
    let idx = v["Results"][0]["Node"]["ModifyIndex"].as_u64().unwrap();
    let (st, v) = txn(&s, set("cas", 0)).await;
    assert_eq!(st, 409);
    assert_eq!(
        errors(&v),
        vec![(0, "failed to set node \"n1\", index is stale".to_string())]
    );
    let (st, v) = txn(&s, set("delete-cas", idx + 100)).await;
    assert_eq!(st, 409);
    assert_eq!(
        errors(&v),
        vec![(
            0,
            "failed to delete node \"n1\", index is stale".to_string()
        )]
    );

    let svc = |verb: &str, index: u64| json!([{"Service": {"Verb": verb, "Node": "n1", "Service": {"ID": "api-1", "Service": "api", "ModifyIndex": index}}}]);
    let (st, v) = txn(&s, svc("cas", 0)).await;
    assert_eq!(st, 200, "{v}");
    let sidx = v["Results"][0]["Service"]["ModifyIndex"].as_u64().unwrap();
    let (st, v) = txn(&s, svc("cas", sidx + 1)).await;
    assert_eq!(st, 409);
    assert_eq!(
        errors(&v),
        vec![(
            0,
            "failed to set service \"api-1\" on node \"n1\", index is stale".to_string()
        )]
    );
    let (st, v) = txn(&s, svc("delete-cas", sidx)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(s.json("/v1/catalog/service/api").await, json!([]));

    // Verbs and service addresses Consul refuses. A refusal before applying (Consul's
    // `servicePreApply`) answers alone: nothing was applied, so no verb was tried.
    let (st, v) = txn(
        &s,
        json!([
            {"Node": {"Verb": "frob", "Node": {"Node": "n1"}}},
            {"Service": {"Verb": "set", "Node": "n1", "Service": {"Service": "x", "Address": "0.0.0.0"}}}
        ]),
    )
    .await;
    assert_eq!(st, 409);
    assert_eq!(errors(&v), vec![(1, "Invalid service address".to_string())]);
    let (st, v) = txn(
        &s,
        json!([{"Node": {"Verb": "frob", "Node": {"Node": "n1"}}}]),
    )
    .await;
    assert_eq!(st, 409);
    assert_eq!(
        errors(&v),
        vec![(0, "unknown Node verb \"frob\"".to_string())]
    );
}

#[tokio::test]
async fn each_operation_needs_its_right_and_gets_are_filtered() {
    let s = acl_server_with(&acl_hcl("deny", "")).await;
    let (st, _, b) = call(
        &s,
        "PUT",
        "/v1/txn",
        MGMT,
        Some(
            &json!([
                {"Node": {"Verb": "set", "Node": {"Node": "secret", "Address": "10.9.9.9"}}},
                {"Node": {"Verb": "set", "Node": {"Node": "open", "Address": "10.9.9.8"}}}
            ])
            .to_string(),
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let reader = token_with(&s, "open-reader", r#"node "open" { policy = "write" }"#).await;
    // A write without node:write on that node is refused before anything is applied.
    let (st, _, b) = call(
        &s,
        "PUT",
        "/v1/txn",
        &reader,
        Some(
            &json!([
                {"Node": {"Verb": "set", "Node": {"Node": "open", "Address": "10.9.9.7"}}},
                {"Node": {"Verb": "delete", "Node": {"Node": "secret"}}}
            ])
            .to_string(),
        ),
    )
    .await;
    assert_eq!(st, 409, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    let e = errors(&v);
    assert_eq!(e.len(), 1, "{v}");
    assert_eq!(e[0].0, 1);
    assert!(e[0].1.contains("Permission denied"), "{v}");
    let (_, _, b) = call(&s, "GET", "/v1/catalog/node/open", MGMT, None).await;
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["Node"]["Address"], "10.9.9.8",
        "nothing of the refused transaction applied"
    );
    // gets succeed, and what the token may not read is left out.
    let (st, _, b) = call(
        &s,
        "PUT",
        "/v1/txn",
        &reader,
        Some(
            &json!([
                {"Node": {"Verb": "get", "Node": {"Node": "open"}}},
                {"Node": {"Verb": "get", "Node": {"Node": "secret"}}}
            ])
            .to_string(),
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    let r = v["Results"].as_array().unwrap();
    assert_eq!(r.len(), 1, "{v}");
    assert_eq!(r[0]["Node"]["Node"], "open");
}
