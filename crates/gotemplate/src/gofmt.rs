//! Go's `fmt` package as far as templates see it: `%v` printing of every value kind
//! (`[a b]`, `map[k:v]`, `&{f1 f2}`, `<nil>`, shortest float formatting) and `Sprintf` with the
//! common verbs, flags, width and precision.

use crate::value::Value;

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which is what `%v` prints for a float64.
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (neg, digits, exp) = shortest_digits(f);
    // exp: position of the decimal point relative to the digits (value = 0.digits × 10^exp).
    let x = exp - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    // Shortest formatting decides with precision 6: %e below 1e-4 or from 1e+6 on.
    if !(-4..6).contains(&x) {
        push_exp(&mut out, &digits, x);
    } else {
        push_plain(&mut out, &digits, exp);
    }
    out
}

/// The shortest round-tripping decimal digits of `f`: (negative, digits, decimal exponent)
/// with value = 0.d1d2d3… × 10^exp.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0').to_string();
    let digits = if digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    (f < 0.0, digits, exp + 1)
}

fn push_exp(out: &mut String, digits: &str, x: i32) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if x < 0 { '-' } else { '+' });
    let ax = x.unsigned_abs();
    if ax < 10 {
        out.push('0');
    }
    out.push_str(&ax.to_string());
}

fn push_plain(out: &mut String, digits: &str, exp: i32) {
    if exp <= 0 {
        out.push_str("0.");
        for _ in 0..(-exp) {
            out.push('0');
        }
        out.push_str(digits);
    } else if exp as usize >= digits.len() {
        out.push_str(digits);
        for _ in 0..(exp as usize - digits.len()) {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..exp as usize]);
        out.push('.');
        out.push_str(&digits[exp as usize..]);
    }
}

/// Go's `%v` of a value (as `fmt.Sprint` prints one operand).
pub fn format_v(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float_g(*f)),
        Value::Str(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Struct(s) => {
            // Go prints nested pointers as addresses, which mean nothing here: print fields.
            if s.pointer {
                out.push('&');
            }
            out.push('{');
            for (i, (_, item)) in s.fields.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push('}');
        }
        Value::Object(o) => out.push_str(&o.format_v()),
    }
}

/// Go's `fmt.Sprint`: spaces are added between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&format_v(a));
    }
    out
}

/// Go's `fmt.Sprintln`: spaces always between operands, newline appended.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(format_v).collect();
    let mut out = parts.join(" ");
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf` for the verbs templates use: `v s d q x X o b c t f F e E g G U %`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = read_num(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(read_num(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let body = format_verb(verb, &spec, arg);
        out.push_str(&pad(body, &spec, verb));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), format_v(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn read_num(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        chars.next();
    }
    n
}

fn pad(body: String, spec: &Spec, verb: char) -> String {
    let Some(width) = spec.width else { return body };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if spec.minus {
        return format!("{body}{}", " ".repeat(fill));
    }
    if spec.zero && !matches!(verb, 's' | 'q' | 'v' | 't' | 'c') {
        let (sign, rest) = match body.strip_prefix(['-', '+']) {
            Some(rest) => (&body[..1], rest),
            None => ("", body.as_str()),
        };
        return format!("{sign}{}{rest}", "0".repeat(fill));
    }
    format!("{}{body}", " ".repeat(fill))
}

fn sign(spec: &Spec, neg: bool, digits: String) -> String {
    if neg {
        format!("-{digits}")
    } else if spec.plus {
        format!("+{digits}")
    } else if spec.space {
        format!(" {digits}")
    } else {
        digits
    }
}

fn format_verb(verb: char, spec: &Spec, arg: &Value) -> String {
    match (verb, arg) {
        ('v', Value::Float(f)) | ('g', Value::Float(f)) if spec.prec.is_none() => {
            let s = format_float_g(*f);
            if spec.plus && *f >= 0.0 {
                format!("+{s}")
            } else {
                s
            }
        }
        ('v', Value::Int(i)) | ('d', Value::Int(i)) => {
            sign(spec, *i < 0, i.unsigned_abs().to_string())
        }
        ('v', _) => format_v(arg),
        ('s', Value::Str(s)) => truncate(s, spec.prec),
        ('s', Value::List(_) | Value::Map(_) | Value::Struct(_)) => {
            truncate(&format_v(arg), spec.prec)
        }
        (_, Value::Nil) => format!("%!{verb}(<nil>)"),
        ('q', Value::Str(s)) => go_quote(s),
        ('q', Value::Int(i)) => {
            let c = char::from_u32(*i as u32).unwrap_or('\u{FFFD}');
            format!("'{}'", go_quote(&c.to_string()).trim_matches('"'))
        }
        ('t', Value::Bool(b)) => b.to_string(),
        ('x', Value::Int(i)) => sign(
            spec,
            *i < 0,
            prefixed(spec, "0x", format!("{:x}", i.unsigned_abs())),
        ),
        ('X', Value::Int(i)) => sign(
            spec,
            *i < 0,
            prefixed(spec, "0X", format!("{:X}", i.unsigned_abs())),
        ),
        ('o', Value::Int(i)) => sign(
            spec,
            *i < 0,
            prefixed(spec, "0", format!("{:o}", i.unsigned_abs())),
        ),
        ('b', Value::Int(i)) => sign(spec, *i < 0, format!("{:b}", i.unsigned_abs())),
        ('c', Value::Int(i)) => char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
        ('U', Value::Int(i)) => format!("U+{:04X}", i),
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('f' | 'F', Value::Float(f)) => sign(
            spec,
            *f < 0.0,
            format!("{:.*}", spec.prec.unwrap_or(6), f.abs()),
        ),
        ('f' | 'F', Value::Int(i)) => format!("%!{verb}(int={i})"),
        ('e' | 'E', Value::Float(f)) => {
            let s = sign(spec, *f < 0.0, go_exp(f.abs(), spec.prec.unwrap_or(6)));
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        ('g' | 'G', Value::Float(f)) => format!("{:.*}", spec.prec.unwrap_or(6), f),
        ('d', Value::Float(f)) => format!("%!d(float64={})", format_float_g(*f)),
        ('d', Value::List(l)) => {
            let parts: Vec<String> = l.iter().map(|v| format_verb('d', spec, v)).collect();
            format!("[{}]", parts.join(" "))
        }
        _ => format!("%!{verb}({}={})", arg.type_name(), format_v(arg)),
    }
}

fn prefixed(spec: &Spec, prefix: &str, digits: String) -> String {
    if spec.sharp {
        format!("{prefix}{digits}")
    } else {
        digits
    }
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

fn go_exp(f: f64, prec: usize) -> String {
    let s = format!("{:.*e}", prec, f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.unsigned_abs())
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        for (f, want) in [
            (1.0, "1"),
            (3.25, "3.25"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (123456.0, "123456"),
        ] {
            assert_eq!(format_float_g(f), want, "{f}");
        }
    }

    #[test]
    fn sprintf_verbs() {
        let s = |f: &str, a: Vec<Value>| sprintf(f, &a);
        assert_eq!(s("%d-%s", vec![Value::Int(5), Value::str("x")]), "5-x");
        assert_eq!(s("%05d", vec![Value::Int(42)]), "00042");
        assert_eq!(s("%-4s|", vec![Value::str("a")]), "a   |");
        assert_eq!(s("%q", vec![Value::str("a\"b")]), "\"a\\\"b\"");
        assert_eq!(s("%.2f", vec![Value::Float(1.23456)]), "1.23");
        assert_eq!(s("%x", vec![Value::Int(255)]), "ff");
        assert_eq!(
            s(
                "%v %v",
                vec![Value::list(vec![1.into(), 2.into()]), Value::Nil]
            ),
            "[1 2] <nil>"
        );
        assert_eq!(s("%d", vec![]), "%!d(MISSING)");
        assert_eq!(s("%d%%", vec![Value::Int(1)]), "1%");
        assert_eq!(s("a", vec![Value::Int(1)]), "a%!(EXTRA int=1)");
    }
}
