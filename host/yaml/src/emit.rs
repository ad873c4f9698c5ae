//! A small, deterministic YAML writer for JSON values, in the layout `kubectl` and Helm users are
//! used to (sorted keys, two-space indent, sequences flush under their key, literal blocks for
//! multi-line text). Strings are quoted whenever a YAML 1.1 or 1.2 reader could read them as
//! anything but the same string, and every character a YAML 1.1 reader treats as a line break or
//! refuses raw (NEL, U+2028, U+2029, C0/C1 controls, DEL, BOM) is escaped exactly as go-yaml v2
//! escapes it: a tenant string can never end its scalar early and be read as more YAML.
//!
//! The writer reads its input through [`Tree`], so the same rules write a `serde_json` value and
//! JSON text read without building one ([`json_to_string`]): a post-render chain hands back most
//! objects as JSON text, and building a `Value` only to write it out again is most of the
//! host's work on them (issue #12).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::escape::{is_break, is_printable, write_escape};
use crate::parse::{STACK_RED_ZONE, STACK_SEGMENT};
use crate::resolve::plain_would_change;

/// One node as the writer sees it.
enum View<'a, T> {
    Null,
    Bool(bool),
    Number(&'a Number),
    Str(&'a str),
    Seq(&'a [T]),
    /// Entries sorted by key, each key once.
    Map(Vec<(&'a str, &'a T)>),
}

/// What can be written: a `serde_json` value, or JSON text read as [`Json`].
trait Tree: Sized {
    fn view(&self) -> View<'_, Self>;
}

impl Tree for Value {
    fn view(&self) -> View<'_, Self> {
        match self {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(n) => View::Number(n),
            Value::String(s) => View::Str(s),
            Value::Array(list) => View::Seq(list),
            Value::Object(map) => View::Map(sorted(map)),
        }
    }
}

/// JSON text read as `serde_json` reads it into a [`Value`] (same parser, numbers, escapes and
/// limits), but into plain vectors, with strings borrowed from the text where they have no
/// escapes: a map's entries are sorted and a repeated key keeps its last value, as a `Value`'s
/// map has them.
enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Seq(Vec<Json<'a>>),
    Map(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Tree for Json<'_> {
    fn view(&self) -> View<'_, Self> {
        match self {
            Json::Null => View::Null,
            Json::Bool(b) => View::Bool(*b),
            Json::Number(n) => View::Number(n),
            Json::Str(s) => View::Str(s),
            Json::Seq(list) => View::Seq(list),
            Json::Map(entries) => View::Map(entries.iter().map(|(k, v)| (k.as_ref(), v)).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// A key as `serde_json` hands it over: borrowed from the text unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(JsonVisitor)
            .and_then(|j| match j {
                Json::Str(s) => Ok(Key(s)),
                _ => Err(de::Error::custom("a key that is not a string")),
            })
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    /// As `Value` takes it: a float JSON cannot carry becomes `null`.
    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Json::Map(crate::json::sorted_last_wins(entries)))
    }
}

/// One document, without a `---` header. A scalar or empty collection ends with a newline too.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_document(&mut out, value);
    out
}

/// [`to_string`] of the value JSON text `json` holds, without building the value: the same
/// bytes, and the same error `serde_json::from_str::<Value>` gives when the text holds none.
pub fn json_to_string(json: &str) -> serde_json::Result<String> {
    // YAML of an object is about as long as its compact JSON, plus indentation: reserving that
    // spares the ~10 regrowths a 2 KB document otherwise takes.
    let mut out = String::with_capacity(json.len() + json.len() / 2);
    match serde_json::from_str::<Json<'_>>(json) {
        Ok(tree) => write_document(&mut out, &tree),
        // Its error, word for word (the text was meant to be read as a `Value`).
        Err(_) => write_document(&mut out, &serde_json::from_str::<Value>(json)?),
    }
    Ok(out)
}

/// What precedes every document of a stream.
const DOCUMENT_START: &str = "---\n";

/// A stream: every document preceded by `---`.
pub fn to_stream(values: &[Value]) -> String {
    let mut out = String::new();
    for value in values {
        out.push_str(DOCUMENT_START);
        write_document(&mut out, value);
    }
    out
}

/// The stream of documents written one by one ([`to_string`], [`json_to_string`]): the bytes
/// [`to_stream`] writes for their values.
pub fn join_stream(docs: &[String]) -> String {
    let mut out = String::with_capacity(docs.iter().map(|d| DOCUMENT_START.len() + d.len()).sum());
    for doc in docs {
        out.push_str(DOCUMENT_START);
        out.push_str(doc);
    }
    out
}

fn write_document<T: Tree>(out: &mut String, node: &T) {
    match node.view() {
        View::Map(entries) if !entries.is_empty() => write_map(out, &entries, 0),
        View::Seq(list) if !list.is_empty() => write_seq(out, list, 0),
        other => {
            write_inline(out, &other);
            out.push('\n');
        }
    }
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// The longest key written as an implicit `key: value` entry; longer ones are explicit
/// (`? key` then `: value`), as go-yaml v2 writes any key over 128 bytes. A reader looks at most
/// 1024 characters ahead for an implicit key's `:` (YAML's limit, kept by go-yaml and by
/// Capstan's reader alike), so a longer key written inline would not read back at all.
const MAX_IMPLICIT_KEY: usize = 128;

fn write_map<T: Tree>(out: &mut String, entries: &[(&str, &T)], level: usize) {
    let mut first = true;
    for (key, value) in entries {
        if !first {
            indent(out, level);
        }
        first = false;
        if key.len() > MAX_IMPLICIT_KEY {
            out.push_str("? ");
            write_key(out, key);
            out.push('\n');
            indent(out, level);
        } else {
            write_key(out, key);
        }
        out.push(':');
        write_value_after_key(out, *value, level);
    }
}

/// serde_json maps are sorted unless a dependency turns on `preserve_order`; sort regardless so
/// the output never depends on feature unification.
fn sorted(map: &Map<String, Value>) -> Vec<(&str, &Value)> {
    let mut entries: Vec<_> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn write_value_after_key<T: Tree>(out: &mut String, value: &T, level: usize) {
    match value.view() {
        View::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            indent(out, level + 2);
            deeper(|| write_map(out, &entries, level + 2));
        }
        View::Seq(list) if !list.is_empty() => {
            out.push('\n');
            indent(out, level);
            deeper(|| write_seq(out, list, level));
        }
        View::Str(s) if is_block_candidate(s) => {
            out.push(' ');
            write_block(out, s, level + 2);
        }
        other => {
            out.push(' ');
            write_inline(out, &other);
            out.push('\n');
        }
    }
}

/// One level deeper into a collection: on a fresh stack segment when this one runs low, as the
/// reader does, so writing what the reader accepts (thousands of levels) cannot overflow.
fn deeper(write: impl FnOnce()) {
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, write);
}

fn write_seq<T: Tree>(out: &mut String, list: &[T], level: usize) {
    let mut first = true;
    for item in list {
        if !first {
            indent(out, level);
        }
        first = false;
        out.push_str("- ");
        match item.view() {
            View::Map(entries) if !entries.is_empty() => {
                deeper(|| write_map(out, &entries, level + 2));
            }
            View::Seq(list) if !list.is_empty() => deeper(|| write_seq(out, list, level + 2)),
            View::Str(s) if is_block_candidate(s) => write_block(out, s, level + 2),
            other => {
                write_inline(out, &other);
                out.push('\n');
            }
        }
    }
}

fn write_key(out: &mut String, key: &str) {
    if needs_quotes(key) {
        write_double_quoted(out, key)
    } else {
        out.push_str(key)
    }
}

fn write_inline<T>(out: &mut String, value: &View<'_, T>) {
    match value {
        View::Null => out.push_str("null"),
        View::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        View::Number(n) => {
            let _ = write!(out, "{n}");
        }
        View::Str(s) => {
            if needs_quotes(s) {
                write_double_quoted(out, s);
            } else {
                out.push_str(s);
            }
        }
        View::Seq(_) => out.push_str("[]"),
        View::Map(_) => out.push_str("{}"),
    }
}

/// Multi-line text that a literal block can carry unchanged: go-yaml v2's `block_allowed` (no
/// character it would escape, no space before a line break, no trailing space), and `\n` as the
/// only line break. U+0085, U+2028 and U+2029 are line breaks to a YAML 1.1 reader (go-yaml in
/// kubectl, Helm and Flux) but not to a YAML 1.2 one: written raw they would end the block early and
/// let the rest of the string be read as YAML structure, so such strings are double-quoted with
/// `\N`, `\L`, `\P` escapes instead.
fn is_block_candidate(s: &str) -> bool {
    s.contains('\n')
        && s.chars()
            .all(|c| c == '\n' || (is_printable(c) && !is_break(c) && c != '\t'))
        && !s.ends_with(' ')
        && !s.contains(" \n")
}

/// The literal block's header: go-yaml v2's hints. An indentation indicator (always the two
/// columns the content is indented by, relative to the parent node) when the text starts with a
/// space or a line break; `-` (strip) without a final line break, `+` (keep) when the text is one
/// line break or ends with two, nothing (clip) otherwise.
fn write_block(out: &mut String, s: &str, content_indent: usize) {
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s == "\n" || s.ends_with("\n\n") {
        out.push('+');
    }
    out.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(out, content_indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || plain_would_change(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if matches!(
        first,
        '-' | '?'
            | ':'
            | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
            | ' '
    ) {
        return true;
    }
    // libyaml's document markers: `...` at the start of a line ends the document (`---` is
    // caught by `-` above).
    if s.starts_with("...") || s.ends_with(' ') || s.ends_with(':') {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.contains('\t') {
        return true;
    }
    // Anything go-yaml would escape, except characters outside the Basic Multilingual Plane:
    // libyaml's `is_printable` does not know 4-byte UTF-8, but every reader accepts them raw.
    s.chars()
        .any(|c| is_break(c) || (!is_printable(c) && u32::from(c) < 0x1_0000))
}

/// A YAML double-quoted scalar, escaped exactly as go-yaml v2's emitter escapes, on one line.
fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if is_printable(c) && !is_break(c) && c != '"' && c != '\\' {
            out.push(c);
        } else {
            write_escape(out, c);
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::parse_one;

    #[test]
    fn layout_matches_kubectl_style() {
        let v = json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}], "args": []}]}}}
        });
        let expected = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations: {}
  labels:
    app: web
  name: web
spec:
  template:
    spec:
      containers:
      - args: []
        name: c
        ports:
        - containerPort: 80
";
        assert_eq!(to_string(&v), expected);
    }

    #[test]
    fn ambiguous_strings_are_quoted_and_round_trip() {
        let v = json!({
            "a": "yes", "b": "0755", "c": "1.5", "d": "", "e": "null", "f": "a: b", "g": "- x",
            "h": "2024-01-01", "i": "#x", "j": "tab\there", "k": "ok", "l": 1.5, "m": 7, "n": true, "o": null,
            "p": "line1\nline2\n", "q": "no trailing\nnewline", "r": "  indented\nblock", "s": "many\n\n\n",
            "t": "ends with space \nx", "u": "v1.2.3", "w": "*alias", "x": ["on", "off"]
        });
        let text = to_string(&v);
        assert!(text.contains("a: \"yes\"\n"), "{text}");
        assert!(text.contains("k: ok\n"), "{text}");
        assert!(text.contains("p: |\n  line1\n  line2\n"), "{text}");
        assert!(text.contains("q: |-\n"), "{text}");
        assert_eq!(
            parse_one(&text).expect("re-parses"),
            v,
            "round trip failed for:\n{text}"
        );
    }

    #[test]
    fn keys_longer_than_128_bytes_are_explicit_and_read_back() {
        // Found by the yaml_reader fuzz target: a 1,200-character key written as `key: value`
        // was past the reader's 1024-character look-ahead for the `:`, so the stream did not read.
        let long = "k".repeat(129);
        let quoted = format!("{}\u{2028}: x", "é".repeat(600));
        let v = json!({
            "short": 1,
            long.clone(): "v",
            quoted.clone(): {"nested": [1, {long.clone(): "text\nblock\n"}], "empty": {}},
            "list": [{long.clone(): ["a", "b"]}],
        });
        let text = to_string(&v);
        assert!(text.starts_with(&format!("? {long}\n: v\n")), "{text}");
        assert!(text.contains("short: 1\n"), "{text}");
        assert_eq!(parse_one(&text).expect("re-parses"), v, "{text}");
        assert!(
            !to_string(&json!({"k".repeat(128): 1})).contains('?'),
            "128 bytes stay implicit"
        );
    }

    #[test]
    fn a_scalar_document_starting_with_a_document_end_marker_is_quoted() {
        // Found by tests/all/fuzz.rs: written plain, `... x` ended the document.
        let docs = [json!("... x"), json!("...")];
        let s = to_stream(&docs);
        assert_eq!(s, "---\n\"... x\"\n---\n\"...\"\n");
        assert_eq!(crate::parse_stream(&s).expect("parses"), docs);
    }

    #[test]
    fn stream_separates_documents() {
        let s = to_stream(&[json!({"a": 1}), json!({"b": [1, [2, 3]]})]);
        assert_eq!(s, "---\na: 1\n---\nb:\n- 1\n- - 2\n  - 3\n");
        assert_eq!(
            crate::parse_stream(&s).expect("parses"),
            vec![json!({"a": 1}), json!({"b": [1, [2, 3]]})]
        );
    }

    #[test]
    fn line_separators_cannot_start_new_objects() {
        // A tenant string that a YAML 1.1 reader would split into a second document.
        let evil = "x\n\u{2028}---\u{2028}apiVersion: rbac.authorization.k8s.io/v1\u{2028}kind: ClusterRoleBinding\n";
        let v = json!({"kind": "ConfigMap", "data": {"a": evil, "b": evil.replace('\n', "")}});
        let text = to_string(&v);
        assert!(!text.contains('\u{2028}'), "raw U+2028 written:\n{text}");
        assert!(text.contains("\\L---\\L"), "{text}");
        assert_eq!(parse_one(&text).expect("re-parses"), v);
    }

    #[test]
    fn escapes_match_go_yaml() {
        let s = "\0\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\"\\\u{85}\u{2028}\u{2029}\u{7f}\u{9f}\u{1}\u{feff}\u{fffe}\u{1f600}é";
        let mut out = String::new();
        write_double_quoted(&mut out, s);
        assert_eq!(
            out,
            r#""\0\a\b\t\n\v\f\r\e\"\\\N\L\P\x7F\x9F\x01\uFEFF\uFFFE\U0001F600é""#
        );
    }

    #[test]
    fn json_text_writes_as_its_value_does() {
        let long = "k".repeat(129);
        let texts = [
            r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","labels":{"app":"web"},"annotations":{}},"spec":{"template":{"spec":{"containers":[{"name":"c","ports":[{"containerPort":80}],"args":[]}]}}}}"#.to_owned(),
            r#"{"b":1,"a":2,"b":3,"a\u0041":"x\ny\n","e":[],"f":[[1,[2,3]],{}],"g":"yes","h":1.50,"i":-0,"j":1e3,"k":18446744073709551615,"l":-9223372036854775808,"m":null,"n":true,"o":"\u2028---","p":"tab\there","q":"é\ud83d\ude00"}"#.to_owned(),
            format!(r#"{{"{long}":{{"x":"text\nblock\n"}},"z":"  indented\nblock"}}"#),
            r#"[1,"a",{"b":[]}]"#.to_owned(),
            r#""... x""#.to_owned(),
            "{}".to_owned(),
            "null".to_owned(),
        ];
        for text in &texts {
            let value: Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(
                json_to_string(text).expect("JSON"),
                to_string(&value),
                "{text}"
            );
        }
        for bad in [r#"{"a":1e999}"#, r#"{"a":"\ud800"}"#, "{", r#"{"a":1}x"#] {
            let want = serde_json::from_str::<Value>(bad).expect_err("not a value");
            let got = json_to_string(bad).expect_err("not a value");
            assert_eq!(got.to_string(), want.to_string(), "{bad}");
        }
    }

    #[test]
    fn newline_only_and_leading_newline_blocks() {
        let v = json!({"a": "\n", "b": {"c": "\nx\n", "d": ["\n  y", "\n\n"]}});
        let text = to_string(&v);
        assert_eq!(
            text,
            "a: |2+\n\nb:\n  c: |2\n\n    x\n  d:\n  - |2-\n\n      y\n  - |2+\n\n\n"
        );
        assert_eq!(parse_one(&text).expect("re-parses"), v);
    }
}
