use super::*;
use crate::ANONYMOUS_TOKEN_ID;

fn authz(default: DefaultPolicy, texts: &[&str]) -> Authorizer {
    let rules: Vec<Rules> = texts
        .iter()
        .map(|t| Rules::parse(t).unwrap_or_else(|e| panic!("{t}: {e}")))
        .collect();
    Authorizer::new(default, &rules)
}

/// (resource, name, access, allowed) checked against one authorizer.
type Case<'a> = (Resource, &'a str, Access, bool);

fn check_all(authz: &Authorizer, cases: &[Case<'_>]) {
    for &(resource, name, need, want) in cases {
        assert_eq!(
            authz.allows(resource, name, need),
            want,
            "{resource}:{need} on {name:?}"
        );
    }
}

use Access::{List, Read, Write};
use Resource as R;

const PRECEDENCE: &str = r#"
key_prefix "" { policy = "read" }
key_prefix "foo/" { policy = "write" }
key_prefix "foo/bar/" { policy = "read" }
key "foo/bar/baz" { policy = "deny" }
key "foo/bar" { policy = "write" }
service_prefix "we" { policy = "read" }
service "web" { policy = "write" }
node_prefix "" { policy = "deny" }
node "n1" { policy = "read" }
"#;

#[test]
fn exact_before_prefix_and_longest_prefix_wins() {
    for default in [DefaultPolicy::Allow, DefaultPolicy::Deny] {
        let a = authz(default, &[PRECEDENCE]);
        check_all(
            &a,
            &[
                (R::Key, "other", Read, true),
                (R::Key, "other", Write, false),
                (R::Key, "foo/x", Write, true),
                (R::Key, "foo/bar/x", Write, false),
                (R::Key, "foo/bar/x", Read, true),
                (R::Key, "foo/bar/baz", Read, false),
                (R::Key, "foo/bar/bazz", Read, true),
                // An exact rule applies to its name only, not to names it prefixes.
                (R::Key, "foo/bar", Write, true),
                (R::Key, "foo/barn", Write, true),
                (R::Key, "foo/bar/", Write, false),
                (R::Service, "web", Write, true),
                (R::Service, "webby", Write, false),
                (R::Service, "webby", Read, true),
                (R::Node, "n1", Read, true),
                (R::Node, "n2", Read, false),
            ],
        );
    }
}

#[test]
fn default_answers_where_no_rule_matches() {
    let rules = r#"service "web" { policy = "read" }"#;
    let allow = authz(DefaultPolicy::Allow, &[rules]);
    let deny = authz(DefaultPolicy::Deny, &[rules]);
    let table: [(Resource, &str, Access, bool, bool); 10] = [
        // resource, name, need, under allow, under deny
        (R::Service, "web", Read, true, true),
        (R::Service, "web", Write, false, false),
        (R::Service, "db", Write, true, false),
        (R::Key, "k", List, true, false),
        (R::Node, "n", Write, true, false),
        (R::Operator, "", Write, true, false),
        (R::Mesh, "", Read, true, false),
        (R::Keyring, "", Write, true, false),
        // The allow default never grants ACL management.
        (R::Acl, "", Read, false, false),
        (R::Acl, "", Write, false, false),
    ];
    for (resource, name, need, under_allow, under_deny) in table {
        assert_eq!(
            allow.allows(resource, name, need),
            under_allow,
            "allow {resource}:{need}"
        );
        assert_eq!(
            deny.allows(resource, name, need),
            under_deny,
            "deny {resource}:{need}"
        );
    }
    // No rules at all.
    let empty = Authorizer::new(DefaultPolicy::Allow, []);
    assert!(empty.allows(R::Key, "x", Write));
    assert!(!empty.allows(R::Acl, "", Read));
    assert!(!Authorizer::new(DefaultPolicy::Deny, []).allows(R::Key, "x", Read));
}

#[test]
fn manage_all_allows_everything() {
    let a = Authorizer::manage_all();
    for resource in [R::Acl, R::Key, R::Operator, R::Service, R::Peering] {
        for need in [Read, List, Write] {
            assert!(a.allows(resource, "x", need));
        }
    }
    assert!(a.key_write_prefix(""));
}

#[test]
fn merging_policies_most_restrictive_wins() {
    let first = r#"
key "a" { policy = "write" }
key "b" { policy = "read" }
key "c" { policy = "write" }
key "d" { policy = "list" }
key_prefix "p/" { policy = "read" }
operator = "read"
acl = "write"
"#;
    let second = r#"
key "a" { policy = "read" }
key "c" { policy = "deny" }
key "d" { policy = "read" }
key_prefix "p/" { policy = "write" }
operator = "write"
acl = "deny"
"#;
    for order in [[first, second], [second, first]] {
        let a = authz(DefaultPolicy::Deny, &order);
        check_all(
            &a,
            &[
                (R::Key, "a", Write, true),
                (R::Key, "b", Read, true),
                (R::Key, "b", Write, false),
                (R::Key, "c", Read, false),
                (R::Key, "d", List, true),
                (R::Key, "d", Write, false),
                (R::Key, "p/x", Write, true),
                (R::Operator, "", Write, true),
                (R::Acl, "", Read, false),
            ],
        );
    }
}

#[test]
fn same_name_twice_in_one_policy_merges_too() {
    // Not "the later one wins": the most restrictive one does, wherever it is.
    let a = authz(
        DefaultPolicy::Allow,
        &["key \"a\" { policy = \"write\" }\nkey \"a\" { policy = \"read\" }\nkey \"b\" { policy = \"deny\" }\nkey \"b\" { policy = \"write\" }"],
    );
    assert!(a.allows(R::Key, "a", Write));
    assert!(!a.allows(R::Key, "b", Read));
}

#[test]
fn list_read_write_on_keys() {
    let a = authz(
        DefaultPolicy::Deny,
        &[r#"
key_prefix "r/" { policy = "read" }
key_prefix "l/" { policy = "list" }
key_prefix "w/" { policy = "write" }
key_prefix "d/" { policy = "deny" }
"#],
    );
    let table = [
        ("r/x", [true, false, false]),
        ("l/x", [true, true, false]),
        ("w/x", [true, true, true]),
        ("d/x", [false, false, false]),
        ("none", [false, false, false]),
    ];
    for (key, [read, list, write]) in table {
        assert_eq!(a.allows(R::Key, key, Read), read, "{key} read");
        assert_eq!(a.allows(R::Key, key, List), list, "{key} list");
        assert_eq!(a.allows(R::Key, key, Write), write, "{key} write");
    }
}

#[test]
fn key_write_prefix_needs_write_everywhere_below() {
    let rules = r#"
key_prefix "" { policy = "write" }
key_prefix "app/" { policy = "write" }
key "app/locked" { policy = "deny" }
key_prefix "ro/" { policy = "read" }
key "open/readable" { policy = "read" }
key_prefix "wide/" { policy = "write" }
key_prefix "wide/sub/" { policy = "write" }
"#;
    for default in [DefaultPolicy::Allow, DefaultPolicy::Deny] {
        let a = authz(default, &[rules]);
        let table = [
            ("", false),           // "app/locked" (and more) below
            ("app/", false),       // deny below
            ("app/other/", true),  // nothing below, "app/" grants write
            ("app/locked", false), // the exact rule itself counts
            ("ro/", false),        // the covering prefix rule grants only read
            ("ro/sub/", false),
            ("open/", false), // an exact read rule below
            ("wide/", true),
            ("wide/sub/x", true),
        ];
        for (prefix, want) in table {
            assert_eq!(a.key_write_prefix(prefix), want, "{default}: {prefix:?}");
        }
        // Single keys are still writable where their own rule says so.
        assert!(a.allows(R::Key, "app/x", Write));
    }
    // Without any applicable rule the default decides; a rule below still denies.
    let some = r#"key "x/y" { policy = "read" }"#;
    assert!(authz(DefaultPolicy::Allow, &[some]).key_write_prefix("z/"));
    assert!(!authz(DefaultPolicy::Deny, &[some]).key_write_prefix("z/"));
    assert!(!authz(DefaultPolicy::Allow, &[some]).key_write_prefix("x/"));
}

#[test]
fn mesh_and_peering_follow_operator_without_their_own_rule() {
    let a = authz(DefaultPolicy::Deny, &[r#"operator = "write""#]);
    assert!(a.allows(R::Mesh, "", Write));
    assert!(a.allows(R::Peering, "", Write));
    let a = authz(
        DefaultPolicy::Allow,
        &["operator = \"write\"\nmesh = \"read\"\npeering = \"deny\""],
    );
    check_all(
        &a,
        &[
            (R::Mesh, "", Read, true),
            (R::Mesh, "", Write, false),
            (R::Peering, "", Read, false),
            (R::Operator, "", Write, true),
        ],
    );
    let a = authz(DefaultPolicy::Allow, &[r#"operator = "read""#]);
    assert!(!a.allows(R::Mesh, "", Write));
}

#[test]
fn intentions_come_from_service_rules() {
    let a = authz(
        DefaultPolicy::Deny,
        &[r#"
service "web" { policy = "write" }
service "api" { policy = "read" intentions = "write" }
service "db" { policy = "deny" }
service_prefix "" { policy = "read" intentions = "deny" }
"#],
    );
    check_all(
        &a,
        &[
            (R::Intention, "web", Read, true),
            (R::Intention, "web", Write, false),
            (R::Intention, "api", Write, true),
            (R::Intention, "db", Read, false),
            (R::Intention, "other", Read, false),
        ],
    );
    // Intentions merge on their own: write policy from one, intentions from another.
    let a = authz(
        DefaultPolicy::Deny,
        &[
            r#"service "web" { policy = "write" }"#,
            r#"service "web" { policy = "read" intentions = "write" }"#,
        ],
    );
    assert!(a.allows(R::Service, "web", Write));
    assert!(a.allows(R::Intention, "web", Write));
}

#[test]
fn checks_word_their_refusals() {
    let a = authz(
        DefaultPolicy::Deny,
        &[r#"key_prefix "" { policy = "read" }"#],
    );
    assert_eq!(a.check("tok", R::Key, "foo", Read), Ok(()));
    assert_eq!(
        a.check(ANONYMOUS_TOKEN_ID, R::Key, "foo", Write)
            .map_err(|e| e.to_string()),
        Err("Permission denied: anonymous token lacks permission 'key:write' on \"foo\". The anonymous token is used implicitly when a request does not specify a token.".to_string())
    );
    assert_eq!(
        a.check("tok", R::Operator, "ignored", Read)
            .map_err(|e| e.to_string()),
        Err(
            "Permission denied: token with AccessorID 'tok' lacks permission 'operator:read'"
                .to_string()
        )
    );
    assert_eq!(
        a.check_key_write_prefix("tok", "app/")
            .map_err(|e| e.to_string()),
        Err("Permission denied: token with AccessorID 'tok' lacks permission 'key:write' on \"app/\"".to_string())
    );
}
