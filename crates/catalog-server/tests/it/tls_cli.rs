//! `consul tls ca create` and `consul tls cert create` run as a user would, in a scratch
//! directory: Consul's file names, permissions, output lines and exit codes, and the
//! certificates checked by `openssl verify` and `openssl x509 -text`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Runs `consul ARGS` in `dir`; exit code, stdout, stderr.
fn consul_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(test_support::binary("consul"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `openssl ARGS` in `dir`; (success, stdout + stderr).
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (the openssl package is installed by .ci/run)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}

/// The mode a file created with 0666 gets under this process's umask.
fn default_file_mode(dir: &Path) -> u32 {
    let probe = dir.join("umask-probe");
    std::fs::write(&probe, b"").expect("probe");
    let m = mode(&probe);
    std::fs::remove_file(&probe).expect("probe removed");
    m
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const WARNING: &str = "==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.
";

#[test]
fn ca_server_and_client_certificates_like_consul() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let cert_mode = default_file_mode(dir);

    let (code, out, err) = consul_in(dir, &["tls", "ca", "create"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            "==> Saved consul-agent-ca.pem\n==> Saved consul-agent-ca-key.pem\n",
            ""
        )
    );
    assert_eq!(mode(&dir.join("consul-agent-ca-key.pem")), 0o600);
    assert_eq!(mode(&dir.join("consul-agent-ca.pem")), cert_mode);
    let ca_key = std::fs::read_to_string(dir.join("consul-agent-ca-key.pem")).expect("key");
    assert!(
        ca_key.starts_with("-----BEGIN EC PRIVATE KEY-----\n"),
        "{ca_key}"
    );
    let (ok, ca_text) = openssl(
        dir,
        &["x509", "-noout", "-text", "-in", "consul-agent-ca.pem"],
    );
    assert!(ok, "{ca_text}");
    for want in [
        "Subject: C = US, ST = CA, L = San Francisco, street = 101 Second Street, \
         postalCode = 94105, O = HashiCorp Inc., CN = Consul Agent CA ",
        "ASN1 OID: prime256v1",
        "Signature Algorithm: ecdsa-with-SHA256",
        "X509v3 Basic Constraints: critical\n                CA:TRUE",
        "X509v3 Key Usage: critical\n                Digital Signature, Certificate Sign, CRL Sign",
    ] {
        assert!(ca_text.contains(want), "{want}:\n{ca_text}");
    }

    // A second CA in the same place is refused, and nothing is overwritten.
    let (code, out, err) = consul_in(dir, &["tls", "ca", "create"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "", "consul-agent-ca.pem already exists.\n")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("consul-agent-ca-key.pem")).expect("key"),
        ca_key
    );

    let (code, out, err) = consul_in(dir, &["tls", "cert", "create", "-server"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            format!(
                "{WARNING}==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n\
                 ==> Saved dc1-server-consul-0.pem\n==> Saved dc1-server-consul-0-key.pem\n"
            )
            .as_str(),
            ""
        )
    );
    assert_eq!(mode(&dir.join("dc1-server-consul-0-key.pem")), 0o600);
    assert_eq!(mode(&dir.join("dc1-server-consul-0.pem")), cert_mode);
    let (ok, text) = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            "consul-agent-ca.pem",
            "dc1-server-consul-0.pem",
        ],
    );
    assert!(ok, "{text}");
    assert_eq!(text, "dc1-server-consul-0.pem: OK\n");
    let (ok, text) = openssl(
        dir,
        &["x509", "-noout", "-text", "-in", "dc1-server-consul-0.pem"],
    );
    assert!(ok, "{text}");
    for want in [
        "Subject: CN = server.dc1.consul\n",
        "DNS:server.dc1.consul, DNS:localhost, IP Address:127.0.0.1\n",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment\n",
        "X509v3 Extended Key Usage: \n                TLS Web Server Authentication, TLS Web Client Authentication\n",
        "X509v3 Basic Constraints: critical\n                CA:FALSE\n",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }

    let (code, out, err) = consul_in(dir, &["tls", "cert", "create", "-client"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            "==> Using consul-agent-ca.pem and consul-agent-ca-key.pem\n\
             ==> Saved dc1-client-consul-0.pem\n==> Saved dc1-client-consul-0-key.pem\n",
            ""
        )
    );
    let (ok, text) = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            "consul-agent-ca.pem",
            "-purpose",
            "sslclient",
            "dc1-client-consul-0.pem",
        ],
    );
    assert!(ok, "{text}");
    let (_, text) = openssl(
        dir,
        &["x509", "-noout", "-text", "-in", "dc1-client-consul-0.pem"],
    );
    for want in [
        "Subject: CN = client.dc1.consul\n",
        "DNS:client.dc1.consul, DNS:localhost, IP Address:127.0.0.1\n",
        "TLS Web Client Authentication, TLS Web Server Authentication\n",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }

    // The next server certificate takes the next free number, with the extra names first.
    let (code, out, _) = consul_in(
        dir,
        &[
            "tls",
            "cert",
            "create",
            "-server",
            "-node=n1",
            "-additional-dnsname=consul.example.com",
            "-additional-ipaddress=10.0.0.7",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        out.ends_with("==> Saved dc1-server-consul-1.pem\n==> Saved dc1-server-consul-1-key.pem\n"),
        "{out}"
    );
    let (_, text) = openssl(
        dir,
        &["x509", "-noout", "-text", "-in", "dc1-server-consul-1.pem"],
    );
    assert!(
        text.contains(
            "DNS:consul.example.com, DNS:n1.server.dc1.consul, DNS:server.dc1.consul, \
             DNS:localhost, IP Address:10.0.0.7, IP Address:127.0.0.1\n"
        ),
        "{text}"
    );
    assert_eq!(
        files(dir),
        [
            "consul-agent-ca-key.pem",
            "consul-agent-ca.pem",
            "dc1-client-consul-0-key.pem",
            "dc1-client-consul-0.pem",
            "dc1-server-consul-0-key.pem",
            "dc1-server-consul-0.pem",
            "dc1-server-consul-1-key.pem",
            "dc1-server-consul-1.pem",
        ]
    );
}

#[test]
fn consuls_errors_and_exit_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for (args, want) in [
        (
            &["tls", "cert", "create", "-server"][..],
            "Error reading CA: open consul-agent-ca.pem: no such file or directory\n",
        ),
        (
            &["tls", "cert", "create"],
            "Please provide either -server, -client, or -cli\n",
        ),
        (
            &["tls", "cert", "create", "-server", "-client"],
            "Please provide either -server, -client, or -cli\n",
        ),
        (
            &["tls", "cert", "create", "-client", "-node", "n1"],
            "-node requires -server\n",
        ),
        (
            &["tls", "cert", "create", "-server", "-ca", ""],
            "Please provide the ca\n",
        ),
        (
            &["tls", "cert", "create", "-server", "-key="],
            "Please provide the key\n",
        ),
    ] {
        let (code, out, err) = consul_in(dir, args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", want),
            "{args:?}"
        );
    }
    assert!(files(dir).is_empty(), "{:?}", files(dir));

    // A CA key that is not PEM: Consul's words, after the lines it prints first.
    let (code, _, _) = consul_in(dir, &["tls", "ca", "create", "-domain=other"]);
    assert_eq!(code, 0);
    std::fs::write(dir.join("other-agent-ca-key.pem"), "junk").expect("write");
    let (code, out, err) = consul_in(dir, &["tls", "cert", "create", "-cli", "-domain=other"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            1,
            "==> Using other-agent-ca.pem and other-agent-ca-key.pem\n",
            "no PEM-encoded data found\n"
        )
    );
    assert!(!dir.join("dc1-cli-other-0.pem").exists());

    // A name the CA's constraints do not permit is refused by the verification Consul runs.
    let nc = dir.join("nc");
    std::fs::create_dir(&nc).expect("mkdir");
    let (code, _, err) = consul_in(&nc, &["tls", "ca", "create", "-name-constraint"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let (code, _, err) = consul_in(
        &nc,
        &[
            "tls",
            "cert",
            "create",
            "-server",
            "-additional-dnsname=evil.example",
        ],
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "x509: a root or intermediate certificate is not authorized to sign for this name: \
             DNS name \"evil.example\" is not permitted by any constraint\n"
        )
    );
    let (code, _, err) = consul_in(&nc, &["tls", "cert", "create", "-server"]);
    assert_eq!((code, err.as_str()), (0, ""));
}
