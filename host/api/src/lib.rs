//! # capstan-api
//!
//! Capstan's API types and the pure decisions around them — no I/O, no cluster:
//!
//! ```text
//! YAML docs ──parse_helm_release──► HelmRelease (+ warnings for every ignored field)
//!               │                      │
//!               │                      ├─ chart_source()      → where the chart comes from
//!               │                      ├─ release_name() …    → Flux naming rules
//!               │                      └─ postRenderers[]     → kustomize spec (applied by capstan-kustomize)
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
mod kustomize;
mod merge;
mod names;
mod parse;
mod plugin;
mod schema;
mod source;
mod units;
mod wasmplugin;

pub use crd::crds;
pub use error::{Error, Result, Warning};
pub use helmrelease::*;
pub use inputs::{
    FindSourceError, InputWarning, Inputs, classify_documents, parse_cluster_wasm_plugin,
    parse_wasm_plugin,
};
pub use kustomize::{Image, Json6902Patch, JsonPatchOperation, Kustomize, Patch, Selector};
pub use merge::{merge_maps, merge_values};
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
    effective_limits, module_location, namespace_selector_expression, resolve_plugin,
};
pub use source::{
    ChartSource, HelmRepository, HelmRepositorySpec, OciRepository, OciRepositoryRef,
    OciRepositorySpec, OciVersion, ParsedSource, parse_helm_repository, parse_oci_repository,
};
pub use units::{UnitError, parse_duration, parse_quantity};
pub use wasmplugin::*;
