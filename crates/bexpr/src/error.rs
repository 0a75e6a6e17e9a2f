//! Errors, worded as go-bexpr v0.1.2 words them so Consul's HTTP 400 bodies come out the same.
//!
//! [`Error`] is what creating a filter can fail with; Consul prefixes its text with
//! [`CONSUL_ERROR_PREFIX`]. [`EvalError`] is what evaluating one can fail with; with a
//! [`FieldSet`](crate::FieldSet) those failures are caught at creation instead, as in Consul.

use thiserror::Error;

/// The text Consul puts in front of a filter creation error
/// (`bexpr.CreateFilter` wraps its evaluator error with it).
pub const CONSUL_ERROR_PREFIX: &str = "Failed to create boolean expression evaluator: ";

/// A syntax error: one or more pigeon-style lines such as
/// `1:7 (6): no match found, expected: ...` or `1:9 (8): rule "number": Invalid number literal`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ParseError {
    pub(crate) message: String,
}

/// Why a filter expression could not be created.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A selector names no field of the item type; `selector` is the prefix up to the bad part.
    #[error("Selector {} is not valid", api_types::go_quote(selector))]
    InvalidSelector { selector: String },
    /// The field exists but the operator does not apply to its type.
    #[error(
        "Invalid match operator {} for selector {}",
        api_types::go_quote(op),
        api_types::go_quote(selector)
    )]
    InvalidOperator { op: &'static str, selector: String },
    /// The literal cannot be converted to the field's type.
    #[error(
        "Failed to coerce value {} for selector {}: {reason}",
        api_types::go_quote(value),
        api_types::go_quote(selector)
    )]
    Coerce {
        value: String,
        selector: String,
        reason: String,
    },
    /// The right-hand side of `matches` is not a valid regular expression.
    #[error(
        "Failed to compile regular expression {}: {reason}",
        api_types::go_quote(pattern)
    )]
    Regex { pattern: String, reason: String },
}

impl Error {
    /// The full message Consul answers with (HTTP 400):
    /// `Failed to create boolean expression evaluator: <this error>`.
    pub fn consul_message(&self) -> String {
        format!("{CONSUL_ERROR_PREFIX}{self}")
    }
}

/// Why evaluating a filter against one item failed. Only possible for data that does not fit
/// the expression: without a [`FieldSet`](crate::FieldSet) the expression is checked against
/// each item's JSON shape while it is evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalError {
    /// The operator does not apply to the JSON type found at the selector.
    #[error(
        "Invalid match operator {} for selector {}",
        api_types::go_quote(op),
        api_types::go_quote(selector)
    )]
    InvalidOperator { op: &'static str, selector: String },
    /// The literal cannot be converted to the type of the value found at the selector.
    #[error(
        "Failed to coerce value {} for selector {}: {reason}",
        api_types::go_quote(value),
        api_types::go_quote(selector)
    )]
    Coerce {
        value: String,
        selector: String,
        reason: String,
    },
    /// The selector continues past a scalar.
    #[error(
        "Value at selector {} with type {kind} does not support nested field selection",
        api_types::go_quote(selector)
    )]
    NotNested {
        selector: String,
        kind: &'static str,
    },
    /// An item could not be turned into JSON (only from [`Filter::apply`](crate::Filter::apply)).
    #[error("item is not representable as JSON: {0}")]
    Serialize(String),
}
