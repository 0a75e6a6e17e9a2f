//! Go's `text/template`: parse a template once, then execute it with data (the dot) and a
//! function table.
//!
//! ```
//! use gotemplate::{FuncMap, Funcs, Options, Template, Value};
//!
//! let mut funcs = FuncMap::new();
//! funcs.insert("shout", |args| Ok(Value::str(args[0].to_string().to_uppercase())));
//! let t = Template::parse("greeting", "{{ .Name | shout }}!", &Options::default(), &|f| {
//!     funcs.has(f)
//! })
//! .unwrap();
//! let data = Value::map([("Name".to_string(), Value::str("web"))].into());
//! assert_eq!(t.execute(&data, &mut funcs).unwrap(), "WEB!");
//! ```
//!
//! Inside: a lexer ([`lex`]), a parser into a syntax tree, an evaluator over the dynamic
//! [`Value`] model, Go's `fmt` printing ([`gofmt`]) and Go's predefined functions
//! ([`builtins`]: `eq`, `len`, `index`, `printf`, ...). Messages are Go's, word for word
//! (`template: name:1:5: executing "name" at <.X>: ...`).
//!
//! Architecture invariant: the engine knows nothing of the programs using it (Consul,
//! Docker). Functions come from the [`Funcs`] table the caller passes; `and`, `or` (lazy) and
//! `executeTemplate` (needs the template set) are the only names the evaluator treats itself.

mod ast;
pub mod builtins;
mod exec;
pub mod gofmt;
pub mod lex;
mod literal;
mod parse;
pub mod value;

use std::collections::HashMap;
use std::sync::Arc;

use ast::List;
pub use value::{Object, Value};

/// An error from parsing or executing a template, formatted like Go's.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum TemplateError {
    /// `template: name:line: message`
    #[error("{0}")]
    Parse(String),
    /// `template: name:line:col: executing "name" at <node>: message`
    #[error("{0}")]
    Exec(String),
}

/// An error returned by a template function.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum FuncError {
    /// Wrong argument count; the text is Go's tail, e.g. `want 1 got 2`.
    #[error("wrong number of args: {0}")]
    Arity(String),
    /// Any other failure; the evaluator reports it as `error calling NAME: message`.
    #[error("{0}")]
    Call(String),
}

impl FuncError {
    /// An arity error for a function taking exactly `want` arguments.
    pub fn arity(want: usize, got: usize) -> FuncError {
        FuncError::Arity(format!("want {want} got {got}"))
    }

    /// An arity error for a variadic function taking at least `want` arguments.
    pub fn arity_at_least(want: usize, got: usize) -> FuncError {
        FuncError::Arity(format!("want at least {want} got {got}"))
    }

    /// A call error with a message.
    pub fn call(msg: impl Into<String>) -> FuncError {
        FuncError::Call(msg.into())
    }
}

/// The functions a template can call, provided by the caller of [`Template::execute`]. Go's
/// predefined functions are not implied: a table offers them by calling [`builtins::call`]
/// (as [`FuncMap`] does).
pub trait Funcs {
    /// Whether a function with this name exists (checked at parse time too).
    fn has(&self, name: &str) -> bool;
    /// Calls a function with evaluated arguments (a piped value is the last one).
    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, FuncError>;
    /// Calls a method of an [`Object`] value; `None` when it has no such method.
    fn call_method(
        &mut self,
        recv: &Value,
        name: &str,
        args: Vec<Value>,
    ) -> Option<Result<Value, FuncError>>;
}

/// Parse options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Left delimiter, `{{` by default.
    pub left_delim: String,
    /// Right delimiter, `}}` by default.
    pub right_delim: String,
    /// Go's `missingkey=error`: a missing map key is an execution error instead of `<no value>`.
    pub error_on_missing_key: bool,
    /// Go's `missingkey=zero`: a missing map key is the zero value of the map's element type
    /// (`""` in a `map[string]string`; still `<no value>` for `interface{}` elements, as in
    /// Go). `error_on_missing_key` wins over it.
    pub zero_on_missing_key: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            left_delim: "{{".into(),
            right_delim: "}}".into(),
            error_on_missing_key: false,
            zero_on_missing_key: false,
        }
    }
}

/// A parsed template with its associated `define`d templates.
#[derive(Clone, Debug)]
pub struct Template {
    name: String,
    source: Arc<str>,
    trees: HashMap<String, Arc<List>>,
    missing_key: MissingKey,
}

/// What a missing map key evaluates to (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MissingKey {
    /// The invalid value, printed `<no value>`.
    Invalid,
    /// The element type's zero value.
    Zero,
    /// An execution error.
    Error,
}

impl Template {
    /// Parses `source` as template `name` (the name errors carry); `is_func` says which
    /// function names exist, as Go checks them at parse time.
    pub fn parse(
        name: &str,
        source: &str,
        options: &Options,
        is_func: &dyn Fn(&str) -> bool,
    ) -> Result<Template, TemplateError> {
        let left = if options.left_delim.is_empty() {
            "{{"
        } else {
            &options.left_delim
        };
        let right = if options.right_delim.is_empty() {
            "}}"
        } else {
            &options.right_delim
        };
        let parse_err = |pos: usize, msg: &str| {
            let line = 1 + source[..pos.min(source.len())].matches('\n').count();
            TemplateError::Parse(format!("template: {name}:{line}: {msg}"))
        };
        let items = lex::lex(source, left, right).map_err(|e| parse_err(e.pos, &e.msg))?;
        let parsed = parse::parse(items, is_func).map_err(|e| parse_err(e.pos, &e.msg))?;
        let mut trees = HashMap::new();
        trees.insert(name.to_string(), Arc::new(parsed.root));
        for (def_name, list) in parsed.defines {
            trees.insert(def_name, Arc::new(list));
        }
        Ok(Template {
            name: name.to_string(),
            source: Arc::from(source),
            trees,
            missing_key: if options.error_on_missing_key {
                MissingKey::Error
            } else if options.zero_on_missing_key {
                MissingKey::Zero
            } else {
                MissingKey::Invalid
            },
        })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Executes the main template with `data` as dot.
    pub fn execute(&self, data: &Value, funcs: &mut dyn Funcs) -> Result<String, TemplateError> {
        self.execute_named(&self.name, data, funcs)
    }

    /// Executes the associated template `name` with `data` as dot.
    pub fn execute_named(
        &self,
        name: &str,
        data: &Value,
        funcs: &mut dyn Funcs,
    ) -> Result<String, TemplateError> {
        exec::execute(self, name, data, funcs)
    }
}

/// One function of a [`FuncMap`]: evaluated arguments in (a piped value last), a value out.
pub type Func = Box<dyn Fn(Vec<Value>) -> Result<Value, FuncError> + Send + Sync>;

/// A function table in the manner of Go's `template.FuncMap`: Go's predefined functions plus
/// the ones inserted (which win over a predefined function of the same name).
#[derive(Default)]
pub struct FuncMap {
    funcs: HashMap<String, Func>,
}

impl std::fmt::Debug for FuncMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.funcs.keys().collect();
        names.sort();
        f.debug_struct("FuncMap").field("funcs", &names).finish()
    }
}

impl FuncMap {
    /// Go's predefined functions only.
    pub fn new() -> FuncMap {
        FuncMap::default()
    }

    /// Adds (or replaces) a function.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        f: impl Fn(Vec<Value>) -> Result<Value, FuncError> + Send + Sync + 'static,
    ) -> &mut FuncMap {
        self.funcs.insert(name.into(), Box::new(f));
        self
    }
}

impl Funcs for FuncMap {
    fn has(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || builtins::exists(name)
    }

    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, FuncError> {
        match self.funcs.get(name) {
            Some(f) => f(args),
            None => builtins::call(name, args)
                .unwrap_or_else(|| Err(FuncError::call(format!("function {name:?} not defined")))),
        }
    }

    fn call_method(
        &mut self,
        _recv: &Value,
        _name: &str,
        _args: Vec<Value>,
    ) -> Option<Result<Value, FuncError>> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn data() -> Value {
        let labels: BTreeMap<String, Value> = [("team".to_string(), Value::str("web"))].into();
        Value::map(
            [
                ("Name".to_string(), Value::str("/web.1")),
                ("Port".to_string(), Value::Int(80)),
                (
                    "Tags".to_string(),
                    Value::list(vec!["b".into(), "a".into()]),
                ),
                ("Labels".to_string(), Value::str_map(labels)),
            ]
            .into(),
        )
    }

    fn run_with(src: &str, options: &Options) -> Result<String, TemplateError> {
        let mut funcs = FuncMap::new();
        funcs.insert("upper", |a: Vec<Value>| match a.as_slice() {
            [Value::Str(s)] => Ok(Value::str(s.to_uppercase())),
            [_] => Err(FuncError::call("not a string")),
            _ => Err(FuncError::arity(1, a.len())),
        });
        let t = Template::parse("t", src, options, &|n| funcs.has(n))?;
        t.execute(&data(), &mut funcs)
    }

    fn run(src: &str) -> String {
        run_with(src, &Options::default()).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn executes_go_templates() {
        for (src, want) in [
            ("plain", "plain"),
            ("{{.Name}}:{{.Port}}", "/web.1:80"),
            ("{{ .Name | upper }}", "/WEB.1"),
            ("{{range $i, $t := .Tags}}{{$i}}={{$t}} {{end}}", "0=b 1=a "),
            ("{{if eq .Port 80}}http{{else}}other{{end}}", "http"),
            ("{{with .Labels.team}}team {{.}}{{end}}", "team web"),
            (
                "{{len .Tags}} {{index .Tags 1}} {{printf \"%03d\" .Port}}",
                "2 a 080",
            ),
            (
                "{{define \"x\"}}<{{.}}>{{end}}{{template \"x\" .Port}}",
                "<80>",
            ),
            ("{{- \" a \" -}}  {{- \"b\" }}", " a b"),
            ("{{.Labels.missing}}", "<no value>"),
            ("{{and 1 0}} {{or 0 \"x\"}}", "0 x"),
        ] {
            assert_eq!(run(src), want, "{src}");
        }
    }

    #[test]
    fn errors_read_like_go() {
        assert_eq!(
            run("{{ nope }}"),
            "ERR template: t:1: function \"nope\" not defined"
        );
        assert_eq!(run("{{ .Name"), "ERR template: t:1: unclosed action");
        assert_eq!(
            run("{{ .Port | upper }}"),
            "ERR template: t:1:11: executing \"t\" at <upper>: error calling upper: not a string"
        );
    }

    #[test]
    fn missing_keys_per_option() {
        let zero = Options {
            zero_on_missing_key: true,
            ..Options::default()
        };
        assert_eq!(run_with("[{{.Labels.missing}}]", &zero).unwrap(), "[]");
        assert_eq!(run_with("[{{.Missing}}]", &zero).unwrap(), "[<no value>]");
        let error = Options {
            error_on_missing_key: true,
            ..zero
        };
        assert!(run_with("{{.Labels.missing}}", &error)
            .unwrap_err()
            .to_string()
            .contains("map has no entry for key \"missing\""));
    }

    #[derive(Debug)]
    struct Counter;

    impl Object for Counter {
        fn type_name(&self) -> &str {
            "*main.Counter"
        }
        fn format_v(&self) -> String {
            "&{}".to_string()
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    struct WithMethods;

    impl Funcs for WithMethods {
        fn has(&self, name: &str) -> bool {
            name == "counter" || builtins::exists(name)
        }
        fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, FuncError> {
            match name {
                "counter" => Ok(Value::Object(Arc::new(Counter))),
                _ => builtins::call(name, args).unwrap_or_else(|| Err(FuncError::call("none"))),
            }
        }
        fn call_method(
            &mut self,
            recv: &Value,
            name: &str,
            args: Vec<Value>,
        ) -> Option<Result<Value, FuncError>> {
            let Value::Object(o) = recv else { return None };
            o.as_any().downcast_ref::<Counter>()?;
            (name == "Next").then(|| Ok(Value::Int(args.len() as i64 + 1)))
        }
    }

    #[test]
    fn objects_have_methods_from_the_table() {
        let src = "{{ $c := counter }}{{ $c.Next 5 }} {{ $c }}";
        let t = Template::parse("t", src, &Options::default(), &|n| WithMethods.has(n)).unwrap();
        assert_eq!(t.execute(&Value::Nil, &mut WithMethods).unwrap(), "2 &{}");
        let t = Template::parse("t", "{{ counter.Nope }}", &Options::default(), &|n| {
            WithMethods.has(n)
        })
        .unwrap();
        assert!(t
            .execute(&Value::Nil, &mut WithMethods)
            .unwrap_err()
            .to_string()
            .contains("can't evaluate field Nope in type *main.Counter"));
    }
}
