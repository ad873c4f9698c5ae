//! Event-driven YAML → JSON value conversion (anchors, aliases, `<<` merge keys, tags), with the
//! scalar rules in [`crate::resolve`]. Non-string keys become strings, as `sigs.k8s.io/yaml` does.
//!
//! Hostile streams are refused the way go-yaml v2 refuses them (so what Capstan accepts, kubectl
//! and Helm accept too): nesting deeper than [`MAX_DEPTH`] is "exceeded max depth of 10000", and
//! aliases that expand into more nodes than go-yaml's alias ratio allows are "document contains
//! excessive aliasing" — checked before an alias is copied, so a billion-laughs document never
//! grows. Deep (allowed) nesting runs on a growing stack instead of overflowing it.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Value};

use crate::resolve::resolve_plain;
use crate::{Error, Result};

/// go-yaml v2's nesting limit (`max_flow_level`, `max_indents`).
pub const MAX_DEPTH: usize = 10_000;

/// Stack left before a nested node is read on a fresh segment, and that segment's size.
const STACK_RED_ZONE: usize = 64 * 1024;
const STACK_SEGMENT: usize = 1024 * 1024;

/// go-yaml v2's alias budget (`allowedAliasRatio` in decode.go): up to 400,000 decoded nodes 99%
/// may come from aliases, falling linearly to 10% at 4,000,000; checked once more than 100
/// aliased and 1,000 decoded nodes were seen.
pub(crate) fn excessive_aliasing(decoded: u64, aliased: u64) -> bool {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if aliased <= 100 || decoded <= 1000 {
        return false;
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "node counts far below 2^52; go-yaml computes in float64 too"
    )]
    let (decoded_f, aliased_f) = (decoded as f64, aliased as f64);
    let allowed = if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        #[expect(clippy::cast_precision_loss, reason = "as above")]
        let span = (HIGH - LOW) as f64;
        #[expect(clippy::cast_precision_loss, reason = "as above")]
        let into = (decoded - LOW) as f64;
        0.99 - 0.89 * (into / span)
    };
    aliased_f / decoded_f > allowed
}

/// Parses a multi-document stream. Empty documents (and documents that are just `null`) are
/// skipped, as `kubectl` and Helm skip them.
///
/// Like kubectl's `NewYAMLOrJSONDecoder`, a stream that starts with `{` is read as JSON first
/// (a sequence of JSON values), so JSON escapes YAML does not have — surrogate pairs such as
/// `"\ud83d\ude00"` — mean what they mean in JSON; anything that is not JSON is read as YAML.
/// Duplicate mapping keys are accepted and the last one wins, as in kubectl and Helm (go-yaml v2).
pub fn parse_stream(text: &str) -> Result<Vec<Value>> {
    if text.trim_start().starts_with('{')
        && let Some(docs) = parse_json_stream(text)
    {
        return Ok(docs);
    }
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        depth: 0,
        decoded: 0,
        aliased: 0,
    };
    let mut docs = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                // kubectl decodes each document on its own: anchors and alias budgets too.
                reader.anchors.clear();
                reader.decoded = 0;
                reader.aliased = 0;
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

/// A stream of JSON values, or `None` if it is not one (the caller reads it as YAML instead).
/// Nesting is bounded by serde_json's own recursion limit (128).
fn parse_json_stream(text: &str) -> Option<Vec<Value>> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .filter(|v| !matches!(v, Ok(Value::Null)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .ok()
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
    /// Each anchor's value and the number of nodes it stands for.
    anchors: HashMap<usize, (Value, u64)>,
    depth: usize,
    /// Nodes decoded in this document, aliases counted at their expanded size.
    decoded: u64,
    /// Of those, nodes that came from aliases.
    aliased: u64,
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
        let start = self.decoded;
        self.decoded += 1;
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(Error::Convert {
                    line: span.start.line(),
                    message: format!("exceeded max depth of {MAX_DEPTH}"),
                });
            }
            let value = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
                self.collection(event, span, start)
            });
            self.depth -= 1;
            return value;
        }
        let line = span.start.line();
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), line)?;
                self.remember(anchor, &value, start);
                Ok(value)
            }
            Event::Alias(id) => {
                let Some((value, size)) = self.anchors.get(&id) else {
                    return Err(Error::Convert {
                        line,
                        message: "unknown anchor".into(),
                    });
                };
                self.decoded += size;
                self.aliased += size;
                if excessive_aliasing(self.decoded, self.aliased) {
                    return Err(Error::Convert {
                        line,
                        message: "document contains excessive aliasing".into(),
                    });
                }
                Ok(value.clone())
            }
            other => Err(Error::Convert {
                line,
                message: format!("unexpected event {other:?}"),
            }),
        }
    }

    /// A sequence or mapping, from its start event.
    fn collection(&mut self, event: Event<'a>, span: Span, start: u64) -> Result<Value> {
        let line = span.start.line();
        match event {
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
                self.remember(anchor, &value, start);
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
                self.remember(anchor, &value, start);
                Ok(value)
            }
            other => Err(Error::Convert {
                line,
                message: format!("unexpected event {other:?}"),
            }),
        }
    }

    /// Keeps an anchored value with the number of nodes decoding it took (since `start`).
    fn remember(&mut self, anchor: usize, value: &Value, start: u64) {
        if anchor != 0 {
            self.anchors
                .insert(anchor, (value.clone(), self.decoded - start));
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
