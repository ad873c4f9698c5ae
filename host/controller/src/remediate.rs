//! What to do after a failed install or upgrade, decided over plain data with Flux's rules
//! (`install.remediation`, `upgrade.remediation`): how many attempts a desired state gets,
//! whether the failure is remediated (an install by uninstalling, an upgrade by rolling back
//! to the previous deployed revision or uninstalling), and when the release is Stalled.
//!
//! ```text
//!  failure n of the action ─► n ≤ retries (or retries < 0)? ──yes──► remediate, retry later
//!                                   │no
//!                                   ▼
//!                       remediateLastFailure? ──yes──► remediate, Stalled
//!                                   │no
//!                                   ▼
//!                                Stalled (the failed release stays as it is)
//! ```

use std::time::Duration;

use capstan_api::{HelmReleaseSpec, RemediationStrategy};

/// The release action a remediation policy belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseAction {
    /// `helm install`.
    Install,
    /// `helm upgrade`.
    Upgrade,
}

impl ReleaseAction {
    /// `install` or `upgrade` (the status' `lastAttemptedReleaseAction`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseAction::Install => "install",
            ReleaseAction::Upgrade => "upgrade",
        }
    }
}

/// How a failure is remediated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Uninstall the release (the install remedy; `upgrade.remediation.strategy: uninstall`).
    Uninstall,
    /// Roll back to the previous deployed revision's stored manifest.
    Rollback,
}

/// An action's remediation settings, with Flux's defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Retries after the first failure; negative is unlimited. Default 0.
    pub retries: i64,
    /// Remediate the failure that exhausts the retries too. Install: default false;
    /// upgrade: default `retries > 0`.
    pub remediate_last_failure: bool,
    /// The remedy.
    pub remedy: Remedy,
}

/// The policy of `action` in `spec`.
pub fn policy(spec: &HelmReleaseSpec, action: ReleaseAction) -> Policy {
    match action {
        ReleaseAction::Install => {
            let r = spec.install.as_ref().and_then(|i| i.remediation.as_ref());
            Policy {
                retries: r.and_then(|r| r.retries).unwrap_or(0),
                remediate_last_failure: r.and_then(|r| r.remediate_last_failure).unwrap_or(false),
                remedy: Remedy::Uninstall,
            }
        }
        ReleaseAction::Upgrade => {
            let r = spec.upgrade.as_ref().and_then(|u| u.remediation.as_ref());
            let retries = r.and_then(|r| r.retries).unwrap_or(0);
            Policy {
                retries,
                remediate_last_failure: r
                    .and_then(|r| r.remediate_last_failure)
                    .unwrap_or(retries > 0),
                remedy: match r.and_then(|r| r.strategy) {
                    Some(RemediationStrategy::Uninstall) => Remedy::Uninstall,
                    Some(RemediationStrategy::Rollback) | None => Remedy::Rollback,
                },
            }
        }
    }
}

impl Policy {
    /// No attempt remains after `failures` failures.
    pub fn exhausted(&self, failures: i64) -> bool {
        self.retries >= 0 && failures > self.retries
    }
}

/// What follows a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterFailure {
    /// The remedy to run now, if any.
    pub remedy: Option<Remedy>,
    /// No attempt remains: the release is Stalled until its desired state changes or a
    /// `resetAt` request clears the counters.
    pub stalled: bool,
}

/// What follows failure number `failures` (counted already) of an action under `policy`;
/// `can_roll_back` says whether a deployed revision exists to roll back to (without one a
/// rollback is impossible and the release stalls, as Flux's `MissingRollbackTarget`).
pub fn after_failure(policy: &Policy, failures: i64, can_roll_back: bool) -> AfterFailure {
    let stalled = policy.exhausted(failures);
    let remediate = !stalled || policy.remediate_last_failure;
    match policy.remedy {
        Remedy::Rollback if !can_roll_back => AfterFailure {
            remedy: None,
            stalled: true,
        },
        remedy => AfterFailure {
            remedy: remediate.then_some(remedy),
            stalled,
        },
    }
}

/// The counter an attempt is charged to: a release whose last attempt was an install that
/// failed is still being installed (Flux's active remediation), even though Helm would now
/// upgrade it.
pub fn active_action(
    decided: ReleaseAction,
    last_failed: bool,
    last_attempted: Option<&str>,
) -> ReleaseAction {
    if last_failed && last_attempted == Some("install") {
        ReleaseAction::Install
    } else {
        decided
    }
}

/// How long to wait before the next attempt after a remediated failure: 2s doubling per
/// failure, never more than the release's interval.
pub fn retry_delay(failures: i64, interval: Duration) -> Duration {
    let exp = u32::try_from(failures.clamp(1, 10) - 1).unwrap_or(0);
    Duration::from_secs(2u64 << exp).min(interval.max(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use capstan_api::{Install, InstallRemediation, Upgrade, UpgradeRemediation};

    use super::*;

    fn mk_spec(
        install: Option<(i64, Option<bool>)>,
        upgrade: Option<UpgradeRemediation>,
    ) -> HelmReleaseSpec {
        HelmReleaseSpec {
            install: install.map(|(retries, last)| Install {
                remediation: Some(InstallRemediation {
                    retries: Some(retries),
                    remediate_last_failure: last,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            upgrade: upgrade.map(|r| Upgrade {
                remediation: Some(r),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn flux_defaults_give_one_attempt_and_no_remediation() {
        let spec = HelmReleaseSpec::default();
        let install = policy(&spec, ReleaseAction::Install);
        assert_eq!(
            install,
            Policy {
                retries: 0,
                remediate_last_failure: false,
                remedy: Remedy::Uninstall
            }
        );
        assert_eq!(
            after_failure(&install, 1, false),
            AfterFailure {
                remedy: None,
                stalled: true
            }
        );
        let upgrade = policy(&spec, ReleaseAction::Upgrade);
        assert_eq!(upgrade.remedy, Remedy::Rollback);
        assert!(!upgrade.remediate_last_failure);
        assert_eq!(
            after_failure(&upgrade, 1, true),
            AfterFailure {
                remedy: None,
                stalled: true
            }
        );
    }

    #[test]
    fn install_retries_uninstall_between_attempts_then_stall() {
        let p = policy(&mk_spec(Some((2, None)), None), ReleaseAction::Install);
        for failures in [1, 2] {
            assert_eq!(
                after_failure(&p, failures, false),
                AfterFailure {
                    remedy: Some(Remedy::Uninstall),
                    stalled: false
                },
                "failure {failures}"
            );
        }
        assert_eq!(
            after_failure(&p, 3, false),
            AfterFailure {
                remedy: None,
                stalled: true
            }
        );
        let last = policy(
            &mk_spec(Some((2, Some(true))), None),
            ReleaseAction::Install,
        );
        assert_eq!(
            after_failure(&last, 3, false),
            AfterFailure {
                remedy: Some(Remedy::Uninstall),
                stalled: true
            }
        );
        let unlimited = policy(&mk_spec(Some((-1, None)), None), ReleaseAction::Install);
        assert!(!unlimited.exhausted(1000));
    }

    #[test]
    fn upgrades_roll_back_or_uninstall_and_remediate_the_last_failure_when_retrying() {
        let p = policy(
            &mk_spec(
                None,
                Some(UpgradeRemediation {
                    retries: Some(1),
                    ..Default::default()
                }),
            ),
            ReleaseAction::Upgrade,
        );
        assert!(p.remediate_last_failure, "defaults to retries > 0");
        assert_eq!(
            after_failure(&p, 2, true),
            AfterFailure {
                remedy: Some(Remedy::Rollback),
                stalled: true
            }
        );
        assert_eq!(
            after_failure(&p, 1, false),
            AfterFailure {
                remedy: None,
                stalled: true
            },
            "nothing to roll back to"
        );
        let uninstall = policy(
            &mk_spec(
                None,
                Some(UpgradeRemediation {
                    remediate_last_failure: Some(true),
                    strategy: Some(RemediationStrategy::Uninstall),
                    ..Default::default()
                }),
            ),
            ReleaseAction::Upgrade,
        );
        assert_eq!(
            after_failure(&uninstall, 1, false),
            AfterFailure {
                remedy: Some(Remedy::Uninstall),
                stalled: true
            }
        );
    }

    #[test]
    fn a_failed_install_stays_charged_to_install() {
        assert_eq!(
            active_action(ReleaseAction::Upgrade, true, Some("install")),
            ReleaseAction::Install
        );
        assert_eq!(
            active_action(ReleaseAction::Upgrade, true, Some("upgrade")),
            ReleaseAction::Upgrade
        );
        assert_eq!(
            active_action(ReleaseAction::Upgrade, false, Some("install")),
            ReleaseAction::Upgrade
        );
    }

    #[test]
    fn retries_back_off_up_to_the_interval() {
        let hour = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, hour), Duration::from_secs(2));
        assert_eq!(retry_delay(3, hour), Duration::from_secs(8));
        assert_eq!(
            retry_delay(3, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
