//! HashiCorp's boolean filter expression language (go-bexpr, as Consul's `?filter=` uses it),
//! evaluated against `serde_json::Value` items.
//!
//! ```
//! use bexpr::{FieldSet, Filter};
//! use serde_json::json;
//!
//! let fields = FieldSet::new()
//!     .string("Node")
//!     .strings("ServiceTags")
//!     .string_map("NodeMeta");
//! let filter = Filter::new(r#"ServiceTags contains "web" and NodeMeta.env == prod"#, &fields)?;
//! let item = json!({"Node": "n1", "ServiceTags": ["web"], "NodeMeta": {"env": "prod"}});
//! assert!(filter.matches(&item)?);
//!
//! let err = Filter::new("Nope == 1", &fields).unwrap_err();
//! assert_eq!(err.to_string(), r#"Selector "Nope" is not valid"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The language and its messages follow go-bexpr **v0.1.2**, the version Consul vendors (not
//! go-bexpr's newer JSON-pointer selectors, `any`/`all` or `is nil`). The crate is pure: no I/O.
//!
//! Module map: [`ast`] the tree; `parser` the grammar and its pigeon-shaped errors; `schema` the
//! [`FieldSet`] standing in for Go's reflected types; `eval` matching against JSON; `go` the Go
//! `strconv` behaviour the messages and coercions depend on; `error` the error types.

pub mod ast;
mod error;
mod eval;
mod go;
mod parser;
mod schema;

use std::collections::HashMap;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

pub use error::{Error, EvalError, ParseError, CONSUL_ERROR_PREFIX};
pub use schema::{FieldKind, FieldSet};

use ast::{Expr, MatchOp};

/// A compiled filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    expression: String,
    /// `None` for the empty expression, which matches everything (Consul's "no filter").
    expr: Option<Expr>,
    /// The item type, when a non-empty field set was given.
    schema: Option<FieldKind>,
    regexes: HashMap<String, Regex>,
}

impl Filter {
    /// Parses `expression` and checks it against the item type `fields`, as Consul's
    /// `bexpr.CreateFilter(expr, nil, items)` does: unknown selectors, operators the field's
    /// type does not support and literals that do not convert are errors here. An empty
    /// `fields` skips those checks (go-bexpr does the same for a type with no fields). The
    /// empty expression is the filter that keeps everything.
    pub fn new(expression: &str, fields: &FieldSet) -> Result<Self, Error> {
        let expr = if expression.is_empty() {
            None
        } else {
            let expr = parser::parse(expression)?;
            if !fields.is_empty() {
                schema::validate(&expr, fields)?;
            }
            Some(expr)
        };
        let mut regexes = HashMap::new();
        if let Some(expr) = &expr {
            compile_regexes(expr, &mut regexes)?;
        }
        Ok(Filter {
            expression: expression.to_owned(),
            expr,
            schema: (!fields.is_empty()).then(|| FieldKind::Struct(fields.clone())),
            regexes,
        })
    }

    /// Parses `expression` without a field set: selectors are checked against each item's JSON
    /// while it is evaluated.
    pub fn parse(expression: &str) -> Result<Self, Error> {
        Self::new(expression, &FieldSet::new())
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The parsed expression; `None` for the empty expression.
    pub fn ast(&self) -> Option<&Expr> {
        self.expr.as_ref()
    }

    /// Whether `item` (one element of the endpoint's answer, as JSON) passes the filter.
    pub fn matches(&self, item: &Value) -> Result<bool, EvalError> {
        let Some(expr) = &self.expr else {
            return Ok(true);
        };
        let evaluator = eval::Evaluator {
            regexes: &self.regexes,
        };
        evaluator.eval(expr, item, self.schema.as_ref())
    }

    /// Keeps the items that pass.
    pub fn retain(&self, items: &mut Vec<Value>) -> Result<(), EvalError> {
        let mut result = Ok(());
        items.retain(|item| match (&result, self.matches(item)) {
            (Err(_), _) => false,
            (Ok(()), Ok(keep)) => keep,
            (Ok(()), Err(e)) => {
                result = Err(e);
                false
            }
        });
        result
    }

    /// Keeps the items whose JSON form passes; the first evaluation error wins.
    pub fn apply<T: Serialize>(&self, items: Vec<T>) -> Result<Vec<T>, EvalError> {
        if self.expr.is_none() {
            return Ok(items);
        }
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            let json =
                serde_json::to_value(&item).map_err(|e| EvalError::Serialize(e.to_string()))?;
            if self.matches(&json)? {
                kept.push(item);
            }
        }
        Ok(kept)
    }
}

fn compile_regexes(expr: &Expr, out: &mut HashMap<String, Regex>) -> Result<(), Error> {
    match expr {
        Expr::Not(e) => compile_regexes(e, out),
        Expr::And(l, r) | Expr::Or(l, r) => {
            compile_regexes(l, out)?;
            compile_regexes(r, out)
        }
        Expr::Match(m) => {
            if !matches!(m.op, MatchOp::Matches | MatchOp::NotMatches) {
                return Ok(());
            }
            let pattern = m.value.clone().unwrap_or_default();
            if out.contains_key(&pattern) {
                return Ok(());
            }
            let re = Regex::new(&pattern).map_err(|e| Error::Regex {
                pattern: pattern.clone(),
                reason: regex_reason(&e),
            })?;
            out.insert(pattern, re);
            Ok(())
        }
    }
}

/// A one-line reason in the spirit of Go's `error parsing regexp: ...`.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .trim_start_matches("error: ");
    format!("error parsing regexp: {last}")
}
