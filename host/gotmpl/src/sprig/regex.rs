//! Sprig's regular-expression functions over Go RE2 syntax (the `regex` crate accepts the same
//! syntax for everything charts use). Compiled expressions are cached process-wide.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ::regex::Regex;

use super::{Reg, int_arg, str_arg};
use crate::error::FuncError;
use crate::func::Ty;
use crate::value::Value;

const CACHE_LIMIT: usize = 4096;

/// Compiles `pattern`, reusing an earlier compilation.
pub(crate) fn compile(pattern: &str) -> Result<Arc<Regex>, FuncError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(re) = guard.get(pattern) {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern).map_err(|e| FuncError::new(go_error(pattern, &e.to_string())))?;
    let re = Arc::new(re);
    if guard.len() >= CACHE_LIMIT {
        guard.clear();
    }
    guard.insert(pattern.to_owned(), re.clone());
    Ok(re)
}

/// Go's `regexp.Compile` error text for the common syntax errors (Rust's parser words them
/// differently); other errors keep Rust's wording.
fn go_error(pattern: &str, rust: &str) -> String {
    let tail = |from: Option<usize>| format!("`{}`", &pattern[from.unwrap_or(0)..]);
    let what = if rust.contains("unclosed character class") {
        format!("missing closing ]: {}", tail(pattern.rfind('[')))
    } else if rust.contains("unclosed group") {
        format!("missing closing ): {}", tail(None))
    } else if rust.contains("unopened group") {
        format!("unexpected ): {}", tail(None))
    } else if rust.contains("repetition operator missing expression") {
        let op = pattern.chars().find(|c| "*+?".contains(*c)).unwrap_or('*');
        format!("missing argument to repetition operator: `{op}`")
    } else {
        rust.lines().last().unwrap_or_default().trim().to_owned()
    };
    format!("error parsing regexp: {what}")
}

/// Compiles for a Sprig function: the non-`must` forms panic in Go (`regexp.MustCompile`),
/// which prefixes the message.
fn compile_for(pattern: &str, name: &str) -> Result<Arc<Regex>, FuncError> {
    compile(pattern).map_err(|e| {
        if name.starts_with("must") {
            e
        } else {
            FuncError::new(format!("regexp: Compile(`{pattern}`): {}", e.message()))
        }
    })
}

fn strings(v: Vec<&str>) -> Value {
    Value::strings(v.into_iter().map(str::to_owned).collect())
}

fn find_all(re: &Regex, s: &str, n: i64) -> Vec<String> {
    let it = re.find_iter(s).map(|m| m.as_str().to_owned());
    if n < 0 {
        it.collect()
    } else {
        it.take(n as usize).collect()
    }
}

/// Go's `Regexp.Split`.
fn split(re: &Regex, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let matches: Vec<(usize, usize)> = {
        let it = re.find_iter(s).map(|m| (m.start(), m.end()));
        if n < 0 {
            it.collect()
        } else {
            it.take(n as usize).collect()
        }
    };
    let mut out = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for (a, b) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = a;
        if b != 0 {
            out.push(s[beg..end].to_owned());
        }
        beg = b;
    }
    if end != s.len() {
        out.push(s[beg..].to_owned());
    }
    out
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `Regexp.ReplaceAllString` (with `$1`/`${name}` expansion).
fn replace_all(re: &Regex, s: &str, repl: &str) -> String {
    re.replace_all(s, repl).into_owned()
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("regexMatch", &[Ty::String, Ty::String], |a| {
        Ok(Value::Bool(
            compile(str_arg(a, 0)).is_ok_and(|re| re.is_match(str_arg(a, 1))),
        ))
    });
    r.f("mustRegexMatch", &[Ty::String, Ty::String], |a| {
        Ok(Value::Bool(compile(str_arg(a, 0))?.is_match(str_arg(a, 1))))
    });
    for name in ["regexFindAll", "mustRegexFindAll"] {
        r.f(name, &[Ty::String, Ty::String, Ty::Int], |a| {
            let re = compile_for(str_arg(a, 0), name)?;
            let v = find_all(&re, str_arg(a, 1), int_arg(a, 2));
            Ok(strings(v.iter().map(String::as_str).collect()))
        });
    }
    for name in ["regexFind", "mustRegexFind"] {
        r.f(name, &[Ty::String, Ty::String], |a| {
            let re = compile_for(str_arg(a, 0), name)?;
            Ok(Value::from(
                re.find(str_arg(a, 1)).map_or("", |m| m.as_str()),
            ))
        });
    }
    for name in ["regexReplaceAll", "mustRegexReplaceAll"] {
        r.f(name, &[Ty::String, Ty::String, Ty::String], |a| {
            let re = compile_for(str_arg(a, 0), name)?;
            Ok(Value::from(replace_all(&re, str_arg(a, 1), str_arg(a, 2))))
        });
    }
    for name in ["regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"] {
        r.f(name, &[Ty::String, Ty::String, Ty::String], |a| {
            let re = compile_for(str_arg(a, 0), name)?;
            Ok(Value::from(
                re.replace_all(str_arg(a, 1), ::regex::NoExpand(str_arg(a, 2)))
                    .into_owned(),
            ))
        });
    }
    for name in ["regexSplit", "mustRegexSplit"] {
        r.f(name, &[Ty::String, Ty::String, Ty::Int], |a| {
            let re = compile_for(str_arg(a, 0), name)?;
            let v = split(&re, str_arg(a, 1), int_arg(a, 2));
            Ok(strings(v.iter().map(String::as_str).collect()))
        });
    }
    r.s2s("regexQuoteMeta", quote_meta);
}
