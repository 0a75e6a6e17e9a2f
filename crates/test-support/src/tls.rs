//! Certificates for tests of HTTPS, made with the `openssl` command: a CA, a server certificate
//! for `127.0.0.1`/`localhost` and a client certificate, each as PEM files in a directory, and
//! the port an agent's HTTPS listener got.

use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("this test needs openssl (apt-get install openssl): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `ca.pem`/`ca-key.pem`, `server.pem`/`server-key.pem` (serverAuth, SANs
/// `IP:127.0.0.1`, `DNS:localhost`) and `client.pem`/`client-key.pem` (clientAuth) into `dir`:
/// EC P-256, valid for two days.
pub fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca-key.pem", "-out", "ca.pem"]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
        ),
        ("client", "extendedKeyUsage=clientAuth"),
    ] {
        let subject = format!("/CN={name}");
        let key = format!("{name}-key.pem");
        let csr = format!("{name}.csr");
        let mut req = vec!["req", "-subj", &subject];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &req);
        let extfile = format!("{name}.ext");
        if let Err(e) = std::fs::write(dir.join(&extfile), ext) {
            panic!("writing {extfile}: {e}");
        }
        let cert = format!("{name}.pem");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &extfile,
                "-out",
                &cert,
            ],
        );
    }
}

/// The `tls { https { … } }` block serving `dir`'s server certificate, requiring client
/// certificates signed by its CA.
pub fn https_hcl(dir: &Path) -> String {
    format!(
        "tls {{\n https {{\n  ca_file = \"{0}/ca.pem\"\n  cert_file = \"{0}/server.pem\"\n  key_file = \"{0}/server-key.pem\"\n  verify_incoming = true\n }}\n}}\n",
        dir.display()
    )
}

/// The port of the HTTPS listener an agent logged (`Started HTTPS server: address=…`; it must
/// run with `-log-level=info` or lower).
pub fn https_port(output: &str) -> Option<u16> {
    output
        .lines()
        .filter_map(|l| {
            l.split_once("Started HTTPS server: address=")?
                .1
                .split_whitespace()
                .next()
        })
        .filter_map(|a| a.rsplit_once(':')?.1.parse().ok())
        .next()
}
