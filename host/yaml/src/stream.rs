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

/// A stream of JSON values, or `None` if it is not one (the caller reads it as YAML instead).
/// Nesting is bounded by serde_json's own recursion limit (128).
fn parse_json_stream(text: &str) -> Option<Vec<Value>> {
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
