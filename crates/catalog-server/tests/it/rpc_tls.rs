//! TLS on the server port, set up as Consul's documentation does it: `consul tls ca create`,
//! `consul tls cert create -server`, and `tls { defaults { ca_file cert_file key_file
//! verify_incoming verify_outgoing } internal_rpc { verify_server_hostname } }`. Three servers
//! form a cluster and replicate over TLS; the server port refuses plain HTTP and TLS clients
//! without a certificate; a server whose certificate does not name `server.dc1.consul` is not
//! let in.

use crate::common::{wait_until, ReservedPort, TestServer};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const IPS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

fn consul_in(dir: &Path, args: &[&str]) {
    let out = Command::new(test_support::binary("consul"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("consul tls");
    assert!(
        out.status.success(),
        "consul {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tls_hcl(dir: &Path, cert: &str) -> String {
    let d = dir.display();
    format!(
        r#"tls {{
  defaults {{
    ca_file = "{d}/consul-agent-ca.pem"
    cert_file = "{d}/{cert}.pem"
    key_file = "{d}/{cert}-key.pem"
    verify_incoming = true
    verify_outgoing = true
  }}
  internal_rpc {{ verify_server_hostname = true }}
}}"#
    )
}

fn servers(hcl: &str) -> Vec<TestServer> {
    let ports = ReservedPort::shared(&IPS);
    IPS.iter()
        .zip(ports)
        .enumerate()
        .map(|(i, (ip, port))| {
            let others: Vec<String> = IPS
                .iter()
                .filter(|o| *o != ip)
                .map(|o| o.to_string())
                .collect();
            let mut s = TestServer::member(ip, &format!("server{}", i + 1), port, 3, &others);
            s.push_arg("-hcl");
            s.push_arg(hcl);
            s
        })
        .collect()
}

/// A raw request on `addr` (the server port); `Err` when the server closed the connection
/// without an HTTP answer.
async fn raw_http(addr: std::net::SocketAddr) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /v1/raft/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    match read {
        Ok(Ok(_)) if buf.starts_with(b"HTTP/1.1") => Ok(String::from_utf8_lossy(&buf).into()),
        Ok(Ok(_)) | Ok(Err(_)) => Err("closed".into()),
        Err(_) => Err("timed out".into()),
    }
}

#[tokio::test]
async fn servers_replicate_over_verified_tls_and_refuse_everyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    consul_in(d, &["tls", "ca", "create"]);
    consul_in(d, &["tls", "cert", "create", "-server", "-dc", "dc1"]);
    // A certificate from the same CA for another datacenter: it does not name server.dc1.consul.
    consul_in(d, &["tls", "cert", "create", "-server", "-dc", "dc2"]);
    let hcl = tls_hcl(d, "dc1-server-consul-0");
    let mut servers = servers(&hcl);
    for s in servers.iter_mut() {
        s.spawn();
    }
    for s in servers.iter_mut() {
        s.wait_ready(Duration::from_secs(60)).await;
    }
    // Writes on a follower are forwarded to the leader, and replicated to all, over TLS.
    for (i, s) in servers.iter().enumerate() {
        let (st, b) = s.put(&format!("/v1/kv/over-tls-{i}"), "yes").await;
        assert_eq!(st, 200, "{}: {b}", s.node());
    }
    for s in &servers {
        for i in 0..3 {
            let ok = wait_until(Duration::from_secs(10), || async {
                s.get(&format!("/v1/kv/over-tls-{i}?stale&raw"))
                    .await
                    .is_ok_and(|(st, b)| st == 200 && b == "yes")
            })
            .await;
            assert!(ok, "{} lacks over-tls-{i}", s.node());
        }
    }

    // The server port speaks no plain HTTP with verify_incoming.
    let rpc = servers[0].server_addr();
    let plain = raw_http(rpc).await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
    // A TLS client that trusts the CA but presents no certificate is refused.
    let ca = std::fs::read(d.join("consul-agent-ca.pem")).unwrap();
    let anonymous = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .danger_accept_invalid_hostnames(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = anonymous
        .get(format!("https://{rpc}/v1/raft/info"))
        .send()
        .await;
    assert!(r.is_err(), "answered a client without a certificate: {r:?}");

    // A fourth server with a certificate for dc2 cannot join: the others do not accept its
    // certificate as server.dc1.consul's, and it does not accept theirs.
    let port = ReservedPort::shared(&["127.0.0.4"]).pop().unwrap();
    let mut intruder = TestServer::member(
        "127.0.0.4",
        "intruder",
        port,
        3,
        &IPS.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    );
    intruder.push_arg("-hcl");
    intruder.push_arg(tls_hcl(d, "dc2-server-consul-0"));
    intruder.spawn();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let peers = servers[0].json("/v1/status/peers").await;
    assert_eq!(
        peers.as_array().map(Vec::len),
        Some(3),
        "the intruder joined: {peers}"
    );
    assert!(!peers.to_string().contains("127.0.0.4"), "{peers}");
}

#[test]
fn server_port_tls_settings_are_checked_at_start() {
    for (hcl, says) in [
        (
            r#"tls { internal_rpc { verify_incoming = true } }"#,
            "VerifyIncoming set for the server port",
        ),
        (
            r#"tls { defaults { verify_outgoing = true } }"#,
            "VerifyOutgoing set, but no CA",
        ),
        (
            r#"tls { defaults { tls_cipher_suites = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" } }"#,
            "is not supported by this agent",
        ),
        (
            r#"tls { https { tls_cipher_suites = "TLS_BOGUS" } }"#,
            "unsupported cipher \"TLS_BOGUS\"",
        ),
    ] {
        let out = Command::new(test_support::binary("consul"))
            .args(["agent", "-dev", "-http-port=0", "-hcl", hcl])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{hcl} started");
        assert!(text.contains(says), "{hcl}: {text}");
    }
}

/// With a certificate but without `verify_incoming`, the server port takes both TLS and plain
/// connections, as Consul's RPC port does.
#[tokio::test]
async fn without_verify_incoming_the_server_port_takes_tls_and_plain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    consul_in(d, &["tls", "ca", "create"]);
    consul_in(d, &["tls", "cert", "create", "-server", "-dc", "dc1"]);
    let hcl = format!(
        r#"tls {{ internal_rpc {{
  ca_file = "{0}/consul-agent-ca.pem"
  cert_file = "{0}/dc1-server-consul-0.pem"
  key_file = "{0}/dc1-server-consul-0-key.pem"
}} }}"#,
        d.display()
    );
    let s = TestServer::start_with(&["-hcl", &hcl]).await;
    let rpc = s.server_addr();
    let plain = raw_http(rpc).await;
    assert!(
        plain.as_ref().is_ok_and(|b| b.contains("200 OK")),
        "{plain:?}"
    );
    let ca = std::fs::read(d.join("consul-agent-ca.pem")).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // The certificate names localhost and 127.0.0.1 besides server.dc1.consul.
    let r = client
        .get(format!("https://localhost:{}/v1/raft/info", rpc.port()))
        .send()
        .await
        .expect("TLS on the server port");
    assert_eq!(r.status(), 200);
}

/// `tls_cipher_suites` limits the TLS 1.2 suites offered (checked with `openssl s_client`).
#[tokio::test]
async fn cipher_suites_limit_what_tls12_offers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    consul_in(d, &["tls", "ca", "create"]);
    consul_in(d, &["tls", "cert", "create", "-server", "-dc", "dc1"]);
    let hcl = format!(
        r#"tls {{ internal_rpc {{
  ca_file = "{0}/consul-agent-ca.pem"
  cert_file = "{0}/dc1-server-consul-0.pem"
  key_file = "{0}/dc1-server-consul-0-key.pem"
  tls_cipher_suites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
}} }}"#,
        d.display()
    );
    let s = TestServer::start_with(&["-hcl", &hcl]).await;
    let connect = s.server_addr().to_string();
    let s_client = |cipher: &str| {
        let out = Command::new("openssl")
            .args([
                "s_client", "-connect", &connect, "-tls1_2", "-cipher", cipher,
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("this test needs openssl (apt-get install openssl)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ok = s_client("ECDHE-ECDSA-AES128-GCM-SHA256");
    assert!(
        ok.contains("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"),
        "{ok}"
    );
    let refused = s_client("ECDHE-ECDSA-AES256-GCM-SHA384");
    assert!(
        !refused.contains("Cipher is ECDHE-ECDSA-AES256-GCM-SHA384"),
        "{refused}"
    );
}
