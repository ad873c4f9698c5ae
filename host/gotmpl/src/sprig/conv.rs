//! Sprig's value conversions (`spf13/cast` semantics), emptiness, defaults, reflection helpers
//! and JSON-free type functions.

use super::Reg;
use crate::func::Ty;
use crate::value::Value;

/// Go's `strconv.ParseInt(trimZeroDecimal(s), 0, 0)` as `cast` does it.
fn cast_parse_int(s: &str) -> Option<i64> {
    let mut trimmed = s;
    let b = s.as_bytes();
    let mut found_zero = false;
    let mut i = b.len();
    while i > 0 {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    trimmed = &s[..i - 1];
                }
                break;
            }
            b'0' => found_zero = true,
            _ => break,
        }
        i -= 1;
    }
    crate::fmt::parse_go_int(trimmed)
}

/// Go's `int64(f)` on amd64: truncation, and the "integer indefinite" `MinInt64` for NaN and
/// out-of-range values.
pub(crate) fn go_float_to_int(f: f64) -> i64 {
    let limit = -(i64::MIN as f64); // 2^63, exactly representable
    if f.is_nan() || f >= limit || f < -limit {
        return i64::MIN;
    }
    f as i64
}

/// `cast.ToInt64`: numbers truncate, strings parse (base prefixes allowed), bools are 0/1,
/// anything else is 0.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => go_float_to_int(*f),
        Value::String(s) => cast_parse_int(s).unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        Value::Object(o) => o.as_value().map_or(0, |v| to_int64(&v)),
        _ => 0,
    }
}

/// `cast.ToFloat64`.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::String(s) => crate::fmt::parse_go_float(s).unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Object(o) => o.as_value().map_or(0.0, |v| to_float64(&v)),
        _ => 0.0,
    }
}

/// Sprig's `strval`: strings as is, everything else as `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_go_string(),
    }
}

/// Sprig's `empty`: nil, zero numbers, false, and empty strings/lists/maps; structs never.
pub fn empty(v: &Value) -> bool {
    match v {
        Value::Object(o) => match o.as_value() {
            Some(inner) => empty(&inner),
            None => false,
        },
        other => !other.is_true(),
    }
}

/// `%#v`-free rendering of a value for cast error messages.
fn type_of(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        other => other.type_name().to_owned(),
    }
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("toString", &[Ty::Any], |a| {
        if a[0].as_bytes().is_some() {
            return Ok(a[0].clone());
        }
        if let Some(bytes) = a[0].byte_slice_bytes() {
            // Sprig's strval: `[]byte` → `string(v)`.
            return Ok(Value::from_bytes(bytes));
        }
        Ok(Value::from(strval(&a[0])))
    });
    r.f("atoi", &[Ty::String], |a| {
        let s = super::str_arg(a, 0);
        // strconv.Atoi: decimal only, optional sign.
        let v = if s
            .bytes()
            .skip(usize::from(s.starts_with(['+', '-'])))
            .all(|b| b.is_ascii_digit())
        {
            s.parse::<i64>().unwrap_or(0)
        } else {
            0
        };
        Ok(Value::Int(v))
    });
    r.f("int", &[Ty::Any], |a| Ok(Value::Int(to_int64(&a[0]))));
    r.f("int64", &[Ty::Any], |a| Ok(Value::int64(to_int64(&a[0]))));
    r.f("float64", &[Ty::Any], |a| {
        Ok(Value::Float(to_float64(&a[0])))
    });
    r.f("toDecimal", &[Ty::Any], |a| {
        let s = a[0].to_go_string();
        Ok(Value::int64(i64::from_str_radix(&s, 8).unwrap_or(0)))
    });
    r.v("default", &[Ty::Any], Ty::Any, |a| {
        if a.len() < 2 || empty(&a[1]) {
            return Ok(a[0].clone());
        }
        Ok(a[1].clone())
    });
    r.f("empty", &[Ty::Any], |a| Ok(Value::Bool(empty(&a[0]))));
    r.v("coalesce", &[], Ty::Any, |a| {
        Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))
    });
    r.v("all", &[], Ty::Any, |a| {
        Ok(Value::Bool(a.iter().all(|v| !empty(v))))
    });
    r.v("any", &[], Ty::Any, |a| {
        Ok(Value::Bool(a.iter().any(|v| !empty(v))))
    });
    r.f("ternary", &[Ty::Any, Ty::Any, Ty::Bool], |a| {
        Ok(if a[2].is_true() {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    r.f("fail", &[Ty::String], |a| Err(super::str_arg(a, 0).into()));
    r.f("typeOf", &[Ty::Any], |a| Ok(Value::from(type_of(&a[0]))));
    r.f("typeIs", &[Ty::String, Ty::Any], |a| {
        Ok(Value::Bool(super::str_arg(a, 0) == type_of(&a[1])))
    });
    r.f("typeIsLike", &[Ty::String, Ty::Any], |a| {
        let t = type_of(&a[1]);
        let want = super::str_arg(a, 0);
        Ok(Value::Bool(want == t || want == format!("*{t}")))
    });
    r.f("kindOf", &[Ty::Any], |a| Ok(Value::from(a[0].kind_name())));
    r.f("kindIs", &[Ty::String, Ty::Any], |a| {
        Ok(Value::Bool(super::str_arg(a, 0) == a[1].kind_name()))
    });
    r.f("deepEqual", &[Ty::Any, Ty::Any], |a| {
        Ok(Value::Bool(a[0] == a[1]))
    });
    r.f("deepCopy", &[Ty::Any], |a| Ok(a[0].deep_copy()));
    r.f("mustDeepCopy", &[Ty::Any], |a| {
        if a[0].is_nil() {
            return Err("copy: cannot deep copy nil".into());
        }
        Ok(a[0].deep_copy())
    });
    // Paths (Go's path package).
    r.s2s("base", path_base);
    r.s2s("dir", path_dir);
    r.s2s("clean", path_clean);
    r.s2s("ext", |s| path_ext(s).to_owned());
    r.f("isAbs", &[Ty::String], |a| {
        Ok(Value::Bool(super::str_arg(a, 0).starts_with('/')))
    });
    r.s2s("osBase", path_base);
    r.s2s("osDir", path_dir);
    r.s2s("osClean", path_clean);
    r.s2s("osExt", |s| path_ext(s).to_owned());
    r.f("osIsAbs", &[Ty::String], |a| {
        Ok(Value::Bool(super::str_arg(a, 0).starts_with('/')))
    });
}

/// Go's `path.Clean`.
pub(crate) fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(l) if *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
pub(crate) fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    match t.rfind('/') {
        Some(i) => t[i + 1..].to_owned(),
        None => t.to_owned(),
    }
}

/// Go's `path.Dir`.
pub(crate) fn path_dir(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    path_clean(dir)
}

/// Go's `path.Ext`.
pub(crate) fn path_ext(p: &str) -> &str {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return &p[i..];
        }
    }
    ""
}
