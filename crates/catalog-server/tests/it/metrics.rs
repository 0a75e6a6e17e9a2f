//! `/v1/agent/metrics` (go-metrics' JSON summary, Prometheus text), its stream, and
//! `/v1/agent/host`, on a real agent; and a real Prometheus (Debian's package) scraping us.

use crate::acl::{acl_server_with, call, token_with, MGMT};
use crate::common::{wait_until, TestServer};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Duration;

/// Generous: a summary shows a finished ten-second interval.
const INTERVAL_WAIT: Duration = Duration::from_secs(60);

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn series<'a>(summary: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    summary[kind].as_array()?.iter().find(|s| s["Name"] == name)
}

async fn kv_writes(s: &TestServer, n: usize) {
    for i in 0..n {
        let (st, body) = s.put(&format!("/v1/kv/metrics/k{i}"), "v").await;
        assert_eq!(st, 200, "{body}");
    }
}

/// A summary is go-metrics' shape; the KV writes show up as `consul.kvs.apply` samples and
/// `consul.raft.apply` counts; gauges carry the host name (no `disable_hostname`).
#[tokio::test]
async fn summary_has_go_metrics_shape_and_counts_kv_writes() {
    let s = TestServer::start().await;
    let (st, h, body) = s.get_full("/v1/agent/metrics").await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(h["content-type"], "application/json");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        keys(&v),
        ["Counters", "Gauges", "Points", "Samples", "Timestamp"]
    );
    // Go's time.Time.String() in UTC, on a ten-second boundary.
    let ts = v["Timestamp"].as_str().unwrap();
    assert!(ts.ends_with("0 +0000 UTC") && ts.len() == 29, "{ts}");

    kv_writes(&s, 5).await;
    let last = Mutex::new(Value::Null);
    let seen = wait_until(INTERVAL_WAIT, || async {
        let v = s.json("/v1/agent/metrics").await;
        let ok = series(&v, "Samples", "consul.kvs.apply").is_some();
        *last.lock().unwrap() = v;
        ok
    })
    .await;
    let summary = last.into_inner().unwrap();
    assert!(seen, "no consul.kvs.apply sample: {summary}");
    let kvs = series(&summary, "Samples", "consul.kvs.apply").unwrap();
    assert_eq!(
        keys(kvs),
        ["Count", "Labels", "Max", "Mean", "Min", "Name", "Rate", "Stddev", "Sum"]
    );
    // The writes may straddle two intervals; each shows its own share.
    let count = kvs["Count"].as_u64().unwrap();
    assert!((1..=5).contains(&count), "{kvs}");
    assert!(kvs["Min"].as_f64().unwrap() <= kvs["Max"].as_f64().unwrap());
    assert_eq!(kvs["Labels"], serde_json::json!({}));

    // The HTTP layer's timing, labelled as Consul labels it (recorded after the write's, so
    // possibly in the next interval).
    let kv_http = |v: &Value| {
        v["Samples"].as_array().is_some_and(|samples| {
            samples.iter().any(|x| {
                x["Name"] == "consul.api.http"
                    && x["Labels"]["path"] == "v1_kv_"
                    && x["Labels"]["method"] == "PUT"
            })
        })
    };
    let last = Mutex::new(summary.clone());
    let timed = kv_http(&summary)
        || wait_until(INTERVAL_WAIT, || async {
            let v = s.json("/v1/agent/metrics").await;
            let ok = kv_http(&v);
            *last.lock().unwrap() = v;
            ok
        })
        .await;
    assert!(
        timed,
        "no consul.api.http for PUT v1_kv_: {}",
        last.lock().unwrap()
    );

    // Gauges: the host name after the prefix, float32 values, no extra keys.
    let gauges = summary["Gauges"].as_array().unwrap();
    let alloc = gauges
        .iter()
        .find(|g| {
            let n = g["Name"].as_str().unwrap_or("");
            n.starts_with("consul.") && n.ends_with(".runtime.sys_bytes")
        })
        .unwrap_or_else(|| panic!("no runtime gauge: {summary}"));
    assert_eq!(keys(alloc), ["Labels", "Name", "Value"]);
    assert_ne!(
        alloc["Name"], "consul.runtime.sys_bytes",
        "host name missing"
    );
    assert!(alloc["Value"].as_f64().unwrap() > 0.0);

    // Counters move with more writes (in some later interval).
    kv_writes(&s, 3).await;
    let moved = wait_until(INTERVAL_WAIT, || async {
        let v = s.json("/v1/agent/metrics").await;
        v["Timestamp"] != summary["Timestamp"]
            && series(&v, "Counters", "consul.raft.apply")
                .is_some_and(|c| c["Count"].as_u64().unwrap_or(0) >= 1)
    })
    .await;
    assert!(moved, "consul.raft.apply did not move");
}

/// Without `prometheus_retention_time`, what Consul 1.21 answers: 200 with an empty body and
/// the reason in `X-Consul-Reason` (its handler's 415 is never written); asked by parameter or
/// Accept.
#[tokio::test]
async fn prometheus_format_without_retention_time_answers_empty_with_the_reason() {
    let s = TestServer::start().await;
    let reason = "Prometheus is not enabled since its retention time is not positive";
    let (st, h, body) = s.get_full("/v1/agent/metrics?format=prometheus").await;
    assert_eq!(st, 200);
    assert_eq!(h["x-consul-reason"], reason);
    assert_eq!(body, "");
    let r = s
        .http
        .get(s.url("/v1/agent/metrics"))
        .header("Accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-consul-reason"], reason);
}

/// With a retention time: the text format, cumulative counts that move after KV writes, and
/// gauges without the host name under `disable_hostname`.
#[tokio::test]
async fn prometheus_format_counts_kv_writes() {
    let s = TestServer::start_with(&[
        "-hcl",
        r#"telemetry {
  prometheus_retention_time = "1m"
  disable_hostname = true
}"#,
    ])
    .await;
    let count = |text: &str, series: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    };
    kv_writes(&s, 2).await;
    let (st, h, before) = s.get_full("/v1/agent/metrics?format=prometheus").await;
    assert_eq!(st, 200, "{before}");
    assert_eq!(
        h["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        before.contains("# TYPE consul_kvs_apply summary"),
        "{before}"
    );
    let n0 = count(&before, "consul_kvs_apply_count").unwrap_or_else(|| panic!("{before}"));
    assert!(n0 >= 2, "{before}");
    kv_writes(&s, 3).await;
    let (_, _, after) = s.get_full("/v1/agent/metrics?format=prometheus").await;
    let n1 = count(&after, "consul_kvs_apply_count").unwrap();
    assert_eq!(n1, n0 + 3, "{after}");
    assert!(
        after.contains(r#"consul_api_http_count{method="PUT",path="v1_kv_"}"#),
        "{after}"
    );
    // The sampler runs every second: wait for its first gauges.
    let last = Mutex::new(String::new());
    let gauged = wait_until(Duration::from_secs(30), || async {
        let text = s.get_full("/v1/agent/metrics?format=prometheus").await.2;
        let ok = text.contains("\nconsul_runtime_sys_bytes ")
            && text.contains("\nconsul_raft_last_index ");
        *last.lock().unwrap() = text;
        ok
    })
    .await;
    assert!(gauged, "{}", last.lock().unwrap());
    // JSON goes on being answered alongside.
    let v = s.json("/v1/agent/metrics").await;
    assert!(v["Gauges"].is_array());
}

/// The stream: one indented summary per finished interval, chunked.
#[tokio::test]
async fn metrics_stream_sends_summaries() {
    let s = TestServer::start().await;
    let mut r = s
        .http
        .get(s.url("/v1/agent/metrics/stream"))
        .timeout(INTERVAL_WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["transfer-encoding"], "chunked");
    let mut buf = Vec::new();
    let mut got: Vec<Value> = Vec::new();
    while got.len() < 2 {
        let chunk = r
            .chunk()
            .await
            .expect("stream")
            .expect("stream ended early");
        buf.extend_from_slice(&chunk);
        let mut de = serde_json::Deserializer::from_slice(&buf).into_iter::<Value>();
        got.clear();
        while let Some(Ok(v)) = de.next() {
            got.push(v);
        }
    }
    assert!(
        String::from_utf8_lossy(&buf).starts_with("{\n    \"Timestamp\": "),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    assert_eq!(
        keys(&got[0]),
        ["Counters", "Gauges", "Points", "Samples", "Timestamp"]
    );
    assert_ne!(got[0]["Timestamp"], got[1]["Timestamp"]);
}

/// `/v1/agent/host`: Consul's top-level keys, gopsutil's field names, this host's values.
#[tokio::test]
async fn host_describes_this_machine() {
    let s = TestServer::start().await;
    let v = s.json("/v1/agent/host").await;
    assert_eq!(
        keys(&v),
        ["CPU", "CollectionTime", "Disk", "Errors", "Host", "Memory"]
    );
    assert_eq!(v["Errors"], Value::Null);
    assert!(v["CollectionTime"].as_i64().unwrap() > 1_600_000_000_000_000_000);
    let m = &v["Memory"];
    for k in [
        "total",
        "available",
        "used",
        "usedPercent",
        "free",
        "swapTotal",
        "cached",
    ] {
        assert!(m.get(k).is_some(), "Memory.{k}: {m}");
    }
    assert!(m["total"].as_u64().unwrap() > 0);
    let cpu = v["CPU"].as_array().unwrap();
    assert!(!cpu.is_empty());
    for k in [
        "cpu",
        "vendorId",
        "family",
        "model",
        "modelName",
        "mhz",
        "cores",
        "flags",
    ] {
        assert!(cpu[0].get(k).is_some(), "CPU.{k}: {}", cpu[0]);
    }
    let host = &v["Host"];
    assert_eq!(host["os"], "linux");
    for k in [
        "hostname",
        "uptime",
        "bootTime",
        "procs",
        "platform",
        "kernelVersion",
        "hostId",
    ] {
        assert!(host.get(k).is_some(), "Host.{k}: {host}");
    }
    assert_eq!(v["Disk"]["path"], "/");
    for k in [
        "fstype",
        "total",
        "free",
        "used",
        "usedPercent",
        "inodesTotal",
    ] {
        assert!(v["Disk"].get(k).is_some(), "Disk.{k}");
    }
}

/// ACLs: metrics need agent:read on this node, host needs operator:read (as in Consul).
#[tokio::test]
async fn metrics_need_agent_read_and_host_operator_read() {
    let s = acl_server_with(&crate::acl::acl_hcl("deny", "")).await;
    let agent_read = token_with(&s, "agent-read", r#"agent_prefix "" { policy = "read" }"#).await;
    let operator_read = token_with(&s, "operator-read", r#"operator = "read""#).await;
    for (path, anon, agent, operator) in [
        ("/v1/agent/metrics", 403, 200, 403),
        ("/v1/agent/host", 403, 403, 200),
    ] {
        for (token, want) in [
            ("", anon),
            (agent_read.as_str(), agent),
            (operator_read.as_str(), operator),
            (MGMT, 200),
        ] {
            let (st, _, body) = call(&s, "GET", path, token, None).await;
            assert_eq!(st, want, "{path} with {token:?}: {body}");
            if want == 403 {
                assert!(body.starts_with("Permission denied"), "{body}");
            }
        }
    }
}

/// Debian's Prometheus scrapes `?format=prometheus` on the agent's port; its query API then
/// shows the target up and our series stored.
#[tokio::test]
async fn a_real_prometheus_scrapes_the_agent() {
    let s = TestServer::start_with(&[
        "-hcl",
        r#"telemetry {
  prometheus_retention_time = "5m"
  disable_hostname = true
}"#,
    ])
    .await;
    kv_writes(&s, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let prom_port = test_support::free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: consul
    metrics_path: /v1/agent/metrics
    params:
      format: ['prometheus']
    static_configs:
      - targets: ['127.0.0.1:{}']
",
            s.http_port()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    // Killed and reaped when dropped; a missing binary fails saying so.
    if which("prometheus").is_none() {
        panic!("prometheus is not installed: apt-get install -y prometheus");
    }
    let prom = test_support::Process::spawn(cmd);
    let query = |q: &'static str| {
        let url = format!("http://127.0.0.1:{prom_port}/api/v1/query");
        let http = s.http.clone();
        async move {
            let r = http.get(url).query(&[("query", q)]).send().await.ok()?;
            let v: Value = r.json().await.ok()?;
            (v["status"] == "success").then_some(v["data"]["result"].clone())
        }
    };
    let last = Mutex::new(Value::Null);
    let up = wait_until(Duration::from_secs(90), || async {
        let v = query(r#"up{job="consul"}"#).await.unwrap_or(Value::Null);
        let ok = v[0]["value"][1] == "1";
        *last.lock().unwrap() = v;
        ok
    })
    .await;
    assert!(
        up,
        "target not up: {}\n{}",
        last.lock().unwrap(),
        prom.output()
    );
    let stored = wait_until(Duration::from_secs(60), || async {
        let v = query(r#"consul_kvs_apply_count{job="consul"}"#)
            .await
            .unwrap_or(Value::Null);
        let ok = v[0]["value"][1]
            .as_str()
            .and_then(|n| n.parse::<f64>().ok())
            .is_some_and(|n| n >= 2.0);
        *last.lock().unwrap() = v;
        ok
    })
    .await;
    assert!(
        stored,
        "consul_kvs_apply_count not stored: {}",
        last.lock().unwrap()
    );
    let runtime = query(r#"consul_runtime_sys_bytes{job="consul"}"#).await;
    assert!(
        runtime.is_some_and(|r| r.as_array().is_some_and(|a| !a.is_empty())),
        "no runtime gauge scraped"
    );
    drop(prom);
}

fn which(bin: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .find(|p| p.is_file())
    })
}

/// The `telemetry` keys this agent implements load; a sink or filter is refused by name.
#[test]
fn telemetry_keys_are_implemented_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let validate = |name: &str, json: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, json).unwrap();
        let out = std::process::Command::new(test_support::binary("consul"))
            .arg("validate")
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let base = r#""data_dir": "/tmp/x", "server": true, "bootstrap_expect": 1"#;
    let (code, out) = validate(
        "ok.json",
        &format!(
            r#"{{{base}, "telemetry": {{"prometheus_retention_time": "1m", "disable_hostname": true, "metrics_prefix": "svc", "disable_compat_1.9": true}}}}"#
        ),
    );
    assert_eq!(code, Some(0), "{out}");
    for (key, value) in [
        ("statsd_address", r#""127.0.0.1:8125""#),
        ("prefix_filter", r#"["+consul.raft"]"#),
        ("disable_compat_1.9", "false"),
    ] {
        let (code, out) = validate(
            "bad.json",
            &format!(r#"{{{base}, "telemetry": {{"{key}": {value}}}}}"#),
        );
        assert_eq!(code, Some(1), "{key}: {out}");
        assert!(
            out.contains(&format!("telemetry.{key} = ")) && out.contains("not implemented"),
            "{key}: {out}"
        );
    }
    let (code, out) = validate(
        "bad.json",
        &format!(r#"{{{base}, "telemetry": {{"prometheus_retention_time": "soon"}}}}"#),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("telemetry.prometheus_retention_time"), "{out}");
}
