//! `toYaml` with Go's semantics: Helm writes values through `sigs.k8s.io/yaml` (a round trip
//! through JSON, then go-yaml v2's encoder), and charts only render byte-identically if the output
//! follows go-yaml's emitter exactly — key order, scalar styles, quoting, folding at column 80.
//! That emitter is Helm's rule, not the manifest writer's, so it lives here; reading YAML, and the
//! character escapes and YAML 1.1 resolution the emitter shares with the manifest writer, are
//! `capstan-yaml`'s (re-exported below so one path reaches the reader and the writer).

mod emit;
mod sort;

pub use capstan_yaml::{
    Error as YamlError, Node, manifest_head_to_json, manifest_to_json, node_to_json,
    node_to_json_typed, parse_documents, parse_json_like, parse_node, resolve_plain,
    scalar_to_string,
};
pub use emit::{json_to_node, json_to_yaml, to_yaml_document};

/// Sorts `(key, value)` pairs in go-yaml v2's map key order.
pub fn sort_entries<T>(entries: &mut Vec<(String, T)>) {
    sort::sort_by_key_less(entries);
}

/// Resolves a plain scalar's text the way go-yaml v2 types it (`1` → int, `1.5` → float,
/// `yes` → bool, …).
pub fn resolve_scalar(text: &str) -> Node {
    resolve_plain(text).1
}
