//! xstrings' case conversions (`ToSnakeCase`, `ToKebabCase`, the Pascal-case `camelcase`):
//! the input is cut into words (runs of upper-case, of lower-case, of digits, of connectors
//! `-`, `_` and spaces, of punctuation) which are lowered and joined with the connector.

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
    c.is_alphabetic() && !matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0x20000..=0x2A6DF)
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
