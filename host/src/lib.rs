//! Capstan: HelmRelease reconciler with sandboxed WebAssembly post-renderers.
