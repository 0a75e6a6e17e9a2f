//! The binary's command line: exit codes and messages as upstream.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(test_support::binary("registrator"))
        .args(args)
        .output()
        .expect("run registrator");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("Missing required argument for registry URI."),
        "{err}"
    );
    let (code, _, err) = run(&["consul://", "-ip=1.1.1.1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Options should come before the registry URI argument."),
        "{err}"
    );
    let (code, _, err) = run(&["-version"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("flag provided but not defined: -version"),
        "{err}"
    );
}

#[test]
fn version_and_fatal_validation() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with('v'), "{out}");
    let (code, _, err) = run(&["-ttl=10", "consul://127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("-ttl and -ttl-refresh must be specified together or not at all"),
        "{err}"
    );
    let (code, _, err) = run(&["zookeeper://127.0.0.1:2181/x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("adapter not supported by this registrator: zookeeper://127.0.0.1:2181/x"),
        "{err}"
    );
    let (code, _, err) = run(&["etcd://127.0.0.1:2379/x?timeout=3"]);
    assert_eq!(code, 1);
    assert!(err.contains("the option \"timeout\""), "{err}");
    let (code, _, err) = run(&["skydns2://127.0.0.1:2379"]);
    assert_eq!(code, 1);
    assert!(err.contains("skydns2: dns domain required"), "{err}");
    let (code, _, err) = run(&["bogus://x"]);
    assert_eq!(code, 1);
    assert!(err.contains("unrecognized adapter: bogus://x"), "{err}");
}

#[test]
fn unreachable_registry_exits_1_after_retries() {
    // Held, not listening: every connection is refused.
    let held = test_support::ReservedPort::loopback();
    let port = held.port();
    let uri = format!("consul://127.0.0.1:{port}");
    let (code, _, err) = run(&["-retry-attempts=2", "-retry-interval=10", &uri]);
    assert_eq!(code, 1);
    assert!(err.contains("Connecting to backend (2/2)"), "{err}");
}

#[test]
fn unreachable_etcd_exits_1_after_retries() {
    let held = test_support::ReservedPort::loopback();
    let uri = format!("etcd://127.0.0.1:{}/services", held.port());
    let (code, _, err) = run(&["-retry-attempts=1", "-retry-interval=10", &uri]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("Using etcd adapter: {uri}")), "{err}");
    assert!(err.contains("Connecting to backend (1/1)"), "{err}");
}
