use serde_json::{Value, json};

use super::*;

fn mk(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Value {
    let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
    if let Some(ns) = namespace {
        o["metadata"]["namespace"] = json!(ns);
    }
    o
}

/// Release `web` of HelmRelease `team-a/web`, installed into `team-a`.
fn mk_guard(policy: GuardPolicy) -> OutputGuard {
    OutputGuard::new("team-a", "team-a", policy).owned_by("web", "web")
}

fn mk_chart() -> Vec<Value> {
    vec![
        mk("v1", "ConfigMap", None, "cfg"),
        mk("apps/v1", "Deployment", Some("team-a"), "web"),
        mk(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            None,
            "web-reader",
        ),
        mk("v1", "Service", Some("monitoring"), "web-metrics"),
    ]
}

fn refused(guard: &OutputGuard, before: &[Value], after: &[Value]) -> Violation {
    guard.check(before, after).expect_err("must be refused")
}

#[test]
fn editing_renaming_and_adding_namespaced_objects_is_allowed() {
    let before = mk_chart();
    let mut after = before.clone();
    after[0]["data"] = json!({"k": "v"});
    after[2]["metadata"]["name"] = json!("prefixed-web-reader");
    after[3]["metadata"]["name"] = json!("prefixed-web-metrics");
    after.push(mk("v1", "ServiceAccount", Some("team-a"), "extra"));
    after.push(mk("v1", "Secret", None, "extra"));
    assert_eq!(
        mk_guard(GuardPolicy::default()).check(&before, &after),
        Ok(())
    );
    // Dropping objects is a step's business too.
    assert_eq!(
        mk_guard(GuardPolicy::default()).check(&before, &before[..1]),
        Ok(())
    );
}

#[test]
fn moving_an_object_to_another_namespace_is_refused() {
    let before = mk_chart();
    let mut after = before.clone();
    after[1]["metadata"]["namespace"] = json!("kube-system");
    let err = refused(&mk_guard(GuardPolicy::default()), &before, &after);
    assert_eq!(err.rule, Rule::Namespace);
    assert_eq!(
        err.to_string(),
        "object outside the release's namespace: Deployment.apps kube-system/web: \
         metadata.namespace is \"kube-system\"; accepted: \"team-a\" or none"
    );
    // Not even for a tenant allowed cluster-scoped objects.
    let err = refused(
        &mk_guard(GuardPolicy::allowing_cluster_scoped(["*"])),
        &before,
        &after,
    );
    assert_eq!(err.rule, Rule::Namespace);
    // Adding one more Service next to the chart's own in `monitoring` is a move too.
    let mut after = before.clone();
    after.push(mk("v1", "Service", Some("monitoring"), "sneaky"));
    let err = refused(&mk_guard(GuardPolicy::default()), &before, &after);
    assert_eq!(err.object, "Service monitoring/sneaky");
}

#[test]
fn adding_a_cluster_scoped_object_is_refused_unless_the_tenant_is_allowed() {
    let before = mk_chart();
    let mut after = before.clone();
    // A namespace on a cluster-scoped object changes nothing: the API server ignores it.
    after.push(mk(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        Some("team-a"),
        "pwned",
    ));
    let err = refused(&mk_guard(GuardPolicy::default()), &before, &after);
    assert_eq!(
        err.to_string(),
        "cluster-scoped object added: ClusterRoleBinding.rbac.authorization.k8s.io pwned: kind is \
         ClusterRoleBinding.rbac.authorization.k8s.io (cluster-scoped); accepted: namespaced kinds \
         (the operator allows cluster-scoped objects for no tenant, not tenant \"team-a\")"
    );
    let err = refused(
        &mk_guard(GuardPolicy::allowing_cluster_scoped(["platform", "infra"])),
        &before,
        &after,
    );
    assert!(
        err.accepted
            .contains("for tenants infra, platform, not tenant \"team-a\""),
        "{err}"
    );
    for allowed in [["team-a"], ["*"]] {
        let guard = mk_guard(GuardPolicy::allowing_cluster_scoped(allowed));
        assert_eq!(guard.check(&before, &after), Ok(()));
    }
}

#[test]
fn the_tenant_is_the_helm_releases_namespace_not_the_target() {
    // HelmRelease in `team-a` installing into `platform`: `platform` being allowed does not
    // help, since the tenant writes targetNamespace.
    let guard = OutputGuard::new(
        "platform",
        "team-a",
        GuardPolicy::allowing_cluster_scoped(["platform"]),
    );
    let after = vec![mk("v1", "Namespace", None, "x")];
    assert_eq!(refused(&guard, &[], &after).rule, Rule::ClusterScoped);
}

#[test]
fn an_empty_before_holds_the_chart_to_the_rules() {
    let chart = mk_chart();
    let err = refused(&mk_guard(GuardPolicy::default()), &[], &chart);
    assert_eq!(err.object, "Service monitoring/web-metrics", "{err}");
    let err = refused(&mk_guard(GuardPolicy::default()), &[], &chart[..3]);
    assert_eq!(err.rule, Rule::ClusterScoped, "{err}");
    assert_eq!(
        err.object,
        "ClusterRole.rbac.authorization.k8s.io web-reader"
    );
    assert_eq!(
        mk_guard(GuardPolicy::default()).check(&[], &chart[..2]),
        Ok(())
    );
}

#[test]
fn crds_and_discovery_decide_scope() {
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "tenants.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Tenant"}}
    });
    let tenant = mk("example.com/v1", "Tenant", None, "t");
    let mut guard = mk_guard(GuardPolicy::default());
    assert_eq!(guard.check(&[], std::slice::from_ref(&tenant)), Ok(()));
    guard.kinds.add_crds([&crd]);
    assert_eq!(
        refused(&guard, &[], std::slice::from_ref(&tenant)).rule,
        Rule::ClusterScoped
    );
    guard
        .kinds
        .set(GroupKind::new("example.com", "Tenant"), true);
    assert_eq!(guard.check(&[], &[tenant]), Ok(()));
}

#[test]
fn objects_without_identity_are_refused_naming_what_they_have() {
    let before = mk_chart();
    let mut after = before.clone();
    after.push(json!({"apiVersion": "v1", "metadata": {"name": "x"}}));
    let err = refused(&mk_guard(GuardPolicy::default()), &before, &after);
    assert_eq!(
        err.to_string(),
        "object without identity: object #4 (apiVersion \"v1\", name \"x\"): kind is missing; \
         accepted: a non-empty string"
    );
    let mut after = before.clone();
    after[0]["metadata"] = json!({});
    let err = refused(&mk_guard(GuardPolicy::default()), &before, &after);
    assert_eq!(
        (err.rule, err.object.as_str(), err.field.as_str()),
        (
            Rule::Identity,
            "object #0 (apiVersion \"v1\", kind \"ConfigMap\")",
            "metadata.name"
        )
    );
    let mut after = before.clone();
    after[1] = json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "team-a"}});
    assert_eq!(
        refused(&mk_guard(GuardPolicy::default()), &before, &after).field,
        "apiVersion"
    );
}

#[test]
fn duplicates_are_refused_and_an_absent_namespace_is_the_releases() {
    let before = mk_chart();
    let mut after = before.clone();
    after.push(mk("v1", "ConfigMap", Some("team-a"), "cfg"));
    let err = refused(&mk_guard(GuardPolicy::default()), &before, &after);
    assert_eq!(
        err.to_string(),
        "duplicate object: ConfigMap team-a/cfg: metadata.name is \"cfg\" on 2 objects of that \
         kind and namespace; accepted: one object per group, kind, namespace and name"
    );
    // Same name, other group or version of the same group: the group decides.
    let mut after = before.clone();
    after.push(mk("example.com/v1", "ConfigMap", None, "cfg"));
    assert_eq!(
        mk_guard(GuardPolicy::default()).check(&before, &after),
        Ok(())
    );
    let mut after = before.clone();
    after.push(mk("apps/v1beta1", "Deployment", None, "web"));
    assert_eq!(
        refused(&mk_guard(GuardPolicy::default()), &before, &after).rule,
        Rule::Duplicate
    );
}

fn mk_labelled(mut o: Value, owner: &str) -> Value {
    o["metadata"]["labels"] = json!({"capstan.dev/name": owner, "app": "web"});
    o
}

#[test]
fn ownership_labels_may_not_be_removed_changed_or_forged() {
    let guard = mk_guard(GuardPolicy::default());
    let before = vec![mk_labelled(mk("v1", "ConfigMap", None, "cfg"), "web")];
    let mut stripped = before.clone();
    stripped[0]["metadata"]["labels"] = json!({"app": "web"});
    assert_eq!(
        refused(&guard, &before, &stripped).to_string(),
        "ownership metadata changed: ConfigMap team-a/cfg: metadata.labels[\"capstan.dev/name\"] \
         is removed; accepted: \"web\" (unchanged)"
    );
    let changed = vec![mk_labelled(mk("v1", "ConfigMap", None, "cfg"), "other")];
    assert_eq!(
        refused(&guard, &before, &changed).to_string(),
        "ownership metadata changed: ConfigMap team-a/cfg: metadata.labels[\"capstan.dev/name\"] \
         is \"other\"; accepted: \"web\" (unchanged)"
    );
    // A new object may carry the release's own value, not another's.
    let mut added = before.clone();
    added.push(mk_labelled(mk("v1", "Secret", None, "s"), "web"));
    assert_eq!(guard.check(&before, &added), Ok(()));
    added.push(mk_labelled(mk("v1", "Secret", None, "t"), "victim"));
    let err = refused(&guard, &before, &added);
    assert_eq!(
        (
            err.object.as_str(),
            err.found.as_str(),
            err.accepted.as_str()
        ),
        ("Secret team-a/t", "\"victim\"", "\"web\" or no such key")
    );
    // Editing other labels, or renaming the object, is fine.
    let mut edited = before.clone();
    edited[0]["metadata"]["labels"]["app"] = json!("api");
    edited[0]["metadata"]["name"] = json!("renamed");
    assert_eq!(guard.check(&before, &edited), Ok(()));
}

#[test]
fn ownership_annotations_and_flux_labels_are_guarded_too() {
    let guard = mk_guard(GuardPolicy::default());
    let before = vec![mk("v1", "ConfigMap", None, "cfg")];
    let mut forged = before.clone();
    forged[0]["metadata"]["annotations"] = json!({"meta.helm.sh/release-name": "other"});
    let err = refused(&guard, &before, &forged);
    assert_eq!(
        err.field,
        "metadata.annotations[\"meta.helm.sh/release-name\"]"
    );
    forged[0]["metadata"]["annotations"] = json!({"meta.helm.sh/release-namespace": "team-a"});
    forged[0]["metadata"]["labels"] = json!({"helm.toolkit.fluxcd.io/namespace": "team-a"});
    assert_eq!(guard.check(&before, &forged), Ok(()));
    forged[0]["metadata"]["labels"] = json!({"helm.toolkit.fluxcd.io/name": "x"});
    assert_eq!(refused(&guard, &before, &forged).rule, Rule::Ownership);
}

#[test]
fn what_a_step_was_handed_it_may_pass_on() {
    // The chart's own oddities (a duplicate, a nameless object, another release's label) are
    // not the step's doing.
    let guard = mk_guard(GuardPolicy::default());
    let before = vec![
        mk("v1", "ConfigMap", None, "cfg"),
        mk("v1", "ConfigMap", None, "cfg"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {}}),
        mk_labelled(mk("v1", "Secret", None, "s"), "other"),
    ];
    assert_eq!(guard.check(&before, &before), Ok(()));
}

#[test]
fn the_policy_says_who_may_add_cluster_scoped_objects() {
    let none = GuardPolicy::default();
    assert!(!none.allows_cluster_scoped("team-a"));
    let some = GuardPolicy::allowing_cluster_scoped(["platform"]);
    assert!(some.allows_cluster_scoped("platform"));
    assert!(!some.allows_cluster_scoped("team-a"));
    assert!(GuardPolicy::allowing_cluster_scoped(["*"]).allows_cluster_scoped("team-a"));
}

/// A small deterministic generator (xorshift).
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap_or(0)
    }

    pub(super) fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Random objects from small pools, so that duplicates, cluster-scoped kinds, other
/// namespaces, missing fields and ownership metadata of other releases all occur.
fn mk_random_objects(rng: &mut Rng) -> Vec<Value> {
    const API: &[&str] = &["v1", "apps/v1", "rbac.authorization.k8s.io/v1", ""];
    const KINDS: &[&str] = &["ConfigMap", "Deployment", "ClusterRole", "Namespace", ""];
    const NAMESPACES: &[&str] = &["", "team-a", "kube-system"];
    const NAMES: &[&str] = &["a", "b", ""];
    const OWNERS: &[&str] = &["", "web", "other"];
    (0..rng.below(8))
        .map(|_| {
            let mut o = json!({"apiVersion": rng.pick(API), "kind": rng.pick(KINDS),
                "metadata": {"name": rng.pick(NAMES)}});
            let ns = rng.pick(NAMESPACES);
            if !ns.is_empty() {
                o["metadata"]["namespace"] = json!(ns);
            }
            let owner = rng.pick(OWNERS);
            if !owner.is_empty() {
                o["metadata"]["labels"] = json!({"capstan.dev/name": owner});
            }
            o
        })
        .collect()
}

#[test]
fn a_step_that_returns_its_input_in_any_order_is_never_refused() {
    let guard = mk_guard(GuardPolicy::default());
    for case in 0..2000u64 {
        let mut rng = Rng(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let objects = mk_random_objects(&mut rng);
        assert_eq!(guard.check(&objects, &objects), Ok(()), "case {case}");
        let reversed: Vec<Value> = objects.iter().rev().cloned().collect();
        assert_eq!(guard.check(&objects, &reversed), Ok(()), "case {case}");
    }
}

/// What a random step makes of `objects`: most objects unchanged or edited in ways the census
/// does not read (data, other labels); some renamed, moved, relabelled with ownership values,
/// dropped or added; now and then the order reversed.
fn mk_random_step(rng: &mut Rng, objects: &[Value]) -> Vec<Value> {
    const NAMES: &[&str] = &["a", "b", "c", ""];
    const NAMESPACES: &[&str] = &["team-a", "kube-system", ""];
    const OWNERS: &[&str] = &["web", "other", ""];
    let mut out: Vec<Value> = Vec::new();
    for o in objects {
        let mut o = o.clone();
        match rng.below(40) {
            0..=19 => {}
            20..=29 => {
                o["data"] = json!({"k": rng.below(100)});
                o["metadata"]["labels"]["team"] = json!("blue");
            }
            30..=31 => o["metadata"]["name"] = json!(rng.pick(NAMES)),
            32..=33 => o["metadata"]["namespace"] = json!(rng.pick(NAMESPACES)),
            34..=35 => o["metadata"]["labels"]["capstan.dev/name"] = json!(rng.pick(OWNERS)),
            36 => o["metadata"]["annotations"] = json!({"meta.helm.sh/release-name": "web"}),
            37 => continue,
            _ => out.extend(mk_random_objects(rng).into_iter().take(1)),
        }
        out.push(o);
    }
    if rng.below(10) == 0 {
        out.reverse();
    }
    out
}

fn identities(objects: &[Value]) -> Vec<Identity> {
    objects.iter().map(identity_of).collect()
}

#[test]
fn a_chain_judged_step_by_step_gets_the_verdicts_of_a_census_after_every_step() {
    let guard = mk_guard(GuardPolicy::default());
    let (mut skipped, mut taken, mut refused) = (0, 0, 0);
    for case in 0..3000u64 {
        let mut rng = Rng(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut objects = mk_random_objects(&mut rng);
        let mut known = StepInput::default();
        for _ in 0..3 {
            let next = mk_random_step(&mut rng, &objects);
            let every_step = guard.check(&objects, &next);
            let (was, is) = (identities(&objects), identities(&next));
            let judged = guard.check_step(known, &was, &is);
            assert_eq!(
                judged.as_ref().err(),
                every_step.as_ref().err(),
                "case {case}: {objects:?} -> {next:?}"
            );
            match judged {
                Ok(k) => {
                    if k.0.is_none() {
                        skipped += 1;
                    } else {
                        taken += 1;
                    }
                    known = k;
                    objects = next;
                }
                Err(_) => {
                    refused += 1;
                    break;
                }
            }
        }
    }
    // Every path was exercised: steps judged without a census, with one, and refused.
    assert!(
        skipped > 500 && taken > 500 && refused > 500,
        "{skipped} {taken} {refused}"
    );
}

#[test]
fn a_move_is_refused_whatever_the_moved_object_nests() {
    // A label value nested past serde_json's 128 levels (values from YAML or kustomize can be):
    // the identities still read back, so the census sees the object, and its move.
    let mut deep = json!("web");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let mut before = mk_chart();
    before[1]["metadata"]["labels"] = json!({"capstan.dev/name": deep});
    let mut after = before.clone();
    after[1]["metadata"]["namespace"] = json!("kube-system");
    let violation = mk_guard(GuardPolicy::default())
        .check_step(
            StepInput::default(),
            &identities(&before),
            &identities(&after),
        )
        .expect_err("moved out of the namespace");
    assert_eq!(violation.rule, Rule::Namespace);
    assert_eq!(
        violation,
        refused(&mk_guard(GuardPolicy::default()), &before, &after)
    );
}

#[test]
fn a_step_that_keeps_every_identity_takes_no_census() {
    let guard = mk_guard(GuardPolicy::default());
    let before = mk_chart();
    let mut after = before.clone();
    after[0]["data"] = json!({"k": "v"});
    after[1]["metadata"]["labels"] = json!({"team": "blue"});
    let known = guard
        .check_step(
            StepInput::default(),
            &identities(&before),
            &identities(&after),
        )
        .expect("allowed");
    assert!(known.0.is_none());
    // Once identities change, the census of the step's input is taken after all.
    after[1]["metadata"]["namespace"] = json!("kube-system");
    let violation = guard
        .check_step(known, &identities(&before), &identities(&after))
        .expect_err("moved out of the namespace");
    assert_eq!(violation.rule, Rule::Namespace);
}
