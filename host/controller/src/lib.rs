//! # capstan-controller
//!
//! The reconciler: HelmReleases (Capstan's, and Flux's with `--flux-helmreleases`) kept in their
//! declared state on a Kubernetes API. It runs the `capstan-engine` pipeline unchanged — the
//! same code path as `capstan build` — and adds what only a cluster has:
//!
//! ```text
//!  watch HelmReleases + referenced objects (reflectors) ─► reconcile (per release, concurrent)
//!     finalizer (deleted ─► uninstall) ─► dependsOn Ready? ─► build (engine)
//!     ─► decide (pure: install / upgrade / drift check)
//!     ─► pre hooks ─► server-side apply (field manager `capstan`), CRDs first, prune by
//!        inventory ─► wait (kstatus or Helm 3 rules, CEL health checks) ─► post hooks ─► tests
//!     ─► Helm storage (sh.helm.release.v1.*) ─► status conditions + events
//!     failed ─► remediate (uninstall / rollback to the stored manifest) or Stalled
//! ```
//!
//! Decisions ([`decide`], [`drift`], [`storage`], [`wait::readiness`], [`hooks::hooks_for`],
//! [`remediate::after_failure`], [`depends::find_cycle`]) are pure functions with unit tests;
//! the kube layer ([`reconcile`], [`release`], [`uninstall`], [`apply`], [`run`]) only fetches,
//! calls them and writes results.

pub mod apply;
pub mod cel;
pub mod decide;
pub mod depends;
pub mod drift;
pub mod hooks;
pub mod impersonate;
pub mod leader;
pub mod lookup;
pub mod metrics;
pub mod reconcile;
pub mod release;
pub mod remediate;
pub mod run;
pub mod storage;
pub mod uninstall;
pub mod wait;

pub use reconcile::{Context, Options, error_policy, reconcile};
pub use run::{ControllerOptions, RunError, run};
