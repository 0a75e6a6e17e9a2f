//! Go's quoting of a string (`%q`, `strconv.Quote`), as Consul prints names, selectors and
//! values in its messages. One copy for the workspace (the template engine keeps its own: it
//! names no Consul crate).

use std::fmt::Write;

/// `s` between double quotes with Go's escapes: `\"`, `\\`, `\n`, `\t`, ..., `\x1b` for other
/// ASCII controls and `\u00a0`-style escapes for other non-printing characters.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_as_go_does() {
        let table = [
            ("foo", r#""foo""#),
            ("", r#""""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\there\n", r#""tab\there\n""#),
            ("\u{1b}[0m", r#""\x1b[0m""#),
            ("naïve", "\"naïve\""),
            ("nb\u{a0}sp", r#""nb\u00a0sp""#),
            ("\u{1}", r#""\x01""#),
            ("é", "\"é\""),
        ];
        for (input, want) in table {
            assert_eq!(quote(input), want);
        }
    }
}
