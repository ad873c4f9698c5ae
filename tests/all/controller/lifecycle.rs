//! The release lifecycle end to end, with the real `capstan controller` against the test API
//! server (or unchanged a real cluster with `CAPSTAN_E2E_KUBECONFIG`): Helm hooks around an
//! install (and a failing one stopping it), a failing upgrade rolled back to the previous
//! revision's stored manifest, install retries ending Stalled, `dependsOn` ordering (woken by
//! the dependency, `readyExpr`) and cycles, CEL health checks for a custom resource, and
//! uninstall through the finalizer. Failures are made the way they happen on a real
//! cluster: an image that cannot be pulled (`does-not-exist`) never becomes ready, a Job whose
//! command ends in `exit 1` fails.

use anyhow::Context as _;
use capstan_testapi::e2e::{Cluster, wait_for};
use kube::api::{Api, DeleteParams, DynamicObject};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::support::{
    CONFIG_MAP, Controller, DEPLOYMENT, Sources, VALUES, WAIT, apply, capstan_hr, condition,
    config_maps, delete_releases, deployments, get, helm_history, helm_secrets, install_crds,
    resource, selector_of, wait_ready,
};

fn jobs() -> kube::core::ApiResource {
    resource("batch", "v1", "Job", "jobs")
}

/// A HelmRelease of chart `chart` from `repo`, named `name`, owned by the test's controller.
fn mk_hr(ns: &str, owner: &str, name: &str, repo: &str, chart: &str, extra: Value) -> Value {
    let mut spec = json!({
        "interval": "2s",
        // Roomy for a real cluster's image pulls; the failures below set their own timeouts.
        "timeout": "2m",
        "chart": {"spec": {"chart": chart, "version": "*", "repository": repo}},
    });
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns, "labels": {"capstan.dev/e2e-owner": owner}},
        "spec": spec,
    })
}

const MIGRATE_HOOK: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-5"
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
          command: ["sh", "-c", "echo migrating; exit {{ .Values.migrateExit }}"]
"#;

const NOTE_HOOK: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-note
  annotations:
    "helm.sh/hook": pre-install
    "helm.sh/hook-weight": "-10"
    "helm.sh/hook-delete-policy": hook-succeeded
data:
  note: created first, deleted once the pre-install hooks succeeded
"#;

const TEST_POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-smoke
  annotations:
    "helm.sh/hook": test
spec:
  restartPolicy: Never
  containers:
    - name: smoke
      image: busybox:1.36
      command: ["sh", "-c", "echo ok; exit 0"]
"#;

const CLEANUP_HOOK: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-cleanup
  annotations:
    "helm.sh/hook": pre-delete
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: cleanup
          image: busybox:1.36
          command: ["sh", "-c", "echo cleaning up; exit 0"]
"#;

/// Waits until the release's condition `type_` has `reason`, and returns the release.
async fn wait_reason(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    type_: &str,
    reason: &str,
) -> anyhow::Result<Value> {
    wait_for(
        &format!("HelmRelease {ns}/{name} {type_} reason {reason}"),
        WAIT,
        || async {
            let Some(hr) = get(cluster, &capstan_hr(), ns, name).await? else {
                return Ok(None);
            };
            let found = condition(&hr, type_).map(|c| c["reason"].clone());
            Ok((found == Some(json!(reason))).then_some(hr))
        },
    )
    .await
}

/// A Go RFC 3339 time (`2026-12-02T10:32:43.123456789Z`, as Helm writes `last_run`) as (date,
/// seconds of the day), ordered as the instants are.
fn go_instant(text: &str) -> (String, f64) {
    let (date, time) = text.split_once('T').unwrap_or((text, ""));
    let time = time.trim_end_matches('Z');
    let mut parts = time.split(':').map(|p| p.parse::<f64>().unwrap_or(0.0));
    let (h, m, sec) = (
        parts.next().unwrap_or(0.0),
        parts.next().unwrap_or(0.0),
        parts.next().unwrap_or(0.0),
    );
    (date.to_owned(), h * 3600.0 + m * 60.0 + sec)
}

fn message(hr: &Value, type_: &str) -> String {
    condition(hr, type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_before_the_install_in_weight_order_and_a_failing_hook_stops_it()
-> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-hooks").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::start()?;
    sources.publish_named_chart(
        "hooked",
        "1.0.0",
        &format!("{VALUES}migrateExit: 0\n"),
        &[
            ("templates/settings.yaml", CONFIG_MAP),
            ("templates/migrate.yaml", MIGRATE_HOOK),
            ("templates/note.yaml", NOTE_HOOK),
            ("templates/smoke.yaml", TEST_POD),
        ],
    )?;
    let _controller = Controller::start(&cluster, &selector, &[])?;
    let repo = sources.url();
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        mk_hr(
            &ns_name,
            &owner,
            "web",
            &repo,
            "hooked",
            json!({"test": {"enable": true}}),
        ),
    )
    .await?;
    // A failing pre-install hook: nothing of the release is applied.
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        mk_hr(
            &ns_name,
            &owner,
            "broken",
            &repo,
            "hooked",
            json!({"values": {"migrateExit": 1}}),
        ),
    )
    .await?;

    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    assert_eq!(
        condition(&hr, "TestSuccess").map(|c| c["status"].clone()),
        Some(json!("True")),
        "{hr:#}"
    );
    let job = get(&cluster, &jobs(), &ns_name, "web-migrate")
        .await?
        .context("the pre-install Job stays (before-hook-creation)")?;
    let complete = job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True")
    });
    assert!(complete, "{job:#}");
    assert!(
        get(&cluster, &config_maps(), &ns_name, "web-note")
            .await?
            .is_none(),
        "the hook-succeeded hook is deleted"
    );
    assert!(
        get(&cluster, &config_maps(), &ns_name, "web-settings")
            .await?
            .is_some()
    );
    // Helm reads the hooks and their runs from the stored release.
    let hooks = cluster.helm(&["get", "hooks", "web", "-n", &ns_name])?;
    for name in ["web-migrate", "web-note", "web-smoke"] {
        assert!(hooks.contains(name), "{name} in helm get hooks:\n{hooks}");
    }
    assert!(
        hooks.contains("# Source: hooked/templates/templates/migrate.yaml"),
        "each hook's template path is recorded:\n{hooks}"
    );
    let status: Value =
        serde_json::from_str(&cluster.helm(&["status", "web", "-n", &ns_name, "-o", "json"])?)?;
    let phases: Vec<(String, String)> = status["hooks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            (
                h["name"].as_str().unwrap_or("").to_owned(),
                h["last_run"]["phase"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for name in ["web-migrate", "web-note", "web-smoke"] {
        assert!(
            phases.contains(&(name.to_owned(), "Succeeded".to_owned())),
            "{name} ran: {phases:?}"
        );
    }
    // Weight -10 (the note) completed before weight -5 (the migration) started.
    let run = |name: &str, field: &str| {
        status["hooks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["name"] == name)
            .and_then(|h| h["last_run"][field].as_str())
            .map(go_instant)
    };
    let (note_done, migrate_started) = (
        run("web-note", "completed_at"),
        run("web-migrate", "started_at"),
    );
    assert!(
        note_done.is_some() && note_done <= migrate_started,
        "{note_done:?} <= {migrate_started:?}: {status:#}"
    );

    let hr = wait_reason(&cluster, &ns_name, "broken", "Ready", "InstallFailed").await?;
    let why = message(&hr, "Ready");
    assert!(
        why.contains("pre-install hook Job") && why.contains("broken-migrate"),
        "{why}"
    );
    assert!(
        get(&cluster, &config_maps(), &ns_name, "broken-settings")
            .await?
            .is_none(),
        "the failing pre-install hook ran before any object was applied"
    );
    assert_eq!(
        helm_history(&cluster, &ns_name, "broken")?,
        [(1, "failed".to_owned())]
    );
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    drop(ns);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_upgrade_is_rolled_back_to_the_previous_revision() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-rollback").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::start()?;
    sources.publish_chart(
        "1.0.0",
        VALUES,
        &[
            ("templates/deployment.yaml", DEPLOYMENT),
            ("templates/settings.yaml", CONFIG_MAP),
        ],
    )?;
    let _controller = Controller::start(&cluster, &selector, &[])?;
    let extra = json!({
        "upgrade": {"timeout": "3s", "remediation": {"remediateLastFailure": true}},
    });
    let mut release = mk_hr(&ns_name, &owner, "web", &sources.url(), "web", extra);
    apply(&cluster, &capstan_hr(), &ns_name, release.clone()).await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;

    // An image that is never pulled: the upgrade times out waiting, and is rolled back.
    release["spec"]["values"] = json!({"tag": "does-not-exist", "greeting": "changed"});
    apply(&cluster, &capstan_hr(), &ns_name, release).await?;
    let hr = wait_reason(&cluster, &ns_name, "web", "Remediated", "RollbackSucceeded").await?;
    assert_eq!(
        helm_history(&cluster, &ns_name, "web")?,
        [
            (1, "superseded".to_owned()),
            (2, "failed".to_owned()),
            (3, "deployed".to_owned())
        ]
    );
    assert_eq!(hr["status"]["upgradeFailures"], 1, "{hr:#}");
    // The release's own history records the rollback as the deployed head.
    let snapshots: Vec<(i64, String)> = hr["status"]["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["version"].as_i64().unwrap_or(0),
                s["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        snapshots,
        [
            (3, "deployed".to_owned()),
            (2, "failed".to_owned()),
            (1, "superseded".to_owned())
        ],
        "{hr:#}"
    );
    assert!(
        condition(&hr, "Reconciling").is_none(),
        "no work in progress once stalled: {hr:#}"
    );
    assert_eq!(
        condition(&hr, "Stalled").map(|c| c["reason"].clone()),
        Some(json!("RetriesExceeded")),
        "{hr:#}"
    );
    assert!(
        message(&hr, "Ready").contains("timed out"),
        "{}",
        message(&hr, "Ready")
    );
    let d = get(&cluster, &deployments(), &ns_name, "web")
        .await?
        .context("deployment")?;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let cm = get(&cluster, &config_maps(), &ns_name, "web-settings")
        .await?
        .context("configmap")?;
    assert_eq!(cm["data"]["greeting"], "hello");
    // The rollback is revision 1's stored manifest, not a new render.
    let v1 = cluster.helm(&["get", "manifest", "web", "-n", &ns_name, "--revision", "1"])?;
    let v3 = cluster.helm(&["get", "manifest", "web", "-n", &ns_name, "--revision", "3"])?;
    assert_eq!(v1, v3);
    let described = cluster.helm(&["history", "web", "-n", &ns_name])?;
    assert!(described.contains("Rollback to 1"), "{described}");
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    drop(ns);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_retries_uninstall_between_attempts_and_end_stalled() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-retries").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::with_web_chart()?;
    let _controller = Controller::start(&cluster, &selector, &[])?;
    let extra = json!({
        "timeout": "2s",
        "values": {"tag": "does-not-exist"},
        "install": {"remediation": {"retries": 2}},
    });
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        mk_hr(&ns_name, &owner, "web", &sources.url(), "web", extra),
    )
    .await?;
    let hr = wait_reason(&cluster, &ns_name, "web", "Stalled", "RetriesExceeded").await?;
    assert_eq!(hr["status"]["installFailures"], 3, "{hr:#}");
    assert_eq!(
        message(&hr, "Stalled"),
        "Failed to install after 3 attempt(s)"
    );
    assert_eq!(
        condition(&hr, "Ready").map(|c| c["reason"].clone()),
        Some(json!("InstallFailed"))
    );
    // Every failure but the last was uninstalled: one failed revision remains.
    assert_eq!(
        helm_history(&cluster, &ns_name, "web")?,
        [(1, "failed".to_owned())]
    );
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    drop(ns);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_orders_releases_and_names_a_cycle() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-depends").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::start()?;
    sources.publish_chart("1.0.0", VALUES, &[("templates/settings.yaml", CONFIG_MAP)])?;
    // The fallback poll is far beyond the test's patience: `app` can only proceed in time if
    // `db` becoming ready (or changing) wakes it.
    let _controller = Controller::start(&cluster, &selector, &["--requeue-dependency", "10m"])?;
    let repo = sources.url();
    let dep = |names: &[&str]| json!({"dependsOn": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()});
    // `app` needs `db` Ready at the same tier (a readyExpr replaces the built-in rule).
    let ready_expr = "dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True') \
                      && dep.metadata.generation == dep.status.observedGeneration \
                      && dep.spec.values.tier == self.spec.values.tier";
    let app = json!({"values": {"tier": "gold"},
                     "dependsOn": [{"name": "db", "readyExpr": ready_expr}]});
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        mk_hr(&ns_name, &owner, "app", &repo, "web", app),
    )
    .await?;
    let hr = wait_reason(&cluster, &ns_name, "app", "Ready", "DependencyNotReady").await?;
    assert!(
        message(&hr, "Ready").contains(&format!("'{ns_name}/db' does not exist")),
        "{hr:#}"
    );
    assert!(helm_secrets(&cluster, &ns_name, "app").await?.is_empty());

    let db = |tier: &str| {
        mk_hr(
            &ns_name,
            &owner,
            "db",
            &repo,
            "web",
            json!({"values": {"tier": tier}}),
        )
    };
    apply(&cluster, &capstan_hr(), &ns_name, db("silver")).await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "db", "True").await?;
    // Ready, but the expression says no: still waiting, saying which expression.
    let hr = wait_for("app to report its readyExpr", WAIT, || async {
        let hr = get(&cluster, &capstan_hr(), &ns_name, "app").await?;
        Ok(hr.filter(|h| message(h, "Ready").contains("spec.dependsOn[0].readyExpr")))
    })
    .await?;
    assert!(message(&hr, "Ready").contains("is false"), "{hr:#}");
    assert!(helm_secrets(&cluster, &ns_name, "app").await?.is_empty());
    apply(&cluster, &capstan_hr(), &ns_name, db("gold")).await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "app", "True").await?;
    let first = |name: &str| {
        let history = cluster.helm(&["status", name, "-n", &ns_name, "-o", "json"]);
        history.map(|h| {
            serde_json::from_str::<Value>(&h).unwrap_or_default()["info"]["first_deployed"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
    };
    assert!(first("db")? <= first("app")?, "db was installed first");

    // A cycle never resolves: it is reported, naming it.
    for (name, needs) in [("x", "y"), ("y", "x")] {
        apply(
            &cluster,
            &capstan_hr(),
            &ns_name,
            mk_hr(&ns_name, &owner, name, &repo, "web", dep(&[needs])),
        )
        .await?;
    }
    let hr = wait_reason(&cluster, &ns_name, "x", "Ready", "DependencyCycle").await?;
    let why = message(&hr, "Ready");
    assert!(
        why.contains(&format!("{ns_name}/x -> {ns_name}/y -> {ns_name}/x")),
        "{why}"
    );
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    drop(ns);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_helmrelease_uninstalls_everything_even_after_a_controller_restart()
-> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-uninstall").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::start()?;
    sources.publish_chart(
        "1.0.0",
        VALUES,
        &[
            ("templates/deployment.yaml", DEPLOYMENT),
            ("templates/settings.yaml", CONFIG_MAP),
            ("templates/cleanup.yaml", CLEANUP_HOOK),
        ],
    )?;
    let controller = Controller::start(&cluster, &selector, &[])?;
    let mut release = mk_hr(&ns_name, &owner, "web", &sources.url(), "web", json!({}));
    apply(&cluster, &capstan_hr(), &ns_name, release.clone()).await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    // A second revision, so history has more than one Secret.
    release["spec"]["values"] = json!({"greeting": "again"});
    apply(&cluster, &capstan_hr(), &ns_name, release).await?;
    wait_for("revision 2", WAIT, || async {
        let h = helm_history(&cluster, &ns_name, "web")?;
        Ok((h.last() == Some(&(2, "deployed".to_owned()))).then_some(()))
    })
    .await?;
    let hr = get(&cluster, &capstan_hr(), &ns_name, "web")
        .await?
        .context("hr")?;
    assert!(
        hr["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("finalizers.capstan.dev"))),
        "{hr:#}"
    );

    // Deleted while no controller runs: the finalizer keeps it until a new controller (with no
    // memory of the release) uninstalls it from Helm storage alone.
    drop(controller);
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), &ns_name, &capstan_hr());
    api.delete("web", &DeleteParams::background()).await?;
    let held = get(&cluster, &capstan_hr(), &ns_name, "web")
        .await?
        .context("the finalizer holds the HelmRelease")?;
    assert!(!held["metadata"]["deletionTimestamp"].is_null(), "{held:#}");
    assert!(
        get(&cluster, &deployments(), &ns_name, "web")
            .await?
            .is_some()
    );
    let _controller = Controller::start(&cluster, &selector, &[])?;
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    assert!(
        get(&cluster, &deployments(), &ns_name, "web")
            .await?
            .is_none()
    );
    assert!(
        get(&cluster, &config_maps(), &ns_name, "web-settings")
            .await?
            .is_none()
    );
    assert_eq!(
        helm_secrets(&cluster, &ns_name, "web").await?,
        Vec::<String>::new()
    );
    assert!(
        cluster.helm(&["history", "web", "-n", &ns_name]).is_err(),
        "helm knows no release any more"
    );
    // The pre-delete hook ran (and stays, as Helm leaves hook objects).
    assert!(
        get(&cluster, &jobs(), &ns_name, "web-cleanup")
            .await?
            .is_some()
    );
    drop(ns);
    Ok(())
}

const GADGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.health.e2e.capstan.dev
spec:
  group: health.e2e.capstan.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

const GADGET: &str = r#"apiVersion: health.e2e.capstan.dev/v1
kind: Gadget
metadata:
  name: {{ .Release.Name }}-gadget
spec:
  size: {{ .Values.replicas }}
"#;

fn gadgets() -> kube::core::ApiResource {
    resource("health.e2e.capstan.dev", "v1", "Gadget", "gadgets")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_exprs_decide_when_a_custom_resource_is_ready_or_failed() -> anyhow::Result<()>
{
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    // The Gadget kind comes from elsewhere (as an operator's CRDs do); kstatus alone would
    // call a Gadget without conditions ready at once.
    cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], GADGET_CRD)?;
    cluster.kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/gadgets.health.e2e.capstan.dev",
    ])?;
    let ns = cluster.namespace("e2e-health").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::start()?;
    sources.publish_chart("1.0.0", VALUES, &[("gadget.yaml", GADGET)])?;
    let _controller = Controller::start(&cluster, &selector, &[])?;
    let checks = json!({"healthCheckExprs": [{
        "apiVersion": "health.e2e.capstan.dev/v1", "kind": "Gadget",
        "current": "status.phase == 'Ready'",
        "failed": "status.phase == 'Broken'"}]});
    let hr = |replicas: i64| {
        let mut extra = checks.clone();
        extra["values"] = json!({"replicas": replicas});
        extra["timeout"] = json!("20s");
        mk_hr(&ns_name, &owner, "shop", &sources.url(), "web", extra)
    };
    apply(&cluster, &capstan_hr(), &ns_name, hr(1)).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), &ns_name, &gadgets());
    wait_for("the Gadget to be applied", WAIT, || async {
        Ok(api.get_opt("shop-gadget").await?)
    })
    .await?;
    // Applied, but `status.phase` is not there yet: the install waits.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let waiting = get(&cluster, &capstan_hr(), &ns_name, "shop")
        .await?
        .unwrap_or_default();
    assert_ne!(
        condition(&waiting, "Ready").map(|c| c["status"].clone()),
        Some(json!("True")),
        "{waiting:#}"
    );
    let set_phase = |phase: &'static str| {
        let api = api.clone();
        async move {
            api.patch_status(
                "shop-gadget",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": phase}})),
            )
            .await
        }
    };
    set_phase("Ready").await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "shop", "True").await?;

    // An upgrade whose Gadget reports `Broken` fails, naming the expression.
    set_phase("Broken").await?;
    apply(&cluster, &capstan_hr(), &ns_name, hr(2)).await?;
    let hr = wait_reason(&cluster, &ns_name, "shop", "Ready", "UpgradeFailed").await?;
    let why = message(&hr, "Ready");
    assert!(
        why.contains("shop-gadget")
            && why.contains("spec.healthCheckExprs[0].failed `status.phase == 'Broken'` is true"),
        "{why}"
    );
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    drop(ns);
    Ok(())
}
