//! The errors of chart rendering, each worded as Helm words it so `capstan template` can print
//! `Error: …` exactly like `helm template`.

use crate::chart::LoadError;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why rendering a chart failed. `Display` is Helm's message (without the `Error: ` prefix).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chart path does not exist (and is not a repository reference we could fetch).
    #[error("{0}")]
    LocateChart(String),
    /// The chart could not be loaded.
    #[error("{0}")]
    LoadChart(#[source] LoadError),
    /// A values file could not be read or parsed.
    #[error("{0}")]
    ReadValues(String),
    /// A `--set`/`--set-string`/`--set-file` argument is malformed.
    #[error("{0}")]
    ParseSet(String),
    /// A dependency listed in `Chart.yaml` is missing from `charts/`.
    #[error("{0}")]
    CheckDependencies(String),
    /// The chart cannot be installed (a library chart).
    #[error("{0}")]
    CheckInstallable(String),
    /// The chart's `kubeVersion` does not accept the target Kubernetes version.
    #[error("{0}")]
    CheckKubeVersion(String),
    /// `--kube-version` is not a semantic version.
    #[error("{0}")]
    ParseKubeVersion(String),
    /// The release name is not valid.
    #[error("{0}")]
    ValidateReleaseName(String),
    /// Values could not be coalesced (type mismatch on a subchart key).
    #[error("{0}")]
    CoalesceValues(String),
    /// Values do not satisfy a chart's `values.schema.json`.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    ValidateSchema(String),
    /// A template does not parse.
    #[error("{0}")]
    ParseTemplate(String),
    /// A template failed while executing.
    #[error("{0}")]
    RenderTemplate(String),
    /// A rendered document is not valid YAML.
    #[error("{0}")]
    ParseManifest(String),
    /// `--show-only` named a template that produced nothing.
    #[error("{0}")]
    ShowOnly(String),
}

impl Error {
    /// What `helm template` prints on stderr for this error (ends with a newline).
    pub fn helm_output(&self) -> String {
        let hint = matches!(
            self,
            Error::ParseTemplate(_)
                | Error::RenderTemplate(_)
                | Error::ParseManifest(_)
                | Error::CheckKubeVersion(_)
        );
        if hint {
            format!("Error: {self}\n\nUse --debug flag to render out invalid YAML\n")
        } else {
            format!("Error: {self}\n")
        }
    }
}
