//! The debugging functions upstream takes from `go-spew` (default configuration: one space per
//! level): `spew_sdump` returns the dump, `spew_dump` prints it to standard output and returns
//! "", `spew_sprintf`/`spew_printf` format like `printf`. A dump shows each value with its Go
//! type, lengths and capacities; a list whose elements are all strings shows as `[]string` (the
//! type upstream's `split` and friends return). Pointers print as `(*T)(0x0)`: there is no Go
//! address to show.

use std::io::Write;

use super::{string, Func};
use gotemplate::gofmt::{format_float_g, go_quote, sprintf};
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("spew_sdump", |_, a| Ok(Value::str(sdump(&a)))),
    ("spew_dump", |_, a| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(sdump(&a).as_bytes());
        Ok(Value::str(""))
    }),
    ("spew_sprintf", |_, a| {
        let (f, rest) = format_args(&a)?;
        Ok(Value::str(sprintf(&f, rest)))
    }),
    ("spew_printf", |_, a| {
        let (f, rest) = format_args(&a)?;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(sprintf(&f, rest).as_bytes());
        Ok(Value::str(""))
    }),
];

fn format_args(a: &[Value]) -> Result<(String, &[Value]), FuncError> {
    let Some(first) = a.first() else {
        return Err(FuncError::arity_at_least(1, 0));
    };
    Ok((string(first)?, &a[1..]))
}

fn sdump(args: &[Value]) -> String {
    let mut out = String::new();
    for a in args {
        dump(&mut out, a, 0);
        out.push('\n');
    }
    out
}

fn list_type(items: &[Value]) -> &'static str {
    if !items.is_empty() && items.iter().all(|v| matches!(v, Value::Str(_))) {
        "[]string"
    } else {
        "[]interface {}"
    }
}

fn indent(out: &mut String, depth: usize) {
    out.push_str(&" ".repeat(depth));
}

fn dump(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Nil => out.push_str("(interface {}) <nil>"),
        Value::Bool(b) => out.push_str(&format!("(bool) {b}")),
        Value::Int(i) => out.push_str(&format!("(int) {i}")),
        Value::Float(f) => out.push_str(&format!("(float64) {}", format_float_g(*f))),
        Value::Str(s) => out.push_str(&format!("(string) (len={}) {}", s.len(), go_quote(s))),
        Value::List(items) => {
            out.push_str(&format!("({}) ", list_type(items)));
            if !items.is_empty() {
                out.push_str(&format!("(len={0} cap={0}) ", items.len()));
            }
            out.push_str("{\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                dump(out, item, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Map(m) => {
            out.push_str(&format!("({}) ", v.type_name()));
            if !m.entries.is_empty() {
                out.push_str(&format!("(len={}) ", m.entries.len()));
            }
            out.push_str("{\n");
            let n = m.entries.len();
            for (i, (k, val)) in m.entries.iter().enumerate() {
                indent(out, depth + 1);
                dump(out, &Value::str(k), depth + 1);
                out.push_str(": ");
                dump(out, val, depth + 1);
                out.push_str(if i + 1 < n { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Struct(s) => {
            if s.pointer {
                out.push_str(&format!("(*{})(0x0)(", s.type_name));
            } else {
                out.push_str(&format!("({}) ", s.type_name));
            }
            out.push_str("{\n");
            let n = s.fields.len();
            for (i, (k, val)) in s.fields.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str(k);
                out.push_str(": ");
                dump(out, val, depth + 1);
                out.push_str(if i + 1 < n { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
            if s.pointer {
                out.push(')');
            }
        }
        Value::Object(o) => out.push_str(&format!("({})(0x0)", o.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_sdump_examples() {
        // template/template_test.go "spew_sdump_helper_split" and "spew_sdump_simple_output".
        let l = Value::list(vec![Value::str("a"), Value::str("b"), Value::str("c")]);
        assert_eq!(
            sdump(&[l]),
            "([]string) (len=3 cap=3) {\n (string) (len=1) \"a\",\n (string) (len=1) \"b\",\n (string) (len=1) \"c\"\n}\n"
        );
        assert_eq!(
            sdump(&[Value::str("1970-01-01")]),
            "(string) (len=10) \"1970-01-01\"\n"
        );
    }
}
