//! The lexer: splits template source into text and action tokens the way Go's
//! `text/template/parse` lexer does, including trim markers (`{{- ` and ` -}}`), comments,
//! custom delimiters and Go's literal syntaxes.

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Plain text between actions (already trimmed by trim markers).
    Text(String),
    /// Left delimiter.
    LeftDelim,
    /// Right delimiter.
    RightDelim,
    /// Run of spaces inside an action.
    Space,
    /// Function name.
    Ident(String),
    /// `.Name` (stored without the dot).
    Field(String),
    /// `$name` or `$` (stored with the dollar).
    Variable(String),
    /// A keyword such as `if` or `end`.
    Keyword(&'static str),
    /// `.`
    Dot,
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// A number literal (source text).
    Number(String),
    /// A character literal (source text, quotes included).
    Char(String),
    /// A quoted string (source text, quotes included).
    Str(String),
    /// A raw string (source text, backquotes included).
    RawStr(String),
    /// `|`
    Pipe,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// `,`
    Comma,
    /// Any other single character inside an action.
    Char1(char),
    /// End of input.
    Eof,
}

/// A token with its byte offset in the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The token.
    pub tok: Tok,
    /// Byte offset of the token start.
    pub pos: usize,
}

/// A lexing error at a byte offset.
#[derive(Debug, Clone)]
pub struct LexError {
    /// Byte offset.
    pub pos: usize,
    /// Go's message.
    pub msg: String,
}

const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "template", "with",
];

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    src: &'a str,
    left: &'a str,
    right: &'a str,
    pos: usize,
    items: Vec<Item>,
    paren_depth: usize,
}

/// Lexes `src` with the given delimiters.
pub fn lex(src: &str, left: &str, right: &str) -> Result<Vec<Item>, LexError> {
    let mut l = Lexer {
        src,
        left,
        right,
        pos: 0,
        items: Vec::new(),
        paren_depth: 0,
    };
    l.run()?;
    Ok(l.items)
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            pos: self.pos,
            msg: msg.into(),
        })
    }

    fn emit(&mut self, tok: Tok, pos: usize) {
        self.items.push(Item { tok, pos });
    }

    fn run(&mut self) -> Result<(), LexError> {
        let mut trim_next_text = false;
        loop {
            let start = self.pos;
            let next = self.rest().find(self.left);
            let end = next.map_or(self.src.len(), |i| self.pos + i);
            let mut text = &self.src[start..end];
            if trim_next_text {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let left_trim = next.is_some() && self.has_left_trim(end);
            if left_trim {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                let text_pos = end - text.len();
                self.emit(Tok::Text(text.to_string()), text_pos);
            }
            let Some(_) = next else {
                self.pos = self.src.len();
                self.emit(Tok::Eof, self.pos);
                return Ok(());
            };
            self.pos = end + self.left.len();
            if left_trim {
                self.pos += 2;
            }
            trim_next_text = self.lex_action(end)?;
        }
    }

    fn has_left_trim(&self, delim_at: usize) -> bool {
        let after = &self.src.as_bytes()[delim_at + self.left.len()..];
        after.len() >= 2 && after[0] == b'-' && is_space(after[1])
    }

    /// Whether the input is at the right delimiter; returns (at delim, with trim marker).
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        let b = rest.as_bytes();
        if b.len() >= 2 && is_space(b[0]) && b[1] == b'-' && rest[2..].starts_with(self.right) {
            return (true, true);
        }
        (rest.starts_with(self.right), false)
    }

    /// Lexes one action after its left delimiter; returns whether the following text is trimmed.
    fn lex_action(&mut self, delim_pos: usize) -> Result<bool, LexError> {
        if self.rest().starts_with("/*") {
            let Some(close) = self.rest().find("*/") else {
                return self.err("unclosed comment");
            };
            self.pos += close + 2;
            let (at, trim) = self.at_right_delim();
            if !at {
                return self.err("comment ends before closing delimiter");
            }
            self.pos += self.right.len() + if trim { 2 } else { 0 };
            return Ok(trim);
        }
        self.emit(Tok::LeftDelim, delim_pos);
        loop {
            let (at, trim) = self.at_right_delim();
            if at {
                // Go: a right delimiter inside parentheses ends the action with an error
                // (lexing on would spin on a " -}}" that no branch consumes).
                if self.paren_depth > 0 {
                    return self.err("unclosed left paren");
                }
                let p = self.pos + if trim { 2 } else { 0 };
                self.emit(Tok::RightDelim, p);
                self.pos = p + self.right.len();
                return Ok(trim);
            }
            let Some(c) = self.rest().chars().next() else {
                return self.err("unclosed action");
            };
            let start = self.pos;
            match c {
                ' ' | '\t' | '\r' | '\n' => self.lex_space(),
                '=' => {
                    self.pos += 1;
                    self.emit(Tok::Assign, start);
                }
                ':' => {
                    if !self.rest().starts_with(":=") {
                        return self.err("expected :=");
                    }
                    self.pos += 2;
                    self.emit(Tok::Declare, start);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Tok::Pipe, start);
                }
                '"' => self.lex_quote(start)?,
                '`' => {
                    let Some(close) = self.rest()[1..].find('`') else {
                        return self.err("unterminated raw quoted string");
                    };
                    self.pos += close + 2;
                    self.emit(Tok::RawStr(self.src[start..self.pos].to_string()), start);
                }
                '\'' => self.lex_char(start)?,
                '$' => {
                    self.pos += 1;
                    self.scan_word();
                    self.emit(Tok::Variable(self.src[start..self.pos].to_string()), start);
                }
                '.' => {
                    let next = self.src.as_bytes().get(self.pos + 1).copied();
                    if next.is_some_and(|b| b.is_ascii_digit()) {
                        self.lex_number(start)?;
                    } else {
                        self.pos += 1;
                        let word_start = self.pos;
                        self.scan_word();
                        if self.pos == word_start {
                            self.emit(Tok::Dot, start);
                        } else {
                            let name = self.src[word_start..self.pos].to_string();
                            self.emit(Tok::Field(name), start);
                        }
                        self.check_terminator()?;
                    }
                }
                '+' | '-' | '0'..='9' => self.lex_number(start)?,
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.emit(Tok::LParen, start);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return self.err("unexpected right paren");
                    }
                    self.pos += 1;
                    self.paren_depth -= 1;
                    self.emit(Tok::RParen, start);
                }
                ',' => {
                    self.pos += 1;
                    self.emit(Tok::Comma, start);
                }
                c if is_alnum(c) => {
                    self.scan_word();
                    let word = &self.src[start..self.pos];
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match KEYWORDS.iter().find(|k| **k == w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(w.to_string()),
                        },
                    };
                    self.emit(tok, start);
                    self.check_terminator()?;
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.pos += 1;
                    self.emit(Tok::Char1(c), start);
                }
                c => return self.err(format!("unrecognized character in action: {c:?}")),
            }
        }
    }

    fn lex_space(&mut self) {
        let start = self.pos;
        loop {
            let (at, trim) = self.at_right_delim();
            if at && trim {
                break;
            }
            match self.src.as_bytes().get(self.pos) {
                Some(&b) if is_space(b) => self.pos += 1,
                _ => break,
            }
        }
        if self.pos > start {
            self.emit(Tok::Space, start);
        }
    }

    fn scan_word(&mut self) {
        while let Some(c) = self.rest().chars().next() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn check_terminator(&self) -> Result<(), LexError> {
        let Some(c) = self.rest().chars().next() else {
            return Ok(());
        };
        if (c as u32) < 0x80 && is_space(c as u8) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(')
        {
            return Ok(());
        }
        if self.rest().starts_with(self.right) {
            return Ok(());
        }
        self.err(format!("bad character {c:?}"))
    }

    fn lex_quote(&mut self, start: usize) -> Result<(), LexError> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos + 1;
        loop {
            match bytes.get(i) {
                None | Some(b'\n') => return self.err("unterminated quoted string"),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        self.emit(Tok::Str(self.src[start..self.pos].to_string()), start);
        Ok(())
    }

    fn lex_char(&mut self, start: usize) -> Result<(), LexError> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos + 1;
        loop {
            match bytes.get(i) {
                None | Some(b'\n') => return self.err("unterminated character constant"),
                Some(b'\\') => i += 2,
                Some(b'\'') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        self.emit(Tok::Char(self.src[start..self.pos].to_string()), start);
        Ok(())
    }

    fn lex_number(&mut self, start: usize) -> Result<(), LexError> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        let mut exp: &[u8] = b"eE";
        if bytes.get(i) == Some(&b'0') {
            match bytes.get(i + 1) {
                Some(b'x' | b'X') => {
                    i += 2;
                    digits = b"0123456789abcdefABCDEF_";
                    exp = b"pP";
                }
                Some(b'o' | b'O') => {
                    i += 2;
                    digits = b"01234567_";
                    exp = b"";
                }
                Some(b'b' | b'B') => {
                    i += 2;
                    digits = b"01_";
                    exp = b"";
                }
                _ => {}
            }
        }
        let accept = |i: &mut usize, set: &[u8]| {
            while bytes.get(*i).is_some_and(|b| set.contains(b)) {
                *i += 1;
            }
        };
        accept(&mut i, digits);
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            accept(&mut i, digits);
        }
        if !exp.is_empty() && bytes.get(i).is_some_and(|b| exp.contains(b)) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            accept(&mut i, b"0123456789_");
        }
        if bytes.get(i) == Some(&b'i') {
            i += 1;
        }
        self.pos = i;
        if let Some(c) = self.rest().chars().next().filter(|c| is_alnum(*c)) {
            self.pos += c.len_utf8();
            return self.err(format!(
                "bad number syntax: {:?}",
                &self.src[start..self.pos]
            ));
        }
        self.emit(Tok::Number(self.src[start..self.pos].to_string()), start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src, "{{", "}}")
            .unwrap()
            .into_iter()
            .map(|i| i.tok)
            .collect()
    }

    #[test]
    fn trims_and_comments() {
        assert_eq!(
            toks("a  {{- .X -}}  b{{/* c */}}"),
            vec![
                Tok::Text("a".into()),
                Tok::LeftDelim,
                Tok::Field("X".into()),
                Tok::RightDelim,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn minus_number_is_not_trim() {
        assert_eq!(
            toks("{{-3}}"),
            vec![
                Tok::LeftDelim,
                Tok::Number("-3".into()),
                Tok::RightDelim,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn custom_delims() {
        let items = lex("[[ .A ]]{{x}}", "[[", "]]").unwrap();
        assert_eq!(items.last().map(|i| i.tok.clone()), Some(Tok::Eof));
        assert!(items.iter().any(|i| i.tok == Tok::Text("{{x}}".into())));
    }

    #[test]
    fn right_delim_inside_parens_is_an_error() {
        // `{{( -}}` used to spin forever (found by fuzz/ `template`).
        for src in ["{{( -}}", "{{(index .C }}", "{{ (1 -}} x"] {
            let e = lex(src, "{{", "}}").unwrap_err();
            assert_eq!(e.msg, "unclosed left paren", "{src}");
        }
    }
}
