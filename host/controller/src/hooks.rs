//! Helm hooks, run as Helm runs them: the rendered hook objects of a release are recorded in
//! its stored revision (`release.hooks`, so `helm get hooks` and `helm history` read them) and,
//! for each lifecycle event, the hooks of that event are created in Helm's order
//! (`helm.sh/hook-weight`, then install order of their kind, then name), each waited for
//! (Jobs to complete, Pods to succeed), with `helm.sh/hook-delete-policy`
//! (`before-hook-creation` by default, `hook-succeeded`, `hook-failed`).
//!
//! ```text
//!  for hook in hooks_for(event) (weight, kind, name):
//!     before-hook-creation? delete the old one, wait until gone
//!     create ─► wait (Job complete / Pod succeeded) ──failed──► hook-failed? delete ─► error
//!  all succeeded ─► hook-succeeded? delete (in reverse order)
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use capstan_api::TestFilter;
use k8s_openapi::jiff::Timestamp;
use kube::api::PropagationPolicy;
use serde_json::{Value, json};

use crate::apply::{Applier, ApplyError, ObjectKey};
use crate::storage::{self, Hook};
use crate::wait::{self, Readiness, WaitError, WaitRules};

/// The annotation naming a hook's events.
pub const HOOK: &str = "helm.sh/hook";
/// The annotation ordering hooks of one event.
pub const HOOK_WEIGHT: &str = "helm.sh/hook-weight";
/// The annotation saying when a hook's object is deleted.
pub const HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// `helm.sh/hook` events.
pub mod event {
    /// Before the release's objects are created.
    pub const PRE_INSTALL: &str = "pre-install";
    /// After they are created (and ready, when waiting).
    pub const POST_INSTALL: &str = "post-install";
    /// Before an upgrade applies its objects.
    pub const PRE_UPGRADE: &str = "pre-upgrade";
    /// After an upgrade.
    pub const POST_UPGRADE: &str = "post-upgrade";
    /// Before a rollback.
    pub const PRE_ROLLBACK: &str = "pre-rollback";
    /// After a rollback.
    pub const POST_ROLLBACK: &str = "post-rollback";
    /// Before an uninstall deletes the objects.
    pub const PRE_DELETE: &str = "pre-delete";
    /// After it deleted them.
    pub const POST_DELETE: &str = "post-delete";
    /// `helm test`.
    pub const TEST: &str = "test";
    /// The old name of `test`, still honoured by Helm.
    pub const TEST_SUCCESS: &str = "test-success";
}

/// `helm.sh/hook-delete-policy` values.
pub mod policy {
    /// Delete the previous object before creating the hook (the default).
    pub const BEFORE_HOOK_CREATION: &str = "before-hook-creation";
    /// Delete the object once every hook of the event succeeded.
    pub const HOOK_SUCCEEDED: &str = "hook-succeeded";
    /// Delete the object when the hook failed.
    pub const HOOK_FAILED: &str = "hook-failed";
}

/// A hook failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The stored manifest of a hook is not an object.
    #[error("{event} hook {name}: the stored manifest is not a Kubernetes object")]
    Parse {
        /// Event.
        event: String,
        /// Hook name.
        name: String,
    },
    /// Creating or deleting the hook's object failed.
    #[error("{event} hook {object}")]
    Call {
        /// Event.
        event: String,
        /// `Kind namespace/name`.
        object: String,
        /// Why.
        #[source]
        source: ApplyError,
    },
    /// The hook did not succeed.
    #[error("{event} hook {object} failed")]
    Failed {
        /// Event.
        event: String,
        /// `Kind namespace/name`.
        object: String,
        /// Why (failed, or timed out).
        #[source]
        source: WaitError,
    },
}

fn annotation<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The hooks of a build as Helm records them (`release.Hook`), each with the template it came
/// from (`sources`, by [`capstan_engine::hook_key`]; a post-renderer that renamed a hook
/// leaves its path empty); objects without a known hook event are left out, as Helm leaves
/// them out.
pub fn stored_hooks(objects: &[Value], sources: &BTreeMap<String, String>) -> Vec<Hook> {
    const EVENTS: &[&str] = &[
        event::PRE_INSTALL,
        event::POST_INSTALL,
        event::PRE_UPGRADE,
        event::POST_UPGRADE,
        event::PRE_ROLLBACK,
        event::POST_ROLLBACK,
        event::PRE_DELETE,
        event::POST_DELETE,
        event::TEST,
        event::TEST_SUCCESS,
    ];
    objects
        .iter()
        .filter_map(|o| {
            let events = list(annotation(o, HOOK)?);
            if events.is_empty() || events.iter().any(|e| !EVENTS.contains(&e.as_str())) {
                return None;
            }
            let s = |p: &str| {
                o.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            Some(Hook {
                name: s("/metadata/name"),
                kind: s("/kind"),
                path: sources
                    .get(&capstan_engine::hook_key(o))
                    .cloned()
                    .unwrap_or_default(),
                manifest: capstan_yaml::to_string(o),
                events,
                weight: annotation(o, HOOK_WEIGHT)
                    .and_then(|w| w.trim().parse().ok())
                    .unwrap_or(0),
                delete_policies: annotation(o, HOOK_DELETE_POLICY)
                    .map(list)
                    .unwrap_or_default(),
                last_run: Value::Null,
            })
        })
        .collect()
}

fn install_rank(kind: &str) -> Option<usize> {
    capstan_helm::INSTALL_ORDER.iter().position(|k| *k == kind)
}

/// Helm's hook order: weight, then the install order of the kind (unknown kinds last,
/// alphabetically), then name.
pub fn hook_order(a: &Hook, b: &Hook) -> Ordering {
    a.weight.cmp(&b.weight).then_with(|| {
        match (install_rank(&a.kind), install_rank(&b.kind)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.kind.cmp(&b.kind),
        }
        .then_with(|| a.name.cmp(&b.name))
    })
}

/// Whether a hook runs for `event` (`test` also runs `test-success` hooks).
pub fn runs_on(hook: &Hook, event: &str) -> bool {
    hook.events
        .iter()
        .any(|e| e == event || (event == event::TEST && e == event::TEST_SUCCESS))
}

/// The indices of the hooks of `event` in execution order.
pub fn hooks_for(hooks: &[Hook], event: &str) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..hooks.len())
        .filter(|i| runs_on(&hooks[*i], event))
        .collect();
    idx.sort_by(|a, b| hook_order(&hooks[*a], &hooks[*b]));
    idx
}

/// Whether `test.filters` select the test hook `name` (Flux: with any `exclude: false`
/// filter only those run; `exclude: true` removes a test).
pub fn test_selected(name: &str, filters: &[TestFilter]) -> bool {
    if filters.iter().any(|f| f.exclude && f.name == name) {
        return false;
    }
    let includes: Vec<&TestFilter> = filters.iter().filter(|f| !f.exclude).collect();
    includes.is_empty() || includes.iter().any(|f| f.name == name)
}

/// The delete policies in force (Helm's default when none is given).
pub fn delete_policies(hook: &Hook) -> Vec<String> {
    if hook.delete_policies.is_empty() {
        vec![policy::BEFORE_HOOK_CREATION.to_owned()]
    } else {
        hook.delete_policies.clone()
    }
}

/// Whether a hook is done: Jobs complete, Pods succeed (a running Pod is not done); other
/// kinds are done once created, as in Helm.
pub fn hook_done(live: &Value) -> Readiness {
    let kind = live.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "Job" => wait::readiness(live, &WaitRules::default()),
        "Pod" => match live.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Readiness::Ready,
            Some("Failed") => Readiness::Failed("the pod failed".into()),
            phase => Readiness::InProgress(format!("pod is {}", phase.unwrap_or("Pending"))),
        },
        _ => Readiness::Ready,
    }
}

fn now() -> String {
    storage::go_time(Timestamp::now())
}

/// Runs hooks against a cluster for one release.
pub struct HookRunner<'a> {
    /// The release's applier.
    pub applier: &'a Applier,
    /// The release namespace (default namespace of hook objects).
    pub namespace: &'a str,
    /// Time allowed to each hook.
    pub timeout: Duration,
}

impl HookRunner<'_> {
    async fn delete(&self, event: &str, hook: &Hook) -> Result<(), HookError> {
        if hook.kind == "CustomResourceDefinition" {
            // Helm never deletes CRDs: that would cascade to every custom resource.
            return Ok(());
        }
        let object = capstan_yaml::parse_one(&hook.manifest).ok();
        let Some(key) = object.as_ref().and_then(ObjectKey::of) else {
            return Err(HookError::Parse {
                event: event.to_owned(),
                name: hook.name.clone(),
            });
        };
        let call = |source| HookError::Call {
            event: event.to_owned(),
            object: key.to_string(),
            source,
        };
        self.applier
            .delete(&key, self.namespace, PropagationPolicy::Background)
            .await
            .map_err(call)?;
        wait::wait_deleted(
            self.applier,
            std::slice::from_ref(&key),
            self.namespace,
            self.timeout,
        )
        .await
        .map_err(|source| HookError::Failed {
            event: event.to_owned(),
            object: key.to_string(),
            source,
        })
    }

    /// Runs the hooks of `event` among `hooks` (those `select` keeps), recording each run in
    /// its `last_run`. Stops at the first failure.
    pub async fn run(
        &self,
        hooks: &mut [Hook],
        event: &str,
        select: impl Fn(&Hook) -> bool,
    ) -> Result<(), HookError> {
        let order: Vec<usize> = hooks_for(hooks, event)
            .into_iter()
            .filter(|i| select(&hooks[*i]))
            .collect();
        for &i in &order {
            let policies = delete_policies(&hooks[i]);
            if policies.iter().any(|p| p == policy::BEFORE_HOOK_CREATION) {
                self.delete(event, &hooks[i]).await?;
            }
            let started = now();
            let result = self.create_and_wait(event, &hooks[i]).await;
            let phase = if result.is_ok() {
                "Succeeded"
            } else {
                "Failed"
            };
            hooks[i].last_run =
                json!({"started_at": started, "completed_at": now(), "phase": phase});
            if let Err(e) = result {
                if policies.iter().any(|p| p == policy::HOOK_FAILED) {
                    self.delete(event, &hooks[i]).await?;
                }
                return Err(e);
            }
        }
        for &i in order.iter().rev() {
            if delete_policies(&hooks[i])
                .iter()
                .any(|p| p == policy::HOOK_SUCCEEDED)
            {
                self.delete(event, &hooks[i]).await?;
            }
        }
        Ok(())
    }

    async fn create_and_wait(&self, event: &str, hook: &Hook) -> Result<(), HookError> {
        let object = capstan_yaml::parse_one(&hook.manifest)
            .ok()
            .filter(|o| ObjectKey::of(o).is_some())
            .ok_or_else(|| HookError::Parse {
                event: event.to_owned(),
                name: hook.name.clone(),
            })?;
        let key = ObjectKey::of(&object).unwrap_or_else(|| unreachable!("checked above"));
        self.applier
            .apply(&object, self.namespace, false)
            .await
            .map_err(|source| HookError::Call {
                event: event.to_owned(),
                object: key.to_string(),
                source,
            })?;
        wait::wait_until(
            self.applier,
            std::slice::from_ref(&object),
            self.namespace,
            self.timeout,
            hook_done,
        )
        .await
        .map_err(|source| HookError::Failed {
            event: event.to_owned(),
            object: key.to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_hook(
        kind: &str,
        name: &str,
        events: &str,
        weight: Option<&str>,
        policies: Option<&str>,
    ) -> Value {
        let mut annotations = serde_json::Map::new();
        annotations.insert(HOOK.into(), json!(events));
        if let Some(w) = weight {
            annotations.insert(HOOK_WEIGHT.into(), json!(w));
        }
        if let Some(p) = policies {
            annotations.insert(HOOK_DELETE_POLICY.into(), json!(p));
        }
        json!({"apiVersion": "v1", "kind": kind,
               "metadata": {"name": name, "annotations": annotations}})
    }

    #[test]
    fn hooks_are_recorded_with_events_weight_and_policies() {
        let sources = BTreeMap::from([(
            "Job/migrate".to_owned(),
            "web/templates/migrate.yaml".to_owned(),
        )]);
        let hooks = stored_hooks(
            &[
                mk_hook(
                    "Job",
                    "migrate",
                    "pre-install, pre-upgrade",
                    Some("-5"),
                    Some("hook-succeeded,before-hook-creation"),
                ),
                mk_hook("Pod", "smoke", "test", None, None),
                mk_hook("ConfigMap", "odd", "pre-install,crd-install", None, None),
            ],
            &sources,
        );
        assert_eq!(hooks[0].path, "web/templates/migrate.yaml");
        assert_eq!(hooks[1].path, "", "no source known");
        assert_eq!(
            hooks.len(),
            2,
            "a hook with an unknown event is dropped, as Helm does"
        );
        assert_eq!(hooks[0].name, "migrate");
        assert_eq!(hooks[0].events, ["pre-install", "pre-upgrade"]);
        assert_eq!(hooks[0].weight, -5);
        assert_eq!(
            hooks[0].delete_policies,
            ["hook-succeeded", "before-hook-creation"]
        );
        assert!(
            hooks[0].manifest.contains("name: migrate"),
            "{}",
            hooks[0].manifest
        );
        assert_eq!(delete_policies(&hooks[1]), ["before-hook-creation"]);
        let json = serde_json::to_value(&hooks[0]).unwrap_or_default();
        assert_eq!(
            json["delete_policies"][0], "hook-succeeded",
            "Helm's field names"
        );
    }

    #[test]
    fn hooks_run_by_weight_then_kind_then_name() {
        let hooks = stored_hooks(
            &[
                mk_hook("Job", "b", "pre-install", Some("1"), None),
                mk_hook("Job", "a", "pre-install", Some("1"), None),
                mk_hook("ConfigMap", "z", "pre-install", Some("1"), None),
                mk_hook("Widget", "w", "pre-install", Some("1"), None),
                mk_hook("Secret", "first", "pre-install", Some("-1"), None),
                mk_hook("Job", "later", "post-install", None, None),
            ],
            &BTreeMap::new(),
        );
        let order: Vec<&str> = hooks_for(&hooks, event::PRE_INSTALL)
            .into_iter()
            .map(|i| hooks[i].name.as_str())
            .collect();
        assert_eq!(order, ["first", "z", "a", "b", "w"]);
        assert_eq!(hooks_for(&hooks, event::POST_INSTALL).len(), 1);
        assert!(hooks_for(&hooks, event::PRE_DELETE).is_empty());
    }

    #[test]
    fn test_filters_include_and_exclude() {
        let f = |name: &str, exclude: bool| TestFilter {
            name: name.into(),
            exclude,
        };
        assert!(test_selected("a", &[]));
        assert!(test_selected("a", &[f("a", false)]));
        assert!(!test_selected("b", &[f("a", false)]));
        assert!(!test_selected("a", &[f("a", true)]));
        assert!(test_selected("b", &[f("a", true)]));
        let hooks = stored_hooks(
            &[mk_hook("Pod", "legacy", "test-success", None, None)],
            &BTreeMap::new(),
        );
        assert_eq!(hooks_for(&hooks, event::TEST), [0]);
    }

    #[test]
    fn jobs_and_pods_must_finish_other_hooks_are_done_when_created() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                         "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(hook_done(&job), Readiness::Ready);
        let running = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                             "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(matches!(hook_done(&running), Readiness::InProgress(_)));
        let failed = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                            "status": {"phase": "Failed"}});
        assert!(matches!(hook_done(&failed), Readiness::Failed(_)));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(hook_done(&cm), Readiness::Ready);
    }
}
