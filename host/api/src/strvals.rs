//! Helm's `--set` syntax (`helm.sh/helm/v3/pkg/strvals`), which Flux uses for `valuesFrom`
//! entries with a `targetPath`: `a.b[1].c=value`, `\.` escapes a dot in a key, `{x,y}` is a
//! list, `,` separates further assignments, and plain values are typed (`true`, `false`, `null`,
//! integers without a leading zero) unless parsed "as string" (Flux does that for quoted values).

use serde_json::{Map, Value};

/// Why a `--set` expression could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrvalsError {
    /// A key has no `=value`.
    #[error("key {0:?} has no value")]
    MissingValue(String),
    /// A list index is not a number or is out of range.
    #[error("invalid list index {0:?}")]
    ParseIndex(String),
    /// The path walks into a value of another shape (`a.b` where `a` is a list).
    #[error("key {0:?} is not a map or a list where the path needs one")]
    WrongShape(String),
    /// Something unexpected after `]`.
    #[error("unexpected {0:?} after a list index")]
    UnexpectedToken(char),
    /// More than 30 nested names.
    #[error("value name nested too deeply")]
    TooDeep,
    /// A `{…` list without its closing brace.
    #[error("list must terminate with '}}'")]
    UnterminatedList,
}

const MAX_INDEX: usize = 65_536;
const MAX_NESTED: usize = 30;

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    as_string: bool,
}

/// Reads until one of `stop` (not included, but consumed) or the end; `\x` is a literal `x`.
/// Returns the text and the stop character (`None` at the end).
fn until(p: &mut Parser<'_>, stop: &[char]) -> (String, Option<char>) {
    let mut out = String::new();
    while let Some(c) = p.chars.next() {
        if stop.contains(&c) {
            return (out, Some(c));
        }
        if c == '\\' {
            match p.chars.next() {
                Some(n) => out.push(n),
                None => return (out, None),
            }
        } else {
            out.push(c);
        }
    }
    (out, None)
}

fn typed(text: String, as_string: bool) -> Value {
    if as_string {
        return Value::String(text);
    }
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::from(0);
    }
    if !text.starts_with('0')
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::from(n);
    }
    Value::String(text)
}

/// Parses `{a,b,c}` if the value starts with `{`; `None` otherwise (nothing consumed). As in
/// Helm, `{}` is a list holding one empty string.
fn value_list(p: &mut Parser<'_>) -> Option<Result<Vec<Value>, StrvalsError>> {
    if p.chars.peek() != Some(&'{') {
        return None;
    }
    p.chars.next();
    let mut list = Vec::new();
    loop {
        let (item, stop) = until(p, &[',', '}']);
        match stop {
            Some(',') => list.push(typed(item, p.as_string)),
            Some('}') => {
                list.push(typed(item, p.as_string));
                // Swallow the comma that separates this assignment from the next.
                if p.chars.peek() == Some(&',') {
                    p.chars.next();
                }
                return Some(Ok(list));
            }
            _ => return Some(Err(StrvalsError::UnterminatedList)),
        }
    }
}

fn scalar_or_list(p: &mut Parser<'_>) -> Result<Value, StrvalsError> {
    match value_list(p) {
        Some(list) => list.map(Value::Array),
        None => {
            let (text, _) = until(p, &[',']);
            Ok(typed(text, p.as_string))
        }
    }
}

/// Helm's `set`: an empty key is not set.
fn set(data: &mut Map<String, Value>, key: String, value: Value) {
    if !key.is_empty() {
        data.insert(key, value);
    }
}

fn set_index(list: &mut Vec<Value>, index: usize, value: Value) -> Result<(), StrvalsError> {
    if index > MAX_INDEX {
        return Err(StrvalsError::ParseIndex(index.to_string()));
    }
    if list.len() <= index {
        list.resize(index + 1, Value::Null);
    }
    if let Some(slot) = list.get_mut(index) {
        *slot = value;
    }
    Ok(())
}

fn read_index(p: &mut Parser<'_>) -> Result<usize, StrvalsError> {
    let (text, _) = until(p, &[']']);
    text.parse::<usize>()
        .map_err(|_| StrvalsError::ParseIndex(text))
}

/// Parses one `key…=value` assignment into `data`. Returns `false` at the end of input.
fn key(
    p: &mut Parser<'_>,
    data: &mut Map<String, Value>,
    depth: usize,
) -> Result<bool, StrvalsError> {
    let (k, stop) = until(p, &['=', '[', ',', '.']);
    match stop {
        None => {
            if k.is_empty() {
                Ok(false)
            } else {
                Err(StrvalsError::MissingValue(k))
            }
        }
        Some('=') => {
            let value = scalar_or_list(p)?;
            set(data, k, value);
            Ok(true)
        }
        Some(',') => {
            set(data, k.clone(), Value::String(String::new()));
            Err(StrvalsError::MissingValue(k))
        }
        Some('.') => {
            if depth + 1 > MAX_NESTED {
                return Err(StrvalsError::TooDeep);
            }
            let mut inner = match data.remove(&k) {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m,
                Some(other) => {
                    data.insert(k.clone(), other);
                    return Err(StrvalsError::WrongShape(k));
                }
            };
            let result = key(p, &mut inner, depth + 1);
            let inner_was_empty = inner.is_empty();
            if !inner.is_empty() {
                set(data, k.clone(), Value::Object(inner));
            }
            match result {
                // Helm: "key map has no value" (`a.=1`); at the end of input (`a.`) it stops.
                Ok(true) if inner_was_empty => Err(StrvalsError::MissingValue(k)),
                other => other,
            }
        }
        Some('[') => {
            let index = read_index(p)?;
            let mut list = match data.remove(&k) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(l)) => l,
                Some(other) => {
                    data.insert(k.clone(), other);
                    return Err(StrvalsError::WrongShape(k));
                }
            };
            let result = list_item(p, &mut list, index, depth);
            set(data, k, Value::Array(list));
            result
        }
        Some(c) => Err(StrvalsError::UnexpectedToken(c)),
    }
}

fn list_item(
    p: &mut Parser<'_>,
    list: &mut Vec<Value>,
    index: usize,
    depth: usize,
) -> Result<bool, StrvalsError> {
    match p.chars.next() {
        Some('=') => {
            let value = scalar_or_list(p)?;
            set_index(list, index, value)?;
            Ok(true)
        }
        Some('.') => {
            let mut inner = match list.get(index) {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let result = key(p, &mut inner, depth + 1);
            set_index(list, index, Value::Object(inner))?;
            result
        }
        Some('[') => {
            let next = read_index(p)?;
            let mut inner = match list.get(index) {
                Some(Value::Array(l)) => l.clone(),
                _ => Vec::new(),
            };
            let result = list_item(p, &mut inner, next, depth);
            set_index(list, index, Value::Array(inner))?;
            result
        }
        // `a[0]` at the end: Helm stops without setting anything.
        None => Ok(false),
        Some(c) => Err(StrvalsError::UnexpectedToken(c)),
    }
}

/// Applies a `--set` expression (`a.b=1,c={x,y}`) to `data`, typing values (`strvals.ParseInto`).
pub fn parse_into(expr: &str, data: &mut Map<String, Value>) -> Result<(), StrvalsError> {
    run(expr, data, false)
}

/// Applies a `--set-string` expression: every value stays a string (`strvals.ParseIntoString`).
pub fn parse_into_string(expr: &str, data: &mut Map<String, Value>) -> Result<(), StrvalsError> {
    run(expr, data, true)
}

fn run(expr: &str, data: &mut Map<String, Value>, as_string: bool) -> Result<(), StrvalsError> {
    let mut p = Parser {
        chars: expr.chars().peekable(),
        as_string,
    };
    while key(&mut p, data, 0)? {}
    Ok(())
}

/// Flux's `ReplacePathValue`: sets `value` at `path`; a value in single or double quotes is set
/// as a string (quotes removed), others are typed.
pub fn replace_path_value(
    data: &mut Map<String, Value>,
    path: &str,
    value: &str,
) -> Result<(), StrvalsError> {
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    if quoted('\'') || quoted('"') {
        let inner = value.trim_matches(|c| c == '\'' || c == '"');
        return parse_into_string(&format!("{path}={inner}"), data);
    }
    parse_into(&format!("{path}={value}"), data)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(path: &str, value: &str) -> Value {
        let mut m = Map::new();
        replace_path_value(&mut m, path, value).expect("valid expression");
        Value::Object(m)
    }

    // The cases of Flux's TestReplacePathValue.
    #[test]
    fn flux_replace_path_value_cases() {
        assert_eq!(
            set("outer.inner", "value"),
            json!({"outer": {"inner": "value"}})
        );
        assert_eq!(set("name", "{a,b,c}"), json!({"name": ["a", "b", "c"]}));
        assert_eq!(
            set("name", r"value1\,value2"),
            json!({"name": "value1,value2"})
        );
        assert_eq!(
            set("merge.at.specific.path", "true"),
            json!({"merge": {"at": {"specific": {"path": true}}}})
        );
        assert_eq!(
            set("merge.at.specific.path", "\"true\""),
            json!({"merge": {"at": {"specific": {"path": "true"}}}})
        );
        assert_eq!(
            set("merge.at[2]", "value"),
            json!({"merge": {"at": [null, null, "value"]}})
        );
        assert_eq!(
            set(r"nodeSelector.kubernetes\.io/role", "master"),
            json!({"nodeSelector": {"kubernetes.io/role": "master"}})
        );
    }

    #[test]
    fn typing_and_multiple_assignments() {
        let mut m = Map::new();
        parse_into("a=1,b=007,c=null,d.e[0].f=x,g=", &mut m).expect("parse");
        assert_eq!(
            Value::Object(m),
            json!({"a": 1, "b": "007", "c": null, "d": {"e": [{"f": "x"}]}, "g": ""})
        );
        let mut m = Map::new();
        parse_into_string("a=1,b=true", &mut m).expect("parse");
        assert_eq!(Value::Object(m), json!({"a": "1", "b": "true"}));
        let mut m = Map::new();
        parse_into("e={},l={a, b},n=-3", &mut m).expect("parse");
        assert_eq!(
            Value::Object(m),
            json!({"e": [""], "l": ["a", " b"], "n": -3})
        );
    }

    #[test]
    fn existing_values_are_updated_in_place() {
        let mut m = json!({"list": ["a", "b", "c"], "map": {"keep": 1}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        parse_into("list[1]=x,map.new=2", &mut m).expect("parse");
        assert_eq!(
            Value::Object(m),
            json!({"list": ["a", "x", "c"], "map": {"keep": 1, "new": 2}})
        );
    }

    #[test]
    fn malformed_expressions_are_errors() {
        let mut m = Map::new();
        assert!(matches!(
            parse_into("a", &mut m),
            Err(StrvalsError::MissingValue(_))
        ));
        assert!(matches!(
            parse_into("a[x]=1", &mut m),
            Err(StrvalsError::ParseIndex(_))
        ));
        let mut m = json!({"s": "str"}).as_object().cloned().unwrap_or_default();
        assert!(matches!(
            parse_into("s.x=1", &mut m),
            Err(StrvalsError::WrongShape(_))
        ));
    }
}
