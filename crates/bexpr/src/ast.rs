//! The syntax tree a filter expression parses into: boolean connectives over match expressions,
//! each a selector path, one of eight match operators and (for most operators) a raw value.
//!
//! Values stay raw text until validation or evaluation coerces them to the type of the field they
//! are compared with, exactly as go-bexpr keeps `MatchValue.Raw`.

use std::fmt;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `not <expr>`
    Not(Box<Expr>),
    /// `<expr> and <expr>`
    And(Box<Expr>, Box<Expr>),
    /// `<expr> or <expr>`
    Or(Box<Expr>, Box<Expr>),
    /// A single match such as `Service.Tags contains "web"`.
    Match(Match),
}

/// One match expression: `selector operator value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub selector: Selector,
    pub op: MatchOp,
    /// The raw literal; `None` for `is empty` / `is not empty`.
    pub value: Option<String>,
}

/// A path into the item: `Service.Meta["some-key"]` is `["Service", "Meta", "some-key"]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector(pub Vec<String>);

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// The match operators. `contains` parses to [`MatchOp::In`] and `not contains` to
/// [`MatchOp::NotIn`], as in go-bexpr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
    Matches,
    NotMatches,
}

impl MatchOp {
    /// The operator's name as go-bexpr prints it in error messages (`"Not In"`).
    pub fn name(self) -> &'static str {
        match self {
            MatchOp::Equal => "Equal",
            MatchOp::NotEqual => "Not Equal",
            MatchOp::In => "In",
            MatchOp::NotIn => "Not In",
            MatchOp::IsEmpty => "Is Empty",
            MatchOp::IsNotEmpty => "Is Not Empty",
            MatchOp::Matches => "Matches",
            MatchOp::NotMatches => "Not Matches",
        }
    }

    /// Whether this operator is the negation of a positive one.
    pub(crate) fn is_negated(self) -> bool {
        matches!(
            self,
            MatchOp::NotEqual | MatchOp::NotIn | MatchOp::IsNotEmpty | MatchOp::NotMatches
        )
    }

    /// The result when the selector names a map key that is absent (go-bexpr v0.1.2): equality,
    /// `in` and `is not empty` are false; every other operator, `matches` included, is true.
    pub(crate) fn missing_key_result(self) -> bool {
        !matches!(self, MatchOp::Equal | MatchOp::In | MatchOp::IsNotEmpty)
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
