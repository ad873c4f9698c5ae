//! Helm 3 (3.17.3) and Helm 4 (4.1.4) render the same chart almost identically; where they
//! differ (Go type names, `.Chart` as a map, the default Kubernetes version and API versions,
//! subcharts of an aliased subchart, error wording, the JSON Schema validator), the renderer
//! asks which one it imitates. Flux's helm-controller embeds the Helm 4 SDK.

/// Which Helm's rules a render follows, byte for byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HelmVersion {
    /// Helm v3.17.3 (`helm template` 3).
    #[default]
    V3,
    /// Helm v4.1.4 (what Flux's helm-controller embeds).
    V4,
}

impl HelmVersion {
    /// Parses `3`, `4`, `v3`, `v4` (the `--helm-version` flag).
    pub fn parse(text: &str) -> Option<HelmVersion> {
        match text.trim_start_matches('v') {
            "3" => Some(HelmVersion::V3),
            "4" => Some(HelmVersion::V4),
            _ => None,
        }
    }

    /// The Masterminds/semver release this Helm vendors (v3.3 in 3.17, v3.4 in 4.1): version
    /// ranges, `kubeVersion` and Sprig's `semverCompare` follow its prerelease rule.
    pub fn semver(self) -> capstan_semver::Compat {
        match self {
            HelmVersion::V3 => capstan_semver::Compat::Helm3,
            HelmVersion::V4 => capstan_semver::Compat::Helm4,
        }
    }

    /// `chartutil.Values` / `common.Values`.
    pub(crate) fn values_type(self) -> &'static str {
        match self {
            HelmVersion::V3 => "chartutil.Values",
            HelmVersion::V4 => "common.Values",
        }
    }
}

impl std::fmt::Display for HelmVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HelmVersion::V3 => "3",
            HelmVersion::V4 => "4",
        })
    }
}
