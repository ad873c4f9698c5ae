//! Helm's release actions against the cluster, as Helm performs them: install and upgrade
//! (hooks, apply, prune, wait, hooks, tests), rollback to a stored revision, and the failure
//! path that counts the failure and remediates it ([`crate::remediate`] decides).
//!
//! ```text
//!  store pending ─► pre hooks ─► CRDs + objects (SSA) ─► prune ─► wait ─► post hooks ─► tests
//!     ok ─► store deployed, previous superseded, history trimmed
//!     failed ─► store failed ─► count ─► after_failure(): uninstall | rollback (stored
//!               manifest, new revision) | nothing ─► Stalled when no attempt remains
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_api::{HelmReleaseSpec, condition, parse_duration};
use capstan_engine::Build;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;
use serde_json::Value;

use crate::hooks::{self, HookRunner, event};
use crate::reconcile::{DIGEST_LABEL, Error, Run, mk_condition, snapshot};
use crate::remediate::{self, ReleaseAction, Remedy};
use crate::storage::{self, Info, ReleaseStatus, StoredChart, StoredRelease};
use crate::wait::{self, WaitRules};

type Result<T, E = Error> = std::result::Result<T, E>;

/// Helm's default timeout of each operation of an action.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The condition Flux sets after a remediation.
pub const REMEDIATED: &str = "Remediated";
/// The condition Flux sets after tests.
pub const TEST_SUCCESS: &str = "TestSuccess";

/// How a release action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Deployed.
    Released,
    /// Failed and remediated; try again after this long.
    Retry(Duration),
    /// Failed with no attempt left (status written).
    Stalled,
}

/// The settings of one action (Flux's per-action fields over `spec.timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionOptions {
    /// Time allowed to each operation (wait, each hook).
    pub timeout: Duration,
    /// `disableWait`.
    pub disable_wait: bool,
    /// `disableWaitForJobs`.
    pub disable_wait_for_jobs: bool,
    /// `disableHooks`.
    pub disable_hooks: bool,
}

fn timeout(specific: Option<&str>, spec: &HelmReleaseSpec) -> Duration {
    specific
        .or(spec.timeout.as_deref())
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Which action's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Install.
    Install,
    /// Upgrade.
    Upgrade,
    /// Rollback.
    Rollback,
    /// Uninstall.
    Uninstall,
    /// Test.
    Test,
}

/// The options of `kind` in `spec`.
pub fn action_options(spec: &HelmReleaseSpec, kind: ActionKind) -> ActionOptions {
    let (t, disable_wait, disable_wait_for_jobs, disable_hooks) = match kind {
        ActionKind::Install => spec
            .install
            .as_ref()
            .map_or((None, false, false, false), |i| {
                (
                    i.timeout.as_deref(),
                    i.disable_wait,
                    i.disable_wait_for_jobs,
                    i.disable_hooks,
                )
            }),
        ActionKind::Upgrade => spec
            .upgrade
            .as_ref()
            .map_or((None, false, false, false), |u| {
                (
                    u.timeout.as_deref(),
                    u.disable_wait,
                    u.disable_wait_for_jobs,
                    u.disable_hooks,
                )
            }),
        ActionKind::Rollback => spec
            .rollback
            .as_ref()
            .map_or((None, false, false, false), |r| {
                (
                    r.timeout.as_deref(),
                    r.disable_wait,
                    r.disable_wait_for_jobs,
                    r.disable_hooks,
                )
            }),
        ActionKind::Uninstall => spec
            .uninstall
            .as_ref()
            .map_or((None, false, false, false), |u| {
                (u.timeout.as_deref(), u.disable_wait, false, u.disable_hooks)
            }),
        ActionKind::Test => (
            spec.test.as_ref().and_then(|t| t.timeout.as_deref()),
            false,
            false,
            false,
        ),
    };
    ActionOptions {
        timeout: timeout(t, spec),
        disable_wait,
        disable_wait_for_jobs,
        disable_hooks,
    }
}

/// Whether a failed test leaves the release failed (`test.ignoreFailures`, overridden by the
/// action's `remediation.ignoreTestFailures`).
pub fn test_failures_count(spec: &HelmReleaseSpec, install: bool) -> bool {
    let default = spec.test.as_ref().is_some_and(|t| t.ignore_failures);
    let specific = if install {
        spec.install
            .as_ref()
            .and_then(|i| i.remediation.as_ref())
            .and_then(|r| r.ignore_test_failures)
    } else {
        spec.upgrade
            .as_ref()
            .and_then(|u| u.remediation.as_ref())
            .and_then(|r| r.ignore_test_failures)
    };
    !specific.unwrap_or(default)
}

fn title(install: bool) -> &'static str {
    if install { "Install" } else { "Upgrade" }
}

impl Run<'_> {
    pub(crate) fn hook_runner(&self, timeout: Duration) -> HookRunner<'_> {
        HookRunner {
            applier: &self.applier,
            namespace: self.release().release_namespace(),
            timeout,
        }
    }

    /// The hook objects of a build, labelled as the release's objects are.
    fn hooks_of(&self, build: &Build) -> Vec<Value> {
        let mut hooks = build.hooks.clone();
        if self.is_flux() {
            let release = self.release();
            let labels = BTreeMap::from([
                (
                    crate::reconcile::FLUX_NAME_LABEL.to_owned(),
                    release.name().to_owned(),
                ),
                (
                    crate::reconcile::FLUX_NAMESPACE_LABEL.to_owned(),
                    release.namespace_or_default().to_owned(),
                ),
            ]);
            crate::reconcile::capstan_kustomize_labels(&mut hooks, &labels);
        }
        hooks
    }

    /// Hooks, apply, prune, wait, hooks, tests: everything between "pending" and "deployed".
    async fn perform(
        &mut self,
        record: &mut StoredRelease,
        objects: &[Value],
        previous: Option<&StoredRelease>,
        install: bool,
    ) -> Result<()> {
        let spec = self.release().spec.clone();
        let opts = action_options(
            &spec,
            if install {
                ActionKind::Install
            } else {
                ActionKind::Upgrade
            },
        );
        let (pre, post) = if install {
            (event::PRE_INSTALL, event::POST_INSTALL)
        } else {
            (event::PRE_UPGRADE, event::POST_UPGRADE)
        };
        if !opts.disable_hooks {
            self.hook_runner(opts.timeout)
                .run(&mut record.hooks, pre, |_| true)
                .await
                .map_err(|e| Error::Hook(Box::new(e)))?;
        }
        self.apply_all(objects, install).await?;
        self.prune(previous, objects).await?;
        if !opts.disable_wait {
            let ns = self.release().release_namespace().to_owned();
            let rules = WaitRules::for_release(&spec, opts.disable_wait_for_jobs)
                .map_err(Error::CompileExpr)?;
            wait::wait_ready(&self.applier, objects, &ns, opts.timeout, &rules)
                .await
                .map_err(|e| Error::Wait(Box::new(e)))?;
        }
        if !opts.disable_hooks {
            self.hook_runner(opts.timeout)
                .run(&mut record.hooks, post, |_| true)
                .await
                .map_err(|e| Error::Hook(Box::new(e)))?;
        }
        if let Some(test) = spec.test.as_ref().filter(|t| t.enable) {
            let topts = action_options(&spec, ActionKind::Test);
            let filters = test.filters.clone();
            let result = self
                .hook_runner(topts.timeout)
                .run(&mut record.hooks, event::TEST, |h| {
                    hooks::test_selected(&h.name, &filters)
                })
                .await;
            let g = self.generation;
            match result {
                Ok(()) => self.status.set_condition(mk_condition(
                    TEST_SUCCESS,
                    true,
                    "TestSucceeded",
                    &format!("Helm test succeeded for release {}", record.name),
                    g,
                )),
                Err(e) => {
                    let message = format!("Helm test failed: {}", capstan_engine::chain(&e));
                    self.status.set_condition(mk_condition(
                        TEST_SUCCESS,
                        false,
                        "TestFailed",
                        &message,
                        g,
                    ));
                    if test_failures_count(&spec, install) {
                        return Err(Error::Hook(Box::new(e)));
                    }
                    self.event(EventType::Warning, "TestFailed", &message, "Test")
                        .await;
                }
            }
        }
        Ok(())
    }

    /// Install or upgrade: storage pending, [`Self::perform`], storage deployed, history
    /// trimmed; on failure, [`Self::release_failed`].
    pub(crate) async fn release_build(
        &mut self,
        build: &Build,
        history: &[StoredRelease],
        install: bool,
        desired: &str,
        action: ReleaseAction,
    ) -> Result<Outcome> {
        let release = self.release().clone();
        let opts = action_options(
            &release.spec,
            if install {
                ActionKind::Install
            } else {
                ActionKind::Upgrade
            },
        );
        self.progressing(&format!(
            "Running '{}' action with timeout of {}",
            action_word(install),
            go_duration(opts.timeout)
        ))
        .await?;
        let objects = self.objects_of(build);
        let previous = storage::last_deployed(history).cloned();
        let version = storage::latest(history).map_or(1, |r| r.version + 1);
        let started = storage::go_time(Timestamp::now());
        let manifest = capstan_yaml::to_stream(&objects);
        let mut record = StoredRelease {
            name: build.release_name.clone(),
            info: Info {
                first_deployed: previous
                    .as_ref()
                    .map_or_else(|| started.clone(), |p| p.info.first_deployed.clone()),
                last_deployed: started,
                deleted: String::new(),
                description: format!("{} started", title(install)),
                status: if install {
                    ReleaseStatus::PendingInstall
                } else {
                    ReleaseStatus::PendingUpgrade
                },
                notes: String::new(),
            },
            chart: StoredChart {
                metadata: build.chart_metadata.clone(),
                ..StoredChart::default()
            },
            config: build.values.clone(),
            manifest,
            hooks: hooks::stored_hooks(&self.hooks_of(build), &build.hook_sources),
            version,
            namespace: build.release_namespace.clone(),
            labels: BTreeMap::from([(DIGEST_LABEL.to_owned(), desired.to_owned())]),
        };
        self.store(&record).await?;
        self.status.last_attempted_release_action = Some(action.as_str().to_owned());
        self.status.last_attempted_revision = Some(build.chart.version.clone());
        self.status.last_attempted_config_digest = Some(build.digests.values.clone());
        let performed = self
            .perform(&mut record, &objects, previous.as_ref(), install)
            .await;
        if let Err(e) = performed {
            record.info.status = ReleaseStatus::Failed;
            record.info.description =
                format!("{} failed: {}", title(install), capstan_engine::chain(&e));
            self.store(&record).await?;
            self.status
                .history
                .insert(0, snapshot(&record, build, desired));
            self.status.history.truncate(5);
            let mut all = history.to_vec();
            all.push(record.clone());
            return self
                .release_failed(e, &all, &record, previous.as_ref(), install, action)
                .await;
        }
        record.info.status = ReleaseStatus::Deployed;
        record.info.description = format!("{} complete", title(install));
        self.store(&record).await?;
        if let Some(mut p) = previous {
            p.info.status = ReleaseStatus::Superseded;
            self.store(&p).await?;
        }
        let mut all: Vec<StoredRelease> = history.to_vec();
        all.push(record.clone());
        let max_history = release.spec.max_history.unwrap_or(5).max(0) as usize;
        for v in storage::trimmed(&all, max_history) {
            self.delete_revision(&record.name, v).await?;
        }
        let g = self.generation;
        let message = format!(
            "Helm {} succeeded for release {}/{}.v{} with chart {}@{}",
            action_word(install),
            build.release_namespace,
            build.release_name,
            version,
            build.chart.name,
            build.chart.version
        );
        let reason = if install {
            "InstallSucceeded"
        } else {
            "UpgradeSucceeded"
        };
        self.status
            .set_condition(mk_condition(condition::RELEASED, true, reason, &message, g));
        self.status.remove_condition(REMEDIATED);
        self.set_ready(true, reason, &message);
        self.status
            .history
            .insert(0, snapshot(&record, build, desired));
        self.status.history.truncate(5);
        self.status.install_failures = None;
        self.status.upgrade_failures = None;
        self.status.failures = None;
        self.event(EventType::Normal, reason, &message, title(install))
            .await;
        Ok(Outcome::Released)
    }

    /// A failed install or upgrade: counted, remediated per policy, Stalled when no attempt
    /// remains. API trouble (transient errors) is not the release's fault: it is retried with
    /// backoff and not counted.
    async fn release_failed(
        &mut self,
        error: Error,
        history: &[StoredRelease],
        failed: &StoredRelease,
        previous: Option<&StoredRelease>,
        install: bool,
        action: ReleaseAction,
    ) -> Result<Outcome> {
        let reason = if install {
            "InstallFailed"
        } else {
            "UpgradeFailed"
        };
        let message = failed.info.description.clone();
        let g = self.generation;
        self.status.set_condition(mk_condition(
            condition::RELEASED,
            false,
            reason,
            &message,
            g,
        ));
        if error.is_transient() {
            self.fail(reason, &message, true).await?;
            return Err(error);
        }
        let failures = match action {
            ReleaseAction::Install => {
                let n = self.status.install_failures.unwrap_or(0) + 1;
                self.status.install_failures = Some(n);
                n
            }
            ReleaseAction::Upgrade => {
                let n = self.status.upgrade_failures.unwrap_or(0) + 1;
                self.status.upgrade_failures = Some(n);
                n
            }
        };
        self.status.failures = Some(self.status.failures.unwrap_or(0) + 1);
        self.event(EventType::Warning, reason, &message, title(install))
            .await;
        let spec = self.release().spec.clone();
        let policy = remediate::policy(&spec, action);
        let after = remediate::after_failure(&policy, failures, previous.is_some());
        let mut ready_message = message.clone();
        match after.remedy {
            Some(Remedy::Uninstall) => {
                let result = self.uninstall(history).await;
                let (ok, reason, note) = match &result {
                    Ok(()) => (
                        true,
                        "UninstallSucceeded",
                        format!(
                            "Helm uninstall remediation for release {} succeeded",
                            failed.name
                        ),
                    ),
                    Err(e) => (
                        false,
                        "UninstallFailed",
                        format!(
                            "Helm uninstall remediation for release {} failed: {}",
                            failed.name,
                            capstan_engine::chain(e)
                        ),
                    ),
                };
                self.status
                    .set_condition(mk_condition(REMEDIATED, ok, reason, &note, g));
                ready_message = format!("{message}; {note}");
                self.event(
                    if ok {
                        EventType::Normal
                    } else {
                        EventType::Warning
                    },
                    reason,
                    &note,
                    "Uninstall",
                )
                .await;
            }
            Some(Remedy::Rollback) => {
                let Some(target) = previous.cloned() else {
                    unreachable!("after_failure rolls back only when a deployed revision exists")
                };
                let result = self.rollback(&target, failed).await;
                if let Ok(v) = &result {
                    self.record_rollback(target.version, *v);
                }
                let (ok, reason, note) = match &result {
                    Ok(v) => (
                        true,
                        "RollbackSucceeded",
                        format!(
                            "Helm rollback of release {} to v{} succeeded as v{v}",
                            failed.name, target.version
                        ),
                    ),
                    Err(e) => (
                        false,
                        "RollbackFailed",
                        format!(
                            "Helm rollback of release {} to v{} failed: {}",
                            failed.name,
                            target.version,
                            capstan_engine::chain(e)
                        ),
                    ),
                };
                self.status
                    .set_condition(mk_condition(REMEDIATED, ok, reason, &note, g));
                ready_message = format!("{message}; {note}");
                self.event(
                    if ok {
                        EventType::Normal
                    } else {
                        EventType::Warning
                    },
                    reason,
                    &note,
                    "Rollback",
                )
                .await;
            }
            None => {}
        }
        self.set_ready(false, reason, &ready_message);
        self.status.remove_condition(condition::RECONCILING);
        self.status.observed_generation = Some(self.generation);
        if after.stalled {
            self.mark_retries_exceeded(action, failures);
            self.write_status().await?;
            return Ok(Outcome::Stalled);
        }
        self.status.remove_condition(condition::STALLED);
        self.write_status().await?;
        Ok(Outcome::Retry(remediate::retry_delay(
            failures,
            self.release().interval(),
        )))
    }

    /// `Stalled=True` (`RetriesExceeded`), Flux's wording.
    pub(crate) fn mark_retries_exceeded(&mut self, action: ReleaseAction, failures: i64) {
        let g = self.generation;
        self.status.remove_condition(condition::RECONCILING);
        self.status.set_condition(mk_condition(
            condition::STALLED,
            true,
            "RetriesExceeded",
            &format!("Failed to {} after {failures} attempt(s)", action.as_str()),
            g,
        ));
    }

    /// Helm rollback to `target` (a stored revision) after `failed`: a new revision with the
    /// target's stored manifest, hooks, chart and values (nothing is rendered again), applied,
    /// pruned of what `failed` added, waited for; `deployed`, while `failed` stays failed and
    /// earlier deployed revisions become superseded. Returns the new revision.
    pub(crate) async fn rollback(
        &mut self,
        target: &StoredRelease,
        failed: &StoredRelease,
    ) -> Result<i64> {
        let spec = self.release().spec.clone();
        let opts = action_options(&spec, ActionKind::Rollback);
        let version = failed.version.max(target.version) + 1;
        let mut record = target.clone();
        record.version = version;
        record.info.status = ReleaseStatus::PendingRollback;
        record.info.description = format!("Rollback to {}", target.version);
        record.info.last_deployed = storage::go_time(Timestamp::now());
        record.info.deleted = String::new();
        for h in &mut record.hooks {
            h.last_run = Value::Null;
        }
        self.store(&record).await?;
        let objects: Vec<Value> = capstan_yaml::parse_stream(&target.manifest)
            .unwrap_or_default()
            .into_iter()
            .filter(|o| !o.is_null())
            .collect();
        let result: Result<()> = async {
            if !opts.disable_hooks {
                self.hook_runner(opts.timeout)
                    .run(&mut record.hooks, event::PRE_ROLLBACK, |_| true)
                    .await
                    .map_err(|e| Error::Hook(Box::new(e)))?;
            }
            self.apply_all(&objects, false).await?;
            self.prune(Some(failed), &objects).await?;
            if !opts.disable_wait {
                let ns = self.release().release_namespace().to_owned();
                let rules =
                    WaitRules::for_release(&self.release().spec, opts.disable_wait_for_jobs)
                        .map_err(Error::CompileExpr)?;
                wait::wait_ready(&self.applier, &objects, &ns, opts.timeout, &rules)
                    .await
                    .map_err(|e| Error::Wait(Box::new(e)))?;
            }
            if !opts.disable_hooks {
                self.hook_runner(opts.timeout)
                    .run(&mut record.hooks, event::POST_ROLLBACK, |_| true)
                    .await
                    .map_err(|e| Error::Hook(Box::new(e)))?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            record.info.status = ReleaseStatus::Failed;
            record.info.description = format!(
                "Rollback \"{}\" failed: {}",
                target.version,
                capstan_engine::chain(&e)
            );
            self.store(&record).await?;
            return Err(e);
        }
        record.info.status = ReleaseStatus::Deployed;
        self.store(&record).await?;
        // Every other deployed revision is superseded now (the failed one stays failed).
        for mut r in self.history().await? {
            if r.version != version && r.info.status == ReleaseStatus::Deployed {
                r.info.status = ReleaseStatus::Superseded;
                self.store(&r).await?;
            }
        }
        Ok(version)
    }
}

impl Run<'_> {
    /// A rollback made revision `version` from the stored manifest of `target`: its snapshot
    /// heads `status.history`, a copy of the target's (same chart, values and post-renderer
    /// digests) under the new revision, as Flux records a rollback.
    fn record_rollback(&mut self, target: i64, version: i64) {
        let Some(mut snap) = self
            .status
            .history
            .iter()
            .find(|s| s.version == target)
            .cloned()
        else {
            return;
        };
        snap.version = version;
        snap.status = ReleaseStatus::Deployed.as_str().to_owned();
        snap.last_deployed = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            Timestamp::now(),
        ));
        for s in &mut self.status.history {
            if s.status == ReleaseStatus::Deployed.as_str() {
                s.status = ReleaseStatus::Superseded.as_str().to_owned();
            }
        }
        self.status.history.insert(0, snap);
        self.status.history.truncate(5);
    }
}

/// `d` as Go prints a `time.Duration` (`5m0s`, `20s`), as Flux words its messages.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

fn action_word(install: bool) -> &'static str {
    if install { "install" } else { "upgrade" }
}

#[cfg(test)]
mod tests {
    use capstan_api::{Install, InstallRemediation, Rollback, Test, Upgrade, UpgradeRemediation};

    use super::*;

    #[test]
    fn action_timeouts_override_the_release_timeout() {
        let mut spec = HelmReleaseSpec {
            timeout: Some("1m".into()),
            install: Some(Install {
                timeout: Some("10s".into()),
                disable_wait_for_jobs: true,
                ..Default::default()
            }),
            rollback: Some(Rollback {
                disable_hooks: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let install = action_options(&spec, ActionKind::Install);
        assert_eq!(install.timeout, Duration::from_secs(10));
        assert!(install.disable_wait_for_jobs && !install.disable_wait);
        assert_eq!(
            action_options(&spec, ActionKind::Upgrade).timeout,
            Duration::from_secs(60)
        );
        assert!(action_options(&spec, ActionKind::Rollback).disable_hooks);
        spec.timeout = None;
        assert_eq!(
            action_options(&spec, ActionKind::Uninstall).timeout,
            DEFAULT_TIMEOUT
        );
    }

    #[test]
    fn durations_are_printed_as_go_prints_them() {
        assert_eq!(go_duration(DEFAULT_TIMEOUT), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(20)), "20s");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
    }

    #[test]
    fn test_failures_count_unless_ignored() {
        let mut spec = HelmReleaseSpec {
            test: Some(Test {
                enable: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(test_failures_count(&spec, true));
        spec.test = Some(Test {
            enable: true,
            ignore_failures: true,
            ..Default::default()
        });
        assert!(!test_failures_count(&spec, false));
        spec.install = Some(Install {
            remediation: Some(InstallRemediation {
                ignore_test_failures: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(
            test_failures_count(&spec, true),
            "the action's setting wins"
        );
        spec.upgrade = Some(Upgrade {
            remediation: Some(UpgradeRemediation::default()),
            ..Default::default()
        });
        assert!(!test_failures_count(&spec, false));
    }
}
