//! The syntax tree of a parsed template, mirroring Go's `text/template/parse` nodes. Every
//! node that can fail at run time keeps its byte offset so errors name line and column, and
//! `Display` renders nodes the way Go's `String()` does for error contexts.

use std::fmt;

use crate::value::Value;

/// A sequence of nodes.
pub type List = Vec<Node>;

/// A statement-level node.
#[derive(Clone, Debug)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{pipeline}}`: printed unless it declares variables.
    Action(Pipe),
    /// `{{if}}`.
    If(Branch),
    /// `{{with}}`.
    With(Branch),
    /// `{{range}}`.
    Range(Branch),
    /// `{{template "name" pipeline}}`.
    Template {
        /// Offset of the action.
        pos: usize,
        /// Template name.
        name: String,
        /// Optional argument pipeline.
        pipe: Option<Pipe>,
    },
    /// `{{break}}`.
    Break,
    /// `{{continue}}`.
    Continue,
}

/// The shared shape of `if`, `with` and `range`.
#[derive(Clone, Debug)]
pub struct Branch {
    /// Offset of the keyword.
    pub pos: usize,
    /// The condition / collection pipeline.
    pub pipe: Pipe,
    /// Body.
    pub list: List,
    /// `{{else}}` body.
    pub else_list: Option<List>,
}

/// A pipeline, optionally declaring or assigning variables.
#[derive(Clone, Debug)]
pub struct Pipe {
    /// Offset of the pipeline.
    pub pos: usize,
    /// Whether the declaration is an assignment (`=`) rather than `:=`.
    pub is_assign: bool,
    /// Declared variable names (with `$`).
    pub decl: Vec<String>,
    /// Commands separated by `|`.
    pub cmds: Vec<Command>,
}

/// One stage of a pipeline: an operand followed by arguments.
#[derive(Clone, Debug)]
pub struct Command {
    /// Offset.
    pub pos: usize,
    /// Operands; the first decides what kind of command this is.
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Clone, Debug)]
pub enum Arg {
    /// `.A.B`
    Field {
        /// Offset.
        pos: usize,
        /// Field names.
        idents: Vec<String>,
    },
    /// `$x.A.B`
    Variable {
        /// Offset.
        pos: usize,
        /// Variable name then field names.
        idents: Vec<String>,
    },
    /// A function name.
    Ident {
        /// Offset.
        pos: usize,
        /// Name.
        name: String,
    },
    /// `(pipeline).A.B` or `func.A`.
    Chain {
        /// Offset.
        pos: usize,
        /// The operand the fields apply to.
        node: Box<Arg>,
        /// Field names.
        fields: Vec<String>,
    },
    /// `(pipeline)`.
    Pipe(Box<Pipe>),
    /// `.`
    Dot(usize),
    /// `nil`
    Nil(usize),
    /// A literal (bool, number, char, string) with its source text.
    Literal {
        /// Offset.
        pos: usize,
        /// The value.
        value: Value,
        /// Source text (for messages).
        text: String,
    },
}

impl Arg {
    /// Offset of the operand.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Ident { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Literal { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => f.write_str(&idents.join(".")),
            Arg::Ident { name, .. } => f.write_str(name),
            Arg::Chain { node, fields, .. } => {
                match node.as_ref() {
                    Arg::Pipe(p) => write!(f, "({p})")?,
                    n => write!(f, "{n}")?,
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Pipe(p) => write!(f, "({p})"),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Literal { text, .. } => f.write_str(text),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}
