//! Consul reads its HCL files with HCL 1, which allows what HCL 2 (`hcl-rs`) rejects: several
//! attributes on one line inside braces (`service { name = "web" port = 80 }`) and commas
//! between them. [`to_hcl2`] rewrites those forms by putting each attribute on its own line;
//! it is only used when the text does not parse as HCL 2 as written.

/// Characters that can end a value, after which a new attribute may start on the same line.
fn ends_value(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '"' | ']' | '}' | ')' | '_' | '.')
}

/// Rewrites HCL 1 one-line bodies into HCL 2 layout (strings, comments and heredocs are kept).
pub fn to_hcl2(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    // Open brackets; the top level is a body, like `{`.
    let mut stack = vec!['{'];
    let mut last = '\n';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied().unwrap_or('\0');
        let in_body = stack.last() == Some(&'{');
        match c {
            '"' => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if chars[i - 1] == '"' {
                        break;
                    }
                }
                last = '"';
                continue;
            }
            '#' | '/' if c == '#' || next == '/' || next == '*' => {
                let end: &[char] = if c == '/' && next == '*' {
                    &['*', '/']
                } else {
                    &['\n']
                };
                while i < chars.len() && !chars[i..].starts_with(end) {
                    out.push(chars[i]);
                    i += 1;
                }
                if end.len() == 2 && i < chars.len() {
                    out.push_str("*/");
                    i += 2;
                }
                continue;
            }
            '{' | '[' | '(' => {
                stack.push(if c == '(' { '[' } else { c });
                out.push(c);
                if c == '{' {
                    out.push('\n');
                    last = '\n';
                } else {
                    last = c;
                }
            }
            '}' | ']' | ')' => {
                stack.pop();
                if c == '}' {
                    out.push('\n');
                }
                out.push(c);
                last = c;
            }
            ',' if in_body => {
                out.push('\n');
                last = '\n';
            }
            '\n' => {
                out.push(c);
                last = '\n';
            }
            c if c.is_whitespace() => out.push(c),
            c => {
                let prev = if i > 0 { chars[i - 1] } else { '\n' };
                let starts_ident = c.is_ascii_alphabetic() || c == '_';
                if in_body
                    && starts_ident
                    && (prev == ' ' || prev == '\t')
                    && last != '\n'
                    && ends_value(last)
                {
                    out.push('\n');
                }
                out.push(c);
                last = c;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_blocks_split() {
        let src = r#"service { name = "web" port = 80 check { http = "http://x/a b" interval = "10s" } }"#;
        let v: serde_json::Value = hcl::from_str(&to_hcl2(src)).expect("parses");
        assert_eq!(v["service"]["name"], "web");
        assert_eq!(v["service"]["port"], 80);
        assert_eq!(v["service"]["check"]["http"], "http://x/a b");
        assert_eq!(v["service"]["check"]["interval"], "10s");
    }

    #[test]
    fn commas_and_lists() {
        let src = "check { id = \"mem\", ttl = \"30s\", args = [\"a\", \"b\"] } # note, here\n/* a, b */ server = true";
        let v: serde_json::Value = hcl::from_str(&to_hcl2(src)).expect("parses");
        assert_eq!(v["check"]["id"], "mem");
        assert_eq!(v["check"]["args"][1], "b");
        assert_eq!(v["server"], true);
    }
}
