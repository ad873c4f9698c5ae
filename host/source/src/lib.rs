//! Where charts and Wasm modules come from.

pub mod semver;
