//! HCL 1's refusal of an attribute set twice in one body.
//!
//! Consul decodes new rules with `hcl.DecodeErrorOnDuplicates`: `key "a" { policy = "read"
//! policy = "write" }` or two top-level `operator = ...` lines are refused, naming the second
//! occurrence by line and column. Blocks may repeat (`key "a" {}` twice is two rules), and JSON
//! is not checked. hcl-rs keeps no positions once parsed, so this is a small scan of the source:
//! strings, comments and heredocs skipped, one set of seen keys per `{ }` body.

use std::collections::HashSet;

/// Consul's message for the first attribute, in source order, already set in its body.
pub(super) fn first(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut scan = Scan {
        chars: &chars,
        i: 0,
        line: 1,
        col: 1,
    };
    // One entry per open bracket: `Some(keys)` for a body, `None` for a list.
    let mut scopes: Vec<Option<HashSet<String>>> = vec![Some(HashSet::new())];
    // The last token, if it could be an attribute's key: (key, line, column).
    let mut last_key: Option<(String, usize, usize)> = None;
    while let Some(c) = scan.peek(0) {
        let (line, col) = (scan.line, scan.col);
        match c {
            c if c.is_whitespace() => {
                scan.bump();
                continue;
            }
            '#' => scan.skip_line(),
            '/' if scan.peek(1) == Some('/') => scan.skip_line(),
            '/' if scan.peek(1) == Some('*') => scan.skip_block_comment(),
            '"' => {
                let key = scan.string();
                last_key = Some((key, line, col));
                continue;
            }
            '<' if scan.peek(1) == Some('<') => scan.skip_heredoc(),
            '=' => {
                scan.bump();
                if let (Some((key, line, col)), Some(Some(seen))) =
                    (last_key.take(), scopes.last_mut())
                {
                    if !seen.insert(key.clone()) {
                        return Some(format!(
                            "The argument {} at {line}:{col} was already set. Each argument can only be defined once",
                            api_types::go_quote(&key)
                        ));
                    }
                }
            }
            '{' => {
                scan.bump();
                scopes.push(Some(HashSet::new()));
            }
            '[' => {
                scan.bump();
                scopes.push(None);
            }
            '}' | ']' => {
                scan.bump();
                if scopes.len() > 1 {
                    scopes.pop();
                }
            }
            c if c.is_alphanumeric() || c == '_' => {
                let word = scan.word();
                last_key = Some((word, line, col));
                continue;
            }
            _ => {
                scan.bump();
            }
        }
        last_key = None;
    }
    None
}

struct Scan<'a> {
    chars: &'a [char],
    i: usize,
    line: usize,
    col: usize,
}

impl Scan<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    fn skip_block_comment(&mut self) {
        self.bump();
        self.bump();
        while let Some(c) = self.bump() {
            if c == '*' && self.peek(0) == Some('/') {
                self.bump();
                break;
            }
        }
    }

    /// A quoted string's value (escapes `\"` and `\\` undone), the quotes consumed.
    fn string(&mut self) -> String {
        self.bump();
        let mut value = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(next) = self.bump() {
                        if next != '"' && next != '\\' {
                            value.push('\\');
                        }
                        value.push(next);
                    }
                }
                '\n' => break,
                c => value.push(c),
            }
        }
        value
    }

    /// An identifier or number (HCL 1 identifiers may hold `-`, `.` and `:`).
    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek(0) {
            if !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')) {
                break;
            }
            word.push(c);
            self.bump();
        }
        word
    }

    /// `<<EOF` (or `<<-EOF`) up to the line holding only `EOF`.
    fn skip_heredoc(&mut self) {
        self.bump();
        self.bump();
        if self.peek(0) == Some('-') {
            self.bump();
        }
        let delimiter = self.word();
        if delimiter.is_empty() {
            return;
        }
        self.skip_line();
        while self.peek(0).is_some() {
            let start = self.i;
            self.skip_line();
            let line: String = self.chars[start..self.i].iter().collect();
            if line.trim() == delimiter {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first;

    #[test]
    fn reports_the_second_occurrence_as_consul_does() {
        let table = [
            (
                r#"key "foo/" { policy = "read" policy = "read" }"#,
                Some(r#"The argument "policy" at 1:30 was already set. Each argument can only be defined once"#),
            ),
            (
                "\nkey \"secret\" {\n  policy = \"read\"\n  policy = \"write\"\n}\n",
                Some(r#"The argument "policy" at 4:3 was already set. Each argument can only be defined once"#),
            ),
            (
                "operator = \"read\"\nacl = \"read\"\noperator = \"write\"",
                Some(r#"The argument "operator" at 3:1 was already set. Each argument can only be defined once"#),
            ),
            // Same attribute in different blocks, repeated blocks: fine.
            (
                "key \"a\" { policy = \"read\" }\nkey \"a\" { policy = \"write\" }\nkey \"b\" {\n policy = \"read\"\n}",
                None,
            ),
            // Strings and comments do not count.
            (
                "# policy = \"a\"\nkey \"policy = x\" {\n  policy = \"read\" // policy = \"b\"\n  /* policy = \"c\" */\n}",
                None,
            ),
            (
                "a = <<EOF\nx = 1\nx = 2\nEOF\nb = 1",
                None,
            ),
            ("service \"a\" { policy = \"read\", intentions = \"read\" }", None),
        ];
        for (text, want) in table {
            assert_eq!(first(text).as_deref(), want, "{text}");
        }
    }
}
