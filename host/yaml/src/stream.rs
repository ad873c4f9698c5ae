//! Manifest streams as kubectl and the API server read them: every document through
//! `sigs.k8s.io/yaml.YAMLToJSON` (integers kept), empty and `null` documents skipped, and a
//! stream that is JSON read as JSON first.

use serde_json::Value;

use crate::json::{JsonSink, Numbers};
use crate::parse::all_documents;
use crate::{Error, Result};

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
    let mut docs = all_documents(text, || JsonSink::new(Numbers::Typed))?;
    docs.retain(|d| !d.is_null());
    Ok(docs)
}

/// Cuts a stream into up to `parts` consecutive pieces of about equal size, each cut just before
/// a document start marker (`---` at the start of a line, followed by a space, a tab or the line's
/// end), so that reading the pieces one after another with [`parse_stream`] reads the documents
/// the whole stream holds: a marker at the start of a line ends whatever node came before it
/// (YAML has no content at column 0 that `---` could continue), and every document has its own
/// anchors. A reader that finds an error in a piece must read the whole stream again for the
/// error the whole stream reports (its line numbers count from the start of the stream).
///
/// A JSON stream (one starting with `{`) or one with directives (`%YAML`, `%TAG`, which apply to
/// the document after them) is not cut.
pub fn split_stream(text: &str, parts: usize) -> Vec<&str> {
    if parts < 2
        || text.trim_start().starts_with('{')
        || text.starts_with('%')
        || text.contains("\n%")
    {
        return vec![text];
    }
    let mut pieces = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 1..parts {
        let target = (text.len() * k / parts).max(start + 1);
        let Some(cut) = marker_at_or_after(text, target) else {
            break;
        };
        pieces.push(&text[start..cut]);
        start = cut;
    }
    pieces.push(&text[start..]);
    pieces
}

/// The byte offset of the first line at or after `from` that starts with a document marker.
fn marker_at_or_after(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        let line = at + bytes[at..].iter().position(|&b| b == b'\n')? + 1;
        let rest = &bytes[line..];
        if rest.starts_with(b"---")
            && matches!(rest.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
        {
            return Some(line);
        }
        at = line;
    }
    None
}

/// A stream of JSON values, or `None` if it is not one (the caller reads it as YAML instead).
/// Nesting is bounded by serde_json's own recursion limit (128).
pub(crate) fn parse_json_stream(text: &str) -> Option<Vec<Value>> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .filter(|v| !matches!(v, Ok(Value::Null)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .ok()
}

/// Parses a single-document YAML text (an empty text is `null`); more than one document is an
/// error.
pub fn parse_one(text: &str) -> Result<Value> {
    let mut docs = parse_stream(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        found => Err(Error::ExpectOneDocument { found }),
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
    fn block_scalars_keep_text() {
        let v = parse_one("a: |\n  line1\n  line2\nb: >-\n  folded\n  text\n").expect("parses");
        assert_eq!(v, json!({"a": "line1\nline2\n", "b": "folded text"}));
    }

    #[test]
    fn pieces_read_as_the_whole_stream_reads() {
        let doc = |i: usize| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata:\n  s: |\n    ---\n    x\n  t: &t [{i}]\n  u: *t\n"
            )
        };
        let mut text = String::from("# head\n");
        for i in 0..40 {
            text.push_str(if i % 3 == 0 { "---\n" } else { "--- \n" });
            text.push_str(&doc(i));
        }
        let whole = parse_stream(&text).expect("parses");
        for parts in [1, 2, 3, 7, 100] {
            let pieces = split_stream(&text, parts);
            assert!(pieces.len() <= parts && !pieces.is_empty());
            assert_eq!(pieces.concat(), text);
            for piece in &pieces[1..] {
                assert!(piece.starts_with("---"), "{piece:?}");
            }
            let read: Vec<Value> = pieces
                .iter()
                .flat_map(|p| parse_stream(p).expect("a piece parses"))
                .collect();
            assert_eq!(read, whole, "{parts} parts");
        }
        assert_eq!(split_stream(&text, 2).len(), 2);
        // Not cut: JSON, directives, no marker after the middle.
        assert_eq!(split_stream("{\"a\": 1}\n---\n{}", 2).len(), 1);
        assert_eq!(split_stream("a: 1\n%YAML 1.1\n---\nb: 2\n", 2).len(), 1);
        assert_eq!(split_stream("---\na: 1\nb: ---x\n", 2).len(), 1);
    }

    #[test]
    fn json_streams_and_errors() {
        assert_eq!(
            parse_stream("{\"a\": \"\\ud83d\\ude00\"} {\"b\": 1}").expect("JSON"),
            vec![json!({"a": "\u{1f600}"}), json!({"b": 1})]
        );
        let err = parse_stream("a: b\n  c: d\n").expect_err("bad indentation");
        assert_eq!(
            err.to_string(),
            "yaml: line 2: mapping values are not allowed in this context"
        );
        let err = parse_one("a: 1\n---\nb: 2\n").expect_err("two documents");
        assert_eq!(
            err.to_string(),
            "yaml: line 1: expected one document, found 2"
        );
    }
}
