//! The HTTPS listener: a certificate from `tls { https { … } }`, client certificates required
//! with `verify_incoming`, checked by real clients (reqwest with rustls, `curl`, our own CLI),
//! and TLS settings that cannot work (client certificates or peer checks without a CA) refused at start.

use crate::common::TestServer;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The port the agent's HTTPS listener got (it was asked for port 0).
async fn https_port(s: &TestServer) -> u16 {
    for _ in 0..200 {
        if let Some(port) = test_support::tls::https_port(&s.output()) {
            return port;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no HTTPS listener in the output:\n{}", s.output());
}

fn client(dir: &Path, with_cert: bool) -> reqwest::Client {
    let ca = std::fs::read(dir.join("ca.pem")).expect("ca");
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(10))
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca pem"));
    if with_cert {
        let mut pem = std::fs::read(dir.join("client.pem")).expect("cert");
        pem.extend(std::fs::read(dir.join("client-key.pem")).expect("key"));
        b = b.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
    }
    b.build().expect("client")
}

#[tokio::test]
async fn https_with_verified_clients() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    test_support::tls::certificates(d);
    let hcl = test_support::tls::https_hcl(d);
    let s = TestServer::start_with(&["-log-level=info", "-https-port=0", "-hcl", &hcl]).await;
    let port = https_port(&s).await;
    assert!(
        s.output().contains(&format!("HTTPS: {port}")) || s.output().contains("HTTPS: 0"),
        "the banner names the HTTPS listener: {}",
        s.output()
    );
    let url = format!("https://127.0.0.1:{port}/v1/status/leader");

    // A client with a certificate the CA signed gets the API.
    let r = client(d, true).get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("127.0.0.1"));
    let put = client(d, true)
        .put(format!("https://127.0.0.1:{port}/v1/kv/over-tls"))
        .body("yes")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    // Without one, the handshake is refused: nothing is answered.
    let denied = client(d, false).get(&url).send().await;
    assert!(
        denied.is_err(),
        "answered without a client certificate: {denied:?}"
    );

    // curl, and our CLI with Consul's TLS flags.
    let curl = Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            "ca.pem",
            "--cert",
            "client.pem",
            "--key",
            "client-key.pem",
        ])
        .arg(format!("https://localhost:{port}/v1/kv/over-tls?raw"))
        .current_dir(d)
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "yes", "{curl:?}");
    let cli = Command::new(test_support::binary("consul"))
        .args(["kv", "get"])
        .arg(format!("-http-addr=https://127.0.0.1:{port}"))
        .arg(format!("-ca-file={}", d.join("ca.pem").display()))
        .arg(format!("-client-cert={}", d.join("client.pem").display()))
        .arg(format!(
            "-client-key={}",
            d.join("client-key.pem").display()
        ))
        .arg("over-tls")
        .output()
        .expect("consul kv get");
    assert_eq!(
        String::from_utf8_lossy(&cli.stdout).trim(),
        "yes",
        "{cli:?}"
    );

    // The plain HTTP listener still serves (Consul keeps both when both ports are set).
    assert_eq!(
        s.get("/v1/kv/over-tls?raw").await.unwrap(),
        (200, "yes".into())
    );
}

#[test]
fn tls_settings_that_cannot_work_are_refused() {
    let run = |hcl: &str| {
        Command::new(test_support::binary("consul"))
            .args(["agent", "-dev", "-hcl", hcl])
            .output()
            .expect("consul agent")
    };
    // Client certificates asked for on the server port, with nothing to check them with.
    let out = run("tls { defaults { verify_incoming = true } }");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("VerifyIncoming set for the server port, but no certificate or no CA"),
        "{err}"
    );
    let out = run("tls { internal_rpc { verify_outgoing = true } }");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("VerifyOutgoing set, but no CA"), "{err}");
    let out = run("ports { https = 8501 }");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("no certificate"), "{err}");
}
