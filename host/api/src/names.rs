//! Where a HelmRelease installs to, with Flux's rules: the release name defaults to
//! `[targetNamespace-]name` and is shortened to 53 characters with a hash suffix
//! (helm-controller `release.ShortenName`); the target and storage namespaces default to the
//! HelmRelease's namespace.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{HelmRelease, PostRenderStrategy, units};

/// Helm's limit on release names.
pub const MAX_RELEASE_NAME_LENGTH: usize = 53;

/// Label naming the HelmRelease an object was rendered for.
pub const ORIGIN_NAME_LABEL: &str = "capstan.dev/name";

/// Label naming the namespace of the HelmRelease an object was rendered for.
pub const ORIGIN_NAMESPACE_LABEL: &str = "capstan.dev/namespace";

/// Namespace assumed for a HelmRelease document without `metadata.namespace` (as `kubectl`).
pub const DEFAULT_NAMESPACE: &str = "default";

/// Shortens `name` to at most 53 characters as helm-controller does: when longer, the first 40
/// characters, a `-`, and the first 12 hex digits of the sha256 of the full name.
pub fn shorten_release_name(name: &str) -> String {
    const HASH_LENGTH: usize = 12;
    if name.len() <= MAX_RELEASE_NAME_LENGTH {
        return name.to_owned();
    }
    let keep = MAX_RELEASE_NAME_LENGTH - HASH_LENGTH - 1;
    // Names are ASCII in practice; stay on a char boundary regardless.
    let mut end = keep;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    format!("{}-{}", &name[..end], &hash[..HASH_LENGTH])
}

impl HelmRelease {
    /// `metadata.name` (empty if unset).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// `metadata.namespace`, or `default`.
    pub fn namespace_or_default(&self) -> &str {
        self.metadata
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_NAMESPACE)
    }

    /// `namespace/name`, for messages.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace_or_default(), self.name())
    }

    /// The Helm release name: `spec.releaseName`, else `[targetNamespace-]name`, shortened to 53
    /// characters.
    pub fn release_name(&self) -> String {
        let spec = &self.spec;
        let name = match (
            spec.release_name.as_deref(),
            spec.target_namespace.as_deref(),
        ) {
            (Some(r), _) if !r.is_empty() => r.to_owned(),
            (_, Some(t)) if !t.is_empty() => format!("{t}-{}", self.name()),
            _ => self.name().to_owned(),
        };
        shorten_release_name(&name)
    }

    /// The namespace the release installs into: `spec.targetNamespace`, else the HelmRelease's.
    pub fn release_namespace(&self) -> &str {
        self.spec
            .target_namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.namespace_or_default())
    }

    /// The namespace of the Helm storage: `spec.storageNamespace`, else the HelmRelease's.
    pub fn storage_namespace(&self) -> &str {
        self.spec
            .storage_namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.namespace_or_default())
    }

    /// `spec.maxHistory`, 5 by default (0 means unlimited).
    pub fn max_history(&self) -> i64 {
        self.spec.max_history.unwrap_or(5)
    }

    /// `spec.interval`, 10 minutes by default. Unparsable values fall back to the default (the
    /// parser rejects them first).
    pub fn interval(&self) -> Duration {
        self.spec
            .interval
            .as_deref()
            .and_then(|d| units::parse_duration(d).ok())
            .unwrap_or(Duration::from_secs(600))
    }

    /// `spec.timeout`, 5 minutes by default.
    pub fn timeout(&self) -> Duration {
        self.spec
            .timeout
            .as_deref()
            .and_then(|d| units::parse_duration(d).ok())
            .unwrap_or(Duration::from_secs(300))
    }

    /// The origin labels Capstan sets on every object it renders for this release:
    /// `capstan.dev/name` and `capstan.dev/namespace` of the HelmRelease.
    pub fn origin_labels(&self) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::from([
            (ORIGIN_NAME_LABEL.to_owned(), self.name().to_owned()),
            (
                ORIGIN_NAMESPACE_LABEL.to_owned(),
                self.namespace_or_default().to_owned(),
            ),
        ])
    }

    /// `spec.postRenderStrategy`, `combined` by default.
    pub fn post_render_strategy(&self) -> PostRenderStrategy {
        self.spec.post_render_strategy.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HelmReleaseSpec;

    fn mk_release(name: &str, namespace: Option<&str>, spec: HelmReleaseSpec) -> HelmRelease {
        let mut hr = HelmRelease::new(name, spec);
        hr.metadata.namespace = namespace.map(str::to_owned);
        hr
    }

    #[test]
    fn short_names_are_kept() {
        assert_eq!(shorten_release_name("release-name"), "release-name");
        assert_eq!(shorten_release_name(""), "");
        let exactly = "a".repeat(53);
        assert_eq!(shorten_release_name(&exactly), exactly);
    }

    #[test]
    fn long_names_match_helm_controller() {
        // Expected values from helm-controller's own name_test.go.
        assert_eq!(
            shorten_release_name(
                "release-name-with-very-long-name-which-is-longer-than-53-characters"
            ),
            "release-name-with-very-long-name-which-i-788ca0d0d7b0"
        );
        assert_eq!(
            shorten_release_name(
                "another-release-name-with-very-long-name-which-is-longer-than-53-characters"
            ),
            "another-release-name-with-very-long-name-7e72150d5a36"
        );
        // The example of the Flux HelmRelease documentation has the same hash, but shows 42
        // characters before it (55 in all, over Helm's limit); the controller code and its tests
        // keep 40, as here.
        assert_eq!(
            shorten_release_name("a-very-lengthy-target-namespace-with-a-nice-object-name"),
            "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3"
        );
    }

    #[test]
    fn release_name_defaults() {
        let hr = mk_release("web", Some("apps"), HelmReleaseSpec::default());
        assert_eq!(hr.release_name(), "web");
        assert_eq!(hr.release_namespace(), "apps");
        assert_eq!(hr.storage_namespace(), "apps");

        let spec = HelmReleaseSpec {
            target_namespace: Some("prod".into()),
            ..Default::default()
        };
        let hr = mk_release("web", Some("flux-system"), spec);
        assert_eq!(hr.release_name(), "prod-web");
        assert_eq!(hr.release_namespace(), "prod");
        assert_eq!(hr.storage_namespace(), "flux-system");

        let spec = HelmReleaseSpec {
            release_name: Some("custom".into()),
            target_namespace: Some("prod".into()),
            storage_namespace: Some("helm-storage".into()),
            ..Default::default()
        };
        let hr = mk_release("web", None, spec);
        assert_eq!(hr.release_name(), "custom");
        assert_eq!(hr.storage_namespace(), "helm-storage");
        assert_eq!(hr.full_name(), "default/web");
    }

    #[test]
    fn long_default_names_are_shortened() {
        let spec = HelmReleaseSpec {
            target_namespace: Some("a-very-long-target-namespace-name".into()),
            ..Default::default()
        };
        let hr = mk_release("and-an-equally-long-release-name", Some("x"), spec);
        let name = hr.release_name();
        assert_eq!(name.len(), 53);
        assert!(name.starts_with("a-very-long-target-namespace-name-and-an-"));
    }

    #[test]
    fn defaults_for_durations_history_and_strategy() {
        let hr = mk_release("web", None, HelmReleaseSpec::default());
        assert_eq!(hr.interval(), Duration::from_secs(600));
        assert_eq!(hr.timeout(), Duration::from_secs(300));
        assert_eq!(hr.max_history(), 5);
        assert_eq!(hr.post_render_strategy(), PostRenderStrategy::Combined);
        let origin = hr.origin_labels();
        assert_eq!(
            origin.get(ORIGIN_NAME_LABEL).map(String::as_str),
            Some("web")
        );
        assert_eq!(
            origin.get(ORIGIN_NAMESPACE_LABEL).map(String::as_str),
            Some("default")
        );
    }
}
