//! # capstan-api
//!
//! Capstan's API types and the pure decisions around them — no I/O, no cluster:
//!
//! ```text
//! YAML docs ──parse_helm_release──► HelmRelease (+ warnings for every ignored field)
//!               │                      │
//!               │                      ├─ chart_source()      → where the chart comes from
//!               │                      ├─ release_name() …    → Flux naming rules
//!               │                      ├─ compose_values()    → valuesFrom ← values ← targetPaths
//!               │                      └─ postRenderers[]     → kustomize (capstan-kustomize)
//!               │                                             → wasm: resolve_plugin(),
//!               │                                               module_location(), effective_limits()
//!               └─parse_helm_repository / parse_oci_repository → Flux sources
//! ```
//!
//! The CRDs of `HelmRelease`, `WasmPlugin` and `ClusterWasmPlugin` are generated from these
//! types ([`crds`]) and committed under `deploy/crds/`.

mod crd;
mod decode;
mod error;
mod helmrelease;
mod inputs;
mod names;
mod parse;
mod plugin;
mod schema;
mod source;
mod strvals;
mod units;
mod values;
mod wasmplugin;

pub use capstan_kustomize::{Image, Json6902Patch, JsonPatchOperation, Kustomize, Patch, Selector};
pub use crd::{crd_yaml, crds};
pub use error::{Error, Result, Warning};
pub use helmrelease::*;
pub use inputs::{
    FindSourceError, InputWarning, Inputs, classify_documents, parse_cluster_wasm_plugin,
    parse_wasm_plugin,
};
pub use names::{
    DEFAULT_NAMESPACE, MAX_RELEASE_NAME_LENGTH, ORIGIN_NAME_LABEL, ORIGIN_NAMESPACE_LABEL,
    shorten_release_name,
};
pub use parse::{
    CAPSTAN_API_VERSION, NOT_YET_SUPPORTED, ParsedRelease, ReleaseApiVersion, is_helm_release,
    parse_helm_release,
};
pub use plugin::{
    EffectiveLimits, ModuleLocation, ModuleSource, PluginError, ResolvedPlugin, effective_config,
    effective_limits, module_location, resolve_plugin,
};
pub use source::{
    ChartSource, HelmRepository, HelmRepositorySpec, OciRepository, OciRepositoryRef,
    OciRepositorySpec, OciVersion, ParsedSource, parse_helm_repository, parse_oci_repository,
};
pub use strvals::{StrvalsError, parse_into, parse_into_string, replace_path_value};
pub use units::{UnitError, parse_duration, parse_quantity};
pub use values::{
    ComposedValues, ValuesError, compose_values, find_values_object, merge_maps, merge_values,
};
pub use wasmplugin::*;
