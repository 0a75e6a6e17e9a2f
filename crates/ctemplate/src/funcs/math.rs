//! Arithmetic helpers. Upstream's operand order is reversed so that pipes read naturally:
//! `{{ 10 | subtract 2 }}` is `10 - 2`, i.e. `subtract b a = a - b`. Integers stay integers,
//! any float operand makes the result a float.

use super::{arity, Func};
use gotemplate::gofmt::{format_v, go_quote};
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("add", |_, a| arith(a, "add", Op::Add)),
    ("subtract", |_, a| arith(a, "subtract", Op::Sub)),
    ("multiply", |_, a| arith(a, "multiply", Op::Mul)),
    ("divide", |_, a| arith(a, "divide", Op::Div)),
    ("modulo", |_, a| arith(a, "modulo", Op::Mod)),
    ("minimum", |_, a| arith(a, "minimum", Op::Min)),
    ("maximum", |_, a| arith(a, "maximum", Op::Max)),
];

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Min,
    Max,
}

fn unknown(name: &str, v: &Value) -> FuncError {
    let shown = match v {
        Value::Str(s) => go_quote(s),
        other => format!("%!q({}={})", other.type_name(), format_v(other)),
    };
    FuncError::call(format!(
        "{name}: unknown type for {shown} ({})",
        v.type_name()
    ))
}

fn arith(args: Vec<Value>, name: &str, op: Op) -> Result<Value, FuncError> {
    arity(&args, 2)?;
    let (b, a) = (&args[0], &args[1]);
    if !matches!(a, Value::Int(_) | Value::Float(_)) {
        return Err(unknown(name, a));
    }
    if !matches!(b, Value::Int(_) | Value::Float(_))
        || (op == Op::Mod && matches!(b, Value::Float(_)))
    {
        return Err(unknown(name, b));
    }
    if op == Op::Mod && matches!(a, Value::Float(_)) {
        return Err(unknown(name, a));
    }
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => int_op(*x, *y, op).map(Value::Int),
        _ => {
            let (x, y) = (as_f64(a), as_f64(b));
            Ok(match op {
                Op::Add => Value::Float(x + y),
                Op::Sub => Value::Float(x - y),
                Op::Mul => Value::Float(x * y),
                Op::Div => Value::Float(x / y),
                Op::Min => {
                    if x < y {
                        a.clone()
                    } else {
                        b.clone()
                    }
                }
                Op::Max => {
                    if x > y {
                        a.clone()
                    } else {
                        b.clone()
                    }
                }
                Op::Mod => return Err(unknown(name, a)),
            })
        }
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

fn int_op(x: i64, y: i64, op: Op) -> Result<i64, FuncError> {
    let div_zero = || FuncError::call("runtime error: integer divide by zero");
    Ok(match op {
        Op::Add => x.wrapping_add(y),
        Op::Sub => x.wrapping_sub(y),
        Op::Mul => x.wrapping_mul(y),
        Op::Div => x.checked_div(y).ok_or_else(div_zero)?,
        Op::Mod => x.checked_rem(y).ok_or_else(div_zero)?,
        Op::Min => x.min(y),
        Op::Max => x.max(y),
    })
}
