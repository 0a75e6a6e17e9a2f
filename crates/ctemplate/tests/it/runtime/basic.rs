//! Runtime basics against a real consul: first render, re-render on a service registration
//! and on a KV change, no command when the output is unchanged, `-once`, `-dry`, config files.

use std::time::Duration;

use super::harness::{read, tpl, wait_until, Consul, Ct};

const T: Duration = Duration::from_secs(15);

fn lines(p: &std::path::Path) -> usize {
    read(p).lines().count()
}

#[tokio::test]
async fn renders_then_rerenders_on_service_registration() {
    let consul = Consul::start().await;
    consul.register("web-1", "web", 8001).await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, count) = (
        dir.path().join("in.ctmpl"),
        dir.path().join("out/web.conf"),
        dir.path().join("count"),
    );
    std::fs::write(
        &src,
        "{{range service \"web\"}}server {{.Address}}:{{.Port}};\n{{end}}",
    )
    .unwrap();
    let cmd = format!("echo run >> {}", count.display());
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, Some(&cmd)),
        "--log-level=info".into(),
    ];
    let ct = Ct::start(&args);
    assert!(
        wait_until(T, || async { read(&dst) == "server 127.0.0.1:8001;\n" }).await,
        "first render: {}",
        ct.stderr()
    );
    assert!(wait_until(T, || async { lines(&count) == 1 }).await);
    consul.register("web-2", "web", 8002).await;
    assert!(
        wait_until(T, || async {
            read(&dst) == "server 127.0.0.1:8001;\nserver 127.0.0.1:8002;\n"
        })
        .await,
        "re-render: {:?}",
        read(&dst)
    );
    assert!(wait_until(T, || async { lines(&count) == 2 }).await);
    let log = ct.stderr();
    assert!(
        log.contains(&format!(
            "[INFO] (runner) rendered \"{}\" => \"{}\"",
            src.display(),
            dst.display()
        )),
        "{log}"
    );
    assert!(log.contains("[INFO] (runner) executing command"), "{log}");
}

#[tokio::test]
async fn kv_change_rerenders_and_unchanged_output_runs_no_command() {
    let consul = Consul::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, count) = (
        dir.path().join("kv.ctmpl"),
        dir.path().join("kv.out"),
        dir.path().join("count"),
    );
    std::fs::write(
        &src,
        "{{key \"app/color\"}} {{keyOrDefault \"app/size\" \"m\"}}",
    )
    .unwrap();
    let cmd = format!("echo run >> {}", count.display());
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, Some(&cmd)),
    ];
    let _ct = Ct::start(&args);
    // `key` blocks until the key exists: nothing is written before
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!dst.exists());
    consul.put("app/color", "blue").await;
    assert!(
        wait_until(T, || async { read(&dst) == "blue m" }).await,
        "{:?}",
        read(&dst)
    );
    assert!(wait_until(T, || async { lines(&count) == 1 }).await);
    // same value again (new ModifyIndex) and an unrelated key: output unchanged, no command
    consul.put("app/color", "blue").await;
    consul.put("app/other", "x").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(lines(&count), 1);
    consul.put("app/size", "xl").await;
    assert!(wait_until(T, || async { read(&dst) == "blue xl" }).await);
    consul.put("app/color", "red").await;
    assert!(wait_until(T, || async { read(&dst) == "red xl" }).await);
    assert!(
        wait_until(T, || async { lines(&count) == 3 }).await,
        "count {}",
        lines(&count)
    );
}

#[tokio::test]
async fn once_renders_every_template_and_exits_zero() {
    let consul = Consul::start().await;
    consul.put("a", "1").await;
    consul.register("db-1", "db", 5432).await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.out"), dir.path().join("b.out"));
    let config = dir.path().join("ct.hcl");
    std::fs::write(
        &config,
        format!(
            "consul {{\n  address = \"{}\"\n}}\ntemplate {{\n  contents = \"a={{{{key \\\"a\\\"}}}}\"\n  destination = \"{}\"\n  perms = 0600\n}}\ntemplate {{\n  contents = \"{{{{range service \\\"db\\\"}}}}{{{{.Port}}}}{{{{end}}}}\"\n  destination = \"{}\"\n}}\n",
            consul.addr(), a.display(), b.display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start(&[
        "-config".into(),
        config.display().to_string(),
        "-once".into(),
    ]);
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(read(&a), "a=1");
    assert_eq!(read(&b), "5432");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn dry_prints_instead_of_writing() {
    let consul = Consul::start().await;
    consul.put("greeting", "hello").await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("g.ctmpl"), dir.path().join("g.out"));
    std::fs::write(&src, "{{key \"greeting\"}}\n").unwrap();
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&src, &dst, Some("touch /nonexistent/should-not-run")),
        "-dry".into(),
        "-once".into(),
    ];
    let mut ct = Ct::start(&args);
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(ct.stdout(), format!("> {}\nhello\n", dst.display()));
    assert!(!dst.exists());
}

#[tokio::test]
async fn config_errors_name_the_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.hcl");
    std::fs::write(
        &config,
        "template {\n  source = \"x\"\n  destination = \"y\"\n  bogus_key = 1\n}\n",
    )
    .unwrap();
    let mut ct = Ct::start(&["-config".into(), config.display().to_string()]);
    assert_eq!(ct.wait_exit(T).await, Some(15));
    let err = ct.stderr();
    assert!(
        err.contains("unknown key \"template.bogus_key\"") && err.contains("bad.hcl"),
        "{err}"
    );
    let mut ct = Ct::start(&["-bogus".into()]);
    assert_eq!(ct.wait_exit(T).await, Some(13));
    let mut ct = Ct::start(&["-version".into()]);
    assert_eq!(ct.wait_exit(T).await, Some(0));
    assert!(ct.stdout().starts_with("consul-template v"));
}

#[tokio::test]
async fn a_change_executes_only_the_templates_that_use_it() {
    let consul = Consul::start().await;
    consul.put("a", "1").await;
    consul.put("b", "1").await;
    let dir = tempfile::tempdir().unwrap();
    let (ta, tb) = (dir.path().join("a.ctmpl"), dir.path().join("b.ctmpl"));
    let (oa, ob) = (dir.path().join("a.out"), dir.path().join("b.out"));
    std::fs::write(&ta, "{{key \"a\"}}").unwrap();
    std::fs::write(&tb, "{{key \"b\"}}").unwrap();
    let args = vec![
        "-consul-addr".into(),
        consul.addr(),
        "-template".into(),
        tpl(&ta, &oa, None),
        "-template".into(),
        tpl(&tb, &ob, None),
        "-log-level=trace".into(),
    ];
    let ct = Ct::start(&args);
    assert!(
        wait_until(T, || async { read(&oa) == "1" && read(&ob) == "1" }).await,
        "{}",
        ct.stderr()
    );
    let checks = |src: &std::path::Path| {
        ct.stderr()
            .matches(&format!("(runner) checking template \"{}\"", src.display()))
            .count()
    };
    let before_a = checks(&ta);
    consul.put("b", "2").await;
    assert!(wait_until(T, || async { read(&ob) == "2" }).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        checks(&ta),
        before_a,
        "template a was executed for a change of b"
    );
}

/// Against an agent that serves HTTPS and requires client certificates: the `consul { ssl }`
/// block and the `-consul-ssl*` flags render; without a client certificate nothing renders.
#[tokio::test]
async fn renders_over_https_with_a_client_certificate() {
    let certs = tempfile::tempdir().unwrap();
    test_support::tls::certificates(certs.path());
    let (consul, port) = Consul::start_https(certs.path()).await;
    consul.put("secret", "over-tls").await;
    let dir = tempfile::tempdir().unwrap();
    let c = certs.path().display();
    let (a, b) = (dir.path().join("a.out"), dir.path().join("b.out"));
    let config = dir.path().join("ct.hcl");
    std::fs::write(
        &config,
        format!(
            "consul {{\n  address = \"127.0.0.1:{port}\"\n  ssl {{\n    enabled = true\n    ca_cert = \"{c}/ca.pem\"\n    cert = \"{c}/client.pem\"\n    key = \"{c}/client-key.pem\"\n  }}\n}}\ntemplate {{\n  contents = \"{{{{key \\\"secret\\\"}}}}\"\n  destination = \"{}\"\n}}\n",
            a.display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start(&[
        "-config".into(),
        config.display().to_string(),
        "-once".into(),
    ]);
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(read(&a), "over-tls");

    let flags = |with_cert: bool| {
        let mut f = vec![
            format!("-consul-addr=127.0.0.1:{port}"),
            "-consul-ssl".to_string(),
            format!("-consul-ssl-ca-cert={c}/ca.pem"),
            format!(
                "-template={}:{}",
                {
                    let src = dir.path().join("b.ctmpl");
                    std::fs::write(&src, "{{key \"secret\"}}").unwrap();
                    src.display().to_string()
                },
                b.display()
            ),
            "-once".to_string(),
        ];
        if with_cert {
            f.push(format!("-consul-ssl-cert={c}/client.pem"));
            f.push(format!("-consul-ssl-key={c}/client-key.pem"));
        }
        f
    };
    let mut ct = Ct::start(&flags(true));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(read(&b), "over-tls");

    // Without a client certificate the agent refuses the handshake: nothing is rendered.
    std::fs::remove_file(&b).unwrap();
    let mut args = flags(false);
    args.push("-consul-retry=false".into());
    let mut ct = Ct::start(&args);
    let code = ct.wait_exit(T).await;
    assert_ne!(
        code,
        Some(0),
        "rendered without a client certificate: {}",
        ct.stderr()
    );
    assert!(!b.exists());
}

/// ACLs with `default_policy = "deny"`: a token holding read rules renders the tutorial's
/// nginx template; without a token a KV read is refused with Consul's `Permission denied`,
/// and a service list the token cannot see is reported as filtered, not silently empty.
#[tokio::test]
async fn renders_with_a_read_token_and_says_why_without_one() {
    const MGMT: &str = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let consul = Consul::start_acl(MGMT).await;
    consul.register("web1", "nginx", 8081).await;
    consul.register("web2", "nginx", 8082).await;
    consul.put("greeting", "hello").await;
    let http = reqwest::Client::new();
    let call = |path: &str, body: serde_json::Value| {
        http.put(consul.url(path))
            .header("X-Consul-Token", MGMT)
            .json(&body)
            .send()
    };
    let rules = "service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }\nkey \"greeting\" { policy = \"read\" }";
    let r = call(
        "/v1/acl/policy",
        serde_json::json!({"Name": "ct", "Rules": rules}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let token: serde_json::Value = call(
        "/v1/acl/token",
        serde_json::json!({"Policies": [{"Name": "ct"}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let secret = token["SecretID"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("nginx.ctmpl");
    std::fs::write(&src, include_str!("nginx.ctmpl")).unwrap();
    let key_src = dir.path().join("key.ctmpl");
    std::fs::write(&key_src, "{{key \"greeting\"}}").unwrap();
    let (out, key_out) = (dir.path().join("nginx.conf"), dir.path().join("key.out"));
    let args = |token: Option<&str>, src: &std::path::Path, dst: &std::path::Path| {
        let mut a = vec![
            format!("-consul-addr={}", consul.addr()),
            format!("-template={}", tpl(src, dst, None)),
            "-once".to_string(),
            "-consul-retry=false".to_string(),
        ];
        if let Some(t) = token {
            a.push(format!("-consul-token={t}"));
        }
        a
    };
    let mut ct = Ct::start(&args(Some(&secret), &src, &out));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    let rendered = read(&out);
    assert!(
        rendered.contains("server 127.0.0.1:8081;") && rendered.contains("server 127.0.0.1:8082;"),
        "{rendered}"
    );
    let mut ct = Ct::start(&args(Some(&secret), &key_src, &key_out));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(read(&key_out), "hello");

    // No token: the key is refused by name, nothing rendered.
    std::fs::remove_file(&key_out).unwrap();
    let mut ct = Ct::start(&args(None, &key_src, &key_out));
    let code = ct.wait_exit(T).await;
    assert_ne!(code, Some(0), "rendered without a token: {}", ct.stderr());
    assert!(
        ct.stderr().contains("Permission denied") && ct.stderr().contains("key:read"),
        "{}",
        ct.stderr()
    );
    assert!(!key_out.exists());
    // No token: the service list comes back filtered, and the log says so.
    let mut ct = Ct::start(&args(None, &src, &dir.path().join("anon.conf")));
    ct.wait_exit(T).await;
    assert!(
        ct.stderr().contains("results were filtered by ACLs"),
        "{}",
        ct.stderr()
    );
}

/// The "done when": ACLs with `default_policy = "deny"` and HTTPS with verified client
/// certificates at once — consul-template with a read token and its client certificate
/// renders the tutorial's template; with the certificate but no token it renders no service.
#[tokio::test]
async fn renders_over_verified_https_with_an_acl_token() {
    const MGMT: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    let certs = tempfile::tempdir().unwrap();
    test_support::tls::certificates(certs.path());
    let (consul, port) = Consul::start_https_acl(certs.path(), MGMT).await;
    consul.register("web1", "nginx", 8081).await;
    let http = reqwest::Client::new();
    let call = |path: &str, body: serde_json::Value| {
        http.put(consul.url(path))
            .header("X-Consul-Token", MGMT)
            .json(&body)
            .send()
    };
    let rules = "service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }";
    let r = call(
        "/v1/acl/policy",
        serde_json::json!({"Name": "ct", "Rules": rules}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let token: serde_json::Value = call(
        "/v1/acl/token",
        serde_json::json!({"Policies": [{"Name": "ct"}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let secret = token["SecretID"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("nginx.ctmpl");
    std::fs::write(&src, include_str!("nginx.ctmpl")).unwrap();
    let c = certs.path().display();
    let args = |token: Option<&str>, dst: &std::path::Path| {
        let mut a = vec![
            format!("-consul-addr=127.0.0.1:{port}"),
            "-consul-ssl".to_string(),
            format!("-consul-ssl-ca-cert={c}/ca.pem"),
            format!("-consul-ssl-cert={c}/client.pem"),
            format!("-consul-ssl-key={c}/client-key.pem"),
            format!("-template={}", tpl(&src, dst, None)),
            "-once".to_string(),
            "-consul-retry=false".to_string(),
        ];
        if let Some(t) = token {
            a.push(format!("-consul-token={t}"));
        }
        a
    };
    let out = dir.path().join("with-token.conf");
    let mut ct = Ct::start(&args(Some(&secret), &out));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert!(
        read(&out).contains("server 127.0.0.1:8081;"),
        "{}",
        read(&out)
    );
    let anon = dir.path().join("anonymous.conf");
    let mut ct = Ct::start(&args(None, &anon));
    ct.wait_exit(T).await;
    assert!(
        !read(&anon).contains("server 127.0.0.1:8081;"),
        "{}",
        read(&anon)
    );
    assert!(ct.stderr().contains("filtered by ACLs"), "{}", ct.stderr());
}
