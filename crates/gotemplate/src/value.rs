//! The dynamic value model templates compute with.
//!
//! Go templates work on `interface{}` values inspected by reflection; this module is the Rust
//! stand-in: nil, bool, integers, floats, strings, lists, maps (always iterated in key order, as
//! Go's `range` and `fmt` do), structs (named fields in declaration order, like the Go types a
//! program exposes) and opaque objects with methods (consul-template's `scratch`). Values are
//! cheap to clone (`Arc` inside) and `Send + Sync`, so a caller can keep them across tasks.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Element kind of a map, used where Go would produce the zero value of the element type
/// (`index` on a missing key: `""` for `map[string]string`, nil for `map[string]interface{}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Elem {
    /// `map[string]interface{}`.
    #[default]
    Any,
    /// `map[string]string`.
    Str,
}

/// A Go map with string keys.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map {
    /// Entries, ordered by key as Go's `range` and `fmt` order them.
    pub entries: BTreeMap<String, Value>,
    /// The static element type.
    pub elem: Elem,
}

/// A Go struct value: a type name for messages and fields in declaration order.
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    /// Go type name used in error messages, e.g. `dependency.HealthService`.
    pub type_name: &'static str,
    /// Field names and values in declaration order.
    pub fields: Vec<(&'static str, Value)>,
    /// Whether Go holds this as a pointer (`%v` prints `&{...}`).
    pub pointer: bool,
}

impl Struct {
    /// The value of a field by its Go name.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// A value the engine cannot look into: templates reach it only through its methods
/// (`.Method args`), which the function table's [`crate::Funcs::call_method`] provides.
pub trait Object: fmt::Debug + Send + Sync + 'static {
    /// The Go type name in messages, e.g. `*template.Scratch`.
    fn type_name(&self) -> &str;
    /// What Go's `%v` prints for it.
    fn format_v(&self) -> String;
    /// The object itself, for the function table to downcast.
    fn as_any(&self) -> &dyn Any;
}

/// A template value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Go's nil (also stands for the "invalid" reflect value of a missing map key).
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// Any Go integer type.
    Int(i64),
    /// `float64`.
    Float(f64),
    /// `string`.
    Str(Arc<str>),
    /// A slice.
    List(Arc<Vec<Value>>),
    /// A map with string keys.
    Map(Arc<Map>),
    /// A struct (or pointer to struct).
    Struct(Arc<Struct>),
    /// An opaque object with methods.
    Object(Arc<dyn Object>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a.entries == b.entries,
            (Value::Struct(a), Value::Struct(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Arc::from(s.as_ref()))
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// A `map[string]interface{}` value.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map {
            entries,
            elem: Elem::Any,
        }))
    }

    /// A `map[string]string` value.
    pub fn str_map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map {
            entries,
            elem: Elem::Str,
        }))
    }

    /// A pointer-to-struct value.
    pub fn object(type_name: &'static str, fields: Vec<(&'static str, Value)>) -> Value {
        Value::Struct(Arc::new(Struct {
            type_name,
            fields,
            pointer: true,
        }))
    }

    /// A struct value held by value (printed without `&`).
    pub fn record(type_name: &'static str, fields: Vec<(&'static str, Value)>) -> Value {
        Value::Struct(Arc::new(Struct {
            type_name,
            fields,
            pointer: false,
        }))
    }

    /// Go's truthiness: false, 0, "", empty list/map and nil are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Struct(_) | Value::Object(_) => true,
        }
    }

    /// The Go type name, for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(m) => match m.elem {
                Elem::Any => "map[string]interface {}".into(),
                Elem::Str => "map[string]string".into(),
            },
            Value::Struct(s) if s.pointer => format!("*{}", s.type_name),
            Value::Struct(s) => s.type_name.to_string(),
            Value::Object(o) => o.type_name().to_string(),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Converts a JSON document into values the way Go's `encoding/json` decodes into
    /// `interface{}` (numbers become float64).
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON (structs become objects in field order).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil | Value::Object(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.to_string()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(
                m.entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Struct(s) => J::Object(
                s.fields
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Arc::from(s))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Self {
        Value::list(l)
    }
}

impl fmt::Display for Value {
    /// Go's `fmt` `%v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::gofmt::format_v(self))
    }
}
