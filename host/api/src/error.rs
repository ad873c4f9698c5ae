//! Errors of this crate and the warnings it reports. Every message names the HelmRelease
//! (`namespace/name`) and the field involved.

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a document could not be read as a Capstan/Flux object, or a spec is unusable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is not a kind/apiVersion this parser reads.
    #[error("expected {expected}, found apiVersion {api_version:?} kind {kind:?}")]
    UnsupportedKind {
        /// What was expected (`a HelmRelease (capstan.dev/v1alpha1, …)`).
        expected: String,
        /// The document's apiVersion.
        api_version: String,
        /// The document's kind.
        kind: String,
    },
    /// The object has no `metadata.name`.
    #[error("{kind} has no metadata.name")]
    MissingName {
        /// The kind.
        kind: String,
    },
    /// A field has the wrong type or an invalid value.
    #[error("{kind} {object}: decoding field {path}")]
    DecodeField {
        /// The kind.
        kind: String,
        /// `namespace/name`.
        object: String,
        /// The field path (`spec.postRenderers[0].kustomize.patches[1].target`).
        path: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The spec decodes but is contradictory or incomplete.
    #[error("{kind} {object}: {field}: {reason}")]
    InvalidSpec {
        /// The kind.
        kind: String,
        /// `namespace/name`.
        object: String,
        /// The field path.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// A non-fatal finding: an unknown field, a deprecated field, a field Capstan does not support
/// yet, an optional values object that is missing. Shown by `capstan build` on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The field path (`spec.driftDetection`, `spec.valuesFrom[1]`).
    pub path: String,
    /// What is the matter.
    pub message: String,
}

impl Warning {
    /// A warning about the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}
