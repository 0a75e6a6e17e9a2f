//! `toTOML`: the encoder upstream calls (`github.com/BurntSushi/toml` v1.5 `Encoder` with its
//! default two-space indent), written out for our values so the bytes match: in every table the
//! plain keys first, then the sub-tables, each group in key order; a sub-table's header and keys
//! indented two spaces per level below the top; nil values left out; arrays of tables as
//! `[[key]]`; other arrays and tables inside arrays inline (`[1.0, 2.0]`, `{a = 1}`); floats in
//! Go's shortest form with `.0` added when integral; strings in basic quotes with Go's escapes.
//! The `toml` crate orders and indents differently, so it cannot give the same bytes.

use super::{arity, Env};
use crate::dependency::gonil;
use gotemplate::{FuncError, Value};

pub(super) fn to_toml(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let mut enc = Encoder::default();
    enc.encode(&[], &args[0])
        .map_err(|e| FuncError::call(format!("toTOML: toml: {e}")))?;
    Ok(Value::str(enc.out.trim()))
}

#[derive(Default)]
struct Encoder {
    out: String,
    written: bool,
}

fn is_nil(v: &Value) -> bool {
    matches!(v, Value::Nil) || gonil::is_nil(v)
}

/// A table (written under a header) or an array of tables (`[[key]]`).
fn is_table(v: &Value) -> Result<bool, String> {
    Ok(match v {
        _ if is_nil(v) => false,
        Value::Map(_) | Value::Struct(_) | Value::Object(_) => true,
        Value::List(items) => is_table_array(items)?,
        _ => false,
    })
}

fn is_table_array(items: &[Value]) -> Result<bool, String> {
    if items.is_empty() {
        return Ok(false);
    }
    let mut all = true;
    for item in items {
        if matches!(item, Value::Nil) {
            return Err("cannot encode array with nil element".into());
        }
        if !matches!(item, Value::Map(_) | Value::Struct(_) | Value::Object(_)) {
            all = false;
        }
    }
    Ok(all)
}

/// The members of a table: map entries or struct fields (an opaque object has none).
fn members(v: &Value) -> Vec<(&str, &Value)> {
    match v {
        Value::Map(m) => m.entries.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Value::Struct(s) => s.fields.iter().map(|(k, v)| (*k, v)).collect(),
        _ => Vec::new(),
    }
}

fn bare(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn key_part(k: &str) -> String {
    if bare(k) {
        k.to_string()
    } else {
        quote(k)
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.into();
    }
    // Rust's `{}` is Go's FormatFloat(f, 'f', -1, 64): shortest digits, no exponent.
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

impl Encoder {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.write("\n");
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn dotted(key: &[String]) -> String {
        key.iter()
            .map(|k| key_part(k))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        match v {
            Value::Nil => Ok(()),
            Value::Map(_) if gonil::is_nil(v) => Ok(()),
            Value::Map(_) | Value::Struct(_) | Value::Object(_) => self.table(key, v),
            Value::List(items) if is_table_array(items)? => {
                if key.is_empty() {
                    return Err("top-level values must be Go maps or structs".into());
                }
                for item in items.iter() {
                    self.newline();
                    let header = format!("{}[[{}]]", Self::indent(key), Self::dotted(key));
                    self.write(&header);
                    self.newline();
                    self.members(key, item, false)?;
                }
                Ok(())
            }
            _ => self.key_value(key, v, false),
        }
    }

    fn table(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            let header = format!("{}[{}]", Self::indent(key), Self::dotted(key));
            self.write(&header);
            self.newline();
        }
        self.members(key, v, false)
    }

    /// `eMap`/`eStruct`: plain members first, then tables; inline as `{k = v, ...}`.
    fn members(&mut self, key: &[String], v: &Value, inline: bool) -> Result<(), String> {
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, val) in members(v) {
            if is_table(val)? {
                sub.push((k, val));
            } else {
                direct.push((k, val));
            }
        }
        if inline {
            self.write("{");
        }
        let trail = !sub.is_empty();
        for (group, trailing) in [(direct, trail), (sub, false)] {
            let n = group.len();
            for (i, (k, val)) in group.into_iter().enumerate() {
                if is_nil(val) {
                    continue;
                }
                if inline {
                    self.key_value(&[k.to_string()], val, true)?;
                    if trailing || i != n - 1 {
                        self.write(", ");
                    }
                } else {
                    let mut child = key.to_vec();
                    child.push(k.to_string());
                    self.encode(&child, val)?;
                }
            }
        }
        if inline {
            self.write("}");
        }
        Ok(())
    }

    fn key_value(&mut self, key: &[String], v: &Value, inline: bool) -> Result<(), String> {
        if let Some(last) = key.last() {
            let lead = format!("{}{} = ", Self::indent(key), key_part(last));
            self.write(&lead);
        }
        self.element(v)?;
        if !key.is_empty() && !inline {
            self.newline();
        }
        Ok(())
    }

    fn element(&mut self, v: &Value) -> Result<(), String> {
        match v {
            Value::Nil => return Err("unexpected type: <nil>".into()),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Int(i) => self.write(&i.to_string()),
            Value::Float(f) => self.write(&float(*f)),
            Value::Str(s) => self.write(&quote(s)),
            Value::List(items) => {
                self.write("[");
                for (i, item) in items.iter().enumerate() {
                    self.element(item)?;
                    if i != items.len() - 1 {
                        self.write(", ");
                    }
                }
                self.write("]");
            }
            Value::Map(_) | Value::Struct(_) | Value::Object(_) => self.members(&[], v, true)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn toml(v: &Value) -> String {
        let mut enc = Encoder::default();
        enc.encode(&[], v).unwrap();
        enc.out.trim().to_string()
    }

    #[test]
    fn nested_tables_indent_and_come_after_plain_keys() {
        let inner: BTreeMap<String, Value> = [("port".to_string(), Value::Float(80.0))]
            .into_iter()
            .collect();
        let top: BTreeMap<String, Value> = [
            ("z".to_string(), Value::str("last")),
            ("server".to_string(), Value::map(inner)),
            (
                "a b".to_string(),
                Value::list(vec![Value::Int(1), Value::Int(2)]),
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            toml(&Value::map(top)),
            "\"a b\" = [1, 2]\nz = \"last\"\n\n[server]\n  port = 80.0"
        );
    }
}
