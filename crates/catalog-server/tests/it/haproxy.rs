//! HAProxy (Debian's) finds its backends through our DNS interface, as Consul's users set it
//! up: `resolvers` pointing at the agent's DNS port and `server-template` on the service's
//! RFC 2782 SRV name. Two HTTP backends registered as `web` are both served; one deregistered
//! leaves the rotation, a third registered joins it, without reloading HAProxy.

use crate::common::{wait_until, TestServer};
use serde_json::json;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;
use test_support::{free_port, Process};

/// A python http.server on 127.0.0.1:`port` answering `GET /` with `name`.
fn backend(dir: &std::path::Path, name: &str) -> (Process, u16) {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), name).unwrap();
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(&root)
        .arg(port.to_string());
    (Process::spawn(cmd), port)
}

async fn register(s: &TestServer, id: &str, port: u16) {
    let body = json!({"ID": id, "Name": "web", "Port": port, "Address": "127.0.0.1"});
    let (code, text) = s.put("/v1/agent/service/register", body.to_string()).await;
    assert_eq!(code, 200, "{text}");
}

/// The backends HAProxy served over `n` requests.
async fn served(front: u16, n: usize) -> BTreeSet<String> {
    let http = reqwest::Client::new();
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{front}/"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            if r.status() == 200 {
                seen.insert(r.text().await.unwrap_or_default());
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn haproxy_follows_the_service_by_srv() {
    let s = TestServer::start_with(&["-dns-port=0"]).await;
    let out = s.output();
    let at = out.find("DNS: ").expect("the banner names the DNS port");
    let dns: u16 = out[at + 5..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_a, pa) = backend(dir.path(), "alpha");
    let (_b, pb) = backend(dir.path(), "beta");
    let (_c, pc) = backend(dir.path(), "gamma");
    register(&s, "web-a", pa).await;
    register(&s, "web-b", pb).await;

    let front = free_port();
    let haproxy = test_support::haproxy::start_srv_balancer(
        dir.path(),
        dns,
        front,
        "_web._tcp.service.consul",
    );

    let both: BTreeSet<String> = ["alpha", "beta"].map(String::from).into();
    let ok = wait_until(Duration::from_secs(20), || async {
        served(front, 8).await == both
    })
    .await;
    assert!(
        ok,
        "served {:?}\n{}",
        served(front, 8).await,
        haproxy.output()
    );

    let (code, _) = s.put("/v1/agent/service/deregister/web-a", "").await;
    assert_eq!(code, 200);
    register(&s, "web-c", pc).await;
    let now: BTreeSet<String> = ["beta", "gamma"].map(String::from).into();
    let ok = wait_until(Duration::from_secs(20), || async {
        served(front, 8).await == now
    })
    .await;
    assert!(
        ok,
        "served {:?}\n{}",
        served(front, 8).await,
        haproxy.output()
    );
}
