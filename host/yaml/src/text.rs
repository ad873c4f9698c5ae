//! Manifests read straight into compact JSON text: the bytes `serde_json::to_string` writes for
//! the value [`parse_stream`](crate::parse_stream) reads, without building that value.
//!
//! A post-render chain hands Wasm transforms each object as JSON text. Building a `Value` (a
//! B-tree per mapping, a heap string per key) only to encode it and drop it cost the host more
//! than a whole chain step on a 10,000-object stream (issue #12). Here every rule of the reader
//! stays where it is — scalars, keys, errors and merge keys all go through [`JsonSink`] — and
//! only the output differs: a scalar is kept as a small `Value` until its parent is written, a
//! finished collection is its JSON text, and a mapping's entries are written in `serde_json`'s
//! order (sorted keys, a repeated key's last value).

use serde::Serialize as _;
use serde_json::{Map, Value};

use crate::json::{JsonSink, Merged, Numbers, merge_order, sorted_last_wins};
use crate::parse::{Sink, all_documents};
use crate::{Node, Result};

/// A node read so far.
#[derive(Clone, Debug)]
pub(crate) enum Frag {
    /// A scalar, written when its parent is.
    Scalar(Value),
    /// A sequence's or a mapping's compact JSON text.
    Text(Vec<u8>),
}

impl Frag {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Frag::Scalar(value) => write_value(out, value),
            Frag::Text(text) => out.extend_from_slice(text),
        }
    }

    fn len(&self) -> usize {
        match self {
            Frag::Scalar(_) => 8,
            Frag::Text(text) => text.len(),
        }
    }
}

/// `value` as `serde_json` writes it (a scalar, or a merged entry's value).
fn write_value(out: &mut Vec<u8>, value: &Value) {
    // Writing into memory cannot fail, and every `Value` can be written.
    let _ = value.serialize(&mut serde_json::Serializer::new(out));
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    let _ = serde::Serializer::serialize_str(&mut serde_json::Serializer::new(out), key);
}

/// Builds JSON text with [`JsonSink`]'s rules.
pub(crate) struct TextSink {
    json: JsonSink,
}

impl TextSink {
    pub(crate) fn new(numbers: Numbers) -> Self {
        TextSink {
            json: JsonSink::new(numbers),
        }
    }
}

impl Sink for TextSink {
    type Tree = Frag;
    type Key = String;
    type Map = Vec<(String, Frag)>;

    fn scalar(&mut self, node: Node) -> Frag {
        Frag::Scalar(self.json.scalar(node))
    }

    fn scalar_key(&mut self, node: Node) -> String {
        self.json.scalar_key(node)
    }

    fn key(&mut self, tree: Frag) -> String {
        // A collection in key position is refused for its type alone.
        let value = match tree {
            Frag::Scalar(value) => value,
            Frag::Text(text) if text.first() == Some(&b'[') => Value::Array(Vec::new()),
            Frag::Text(_) => Value::Object(Map::new()),
        };
        self.json.key(value)
    }

    fn seq(&mut self, items: Vec<Frag>) -> Frag {
        let mut out = Vec::with_capacity(2 + items.iter().map(|i| i.len() + 1).sum::<usize>());
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.write(&mut out);
        }
        out.push(b']');
        Frag::Text(out)
    }

    fn map(&mut self, entries: Vec<(String, Frag)>) -> Frag {
        let entries = sorted_last_wins(entries);
        let size = entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>();
        let mut out = Vec::with_capacity(2 + size);
        out.push(b'{');
        for (i, (key, value)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_key(&mut out, key);
            out.push(b':');
            value.write(&mut out);
        }
        out.push(b'}');
        Frag::Text(out)
    }

    fn set(&mut self, map: &mut Vec<(String, Frag)>, key: String, value: Frag) {
        // Sorted, and a repeated key's last value kept, when the mapping is finished.
        map.push((key, value));
    }

    fn merge(&mut self, map: &mut Vec<(String, Frag)>, value: Frag) -> bool {
        let Frag::Text(text) = value else {
            return false;
        };
        let source = match text.first() {
            Some(b'{') => Merged::Map(text.as_slice()),
            Some(b'[') => Merged::Seq(
                items(&text)
                    .into_iter()
                    .map(|item| (item.first() == Some(&b'{')).then_some(item))
                    .collect(),
            ),
            _ => return false,
        };
        let Some(maps) = merge_order(source) else {
            return false;
        };
        for m in maps {
            for (key, value) in entries(m) {
                map.push((key, Frag::Text(value.to_vec())));
            }
        }
        true
    }

    fn finish(&mut self) -> Result<()> {
        self.json.finish()
    }
}

/// The items of a JSON array this module wrote (compact: no whitespace), as text.
fn items(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < text.len() && text[i] != b']' {
        let end = value_end(text, i);
        out.push(&text[i..end]);
        i = end + 1; // past the ',' (or onto the closing bracket's successor)
    }
    out
}

/// The entries of a JSON object this module wrote (compact), keys decoded, values as text.
fn entries(text: &[u8]) -> Vec<(String, &[u8])> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < text.len() && text[i] != b'}' {
        let key_end = value_end(text, i);
        let key = serde_json::from_slice::<String>(&text[i..key_end]).unwrap_or_default();
        let start = key_end + 1; // past the ':'
        let end = value_end(text, start);
        out.push((key, &text[start..end]));
        i = end + 1;
    }
    out
}

/// The end of the JSON value starting at `start` (nesting counted, not recursed into).
fn value_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string_end(b, i);
                if depth == 0 {
                    return i;
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b',' | b':' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    i
}

/// Just past the closing quote of the string whose opening quote is at `i`.
fn string_end(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    j
}

/// Every non-null document of a manifest stream as the compact JSON text `serde_json` writes
/// for the value [`parse_stream`](crate::parse_stream) reads (same errors, same bytes).
pub fn parse_stream_texts(text: &str) -> Result<Vec<String>> {
    if text.trim_start().starts_with('{')
        && let Some(docs) = crate::stream::parse_json_stream(text)
    {
        return Ok(docs.iter().map(Value::to_string).collect());
    }
    let docs = all_documents(text, || TextSink::new(Numbers::Typed))?;
    Ok(docs
        .into_iter()
        .filter_map(|doc| match doc {
            Frag::Scalar(Value::Null) => None,
            Frag::Scalar(value) => Some(value.to_string()),
            // Written from `serde_json`'s output and UTF-8 keys and strings only, so always
            // UTF-8: taken as it is, not copied.
            Frag::Text(text) => Some(
                String::from_utf8(text)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the texts must be: `serde_json`'s text of what `parse_stream` reads.
    fn via_values(text: &str) -> Result<Vec<String>> {
        crate::parse_stream(text).map(|docs| docs.iter().map(Value::to_string).collect())
    }

    fn agree(text: &str) {
        assert_eq!(parse_stream_texts(text), via_values(text), "{text}");
    }

    #[test]
    fn texts_are_serde_jsons_text_of_the_values() {
        for text in [
            "a: 1\nb: [x, 'y', \"z\\n\"]\nc: {d: null, e: ~}\n",
            "b: 1\na: 2\nb: 3\n",
            "---\n---\nnull\n---\nx: yes\ny: off\nz: 0755\nf: 1.50\ng: 1e3\nh: .inf\n",
            "k: \"\\u0001\\\\\\\"/é😀\"\n1: a\n2.5: b\ntrue: c\n",
            "- 1\n- [2, [3, {}]]\n- {}\n- []\n",
            "just a string\n",
            "42\n",
            "{\"a\": 1}\n{\"b\": [2]}\n",
            "a: &x {k: 1, \"q\\\"\": [1, {\"}\": \"]\"}]}\nb: *x\nc: {<<: *x, k: 2}\n",
            "base: &b {a: 1, b: 2}\nover: &o {b: 3, c: [x, y]}\nm:\n  <<: [*o, *b]\n  a: 0\n",
            "m:\n  z: 1\n  <<: {z: 2, y: 3}\n",
            "big: 18446744073709551615\nneg: -9223372036854775808\nf: 0.1\n",
        ] {
            agree(text);
        }
    }

    #[test]
    fn errors_are_the_readers() {
        for text in [
            "a: [1\n",
            "<<: 1\n",
            "m: {<<: [1]}\n",
            "? [a]\n: 1\n",
            "a: .nan\n",
            "&a [*a]\n",
        ] {
            agree(text);
        }
    }

    #[test]
    fn deep_nesting_has_no_serde_json_limit() {
        // Past serde_json's recursion limit (128), merged through an alias.
        let mut nested = String::new();
        for depth in 1..=300 {
            nested.push_str(&format!("\n{}k:", "  ".repeat(depth)));
        }
        let text = format!("a: &x{nested} 1\nb: {{<<: *x}}\n");
        agree(&text);
        let inner = format!("{}1{}", r#"{"k":"#.repeat(300), "}".repeat(300));
        assert_eq!(
            parse_stream_texts(&text),
            Ok(vec![format!(r#"{{"a":{inner},"b":{inner}}}"#)])
        );
    }
}
