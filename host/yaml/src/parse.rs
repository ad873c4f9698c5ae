//! The reader: builds go-yaml v2's view of a YAML stream from `saphyr-parser` events — anchors,
//! aliases, `<<` merge keys (later keys win, as v2 decodes them), explicit core tags, YAML 1.1
//! scalars ([`crate::resolve`]) — with go-yaml's error wording.
//!
//! One event walk serves every caller through a [`Sink`]: [`Node`] trees for Helm (which needs
//! Go's types, e.g. to stringify `Chart.yaml` fields or order `toYaml` keys) and JSON values built
//! directly for manifests and values ([`crate::json`]), so a 4 MB manifest stream is not first
//! built as a tree of `Node`s and then copied.
//!
//! Hostile input is refused as go-yaml v2 refuses it (so what Capstan accepts, kubectl and Helm
//! accept too): nesting deeper than [`MAX_DEPTH`] is "exceeded max depth of 10000", and aliases
//! past go-yaml's alias ratio are "document contains excessive aliasing" — checked before an alias
//! is copied, so a billion-laughs document never grows. Deep (allowed) nesting runs on a growing
//! stack instead of overflowing it.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::resolve::{ScalarKind, resolve_plain, resolve_plain_text};
use crate::{Error, Node, Result};

/// go-yaml v2's nesting limit (`max_flow_level`, `max_indents`).
pub const MAX_DEPTH: usize = 10_000;

/// Stack left before a nested node is read on a fresh segment, and that segment's size.
pub(crate) const STACK_RED_ZONE: usize = 64 * 1024;
pub(crate) const STACK_SEGMENT: usize = 1024 * 1024;

/// What the reader builds from a document's events.
pub(crate) trait Sink {
    /// A built value (kept per anchor, so aliases can copy it).
    type Tree: Clone;
    /// A mapping key.
    type Key;
    /// A mapping under construction.
    type Map: Default;
    /// A scalar value (a scalar [`Node`]).
    fn scalar(&mut self, node: Node) -> Self::Tree;
    /// A scalar read in key position.
    fn scalar_key(&mut self, node: Node) -> Self::Key;
    /// A collection or an alias read in key position.
    fn key(&mut self, tree: Self::Tree) -> Self::Key;
    /// A finished sequence.
    fn seq(&mut self, items: Vec<Self::Tree>) -> Self::Tree;
    /// A finished mapping.
    fn map(&mut self, map: Self::Map) -> Self::Tree;
    /// Sets `key` (a later duplicate replaces an earlier one in place, as in go-yaml v2).
    fn set(&mut self, map: &mut Self::Map, key: Self::Key, value: Self::Tree);
    /// `<<: value`: a mapping's entries, or each mapping of a sequence with earlier ones
    /// winning, set into `map`; `false` when `value` is neither.
    fn merge(&mut self, map: &mut Self::Map, value: Self::Tree) -> bool;
    /// Called after each whole document: a conversion error noticed while building it. go-yaml
    /// decodes a whole document before sigs.k8s.io/yaml converts it, so YAML errors anywhere in
    /// the document come first.
    fn finish(&mut self) -> Result<()>;
}

/// Builds [`Node`] trees (go-yaml v2's `interface{}`), mapping keys of any type in document order.
pub(crate) struct NodeSink;

impl Sink for NodeSink {
    type Tree = Node;
    type Key = Node;
    type Map = Vec<(Node, Node)>;

    fn scalar(&mut self, node: Node) -> Node {
        node
    }

    fn scalar_key(&mut self, node: Node) -> Node {
        node
    }

    fn key(&mut self, tree: Node) -> Node {
        tree
    }

    fn seq(&mut self, items: Vec<Node>) -> Node {
        Node::Seq(items)
    }

    fn map(&mut self, map: Vec<(Node, Node)>) -> Node {
        Node::Map(map)
    }

    fn set(&mut self, entries: &mut Vec<(Node, Node)>, key: Node, value: Node) {
        if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            entries.push((key, value));
        }
    }

    fn merge(&mut self, entries: &mut Vec<(Node, Node)>, value: Node) -> bool {
        match value {
            Node::Map(m) => {
                for (k, v) in m {
                    self.set(entries, k, v);
                }
                true
            }
            Node::Seq(items) => {
                for item in items.into_iter().rev() {
                    let Node::Map(m) = item else {
                        return false;
                    };
                    for (k, v) in m {
                        self.set(entries, k, v);
                    }
                }
                true
            }
            _ => false,
        }
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

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

/// Rewords a `saphyr-parser` error as go-yaml (libyaml) reports it: libyaml's problem text
/// without the "while parsing …" context, and go-yaml's line rule (scanner errors report the
/// 1-based line, parser errors the 0-based one, and nothing when that is 0).
fn syntax(e: &saphyr_parser::ScanError, text: &str) -> Error {
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
        return Error::Parse {
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
        return Error::Parse {
            line: (line0 != 0).then_some(line0 + 1),
            message: "found a tab character that violates indentation".to_owned(),
        };
    } else if problem == "simple key expected" {
        ("could not find expected ':'".to_owned(), true)
    } else if problem.contains("unexpected end of stream") {
        let lines = text.matches('\n').count();
        return Error::Parse {
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
    Error::Parse { line, message }
}

/// go-yaml v2's scalar decoding, including explicit core tags (`!!int "42"` is an int,
/// `!!int x` is an error worded as go-yaml words it). Other tags (`!Ref`) keep the text.
fn tagged_scalar(value: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Result<Node> {
    let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) else {
        // The scanner's text is usually owned already: a string node keeps it.
        return Ok(match style {
            ScalarStyle::Plain if tag.is_none() => resolve_plain_text(value),
            _ => Node::Str(value.into_owned()),
        });
    };
    let value = value.as_ref();
    let want = tag.suffix.as_str();
    if !matches!(want, "bool" | "int" | "float" | "null" | "timestamp") {
        return Ok(Node::Str(value.to_owned()));
    }
    let (kind, node) = resolve_plain(value);
    let got = match kind {
        ScalarKind::Str => "str",
        ScalarKind::Null => "null",
        ScalarKind::Bool => "bool",
        ScalarKind::Int => "int",
        ScalarKind::Float => "float",
        ScalarKind::Timestamp => "timestamp",
    };
    match (want, node) {
        (w, node) if w == got => Ok(node),
        #[expect(clippy::cast_precision_loss, reason = "Go converts int to float64 too")]
        ("float", Node::Int(i)) => Ok(Node::Float(i as f64)),
        #[expect(
            clippy::cast_precision_loss,
            reason = "Go converts uint64 to float64 too"
        )]
        ("float", Node::Uint(u)) => Ok(Node::Float(u as f64)),
        _ => Err(Error::Parse {
            line: None,
            message: format!("cannot decode !!{got} `{value}` as a !!{want}"),
        }),
    }
}

/// An event reader building documents into a [`Sink`].
struct Reader<'a, S: Sink> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    text: &'a str,
    sink: S,
    /// Each anchor's value and the number of nodes decoding it took.
    anchors: HashMap<usize, (S::Tree, u64)>,
    depth: usize,
    /// Collections nested deeper than this are read (checked, converted) but left empty.
    keep_depth: usize,
    /// Nodes decoded in this document, aliases counted at their expanded size.
    decoded: u64,
    /// Of those, nodes that came from aliases.
    aliased: u64,
}

impl<'a, S: Sink> Reader<'a, S> {
    fn new(text: &'a str, sink: S) -> Self {
        Reader {
            parser: Parser::new_from_str(text),
            text,
            sink,
            anchors: HashMap::new(),
            depth: 0,
            keep_depth: usize::MAX,
            decoded: 0,
            aliased: 0,
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(syntax(&e, self.text)),
            None => Err(Error::Parse {
                line: None,
                message: "unexpected end of stream".into(),
            }),
        }
    }

    /// The next document (`null` when it is empty), or `None` at the end of the stream.
    fn document(&mut self) -> Result<Option<S::Tree>> {
        loop {
            let (ev, _) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(None),
                Event::DocumentStart(_) => {
                    // go-yaml decodes each document with its own anchors and alias budget.
                    self.anchors.clear();
                    self.decoded = 0;
                    self.aliased = 0;
                    let (ev, span) = self.next()?;
                    let tree = if matches!(ev, Event::DocumentEnd) {
                        self.sink.scalar(Node::Null)
                    } else {
                        self.node(ev, span)?
                    };
                    self.sink.finish()?;
                    return Ok(Some(tree));
                }
                other => {
                    return Err(Error::Parse {
                        line: None,
                        message: format!("unexpected event {other:?}"),
                    });
                }
            }
        }
    }

    /// Reads the node that starts with `ev`.
    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<S::Tree> {
        let start = self.decoded;
        self.decoded += 1;
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..)) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(Error::Parse {
                    line: None,
                    message: format!("exceeded max depth of {MAX_DEPTH}"),
                });
            }
            let tree = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
                self.collection(ev, span, start)
            });
            self.depth -= 1;
            return tree;
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let tree = self
                    .sink
                    .scalar(tagged_scalar(value, style, tag.as_deref())?);
                self.remember(anchor, &tree, start);
                Ok(tree)
            }
            Event::Alias(id) => {
                let Some((tree, size)) = self.anchors.get(&id) else {
                    return Err(Error::Parse {
                        line: None,
                        message: format!("unknown anchor referenced (line {})", span.start.line()),
                    });
                };
                self.decoded += size;
                self.aliased += size;
                if excessive_aliasing(self.decoded, self.aliased) {
                    return Err(Error::Parse {
                        line: None,
                        message: "document contains excessive aliasing".into(),
                    });
                }
                Ok(tree.clone())
            }
            other => Err(Error::Parse {
                line: Some(span.start.line()),
                message: format!("did not find expected node content ({other:?})"),
            }),
        }
    }

    /// Reads a mapping key: scalars go to the sink as keys directly (a float key keeps its
    /// float32 spelling even where JSON could not hold the value).
    fn key(&mut self, ev: Event<'a>, span: Span) -> Result<S::Key> {
        match ev {
            Event::Scalar(value, style, 0, tag) => {
                self.decoded += 1;
                let node = tagged_scalar(value, style, tag.as_deref())?;
                Ok(self.sink.scalar_key(node))
            }
            ev => {
                let tree = self.node(ev, span)?;
                Ok(self.sink.key(tree))
            }
        }
    }

    /// Keeps an anchored value with the number of nodes decoding it took (since `start`).
    fn remember(&mut self, anchor: usize, tree: &S::Tree, start: u64) {
        if anchor > 0 {
            self.anchors
                .insert(anchor, (tree.clone(), self.decoded - start));
        }
    }

    /// A sequence or mapping, from its start event.
    fn collection(&mut self, ev: Event<'a>, span: Span, start: u64) -> Result<S::Tree> {
        match ev {
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    let item = self.node(ev, span)?;
                    if self.depth <= self.keep_depth {
                        items.push(item);
                    }
                }
                let tree = self.sink.seq(items);
                self.remember(anchor, &tree, start);
                Ok(tree)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = S::Map::default();
                loop {
                    let (ev, kspan) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    if matches!(&ev, Event::Scalar(v, ScalarStyle::Plain, _, _) if v == "<<") {
                        self.decoded += 1;
                        let (vev, vspan) = self.next()?;
                        let value = self.node(vev, vspan)?;
                        if !self.sink.merge(&mut map, value) {
                            return Err(Error::Parse {
                                line: Some(kspan.start.line()),
                                message: "map merge requires map or sequence of maps as the value"
                                    .to_owned(),
                            });
                        }
                        continue;
                    }
                    let key = self.key(ev, kspan)?;
                    let (vev, vspan) = self.next()?;
                    let value = self.node(vev, vspan)?;
                    if self.depth <= self.keep_depth {
                        self.sink.set(&mut map, key, value);
                    }
                }
                let tree = self.sink.map(map);
                self.remember(anchor, &tree, start);
                Ok(tree)
            }
            other => Err(Error::Parse {
                line: Some(span.start.line()),
                message: format!("did not find expected node content ({other:?})"),
            }),
        }
    }
}

/// Runs `parse`, and when `saphyr-parser` rejects the text only for the indentation of lines
/// inside flow collections or quoted scalars (which libyaml does not check), runs it again on
/// the text with those lines indented ([`crate::relax`]).
fn relaxed<T>(text: &str, parse: impl Fn(&str) -> Result<T>) -> Result<T> {
    match parse(text) {
        Err(Error::Parse { message, .. }) if message.starts_with("invalid indentation") => {
            match crate::relax::indent_flow_lines(text) {
                Some(fixed) => parse(&fixed),
                None => parse(text),
            }
        }
        other => other,
    }
}

/// Every document of a stream, empty ones as `null`.
pub(crate) fn all_documents<S: Sink>(text: &str, sink: impl Fn() -> S) -> Result<Vec<S::Tree>> {
    relaxed(text, |text| {
        let mut reader = Reader::new(text, sink());
        let mut docs = Vec::new();
        while let Some(doc) = reader.document()? {
            docs.push(doc);
        }
        Ok(docs)
    })
}

/// The first document of a stream (go-yaml's `Unmarshal` reads only that one, so later syntax
/// errors are not reported by Go either); `null` for an empty stream.
pub(crate) fn first_document<S: Sink>(text: &str, sink: impl Fn() -> S) -> Result<S::Tree> {
    relaxed(text, |text| {
        let mut reader = Reader::new(text, sink());
        match reader.document()? {
            Some(doc) => Ok(doc),
            None => Ok(reader.sink.scalar(Node::Null)),
        }
    })
}

/// [`first_document`] with collections nested more than `levels` deep left empty: every node is
/// still read, so YAML and conversion errors are the same, but nothing below is built. A text
/// with anchors or merge keys is read whole (an alias or a merge moves a subtree to another
/// depth).
pub(crate) fn first_document_shallow<S: Sink>(
    text: &str,
    levels: usize,
    sink: impl Fn() -> S,
) -> Result<S::Tree> {
    if text.contains('&') || text.contains("<<") {
        return first_document(text, sink);
    }
    relaxed(text, |text| {
        let mut reader = Reader::new(text, sink());
        reader.keep_depth = levels;
        match reader.document()? {
            Some(doc) => Ok(doc),
            None => Ok(reader.sink.scalar(Node::Null)),
        }
    })
}

/// Parses every document of a YAML stream into go-yaml v2 nodes (an empty document is
/// [`Node::Null`]).
pub fn parse_documents(text: &str) -> Result<Vec<Node>> {
    all_documents(text, || NodeSink)
}

/// Parses the first document of a YAML stream (go-yaml's `Unmarshal` reads only that one); an
/// empty stream is [`Node::Null`].
pub fn parse_node(text: &str) -> Result<Node> {
    first_document(text, || NodeSink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> String {
        parse_node(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn billion_laughs_is_excessive_aliasing() {
        let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        let mut prev = 'a';
        for name in "bcdefghi".chars() {
            let items = vec![format!("*{prev}"); 9].join(", ");
            text.push_str(&format!("{name}: &{name} [{items}]\n"));
            prev = name;
        }
        assert_eq!(msg(&text), "yaml: document contains excessive aliasing");
    }

    #[test]
    fn nesting_is_limited_like_go_yaml_and_never_overflows() {
        let deep = |n: usize| format!("a:\n{}1\n", "- ".repeat(n));
        assert_eq!(msg(&deep(10_001)), "yaml: exceeded max depth of 10000");
        let node = parse_node(&deep(9_000)).expect("within the limit");
        assert!(matches!(node, Node::Map(ref e) if matches!(e[0].1, Node::Seq(_))));
    }

    #[test]
    fn merge_keys_are_applied_in_order_as_v2_does() -> Result<()> {
        // v2 sets merged entries where `<<` stands: explicit keys after it win, keys before it
        // are overwritten; in a list of maps, earlier maps win.
        let node = parse_node(
            "a: &a {x: 1, z: 2}\nb: &b {x: 3, w: 4}\nc:\n  z: 9\n  <<: [*a, *b]\n  w: 5\n",
        )?;
        let Node::Map(entries) = node else {
            panic!("a map")
        };
        let s = |k: &str| Node::Str(k.into());
        assert_eq!(
            entries[2],
            (
                s("c"),
                Node::Map(vec![
                    (s("z"), Node::Int(2)),
                    (s("x"), Node::Int(1)),
                    (s("w"), Node::Int(5)),
                ])
            )
        );
        assert_eq!(
            msg("a: 1\nb:\n  <<: [*x]\n"),
            "yaml: unknown anchor 'x' referenced"
        );
        assert_eq!(
            msg("a: 1\nb:\n  <<: [1]\n"),
            "yaml: line 3: map merge requires map or sequence of maps as the value"
        );
        Ok(())
    }

    #[test]
    fn keys_keep_their_types_and_tags_apply() -> Result<()> {
        let node = parse_node("1: a\ntrue: b\nc: !!str 0755\nd: !!float 1\ne: !Ref 1\n")?;
        assert_eq!(
            node,
            Node::Map(vec![
                (Node::Int(1), Node::Str("a".into())),
                (Node::Bool(true), Node::Str("b".into())),
                (Node::Str("c".into()), Node::Str("0755".into())),
                (Node::Str("d".into()), Node::Float(1.0)),
                (Node::Str("e".into()), Node::Str("1".into())),
            ])
        );
        Ok(())
    }

    #[test]
    fn errors_are_worded_like_go_yaml() {
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
    fn documents_and_empty_streams() -> Result<()> {
        assert_eq!(parse_node("")?, Node::Null);
        assert_eq!(parse_node("# only a comment\n")?, Node::Null);
        assert_eq!(
            parse_documents("---\n---\na: 1\n...\n")?,
            vec![
                Node::Null,
                Node::Map(vec![(Node::Str("a".into()), Node::Int(1))])
            ]
        );
        // Only the first document is read, as go-yaml's Unmarshal does.
        assert_eq!(parse_node("a\n---\n[")?, Node::Str("a".into()));
        Ok(())
    }

    #[test]
    fn flow_lines_indented_as_libyaml_allows() -> Result<()> {
        let node = parse_node("a:\n  b: [\n  1,\n  2\n  ]\n")?;
        let Node::Map(outer) = node else {
            panic!("a map")
        };
        assert_eq!(
            outer[0].1,
            Node::Map(vec![(
                Node::Str("b".into()),
                Node::Seq(vec![Node::Int(1), Node::Int(2)])
            )])
        );
        Ok(())
    }
}
