//! Capstan: a HelmRelease reconciler whose post-render step runs sandboxed WebAssembly transforms.
//!
//! ```text
//!  chart ──► render ──► manifest stream ──► post-render pipeline ──► apply ──► status
//!  (source)  (helm)     (YAML → objects)    wasm / kustomize steps    (kube)    (conditions)
//!                                            in order, all-or-nothing
//! ```
//!
//! This crate is the product: the [`postrender`] pipeline over the Wasm runtime
//! ([`capstan_wasm`]), plugin tooling ([`plugin`]) and the command line ([`cli`]).

pub mod build;
pub mod cli;
pub mod plugin;
pub mod postrender;
