//! Parse trees (the cases go-bexpr v0.1.2's grammar tests cover, plus quoting) and the syntax
//! error texts Consul returns.

use bexpr::{Error, Filter};

use crate::common::sexpr;

fn tree(input: &str) -> String {
    let f = Filter::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    sexpr(f.ast().expect("non-empty"))
}

#[test]
fn trees() {
    let cases = [
        ("foo == 3", r#"(== foo "3")"#),
        ("foo != xyz", r#"(!= foo "xyz")"#),
        ("list is empty", "(empty list)"),
        ("list is not empty", "(not-empty list)"),
        ("foo in bar", r#"(in bar "foo")"#),
        ("foo not in bar", r#"(not-in bar "foo")"#),
        ("bar contains foo", r#"(in bar "foo")"#),
        ("bar not contains foo", r#"(not-in bar "foo")"#),
        ("foo matches bar", r#"(matches foo "bar")"#),
        ("foo not matches bar", r#"(not-matches foo "bar")"#),
        ("not prod in tags", r#"(not (in tags "prod"))"#),
        ("port != 80 and port != 8080", r#"(and (!= port "80") (!= port "8080"))"#),
        ("port == 80 or port == 443", r#"(or (== port "80") (== port "443"))"#),
        ("foo == \"bar\"", r#"(== foo "bar")"#),
        ("\"foo\" in bar", r#"(in bar "foo")"#),
        ("foo == `bar`", r#"(== foo "bar")"#),
        ("`foo` not in bar", r#"(not-in bar "foo")"#),
        // precedence: not > and > or
        (
            "x in foo and not str == something or list is empty",
            r#"(or (and (in foo "x") (not (== str "something"))) (empty list))"#,
        ),
        (
            "x in foo and not (str == something or list is empty)",
            r#"(and (in foo "x") (not (or (== str "something") (empty list))))"#,
        ),
        ("not a == 1 and b == 2 or c == 3", r#"(or (and (not (== a "1")) (== b "2")) (== c "3"))"#),
        ("a == 1 or b == 2 and c == 3", r#"(or (== a "1") (and (== b "2") (== c "3")))"#),
        ("(a == 1 or b == 2) and c == 3", r#"(and (or (== a "1") (== b "2")) (== c "3"))"#),
        ("\t\r\n  foo \t\r\n == \t\r\n x \t\r\n", r#"(== foo "x")"#),
        ("\t\r\n  foo \t\r\n not \t\r\n in \t\r\n x \t\r\n", r#"(not-in x "foo")"#),
        ("\t\r\n  foo \t\r\n is \t\r\n not \t\r\n empty \t\r\n", "(not-empty foo)"),
        ("\t\r\n ( \t\r\n foo \t\r\n == \t\r\n x \t\r\n ) \t\r\n", r#"(== foo "x")"#),
        ("foo==x", r#"(== foo "x")"#),
        (
            "`environment` in foo.bar[\"meta\"].tags[\t`ENV` ]",
            r#"(in foo/bar/meta/tags/ENV "environment")"#,
        ),
        ("environment in foo[\"abc-def ghi åß∂ƒ\"]", r#"(in foo/abc-def ghi åß∂ƒ "environment")"#),
        ("foo == 0.2", r#"(== foo "0.2")"#),
        ("foo == -0.2", r#"(== foo "-0.2")"#),
        ("foo == 11.11", r#"(== foo "11.11")"#),
        ("not not foo == 3", r#"(== foo "3")"#),
        // a selector used as a value is its dotted text
        ("foo == bar.baz[\"q\"]", r#"(== foo "bar.baz.q")"#),
        ("Enabled == true", r#"(== Enabled "true")"#),
        // quoting: Go escapes in "...", none in `...`
        (r#"foo == "a\tb\u00e9\x41""#, "(== foo \"a\\tbéA\")"),
        (r"foo == `a\tb`", r#"(== foo "a\\tb")"#),
        (r#"foo == "it's""#, r#"(== foo "it's")"#),
        ("notes == x", r#"(== notes "x")"#),
        (
            "(((foo == 3) and (not ((bar in baz) and (not (one != two))))) or (((next is empty) and (not (foo is not empty))) and (bar not in foo)))",
            r#"(or (and (== foo "3") (not (and (in baz "bar") (not (!= one "two"))))) (and (and (empty next) (not (not-empty foo))) (not-in foo "bar")))"#,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(tree(input), want, "input {input:?}");
    }
}

#[test]
fn empty_expression_keeps_everything() {
    let f = Filter::parse("").expect("empty is no filter");
    assert!(f.ast().is_none());
    assert!(f.matches(&serde_json::json!({})).expect("no error"));
}

fn parse_error(input: &str) -> String {
    match Filter::parse(input) {
        Err(Error::Parse(e)) => e.to_string(),
        other => panic!("{input:?}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn syntax_errors() {
    let cases = [
        (
            "Status = passing",
            r#"1:8 (7): no match found, expected: "!=", "==", "contains", "in", "is", "matches", "not" or [ \t\r\n]"#,
        ),
        (
            "Service.Tags contains",
            r#"1:22 (21): no match found, expected: [ \t\r\n]"#,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_error(input), *want, "input {input:?}");
    }
    // whitespace alone is a syntax error (only the empty string means "no filter")
    assert!(parse_error("  ").starts_with("1:3 (2): no match found, expected: "));
    // an escaped double quote ends the literal in go-bexpr's grammar
    assert!(
        parse_error(r#"Name == "a\"b""#).starts_with("1:9 (8): rule \"string\": invalid syntax")
    );
    // numbers that are not literals must be quoted
    assert_eq!(
        parse_error("Address == 10.0.0.1"),
        "1:16 (15): rule \"number\": Invalid number literal"
    );
    let e = Filter::parse("Port == ").unwrap_err();
    assert!(e.consul_message().starts_with(
        "Failed to create boolean expression evaluator: 1:9 (8): no match found, expected: "
    ));
}
