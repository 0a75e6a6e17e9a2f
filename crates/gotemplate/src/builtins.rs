//! Go `text/template`'s predefined functions: comparisons, `not`, `len`, `index`, `slice`,
//! the `print` family and the `html`/`js`/`urlquery` escapers. (`and`/`or` short-circuit, so
//! the evaluator implements them.) A function table offers them through [`call`].

use std::cmp::Ordering;

use crate::gofmt::{format_v, sprint, sprintf, sprintln};
use crate::value::Elem;
use crate::{FuncError, Value};

/// A predefined function: evaluated arguments in (piped value last), value out.
pub type Builtin = fn(Vec<Value>) -> Result<Value, FuncError>;

/// Every predefined function but `and` and `or`, by name.
pub const FUNCS: &[(&str, Builtin)] = &[
    ("eq", |a| eq(&a)),
    ("ne", |a| {
        arity(&a, 2)?;
        Ok(Value::Bool(!basic_eq(&a[0], &a[1])?))
    }),
    ("lt", |a| ordered(&a, |o| o == Ordering::Less)),
    ("le", |a| ordered(&a, |o| o != Ordering::Greater)),
    ("gt", |a| ordered(&a, |o| o == Ordering::Greater)),
    ("ge", |a| ordered(&a, |o| o != Ordering::Less)),
    ("not", |a| {
        arity(&a, 1)?;
        Ok(Value::Bool(!a[0].truthy()))
    }),
    ("len", |a| {
        arity(&a, 1)?;
        length(&a[0])
    }),
    ("index", |a| {
        arity_at_least(&a, 1)?;
        index(&a[0], &a[1..])
    }),
    ("slice", |a| {
        arity_at_least(&a, 1)?;
        slice(&a[0], &a[1..])
    }),
    ("print", |a| Ok(Value::str(sprint(&a)))),
    ("println", |a| Ok(Value::str(sprintln(&a)))),
    ("printf", |a| {
        arity_at_least(&a, 1)?;
        Ok(Value::str(sprintf(&string(&a[0])?, &a[1..])))
    }),
    ("html", |a| Ok(Value::str(html_escape(&escaper_arg(&a))))),
    ("js", |a| Ok(Value::str(js_escape(&escaper_arg(&a))))),
    ("urlquery", |a| {
        Ok(Value::str(query_escape(&escaper_arg(&a))))
    }),
    ("call", |a| {
        arity_at_least(&a, 1)?;
        Err(FuncError::call(format!(
            "non-function {} of type {}",
            format_v(&a[0]),
            a[0].type_name()
        )))
    }),
];

/// Whether `name` is a predefined function (`and` and `or` included).
pub fn exists(name: &str) -> bool {
    matches!(name, "and" | "or") || FUNCS.iter().any(|(n, _)| *n == name)
}

/// Calls the predefined function `name`; `None` when there is none by that name (`and` and
/// `or` are the evaluator's).
pub fn call(name: &str, args: Vec<Value>) -> Option<Result<Value, FuncError>> {
    FUNCS.iter().find(|(n, _)| *n == name).map(|(_, f)| f(args))
}

fn arity(args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() != want {
        return Err(FuncError::arity(want, args.len()));
    }
    Ok(())
}

fn arity_at_least(args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() < want {
        return Err(FuncError::arity_at_least(want, args.len()));
    }
    Ok(())
}

fn string(v: &Value) -> Result<String, FuncError> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        Value::Nil => Err(FuncError::call("invalid value; expected string")),
        other => Err(FuncError::call(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

fn incompatible() -> FuncError {
    FuncError::call("incompatible types for comparison")
}

fn basic_eq(a: &Value, b: &Value) -> Result<bool, FuncError> {
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Nil, _) | (_, Value::Nil) => false,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Struct(x), Value::Struct(y)) => std::sync::Arc::ptr_eq(x, y) || x == y,
        (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
            return Err(FuncError::call("invalid type for comparison"))
        }
        _ => return Err(incompatible()),
    })
}

/// `eq arg1 arg2...`: true if arg1 equals any of the others.
fn eq(args: &[Value]) -> Result<Value, FuncError> {
    if args.len() < 2 {
        return Err(FuncError::call("missing argument for comparison"));
    }
    for other in &args[1..] {
        if basic_eq(&args[0], other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn ordered(args: &[Value], test: fn(Ordering) -> bool) -> Result<Value, FuncError> {
    arity(args, 2)?;
    let ord = match (&args[0], &args[1]) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_),
        ) => return Err(incompatible()),
        _ => return Err(FuncError::call("invalid type for comparison")),
    };
    Ok(Value::Bool(test(ord)))
}

fn length(v: &Value) -> Result<Value, FuncError> {
    let n = match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.entries.len(),
        Value::Nil => return Err(FuncError::call("len of nil pointer")),
        other => {
            return Err(FuncError::call(format!(
                "len of type {}",
                other.type_name()
            )))
        }
    };
    Ok(Value::Int(n as i64))
}

fn int_index(v: &Value, len: usize, cap: usize) -> Result<usize, FuncError> {
    let Value::Int(i) = v else {
        return Err(FuncError::call(format!(
            "cannot index slice/array with type {}",
            v.type_name()
        )));
    };
    if *i < 0 || *i as usize > cap {
        return Err(FuncError::call(format!("index out of range: {i}")));
    }
    let _ = len;
    Ok(*i as usize)
}

fn index(item: &Value, indices: &[Value]) -> Result<Value, FuncError> {
    let mut cur = item.clone();
    for idx in indices {
        cur = match &cur {
            Value::List(l) => {
                let i = int_index(idx, l.len(), l.len())?;
                l.get(i)
                    .cloned()
                    .ok_or_else(|| FuncError::call(format!("index out of range: {i}")))?
            }
            Value::Str(s) => {
                let i = int_index(idx, s.len(), s.len())?;
                let b = s
                    .as_bytes()
                    .get(i)
                    .ok_or_else(|| FuncError::call(format!("index out of range: {i}")))?;
                Value::Int(i64::from(*b))
            }
            Value::Map(m) => {
                let Value::Str(k) = idx else {
                    if matches!(idx, Value::Nil) {
                        return Err(FuncError::call("value is nil; should be of type string"));
                    }
                    return Err(FuncError::call(format!(
                        "value has type {}; should be string",
                        idx.type_name()
                    )));
                };
                match m.entries.get(k.as_ref()) {
                    Some(v) => v.clone(),
                    None if m.elem == Elem::Str => Value::str(""),
                    None => Value::Nil,
                }
            }
            Value::Nil => return Err(FuncError::call("index of untyped nil")),
            other => {
                return Err(FuncError::call(format!(
                    "can't index item of type {}",
                    other.type_name()
                )))
            }
        };
    }
    Ok(cur)
}

fn slice(item: &Value, indices: &[Value]) -> Result<Value, FuncError> {
    if indices.len() > 3 {
        return Err(FuncError::call(format!(
            "too many slice indexes: {}",
            indices.len()
        )));
    }
    let len = match item {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Nil => return Err(FuncError::call("slice of untyped nil")),
        other => {
            return Err(FuncError::call(format!(
                "can't slice item of type {}",
                other.type_name()
            )))
        }
    };
    if matches!(item, Value::Str(_)) && indices.len() == 3 {
        return Err(FuncError::call("cannot 3-index slice a string"));
    }
    let mut idx = [0, len, len];
    for (i, v) in indices.iter().enumerate() {
        idx[i] = int_index(v, len, len)?;
    }
    if idx[0] > idx[1] {
        return Err(FuncError::call(format!(
            "invalid slice index: {} > {}",
            idx[0], idx[1]
        )));
    }
    Ok(match item {
        Value::Str(s) => Value::str(s.get(idx[0]..idx[1]).unwrap_or("")),
        Value::List(l) => Value::list(l[idx[0]..idx[1]].to_vec()),
        _ => Value::Nil,
    })
}

/// The escapers take their single string argument as is, otherwise `fmt.Sprint` of all.
fn escaper_arg(args: &[Value]) -> String {
    match args {
        [Value::Str(s)] => s.to_string(),
        _ => sprint(args),
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
