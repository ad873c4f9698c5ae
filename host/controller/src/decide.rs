//! What to do with a release, decided over plain data (linkerd's policy-controller style): the
//! reconciler fetches the facts, calls these functions, and acts on the answer. Nothing here
//! touches a cluster, so every branch is a unit test.

use capstan_api::DriftDetectionMode as DriftMode;

use crate::storage::ReleaseStatus;

/// The last release in Helm storage, as far as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRelease {
    /// Revision.
    pub version: i64,
    /// Helm status.
    pub status: ReleaseStatus,
    /// The desired-state digest Capstan recorded with it (`None` for a release Capstan did not
    /// make, e.g. one installed by `helm` or Flux).
    pub digest: Option<String>,
}

/// Everything the release decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Short form of the desired state's digest ([`short_digest`]).
    pub desired: String,
    /// The latest revision in storage, if any.
    pub last: Option<LastRelease>,
    /// A `forceAt` annotation not handled yet.
    pub force_requested: bool,
}

/// What the reconciler must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No release exists: install.
    Install,
    /// The desired state differs from the last release (or that one failed): upgrade.
    Upgrade(UpgradeReason),
    /// The release is current: check the live objects for drift.
    CheckDrift,
}

/// Why an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeReason {
    /// Chart, values, a post-renderer's module or config, or commonMetadata changed.
    DesiredStateChanged,
    /// The last release failed or was interrupted.
    LastReleaseFailed,
    /// `forceAt` asked for it.
    Forced,
}

impl UpgradeReason {
    /// For messages and events.
    pub fn describe(self) -> &'static str {
        match self {
            UpgradeReason::DesiredStateChanged => "the desired state changed",
            UpgradeReason::LastReleaseFailed => "the last release did not complete",
            UpgradeReason::Forced => "an upgrade was forced",
        }
    }
}

/// The length of the digest Capstan records on a release (128 bits of sha256, so it also fits
/// in a label value).
pub const SHORT_DIGEST_LEN: usize = 32;

/// `sha256:<hex>` → its first [`SHORT_DIGEST_LEN`] hex digits.
pub fn short_digest(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.chars().take(SHORT_DIGEST_LEN).collect()
}

/// Install, upgrade, or look for drift.
pub fn decide(facts: &Facts) -> Decision {
    let Some(last) = &facts.last else {
        return Decision::Install;
    };
    match last.status {
        // An uninstalled release kept with keepHistory is installed again.
        ReleaseStatus::Uninstalled | ReleaseStatus::Uninstalling => Decision::Install,
        ReleaseStatus::Failed | ReleaseStatus::Unknown => {
            Decision::Upgrade(UpgradeReason::LastReleaseFailed)
        }
        s if s.is_pending() => Decision::Upgrade(UpgradeReason::LastReleaseFailed),
        _ if facts.force_requested => Decision::Upgrade(UpgradeReason::Forced),
        _ if last.digest.as_deref() != Some(facts.desired.as_str()) => {
            Decision::Upgrade(UpgradeReason::DesiredStateChanged)
        }
        _ => Decision::CheckDrift,
    }
}

/// What to do about drifted objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftAction {
    /// Nothing drifted (or drift detection is off).
    None,
    /// Re-apply the drifted objects.
    Correct,
    /// Report only.
    Warn,
}

/// The action for `drifted` objects under `mode` (`spec.driftDetection.mode`; Flux's default is
/// `disabled`).
pub fn drift_action(mode: DriftMode, drifted: usize) -> DriftAction {
    match (mode, drifted) {
        (_, 0) | (DriftMode::Disabled, _) => DriftAction::None,
        (DriftMode::Enabled, _) => DriftAction::Correct,
        (DriftMode::Warn, _) => DriftAction::Warn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_facts(last: Option<(ReleaseStatus, Option<&str>)>) -> Facts {
        Facts {
            desired: "aaaa".into(),
            last: last.map(|(status, digest)| LastRelease {
                version: 3,
                status,
                digest: digest.map(str::to_owned),
            }),
            force_requested: false,
        }
    }

    #[test]
    fn no_release_installs() {
        assert_eq!(decide(&mk_facts(None)), Decision::Install);
        assert_eq!(
            decide(&mk_facts(Some((ReleaseStatus::Uninstalled, Some("aaaa"))))),
            Decision::Install
        );
    }

    #[test]
    fn a_current_release_is_checked_for_drift() {
        assert_eq!(
            decide(&mk_facts(Some((ReleaseStatus::Deployed, Some("aaaa"))))),
            Decision::CheckDrift
        );
    }

    #[test]
    fn a_changed_digest_or_a_foreign_release_upgrades() {
        assert_eq!(
            decide(&mk_facts(Some((ReleaseStatus::Deployed, Some("bbbb"))))),
            Decision::Upgrade(UpgradeReason::DesiredStateChanged)
        );
        assert_eq!(
            decide(&mk_facts(Some((ReleaseStatus::Deployed, None)))),
            Decision::Upgrade(UpgradeReason::DesiredStateChanged),
            "a release made by helm or Flux is taken over with an upgrade"
        );
    }

    #[test]
    fn failed_or_interrupted_releases_upgrade() {
        for status in [
            ReleaseStatus::Failed,
            ReleaseStatus::PendingInstall,
            ReleaseStatus::PendingUpgrade,
            ReleaseStatus::PendingRollback,
        ] {
            assert_eq!(
                decide(&mk_facts(Some((status, Some("aaaa"))))),
                Decision::Upgrade(UpgradeReason::LastReleaseFailed),
                "{status:?}"
            );
        }
    }

    #[test]
    fn force_upgrades_a_current_release() {
        let mut facts = mk_facts(Some((ReleaseStatus::Deployed, Some("aaaa"))));
        facts.force_requested = true;
        assert_eq!(decide(&facts), Decision::Upgrade(UpgradeReason::Forced));
    }

    #[test]
    fn drift_is_corrected_reported_or_ignored_by_mode() {
        assert_eq!(drift_action(DriftMode::Enabled, 2), DriftAction::Correct);
        assert_eq!(drift_action(DriftMode::Warn, 1), DriftAction::Warn);
        assert_eq!(drift_action(DriftMode::Disabled, 5), DriftAction::None);
        assert_eq!(drift_action(DriftMode::Enabled, 0), DriftAction::None);
    }

    #[test]
    fn short_digests_fit_a_label_value() {
        let d = short_digest(&format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(d.len(), SHORT_DIGEST_LEN);
        assert!(d.len() <= 63);
    }
}
