//! The `sprig_*` functions. Expected values are Go's: each check cites the sprig v3.3.0 test
//! (`strings_test.go`, `list_test.go`, `dict_test.go`, `numeric_test.go`, `defaults_test.go`,
//! `regex_test.go`, `url_test.go`, `reflect_test.go`, `crypto_test.go`) or consul-template test
//! (`template/template_test.go`) it mirrors, with the `sprig_` prefix upstream registers.

use crate::common::{check, check_err};

#[test]
fn registered_with_the_prefix_and_typed_like_go() {
    // template_test.go TestTemplate_HermeticSprigFunctions: "hermetic function".
    check("{{ sprig_upper \"hello\" }}", "HELLO");
    // ... and "generic function not available": repeat takes (count int, str string).
    check_err(
        "{{ sprig_repeat \"hello\" 3 }}",
        "template: t:1:3: executing \"t\" at <sprig_repeat \"hello\"...>: error calling sprig_repeat: wrong type for value; expected int; got string",
    );
    check("{{ sprig_repeat 3 \"ab\" }}", "ababab");
    // Non-hermetic ones are not there at all (sprig's nonhermeticFunctions).
    check_err(
        "{{ sprig_now }}",
        "template: t:1: function \"sprig_now\" not defined",
    );
}

#[test]
fn strings() {
    // strings_test.go TestSubstr, TestSubstrBeyondLength, TestTrunc.
    check("{{\"fooo\" | sprig_substr 0 3 }}", "foo");
    check("{{\"foo\" | sprig_substr 0 10 }}", "foo");
    check("{{ \"foooooo\" | sprig_trunc 3 }}", "foo");
    check("{{ \"baaaaaar\" | sprig_trunc -3 }}", "aar");
    check("{{ \"baaaaaar\" | sprig_trunc -999 }}", "baaaaaar");
    check("{{ \"baaaaaz\" | sprig_trunc 0 }}", "");
    // TestQuote, TestSquote.
    check("{{sprig_quote \"a\" \"b\" \"c\"}}", "\"a\" \"b\" \"c\"");
    check(
        "{{sprig_quote \"\\\"a\\\"\" \"b\" \"c\"}}",
        "\"\\\"a\\\"\" \"b\" \"c\"",
    );
    check("{{sprig_quote 1 2 3 }}", "\"1\" \"2\" \"3\"");
    check("{{sprig_squote \"a\" \"b\" \"c\"}}", "'a' 'b' 'c'");
    // TestSplit, TestSplitn, TestToString, TestToStrings, TestJoin.
    check(
        "{{$v := \"foo$bar$baz\" | sprig_split \"$\"}}{{$v._0}}",
        "foo",
    );
    check(
        "{{$v := \"foo$bar$baz\" | sprig_splitn \"$\" 2}}{{$v._1}}",
        "bar$baz",
    );
    check("{{ sprig_toString 1 | sprig_kindOf }}", "string");
    check(
        "{{ $s := sprig_list 1 2 3 | sprig_toStrings }}{{ index $s 1 | sprig_kindOf }}",
        "string",
    );
    check(
        "{{ sprig_tuple \"a\" \"b\" \"c\" | sprig_join \"-\" }}",
        "a-b-c",
    );
    check("{{ sprig_tuple 1 2 3 | sprig_join \"-\" }}", "1-2-3");
    // TestBase64EncodeDecode, TestBase32EncodeDecode.
    check("{{sprig_b64enc \"coffee\"}}", "Y29mZmVl");
    check("{{\"Y29mZmVl\" | sprig_b64dec}}", "coffee");
    check("{{sprig_b32enc \"coffee\"}}", "MNXWMZTFMU======");
    check("{{\"MNXWMZTFMU======\" | sprig_b32dec}}", "coffee");
    // TestCat, TestIndent, TestNindent, TestReplace, TestPlural.
    check("{{$b := \"b\"}}{{\"c\" | sprig_cat \"a\" $b}}", "a b c");
    check("{{sprig_indent 4 \"a\\nb\\nc\"}}", "    a\n    b\n    c");
    check("{{sprig_nindent 4 \"a\\nb\\nc\"}}", "\n    a\n    b\n    c");
    check(
        "{{\"I Am Henry VIII\" | sprig_replace \" \" \"-\"}}",
        "I-Am-Henry-VIII",
    );
    check(
        "{{$num := len \"two\"}}{{$num}} {{$num | sprig_plural \"1 char\" \"chars\"}}",
        "3 chars",
    );
    // TestTrim*, TestSortAlpha, TestAbbrev, TestAbbrevBoth, TestInitials, TestSwapCase.
    check("{{sprig_trim \"   5.00   \"}}", "5.00");
    check("{{sprig_trimAll \"$\" \"$5.00$\"}}", "5.00");
    check("{{sprig_trimPrefix \"$\" \"$5.00\"}}", "5.00");
    check("{{sprig_trimSuffix \"$\" \"5.00$\"}}", "5.00");
    check(
        "{{ sprig_list \"c\" \"a\" \"b\" | sprig_sortAlpha | sprig_join \"\" }}",
        "abc",
    );
    check("{{ \"hello world\" | sprig_abbrev 5 }}", "he...");
    check(
        "{{ sprig_abbrevboth 5 10 \"1234 5678 9123\" }}",
        "...5678...",
    );
    check("{{ \"First Try\" | sprig_initials }}", "FT");
    check("{{ \"abc\" | sprig_swapcase }}", "ABC");
    check("{{ \"This Is Cool\" | sprig_untitle }}", "this is cool");
    check("{{ \"hello world\" | sprig_title }}", "Hello World");
    check("{{ \"a b c\" | sprig_nospace }}", "abc");
    // TestSnakeCase, TestCamelCase, TestKebabCase (their first cases).
    check("{{ sprig_snakecase \"FirstName\" }}", "first_name");
    check("{{ sprig_camelcase \"http_server\" }}", "HttpServer");
    check("{{ sprig_kebabcase \"FirstName\" }}", "first-name");
    // TestWrap.
    check("{{ sprig_wrap 5 \"Hello World\" }}", "Hello\nWorld");
    check(
        "{{ sprig_wrapWith 5 \"\\t\" \"Hello World\" }}",
        "Hello\tWorld",
    );
    check("{{ sprig_contains \"cat\" \"fuzzycatz\" }} {{ sprig_hasPrefix \"cat\" \"catch\" }} {{ sprig_hasSuffix \"cat\" \"ducat\" }}", "true true true");
}

#[test]
fn hashes() {
    // crypto_test.go TestSha256Sum, TestSha1Sum, TestAdler32Sum, TestSha512Sum.
    check(
        "{{\"abc\" | sprig_sha256sum}}",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    check(
        "{{\"abc\" | sprig_sha1sum}}",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
    );
    check("{{\"abc\" | sprig_adler32sum}}", "38600999");
    check(
        "{{\"abc\" | sprig_sha512sum}}",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    );
}

#[test]
fn lists() {
    // list_test.go TestTuple, TestList, TestPush, TestPrepend, TestFirst, TestLast, TestRest,
    // TestInitial, TestReverse, TestUniq, TestWithout, TestHas, TestCompact, TestSlice,
    // TestConcat, TestChunk.
    check(
        "{{ $t := sprig_tuple 1 \"a\" \"foo\"}}{{ index $t 2 }}{{ index $t 0 }}{{ index $t 1}}",
        "foo1a",
    );
    check(
        "{{ $t := sprig_list 1 \"a\" \"foo\"}}{{ index $t 2 }}{{ index $t 0 }}{{ index $t 1}}",
        "foo1a",
    );
    check(
        "{{ $t := sprig_push (sprig_list 1 2 3) 4 }}{{ len $t }}",
        "4",
    );
    // Piped, the list is the value appended (push's first parameter is the list).
    check("{{ 4 | sprig_append (sprig_list 1 2 3) | len }}", "4");
    check("{{ sprig_prepend (sprig_list 1 2 3) 0 }}", "[0 1 2 3]");
    check("{{ sprig_list 1 2 3 | sprig_first }}", "1");
    check("{{ sprig_list | sprig_first }}", "<no value>");
    check("{{ sprig_list 1 2 3 | sprig_last }}", "3");
    check("{{ sprig_list 1 2 3 | sprig_rest }}", "[2 3]");
    check("{{ sprig_list 1 2 3 | sprig_initial }}", "[1 2]");
    check("{{ sprig_list 1 2 3 | sprig_reverse }}", "[3 2 1]");
    check("{{ sprig_list 1 2 2 3 | sprig_uniq }}", "[1 2 3]");
    check("{{ sprig_without (sprig_list 1 2 3 4) 1 3 }}", "[2 4]");
    check("{{ sprig_list 1 2 3 | sprig_has 1 }}", "true");
    check("{{ sprig_list 1 2 3 | sprig_has 4 }}", "false");
    check(
        "{{ sprig_list 1 0 \"\" \"hello\" | sprig_compact }}",
        "[1 hello]",
    );
    check("{{ sprig_slice (sprig_list 1 2 3) 1 }}", "[2 3]");
    check("{{ sprig_slice (sprig_list 1 2 3) 0 2 }}", "[1 2]");
    check(
        "{{ sprig_concat (sprig_list 1 2 3) (sprig_list 4 5) }}",
        "[1 2 3 4 5]",
    );
    check(
        "{{ sprig_list 1 2 3 4 5 6 7 8 | sprig_chunk 3 }}",
        "[[1 2 3] [4 5 6] [7 8]]",
    );
    check(
        "{{ sprig_until 5 }} {{ sprig_untilStep 0 10 3 }} {{ sprig_seq 1 2 5 }}",
        "[0 1 2 3 4] [0 3 6 9] 1 3 5",
    );
    check_err(
        "{{ sprig_push \"x\" 1 }}",
        "template: t:1:3: executing \"t\" at <sprig_push \"x\" 1>: error calling sprig_push: Cannot push on type string",
    );
}

#[test]
fn dicts() {
    // dict_test.go TestDict, TestUnset, TestHasKey, TestPluck, TestKeys, TestPick, TestOmit,
    // TestGet, TestSet, TestMerge, TestValues, TestDig.
    // TestDict checks only the length (12); Go ranges a map in key order.
    check("{{ $d := sprig_dict 1 2 \"three\" \"four\" 5}}{{ range $k, $v := $d }}{{ $k }}{{ $v }}{{ end }}", "125threefour");
    check("{{ $d := sprig_dict \"one\" 1 \"two\" 222222 }}{{ $d = sprig_unset $d \"two\" }}{{ range $k, $v := $d }}{{ $k }}{{ $v }}{{ end }}", "one1");
    check(
        "{{ $d := sprig_dict \"one\" 1 \"two\" 222222 }}{{ if sprig_hasKey $d \"one\" }}1{{ end }}",
        "1",
    );
    check("{{ $d := sprig_dict \"one\" 1 \"two\" 222222 }}{{ $d2 := sprig_dict \"one\" 1 \"two\" 33333 }}{{ $d3 := sprig_dict \"one\" 1 }}{{ $d4 := sprig_dict \"one\" 1 \"two\" 4444 }}{{ sprig_pluck \"two\" $d $d2 $d3 $d4 }}", "[222222 33333 4444]");
    check(
        "{{ sprig_dict \"b\" 1 \"a\" 2 | sprig_keys | sprig_sortAlpha }}",
        "[a b]",
    );
    check("{{ $d := sprig_dict \"one\" 1 \"two\" 222222 }}{{ $d = sprig_pick $d \"two\" }}{{ range $k, $v := $d }}{{ $k }}{{ $v }}{{ end }}", "two222222");
    check("{{ $d := sprig_dict \"one\" 1 \"two\" 222222 }}{{ $d = sprig_omit $d \"one\" }}{{ range $k, $v := $d }}{{ $k }}{{ $v }}{{ end }}", "two222222");
    check(
        "{{ $d := sprig_dict \"one\" 1 }}{{ sprig_get $d \"one\" }}[{{ sprig_get $d \"two\" }}]",
        "1[]",
    );
    check(
        "{{ $d := sprig_dict \"one\" 1 }}{{ $d = sprig_set $d \"two\" 2 }}{{ $d.two }}",
        "2",
    );
    check("{{ $dst := sprig_dict \"a\" 1 }}{{ $src := sprig_dict \"a\" 2 \"b\" 3 }}{{ sprig_merge $dst $src }} {{ sprig_mergeOverwrite $dst $src }}", "map[a:1 b:3] map[a:2 b:3]");
    check(
        "{{ sprig_dict \"a\" 1 \"b\" 2 | sprig_values | sprig_sortAlpha }}",
        "[1 2]",
    );
    check("{{ sprig_dict \"a\" (sprig_dict \"b\" \"c\") | sprig_dig \"a\" \"b\" \"zz\" }} {{ sprig_dict \"a\" 1 | sprig_dig \"x\" \"y\" \"zz\" }}", "c zz");
}

#[test]
fn numbers() {
    // numeric_test.go TestAdd1, TestAdd, TestSub, TestDiv, TestMod, TestMul, TestBiggest,
    // TestMin, TestToFloat64, TestToInt64, TestAtoi, TestCeil, TestFloor, TestRound, TestAddf...
    check("{{ 3 | sprig_add1 }}", "4");
    check("{{ sprig_add 1 2 3 }}", "6");
    check("{{ sprig_sub 3 2 }}", "1");
    check("{{ sprig_div 4 5 }}", "0");
    check("{{ sprig_mod 10 4 }}", "2");
    check("{{ sprig_mul 1 2 3 }}", "6");
    check("{{ sprig_biggest 1 2 3 345 5 6 7}}", "345");
    check("{{ sprig_min 1 2 3 345 5 6 7}}", "1");
    check(
        "{{ \"102\" | sprig_float64 }} {{ \"102.5\" | sprig_int64 }} {{ \"0x1F\" | sprig_int }}",
        "102 0 31",
    );
    check("{{ sprig_atoi \"42\" }} {{ sprig_atoi \"x\" }}", "42 0");
    check(
        "{{ sprig_ceil 1.5 }} {{ sprig_floor 1.5 }} {{ sprig_round 3.746 2 }}",
        "2 1 3.75",
    );
    check("{{ sprig_addf 1.5 2 2 }} {{ sprig_add1f 1.1 }} {{ sprig_subf 1.5 2 2 }} {{ sprig_mulf 1.5 2 2 }} {{ sprig_divf 10 4 5 }}", "5.5 2.1 -2.5 6 0.5");
    check("{{ sprig_maxf 1 2.5 }} {{ sprig_minf 1 2.5 }}", "2.5 1");
}

#[test]
fn defaults_json_and_reflection() {
    // defaults_test.go TestDefault, TestEmpty, TestCoalesce, TestAll, TestAny, TestToJson,
    // TestToPrettyJson, TestToRawJson, TestTernary.
    check("{{ \"\" | sprig_default \"foo\" }} {{ \"x\" | sprig_default \"foo\" }} {{ sprig_default \"foo\" }}", "foo x foo");
    check("{{ if sprig_empty \"\" }}1{{ end }}{{ if sprig_empty 0 }}2{{ end }}{{ if sprig_empty (sprig_list) }}3{{ end }}", "123");
    check("{{ sprig_coalesce \"\" 0 \"x\" }}", "x");
    check(
        "{{ sprig_all 1 \"a\" }} {{ sprig_any 0 \"\" }}",
        "true false",
    );
    check("{{ sprig_dict \"Top\" (sprig_dict \"bool\" true \"string\" \"test\" \"number\" 42) | sprig_toJson }}", "{\"Top\":{\"bool\":true,\"number\":42,\"string\":\"test\"}}");
    check("{{ sprig_dict \"a\" \"<b>\" | sprig_toJson }} {{ sprig_dict \"a\" \"<b>\" | sprig_toRawJson }}", "{\"a\":\"\\u003cb\\u003e\"} {\"a\":\"<b>\"}");
    check(
        "{{ sprig_dict \"a\" 1 | sprig_toPrettyJson }}",
        "{\n  \"a\": 1\n}",
    );
    check(
        "{{ (sprig_fromJson `{\"a\":[1]}`).a }} [{{ sprig_fromJson \"x\" }}]",
        "[1] [<no value>]",
    );
    check(
        "{{ true | sprig_ternary \"foo\" \"bar\" }} {{ false | sprig_ternary \"foo\" \"bar\" }}",
        "foo bar",
    );
    // reflect_test.go TestTypeOf, TestKindOf, TestKindIs, TestTypeIs.
    check("{{ sprig_typeOf 1 }} {{ sprig_typeOf \"x\" }} {{ sprig_kindOf (sprig_list) }} {{ sprig_kindIs \"map\" (sprig_dict) }} {{ sprig_typeIs \"string\" \"x\" }}", "int string slice true true");
    check(
        "{{ sprig_deepEqual (sprig_list 1 2) (sprig_list 1 2) }} {{ sprig_deepEqual 1 1.0 }}",
        "true false",
    );
    check_err(
        "{{ sprig_fail \"boom\" }}",
        "template: t:1:3: executing \"t\" at <sprig_fail \"boom\">: error calling sprig_fail: boom",
    );
}

#[test]
fn paths_urls_and_regexes() {
    // paths: Go's path package (sprig docs' examples).
    check("{{ sprig_base \"foo/bar/baz\" }} {{ sprig_dir \"foo/bar/baz\" }} {{ sprig_clean \"foo/bar/../baz\" }} {{ sprig_ext \"foo.bar\" }} {{ sprig_isAbs \"/x\" }}", "baz foo/bar foo/baz .bar true");
    // url_test.go TestUrlParse, TestUrlJoin.
    check("{{ $u := sprig_urlParse \"https://user:pass@example.com:8080/a/b?x=1#frag\" }}{{ $u.scheme }} {{ $u.host }} {{ $u.hostname }} {{ $u.path }} {{ $u.query }} {{ $u.fragment }} {{ $u.userinfo }}", "https example.com:8080 example.com /a/b x=1 frag user:pass");
    check("{{ sprig_urlJoin (sprig_dict \"scheme\" \"http\" \"host\" \"example.com:8080\" \"path\" \"/a b\" \"query\" \"x=1\") }}", "http://example.com:8080/a%20b?x=1");
    // regex_test.go TestRegexMatch, TestRegexFind, TestRegexFindAll, TestRegexReplaceAll,
    // TestRegexReplaceAllLiteral, TestRegexSplit, TestRegexQuoteMeta.
    check("{{ sprig_regexMatch \"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\\\.[A-Za-z]{2,}\" \"test@acme.com\" }}", "true");
    check("{{ sprig_regexFind \"a(b+)\" \"aaabbb\" }}", "abbb");
    check(
        "{{ sprig_regexFindAll \"a{2}\" \"aaaabbb\" -1 | len }}",
        "2",
    );
    check(
        "{{ sprig_regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}",
        "-W-xxW-",
    );
    check(
        "{{ sprig_regexReplaceAllLiteral \"a(x*)b\" \"-ab-axxb-\" \"${1}\" }}",
        "-${1}-${1}-",
    );
    check("{{ sprig_regexSplit \"z+\" \"pizza\" -1 }}", "[pi a]");
    check("{{ sprig_regexQuoteMeta \"1.2.3\" }}", "1\\.2\\.3");
    check("{{ sprig_duration 95 }}", "1m35s");
    // date_test.go TestDurationRound.
    check("{{ sprig_durationRound \"2h10m5s\" }}", "2h");
    check("{{ sprig_durationRound \"-2h10m5s\" }}", "2h");
    check("{{ sprig_durationRound \"400h\" }}", "16d");
    check("{{ sprig_durationRound \"24h5s\" }}", "1d");
    check("{{ sprig_durationRound \"2400h5s\" }}", "3mo");
    check("{{ sprig_durationRound \"1s\" }}", "0s");
}

#[test]
fn refused_by_name() {
    check_err(
        "{{ sprig_genCA \"x\" 365 }}",
        "template: t:1:3: executing \"t\" at <sprig_genCA \"x\" 365>: error calling sprig_genCA: sprig_genCA is not implemented by this consul-template (sprig's certificate, password and encryption functions are not built in)",
    );
}

#[test]
fn denied_as_a_group() {
    use std::collections::HashMap;

    use ctemplate::dependency::Dependency;
    use ctemplate::engine::{CompiledTemplate, Syntax};
    use ctemplate::funcs::FuncOptions;
    use ctemplate::template::{Options, Value};

    // template_test.go "sprig_reverse_disabled": function_denylist = ["sprig_*"].
    let t = CompiledTemplate::compile(
        "t",
        "{{ \"abcde\" | sprig_reverse }}",
        Syntax::Go,
        &Options::default(),
        FuncOptions {
            denylist: vec!["sprig_*".into()],
            ..FuncOptions::default()
        },
    )
    .unwrap();
    let err = t
        .execute(&HashMap::<Dependency, Value>::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("error calling sprig_reverse: function is disabled"),
        "{err}"
    );
    // Not denied, sprig's own answer for a string: list.go mustReverse.
    check_err(
        "{{ \"abcde\" | sprig_reverse }}",
        "template: t:1:13: executing \"t\" at <sprig_reverse>: error calling sprig_reverse: Cannot find reverse on type string",
    );
}

#[test]
fn semver() {
    // semver_test.go TestSemverCompare, TestSemver.
    check("{{ sprig_semverCompare \"1.2.3\" \"1.2.3\" }}", "true");
    check("{{ sprig_semverCompare \"^1.2.0\" \"1.2.3\" }}", "true");
    check("{{ sprig_semverCompare \"^1.2.0\" \"2.2.3\" }}", "false");
    check(
        "{{ $s := sprig_semver \"1.2.3-beta.1+c0ff33\" }}{{ $s.Prerelease }}",
        "beta.1",
    );
    check(
        "{{ $s := sprig_semver \"1.2.3-beta.1+c0ff33\" }}{{ $s.Major}}",
        "1",
    );
    check(
        "{{ sprig_semver \"1.2.3\" | (sprig_semver \"1.2.3\").Compare }}",
        "0",
    );
    check(
        "{{ sprig_semver \"1.2.3\" | (sprig_semver \"1.3.3\").Compare }}",
        "1",
    );
    check(
        "{{ sprig_semver \"1.4.3\" | (sprig_semver \"1.2.3\").Compare }}",
        "-1",
    );
    check("{{ sprig_semver \"v1.2\" }}", "1.2.0");
    check_err(
        "{{ sprig_semver \"x.y\" }}",
        "template: t:1:3: executing \"t\" at <sprig_semver \"x.y\">: error calling sprig_semver: Invalid Semantic Version",
    );
}

#[test]
fn times() {
    // date_test.go TestToDate (printed as Go prints a time.Time, `date` being non-hermetic),
    // TestUnixEpoch (the same instant read with toDate).
    check(
        "{{ sprig_toDate \"2006-01-02T15:04:05Z07:00\" \"2017-12-31T00:00:00Z\" }}",
        "2017-12-31 00:00:00 +0000 UTC",
    );
    check(
        "{{ sprig_toDate \"02 Jan 06 15:04:05 -0700\" \"13 Jun 19 20:39:39 +0000\" | sprig_unixEpoch }}",
        "1560458379",
    );
    check(
        "{{ sprig_toDate \"2006-01-02 15:04 -0700\" \"2019-06-13 20:39 +0200\" | sprig_mustDateModify \"1h30m\" }}",
        "2019-06-13 22:09:00 +0200 +0200",
    );
    // toDate swallows the error (Go's zero time); mustToDate returns it.
    check(
        "{{ sprig_toDate \"2006-01-02\" \"x\" | sprig_unixEpoch }}",
        "-62135596800",
    );
    check_err(
        "{{ sprig_mustToDate \"2006-01-02\" \"x\" }}",
        "template: t:1:3: executing \"t\" at <sprig_mustToDate \"20...>: error calling sprig_mustToDate: parsing time \"x\" as \"2006-01-02\": cannot parse \"x\" as \"2006\"",
    );
    check("{{ sprig_ago 0 | len | lt 5 }}", "true");
}
