//! Sprig v3.3 under upstream's `sprig_` prefix: the functions of `sprig.HermeticTxtFuncMap()`
//! (sprig's whole set less the clock, randomness-for-secrets, environment and DNS ones), as
//! Go calls them — typed parameters checked the way `text/template` checks them, `must*`
//! variants returning the error their plain twin swallows or panics with (a panic inside a
//! template function is the call's error in Go).
//!
//! Every hermetic name is known: the ones not built here (certificate and key generation,
//! bcrypt/htpasswd, AES) are refused when called, with their name, rather than reported as
//! undefined.
//!
//! What Go's maps can do and ours cannot: sprig's `set`, `unset`, `merge` and
//! `mergeOverwrite` change the map they are given in place; here they return the changed map
//! and leave the argument as it was, so use their result.

mod case;
mod codecs;
mod lists;
mod numbers;
mod other;
mod regexes;
mod semver;
mod strings;
mod time;

pub(super) use other::clean as clean_path;
pub(super) use semver::method as semver_method;

use std::sync::Arc;

use super::Func;
use gotemplate::gofmt::format_v;
use gotemplate::value::Elem;
use gotemplate::{FuncError, Value};

/// The `sprig_*` functions built here.
pub(super) fn funcs() -> impl Iterator<Item = (&'static str, Func)> {
    [
        strings::FUNCS,
        codecs::FUNCS,
        regexes::FUNCS,
        lists::FUNCS,
        numbers::FUNCS,
        other::FUNCS,
        semver::FUNCS,
        time::FUNCS,
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// Hermetic sprig functions this build refuses by name.
pub(super) const REFUSED: &[&str] = &[
    "sprig_bcrypt",
    "sprig_buildCustomCert",
    "sprig_decryptAES",
    "sprig_derivePassword",
    "sprig_encryptAES",
    "sprig_genCA",
    "sprig_genCAWithKey",
    "sprig_genPrivateKey",
    "sprig_genSelfSignedCert",
    "sprig_genSelfSignedCertWithKey",
    "sprig_genSignedCert",
    "sprig_genSignedCertWithKey",
    "sprig_htpasswd",
];

/// The error a refused sprig function answers with.
pub(super) fn refused(name: &str) -> FuncError {
    FuncError::call(format!(
        "{name} is not implemented by this consul-template (sprig's certificate, password and \
         encryption functions are not built in)"
    ))
}

// ---- Go's argument rules and sprig's conversions ----

pub(crate) fn wrong_type(expected: &str, got: &Value) -> FuncError {
    FuncError::call(format!(
        "wrong type for value; expected {expected}; got {}",
        got.type_name()
    ))
}

/// An `int` parameter.
pub(crate) fn int_arg(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Nil => Err(FuncError::call("invalid value; expected int")),
        other => Err(wrong_type("int", other)),
    }
}

/// A `bool` parameter.
pub(crate) fn bool_arg(v: &Value) -> Result<bool, FuncError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Nil => Err(FuncError::call("invalid value; expected bool")),
        other => Err(wrong_type("bool", other)),
    }
}

/// A `map[string]interface{}` parameter (nil is an empty map, as Go passes a nil map).
pub(crate) fn dict_arg(v: &Value) -> Result<Arc<gotemplate::value::Map>, FuncError> {
    match v {
        Value::Map(m) if m.elem == Elem::Any => Ok(m.clone()),
        Value::Nil => Ok(Arc::new(gotemplate::value::Map::default())),
        other => Err(wrong_type("map[string]interface {}", other)),
    }
}

/// Exactly `n` arguments.
pub(crate) fn want(args: &[Value], n: usize) -> Result<(), FuncError> {
    super::arity(args, n)
}

/// At least `n` arguments (variadic functions).
pub(crate) fn at_least(args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() < n {
        return Err(FuncError::arity_at_least(n, args.len()));
    }
    Ok(())
}

/// sprig's `strval`: strings as they are, anything else as Go's `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => format_v(other),
    }
}

/// `cast.ToInt64`: integers, truncated floats, numeric strings (Go's base prefixes, a
/// trailing `.0` allowed), booleans as 1/0; anything else 0.
pub(crate) fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int_base0(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64`.
pub(crate) fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// cast's `trimZeroDecimal`: `"12.000"` → `"12"`.
fn trim_zero_decimal(s: &str) -> &str {
    match s.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
        _ => s,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-`0` prefixes, `_`
/// separators only with a prefix.
pub(crate) fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    let digits = if prefixed {
        digits.replace('_', "")
    } else {
        digits
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let mag = i128::from_str_radix(&digits, radix).ok()?;
    let v = if neg { -mag } else { mag };
    i64::try_from(v).ok()
}

/// Go's `reflect.DeepEqual` over template values (an int never equals a float).
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Int(_), Value::Float(_)) | (Value::Float(_), Value::Int(_)) => false,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.elem == y.elem
                && x.entries.len() == y.entries.len()
                && x.entries
                    .iter()
                    .all(|(k, v)| y.entries.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => a == b,
    }
}

/// sprig's `empty`: nil, false, 0, "" and empty collections; structs never.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.entries.is_empty(),
        Value::Struct(_) | Value::Object(_) => false,
    }
}

/// The list inside a slice argument, or sprig's "Cannot <what> on type <kind>" error.
pub(crate) fn slice_of<'v>(v: &'v Value, what: &str) -> Result<&'v [Value], FuncError> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(FuncError::call(format!(
            "Cannot {what} on type {}",
            other::kind_of(other)
        ))),
    }
}

/// A `[]string` result.
pub(crate) fn str_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::list(items.into_iter().map(Value::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_rules() {
        assert_eq!(to_i64(&Value::str("0x1F")), 31);
        assert_eq!(to_i64(&Value::str("010")), 8);
        assert_eq!(to_i64(&Value::str("12.000")), 12);
        assert_eq!(to_i64(&Value::str("12.5")), 0);
        assert_eq!(to_i64(&Value::Float(3.9)), 3);
        assert_eq!(to_f64(&Value::str("2.5")), 2.5);
    }
}
