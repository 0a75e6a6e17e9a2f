//! Creation-time checks against a field set: Consul answers these with HTTP 400 before it
//! reads any data.

use bexpr::{Error, FieldKind, FieldSet, Filter};

use crate::common::*;

fn create_error(expr: &str, fields: &FieldSet) -> String {
    match Filter::new(expr, fields) {
        Ok(_) => panic!("{expr:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_selectors() {
    let fields = check_service_node_fields();
    let cases = [
        ("Foo == 1", r#"Selector "Foo" is not valid"#),
        ("Service.Foo == 1", r#"Selector "Service.Foo" is not valid"#),
        (
            "Service.Port.X == 1",
            r#"Selector "Service.Port.X" is not valid"#,
        ),
        (
            "Service.Tags.X == 1",
            r#"Selector "Service.Tags.X" is not valid"#,
        ),
        ("Checks.Nope == 1", r#"Selector "Checks.Nope" is not valid"#),
        (
            "Service.Meta.a.b == 1",
            r#"Selector "Service.Meta.a.b" is not valid"#,
        ),
        // the first bad match in source order is reported
        (
            "Node.Node == a or Bad == 1 or Worse == 2",
            r#"Selector "Bad" is not valid"#,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(create_error(expr, &fields), want, "{expr}");
    }
}

#[test]
fn operators_must_suit_the_field() {
    let fields = agent_service_fields();
    let cases = [
        (
            "Tags == web",
            r#"Invalid match operator "Equal" for selector "Tags""#,
        ),
        (
            "Port contains 80",
            r#"Invalid match operator "In" for selector "Port""#,
        ),
        (
            "Port matches 80",
            r#"Invalid match operator "Matches" for selector "Port""#,
        ),
        (
            "Service is empty",
            r#"Invalid match operator "Is Empty" for selector "Service""#,
        ),
        (
            "Weights is empty",
            r#"Invalid match operator "Is Empty" for selector "Weights""#,
        ),
        (
            "Meta == x",
            r#"Invalid match operator "Equal" for selector "Meta""#,
        ),
        (
            "Tags matches x",
            r#"Invalid match operator "Matches" for selector "Tags""#,
        ),
        (
            "TaggedAddresses.lan is empty",
            r#"Invalid match operator "Is Empty" for selector "TaggedAddresses.lan""#,
        ),
        (
            "Meta.env is empty",
            r#"Invalid match operator "Is Empty" for selector "Meta.env""#,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(create_error(expr, &fields), want, "{expr}");
    }
    // a list of structs only supports emptiness
    assert_eq!(
        create_error("x in Checks", &check_service_node_fields()),
        r#"Invalid match operator "In" for selector "Checks""#
    );
}

#[test]
fn literals_must_convert() {
    let fields = agent_service_fields();
    let cases = [
        (
            "Port == abc",
            r#"Failed to coerce value "abc" for selector "Port": strconv.ParseInt: parsing "abc": invalid syntax"#,
        ),
        (
            "Weights.Passing == 1.5",
            r#"Failed to coerce value "1.5" for selector "Weights.Passing": strconv.ParseInt: parsing "1.5": invalid syntax"#,
        ),
        (
            "EnableTagOverride == yes",
            r#"Failed to coerce value "yes" for selector "EnableTagOverride": strconv.ParseBool: parsing "yes": invalid syntax"#,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(create_error(expr, &fields), want, "{expr}");
    }
    let uint = FieldSet::new().uint("CreateIndex");
    assert_eq!(
        create_error("CreateIndex == -1", &uint),
        r#"Failed to coerce value "-1" for selector "CreateIndex": strconv.ParseUint: parsing "-1": invalid syntax"#
    );
}

#[test]
fn bad_regex() {
    let e = Filter::new("Service matches \"(\"", &agent_service_fields()).unwrap_err();
    assert!(matches!(e, Error::Regex { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(r#"Failed to compile regular expression "(": error parsing regexp: "#),
        "{e}"
    );
    // checked without a field set too
    assert!(Filter::parse("a matches \"[\"").is_err());
}

#[test]
fn opaque_values_are_not_selectable() {
    let fields = service_node_fields();
    assert!(Filter::new("ServiceProxy.Config is empty", &fields).is_ok());
    assert!(Filter::new("a in ServiceProxy.Config", &fields).is_ok());
    assert_eq!(
        create_error("ServiceProxy.Config.k == v", &fields),
        r#"Selector "ServiceProxy.Config.k" is not valid"#
    );
    let opaque_field = FieldSet::new().field("Raw", FieldKind::Opaque);
    assert_eq!(
        create_error("Raw == x", &opaque_field),
        r#"Selector "Raw" is not valid"#
    );
}

#[test]
fn consul_message_has_consul_prefix() {
    let e = Filter::new("Foo == 1", &agent_service_fields()).unwrap_err();
    assert_eq!(
        e.consul_message(),
        r#"Failed to create boolean expression evaluator: Selector "Foo" is not valid"#
    );
}
