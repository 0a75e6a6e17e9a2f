//! Field sets: the shape of the item type an endpoint filters, standing in for the Go struct
//! go-bexpr v0.1.2 reflects over. From it come the three creation-time checks Consul makes:
//! every selector names a field, the operator applies to that field's type, and the literal
//! converts to that type. Evaluation also uses it to give absent or `null` struct fields their
//! Go zero value.
//!
//! What each kind allows mirrors go-bexpr's generated field configurations:
//!
//! | kind | operators | selecting further |
//! |---|---|---|
//! | `String` | `==` `!=` `in`/`contains` (substring) `matches` (and negations) | no |
//! | `Bool`, `Int`, `Uint`, `Float` | `==` `!=` | no |
//! | `List(scalar)` | `in`/`contains`, `is empty` (and negations) | no |
//! | `List(other)` | `is empty`, `is not empty` | into the element's fields; matches if any element does |
//! | `Map(v)` | `is empty`, `in`/`contains` (key presence) (and negations) | any key, then as `v` |
//! | `Struct(fields)` | none | into `fields` |
//! | `Opaque` | none (as a map or list element); not selectable as a struct field | no |
//!
//! A struct field may be listed under several names (go-bexpr's `bexpr:"a,b"` tags); fields the
//! Go type hides (`bexpr:"-"`, unexported) are simply left out.

use std::collections::BTreeMap;

use crate::ast::{Expr, Match, MatchOp};
use crate::error::Error;
use crate::go;

/// The type of one field of an item.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    String,
    Bool,
    /// Any signed Go integer (`int`, `int64`, durations in nanoseconds, ...).
    Int,
    /// Any unsigned Go integer (`uint64` indexes, ...).
    Uint,
    Float,
    /// A Go slice or array.
    List(Box<FieldKind>),
    /// A Go `map[string]V`.
    Map(Box<FieldKind>),
    /// A nested Go struct (or pointer to one).
    Struct(FieldSet),
    /// A value with no filterable shape (`interface{}`).
    Opaque,
}

impl FieldKind {
    /// `[]kind`
    pub fn list(kind: FieldKind) -> Self {
        FieldKind::List(Box::new(kind))
    }

    /// `map[string]kind`
    pub fn map(kind: FieldKind) -> Self {
        FieldKind::Map(Box::new(kind))
    }

    pub(crate) fn scalar(&self) -> Option<Scalar> {
        match self {
            FieldKind::String => Some(Scalar::String),
            FieldKind::Bool => Some(Scalar::Bool),
            FieldKind::Int => Some(Scalar::Int),
            FieldKind::Uint => Some(Scalar::Uint),
            FieldKind::Float => Some(Scalar::Float),
            _ => None,
        }
    }

    /// The Go zero value, as JSON: what an absent or `null` field of this kind behaves as.
    pub(crate) fn zero(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            FieldKind::String => Value::String(String::new()),
            FieldKind::Bool => Value::Bool(false),
            FieldKind::Int | FieldKind::Uint => Value::from(0),
            FieldKind::Float => Value::from(0.0),
            FieldKind::List(_) => Value::Array(Vec::new()),
            FieldKind::Map(_) | FieldKind::Struct(_) => Value::Object(serde_json::Map::new()),
            FieldKind::Opaque => Value::Null,
        }
    }
}

/// The fields of one item type (a Go struct): name to kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    fields: BTreeMap<String, FieldKind>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a field.
    pub fn field(mut self, name: impl Into<String>, kind: FieldKind) -> Self {
        self.fields.insert(name.into(), kind);
        self
    }

    pub fn string(self, name: impl Into<String>) -> Self {
        self.field(name, FieldKind::String)
    }

    pub fn bool(self, name: impl Into<String>) -> Self {
        self.field(name, FieldKind::Bool)
    }

    pub fn int(self, name: impl Into<String>) -> Self {
        self.field(name, FieldKind::Int)
    }

    pub fn uint(self, name: impl Into<String>) -> Self {
        self.field(name, FieldKind::Uint)
    }

    pub fn float(self, name: impl Into<String>) -> Self {
        self.field(name, FieldKind::Float)
    }

    /// A `[]string` field.
    pub fn strings(self, name: impl Into<String>) -> Self {
        self.field(name, FieldKind::list(FieldKind::String))
    }

    /// A `map[string]string` field.
    pub fn string_map(self, name: impl Into<String>) -> Self {
        self.field(name, FieldKind::map(FieldKind::String))
    }

    /// A nested struct field.
    pub fn nested(self, name: impl Into<String>, fields: FieldSet) -> Self {
        self.field(name, FieldKind::Struct(fields))
    }

    pub fn get(&self, name: &str) -> Option<&FieldKind> {
        self.fields.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Field names and kinds, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldKind)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// A primitive field type a literal can be coerced to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    String,
    Bool,
    Int,
    Uint,
    Float,
}

/// A literal converted to a field's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    String(String),
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl Scalar {
    /// go-bexpr's `Coerce*` functions; the error is Go's `strconv` error text.
    pub(crate) fn coerce(self, raw: &str) -> Result<Literal, String> {
        Ok(match self {
            Scalar::String => Literal::String(raw.to_owned()),
            Scalar::Bool => Literal::Bool(go::parse_bool(raw)?),
            Scalar::Int => Literal::Int(go::parse_int(raw)?),
            Scalar::Uint => Literal::Uint(go::parse_uint(raw)?),
            Scalar::Float => Literal::Float(go::parse_float(raw)?),
        })
    }
}

/// Where a selector may go after a field.
#[derive(Clone, Copy)]
enum Next<'a> {
    Nowhere,
    Fields(&'a FieldSet),
    AnyKey(&'a FieldKind),
}

/// go-bexpr's `FieldConfiguration` for one field.
struct Config<'a> {
    ops: &'static [MatchOp],
    coerce: Option<Scalar>,
    next: Next<'a>,
}

const STRING_OPS: &[MatchOp] = &[
    MatchOp::Equal,
    MatchOp::NotEqual,
    MatchOp::In,
    MatchOp::NotIn,
    MatchOp::Matches,
    MatchOp::NotMatches,
];
const SCALAR_OPS: &[MatchOp] = &[MatchOp::Equal, MatchOp::NotEqual];
const SCALAR_LIST_OPS: &[MatchOp] = &[
    MatchOp::In,
    MatchOp::NotIn,
    MatchOp::IsEmpty,
    MatchOp::IsNotEmpty,
];
const EMPTY_OPS: &[MatchOp] = &[MatchOp::IsEmpty, MatchOp::IsNotEmpty];
const MAP_OPS: &[MatchOp] = &[
    MatchOp::IsEmpty,
    MatchOp::IsNotEmpty,
    MatchOp::In,
    MatchOp::NotIn,
];

fn config(kind: &FieldKind) -> Option<Config<'_>> {
    let cfg = match kind {
        FieldKind::String => Config {
            ops: STRING_OPS,
            coerce: Some(Scalar::String),
            next: Next::Nowhere,
        },
        FieldKind::Bool | FieldKind::Int | FieldKind::Uint | FieldKind::Float => Config {
            ops: SCALAR_OPS,
            coerce: kind.scalar(),
            next: Next::Nowhere,
        },
        FieldKind::List(elem) => match elem.scalar() {
            Some(s) => Config {
                ops: SCALAR_LIST_OPS,
                coerce: Some(s),
                next: Next::Nowhere,
            },
            None => Config {
                ops: EMPTY_OPS,
                coerce: None,
                next: config(elem).map_or(Next::Nowhere, |c| c.next),
            },
        },
        FieldKind::Map(elem) => Config {
            ops: MAP_OPS,
            coerce: Some(Scalar::String),
            next: match config(elem) {
                Some(_) => Next::AnyKey(elem),
                None => Next::Nowhere,
            },
        },
        FieldKind::Struct(fields) => Config {
            ops: &[],
            coerce: None,
            next: Next::Fields(fields),
        },
        FieldKind::Opaque => return None,
    };
    Some(cfg)
}

/// Checks every match expression against `fields`, in source order, as go-bexpr's `validate`.
pub(crate) fn validate(expr: &Expr, fields: &FieldSet) -> Result<(), Error> {
    match expr {
        Expr::Not(e) => validate(e, fields),
        Expr::And(l, r) | Expr::Or(l, r) => {
            validate(l, fields)?;
            validate(r, fields)
        }
        Expr::Match(m) => validate_match(m, fields),
    }
}

fn validate_match(m: &Match, fields: &FieldSet) -> Result<(), Error> {
    let path = &m.selector.0;
    let mut next = Next::Fields(fields);
    let mut last: Option<Config<'_>> = None;
    for (i, seg) in path.iter().enumerate() {
        let kind = match next {
            Next::Fields(fs) => fs.get(seg),
            Next::AnyKey(k) => Some(k),
            Next::Nowhere => None,
        };
        let Some(cfg) = kind.and_then(config) else {
            return Err(Error::InvalidSelector {
                selector: path[..=i].join("."),
            });
        };
        next = cfg.next;
        last = Some(cfg);
    }
    let Some(cfg) = last else {
        return Err(Error::InvalidSelector {
            selector: String::new(),
        });
    };
    let selector = m.selector.to_string();
    if !cfg.ops.contains(&m.op) {
        return Err(Error::InvalidOperator {
            op: m.op.name(),
            selector,
        });
    }
    if let (Some(raw), Some(scalar)) = (&m.value, cfg.coerce) {
        scalar.coerce(raw).map_err(|reason| Error::Coerce {
            value: raw.clone(),
            selector,
            reason,
        })?;
    }
    Ok(())
}
