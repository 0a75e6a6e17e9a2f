//! The handlebars front end shares the function set and dependency recording.

use std::collections::HashMap;

use ctemplate::dependency::Dependency;
use ctemplate::engine::Syntax;
use ctemplate::template::Value;

use crate::common::run;

#[test]
fn helpers_are_the_function_set() {
    let out = run(
        "{{toUpper \"x\"}} {{add 1 2}} {{join \",\" (split \",\" \"a,b\")}}",
        Syntax::Handlebars,
        &HashMap::new(),
    )
    .unwrap();
    assert_eq!(out.output, "X 3 a,b");
}

#[test]
fn records_dependencies_and_missing() {
    let src = "{{#each (service \"web\")}}{{Address}}:{{Port}}\n{{/each}}{{key \"a/b\"}}";
    let out = run(src, Syntax::Handlebars, &HashMap::new()).unwrap();
    assert_eq!(out.output, "");
    let shown: Vec<String> = out.missing.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["health.service(web|passing)", "kv.block(a/b)"]);

    let mut store: HashMap<Dependency, Value> = HashMap::new();
    store.insert(Dependency::kv_get("a/b", true).unwrap(), Value::str("<v>"));
    let web = Dependency::service(&["web".to_string()], false).unwrap();
    let json = serde_json::json!([{"Node": {"Node": "n1", "Address": "10.0.0.1"}, "Service": {"ID": "w1", "Service": "web", "Port": 80}, "Checks": []}]);
    store.insert(web.clone(), web.decode(&json).unwrap());
    let out = run(src, Syntax::Handlebars, &store).unwrap();
    assert_eq!(out.output, "10.0.0.1:80\n<v>");
    assert!(out.missing.is_empty());
}

#[test]
fn compile_errors_are_reported() {
    let err = run("{{#each x}}", Syntax::Handlebars, &HashMap::new()).unwrap_err();
    assert!(err.starts_with("handlebars: "), "{err}");
}
