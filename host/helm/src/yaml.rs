//! YAML with Go's semantics: Helm reads values with `sigs.k8s.io/yaml` (go-yaml v2 underneath, YAML
//! 1.1 scalar resolution, then a round trip through JSON) and `toYaml` writes through the same
//! library. Charts only render byte-identically if both directions follow those rules exactly, so
//! this module reimplements them rather than using a YAML 1.2 library's defaults.

mod emit;
mod parse;
mod relax;
mod resolve;
mod sort;

pub use capstan_gotmpl::format_json_float;
pub use emit::{json_to_node, json_to_yaml, to_yaml_document};

/// `strconv.FormatFloat(f, 'g', -1, 64)` (Go's `%v` of a float64), from the template engine's
/// Go formatting.
pub fn format_go_g(f: f64) -> String {
    capstan_gotmpl::format_float(f, 'g', -1)
}
pub use parse::{
    manifest_to_json, node_to_json, node_to_json_typed, parse_documents, parse_json_like,
    parse_json_like_all, parse_node, shortest_f32_g,
};

/// A YAML node as go-yaml v2 decodes it into `interface{}`: typed scalars, and maps whose keys can
/// be any node (JSON conversion turns them into strings later).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`, `~` or an empty scalar.
    Null,
    /// A YAML 1.1 boolean (`true`, `yes`, `on`, …).
    Bool(bool),
    /// An integer that fits Go's `int`.
    Int(i64),
    /// An integer only `uint64` can hold.
    Uint(u64),
    /// A float (also `.inf` and `.nan`).
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping in document order (later duplicates win on conversion).
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax or conversion failure, worded like go-yaml / sigs.k8s.io/yaml.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// The text is not valid YAML; worded as go-yaml words it (`yaml: line 3: mapping values
    /// are not allowed in this context`, the line only when go-yaml reports one).
    #[error("yaml: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Syntax {
        /// The line go-yaml reports, if any.
        line: Option<usize>,
        /// What the parser complained about.
        message: String,
    },
    /// The YAML is valid but cannot be represented as JSON.
    #[error("{0}")]
    Convert(String),
    /// The document does not have the shape the caller asked for.
    #[error("{0}")]
    Shape(String),
}

/// Sorts `(key, value)` pairs in go-yaml v2's map key order.
pub fn sort_entries<T>(entries: &mut Vec<(String, T)>) {
    sort::sort_by_key_less(entries);
}

/// Resolves a plain scalar's text the way go-yaml v2 types it (`1` → int, `1.5` → float,
/// `yes` → bool, …).
pub fn resolve_scalar(text: &str) -> Node {
    resolve::resolve_plain(text).1
}

/// What sigs.k8s.io/yaml does to a scalar decoded into a Go `string` field: numbers and
/// booleans become their text (floats at float32 precision, `'g'` format).
pub fn scalar_to_string(n: &Node) -> Node {
    match n {
        Node::Int(i) => Node::Str(i.to_string()),
        Node::Uint(u) => Node::Str(u.to_string()),
        Node::Float(f) => Node::Str(
            #[expect(
                clippy::cast_possible_truncation,
                reason = "Go formats at float32 precision here"
            )]
            shortest_f32_g(*f as f32).unwrap_or_else(|| format_go_g(*f)),
        ),
        Node::Bool(b) => Node::Str(b.to_string()),
        other => other.clone(),
    }
}
