//! The template engine façade: compile a template in Go syntax or handlebars once, execute it
//! against a [`Store`] as often as data changes. Each execution gets a fresh function
//! environment (fresh `scratch`, nil dot) and reports the dependencies it used and those that
//! had no data, following upstream's n-pass model: output is only usable when nothing is
//! missing.

use crate::dependency::Dependency;
use crate::funcs::{self, Env, FuncOptions, Store};
use crate::hbs::{HbsError, HbsTemplate};
use gotemplate::{Options, Template, TemplateError, Value};

/// Which front end parses a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Go `text/template` (consul-template's language).
    Go,
    /// Handlebars (`.hbs` sources).
    Handlebars,
}

impl Syntax {
    /// Handlebars for `*.hbs` / `*.handlebars` paths, Go otherwise.
    pub fn for_path(path: &str) -> Syntax {
        if path.ends_with(".hbs") || path.ends_with(".handlebars") {
            Syntax::Handlebars
        } else {
            Syntax::Go
        }
    }
}

/// Errors from compiling or executing a template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// Go-syntax parse or execution error (message formatted like Go's).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Handlebars compile or render error.
    #[error("handlebars: {0}")]
    Handlebars(#[from] HbsError),
}

/// The result of one execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Rendered text (only meaningful when `missing` is empty).
    pub output: String,
    /// Dependencies the template used, in first-use order.
    pub used: Vec<Dependency>,
    /// Used dependencies that had no data yet.
    pub missing: Vec<Dependency>,
}

impl Execution {
    /// Whether every dependency had data, i.e. the output may be written.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

#[derive(Debug)]
enum Front {
    Go(Template),
    Hbs(HbsTemplate),
}

/// A compiled template.
#[derive(Debug)]
pub struct CompiledTemplate {
    front: Front,
    funcs: FuncOptions,
}

impl CompiledTemplate {
    /// Compiles `source` named `name` (used in error messages).
    pub fn compile(
        name: &str,
        source: &str,
        syntax: Syntax,
        options: &Options,
        funcs: FuncOptions,
    ) -> Result<CompiledTemplate, EngineError> {
        let front = match syntax {
            Syntax::Go => Front::Go(Template::parse(name, source, options, &funcs::exists)?),
            Syntax::Handlebars => Front::Hbs(HbsTemplate::compile(name, source)?),
        };
        Ok(CompiledTemplate { front, funcs })
    }

    /// Executes with nil dot against `store`.
    pub fn execute(&self, store: &dyn Store) -> Result<Execution, EngineError> {
        let mut env = Env::new(store, &self.funcs);
        let output = match &self.front {
            Front::Go(t) => t.execute(&Value::Nil, &mut env)?,
            Front::Hbs(t) => {
                let (output, back) = t.execute(env)?;
                env = back;
                output
            }
        };
        let (used, missing) = env.into_deps();
        Ok(Execution {
            output,
            used,
            missing,
        })
    }
}

/// Convenience: compile a Go-syntax template with default options and execute it once.
pub fn render(name: &str, source: &str, store: &dyn Store) -> Result<Execution, EngineError> {
    CompiledTemplate::compile(
        name,
        source,
        Syntax::Go,
        &Options::default(),
        FuncOptions::default(),
    )?
    .execute(store)
}
