//! Values reach the chart typed exactly as Flux hands them to Helm, checked against the real
//! `helm template` given the equivalent flags: `spec.values` and `valuesFrom` documents are
//! decoded like a `-f` values file (every number a Go `float64`, so `1000000` prints `1e+06`),
//! a `targetPath` value goes through `--set` (typed) or `--set-string` (quoted), and chart
//! `valuesFiles` merge over the chart's defaults like `-f chart/<file>`. Each case runs in both
//! Helm modes: the default (Helm 4, as Flux) against helm 4.1.4, `--helm-version 3` against
//! helm 3.17.3.

use std::process::Command;

use capstan_tests::{capstan_bin, helm_bin, root};
use serde_json::Value;

const CHART: &str = "tests/charts/values-typing";

/// The `types` ConfigMap's data from a YAML stream.
fn types(stream: &str) -> Value {
    capstan_yaml::parse_stream(stream)
        .expect("YAML stream")
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "types")
        .map(|d| d["data"].clone())
        .unwrap_or_else(|| panic!("no types ConfigMap in:\n{stream}"))
}

fn capstan_build(release: &str, flags: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("release.yaml");
    std::fs::write(&file, release).expect("write release");
    let out = Command::new(capstan_bin())
        .arg("build")
        .arg("-f")
        .arg(&file)
        .args(["--cache-dir", "none"])
        .args(flags)
        .current_dir(root())
        .output()
        .expect("capstan runs");
    assert!(
        out.status.success(),
        "capstan build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    types(&String::from_utf8_lossy(&out.stdout))
}

fn helm_template(helm: &str, args: &[&str], values_files: &[(&str, &str)]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(helm_bin(helm));
    cmd.args(["template", "web", CHART, "--namespace", "apps"])
        .args(args)
        .current_dir(root());
    for (name, text) in values_files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write values");
        cmd.arg("-f").arg(path);
    }
    let out = cmd.output().expect("helm runs");
    assert!(
        out.status.success(),
        "helm template failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    types(&String::from_utf8_lossy(&out.stdout))
}

/// `capstan build` of `release` against `helm template ARGS -f VALUES_FILES…` in both modes;
/// the default build's values.
fn check(release: &str, args: &[&str], values_files: &[(&str, &str)]) -> Value {
    let ours = capstan_build(release, &[]);
    assert_eq!(
        ours,
        helm_template("helm4", args, values_files),
        "default (Helm 4) build vs helm 4.1.4"
    );
    assert_eq!(
        capstan_build(release, &["--helm-version", "3"]),
        helm_template("helm3", args, values_files),
        "--helm-version 3 build vs helm 3.17.3"
    );
    ours
}

fn release(spec: &str) -> String {
    format!(
        "apiVersion: capstan.dev/v1alpha1\nkind: HelmRelease\nmetadata: {{name: web, namespace: apps}}\n\
         spec:\n  chart:\n    spec:\n      chart: values-typing\n      repository: {}\n{spec}",
        root().join(CHART).display()
    )
}

const VALUES: &str = "num: 1000000\nsmall: 3\nratio: 1.5\nbig: 12345678901\nneg: -7\nword: x\nflag: true\nlist: [1, two]\nnested: {count: 10}\n";

#[test]
fn inline_values_are_typed_like_a_values_file() {
    let ours = check(
        &release(&format!(
            "  values:\n{}",
            VALUES
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        )),
        &[],
        &[("values.yaml", VALUES)],
    );
    assert_eq!(ours["num"], "1e+06|float64|float64", "{ours:#}");
}

#[test]
fn values_from_config_maps_and_secrets_are_typed_like_a_values_file() {
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(VALUES)
    };
    let spec = format!(
        "  valuesFrom:\n    - {{kind: ConfigMap, name: v}}\n    - {{kind: Secret, name: s, valuesKey: more.yaml}}\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: v, namespace: apps}}\ndata:\n  values.yaml: |\n    num: 5\n    word: from-cm\n\
         ---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: apps}}\ndata:\n  more.yaml: {encoded}\n"
    );
    let ours = check(
        &release(&spec),
        &[],
        &[("cm.yaml", "num: 5\nword: from-cm\n"), ("s.yaml", VALUES)],
    );
    assert_eq!(ours["small"], "3|float64|float64", "{ours:#}");
}

#[test]
fn target_paths_are_set_like_set_and_set_string() {
    // (Keys like `n` or `y` would be booleans in YAML 1.1, as kubectl reads them.)
    let spec = "  values: {nested: {count: 1}}\n  valuesFrom:\n    - {kind: ConfigMap, name: t, valuesKey: num, targetPath: nested.count}\n    - {kind: ConfigMap, name: t, valuesKey: quoted, targetPath: word}\n    - {kind: ConfigMap, name: t, valuesKey: list, targetPath: list}\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: t, namespace: apps}\ndata: {num: \"5\", quoted: '\"007\"', list: \"{a,b}\"}\n";
    let ours = check(
        &release(spec),
        &[
            "--set",
            "nested.count=5",
            "--set-string",
            "word=007",
            "--set",
            "list={a,b}",
        ],
        &[("values.yaml", "nested: {count: 1}\n")],
    );
    assert_eq!(ours["word"], "007|string|string", "{ours:#}");
}

#[test]
fn chart_values_files_merge_like_extra_values_files() {
    let ours = check(
        &release("      valuesFiles: [values.yaml, extra-values.yaml]\n"),
        &["-f", &format!("{CHART}/extra-values.yaml")],
        &[],
    );
    assert_eq!(ours["fromFile"], "42|float64|float64", "{ours:#}");
}
