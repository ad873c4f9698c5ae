//! # capstan-engine
//!
//! Capstan's whole pipeline as a library — no CLI, no filesystem paths, no printing. `capstan
//! build` and the controller are two front doors to the same [`Engine::build`]:
//!
//! ```text
//!   capstan build: -f files ─► InputsLookup ─┐      ┌─ SourceFetcher + local paths
//!   controller:  reflector stores ─► lookup ─┤      ├─ SourceFetcher (network only)
//!                                            ▼      ▼
//!  HelmRelease ─► Engine::build(release, &dyn ObjectLookup, &dyn Fetcher)
//!                   plugins ─► chart ─► values ─► render ─► post-render ─► labels
//!                                            ▼
//!                 Build { crds, objects, hooks, digests, steps, warnings, diagnostics }
//! ```
//!
//! The two seams are [`ObjectLookup`] (HelmRepository, OCIRepository, ConfigMap, Secret,
//! WasmPlugin, ClusterWasmPlugin by namespace/name) and [`Fetcher`] (charts and modules, with
//! credentials). Errors say whether retrying can help ([`Error::class`]).

mod build;
mod ceilings;
mod digest;
mod error;
mod fetch;
pub mod guard;
mod lookup;
mod par;
pub mod postrender;
mod values;

pub use capstan_helm::HelmVersion;

pub use build::{
    Build, BuildTimings, ChartInfo, Engine, HOOK_ANNOTATION, HookRouting, StepSummary, hook_key,
    is_hook, release_metadata, split_hooks,
};
pub use ceilings::Ceilings;
pub use digest::{Digests, StepDigest, sha256_json};
pub use error::{Error, ErrorClass, Result, chain};
pub use fetch::{
    Auth, ChartContent, ChartLocation, ChartRequest, FetchError, FetchedChart, FetchedModule,
    Fetcher, ModuleLocation, ModuleRequest, SourceFetcher, files_digest,
};
pub use guard::{GroupKind, GuardPolicy, KindScopes, OutputGuard, Rule, Violation};
pub use lookup::{Found, InputsLookup, LookupError, ObjectKind, ObjectLookup};
pub use values::{ComposedValues, ValuesError, as_go_json, compose_values, replace_path_value};
