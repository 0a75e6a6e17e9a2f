//! sprig's string functions (`strings.go`, and the goutils helpers it calls; xstrings' case
//! conversions are in [`super::case`]).

use std::collections::BTreeMap;

use super::super::{string, Func};
use super::case;
use super::{int_arg, str_list, strval, want};
use gotemplate::gofmt::{format_v, go_quote};
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_hello", |_, a| {
        want(&a, 0)?;
        Ok(Value::str("Hello!"))
    }),
    ("sprig_abbrev", |_, a| {
        want(&a, 2)?;
        let (w, s) = (int_arg(&a[0])?, string(&a[1])?);
        Ok(Value::str(if w < 4 { s } else { abbreviate(&s, 0, w) }))
    }),
    ("sprig_abbrevboth", |_, a| {
        want(&a, 3)?;
        let (l, r, s) = (int_arg(&a[0])?, int_arg(&a[1])?, string(&a[2])?);
        Ok(Value::str(if r < 4 || l > 0 && r < 7 {
            s
        } else {
            abbreviate(&s, l, r)
        }))
    }),
    ("sprig_trunc", |_, a| {
        want(&a, 2)?;
        let (c, s) = (int_arg(&a[0])?, string(&a[1])?);
        let len = s.len() as i64;
        Ok(Value::str(if c < 0 && len + c > 0 {
            byte_slice(&s, (len + c) as usize, s.len())
        } else if c >= 0 && len > c {
            byte_slice(&s, 0, c as usize)
        } else {
            s
        }))
    }),
    ("sprig_trim", |_, a| unary(a, |s| s.trim().to_string())),
    ("sprig_upper", |_, a| unary(a, |s| s.to_uppercase())),
    ("sprig_lower", |_, a| unary(a, |s| s.to_lowercase())),
    ("sprig_title", |_, a| unary(a, go_title)),
    ("sprig_untitle", |_, a| unary(a, untitle)),
    ("sprig_substr", |_, a| {
        want(&a, 3)?;
        let (start, end, s) = (int_arg(&a[0])?, int_arg(&a[1])?, string(&a[2])?);
        substr(start, end, &s)
    }),
    ("sprig_repeat", |_, a| {
        want(&a, 2)?;
        let (n, s) = (int_arg(&a[0])?, string(&a[1])?);
        if n < 0 {
            return Err(FuncError::call("strings: negative Repeat count"));
        }
        Ok(Value::str(s.repeat(n as usize)))
    }),
    ("sprig_trimall", |_, a| binary(a, |cut, s| trim_set(s, cut))),
    ("sprig_trimAll", |_, a| binary(a, |cut, s| trim_set(s, cut))),
    ("sprig_trimSuffix", |_, a| {
        binary(a, |x, s| s.strip_suffix(x).unwrap_or(s).to_string())
    }),
    ("sprig_trimPrefix", |_, a| {
        binary(a, |x, s| s.strip_prefix(x).unwrap_or(s).to_string())
    }),
    ("sprig_nospace", |_, a| unary(a, delete_white_space)),
    ("sprig_initials", |_, a| unary(a, initials)),
    ("sprig_swapcase", |_, a| unary(a, swap_case)),
    ("sprig_shuffle", |_, a| unary(a, shuffle)),
    ("sprig_snakecase", |_, a| {
        unary(a, |s| case::to_lower_joined(s, '_'))
    }),
    ("sprig_kebabcase", |_, a| {
        unary(a, |s| case::to_lower_joined(s, '-'))
    }),
    ("sprig_camelcase", |_, a| unary(a, case::to_pascal)),
    ("sprig_wrap", |_, a| {
        want(&a, 2)?;
        let (l, s) = (int_arg(&a[0])?, string(&a[1])?);
        Ok(Value::str(wrap(&s, l, "\n", false)))
    }),
    ("sprig_wrapWith", |_, a| {
        want(&a, 3)?;
        let (l, sep, s) = (int_arg(&a[0])?, string(&a[1])?, string(&a[2])?);
        Ok(Value::str(wrap(&s, l, &sep, true)))
    }),
    ("sprig_contains", |_, a| {
        predicate(a, |sub, s| s.contains(sub))
    }),
    ("sprig_hasPrefix", |_, a| {
        predicate(a, |p, s| s.starts_with(p))
    }),
    ("sprig_hasSuffix", |_, a| {
        predicate(a, |p, s| s.ends_with(p))
    }),
    ("sprig_quote", |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| go_quote(&strval(v)))
            .collect();
        Ok(Value::str(parts.join(" ")))
    }),
    ("sprig_squote", |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| format!("'{}'", format_v(v)))
            .collect();
        Ok(Value::str(parts.join(" ")))
    }),
    ("sprig_cat", |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(format_v)
            .collect();
        Ok(Value::str(parts.join(" ")))
    }),
    ("sprig_indent", |_, a| {
        want(&a, 2)?;
        let (n, s) = (int_arg(&a[0])?, string(&a[1])?);
        Ok(Value::str(indent(n, &s)))
    }),
    ("sprig_nindent", |_, a| {
        want(&a, 2)?;
        let (n, s) = (int_arg(&a[0])?, string(&a[1])?);
        Ok(Value::str(format!("\n{}", indent(n, &s))))
    }),
    ("sprig_replace", |_, a| {
        want(&a, 3)?;
        let (old, new, s) = (string(&a[0])?, string(&a[1])?, string(&a[2])?);
        Ok(Value::str(go_replace(&s, &old, &new)))
    }),
    ("sprig_plural", |_, a| {
        want(&a, 3)?;
        let (one, many, n) = (string(&a[0])?, string(&a[1])?, int_arg(&a[2])?);
        Ok(Value::str(if n == 1 { one } else { many }))
    }),
    ("sprig_toString", |_, a| {
        want(&a, 1)?;
        Ok(Value::str(strval(&a[0])))
    }),
    ("sprig_split", |_, a| {
        want(&a, 2)?;
        let (sep, s) = (string(&a[0])?, string(&a[1])?);
        Ok(indexed(go_split(&s, &sep, -1)))
    }),
    ("sprig_splitList", |_, a| {
        want(&a, 2)?;
        let (sep, s) = (string(&a[0])?, string(&a[1])?);
        Ok(str_list(go_split(&s, &sep, -1)))
    }),
    ("sprig_splitn", |_, a| {
        want(&a, 3)?;
        let (sep, n, s) = (string(&a[0])?, int_arg(&a[1])?, string(&a[2])?);
        Ok(indexed(go_split(&s, &sep, n)))
    }),
    ("sprig_toStrings", |_, a| {
        want(&a, 1)?;
        Ok(str_list(strslice(&a[0])))
    }),
    ("sprig_join", |_, a| {
        want(&a, 2)?;
        let sep = string(&a[0])?;
        Ok(Value::str(strslice(&a[1]).join(&sep)))
    }),
    ("sprig_sortAlpha", |_, a| {
        want(&a, 1)?;
        Ok(match &a[0] {
            Value::List(_) => {
                let mut items = strslice(&a[0]);
                items.sort();
                str_list(items)
            }
            other => str_list([strval(other)]),
        })
    }),
];

fn unary(args: Vec<Value>, f: impl Fn(&str) -> String) -> Result<Value, FuncError> {
    want(&args, 1)?;
    Ok(Value::str(f(&string(&args[0])?)))
}

fn binary(args: Vec<Value>, f: impl Fn(&str, &str) -> String) -> Result<Value, FuncError> {
    want(&args, 2)?;
    Ok(Value::str(f(&string(&args[0])?, &string(&args[1])?)))
}

fn predicate(args: Vec<Value>, f: impl Fn(&str, &str) -> bool) -> Result<Value, FuncError> {
    want(&args, 2)?;
    Ok(Value::Bool(f(&string(&args[0])?, &string(&args[1])?)))
}

/// Go slices strings by byte; a cut inside a character keeps the bytes (shown lossily here).
fn byte_slice(s: &str, from: usize, to: usize) -> String {
    String::from_utf8_lossy(&s.as_bytes()[from..to]).into_owned()
}

fn substr(start: i64, end: i64, s: &str) -> Result<Value, FuncError> {
    let len = s.len() as i64;
    let oob = |lo: i64, hi: i64| {
        FuncError::call(format!(
            "runtime error: slice bounds out of range [{}:{}]",
            lo, hi
        ))
    };
    let (lo, hi) = if start < 0 {
        (0, end)
    } else if end < 0 || end > len {
        (start, len)
    } else {
        (start, end)
    };
    if hi < 0 || hi > len {
        return Err(FuncError::call(format!(
            "runtime error: slice bounds out of range [:{hi}] with length {len}"
        )));
    }
    if lo > hi {
        return Err(oob(lo, hi));
    }
    Ok(Value::str(byte_slice(s, lo as usize, hi as usize)))
}

/// goutils' `AbbreviateFull` (byte offsets, `...` marker).
fn abbreviate(s: &str, offset: i64, max: i64) -> String {
    let len = s.len() as i64;
    if s.is_empty() || max < 4 {
        return String::new();
    }
    if len <= max {
        return s.to_string();
    }
    let mut offset = offset.min(len);
    if len - offset < max - 3 {
        offset = len - (max - 3);
    }
    if offset <= 4 {
        return format!("{}...", byte_slice(s, 0, (max - 3) as usize));
    }
    if max < 7 {
        return String::new();
    }
    if offset + max - 3 < len {
        let rest = byte_slice(s, offset as usize, s.len());
        return format!("...{}", abbreviate(&rest, 0, max - 3));
    }
    format!("...{}", byte_slice(s, (len - (max - 3)) as usize, s.len()))
}

/// Go's deprecated `strings.Title`: the first letter after a separator upper-cased (title
/// case); letters, digits, `_` and non-ASCII non-space runes are not separators.
pub(crate) fn go_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_title_separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn is_title_separator(r: char) -> bool {
    if r.is_ascii() {
        return !(r.is_ascii_alphanumeric() || r == '_');
    }
    if r.is_alphanumeric() {
        return false;
    }
    r.is_whitespace()
}

/// goutils' `Uncapitalize` with no delimiters: the first rune of every whitespace-separated
/// word lowered.
fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut next = true;
    for c in s.chars() {
        if c.is_whitespace() {
            next = true;
            out.push(c);
        } else if next {
            out.extend(c.to_lowercase());
            next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `strings.Trim(s, cutset)`.
fn trim_set(s: &str, cut: &str) -> String {
    s.trim_matches(|c| cut.contains(c)).to_string()
}

/// Go's `unicode.IsSpace` on a byte taken as a rune (goutils walks bytes).
fn byte_is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// goutils' `DeleteWhiteSpace` (byte by byte, each byte written as the rune of that number).
fn delete_white_space(s: &str) -> String {
    if !s.bytes().any(byte_is_space) {
        return s.to_string();
    }
    s.bytes()
        .filter(|b| !byte_is_space(*b))
        .map(char::from)
        .collect()
}

/// goutils' `Initials` (byte by byte).
fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for b in s.bytes() {
        if byte_is_space(b) {
            gap = true;
        } else if gap {
            out.push(char::from(b));
            gap = false;
        }
    }
    out
}

/// goutils' `SwapCase` (a lower-case letter after whitespace becomes title case, which is
/// upper case outside a few digraphs).
fn swap_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else if c.is_lowercase() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn shuffle(s: &str) -> String {
    use rand::seq::SliceRandom;
    let mut chars: Vec<char> = s.chars().collect();
    chars.shuffle(&mut rand::thread_rng());
    chars.into_iter().collect()
}

/// goutils' `WrapCustom` (byte offsets; breaks at the last space within the width).
fn wrap(s: &str, width: i64, newline: &str, long_words: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let width = width.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(len + len / width + 1);
    while len - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (width + offset + 1).min(len);
        let window = &b[offset..end];
        if let Some(sp) = window.iter().rposition(|c| *c == b' ') {
            out.extend_from_slice(&b[offset..offset + sp]);
            out.extend_from_slice(newline.as_bytes());
            offset += sp + 1;
        } else if long_words {
            out.extend_from_slice(&b[offset..offset + width]);
            out.extend_from_slice(newline.as_bytes());
            offset += width;
        } else {
            let end = width + offset;
            match b[end..].iter().position(|c| *c == b' ') {
                None => {
                    out.extend_from_slice(&b[offset..]);
                    offset = len;
                }
                Some(i) => {
                    out.extend_from_slice(&b[offset..end + i]);
                    out.extend_from_slice(newline.as_bytes());
                    offset = end + i + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    String::from_utf8_lossy(&out).into_owned()
}

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(n.max(0) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Go's `strings.Replace(s, old, new, -1)` (an empty `old` matches around every rune).
pub(crate) fn go_replace(s: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return s.replace(old, new);
    }
    let mut out = new.to_string();
    for c in s.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

/// Go's `strings.SplitN` (`n < 0`: all; `n == 0`: none; an empty separator splits runes).
pub(crate) fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = s.chars().map(String::from).collect();
        if n < 0 || chars.len() <= n as usize {
            return chars;
        }
        let n = n as usize;
        let mut out: Vec<String> = chars[..n - 1].to_vec();
        out.push(chars[n - 1..].concat());
        return out;
    }
    if n < 0 {
        return s.split(sep).map(String::from).collect();
    }
    s.splitn(n as usize, sep).map(String::from).collect()
}

/// sprig's `split`/`splitn` result: `map[string]string` keyed `_0`, `_1`, ...
fn indexed(parts: Vec<String>) -> Value {
    let m: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::str(p)))
        .collect();
    Value::str_map(m)
}

/// sprig's `strslice`: a list's non-nil elements as strings; anything else one string (nil:
/// none).
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(items) => items
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}
