use super::*;

fn rule(resource: Resource, prefix: bool, name: &str, policy: Level) -> SegmentRule {
    SegmentRule {
        resource,
        prefix,
        name: name.to_string(),
        policy,
        intentions: None,
    }
}

const BASIC_HCL: &str = r#"
agent_prefix "bar" {
  policy = "write"
}
agent "foo" {
  policy = "read"
}
event_prefix "" {
  policy = "read"
}
event "foo" {
  policy = "write"
}
key_prefix "" {
  policy = "read"
}
key_prefix "foo/" {
  policy = "write"
}
key "foo/bar/baz" {
  policy = "deny"
}
key "list/" {
  policy = "list"
}
keyring = "deny"
node_prefix "" {
  policy = "read"
}
node "foo" {
  policy = "write"
}
operator = "deny"
mesh = "deny"
peering = "read"
service_prefix "" {
  policy = "write"
}
service "foo" {
  policy = "read"
  intentions = "write"
}
session "foo" {
  policy = "write"
}
session_prefix "baz" {
  policy = "deny"
}
query_prefix "" {
  policy = "read"
}
query "foo" {
  policy = "write"
}
acl = "read"
"#;

const BASIC_JSON: &str = r#"{
  "agent_prefix": {"bar": {"policy": "write"}},
  "agent": {"foo": {"policy": "read"}},
  "event_prefix": {"": {"policy": "read"}},
  "event": {"foo": {"policy": "write"}},
  "key_prefix": {"": {"policy": "read"}, "foo/": {"policy": "write"}},
  "key": {"foo/bar/baz": {"policy": "deny"}, "list/": {"policy": "list"}},
  "keyring": "deny",
  "node_prefix": {"": {"policy": "read"}},
  "node": {"foo": {"policy": "write"}},
  "operator": "deny",
  "mesh": "deny",
  "peering": "read",
  "service_prefix": {"": {"policy": "write"}},
  "service": {"foo": {"policy": "read", "intentions": "write"}},
  "session": {"foo": {"policy": "write"}},
  "session_prefix": {"baz": {"policy": "deny"}},
  "query_prefix": {"": {"policy": "read"}},
  "query": {"foo": {"policy": "write"}},
  "acl": "read"
}"#;

fn basic() -> Rules {
    use Level::*;
    use Resource as R;
    let mut service = rule(R::Service, false, "foo", Read);
    service.intentions = Some(Write);
    Rules {
        acl: Some(Read),
        keyring: Some(Deny),
        mesh: Some(Deny),
        operator: Some(Deny),
        peering: Some(Read),
        // Consul's validation order: agent, key, node, service, session, event, query;
        // exact before prefix.
        segments: vec![
            rule(R::Agent, false, "foo", Read),
            rule(R::Agent, true, "bar", Write),
            rule(R::Key, false, "foo/bar/baz", Deny),
            rule(R::Key, false, "list/", List),
            rule(R::Key, true, "", Read),
            rule(R::Key, true, "foo/", Write),
            rule(R::Node, false, "foo", Write),
            rule(R::Node, true, "", Read),
            service,
            rule(R::Service, true, "", Write),
            rule(R::Session, false, "foo", Write),
            rule(R::Session, true, "baz", Deny),
            rule(R::Event, false, "foo", Write),
            rule(R::Event, true, "", Read),
            rule(R::Query, false, "foo", Write),
            rule(R::Query, true, "", Read),
        ],
    }
}

#[test]
fn hcl_and_json_parse_alike() {
    assert_eq!(Rules::parse(BASIC_HCL), Ok(basic()));
    assert_eq!(Rules::parse(BASIC_JSON), Ok(basic()));
}

#[test]
fn accepted_forms() {
    use Level::*;
    use Resource as R;
    let one = |resource, prefix, name: &str, policy| Rules {
        segments: vec![rule(resource, prefix, name, policy)],
        ..Rules::default()
    };
    let mut with_intentions = one(R::Service, false, "foo", Write);
    with_intentions.segments[0].intentions = Some(Read);
    let table: Vec<(&str, Rules)> = vec![
        ("", Rules::default()),
        ("   \n# nothing\n", Rules::default()),
        ("{}", Rules::default()),
        (
            r#"service "foo" { policy = "write" intentions = "read" }"#,
            with_intentions.clone(),
        ),
        (
            r#"{ "service": { "foo": { "policy": "write", "intentions": "read" }}}"#,
            with_intentions,
        ),
        (
            r#"key_prefix "" { policy = "read" }"#,
            one(R::Key, true, "", Read),
        ),
        (
            r#"{"key_prefix": {"": {"policy": "read"}}}"#,
            one(R::Key, true, "", Read),
        ),
        (
            r#"{"key_prefix": [{"": {"policy": "read"}}]}"#,
            one(R::Key, true, "", Read),
        ),
        (
            r#"key = { "a" = { policy = "list" } }"#,
            one(R::Key, false, "a", List),
        ),
        (
            r#"KEY "a" { POLICY = "WRITE" }"#,
            one(R::Key, false, "a", Write),
        ),
        (
            "node \"n\" {\n  policy = \"read\"\n}\n// a comment\n/* another */",
            one(R::Node, false, "n", Read),
        ),
        ("operator = \"\"", Rules::default()),
        (r#"{ "mesh": "" }"#, Rules::default()),
        (
            "keyring = \"write\"",
            Rules {
                keyring: Some(Write),
                ..Rules::default()
            },
        ),
    ];
    for (text, want) in table {
        assert_eq!(Rules::parse(text), Ok(want), "{text}");
    }
}

#[test]
fn one_line_blocks_of_hcl1() {
    let text = r#"key "a" { policy = "read" } key "b" { policy = "write" }"#;
    let rules = Rules::parse(text).expect("parses");
    assert_eq!(rules.segment_rules().len(), 2);
}

#[test]
fn same_name_twice_keeps_both_rules() {
    // Blocks may repeat; the authorizer merges them (most restrictive wins).
    let text = "key \"a\" { policy = \"read\" }\nkey \"a\" { policy = \"deny\" }";
    let rules = Rules::parse(text).expect("parses");
    let levels: Vec<_> = rules.segment_rules().iter().map(|r| r.policy).collect();
    assert_eq!(levels, [Level::Read, Level::Deny]);
}

#[test]
fn refused_texts_in_consul_words() {
    let table = [
        // Bad values, each resource.
        (r#"acl = "list""#, r#"Invalid acl policy: "list""#),
        (r#"{ "acl": "nope" }"#, r#"Invalid acl policy: "nope""#),
        (
            r#"agent "foo" { policy = "nope" }"#,
            r#"Invalid agent policy: &acl.AgentRule{Node:"foo", Policy:"nope"}"#,
        ),
        (
            r#"agent_prefix "foo" { policy = "nope" }"#,
            r#"Invalid agent_prefix policy: &acl.AgentRule{Node:"foo", Policy:"nope"}"#,
        ),
        (
            r#"key "foo" { policy = "bogus" }"#,
            r#"Invalid key policy: &acl.KeyRule{Prefix:"foo", Policy:"bogus", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        (
            r#"{ "key_prefix": { "foo": { "policy": "nope" }}}"#,
            r#"Invalid key_prefix policy: &acl.KeyRule{Prefix:"foo", Policy:"nope", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        (
            r#"node "foo" { policy = "list" }"#,
            r#"Invalid node policy: &acl.NodeRule{Name:"foo", Policy:"list", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        (
            r#"node_prefix "foo" { policy = "nope" }"#,
            r#"Invalid node_prefix policy: &acl.NodeRule{Name:"foo", Policy:"nope", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        (
            r#"service "foo" { policy = "nope" }"#,
            r#"Invalid service policy: &acl.ServiceRule{Name:"foo", Policy:"nope", Intentions:"", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        (
            r#"service "foo" { policy = "write" intentions = "foo" }"#,
            r#"Invalid service intentions policy: &acl.ServiceRule{Name:"foo", Policy:"write", Intentions:"foo", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        (
            r#"service_prefix "foo" { policy = "read" intentions = "list" }"#,
            r#"Invalid service_prefix intentions policy: &acl.ServiceRule{Name:"foo", Policy:"read", Intentions:"list", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        (
            r#"session "foo" { policy = "nope" }"#,
            r#"Invalid session policy: &acl.SessionRule{Node:"foo", Policy:"nope"}"#,
        ),
        (
            r#"session_prefix "foo" { policy = "nope" }"#,
            r#"Invalid session_prefix policy: &acl.SessionRule{Node:"foo", Policy:"nope"}"#,
        ),
        (
            r#"event "foo" { policy = "nope" }"#,
            r#"Invalid event policy: &acl.EventRule{Event:"foo", Policy:"nope"}"#,
        ),
        (
            r#"event_prefix "foo" { policy = "nope" }"#,
            r#"Invalid event_prefix policy: &acl.EventRule{Event:"foo", Policy:"nope"}"#,
        ),
        (
            r#"query "foo" { policy = "nope" }"#,
            r#"Invalid query policy: &acl.PreparedQueryRule{Prefix:"foo", Policy:"nope"}"#,
        ),
        (
            r#"query_prefix "foo" { policy = "nope" }"#,
            r#"Invalid query_prefix policy: &acl.PreparedQueryRule{Prefix:"foo", Policy:"nope"}"#,
        ),
        (r#"keyring = "list""#, r#"Invalid keyring policy: "list""#),
        (r#"operator = "nope""#, r#"Invalid operator policy: "nope""#),
        (r#"mesh = "nope""#, r#"Invalid mesh policy: "nope""#),
        (r#"peering = "nope""#, r#"Invalid peering policy: "nope""#),
        // A block without a policy.
        (
            r#"key "a" {}"#,
            r#"Invalid key policy: &acl.KeyRule{Prefix:"a", Policy:"", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        // Consul's order: acl, then segments (agent ... query), then keyring ... peering.
        (
            "operator = \"nope\"\nquery \"q\" { policy = \"nope\" }\nacl = \"nope\"",
            r#"Invalid acl policy: "nope""#,
        ),
        (
            "operator = \"nope\"\nquery \"q\" { policy = \"nope\" }\nkey_prefix \"k\" { policy = \"nope\" }",
            r#"Invalid key_prefix policy: &acl.KeyRule{Prefix:"k", Policy:"nope", EnterpriseRule:acl.EnterpriseRule{}}"#,
        ),
        // Attributes set twice in one body (not in JSON, where the last one counts).
        (
            r#"key "foo/" { policy = "read" policy = "write" }"#,
            r#"Failed to parse ACL rules: The argument "policy" at 1:30 was already set. Each argument can only be defined once"#,
        ),
        (
            "acl = \"read\"\nacl = \"write\"",
            r#"Failed to parse ACL rules: The argument "acl" at 2:1 was already set. Each argument can only be defined once"#,
        ),
        // Unknown and Enterprise-only names.
        (
            r#"foo = "read""#,
            r#"Failed to parse ACL rules: unknown ACL resource "foo""#,
        ),
        (
            r#"key "a" { policy = "read" sentinel { code = "x" } }"#,
            r#"Failed to parse ACL rules: "sentinel" rules are a Consul Enterprise feature"#,
        ),
        (
            r#"key "a" { policy = "read" colour = "red" }"#,
            r#"Failed to parse ACL rules: key "a": unknown attribute "colour""#,
        ),
        (
            r#"node "a" { policy = "read" intentions = "read" }"#,
            r#"Failed to parse ACL rules: node "a": unknown attribute "intentions""#,
        ),
        (
            r#"namespace "ns" { policy = "read" }"#,
            r#"Failed to parse ACL rules: "namespace" rules are a Consul Enterprise feature"#,
        ),
        (
            r#"namespace_prefix "" { key_prefix "" { policy = "read" } }"#,
            r#"Failed to parse ACL rules: "namespace_prefix" rules are a Consul Enterprise feature"#,
        ),
        (
            r#"partition "p" { policy = "read" }"#,
            r#"Failed to parse ACL rules: "partition" rules are a Consul Enterprise feature"#,
        ),
        (
            r#"{"partition_prefix": {"": {"policy": "read"}}}"#,
            r#"Failed to parse ACL rules: "partition_prefix" rules are a Consul Enterprise feature"#,
        ),
        (
            r#"sentinel = "x""#,
            r#"Failed to parse ACL rules: "sentinel" rules are a Consul Enterprise feature"#,
        ),
        // Wrong shapes.
        (
            r#"acl { policy = "read" }"#,
            "Failed to parse ACL rules: acl: expected a string, got a block",
        ),
        (
            r#"key = "read""#,
            "Failed to parse ACL rules: key: expected a block, got a string",
        ),
        (
            r#"key "a" { policy = read }"#,
            r#"Failed to parse ACL rules: key "a": policy: expected a string, got an unquoted word"#,
        ),
        (
            r#"{"key": {"a": "read"}}"#,
            r#"Failed to parse ACL rules: key "a": expected a block, got a string"#,
        ),
    ];
    for (text, want) in table {
        let got = Rules::parse(text).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{text}");
    }
}

#[test]
fn syntax_errors_are_wrapped() {
    for text in ["key \"a\" {", "{\"key\": ", "key \"a\" { policy = }", "= 1"] {
        let e = Rules::parse(text).expect_err(text).to_string();
        assert!(e.starts_with("Failed to parse ACL rules: "), "{text}: {e}");
    }
}

#[test]
fn builtin_texts_parse() {
    for text in [
        crate::builtin::GLOBAL_MANAGEMENT_RULES,
        crate::builtin::GLOBAL_READ_ONLY_RULES,
    ] {
        let rules = Rules::parse(text).expect("parses");
        assert!(!rules.is_empty());
    }
    assert!(Rules::parse("").expect("parses").is_empty());
}
