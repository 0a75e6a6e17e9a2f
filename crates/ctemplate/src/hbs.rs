//! The handlebars front end (`.hbs` templates). The same function set is registered as
//! handlebars helpers: parameters are converted from JSON to [`Value`]s, the function is
//! called through the shared [`Env`] (so dependencies are recorded exactly as for Go
//! syntax), and the result is converted back to JSON. Output is not HTML-escaped, as
//! consul-template writes configuration files, not HTML.
//!
//! Architecture invariant: this is the only module that names the `handlebars` crate. It
//! knows the function set, not the engine façade ([`crate::engine`] calls it, not the other
//! way round).

use std::sync::Mutex;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};

use crate::funcs::{self, Env};
use gotemplate::{FuncError, Value};

/// A handlebars compile or render error (its text without a prefix).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct HbsError(String);

/// Handlebars built-ins that the function set must not replace.
const RESERVED: &[&str] = &["each", "if", "unless", "with", "lookup", "raw", "log"];

/// A compiled handlebars template.
#[derive(Debug, Clone)]
pub(crate) struct HbsTemplate {
    name: String,
    template: handlebars::Template,
}

struct FuncHelper<'a, 's> {
    name: &'static str,
    env: &'a Mutex<Env<'s>>,
}

impl HelperDef for FuncHelper<'_, '_> {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let args: Vec<Value> = h
            .params()
            .iter()
            .map(|p| json_to_value(p.value()))
            .collect();
        let mut env = match self.env.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        match env.call_func(self.name, args) {
            Ok(v) => Ok(ScopedJson::Derived(v.to_json())),
            Err(FuncError::Arity(tail)) => Err(RenderErrorReason::Other(format!(
                "wrong number of args for {}: {tail}",
                self.name
            ))
            .into()),
            Err(FuncError::Call(msg)) => {
                Err(RenderErrorReason::Other(format!("error calling {}: {msg}", self.name)).into())
            }
        }
    }
}

/// JSON → value, keeping integers as integers (handlebars literals are JSON numbers).
fn json_to_value(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::Array(a) => Value::list(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::map(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
        other => Value::from_json(other),
    }
}

impl HbsTemplate {
    pub(crate) fn compile(name: &str, source: &str) -> Result<HbsTemplate, HbsError> {
        let template =
            handlebars::Template::compile(source).map_err(|e| HbsError(format!("{name}: {e}")))?;
        Ok(HbsTemplate {
            name: name.to_string(),
            template,
        })
    }

    /// Renders with `env` as the function environment, which comes back with the
    /// dependencies the execution recorded.
    pub(crate) fn execute<'s>(&self, env: Env<'s>) -> Result<(String, Env<'s>), HbsError> {
        let env = Mutex::new(env);
        let output = {
            let mut hb = Handlebars::new();
            hb.register_escape_fn(handlebars::no_escape);
            for name in funcs::names() {
                if RESERVED.contains(&name) || name == "executeTemplate" {
                    continue;
                }
                hb.register_helper(name, Box::new(FuncHelper { name, env: &env }));
            }
            hb.register_template(&self.name, self.template.clone());
            hb.render(&self.name, &serde_json::Value::Null)
                .map_err(|e| HbsError(e.to_string()))?
        };
        let env = match env.into_inner() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok((output, env))
    }
}
