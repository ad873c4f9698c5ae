//! YAML to JSON data the way `sigs.k8s.io/yaml` converts go-yaml v2's values: map keys become
//! strings (ints in decimal, floats as `FormatFloat(k, 'g', -1, 32)`, `.inf`, booleans as
//! `true`/`false`; other keys are refused), NaN and infinities are refused as `json.Marshal`
//! refuses them. Two number rules, one per Go entry point:
//!
//! - [`Numbers::Float64`] — `yaml.Unmarshal` into `interface{}` (values files, `fromYaml`): the
//!   data goes through `json.Unmarshal`, so every number is a float64;
//! - [`Numbers::Typed`] — `yaml.YAMLToJSON` (manifests sent to the API server): integers stay
//!   integers, so `replicas: 3` is not `3.0`.
//!
//! The conversion is a [`Sink`] of the one reader, so text is read straight into JSON; a
//! [`Node`] tree already read is converted by replaying it through the same sink.

use serde_json::{Map, Number, Value};

use crate::parse::{STACK_RED_ZONE, STACK_SEGMENT, Sink, first_document, first_document_shallow};
use crate::{Error, Node, Result};

/// How numbers are converted (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// Every number a float64.
    Float64,
    /// Integers kept as integers.
    Typed,
}

/// Builds JSON values; the first conversion error of a document is kept for [`Sink::finish`].
pub(crate) struct JsonSink {
    numbers: Numbers,
    error: Option<Error>,
}

impl JsonSink {
    pub(crate) fn new(numbers: Numbers) -> Self {
        JsonSink {
            numbers,
            error: None,
        }
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    fn float(&mut self, f: f64) -> Value {
        match Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => {
                self.fail(Error::Convert {
                    message: format!(
                        "json: unsupported value: {}",
                        capstan_strconv::format_float(f, 'g', -1)
                    ),
                });
                Value::Null
            }
        }
    }
}

impl Sink for JsonSink {
    type Tree = Value;
    type Key = String;
    type Map = Map<String, Value>;

    fn scalar(&mut self, node: Node) -> Value {
        match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) if self.numbers == Numbers::Typed => Value::from(i),
            Node::Uint(u) if self.numbers == Numbers::Typed => Value::from(u),
            #[expect(clippy::cast_precision_loss, reason = "json.Unmarshal reads a float64")]
            Node::Int(i) => self.float(i as f64),
            #[expect(clippy::cast_precision_loss, reason = "json.Unmarshal reads a float64")]
            Node::Uint(u) => self.float(u as f64),
            Node::Float(f) => self.float(f),
            Node::Str(s) => Value::String(s),
            // Not reached: collections arrive through `seq` and `map`.
            Node::Seq(_) | Node::Map(_) => Value::Null,
        }
    }

    fn scalar_key(&mut self, node: Node) -> String {
        key_string(node).unwrap_or_else(|e| {
            self.fail(e);
            String::new()
        })
    }

    fn key(&mut self, tree: Value) -> String {
        // An alias or collection in key position: its Go type decides, as for a scalar.
        let node = match tree {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) if !n.is_f64() => Node::Int(i),
                (_, Some(u), _) if !n.is_f64() => Node::Uint(u),
                (_, _, f) => Node::Float(f.unwrap_or_default()),
            },
            Value::String(s) => Node::Str(s),
            Value::Array(_) => Node::Seq(Vec::new()),
            Value::Object(_) => Node::Map(Vec::new()),
        };
        self.scalar_key(node)
    }

    fn seq(&mut self, items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    fn map(&mut self, map: Map<String, Value>) -> Value {
        Value::Object(map)
    }

    fn set(&mut self, map: &mut Map<String, Value>, key: String, value: Value) {
        map.insert(key, value);
    }

    fn merge(&mut self, map: &mut Map<String, Value>, value: Value) -> bool {
        let source = match value {
            Value::Object(m) => Merged::Map(m),
            Value::Array(items) => Merged::Seq(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::Object(m) => Some(m),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => return false,
        };
        let Some(maps) = merge_order(source) else {
            return false;
        };
        for m in maps {
            map.extend(m);
        }
        true
    }

    fn finish(&mut self) -> Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}

/// The value of a merge key (`<<`): one mapping, or a sequence whose items should all be
/// mappings (`None` where one is not).
pub(crate) enum Merged<M> {
    Map(M),
    Seq(Vec<Option<M>>),
}

/// go-yaml v2's merge: the mappings whose entries are set into the merging mapping, in the order
/// they are set (a later entry replaces an earlier one, as do the mapping's own later keys): the
/// one mapping, or a sequence's mappings last to first, so that the first one wins; `None` when a
/// sequence item is not a mapping.
pub(crate) fn merge_order<M>(value: Merged<M>) -> Option<Vec<M>> {
    match value {
        Merged::Map(m) => Some(vec![m]),
        Merged::Seq(items) => items.into_iter().rev().collect(),
    }
}

/// A mapping's entries as a JSON object holds them: sorted by key, a repeated key with the last
/// value read (stable sort, then the last of each run kept).
pub(crate) fn sorted_last_wins<K: Ord, V>(mut entries: Vec<(K, V)>) -> Vec<(K, V)> {
    if entries.windows(2).all(|w| w[0].0 < w[1].0) {
        return entries;
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut kept: Vec<(K, V)> = Vec::with_capacity(entries.len());
    for entry in entries {
        match kept.last_mut() {
            Some(last) if last.0 == entry.0 => *last = entry,
            _ => kept.push(entry),
        }
    }
    kept
}

/// sigs.k8s.io/yaml's key conversion (`convertToJSONableObject`).
fn key_string(key: Node) -> Result<String> {
    Ok(match key {
        Node::Str(s) => s,
        Node::Int(i) => i.to_string(),
        Node::Uint(u) => u.to_string(),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "FormatFloat(key, 'g', -1, 32) rounds to float32 too"
        )]
        Node::Float(f) => match capstan_strconv::format_float32(f as f32, 'g', -1).as_str() {
            "+Inf" => ".inf".to_owned(),
            "-Inf" => "-.inf".to_owned(),
            "NaN" => ".nan".to_owned(),
            s => s.to_owned(),
        },
        Node::Bool(b) => b.to_string(),
        other => {
            return Err(Error::Convert {
                message: format!("Unsupported map key of type: {}", go_type_name(&other)),
            });
        }
    })
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

/// Replays a node through the sink, as if it had just been read.
fn replay(sink: &mut JsonSink, node: &Node) -> Value {
    // Deep (allowed) nesting continues on a fresh stack segment instead of overflowing.
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || match node {
        Node::Seq(items) => {
            let items = items.iter().map(|i| replay(sink, i)).collect();
            sink.seq(items)
        }
        Node::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = sink.scalar_key(k.clone());
                let value = replay(sink, v);
                sink.set(&mut map, key, value);
            }
            sink.map(map)
        }
        scalar => sink.scalar(scalar.clone()),
    })
}

fn convert(node: &Node, numbers: Numbers) -> Result<Value> {
    let mut sink = JsonSink::new(numbers);
    let value = replay(&mut sink, node);
    sink.finish().map(|()| value)
}

/// Converts a node to the data `json.Unmarshal` produces after `sigs.k8s.io/yaml`'s YAML→JSON
/// step: every number becomes a float64, every key a string.
pub fn node_to_json(node: &Node) -> Result<Value> {
    convert(node, Numbers::Float64)
}

/// `sigs.k8s.io/yaml.YAMLToJSON`: like [`node_to_json`] but integers stay integers (this is
/// what Helm sends to the API server, so `replicas: 3` must not become `3.0`).
pub fn node_to_json_typed(node: &Node) -> Result<Value> {
    convert(node, Numbers::Typed)
}

/// `sigs.k8s.io/yaml.Unmarshal(text, &interface{})`: the first document as JSON data (numbers
/// float64); `null` for an empty text.
pub fn parse_json_like(text: &str) -> Result<Value> {
    first_document(text, || JsonSink::new(Numbers::Float64))
}

/// A rendered manifest document as JSON for the API server (YAMLToJSON semantics: integers
/// kept, YAML 1.1 scalars resolved, keys stringified); `null` for an empty document.
pub fn manifest_to_json(text: &str) -> Result<Value> {
    first_document(text, || JsonSink::new(Numbers::Typed))
}

/// [`manifest_to_json`] down to `levels` levels of nesting: collections deeper than that are
/// empty (of the right type), and errors are [`manifest_to_json`]'s. Enough for a document's
/// head (`kind`, `metadata.name`, `metadata.annotations`: three levels) without building the
/// rest.
pub fn manifest_head_to_json(text: &str, levels: usize) -> Result<Value> {
    first_document_shallow(text, levels, || JsonSink::new(Numbers::Typed))
}

/// What sigs.k8s.io/yaml does to a scalar decoded into a Go `string` field: numbers and
/// booleans become their text (floats at float32 precision, `'g'` format).
pub fn scalar_to_string(n: &Node) -> Node {
    match n {
        Node::Int(i) => Node::Str(i.to_string()),
        Node::Uint(u) => Node::Str(u.to_string()),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "Go formats at float32 precision here"
        )]
        Node::Float(f) => Node::Str(capstan_strconv::format_float32(*f as f32, 'g', -1)),
        Node::Bool(b) => Node::Str(b.to_string()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::parse_node;

    #[test]
    fn values_become_json_floats() -> Result<()> {
        let v = parse_json_like("a: 1\nb: yes\nc: '1'\nd: ~\ne: [0755, 1.5]\n1: x\n")?;
        assert_eq!(
            v,
            json!({"a": 1.0, "b": true, "c": "1", "d": null, "e": [493.0, 1.5], "1": "x"})
        );
        assert_eq!(parse_json_like("y: n")?, json!({"true": false}));
        assert_eq!(parse_json_like("")?, json!(null));
        Ok(())
    }

    #[test]
    fn manifests_keep_integers() -> Result<()> {
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
    fn keys_are_stringified_as_sigs_yaml_does() -> Result<()> {
        let v = manifest_to_json("1: a\n0.1: b\n1e3: c\n.inf: d\ntrue: e\n0x10: f\n")?;
        assert_eq!(
            v,
            json!({"1": "a", "0.1": "b", "1000": "c", ".inf": "d", "true": "e", "16": "f"})
        );
        let err = |t: &str| manifest_to_json(t).err().map(|e| e.to_string());
        assert_eq!(
            err("~: a\n").as_deref(),
            Some("Unsupported map key of type: <nil>")
        );
        assert_eq!(
            err("[a]: b\n").as_deref(),
            Some("Unsupported map key of type: []interface {}")
        );
        assert_eq!(
            err("a: .inf\n").as_deref(),
            Some("json: unsupported value: +Inf")
        );
        Ok(())
    }

    #[test]
    fn yaml_errors_come_before_conversion_errors() {
        // go-yaml decodes the whole document before sigs.k8s.io/yaml converts it.
        let err = manifest_to_json("a: .nan\nb: [\n").expect_err("invalid");
        assert!(err.to_string().starts_with("yaml: "), "{err}");
    }

    #[test]
    fn reading_into_json_and_converting_a_node_agree() -> Result<()> {
        let text = "a: &a {x: 1, z: [2.5, yes]}\nb:\n  <<: *a\n  z: ~\n3: [*a]\n";
        let node = parse_node(text)?;
        assert_eq!(node_to_json(&node)?, parse_json_like(text)?);
        assert_eq!(node_to_json_typed(&node)?, manifest_to_json(text)?);
        assert_eq!(
            node_to_json(&Node::Float(f64::NAN))
                .err()
                .map(|e| e.to_string()),
            Some("json: unsupported value: NaN".to_owned())
        );
        Ok(())
    }

    /// `v` with every collection deeper than `levels` emptied.
    fn cut(v: &Value, levels: usize) -> Value {
        match v {
            Value::Array(_) if levels == 0 => Value::Array(Vec::new()),
            Value::Object(_) if levels == 0 => Value::Object(Map::new()),
            Value::Array(a) => Value::Array(a.iter().map(|x| cut(x, levels - 1)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), cut(x, levels - 1)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn shallow_reading_agrees_with_reading_whole() {
        let texts = [
            "kind: A\nmetadata:\n  name: x\n  annotations: {a: '1', b: {c: [d]}}\nspec:\n  t:\n    s:\n      c: [{n: 1}, [2]]\n",
            "- [[[[1]]]]\n- {a: {b: {c: {d: e}}}}\n",
            "a: &x {b: {c: {d: 1}}}\nm:\n  <<: *x\n",
            "a:\n  b:\n    c:\n      d: .inf\n",
            "a:\n  b:\n    c:\n      ~: 1\n",
            "a:\n  b:\n    c:\n      d: [\n",
            "a:\n  b:\n    c:\n      d: *nope\n",
            "a: b\n---\nc: [\n",
            "",
        ];
        for text in texts {
            for levels in 0..5 {
                let whole = manifest_to_json(text).map(|v| cut(&v, levels));
                let got = manifest_head_to_json(text, levels);
                // Anchors and merge keys: read whole, which agrees down to `levels` too.
                if text.contains('&') {
                    assert_eq!(got.map(|v| cut(&v, levels)), whole, "{text:?} {levels}");
                } else {
                    assert_eq!(got, whole, "{text:?} {levels}");
                }
            }
        }
    }

    #[test]
    fn scalars_decoded_into_strings() {
        assert_eq!(scalar_to_string(&Node::Float(0.1)), Node::Str("0.1".into()));
        assert_eq!(scalar_to_string(&Node::Int(7)), Node::Str("7".into()));
        assert_eq!(
            scalar_to_string(&Node::Bool(true)),
            Node::Str("true".into())
        );
        assert_eq!(scalar_to_string(&Node::Null), Node::Null);
    }
}
