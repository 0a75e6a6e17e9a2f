//! Collection helpers: grouping (`byKey`, `byTag`, `byMeta`), membership (`in`, `contains*`),
//! `explode`, `loop`, `mergeMap`, the `parse*` family and the `scratch` object's methods.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{arity, list, string, Env, Func};
use gotemplate::value::Map;
use gotemplate::{FuncError, Object, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("byKey", by_key),
    ("byTag", by_tag),
    ("byPort", by_port),
    ("byMeta", by_meta),
    ("in", |_, a| {
        arity(&a, 2)?;
        Ok(Value::Bool(contains_value(&a[0], &a[1])))
    }),
    ("contains", |_, a| {
        arity(&a, 2)?;
        Ok(Value::Bool(contains_value(&a[1], &a[0])))
    }),
    ("containsAll", |_, a| contains_some(a, true, true)),
    ("containsAny", |_, a| contains_some(a, false, false)),
    ("containsNone", |_, a| contains_some(a, true, false)),
    ("containsNotAll", |_, a| contains_some(a, false, true)),
    ("explode", explode),
    ("explodeMap", explode_map),
    ("loop", loop_fn),
    ("mergeMap", |_, a| merge_map(a, false)),
    ("mergeMapWithOverride", |_, a| merge_map(a, true)),
    ("parseBool", parse_bool),
    ("parseFloat", parse_float),
    ("parseInt", parse_int),
    ("parseUint", parse_uint),
    ("parseJSON", parse_json),
    ("parseYAML", parse_yaml),
    ("scratch", |e, a| {
        arity(&a, 0)?;
        Ok(Value::Object(e.scratch.clone()))
    }),
];

fn field<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    match v {
        Value::Struct(s) => s.field(name),
        Value::Map(m) => m.entries.get(name),
        _ => None,
    }
}

fn by_key(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for pair in list(&args[0])?.iter() {
        let Value::Struct(s) = pair else { continue };
        let key = s.field("Key").and_then(Value::as_str).unwrap_or("");
        let (top, rest) = key.split_once('/').unwrap_or((key, ""));
        if rest.is_empty() {
            continue;
        }
        let mut copy = (**s).clone();
        for (name, v) in copy.fields.iter_mut() {
            if *name == "Key" {
                *v = Value::str(rest);
            }
        }
        out.entry(top.to_string())
            .or_default()
            .insert(rest.to_string(), Value::Struct(Arc::new(copy)));
    }
    Ok(Value::map(
        out.into_iter().map(|(k, v)| (k, Value::map(v))).collect(),
    ))
}

fn by_tag(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    match &args[0] {
        Value::Nil => {}
        Value::List(items) => {
            for item in items.iter() {
                let tags = field(item, "Tags").or_else(|| field(item, "ServiceTags"));
                if let Some(Value::List(tags)) = tags {
                    for t in tags.iter().filter_map(Value::as_str) {
                        out.entry(t.to_string()).or_default().push(item.clone());
                    }
                }
            }
        }
        other => {
            return Err(FuncError::call(format!(
                "byTag: wrong argument type {}",
                other.type_name()
            )))
        }
    }
    Ok(Value::map(
        out.into_iter().map(|(k, v)| (k, Value::list(v))).collect(),
    ))
}

/// `byPort`: services grouped by port. Go's map is keyed by `int` and ranges in numeric
/// order; ours is keyed by the port's decimal text, so ports of different digit counts range
/// in text order (`443` before `80`).
fn by_port(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    match &args[0] {
        Value::Nil => {}
        Value::List(items) => {
            for item in items.iter() {
                let port = field(item, "Port").or_else(|| field(item, "ServicePort"));
                match port {
                    Some(Value::Int(p)) => out.entry(p.to_string()).or_default().push(item.clone()),
                    _ => {
                        return Err(FuncError::call(format!(
                            "byPort: wrong argument type {}",
                            args[0].type_name()
                        )))
                    }
                }
            }
        }
        other => {
            return Err(FuncError::call(format!(
                "byPort: wrong argument type {}",
                other.type_name()
            )))
        }
    }
    Ok(Value::map(
        out.into_iter().map(|(k, v)| (k, Value::list(v))).collect(),
    ))
}

fn by_meta(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let spec = string(&args[0])?;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for svc in list(&args[1])?.iter() {
        let meta = field(svc, "ServiceMeta");
        let mut parts = Vec::new();
        for m in spec.split(',') {
            let real = m.strip_suffix("|int").unwrap_or(m);
            let val = match meta.and_then(|mm| field(mm, real)).and_then(Value::as_str) {
                Some(v) if !v.is_empty() => v.to_string(),
                _ if m.ends_with("|int") => "0".to_string(),
                _ => format!("_no_{real}_"),
            };
            let val = if m.ends_with("|int") {
                let i: i64 = val.parse().map_err(|_| {
                    FuncError::call(format!("cannot parse {val} as number : strconv.Atoi: parsing {val:?}: invalid syntax"))
                })?;
                format!("{i:05}")
            } else {
                val
            };
            let norm: String = val
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            parts.push(norm);
        }
        out.entry(parts.join("_")).or_default().push(svc.clone());
    }
    Ok(Value::map(
        out.into_iter().map(|(k, v)| (k, Value::list(v))).collect(),
    ))
}

/// Upstream's `in`: element equality for lists (ints with ints, floats with floats, strings
/// with strings), substring for strings.
pub(crate) fn contains_value(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::List(items) => items.iter().any(|item| match (item, needle) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            _ => false,
        }),
        Value::Str(s) => matches!(needle, Value::Str(n) if s.contains(n.as_ref())),
        _ => false,
    }
}

/// `containsAll/Any/None/NotAll needles haystack`: returns `!ret` as soon as membership of a
/// needle differs from `expect`, `ret` otherwise.
fn contains_some(args: Vec<Value>, ret: bool, expect: bool) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let needles = list(&args[0])?;
    for n in needles.iter() {
        if contains_value(&args[1], n) != expect {
            return Ok(Value::Bool(!ret));
        }
    }
    Ok(Value::Bool(ret))
}

fn explode_into(
    m: &mut BTreeMap<String, Value>,
    key: &str,
    v: Value,
    path: &str,
) -> Result<(), FuncError> {
    if let Some((top, rest)) = key.split_once('/') {
        let entry = m
            .entry(top.to_string())
            .or_insert_with(|| Value::map(BTreeMap::new()));
        let Value::Map(nested) = entry else {
            return Err(FuncError::call(format!(
                "not a map: {path:?}: {top:?} already has value {:?}",
                gotemplate::gofmt::format_v(entry)
            )));
        };
        let mut inner = nested.entries.clone();
        explode_into(&mut inner, rest, v, key)?;
        *entry = Value::map(inner);
        return Ok(());
    }
    if !key.is_empty() {
        m.insert(key.to_string(), v);
    }
    Ok(())
}

fn explode(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let mut m = BTreeMap::new();
    for pair in list(&args[0])?.iter() {
        let key = field(pair, "Key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let value = field(pair, "Value").cloned().unwrap_or_default();
        explode_into(&mut m, &key, value, &key)
            .map_err(|e| FuncError::call(format!("explode: {e}")))?;
    }
    Ok(Value::map(m))
}

fn explode_map(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let Value::Map(input) = &args[0] else {
        return Err(FuncError::call(format!(
            "wrong type for value; expected map[string]interface {{}}; got {}",
            args[0].type_name()
        )));
    };
    let mut m = BTreeMap::new();
    for (k, v) in &input.entries {
        explode_into(&mut m, k, v.clone(), k)
            .map_err(|e| FuncError::call(format!("explodeMap: {e}")))?;
    }
    Ok(Value::map(m))
}

fn loop_bound(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Str(s) if s.is_empty() => Ok(0),
        Value::Str(s) => s.parse().map_err(|_| {
            FuncError::call(format!(
                "parseInt: strconv.ParseInt: parsing {s:?}: invalid syntax"
            ))
        }),
        other => Err(FuncError::call(format!(
            "loop: bad argument type: {}",
            other.type_name()
        ))),
    }
}

fn loop_fn(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    let (start, stop) = match args.as_slice() {
        [n] => (0, loop_bound(n)?),
        [a, b] => (loop_bound(a)?, loop_bound(b)?),
        _ => {
            return Err(FuncError::call(format!(
                "loop: wrong number of arguments, expected 1 or 2, but got {}",
                args.len()
            )))
        }
    };
    Ok(Value::list((start..stop).map(Value::Int).collect()))
}

pub(super) fn merge_into(
    dst: &mut BTreeMap<String, Value>,
    src: &BTreeMap<String, Value>,
    overwrite: bool,
) {
    for (k, v) in src {
        match (dst.get_mut(k), v) {
            (Some(Value::Map(d)), Value::Map(s)) => {
                let mut inner = d.entries.clone();
                merge_into(&mut inner, &s.entries, overwrite);
                *d = Arc::new(Map {
                    entries: inner,
                    elem: d.elem,
                });
            }
            (Some(existing), _) if overwrite || !existing.truthy() => *existing = v.clone(),
            (Some(_), _) => {}
            (None, _) => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

fn merge_map(args: Vec<Value>, overwrite: bool) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let (Value::Map(dst), Value::Map(src)) = (&args[0], &args[1]) else {
        return Err(FuncError::call(
            "wrong type for value; expected map[string]interface {}",
        ));
    };
    let mut out = dst.entries.clone();
    merge_into(&mut out, &src.entries, overwrite);
    Ok(Value::map(out))
}

fn parse_err(name: &str, func: &str, s: &str, why: &str) -> FuncError {
    FuncError::call(format!("{name}: strconv.{func}: parsing {s:?}: {why}"))
}

fn parse_bool(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let s = string(&args[0])?;
    // consul-template reads "" as false before asking strconv.
    if s.is_empty() {
        return Ok(Value::Bool(false));
    }
    api_types::parse_bool(&s)
        .map(Value::Bool)
        .ok_or_else(|| parse_err("parseBool", "ParseBool", &s, "invalid syntax"))
}

fn parse_float(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let s = string(&args[0])?;
    if s.is_empty() {
        return Ok(Value::Float(0.0));
    }
    s.parse::<f64>()
        .map(Value::Float)
        .map_err(|_| parse_err("parseFloat", "ParseFloat", &s, "invalid syntax"))
}

fn parse_int(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let s = string(&args[0])?;
    if s.is_empty() {
        return Ok(Value::Int(0));
    }
    s.parse::<i64>().map(Value::Int).map_err(|e| {
        let why = if matches!(
            e.kind(),
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
        ) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        parse_err("parseInt", "ParseInt", &s, why)
    })
}

fn parse_uint(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let s = string(&args[0])?;
    if s.is_empty() {
        return Ok(Value::Int(0));
    }
    match s.parse::<u64>() {
        Ok(u) => Ok(i64::try_from(u)
            .map(Value::Int)
            .unwrap_or(Value::Float(u as f64))),
        Err(_) => Err(parse_err("parseUint", "ParseUint", &s, "invalid syntax")),
    }
}

fn parse_json(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let s = string(&args[0])?;
    if s.is_empty() {
        return Ok(Value::map(BTreeMap::new()));
    }
    let json: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| FuncError::call(e.to_string()))?;
    Ok(Value::from_json(&json))
}

fn from_yaml(y: &serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match y {
        Y::Null => Value::Nil,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Y::String(s) => Value::str(s),
        Y::Sequence(seq) => Value::list(seq.iter().map(from_yaml).collect()),
        Y::Mapping(m) => Value::map(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        other => gotemplate::gofmt::format_v(&from_yaml(other)),
                    };
                    (key, from_yaml(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => from_yaml(&t.value),
    }
}

fn parse_yaml(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let s = string(&args[0])?;
    if s.is_empty() {
        return Ok(Value::map(BTreeMap::new()));
    }
    let y: serde_yaml::Value =
        serde_yaml::from_str(&s).map_err(|e| FuncError::call(format!("yaml: {e}")))?;
    Ok(from_yaml(&y))
}

/// The per-execution `scratch` key/value store (Go's `*template.Scratch`), an object whose
/// methods are [`scratch_method`].
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Stored values; `MapSet` values are nested `Value::Map`s.
    values: Mutex<BTreeMap<String, Value>>,
}

impl Object for Scratch {
    fn type_name(&self) -> &str {
        "*template.Scratch"
    }

    fn format_v(&self) -> String {
        // Go prints the struct: a zero RWMutex and a (never printed) map.
        "&{{0 0} map[]}".to_string()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The methods of a `scratch` object; `None` for another object or an unknown method name.
pub(super) fn scratch_method(
    recv: &Value,
    name: &str,
    args: Vec<Value>,
) -> Option<Result<Value, FuncError>> {
    let Value::Object(o) = recv else {
        return None;
    };
    let s = o.as_any().downcast_ref::<Scratch>()?;
    if !matches!(
        name,
        "Key" | "Get" | "Set" | "SetX" | "MapSet" | "MapSetX" | "MapValues"
    ) {
        return None;
    }
    let mut values = match s.values.lock() {
        Ok(v) => v,
        Err(poisoned) => poisoned.into_inner(),
    };
    Some(scratch_call(&mut values, name, &args))
}

fn scratch_call(
    values: &mut BTreeMap<String, Value>,
    name: &str,
    args: &[Value],
) -> Result<Value, FuncError> {
    let want = match name {
        "Key" | "Get" | "MapValues" => 1,
        "Set" | "SetX" => 2,
        _ => 3,
    };
    arity(args, want)?;
    let k = string(&args[0])?;
    match name {
        "Key" => Ok(Value::Bool(values.contains_key(&k))),
        "Get" => Ok(values.get(&k).cloned().unwrap_or_default()),
        "Set" | "SetX" => {
            if name == "Set" || !values.contains_key(&k) {
                values.insert(k, args[1].clone());
            }
            Ok(Value::str(""))
        }
        "MapValues" => match values.get(&k) {
            None => Ok(Value::Nil),
            Some(Value::Map(m)) => Ok(Value::list(m.entries.values().cloned().collect())),
            Some(_) => Err(FuncError::call(format!("{k:?} is not a map"))),
        },
        _ => {
            let mk = string(&args[1])?;
            let entry = values
                .entry(k.clone())
                .or_insert_with(|| Value::map(BTreeMap::new()));
            let Value::Map(m) = entry else {
                return Err(FuncError::call(format!("{k:?} is not a map")));
            };
            let mut inner = m.entries.clone();
            if name == "MapSet" || !inner.contains_key(&mk) {
                inner.insert(mk, args[2].clone());
            }
            *entry = Value::map(inner);
            Ok(Value::str(""))
        }
    }
}
