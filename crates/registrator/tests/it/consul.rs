//! End to end against the workspace's real `consul agent -dev`: the tutorial flow (a published
//! port appears in the catalog under the image name at `-ip`, and leaves when the container
//! stops), and a Docker HEALTHCHECK driving the agent's TTL check. Fails when Docker or
//! `target/debug/consul` is missing (`cargo build --workspace --bins`).

use super::common::consul_agent::ConsulAgent;
use super::common::{
    docker, hostname, registrator, registrator_env, require_docker, unique, wait_until, Container,
    Image,
};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn tutorial_flow_against_real_consul() {
    require_docker();
    let agent = ConsulAgent::start().await;
    let name = unique("nginx");
    let image = Image::busybox(&name, "EXPOSE 80");
    let reg = registrator(&["-ip=127.0.0.1", &agent.uri()]);
    let c = Container::run(&name, &["-p", "0:80", &image.tag]);
    let port = c.host_port("80/tcp");
    let path = format!("/v1/catalog/service/{name}");
    let ok = wait_until(Duration::from_secs(20), || async {
        let v = agent.get(&path).await;
        v.as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["ServicePort"] == port && s["ServiceAddress"] == "127.0.0.1")
        })
    })
    .await;
    assert!(
        ok,
        "not in catalog: {}\n{}",
        agent.get(&path).await,
        reg.log()
    );
    let id = format!("{}:{name}:80", hostname());
    assert!(agent.get("/v1/agent/services").await.get(&id).is_some());
    docker(&["stop", "-t", "1", &c.name]);
    let gone = wait_until(Duration::from_secs(20), || async {
        agent
            .get(&path)
            .await
            .as_array()
            .is_some_and(|a| a.is_empty())
    })
    .await;
    assert!(gone, "still registered: {}", agent.get(&path).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_health_sets_the_agent_check() {
    require_docker();
    let agent = ConsulAgent::start().await;
    let name = unique("hc");
    let image = Image::busybox(
        &name,
        "EXPOSE 80\nHEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD [\"/bin/busybox\", \"test\", \"-f\", \"/ok\"]",
    );
    let reg = registrator(&["-ip=127.0.0.1", &agent.uri()]);
    let script =
        "/bin/busybox touch /ok; /bin/busybox sleep 4; /bin/busybox rm /ok; /bin/busybox sleep 60";
    let c = Container::run(&name, &["-p", "0:80", &image.tag, "sh", "-c", script]);
    let check_id = format!("service:{}:{}:80", hostname(), c.name);
    for want in ["passing", "critical"] {
        let ok = wait_until(Duration::from_secs(20), || async {
            agent.get("/v1/agent/checks").await[&check_id]["Status"] == want
        })
        .await;
        assert!(
            ok,
            "want {want}: {}\n{}",
            agent.get("/v1/agent/checks").await,
            reg.log()
        );
    }
}

/// `consul-tls://` against an agent serving HTTPS and requiring client certificates: with
/// `CONSUL_CACERT`, `CONSUL_CLIENT_CERT` and `CONSUL_CLIENT_KEY` the registry pings and
/// registers; without the client certificate the agent refuses the handshake.
#[tokio::test(flavor = "multi_thread")]
async fn consul_tls_registers_with_a_client_certificate() {
    use registrator::registry::{uri, Consul, Registry};
    let certs = tempfile::tempdir().unwrap();
    test_support::tls::certificates(certs.path());
    let agent = test_support::Consul::builder()
        .args(["-log-level=info".to_string(), "-https-port=0".to_string()])
        .args([
            "-hcl".to_string(),
            test_support::tls::https_hcl(certs.path()),
        ])
        .start()
        .await;
    let mut port = None;
    wait_until(Duration::from_secs(10), || {
        port = test_support::tls::https_port(&agent.output());
        let found = port.is_some();
        async move { found }
    })
    .await;
    let port = port.unwrap_or_else(|| panic!("no HTTPS listener: {}", agent.output()));
    let file = |name: &str| certs.path().join(name).display().to_string();
    let env_with = |client: bool| {
        let mut vars = vec![("CONSUL_CACERT", file("ca.pem"))];
        if client {
            vars.push(("CONSUL_CLIENT_CERT", file("client.pem")));
            vars.push(("CONSUL_CLIENT_KEY", file("client-key.pem")));
        }
        move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    let target = format!("consul-tls://127.0.0.1:{port}");

    let endpoint = uri::resolve(&target, &env_with(true)).expect("uri");
    let registry = Consul::new(&endpoint).expect("client");
    assert!(registry
        .ping()
        .await
        .expect("ping over TLS")
        .contains("127.0.0.1"));
    let reg: api_types::ServiceRegistration = serde_json::from_value(serde_json::json!({
        "ID": "tls-web", "Name": "tls-web", "Port": 8080, "Address": "127.0.0.1"
    }))
    .unwrap();
    registry.register(&reg).await.expect("register over TLS");
    let services = reqwest::get(agent.url("/v1/agent/services"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(services.contains("\"tls-web\""), "{services}");

    let endpoint = uri::resolve(&target, &env_with(false)).expect("uri");
    let refused = Consul::new(&endpoint).expect("client").ping().await;
    assert!(refused.is_err(), "answered without a client certificate");
}

/// With `acl { default_policy = "deny" }`: registrator without a token is refused (the
/// agent's `Permission denied` in its log, nothing registered); with `CONSUL_HTTP_TOKEN` set
/// to a token holding only `service_prefix "" { policy = "write" }` it registers the
/// container's service.
#[tokio::test(flavor = "multi_thread")]
async fn registers_with_a_scoped_acl_token_and_is_refused_without_one() {
    require_docker();
    const MGMT: &str = "7d9f2c1e-3b4a-4c5d-8e6f-a0b1c2d3e4f5";
    let agent = test_support::Consul::builder()
        .dev()
        .node(&unique("node"))
        .token(MGMT)
        .args([
            "-hcl".to_string(),
            format!(
                r#"acl {{ enabled = true default_policy = "deny" tokens {{ initial_management = "{MGMT}" }} }}"#
            ),
        ])
        .start()
        .await;
    let http = reqwest::Client::new();
    let put = |path: &str, body: serde_json::Value| {
        http.put(agent.url(path))
            .header("X-Consul-Token", MGMT)
            .json(&body)
            .send()
    };
    let r = put(
        "/v1/acl/policy",
        serde_json::json!({"Name": "registrator", "Rules": "service_prefix \"\" { policy = \"write\" }"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = put(
        "/v1/acl/token",
        serde_json::json!({"Description": "registrator", "Policies": [{"Name": "registrator"}]}),
    )
    .await
    .unwrap();
    let token: serde_json::Value = r.json().await.unwrap();
    let secret = token["SecretID"].as_str().unwrap().to_string();
    let catalog = |name: String| {
        let http = http.clone();
        let url = agent.url(&format!("/v1/catalog/service/{name}"));
        async move {
            http.get(url)
                .header("X-Consul-Token", MGMT)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let uri = format!("consul://{}", agent.addr());

    let name = unique("acl-web");
    let image = Image::busybox(&name, "EXPOSE 80");
    let c = Container::run(&name, &["-p", "0:80", &image.tag]);
    // No token: refused, said in the log, nothing in the catalog.
    let reg = registrator(&["-ip=127.0.0.1", &uri]);
    let refused = wait_until(Duration::from_secs(20), || async {
        reg.log().contains("register failed") && reg.log().contains("Permission denied")
    })
    .await;
    assert!(refused, "no refusal logged:\n{}", reg.log());
    assert_eq!(catalog(name.clone()).await, serde_json::json!([]));
    drop(reg);
    // The scoped token registers it.
    let reg = registrator_env(&["-ip=127.0.0.1", &uri], &[("CONSUL_HTTP_TOKEN", &secret)]);
    let port = c.host_port("80/tcp");
    let ok = wait_until(Duration::from_secs(20), || async {
        catalog(name.clone())
            .await
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["ServicePort"] == port))
    })
    .await;
    assert!(ok, "not registered with the token:\n{}", reg.log());
}

/// The issue's "done when": ACLs with `default_policy = "deny"` and HTTPS with verified client
/// certificates at once — over `consul-tls://` with its client certificate, registrator's
/// registry registers with a `service_prefix "" { policy = "write" }` token and is refused
/// (Consul's 403) without one.
#[tokio::test(flavor = "multi_thread")]
async fn consul_tls_with_a_scoped_acl_token() {
    use registrator::registry::{uri, Consul, Registry};
    const MGMT: &str = "2b3c4d5e-6f70-4182-9a3b-4c5d6e7f8091";
    let certs = tempfile::tempdir().unwrap();
    test_support::tls::certificates(certs.path());
    let agent = test_support::Consul::builder()
        .token(MGMT)
        .args(["-log-level=info".to_string(), "-https-port=0".to_string()])
        .args([
            "-hcl".to_string(),
            test_support::tls::https_hcl(certs.path()),
        ])
        .args([
            "-hcl".to_string(),
            format!(
                r#"acl {{ enabled = true default_policy = "deny" tokens {{ initial_management = "{MGMT}" }} }}"#
            ),
        ])
        .start()
        .await;
    let mut port = None;
    wait_until(Duration::from_secs(10), || {
        port = test_support::tls::https_port(&agent.output());
        let found = port.is_some();
        async move { found }
    })
    .await;
    let port = port.unwrap_or_else(|| panic!("no HTTPS listener: {}", agent.output()));
    let http = reqwest::Client::new();
    let put = |path: &str, body: serde_json::Value| {
        http.put(agent.url(path))
            .header("X-Consul-Token", MGMT)
            .json(&body)
            .send()
    };
    let r = put(
        "/v1/acl/policy",
        serde_json::json!({"Name": "registrator", "Rules": "service_prefix \"\" { policy = \"write\" }"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let token: serde_json::Value = put(
        "/v1/acl/token",
        serde_json::json!({"Policies": [{"Name": "registrator"}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let secret = token["SecretID"].as_str().unwrap().to_string();
    let file = |name: &str| certs.path().join(name).display().to_string();
    let env_with = |token: Option<String>| {
        let mut vars = vec![
            ("CONSUL_CACERT", file("ca.pem")),
            ("CONSUL_CLIENT_CERT", file("client.pem")),
            ("CONSUL_CLIENT_KEY", file("client-key.pem")),
        ];
        if let Some(t) = token {
            vars.push(("CONSUL_HTTP_TOKEN", t));
        }
        move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    let target = format!("consul-tls://127.0.0.1:{port}");
    let reg: api_types::ServiceRegistration = serde_json::from_value(serde_json::json!({
        "ID": "acl-tls-web", "Name": "acl-tls-web", "Port": 8080, "Address": "127.0.0.1"
    }))
    .unwrap();

    let endpoint = uri::resolve(&target, &env_with(None)).expect("uri");
    let refused = Consul::new(&endpoint).expect("client").register(&reg).await;
    let err = refused.expect_err("registered without a token").to_string();
    assert!(err.contains("Permission denied"), "{err}");

    let endpoint = uri::resolve(&target, &env_with(Some(secret))).expect("uri");
    Consul::new(&endpoint)
        .expect("client")
        .register(&reg)
        .await
        .expect("register with the token over TLS");
    let services = http
        .get(agent.url("/v1/agent/services"))
        .header("X-Consul-Token", MGMT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(services.contains("\"acl-tls-web\""), "{services}");
}
