//! Go's builtin template functions (`and`, `or`, `not`, `len`, `index`, `slice`, `eq`…, `print*`,
//! `html`, `js`, `urlquery`, `call`), which see raw `reflect.Value`s and so get the executor's
//! view of values (boxed or not) rather than converted arguments.

use super::V;
use crate::error::FuncError;
use crate::func::{Signature, Ty};
use crate::parse::Arg;
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Call,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::String,
        Value::Object(o) => match o.as_value() {
            Some(inner) => kind(&inner),
            None => Kind::Other,
        },
        Value::List(_) | Value::Map(_) => Kind::Other,
    }
}

fn basic(v: &Value) -> Value {
    match v {
        Value::Object(o) => o.as_value().unwrap_or_else(|| v.clone()),
        _ => v.clone(),
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq_pair(orig_a: &Value, orig_b: &Value) -> Result<bool, FuncError> {
    let (a, b) = (basic(orig_a), basic(orig_b));
    let (k1, k2) = (kind(&a), kind(&b));
    if k1 != k2 {
        if !a.is_nil() && !b.is_nil() {
            return Err(BAD_COMPARISON.into());
        }
        return Ok(false);
    }
    Ok(match (&a, &b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        (Value::Nil, _) | (_, Value::Nil) => false,
        (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
            let s = |v: &Value, verb: &str| crate::fmt::sprintf(verb, std::slice::from_ref(v));
            if a.kind_name() != b.kind_name() {
                return Err(format!(
                    "non-comparable types {}: {}, {}: {}",
                    s(orig_a, "%s"),
                    orig_a.type_name(),
                    orig_b.type_name(),
                    s(orig_b, "%v")
                )
                .into());
            }
            return Err(format!(
                "non-comparable type {}: {}",
                s(orig_b, "%s"),
                orig_b.type_name()
            )
            .into());
        }
        (x, y) => x == y,
    })
}

fn lt_pair(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (a, b) = (basic(a), basic(b));
    let (k1, k2) = (kind(&a), kind(&b));
    if matches!(k1, Kind::Invalid | Kind::Other) || matches!(k2, Kind::Invalid | Kind::Other) {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return Err(BAD_COMPARISON.into());
    }
    match (&a, &b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        _ => Err(BAD_COMPARISON_TYPE.into()),
    }
}

fn index_arg(index: &Value, cap: usize) -> Result<usize, FuncError> {
    let x = match basic(index) {
        Value::Int(i) => i,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        _ => {
            return Err(format!("cannot index slice/array with type {}", index.type_name()).into());
        }
    };
    match usize::try_from(x) {
        Ok(u) if u <= cap => Ok(u),
        _ => Err(format!("index out of range: {x}").into()),
    }
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u00{:02X}", u32::from(c))),
            c if !c.is_ascii() && !crate::fmt::is_print(c) => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `evalArgs` for html/js/urlquery: a lone string as is, otherwise `fmt.Sprint` with nil as
/// `<no value>`.
fn eval_args(args: &[V]) -> String {
    if let [
        V {
            v: Value::String(s),
            ..
        },
    ] = args
    {
        return s.to_string();
    }
    let vals: Vec<Value> = args
        .iter()
        .map(|a| {
            if a.v.is_nil() {
                Value::string("<no value>")
            } else {
                a.v.clone()
            }
        })
        .collect();
    crate::fmt::sprint(&vals)
}

impl Builtin {
    pub(crate) fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "and" => Builtin::And,
            "or" => Builtin::Or,
            "not" => Builtin::Not,
            "len" => Builtin::Len,
            "index" => Builtin::Index,
            "slice" => Builtin::Slice,
            "eq" => Builtin::Eq,
            "ne" => Builtin::Ne,
            "lt" => Builtin::Lt,
            "le" => Builtin::Le,
            "gt" => Builtin::Gt,
            "ge" => Builtin::Ge,
            "print" => Builtin::Print,
            "printf" => Builtin::Printf,
            "println" => Builtin::Println,
            "html" => Builtin::Html,
            "js" => Builtin::Js,
            "urlquery" => Builtin::Urlquery,
            "call" => Builtin::Call,
            _ => return None,
        })
    }

    pub(crate) fn signature(self) -> Signature {
        use Builtin::*;
        match self {
            And | Or | Index | Slice | Eq | Call => Signature::variadic(&[Ty::Any], Ty::Any),
            Not | Len => Signature::new(&[Ty::Any]),
            Ne | Lt | Le | Gt | Ge => Signature::new(&[Ty::Any, Ty::Any]),
            Print | Println | Html | Js | Urlquery => Signature::variadic(&[], Ty::Any),
            Printf => Signature::variadic(&[Ty::String], Ty::Any),
        }
    }

    pub(crate) fn is_and_or(self) -> bool {
        matches!(self, Builtin::And | Builtin::Or)
    }

    /// Whether parameter `i` is a `reflect.Value` (sees nil and boxing as is).
    pub(crate) fn param_is_reflect(self, _i: usize) -> bool {
        !matches!(
            self,
            Builtin::Print
                | Builtin::Printf
                | Builtin::Println
                | Builtin::Html
                | Builtin::Js
                | Builtin::Urlquery
        )
    }

    pub(crate) fn call(self, args: &[V], nodes: &[Arg]) -> Result<V, FuncError> {
        use Builtin::*;
        let plain = |v: Value| Ok(V::plain(v));
        match self {
            And | Or => unreachable!("and/or short-circuit in the executor"),
            Not => plain(Value::Bool(!args[0].v.is_true())),
            Len => {
                let a = &args[0];
                if a.v.is_nil() {
                    if a.boxed {
                        return Err("len of nil pointer".into());
                    }
                    return Err("reflect: call of reflect.Value.Type on zero Value".into());
                }
                if let Value::Object(o) = &a.v
                    && let Some(n) = o.length()
                {
                    return plain(Value::from(n));
                }
                let n = match basic(&a.v) {
                    Value::String(s) => s.len(),
                    Value::List(l) => l.len(),
                    Value::Map(m) => m.len(),
                    Value::Object(o) => match o.length() {
                        Some(n) => n,
                        None => return Err(format!("len of type {}", o.type_name()).into()),
                    },
                    _ => return Err(format!("len of type {}", a.v.type_name()).into()),
                };
                plain(Value::from(n))
            }
            Index => {
                let mut item = args[0].clone();
                if item.v.is_nil() {
                    return Err("index of untyped nil".into());
                }
                for idx in &args[1..] {
                    if item.v.is_nil() {
                        return Err("index of nil pointer".into());
                    }
                    item = match basic(&item.v) {
                        Value::List(l) => {
                            let x = index_arg(&idx.v, l.len())?;
                            match l.get(x) {
                                Some(e) => V::boxed(e.clone()),
                                None => return Err("reflect: slice index out of range".into()),
                            }
                        }
                        Value::String(s) => {
                            let x = index_arg(&idx.v, s.len())?;
                            match s.as_bytes().get(x) {
                                Some(b) => V::plain(Value::Int(i64::from(*b))),
                                None => return Err("reflect: string index out of range".into()),
                            }
                        }
                        Value::Map(m) => match basic(&idx.v) {
                            Value::String(k) => match m.get(&k) {
                                Some(e) => V::boxed(e.clone()),
                                None => V::boxed(Value::Nil),
                            },
                            Value::Nil => {
                                return Err("value is nil; should be of type string".into());
                            }
                            _ => {
                                return Err(format!(
                                    "value has type {}; should be string",
                                    idx.v.type_name()
                                )
                                .into());
                            }
                        },
                        other => {
                            return Err(
                                format!("can't index item of type {}", other.type_name()).into()
                            );
                        }
                    };
                }
                Ok(item)
            }
            Slice => {
                let item = basic(&args[0].v);
                if item.is_nil() {
                    return Err("slice of untyped nil".into());
                }
                let idxs = &args[1..];
                if idxs.len() > 3 {
                    return Err(format!("too many slice indexes: {}", idxs.len()).into());
                }
                let len = match &item {
                    Value::String(s) => {
                        if idxs.len() == 3 {
                            return Err("cannot 3-index slice a string".into());
                        }
                        s.len()
                    }
                    Value::List(l) => l.len(),
                    other => {
                        return Err(
                            format!("can't slice item of type {}", other.type_name()).into()
                        );
                    }
                };
                let mut idx = [0, len, len];
                for (i, x) in idxs.iter().enumerate() {
                    idx[i] = index_arg(&x.v, len)?;
                }
                if idx[0] > idx[1] {
                    return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]).into());
                }
                if idxs.len() == 3 && idx[1] > idx[2] {
                    return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]).into());
                }
                match item {
                    Value::String(s) => match s.get(idx[0]..idx[1]) {
                        Some(sub) => plain(Value::string(sub)),
                        None => plain(Value::string(
                            String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned(),
                        )),
                    },
                    Value::List(l) => plain(Value::list(l[idx[0]..idx[1]].to_vec())),
                    _ => unreachable!("checked above"),
                }
            }
            Eq => {
                if args.len() < 2 {
                    return Err("missing argument for comparison".into());
                }
                for b in &args[1..] {
                    if eq_pair(&args[0].v, &b.v)? {
                        return plain(Value::Bool(true));
                    }
                }
                plain(Value::Bool(false))
            }
            Ne => plain(Value::Bool(!eq_pair(&args[0].v, &args[1].v)?)),
            Lt => plain(Value::Bool(lt_pair(&args[0].v, &args[1].v)?)),
            Le => {
                let lt = lt_pair(&args[0].v, &args[1].v)?;
                plain(Value::Bool(lt || eq_pair(&args[0].v, &args[1].v)?))
            }
            Gt => {
                let lt = lt_pair(&args[0].v, &args[1].v)?;
                plain(Value::Bool(!(lt || eq_pair(&args[0].v, &args[1].v)?)))
            }
            Ge => plain(Value::Bool(!lt_pair(&args[0].v, &args[1].v)?)),
            Print => {
                let vals: Vec<Value> = args.iter().map(|a| a.v.clone()).collect();
                plain(Value::string(crate::fmt::sprint(&vals)))
            }
            Println => {
                let vals: Vec<Value> = args.iter().map(|a| a.v.clone()).collect();
                plain(Value::string(crate::fmt::sprintln(&vals)))
            }
            Printf => {
                let format = args[0].v.as_str().unwrap_or_default().to_owned();
                let vals: Vec<Value> = args[1..].iter().map(|a| a.v.clone()).collect();
                plain(Value::string(crate::fmt::sprintf(&format, &vals)))
            }
            Html => plain(Value::string(html_escape(&eval_args(args)))),
            Js => plain(Value::string(js_escape(&eval_args(args)))),
            Urlquery => plain(Value::string(query_escape(&eval_args(args)))),
            Call => {
                let f = &args[0];
                if f.v.is_nil() {
                    return Err("call of nil".into());
                }
                let name = nodes.first().map(ToString::to_string).unwrap_or_default();
                Err(format!("non-function {name} of type {}", f.v.type_name()).into())
            }
        }
    }
}
