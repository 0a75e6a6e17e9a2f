//! sprig's string functions (`strings.go`, goutils' and xstrings' helpers it calls), encodings
//! and checksums, and its regular-expression functions (Go's RE2 syntax, which the `regex`
//! crate shares).

use std::collections::BTreeMap;

use base64::Engine;
use regex::Regex;
use sha2::Digest;

use super::super::{string, Func};
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
    ("sprig_b64enc", |_, a| {
        unary(a, |s| base64::engine::general_purpose::STANDARD.encode(s))
    }),
    ("sprig_b64dec", |_, a| {
        unary(a, |s| {
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => go_base64_error(s, &e),
            }
        })
    }),
    ("sprig_b32enc", |_, a| {
        unary(a, |s| base32_encode(s.as_bytes()))
    }),
    ("sprig_b32dec", |_, a| {
        unary(a, |s| match base32_decode(s) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(at) => format!("illegal base32 data at input byte {at}"),
        })
    }),
    ("sprig_sha1sum", |_, a| {
        unary(a, |s| hex(&sha1(s.as_bytes())))
    }),
    ("sprig_sha256sum", |_, a| {
        unary(a, |s| hex(&sha2::Sha256::digest(s)))
    }),
    ("sprig_sha512sum", |_, a| {
        unary(a, |s| hex(&sha2::Sha512::digest(s)))
    }),
    ("sprig_adler32sum", |_, a| {
        unary(a, |s| adler32(s.as_bytes()).to_string())
    }),
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's error text for bad base64 (sprig returns it as the result).
fn go_base64_error(s: &str, e: &base64::DecodeError) -> String {
    let at = match e {
        base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => {
            *at
        }
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => {
            s.len() - s.len() % 4
        }
    };
    format!("illegal base64 data at input byte {at}")
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 with padding (`base32.StdEncoding`).
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                let idx = ((bits >> (35 - i * 5)) & 31) as usize;
                out.push(char::from(B32[idx]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `base32.StdEncoding.DecodeString`; the error is the offset of the first bad byte.
fn base32_decode(s: &str) -> Result<Vec<u8>, usize> {
    let b = s.as_bytes();
    if b.len() % 8 != 0 {
        return Err(b.len() - b.len() % 8);
    }
    let mut out = Vec::new();
    for (ci, chunk) in b.chunks(8).enumerate() {
        let mut bits: u64 = 0;
        let mut n = 0;
        let mut pad = false;
        for (i, c) in chunk.iter().enumerate() {
            if *c == b'=' {
                pad = true;
                continue;
            }
            if pad {
                return Err(ci * 8 + i);
            }
            let v = B32.iter().position(|x| x == c).ok_or(ci * 8 + i)?;
            bits = (bits << 5) | v as u64;
            n += 1;
        }
        let bytes = match n {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            0 => 0,
            _ => return Err(ci * 8 + n),
        };
        bits <<= 5 * (8 - n);
        let full = bits.to_be_bytes();
        out.extend_from_slice(&full[3..3 + bytes]);
        if pad && ci * 8 + 8 != b.len() {
            return Err(ci * 8 + 8);
        }
    }
    Ok(out)
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// SHA-1 (FIPS 180-4), for `sha1sum`.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (wi, c) in w.iter_mut().zip(block.chunks(4)) {
            *wi = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
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

/// xstrings' case conversions (`ToSnakeCase`, `ToKebabCase`, the Pascal-case `camelcase`):
/// the input is cut into words (runs of upper-case, of lower-case, of digits, of connectors
/// `-`, `_` and spaces, of punctuation) which are lowered and joined with the connector.
mod case {
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum W {
        Invalid,
        Number,
        Upper,
        Alpha,
        Connector,
        Punct,
        Other,
    }

    fn is_connector(c: char) -> bool {
        c == '-' || c == '_' || c.is_whitespace()
    }

    fn is_alphabet(c: char) -> bool {
        c.is_alphabetic()
            && !matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0x20000..=0x2A6DF)
    }

    /// Go's `unicode.IsPunct` (category P), exact for ASCII and Latin-1, the common blocks
    /// beyond.
    fn is_punct(c: char) -> bool {
        if c.is_ascii() {
            return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
        }
        matches!(c as u32,
            0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF
            | 0x2010..=0x2027 | 0x2030..=0x2043 | 0x2045..=0x2051 | 0x2053..=0x205E
            | 0x3001..=0x3003 | 0x3008..=0x3011 | 0xFF01..=0xFF03 | 0xFF05..=0xFF0A)
    }

    /// `nextWord`: the type of the next word, the word, the rest.
    fn next_word(s: &str) -> (W, &str, &str) {
        let mut it = s.char_indices().peekable();
        let Some((_, first)) = it.next() else {
            return (W::Invalid, "", "");
        };
        let mut end = first.len_utf8();
        let rest_from = |end: usize| (&s[..end], &s[end..]);
        let take_while = |end: &mut usize, f: &dyn Fn(char) -> bool| {
            for c in s[*end..].chars() {
                if !f(c) {
                    break;
                }
                *end += c.len_utf8();
            }
        };
        let wt = if is_connector(first) {
            take_while(&mut end, &is_connector);
            W::Connector
        } else if is_punct(first) {
            take_while(&mut end, &is_punct);
            W::Punct
        } else if first.is_uppercase() {
            if let Some(next) = s[end..].chars().next() {
                if next.is_uppercase() {
                    let mut last = end;
                    let mut e = end;
                    for c in s[end..].chars() {
                        if !c.is_uppercase() {
                            break;
                        }
                        last = e;
                        e += c.len_utf8();
                    }
                    end = e;
                    if let Some(after) = s[end..].chars().next() {
                        if is_alphabet(after) {
                            end = last;
                        }
                    }
                } else if is_alphabet(next) {
                    take_while(&mut end, &|c| is_alphabet(c) && !c.is_uppercase());
                }
            }
            W::Upper
        } else if is_alphabet(first) {
            take_while(&mut end, &|c| is_alphabet(c) && !c.is_uppercase());
            W::Alpha
        } else if first.is_numeric() {
            take_while(&mut end, &char::is_numeric);
            W::Number
        } else {
            take_while(&mut end, &|c| {
                !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c))
            });
            W::Other
        };
        let (word, rest) = rest_from(end);
        (wt, word, rest)
    }

    fn lower(buf: &mut String, wt: W, word: &str, connector: char) {
        if wt != W::Upper && wt != W::Connector {
            buf.push_str(word);
            return;
        }
        for c in word.chars() {
            if is_connector(c) {
                buf.push(connector);
            } else if c.is_uppercase() {
                buf.extend(c.to_lowercase());
            } else {
                buf.push(c);
            }
        }
    }

    /// `camelCaseToLowerCase`.
    pub(super) fn to_lower_joined(s: &str, connector: char) -> String {
        let mut buf = String::new();
        if s.is_empty() {
            return buf;
        }
        let (mut wt, mut word, mut rest) = next_word(s);
        while !rest.is_empty() {
            if wt != W::Connector {
                lower(&mut buf, wt, word, connector);
            }
            let (prev, last) = (wt, word);
            (wt, word, rest) = next_word(rest);
            match prev {
                W::Number => {
                    while wt == W::Alpha || wt == W::Number {
                        lower(&mut buf, wt, word, connector);
                        (wt, word, rest) = next_word(rest);
                    }
                    if !matches!(wt, W::Invalid | W::Punct | W::Connector) {
                        buf.push(connector);
                    }
                }
                W::Connector => lower(&mut buf, prev, last, connector),
                W::Punct => {}
                _ => {
                    if wt != W::Number {
                        if wt != W::Connector && wt != W::Punct {
                            buf.push(connector);
                        }
                        continue;
                    }
                    if rest.is_empty() {
                        continue;
                    }
                    let num = word;
                    (wt, word, rest) = next_word(rest);
                    if wt != W::Alpha {
                        lower(&mut buf, W::Number, num, connector);
                        if wt != W::Connector && wt != W::Punct {
                            buf.push(connector);
                        }
                        continue;
                    }
                    buf.push(connector);
                    lower(&mut buf, W::Number, num, connector);
                    while wt == W::Alpha || wt == W::Number {
                        lower(&mut buf, wt, word, connector);
                        (wt, word, rest) = next_word(rest);
                    }
                    if !matches!(wt, W::Invalid | W::Connector | W::Punct) {
                        buf.push(connector);
                    }
                }
            }
        }
        lower(&mut buf, wt, word, connector);
        buf
    }

    /// `ToCamelCase` of the xstrings sprig links (upper-cases the first letter too):
    /// connectors are dropped and the rune after one is upper-cased.
    pub(super) fn to_pascal(s: &str) -> String {
        let mut buf = String::new();
        let mut chars = s.chars();
        let mut r0 = None;
        for c in chars.by_ref() {
            if !is_connector(c) {
                r0 = Some(c.to_uppercase().next().unwrap_or(c));
                break;
            }
            buf.push(c);
        }
        let Some(mut r0) = r0 else {
            return buf;
        };
        for c in chars {
            let r1 = r0;
            r0 = c;
            if is_connector(r0) && is_connector(r1) {
                buf.push(r1);
                continue;
            }
            if is_connector(r1) {
                r0 = r0.to_uppercase().next().unwrap_or(r0);
            } else {
                buf.push(r1);
            }
        }
        buf.push(r0);
        buf
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn xstrings_examples() {
            // From xstrings' ToSnakeCase doc examples.
            assert_eq!(to_lower_joined("FirstName", '_'), "first_name");
            assert_eq!(to_lower_joined("HTTPServer", '_'), "http_server");
            assert_eq!(to_lower_joined("NoHTTPS", '_'), "no_https");
            assert_eq!(to_lower_joined("GO_PATH", '_'), "go_path");
            assert_eq!(to_lower_joined("GO PATH", '_'), "go_path");
            assert_eq!(to_lower_joined("GO-PATH", '_'), "go_path");
            assert_eq!(to_lower_joined("http2xx", '_'), "http_2xx");
            assert_eq!(to_lower_joined("HTTP20xOK", '_'), "http_20x_ok");
            assert_eq!(to_lower_joined("Duration2m3s", '_'), "duration_2m3s");
            assert_eq!(to_lower_joined("Bld4Floor3rd", '_'), "bld4_floor_3rd");
            assert_eq!(to_pascal("some_words"), "SomeWords");
            assert_eq!(to_pascal("_some_words"), "_SomeWords");
        }
    }
}
