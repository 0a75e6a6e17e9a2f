//! `toJSON` of what the query functions return, against the real consul: the shapes the
//! fixtures `json_exact_*` derive from upstream's structs, end to end through the binary. The
//! values that depend on the run (indexes, the node's ID) are read back from consul's own
//! answers and put into the expected bytes.

use std::time::Duration;

use super::harness::{Consul, Ct};

const T: Duration = Duration::from_secs(15);

#[tokio::test]
async fn query_results_print_as_upstream_structs() {
    let consul = Consul::start().await;
    consul.register("web-1", "web", 8080).await;
    consul.put("cfg/b", "<two> & \"2\"").await;
    consul.put("cfg/a", "1").await;
    let raw: serde_json::Value =
        reqwest::get(format!("http://{}/v1/kv/cfg?recurse", consul.addr()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let idx = |i: usize, k: &str| raw[i][k].as_u64().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("t.ctmpl"), dir.path().join("t.out"));
    std::fs::write(
        &src,
        "{{ ls \"cfg\" | toJSON }}\n{{ node \"gone\" | toJSON }}\n{{ datacenters | toJSON }}\n{{ service \"web\" | toJSON }}\n",
    )
    .unwrap();
    let mut ct = Ct::start(&[
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        format!("{}:{}", src.display(), dst.display()),
        "-once".into(),
        "-dry".into(),
    ]);
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    let out = ct.stdout();
    let body: Vec<&str> = out.lines().skip(1).collect();
    // kv_list.go KeyPair: Path, Key, Value, CreateIndex, ModifyIndex, LockIndex, Flags,
    // Session; Go's HTML-safe escaping.
    assert_eq!(
        body[0],
        format!(
            "[{{\"Path\":\"cfg/a\",\"Key\":\"a\",\"Value\":\"1\",\"CreateIndex\":{},\"ModifyIndex\":{},\"LockIndex\":0,\"Flags\":0,\"Session\":\"\"}},{{\"Path\":\"cfg/b\",\"Key\":\"b\",\"Value\":\"\\u003ctwo\\u003e \\u0026 \\\"2\\\"\",\"CreateIndex\":{},\"ModifyIndex\":{},\"LockIndex\":0,\"Flags\":0,\"Session\":\"\"}}]",
            idx(0, "CreateIndex"),
            idx(0, "ModifyIndex"),
            idx(1, "CreateIndex"),
            idx(1, "ModifyIndex"),
        )
    );
    // catalog_node.go: an unknown node is the zero CatalogNode.
    assert_eq!(body[1], "{\"Node\":null,\"Services\":null}");
    assert_eq!(body[2], "[\"dc1\"]");
    // health_service.go HealthService, in its field order, checks as api.HealthCheck.
    let svc = body[3];
    assert!(
        svc.starts_with("[{\"Node\":\"ct-node\",\"NodeID\":\""),
        "{svc}"
    );
    for part in [
        ",\"NodeAddress\":\"127.0.0.1\",\"NodeTaggedAddresses\":",
        ",\"Address\":\"127.0.0.1\",\"ServiceTaggedAddresses\":",
        ",\"ID\":\"web-1\",\"Name\":\"web\",\"Tags\":[],\"Checks\":[{\"Node\":\"ct-node\",\"CheckID\":\"serfHealth\",\"Name\":\"Serf Health Status\",\"Status\":\"passing\",",
        ",\"Definition\":{\"Interval\":\"0s\",\"Timeout\":\"0s\",\"DeregisterCriticalServiceAfter\":\"0s\",\"HTTP\":\"\",",
    ] {
        assert!(svc.contains(part), "{part} not in {svc}");
    }
    assert!(
        svc.ends_with(
            "],\"Status\":\"passing\",\"Port\":8080,\"Weights\":{\"Passing\":1,\"Warning\":1}}]"
        ),
        "{svc}"
    );
}
