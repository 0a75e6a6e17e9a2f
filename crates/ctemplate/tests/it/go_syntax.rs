//! Go `text/template` semantics: actions, trimming, literals, variables, control structures,
//! printing and error messages. Expected outputs follow Go's rules.

use ctemplate::template::Options;

use crate::common::{check, check_err, check_with};

#[test]
fn text_and_nil_dot() {
    check("", "");
    check("plain text\n", "plain text\n");
    check("{{.}}", "<no value>");
    check("{{.Foo}}", "<no value>");
    check("{{$}}", "<no value>");
}

#[test]
fn trim_markers() {
    check("a {{- \" b \" -}} c", "a b c");
    check("a\n  {{- 1 -}}\n\tb", "a1b");
    check("x {{-1}} y", "x -1 y");
    check("x {{ -1 -}} \n y", "x -1y");
    check("a {{- /* c */ -}} b", "ab");
}

#[test]
fn comments() {
    check("a{{/* comment */}}b", "ab");
    check("a{{/* multi\nline */}}b", "ab");
    check_err(
        "{{ /* c */ }}",
        "template: t:1: unexpected \"/\" in command",
    );
}

#[test]
fn literals() {
    check(
        "{{ 1 }}{{ 1.5 }}{{ 'a' }}{{ \"x\" }}{{ `r\\n` }}{{ true }}",
        "11.597xr\\ntrue",
    );
    check(
        "{{ 0x1F }} {{ 1_000 }} {{ 0o17 }} {{ 0b101 }} {{ -7 }}",
        "31 1000 15 5 -7",
    );
    check(
        "{{ 1e6 }} {{ 1.0 }} {{ 2.50 }} {{ 1234567.0 }}",
        "1e+06 1 2.5 1.234567e+06",
    );
    check("{{ \"a\\tb\\u00e9\" }}", "a\tbé");
    check("{{ print nil }}", "<nil>");
    check_err(
        "{{ nil }}",
        "template: t:1:3: executing \"t\" at <nil>: nil is not a command",
    );
}

#[test]
fn variables_and_scope() {
    check("{{ $x := 5 }}{{ $x }}{{ $x = 6 }}{{ $x }}", "56");
    check(
        "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
        "21",
    );
    check(
        "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
        "2",
    );
    check("{{ range loop 2 }}{{ $ }}{{ end }}", "<no value><no value>");
    check_err("{{ $x }}", "template: t:1: undefined variable \"$x\"");
    check_err(
        "{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}",
        "template: t:1: undefined variable \"$y\"",
    );
}

#[test]
fn range_forms() {
    check(
        "{{ range $i, $e := parseJSON `[\"a\",\"b\"]` }}{{ $i }}={{ $e }};{{ end }}",
        "0=a;1=b;",
    );
    check(
        "{{ range $e := parseJSON `[\"a\",\"b\"]` }}{{ $e }}{{ end }}",
        "ab",
    );
    check(
        "{{ range $k, $v := parseJSON `{\"b\":1,\"a\":2,\"c\":3}` }}{{ $k }}:{{ $v }} {{ end }}",
        "a:2 b:1 c:3 ",
    );
    check(
        "{{ range parseJSON `{\"z\":\"last\",\"a\":\"first\"}` }}{{ . }} {{ end }}",
        "first last ",
    );
    check(
        "{{ range parseJSON `[]` }}x{{ else }}empty{{ end }}",
        "empty",
    );
    check("{{ range parseJSON `{}` }}x{{ else }}none{{ end }}", "none");
    check("{{ range .Missing }}x{{ else }}nil{{ end }}", "nil");
    check("{{ range 3 }}{{ . }}{{ end }}", "012");
    check("{{ range $i := loop 3 5 }}{{ $i }}{{ end }}", "34");
    check_err(
        "{{ range true }}{{ end }}",
        "template: t:1:9: executing \"t\" at <true>: range can't iterate over true",
    );
}

#[test]
fn break_and_continue() {
    check("{{ range loop 5 }}{{ if eq . 3 }}{{ break }}{{ end }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ . }}{{ end }}", "02");
    check_err("{{ break }}", "template: t:1: {{break}} outside {{range}}");
}

#[test]
fn if_else_chains() {
    check(
        "{{ if eq 1 2 }}a{{ else if eq 1 1 }}b{{ else }}c{{ end }}",
        "b",
    );
    check("{{ if 0 }}a{{ else if \"\" }}b{{ else }}c{{ end }}", "c");
    check(
        "{{ if parseJSON `[]` }}full{{ else }}empty{{ end }}",
        "empty",
    );
    check("{{ if parseJSON `{\"a\":1}` }}full{{ end }}", "full");
    check("{{ with parseJSON `{\"a\":\"x\"}` }}{{ .a }}{{ end }}", "x");
    check("{{ with \"\" }}x{{ else }}y{{ end }}", "y");
    check("{{ with $x := \"v\" }}{{ $x }}{{ . }}{{ end }}", "vv");
    check("{{ with 0 }}a{{ else with 2 }}{{ . }}{{ end }}", "2");
}

#[test]
fn define_template_block() {
    check(
        "{{ define \"t1\" }}[{{ . }}]{{ end }}{{ template \"t1\" \"a\" }}{{ template \"t1\" }}",
        "[a][<no value>]",
    );
    check("{{ block \"b\" \"x\" }}<{{ . }}>{{ end }}", "<x>");
    check("{{ define \"r\" }}{{ if . }}{{ . }}{{ template \"r\" (subtract 1 .) }}{{ end }}{{ end }}{{ template \"r\" 3 }}", "321");
    check(
        "{{ define \"d\" }}D{{ end }}{{ executeTemplate \"d\" | toLower }}",
        "d",
    );
    check_err("{{ template \"nope\" }}", "template: t:1:12: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined");
}

#[test]
fn pipelines_and_parens() {
    check("{{ \"hello\" | toUpper | printf \"%s!\" }}", "HELLO!");
    check("{{ (add 1 2) }} {{ add 1 2 | multiply 10 }}", "3 30");
    check("{{ (parseJSON `{\"a\":{\"b\":\"c\"}}`).a.b }}", "c");
    check(
        "{{ $m := parseJSON `{\"a\":{\"b\":\"c\"}}` }}{{ $m.a.b }} {{ $m.a.zz }}",
        "c <no value>",
    );
    check_err(
        "{{ 1 | 2 }}",
        "template: t:1: non executable command in pipeline stage 2",
    );
    check_err(
        "{{ \"a\" \"b\" }}",
        "template: t:1:3: executing \"t\" at <\"a\">: can't give argument to non-function \"a\"",
    );
}

#[test]
fn and_or_short_circuit() {
    check(
        "{{ and 1 0 }} {{ and 1 2 }} {{ or 0 \"\" \"x\" }} {{ or 0 \"\" }}|",
        "0 2 x |",
    );
    check(
        "{{ and false (parseInt \"x\") }} {{ or true (parseInt \"x\") }}",
        "false true",
    );
}

#[test]
fn printing_values() {
    check("{{ parseJSON `[1,\"a\",true,null]` }}", "[1 a true <nil>]");
    check(
        "{{ parseJSON `{\"b\":[1,2],\"a\":1.5}` }}",
        "map[a:1.5 b:[1 2]]",
    );
    check("{{ index (parseJSON `{\"a\":null}`) \"a\" }}", "<no value>");
    check(
        "{{ print 1 2 \"a\" 3 }}|{{ println \"a\" 1 }}|",
        "1 2a3|a 1\n|",
    );
}

#[test]
fn builtin_functions() {
    check("{{ len \"abc\" }}{{ len (parseJSON `[1,2]`) }}", "32");
    check("{{ index (parseJSON `{\"a\":[1,2]}`) \"a\" 1 }}", "2");
    check(
        "{{ slice \"abcdef\" 1 3 }} {{ slice (parseJSON `[1,2,3]`) 1 }}",
        "bc [2 3]",
    );
    check("{{ eq \"a\" \"b\" \"a\" }} {{ lt 1 2 }} {{ ne 1 1 }} {{ ge 2.5 2.5 }} {{ gt \"b\" \"a\" }}", "true true false true true");
    check("{{ not \"\" }} {{ not 1 }}", "true false");
    check(
        "{{ html \"<a href='x'>&\" }}",
        "&lt;a href=&#39;x&#39;&gt;&amp;",
    );
    check("{{ js \"a'b\\\"<\" }}", "a\\'b\\\"\\u003C");
    check("{{ urlquery \"a b&c/d\" }}", "a+b%26c%2Fd");
    check(
        "{{ printf \"%d-%05d-%x-%q-%v-%t\" 1 42 255 \"s\" 1.5 true }}",
        "1-00042-ff-\"s\"-1.5-true",
    );
    check("{{ printf \"%s\" 1 }}", "%!s(int=1)");
    check_err(
        "{{ eq 1 \"a\" }}",
        "template: t:1:3: executing \"t\" at <eq 1 \"a\">: error calling eq: incompatible types for comparison",
    );
    check_err(
        "{{ len 3 }}",
        "template: t:1:3: executing \"t\" at <len 3>: error calling len: len of type int",
    );
}

#[test]
fn custom_delimiters() {
    let opts = Options {
        left_delim: "[[".into(),
        right_delim: "]]".into(),
        ..Options::default()
    };
    check_with("[[ \"x\" ]]{{ y }}[[- \" z\" ]]", &opts, "x{{ y }} z");
}

#[test]
fn missing_key_error_option() {
    let opts = Options {
        error_on_missing_key: true,
        ..Options::default()
    };
    let t = ctemplate::engine::CompiledTemplate::compile(
        "t",
        "{{ $m := parseJSON `{}` }}{{ $m.nope }}",
        ctemplate::engine::Syntax::Go,
        &opts,
        Default::default(),
    )
    .unwrap();
    let err = t
        .execute(&std::collections::HashMap::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "template: t:1:29: executing \"t\" at <$m.nope>: map has no entry for key \"nope\""
    );
}

#[test]
fn parse_errors() {
    check_err("{{ if }}", "template: t:1: missing value for if");
    check_err("{{ end }}", "template: t:1: unexpected {{end}}");
    check_err("{{ else }}", "template: t:1: unexpected {{else}}");
    check_err(
        "a\n{{ foo }}",
        "template: t:2: function \"foo\" not defined",
    );
    check_err("{{ if 1 }}", "template: t:1: unexpected EOF");
    check_err("{{ 1 ", "template: t:1: unclosed action");
}

#[test]
fn exec_errors_name_line_and_column() {
    check_err(
        "line1\n  {{ parseInt \"x\" }}",
        "template: t:2:5: executing \"t\" at <parseInt \"x\">: error calling parseInt: parseInt: strconv.ParseInt: parsing \"x\": invalid syntax",
    );
    check_err(
        "{{ $x := \"s\" }}{{ $x.Foo }}",
        "template: t:1:18: executing \"t\" at <$x.Foo>: can't evaluate field Foo in type string",
    );
    check_err("{{ toUpper 1 2 }}", "template: t:1:3: executing \"t\" at <toUpper>: wrong number of args for toUpper: want 1 got 2");
}
