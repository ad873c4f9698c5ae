//! # capstan-controller
//!
//! The reconciler: HelmReleases (Capstan's, and Flux's with `--flux-helmreleases`) kept in their
//! declared state on a Kubernetes API. It runs the `capstan-engine` pipeline unchanged — the
//! same code path as `capstan build` — and adds what only a cluster has:
//!
//! ```text
//!  watch HelmReleases + referenced objects (reflectors) ─► reconcile (per release, concurrent)
//!     build (engine) ─► decide (pure: install / upgrade / drift check)
//!     ─► server-side apply (field manager `capstan`), CRDs first, prune by inventory
//!     ─► Helm storage (sh.helm.release.v1.*) ─► status conditions + events
//! ```
//!
//! Decisions ([`decide`], [`drift`], [`storage`]) are pure functions with unit tests; the kube
//! layer ([`reconcile`], [`apply`], [`run`]) only fetches, calls them and writes results.

pub mod apply;
pub mod decide;
pub mod drift;
pub mod lookup;
pub mod metrics;
pub mod reconcile;
pub mod run;
pub mod storage;

pub use reconcile::{Context, Options, error_policy, reconcile};
pub use run::{ControllerOptions, RunError, run};
