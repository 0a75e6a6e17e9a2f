//! Go standard-library behaviour that leaks into go-bexpr's observable output: `strconv.Quote`
//! (every `%q` in an error message), `strconv.Unquote` (string literals), and the `strconv.Parse*`
//! functions that coerce a raw literal to a field's type, with their `NumError` texts.

/// `strconv.Unquote` for the two literal forms the grammar produces: `"..."` and `` `...` ``.
/// The error text is Go's `strconv.ErrSyntax`.
pub(crate) fn unquote(lit: &str) -> Result<String, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    let bytes = lit.as_bytes();
    if bytes.len() < 2 || bytes[0] != bytes[bytes.len() - 1] {
        return Err(SYNTAX);
    }
    let inner = &lit[1..lit.len() - 1];
    match bytes[0] {
        b'`' => {
            if inner.contains('`') {
                return Err(SYNTAX);
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' => {
            if inner.contains('\n') {
                return Err(SYNTAX);
            }
            if !inner.contains('\\') && !inner.contains('"') {
                return Ok(inner.to_owned());
            }
            unescape(inner).ok_or(SYNTAX)
        }
        _ => Err(SYNTAX),
    }
}

/// The escape handling of `strconv.UnquoteChar` with `"` as the quote.
fn unescape(s: &str) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '"' {
            return None;
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let (_, e) = chars.next()?;
        let simple = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        match e {
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v: u32 = 0;
                for _ in 0..n {
                    let (_, d) = chars.next()?;
                    v = v * 16 + d.to_digit(16)?;
                }
                if e == 'x' {
                    out.push(u8::try_from(v).ok()?);
                } else {
                    let c = char::from_u32(v)?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8)?;
                for _ in 0..2 {
                    let (_, d) = chars.next()?;
                    v = v * 8 + d.to_digit(8)?;
                }
                out.push(u8::try_from(v).ok()?);
            }
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn num_error(func: &str, s: &str, range: bool) -> String {
    let why = if range {
        "value out of range"
    } else {
        "invalid syntax"
    };
    format!("strconv.{func}: parsing {}: {why}", api_types::go_quote(s))
}

/// `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(num_error("ParseBool", s, false)),
    }
}

/// Go's placement rule for `_` digit separators in base-prefixed or base-0 literals.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut s = b;
    if !s.is_empty() && (s[0] == b'-' || s[0] == b'+') {
        s = &s[1..];
    }
    let mut saw = b'^';
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// The magnitude part of `strconv.ParseUint(s, 0, 64)`; `Err(true)` means out of range.
fn parse_magnitude(s: &str, whole: &str) -> Result<u64, bool> {
    if s.is_empty() {
        return Err(false);
    }
    let b = s.as_bytes();
    let (base, digits) = if b[0] == b'0' && b.len() >= 3 {
        match b[1].to_ascii_lowercase() {
            b'b' => (2, &s[2..]),
            b'o' => (8, &s[2..]),
            b'x' => (16, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else if b[0] == b'0' {
        (8, &s[1..])
    } else {
        (10, s)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(base).ok_or(false)?;
        n = n
            .checked_mul(u64::from(base))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(true)?;
    }
    if underscores && !underscore_ok(whole) {
        return Err(false);
    }
    Ok(n)
}

/// `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Result<i64, String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = parse_magnitude(body, s).map_err(|range| num_error("ParseInt", s, range))?;
    if neg {
        if n > i64::MAX as u64 + 1 {
            return Err(num_error("ParseInt", s, true));
        }
        Ok((n as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(n).map_err(|_| num_error("ParseInt", s, true))
    }
}

/// `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint(s: &str) -> Result<u64, String> {
    parse_magnitude(s, s).map_err(|range| num_error("ParseUint", s, range))
}

/// `strconv.ParseFloat(s, 64)` for decimal forms, `inf` and `nan` (hexadecimal floats are not
/// accepted).
pub(crate) fn parse_float(s: &str) -> Result<f64, String> {
    let cleaned: String;
    let text = if s.contains('_') {
        if !underscore_ok(s) {
            return Err(num_error("ParseFloat", s, false));
        }
        cleaned = s.replace('_', "");
        cleaned.as_str()
    } else {
        s
    };
    let lower = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
    let named = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    if !named
        && !lower
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        return Err(num_error("ParseFloat", s, false));
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_infinite() && !named => Err(num_error("ParseFloat", s, true)),
        Ok(v) => Ok(v),
        Err(_) => Err(num_error("ParseFloat", s, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_matches_go() {
        assert_eq!(unquote(r#""a\tb""#), Ok("a\tb".to_owned()));
        assert_eq!(unquote(r#""\u00e9\x41\101""#), Ok("éAA".to_owned()));
        assert_eq!(unquote("`a\\tb`"), Ok("a\\tb".to_owned()));
        assert_eq!(unquote(r#""\q""#), Err("invalid syntax"));
        assert_eq!(unquote(r#""\'""#), Err("invalid syntax"));
        assert_eq!(unquote("\"a\nb\""), Err("invalid syntax"));
    }

    #[test]
    fn numbers_match_go() {
        assert_eq!(parse_int("-42"), Ok(-42));
        assert_eq!(parse_int("0x1f"), Ok(31));
        assert_eq!(parse_int("010"), Ok(8));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_int("abc"),
            Err(r#"strconv.ParseInt: parsing "abc": invalid syntax"#.to_owned())
        );
        assert_eq!(
            parse_int("9223372036854775808"),
            Err(
                r#"strconv.ParseInt: parsing "9223372036854775808": value out of range"#.to_owned()
            )
        );
        assert_eq!(
            parse_uint("-1"),
            Err(r#"strconv.ParseUint: parsing "-1": invalid syntax"#.to_owned())
        );
        assert_eq!(parse_float("1.5"), Ok(1.5));
        assert_eq!(parse_float("1e3"), Ok(1000.0));
        assert!(parse_float("1.5x").is_err());
        assert_eq!(parse_bool("T"), Ok(true));
        assert_eq!(
            parse_bool("yes"),
            Err(r#"strconv.ParseBool: parsing "yes": invalid syntax"#.to_owned())
        );
    }
}
