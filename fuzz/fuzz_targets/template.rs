//! consul-template's Go `text/template` lexer and parser (and the handlebars front end), then
//! one execution against an empty store (every query function finds no data). The first byte
//! holds options: bit 0 handlebars, bit 1 `[[ ]]` delimiters, bit 2 `missingkey=error`, bit 3
//! execute. Functions that read files or spin on their arguments (`file`, `loop`) are disabled
//! for execution: a template is trusted configuration, and its run time is its author's.
#![no_main]

use ctemplate::dependency::Dependency;
use ctemplate::engine::{CompiledTemplate, Syntax};
use ctemplate::funcs::FuncOptions;
use ctemplate::template::{lex, Options, Value};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(src) = std::str::from_utf8(rest) else {
        return;
    };
    let syntax = if flags & 1 != 0 {
        Syntax::Handlebars
    } else {
        Syntax::Go
    };
    let (left, right) = if flags & 2 != 0 {
        ("[[", "]]")
    } else {
        ("{{", "}}")
    };
    if let Ok(items) = lex::lex(src, left, right) {
        let mut last = 0;
        for item in &items {
            assert!(item.pos <= src.len(), "token past the end");
            assert!(item.pos >= last, "tokens out of order");
            last = item.pos;
        }
    }
    let options = Options {
        left_delim: left.to_string(),
        right_delim: right.to_string(),
        error_on_missing_key: flags & 4 != 0,
        ..Options::default()
    };
    let funcs = FuncOptions {
        denylist: vec!["file".into(), "loop".into()],
        ..FuncOptions::default()
    };
    let Ok(t) = CompiledTemplate::compile("fuzz.tpl", src, syntax, &options, funcs) else {
        return;
    };
    if flags & 8 != 0 {
        let store: HashMap<Dependency, Value> = HashMap::new();
        if let Ok(done) = t.execute(&store) {
            // Nothing has data: every dependency used is missing.
            assert_eq!(done.used.len(), done.missing.len());
        }
    }
});
