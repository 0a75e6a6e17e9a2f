//! Encoders: `toJSON`/`toJSONPretty` reproduce Go's `encoding/json` byte for byte (sorted map
//! keys, struct fields in declaration order, HTML escaping, Go float formatting);
//! `toUnescapedJSON*` skip the HTML escaping; `toYAML` follows `yaml.v2` conventions
//! (lower-cased struct field names, sorted map keys). Go's nil slices and maps
//! ([`crate::dependency::gonil`]) print `null`; the struct tags and custom marshalers of the
//! Go types templates see are in [`json_layout`].

use std::borrow::Cow;

use super::{arity, Func};
use crate::dependency::gonil;
use gotemplate::gofmt::format_float_g;
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("toJSON", |_, a| json_fn(a, true, false)),
    ("toJSONPretty", |_, a| json_fn(a, true, true)),
    ("toUnescapedJSON", |_, a| json_fn(a, false, false)),
    ("toUnescapedJSONPretty", |_, a| json_fn(a, false, true)),
    ("toYAML", to_yaml),
];

fn json_fn(args: Vec<Value>, escape_html: bool, pretty: bool) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    Ok(Value::str(go_json(&args[0], escape_html, pretty)?))
}

/// What Go's `json.Marshal` (or `MarshalIndent` with two spaces) prints for a value handed
/// to it by a template.
pub(super) fn go_json(v: &Value, escape_html: bool, pretty: bool) -> Result<String, FuncError> {
    let mut out = String::new();
    write_json(
        &mut out,
        v,
        escape_html,
        if pretty { Some(0) } else { None },
    )?;
    Ok(out)
}

/// Go's JSON number formatting for float64.
fn json_float(f: f64) -> Result<String, FuncError> {
    if !f.is_finite() {
        return Err(FuncError::call(format!(
            "json: unsupported value: {}",
            format_float_g(f)
        )));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // %e with the shortest digits, exponent without leading zero padding beyond one digit.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        let e = exp.unsigned_abs();
        return Ok(if e < 10 {
            format!("{mant}e{sign}0{e}")
        } else {
            format!("{mant}e{sign}{e}")
        }
        .replace("e-0", "e-"));
    }
    let s = format!("{f}");
    Ok(s)
}

fn write_str(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22 and later.
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(level) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str("  ");
        }
    }
}

/// Where a value sits, for Go's rule that a pointer-receiver `MarshalJSON` runs only on an
/// addressable value: what a template hands `toJSON` directly, and map values, are not
/// addressable; whatever is reached through a pointer or a slice element is.
#[derive(Clone, Copy)]
struct At {
    indent: Option<usize>,
    addressable: bool,
}

impl At {
    fn inner(self, addressable: bool) -> At {
        At {
            indent: self.indent.map(|l| l + 1),
            addressable,
        }
    }
}

fn write_json(
    out: &mut String,
    v: &Value,
    esc: bool,
    indent: Option<usize>,
) -> Result<(), FuncError> {
    write_value(
        out,
        v,
        esc,
        At {
            indent,
            addressable: false,
        },
    )
}

fn write_value(out: &mut String, v: &Value, esc: bool, at: At) -> Result<(), FuncError> {
    if gonil::is_nil(v) {
        out.push_str("null");
        return Ok(());
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) => write_str(out, s, esc),
        Value::List(items) => {
            let inner = at.inner(true);
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, inner.indent);
                write_value(out, item, esc, inner)?;
            }
            if !items.is_empty() {
                newline(out, at.indent);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let entries: Vec<(&str, Cow<'_, Value>)> = m
                .entries
                .iter()
                .map(|(k, v)| (k.as_str(), Cow::Borrowed(v)))
                .collect();
            write_object(out, &entries, esc, at, false)?;
        }
        Value::Struct(s) => {
            let entries = json_layout(s, at.addressable || s.pointer);
            write_object(out, &entries, esc, at, at.addressable || s.pointer)?;
        }
        Value::Object(_) => out.push_str("{}"),
    }
    Ok(())
}

/// The members Go's `encoding/json` writes for a struct: fields in declaration order, except
/// where the Go type's tags or `MarshalJSON` say otherwise:
/// - `api.HealthCheck`: `Namespace`, `Partition` and `PeerName` are `json:",omitempty"`;
/// - `api.LeafCert`: `CertPEM` and `PrivateKeyPEM` are `json:",omitempty"`;
/// - `api.CARoot`: `RootCertPEM` is `json:"RootCert"`;
/// - `api.HealthCheckDefinition` (durations held as Go prints them): addressable, its
///   `MarshalJSON` writes `Interval`, `Timeout` and `DeregisterCriticalServiceAfter` as
///   duration strings first (outer fields of an anonymous struct embedding the type), then the
///   embedded fields in order, the `*Duration` ones being `json:"-"` and the three readable ones
///   shadowed by the outer ones; not addressable, the plain struct is written and the readable
///   durations (whose `MarshalJSON` has a pointer receiver too) are nanoseconds.
fn json_layout(s: &gotemplate::value::Struct, addressable: bool) -> Vec<(&str, Cow<'_, Value>)> {
    let all = || s.fields.iter().map(|(k, v)| (*k, Cow::Borrowed(v)));
    const READABLE: [&str; 3] = ["Interval", "Timeout", "DeregisterCriticalServiceAfter"];
    match s.type_name {
        "api.HealthCheck" => all()
            .filter(|(k, v)| {
                !(matches!(*k, "Namespace" | "Partition" | "PeerName")
                    && v.as_str().is_some_and(str::is_empty))
            })
            .collect(),
        "api.LeafCert" => all()
            .filter(|(k, v)| {
                !(matches!(*k, "CertPEM" | "PrivateKeyPEM")
                    && v.as_str().is_some_and(str::is_empty))
            })
            .collect(),
        "api.CARoot" => all()
            .map(|(k, v)| (if k == "RootCertPEM" { "RootCert" } else { k }, v))
            .collect(),
        "api.HealthCheckDefinition" if addressable => {
            let mut out: Vec<(&str, Cow<'_, Value>)> = READABLE
                .iter()
                .filter_map(|name| s.field(name).map(|v| (*name, Cow::Borrowed(v))))
                .collect();
            out.extend(all().filter(|(k, _)| !READABLE.contains(k) && !k.ends_with("Duration")));
            out
        }
        "api.HealthCheckDefinition" => all()
            .filter(|(k, _)| !k.ends_with("Duration"))
            .map(|(k, v)| {
                if !READABLE.contains(&k) {
                    return (k, v);
                }
                let ns = v
                    .as_str()
                    .and_then(|d| api_types::parse_go_duration(d).ok())
                    .unwrap_or(0);
                (k, Cow::Owned(Value::Int(ns)))
            })
            .collect(),
        _ => all().collect(),
    }
}

fn write_object(
    out: &mut String,
    entries: &[(&str, Cow<'_, Value>)],
    esc: bool,
    at: At,
    fields_addressable: bool,
) -> Result<(), FuncError> {
    let inner = at.inner(fields_addressable);
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, inner.indent);
        write_str(out, k, esc);
        out.push(':');
        if at.indent.is_some() {
            out.push(' ');
        }
        write_value(out, v, esc, inner)?;
    }
    if !entries.is_empty() {
        newline(out, at.indent);
    }
    out.push('}');
    Ok(())
}

fn to_yaml_value(v: &Value) -> serde_yaml::Value {
    use serde_yaml::Value as Y;
    match v {
        Value::Nil | Value::Object(_) => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Int(i) => Y::Number((*i).into()),
        // yaml.v2 prints float64 with Go's shortest formatting: integral values have no ".0".
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Y::Number((*f as i64).into()),
        Value::Float(f) => Y::Number((*f).into()),
        Value::Str(s) => Y::String(s.to_string()),
        Value::List(l) => Y::Sequence(l.iter().map(to_yaml_value).collect()),
        Value::Map(m) => Y::Mapping(
            m.entries
                .iter()
                .map(|(k, v)| (Y::String(k.clone()), to_yaml_value(v)))
                .collect(),
        ),
        Value::Struct(s) => Y::Mapping(
            s.fields
                .iter()
                .map(|(k, v)| (Y::String(k.to_lowercase()), yaml_field(s.type_name, k, v)))
                .collect(),
        ),
    }
}

/// yaml.v2 writes a `time.Duration` as its text (`10s`) but `api.HealthCheckDefinition`'s
/// readable durations (`api.ReadableDuration`, another type) as nanoseconds.
fn yaml_field(type_name: &str, field: &str, v: &Value) -> serde_yaml::Value {
    let readable = matches!(
        field,
        "Interval" | "Timeout" | "DeregisterCriticalServiceAfter"
    );
    if type_name == "api.HealthCheckDefinition" && readable {
        let ns = v
            .as_str()
            .and_then(|d| api_types::parse_go_duration(d).ok())
            .unwrap_or(0);
        return serde_yaml::Value::Number(ns.into());
    }
    to_yaml_value(v)
}

fn to_yaml(_: &mut super::Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let y = to_yaml_value(&args[0]);
    let s = serde_yaml::to_string(&y).map_err(|e| FuncError::call(format!("toYAML: {e}")))?;
    Ok(Value::str(s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_durations_are_nanoseconds_in_yaml() {
        let d = Value::record(
            "api.HealthCheckDefinition",
            vec![
                ("IntervalDuration", Value::str("10s")),
                ("Interval", Value::str("10s")),
            ],
        );
        let y = serde_yaml::to_string(&to_yaml_value(&d)).unwrap();
        assert_eq!(y, "intervalduration: 10s\ninterval: 10000000000\n");
    }

    #[test]
    fn go_json_floats() {
        assert_eq!(json_float(1.0).unwrap(), "1");
        assert_eq!(json_float(0.5).unwrap(), "0.5");
        assert_eq!(json_float(1e21).unwrap(), "1e+21");
        assert_eq!(json_float(1e-7).unwrap(), "1e-7");
        assert_eq!(json_float(123456789.0).unwrap(), "123456789");
    }
}
