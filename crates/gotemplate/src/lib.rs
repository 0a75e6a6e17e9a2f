//! A Go `text/template` implementation: lexer ([`lex`]), parser into a syntax tree
//! ([`parse`], [`ast`]) and evaluator ([`exec`]) over the dynamic [`value`] model, with Go's
//! `fmt` printing in [`gofmt`].
//!
//! Architecture invariant: this module knows nothing about Consul or about which functions
//! exist. Functions are reached through the [`Funcs`] trait; `and`, `or` (lazy) and
//! `executeTemplate` (needs the template set) are the only names the evaluator treats itself.

pub mod ast;
mod exec;
pub mod gofmt;
pub mod lex;
mod literal;
pub mod parse;
pub mod value;

use std::collections::HashMap;
use std::sync::Arc;

use ast::List;
pub use value::Value;

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

/// The functions a template can call, provided by the caller of [`Template::execute`].
pub trait Funcs {
    /// Whether a function with this name exists (checked at parse time too).
    fn has(&self, name: &str) -> bool;
    /// Calls a function with evaluated arguments (a piped value is the last one).
    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, FuncError>;
    /// Calls a method on a value (only `scratch` has methods); `None` when there is no such
    /// method.
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            left_delim: "{{".into(),
            right_delim: "}}".into(),
            error_on_missing_key: false,
        }
    }
}

/// A parsed template with its associated `define`d templates.
#[derive(Clone, Debug)]
pub struct Template {
    name: String,
    source: Arc<str>,
    trees: HashMap<String, Arc<List>>,
    missing_key_error: bool,
}

impl Template {
    /// Parses `source` as template `name`; `is_func` says which function names exist.
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
            missing_key_error: options.error_on_missing_key,
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
