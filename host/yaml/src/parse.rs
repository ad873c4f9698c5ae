//! Event-driven YAML → JSON value conversion (anchors, aliases, `<<` merge keys, tags), with the
//! scalar rules in [`crate::resolve`]. Non-string keys become strings, as `sigs.k8s.io/yaml` does.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Value};

use crate::resolve::resolve_plain;
use crate::{Error, Result};

/// Parses a multi-document stream. Empty documents (and documents that are just `null`) are
/// skipped, as `kubectl` and Helm skip them.
pub fn parse_stream(text: &str) -> Result<Vec<Value>> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
    };
    let mut docs = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                reader.anchors.clear();
                let (event, span) = reader.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue;
                }
                let value = reader.node(event, span)?;
                if !value.is_null() {
                    docs.push(value);
                }
            }
            other => {
                return Err(Error::Parse {
                    line: span.start.line(),
                    column: span.start.col() + 1,
                    message: format!("unexpected event {other:?}"),
                });
            }
        }
    }
    Ok(docs)
}

/// Parses a single-document YAML text (an empty text is `null`).
pub fn parse_one(text: &str) -> Result<Value> {
    let mut docs = parse_stream(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(Error::Convert {
            line: 1,
            message: format!("expected one document, found {n}"),
        }),
    }
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Value>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(Error::Parse {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_owned(),
            }),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Value> {
        let line = span.start.line();
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), line)?;
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::Alias(id) => self
                .anchors
                .get(&id)
                .cloned()
                .ok_or_else(|| Error::Convert {
                    line,
                    message: "unknown anchor".into(),
                }),
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, sp)?);
                }
                let value = Value::Array(items);
                self.remember(anchor, &value);
                Ok(value)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = Map::new();
                let mut merged: Vec<Map<String, Value>> = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key_line = sp.start.line();
                    let is_merge =
                        matches!(&ev, Event::Scalar(k, ScalarStyle::Plain, _, None) if k == "<<");
                    let key = self.node(ev, sp)?;
                    let (vev, vsp) = self.next()?;
                    let value = self.node(vev, vsp)?;
                    if is_merge {
                        match value {
                            Value::Object(m) => merged.push(m),
                            Value::Array(list) => {
                                for item in list {
                                    match item {
                                        Value::Object(m) => merged.push(m),
                                        _ => return Err(merge_error(key_line)),
                                    }
                                }
                            }
                            _ => return Err(merge_error(key_line)),
                        }
                        continue;
                    }
                    let key = key_string(key, key_line)?;
                    map.insert(key, value);
                }
                // Explicit keys win over merged ones; earlier merge sources win over later ones.
                for source in merged {
                    for (k, v) in source {
                        map.entry(k).or_insert(v);
                    }
                }
                let value = Value::Object(map);
                self.remember(anchor, &value);
                Ok(value)
            }
            other => Err(Error::Convert {
                line,
                message: format!("unexpected event {other:?}"),
            }),
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
    }
}

fn merge_error(line: usize) -> Error {
    Error::Convert {
        line,
        message: "map merge requires map or sequence of maps as the value".into(),
    }
}

fn key_string(key: Value, line: usize) -> Result<String> {
    match key {
        Value::String(s) => Ok(s),
        Value::Null => Ok("null".into()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) | Value::Object(_) => Err(Error::Convert {
            line,
            message: "mapping keys must be scalars".into(),
        }),
    }
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, line: usize) -> Result<Value> {
    let Some(tag) = tag else {
        return Ok(match style {
            ScalarStyle::Plain => resolve_plain(text),
            _ => Value::String(text.to_owned()),
        });
    };
    if tag.handle != "tag:yaml.org,2002:" && tag.handle != "!!" {
        // Custom tags (`!Ref`) are not meaningful to Kubernetes; keep the scalar as written.
        return Ok(match style {
            ScalarStyle::Plain => resolve_plain(text),
            _ => Value::String(text.to_owned()),
        });
    }
    let bad = |what: &str| Error::Convert {
        line,
        message: format!("cannot decode {text:?} as !!{what}"),
    };
    match tag.suffix.as_str() {
        "str" | "binary" | "timestamp" => Ok(Value::String(text.to_owned())),
        "null" => Ok(Value::Null),
        "bool" => match resolve_plain(text) {
            v @ Value::Bool(_) => Ok(v),
            _ => Err(bad("bool")),
        },
        "int" => match resolve_plain(text) {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
            _ => Err(bad("int")),
        },
        "float" => match resolve_plain(text) {
            Value::Number(n) => Ok(n
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Number(n), Value::Number)),
            _ => Err(bad("float")),
        },
        _ => Ok(Value::String(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn multi_document_stream_skips_empty_documents() {
        let docs =
            parse_stream("---\n# only a comment\n---\na: 1\n---\n---\nb: [x, 'yes', yes]\n...\n")
                .expect("parses");
        assert_eq!(
            docs,
            vec![json!({"a": 1}), json!({"b": ["x", "yes", true]})]
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = parse_one("base: &b {x: 1, z: 2}\nother:\n  <<: *b\n  z: 3\nlist: [*b]\ny: 1\n")
            .expect("parses");
        // yaml.v2 reads the key `y` as the boolean true.
        assert_eq!(
            v,
            json!({"base": {"x": 1, "z": 2}, "other": {"x": 1, "z": 3}, "list": [{"x": 1, "z": 2}], "true": 1})
        );
    }

    #[test]
    fn keys_become_strings_and_tags_apply() {
        let v = parse_one("1: a\ntrue: b\nc: !!str 0755\nd: !!float 1\n").expect("parses");
        assert_eq!(v, json!({"1": "a", "true": "b", "c": "0755", "d": 1.0}));
    }

    #[test]
    fn block_scalars_keep_text() {
        let v = parse_one("a: |\n  line1\n  line2\nb: >-\n  folded\n  text\n").expect("parses");
        assert_eq!(v, json!({"a": "line1\nline2\n", "b": "folded text"}));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse_stream("a: b\n  c: d\n").expect_err("bad indentation");
        match err {
            Error::Parse { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
}
