//! Errors and warnings of the kustomize post-renderer. Every one names the entry it comes from
//! (`patches[2]`, `patchesJson6902[0]`, `images[1]`) and, where there is one, the object.

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a kustomize post-renderer failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The patch text is not valid YAML.
    #[error("{patch}: parsing the patch YAML")]
    ParsePatch {
        /// The patch entry (`patches[0]`).
        patch: String,
        /// The YAML error.
        #[source]
        source: capstan_yaml::Error,
    },
    /// The patch is neither a strategic merge patch (objects) nor a JSON 6902 operation list.
    #[error("{patch}: {reason}")]
    InvalidPatch {
        /// The patch entry.
        patch: String,
        /// What is wrong.
        reason: String,
    },
    /// A JSON 6902 patch has no target.
    #[error("{patch}: a JSON 6902 patch needs a target")]
    MissingTarget {
        /// The patch entry.
        patch: String,
    },
    /// The target selector has a bad regex or label selector.
    #[error("{patch}: invalid target")]
    ParseTarget {
        /// The patch entry.
        patch: String,
        /// The selector error, naming the field (`target.labelSelector`).
        #[source]
        source: serde_json::Error,
    },
    /// The JSON 6902 operations do not decode.
    #[error("{patch}: invalid JSON 6902 operations")]
    ParseJsonPatch {
        /// The patch entry.
        patch: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON 6902 operations could not be re-encoded (should not happen).
    #[error("{patch}: encoding JSON 6902 operations")]
    EncodeJsonPatch {
        /// The patch entry.
        patch: String,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A strategic merge patch failed on an object.
    #[error("{patch}: strategic merge into {object}")]
    ApplyStrategicMerge {
        /// The patch entry.
        patch: String,
        /// The object (`apps/v1/Deployment default/web`).
        object: String,
        /// What failed, with the field path.
        #[source]
        source: crate::smp::MergeError,
    },
    /// A JSON 6902 operation failed on an object.
    #[error("{patch}: JSON 6902 patch on {object}")]
    ApplyJsonPatch {
        /// The patch entry.
        patch: String,
        /// The object.
        object: String,
        /// What failed, with the operation index and path.
        #[source]
        source: json_patch::PatchError,
    },
    /// An `images` entry is malformed.
    #[error("{image}: invalid image override")]
    ParseImage {
        /// The entry (`images[0]`).
        image: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// A non-fatal finding, shown by `capstan build` and recorded by the reconciler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The entry it is about (`patches[1]`).
    pub patch: String,
    /// What happened.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.patch, self.message)
    }
}
