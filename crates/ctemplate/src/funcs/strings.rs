//! String helpers: case, trimming, splitting, regexes, hashing, base64 and Go time layouts.
//! Argument order follows upstream: the piped value is the last argument.

use base64::Engine as _;
use hmac::Mac as _;
use md5::Digest as _;
use regex::Regex;

use super::{arity, int, list, string, Env, Func};
use gotemplate::gofmt::format_v;
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("toLower", |_, a| unary(a, |s| s.to_lowercase())),
    ("toUpper", |_, a| unary(a, |s| s.to_uppercase())),
    ("toTitle", |_, a| unary(a, title)),
    ("trimSpace", |_, a| unary(a, |s| s.trim().to_string())),
    ("trim", |_, a| {
        binary(a, |cut, s| s.trim_matches(|c| cut.contains(c)).to_string())
    }),
    ("trimPrefix", |_, a| {
        binary(a, |p, s| s.strip_prefix(p).unwrap_or(s).to_string())
    }),
    ("trimSuffix", |_, a| {
        binary(a, |p, s| s.strip_suffix(p).unwrap_or(s).to_string())
    }),
    ("replaceAll", replace_all),
    ("regexMatch", regex_match),
    ("regexReplaceAll", regex_replace_all),
    ("split", split),
    ("splitToMap", split_to_map),
    ("join", join),
    ("indent", indent),
    ("sha256Hex", |_, a| {
        unary(a, |s| hex(&sha2::Sha256::digest(s.as_bytes())))
    }),
    ("md5sum", |_, a| {
        unary(a, |s| hex(&md5::Md5::digest(s.as_bytes())))
    }),
    ("hmacSHA256Hex", hmac_sha256_hex),
    ("base64Encode", |_, a| unary(a, |s| b64().encode(s))),
    ("base64URLEncode", |_, a| unary(a, |s| b64url().encode(s))),
    ("base64Decode", |_, a| decode(a, b64(), "base64Decode")),
    ("base64URLDecode", |_, a| {
        decode(a, b64url(), "base64URLDecode")
    }),
];

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn b64url() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE
}

fn unary(args: Vec<Value>, f: impl Fn(&str) -> String) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    Ok(Value::str(f(&string(&args[0])?)))
}

fn binary(args: Vec<Value>, f: impl Fn(&str, &str) -> String) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    Ok(Value::str(f(&string(&args[0])?, &string(&args[1])?)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(
    args: Vec<Value>,
    engine: base64::engine::GeneralPurpose,
    name: &str,
) -> Result<Value, FuncError> {
    arity(&args, 1)?;
    let s = string(&args[0])?;
    let bytes = engine
        .decode(s.as_bytes())
        .map_err(|e| FuncError::call(format!("{name}: {e}")))?;
    Ok(Value::str(String::from_utf8_lossy(&bytes)))
}

/// Upper-cases the first letter of every word, leaving the rest alone (`cases.NoLower`).
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn replace_all(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 3)?;
    let (from, to, s) = (string(&args[0])?, string(&args[1])?, string(&args[2])?);
    if from.is_empty() {
        // Go's strings.Replace with an empty old string inserts `to` around every rune.
        let mut out = to.clone();
        for c in s.chars() {
            out.push(c);
            out.push_str(&to);
        }
        return Ok(Value::str(out));
    }
    Ok(Value::str(s.replace(&from, &to)))
}

fn compile(re: &str) -> Result<Regex, FuncError> {
    Regex::new(re).map_err(|e| FuncError::call(format!("error parsing regexp: {e}")))
}

fn regex_match(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let re = compile(&string(&args[0])?)?;
    Ok(Value::Bool(re.is_match(&string(&args[1])?)))
}

fn regex_replace_all(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 3)?;
    let re = compile(&string(&args[0])?)?;
    let (repl, s) = (string(&args[1])?, string(&args[2])?);
    Ok(Value::str(re.replace_all(&s, repl.as_str())))
}

fn split(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let (sep, s) = (string(&args[0])?, string(&args[1])?);
    let s = s.trim();
    if s.is_empty() {
        return Ok(Value::list(vec![]));
    }
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::str(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(Value::from).collect()
    };
    Ok(Value::list(parts))
}

fn split_to_map(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 3)?;
    let (sep1, sep2, s) = (string(&args[0])?, string(&args[1])?, string(&args[2])?);
    let mut m = std::collections::BTreeMap::new();
    let s = s.trim();
    if !s.is_empty() {
        for item in s.split(sep1.as_str()) {
            if let Some((k, v)) = item.split_once(sep2.as_str()) {
                m.insert(k.to_string(), Value::str(v));
            }
        }
    }
    Ok(Value::str_map(m))
}

fn join(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let sep = string(&args[0])?;
    let items = list(&args[1])?;
    let parts: Result<Vec<String>, FuncError> = items
        .iter()
        .map(|v| match v {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(FuncError::call(format!(
                "wrong type for value; expected []string; got element {}",
                format_v(other)
            ))),
        })
        .collect();
    Ok(Value::str(parts?.join(&sep)))
}

fn indent(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let n = int(&args[0])?;
    if n < 0 {
        return Err(FuncError::call("indent value must be a positive integer"));
    }
    let prefix = " ".repeat(n as usize);
    let s = string(&args[1])?;
    let mut out = String::with_capacity(s.len());
    let mut at_line_start = true;
    for c in s.chars() {
        if at_line_start && c != '\n' {
            out.push_str(&prefix);
        }
        out.push(c);
        at_line_start = c == '\n';
    }
    Ok(Value::str(out))
}

fn hmac_sha256_hex(_: &mut Env<'_>, args: Vec<Value>) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let (msg, key) = (string(&args[0])?, string(&args[1])?);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .map_err(|e| FuncError::call(e.to_string()))?;
    mac.update(msg.as_bytes());
    Ok(Value::str(hex(&mac.finalize().into_bytes())))
}

/// Formats `t` with a Go reference-time layout (`2006-01-02T15:04:05Z07:00`).
pub(crate) fn go_time_format(t: &chrono::DateTime<chrono::Utc>, layout: &str) -> String {
    use chrono::{Datelike, Timelike};
    const TOKENS: &[&str] = &[
        "January",
        "Monday",
        "Z07:00",
        "-07:00",
        "Z0700",
        "-0700",
        "2006",
        ".000000000",
        ".000000",
        ".000",
        "Jan",
        "Mon",
        "MST",
        "002",
        "__2",
        "_2",
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "15",
        "PM",
        "pm",
        "1",
        "2",
        "3",
        "4",
        "5",
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for tok in TOKENS {
            if let Some(after) = rest.strip_prefix(tok) {
                let s = match *tok {
                    "January" => t.format("%B").to_string(),
                    "Monday" => t.format("%A").to_string(),
                    "Jan" => t.format("%b").to_string(),
                    "Mon" => t.format("%a").to_string(),
                    "MST" => "UTC".to_string(),
                    "Z07:00" | "Z0700" => "Z".to_string(),
                    "-07:00" => "+00:00".to_string(),
                    "-0700" => "+0000".to_string(),
                    "2006" => format!("{:04}", t.year()),
                    "06" => format!("{:02}", t.year() % 100),
                    "01" => format!("{:02}", t.month()),
                    "1" => t.month().to_string(),
                    "02" => format!("{:02}", t.day()),
                    "2" => t.day().to_string(),
                    "_2" => format!("{:>2}", t.day()),
                    "002" => format!("{:03}", t.ordinal()),
                    "__2" => format!("{:>3}", t.ordinal()),
                    "15" => format!("{:02}", t.hour()),
                    "03" => format!("{:02}", t.hour12().1),
                    "3" => t.hour12().1.to_string(),
                    "04" => format!("{:02}", t.minute()),
                    "4" => t.minute().to_string(),
                    "05" => format!("{:02}", t.second()),
                    "5" => t.second().to_string(),
                    "PM" => if t.hour12().0 { "PM" } else { "AM" }.to_string(),
                    "pm" => if t.hour12().0 { "pm" } else { "am" }.to_string(),
                    ".000" => format!(".{:03}", t.nanosecond() / 1_000_000),
                    ".000000" => format!(".{:06}", t.nanosecond() / 1_000),
                    ".000000000" => format!(".{:09}", t.nanosecond()),
                    _ => String::new(),
                };
                out.push_str(&s);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_time_layouts() {
        assert_eq!(title("hello world-wide o'neil"), "Hello World-Wide O'neil");
        let t = chrono::DateTime::parse_from_rfc3339("2024-03-05T07:08:09Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            go_time_format(&t, "2006-01-02T15:04:05Z07:00"),
            "2024-03-05T07:08:09Z"
        );
        assert_eq!(go_time_format(&t, "Jan _2 3:04PM"), "Mar  5 7:08AM");
    }
}
