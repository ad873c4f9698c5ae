//! `capstan crds`: the CustomResourceDefinitions of Capstan's kinds as the YAML stream committed
//! under `deploy/crds/` (a test in `tests/all/crds.rs` fails when the two drift apart).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// A CRD as the YAML document committed to `deploy/crds/`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(crd)?;
    Ok(format!("---\n{}", capstan_yaml::to_string(&value)))
}

/// Every CRD, in `deploy/crds/` file-name order, as one YAML stream.
pub fn all_crds_yaml() -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for (_, crd) in capstan_api::crds() {
        out.push_str(&crd_yaml(&crd)?);
    }
    Ok(out)
}
