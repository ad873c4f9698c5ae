//! Helm's `strvals` parser for `--set`, `--set-string` and `--set-file`: `a.b=c,d[0]=e`,
//! `{x,y}` lists, backslash escapes and Helm's type inference (int64, bool, null), ported rule
//! for rule so the same flags produce the same values.

use serde_json::{Map, Value};

/// A `--set`-style parse failure, worded as Helm words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StrvalsError(pub String);

/// Reads a `--set-file` value from its path.
type FileReader<'a> = dyn Fn(&str) -> Result<Value, StrvalsError> + 'a;

const MAX_INDEX: usize = 65536;
const MAX_NESTED_NAME_LEVEL: usize = 30;
/// Capstan's limit on nested list indexes (`a[0][0]…`). Helm has none and accepts any depth;
/// values that deep break every recursive step after parsing (rendering, `toYaml`), so they are
/// refused here with a clear error instead.
pub(crate) const MAX_NESTED_INDEX_LEVEL: usize = 1000;

enum Stop {
    Eof,
    Rune(char),
}

/// How a value's runes become a value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `--set`: typed.
    Typed,
    /// `--set-string`: always strings.
    Str,
    /// `--set-json`: values are JSON documents.
    Json,
    /// `--set-literal`: no escapes, the value is the rest of the argument.
    Literal,
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    mode: Mode,
    /// How many `[i]` deep the current key is ([`MAX_NESTED_INDEX_LEVEL`]).
    index_depth: usize,
    file_reader: Option<&'a FileReader<'a>>,
}

fn typed_val(v: &str, mode: Mode) -> Value {
    if matches!(mode, Mode::Str) {
        return Value::String(v.to_owned());
    }
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if v == "0" {
        return Value::from(0i64);
    }
    if !v.is_empty() && !v.starts_with('0') {
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = v.parse::<i64>()
        {
            return Value::from(i);
        }
    }
    Value::String(v.to_owned())
}

impl Parser<'_> {
    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn runes_until(&mut self, stop: &[char]) -> (String, Stop) {
        let mut v = String::new();
        let literal = self.mode == Mode::Literal;
        loop {
            match self.read() {
                None => return (v, Stop::Eof),
                Some(c) if stop.contains(&c) => return (v, Stop::Rune(c)),
                Some('\\') if !literal => match self.read() {
                    None => return (v, Stop::Eof),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    fn value_of(&self, runes: &str) -> Result<Value, StrvalsError> {
        match self.file_reader {
            Some(reader) => reader(runes),
            None => Ok(typed_val(runes, self.mode)),
        }
    }

    /// Skips blanks; true (and consumes it) when the value is empty (`,` or end of input).
    fn empty_val(&mut self) -> bool {
        loop {
            match self.read() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(_) => {
                    self.pos -= 1;
                    return false;
                }
            }
        }
    }

    /// Decodes one JSON value at the cursor (Go's `json.Decoder` then `InputOffset`).
    fn json_value(&mut self) -> Result<Value, StrvalsError> {
        let rest: String = self.chars[self.pos..].iter().collect();
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
        let v = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(StrvalsError(e.to_string())),
            None => return Err(StrvalsError("unexpected end of JSON input".to_owned())),
        };
        let consumed = rest[..stream.byte_offset()].chars().count();
        self.pos += consumed;
        Ok(json_floats(v))
    }

    /// The value after `=`: JSON, literal rest, or the usual list/scalar forms.
    fn value_after_eq(&mut self) -> Result<(Option<Value>, bool), StrvalsError> {
        match self.mode {
            Mode::Json => {
                if self.empty_val() {
                    return Ok((Some(Value::Null), !self.at_end()));
                }
                let v = self.json_value()?;
                self.empty_val();
                Ok((Some(v), !self.at_end()))
            }
            Mode::Literal => {
                let rest: String = self.chars[self.pos..].iter().collect();
                self.pos = self.chars.len();
                Ok((Some(Value::String(rest)), false))
            }
            _ => Ok((None, true)),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// Returns Ok(true) to continue, Ok(false) at end of input.
    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Result<bool, StrvalsError> {
        let stops: &[char] = if self.mode == Mode::Literal {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let (k, last) = self.runes_until(stops);
        match last {
            Stop::Eof => {
                if k.is_empty() {
                    return Ok(false);
                }
                Err(StrvalsError(format!("key {k:?} has no value")))
            }
            Stop::Rune('[') => {
                let i = self.key_index()?;
                let mut list = match data.get(&k) {
                    Some(Value::Array(l)) => l.clone(),
                    Some(_) => {
                        return Err(StrvalsError(
                            "unable to parse key: interface conversion: interface {} is not []interface {}".to_owned(),
                        ));
                    }
                    None => Vec::new(),
                };
                let res = self.list_item(&mut list, i, level);
                set(data, &k, Value::Array(list));
                res
            }
            Stop::Rune('=') if self.mode == Mode::Json || self.mode == Mode::Literal => {
                let (v, more) = self.value_after_eq()?;
                set(data, &k, v.unwrap_or(Value::Null));
                Ok(more)
            }
            Stop::Rune('=') => match self.val_list()? {
                ValList::List(vl) => {
                    set(data, &k, Value::Array(vl));
                    Ok(true)
                }
                ValList::Eof => {
                    set(data, &k, Value::String(String::new()));
                    Ok(false)
                }
                ValList::NotList => {
                    let (rs, stop) = self.runes_until(&[',']);
                    let v = self.value_of(&rs)?;
                    set(data, &k, v);
                    Ok(!matches!(stop, Stop::Eof))
                }
            },
            Stop::Rune(',') => {
                set(data, &k, Value::String(String::new()));
                Err(StrvalsError(format!(
                    "key {k:?} has no value (cannot end with ,)"
                )))
            }
            Stop::Rune(_) => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(StrvalsError(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    )));
                }
                let mut inner = match data.get(&k) {
                    Some(Value::Object(m)) => m.clone(),
                    Some(_) => {
                        return Err(StrvalsError(
                            "unable to parse key: interface conversion: interface {} is not map[string]interface {}"
                                .to_owned(),
                        ));
                    }
                    None => Map::new(),
                };
                let res = self.key(&mut inner, level);
                if res.is_ok() && inner.is_empty() {
                    return Err(StrvalsError(format!("key map {k:?} has no value")));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Object(inner));
                }
                res
            }
        }
    }

    fn key_index(&mut self) -> Result<usize, StrvalsError> {
        let (v, stop) = self.runes_until(&[']']);
        if matches!(stop, Stop::Eof) {
            return Err(StrvalsError("error parsing index: EOF".to_owned()));
        }
        let i: i64 = v.parse().map_err(|_| {
            StrvalsError(format!(
                "error parsing index: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        })?;
        if i < 0 {
            return Err(StrvalsError(format!("negative {i} index not allowed")));
        }
        let i = usize::try_from(i).unwrap_or(usize::MAX);
        if i + 1 > MAX_INDEX {
            return Err(StrvalsError(format!(
                "index of {i} is greater than maximum supported index of {MAX_INDEX}"
            )));
        }
        Ok(i)
    }

    fn list_item(
        &mut self,
        list: &mut Vec<Value>,
        i: usize,
        level: usize,
    ) -> Result<bool, StrvalsError> {
        let (k, last) = self.runes_until(&['[', '.', '=']);
        if !k.is_empty() {
            return Err(StrvalsError(format!(
                "unexpected data at end of array index: {k:?}"
            )));
        }
        match last {
            Stop::Eof => Ok(false),
            Stop::Rune('=') if self.mode == Mode::Json || self.mode == Mode::Literal => {
                let (v, more) = self.value_after_eq()?;
                set_index(list, i, v.unwrap_or(Value::Null));
                Ok(more)
            }
            Stop::Rune('=') => match self.val_list()? {
                ValList::List(vl) => {
                    set_index(list, i, Value::Array(vl));
                    Ok(true)
                }
                ValList::Eof => {
                    set_index(list, i, Value::String(String::new()));
                    Ok(false)
                }
                ValList::NotList => {
                    let (rs, stop) = self.runes_until(&[',']);
                    let v = self.value_of(&rs)?;
                    set_index(list, i, v);
                    Ok(!matches!(stop, Stop::Eof))
                }
            },
            Stop::Rune('[') => {
                let next = self.key_index()?;
                self.index_depth += 1;
                if self.index_depth > MAX_NESTED_INDEX_LEVEL {
                    return Err(StrvalsError(format!(
                        "list index nested level is greater than maximum supported nested level of {MAX_NESTED_INDEX_LEVEL}"
                    )));
                }
                let mut inner = match list.get(i) {
                    Some(Value::Array(l)) => l.clone(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(_) => {
                        return Err(StrvalsError(
                            "unable to parse key: interface conversion: interface {} is not []interface {}"
                                .to_owned(),
                        ));
                    }
                };
                let res = self.list_item(&mut inner, next, level)?;
                self.index_depth -= 1;
                set_index(list, i, Value::Array(inner));
                Ok(res)
            }
            Stop::Rune(_) => {
                let mut inner = match list.get(i) {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                let res = self.key(&mut inner, level)?;
                set_index(list, i, Value::Object(inner));
                Ok(res)
            }
        }
    }

    fn val_list(&mut self) -> Result<ValList, StrvalsError> {
        match self.read() {
            None => return Ok(ValList::Eof),
            Some('{') => {}
            Some(_) => {
                self.pos -= 1;
                return Ok(ValList::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.runes_until(&[',', '}']);
            match last {
                Stop::Eof => return Err(StrvalsError("list must terminate with '}'".to_owned())),
                Stop::Rune('}') => {
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.pos -= 1;
                    }
                    list.push(self.value_of(&rs)?);
                    return Ok(ValList::List(list));
                }
                Stop::Rune(_) => list.push(self.value_of(&rs)?),
            }
        }
    }
}

enum ValList {
    List(Vec<Value>),
    Eof,
    NotList,
}

/// Go decodes JSON numbers into `interface{}` as float64.
fn json_floats(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.into_iter().map(json_floats).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, json_floats(v))).collect())
        }
        other => other,
    }
}

fn set(data: &mut Map<String, Value>, key: &str, val: Value) {
    if key.is_empty() {
        return;
    }
    data.insert(key.to_owned(), val);
}

fn set_index(list: &mut Vec<Value>, i: usize, val: Value) {
    if list.len() <= i {
        list.resize(i + 1, Value::Null);
    }
    list[i] = val;
}

fn parse_into(
    s: &str,
    dest: &mut Map<String, Value>,
    mode: Mode,
    file_reader: Option<&FileReader<'_>>,
) -> Result<(), StrvalsError> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        mode,
        index_depth: 0,
        file_reader,
    };
    while p.key(dest, 0)? {}
    Ok(())
}

/// `strvals.ParseInto`: applies one `--set` argument to `dest`.
pub fn parse_set(s: &str, dest: &mut Map<String, Value>) -> Result<(), StrvalsError> {
    parse_into(s, dest, Mode::Typed, None)
}

/// `strvals.ParseJSON`: applies one `--set-json` argument (`key=<json>`) to `dest`.
pub fn parse_set_json(s: &str, dest: &mut Map<String, Value>) -> Result<(), StrvalsError> {
    parse_into(s, dest, Mode::Json, None)
}

/// `strvals.ParseLiteralInto`: applies one `--set-literal` argument (value taken verbatim).
pub fn parse_set_literal(s: &str, dest: &mut Map<String, Value>) -> Result<(), StrvalsError> {
    parse_into(s, dest, Mode::Literal, None)
}

/// `strvals.ParseIntoString`: applies one `--set-string` argument to `dest`.
pub fn parse_set_string(s: &str, dest: &mut Map<String, Value>) -> Result<(), StrvalsError> {
    parse_into(s, dest, Mode::Str, None)
}

/// `strvals.ParseIntoFile`: applies one `--set-file` argument, reading each value as a path.
pub fn parse_set_file(
    s: &str,
    dest: &mut Map<String, Value>,
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(), StrvalsError> {
    let reader = |path: &str| -> Result<Value, StrvalsError> {
        read(path).map(Value::String).map_err(StrvalsError)
    };
    parse_into(s, dest, Mode::Str, Some(&reader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set_all(args: &[&str]) -> Result<Value, StrvalsError> {
        let mut m = Map::new();
        for a in args {
            parse_set(a, &mut m)?;
        }
        Ok(Value::Object(m))
    }

    #[test]
    fn deep_index_nesting_is_refused_not_a_stack_overflow() {
        let deep = |n: usize| format!("a{}=1", "[0]".repeat(n));
        assert!(set_all(&[&deep(MAX_NESTED_INDEX_LEVEL)]).is_ok());
        let err = set_all(&[&deep(40_000)]).expect_err("too deep");
        assert_eq!(
            err.to_string(),
            "list index nested level is greater than maximum supported nested level of 1000"
        );
    }

    #[test]
    fn typed_and_nested() -> Result<(), StrvalsError> {
        assert_eq!(
            set_all(&["a.b=c,d[1]=e,n=10,z=0,o=010,t=true,x=null,l={1,two}"])?,
            json!({"a": {"b": "c"}, "d": [null, "e"], "n": 10, "z": 0, "o": "010", "t": true, "x": null, "l": [1, "two"]})
        );
        assert_eq!(set_all(&["a\\.b=c\\,d"])?, json!({"a.b": "c,d"}));
        assert_eq!(
            set_all(&["list[0].name=x", "list[0].v=1"])?,
            json!({"list": [{"name": "x", "v": 1}]})
        );
        assert_eq!(set_all(&["a="])?, json!({"a": ""}));
        Ok(())
    }

    #[test]
    fn json_and_literal() -> Result<(), StrvalsError> {
        let mut m = Map::new();
        parse_set_json(r#"a={"b": [1, "x"]} ,c=true,d="s""#, &mut m)?;
        assert_eq!(
            Value::Object(m),
            json!({"a": {"b": [1.0, "x"]}, "c": true, "d": "s"})
        );
        let mut m = Map::new();
        parse_set_literal("a.b=x,y\\z=1", &mut m)?;
        assert_eq!(Value::Object(m), json!({"a": {"b": "x,y\\z=1"}}));
        Ok(())
    }

    #[test]
    fn errors() {
        assert!(set_all(&["a"]).is_err());
        assert!(set_all(&["a,b=1"]).is_err());
        assert!(set_all(&["a[x]=1"]).is_err());
    }
}
