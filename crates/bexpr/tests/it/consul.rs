//! Filters evaluated over Consul-shaped items, with the item type's field set (as Consul) and
//! without one (shape taken from the JSON).

use bexpr::{FieldSet, Filter};
use serde_json::{json, Value};

use crate::common::*;

fn check(fields: &FieldSet, item: &Value, cases: &[(&str, bool)]) {
    for (expr, want) in cases {
        assert_eq!(eval(expr, fields, item), *want, "with fields: {expr}");
        // Schema-less evaluation agrees on well-formed data.
        assert_eq!(
            eval(expr, &FieldSet::new(), item),
            *want,
            "without fields: {expr}"
        );
    }
}

#[test]
fn catalog_service_node() {
    check(
        &service_node_fields(),
        &service_node(),
        &[
            ("ServiceName == redis", true),
            ("ServiceName == \"redis\"", true),
            ("ServiceName != redis", false),
            ("ServiceName == Redis", false),
            ("primary in ServiceTags", true),
            ("ServiceTags contains v1", true),
            ("ServiceTags contains v2", false),
            ("v2 not in ServiceTags", true),
            ("ServiceTags not contains primary", false),
            ("ServiceTags is not empty", true),
            ("ServiceTags is empty", false),
            // numbers are coerced to the field's type
            ("ServicePort == 6379", true),
            ("ServicePort == \"6379\"", true),
            ("ServicePort != 6379", false),
            ("ServiceWeights.Passing == 10", true),
            ("ServiceWeights.Warning == 2", false),
            ("CreateIndex == 10", true),
            ("ServiceEnableTagOverride == false", true),
            ("ServiceEnableTagOverride == F", true),
            ("ServiceEnableTagOverride != true", true),
            // maps: key presence, dotted and bracketed keys, missing keys
            ("somekey in NodeMeta", true),
            ("NodeMeta contains \"rack-id\"", true),
            ("NodeMeta.somekey == somevalue", true),
            ("NodeMeta[\"rack-id\"] == r12", true),
            ("NodeMeta.missing == x", false),
            ("NodeMeta.missing != x", true),
            ("NodeMeta.missing matches x", true),
            ("ServiceMeta is not empty", true),
            ("TaggedAddresses.wan == \"10.0.10.10\"", true),
            ("ServiceTaggedAddresses.lan_ipv4.Port == 6379", true),
            (
                "ServiceTaggedAddresses.lan_ipv4.Address == \"192.168.10.10\"",
                true,
            ),
            ("ServiceTaggedAddresses.wan_ipv4.Port == 6379", false),
            // substring and regex on strings
            ("\"192.168\" in Address", true),
            ("Address contains \".10.\"", true),
            ("Address not contains \"10.0\"", true),
            ("Node matches \"^node-[0-9]+$\"", true),
            ("Node matches `^node-\\d$`", true),
            ("Node not matches \"^web\"", true),
            ("ServiceName matches \"edi\"", true),
            // empty strings
            ("ServiceAddress == \"\"", true),
            ("ServiceKind != \"\"", false),
            // boolean structure
            ("ServiceName == redis and primary in ServiceTags", true),
            ("ServiceName == redis and v2 in ServiceTags", false),
            ("ServiceName == web or v1 in ServiceTags", true),
            ("not ServiceName == web", true),
            ("not ServiceName == redis and ServicePort == 6379", false),
            ("not (ServiceName == redis and ServicePort == 1)", true),
            (
                "not ServiceName == web and ServicePort == 1 or CreateIndex == 10",
                true,
            ),
            (
                "not (ServiceName == web and ServicePort == 1 or CreateIndex == 10)",
                false,
            ),
            ("(ServiceName == redis)", true),
        ],
    );
}

#[test]
fn health_check_items() {
    check(
        &health_check_fields(),
        &health_check(),
        &[
            ("Status == passing", true),
            ("Status != passing", false),
            ("Status == critical or Status == warning", false),
            ("ServiceName == redis and Type == tcp", true),
            ("Output contains Success", true),
            ("Output matches \"(?i)success\"", true),
            ("Notes == \"\"", true),
            ("primary in ServiceTags", true),
            ("ModifyIndex == 14", true),
        ],
    );
}

#[test]
fn agent_service_items() {
    check(
        &agent_service_fields(),
        &agent_service(),
        &[
            ("Service == web", true),
            ("rails in Tags", true),
            ("Tags contains v1", false),
            ("Meta.env == prod", true),
            ("Meta[\"some-key\"] == dashed", true),
            ("Meta[`some-key`] != dashed", false),
            ("\"some-key\" in Meta", true),
            ("Meta.empty == \"\"", true),
            ("Meta.nope not matches x", true),
            ("Meta is not empty", true),
            ("Weights.Passing == 3 and Weights.Warning == 1", true),
            ("TaggedAddresses.wan_ipv4.Port == 80", true),
            ("TaggedAddresses.lan_ipv4.Address == \"10.1.2.3\"", true),
            ("lan_ipv4 in TaggedAddresses", true),
            ("lan_ipv6 in TaggedAddresses", false),
            ("EnableTagOverride == true", true),
            ("EnableTagOverride == 1", true),
            ("Port == 8080 and Address matches \"^10\\\\.\"", true),
        ],
    );
}

/// A selector through a list of structs matches when any element does (go-bexpr v0.1.2).
#[test]
fn health_service_entries_iterate_checks() {
    check(
        &check_service_node_fields(),
        &check_service_node(),
        &[
            ("Checks.Status == passing", true),
            ("Checks.Status == warning", true),
            ("Checks.Status == critical", false),
            ("Checks.Status != passing", true),
            ("not Checks.Status == critical", true),
            ("Checks.CheckID == serfHealth", true),
            ("primary in Checks.ServiceTags", true),
            ("Checks.ServiceTags is empty", true),
            ("Checks is not empty", true),
            ("Service.Service == web and Node.Node == \"node-1\"", true),
            ("Node.Meta.os == linux", true),
            ("Service.Meta.env == prod", true),
            ("Service.Tags contains rails", true),
        ],
    );
}

/// With a field set, absent or null struct fields behave as Go zero values.
#[test]
fn absent_fields_are_zero_values_with_fields() {
    let fields = agent_service_fields();
    let sparse = json!({"ID": "x", "Service": "x", "Tags": null, "Weights": null});
    let cases = [
        ("Kind == \"\"", true),
        ("Tags is empty", true),
        ("v1 in Tags", false),
        ("Meta is empty", true),
        ("Meta.env == prod", false),
        ("Meta.env != prod", true),
        ("Weights.Passing == 0", true),
        ("Port == 0", true),
        ("EnableTagOverride == false", true),
        ("TaggedAddresses.lan.Port == 0", false),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr, &fields, &sparse), want, "{expr}");
    }
}

/// Without a field set, absent keys and nulls follow the missing-key rule throughout.
#[test]
fn absent_fields_without_fields() {
    let none = FieldSet::new();
    let item = json!({"Name": "a", "Tags": null, "Meta": {}});
    let cases = [
        ("Missing == x", false),
        ("Missing != x", true),
        ("Missing is empty", true),
        ("Missing is not empty", false),
        ("x in Missing", false),
        ("x not in Missing", true),
        // go-bexpr v0.1.2: a missing key "matches" anything
        ("Missing matches x", true),
        ("Missing not matches x", true),
        ("Tags is empty", true),
        ("Meta.a.b == c", false),
        ("Name is empty", false),
        ("Name is not empty", true),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr, &none, &item), want, "{expr}");
    }
}

#[test]
fn evaluation_errors_without_fields() {
    let item = service_node();
    let err = |expr: &str| {
        Filter::parse(expr)
            .expect("parses")
            .matches(&item)
            .expect_err("evaluation error")
            .to_string()
    };
    assert_eq!(
        err("ServicePort == abc"),
        r#"Failed to coerce value "abc" for selector "ServicePort": strconv.ParseInt: parsing "abc": invalid syntax"#
    );
    assert_eq!(
        err("ServiceTags == primary"),
        r#"Invalid match operator "Equal" for selector "ServiceTags""#
    );
    assert_eq!(
        err("x in ServicePort"),
        r#"Invalid match operator "In" for selector "ServicePort""#
    );
    assert_eq!(
        err("Node.Name == x"),
        r#"Value at selector "Node" with type string does not support nested field selection"#
    );
}

#[test]
fn filtering_lists() {
    let filter = Filter::new("Status != passing", &health_check_fields()).expect("valid");
    let mut critical = health_check();
    critical["Status"] = json!("critical");
    let mut items = vec![health_check(), critical.clone(), health_check()];
    filter.retain(&mut items).expect("evaluates");
    assert_eq!(items, vec![critical.clone()]);

    #[derive(serde::Serialize, Debug, PartialEq)]
    struct Check {
        #[serde(rename = "Status")]
        status: &'static str,
    }
    let kept = filter
        .apply(vec![
            Check { status: "passing" },
            Check { status: "warning" },
        ])
        .expect("evaluates");
    assert_eq!(kept, vec![Check { status: "warning" }]);
}

#[test]
fn number_literals_coerce_by_type() {
    let fields = FieldSet::new().float("Ratio").int("Delta").uint("Index");
    let item = json!({"Ratio": 0.5, "Delta": -3, "Index": 18446744073709551615u64});
    let cases = [
        ("Ratio == 0.5", true),
        ("Ratio == \"5e-1\"", true),
        ("Delta == -3", true),
        ("Delta == \"-0x3\"", true),
        ("Index == \"18446744073709551615\"", true),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr, &fields, &item), want, "{expr}");
    }
}
