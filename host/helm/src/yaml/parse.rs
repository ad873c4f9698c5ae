//! Builds go-yaml v2 style [`Node`] trees from `saphyr-parser` events (anchors, aliases and `<<`
//! merge keys included), and converts them to JSON data the way `sigs.k8s.io/yaml` does.
//!
//! Hostile input is refused as go-yaml v2 refuses it: nesting deeper than 10,000 is "exceeded max
//! depth of 10000", and aliases past go-yaml's alias ratio are "document contains excessive
//! aliasing" (checked before the alias is copied, so a billion-laughs values file never grows).
//! Deep (allowed) nesting runs on a growing stack instead of overflowing it.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::resolve::resolve_plain;
use super::{Node, YamlError, format_go_g};

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Each anchor's node and the number of nodes decoding it took.
    anchors: HashMap<usize, (Node, u64)>,
    text: &'a str,
    depth: usize,
    /// Nodes decoded in this document, aliases counted at their expanded size.
    decoded: u64,
    /// Of those, nodes that came from aliases.
    aliased: u64,
}

/// go-yaml v2's nesting limit (`max_flow_level`, `max_indents`).
pub(crate) const MAX_DEPTH: usize = 10_000;

/// Stack left before a nested node is read on a fresh segment, and that segment's size.
const STACK_RED_ZONE: usize = 64 * 1024;
const STACK_SEGMENT: usize = 1024 * 1024;

/// go-yaml v2's alias budget (`allowedAliasRatio` in decode.go): up to 400,000 decoded nodes 99%
/// may come from aliases, falling linearly to 10% at 4,000,000; checked once more than 100
/// aliased and 1,000 decoded nodes were seen.
fn excessive_aliasing(decoded: u64, aliased: u64) -> bool {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if aliased <= 100 || decoded <= 1000 {
        return false;
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "node counts far below 2^52; go-yaml computes in float64 too"
    )]
    let ratio = aliased as f64 / decoded as f64;
    #[expect(clippy::cast_precision_loss, reason = "as above")]
    let allowed = if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    };
    ratio > allowed
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        Builder {
            parser: Parser::new_from_str(text),
            anchors: HashMap::new(),
            text,
            depth: 0,
            decoded: 0,
            aliased: 0,
        }
    }
}

/// Rewords a `saphyr-parser` error as go-yaml (libyaml) reports it: libyaml's problem text
/// without the "while parsing …" context, and go-yaml's line rule (scanner errors report the
/// 1-based line, parser errors the 0-based one, and nothing when that is 0).
fn syntax(e: &saphyr_parser::ScanError, text: &str) -> YamlError {
    let info = e.info();
    let problem = match info.find(", ") {
        Some(i) if info.starts_with("while ") => &info[i + 2..],
        _ => info,
    };
    let zero_based = e.marker().line().saturating_sub(1);
    if problem.contains("unknown anchor") {
        let rest = text.get(e.marker().index()..).unwrap_or("");
        let name: String = rest
            .trim_start_matches('*')
            .chars()
            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
            .collect();
        return YamlError::Syntax {
            line: None,
            message: format!("unknown anchor '{name}' referenced"),
        };
    }
    let (message, scanner) = if problem.starts_with("did not find expected hexadecimal") {
        // libyaml's spelling.
        ("did not find expected hexdecimal number".to_owned(), true)
    } else if problem.starts_with("did not find expected") {
        (problem.to_owned(), false)
    } else if let Some(rest) = problem.strip_prefix("expected ") {
        (format!("did not find expected {rest}"), false)
    } else if problem.starts_with("unexpected character") || problem.starts_with("tabs disallowed")
    {
        (
            "found character that cannot start any token".to_owned(),
            true,
        )
    } else if problem.starts_with("found a tab") {
        // saphyr marks the scalar's start, libyaml the tab itself.
        let at = e.marker().index();
        let tab = text
            .get(at..)
            .and_then(|t| t.find('\t'))
            .map_or(at, |p| at + p);
        let line0 = text.get(..tab).map_or(0, |t| t.matches('\n').count());
        return YamlError::Syntax {
            line: (line0 != 0).then_some(line0 + 1),
            message: "found a tab character that violates indentation".to_owned(),
        };
    } else if problem == "simple key expected" {
        ("could not find expected ':'".to_owned(), true)
    } else if problem.contains("unexpected end of stream") {
        let lines = text.matches('\n').count();
        return YamlError::Syntax {
            line: (lines != 0).then_some(lines + 1),
            message: "found unexpected end of stream".to_owned(),
        };
    } else {
        (problem.to_owned(), true)
    };
    let line = match (scanner, zero_based) {
        (_, 0) => None,
        (true, l) => Some(l + 1),
        (false, l) => Some(l),
    };
    YamlError::Syntax { line, message }
}

/// go-yaml v2's scalar decoding, including explicit core tags (`!!int "42"` is an int,
/// `!!int x` is an error worded as go-yaml words it).
fn tagged_scalar(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Node, YamlError> {
    use super::resolve::Kind;
    let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) else {
        return Ok(match style {
            ScalarStyle::Plain if tag.is_none() => resolve_plain(value).1,
            _ => Node::Str(value.to_owned()),
        });
    };
    let want = tag.suffix.as_str();
    if !matches!(want, "bool" | "int" | "float" | "null" | "timestamp") {
        return Ok(Node::Str(value.to_owned()));
    }
    let (kind, node) = resolve_plain(value);
    let got = match kind {
        Kind::Str => "str",
        Kind::Null => "null",
        Kind::Bool => "bool",
        Kind::Int => "int",
        Kind::Float => "float",
        Kind::Timestamp => "timestamp",
    };
    match (want, node) {
        (w, node) if w == got => Ok(node),
        ("float", Node::Int(i)) => Ok(Node::Float(i as f64)),
        ("float", Node::Uint(u)) => Ok(Node::Float(u as f64)),
        _ => Err(YamlError::Syntax {
            line: None,
            message: format!("cannot decode !!{got} `{value}` as a !!{want}"),
        }),
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(syntax(&e, self.text)),
            None => Err(YamlError::Syntax {
                line: None,
                message: "unexpected end of stream".into(),
            }),
        }
    }

    /// Reads the node that starts with `ev`.
    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node, YamlError> {
        let start = self.decoded;
        self.decoded += 1;
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..)) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(YamlError::Syntax {
                    line: None,
                    message: format!("exceeded max depth of {MAX_DEPTH}"),
                });
            }
            let node = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
                self.collection(ev, span, start)
            });
            self.depth -= 1;
            return node;
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let node = tagged_scalar(&value, style, tag.as_deref())?;
                self.remember(anchor, &node, start);
                Ok(node)
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(YamlError::Syntax {
                        line: None,
                        message: format!("unknown anchor referenced (line {})", span.start.line()),
                    });
                };
                self.decoded += size;
                self.aliased += size;
                if excessive_aliasing(self.decoded, self.aliased) {
                    return Err(YamlError::Syntax {
                        line: None,
                        message: "document contains excessive aliasing".into(),
                    });
                }
                Ok(node.clone())
            }
            other => Err(YamlError::Syntax {
                line: Some(span.start.line()),
                message: format!("did not find expected node content ({other:?})"),
            }),
        }
    }

    /// Keeps an anchored node with the number of nodes decoding it took (since `start`).
    fn remember(&mut self, anchor: usize, node: &Node, start: u64) {
        if anchor > 0 {
            self.anchors
                .insert(anchor, (node.clone(), self.decoded - start));
        }
    }

    /// A sequence or mapping, from its start event.
    fn collection(&mut self, ev: Event<'a>, span: Span, start: u64) -> Result<Node, YamlError> {
        match ev {
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span)?);
                }
                let node = Node::Seq(items);
                self.remember(anchor, &node, start);
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                loop {
                    let (ev, kspan) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let is_merge =
                        matches!(&ev, Event::Scalar(v, ScalarStyle::Plain, _, _) if v == "<<");
                    let key = self.node(ev, kspan)?;
                    let (vev, vspan) = self.next()?;
                    let value = self.node(vev, vspan)?;
                    if is_merge {
                        merge_into(&mut entries, value, kspan.start.line())?;
                    } else {
                        set_entry(&mut entries, key, value);
                    }
                }
                let node = Node::Map(entries);
                self.remember(anchor, &node, start);
                Ok(node)
            }
            other => Err(YamlError::Syntax {
                line: Some(span.start.line()),
                message: format!("did not find expected node content ({other:?})"),
            }),
        }
    }
}

fn set_entry(entries: &mut Vec<(Node, Node)>, key: Node, value: Node) {
    if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
        slot.1 = value;
    } else {
        entries.push((key, value));
    }
}

fn merge_into(entries: &mut Vec<(Node, Node)>, value: Node, line: usize) -> Result<(), YamlError> {
    let bad = || YamlError::Syntax {
        line: Some(line),
        message: "map merge requires map or sequence of maps as the value".to_owned(),
    };
    match value {
        Node::Map(m) => {
            for (k, v) in m {
                set_entry(entries, k, v);
            }
            Ok(())
        }
        Node::Seq(items) => {
            for item in items.into_iter().rev() {
                match item {
                    Node::Map(m) => {
                        for (k, v) in m {
                            set_entry(entries, k, v);
                        }
                    }
                    _ => return Err(bad()),
                }
            }
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// Parses every document of a YAML stream into go-yaml v2 nodes.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    relaxed(text, parse_documents_strict)
}

/// Runs `parse`, and when `saphyr-parser` rejects the text only for the indentation of lines
/// inside flow collections or quoted scalars (which libyaml does not check), runs it again on
/// the text with those lines indented.
fn relaxed<T>(text: &str, parse: impl Fn(&str) -> Result<T, YamlError>) -> Result<T, YamlError> {
    match parse(text) {
        Err(YamlError::Syntax { message, .. }) if message.starts_with("invalid indentation") => {
            match super::relax::indent_flow_lines(text) {
                Some(fixed) => parse(&fixed),
                None => parse(text),
            }
        }
        other => other,
    }
}

fn parse_documents_strict(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder::new(text);
    let mut docs = Vec::new();
    loop {
        let (ev, _) = b.next()?;
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                // go-yaml decodes each document with a fresh alias budget.
                b.decoded = 0;
                b.aliased = 0;
                let (ev, span) = b.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Node::Null);
                    continue;
                }
                docs.push(b.node(ev, span)?);
            }
            other => {
                return Err(YamlError::Syntax {
                    line: None,
                    message: format!("unexpected event {other:?}"),
                });
            }
        }
    }
    Ok(docs)
}

/// Parses the first document of a YAML stream (go-yaml's `Unmarshal` reads only that one); an
/// empty stream is `null`.
pub fn parse_node(text: &str) -> Result<Node, YamlError> {
    relaxed(text, parse_node_strict)
}

fn parse_node_strict(text: &str) -> Result<Node, YamlError> {
    // go-yaml stops after the first document, so later syntax errors are not reported by Go
    // either; parse lazily document by document.
    let mut b = Builder::new(text);
    loop {
        let (ev, _) = b.next()?;
        match ev {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => return Ok(Node::Null),
            Event::DocumentStart(_) => {
                let (ev, span) = b.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    return Ok(Node::Null);
                }
                return b.node(ev, span);
            }
            _ => {}
        }
    }
}

fn key_string(key: &Node) -> Result<String, YamlError> {
    Ok(match key {
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        Node::Uint(u) => u.to_string(),
        Node::Float(f) => {
            // FormatFloat(key, 'g', -1, 32): shortest digits of the float32 value.
            let s = format_go_g(f64::from(*f as f32));
            let s = if (*f as f32).is_finite() {
                shortest_f32_g(*f as f32).unwrap_or(s)
            } else {
                s
            };
            match s.as_str() {
                "+Inf" => ".inf".to_owned(),
                "-Inf" => "-.inf".to_owned(),
                "NaN" => ".nan".to_owned(),
                _ => s,
            }
        }
        Node::Bool(b) => b.to_string(),
        other => {
            return Err(YamlError::Convert(format!(
                "Unsupported map key of type: {}",
                go_type_name(other)
            )));
        }
    })
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest float32 decimal in `'g'` form.
pub fn shortest_f32_g(f: f32) -> Option<String> {
    let text = format!("{f:e}");
    let as64: f64 = text.parse().ok()?;
    Some(format_go_g(as64))
}

fn go_type_name(n: &Node) -> &'static str {
    match n {
        Node::Null => "<nil>",
        Node::Bool(_) => "bool",
        Node::Int(_) => "int",
        Node::Uint(_) => "uint64",
        Node::Float(_) => "float64",
        Node::Str(_) => "string",
        Node::Seq(_) => "[]interface {}",
        Node::Map(_) => "map[interface {}]interface {}",
    }
}

/// Converts a node to the data `json.Unmarshal` produces after `sigs.k8s.io/yaml`'s YAML→JSON
/// step: every number becomes a float64, every key a string.
pub fn node_to_json(node: &Node) -> Result<serde_json::Value, YamlError> {
    // Deep (allowed) nesting continues on a fresh stack segment instead of overflowing.
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || node_to_json_inner(node))
}

fn node_to_json_inner(node: &Node) -> Result<serde_json::Value, YamlError> {
    use serde_json::Value;
    let num = |f: f64| -> Result<Value, YamlError> {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| {
                YamlError::Convert(format!("json: unsupported value: {}", format_go_g(f)))
            })
    };
    Ok(match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => num(*i as f64)?,
        Node::Uint(u) => num(*u as f64)?,
        Node::Float(f) => num(*f)?,
        Node::Str(s) => Value::String(s.clone()),
        Node::Seq(items) => Value::Array(items.iter().map(node_to_json).collect::<Result<_, _>>()?),
        Node::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                map.insert(key_string(k)?, node_to_json(v)?);
            }
            Value::Object(map)
        }
    })
}

/// `sigs.k8s.io/yaml.YAMLToJSON`: like [`node_to_json`] but integers stay integers (this is
/// what Helm sends to the API server, so `replicas: 3` must not become `3.0`).
pub fn node_to_json_typed(node: &Node) -> Result<serde_json::Value, YamlError> {
    // Deep (allowed) nesting continues on a fresh stack segment instead of overflowing.
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
        node_to_json_typed_inner(node)
    })
}

fn node_to_json_typed_inner(node: &Node) -> Result<serde_json::Value, YamlError> {
    use serde_json::Value;
    Ok(match node {
        Node::Int(i) => Value::from(*i),
        Node::Uint(u) => Value::from(*u),
        Node::Seq(items) => Value::Array(
            items
                .iter()
                .map(node_to_json_typed)
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                map.insert(key_string(k)?, node_to_json_typed(v)?);
            }
            Value::Object(map)
        }
        other => node_to_json(other)?,
    })
}

/// A rendered manifest document as JSON for the API server (YAMLToJSON semantics: integers
/// kept, YAML 1.1 scalars resolved, keys stringified); `null` for an empty document.
pub fn manifest_to_json(text: &str) -> Result<serde_json::Value, YamlError> {
    node_to_json_typed(&parse_node(text)?)
}

/// `sigs.k8s.io/yaml.Unmarshal(text, &interface{})`: the first document as JSON data.
pub fn parse_json_like(text: &str) -> Result<serde_json::Value, YamlError> {
    node_to_json(&parse_node(text)?)
}

/// Every document of a stream as JSON data.
pub fn parse_json_like_all(text: &str) -> Result<Vec<serde_json::Value>, YamlError> {
    parse_documents(text)?.iter().map(node_to_json).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn billion_laughs_is_excessive_aliasing() {
        let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        let mut prev = 'a';
        for name in "bcdefghi".chars() {
            let items = vec![format!("*{prev}"); 9].join(", ");
            text.push_str(&format!("{name}: &{name} [{items}]\n"));
            prev = name;
        }
        let err = parse_json_like(&text).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "yaml: document contains excessive aliasing"
        );
    }

    #[test]
    fn nesting_is_limited_like_go_yaml_and_never_overflows() {
        let deep = |n: usize| format!("a:\n{}1\n", "- ".repeat(n));
        let err = parse_json_like(&deep(10_001)).expect_err("refused");
        assert_eq!(err.to_string(), "yaml: exceeded max depth of 10000");
        let v = parse_json_like(&deep(9_000)).expect("within the limit");
        assert!(v["a"].is_array());
    }

    #[test]
    fn values_become_json_floats() -> Result<(), YamlError> {
        let v = parse_json_like("a: 1\nb: yes\nc: '1'\nd: ~\ne: [0755, 1.5]\n1: x\n")?;
        assert_eq!(
            v,
            json!({"a": 1.0, "b": true, "c": "1", "d": null, "e": [493.0, 1.5], "1": "x"})
        );
        Ok(())
    }

    #[test]
    fn anchors_and_merge() -> Result<(), YamlError> {
        let v = parse_json_like("base: &b {x: 1, z: 2}\nother:\n  <<: *b\n  z: 3\n")?;
        assert_eq!(
            v,
            json!({"base": {"x": 1.0, "z": 2.0}, "other": {"x": 1.0, "z": 3.0}})
        );
        assert_eq!(parse_json_like("y: n")?, json!({"true": false}));
        Ok(())
    }

    #[test]
    fn errors_are_worded_like_go_yaml() {
        let msg = |t: &str| {
            parse_json_like(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            msg("a: ["),
            "yaml: line 1: did not find expected node content"
        );
        assert_eq!(
            msg("a: b: c"),
            "yaml: mapping values are not allowed in this context"
        );
        assert_eq!(
            msg("a: b\n  c: d"),
            "yaml: line 2: mapping values are not allowed in this context"
        );
        assert_eq!(
            msg("a:\n  - x\n b: y"),
            "yaml: line 2: did not find expected key"
        );
        assert_eq!(
            msg("a: @x"),
            "yaml: found character that cannot start any token"
        );
        assert_eq!(msg("a: *nope"), "yaml: unknown anchor 'nope' referenced");
        assert_eq!(
            msg("a: b\n\tc: d"),
            "yaml: line 2: found a tab character that violates indentation"
        );
        assert_eq!(
            msg("a: !!int x"),
            "yaml: cannot decode !!str `x` as a !!int"
        );
        assert_eq!(
            msg("a: \"\\u12\""),
            "yaml: did not find expected hexdecimal number"
        );
    }

    #[test]
    fn manifests_keep_integers() -> Result<(), YamlError> {
        let v =
            manifest_to_json("spec:\n  replicas: 3\n  ratio: 0.5\n  big: 18446744073709551615\n")?;
        assert_eq!(
            v,
            json!({"spec": {"replicas": 3, "ratio": 0.5, "big": 18_446_744_073_709_551_615u64}})
        );
        assert!(v["spec"]["replicas"].is_i64());
        Ok(())
    }

    #[test]
    fn empty_is_null() -> Result<(), YamlError> {
        assert_eq!(parse_json_like("")?, json!(null));
        assert_eq!(parse_json_like("# only a comment\n")?, json!(null));
        Ok(())
    }
}
