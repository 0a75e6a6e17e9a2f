//! Request bodies decoded with Go's `encoding/json` rules, endpoint by endpoint: `null` in
//! any field is the field's zero value (in sub-objects and lists too), and a value of the
//! wrong type is Consul's 400 with Go's text.
//!
//! Every route of `http/mod.rs` that decodes a JSON body is here: agent service register,
//! agent check register, agent check update, catalog register and deregister, session create
//! (and renew, whose body Consul does not read), txn. KV and snapshot bodies are raw bytes;
//! Consul's ACL, prepared-query and operator write endpoints are not implemented.

use crate::common::TestServer;
use serde_json::{json, Value};

/// Every field of a body, `null`.
fn nulls(fields: &[&str]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|f| (f.to_string(), Value::Null))
            .collect(),
    )
}

const SERVICE: &[&str] = &[
    "Kind",
    "ID",
    "Name",
    "Tags",
    "Address",
    "TaggedAddresses",
    "Meta",
    "Port",
    "SocketPath",
    "Check",
    "Checks",
    "Weights",
    "Token",
    "EnableTagOverride",
    "Proxy",
    "Connect",
    "Namespace",
    "Partition",
];

const CHECK: &[&str] = &[
    "ID",
    "Name",
    "ServiceID",
    "Notes",
    "Status",
    "Interval",
    "Timeout",
    "TTL",
    "HTTP",
    "Method",
    "Header",
    "Body",
    "TLSServerName",
    "TLSSkipVerify",
    "TCP",
    "UDP",
    "GRPC",
    "GRPCUseTLS",
    "H2PING",
    "Args",
    "ScriptArgs",
    "DockerContainerID",
    "Shell",
    "AliasNode",
    "AliasService",
    "DeregisterCriticalServiceAfter",
    "OutputMaxSize",
    "SuccessBeforePassing",
    "FailuresBeforeWarning",
    "FailuresBeforeCritical",
];

const REGISTER: &[&str] = &[
    "ID",
    "Node",
    "Address",
    "Datacenter",
    "TaggedAddresses",
    "NodeMeta",
    "Service",
    "Check",
    "Checks",
    "SkipNodeUpdate",
    "Token",
];

const SESSION: &[&str] = &[
    "Name",
    "Node",
    "LockDelay",
    "Checks",
    "NodeChecks",
    "ServiceChecks",
    "Behavior",
    "TTL",
];

/// `body` with `fields` set on top of it.
fn with(mut body: Value, fields: Value) -> Value {
    if let (Value::Object(b), Value::Object(f)) = (&mut body, fields) {
        b.extend(f);
    }
    body
}

#[tokio::test]
async fn null_is_the_zero_value_and_wrong_types_are_gos_errors_on_every_json_endpoint() {
    let s = TestServer::start().await;
    // A TTL check to update and a service check for sessions to name.
    let (st, body) = s
        .put(
            "/v1/agent/service/register",
            json!({"Name": "base", "Check": {"CheckID": "base-ttl", "TTL": "60s"}}).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{body}");

    let service_nested = with(
        nulls(SERVICE),
        json!({
            "Name": "web",
            "ID": "web-1",
            "Tags": [null, "a"],
            "Meta": {"k": null},
            "Check": nulls(CHECK),
            "Checks": [with(nulls(CHECK), json!({"TTL": "30s"}))],
        }),
    );
    let check_nested = with(
        nulls(CHECK),
        json!({"Name": "c", "TTL": "30s", "Header": {"X": [null]}}),
    );
    let register_nested = with(
        nulls(REGISTER),
        json!({
            "Node": "ext",
            "Address": "10.0.0.9",
            "NodeMeta": {"k": null},
            "Service": with(nulls(SERVICE), json!({"Service": "db", "Tags": [null]})),
            "Check": {"Name": "db-up", "Status": null, "Definition": null, "ServiceID": null},
            "Checks": [{"Name": "db-deep", "Definition": {"HTTP": null, "Interval": null, "Header": {"Y": [null]}}}],
        }),
    );

    // (method path, body, Consul's status, Consul's text or a prefix of it)
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        // agent/agent_endpoint.go AgentRegisterService: a null Name is a missing one.
        ("/v1/agent/service/register", nulls(SERVICE), 400, "Missing service name"),
        ("/v1/agent/service/register", service_nested, 200, ""),
        // AgentRegisterCheck
        ("/v1/agent/check/register", nulls(CHECK), 400, "Missing check name"),
        ("/v1/agent/check/register", check_nested, 200, ""),
        // A null argument is an empty one: `[null]` is a script check (CheckType.IsScript),
        // which Validate wants an Interval for.
        ("/v1/agent/check/register", json!({"Name": "s", "TTL": "30s", "Args": [null]}), 400,
            "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"),
        // AgentCheckUpdate: a null Status is "".
        ("/v1/agent/check/update/base-ttl", nulls(&["Status", "Output"]), 400, "Invalid check status: ''"),
        ("/v1/agent/check/update/base-ttl", json!({"Status": "passing", "Output": null}), 200, ""),
        // catalog_endpoint.go CatalogRegister → Catalog.Register's RPC error (500).
        ("/v1/catalog/register", nulls(REGISTER), 500, "Must provide node"),
        ("/v1/catalog/register", register_nested, 200, "true"),
        ("/v1/catalog/deregister", nulls(&["Node", "Datacenter", "ServiceID", "CheckID", "Token"]), 500, "Must provide node"),
        ("/v1/catalog/deregister", json!({"Node": "ext", "ServiceID": null, "CheckID": null, "Datacenter": null}), 200, "true"),
        // session_endpoint.go SessionCreate: null leaves Consul's defaults, except Checks and
        // NodeChecks, which become nil (no node checks).
        ("/v1/session/create", nulls(SESSION), 200, "{\"ID\":"),
        ("/v1/session/create", json!({"Name": "x", "Node": null, "Checks": null}), 200, "{\"ID\":"),
        ("/v1/session/create", with(nulls(SESSION), json!({"ServiceChecks": [{"ID": "base-ttl", "Namespace": null}]})), 200, "{\"ID\":"),
        // txn_endpoint.go convertOps: an operation with nothing set is skipped.
        ("/v1/txn", json!([{"KV": null, "Node": null, "Service": null, "Check": null}]), 200, ""),
        ("/v1/txn", json!([{"KV": {"Verb": "set", "Key": "nulls", "Value": null, "Flags": null, "Index": null, "Session": null}}]), 200, ""),
        // Wrong types: Go's UnmarshalTypeError behind each endpoint's prefix.
        ("/v1/agent/service/register", json!({"Name": "x", "Port": "80"}), 400,
            "Request decode failed: json: cannot unmarshal string into Go struct field .Port of type int"),
        ("/v1/agent/service/register", json!({"Name": "x", "Tags": "a"}), 400,
            "Request decode failed: json: cannot unmarshal string into Go struct field .Tags of type []string"),
        ("/v1/agent/check/register", json!({"Name": 5}), 400,
            "Request decode failed: json: cannot unmarshal number into Go struct field .Name of type string"),
        ("/v1/agent/check/update/base-ttl", json!({"Status": true}), 400,
            "Request decode failed: json: cannot unmarshal bool into Go struct field checkUpdate.Status of type string"),
        ("/v1/catalog/register", json!({"Node": ["a"]}), 400,
            "Request decode failed: json: cannot unmarshal array into Go struct field RegisterRequest.Node of type string"),
        ("/v1/catalog/register", json!({"Node": "n", "Service": {"Port": "80"}}), 400,
            "Request decode failed: json: cannot unmarshal string into Go struct field NodeService.Service.Port of type int"),
        ("/v1/catalog/deregister", json!({"Node": 1}), 400,
            "Request decode failed: json: cannot unmarshal number into Go struct field DeregisterRequest.Node of type string"),
        ("/v1/session/create", json!({"Name": 5}), 400,
            "Request decode failed: json: cannot unmarshal number into Go struct field .Name of type string"),
        ("/v1/txn", json!([{"KV": {"Key": 5}}]), 400,
            "Failed to parse body: json: cannot unmarshal number into Go struct field KVTxnOp.KV.Key of type string"),
        ("/v1/txn", json!({"KV": {}}), 400,
            "Failed to parse body: json: cannot unmarshal object into Go value of type api.TxnOps"),
    ];
    let mut failures = Vec::new();
    for (path, body, status, text) in &cases {
        let (st, got) = s.put(path, body.to_string()).await;
        if st != *status || !got.starts_with(text) {
            failures.push(format!(
                "PUT {path} {body}\n  want {status} {text:?}\n  got  {st} {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // What the nulls decoded to.
    let svc = s.json("/v1/agent/service/web-1").await;
    assert_eq!(svc["Tags"], json!(["", "a"]));
    assert_eq!(svc["Meta"], json!({"k": ""}));
    assert_eq!(svc["Port"], 0);
    let checks = s.json("/v1/agent/checks").await;
    assert!(checks["service:web-1"].is_object(), "{checks}");
    let check = &checks["c"];
    assert_eq!(check["Status"], "critical", "{checks}");
    let kv = s.json("/v1/kv/nulls").await;
    assert_eq!(kv[0]["Flags"], 0);
    assert_eq!(kv[0]["Value"], Value::Null);

    // Sessions: a null Node is the agent's, a null LockDelay Consul's 15s, a null Behavior
    // "release"; null Checks means no node checks.
    let (_, id) = s
        .put(
            "/v1/session/create",
            json!({"Name": "x", "Node": null, "Checks": null}).to_string(),
        )
        .await;
    let id: Value = serde_json::from_str(&id).unwrap();
    let id = id["ID"].as_str().unwrap().to_string();
    let info = s.json(&format!("/v1/session/info/{id}")).await;
    assert_eq!(info[0]["Node"], s.node(), "{info}");
    assert_eq!(info[0]["LockDelay"], 15_000_000_000u64, "{info}");
    assert_eq!(info[0]["Behavior"], "release", "{info}");
    assert!(
        info[0]["NodeChecks"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "{info}"
    );
    let (_, id2) = s.put("/v1/session/create", "{}").await;
    let id2: Value = serde_json::from_str(&id2).unwrap();
    let info = s
        .json(&format!("/v1/session/info/{}", id2["ID"].as_str().unwrap()))
        .await;
    assert_eq!(info[0]["NodeChecks"], json!(["serfHealth"]), "{info}");
    // Renew reads no body.
    let (st, body) = s.put(&format!("/v1/session/renew/{id}"), "null").await;
    assert_eq!(st, 200, "{body}");
}
