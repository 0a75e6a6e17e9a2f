//! Test helpers: `check(template, expected)` renders a Go-syntax template with no Consul
//! data; `check_err` expects an error message; `store_from` builds a store from canonical
//! dependency strings to raw Consul JSON, emulating upstream's n-pass rendering.

use std::collections::HashMap;

use ctemplate::dependency::Dependency;
use ctemplate::engine::{CompiledTemplate, Execution, Syntax};
use ctemplate::funcs::{FuncOptions, Store};
use ctemplate::template::{Options, Value};

/// Renders `src` against an empty store and compares the output byte for byte.
#[track_caller]
pub fn check(src: &str, expected: &str) {
    let out = run(src, Syntax::Go, &HashMap::new()).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    assert_eq!(out.output, expected, "template: {src:?}");
}

/// Renders with custom parse options.
#[track_caller]
pub fn check_with(src: &str, options: &Options, expected: &str) {
    let t = CompiledTemplate::compile("t", src, Syntax::Go, options, FuncOptions::default())
        .unwrap_or_else(|e| panic!("{src:?}: {e}"));
    let out = t
        .execute(&HashMap::<Dependency, Value>::new())
        .unwrap_or_else(|e| panic!("{src:?}: {e}"));
    assert_eq!(out.output, expected, "template: {src:?}");
}

/// Expects compiling or executing `src` to fail with exactly `expected`.
#[track_caller]
pub fn check_err(src: &str, expected: &str) {
    match run(src, Syntax::Go, &HashMap::new()) {
        Ok(out) => panic!(
            "{src:?}: expected error {expected:?}, got output {:?}",
            out.output
        ),
        Err(e) => assert_eq!(e, expected, "template: {src:?}"),
    }
}

/// Compiles and executes once against `store`.
pub fn run(src: &str, syntax: Syntax, store: &dyn Store) -> Result<Execution, String> {
    let t = CompiledTemplate::compile(
        "t",
        src,
        syntax,
        &Options::default(),
        FuncOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    t.execute(store).map_err(|e| e.to_string())
}

/// Upstream's n-pass loop: execute, fetch every newly used dependency from `data` (canonical
/// dependency string → raw Consul JSON), repeat until nothing new is used.
pub fn render_passes(
    t: &CompiledTemplate,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<Execution, String> {
    let mut store: HashMap<Dependency, Value> = HashMap::new();
    loop {
        let exec = t.execute(&store).map_err(|e| e.to_string())?;
        let mut added = false;
        for dep in &exec.missing {
            if store.contains_key(dep) {
                continue;
            }
            if let Some(json) = data.get(&dep.to_string()) {
                store.insert(dep.clone(), dep.decode(json).map_err(|e| e.to_string())?);
                added = true;
            }
        }
        if !added {
            return Ok(exec);
        }
    }
}
