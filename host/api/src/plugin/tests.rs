//! Plugin resolution, module sources, limits and config, on hand-built objects.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::{
    ClusterWasmPluginSpec, ConfigMapModuleSource, HelmReleaseSpec, OciModuleSource, WasmPluginSpec,
};

fn mk_release(namespace: &str) -> HelmRelease {
    let mut hr = HelmRelease::new("web", HelmReleaseSpec::default());
    hr.metadata.namespace = Some(namespace.into());
    hr
}

fn mk_plugin(name: &str, namespace: Option<&str>) -> WasmPlugin {
    let mut p = WasmPlugin::new(name, WasmPluginSpec::default());
    p.metadata.namespace = namespace.map(str::to_owned);
    p
}

fn mk_cluster_plugin(name: &str) -> ClusterWasmPlugin {
    ClusterWasmPlugin::new(name, ClusterWasmPluginSpec::default())
}

fn mk_renderer(plugin: &str, kind: Option<PluginKind>) -> WasmPostRenderer {
    WasmPostRenderer {
        plugin: plugin.into(),
        kind,
        config: None,
    }
}

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn namespaced_plugin_in_the_release_namespace_resolves() {
    let plugins = [
        mk_plugin("labels", Some("other")),
        mk_plugin("labels", Some("apps")),
    ];
    let r = resolve_plugin(
        &mk_release("apps"),
        &mk_renderer("labels", None),
        &plugins,
        &[],
    )
    .expect("resolves");
    assert_eq!(r.kind(), PluginKind::WasmPlugin);
    assert_eq!(r.display_name(), "WasmPlugin apps/labels");
}

#[test]
fn plugin_without_namespace_counts_as_the_release_namespace() {
    let plugins = [mk_plugin("labels", None)];
    let r = resolve_plugin(
        &mk_release("apps"),
        &mk_renderer("labels", None),
        &plugins,
        &[],
    );
    assert_eq!(r.map(|p| p.name()), Ok("labels"));
}

#[test]
fn namespaced_plugin_in_another_namespace_is_an_error_naming_both() {
    let plugins = [mk_plugin("labels", Some("team-b"))];
    let err = resolve_plugin(
        &mk_release("team-a"),
        &mk_renderer("labels", None),
        &plugins,
        &[],
    )
    .expect_err("other namespace");
    assert_eq!(
        err,
        PluginError::PluginInOtherNamespace {
            release: "team-a/web".into(),
            name: "labels".into(),
            plugin_namespace: "team-b".into(),
            release_namespace: "team-a".into(),
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("team-a") && msg.contains("team-b"), "{msg}");
}

#[test]
fn unknown_plugin_lists_the_known_names() {
    let plugins = [
        mk_plugin("zeta", Some("apps")),
        mk_plugin("alpha", Some("apps")),
        mk_plugin("hidden", Some("elsewhere")),
    ];
    let err = resolve_plugin(
        &mk_release("apps"),
        &mk_renderer("nope", None),
        &plugins,
        &[],
    )
    .expect_err("unknown");
    let msg = err.to_string();
    assert!(
        msg.contains("\"nope\" not found in namespace \"apps\""),
        "{msg}"
    );
    assert!(msg.contains("alpha, zeta"), "{msg}");
    assert!(!msg.contains("hidden"), "{msg}");

    let err = resolve_plugin(
        &mk_release("apps"),
        &mk_renderer("nope", Some(PluginKind::ClusterWasmPlugin)),
        &[],
        &[],
    )
    .expect_err("unknown cluster plugin");
    assert!(
        err.to_string().contains("known ClusterWasmPlugins: none"),
        "{err}"
    );
}

#[test]
fn cluster_plugins_resolve_by_kind_only() {
    let cluster = [mk_cluster_plugin("policy")];
    let namespaced = [mk_plugin("policy", Some("apps"))];
    let r = resolve_plugin(
        &mk_release("anywhere"),
        &mk_renderer("policy", Some(PluginKind::ClusterWasmPlugin)),
        &namespaced,
        &cluster,
    )
    .expect("resolves");
    assert_eq!(r.kind(), PluginKind::ClusterWasmPlugin);
    assert_eq!(r.display_name(), "ClusterWasmPlugin policy");
    // Without the kind, the namespaced lookup applies and does not fall back to the cluster one.
    assert!(
        resolve_plugin(
            &mk_release("anywhere"),
            &mk_renderer("policy", None),
            &namespaced,
            &cluster
        )
        .is_err()
    );
}

#[test]
fn module_sources() {
    let mut spec = WasmPluginSpec {
        oci: Some(OciModuleSource {
            reference: format!("oci://127.0.0.1:5000/plugins/labels@sha256:{SHA}"),
        }),
        ..Default::default()
    };
    let loc = module_location("WasmPlugin apps/p", spec.as_ref()).expect("oci by digest");
    assert_eq!(loc.sha256.as_deref(), Some(SHA));
    assert_eq!(
        loc.source,
        ModuleSource::Oci {
            reference: format!("127.0.0.1:5000/plugins/labels@sha256:{SHA}")
        }
    );

    spec.sha256 = Some(format!("sha256:{}", SHA.replace('0', "f")));
    let err = module_location("WasmPlugin apps/p", spec.as_ref()).expect_err("disagree");
    assert!(err.to_string().contains("disagrees"), "{err}");

    let url_only = WasmPluginSpec {
        url: Some("https://example.test/p.wasm".into()),
        ..Default::default()
    };
    let err = module_location("WasmPlugin apps/p", url_only.as_ref()).expect_err("needs sha");
    assert!(
        err.to_string()
            .contains("WasmPlugin apps/p: spec.url needs spec.sha256"),
        "{err}"
    );

    let cm = WasmPluginSpec {
        config_map_ref: Some(ConfigMapModuleSource {
            name: "mods".into(),
            key: None,
        }),
        sha256: Some(SHA.to_uppercase()),
        ..Default::default()
    };
    let loc = module_location("p", cm.as_ref()).expect("configmap");
    assert_eq!(loc.sha256.as_deref(), Some(SHA));
    assert_eq!(
        loc.source,
        ModuleSource::ConfigMap {
            name: "mods".into(),
            key: "plugin.wasm".into()
        }
    );

    let none = WasmPluginSpec::default();
    assert!(module_location("p", none.as_ref()).is_err());
    let two = WasmPluginSpec {
        url: Some("https://x/p.wasm".into()),
        config_map_ref: cm.config_map_ref.clone(),
        sha256: Some(SHA.into()),
        ..Default::default()
    };
    let err = module_location("p", two.as_ref()).expect_err("two sources");
    assert!(err.to_string().contains("found 2"), "{err}");
}

#[test]
fn limits_default_and_validate() {
    let d = effective_limits("p", None).expect("defaults");
    assert_eq!(d.memory_bytes, 64 << 20);
    assert_eq!(d.timeout, Duration::from_secs(1));
    assert_eq!(d.max_output_bytes, 32 << 20);

    let custom = PluginLimits {
        memory: Some("32Mi".into()),
        timeout: Some("1500ms".into()),
        max_output_size: Some("1Mi".into()),
    };
    let l = effective_limits("p", Some(&custom)).expect("valid");
    assert_eq!(
        l,
        EffectiveLimits {
            memory_bytes: 32 << 20,
            timeout: Duration::from_millis(1500),
            max_output_bytes: 1 << 20
        }
    );

    for (limits, field) in [
        (
            PluginLimits {
                memory: Some("8Gi".into()),
                ..Default::default()
            },
            "memory",
        ),
        (
            PluginLimits {
                memory: Some("lots".into()),
                ..Default::default()
            },
            "memory",
        ),
        (
            PluginLimits {
                timeout: Some("0s".into()),
                ..Default::default()
            },
            "timeout",
        ),
        (
            PluginLimits {
                timeout: Some("1h".into()),
                ..Default::default()
            },
            "timeout",
        ),
        (
            PluginLimits {
                max_output_size: Some("0".into()),
                ..Default::default()
            },
            "maxOutputSize",
        ),
    ] {
        let err = effective_limits("WasmPlugin apps/p", Some(&limits)).expect_err("invalid");
        assert!(
            err.to_string()
                .starts_with(&format!("WasmPlugin apps/p: spec.limits.{field}")),
            "{err}"
        );
    }
}

#[test]
fn renderer_config_merges_over_plugin_defaults() {
    let defaults = json!({"labels": {"team": "a", "tier": "x"}, "list": [1, 2]});
    let over = json!({"labels": {"tier": "y"}, "list": [3]});
    assert_eq!(
        effective_config(Some(&defaults), Some(&over)),
        json!({"labels": {"team": "a", "tier": "y"}, "list": [3]})
    );
    assert_eq!(effective_config(None, None), json!({}));
    assert_eq!(effective_config(Some(&defaults), None), defaults);
}

fn mk_selector(v: serde_json::Value) -> LabelSelector {
    serde_json::from_value(v).expect("selector")
}

#[test]
fn namespace_selector_becomes_an_expression() {
    let sel = mk_selector(json!({
        "matchLabels": {"team": "a"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["dev", "qa"]},
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
            {"key": "tenant", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"}
        ]
    }));
    assert_eq!(
        namespace_selector_expression("apps/web", "p", &sel).expect("an expression"),
        "team=a,env in (dev,qa),tier notin (db),tenant,!legacy"
    );
    assert_eq!(
        namespace_selector_expression("apps/web", "p", &mk_selector(json!({})))
            .expect("an expression"),
        ""
    );
}

#[test]
fn malformed_namespace_selector_names_the_field_and_what_is_accepted() {
    let bad_op = mk_selector(json!({"matchExpressions": [{"key": "a", "operator": "Equals"}]}));
    let e = namespace_selector_expression("apps/web", "sidecar", &bad_op).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "HelmRelease apps/web: ClusterWasmPlugin sidecar: spec.namespaceSelector: \
         matchExpressions[0].operator: \
         \"Equals\" is not an operator (accepted: In, NotIn, Exists, DoesNotExist)"
    );
    let no_values = mk_selector(json!({"matchExpressions": [{"key": "a", "operator": "In"}]}));
    assert!(
        namespace_selector_expression("apps/web", "sidecar", &no_values)
            .expect_err("refused")
            .to_string()
            .contains("operator In needs at least one value")
    );
    let values = mk_selector(
        json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
    );
    assert!(
        namespace_selector_expression("apps/web", "sidecar", &values)
            .expect_err("refused")
            .to_string()
            .contains("operator Exists takes no values")
    );
}
