//! Hostile inputs through the `capstan` binary, generated at test time (nothing big is
//! committed): each ends in its own named error, within its limit, with nothing on stdout.
//! Plugin-side hostility (sleeping guests, exits, forged logs) is in `sandbox.rs`.

use std::process::Output;

use crate::cli::{capstan, text};

/// Exit code 1 (or 2 for argument errors), the `expected` text on stderr, nothing on stdout,
/// and no panic.
fn assert_refused(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "must fail: {stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic is not an error: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        text(&out.stdout)
    );
}

#[test]
fn absurd_timeout_is_an_argument_error_not_a_panic() {
    for (timeout, expected) in [
        (
            "99999999999999999999999s",
            "invalid duration \"99999999999999999999999s\"",
        ),
        ("10m", "longer than the largest plugin timeout, 300s"),
    ] {
        let out = capstan(&["transform", "--timeout", timeout], "a: 1\n");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_refused(&out, expected);
    }
}

/// Nine levels of nine aliases each: a billion "lol"s if expanded.
fn billion_laughs() -> String {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n");
    text.push_str("  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut prev = 'a';
    for name in "bcdefghi".chars() {
        let items = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("  {name}: &{name} [{items}]\n"));
        prev = name;
    }
    text
}

#[test]
fn billion_laughs_stream_is_excessive_aliasing() {
    let out = capstan(&["transform"], &billion_laughs());
    assert_eq!(out.status.code(), Some(1));
    assert_refused(&out, "document contains excessive aliasing");
}

#[test]
fn nesting_past_go_yamls_depth_is_refused() {
    let deep = format!("a:\n{}1\n", "- ".repeat(10_001));
    let out = capstan(&["transform"], &deep);
    assert_eq!(out.status.code(), Some(1));
    assert_refused(&out, "exceeded max depth of 10000");
}

const TWO_OBJECTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
";

/// `capstan transform` with the hostile guest in `mode`, release namespace `team-a`.
fn transform_hostile(mode: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, format!("mode: {mode}\n")).expect("config");
    let plugin = capstan_tests::guest("hostile");
    let mut args = vec![
        "transform",
        "--plugin",
        plugin.to_str().expect("utf-8 path"),
        "--config",
        config.to_str().expect("utf-8 path"),
        "--release-namespace",
        "team-a",
    ];
    args.extend_from_slice(extra);
    capstan(&args, TWO_OBJECTS)
}

#[test]
fn plugin_output_outside_the_release_is_refused_naming_plugin_object_and_field() {
    for (mode, expected) in [
        (
            "escape-namespace",
            "object outside the release's namespace: ConfigMap kube-system/cfg: \
             metadata.namespace is \"kube-system\"; accepted: \"team-a\" or none",
        ),
        (
            "cluster-admin",
            "cluster-scoped object added: ClusterRoleBinding.rbac.authorization.k8s.io pwned: \
             kind is ClusterRoleBinding.rbac.authorization.k8s.io (cluster-scoped)",
        ),
        (
            "disown",
            "ownership metadata changed: ConfigMap team-a/cfg: \
             metadata.labels[\"capstan.dev/name\"] is \"victim\"; accepted: \"release\" or no such key",
        ),
        (
            "nameless",
            "object without identity: object #2 (apiVersion \"v1\", kind \"ConfigMap\"): \
             metadata.name is missing",
        ),
        (
            "duplicate",
            "duplicate object: ConfigMap team-a/cfg: metadata.name is \"cfg\" on 2 objects",
        ),
    ] {
        let out = transform_hostile(mode, &[]);
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", text(&out.stderr));
        assert_refused(&out, expected);
        assert_refused(
            &out,
            "post-renderer #0 (capstan_hostile_guest, plugin \"capstan_hostile_guest@sha256:",
        );
        assert_refused(&out, "returned output the release may not apply");
    }
}

#[test]
fn the_operator_flag_lets_a_tenant_add_cluster_scoped_objects() {
    let out = transform_hostile(
        "cluster-admin",
        &["--allow-cluster-scoped-namespaces", "platform,infra"],
    );
    assert_refused(&out, "for tenants infra, platform, not tenant \"team-a\"");
    let out = transform_hostile(
        "cluster-admin",
        &["--allow-cluster-scoped-namespaces", "team-a"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("kind: ClusterRoleBinding"),
        "{}",
        text(&out.stdout)
    );
}
