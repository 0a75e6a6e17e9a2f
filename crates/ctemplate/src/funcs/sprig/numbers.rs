//! sprig's numbers (`numeric.go`): integer math through `cast.ToInt64` (anything numeric or
//! numeric-looking, else 0), the `*f` functions through shopspring's `decimal` (each operand
//! taken at its shortest decimal form, the exact result rounded to the nearest float64;
//! `divf` keeps 16 decimal places), sequences.

use rand::Rng;

use super::super::Func;
use super::{at_least, int_arg, to_f64, to_i64, want};
use gotemplate::{FuncError, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_atoi", |_, a| {
        want(&a, 1)?;
        let s = super::super::string(&a[0])?;
        Ok(Value::Int(go_atoi(&s).unwrap_or(0)))
    }),
    ("sprig_int64", |_, a| {
        want(&a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    }),
    ("sprig_int", |_, a| {
        want(&a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    }),
    ("sprig_float64", |_, a| {
        want(&a, 1)?;
        Ok(Value::Float(to_f64(&a[0])))
    }),
    ("sprig_toDecimal", |_, a| {
        want(&a, 1)?;
        let s = gotemplate::gofmt::format_v(&a[0]);
        Ok(Value::Int(i64::from_str_radix(&s, 8).unwrap_or(0)))
    }),
    ("sprig_seq", |_, a| {
        let p: Vec<i64> = a.iter().map(int_arg).collect::<Result<_, _>>()?;
        Ok(Value::str(seq(&p)))
    }),
    ("sprig_until", |_, a| {
        want(&a, 1)?;
        let n = int_arg(&a[0])?;
        Ok(ints(until_step(0, n, if n < 0 { -1 } else { 1 })))
    }),
    ("sprig_untilStep", |_, a| {
        want(&a, 3)?;
        let (start, stop, step) = (int_arg(&a[0])?, int_arg(&a[1])?, int_arg(&a[2])?);
        Ok(ints(until_step(start, stop, step)))
    }),
    ("sprig_add1", |_, a| {
        want(&a, 1)?;
        Ok(Value::Int(to_i64(&a[0]).wrapping_add(1)))
    }),
    ("sprig_add", |_, a| {
        Ok(Value::Int(
            a.iter().map(to_i64).fold(0i64, |x, y| x.wrapping_add(y)),
        ))
    }),
    ("sprig_sub", |_, a| {
        want(&a, 2)?;
        Ok(Value::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    }),
    ("sprig_div", |_, a| {
        want(&a, 2)?;
        let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
        if y == 0 {
            return Err(FuncError::call("runtime error: integer divide by zero"));
        }
        Ok(Value::Int(x.wrapping_div(y)))
    }),
    ("sprig_mod", |_, a| {
        want(&a, 2)?;
        let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
        if y == 0 {
            return Err(FuncError::call("runtime error: integer divide by zero"));
        }
        Ok(Value::Int(x.wrapping_rem(y)))
    }),
    ("sprig_mul", |_, a| {
        at_least(&a, 1)?;
        Ok(Value::Int(
            a.iter().map(to_i64).fold(1i64, |x, y| x.wrapping_mul(y)),
        ))
    }),
    ("sprig_randInt", |_, a| {
        want(&a, 2)?;
        let (min, max) = (int_arg(&a[0])?, int_arg(&a[1])?);
        if max <= min {
            return Err(FuncError::call("invalid argument to Intn"));
        }
        Ok(Value::Int(rand::thread_rng().gen_range(min..max)))
    }),
    ("sprig_add1f", |_, a| {
        want(&a, 1)?;
        decimal_op(&a[0], &[Value::Int(1)], ADD)
    }),
    ("sprig_addf", |_, a| decimal_op(&Value::Float(0.0), &a, ADD)),
    ("sprig_subf", |_, a| {
        at_least(&a, 1)?;
        decimal_op(&a[0], &a[1..], SUB)
    }),
    ("sprig_mulf", |_, a| {
        at_least(&a, 1)?;
        decimal_op(&a[0], &a[1..], MUL)
    }),
    ("sprig_divf", |_, a| {
        at_least(&a, 1)?;
        decimal_op(&a[0], &a[1..], DIV)
    }),
    ("sprig_biggest", |_, a| extreme(a, true)),
    ("sprig_max", |_, a| extreme(a, true)),
    ("sprig_min", |_, a| extreme(a, false)),
    ("sprig_maxf", |_, a| {
        at_least(&a, 1)?;
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_max),
        ))
    }),
    ("sprig_minf", |_, a| {
        at_least(&a, 1)?;
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_min),
        ))
    }),
    ("sprig_ceil", |_, a| {
        want(&a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).ceil()))
    }),
    ("sprig_floor", |_, a| {
        want(&a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).floor()))
    }),
    ("sprig_round", |_, a| {
        if a.len() < 2 || a.len() > 3 {
            return Err(FuncError::arity_at_least(2, a.len()));
        }
        let places = int_arg(&a[1])?;
        let round_on = match a.get(2) {
            Some(Value::Float(f)) => *f,
            Some(Value::Int(i)) => *i as f64,
            Some(other) => return Err(super::wrong_type("float64", other)),
            None => 0.5,
        };
        let val = to_f64(&a[0]);
        let pow = 10f64.powf(places as f64);
        let digit = pow * val;
        let frac = digit.fract();
        let r = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(r / pow))
    }),
];

/// Go's `strconv.Atoi` (base 10, optional sign).
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn extreme(a: Vec<Value>, biggest: bool) -> Result<Value, FuncError> {
    at_least(&a, 1)?;
    let mut best = to_i64(&a[0]);
    for v in &a[1..] {
        let v = to_i64(v);
        if (biggest && v > best) || (!biggest && v < best) {
            best = v;
        }
    }
    Ok(Value::Int(best))
}

fn ints(v: Vec<i64>) -> Value {
    Value::list(v.into_iter().map(Value::Int).collect())
}

pub(super) fn until_step(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut v = Vec::new();
    if stop < start {
        if step >= 0 {
            return v;
        }
        let mut i = start;
        while i > stop {
            v.push(i);
            i += step;
        }
        return v;
    }
    if step <= 0 {
        return v;
    }
    let mut i = start;
    while i < stop {
        v.push(i);
        i += step;
    }
    v
}

fn seq(p: &[i64]) -> String {
    let list = match *p {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end + inc, inc)
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return String::new();
                }
            }
            until_step(start, end + inc, step)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end + step, step)
        }
        _ => return String::new(),
    };
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A decimal `m × 10^e`, exact for the operands sprig feeds it.
#[derive(Clone, Copy, Debug)]
struct Dec {
    m: i128,
    e: i32,
}

impl Dec {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_f64(f: f64) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, mant),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let digits = format!("{int}{frac}");
        let m: i128 = digits.parse().ok()?;
        Some(Dec {
            m: if neg { -m } else { m },
            e: exp - frac.len() as i32,
        })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(f64::NAN)
    }

    fn scale(m: i128, by: i32) -> Option<i128> {
        10i128.checked_pow(u32::try_from(by).ok()?)?.checked_mul(m)
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let e = a.e.min(b.e);
        Some((Self::scale(a.m, a.e - e)?, Self::scale(b.m, b.e - e)?, e))
    }

    fn add(a: Dec, b: Dec) -> Option<Dec> {
        let (x, y, e) = Self::align(a, b)?;
        Some(Dec {
            m: x.checked_add(y)?,
            e,
        })
    }

    fn sub(a: Dec, b: Dec) -> Option<Dec> {
        let (x, y, e) = Self::align(a, b)?;
        Some(Dec {
            m: x.checked_sub(y)?,
            e,
        })
    }

    fn mul(a: Dec, b: Dec) -> Option<Dec> {
        Some(Dec {
            m: a.m.checked_mul(b.m)?,
            e: a.e + b.e,
        })
    }

    /// `Div`: `DivRound(d2, 16)`, half away from zero.
    fn div(a: Dec, b: Dec) -> Option<Dec> {
        if b.m == 0 {
            return None;
        }
        // q = a.m × 10^(a.e − b.e + 16) / b.m, as m × 10^-16.
        let shift = a.e - b.e + 16;
        let (num, den) = if shift >= 0 {
            (Self::scale(a.m, shift)?, b.m)
        } else {
            (a.m, Self::scale(b.m, -shift)?)
        };
        let (q, r) = (num / den, num % den);
        let up = r.checked_abs()?.checked_mul(2)? >= den.checked_abs()?;
        let q = if up {
            if (num < 0) != (den < 0) {
                q - 1
            } else {
                q + 1
            }
        } else {
            q
        };
        Some(Dec { m: q, e: -16 })
    }
}

/// How one `*f` function combines two operands: exactly, or (beyond `i128`, for extreme
/// exponents) as plain float arithmetic.
#[derive(Clone, Copy)]
struct Op {
    exact: fn(Dec, Dec) -> Option<Dec>,
    float: fn(f64, f64) -> f64,
    divides: bool,
}

const ADD: Op = Op {
    exact: Dec::add,
    float: |x, y| x + y,
    divides: false,
};
const SUB: Op = Op {
    exact: Dec::sub,
    float: |x, y| x - y,
    divides: false,
};
const MUL: Op = Op {
    exact: Dec::mul,
    float: |x, y| x * y,
    divides: false,
};
const DIV: Op = Op {
    exact: Dec::div,
    float: |x, y| x / y,
    divides: true,
};

fn decimal_op(first: &Value, rest: &[Value], op: Op) -> Result<Value, FuncError> {
    let mut acc = to_f64(first);
    for v in rest {
        let y = to_f64(v);
        if op.divides && y == 0.0 {
            return Err(FuncError::call("decimal division by zero"));
        }
        acc = match (Dec::from_f64(acc), Dec::from_f64(y)) {
            (Some(a), Some(b)) => (op.exact)(a, b).map_or_else(|| (op.float)(acc, y), Dec::to_f64),
            _ => (op.float)(acc, y),
        };
    }
    Ok(Value::Float(acc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(first: f64, rest: &[f64], op: Op) -> f64 {
        let rest: Vec<Value> = rest.iter().map(|f| Value::Float(*f)).collect();
        match decimal_op(&Value::Float(first), &rest, op).unwrap() {
            Value::Float(f) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decimal_arithmetic_is_exact_before_rounding() {
        // sprig's docs: addf 1.5 2 2 = 5.5; float64 would give 3.3000000000000003 here.
        assert_eq!(run(0.0, &[1.1, 2.2], ADD), 3.3);
        assert_eq!(run(0.0, &[1.5, 2.0, 2.0], ADD), 5.5);
        assert_eq!(run(3.3, &[1.1], SUB), 2.2);
        assert_eq!(run(1.1, &[3.0], MUL), 3.3);
        assert_eq!(run(10.0, &[3.0], DIV), 3.3333333333333335);
        assert_eq!(seq(&[1, 2, 5]), "1 3 5");
        assert_eq!(seq(&[3]), "1 2 3");
        assert_eq!(seq(&[0]), "1 0");
    }
}
