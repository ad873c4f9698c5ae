//! Kubernetes manifest streams as data.
//!
//! Kubernetes (and Helm) read YAML with Go's `sigs.k8s.io/yaml`, which resolves plain scalars with
//! YAML 1.1 rules (`yes`, `on`, `off` are booleans, `0755` is octal) and then converts to JSON.
//! Capstan's pipeline must see the same values the API server will, so [`parse_stream`] resolves
//! scalars the same way into [`serde_json::Value`]s. [`to_stream`] writes them back with sorted keys
//! and conservative quoting, so any string that a YAML 1.1 *or* 1.2 reader could mistake for another
//! type stays a string: the bytes are a pure function of the values (stable for drift detection).

mod emit;
mod parse;
mod resolve;

pub use emit::{to_stream, to_string};
pub use parse::{MAX_DEPTH, parse_one, parse_stream};

/// A YAML stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not well-formed YAML.
    #[error("yaml: line {line}, column {column}: {message}")]
    Parse {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser found.
        message: String,
    },
    /// The YAML is well-formed but cannot be represented as JSON data.
    #[error("yaml: line {line}: {message}")]
    Convert {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
