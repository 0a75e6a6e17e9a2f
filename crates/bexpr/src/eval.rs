//! Evaluation of a parsed expression against one JSON item, following go-bexpr v0.1.2:
//!
//! - a selector walks objects by key; when it meets an array before its last part it tries
//!   every element and matches if any does (`Checks.Status == passing`);
//! - at the last part the operator applies to the value itself; arrays are not iterated there;
//! - a key absent from a map (or, without a field set, from any object), or a `null`, answers
//!   by operator: `==`, `in`, `is not empty` are false, the rest (including `matches`) true;
//! - with a field set, an absent or `null` struct field is its Go zero value instead, and the
//!   literal is converted to the field's declared type; without one, to the JSON value's type;
//! - `not` negates, `and`/`or` short-circuit, errors propagate.

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value;

use crate::ast::{Expr, Match, MatchOp};
use crate::error::EvalError;
use crate::schema::{FieldKind, Literal, Scalar};

pub(crate) struct Evaluator<'a> {
    pub(crate) regexes: &'a HashMap<String, Regex>,
}

impl Evaluator<'_> {
    pub(crate) fn eval(
        &self,
        expr: &Expr,
        item: &Value,
        kind: Option<&FieldKind>,
    ) -> Result<bool, EvalError> {
        match expr {
            Expr::Not(e) => Ok(!self.eval(e, item, kind)?),
            Expr::And(l, r) => Ok(self.eval(l, item, kind)? && self.eval(r, item, kind)?),
            Expr::Or(l, r) => Ok(self.eval(l, item, kind)? || self.eval(r, item, kind)?),
            Expr::Match(m) => self.walk(m, item, 0, kind),
        }
    }

    fn walk(
        &self,
        m: &Match,
        value: &Value,
        depth: usize,
        kind: Option<&FieldKind>,
    ) -> Result<bool, EvalError> {
        let kind = kind.filter(|k| !matches!(k, FieldKind::Opaque));
        if value.is_null() {
            return match kind {
                Some(k) => self.walk(m, &k.zero(), depth, Some(k)),
                None => Ok(m.op.missing_key_result()),
            };
        }
        let path = &m.selector.0;
        if depth == path.len() {
            return self.leaf(m, value, kind);
        }
        match value {
            Value::Array(items) => {
                let elem = match kind {
                    Some(FieldKind::List(e)) => Some(e.as_ref()),
                    _ => None,
                };
                for item in items {
                    if self.walk(m, item, depth, elem)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Value::Object(map) => {
                let seg = &path[depth];
                let child_kind = match kind {
                    Some(FieldKind::Struct(fields)) => fields.get(seg),
                    Some(FieldKind::Map(elem)) => Some(elem.as_ref()),
                    _ => None,
                };
                match (map.get(seg), kind) {
                    (Some(v), _) => self.walk(m, v, depth + 1, child_kind),
                    (None, Some(FieldKind::Struct(_))) => match child_kind {
                        Some(k) => self.walk(m, &k.zero(), depth + 1, Some(k)),
                        None => Ok(m.op.missing_key_result()),
                    },
                    (None, _) => Ok(m.op.missing_key_result()),
                }
            }
            other => Err(EvalError::NotNested {
                selector: path[..depth].join("."),
                kind: go_kind(other),
            }),
        }
    }

    fn leaf(&self, m: &Match, value: &Value, kind: Option<&FieldKind>) -> Result<bool, EvalError> {
        let raw = m.value.as_deref().unwrap_or_default();
        let positive = match m.op {
            MatchOp::Equal | MatchOp::NotEqual => {
                let scalar = kind
                    .and_then(FieldKind::scalar)
                    .or_else(|| infer(value))
                    .ok_or_else(|| invalid_op(m))?;
                let lit = coerce(m, scalar, raw)?;
                equals(&lit, value)
            }
            MatchOp::In | MatchOp::NotIn => match value {
                Value::Object(map) => map.contains_key(raw),
                Value::String(s) => s.contains(raw),
                Value::Array(items) => {
                    let declared = match kind {
                        Some(FieldKind::List(e)) => e.scalar(),
                        _ => None,
                    };
                    let mut found = false;
                    for item in items {
                        let Some(scalar) = declared.or_else(|| infer(item)) else {
                            return Err(invalid_op(m));
                        };
                        // Without a declared type a literal that does not convert to this
                        // element's type cannot equal it.
                        let lit = match (declared, scalar.coerce(raw)) {
                            (_, Ok(lit)) => lit,
                            (Some(_), Err(reason)) => return Err(coerce_error(m, raw, reason)),
                            (None, Err(_)) => continue,
                        };
                        if equals(&lit, item) {
                            found = true;
                            break;
                        }
                    }
                    found
                }
                _ => return Err(invalid_op(m)),
            },
            MatchOp::IsEmpty | MatchOp::IsNotEmpty => match value {
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => return Err(invalid_op(m)),
            },
            MatchOp::Matches | MatchOp::NotMatches => match (value, self.regexes.get(raw)) {
                (Value::String(s), Some(re)) => re.is_match(s),
                _ => return Err(invalid_op(m)),
            },
        };
        Ok(if m.op.is_negated() {
            !positive
        } else {
            positive
        })
    }
}

/// The field type a JSON scalar stands for when no field set says.
fn infer(value: &Value) -> Option<Scalar> {
    match value {
        Value::String(_) => Some(Scalar::String),
        Value::Bool(_) => Some(Scalar::Bool),
        Value::Number(n) if n.is_i64() => Some(Scalar::Int),
        Value::Number(n) if n.is_u64() => Some(Scalar::Uint),
        Value::Number(_) => Some(Scalar::Float),
        _ => None,
    }
}

fn equals(lit: &Literal, value: &Value) -> bool {
    match lit {
        Literal::String(s) => value.as_str() == Some(s.as_str()),
        Literal::Bool(b) => value.as_bool() == Some(*b),
        Literal::Int(i) => match value.as_i64() {
            Some(v) => v == *i,
            None => value.as_f64() == Some(*i as f64),
        },
        Literal::Uint(u) => match value.as_u64() {
            Some(v) => v == *u,
            None => value.as_f64() == Some(*u as f64),
        },
        Literal::Float(f) => value.as_f64() == Some(*f),
    }
}

fn coerce(m: &Match, scalar: Scalar, raw: &str) -> Result<Literal, EvalError> {
    scalar
        .coerce(raw)
        .map_err(|reason| coerce_error(m, raw, reason))
}

fn coerce_error(m: &Match, raw: &str, reason: String) -> EvalError {
    EvalError::Coerce {
        value: raw.to_owned(),
        selector: m.selector.to_string(),
        reason,
    }
}

fn invalid_op(m: &Match) -> EvalError {
    EvalError::InvalidOperator {
        op: m.op.name(),
        selector: m.selector.to_string(),
    }
}

/// The Go kind name a JSON scalar would have had.
fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::Null => "invalid",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}
