//! The parser: tokens to syntax tree, following Go's `text/template/parse` grammar and its
//! parse-time checks (undefined variables, unknown functions, misplaced `else`/`end`,
//! `break` outside `range`, non-executable pipeline stages).

use crate::ast::{Arg, Branch, Command, List, Node, Pipe};
use crate::lex::{Item, Tok};
use crate::literal::{number_value, unquote};
use crate::value::Value;

/// A parse error at a byte offset.
#[derive(Debug, Clone)]
pub struct ParseError {
    /// Byte offset of the offending token.
    pub pos: usize,
    /// Go's message.
    pub msg: String,
}

/// The result of parsing one source: its root list and the `define`d templates in it.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Top-level nodes.
    pub root: List,
    /// `{{define}}` and `{{block}}` bodies, in source order.
    pub defines: Vec<(String, List)>,
}

type PResult<T> = Result<T, ParseError>;

/// What ended an item list.
enum Stop {
    End,
    Else(usize),
}

struct Parser<'a> {
    items: Vec<Item>,
    idx: usize,
    vars: Vec<String>,
    is_func: &'a dyn Fn(&str) -> bool,
    defines: Vec<(String, List)>,
    range_depth: usize,
}

/// Parses tokens; `is_func` says whether a function name exists.
pub fn parse(items: Vec<Item>, is_func: &dyn Fn(&str) -> bool) -> PResult<Parsed> {
    let mut p = Parser {
        items,
        idx: 0,
        vars: vec!["$".into()],
        is_func,
        defines: vec![],
        range_depth: 0,
    };
    let mut root = Vec::new();
    loop {
        if p.peek().tok == Tok::Eof {
            break;
        }
        if p.peek().tok == Tok::LeftDelim && p.peek_non_space_at(1) == Tok::Keyword("define") {
            p.next();
            p.next_non_space();
            p.parse_define()?;
            continue;
        }
        match p.text_or_action()? {
            Ok(node) => root.push(node),
            Err(Stop::End) => return p.fail_at(p.idx - 1, "unexpected {{end}}"),
            Err(Stop::Else(pos)) => {
                return Err(ParseError {
                    pos,
                    msg: "unexpected {{else}}".into(),
                })
            }
        }
    }
    Ok(Parsed {
        root,
        defines: p.defines,
    })
}

fn describe(tok: &Tok) -> String {
    let q = |s: &str| {
        if s.chars().count() > 10 {
            let head: String = s.chars().take(10).collect();
            format!("{head:?}...")
        } else {
            format!("{s:?}")
        }
    };
    match tok {
        Tok::Eof => "EOF".into(),
        Tok::Keyword(k) => format!("<{k}>"),
        Tok::Text(s) => q(s),
        Tok::LeftDelim => q("{{"),
        Tok::RightDelim => q("}}"),
        Tok::Space => q(" "),
        Tok::Ident(s) | Tok::Number(s) | Tok::Char(s) | Tok::Str(s) | Tok::RawStr(s) => q(s),
        Tok::Variable(s) => q(s),
        Tok::Field(s) => q(&format!(".{s}")),
        Tok::Dot => q("."),
        Tok::Nil => q("nil"),
        Tok::Bool(b) => q(&b.to_string()),
        Tok::Pipe => q("|"),
        Tok::LParen => q("("),
        Tok::RParen => q(")"),
        Tok::Declare => q(":="),
        Tok::Assign => q("="),
        Tok::Comma => q(","),
        Tok::Char1(c) => q(&c.to_string()),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Item {
        let i = self.idx.min(self.items.len().saturating_sub(1));
        &self.items[i]
    }

    fn peek_non_space_at(&self, offset: usize) -> Tok {
        let mut i = self.idx + offset;
        while self.items.get(i).is_some_and(|it| it.tok == Tok::Space) {
            i += 1;
        }
        self.items.get(i).map_or(Tok::Eof, |it| it.tok.clone())
    }

    fn next(&mut self) -> Item {
        let it = self.peek().clone();
        if self.idx < self.items.len() {
            self.idx += 1;
        }
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.tok != Tok::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let save = self.idx;
        let it = self.next_non_space();
        self.idx = save;
        it
    }

    fn fail_at<T>(&self, idx: usize, msg: impl Into<String>) -> PResult<T> {
        let pos = self.items.get(idx).map_or(0, |i| i.pos);
        Err(ParseError {
            pos,
            msg: msg.into(),
        })
    }

    fn unexpected<T>(&self, item: &Item, context: &str) -> PResult<T> {
        Err(ParseError {
            pos: item.pos,
            msg: format!("unexpected {} in {context}", describe(&item.tok)),
        })
    }

    fn expect(&mut self, want: Tok, context: &str) -> PResult<Item> {
        let it = self.next_non_space();
        if it.tok != want {
            return self.unexpected(&it, context);
        }
        Ok(it)
    }

    fn parse_define(&mut self) -> PResult<()> {
        let name_item = self.next_non_space();
        let name = string_value(&name_item).ok_or_else(|| ParseError {
            pos: name_item.pos,
            msg: format!("unexpected {} in define clause", describe(&name_item.tok)),
        })?;
        self.expect(Tok::RightDelim, "define clause")?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        if let Stop::Else(pos) = stop {
            return Err(ParseError {
                pos,
                msg: "unexpected {{else}}".into(),
            });
        }
        self.defines.push((name, list));
        Ok(())
    }

    /// Parses nodes until `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(List, Stop)> {
        let mut list = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof {
                let it = self.peek().clone();
                return self.unexpected(&it, "input").map_err(|mut e| {
                    e.msg = "unexpected EOF".into();
                    e
                });
            }
            match self.text_or_action()? {
                Ok(node) => list.push(node),
                Err(stop) => return Ok((list, stop)),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Result<Node, Stop>> {
        let it = self.next_non_space();
        match it.tok {
            Tok::Text(s) => Ok(Ok(Node::Text(s))),
            Tok::LeftDelim => self.action(),
            _ => self.unexpected(&it, "input"),
        }
    }

    fn action(&mut self) -> PResult<Result<Node, Stop>> {
        let it = self.next_non_space();
        let pos = it.pos;
        match it.tok {
            Tok::Keyword("block") => self.block(pos).map(Ok),
            Tok::Keyword("break") | Tok::Keyword("continue") => {
                let is_break = it.tok == Tok::Keyword("break");
                let word = if is_break { "break" } else { "continue" };
                if self.range_depth == 0 {
                    return Err(ParseError {
                        pos,
                        msg: format!("{{{{{word}}}}} outside {{{{range}}}}"),
                    });
                }
                self.expect(Tok::RightDelim, word)?;
                Ok(Ok(if is_break {
                    Node::Break
                } else {
                    Node::Continue
                }))
            }
            Tok::Keyword("else") => {
                // `else if` / `else with` leave the keyword pending for the caller.
                let next = self.peek_non_space();
                if !matches!(next.tok, Tok::Keyword("if") | Tok::Keyword("with")) {
                    self.expect(Tok::RightDelim, "else")?;
                }
                Ok(Err(Stop::Else(pos)))
            }
            Tok::Keyword("end") => {
                self.expect(Tok::RightDelim, "end")?;
                Ok(Err(Stop::End))
            }
            Tok::Keyword("if") => self.control(pos, "if").map(|b| Ok(Node::If(b))),
            Tok::Keyword("with") => self.control(pos, "with").map(|b| Ok(Node::With(b))),
            Tok::Keyword("range") => self.control(pos, "range").map(|b| Ok(Node::Range(b))),
            Tok::Keyword("template") => self.template(pos).map(Ok),
            _ => {
                self.idx -= 1;
                let pipe = self.pipeline("command", Tok::RightDelim)?;
                Ok(Ok(Node::Action(pipe)))
            }
        }
    }

    fn control(&mut self, pos: usize, context: &str) -> PResult<Branch> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, stop) = listed?;
        let mut else_list = None;
        if let Stop::Else(else_pos) = stop {
            let next = self.peek_non_space();
            match next.tok {
                Tok::Keyword(k @ ("if" | "with")) if context == k => {
                    // {{else if x}} is {{else}}{{if x}}...{{end}}{{end}}: the nested control
                    // consumes the shared {{end}}.
                    self.next_non_space();
                    let nested = self.control(next.pos, k)?;
                    let node = if k == "if" {
                        Node::If(nested)
                    } else {
                        Node::With(nested)
                    };
                    else_list = Some(vec![node]);
                }
                Tok::Keyword("if" | "with") => {
                    let _ = else_pos;
                    return self.unexpected(&next, "input");
                }
                _ => {
                    let (list, stop) = self.item_list()?;
                    if let Stop::Else(p) = stop {
                        return Err(ParseError {
                            pos: p,
                            msg: "expected end; found {{else}}".into(),
                        });
                    }
                    else_list = Some(list);
                }
            }
        }
        self.vars.truncate(mark);
        Ok(Branch {
            pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template(&mut self, _keyword_pos: usize) -> PResult<Node> {
        let it = self.next_non_space();
        let pos = it.pos;
        let Some(name) = string_value(&it) else {
            return self.unexpected(&it, "template clause");
        };
        let pipe = if self.peek_non_space().tok == Tok::RightDelim {
            self.next_non_space();
            None
        } else {
            Some(self.pipeline("template clause", Tok::RightDelim)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block(&mut self, _keyword_pos: usize) -> PResult<Node> {
        let it = self.next_non_space();
        let pos = it.pos;
        let Some(name) = string_value(&it) else {
            return self.unexpected(&it, "block clause");
        };
        let pipe = self.pipeline("block clause", Tok::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, stop) = self.item_list()?;
        self.vars = saved_vars;
        if let Stop::Else(p) = stop {
            return Err(ParseError {
                pos: p,
                msg: "unexpected {{else}}".into(),
            });
        }
        self.defines.push((name.clone(), list));
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let first = self.peek_non_space();
        let mut pipe = Pipe {
            pos: first.pos,
            is_assign: false,
            decl: vec![],
            cmds: vec![],
        };
        self.declarations(&mut pipe, context)?;
        loop {
            let it = self.next_non_space();
            if it.tok == end {
                self.check_pipeline(&pipe, context, &it)?;
                return Ok(pipe);
            }
            match it.tok {
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::RawStr(_)
                | Tok::Str(_)
                | Tok::Variable(_)
                | Tok::LParen => {
                    self.idx -= 1;
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&it, context),
            }
        }
    }

    fn declarations(&mut self, pipe: &mut Pipe, context: &str) -> PResult<()> {
        let save = self.idx;
        let v = self.next_non_space();
        let Tok::Variable(name) = v.tok else {
            self.idx = save;
            return Ok(());
        };
        let after_var = self.idx;
        let next = self.next_non_space();
        match next.tok {
            Tok::Declare | Tok::Assign => {
                pipe.is_assign = next.tok == Tok::Assign;
                if pipe.is_assign && !self.vars.contains(&name) {
                    return Err(ParseError {
                        pos: v.pos,
                        msg: format!("undefined variable {name:?}"),
                    });
                }
                pipe.decl.push(name.clone());
                if !pipe.is_assign {
                    self.vars.push(name);
                }
                Ok(())
            }
            Tok::Comma if context == "range" => {
                let v2 = self.next_non_space();
                let Tok::Variable(name2) = v2.tok else {
                    return Err(ParseError {
                        pos: v2.pos,
                        msg: "range can only initialize variables".to_string(),
                    });
                };
                let op = self.next_non_space();
                match op.tok {
                    Tok::Declare | Tok::Assign => {
                        pipe.is_assign = op.tok == Tok::Assign;
                        for n in [&name, &name2] {
                            if pipe.is_assign && !self.vars.contains(n) {
                                return Err(ParseError {
                                    pos: v.pos,
                                    msg: format!("undefined variable {n:?}"),
                                });
                            }
                        }
                        pipe.decl = vec![name.clone(), name2.clone()];
                        if !pipe.is_assign {
                            self.vars.push(name);
                            self.vars.push(name2);
                        }
                        Ok(())
                    }
                    _ => self.unexpected(&op, "range"),
                }
            }
            Tok::Comma => Err(ParseError {
                pos: next.pos,
                msg: format!("too many declarations in {context}"),
            }),
            _ => {
                let _ = after_var;
                self.idx = save;
                Ok(())
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str, end: &Item) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(ParseError {
                pos: end.pos,
                msg: format!("missing value for {context}"),
            });
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(Arg::Literal { .. } | Arg::Dot(_) | Arg::Nil(_))
            ) {
                return Err(ParseError {
                    pos: c.pos,
                    msg: format!("non executable command in pipeline stage {}", i + 1),
                });
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command { pos, args: vec![] };
        loop {
            if let Some(arg) = self.operand()? {
                cmd.args.push(arg);
            }
            let it = self.next();
            match it.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RParen => self.idx -= 1,
                Tok::Pipe => {}
                _ => return self.unexpected(&it, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(ParseError {
                pos,
                msg: "empty command".into(),
            });
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if !matches!(self.peek().tok, Tok::Field(_)) {
            return Ok(Some(node));
        }
        let mut fields = Vec::new();
        while let Tok::Field(f) = &self.peek().tok {
            fields.push(f.clone());
            self.next();
        }
        let pos = node.pos();
        Ok(Some(match node {
            Arg::Field { pos, mut idents } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { pos, mut idents } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Literal { .. } | Arg::Dot(_) | Arg::Nil(_) => {
                return Err(ParseError {
                    pos,
                    msg: format!("unexpected . after term {:?}", node.to_string()),
                })
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let it = self.next_non_space();
        let pos = it.pos;
        Ok(Some(match it.tok {
            Tok::Ident(name) => {
                if !(self.is_func)(&name) {
                    return Err(ParseError {
                        pos,
                        msg: format!("function {name:?} not defined"),
                    });
                }
                Arg::Ident { pos, name }
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(ParseError {
                        pos,
                        msg: format!("undefined variable {name:?}"),
                    });
                }
                Arg::Variable {
                    pos,
                    idents: vec![name],
                }
            }
            Tok::Field(name) => Arg::Field {
                pos,
                idents: vec![name],
            },
            Tok::Bool(b) => Arg::Literal {
                pos,
                value: Value::Bool(b),
                text: b.to_string(),
            },
            Tok::Number(text) => {
                let value = number_value(&text).ok_or_else(|| ParseError {
                    pos,
                    msg: format!("illegal number syntax: {text:?}"),
                })?;
                Arg::Literal { pos, value, text }
            }
            Tok::Char(text) => {
                let inner = unquote(&format!(
                    "\"{}\"",
                    &text[1..text.len() - 1].replace('"', "\\\"")
                ));
                let c = inner.and_then(|s| {
                    let mut it = s.chars();
                    let c = it.next()?;
                    it.next().is_none().then_some(c)
                });
                let Some(c) = c else {
                    return Err(ParseError {
                        pos,
                        msg: format!("malformed character constant: {text}"),
                    });
                };
                Arg::Literal {
                    pos,
                    value: Value::Int(c as i64),
                    text,
                }
            }
            Tok::Str(text) => {
                let s = unquote(&text).ok_or_else(|| ParseError {
                    pos,
                    msg: "invalid syntax".into(),
                })?;
                Arg::Literal {
                    pos,
                    value: Value::str(s),
                    text,
                }
            }
            Tok::RawStr(text) => {
                let s = text[1..text.len() - 1].replace('\r', "");
                Arg::Literal {
                    pos,
                    value: Value::str(s),
                    text,
                }
            }
            Tok::LParen => {
                let pipe = self.pipeline("parenthesized pipeline", Tok::RParen)?;
                Arg::Pipe(Box::new(pipe))
            }
            _ => {
                self.idx -= 1;
                return Ok(None);
            }
        }))
    }
}

fn string_value(it: &Item) -> Option<String> {
    match &it.tok {
        Tok::Str(s) => unquote(s),
        Tok::RawStr(s) => Some(s[1..s.len() - 1].to_string()),
        _ => None,
    }
}
