//! sprig's defaults and JSON (`defaults.go`), reflection (`reflect.go`), paths (Go's
//! `path`/`path/filepath`, the same on Unix), URLs (`url.go` over Go's `net/url` rules),
//! `fail` and `duration`.

use std::collections::BTreeMap;

use super::super::encode::go_json;
use super::super::{string, Func};
use super::{at_least, bool_arg, deep_equal, dict_arg, is_empty, want};
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_default", |_, a| {
        at_least(&a, 1)?;
        let given = a.get(1);
        Ok(match given {
            Some(v) if !is_empty(v) => v.clone(),
            _ => a[0].clone(),
        })
    }),
    ("sprig_empty", |_, a| {
        want(&a, 1)?;
        Ok(Value::Bool(is_empty(&a[0])))
    }),
    ("sprig_coalesce", |_, a| {
        Ok(a.into_iter().find(|v| !is_empty(v)).unwrap_or(Value::Nil))
    }),
    ("sprig_all", |_, a| {
        Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
    }),
    ("sprig_any", |_, a| {
        Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
    }),
    ("sprig_ternary", |_, a| {
        want(&a, 3)?;
        Ok(if bool_arg(&a[2])? {
            a[0].clone()
        } else {
            a[1].clone()
        })
    }),
    ("sprig_fromJson", |_, a| from_json(a, false)),
    ("sprig_mustFromJson", |_, a| from_json(a, true)),
    ("sprig_toJson", |_, a| to_json(a, true, false, false)),
    ("sprig_mustToJson", |_, a| to_json(a, true, false, true)),
    ("sprig_toPrettyJson", |_, a| to_json(a, true, true, false)),
    ("sprig_mustToPrettyJson", |_, a| {
        to_json(a, true, true, true)
    }),
    ("sprig_toRawJson", |_, a| to_json(a, false, false, true)),
    ("sprig_mustToRawJson", |_, a| to_json(a, false, false, true)),
    ("sprig_typeOf", |_, a| {
        want(&a, 1)?;
        Ok(Value::str(a[0].type_name()))
    }),
    ("sprig_typeIs", |_, a| {
        want(&a, 2)?;
        Ok(Value::Bool(string(&a[0])? == a[1].type_name()))
    }),
    ("sprig_typeIsLike", |_, a| {
        want(&a, 2)?;
        let (target, t) = (string(&a[0])?, a[1].type_name());
        Ok(Value::Bool(target == t || format!("*{target}") == t))
    }),
    ("sprig_kindOf", |_, a| {
        want(&a, 1)?;
        Ok(Value::str(kind_of(&a[0])))
    }),
    ("sprig_kindIs", |_, a| {
        want(&a, 2)?;
        Ok(Value::Bool(string(&a[0])? == kind_of(&a[1])))
    }),
    ("sprig_deepEqual", |_, a| {
        want(&a, 2)?;
        Ok(Value::Bool(deep_equal(&a[0], &a[1])))
    }),
    ("sprig_base", |_, a| path_fn(a, base)),
    ("sprig_osBase", |_, a| path_fn(a, base)),
    ("sprig_dir", |_, a| path_fn(a, dir)),
    ("sprig_osDir", |_, a| path_fn(a, dir)),
    ("sprig_clean", |_, a| path_fn(a, clean)),
    ("sprig_osClean", |_, a| path_fn(a, clean)),
    ("sprig_ext", |_, a| path_fn(a, ext)),
    ("sprig_osExt", |_, a| path_fn(a, ext)),
    ("sprig_isAbs", |_, a| {
        want(&a, 1)?;
        Ok(Value::Bool(string(&a[0])?.starts_with('/')))
    }),
    ("sprig_osIsAbs", |_, a| {
        want(&a, 1)?;
        Ok(Value::Bool(string(&a[0])?.starts_with('/')))
    }),
    ("sprig_fail", |_, a| {
        want(&a, 1)?;
        Err(FuncError::call(string(&a[0])?))
    }),
    ("sprig_duration", |_, a| {
        want(&a, 1)?;
        let secs = match &a[0] {
            Value::Int(i) => *i,
            Value::Str(s) => s.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        Ok(Value::str(api_types::format_go_duration(
            secs.wrapping_mul(1_000_000_000),
        )))
    }),
    ("sprig_durationRound", |_, a| {
        want(&a, 1)?;
        let ns = match &a[0] {
            Value::Str(s) => api_types::parse_go_duration(s).unwrap_or(0),
            Value::Int(i) => *i,
            other => super::time::since_ns(other).unwrap_or(0),
        };
        Ok(Value::str(duration_round(ns)))
    }),
    ("sprig_urlParse", |_, a| {
        want(&a, 1)?;
        url_parse(&string(&a[0])?)
    }),
    ("sprig_urlJoin", |_, a| {
        want(&a, 1)?;
        url_join(&dict_arg(&a[0])?.entries)
    }),
];

/// sprig's `durationRound`: the largest whole unit (years of 365 days, months of 30) that
/// the duration exceeds.
fn duration_round(ns: i64) -> String {
    let u = ns.unsigned_abs();
    const S: u64 = 1_000_000_000;
    for (unit, suffix) in [
        (S * 3600 * 24 * 365, "y"),
        (S * 3600 * 24 * 30, "mo"),
        (S * 3600 * 24, "d"),
        (S * 3600, "h"),
        (S * 60, "m"),
        (S, "s"),
    ] {
        if u > unit {
            return format!("{}{suffix}", u / unit);
        }
    }
    "0s".into()
}

/// Go's `reflect.Kind` name of a value.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Struct(s) if s.pointer => "ptr",
        Value::Struct(_) => "struct",
        Value::Object(_) => "ptr",
    }
}

fn from_json(a: Vec<Value>, must: bool) -> Result<Value, FuncError> {
    want(&a, 1)?;
    let s = string(&a[0])?;
    match serde_json::from_str::<serde_json::Value>(&s) {
        Ok(j) => Ok(Value::from_json(&j)),
        Err(e) if must => Err(FuncError::call(e.to_string())),
        Err(_) => Ok(Value::Nil),
    }
}

fn to_json(a: Vec<Value>, escape: bool, pretty: bool, must: bool) -> Result<Value, FuncError> {
    want(&a, 1)?;
    match go_json(&a[0], escape, pretty) {
        Ok(s) => Ok(Value::str(s)),
        Err(e) if must => Err(e),
        Err(_) => Ok(Value::str("")),
    }
}

fn path_fn(a: Vec<Value>, f: fn(&str) -> String) -> Result<Value, FuncError> {
    want(&a, 1)?;
    Ok(Value::str(f(&string(&a[0])?)))
}

/// Go's `path.Clean`: lexical, `.` and `..` resolved, one slash between elements.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `path.Dir`.
fn dir(p: &str) -> String {
    let cut = p.rfind('/').map_or(0, |i| i + 1);
    clean(&p[..cut])
}

/// Go's `path.Ext`.
fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

// ---- net/url ----

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Go's `url.PathUnescape`-style decoding (`%XX`; a bad escape is an error).
fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(unhex);
            let lo = b.get(i + 2).copied().and_then(unhex);
            match (hi, lo) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    let end = (i + 3).min(b.len());
                    return Err(format!("invalid URL escape {:?}", &s[i..end]));
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn url_parse(raw: &str) -> Result<Value, FuncError> {
    let fail = |e: String| FuncError::call(format!("unable to parse url: parse {raw:?}: {e}"));
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, unescape(f).map_err(fail)?),
        None => (raw, String::new()),
    };
    // Scheme: a letter, then letters, digits, `+`, `-`, `.`, up to a `:`.
    let mut scheme = String::new();
    let mut rest = rest;
    for (i, c) in rest.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(fail("missing protocol scheme".into())),
            ':' => {
                scheme = rest[..i].to_ascii_lowercase();
                rest = &rest[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_string()),
        None => (rest, String::new()),
    };
    let mut d = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        d.insert(k.to_string(), Value::str(v));
    };
    if !scheme.is_empty() && !rest.starts_with('/') {
        put("scheme", &scheme);
        put("host", "");
        put("hostname", "");
        put("path", "");
        put("query", &query);
        put("opaque", rest);
        put("fragment", &fragment);
        put("userinfo", "");
        return Ok(Value::map(d));
    }
    let (mut host, mut userinfo, mut path) = (String::new(), String::new(), rest.to_string());
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let auth_and_path = &rest[2..];
        let cut = auth_and_path.find('/').unwrap_or(auth_and_path.len());
        let authority = &auth_and_path[..cut];
        path = auth_and_path[cut..].to_string();
        let h = match authority.rfind('@') {
            Some(at) => {
                userinfo = authority[..at].to_string();
                &authority[at + 1..]
            }
            None => authority,
        };
        host = unescape(h).map_err(fail)?;
    }
    let path = unescape(&path).map_err(fail)?;
    let hostname = if let Some(inner) = host.strip_prefix('[') {
        inner.split(']').next().unwrap_or("").to_string()
    } else {
        host.split(':').next().unwrap_or("").to_string()
    };
    let userinfo = if userinfo.is_empty() {
        String::new()
    } else {
        let (user, pass) = match userinfo.split_once(':') {
            Some((u, p)) => (unescape(u).map_err(fail)?, Some(unescape(p).map_err(fail)?)),
            None => (unescape(&userinfo).map_err(fail)?, None),
        };
        let mut s = escape(&user, Mode::UserInfo);
        if let Some(p) = pass {
            s.push(':');
            s.push_str(&escape(&p, Mode::UserInfo));
        }
        s
    };
    put("scheme", &scheme);
    put("host", &host);
    put("hostname", &hostname);
    put("path", &path);
    put("query", &query);
    put("opaque", "");
    put("fragment", &fragment);
    put("userinfo", &userinfo);
    Ok(Value::map(d))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    UserInfo,
    Fragment,
}

/// Go's `shouldEscape` for the parts `urlJoin` writes.
fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || match mode {
                Mode::Path => matches!(
                    b,
                    b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@'
                ),
                Mode::Host => matches!(
                    b,
                    b'!' | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'['
                        | b']'
                        | b'<'
                        | b'>'
                        | b'"'
                ),
                Mode::UserInfo => matches!(b, b'$' | b'&' | b'+' | b',' | b';' | b'='),
                Mode::Fragment => matches!(
                    b,
                    b'$' | b'&'
                        | b'+'
                        | b','
                        | b'/'
                        | b':'
                        | b';'
                        | b'='
                        | b'?'
                        | b'@'
                        | b'!'
                        | b'('
                        | b')'
                        | b'*'
                ),
            };
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn dict_str(d: &BTreeMap<String, Value>, key: &str) -> Result<String, FuncError> {
    match d.get(key) {
        None => Ok(String::new()),
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(other) => Err(FuncError::call(format!(
            "unable to parse {key} key, must be of type string, but {} found",
            kind_of(other)
        ))),
    }
}

/// `url.URL.String()` of the dict's parts.
fn url_join(d: &BTreeMap<String, Value>) -> Result<Value, FuncError> {
    let scheme = dict_str(d, "scheme")?;
    let host = dict_str(d, "host")?;
    let path = dict_str(d, "path")?;
    let query = dict_str(d, "query")?;
    let opaque = dict_str(d, "opaque")?;
    let fragment = dict_str(d, "fragment")?;
    let userinfo = dict_str(d, "userinfo")?;
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        if !scheme.is_empty() || !host.is_empty() || !userinfo.is_empty() {
            if !host.is_empty() || !path.is_empty() || !userinfo.is_empty() {
                out.push_str("//");
            }
            if !userinfo.is_empty() {
                let (u, p) = match userinfo.split_once(':') {
                    Some((u, p)) => (u.to_string(), Some(p.to_string())),
                    None => (userinfo.clone(), None),
                };
                let u = unescape(&u).unwrap_or(u);
                out.push_str(&escape(&u, Mode::UserInfo));
                if let Some(p) = p {
                    out.push(':');
                    let p = unescape(&p).unwrap_or(p);
                    out.push_str(&escape(&p, Mode::UserInfo));
                }
                out.push('@');
            }
            out.push_str(&escape(&host, Mode::Host));
        }
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        if out.is_empty() {
            // A first segment with a colon would read as a scheme.
            if let Some(seg) = path.split('/').next() {
                if seg.contains(':') {
                    out.push_str("./");
                }
            }
        }
        out.push_str(&escape(&path, Mode::Path));
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(&escape(&fragment, Mode::Fragment));
    }
    Ok(Value::str(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_paths() {
        assert_eq!(clean("a//b/../c/."), "a/c");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(dir("/a/b/c"), "/a/b");
        assert_eq!(dir("file"), ".");
        assert_eq!(ext("x/y.tar.gz"), ".gz");
    }
}
