//! Sprig's math: int64 arithmetic through `cast.ToInt64`, float helpers, and the `*f` functions
//! that go through `shopspring/decimal` (exact decimal arithmetic on the floats' shortest
//! representations, division rounded to 16 places).

use super::{Reg, int_arg, to_float64, to_int64};
use crate::func::Ty;
use crate::value::Value;

/// A decimal `m × 10^e`.
#[derive(Clone, Copy)]
struct Dec {
    m: i128,
    e: i32,
}

impl Dec {
    /// `decimal.NewFromFloat`: the shortest decimal that round-trips.
    fn from_f64(f: f64) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        if f == 0.0 {
            return Some(Dec { m: 0, e: 0 });
        }
        let s = format!("{:e}", f);
        let (mant, exp) = s.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let neg = mant.starts_with('-');
        let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
        let m: i128 = digits.parse().ok()?;
        let e = exp - (digits.len() as i32 - 1);
        Some(Dec {
            m: if neg { -m } else { m },
            e,
        })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.m, self.e).parse().unwrap_or(0.0)
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
        let e = a.e.min(b.e);
        let am = a.m.checked_mul(10i128.checked_pow((a.e - e) as u32)?)?;
        let bm = b.m.checked_mul(10i128.checked_pow((b.e - e) as u32)?)?;
        Some((am, bm, e))
    }

    fn add(self, o: Dec) -> Option<Dec> {
        let (a, b, e) = Dec::align(self, o)?;
        Some(Dec {
            m: a.checked_add(b)?,
            e,
        })
    }

    fn sub(self, o: Dec) -> Option<Dec> {
        let (a, b, e) = Dec::align(self, o)?;
        Some(Dec {
            m: a.checked_sub(b)?,
            e,
        })
    }

    fn mul(self, o: Dec) -> Option<Dec> {
        Some(Dec {
            m: self.m.checked_mul(o.m)?,
            e: self.e + o.e,
        })
    }

    /// `DivRound(o, 16)`: half away from zero.
    fn div(self, o: Dec) -> Option<Dec> {
        if o.m == 0 {
            return None;
        }
        let p = self.e - o.e + 16;
        let (num, den) = if p >= 0 {
            (self.m.checked_mul(10i128.checked_pow(p as u32)?)?, o.m)
        } else {
            (self.m, o.m.checked_mul(10i128.checked_pow((-p) as u32)?)?)
        };
        let q = num / den;
        let r = num % den;
        let q = if r.checked_mul(2)?.abs() >= den.abs() {
            if (num < 0) != (den < 0) { q - 1 } else { q + 1 }
        } else {
            q
        };
        Some(Dec { m: q, e: -16 })
    }
}

fn decimal_op(
    first: &Value,
    rest: &[Value],
    op: fn(Dec, Dec) -> Option<Dec>,
    fop: fn(f64, f64) -> f64,
) -> f64 {
    let mut acc_f = to_float64(first);
    let mut acc = Dec::from_f64(acc_f);
    for x in rest {
        let xf = to_float64(x);
        acc = match (acc, Dec::from_f64(xf)) {
            (Some(a), Some(b)) => op(a, b),
            _ => None,
        };
        acc_f = match acc {
            Some(d) => d.to_f64(),
            None => fop(acc_f, xf),
        };
        if acc.is_none() {
            acc = Dec::from_f64(acc_f);
        }
    }
    acc.map_or(acc_f, Dec::to_f64)
}

/// Sprig's `untilStep`.
pub(crate) fn until_step(start: i64, stop: i64, step: i64) -> Vec<i64> {
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

fn ints(v: Vec<i64>) -> Value {
    Value::ints(v)
}

fn pow10(p: f64) -> f64 {
    if p.fract() == 0.0 && (0.0..=22.0).contains(&p) {
        let mut r = 1.0;
        for _ in 0..p as i32 {
            r *= 10.0;
        }
        return r;
    }
    10f64.powf(p)
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("add1", &[Ty::Any], |a| {
        Ok(Value::int64(to_int64(&a[0]).wrapping_add(1)))
    });
    r.v("add", &[], Ty::Any, |a| {
        Ok(Value::int64(
            a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))),
        ))
    });
    r.f("sub", &[Ty::Any, Ty::Any], |a| {
        Ok(Value::int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    r.f("div", &[Ty::Any, Ty::Any], |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::int64(to_int64(&a[0]).wrapping_div(d)))
    });
    r.f("mod", &[Ty::Any, Ty::Any], |a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::int64(to_int64(&a[0]).wrapping_rem(d)))
    });
    r.v("mul", &[Ty::Any], Ty::Any, |a| {
        Ok(Value::int64(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |acc, v| acc.wrapping_mul(to_int64(v))),
        ))
    });
    for name in ["max", "biggest"] {
        r.v(name, &[Ty::Any], Ty::Any, |a| {
            Ok(Value::int64(
                a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::max),
            ))
        });
    }
    r.v("min", &[Ty::Any], Ty::Any, |a| {
        Ok(Value::int64(
            a[1..].iter().map(to_int64).fold(to_int64(&a[0]), i64::min),
        ))
    });
    r.v("maxf", &[Ty::Any], Ty::Any, |a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(to_float64(&a[0]), f64::max),
        ))
    });
    r.v("minf", &[Ty::Any], Ty::Any, |a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .map(to_float64)
                .fold(to_float64(&a[0]), f64::min),
        ))
    });
    r.f("floor", &[Ty::Any], |a| {
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    r.f("ceil", &[Ty::Any], |a| {
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    r.v("round", &[Ty::Any, Ty::Int], Ty::Float, |a| {
        let round_on = a.get(2).map_or(0.5, to_float64);
        let val = to_float64(&a[0]);
        let pow = pow10(int_arg(a, 1) as f64);
        let digit = pow * val;
        let frac = digit.fract();
        let rounded = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(rounded / pow))
    });
    r.f("add1f", &[Ty::Any], |a| {
        Ok(Value::Float(decimal_op(
            &a[0],
            &[Value::Int(1)],
            Dec::add,
            |x, y| x + y,
        )))
    });
    r.v("addf", &[], Ty::Any, |a| {
        Ok(Value::Float(decimal_op(
            &Value::Float(0.0),
            a,
            Dec::add,
            |x, y| x + y,
        )))
    });
    r.v("subf", &[Ty::Any], Ty::Any, |a| {
        Ok(Value::Float(decimal_op(
            &a[0],
            &a[1..],
            Dec::sub,
            |x, y| x - y,
        )))
    });
    r.v("mulf", &[Ty::Any], Ty::Any, |a| {
        Ok(Value::Float(decimal_op(
            &a[0],
            &a[1..],
            Dec::mul,
            |x, y| x * y,
        )))
    });
    r.v("divf", &[Ty::Any], Ty::Any, |a| {
        for d in &a[1..] {
            if to_float64(d) == 0.0 {
                return Err("decimal division by 0".into());
            }
        }
        Ok(Value::Float(decimal_op(
            &a[0],
            &a[1..],
            Dec::div,
            |x, y| x / y,
        )))
    });
    r.f("until", &[Ty::Int], |a| {
        let c = int_arg(a, 0);
        crate::budget::list(
            "until",
            crate::budget::until_len(0, c, if c < 0 { -1 } else { 1 }),
        )?;
        Ok(ints(until_step(0, c, if c < 0 { -1 } else { 1 })))
    });
    r.f("untilStep", &[Ty::Int, Ty::Int, Ty::Int], |a| {
        crate::budget::list(
            "untilStep",
            crate::budget::until_len(int_arg(a, 0), int_arg(a, 1), int_arg(a, 2)),
        )?;
        Ok(ints(until_step(
            int_arg(a, 0),
            int_arg(a, 1),
            int_arg(a, 2),
        )))
    });
    r.v("seq", &[], Ty::Int, |a| {
        let p: Vec<i64> = a.iter().map(|v| v.as_int().unwrap_or(0)).collect();
        let (start, stop, step) = match p.len() {
            1 => {
                let (start, end) = (1, p[0]);
                let inc = if end < start { -1 } else { 1 };
                (start, end + inc, inc)
            }
            2 => {
                let (start, end) = (p[0], p[1]);
                let step = if end < start { -1 } else { 1 };
                (start, end + step, step)
            }
            3 => {
                let (start, step, end) = (p[0], p[1], p[2]);
                let mut inc = 1;
                if end < start {
                    inc = -1;
                    if step > 0 {
                        return Ok(Value::from(""));
                    }
                }
                (start, end + inc, step)
            }
            _ => return Ok(Value::from("")),
        };
        crate::budget::list("seq", crate::budget::until_len(start, stop, step))?;
        let v = until_step(start, stop, step);
        let s: Vec<String> = v.iter().map(i64::to_string).collect();
        Ok(Value::from(s.join(" ")))
    });
    r.f("randInt", &[Ty::Int, Ty::Int], |a| {
        let (lo, hi) = (int_arg(a, 0), int_arg(a, 1));
        if hi <= lo {
            return Err("invalid argument to Intn".into());
        }
        let span = (hi - lo) as u64;
        Ok(Value::Int(lo + (super::crypto::random_u64() % span) as i64))
    });
}
