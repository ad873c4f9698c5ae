//! Helm uninstall, for a deleted HelmRelease (through the finalizer) and for install
//! remediation. The inventory is Helm storage itself — the manifests of the latest and the
//! last deployed revisions — so a release whose controller was down, or restarted with no
//! memory, is still cleaned up completely.
//!
//! ```text
//!  HelmRelease deleted ─► finalizer ─► suspended? skip the uninstall (Flux)
//!     latest revision ─► uninstalling ─► pre-delete hooks ─► delete the inventory
//!     (reverse order, `uninstall.deletionPropagation`, CRDs kept) ─► wait until gone
//!     ─► post-delete hooks ─► `keepHistory`? uninstalled : every revision deleted
//!     ─► finalizer removed
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use capstan_api::{HelmReleaseStatus, parse_helm_release};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{DynamicObject, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::Value;

use crate::apply::ObjectKey;
use crate::hooks::event;
use crate::reconcile::{Context, Error, Run};
use crate::release::{ActionKind, action_options};
use crate::storage::{self, ReleaseStatus, StoredRelease};
use crate::wait;

type Result<T, E = Error> = std::result::Result<T, E>;

/// The finalizer Capstan puts on every HelmRelease it reconciles.
pub const FINALIZER: &str = "finalizers.capstan.dev";

/// `uninstall.deletionPropagation` (Flux: `background` by default).
pub fn propagation(text: Option<&str>) -> PropagationPolicy {
    match text {
        Some("orphan") => PropagationPolicy::Orphan,
        Some("foreground") => PropagationPolicy::Foreground,
        _ => PropagationPolicy::Background,
    }
}

/// The objects to delete: those of the latest revision and of the last deployed one (a
/// failed upgrade may have created objects the deployed revision does not have), each once,
/// in reverse install order; CustomResourceDefinitions are kept, as Helm keeps them.
pub fn inventory(history: &[StoredRelease]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let revisions = [storage::latest(history), storage::last_deployed(history)];
    for r in revisions.into_iter().flatten() {
        let objects = capstan_yaml::parse_stream(&r.manifest).unwrap_or_default();
        for o in objects.into_iter().rev() {
            let Some(key) = ObjectKey::of(&o) else {
                continue;
            };
            if key.kind == "CustomResourceDefinition" || !seen.insert(key) {
                continue;
            }
            out.push(o);
        }
    }
    out
}

impl Run<'_> {
    /// Uninstalls the release recorded in `history` (nothing to do without one).
    pub(crate) async fn uninstall(&mut self, history: &[StoredRelease]) -> Result<()> {
        let Some(latest) = storage::latest(history).cloned() else {
            return Ok(());
        };
        let spec = self.release().spec.clone();
        let opts = action_options(&spec, ActionKind::Uninstall);
        let uninstall = spec.uninstall.clone().unwrap_or_default();
        let ns = self.release().release_namespace().to_owned();
        let objects = inventory(history);
        let mut record = latest.clone();
        if record.info.status != ReleaseStatus::Uninstalled {
            record.info.status = ReleaseStatus::Uninstalling;
            record.info.description = "Deletion in progress (or silently failed)".into();
            self.store(&record).await?;
            if !opts.disable_hooks {
                self.hook_runner(opts.timeout)
                    .run(&mut record.hooks, event::PRE_DELETE, |_| true)
                    .await
                    .map_err(|e| Error::Hook(Box::new(e)))?;
            }
            let policy = propagation(uninstall.deletion_propagation.as_deref());
            let mut keys = Vec::new();
            for o in &objects {
                let Some(key) = ObjectKey::of(o) else {
                    continue;
                };
                match self.applier.delete(&key, &ns, policy.clone()).await {
                    Ok(()) => keys.push(key),
                    // A kind no longer served has no objects left to delete.
                    Err(crate::apply::ApplyError::Discover { .. }) => {}
                    Err(e) => return Err(Error::Apply(e)),
                }
            }
            if !opts.disable_wait {
                wait::wait_deleted(&self.applier, &keys, &ns, opts.timeout)
                    .await
                    .map_err(|e| Error::Wait(Box::new(e)))?;
            }
            if !opts.disable_hooks {
                self.hook_runner(opts.timeout)
                    .run(&mut record.hooks, event::POST_DELETE, |_| true)
                    .await
                    .map_err(|e| Error::Hook(Box::new(e)))?;
            }
        }
        if uninstall.keep_history {
            record.info.status = ReleaseStatus::Uninstalled;
            record.info.description = "Uninstallation complete".into();
            record.info.deleted = storage::go_time(Timestamp::now());
            self.store(&record).await?;
        } else {
            for r in history {
                self.delete_revision(&r.name, r.version).await?;
            }
        }
        Ok(())
    }
}

/// The finalizer's cleanup: uninstall the deleted HelmRelease's release (Flux: not when
/// suspended), then let it go.
pub(crate) async fn cleanup(obj: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action> {
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    let doc = serde_json::to_value(&*obj).unwrap_or(Value::Null);
    let status: HelmReleaseStatus = doc
        .get("status")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let parsed = match parse_helm_release(&doc) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(release = %key, error = %capstan_engine::chain(&e),
                "deleted HelmRelease has an invalid spec: its Helm release (if any) is left in place");
            return Ok(Action::await_change());
        }
    };
    let mut run = Run::new(&ctx, &obj, parsed, status, key.clone())?;
    ctx.forget(&key);
    if run.release().spec.suspend {
        tracing::info!(release = %key, "suspended: skipping the Helm uninstall of a deleted HelmRelease");
        return Ok(Action::await_change());
    }
    let history = run.history().await?;
    let name = run.release().release_name();
    if history.is_empty() {
        tracing::info!(release = %key, "deleted; no Helm release {name} in storage");
        return Ok(Action::await_change());
    }
    if let Err(e) = run.uninstall(&history).await {
        let message = format!(
            "Helm uninstall of release {name} failed: {}",
            capstan_engine::chain(&e)
        );
        run.event(EventType::Warning, "UninstallFailed", &message, "Uninstall")
            .await;
        return Err(e);
    }
    let message = format!("Helm uninstall of release {name} succeeded");
    run.event(
        EventType::Normal,
        "UninstallSucceeded",
        &message,
        "Uninstall",
    )
    .await;
    tracing::info!(release = %key, "{message}");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::storage::{Info, StoredChart};

    fn mk_release(version: i64, status: ReleaseStatus, objects: &[(&str, &str)]) -> StoredRelease {
        let docs: Vec<Value> = objects
            .iter()
            .map(|(kind, name)| json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}))
            .collect();
        StoredRelease {
            name: "web".into(),
            info: Info {
                status,
                ..Info::default()
            },
            chart: StoredChart::default(),
            config: serde_json::Map::new(),
            manifest: capstan_yaml::to_stream(&docs),
            hooks: Vec::new(),
            version,
            namespace: "apps".into(),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn the_inventory_is_the_latest_and_deployed_manifests_in_reverse_without_crds() {
        let history = vec![
            mk_release(
                1,
                ReleaseStatus::Deployed,
                &[("ConfigMap", "a"), ("Service", "b")],
            ),
            mk_release(
                2,
                ReleaseStatus::Failed,
                &[
                    ("CustomResourceDefinition", "w.example.com"),
                    ("ConfigMap", "a"),
                    ("Secret", "c"),
                ],
            ),
        ];
        let names: Vec<String> = inventory(&history)
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert!(inventory(&[]).is_empty());
    }

    #[test]
    fn propagation_follows_flux_values() {
        assert!(matches!(propagation(None), PropagationPolicy::Background));
        assert!(matches!(
            propagation(Some("orphan")),
            PropagationPolicy::Orphan
        ));
        assert!(matches!(
            propagation(Some("foreground")),
            PropagationPolicy::Foreground
        ));
    }
}
