//! Flags of issue 19 against the real binary: `-parse-only`, `-template-error-fatal`,
//! `-consul-token-file`, default and per-template delimiters, `-exec-env-*`, `-log-file`
//! (with rotation) and what stays refused.

use std::time::Duration;

use super::harness::{read, tpl, wait_until, Consul, Ct};

const T: Duration = Duration::from_secs(15);

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[tokio::test]
async fn parse_only_parses_and_exits_without_rendering_or_consul() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad, dst) = (
        dir.path().join("good.ctmpl"),
        dir.path().join("bad.ctmpl"),
        dir.path().join("out"),
    );
    std::fs::write(&good, "{{ key \"a\" }} static\n").unwrap();
    std::fs::write(&bad, "{{ range service \"web\" }}unclosed\n").unwrap();
    // nothing listens on port 1: parsing must not need Consul
    let mut ct = Ct::start(&s(&[
        "-consul-addr=127.0.0.1:1",
        "-log-level=info",
        "-parse-only",
        "-template",
        &tpl(&good, &dst, None),
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert!(
        ct.stderr()
            .contains("[INFO] (runner) ParseOnly mode and all templates parsed"),
        "{}",
        ct.stderr()
    );
    assert!(!dst.exists());
    let mut ct = Ct::start(&s(&[
        "-consul-addr=127.0.0.1:1",
        "-parse-only",
        "-template",
        &tpl(&good, &dst, None),
        "-template",
        &tpl(&bad, &dst, None),
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(14), "{}", ct.stderr());
    assert!(ct.stderr().contains("bad.ctmpl"), "{}", ct.stderr());
    assert!(!dst.exists());
}

#[tokio::test]
async fn template_error_fatal_false_logs_and_keeps_running() {
    let consul = Consul::start().await;
    consul.put("n", "abc").await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("n.ctmpl"), dir.path().join("n.out"));
    std::fs::write(&src, "{{ key \"n\" | parseInt }}").unwrap();
    // default: an execution error ends the run
    let mut ct = Ct::start(&s(&[
        "-consul-addr",
        &consul.addr(),
        "-template",
        &tpl(&src, &dst, None),
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(14), "{}", ct.stderr());
    // false: logged, the template is executed again when its data changes
    let mut ct = Ct::start(&s(&[
        "-consul-addr",
        &consul.addr(),
        "-template",
        &tpl(&src, &dst, None),
        "-template-error-fatal=false",
    ]));
    assert!(
        wait_until(T, || async { ct.stderr().contains("[ERR] (runner)") }).await,
        "{}",
        ct.stderr()
    );
    assert!(ct.stderr().contains("parseInt"), "{}", ct.stderr());
    consul.put("n", "42").await;
    assert!(
        wait_until(T, || async { read(&dst) == "42" }).await,
        "{}",
        ct.stderr()
    );
    assert_eq!(ct.wait_exit(Duration::from_millis(200)).await, None);
    // the config key, per template and global
    let config = dir.path().join("ct.hcl");
    let dst2 = dir.path().join("n2.out");
    consul.put("n", "bad").await;
    std::fs::write(
        &config,
        format!(
            "template_error_fatal = false\ntemplate {{\n  source = \"{}\"\n  destination = \"{}\"\n}}\n",
            src.display(),
            dst2.display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start(&s(&[
        "-consul-addr",
        &consul.addr(),
        "-config",
        &config.display().to_string(),
    ]));
    assert!(
        wait_until(T, || async { ct.stderr().contains("[ERR] (runner)") }).await,
        "{}",
        ct.stderr()
    );
    consul.put("n", "7").await;
    assert!(wait_until(T, || async { read(&dst2) == "7" }).await);
    assert_eq!(ct.wait_exit(Duration::from_millis(100)).await, None);
}

#[tokio::test]
async fn consul_token_file_is_used_for_queries_and_passed_to_commands() {
    let consul = Consul::start_acl("mgmt-secret-0001").await;
    consul.put("secret", "s3").await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, token, envout) = (
        dir.path().join("t.ctmpl"),
        dir.path().join("t.out"),
        dir.path().join("token"),
        dir.path().join("env.out"),
    );
    std::fs::write(&src, "{{ key \"secret\" }}").unwrap();
    std::fs::write(&token, "  mgmt-secret-0001\n").unwrap();
    let cmd = format!("env > {}", envout.display());
    let mut ct = Ct::start(&s(&[
        "-consul-addr",
        &consul.addr(),
        "-consul-token=wrong-token",
        "-consul-token-file",
        &token.display().to_string(),
        "-template",
        &tpl(&src, &dst, Some(&cmd)),
        "-once",
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(read(&dst), "s3");
    let env = read(&envout);
    assert!(
        env.contains(&format!("CONSUL_HTTP_TOKEN_FILE={}", token.display())),
        "{env}"
    );
    // the config key; a missing file is a runner error in Go's client's words
    let config = dir.path().join("ct.hcl");
    std::fs::write(
        &config,
        format!(
            "consul {{\n  address = \"{}\"\n  token_file = \"{}\"\n}}\n",
            consul.addr(),
            dir.path().join("missing").display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start(&s(&[
        "-config",
        &config.display().to_string(),
        "-template",
        &tpl(&src, &dst, None),
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(14), "{}", ct.stderr());
    assert!(
        ct.stderr().contains("Error loading token file"),
        "{}",
        ct.stderr()
    );
}

#[tokio::test]
async fn default_and_per_template_delimiters() {
    let consul = Consul::start().await;
    consul.put("d", "v").await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.out"), dir.path().join("b.out"));
    let config = dir.path().join("ct.hcl");
    std::fs::write(
        &config,
        format!(
            r#"template {{
  contents = "[[ key \"d\" ]] {{{{ x }}}}"
  destination = "{}"
}}
template {{
  contents = "<% key \"d\" %> [[ y ]]"
  destination = "{}"
  left_delimiter = "<%"
  right_delimiter = "%>"
}}
"#,
            a.display(),
            b.display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start(&s(&[
        "-consul-addr",
        &consul.addr(),
        "-config",
        &config.display().to_string(),
        "-default-left-delimiter=[[",
        "-default-right-delimiter=]]",
        "-once",
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(read(&a), "v {{ x }}");
    assert_eq!(read(&b), "v [[ y ]]");
    // the config block
    std::fs::write(
        &config,
        format!(
            "default_delimiters {{\n  left = \"[[\"\n  right = \"]]\"\n}}\ntemplate {{\n  contents = \"[[ key \\\"d\\\" ]]!\"\n  destination = \"{}\"\n}}\n",
            a.display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start(&s(&[
        "-consul-addr",
        &consul.addr(),
        "-config",
        &config.display().to_string(),
        "-once",
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert_eq!(read(&a), "v!");
}

/// `-exec /usr/bin/env` with a static template: the child prints what it was given and its
/// exit ends consul-template.
async fn exec_env(extra: &[&str], config: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out");
    let mut args = s(&[
        "-consul-addr=127.0.0.1:1",
        "-template",
        &format!("{}:{}", dir.path().join("in").display(), dst.display()),
        "-exec=/usr/bin/env",
    ]);
    std::fs::write(dir.path().join("in"), "static").unwrap();
    if let Some(c) = config {
        let p = dir.path().join("ct.hcl");
        std::fs::write(&p, c).unwrap();
        args.push(format!("-config={}", p.display()));
    }
    args.extend(s(extra));
    let mut ct = Ct::start_env(&args, &[("CT_A1", "1"), ("CT_A2", "2"), ("CT_B", "3")]);
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    ct.stdout()
}

#[tokio::test]
async fn exec_env_allowlist_denylist_custom_and_pristine() {
    let all = exec_env(&[], None).await;
    assert!(all.contains("CT_A1=1\n") && all.contains("CT_B=3\n") && all.contains("PATH="));
    assert!(all.contains("CONSUL_HTTP_ADDR=127.0.0.1:1\n"), "{all}");
    let out = exec_env(
        &[
            "-exec-env-allowlist=CT_A*",
            "-exec-env-allowlist=PATH",
            "-exec-env-denylist=CT_A2",
            "-exec-env-custom=EXTRA=x=y",
            "-exec-env-custom=CT_A1=over",
        ],
        None,
    )
    .await;
    assert!(
        out.contains("CT_A1=over\n") && !out.contains("CT_A1=1"),
        "{out}"
    );
    assert!(!out.contains("CT_A2") && !out.contains("CT_B"), "{out}");
    assert!(
        out.contains("PATH=") && out.contains("EXTRA=x=y\n"),
        "{out}"
    );
    assert!(!out.contains("HOME="), "{out}");
    assert!(out.contains("CONSUL_HTTP_ADDR=127.0.0.1:1\n"), "{out}");
    let out = exec_env(&["-exec-env-pristine", "-exec-env-custom=ONLY=1"], None).await;
    let mut names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec![
            "CONSUL_HTTP_ADDR",
            "CONSUL_HTTP_SSL",
            "CONSUL_HTTP_SSL_VERIFY",
            "ONLY"
        ],
        "{out}"
    );
    // the config block, deprecated names included
    let out = exec_env(
        &[],
        Some("exec {\n  env {\n    whitelist = [\"CT_*\"]\n    blacklist = [\"CT_B\"]\n    custom = [\"C=1\"]\n  }\n}\n"),
    )
    .await;
    assert!(out.contains("CT_A1=1") && out.contains("CT_A2=2"), "{out}");
    assert!(
        !out.contains("CT_B") && !out.contains("PATH=") && out.contains("C=1"),
        "{out}"
    );
}

#[tokio::test]
async fn what_is_not_implemented_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in");
    std::fs::write(&src, "x").unwrap();
    let t = format!("{}:{}", src.display(), dir.path().join("out").display());
    let mut ct = Ct::start(&s(&["-template", &t, "-consul-ssl-server-name=x.example"]));
    assert_eq!(ct.wait_exit(T).await, Some(15));
    assert!(
        ct.stderr().contains("-consul-ssl-server-name"),
        "{}",
        ct.stderr()
    );
    let mut ct = Ct::start(&s(&["-template", &t, "-exec-env-custom=NOEQUALS"]));
    assert_eq!(ct.wait_exit(T).await, Some(15), "{}", ct.stderr());
}

fn log_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".log"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn log_file_gets_the_log_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let src = dir.path().join("in");
    std::fs::write(&src, "x").unwrap();
    let t = format!("{}:{}", src.display(), dir.path().join("out").display());
    let log = format!("{}/ct.log", logs.display());
    let mut ct = Ct::start(&s(&[
        "-template",
        &t,
        "-once",
        "-log-level=info",
        "-log-file",
        &log,
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    let files = log_files(&logs);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("ct-") && name.ends_with(".log"), "{name}");
    let text = read(&files[0]);
    assert!(text.contains("[INFO] (runner) rendered"), "{text}");
    // the same lines as stderr, timestamps included
    let first = text.lines().next().unwrap();
    assert!(ct.stderr().contains(first), "{first}");
    assert!(first.starts_with("20"), "{first}");
    // rotation by size, old files pruned to the newest 2 (plus the current one)
    let mut ct = Ct::start(&s(&[
        "-template",
        &t,
        "-once",
        "-log-level=trace",
        "-log-file",
        &log,
        "-log-rotate-bytes=1",
        "-log-rotate-max-files=2",
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    let files = log_files(&logs);
    assert_eq!(files.len(), 3, "{files:?}");
    // the config block
    let config = dir.path().join("ct.hcl");
    std::fs::write(
        &config,
        format!(
            "log_file {{\n  path = \"{}/other.txt\"\n  log_rotate_max_files = 1\n}}\n",
            logs.display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start(&s(&[
        "-template",
        &t,
        "-once",
        "-config",
        &config.display().to_string(),
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    assert!(std::fs::read_dir(&logs).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("other-")));
    // a directory that does not exist is a config error
    let mut ct = Ct::start(&s(&[
        "-template",
        &t,
        "-once",
        "-log-file=/nonexistent/dir/ct.log",
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(15), "{}", ct.stderr());
    assert!(
        ct.stderr().contains("error setting up log_file logging"),
        "{}",
        ct.stderr()
    );
}

/// The syslog socket is upstream's fixed `/dev/log` (not configurable), so the message form and
/// delivery are unit-tested against a socket of the test's own (`log::syslog`); here: what the
/// binary refuses before sending anything.
#[tokio::test]
async fn syslog_setup_errors_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in");
    std::fs::write(&src, "x").unwrap();
    let t = format!("{}:{}", src.display(), dir.path().join("out").display());
    let mut ct = Ct::start(&s(&[
        "-template",
        &t,
        "-once",
        "-syslog",
        "-syslog-facility=LOCAL9",
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(15), "{}", ct.stderr());
    assert!(
        ct.stderr()
            .contains("error setting up syslog logger: invalid syslog facility: LOCAL9"),
        "{}",
        ct.stderr()
    );
    // a facility alone enables syslog (upstream's Finalize)
    let config = dir.path().join("ct.hcl");
    std::fs::write(&config, "syslog {\n  facility = \"bogus\"\n}\n").unwrap();
    let mut ct = Ct::start(&s(&[
        "-template",
        &t,
        "-once",
        "-config",
        &config.display().to_string(),
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(15), "{}", ct.stderr());
    // switched off explicitly: nothing is set up
    std::fs::write(
        &config,
        "syslog {\n  enabled = false\n  facility = \"bogus\"\n}\n",
    )
    .unwrap();
    let mut ct = Ct::start(&s(&[
        "-template",
        &t,
        "-once",
        "-config",
        &config.display().to_string(),
    ]));
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    if !ctemplate::log::syslog::SOCKETS
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        let mut ct = Ct::start(&s(&["-template", &t, "-once", "-syslog"]));
        assert_eq!(ct.wait_exit(T).await, Some(15), "{}", ct.stderr());
        assert!(
            ct.stderr().contains("Unix syslog delivery error"),
            "{}",
            ct.stderr()
        );
    }
}

#[tokio::test]
async fn template_exec_env_shapes_the_command_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (envout, dst) = (dir.path().join("env.out"), dir.path().join("out"));
    let config = dir.path().join("ct.hcl");
    std::fs::write(
        &config,
        format!(
            "template {{\n  contents = \"x\"\n  destination = \"{}\"\n  exec {{\n    command = [\"/bin/sh\", \"-c\", \"/usr/bin/env > {}\"]\n    env {{\n      pristine = true\n      custom = [\"ONLY=1\"]\n    }}\n  }}\n}}\n",
            dst.display(),
            envout.display()
        ),
    )
    .unwrap();
    let mut ct = Ct::start_env(
        &s(&[
            "-consul-addr=127.0.0.1:1",
            "-once",
            "-config",
            &config.display().to_string(),
        ]),
        &[("CT_A1", "1")],
    );
    assert_eq!(ct.wait_exit(T).await, Some(0), "{}", ct.stderr());
    let env = read(&envout);
    assert!(
        env.contains("ONLY=1\n") && env.contains("CONSUL_HTTP_ADDR="),
        "{env}"
    );
    assert!(!env.contains("CT_A1") && !env.contains("HOME="), "{env}");
}

#[tokio::test]
async fn the_token_file_is_read_again_on_reload() {
    let consul = Consul::start_acl("mgmt-secret-0002").await;
    consul.put("k", "v2").await;
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, token) = (
        dir.path().join("t.ctmpl"),
        dir.path().join("t.out"),
        dir.path().join("token"),
    );
    std::fs::write(&src, "{{ key \"k\" }}").unwrap();
    std::fs::write(&token, "not-a-token\n").unwrap();
    let ct = Ct::start(&s(&[
        "-consul-addr",
        &consul.addr(),
        "-consul-token-file",
        &token.display().to_string(),
        "-consul-retry-attempts=0",
        "-template",
        &tpl(&src, &dst, None),
    ]));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!dst.exists(), "rendered without a valid token");
    std::fs::write(&token, "mgmt-secret-0002\n").unwrap();
    ct.signal(ctemplate::signal::Signal::HUP);
    assert!(
        wait_until(T, || async { read(&dst) == "v2" }).await,
        "{}",
        ct.stderr()
    );
}
