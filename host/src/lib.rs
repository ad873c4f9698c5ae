//! Capstan: a HelmRelease reconciler whose post-render step runs sandboxed WebAssembly transforms.
//!
//! ```text
//!  chart ──► render ──► manifest stream ──► post-render pipeline ──► apply ──► status
//!  (source)  (helm)     (YAML → objects)    wasm / kustomize steps    (kube)    (conditions)
//!                                            in order, all-or-nothing
//! ```
//!
//! This crate is the thin front of the product: the command line ([`cli`]), `capstan build`'s
//! file-based lookup, fetcher and report ([`build`]), and plugin tooling ([`plugin`]). The
//! pipeline itself is [`capstan_engine`] (re-exported here as [`postrender`] for the chain).

pub mod build;
pub mod cli;
pub mod controller;
pub mod crds;
pub mod plugin;
pub use capstan_engine::postrender;
