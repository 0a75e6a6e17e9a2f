//! The helper functions, one check per behaviour; expected values follow upstream's
//! `funcs.go` semantics (piped value last, reversed math operands, empty-string rules).

use std::collections::HashMap;

use ctemplate::engine::{CompiledTemplate, Syntax};
use ctemplate::funcs::FuncOptions;
use ctemplate::template::Options;

use crate::common::{check, check_err};

fn with_options(src: &str, funcs: FuncOptions) -> Result<String, String> {
    let t = CompiledTemplate::compile("t", src, Syntax::Go, &Options::default(), funcs)
        .map_err(|e| e.to_string())?;
    t.execute(&HashMap::new())
        .map(|e| e.output)
        .map_err(|e| e.to_string())
}

#[test]
fn string_case_and_trim() {
    check(
        "{{ \"MiXed\" | toLower }} {{ \"MiXed\" | toUpper }} {{ \"hello big-world\" | toTitle }}",
        "mixed MIXED Hello Big-World",
    );
    check("[{{ \"  x \\n\" | trimSpace }}] [{{ \"xxaxx\" | trim \"x\" }}] [{{ \"pre-x\" | trimPrefix \"pre-\" }}] [{{ \"x.txt\" | trimSuffix \".txt\" }}]", "[x] [a] [x] [x]");
    check(
        "{{ \"foo.bar.baz\" | replaceAll \".\" \"_\" }}",
        "foo_bar_baz",
    );
}

#[test]
fn split_join_indent() {
    check("{{ \"a,b,c\" | split \",\" }} {{ \" a,b \" | split \",\" | join \"-\" }} {{ split \",\" \"\" }}", "[a b c] a-b []");
    check(
        "{{ \"a=1;b=2;junk\" | splitToMap \";\" \"=\" }}",
        "map[a:1 b:2]",
    );
    check("{{ \"a\\nb\\n\\nc\" | indent 2 }}", "  a\n  b\n\n  c");
    check_err("{{ indent -1 \"x\" }}", "template: t:1:3: executing \"t\" at <indent -1 \"x\">: error calling indent: indent value must be a positive integer");
}

#[test]
fn regexes() {
    check(
        "{{ \"foo123\" | regexMatch \"^foo[0-9]+$\" }} {{ \"bar\" | regexMatch \"^foo\" }}",
        "true false",
    );
    check(
        "{{ \"foo-123\" | regexReplaceAll \"([a-z]+)-([0-9]+)\" \"$2-$1\" }}",
        "123-foo",
    );
}

#[test]
fn hashes_and_base64() {
    check(
        "{{ sha256Hex \"hello\" }}",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    );
    check("{{ md5sum \"hello\" }}", "5d41402abc4b2a76b9719d911017c592");
    check(
        "{{ hmacSHA256Hex \"The quick brown fox jumps over the lazy dog\" \"key\" }}",
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
    );
    check(
        "{{ base64Encode \"hello\" }} {{ base64Decode \"aGVsbG8=\" }}",
        "aGVsbG8= hello",
    );
    check(
        "{{ base64Encode \"???\" }} {{ base64URLEncode \"???\" }} {{ base64URLDecode \"Pz8_\" }}",
        "Pz8/ Pz8_ ???",
    );
}

#[test]
fn math() {
    check("{{ add 1 2 }} {{ 10 | subtract 2 }} {{ 10 | divide 4 }} {{ 10.0 | divide 4 }} {{ 10 | modulo 3 }}", "3 8 2 2.5 1");
    check(
        "{{ multiply 2 1.5 }} {{ minimum 1 2 }} {{ maximum 1 2.5 }} {{ 2 | subtract 10 }}",
        "3 1 2.5 -8",
    );
    check_err("{{ divide 0 1 }}", "template: t:1:3: executing \"t\" at <divide 0 1>: error calling divide: runtime error: integer divide by zero");
    check_err("{{ add \"a\" 1 }}", "template: t:1:3: executing \"t\" at <add \"a\" 1>: error calling add: add: unknown type for \"a\" (string)");
}

#[test]
fn parsing() {
    check("{{ parseBool \"true\" }} {{ parseBool \"\" }} {{ parseFloat \"1.5\" }} {{ parseInt \"-3\" }} {{ parseUint \"4\" }} {{ parseInt \"\" }}", "true false 1.5 -3 4 0");
    check(
        "{{ (parseJSON `{\"a\":{\"b\":[1,\"x\"]}}`).a.b }} {{ parseJSON \"\" }}",
        "[1 x] map[]",
    );
    check("{{ parseYAML \"a: 1\\nb: [x, y]\" }}", "map[a:1 b:[x y]]");
    check_err("{{ parseBool \"maybe\" }}", "template: t:1:3: executing \"t\" at <parseBool \"maybe\">: error calling parseBool: parseBool: strconv.ParseBool: parsing \"maybe\": invalid syntax");
}

#[test]
fn encoders() {
    check(
        "{{ parseJSON `{\"b\":\"<x>\",\"a\":[1,2.5,null]}` | toJSON }}",
        "{\"a\":[1,2.5,null],\"b\":\"\\u003cx\\u003e\"}",
    );
    check(
        "{{ parseJSON `{\"a\":[1],\"b\":{}}` | toJSONPretty }}",
        "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}",
    );
    check(
        "{{ parseJSON `{\"b\":\"<x>\"}` | toUnescapedJSON }}",
        "{\"b\":\"<x>\"}",
    );
    check(
        "{{ parseJSON `{\"a\":1,\"b\":[\"x\"]}` | toYAML }}",
        "a: 1\nb:\n- x",
    );
}

#[test]
fn membership() {
    check("{{ in (split \",\" \"a,b\") \"b\" }} {{ in \"abc\" \"z\" }} {{ \"abc\" | contains \"b\" }}", "true false true");
    let l = "(split \",\" \"a,b,c\")";
    check(
        &format!("{{{{ containsAll (split \",\" \"a,b\") {l} }}}}"),
        "true",
    );
    check(
        &format!("{{{{ containsAll (split \",\" \"a,z\") {l} }}}}"),
        "false",
    );
    check(
        &format!("{{{{ containsAny (split \",\" \"z,c\") {l} }}}}"),
        "true",
    );
    check(
        &format!("{{{{ containsNone (split \",\" \"z,y\") {l} }}}}"),
        "true",
    );
    check(
        &format!("{{{{ containsNotAll (split \",\" \"a,y\") {l} }}}}"),
        "true",
    );
    check("{{ containsAll (split \",\" \"\") (split \",\" \"a\") }} {{ containsAny (split \",\" \"\") (split \",\" \"a\") }}", "true false");
}

#[test]
fn loops_and_scratch() {
    check(
        "{{ range loop 3 }}{{ . }}{{ end }} {{ range loop \"2\" \"4\" }}{{ . }}{{ end }}",
        "012 23",
    );
    check("{{ scratch.Set \"k\" \"v\" }}{{ scratch.Get \"k\" }} {{ scratch.Key \"k\" }} {{ scratch.Key \"no\" }} {{ scratch.Get \"no\" }}", "v true false <no value>");
    check("{{ scratch.Set \"a\" 1 }}{{ scratch.SetX \"a\" 2 }}{{ scratch.SetX \"b\" 3 }}{{ scratch.Get \"a\" }}{{ scratch.Get \"b\" }}", "13");
    check("{{ scratch.MapSet \"m\" \"b\" 2 }}{{ scratch.MapSet \"m\" \"a\" 1 }}{{ scratch.MapSetX \"m\" \"a\" 9 }}{{ scratch.MapValues \"m\" }}", "[1 2]");
    check(
        "{{ explodeMap (parseJSON `{\"a/b\":\"1\",\"a/c\":\"2\",\"d\":\"3\"}`) }}",
        "map[a:map[b:1 c:2] d:3]",
    );
    check(
        "{{ mergeMap (parseJSON `{\"a\":1}`) (parseJSON `{\"a\":2,\"b\":3}`) }}",
        "map[a:1 b:3]",
    );
    check(
        "{{ mergeMapWithOverride (parseJSON `{\"a\":1}`) (parseJSON `{\"a\":2,\"b\":3}`) }}",
        "map[a:2 b:3]",
    );
}

#[test]
fn environment_and_denylist() {
    let opts = FuncOptions {
        env: vec![("CT_TEST_VAR".into(), "val".into())],
        ..FuncOptions::default()
    };
    assert_eq!(
        with_options("{{ env \"CT_TEST_VAR\" }} {{ envOrDefault \"CT_TEST_VAR\" \"d\" }} {{ envOrDefault \"CT_TEST_UNSET_X\" \"d\" }} [{{ env \"CT_TEST_UNSET_X\" }}]", opts).unwrap(),
        "val val d []"
    );
    let err =
        with_options("{{ mustEnv \"CT_TEST_UNSET_X\" }}", FuncOptions::default()).unwrap_err();
    assert!(
        err.ends_with(
            "error calling mustEnv: required environment variable CT_TEST_UNSET_X is empty"
        ),
        "{err}"
    );
    let denied = FuncOptions {
        denylist: vec!["env*".into()],
        ..FuncOptions::default()
    };
    let err = with_options("{{ envOrDefault \"A\" \"b\" }}", denied).unwrap_err();
    assert!(
        err.ends_with("error calling envOrDefault: function is disabled"),
        "{err}"
    );
}

#[test]
fn timestamps() {
    let out = with_options(
        "{{ timestamp }}|{{ timestamp \"2006\" }}|{{ timestamp \"unix\" }}",
        FuncOptions::default(),
    )
    .unwrap();
    let parts: Vec<&str> = out.split('|').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].len(), 20, "{out}");
    assert!(parts[0].ends_with('Z'));
    assert_eq!(parts[1].len(), 4);
    assert!(parts[2].parse::<i64>().is_ok());
}
