//! YAML as Kubernetes, Helm and Flux read it: go-yaml v2 with YAML 1.1 scalar rules, converted to
//! JSON data the way `sigs.k8s.io/yaml` converts it — the one YAML reader of the workspace.
//!
//! Capstan must see the same values kubectl, the API server and Helm see (`yes`, `on`, `off` are
//! booleans, `0755` is octal, `<<` merges, a float key is written at float32 precision), refuse
//! what they refuse with go-yaml's own words (Helm's error messages are compared byte for byte
//! with `helm template`'s), and stop hostile input where go-yaml stops it (alias budget, depth
//! limit). So there is one reader, built once on `saphyr-parser`'s events:
//!
//! ```text
//!  text ─▶ saphyr events ─▶ reader (anchors, aliases, merge keys, tags, alias budget, depth,
//!                           YAML 1.1 resolution, go-yaml error wording)
//!                              ├─▶ Node tree ............ parse_node / parse_documents (Helm)
//!                              ├─▶ JSON, float64 numbers  parse_json_like (values files)
//!                              ├─▶ JSON, integers kept .. manifest_to_json, parse_stream,
//!                              │                          parse_one (manifests, API objects)
//!                              └─▶ JSON text, no values . parse_stream_texts (a post-render
//!                                                         chain's input)
//! ```
//!
//! Writing is not one rule: [`to_stream`] is Capstan's own stable manifest layout (sorted keys,
//! conservative quoting, so the bytes are a pure function of the values for drift detection),
//! while Helm's `toYaml` (in `capstan-helm`) ports go-yaml v2's emitter byte for byte. What they
//! share — go-yaml's character escapes ([`write_escape`]) and the YAML 1.1 resolution that decides
//! when a string must be quoted ([`resolve_plain`]) — lives here once.

mod emit;
mod escape;
mod json;
mod parse;
mod relax;
mod resolve;
mod stream;
mod text;

pub use emit::{join_stream, json_to_string, to_stream, to_string};
pub use escape::{is_break, is_printable, write_escape};
pub use json::{
    manifest_head_to_json, manifest_to_json, node_to_json, node_to_json_typed, parse_json_like,
    scalar_to_string,
};
pub use parse::{MAX_DEPTH, parse_documents, parse_node};
pub use resolve::{ScalarKind, is_base60_float, resolve_kind, resolve_plain};
pub use stream::{parse_one, parse_stream, split_stream};
pub use text::parse_stream_texts;

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
    /// A mapping in document order (a later duplicate key replaces the earlier value in place).
    Map(Vec<(Node, Node)>),
}

/// A YAML text could not be read, worded as go-yaml / sigs.k8s.io/yaml word it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not valid YAML for go-yaml (`yaml: line 3: mapping values are not allowed in
    /// this context`, the line only when go-yaml reports one), or go-yaml refuses to decode it
    /// (excessive aliasing, nesting too deep, a value that does not match its tag).
    #[error("yaml: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Parse {
        /// The line go-yaml reports, if any.
        line: Option<usize>,
        /// What go-yaml complained about.
        message: String,
    },
    /// The YAML is valid but has no JSON form (`json: unsupported value: +Inf`, a `null` or
    /// collection map key).
    #[error("{message}")]
    Convert {
        /// What sigs.k8s.io/yaml or encoding/json complained about.
        message: String,
    },
    /// [`parse_one`] was given more than one document.
    #[error("yaml: line 1: expected one document, found {found}")]
    ExpectOneDocument {
        /// How many non-empty documents the text holds.
        found: usize,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
