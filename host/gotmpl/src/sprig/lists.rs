//! Sprig's list functions. Go implements them with reflection over any slice; here every list is
//! a `[]interface{}`. The `must*` forms and the plain forms fail with the same message (the plain
//! forms panic in Go, which the template engine turns into the same error).

use super::{Reg, empty, int_arg, to_int64};
use crate::error::FuncError;
use crate::func::Ty;
use crate::value::Value;

/// Go's panic for `reflect.TypeOf(nil).Kind()`.
const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

/// The elements of a slice argument, or Go's error for other kinds.
fn as_list(v: &Value, what: &str) -> Result<Vec<Value>, FuncError> {
    match v {
        Value::List(l) => Ok(l.to_vec()),
        Value::Nil => {
            Err("runtime error: invalid memory address or nil pointer dereference".into())
        }
        Value::Object(o) => match o.as_value() {
            Some(Value::List(l)) => Ok(l.to_vec()),
            _ => Err(format!("Cannot {what} on type {}", v.kind_name()).into()),
        },
        other => Err(format!("Cannot {what} on type {}", other.kind_name()).into()),
    }
}

fn both(
    r: &mut Reg<'_>,
    name: &str,
    params: &[Ty],
    rest: Option<Ty>,
    f: fn(&[Value]) -> Result<Value, FuncError>,
) {
    let must = format!("must{}{}", name[..1].to_uppercase(), &name[1..]);
    for n in [name, must.as_str()] {
        match rest {
            Some(t) => r.v(n, params, t, f),
            None => r.f(n, params, f),
        }
    }
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.v("list", &[], Ty::Any, |a| Ok(Value::list(a.to_vec())));
    r.v("tuple", &[], Ty::Any, |a| Ok(Value::list(a.to_vec())));
    let push: fn(&[Value]) -> Result<Value, FuncError> = |a| {
        let mut l = as_list(&a[0], "push")?;
        l.push(a[1].clone());
        Ok(Value::list(l))
    };
    both(r, "push", &[Ty::Any, Ty::Any], None, push);
    both(r, "append", &[Ty::Any, Ty::Any], None, push);
    both(r, "prepend", &[Ty::Any, Ty::Any], None, |a| {
        let mut l = as_list(&a[0], "prepend")?;
        l.insert(0, a[1].clone());
        Ok(Value::list(l))
    });
    both(r, "first", &[Ty::Any], None, |a| {
        Ok(as_list(&a[0], "find first")?
            .first()
            .cloned()
            .unwrap_or(Value::Nil))
    });
    both(r, "last", &[Ty::Any], None, |a| {
        Ok(as_list(&a[0], "find last")?
            .last()
            .cloned()
            .unwrap_or(Value::Nil))
    });
    both(r, "rest", &[Ty::Any], None, |a| {
        let l = as_list(&a[0], "find rest")?;
        if l.is_empty() {
            return Ok(Value::list(Vec::new()));
        }
        Ok(Value::list(l[1..].to_vec()))
    });
    both(r, "initial", &[Ty::Any], None, |a| {
        let l = as_list(&a[0], "find initial")?;
        if l.is_empty() {
            return Ok(Value::list(Vec::new()));
        }
        Ok(Value::list(l[..l.len() - 1].to_vec()))
    });
    both(r, "reverse", &[Ty::Any], None, |a| {
        let mut l = as_list(&a[0], "find reverse")?;
        l.reverse();
        Ok(Value::list(l))
    });
    both(r, "uniq", &[Ty::Any], None, |a| {
        let l = as_list(&a[0], "find uniq")?;
        let mut out: Vec<Value> = Vec::new();
        for v in l {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(Value::list(out))
    });
    both(r, "without", &[Ty::Any], Some(Ty::Any), |a| {
        let l = as_list(&a[0], "find without")?;
        let omit = &a[1..];
        Ok(Value::list(
            l.into_iter().filter(|v| !omit.contains(v)).collect(),
        ))
    });
    both(r, "has", &[Ty::Any, Ty::Any], None, |a| {
        if a[1].is_nil() {
            return Ok(Value::Bool(false));
        }
        let l = as_list(&a[1], "find has")?;
        Ok(Value::Bool(l.contains(&a[0])))
    });
    both(r, "compact", &[Ty::Any], None, |a| {
        let l = as_list(&a[0], "compact")?;
        Ok(Value::list(l.into_iter().filter(|v| !empty(v)).collect()))
    });
    both(r, "slice", &[Ty::Any], Some(Ty::Any), |a| {
        let l = match a[0].list_items() {
            Some(l) => l.to_vec(),
            None if a[0].is_nil() => return Err(NIL_DEREF.into()),
            None => {
                let other = &a[0];
                return Err(format!(
                    "list should be type of slice or array but {}",
                    if other.is_nil() {
                        "invalid"
                    } else {
                        other.kind_name()
                    }
                )
                .into());
            }
        };
        if l.is_empty() {
            return Ok(Value::Nil);
        }
        let start = a.get(1).map_or(0, to_int64);
        let end = a.get(2).map_or(l.len() as i64, to_int64);
        if start < 0 || end < start || end as usize > l.len() {
            return Err("reflect.Value.Slice: slice index out of bounds".into());
        }
        let part = l[start as usize..end as usize].to_vec();
        Ok(match &a[0] {
            Value::Object(o) if o.type_name() == "[]string" => {
                Value::strings(part.iter().map(super::strval).collect())
            }
            Value::Object(o) if o.type_name() == "[]int" => {
                Value::ints(part.iter().filter_map(Value::to_i64).collect())
            }
            _ => Value::list(part),
        })
    });
    r.v("concat", &[], Ty::Any, |a| {
        let mut out = Vec::new();
        for v in a {
            match v.list_items() {
                Some(l) => out.extend(l.iter().cloned()),
                None if v.is_nil() => return Err(NIL_DEREF.into()),
                None => {
                    let other = v;
                    return Err(format!(
                        "Cannot concat type {} as list",
                        if other.is_nil() {
                            "invalid"
                        } else {
                            other.kind_name()
                        }
                    )
                    .into());
                }
            }
        }
        Ok(Value::list(out))
    });
    both(r, "chunk", &[Ty::Int, Ty::Any], None, |a| {
        let size = int_arg(a, 0);
        let l = as_list(&a[1], "chunk").map_err(|e| {
            FuncError::new(
                e.message()
                    .replace("Cannot chunk on type", "Cannot chunk type"),
            )
        })?;
        if size <= 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        let chunks: Vec<Value> = l
            .chunks(size as usize)
            .map(|c| Value::list(c.to_vec()))
            .collect();
        Ok(Value::list(chunks))
    });
}
