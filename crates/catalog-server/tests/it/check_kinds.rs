//! The agent's gRPC, alias, H2PING and Docker checks against real targets: a tonic gRPC health
//! server, a TTL check it mirrors, an HTTP/2 server, a container.

use crate::common::{wait_until, TestServer};
use std::time::Duration;
use tonic_health::ServingStatus;

/// The status and output of agent check `id`.
async fn check_of(s: &TestServer, id: &str) -> (String, String) {
    let checks = s.json("/v1/agent/checks").await;
    let c = &checks[id];
    (
        c["Status"].as_str().unwrap_or_default().to_string(),
        c["Output"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits until check `id` has `status`; its output then.
async fn wait_status(s: &TestServer, id: &str, status: &str) -> String {
    let ok = wait_until(Duration::from_secs(20), || async {
        check_of(s, id).await.0 == status
    })
    .await;
    let (now, out) = check_of(s, id).await;
    assert!(ok, "{id} never became {status}: {now} {out:?}");
    out
}

#[tokio::test]
async fn grpc_check_follows_the_serving_status() {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("shop.Cart", ServingStatus::Serving)
        .await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l)),
    );

    let s = TestServer::start().await;
    let target = format!("127.0.0.1:{port}/shop.Cart");
    let reg =
        format!(r#"{{"name":"cart","port":{port},"check":{{"grpc":"{target}","interval":"1s"}}}}"#);
    assert_eq!(s.put("/v1/agent/service/register", reg).await.0, 200);
    let out = wait_status(&s, "service:cart", "passing").await;
    assert_eq!(out, format!("gRPC check {target}: success"));
    let checks = s.json("/v1/health/checks/cart").await;
    assert_eq!(checks[0]["Type"], "grpc", "{checks}");
    assert_eq!(checks[0]["Definition"]["GRPC"], target.as_str(), "{checks}");

    reporter
        .set_service_status("shop.Cart", ServingStatus::NotServing)
        .await;
    let out = wait_status(&s, "service:cart", "critical").await;
    assert_eq!(out, format!("gRPC {target} serving status: NOT_SERVING"));

    reporter
        .set_service_status("shop.Cart", ServingStatus::Serving)
        .await;
    wait_status(&s, "service:cart", "passing").await;

    // A service the server does not know: the server's NotFound, in grpc-go's words.
    let body =
        format!(r#"{{"name":"unknown-svc","grpc":"127.0.0.1:{port}/no.Such","interval":"1s"}}"#);
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    let found = wait_until(Duration::from_secs(20), || async {
        check_of(&s, "unknown-svc").await.1.starts_with("rpc error")
    })
    .await;
    let (status, out) = check_of(&s, "unknown-svc").await;
    assert!(found, "{status} {out:?}");
    assert_eq!(status, "critical");
    assert!(
        out.starts_with("rpc error: code = NotFound desc = "),
        "{out}"
    );
    server.abort();
}

#[tokio::test]
async fn check_definitions_are_validated_as_consul_does() {
    let s = TestServer::start().await;
    for (body, why) in [
        (
            r#"{"name":"g","grpc":"127.0.0.1:1"}"#,
            "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
        ),
        (
            r#"{"name":"a","alias_service":"web","ttl":"10s"}"#,
            "Invalid check: TTL must be not be set for Alias checks",
        ),
        (
            r#"{"name":"a","alias_service":"web","tcp":"127.0.0.1:1","interval":"10s"}"#,
            "Invalid check: Interval cannot be set for Alias checks",
        ),
        (
            r#"{"name":"g","grpc":"127.0.0.1:1","interval":"10s","ttl":"10s"}"#,
            "Invalid check: Interval and TTL cannot both be specified",
        ),
    ] {
        let (status, text) = s.put("/v1/agent/check/register", body).await;
        assert_eq!((status, text.trim()), (400, why), "{body}");
    }
}

#[tokio::test]
async fn alias_check_mirrors_a_local_service_and_a_catalog_node() {
    let s = TestServer::start().await;
    let web = r#"{"name":"web","port":80,"check":{"ttl":"10m"}}"#;
    assert_eq!(s.put("/v1/agent/service/register", web).await.0, 200);
    let proxy = r#"{"name":"web-proxy","port":81,"check":{"alias_service":"web"}}"#;
    assert_eq!(s.put("/v1/agent/service/register", proxy).await.0, 200);
    let out = wait_status(&s, "service:web-proxy", "critical").await;
    let _ = out;
    assert!(
        wait_until(Duration::from_secs(20), || async {
            check_of(&s, "service:web-proxy").await.1
                == "Aliased check \"Service 'web' check\" failing: "
        })
        .await,
        "{:?}",
        check_of(&s, "service:web-proxy").await
    );
    let checks = s.json("/v1/health/checks/web-proxy").await;
    assert_eq!(checks[0]["Type"], "alias", "{checks}");
    assert_eq!(checks[0]["Definition"]["AliasService"], "web", "{checks}");

    for (verb, status, output) in [
        ("pass", "passing", "All checks passing.".to_string()),
        (
            "warn",
            "warning",
            "Aliased check \"Service 'web' check\" failing: slow".to_string(),
        ),
        (
            "fail",
            "critical",
            "Aliased check \"Service 'web' check\" failing: down".to_string(),
        ),
        ("pass", "passing", "All checks passing.".to_string()),
    ] {
        let note = match verb {
            "warn" => "slow",
            "fail" => "down",
            _ => "",
        };
        let (code, body) = s
            .put(
                &format!("/v1/agent/check/{verb}/service:web?note={note}"),
                "",
            )
            .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(wait_status(&s, "service:web-proxy", status).await, output);
    }

    // A service that is not there.
    let body = r#"{"name":"ghost","alias_service":"nope"}"#;
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            check_of(&s, "ghost").await.1 == "Service nope could not be found on node "
        })
        .await,
        "{:?}",
        check_of(&s, "ghost").await
    );
    assert_eq!(check_of(&s, "ghost").await.0, "critical");

    // Another node's service, read from the catalog.
    let ext = r#"{"Node":"ext","Address":"10.0.0.9","Service":{"Service":"db"},
        "Check":{"Name":"db-check","ServiceID":"db","Status":"passing"}}"#;
    assert_eq!(s.put("/v1/catalog/register", ext).await.0, 200);
    let body = r#"{"name":"db-alias","alias_node":"ext","alias_service":"db"}"#;
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert_eq!(
        wait_status(&s, "db-alias", "passing").await,
        "All checks passing."
    );
    let ext = r#"{"Node":"ext","Address":"10.0.0.9","Service":{"Service":"db"},
        "Check":{"Name":"db-check","ServiceID":"db","Status":"critical","Output":"disk full"}}"#;
    assert_eq!(s.put("/v1/catalog/register", ext).await.0, 200);
    assert_eq!(
        wait_status(&s, "db-alias", "critical").await,
        "Aliased check \"db-check\" failing: disk full"
    );
}

/// Serves HTTP/2 on `l` (TLS with ALPN `h2` when `tls` is given, else prior knowledge):
/// connections are driven, which answers PINGs; requests are never answered.
fn h2_server(
    l: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_h2(tcp).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            serve_h2(stream).await
                        }
                    }
                }
            });
        }
    })
}

async fn serve_h2<T>(io: T)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok(_request)) = conn.accept().await {}
}

/// A TLS acceptor with a fresh self-signed certificate for `localhost`, offering `h2`.
fn self_signed_h2() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

#[tokio::test]
async fn h2ping_check_pings_over_h2c_and_tls() {
    let s = TestServer::start().await;

    // Prior-knowledge HTTP/2 (h2ping_use_tls false).
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let plain = h2_server(l, None);
    let body =
        format!(r#"{{"name":"h2c","h2ping":"{addr}","h2ping_use_tls":false,"interval":"1s"}}"#);
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert_eq!(
        wait_status(&s, "h2c", "passing").await,
        "HTTP2 ping was successful"
    );
    let checks = s.json("/v1/health/state/passing").await;
    let h2c = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["CheckID"] == "h2c")
        .cloned()
        .unwrap_or_default();
    assert_eq!(h2c["Type"], "h2ping", "{checks}");
    assert_eq!(h2c["Definition"]["H2PING"], addr.to_string(), "{checks}");
    assert_eq!(h2c["Definition"].get("H2PingUseTLS"), None, "{checks}");

    // TLS is the default: the same plain server fails the handshake.
    let body = format!(r#"{{"name":"h2-default-tls","h2ping":"{addr}","interval":"1s"}}"#);
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            check_of(&s, "h2-default-tls")
                .await
                .1
                .starts_with(&format!("Failed to dial to {addr}: tls: "))
        })
        .await,
        "{:?}",
        check_of(&s, "h2-default-tls").await
    );
    assert_eq!(check_of(&s, "h2-default-tls").await.0, "critical");

    // The server goes away: critical with the dial error, in Go's words.
    plain.abort();
    let _ = plain.await;
    assert_eq!(
        wait_status(&s, "h2c", "critical").await,
        format!("Failed to dial to {addr}: dial tcp {addr}: connect: connection refused")
    );

    // TLS with a self-signed certificate: refused unless tls_skip_verify.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = l.local_addr().unwrap();
    let tls = h2_server(l, Some(self_signed_h2()));
    let body = format!(
        r#"{{"name":"h2-tls","h2ping":"{tls_addr}","tls_skip_verify":true,"tls_server_name":"localhost","interval":"1s"}}"#
    );
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert_eq!(
        wait_status(&s, "h2-tls", "passing").await,
        "HTTP2 ping was successful"
    );
    let body = format!(r#"{{"name":"h2-verify","h2ping":"{tls_addr}","interval":"1s"}}"#);
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            check_of(&s, "h2-verify")
                .await
                .1
                .starts_with(&format!("Failed to dial to {tls_addr}: tls: "))
        })
        .await,
        "{:?}",
        check_of(&s, "h2-verify").await
    );
    tls.abort();
}

#[tokio::test]
async fn docker_check_execs_in_a_container() {
    use test_support::docker::{require_docker, unique, Container, Image};
    require_docker();
    let name = unique("consul-rs-dockercheck", "busybox");
    // Guards: the container first, so it is removed before its image.
    let image = Image::busybox(&name, "");
    let tag = image.tag.clone();
    let container = Container::run(&name, &["--network", "none", &tag, "sleep", "3600"]);

    let s = TestServer::start_with(&["-enable-script-checks"]).await;
    let id = &container.id;
    let check = |name: &str, script: &str| {
        format!(
            r#"{{"name":"{name}","docker_container_id":"{id}","shell":"/bin/busybox","args":["/bin/busybox","sh","-c","{script}"],"interval":"1s"}}"#
        )
    };
    for (check_name, script) in [
        ("d-pass", "echo fine; exit 0"),
        ("d-warn", "echo meh; exit 1"),
        ("d-crit", "echo bad; exit 2"),
        ("d-long", "/bin/busybox yes x | /bin/busybox head -c 6000"),
    ] {
        let (code, body) = s
            .put("/v1/agent/check/register", check(check_name, script))
            .await;
        assert_eq!(code, 200, "{body}");
    }
    assert_eq!(wait_status(&s, "d-pass", "passing").await.trim(), "fine");
    assert_eq!(wait_status(&s, "d-warn", "warning").await.trim(), "meh");
    let out = wait_status(&s, "d-crit", "critical").await;
    let _ = wait_until(Duration::from_secs(20), || async {
        check_of(&s, "d-crit").await.1.trim() == "bad"
    })
    .await;
    let (st, out2) = check_of(&s, "d-crit").await;
    assert_eq!((st.as_str(), out2.trim()), ("critical", "bad"), "{out}");
    let long = wait_status(&s, "d-long", "passing").await;
    assert!(
        long.starts_with("Captured 4096 of 6000 bytes\n...\n"),
        "{:?}",
        &long[..long.len().min(80)]
    );

    // A container that does not exist.
    let body = r#"{"name":"d-none","docker_container_id":"no-such-container-consul-rs","args":["true"],"interval":"1s"}"#;
    assert_eq!(s.put("/v1/agent/check/register", body).await.0, 200);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            check_of(&s, "d-none").await.1
                == "create exec failed for unknown container no-such-container-consul-rs"
        })
        .await,
        "{:?}",
        check_of(&s, "d-none").await
    );

    // Docker checks run scripts: refused without enable_script_checks, as Consul does.
    let plain = TestServer::start().await;
    let (code, text) = plain
        .put("/v1/agent/check/register", check("d-off", "true"))
        .await;
    assert_eq!(code, 400);
    assert!(
        text.contains("Scripts are disabled on this agent"),
        "{text}"
    );
    drop(container);
    drop(image);
}

/// On a client agent, an alias of another node's service follows the servers' catalog.
#[tokio::test]
async fn alias_check_on_a_client_follows_the_servers_catalog() {
    use crate::common::{Mode, ReservedPort};
    let mut ports = ReservedPort::shared(&["127.0.0.1", "127.0.0.2"]).into_iter();
    let mut server = TestServer::member("127.0.0.1", "alias-server", ports.next().unwrap(), 1, &[]);
    server.spawn();
    let ready = server.wait_ready(Duration::from_secs(60)).await;
    assert!(
        matches!(ready, test_support::Ready::Serving(_)),
        "{ready:?}: {}",
        server.output()
    );
    let mut client = TestServer::new(
        TestServer::builder()
            .ip("127.0.0.2")
            .node("alias-client")
            .mode(Mode::Client {
                join: vec!["127.0.0.1".to_string()],
            })
            .server_port(ports.next().unwrap())
            .arg("-dns-port=0")
            .build(),
    );
    client.start().await;

    let ext = r#"{"Node":"ext","Address":"10.0.0.9","Service":{"Service":"db"},
        "Check":{"Name":"db-check","ServiceID":"db","Status":"passing"}}"#;
    assert_eq!(server.put("/v1/catalog/register", ext).await.0, 200);
    let body = r#"{"name":"db-alias","alias_node":"ext","alias_service":"db"}"#;
    let (code, text) = client.put("/v1/agent/check/register", body).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        wait_status(&client, "db-alias", "passing").await,
        "All checks passing."
    );
    let ext = r#"{"Node":"ext","Address":"10.0.0.9","Service":{"Service":"db"},
        "Check":{"Name":"db-check","ServiceID":"db","Status":"warning","Output":"slow disk"}}"#;
    assert_eq!(server.put("/v1/catalog/register", ext).await.0, 200);
    assert_eq!(
        wait_status(&client, "db-alias", "warning").await,
        "Aliased check \"db-check\" failing: slow disk"
    );
    // The service leaves the node: critical.
    let (code, text) = server
        .put(
            "/v1/catalog/deregister",
            r#"{"Node":"ext","ServiceID":"db"}"#,
        )
        .await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        wait_status(&client, "db-alias", "critical").await,
        "Service db could not be found on node ext"
    );
}
