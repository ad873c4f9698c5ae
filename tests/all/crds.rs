//! The committed CRDs in `deploy/crds/` must be exactly what the code generates, so a change to
//! the API types that is not followed by regenerating them fails CI. `BLESS=1` rewrites them.

use std::path::PathBuf;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds")
}

#[test]
fn committed_crds_match_the_code() -> anyhow::Result<()> {
    let bless = std::env::var_os("BLESS").is_some();
    let mut drift = Vec::new();
    for (file, crd) in capstan_api::crds() {
        let want = capstan::crds::crd_yaml(&crd)?;
        let path = crd_dir().join(file);
        if bless {
            std::fs::create_dir_all(crd_dir())?;
            std::fs::write(&path, &want)?;
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            let diff = similar::TextDiff::from_lines(&have, &want)
                .unified_diff()
                .header(&format!("committed {file}"), "generated")
                .to_string();
            drift.push(diff);
        }
    }
    assert!(
        drift.is_empty(),
        "deploy/crds/ is out of date; run `BLESS=1 cargo test -p capstan-tests crds`:\n{}",
        drift.join("\n")
    );
    Ok(())
}

#[test]
fn crds_parse_back_as_yaml_and_name_their_kinds() -> anyhow::Result<()> {
    for (file, crd) in capstan_api::crds() {
        let text = capstan::crds::crd_yaml(&crd)?;
        let back = capstan_yaml::parse_one(&text)?;
        assert_eq!(back, serde_json::to_value(&crd)?, "{file} round-trips");
        assert_eq!(back["spec"]["group"], "capstan.dev");
        let plural = back["spec"]["names"]["plural"].as_str().unwrap_or_default();
        assert!(
            file.ends_with(&format!("_{plural}.yaml")),
            "{file} vs {plural}"
        );
    }
    let hr = capstan_api::crds()
        .into_iter()
        .find(|(f, _)| f.contains("helmreleases"))
        .map(|(_, c)| serde_json::to_value(c))
        .transpose()?
        .unwrap_or_default();
    assert_eq!(hr["spec"]["scope"], "Namespaced");
    let version = &hr["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(version["subresources"]["status"].is_object());
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    for field in [
        "chart",
        "chartRef",
        "interval",
        "valuesFrom",
        "values",
        "postRenderers",
        "postRenderStrategy",
        "commonMetadata",
        "driftDetection",
        "dependsOn",
    ] {
        assert!(spec.get(field).is_some(), "HelmRelease spec has {field}");
    }
    assert_eq!(spec["values"]["x-kubernetes-preserve-unknown-fields"], true);
    // The parser's structural checks are also CEL rules the API server enforces.
    let schema = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let rules = |v: &serde_json::Value| -> Vec<String> {
        v["x-kubernetes-validations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["rule"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(rules(schema).len(), 1, "chart xor chartRef");
    assert!(rules(&spec["chart"]["properties"]["spec"])[0].contains("sourceRef"));
    assert!(rules(&spec["postRenderers"]["items"])[0].contains("wasm"));
    assert_eq!(spec["postRenderers"]["maxItems"], 50);
    Ok(())
}
