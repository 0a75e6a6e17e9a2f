//! The evaluator: walks a syntax tree with a dot value and a variable stack, writing output.
//! Semantics follow Go's `text/template/exec.go`: pipelines pass the previous result as the
//! last argument, missing map keys yield `<no value>`, `range` iterates maps in key order and
//! errors carry `template: name:line:col: executing "name" at <node>: ...`.

use std::sync::Arc;

use crate::ast::{Arg, Branch, List, Node, Pipe};
use crate::gofmt::format_v;
use crate::value::Elem;
use crate::value::Value;
use crate::{FuncError, Funcs, MissingKey, Template, TemplateError};

const MAX_DEPTH: usize = 1000;

/// Control flow out of a list.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// An execution error before it is located in the source.
struct Fail {
    pos: usize,
    context: String,
    msg: String,
}

type R<T> = Result<T, Fail>;

struct State<'a> {
    tmpl: &'a Template,
    name: String,
    funcs: &'a mut dyn Funcs,
    vars: Vec<(String, Value)>,
    out: String,
    depth: usize,
}

pub(super) fn execute(
    tmpl: &Template,
    name: &str,
    data: &Value,
    funcs: &mut dyn Funcs,
) -> Result<String, TemplateError> {
    let Some(tree) = tmpl.trees.get(name).cloned() else {
        return Err(TemplateError::Exec(format!(
            "template: no template {name:?} associated with template {:?}",
            tmpl.name
        )));
    };
    let mut s = State {
        tmpl,
        name: name.to_string(),
        funcs,
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        depth: 0,
    };
    match s.walk(data, &tree) {
        Ok(_) => Ok(s.out),
        Err(f) => Err(TemplateError::Exec(s.locate(&f))),
    }
}

impl State<'_> {
    fn locate(&self, f: &Fail) -> String {
        let src = &self.tmpl.source;
        let pos = f.pos.min(src.len());
        let before = &src[..pos];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        let mut ctx = f.context.clone();
        if ctx.len() > 20 {
            let cut: String = ctx.chars().take(20).collect();
            ctx = format!("{cut}...");
        }
        format!(
            "template: {}:{line}:{col}: executing {:?} at <{ctx}>: {}",
            self.tmpl.name, self.name, f.msg
        )
    }

    fn fail<T>(&self, pos: usize, context: impl ToString, msg: impl Into<String>) -> R<T> {
        Err(Fail {
            pos,
            context: context.to_string(),
            msg: msg.into(),
        })
    }

    fn walk(&mut self, dot: &Value, list: &List) -> R<Flow> {
        for node in list {
            match self.walk_node(dot, node)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_node(&mut self, dot: &Value, node: &Node) -> R<Flow> {
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    match v {
                        Value::Nil => self.out.push_str("<no value>"),
                        v => self.out.push_str(&format_v(&v)),
                    }
                }
            }
            Node::If(b) => return self.walk_if_with(dot, b, false),
            Node::With(b) => return self.walk_if_with(dot, b, true),
            Node::Range(b) => return self.walk_range(dot, b),
            Node::Template { pos, name, pipe } => {
                let Some(tree) = self.tmpl.trees.get(name).cloned() else {
                    return self.fail(
                        *pos,
                        format!("{{{{template {name:?}}}}}"),
                        format!("template {name:?} not defined"),
                    );
                };
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                self.run_nested(name, &tree, new_dot, *pos)?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn run_nested(&mut self, name: &str, tree: &Arc<List>, dot: Value, pos: usize) -> R<()> {
        if self.depth >= MAX_DEPTH {
            return self.fail(
                pos,
                name,
                format!("exceeded maximum template depth ({MAX_DEPTH})"),
            );
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), dot.clone())]);
        let saved_name = std::mem::replace(&mut self.name, name.to_string());
        self.depth += 1;
        let r = self.walk(&dot, tree);
        self.depth -= 1;
        self.vars = saved_vars;
        self.name = saved_name;
        r.map(|_| ())
    }

    fn walk_if_with(&mut self, dot: &Value, b: &Branch, is_with: bool) -> R<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let r = if val.truthy() {
            let inner = if is_with { val } else { dot.clone() };
            self.walk(&inner, &b.list)
        } else if let Some(else_list) = &b.else_list {
            self.walk(dot, else_list)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Value, b: &Branch) -> R<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let items: Vec<(Value, Value)> = match &val {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v.clone()))
                .collect(),
            Value::Map(m) => m
                .entries
                .iter()
                .map(|(k, v)| (Value::str(k), v.clone()))
                .collect(),
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Nil => Vec::new(),
            other => {
                self.vars.truncate(mark);
                // Go reports the last node the pipeline evaluated.
                let last = b.pipe.cmds.last().and_then(|c| c.args.first());
                let (pos, ctx) =
                    last.map_or((b.pos, "range".to_string()), |a| (a.pos(), a.to_string()));
                return self.fail(
                    pos,
                    ctx,
                    format!("range can't iterate over {}", format_v(other)),
                );
            }
        };
        let body_mark = self.vars.len();
        for (index, elem) in &items {
            self.bind_range_vars(&b.pipe, index, elem);
            let flow = self.walk(elem, &b.list);
            self.vars.truncate(body_mark);
            match flow {
                Err(e) => {
                    self.vars.truncate(mark);
                    return Err(e);
                }
                Ok(Flow::Break) => break,
                Ok(_) => {}
            }
        }
        let r = if items.is_empty() {
            match &b.else_list {
                Some(l) => self.walk(dot, l),
                None => Ok(Flow::Normal),
            }
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r.map(|_| Flow::Normal)
    }

    fn bind_range_vars(&mut self, pipe: &Pipe, index: &Value, elem: &Value) {
        match pipe.decl.as_slice() {
            [] => {}
            [one] => self.set_var(one, elem.clone()),
            [first, second, ..] => {
                self.set_var(first, index.clone());
                self.set_var(second, elem.clone());
            }
        }
    }

    fn set_var(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = value;
        }
    }

    fn var(&self, pos: usize, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(pos, name, format!("undefined variable: {name}")),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, &cmd.args, value)?);
        }
        let value = value.unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn eval_command(&mut self, dot: &Value, args: &[Arg], fin: Option<Value>) -> R<Value> {
        let Some(first) = args.first() else {
            return Ok(Value::Nil);
        };
        let rest = &args[1..];
        match first {
            Arg::Field { pos, idents } => self.eval_field_chain(
                dot,
                dot.clone(),
                idents,
                rest,
                fin,
                *pos,
                &first.to_string(),
            ),
            Arg::Variable { pos, idents } => {
                let v = self.var(*pos, &idents[0])?;
                if idents.len() == 1 {
                    self.not_a_function(first, rest, &fin)?;
                    return Ok(v);
                }
                self.eval_field_chain(dot, v, &idents[1..], rest, fin, *pos, &first.to_string())
            }
            Arg::Chain { pos, node, fields } => {
                let recv = self.eval_arg(dot, node)?;
                self.eval_field_chain(dot, recv, fields, rest, fin, *pos, &first.to_string())
            }
            Arg::Ident { pos, name } => {
                let cmd_ctx = args
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                self.eval_function(dot, (*pos, &cmd_ctx), name, rest, fin)
            }
            Arg::Pipe(p) => {
                self.not_a_function(first, rest, &fin)?;
                self.eval_pipeline(dot, p)
            }
            Arg::Nil(pos) => self.fail(*pos, "nil", "nil is not a command"),
            Arg::Dot(_) => {
                self.not_a_function(first, rest, &fin)?;
                Ok(dot.clone())
            }
            Arg::Literal { value, .. } => {
                self.not_a_function(first, rest, &fin)?;
                Ok(value.clone())
            }
        }
    }

    fn not_a_function(&self, first: &Arg, rest: &[Arg], fin: &Option<Value>) -> R<()> {
        if !rest.is_empty() || fin.is_some() {
            return self.fail(
                first.pos(),
                first,
                format!("can't give argument to non-function {first}"),
            );
        }
        Ok(())
    }

    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Literal { value, .. } => Ok(value.clone()),
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            other => self.eval_command(dot, std::slice::from_ref(other), None),
        }
    }

    fn eval_args(&mut self, dot: &Value, args: &[Arg], fin: Option<Value>) -> R<Vec<Value>> {
        let mut out = Vec::with_capacity(args.len() + 1);
        for a in args {
            out.push(self.eval_arg(dot, a)?);
        }
        out.extend(fin);
        Ok(out)
    }

    /// Calls a function; arity errors point at the name, call errors at the whole command
    /// (`cmd` = offset and text of the command), as Go reports them.
    fn eval_function(
        &mut self,
        dot: &Value,
        cmd: (usize, &str),
        name: &str,
        args: &[Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let pos = cmd.0;
        if name == "and" || name == "or" {
            return self.eval_and_or(dot, pos, name, args, fin);
        }
        if name == "executeTemplate" && self.funcs.has(name) {
            let argv = self.eval_args(dot, args, fin)?;
            return self.execute_template(pos, argv);
        }
        let argv = self.eval_args(dot, args, fin)?;
        match self.funcs.call(name, argv) {
            Ok(v) => Ok(v),
            Err(FuncError::Arity(tail)) => self.fail(
                pos,
                name,
                format!("wrong number of args for {name}: {tail}"),
            ),
            Err(FuncError::Call(msg)) => {
                self.fail(pos, cmd.1, format!("error calling {name}: {msg}"))
            }
        }
    }

    fn eval_and_or(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        args: &[Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let total = args.len() + usize::from(fin.is_some());
        if total == 0 {
            return self.fail(
                pos,
                name,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            );
        }
        let is_and = name == "and";
        let mut last = Value::Nil;
        for a in args {
            last = self.eval_arg(dot, a)?;
            if last.truthy() != is_and {
                return Ok(last);
            }
        }
        if let Some(f) = fin {
            last = f;
        }
        Ok(last)
    }

    fn execute_template(&mut self, pos: usize, argv: Vec<Value>) -> R<Value> {
        let mut it = argv.into_iter();
        let Some(Value::Str(name)) = it.next() else {
            return self.fail(
                pos,
                "executeTemplate",
                "error calling executeTemplate: template name must be a string",
            );
        };
        let dot = it.next().unwrap_or_default();
        if it.next().is_some() {
            return self.fail(pos, "executeTemplate", "error calling executeTemplate: executeTemplate: wrong number of arguments, expected 1 or 2");
        }
        let Some(tree) = self.tmpl.trees.get(name.as_ref()).cloned() else {
            let msg = format!(
                "error calling executeTemplate: template: no template {:?} associated with template {:?}",
                name, self.tmpl.name
            );
            return self.fail(pos, "executeTemplate", msg);
        };
        let saved = std::mem::take(&mut self.out);
        let r = self.run_nested(&name, &tree, dot, pos);
        let produced = std::mem::replace(&mut self.out, saved);
        r.map(|_| Value::str(produced))
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut recv: Value,
        idents: &[String],
        args: &[Arg],
        fin: Option<Value>,
        pos: usize,
        ctx: &str,
    ) -> R<Value> {
        let n = idents.len();
        for (i, ident) in idents.iter().enumerate() {
            if i + 1 < n {
                recv = self.eval_field(dot, &recv, ident, &[], None, pos, ctx)?;
            } else {
                return self.eval_field(dot, &recv, ident, args, fin, pos, ctx);
            }
        }
        Ok(recv)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &Value,
        recv: &Value,
        name: &str,
        args: &[Arg],
        fin: Option<Value>,
        pos: usize,
        ctx: &str,
    ) -> R<Value> {
        let has_args = !args.is_empty() || fin.is_some();
        match recv {
            Value::Nil => {
                if self.tmpl.missing_key == MissingKey::Error {
                    return self.fail(pos, ctx, format!("nil data; no entry for key {name:?}"));
                }
                Ok(Value::Nil)
            }
            Value::Object(_) => {
                let argv = self.eval_args(dot, args, fin)?;
                match self.funcs.call_method(recv, name, argv) {
                    Some(Ok(v)) => Ok(v),
                    Some(Err(FuncError::Arity(tail))) => {
                        self.fail(pos, ctx, format!("wrong number of args for {name}: {tail}"))
                    }
                    Some(Err(FuncError::Call(msg))) => {
                        self.fail(pos, ctx, format!("error calling {name}: {msg}"))
                    }
                    None => self.fail(
                        pos,
                        ctx,
                        format!("can't evaluate field {name} in type {}", recv.type_name()),
                    ),
                }
            }
            Value::Map(m) => {
                if has_args {
                    return self.fail(
                        pos,
                        ctx,
                        format!("{name} is not a method but has arguments"),
                    );
                }
                match m.entries.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => match self.tmpl.missing_key {
                        MissingKey::Error => {
                            self.fail(pos, ctx, format!("map has no entry for key {name:?}"))
                        }
                        MissingKey::Zero if m.elem == Elem::Str => Ok(Value::str("")),
                        MissingKey::Zero | MissingKey::Invalid => Ok(Value::Nil),
                    },
                }
            }
            Value::Struct(s) => match s.field(name) {
                Some(v) if has_args => {
                    let _ = v;
                    self.fail(
                        pos,
                        ctx,
                        format!("{name} has arguments but cannot be invoked as function"),
                    )
                }
                Some(v) => Ok(v.clone()),
                None => self.fail(
                    pos,
                    ctx,
                    format!("can't evaluate field {name} in type {}", recv.type_name()),
                ),
            },
            other => self.fail(
                pos,
                ctx,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            ),
        }
    }
}
