//! Sprig's dict functions. Maps are shared and mutated in place as Go maps are: `set`, `unset`,
//! `merge` and `mergeOverwrite` change their first argument for every holder.

use super::{Reg, empty, str_arg, strval};
use crate::func::Ty;
use crate::value::{Map, Value};

fn map_arg(a: &[Value], i: usize) -> Map {
    a.get(i)
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default()
}

/// mergo's `isEmptyValue` for interface values.
fn mergo_empty(v: &Value) -> bool {
    empty(v)
}

/// mergo's `Merge`/`MergeWithOverwrite` of `src` into `dst` (both `map[string]interface{}`).
fn deep_merge(dst: &Map, src: &Map, overwrite: bool) {
    for (k, s) in src.entries() {
        if s.is_nil() {
            if overwrite {
                dst.insert(k, Value::Nil);
            }
            continue;
        }
        let d = dst.get(&k);
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&s, &d) {
            deep_merge(dm, sm, overwrite);
            continue;
        }
        let d_present_nonempty = d.as_ref().is_some_and(|d| !mergo_empty(d));
        if d_present_nonempty && matches!(s, Value::List(_)) && !overwrite {
            continue;
        }
        if overwrite || d.is_none() || d.as_ref().is_some_and(mergo_empty) {
            dst.insert(k, s);
        }
    }
}

fn dig(m: &Map, default: &Value, keys: &[String]) -> Result<Value, String> {
    let Some(step) = m.get(&keys[0]) else {
        return Ok(default.clone());
    };
    if keys.len() == 1 {
        return Ok(step);
    }
    match step {
        Value::Map(sm) => dig(&sm, default, &keys[1..]),
        other => Err(format!(
            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
            if other.is_nil() {
                "nil".to_owned()
            } else {
                other.type_name().to_owned()
            }
        )),
    }
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.v("dict", &[], Ty::Any, |a| {
        let m = Map::new();
        let mut i = 0;
        while i < a.len() {
            let key = strval(&a[i]);
            let v = a.get(i + 1).cloned().unwrap_or_else(|| Value::from(""));
            m.insert(key, v);
            i += 2;
        }
        Ok(Value::Map(m))
    });
    r.f("get", &[Ty::Map, Ty::String], |a| {
        Ok(map_arg(a, 0)
            .get(str_arg(a, 1))
            .unwrap_or_else(|| Value::from("")))
    });
    r.f("set", &[Ty::Map, Ty::String, Ty::Any], |a| {
        let m = map_arg(a, 0);
        m.insert(str_arg(a, 1), a[2].clone());
        Ok(Value::Map(m))
    });
    r.f("unset", &[Ty::Map, Ty::String], |a| {
        let m = map_arg(a, 0);
        m.remove(str_arg(a, 1));
        Ok(Value::Map(m))
    });
    r.f("hasKey", &[Ty::Map, Ty::String], |a| {
        Ok(Value::Bool(map_arg(a, 0).contains_key(str_arg(a, 1))))
    });
    r.v("pluck", &[Ty::String], Ty::Map, |a| {
        let key = str_arg(a, 0);
        Ok(Value::list(
            a[1..]
                .iter()
                .filter_map(|d| d.as_map().and_then(|m| m.get(key)))
                .collect(),
        ))
    });
    r.v("keys", &[], Ty::Map, |a| {
        let mut k = Vec::new();
        for d in a {
            if let Some(m) = d.as_map() {
                k.extend(m.keys());
            }
        }
        Ok(Value::strings(k))
    });
    r.v("pick", &[Ty::Map], Ty::String, |a| {
        let src = map_arg(a, 0);
        let out = Map::new();
        for k in &a[1..] {
            let k = k.as_str().unwrap_or_default();
            if let Some(v) = src.get(k) {
                out.insert(k, v);
            }
        }
        Ok(Value::Map(out))
    });
    r.v("omit", &[Ty::Map], Ty::String, |a| {
        let src = map_arg(a, 0);
        let omit: Vec<&str> = a[1..].iter().filter_map(Value::as_str).collect();
        let out = Map::new();
        for (k, v) in src.entries() {
            if !omit.contains(&k.as_str()) {
                out.insert(k, v);
            }
        }
        Ok(Value::Map(out))
    });
    r.f("values", &[Ty::Map], |a| {
        Ok(Value::list(
            map_arg(a, 0)
                .entries()
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        ))
    });
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        r.v(name, &[Ty::Map], Ty::Any, move |a| {
            let dst = map_arg(a, 0);
            for src in &a[1..] {
                // A named map type (Helm's `chartutil.Values`) merges as its map: mergo
                // dereferences it to the same kind.
                let named = match src {
                    Value::Object(o) => o.as_value().filter(|v| matches!(v, Value::Map(_))),
                    _ => None,
                };
                match named.as_ref().unwrap_or(src) {
                    Value::Map(sm) => deep_merge(&dst, sm, overwrite),
                    Value::Nil => {}
                    other => {
                        return Err(format!(
                            "src and dst must be of same type: map[string]interface {{}} != {}",
                            other.type_name()
                        )
                        .into());
                    }
                }
            }
            Ok(Value::Map(dst))
        });
    }
    r.v("dig", &[], Ty::Any, |a| {
        if a.len() < 3 {
            return Err("dig needs at least three arguments".into());
        }
        let Some(m) = a[a.len() - 1].as_map().filter(|m| m.is_plain()) else {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                a[a.len() - 1].type_name()
            )
            .into());
        };
        let default = &a[a.len() - 2];
        let mut keys = Vec::new();
        for k in &a[..a.len() - 2] {
            match k.as_str() {
                Some(s) => keys.push(s.to_owned()),
                None => {
                    return Err(format!(
                        "interface conversion: interface {{}} is {}, not string",
                        k.type_name()
                    )
                    .into());
                }
            }
        }
        dig(m, default, &keys).map_err(Into::into)
    });
}
