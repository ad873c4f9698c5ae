//! The CustomResourceDefinitions of Capstan's own kinds, generated from the Rust types. They are
//! committed under `deploy/crds/` and a test fails when the committed files drift from the code
//! (`capstan crds` prints them; `BLESS=1 cargo test -p capstan-tests crds` rewrites them).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{ClusterWasmPlugin, HelmRelease, WasmPlugin};

/// Every CRD with the file name it is committed under in `deploy/crds/`.
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("capstan.dev_helmreleases.yaml", HelmRelease::crd()),
        ("capstan.dev_wasmplugins.yaml", WasmPlugin::crd()),
        (
            "capstan.dev_clusterwasmplugins.yaml",
            ClusterWasmPlugin::crd(),
        ),
    ]
}
