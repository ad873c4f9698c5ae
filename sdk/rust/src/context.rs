//! The release a transform runs for: lets a transform name things after the release without
//! reading any ambient state (there is none in the sandbox).

/// Where the objects come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// `metadata.name` of the HelmRelease (or the release name given to the CLI).
    pub release_name: String,
    /// Namespace the release installs into.
    pub release_namespace: String,
    /// Name of the rendered chart.
    pub chart_name: String,
    /// Version of the rendered chart.
    pub chart_version: String,
    /// Name under which this plugin was referenced.
    pub plugin_name: String,
}
