//! `consul operator usage instances` against a real agent: Consul's tables of billable and
//! mesh instance counts.

use crate::common::TestServer;
use serde_json::json;

fn run(s: &TestServer, args: &[&str]) -> (i32, String, String) {
    tokio::task::block_in_place(|| s.cli(args))
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_instances_prints_consuls_tables() {
    let s = TestServer::start().await;
    for (name, id) in [("web", "w1"), ("web", "w2"), ("db", "db")] {
        let (st, b) = s
            .put(
                "/v1/agent/service/register",
                json!({"Name": name, "ID": id}).to_string(),
            )
            .await;
        assert_eq!(st, 200, "{b}");
    }
    let (code, out, err) = run(&s, &["operator", "usage", "instances", "-billable"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Billable Service Instances Total: 3\ndc1 Billable Service Instances: 3\n\nBillable Services\nServices      Service instances\n3             3\n\n"
    );
    let (code, out, err) = run(&s, &["operator", "usage", "instances", "-connect"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Connect Services\nType                     Service instances\napi-gateway              0\n"),
        "{out}"
    );
    let (code, _, err) = run(
        &s,
        &["operator", "usage", "instances", "-billable", "-connect"],
    );
    assert_eq!(code, 1);
    assert_eq!(err, "Cannot specify both -billable and -connect flags\n");
}
