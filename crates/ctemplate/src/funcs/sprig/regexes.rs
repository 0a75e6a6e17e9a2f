//! sprig's regular-expression functions (`regex.go`): Go's RE2 syntax, which the `regex`
//! crate shares; the plain functions panic (a call error) on a bad expression with
//! `regexp.MustCompile`'s words, the `must*` ones return the compile error.

use regex::Regex;

use super::super::{string, Func};
use super::{int_arg, str_list, want};
use gotemplate::gofmt::go_quote;
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_regexMatch", |_, a| regex_match(a, false)),
    ("sprig_mustRegexMatch", |_, a| regex_match(a, true)),
    ("sprig_regexFind", |_, a| regex_find(a, false)),
    ("sprig_mustRegexFind", |_, a| regex_find(a, true)),
    ("sprig_regexFindAll", |_, a| regex_find_all(a, false)),
    ("sprig_mustRegexFindAll", |_, a| regex_find_all(a, true)),
    ("sprig_regexReplaceAll", |_, a| {
        regex_replace(a, false, false)
    }),
    ("sprig_mustRegexReplaceAll", |_, a| {
        regex_replace(a, true, false)
    }),
    ("sprig_regexReplaceAllLiteral", |_, a| {
        regex_replace(a, false, true)
    }),
    ("sprig_mustRegexReplaceAllLiteral", |_, a| {
        regex_replace(a, true, true)
    }),
    ("sprig_regexSplit", |_, a| regex_split(a, false)),
    ("sprig_mustRegexSplit", |_, a| regex_split(a, true)),
    ("sprig_regexQuoteMeta", |_, a| unary(a, quote_meta)),
];

fn unary(args: Vec<Value>, f: impl Fn(&str) -> String) -> Result<Value, FuncError> {
    want(&args, 1)?;
    Ok(Value::str(f(&string(&args[0])?)))
}

/// Go's `regexp.QuoteMeta`: a backslash before each of `\\.+*?()|[]{}^$`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `regexp.MustCompile`'s panic text, or the plain error for the `must*` variants.
fn compile(re: &str, must: bool) -> Result<Regex, FuncError> {
    Regex::new(re).map_err(|e| {
        let msg = format!("error parsing regexp: {e}");
        if must {
            FuncError::call(msg)
        } else {
            FuncError::call(format!("regexp: Compile({}): {msg}", go_backquote(re)))
        }
    })
}

fn go_backquote(s: &str) -> String {
    if s.contains('`') {
        go_quote(s)
    } else {
        format!("`{s}`")
    }
}

fn regex_match(a: Vec<Value>, must: bool) -> Result<Value, FuncError> {
    want(&a, 2)?;
    let (re, s) = (string(&a[0])?, string(&a[1])?);
    match Regex::new(&re) {
        Ok(r) => Ok(Value::Bool(r.is_match(&s))),
        Err(e) if must => Err(FuncError::call(format!("error parsing regexp: {e}"))),
        Err(_) => Ok(Value::Bool(false)),
    }
}

fn regex_find(a: Vec<Value>, must: bool) -> Result<Value, FuncError> {
    want(&a, 2)?;
    let (re, s) = (compile(&string(&a[0])?, must)?, string(&a[1])?);
    Ok(Value::str(re.find(&s).map(|m| m.as_str()).unwrap_or("")))
}

fn regex_find_all(a: Vec<Value>, must: bool) -> Result<Value, FuncError> {
    want(&a, 3)?;
    let (re, s, n) = (
        compile(&string(&a[0])?, must)?,
        string(&a[1])?,
        int_arg(&a[2])?,
    );
    let found = re.find_iter(&s).map(|m| m.as_str().to_string());
    let found: Vec<String> = if n < 0 {
        found.collect()
    } else {
        found.take(n as usize).collect()
    };
    if found.is_empty() {
        // Go returns a nil slice when nothing matched.
        return Ok(crate::dependency::gonil::nil_list());
    }
    Ok(str_list(found))
}

fn regex_replace(a: Vec<Value>, must: bool, literal: bool) -> Result<Value, FuncError> {
    want(&a, 3)?;
    let re = compile(&string(&a[0])?, must)?;
    let (s, repl) = (string(&a[1])?, string(&a[2])?);
    Ok(Value::str(if literal {
        re.replace_all(&s, regex::NoExpand(&repl)).into_owned()
    } else {
        re.replace_all(&s, repl.as_str()).into_owned()
    }))
}

/// Go's `Regexp.Split(s, n)`.
fn regex_split(a: Vec<Value>, must: bool) -> Result<Value, FuncError> {
    want(&a, 3)?;
    let (re, s, n) = (
        compile(&string(&a[0])?, must)?,
        string(&a[1])?,
        int_arg(&a[2])?,
    );
    if n == 0 {
        return Ok(crate::dependency::gonil::nil_list());
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return Ok(str_list([String::new()]));
    }
    let limit = if n > 0 { n as usize } else { usize::MAX };
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for m in re.find_iter(&s).take(limit) {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = m.start();
        if m.end() != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = m.end();
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    Ok(str_list(out))
}
