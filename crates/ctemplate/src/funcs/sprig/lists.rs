//! sprig's lists (`list.go`) and dicts (`dict.go`). Lists come back as `[]interface{}`;
//! functions on an empty list that Go answers with `nil` answer nil here too. Go's random map
//! order (`keys`, `values`) is key order here, one of the orders Go may give.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::collections::merge_into;
use super::super::{string, Func};
use super::{at_least, deep_equal, dict_arg, is_empty, slice_of, strval, to_i64, want, wrong_type};
use crate::dependency::gonil::nil_list;
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_list", |_, a| Ok(Value::list(a))),
    ("sprig_tuple", |_, a| Ok(Value::list(a))),
    ("sprig_dict", |_, a| {
        let mut m = BTreeMap::new();
        let mut it = a.into_iter();
        while let Some(k) = it.next() {
            let v = it.next().unwrap_or_else(|| Value::str(""));
            m.insert(strval(&k), v);
        }
        Ok(Value::map(m))
    }),
    ("sprig_get", |_, a| {
        want(&a, 2)?;
        let (d, k) = (dict_arg(&a[0])?, string(&a[1])?);
        Ok(d.entries.get(&k).cloned().unwrap_or_else(|| Value::str("")))
    }),
    ("sprig_set", |_, a| {
        want(&a, 3)?;
        let (d, k) = (dict_arg(&a[0])?, string(&a[1])?);
        let mut m = d.entries.clone();
        m.insert(k, a[2].clone());
        Ok(Value::map(m))
    }),
    ("sprig_unset", |_, a| {
        want(&a, 2)?;
        let (d, k) = (dict_arg(&a[0])?, string(&a[1])?);
        let mut m = d.entries.clone();
        m.remove(&k);
        Ok(Value::map(m))
    }),
    ("sprig_hasKey", |_, a| {
        want(&a, 2)?;
        let (d, k) = (dict_arg(&a[0])?, string(&a[1])?);
        Ok(Value::Bool(d.entries.contains_key(&k)))
    }),
    ("sprig_pluck", |_, a| {
        at_least(&a, 1)?;
        let k = string(&a[0])?;
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Some(v) = dict_arg(d)?.entries.get(&k) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    }),
    ("sprig_keys", |_, a| {
        let mut out = Vec::new();
        for d in &a {
            out.extend(dict_arg(d)?.entries.keys().map(Value::str));
        }
        Ok(Value::list(out))
    }),
    ("sprig_values", |_, a| {
        want(&a, 1)?;
        Ok(Value::list(
            dict_arg(&a[0])?.entries.values().cloned().collect(),
        ))
    }),
    ("sprig_pick", |_, a| {
        at_least(&a, 1)?;
        let d = dict_arg(&a[0])?;
        let mut m = BTreeMap::new();
        for k in &a[1..] {
            let k = string(k)?;
            if let Some(v) = d.entries.get(&k) {
                m.insert(k, v.clone());
            }
        }
        Ok(Value::map(m))
    }),
    ("sprig_omit", |_, a| {
        at_least(&a, 1)?;
        let d = dict_arg(&a[0])?;
        let omit: Vec<String> = a[1..].iter().map(string).collect::<Result<_, _>>()?;
        Ok(Value::map(
            d.entries
                .iter()
                .filter(|(k, _)| !omit.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    }),
    ("sprig_merge", |_, a| merge(a, false)),
    ("sprig_mustMerge", |_, a| merge(a, false)),
    ("sprig_mergeOverwrite", |_, a| merge(a, true)),
    ("sprig_mustMergeOverwrite", |_, a| merge(a, true)),
    ("sprig_dig", |_, a| {
        if a.len() < 3 {
            return Err(FuncError::call("dig needs at least three arguments"));
        }
        let (keys, rest) = a.split_at(a.len() - 2);
        let (default, dict) = (&rest[0], &rest[1]);
        let Value::Map(mut m) = dict.clone() else {
            return Err(FuncError::call(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                dict.type_name()
            )));
        };
        for (i, k) in keys.iter().enumerate() {
            let Value::Str(k) = k else {
                return Err(FuncError::call(format!(
                    "interface conversion: interface {{}} is {}, not string",
                    k.type_name()
                )));
            };
            let Some(step) = m.entries.get(&**k).cloned() else {
                return Ok(default.clone());
            };
            if i == keys.len() - 1 {
                return Ok(step);
            }
            match step {
                Value::Map(next) => m = next,
                other => {
                    return Err(FuncError::call(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        other.type_name()
                    )))
                }
            }
        }
        Ok(default.clone())
    }),
    ("sprig_append", |_, a| push(a, false)),
    ("sprig_push", |_, a| push(a, false)),
    ("sprig_mustAppend", |_, a| push(a, false)),
    ("sprig_mustPush", |_, a| push(a, false)),
    ("sprig_prepend", |_, a| push(a, true)),
    ("sprig_mustPrepend", |_, a| push(a, true)),
    ("sprig_first", |_, a| end(a, "find first", true)),
    ("sprig_mustFirst", |_, a| end(a, "find first", true)),
    ("sprig_last", |_, a| end(a, "find last", false)),
    ("sprig_mustLast", |_, a| end(a, "find last", false)),
    ("sprig_rest", |_, a| trimmed(a, "find rest", 1, 0)),
    ("sprig_mustRest", |_, a| trimmed(a, "find rest", 1, 0)),
    ("sprig_initial", |_, a| trimmed(a, "find initial", 0, 1)),
    ("sprig_mustInitial", |_, a| trimmed(a, "find initial", 0, 1)),
    ("sprig_reverse", |_, a| {
        want(&a, 1)?;
        let mut l = slice_of(&a[0], "find reverse")?.to_vec();
        l.reverse();
        Ok(Value::list(l))
    }),
    ("sprig_mustReverse", |_, a| {
        want(&a, 1)?;
        let mut l = slice_of(&a[0], "find reverse")?.to_vec();
        l.reverse();
        Ok(Value::list(l))
    }),
    ("sprig_uniq", |_, a| uniq(a)),
    ("sprig_mustUniq", |_, a| uniq(a)),
    ("sprig_without", |_, a| without(a)),
    ("sprig_mustWithout", |_, a| without(a)),
    ("sprig_compact", |_, a| compact(a)),
    ("sprig_mustCompact", |_, a| compact(a)),
    ("sprig_has", |_, a| has(a)),
    ("sprig_mustHas", |_, a| has(a)),
    ("sprig_slice", |_, a| slice(a)),
    ("sprig_mustSlice", |_, a| slice(a)),
    ("sprig_concat", |_, a| {
        let mut out = Vec::new();
        for l in &a {
            match l {
                Value::List(items) => out.extend(items.iter().cloned()),
                other => {
                    return Err(FuncError::call(format!(
                        "Cannot concat type {} as list",
                        super::other::kind_of(other)
                    )))
                }
            }
        }
        Ok(if out.is_empty() {
            nil_list()
        } else {
            Value::list(out)
        })
    }),
    ("sprig_chunk", |_, a| chunk(a)),
    ("sprig_mustChunk", |_, a| chunk(a)),
    ("sprig_deepCopy", |_, a| {
        want(&a, 1)?;
        Ok(a[0].clone())
    }),
    ("sprig_mustDeepCopy", |_, a| {
        want(&a, 1)?;
        Ok(a[0].clone())
    }),
];

/// mergo into a copy of the first dict, each later one in turn.
fn merge(a: Vec<Value>, overwrite: bool) -> Result<Value, FuncError> {
    at_least(&a, 1)?;
    let mut out = dict_arg(&a[0])?.entries.clone();
    for src in &a[1..] {
        merge_into(&mut out, &dict_arg(src)?.entries, overwrite);
    }
    Ok(Value::map(out))
}

fn push(a: Vec<Value>, front: bool) -> Result<Value, FuncError> {
    want(&a, 2)?;
    let what = if front { "prepend" } else { "push" };
    let mut l = slice_of(&a[0], what)?.to_vec();
    if front {
        l.insert(0, a[1].clone());
    } else {
        l.push(a[1].clone());
    }
    Ok(Value::list(l))
}

fn end(a: Vec<Value>, what: &str, first: bool) -> Result<Value, FuncError> {
    want(&a, 1)?;
    let l = slice_of(&a[0], what)?;
    Ok(if first { l.first() } else { l.last() }
        .cloned()
        .unwrap_or(Value::Nil))
}

fn trimmed(a: Vec<Value>, what: &str, front: usize, back: usize) -> Result<Value, FuncError> {
    want(&a, 1)?;
    let l = slice_of(&a[0], what)?;
    if l.is_empty() {
        return Ok(nil_list());
    }
    Ok(Value::list(l[front..l.len() - back].to_vec()))
}

fn uniq(a: Vec<Value>) -> Result<Value, FuncError> {
    want(&a, 1)?;
    let mut out: Vec<Value> = Vec::new();
    for v in slice_of(&a[0], "find uniq")? {
        if !out.iter().any(|o| deep_equal(o, v)) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
}

fn without(a: Vec<Value>) -> Result<Value, FuncError> {
    at_least(&a, 1)?;
    let omit = &a[1..];
    let l = slice_of(&a[0], "find without")?;
    Ok(Value::list(
        l.iter()
            .filter(|v| !omit.iter().any(|o| deep_equal(o, v)))
            .cloned()
            .collect(),
    ))
}

fn compact(a: Vec<Value>) -> Result<Value, FuncError> {
    want(&a, 1)?;
    let l = slice_of(&a[0], "compact")?;
    Ok(Value::list(
        l.iter().filter(|v| !is_empty(v)).cloned().collect(),
    ))
}

fn has(a: Vec<Value>) -> Result<Value, FuncError> {
    want(&a, 2)?;
    if matches!(a[1], Value::Nil) {
        return Ok(Value::Bool(false));
    }
    let l = slice_of(&a[1], "find has")?;
    Ok(Value::Bool(l.iter().any(|v| deep_equal(&a[0], v))))
}

fn slice(a: Vec<Value>) -> Result<Value, FuncError> {
    at_least(&a, 1)?;
    let l = match &a[0] {
        Value::List(l) => l,
        other => {
            return Err(FuncError::call(format!(
                "list should be type of slice or array but {}",
                super::other::kind_of(other)
            )))
        }
    };
    if l.is_empty() {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map(to_i64).unwrap_or(0);
    let end = a.get(2).map(to_i64).unwrap_or(l.len() as i64);
    if start < 0 || end < start || end as usize > l.len() {
        return Err(FuncError::call(format!(
            "reflect: slice index out of range [{start}:{end}]"
        )));
    }
    Ok(Value::List(Arc::new(
        l[start as usize..end as usize].to_vec(),
    )))
}

fn chunk(a: Vec<Value>) -> Result<Value, FuncError> {
    want(&a, 2)?;
    let size = match &a[0] {
        Value::Int(i) => *i,
        other => return Err(wrong_type("int", other)),
    };
    let l = slice_of(&a[1], "chunk")?;
    if size <= 0 {
        return Err(FuncError::call("runtime error: integer divide by zero"));
    }
    Ok(Value::list(
        l.chunks(size as usize)
            .map(|c| Value::list(c.to_vec()))
            .collect(),
    ))
}
