//! Table tests for the Go-style command line.

use super::*;

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|a| a.to_string()).collect()
}

fn ok(s: &[&str]) -> Options {
    match parse("registrator", &args(s)) {
        Ok(o) => o,
        Err(e) => panic!("{s:?}: {e}"),
    }
}

fn err(s: &[&str]) -> CliExit {
    match parse("registrator", &args(s)) {
        Ok(o) => panic!("{s:?} parsed: {o:?}"),
        Err(e) => e,
    }
}

#[test]
fn flag_spellings() {
    let o = ok(&[
        "-ip=1.2.3.4",
        "--internal",
        "-resync",
        "30",
        "--tags=a,b",
        "-cleanup=false",
        "consul://x:1",
    ]);
    assert_eq!(o.ip, "1.2.3.4");
    assert!(o.internal);
    assert!(!o.cleanup);
    assert_eq!(o.resync_secs, 30);
    assert_eq!(o.tags, "a,b");
    assert_eq!(o.registry_uri, "consul://x:1");
    let o = ok(&[
        "--ip",
        "5.6.7.8",
        "-explicit",
        "-retry-attempts=-1",
        "-retry-interval",
        "0x10",
        "consul://",
    ]);
    assert_eq!(o.ip, "5.6.7.8");
    assert!(o.explicit);
    assert_eq!(o.retry_attempts, -1);
    assert_eq!(o.retry_interval_ms, 16);
    let o = ok(&[
        "-useIpFromLabel",
        "ip.label",
        "-deregister=on-success",
        "-ttl=30",
        "-ttl-refresh=10",
        "consul:",
    ]);
    assert_eq!(o.use_ip_from_label, "ip.label");
    assert_eq!(o.deregister_policy(), DeregisterPolicy::OnSuccess);
    assert_eq!((o.ttl, o.ttl_refresh), (30, 10));
    assert!(o.validate().is_ok());
}

#[test]
fn defaults() {
    let o = ok(&["consul://127.0.0.1:8500"]);
    assert_eq!(o.retry_interval_ms, 2000);
    assert_eq!(o.deregister, "always");
    assert_eq!(o.deregister_policy(), DeregisterPolicy::Always);
    assert!(o.validate().is_ok());
}

#[test]
fn positional_rules() {
    let e = err(&[]);
    assert_eq!(e.code, 2);
    assert!(e
        .message
        .starts_with("Missing required argument for registry URI.\n\nUsage of registrator:"));
    let e = err(&["consul://a", "-ip=1.2.3.4"]);
    assert_eq!(e.code, 2);
    assert!(e.message.starts_with(
        "Extra unparsed arguments:\n  -ip=1.2.3.4\nOptions should come before the registry URI argument.\n"
    ));
    // "--" ends flags; what follows is positional.
    assert_eq!(ok(&["--", "-weird"]).registry_uri, "-weird");
}

#[test]
fn flag_errors_exit_2() {
    for (a, msg) in [
        (
            &["-version", "consul://"][..],
            "flag provided but not defined: -version",
        ),
        (
            &["-nope=1", "consul://"][..],
            "flag provided but not defined: -nope",
        ),
        (
            &["-resync=abc", "consul://"][..],
            "invalid value \"abc\" for flag -resync: parse error",
        ),
        (
            &["-cleanup=yes", "consul://"][..],
            "invalid value \"yes\" for flag -cleanup: parse error",
        ),
        (&["-ip"][..], "flag needs an argument: -ip"),
        (&["---ip=1", "consul://"][..], "bad flag syntax: ---ip=1"),
    ] {
        let e = err(a);
        assert_eq!(e.code, 2, "{a:?}");
        assert!(e.message.starts_with(msg), "{a:?}: {}", e.message);
        assert!(e.message.contains("Usage of registrator:"));
    }
}

#[test]
fn version_only_alone() {
    let e = err(&["--version"]);
    assert_eq!(e.code, 0);
    assert_eq!(e.message, format!("{VERSION}\n"));
    assert_eq!(err(&["--version", "consul://"]).code, 2);
}

#[test]
fn help_exits_zero() {
    let e = err(&["-h"]);
    assert_eq!(e.code, 0);
    assert!(e.message.contains("  -deregister string\n    \tDeregister exited services \"always\" or \"on-success\" (default \"always\")\n"));
    assert!(e
        .message
        .contains("  -cleanup\n    \tRemove dangling services\n"));
    assert!(e.message.contains("  -retry-interval int\n    \tInterval (in millisecond) between retry-attempts. (default 2000)\n"));
}

#[test]
fn validation() {
    let v = |a: &[&str]| ok(a).validate();
    assert_eq!(v(&["-ttl=10", "c://"]), Err(InvalidOptions::TtlPair));
    assert_eq!(
        v(&["-ttl-refresh=10", "c://"]),
        Err(InvalidOptions::TtlPair)
    );
    assert_eq!(
        v(&["-ttl=10", "-ttl-refresh=10", "c://"]),
        Err(InvalidOptions::TtlOrder)
    );
    assert_eq!(
        v(&["-retry-interval=0", "c://"]),
        Err(InvalidOptions::RetryInterval)
    );
    assert_eq!(
        v(&["-deregister=never", "c://"]),
        Err(InvalidOptions::Deregister)
    );
    assert_eq!(
        InvalidOptions::TtlPair.to_string(),
        "-ttl and -ttl-refresh must be specified together or not at all"
    );
}

#[test]
fn go_ints() {
    assert_eq!(parse_go_int("010"), Some(8));
    assert_eq!(parse_go_int("1_000"), Some(1000));
    assert_eq!(parse_go_int("-0b11"), Some(-3));
    assert_eq!(parse_go_int(""), None);
    assert_eq!(parse_go_int("1.5"), None);
}
